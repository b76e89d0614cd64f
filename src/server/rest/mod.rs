//! The JSON REST API for scripts: the original FastAPI contract plus health.

mod cache;
mod error;
mod extract;
mod instances;
mod item_body;
mod items;
mod meta;
mod models;
mod search;
mod v2;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use cache::PageCache;
pub use error::{ApiError, ValidationDetail};
pub use meta::{fallback, method_not_allowed};

use crate::server::state::AppState;

/// Every REST route. Collection paths answer with and without the trailing
/// slash, as the original app did.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/items", get(items::list).post(items::create))
        .route("/items/", get(items::list).post(items::create))
        .route(
            "/items/{id}",
            get(items::get).put(items::update).delete(items::delete),
        )
        .route("/search", get(search::search))
        .route("/search/", get(search::search))
        .route("/filter", get(search::filter))
        .route("/filter/", get(search::filter))
        .route("/api", get(meta::index))
        .route("/api/", get(meta::index))
        .route("/predict", post(models::predict_original))
        .route(
            "/predict/",
            // GET /predict/ is a person who typed the page's address with a slash.
            post(models::predict_original)
                .get(|| async { axum::response::Redirect::permanent("/predict") }),
        )
        .route("/api/models", get(models::list))
        .route("/api/models/{name}", get(models::get))
        .route("/api/models/{name}/predict", post(models::predict))
        .route("/v2", get(v2::server_metadata))
        .route("/v2/health/live", get(v2::live))
        .route("/v2/health/ready", get(v2::ready))
        .route("/v2/models/{name}", get(v2::model_metadata))
        .route("/v2/models/{name}/ready", get(v2::model_ready))
        .route("/v2/models/{name}/infer", post(v2::infer))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(v2::model_version_metadata),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(v2::infer_version),
        )
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
}
