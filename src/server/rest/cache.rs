//! REST answers through the revision cache ([`PageCache`]).

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::server::cache::{PageCache, Weigh};
use crate::server::state::AppState;

/// The answer for `key`: from `cache` when the store has not changed since
/// it was stored, else made by `make` and stored (when the store can tell
/// of every write: see [`ItemStore::revision`]).
///
/// [`ItemStore::revision`]: crate::server::store::ItemStore::revision
pub async fn cached<P: Weigh>(
    cache: &PageCache<P>,
    state: &AppState,
    key: String,
    make: impl std::future::Future<Output = Result<P, ApiError>>,
) -> Result<P, ApiError> {
    // Read before the query: a write that commits meanwhile moves the
    // revision on, and what was read under the old one is then not reused.
    let Some(revision) = state.store.revision() else {
        return make.await;
    };
    if let Some(page) = cache.get(revision, &key) {
        return Ok(page);
    }
    let page = make.await?;
    cache.put(revision, key, page.clone());
    Ok(page)
}

/// A JSON answer for `key`, made by `page` (serialized JSON) and reused
/// like every [`cached`] answer.
pub async fn cached_json(
    state: &AppState,
    key: String,
    page: impl std::future::Future<Output = Result<Vec<u8>, ApiError>>,
) -> Result<Response, ApiError> {
    let body = cached(&state.pages, state, key, async {
        page.await.map(Bytes::from)
    })
    .await?;
    Ok(json_response(body))
}

/// An answer of JSON bytes ready to send.
pub(super) fn json_response(body: Bytes) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

/// JSON bytes of a value, for [`cached_json`].
pub fn to_json(value: &impl serde::Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.into()))
}
