//! `/api/gocardless/*`: open banking through GoCardless Bank Account Data — the banks of a
//! country, linking a bank (connect, the bank's redirect back, re-connect, disconnect), the
//! linked accounts and their transactions, and syncing an account now.
//!
//! Permissions: reads need `tenant:read`; connecting, syncing and disconnecting need
//! `connections:manage`. The callback is public: the bank sends the account holder's browser
//! there, and only the stored requisition (never the query) decides the outcome. Without
//! GoCardless credentials every endpoint answers 503.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;
use payymo_domain::ids::{BankAccountId, ConnectionId};
use payymo_ports::bank_feed::Institution;
use payymo_ports::storage::{BankTransactionFilter, ListedBankTransaction, TransactionMatchState};
use payymo_services::banking::{AccountOverview, BankingError, BankingService, CallbackOutcome};
use payymo_services::identity::Permission;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::auth::{Authenticated, request_context, require};
use crate::http::pagination::{Page, PageParams};
use crate::http::problem::{ApiError, FieldError, ProblemKind};

const P: &str = "application/problem+json";

impl From<BankingError> for ApiError {
    fn from(e: BankingError) -> Self {
        match e {
            BankingError::NotConfigured => Self::new(
                ProblemKind::Unavailable,
                "GoCardless is not configured on this deployment",
            )
            .with_checks(serde_json::json!({"gocardless": "not_configured"})),
            BankingError::NotFound => Self::not_found("no such bank connection or account"),
            BankingError::Invalid(field, message) => Self::invalid(
                "invalid request",
                vec![FieldError {
                    field: field.to_owned(),
                    message,
                }],
            ),
            BankingError::BudgetSpent { retry_at } => {
                // The handler that knows the clock sets the exact wait; this is a fallback.
                let wait = (retry_at - chrono::Utc::now())
                    .to_std()
                    .unwrap_or(Duration::from_secs(1));
                budget_spent(retry_at, wait)
            }
            BankingError::NotLinked(status) => Self::new(
                ProblemKind::Conflict,
                format!("the bank connection is {status}; connect it again"),
            ),
            BankingError::Provider(reason) => Self::new(
                ProblemKind::Unavailable,
                format!("GoCardless could not be used: {reason}"),
            )
            .with_checks(serde_json::json!({"gocardless": "failing"})),
            BankingError::Internal(cause) => Self::internal(&cause),
        }
    }
}

fn budget_spent(retry_at: chrono::DateTime<chrono::Utc>, wait: Duration) -> ApiError {
    ApiError::new(
        ProblemKind::TooManyRequests,
        format!(
            "the bank's daily access budget for this account is spent; the next sync is possible \
             at {}",
            retry_at.to_rfc3339()
        ),
    )
    .with_retry_after(wait)
    .with_checks(serde_json::json!({"next_sync_at": retry_at.to_rfc3339()}))
}

fn service(req: &HttpRequest) -> Result<web::Data<BankingService>, ApiError> {
    req.app_data::<web::Data<BankingService>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"banking service is not wired"))
}

/// A bank GoCardless can connect to.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionView {
    /// GoCardless's institution id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Logo URL.
    pub logo: Option<String>,
    /// BIC.
    pub bic: Option<String>,
    /// Countries served.
    pub countries: Vec<String>,
    /// Days of transaction history the bank gives.
    pub transaction_total_days: u32,
    /// The longest access period the bank allows, in days.
    pub max_access_valid_for_days: Option<u32>,
}

impl From<Institution> for InstitutionView {
    fn from(i: Institution) -> Self {
        Self {
            id: i.id,
            name: i.name,
            logo: i.logo,
            bic: i.bic,
            countries: i.countries,
            transaction_total_days: i.transaction_total_days,
            max_access_valid_for_days: i.max_access_valid_for_days,
        }
    }
}

/// The banks of a country.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstitutionList {
    /// The banks.
    pub items: Vec<InstitutionView>,
}

/// `GET /api/gocardless/banks` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BanksQuery {
    /// ISO 3166 alpha-2 country, such as `GB`.
    pub country: String,
}

/// Lists the banks of a country.
#[utoipa::path(get, path = "/api/gocardless/banks", tag = "banking", params(BanksQuery),
    responses(
        (status = 200, description = "The banks", body = InstitutionList),
        (status = 400, description = "Not a supported country", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn banks(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<BanksQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let banks = service(&req)?.list_institutions(&query.country).await?;
    Ok(HttpResponse::Ok().json(InstitutionList {
        items: banks.into_iter().map(InstitutionView::from).collect(),
    }))
}

/// `POST /api/gocardless/connect`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    /// An institution id from `/api/gocardless/banks`.
    pub institution_id: String,
}

/// A started bank link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectResponse {
    /// The new (pending) connection.
    pub connection_id: String,
    /// Send the account holder here to consent at the bank.
    pub link: String,
}

/// Starts linking a bank: returns the link the account holder follows.
#[utoipa::path(post, path = "/api/gocardless/connect", tag = "banking", request_body = ConnectRequest,
    responses(
        (status = 201, description = "Started", body = ConnectResponse),
        (status = 400, description = "Unknown institution", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn connect(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<ConnectRequest>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let connected = service(&req)?
        .connect(
            who.0.tenant,
            &who.0.actor(),
            &body.institution_id,
            &request_context(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(ConnectResponse {
        connection_id: connected.connection_id.to_string(),
        link: connected.link,
    }))
}

/// `GET /api/gocardless/callback` parameters (GoCardless may add others; they are ignored).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// Our reference: the connection id.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

/// Where GoCardless sends the account holder back: records the link's outcome and redirects to
/// the dashboard's connections page with `bank=linked`, `bank=pending` or `bank=failed`
/// (`/#/connections?bank=linked`).
#[utoipa::path(get, path = "/api/gocardless/callback", tag = "banking", params(CallbackQuery),
    responses(
        (status = 303, description = "Back to the dashboard"),
        (status = 404, description = "Unknown reference", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let service = service(&req)?;
    if !service.is_configured() {
        return Err(BankingError::NotConfigured.into());
    }
    let reference = query
        .reference
        .as_deref()
        .ok_or_else(|| ApiError::not_found("no bank connection with this reference"))?;
    let outcome = service
        .complete_link(reference, &request_context(&req))
        .await
        .map_err(|e| match e {
            BankingError::NotFound => ApiError::not_found("no bank connection with this reference"),
            other => other.into(),
        })?;
    let word = match outcome {
        CallbackOutcome::Linked => "linked",
        CallbackOutcome::Pending => "pending",
        CallbackOutcome::Failed => "failed",
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/#/connections?bank={word}")))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// The daily budget of account-data calls at the bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncBudgetView {
    /// Calls allowed per window.
    pub limit: Option<u32>,
    /// Calls left.
    pub remaining: Option<u32>,
    /// When the window resets.
    pub resets_at: Option<String>,
}

/// A linked bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Id.
    pub id: String,
    /// Its connection.
    pub connection_id: String,
    /// The bank.
    pub institution_id: String,
    /// `pending`, `linked`, `expired`, `revoked` or `failed`.
    pub connection_status: String,
    /// GoCardless's word for the account (`READY`, `EXPIRED` ...).
    pub account_status: Option<String>,
    /// IBAN.
    pub iban: Option<String>,
    /// Name at the bank.
    pub name: Option<String>,
    /// Currency.
    pub currency: String,
    /// Last completed sync.
    pub last_synced_at: Option<String>,
    /// When the bank access ends.
    pub access_expires_at: Option<String>,
    /// The access ends within 7 days.
    pub expiring_soon: bool,
    /// The access has ended: reconnect.
    pub expired: bool,
    /// The remaining daily sync budget.
    pub sync_budget: SyncBudgetView,
    /// Balances read at the last sync (`balance_type`, `amount`, `currency`, `reference_date`).
    #[schema(value_type = Vec<Object>)]
    pub balances: serde_json::Value,
    /// When the balances were read.
    pub balances_at: Option<String>,
    /// Why the last sync failed.
    pub last_error: Option<String>,
}

impl From<AccountOverview> for AccountView {
    fn from(o: AccountOverview) -> Self {
        let state = o.state;
        Self {
            id: o.account.id.to_string(),
            connection_id: o.connection.id.to_string(),
            institution_id: o.connection.institution_id,
            connection_status: o.connection.status.as_str().to_owned(),
            account_status: state.as_ref().map(|s| s.status.clone()),
            iban: o.account.iban,
            name: o.account.name,
            currency: o.account.currency.code().to_owned(),
            last_synced_at: o.account.last_synced_at.map(|t| t.to_rfc3339()),
            access_expires_at: o.connection.access_expires_at.map(|t| t.to_rfc3339()),
            expiring_soon: o.expiring_soon,
            expired: o.expired,
            sync_budget: SyncBudgetView {
                limit: state.as_ref().and_then(|s| s.budget_limit),
                remaining: state.as_ref().and_then(|s| s.budget_remaining),
                resets_at: state
                    .as_ref()
                    .and_then(|s| s.budget_resets_at)
                    .map(|t| t.to_rfc3339()),
            },
            balances: state
                .as_ref()
                .and_then(|s| s.balances.as_deref())
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_else(|| serde_json::json!([])),
            balances_at: state
                .as_ref()
                .and_then(|s| s.balances_at)
                .map(|t| t.to_rfc3339()),
            last_error: state.and_then(|s| s.last_error),
        }
    }
}

/// The tenant's bank accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// The accounts.
    pub items: Vec<AccountView>,
}

/// Lists the linked accounts with their balances, status and sync budget.
#[utoipa::path(get, path = "/api/gocardless/accounts", tag = "banking",
    responses(
        (status = 200, description = "The accounts", body = AccountList),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn accounts(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let accounts = service(&req)?.accounts(who.0.tenant).await?;
    Ok(HttpResponse::Ok().json(AccountList {
        items: accounts.into_iter().map(AccountView::from).collect(),
    }))
}

/// `GET /api/gocardless/transactions` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransactionsQuery {
    /// One account only.
    pub account: Option<String>,
    /// From this day (inclusive, `YYYY-MM-DD`).
    pub from: Option<String>,
    /// To this day (inclusive).
    pub to: Option<String>,
    /// `booked` or `pending`; both when absent.
    pub status: Option<String>,
    /// `unmatched`, `suggested`, `matched`, `ignored` or `held` (booked rows only).
    pub match_state: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A bank transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// Id.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// `booked` or `pending` (pending rows are never matched).
    pub status: String,
    /// The booking day (for pending rows, the value day).
    pub booking_date: String,
    /// The value day.
    pub value_date: Option<String>,
    /// Signed amount, decimal.
    pub amount: String,
    /// Signed amount in minor units.
    pub amount_minor: i64,
    /// Currency.
    pub currency: String,
    /// The other party.
    pub counterparty_name: String,
    /// The other party's IBAN.
    pub counterparty_iban: Option<String>,
    /// Free text.
    pub remittance: String,
    /// Structured reference.
    pub reference: Option<String>,
    /// `unmatched`, `suggested`, `matched`, `ignored`, `held` (an undone or partly landed match
    /// waits for the WHMCS clean-up); absent for pending rows.
    pub match_state: Option<String>,
}

const fn match_word(state: TransactionMatchState) -> &'static str {
    match state {
        TransactionMatchState::Unmatched => "unmatched",
        TransactionMatchState::Suggested => "suggested",
        TransactionMatchState::Matched => "matched",
        TransactionMatchState::Ignored => "ignored",
        TransactionMatchState::Held => "held",
    }
}

impl From<ListedBankTransaction> for TransactionView {
    fn from(l: ListedBankTransaction) -> Self {
        let t = l.transaction;
        Self {
            id: t.id.to_string(),
            account_id: l.account_id.to_string(),
            status: if l.pending { "pending" } else { "booked" }.to_owned(),
            booking_date: t.booking_date.to_string(),
            value_date: t.value_date.map(|d| d.to_string()),
            amount: t.amount.to_decimal_string(),
            amount_minor: t.amount.minor_units(),
            currency: t.amount.currency().code().to_owned(),
            counterparty_name: t.counterparty_name,
            counterparty_iban: t.counterparty_iban,
            remittance: t.remittance,
            reference: t.reference,
            match_state: l.match_state.map(|s| match_word(s).to_owned()),
        }
    }
}

/// A page of bank transactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPageView {
    /// Newest first.
    pub items: Vec<TransactionView>,
    /// How to continue.
    pub page: crate::http::pagination::PageInfo,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError::invalid(
        "invalid query parameters",
        vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }],
    )
}

fn parse_filter(q: &TransactionsQuery) -> Result<BankTransactionFilter, ApiError> {
    let date = |field: &str, v: &Option<String>| -> Result<Option<NaiveDate>, ApiError> {
        v.as_deref()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad(field, "must be a date YYYY-MM-DD"))
            })
            .transpose()
    };
    let from = date("from", &q.from)?;
    let to = date("to", &q.to)?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(bad("to", "must not be before from"));
    }
    let booked = match q.status.as_deref() {
        None => None,
        Some("booked") => Some(true),
        Some("pending") => Some(false),
        Some(_) => return Err(bad("status", "must be booked or pending")),
    };
    let match_state = match q.match_state.as_deref() {
        None => None,
        Some("unmatched") => Some(TransactionMatchState::Unmatched),
        Some("suggested") => Some(TransactionMatchState::Suggested),
        Some("matched") => Some(TransactionMatchState::Matched),
        Some("ignored") => Some(TransactionMatchState::Ignored),
        Some("held") => Some(TransactionMatchState::Held),
        Some(_) => {
            return Err(bad(
                "match_state",
                "must be unmatched, suggested, matched, ignored or held",
            ));
        }
    };
    let account = q
        .account
        .as_deref()
        .map(|a| {
            a.parse::<BankAccountId>()
                .map_err(|_| bad("account", "must be an account id"))
        })
        .transpose()?;
    Ok(BankTransactionFilter {
        account,
        from,
        to,
        booked,
        match_state,
    })
}

/// Lists the tenant's bank transactions, newest first, with filters and a cursor.
#[utoipa::path(get, path = "/api/gocardless/transactions", tag = "banking", params(TransactionsQuery),
    responses(
        (status = 200, description = "A page", body = TransactionPageView),
        (status = 400, description = "Invalid filter or cursor", body = crate::http::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn transactions(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<TransactionsQuery>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::TenantRead).await?;
    let query = query.into_inner();
    let filter = parse_filter(&query)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .validate()?;
    let after = match page.after.as_deref() {
        None => None,
        Some(key) => {
            let (date, id) = key
                .split_once('|')
                .ok_or_else(|| bad("cursor", "not a cursor returned by this API"))?;
            Some((
                NaiveDate::parse_from_str(date, "%Y-%m-%d")
                    .map_err(|_| bad("cursor", "not a cursor returned by this API"))?,
                uuid::Uuid::parse_str(id)
                    .map_err(|_| bad("cursor", "not a cursor returned by this API"))?,
            ))
        }
    };
    let rows = service(&req)?
        .transactions(who.0.tenant, &filter, after, page.limit.saturating_add(1))
        .await?;
    let items: Vec<TransactionView> = rows.into_iter().map(TransactionView::from).collect();
    let page = Page::from_overfetch(items, page.limit, |t| {
        format!("{}|{}", t.booking_date, t.id)
    });
    Ok(HttpResponse::Ok().json(TransactionPageView {
        items: page.items,
        page: page.page,
    }))
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    /// Booked rows new to Payymo.
    pub inserted: u64,
    /// Booked rows already stored.
    pub already_known: u64,
    /// Pending rows the bank reports now.
    pub pending: u64,
}

/// Syncs an account now. 429 with `Retry-After` when the bank's daily budget is spent (the bank
/// is not called then).
#[utoipa::path(post, path = "/api/gocardless/accounts/{id}/sync", tag = "banking",
    params(("id" = String, Path, description = "Bank account id")),
    responses(
        (status = 200, description = "Synced", body = SyncResponse),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such account in this tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 409, description = "The connection is not linked (expired, revoked ...)", body = crate::http::problem::Problem, content_type = P),
        (status = 429, description = "The bank's daily budget is spent", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn sync(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<BankAccountId>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let service = service(&req)?;
    match service
        .sync_account(
            who.0.tenant,
            id.into_inner(),
            &who.0.actor(),
            &request_context(&req),
        )
        .await
    {
        Ok(report) => Ok(HttpResponse::Ok().json(SyncResponse {
            inserted: report.inserted,
            already_known: report.already_known,
            pending: report.pending,
        })),
        Err(BankingError::BudgetSpent { retry_at }) => {
            let wait = (retry_at - service.now())
                .to_std()
                .unwrap_or(Duration::from_secs(1));
            Err(budget_spent(retry_at, wait))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes the requisition at GoCardless and marks the connection revoked.
#[utoipa::path(delete, path = "/api/gocardless/connections/{id}", tag = "banking",
    params(("id" = String, Path, description = "Bank connection id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such connection in this tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn disconnect(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let (tenant, connection) = (who.0.tenant, id.into_inner());
    service(&req)?
        .disconnect(tenant, connection, &who.0.actor(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Links the connection's bank again (new agreement and requisition); returns the new link.
#[utoipa::path(post, path = "/api/gocardless/connections/{id}/reconnect", tag = "banking",
    params(("id" = String, Path, description = "Bank connection id")),
    responses(
        (status = 200, description = "Started", body = ConnectResponse),
        (status = 403, description = "Not allowed", body = crate::http::problem::Problem, content_type = P),
        (status = 404, description = "No such connection in this tenant", body = crate::http::problem::Problem, content_type = P),
        (status = 503, description = "GoCardless not configured or failing", body = crate::http::problem::Problem, content_type = P),
    ))]
pub async fn reconnect(
    req: HttpRequest,
    who: Authenticated,
    id: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    require(&req, &who, Permission::ConnectionsManage).await?;
    let (tenant, connection) = (who.0.tenant, id.into_inner());
    let connected = service(&req)?
        .reconnect(tenant, connection, &who.0.actor(), &request_context(&req))
        .await?;
    Ok(HttpResponse::Ok().json(ConnectResponse {
        connection_id: connected.connection_id.to_string(),
        link: connected.link,
    }))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/gocardless/banks").route(web::get().to(banks)))
        .service(web::resource("/api/gocardless/connect").route(web::post().to(connect)))
        .service(web::resource("/api/gocardless/callback").route(web::get().to(callback)))
        .service(web::resource("/api/gocardless/accounts").route(web::get().to(accounts)))
        .service(web::resource("/api/gocardless/transactions").route(web::get().to(transactions)))
        .service(web::resource("/api/gocardless/accounts/{id}/sync").route(web::post().to(sync)))
        .service(
            web::resource("/api/gocardless/connections/{id}").route(web::delete().to(disconnect)),
        )
        .service(
            web::resource("/api/gocardless/connections/{id}/reconnect")
                .route(web::post().to(reconnect)),
        );
}
