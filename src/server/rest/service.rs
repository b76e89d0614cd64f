//! The service itself: `/api` (the welcome map), health checks, and the
//! JSON answers for unknown API paths and methods.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::server::state::AppState;

/// Path prefixes that belong to the JSON API; unknown paths under them get
/// a JSON 404 instead of the UI's HTML page.
const API_PREFIXES: &[&str] = &[
    "/items",
    "/search",
    "/filter",
    "/api",
    "/predict/",
    "/v2",
    "/docs",
    "/openapi.json",
    "/metrics",
    "/healthz",
    "/readyz",
    "/rpc",
];

/// `GET /api`: what the original app served at `GET /`.
#[utoipa::path(get, path = "/api/", tag = "meta", summary = "Welcome map",
    description = "What the original app served at `GET /`: every route in a sentence, and where the docs are.",
    responses((status = 200, description = "The map", body = super::openapi::Welcome)))]
pub async fn index() -> Json<Value> {
    Json(json!({
        "message": "Welcome to itemserve: the item catalogue API",
        "version": env!("CARGO_PKG_VERSION"),
        "ui": "/",
        "docs": "/docs",
        "redoc": "/redoc",
        "openapi": "/openapi.json",
        "endpoints": {
            "GET /items/": "List items (skip, limit, q, category, price_lt, sort)",
            "POST /items/": "Create an item",
            "GET /items/{id}": "Read one item",
            "GET /items/events": "Follow every committed change (server-sent events; Last-Event-ID resumes)",
            "PUT /items/{id}": "Replace an item (If-Match supported)",
            "PATCH /items/{id}": "Change some fields: a JSON merge patch (If-Match supported)",
            "DELETE /items/{id}": "Delete an item (If-Match supported)",
            "GET /search/": "Search items by name or description (q, skip, limit)",
            "GET /filter/": "Filter items (category, price_lt)",
            "POST /predict/": "Predict with the 'linear' model (feature1, feature2, feature3)",
            "GET /api/models": "List the models with status and input schema",
            "GET /api/models/{name}": "One model's metadata",
            "POST /api/models/{name}/predict": "Predict one row ('features') or a batch ('instances')",
            "GET /v2": "Open Inference Protocol (KServe v2): server metadata",
            "POST /v2/models/{name}/infer": "Open Inference Protocol inference",
            "GET /healthz": "Liveness",
            "GET /readyz": "Readiness (database reachable)",
            "GET /openapi.json": "This API's OpenAPI 3.1 document",
            "GET /docs": "Interactive API documentation (Swagger UI)",
            "GET /redoc": "API reference (ReDoc)",
        }
    }))
}

/// `GET /predict/`: a person who typed the prediction page's address with
/// a slash.
#[utoipa::path(get, path = "/predict/", tag = "models", summary = "The prediction page",
    description = "Redirects to the browser's prediction page, `/predict`.",
    responses((status = 308, description = "Redirect to `/predict`")))]
pub async fn to_prediction_page() -> Redirect {
    Redirect::permanent("/predict")
}

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "meta", summary = "Liveness",
    responses((status = 200, description = "The process is up", body = super::openapi::Status)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "meta", summary = "Readiness",
    description = "Ready when the database answers.",
    responses(
        (status = 200, description = "Ready", body = super::openapi::Status, example = json!({"status": "ready"})),
        (status = 503, description = "The database does not answer", body = super::openapi::Detail),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.ping().await.map_err(ApiError::not_ready)?;
    Ok(Json(json!({ "status": "ready" })))
}

/// Whether `path` belongs to the JSON API, whose unknown paths are
/// answered with a JSON 404 rather than the UI's page.
pub fn is_api_path(path: &str) -> bool {
    API_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// A known path with the wrong method.
pub async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "detail": "Method Not Allowed" })),
    )
        .into_response()
}
