//! The OpenAPI document and an offline docs page that renders it (no CDN, CSP-clean).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The generated OpenAPI 3.1 document, rendered once at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub String);

/// The OpenAPI document of this server.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

const INDEX: &str = include_str!("../../../static/docs/index.html");
const SCRIPT: &str = include_str!("../../../static/docs/docs.js");
const STYLE: &str = include_str!("../../../static/docs/docs.css");

/// The docs page.
pub async fn docs_index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(INDEX)
}

/// The docs page's script.
pub async fn docs_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(SCRIPT)
}

/// The docs page's style sheet.
pub async fn docs_style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(STYLE)
}
