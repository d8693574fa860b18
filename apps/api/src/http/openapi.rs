//! The OpenAPI 3.1 document, generated from the handlers' annotations. Every endpoint a feature
//! adds is listed here, with its schemas and error responses.

use utoipa::OpenApi;

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Payymo",
        description = "Payment reconciliation: bank and Stripe payments matched to WHMCS invoices \
                       and applied exactly once. Every error is an RFC 9457 problem \
                       (`application/problem+json`) carrying the request id.",
    ),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::health::metrics,
        crate::routes::docs::openapi_json,
        crate::routes::jwks::jwks,
        crate::routes::auth::register,
        crate::routes::auth::login,
        crate::routes::auth::refresh,
        crate::routes::auth::logout,
        crate::routes::auth::me,
        crate::routes::auth::mfa_verify,
        crate::routes::auth::mfa_setup,
        crate::routes::auth::mfa_enable,
        crate::routes::auth::mfa_disable,
        crate::routes::auth::sessions,
        crate::routes::auth::end_session,
        crate::routes::auth::change_password,
        crate::routes::users::list,
        crate::routes::users::create,
        crate::routes::users::patch,
        crate::routes::users::delete,
        crate::routes::api_keys::list,
        crate::routes::api_keys::create,
        crate::routes::api_keys::revoke,
        crate::routes::audit::list,
        crate::routes::admin::tenants,
        crate::routes::admin::patch_tenant,
        crate::routes::admin::certificates,
        crate::routes::licences::validate,
        crate::routes::licences::issue,
        crate::routes::licences::revoke,
        crate::routes::licences::patch,
        crate::routes::licences::list,
        crate::routes::platform::jobs,
        crate::routes::platform::stats,
        crate::routes::banking::banks,
        crate::routes::banking::connect,
        crate::routes::banking::callback,
        crate::routes::banking::accounts,
        crate::routes::banking::transactions,
        crate::routes::banking::sync,
        crate::routes::banking::disconnect,
        crate::routes::banking::reconnect,
        crate::routes::stripe::connect,
        crate::routes::stripe::accounts,
        crate::routes::stripe::set_webhook_secret,
        crate::routes::stripe::sync,
        crate::routes::stripe::payments,
        crate::routes::stripe::payouts,
        crate::routes::stripe::payout_report,
        crate::routes::stripe::webhook,
        crate::routes::reconciliation::connect_whmcs,
        crate::routes::reconciliation::list_whmcs,
        crate::routes::reconciliation::remove_whmcs,
        crate::routes::reconciliation::sync_whmcs,
        crate::routes::reconciliation::list_invoices,
        crate::routes::reconciliation::list_transactions,
        crate::routes::reconciliation::get_transaction,
        crate::routes::reconciliation::ignore_transaction,
        crate::routes::reconciliation::unignore_transaction,
        crate::routes::reconciliation::get_settings,
        crate::routes::reconciliation::put_settings,
        crate::routes::reconciliation::reconcile,
        crate::routes::reconciliation::list_matches,
        crate::routes::reconciliation::get_match,
        crate::routes::reconciliation::approve,
        crate::routes::reconciliation::reject,
        crate::routes::reconciliation::undo,
        crate::routes::reconciliation::release,
        crate::routes::reconciliation::manual_match,
        crate::routes::overview::overview,
    ),
    components(schemas(
        crate::problem::Problem,
        crate::problem::FieldError,
        crate::pagination::PageInfo,
        crate::routes::auth::RegisterRequest,
        crate::routes::auth::RegisterResponse,
        crate::routes::auth::LoginRequest,
        crate::routes::auth::TokenMode,
        crate::routes::auth::TokenResponse,
        crate::routes::auth::RefreshRequest,
        crate::routes::auth::MeResponse,
        crate::routes::auth::MfaChallenge,
        crate::routes::auth::MfaVerifyRequest,
        crate::routes::auth::MfaSetupResponse,
        crate::routes::auth::MfaCodeRequest,
        crate::routes::auth::MfaEnabledResponse,
        crate::routes::auth::SessionView,
        crate::routes::auth::SessionList,
        crate::routes::auth::ChangePasswordRequest,
        crate::routes::auth::PasswordChanged,
        crate::routes::api_keys::ApiKeyView,
        crate::routes::api_keys::ApiKeyList,
        crate::routes::api_keys::CreateApiKey,
        crate::routes::api_keys::ApiKeyCreatedView,
        crate::routes::admin::TenantView,
        crate::routes::admin::TenantList,
        crate::routes::admin::PatchTenant,
        crate::routes::admin::CertificateList,
        crate::routes::users::UserView,
        crate::routes::users::UserList,
        crate::routes::users::CreateUser,
        crate::routes::users::PatchUser,
        crate::routes::audit::AuditEventView,
        crate::routes::licences::ValidateLicence,
        crate::routes::licences::LicenceVerdict,
        crate::routes::licences::LicenceView,
        crate::routes::licences::IssueLicence,
        crate::routes::licences::IssuedLicenceView,
        crate::routes::licences::RevokeLicence,
        crate::routes::licences::PatchLicence,
        crate::routes::licences::LicenceList,
        crate::routes::platform::JobView,
        crate::routes::platform::JobList,
        crate::routes::platform::PlatformStatsView,
        crate::routes::platform::ConnectionCounts,
        crate::routes::banking::InstitutionView,
        crate::routes::banking::InstitutionList,
        crate::routes::banking::ConnectRequest,
        crate::routes::banking::ConnectResponse,
        crate::routes::banking::SyncBudgetView,
        crate::routes::banking::AccountView,
        crate::routes::banking::AccountList,
        crate::routes::banking::TransactionView,
        crate::routes::banking::TransactionPageView,
        crate::routes::banking::SyncResponse,
        crate::routes::stripe::ConnectStripe,
        crate::routes::stripe::StripeAccountView,
        crate::routes::stripe::StripeAccountList,
        crate::routes::stripe::SetWebhookSecret,
        crate::routes::stripe::SyncView,
        crate::routes::stripe::StripePaymentView,
        crate::routes::stripe::StripePaymentPage,
        crate::routes::stripe::BankTransactionView,
        crate::routes::stripe::StripePayoutView,
        crate::routes::stripe::StripePayoutPage,
        crate::routes::stripe::BalanceTransactionView,
        crate::routes::stripe::PayoutTotals,
        crate::routes::stripe::PayoutReportView,
        crate::routes::stripe::WebhookAckView,
        crate::routes::reconciliation::ConnectWhmcs,
        crate::routes::reconciliation::WhmcsInstanceBody,
        crate::routes::reconciliation::WhmcsInstanceList,
        crate::routes::reconciliation::SyncReportBody,
        crate::routes::reconciliation::AmountBody,
        crate::routes::reconciliation::InvoiceClientBody,
        crate::routes::reconciliation::InvoiceSummaryBody,
        crate::routes::reconciliation::InvoiceMatchBody,
        crate::routes::reconciliation::InvoiceBody,
        crate::routes::reconciliation::InvoicePage,
        crate::routes::reconciliation::TransactionBody,
        crate::routes::reconciliation::TransactionPageBody,
        crate::routes::reconciliation::ReasonBody,
        crate::routes::reconciliation::AllocationBody,
        crate::routes::reconciliation::ApplicationBody,
        crate::routes::reconciliation::MatchBody,
        crate::routes::reconciliation::MatchPage,
        crate::routes::reconciliation::HistoryEventBody,
        crate::routes::reconciliation::TransactionDetailBody,
        crate::routes::reconciliation::SettingsBody,
        crate::routes::reconciliation::ReconcileReportBody,
        crate::routes::reconciliation::PutSettings,
        crate::routes::reconciliation::ManualAllocationBody,
        crate::routes::reconciliation::ManualMatchBody,
        crate::routes::overview::OverviewView,
        crate::routes::overview::AmountView,
        crate::routes::overview::ReceivedView,
        crate::routes::overview::AttentionView,
        crate::routes::overview::ConnectionView,
        crate::routes::overview::DayView,
        crate::routes::overview::LastSyncView,
    )),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Registration, sign-in, tokens and sessions"),
        (name = "users", description = "The tenant's users"),
        (name = "audit", description = "The tenant's audit log"),
        (name = "api-keys", description = "Keys for automated systems"),
        (name = "admin", description = "Platform administration (system admins, admin API key)"),
        (name = "licences", description = "WHMCS addon licences: validation (public) and administration"),
        (name = "banking", description = "Open banking through GoCardless: banks, links, accounts, transactions, sync"),
        (name = "stripe", description = "Stripe connections, payments, payouts and webhooks"),
        (name = "reconciliation", description = "WHMCS instances, invoices, transactions, matches and their application to WHMCS"),
        (name = "overview", description = "The dashboard's figures: money received, matching, review queue, connections"),
    )
)]
pub struct ApiDoc;

/// The document as JSON text.
#[must_use]
pub fn render() -> String {
    let mut doc = ApiDoc::openapi();
    env!("CARGO_PKG_VERSION").clone_into(&mut doc.info.version);
    doc.to_pretty_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(&super::render()).unwrap_or(Value::Null)
    }

    /// Every operation of the reconciliation tag, as (method, path, operation).
    fn reconciliation_operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "reconciliation"));
                if tagged {
                    out.push((method.clone(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_reconciliation_answer_has_its_real_schema_and_the_auth_statuses() {
        let doc = document();
        let ops = reconciliation_operations(&doc);
        assert_eq!(ops.len(), 19, "the reconciliation operations");
        for (method, path, op) in ops {
            let responses = &op["responses"];
            for status in ["401", "403"] {
                assert!(
                    responses[status].is_object(),
                    "{method} {path} declares {status}"
                );
            }
            for (status, response) in responses.as_object().into_iter().flatten() {
                let Some(content) = response["content"].as_object() else {
                    assert!(status == "204", "{method} {path} {status} has a body");
                    continue;
                };
                for (media, body) in content {
                    let reference = body["schema"]["$ref"].as_str().unwrap_or_default();
                    assert!(
                        reference.starts_with("#/components/schemas/"),
                        "{method} {path} {status} {media}: a named schema, not {}",
                        body["schema"]
                    );
                    let name = reference.trim_start_matches("#/components/schemas/");
                    assert!(
                        doc["components"]["schemas"][name].is_object(),
                        "{name} is in the document"
                    );
                }
            }
        }
    }

    #[test]
    fn a_match_carries_its_reasons_as_a_list_of_code_and_message() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["MatchBody"]["properties"]["reasons"]["items"]["$ref"],
            "#/components/schemas/ReasonBody"
        );
        let reason = &schemas["ReasonBody"]["properties"];
        assert_eq!(reason["code"]["type"], "string");
        assert_eq!(reason["message"]["type"], "string");
    }
}
