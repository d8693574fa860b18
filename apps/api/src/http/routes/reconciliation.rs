//! The reconciliation workflow over HTTP: WHMCS instances, invoices, transactions, settings,
//! the matching run and decisions on matches.

mod views;

use actix_web::{HttpRequest, HttpResponse, web};
use payymo_domain::ids::{ConnectionId, InvoiceId, MatchId, TransactionId};
use payymo_domain::match_lifecycle::MatchState;
use payymo_domain::matching::Confidence;
use payymo_domain::money::{Currency, Money};
use payymo_domain::transaction::TransactionSource;
use payymo_ports::invoice_ledger::LedgerError;
use payymo_services::identity::Permission;
use payymo_services::reconciliation::{
    Caller, InvoiceSearch, InvoiceStatusFilter, ManualAllocation, MatchDecisions, NewWhmcsInstance,
    Reconciler, ReconciliationError, ReconciliationQueries, SettingsEditor, SettingsUpdate,
    TransactionFilter, TransactionSearch, WhmcsInstances,
};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

pub use views::{
    AllocationBody, AmountBody, ApplicationBody, HistoryEventBody, InvoiceBody, InvoiceClientBody,
    InvoiceMatchBody, InvoicePage, InvoiceSummaryBody, MatchBody, MatchPage, ReasonBody,
    ReconcileReportBody, SettingsBody, SyncReportBody, TransactionBody, TransactionDetailBody,
    TransactionPageBody, WhmcsInstanceBody, WhmcsInstanceList,
};

use crate::auth::{Authenticated, request_context, require};
use crate::pagination::{Page, PageParams};
use crate::problem::{ApiError, FieldError, ProblemKind};

const P: &str = "application/problem+json";

impl From<ReconciliationError> for ApiError {
    fn from(e: ReconciliationError) -> Self {
        match e {
            ReconciliationError::NotFound => Self::not_found("no such resource"),
            ReconciliationError::Invalid { field, message } => Self::invalid(
                format!("{field} is invalid"),
                vec![FieldError {
                    field: field.to_owned(),
                    message,
                }],
            ),
            ReconciliationError::Ledger(LedgerError::Unavailable { reason }) => Self::new(
                ProblemKind::Unavailable,
                format!("WHMCS cannot be reached: {reason}"),
            ),
            ReconciliationError::Ledger(e) => Self::new(
                ProblemKind::BadRequest,
                format!("WHMCS refused the request: {e}"),
            ),
            ReconciliationError::Conflict(reason) => Self::new(ProblemKind::Conflict, reason),
            ReconciliationError::StaleVersion => Self::new(
                ProblemKind::Conflict,
                "the resource changed since it was read; reload and try again",
            ),
            ReconciliationError::Unavailable(reason) => Self::new(ProblemKind::Unavailable, reason),
            ReconciliationError::Internal(cause) => Self::internal(&cause),
        }
    }
}

/// The use case `T` from the application data.
fn use_case<T: 'static>(req: &HttpRequest) -> Result<web::Data<T>, ApiError> {
    req.app_data::<web::Data<T>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"reconciliation use case is not wired"))
}

/// Checks the permission and returns the use case `T` and the caller.
async fn allowed<T: 'static>(
    req: &HttpRequest,
    who: &Authenticated,
    permission: Permission,
) -> Result<(web::Data<T>, Caller), ApiError> {
    require(req, who, permission).await?;
    let ctx = request_context(req);
    Ok((
        use_case::<T>(req)?,
        Caller {
            tenant: who.0.tenant,
            actor: who.0.actor().into(),
            ip: ctx.ip,
            request_id: ctx.request_id,
        },
    ))
}

fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found("no such resource"))
}

fn cursor_id<T: std::str::FromStr>(after: Option<String>) -> Result<Option<T>, ApiError> {
    after
        .map(|a| {
            a.parse().map_err(|_| {
                ApiError::invalid(
                    "invalid paging parameters",
                    vec![FieldError {
                        field: "cursor".into(),
                        message: "not a cursor returned by this API".into(),
                    }],
                )
            })
        })
        .transpose()
}

// ---------------------------------------------------------------- WHMCS instances

/// `POST /api/whmcs/instances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectWhmcs {
    /// A label (default: the URL's host).
    #[serde(default)]
    pub name: Option<String>,
    /// The WHMCS base URL (`https://billing.example.com/whmcs`).
    pub base_url: String,
    /// The API credential's identifier.
    pub api_identifier: String,
    /// The API credential's secret (stored encrypted, never returned).
    #[schema(value_type = String)]
    pub api_secret: SecretString,
    /// The gateway payments are recorded under (default `banktransfer`).
    #[serde(default)]
    pub gateway: Option<String>,
    /// The currency assumed where WHMCS does not say one (ISO 4217).
    pub default_currency: String,
}

/// Connects a WHMCS instance; the credential is checked with a real call first. Permission
/// `settings:manage`.
#[utoipa::path(post, path = "/api/whmcs/instances", tag = "reconciliation", request_body = ConnectWhmcs,
    responses(
        (status = 201, description = "Connected", body = WhmcsInstanceBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Invalid input, or WHMCS refused the credential", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Already connected", body = crate::problem::Problem, content_type = P),
        (status = 503, description = "WHMCS unreachable", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn connect_whmcs(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<ConnectWhmcs>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<WhmcsInstances>(&req, &who, Permission::SettingsManage).await?;
    let body = body.into_inner();
    let currency = Currency::from_code(body.default_currency.trim()).map_err(|_| {
        ApiError::invalid(
            "default_currency is invalid",
            vec![FieldError {
                field: "default_currency".into(),
                message: "an ISO 4217 currency code".into(),
            }],
        )
    })?;
    let view = svc
        .connect_whmcs(
            &caller,
            NewWhmcsInstance {
                name: body.name,
                base_url: body.base_url,
                api_identifier: body.api_identifier,
                api_secret: body.api_secret,
                gateway: body.gateway,
                default_currency: currency,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(WhmcsInstanceBody::from(view)))
}

/// The tenant's WHMCS instances. Permission `settings:manage`.
#[utoipa::path(get, path = "/api/whmcs/instances", tag = "reconciliation",
    responses(
        (status = 200, description = "The instances", body = WhmcsInstanceList),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn list_whmcs(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<WhmcsInstances>(&req, &who, Permission::SettingsManage).await?;
    let items = svc
        .list_whmcs(&caller)
        .await?
        .into_iter()
        .map(WhmcsInstanceBody::from)
        .collect();
    Ok(HttpResponse::Ok().json(WhmcsInstanceList { items }))
}

/// Removes a WHMCS instance (its invoices and matches stay). Permission `settings:manage`.
#[utoipa::path(delete, path = "/api/whmcs/instances/{id}", tag = "reconciliation",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such instance", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn remove_whmcs(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<WhmcsInstances>(&req, &who, Permission::SettingsManage).await?;
    svc.remove_whmcs(&caller, parse_id::<ConnectionId>(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Syncs an instance's open invoices into Payymo. Permission `connections:manage`.
#[utoipa::path(post, path = "/api/whmcs/instances/{id}/sync", tag = "reconciliation",
    params(("id" = String, Path, description = "Instance id")),
    responses(
        (status = 200, description = "Synced: `open` and `closed` counts", body = SyncReportBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "WHMCS refused the credential or the request", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such instance", body = crate::problem::Problem, content_type = P),
        (status = 503, description = "WHMCS unreachable", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn sync_whmcs(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<WhmcsInstances>(&req, &who, Permission::ConnectionsManage).await?;
    let report = svc
        .sync_invoices(&caller, parse_id::<ConnectionId>(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(SyncReportBody::from(report)))
}

// ---------------------------------------------------------------- invoices and transactions

/// `GET /api/invoices` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvoiceQuery {
    /// Invoice number, client name or company (case-insensitive substring), or an amount equal
    /// to the balance or the total (`"50.00"`); at most 200 characters.
    pub q: Option<String>,
    /// `open` (still accepting payment), `paid`, or `all`; without it, the open ones and those
    /// paid recently.
    pub status: Option<String>,
    /// Items per page, 1 to 200.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Invoices (by default the open and recently paid ones), newest first, optionally searched,
/// with what Payymo matched to them. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/invoices", tag = "reconciliation", params(InvoiceQuery),
    responses(
        (status = 200, description = "A page of invoices", body = InvoicePage),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Unknown status or search too long", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn list_invoices(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<InvoiceQuery>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<ReconciliationQueries>(&req, &who, Permission::TenantRead).await?;
    let query = query.into_inner();
    let status = match query.status.as_deref() {
        None | Some("") => InvoiceStatusFilter::Current,
        Some("open") => InvoiceStatusFilter::Open,
        Some("paid") => InvoiceStatusFilter::Paid,
        Some("all") => InvoiceStatusFilter::All,
        Some(_) => return Err(field_error("status", "one of open, paid, all")),
    };
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let items = svc
        .list_invoices(
            &caller,
            InvoiceSearch { status, q: query.q },
            cursor_id::<InvoiceId>(page.after)?,
            page.limit + 1,
        )
        .await?;
    let page = Page::from_overfetch(items, page.limit, |i| i.invoice.id.to_string());
    Ok(HttpResponse::Ok().json(InvoicePage {
        items: page.items.into_iter().map(InvoiceBody::from).collect(),
        page: page.page,
    }))
}

/// `GET /api/transactions` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransactionQuery {
    /// `unmatched`, `suggested`, `applied`, `ignored` or `held` (money of an undone or partly
    /// landed match may sit in WHMCS until a person confirms the clean-up).
    pub status: Option<String>,
    /// `bank`, `stripe`, `statement` or `import`.
    pub source: Option<String>,
    /// Counterparty name or IBAN, remittance text or reference (case-insensitive substring), or
    /// the amount (`"50.00"`, credit or debit); at most 200 characters.
    pub q: Option<String>,
    /// Items per page, 1 to 200.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Bank, Stripe and statement transactions, newest first, optionally by status and source and
/// searched. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/transactions", tag = "reconciliation", params(TransactionQuery),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionPageBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Unknown status or source, or search too long", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn list_transactions(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<TransactionQuery>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<ReconciliationQueries>(&req, &who, Permission::TenantRead).await?;
    let query = query.into_inner();
    let filter = match query.status.as_deref() {
        None => None,
        Some("unmatched") => Some(TransactionFilter::Unmatched),
        Some("suggested") => Some(TransactionFilter::Suggested),
        Some("applied") => Some(TransactionFilter::Applied),
        Some("ignored") => Some(TransactionFilter::Ignored),
        Some("held") => Some(TransactionFilter::Held),
        Some(_) => {
            return Err(ApiError::invalid(
                "status is invalid",
                vec![FieldError {
                    field: "status".into(),
                    message: "one of unmatched, suggested, applied, ignored, held".into(),
                }],
            ));
        }
    };
    let source = match query.source.as_deref() {
        None | Some("") => None,
        Some("bank") => Some(TransactionSource::Bank),
        Some("stripe") => Some(TransactionSource::Stripe),
        Some("statement") => Some(TransactionSource::Statement),
        Some("import") => Some(TransactionSource::Import),
        Some(_) => {
            return Err(field_error(
                "source",
                "one of bank, stripe, statement, import",
            ));
        }
    };
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let items = svc
        .list_transactions(
            &caller,
            TransactionSearch {
                status: filter,
                source,
                q: query.q,
            },
            cursor_id::<TransactionId>(page.after)?,
            page.limit + 1,
        )
        .await?;
    let page = Page::from_overfetch(items, page.limit, |t| t.transaction.id.to_string());
    Ok(HttpResponse::Ok().json(TransactionPageBody {
        items: page.items.iter().map(TransactionBody::from).collect(),
        page: page.page,
    }))
}

/// One transaction with its source, remittance and counterparty, its matches (with allocations
/// and payment applications), the `invoices` they allocate to, and its `history`: the audit events about it and its matches,
/// oldest first (`occurred_at`, `actor`, `action`, `target`, `detail`). Permission
/// `tenant:read`.
#[utoipa::path(get, path = "/api/transactions/{id}", tag = "reconciliation",
    params(("id" = String, Path, description = "Transaction id")),
    responses(
        (status = 200, description = "The transaction with matches and history", body = TransactionDetailBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such transaction", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn get_transaction(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<ReconciliationQueries>(&req, &who, Permission::TenantRead).await?;
    let detail = svc
        .transaction_detail(&caller, parse_id::<TransactionId>(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(TransactionDetailBody::from(&detail)))
}

/// Marks a transaction as needing no invoice. Permission `matches:decide`.
#[utoipa::path(post, path = "/api/transactions/{id}/ignore", tag = "reconciliation",
    params(("id" = String, Path, description = "Transaction id")),
    responses(
        (status = 204, description = "Ignored"),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such transaction", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Already matched", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn ignore_transaction(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    svc.ignore(&caller, parse_id::<TransactionId>(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Takes a transaction off the ignored list; the next reconciliation looks at it again.
/// Permission `matches:decide`.
#[utoipa::path(post, path = "/api/transactions/{id}/unignore", tag = "reconciliation",
    params(("id" = String, Path, description = "Transaction id")),
    responses(
        (status = 204, description = "Unmatched again"),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such transaction", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Not ignored", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn unignore_transaction(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    svc.unignore(&caller, parse_id::<TransactionId>(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- settings

/// `PUT /api/settings/reconciliation`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSettings {
    /// The version read (0 when never saved).
    pub version: u32,
    /// Apply confident matches without a person.
    pub auto_apply: bool,
    /// The confidence (0..1) from which a match is applied automatically.
    #[schema(value_type = f64)]
    pub auto_threshold: Confidence,
    /// Fee tolerance, absolute part, in hundredths of the currency's major unit.
    pub fee_tolerance_hundredths: i64,
    /// Fee tolerance, relative part, in basis points of the balance.
    pub fee_tolerance_basis_points: u32,
    /// Apply a partial payment automatically when the invoice's own client names it exactly
    /// (the rest stays open). Left out: unchanged.
    #[serde(default)]
    pub auto_partial_payments: Option<bool>,
    /// Close an invoice paid short by no more than the fee tolerance: record its balance with the
    /// shortfall as `fees` (default), or only what arrived (`false`). Left out: unchanged.
    #[serde(default)]
    pub fees_close_invoice: Option<bool>,
    /// The WHMCS gateway card (Stripe) payments are recorded under. Left out: unchanged.
    #[serde(default)]
    pub card_gateway: Option<String>,
    /// The WHMCS gateway payments are recorded under.
    pub gateway: String,
}

/// The reconciliation settings. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/settings/reconciliation", tag = "reconciliation",
    responses(
        (status = 200, description = "The settings with their version", body = SettingsBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn get_settings(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<SettingsEditor>(&req, &who, Permission::TenantRead).await?;
    Ok(HttpResponse::Ok().json(SettingsBody::from(&svc.settings(&caller).await?)))
}

/// Saves the reconciliation settings (409 on a stale version). Permission `settings:manage`.
#[utoipa::path(put, path = "/api/settings/reconciliation", tag = "reconciliation", request_body = PutSettings,
    responses(
        (status = 200, description = "Saved", body = SettingsBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Invalid values", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Stale version", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn put_settings(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<PutSettings>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<SettingsEditor>(&req, &who, Permission::SettingsManage).await?;
    let b = body.into_inner();
    let view = svc
        .update_settings(
            &caller,
            SettingsUpdate {
                version: b.version,
                auto_apply: b.auto_apply,
                auto_threshold: b.auto_threshold,
                fee_tolerance_hundredths: b.fee_tolerance_hundredths,
                fee_tolerance_basis_points: b.fee_tolerance_basis_points,
                auto_partial_payments: b.auto_partial_payments,
                fees_close_invoice: b.fees_close_invoice,
                card_gateway: b.card_gateway,
                gateway: b.gateway,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(SettingsBody::from(&view)))
}

// ---------------------------------------------------------------- matching and decisions

/// Runs the matching engine now. Permission `matches:decide`.
#[utoipa::path(post, path = "/api/reconcile", tag = "reconciliation",
    responses(
        (status = 200, description = "What the run did", body = ReconcileReportBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn reconcile(req: HttpRequest, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<Reconciler>(&req, &who, Permission::MatchesDecide).await?;
    let r = svc.reconcile(&caller).await?;
    Ok(HttpResponse::Ok().json(ReconcileReportBody::from(r)))
}

/// `GET /api/matches` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatchQuery {
    /// `suggested`, `approved`, `applying`, `applied`, `rejected`, `failed`, `undone` or
    /// `released`.
    pub status: Option<String>,
    /// Items per page, 1 to 200.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Matches with allocations, confidence and reasons, newest first; each with its `transaction`
/// and the `invoices` it allocates to. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/matches", tag = "reconciliation", params(MatchQuery),
    responses(
        (status = 200, description = "A page of matches", body = MatchPage),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Unknown status", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn list_matches(
    req: HttpRequest,
    who: Authenticated,
    query: web::Query<MatchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<ReconciliationQueries>(&req, &who, Permission::TenantRead).await?;
    let query = query.into_inner();
    let states = match query.status.as_deref() {
        None => Vec::new(),
        Some(word) => vec![MatchState::parse(word).ok_or_else(|| {
            ApiError::invalid(
                "status is invalid",
                vec![FieldError {
                    field: "status".into(),
                    message:
                        "one of suggested, approved, applying, applied, rejected, failed, undone, \
                         released"
                            .into(),
                }],
            )
        })?],
    };
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate()?;
    let items = svc
        .list_matches(
            &caller,
            states,
            cursor_id::<MatchId>(page.after)?,
            page.limit + 1,
        )
        .await?;
    let page = Page::from_overfetch(items, page.limit, |m| m.stored.id.to_string());
    Ok(HttpResponse::Ok().json(MatchPage {
        items: page.items.iter().map(MatchBody::from).collect(),
        page: page.page,
    }))
}

/// One match. Permission `tenant:read`.
#[utoipa::path(get, path = "/api/matches/{id}", tag = "reconciliation",
    params(("id" = String, Path, description = "Match id")),
    responses(
        (status = 200, description = "The match", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such match", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn get_match(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) =
        allowed::<ReconciliationQueries>(&req, &who, Permission::TenantRead).await?;
    let item = svc.get_match(&caller, parse_id::<MatchId>(&path)?).await?;
    Ok(HttpResponse::Ok().json(MatchBody::from(&item)))
}

/// The match as it is after a decision.
async fn decided(
    req: &HttpRequest,
    caller: &Caller,
    id: MatchId,
) -> Result<HttpResponse, ApiError> {
    let item = use_case::<ReconciliationQueries>(req)?
        .get_match(caller, id)
        .await?;
    Ok(HttpResponse::Ok().json(MatchBody::from(&item)))
}

/// Approves a suggested match: it is queued for WHMCS and the payer remembered. Permission
/// `matches:decide`.
#[utoipa::path(post, path = "/api/matches/{id}/approve", tag = "reconciliation",
    params(("id" = String, Path, description = "Match id")),
    responses(
        (status = 200, description = "Approved and queued", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such match", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Not suggested any more", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn approve(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    let id = parse_id::<MatchId>(&path)?;
    svc.approve(&caller, id).await?;
    decided(&req, &caller, id).await
}

/// Rejects a suggested match. Permission `matches:decide`.
#[utoipa::path(post, path = "/api/matches/{id}/reject", tag = "reconciliation",
    params(("id" = String, Path, description = "Match id")),
    responses(
        (status = 200, description = "Rejected", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such match", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Not suggested any more", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn reject(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    let id = parse_id::<MatchId>(&path)?;
    svc.reject(&caller, id).await?;
    decided(&req, &caller, id).await
}

/// Undoes an applied match in Payymo; the answer carries the steps to remove the payment in
/// WHMCS by hand (WHMCS has no API for it). Permission `matches:decide`.
#[utoipa::path(post, path = "/api/matches/{id}/undo", tag = "reconciliation",
    params(("id" = String, Path, description = "Match id")),
    responses(
        (status = 200, description = "Undone, with `undo_instructions`", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such match", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Not applied", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn undo(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    let id = parse_id::<MatchId>(&path)?;
    svc.undo(&caller, id).await?;
    decided(&req, &caller, id).await
}

/// Confirms that the WHMCS side of an undone match, or of a failed one, is cleaned up (what its
/// `undo_instructions` or `failure_reason` list was removed in WHMCS, or accepted as it is): the
/// match is `released` and its transaction may be matched again, by hand or as a suggestion —
/// never automatically. Permission `matches:decide`.
#[utoipa::path(post, path = "/api/matches/{id}/release", tag = "reconciliation",
    params(("id" = String, Path, description = "Match id")),
    responses(
        (status = 200, description = "Released", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such match", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Neither undone nor failed", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn release(
    req: HttpRequest,
    who: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    let id = parse_id::<MatchId>(&path)?;
    svc.release(&caller, id).await?;
    decided(&req, &caller, id).await
}

/// One part of a manual match.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualAllocationBody {
    /// The invoice.
    pub invoice_id: String,
    /// The amount, a decimal string in `currency` (`"60.00"`).
    pub amount: String,
}

/// `POST /api/matches`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualMatchBody {
    /// The transaction.
    pub transaction_id: String,
    /// The currency of the amounts (the transaction's).
    pub currency: String,
    /// The invoices and amounts; they must add up to the transaction.
    pub allocations: Vec<ManualAllocationBody>,
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::invalid(
        format!("{field} is invalid"),
        vec![FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        }],
    )
}

/// Matches a transaction by hand to one or several invoices; it is queued for WHMCS.
/// Permission `matches:decide`.
#[utoipa::path(post, path = "/api/matches", tag = "reconciliation", request_body = ManualMatchBody,
    responses(
        (status = 201, description = "Matched and queued", body = MatchBody),
        (status = 401, description = "No credential", body = crate::problem::Problem, content_type = P),
        (status = 403, description = "Not allowed", body = crate::problem::Problem, content_type = P),
        (status = 400, description = "Amounts do not fit", body = crate::problem::Problem, content_type = P),
        (status = 404, description = "No such transaction or invoice", body = crate::problem::Problem, content_type = P),
        (status = 409, description = "Already matched", body = crate::problem::Problem, content_type = P),
    ))]
pub async fn manual_match(
    req: HttpRequest,
    who: Authenticated,
    body: web::Json<ManualMatchBody>,
) -> Result<HttpResponse, ApiError> {
    let (svc, caller) = allowed::<MatchDecisions>(&req, &who, Permission::MatchesDecide).await?;
    let body = body.into_inner();
    let currency = Currency::from_code(body.currency.trim())
        .map_err(|_| field_error("currency", "an ISO 4217 currency code"))?;
    let transaction: TransactionId = body
        .transaction_id
        .parse()
        .map_err(|_| field_error("transaction_id", "not an id"))?;
    let mut allocations = Vec::with_capacity(body.allocations.len());
    for a in body.allocations {
        allocations.push(ManualAllocation {
            invoice_id: a
                .invoice_id
                .parse()
                .map_err(|_| field_error("allocations", "invoice_id is not an id"))?,
            amount: Money::parse(&a.amount, currency)
                .map_err(|_| field_error("allocations", "amount is not a decimal amount"))?,
        });
    }
    let stored = svc.manual_match(&caller, transaction, allocations).await?;
    let item = use_case::<ReconciliationQueries>(&req)?
        .get_match(&caller, stored.id)
        .await?;
    Ok(HttpResponse::Created().json(MatchBody::from(&item)))
}

/// Mounts the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/whmcs/instances")
            .route(web::get().to(list_whmcs))
            .route(web::post().to(connect_whmcs)),
    )
    .service(web::resource("/api/whmcs/instances/{id}").route(web::delete().to(remove_whmcs)))
    .service(web::resource("/api/whmcs/instances/{id}/sync").route(web::post().to(sync_whmcs)))
    .service(web::resource("/api/invoices").route(web::get().to(list_invoices)))
    .service(web::resource("/api/transactions").route(web::get().to(list_transactions)))
    .service(web::resource("/api/transactions/{id}").route(web::get().to(get_transaction)))
    .service(
        web::resource("/api/transactions/{id}/ignore").route(web::post().to(ignore_transaction)),
    )
    .service(
        web::resource("/api/transactions/{id}/unignore")
            .route(web::post().to(unignore_transaction)),
    )
    .service(
        web::resource("/api/settings/reconciliation")
            .route(web::get().to(get_settings))
            .route(web::put().to(put_settings)),
    )
    .service(web::resource("/api/reconcile").route(web::post().to(reconcile)))
    .service(
        web::resource("/api/matches")
            .route(web::get().to(list_matches))
            .route(web::post().to(manual_match)),
    )
    .service(web::resource("/api/matches/{id}").route(web::get().to(get_match)))
    .service(web::resource("/api/matches/{id}/approve").route(web::post().to(approve)))
    .service(web::resource("/api/matches/{id}/reject").route(web::post().to(reject)))
    .service(web::resource("/api/matches/{id}/undo").route(web::post().to(undo)))
    .service(web::resource("/api/matches/{id}/release").route(web::post().to(release)));
}
