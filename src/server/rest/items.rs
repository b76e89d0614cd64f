//! `/items/` — the original app's CRUD contract, plus JSON merge patch.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, ETAG, LOCATION};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::cache::{cached, cached_page, to_json};
use super::error::ValidationBody;
use super::error::{ApiError, ValidationDetail};
use super::extract::{Can, Editor, IfMatch, ItemId, JsonBody, ListParams, Read};
use super::item_body::ItemBody;
use super::openapi::{self as doc, Deleted, Detail, ItemIn, ItemPatch};
use crate::domain::{item_fields, merge_patch, Item, DEFAULT_LIMIT};
use crate::server::cache::{CachedItem, JsonPage};
use crate::server::state::AppState;
use crate::server::store::Origin;

/// How often a PATCH without `If-Match` is reapplied when another writer
/// changes the item between its read and its write.
const PATCH_ATTEMPTS: usize = 5;

/// `GET /items/`: a page of items, filtered and sorted; reused until the
/// next write.
#[utoipa::path(
    get,
    path = "/items/",
    tag = "items",
    summary = "List items",
    description = "A page of items, filtered and sorted (`skip`, `limit`, `q`, `category`, `price_lt`, `sort`). The `Link` header names the next and previous pages by cursor: following it costs the same on every page, and rows written meanwhile are neither repeated nor skipped.",
    params(doc::ListParams),
    responses(
        (status = 200, description = "The page of items", body = Vec<Item>,
            headers(("Link" = String, description = "The next and previous pages (`rel=\"next\"`, `rel=\"prev\"`), when there are any"))),
        (status = 422, description = "A query parameter is invalid", body = ValidationBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Can<Read>,
    ListParams(query): ListParams,
) -> Result<Response, ApiError> {
    let key = format!("items?{}", query.to_query_string(DEFAULT_LIMIT));
    cached_page(&state, key, async {
        let listing = state.store.list(&query).await?;
        JsonPage::listing(&listing.items, "/items/", &query, &listing)
    })
    .await
}

/// `GET /items/{id}`.
#[utoipa::path(
    get,
    path = "/items/{id}",
    tag = "items",
    summary = "Read one item",
    description = "The item, with its version in `ETag` (send it back in `If-Match` to update safely).",
    params(("id" = i64, Path, description = "The item's id")),
    responses(
        (status = 200, description = "The item", body = Item,
            headers(("ETag" = String, description = "The item's version, quoted"))),
        (status = 404, description = "No item has this id", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Can<Read>,
    ItemId(id): ItemId,
) -> Result<Response, ApiError> {
    let item = cached(&state.items, &state, id.to_string(), async {
        let item = state
            .store
            .get(id)
            .await?
            .ok_or_else(ApiError::item_not_found)?;
        Ok(CachedItem {
            etag: etag(&item),
            json: Bytes::from(to_json(&item)?),
        })
    })
    .await?;
    Ok(item.into_response())
}

impl IntoResponse for CachedItem {
    fn into_response(self) -> Response {
        let content_type = (CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let [etag] = self.etag;
        ([content_type, etag], self.json).into_response()
    }
}

/// `POST /items/`: 201 with the stored item; the id is assigned when absent.
#[utoipa::path(
    post,
    path = "/items/",
    tag = "items",
    summary = "Create an item",
    description = "Stores the item durably before answering. Without `id`, the next free id is assigned (a deleted item's id is never reused).",
    request_body = ItemIn,
    responses(
        (status = 201, description = "The stored item", body = Item,
            headers(
                ("ETag" = String, description = "The item's version, quoted"),
                ("Location" = String, description = "The item's URL"),
            )),
        (status = 409, description = "An item with this id already exists", body = Detail),
        (status = 422, description = "Every invalid field, at once", body = ValidationBody),
        (status = 503, description = "No id is left to assign", body = Detail),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Editor(origin): Editor,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let ItemBody { id, item } = ItemBody::parse(&body)?;
    let item = state.store.create(id, item, &origin).await?;
    let location =
        HeaderValue::from_maybe_shared(axum::body::Bytes::from(format!("/items/{}", item.id)))
            .expect("a path of digits is a valid header value");
    Ok((
        StatusCode::CREATED,
        etag(&item),
        [(LOCATION, location)],
        Json(item),
    ))
}

/// `PUT /items/{id}`: replaces every field; honours `If-Match`.
#[utoipa::path(
    put,
    path = "/items/{id}",
    tag = "items",
    summary = "Replace an item",
    description = "Replaces every field (absent optional fields become null). With `If-Match`, only if the item is still at that version.",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "An `ETag` from an earlier read, like `\"3\"`"),
    ),
    request_body = ItemIn,
    responses(
        (status = 200, description = "The updated item", body = Item,
            headers(("ETag" = String, description = "The item's new version, quoted"))),
        (status = 404, description = "No item has this id", body = Detail),
        (status = 412, description = "The item changed since the `If-Match` version", body = Detail),
        (status = 422, description = "Every invalid field, at once", body = ValidationBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Editor(origin): Editor,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let item = replace(&state, id, &body, expected_version, &origin).await?;
    Ok((etag(&item), Json(item)))
}

/// `PATCH /items/{id}`: a JSON merge patch (RFC 7396) of the item's fields,
/// validated as a whole item the way PUT validates it; honours `If-Match`.
#[utoipa::path(
    patch,
    path = "/items/{id}",
    tag = "items",
    summary = "Change some fields of an item",
    description = "A JSON merge patch (RFC 7396, `application/merge-patch+json` or `application/json`): fields given replace the stored ones, `null` clears an optional field, absent fields stay. The result is validated like a PUT body. With `If-Match`, only if the item is still at that version.",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "An `ETag` from an earlier read, like `\"3\"`"),
    ),
    request_body(content = ItemPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated item", body = Item,
            headers(("ETag" = String, description = "The item's new version, quoted"))),
        (status = 404, description = "No item has this id", body = Detail),
        (status = 412, description = "The item changed since the `If-Match` version", body = Detail),
        (status = 422, description = "Every invalid field of the patched item, at once", body = ValidationBody),
    )
)]
pub async fn patch(
    State(state): State<AppState>,
    Editor(origin): Editor,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
    JsonBody(patch): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = state
            .store
            .get(id)
            .await?
            .ok_or_else(ApiError::item_not_found)?;
        let mut merged = item_fields(&current);
        merged["id"] = json!(current.id);
        merge_patch(&mut merged, &patch);
        // The patch decides the outcome; a version the client named is
        // checked by the store in the same statement as the write.
        let version = expected_version.unwrap_or(current.version);
        match replace(&state, id, &merged, Some(version), &origin).await {
            Err(ApiError::PreconditionFailed(_))
                if expected_version.is_none() && attempts < PATCH_ATTEMPTS =>
            {
                continue
            }
            result => {
                let item = result?;
                return Ok((etag(&item), Json(item)));
            }
        }
    }
}

/// Validates a whole item body for `id` and stores it.
async fn replace(
    state: &AppState,
    id: i64,
    body: &Value,
    expected_version: Option<i64>,
    origin: &Origin,
) -> Result<Item, ApiError> {
    let ItemBody { id: body_id, item } = ItemBody::parse(body)?;
    if let Some(body_id) = body_id.filter(|b| *b != id) {
        return Err(ApiError::Validation(vec![ValidationDetail::new(
            "body",
            "id",
            "value_error",
            format!("Value error, the id in the body ({body_id}) differs from the id in the path ({id})"),
            json!(body_id),
        )]));
    }
    Ok(state
        .store
        .update(id, item, expected_version, origin)
        .await?)
}

/// `DELETE /items/{id}`; honours `If-Match`.
#[utoipa::path(
    delete,
    path = "/items/{id}",
    tag = "items",
    summary = "Delete an item",
    description = "The item leaves every listing and moves to the trash (`GET /trash`), from where it can be restored until it is purged. With `If-Match`, only if the item is still at that version.",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "An `ETag` from an earlier read, like `\"3\"`"),
    ),
    responses(
        (status = 200, description = "Deleted", body = Deleted),
        (status = 404, description = "No item has this id", body = Detail),
        (status = 412, description = "The item changed since the `If-Match` version", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Editor(origin): Editor,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
) -> Result<Json<Value>, ApiError> {
    state.store.delete(id, expected_version, &origin).await?;
    Ok(Json(json!({ "detail": "Item deleted" })))
}

/// The item's version as a strong ETag, for `If-Match` on later writes.
/// An array of parts goes straight into the response's own header map
/// (a `HeaderMap` would be a second map to allocate and merge).
pub(super) fn etag(item: &Item) -> [(HeaderName, HeaderValue); 1] {
    let quoted = format!("\"{}\"", item.version);
    let value = HeaderValue::from_maybe_shared(axum::body::Bytes::from(quoted))
        .expect("a quoted number is a valid header value");
    [(ETAG, value)]
}
