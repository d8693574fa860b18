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
        crate::routes::reconciliation::connect_whmcs,
        crate::routes::reconciliation::list_whmcs,
        crate::routes::reconciliation::remove_whmcs,
        crate::routes::reconciliation::sync_whmcs,
        crate::routes::reconciliation::list_invoices,
        crate::routes::reconciliation::list_transactions,
        crate::routes::reconciliation::ignore_transaction,
        crate::routes::reconciliation::get_settings,
        crate::routes::reconciliation::put_settings,
        crate::routes::reconciliation::reconcile,
        crate::routes::reconciliation::list_matches,
        crate::routes::reconciliation::get_match,
        crate::routes::reconciliation::approve,
        crate::routes::reconciliation::reject,
        crate::routes::reconciliation::undo,
        crate::routes::reconciliation::manual_match,
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
        crate::routes::users::UserView,
        crate::routes::users::UserList,
        crate::routes::users::CreateUser,
        crate::routes::users::PatchUser,
        crate::routes::audit::AuditEventView,
        crate::routes::reconciliation::ConnectWhmcs,
        crate::routes::reconciliation::WhmcsInstanceBody,
        crate::routes::reconciliation::PutSettings,
        crate::routes::reconciliation::ManualAllocationBody,
        crate::routes::reconciliation::ManualMatchBody,
    )),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Registration, sign-in, tokens and sessions"),
        (name = "users", description = "The tenant's users"),
        (name = "audit", description = "The tenant's audit log"),
        (name = "api-keys", description = "Keys for automated systems"),
        (name = "admin", description = "Platform administration (system admins, admin API key)"),
        (name = "reconciliation", description = "WHMCS instances, invoices, transactions, matches and their application to WHMCS"),
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
