//! The dashboard: the files under `apps/api/web/`, embedded in the binary at build time (see
//! `build.rs`) and served from memory. `/` and any `/app/...` path answer with `index.html` (the
//! single page routes by its URL hash); every file is also at `/assets/<path>`.
//!
//! Only embedded files exist, so no request path can reach the file system (no traversal).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::problem::ApiError;

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// An embedded file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its path under `web/`, e.g. `js/app.js`.
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its strong `ETag` (a hash of the bytes, quoted).
    pub etag: &'static str,
    /// Its bytes.
    pub bytes: &'static [u8],
}

/// The embedded file at `path` (under `web/`), if any.
#[must_use]
pub fn asset(path: &str) -> Option<Asset> {
    ASSETS
        .iter()
        .find(|(p, ..)| *p == path)
        .map(|&(path, content_type, etag, bytes)| Asset {
            path,
            content_type,
            etag,
            bytes,
        })
}

/// Every embedded file's path.
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(p, ..)| *p)
}

/// Whether the request's `If-None-Match` names `etag` (or `*`).
fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// Answers with `asset`, or 304 when the client already has it. Revalidated on every use
/// (`no-cache`): the file names carry no version, and a revalidation costs one small 304.
fn serve(req: &HttpRequest, asset: Asset) -> HttpResponse {
    if not_modified(req, asset.etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, asset.etag))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish();
    }
    HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::ETAG, asset.etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(asset.bytes)
}

/// `GET /` and `GET /app/...`: the dashboard's page.
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let page =
        asset("index.html").ok_or_else(|| ApiError::internal(&"index.html is not embedded"))?;
    Ok(serve(&req, page))
}

/// `GET /assets/{path}`: an embedded file; 404 problem for anything else.
pub async fn file(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found = asset(&path).ok_or_else(|| ApiError::not_found("no such dashboard file"))?;
    Ok(serve(&req, found))
}

/// Mounts the dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(["/", "/app", "/app/{tail:.*}"]).route(web::get().to(index)))
        .service(web::resource("/assets/{path:.*}").route(web::get().to(file)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_files_are_embedded_with_their_types() {
        let index = asset("index.html").expect("index.html is embedded");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(index.etag.starts_with('"') && index.etag.ends_with('"'));
        for path in ["js/app.js", "js/api.js", "js/ui.js", "css/app.css"] {
            assert!(asset(path).is_some(), "{path} is embedded");
        }
        assert_eq!(
            asset("js/app.js").map(|a| a.content_type),
            Some("text/javascript; charset=utf-8")
        );
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn every_script_is_an_external_module_and_no_file_carries_inline_code() {
        let index = std::str::from_utf8(asset("index.html").expect("index").bytes).expect("utf-8");
        assert!(
            !index.contains("<script>"),
            "no inline script in index.html"
        );
        assert!(!index.contains("style="), "no inline style in index.html");
        for path in asset_paths().filter(|p| {
            std::path::Path::new(p)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("js"))
        }) {
            let text = std::str::from_utf8(asset(path).expect("asset").bytes).expect("utf-8");
            assert!(!text.contains("eval("), "{path} uses eval");
            assert!(
                !text.contains("innerHTML"),
                "{path} writes HTML from strings"
            );
            for remote in ["from 'http", "from \"http", "import('http", "//cdn"] {
                assert!(!text.contains(remote), "{path} loads code from elsewhere");
            }
        }
    }
}
