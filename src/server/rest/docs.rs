//! The API's documentation: the OpenAPI document, Swagger UI at `/docs`
//! and ReDoc at `/redoc`, every byte served by this binary (no CDN), so the
//! pages work where there is no internet access.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::openapi::document;
use crate::server::state::AppState;

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

const REDOC_JS: &[u8] = include_bytes!("../../../vendor/redoc/redoc.standalone.js");

/// `GET /openapi.json`: the OpenAPI 3.1 document, serialized once.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    summary = "The OpenAPI document",
    description = "This API's OpenAPI 3.1 document (what `/docs` and `/redoc` display).",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        Bytes::from(
            document()
                .to_pretty_json()
                .expect("the OpenAPI document serializes"),
        )
    });
    ([(CONTENT_TYPE, "application/json")], body.clone())
}

/// The route patterns [`pages`] registers (Swagger UI's as its crate does),
/// for the request metrics' labels.
pub const PAGE_ROUTES: &[&str] = &[
    "/docs",
    "/docs/",
    "/docs/{*rest}",
    "/redoc",
    "/redoc/",
    "/redoc/redoc.standalone.js",
];

/// Swagger UI at `/docs/` and ReDoc at `/redoc`: pages, not API routes, so
/// they are merged beside the REST routes rather than documented.
pub fn pages() -> Router<AppState> {
    let config = Config::new([OPENAPI_PATH])
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_request_duration(true)
        .deep_linking(true);
    Router::from(SwaggerUi::new("/docs").config(config))
        .route("/redoc", get(redoc))
        .route("/redoc/", get(|| async { Redirect::permanent("/redoc") }))
        .route("/redoc/redoc.standalone.js", get(redoc_js))
}

/// ReDoc's page: the standalone bundle finds the `<redoc>` element and loads
/// the document itself, so the page needs no inline script.
async fn redoc() -> Html<&'static str> {
    Html(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n",
        "<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>itemserve API reference</title>\n",
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\">\n",
        "</head>\n<body>\n",
        "<redoc spec-url=\"/openapi.json\"></redoc>\n",
        "<script src=\"/redoc/redoc.standalone.js\"></script>\n",
        "</body>\n</html>\n"
    ))
}

async fn redoc_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // The bundle changes only with the binary.
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        REDOC_JS,
    )
}
