//! `/items/{id}/history`: every change of an item, newest first, and
//! reverting it to the values of an earlier one.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::cache::page_with_next;
use super::error::{ApiError, ValidationBody, ValidationDetail};
use super::extract::{path_id, Can, Editor, IfMatch, ItemId, JsonBody, Read};
use super::openapi::{Detail, HistoryPage, RevertIn};
use crate::domain::{parse_int, FieldError, Item, ItemDraft, Revision};
use crate::server::state::AppState;
use crate::server::store::{history_page, Origin, MAX_HISTORY_PAGE};

/// Revisions on a page when the query does not say.
const DEFAULT_HISTORY_PAGE: i64 = 20;

/// `GET /items/{id}/history`: a page of the item's revisions.
#[utoipa::path(
    get,
    path = "/items/{id}/history",
    tag = "history",
    summary = "An item's history",
    description = "Every change of the item, newest first: who made it (`actor`, and `token` for an API token), when, through which door (`rest`, `ui`, `import`), the request's id, the item after the change and the fields it changed (old and new). A deleted item's history stays readable. Paged by version: `next` (also in a `Link` header) names the page of older revisions.",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("before" = Option<i64>, Query, description = "Only revisions older than this version (the cursor `next` carries)"),
        ("limit" = Option<i64>, Query, description = "Revisions per page, 1 to 100 (default 20)"),
    ),
    responses(
        (status = 200, description = "A page of revisions", body = HistoryPage,
            headers(("Link" = String, description = "The page of older revisions (`rel=\"next\"`), when there is one"))),
        (status = 404, description = "No item ever had this id (since history was kept)", body = Detail),
        (status = 422, description = "The id, `before` or `limit` is not valid", body = ValidationBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    _: Can<Read>,
    ItemId(id): ItemId,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (before, limit) = page_params(raw.as_deref())?;
    let (revisions, next) = history_page(state.store.as_ref(), id, before, limit)
        .await?
        .ok_or_else(ApiError::item_not_found)?;
    let next = next.map(|older| format!("/items/{id}/history?before={older}&limit={limit}"));
    Ok(page_with_next("revisions", json!(revisions), next))
}

/// `GET /items/{id}/history/{version}`: the revision that made `version`.
#[utoipa::path(
    get,
    path = "/items/{id}/history/{version}",
    tag = "history",
    summary = "One revision of an item",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("version" = i64, Path, description = "The version the revision made"),
    ),
    responses(
        (status = 200, description = "The revision", body = Revision),
        (status = 404, description = "The item has no revision of this version", body = Detail),
        (status = 422, description = "The id or version is not an integer", body = ValidationBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Can<Read>,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<Revision>, ApiError> {
    let id = path_id(&id)?;
    let version = path_version(&version)?;
    let revision = state
        .store
        .revision_at(id, version)
        .await?
        .ok_or_else(|| revision_not_found(id, version))?;
    Ok(Json(revision))
}

/// `POST /items/{id}/revert`: writes the fields of an earlier revision
/// back, as a new update.
#[utoipa::path(
    post,
    path = "/items/{id}/revert",
    tag = "history",
    summary = "Revert an item to an earlier revision",
    description = "Writes the name, description, category and price the item had at `version` back as a new update: it gets the next version, a revision of its own (action `revert`, naming the version) and reaches live streams like any update. With `If-Match`, only if the item is still at that version. A deleted item is not brought back by a revert.",
    params(
        ("id" = i64, Path, description = "The item's id"),
        ("If-Match" = Option<String>, Header, description = "An `ETag` from an earlier read, like `\"3\"`"),
    ),
    request_body = RevertIn,
    responses(
        (status = 200, description = "The updated item", body = Item,
            headers(("ETag" = String, description = "The item's new version, quoted"))),
        (status = 404, description = "No item has this id, or it has no revision of that version", body = Detail),
        (status = 412, description = "The item changed since the `If-Match` version", body = Detail),
        (status = 422, description = "The body is not `{\"version\": <integer>}`, or the old values are not valid today", body = ValidationBody),
    )
)]
pub async fn revert(
    State(state): State<AppState>,
    Editor(origin): Editor,
    ItemId(id): ItemId,
    IfMatch(expected_version): IfMatch,
    JsonBody(body): JsonBody,
) -> Result<impl IntoResponse, ApiError> {
    let version = revert_version(&body)?;
    let Some(revision) = state.store.revision_at(id, version).await? else {
        // Say which is missing: the item, or only that revision of it.
        return Err(match state.store.get(id).await? {
            Some(_) => revision_not_found(id, version),
            None => ApiError::item_not_found(),
        });
    };
    // A deleted item has revisions but no row: its update is a 404.
    let item = ItemDraft::of(&revision.item).validate().map_err(|errors| {
        ApiError::Validation(
            errors
                .iter()
                .map(|e| ValidationDetail::from_field("body", e, json!(version)))
                .collect(),
        )
    })?;
    let origin = Origin {
        reverts: Some(version),
        ..origin
    };
    let item = state
        .store
        .update(id, item, expected_version, &origin)
        .await?;
    Ok((super::items::etag(&item), Json(item)))
}

fn revision_not_found(id: i64, version: i64) -> ApiError {
    ApiError::NotFound(format!("Item {id} has no revision of version {version}"))
}

/// A version from the path; anything but a positive integer is a 422.
fn path_version(raw: &str) -> Result<i64, ApiError> {
    positive("version", raw, i64::MAX).map_err(|e| {
        ApiError::Validation(vec![ValidationDetail::from_field("path", &e, json!(raw))])
    })
}

/// `before` and `limit` of a history page.
fn page_params(raw: Option<&str>) -> Result<(Option<i64>, i64), ApiError> {
    let mut before = None;
    let mut limit = DEFAULT_HISTORY_PAGE;
    let mut details = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let most = match &*key {
            "before" => i64::MAX,
            "limit" => MAX_HISTORY_PAGE,
            _ => continue,
        };
        match positive(&key, &value, most) {
            Ok(n) if key == "before" => before = Some(n),
            Ok(n) => limit = n,
            Err(e) => details.push(ValidationDetail::from_field("query", &e, json!(value))),
        }
    }
    match details.is_empty() {
        true => Ok((before, limit)),
        false => Err(ApiError::Validation(details)),
    }
}

/// An integer from 1 to `most` (the checks and messages of the listing's
/// `skip` and `limit`).
fn positive(field: &str, raw: &str, most: i64) -> Result<i64, FieldError> {
    parse_int(field, raw, 1, most as u64).map(|n| n as i64)
}

/// The version a revert body names: `{"version": <positive integer>}`.
fn revert_version(body: &Value) -> Result<i64, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::Validation(vec![ValidationDetail::at(
            vec![json!("body")],
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
            body.clone(),
        )]));
    };
    let Some(value) = object.get("version") else {
        return Err(ApiError::Validation(vec![ValidationDetail::new(
            "body",
            "version",
            "missing",
            "Field required",
            body.clone(),
        )]));
    };
    match value.as_i64() {
        Some(version) if version >= 1 => Ok(version),
        Some(_) => Err(ApiError::Validation(vec![ValidationDetail::new(
            "body",
            "version",
            "greater_than_equal",
            "Input should be greater than or equal to 1",
            value.clone(),
        )
        .with_ctx(json!({"ge": 1}))])),
        None => Err(ApiError::Validation(vec![ValidationDetail::new(
            "body",
            "version",
            "int_type",
            "Input should be a valid integer",
            value.clone(),
        )])),
    }
}
