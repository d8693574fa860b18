//! `GET /.well-known/jwks.json`: the public keys that verify Payymo's tokens.

use actix_web::{HttpResponse, web};
use payymo_services::identity::Authenticator;

use crate::http::problem::ApiError;

/// The JSON Web Key Set (RFC 7517): every key a token may be signed with, the active one first.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "The key set", body = Object)))]
pub async fn jwks(authenticator: web::Data<Authenticator>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<serde_json::Value> = authenticator
        .tokens()
        .public_keys()
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "kty": k.kty, "kid": k.kid, "use": k.key_use, "alg": k.alg, "n": k.n, "e": k.e,
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=300"))
        .json(serde_json::json!({ "keys": keys })))
}
