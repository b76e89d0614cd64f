//! REST answers through the revision cache ([`PageCache`]).

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, LINK};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::domain::{ItemQuery, Listing, DEFAULT_LIMIT};
use crate::server::cache::{JsonPage, PageCache, Weigh};
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

impl JsonPage {
    /// The answer of `value` and the links to the pages at the `next` and
    /// `prev` cursors of `listing`: `route` with `query`'s parameters and
    /// the cursor.
    pub fn listing(
        value: &impl serde::Serialize,
        route: &str,
        query: &ItemQuery,
        listing: &Listing,
    ) -> Result<JsonPage, ApiError> {
        let link_to = |cursor: &Option<String>, rel: &str| {
            cursor.as_ref().map(|cursor| {
                let page = ItemQuery {
                    skip: 0,
                    cursor: Some(cursor.clone()),
                    ..query.clone()
                };
                format!(
                    "<{route}?{}>; rel=\"{rel}\"",
                    page.to_query_string(DEFAULT_LIMIT)
                )
            })
        };
        let links: Vec<String> = [
            link_to(&listing.next, "next"),
            link_to(&listing.prev, "prev"),
        ]
        .into_iter()
        .flatten()
        .collect();
        // A cursor is base64url and the rest is percent-encoded: always a
        // valid header value.
        let link = (!links.is_empty())
            .then(|| HeaderValue::from_str(&links.join(", ")).ok())
            .flatten();
        Ok(JsonPage {
            body: Bytes::from(to_json(value)?),
            link,
        })
    }
}

impl IntoResponse for JsonPage {
    fn into_response(self) -> Response {
        let mut response = json_response(self.body);
        if let Some(link) = self.link {
            response.headers_mut().insert(LINK, link);
        }
        response
    }
}

/// A page that is not cached (an item's history, the trash): `{<rows>:
/// [...], "next": ...}`, with `next` (a path and percent-encoded query,
/// always a valid header value) also in a `Link: rel="next"` header.
pub fn page_with_next(rows: &str, items: serde_json::Value, next: Option<String>) -> Response {
    let link = next
        .as_ref()
        .and_then(|next| HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).ok());
    let mut response = axum::Json(serde_json::json!({ rows: items, "next": next })).into_response();
    if let Some(link) = link {
        response.headers_mut().insert(LINK, link);
    }
    response
}

/// A listing answer for `key`, made by `page` and reused like every
/// [`cached`] answer.
pub async fn cached_page(
    state: &AppState,
    key: String,
    page: impl std::future::Future<Output = Result<JsonPage, ApiError>>,
) -> Result<Response, ApiError> {
    Ok(cached(&state.pages, state, key, page)
        .await?
        .into_response())
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
