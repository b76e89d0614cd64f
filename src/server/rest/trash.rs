//! `/trash`: deleted items, kept as they were deleted, to restore or
//! purge.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::cache::page_with_next;
use super::error::{ApiError, ValidationBody, ValidationDetail};
use super::extract::{Can, Editor, ItemId, PurgeItems, Read};
use super::openapi::{Detail, TrashPage};
use crate::domain::{parse_int, Item};
use crate::server::state::AppState;
use crate::server::store::{cut_page, TrashPosition, MAX_TRASH_PAGE};

/// Items on a page of the trash when the query does not say.
const DEFAULT_TRASH_PAGE: i64 = 20;

/// `GET /trash`: a page of deleted items, most recently deleted first.
#[utoipa::path(
    get,
    path = "/trash",
    tag = "trash",
    summary = "Deleted items",
    description = "Items deleted and not yet restored or purged, most recently deleted first, with who deleted them and when. `q` keeps those whose name or description holds it (ignoring case, as search does). Paged by cursor: `next` (also in a `Link` header) names the following page. Items are purged automatically some time after their deletion (`ITEMSERVE_TRASH_RETENTION`, 30 days by default).",
    params(
        ("q" = Option<String>, Query, description = "Text the name or description holds"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: the `next` of the page before"),
        ("limit" = Option<i64>, Query, description = "Items per page, 1 to 100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of the trash", body = TrashPage,
            headers(("Link" = String, description = "The next page (`rel=\"next\"`), when there is one"))),
        (status = 422, description = "The cursor or `limit` is not valid", body = ValidationBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Can<Read>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let page = PageParams::parse(raw.as_deref())?;
    // One more than the page, to know whether more follow.
    let mut items = state
        .store
        .trash(page.q.as_deref(), page.after.as_ref(), page.limit + 1)
        .await?;
    let next = cut_page(&mut items, page.limit).map(|last| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(q) = &page.q {
            query.append_pair("q", q);
        }
        query.append_pair("cursor", &TrashPosition::after(last).encode());
        query.append_pair("limit", &page.limit.to_string());
        format!("/trash?{}", query.finish())
    });
    Ok(page_with_next("items", json!(items), next))
}

/// `POST /trash/{id}/restore`: brings an item back as it was deleted.
#[utoipa::path(
    post,
    path = "/trash/{id}/restore",
    tag = "trash",
    summary = "Restore a deleted item",
    description = "Brings the item back under its id, as it was deleted (its `created_at` too), at the version after its deletion's. It is recorded in the item's history (action `restore`) and reaches live streams like a create.",
    params(("id" = i64, Path, description = "The deleted item's id")),
    responses(
        (status = 200, description = "The restored item", body = Item,
            headers(("ETag" = String, description = "The item's version, quoted"))),
        (status = 404, description = "No item with this id is in the trash", body = Detail),
        (status = 409, description = "An item was created under this id since; the deleted one stays in the trash", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn restore(
    State(state): State<AppState>,
    Editor(origin): Editor,
    ItemId(id): ItemId,
) -> Result<impl IntoResponse, ApiError> {
    let item = state.store.restore(id, &origin).await?;
    Ok((super::items::etag(&item), Json(item)))
}

/// `DELETE /trash/{id}`: removes a deleted item for good.
#[utoipa::path(
    delete,
    path = "/trash/{id}",
    tag = "trash",
    summary = "Purge a deleted item",
    description = "Removes the item from the trash for good, with its history up to its deletion. Its id is never assigned again. Admins only.",
    params(("id" = i64, Path, description = "The deleted item's id")),
    responses(
        (status = 200, description = "Purged", body = Detail, example = json!({"detail": "Item purged"})),
        (status = 404, description = "No item with this id is in the trash", body = Detail),
        (status = 422, description = "The id is not an integer", body = ValidationBody),
    )
)]
pub async fn purge(
    State(state): State<AppState>,
    _: Can<PurgeItems>,
    ItemId(id): ItemId,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.purge(id).await?;
    Ok(Json(json!({"detail": "Item purged"})))
}

/// The query of a page of the trash.
struct PageParams {
    q: Option<String>,
    after: Option<TrashPosition>,
    limit: i64,
}

impl PageParams {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut page = PageParams {
            q: None,
            after: None,
            limit: DEFAULT_TRASH_PAGE,
        };
        let mut details = Vec::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match &*key {
                "q" => page.q = Some(value.into_owned()).filter(|q| !q.is_empty()),
                "cursor" => match TrashPosition::decode(&value) {
                    Ok(after) => page.after = Some(after),
                    Err(e) => match ApiError::from(e) {
                        ApiError::Validation(found) => details.extend(found),
                        other => return Err(other),
                    },
                },
                "limit" => match parse_int("limit", &value, 1, MAX_TRASH_PAGE as u64) {
                    Ok(n) => page.limit = n as i64,
                    Err(e) => details.push(ValidationDetail::from_field("query", &e, json!(value))),
                },
                _ => {}
            }
        }
        match details.is_empty() {
            true => Ok(page),
            false => Err(ApiError::Validation(details)),
        }
    }
}
