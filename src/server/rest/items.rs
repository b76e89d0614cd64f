//! `/items/` — the original app's CRUD contract.

use axum::extract::State;
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::cache::{cached_json, to_json};
use super::error::{ApiError, ValidationDetail};
use super::extract::{IfMatch, ItemId, JsonBody, ListParams};
use super::item_body::ItemBody;
use crate::domain::{Item, DEFAULT_LIMIT};
use crate::server::state::AppState;

/// `GET /items/`: a page of items, filtered and sorted; reused until the
/// next write.
pub async fn list(
    State(state): State<AppState>,
    ListParams(query): ListParams,
) -> Result<Response, ApiError> {
    let key = format!("items?{}", query.to_query_string(DEFAULT_LIMIT));
    cached_json(&state, key, async {
        to_json(&state.store.list(&query).await?)
    })
    .await
}

/// `GET /items/{id}`.
pub async fn get(
    State(state): State<AppState>,
    ItemId(id): ItemId,
) -> Result<impl IntoResponse, ApiError> {
    let item = state
        .store
        .get(id)
        .await?
        .ok_or_else(ApiError::item_not_found)?;
    Ok((etag(&item), Json(item)))
}

/// `POST /items/`: 201 with the stored item; the id is assigned when absent.
pub async fn create(
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let ItemBody { id, item } = ItemBody::parse(&body)?;
    let item = state.store.create(id, item).await?;
    let mut headers = etag(&item);
    if let Ok(location) = HeaderValue::from_str(&format!("/items/{}", item.id)) {
        headers.insert(LOCATION, location);
    }
    Ok((StatusCode::CREATED, headers, Json(item)))
}

/// `PUT /items/{id}`: replaces every field; honours `If-Match`.
pub async fn update(
    State(state): State<AppState>,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let ItemBody { id: body_id, item } = ItemBody::parse(&body)?;
    if let Some(body_id) = body_id.filter(|b| *b != id) {
        return Err(ApiError::Validation(vec![ValidationDetail::new(
            "body",
            "id",
            "value_error",
            format!("Value error, the id in the body ({body_id}) differs from the id in the path ({id})"),
            json!(body_id),
        )]));
    }
    let item = state.store.update(id, item, expected_version).await?;
    Ok((etag(&item), Json(item)))
}

/// `DELETE /items/{id}`; honours `If-Match`.
pub async fn delete(
    State(state): State<AppState>,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
) -> Result<Json<Value>, ApiError> {
    state.store.delete(id, expected_version).await?;
    Ok(Json(json!({ "detail": "Item deleted" })))
}

/// The item's version as a strong ETag, for `If-Match` on later writes.
fn etag(item: &Item) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{}\"", item.version)) {
        headers.insert(ETAG, value);
    }
    headers
}
