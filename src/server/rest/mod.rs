//! The JSON REST API for scripts: the original FastAPI contract plus health.

mod error;
mod extract;
mod item_body;
mod items;
mod meta;
mod search;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

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
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
}
