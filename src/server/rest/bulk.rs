//! `POST /items/bulk`: one action on many items, all of them or none.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ValidationBody, ValidationDetail};
use super::extract::{Editor, JsonBody};
use super::item_body;
use super::openapi::{BulkAnswer, BulkIn, Detail};
use crate::domain::{
    bulk_ids, BulkAction, BulkFilter, BulkTarget, Door, ItemEdit, ItemQuery, ObjectProblem,
    DEFAULT_LIMIT, MAX_BULK_ITEMS, MAX_ITEM_ID,
};
use crate::server::state::AppState;
use crate::server::store::Origin;

/// The members a bulk request may have.
const MEMBERS: [&str; 5] = ["action", "ids", "filter", "values", "patch"];

/// The actions, by name.
const ACTIONS: [&str; 4] = ["delete", "restore", "set", "patch"];

/// `POST /items/bulk`.
#[utoipa::path(
    post,
    path = "/items/bulk",
    tag = "items",
    summary = "Change many items at once",
    description = "One action on up to 10 000 items, named by `ids` or matched by a `filter` \
(`q`, `category`, `price_lt`, as listing filters): `delete` (to the trash), `restore` (from the \
trash; by ids only), `set` (the fields in `values`; `null` clears an optional field) or `patch` \
(a JSON merge patch of each item, as `PATCH /items/{id}` takes it). All or nothing: when any \
item cannot take the action (no such item, not in the trash, its id taken, a field the rules \
refuse) nothing is written and 422 lists every such item at `[\"item\", id, field]` (the first \
1 000, with `errors_total`). A filter that matches more than 10 000 items is refused rather \
than cut. Each change is recorded in the item's history (door `bulk`) and the whole is \
announced to event streams as one `bulk` event.",
    request_body = BulkIn,
    responses(
        (status = 200, description = "Every targeted item was changed (none, when the filter matched none)", body = BulkAnswer),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Bulk actions need an editor or admin", body = Detail),
        (status = 422, description = "A bad request, or the items that refuse the action (nothing was written)", body = ValidationBody),
    )
)]
pub async fn bulk(
    State(state): State<AppState>,
    Editor(origin): Editor,
    JsonBody(body): JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request = BulkRequest::parse(&body)?;
    let origin = Origin {
        door: Door::Bulk,
        ..origin
    };
    let ids = state
        .store
        .bulk(&request.target, &request.action, &origin)
        .await?;
    let done = match request.name {
        "delete" => "deleted",
        "restore" => "restored",
        _ => "changed",
    };
    let items = if ids.len() == 1 { "item" } else { "items" };
    Ok(Json(json!({
        "detail": format!("{} {items} {done}", ids.len()),
        "action": request.name,
        "count": ids.len(),
        "ids": ids,
    })))
}

/// A bulk request, checked.
struct BulkRequest {
    name: &'static str,
    action: BulkAction,
    target: BulkTarget,
}

impl BulkRequest {
    /// Reads the body, reporting every problem at once.
    fn parse(body: &Value) -> Result<BulkRequest, ApiError> {
        let Some(object) = body.as_object() else {
            return Err(ApiError::Validation(vec![ValidationDetail::at(
                vec![json!("body")],
                "model_attributes_type",
                "Input should be an object: {\"action\": ..., \"ids\": [...]} or {\"action\": \
                 ..., \"filter\": {...}}",
                body.clone(),
            )]));
        };
        let mut details = Vec::new();
        for (key, value) in object {
            if !MEMBERS.contains(&key.as_str()) {
                details.push(ValidationDetail::new(
                    "body",
                    key,
                    "extra_forbidden",
                    format!("Unknown member; a bulk request has: {}", MEMBERS.join(", ")),
                    value.clone(),
                ));
            }
        }
        let name = action_name(object, &mut details);
        let target = target(object, &mut details);
        let action = name.and_then(|name| action(name, object, &mut details));
        if name == Some("restore") && matches!(target, Some(BulkTarget::Matching(_))) {
            details.push(ValidationDetail::new(
                "body",
                "filter",
                "value_error",
                "A restore names its ids: the trash is not filtered by item fields (find the \
                 ids with GET /trash?q=...)",
                object.get("filter").cloned().unwrap_or_default(),
            ));
        }
        match (name, action, target) {
            (Some(name), Some(action), Some(target)) if details.is_empty() => Ok(BulkRequest {
                name,
                action,
                target,
            }),
            _ => Err(ApiError::Validation(details)),
        }
    }
}

fn action_name(
    object: &Map<String, Value>,
    details: &mut Vec<ValidationDetail>,
) -> Option<&'static str> {
    let value = object.get("action");
    let found = value
        .and_then(Value::as_str)
        .and_then(|name| ACTIONS.into_iter().find(|a| *a == name));
    if found.is_none() {
        let (kind, msg) = match value {
            None => ("missing", "Field required".to_owned()),
            Some(_) => (
                "enum",
                format!("Input should be one of: {}", ACTIONS.join(", ")),
            ),
        };
        details.push(ValidationDetail::new(
            "body",
            "action",
            kind,
            msg,
            value.cloned().unwrap_or_default(),
        ));
    }
    found
}

/// The items the request names: `ids` or `filter`, exactly one.
fn target(object: &Map<String, Value>, details: &mut Vec<ValidationDetail>) -> Option<BulkTarget> {
    match (object.get("ids"), object.get("filter")) {
        (Some(ids), None) => ids_target(ids, details),
        (None, Some(filter)) => filter_target(filter, details),
        (ids, _) => {
            let msg = match ids {
                Some(_) => "Give either ids or a filter, not both",
                None => "Give the ids of the items to change, or a filter that matches them",
            };
            details.push(ValidationDetail::at(
                vec![json!("body")],
                "value_error",
                msg,
                Value::Object(object.clone()),
            ));
            None
        }
    }
}

/// 1 to [`MAX_BULK_ITEMS`] item ids, each problem located at its index.
fn ids_target(value: &Value, details: &mut Vec<ValidationDetail>) -> Option<BulkTarget> {
    let Some(values) = value.as_array() else {
        details.push(ValidationDetail::new(
            "body",
            "ids",
            "list_type",
            "Input should be a valid list of item ids",
            value.clone(),
        ));
        return None;
    };
    if values.is_empty() || values.len() > MAX_BULK_ITEMS {
        let (kind, msg, ctx) = match values.is_empty() {
            true => ("too_short", "List should have at least 1 item".to_owned(), json!({"min_length": 1})),
            false => (
                "too_long",
                format!("List should have at most {MAX_BULK_ITEMS} items (one bulk action changes at most that many)"),
                json!({"max_length": MAX_BULK_ITEMS}),
            ),
        };
        details.push(
            ValidationDetail::new("body", "ids", kind, msg, json!(values.len())).with_ctx(ctx),
        );
        return None;
    }
    let mut ids = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let loc = || vec![json!("body"), json!("ids"), json!(i)];
        match v.as_i64() {
            Some(id) if (1..=MAX_ITEM_ID).contains(&id) => ids.push(id),
            Some(_) => details.push(
                ValidationDetail::at(
                    loc(),
                    "id_range",
                    format!("An item id is from 1 to {MAX_ITEM_ID}"),
                    v.clone(),
                )
                .with_ctx(json!({"ge": 1, "le": MAX_ITEM_ID})),
            ),
            None => details.push(ValidationDetail::at(
                loc(),
                "int_type",
                "Input should be a valid integer",
                v.clone(),
            )),
        }
    }
    // Each once, ascending, as every door hands them to the store.
    bulk_ids(ids).ok().map(BulkTarget::Ids)
}

/// A filter of listing's `q`, `category` and `price_lt`, checked by the
/// listing's rules.
fn filter_target(value: &Value, details: &mut Vec<ValidationDetail>) -> Option<BulkTarget> {
    let Some(object) = value.as_object() else {
        details.push(ValidationDetail::new(
            "body",
            "filter",
            "model_attributes_type",
            "Input should be an object of q, category and price_lt",
            value.clone(),
        ));
        return None;
    };
    let before = details.len();
    let loc = |field: &str| vec![json!("body"), json!("filter"), json!(field)];
    let mut pairs = Vec::new();
    for (key, v) in object {
        let text = match (key.as_str(), v) {
            (_, Value::Null) => continue,
            ("q" | "category", Value::String(s)) => s.clone(),
            ("price_lt", Value::Number(n)) => n.to_string(),
            ("q" | "category", _) => {
                let msg = "Input should be a valid string";
                details.push(ValidationDetail::at(
                    loc(key),
                    "string_type",
                    msg,
                    v.clone(),
                ));
                continue;
            }
            ("price_lt", _) => {
                let msg = "Input should be a valid number";
                details.push(ValidationDetail::at(loc(key), "float_type", msg, v.clone()));
                continue;
            }
            _ => {
                let msg = "Unknown filter; a bulk filter has q, category and price_lt";
                details.push(ValidationDetail::at(
                    loc(key),
                    "extra_forbidden",
                    msg,
                    v.clone(),
                ));
                continue;
            }
        };
        pairs.push((key.as_str(), text));
    }
    match ItemQuery::from_pairs(pairs, DEFAULT_LIMIT) {
        Ok(query) if details.len() == before => Some(BulkTarget::Matching(BulkFilter::of(query))),
        Ok(_) => None,
        Err(errors) => {
            details.extend(errors.iter().map(|e| {
                let input = object.get(&e.field).cloned().unwrap_or_default();
                ValidationDetail::at(loc(&e.field), &e.kind, e.message.clone(), input)
            }));
            None
        }
    }
}

/// The action, with the member it takes (`values` for `set`, `patch` for
/// `patch`, none for the others).
fn action(
    name: &str,
    object: &Map<String, Value>,
    details: &mut Vec<ValidationDetail>,
) -> Option<BulkAction> {
    let takes = match name {
        "set" => Some("values"),
        "patch" => Some("patch"),
        _ => None,
    };
    for member in ["values", "patch"] {
        if let Some(value) = object.get(member).filter(|_| takes != Some(member)) {
            details.push(ValidationDetail::new(
                "body",
                member,
                "extra_forbidden",
                format!("The action {name} takes no {member}"),
                value.clone(),
            ));
        }
    }
    let Some(member) = takes else {
        return Some(match name {
            "delete" => BulkAction::Delete,
            _ => BulkAction::Restore,
        });
    };
    let Some(value) = object.get(member) else {
        details.push(ValidationDetail::new(
            "body",
            member,
            "missing",
            format!("Field required: the fields to {name}"),
            Value::Null,
        ));
        return None;
    };
    let edit = match member {
        "values" => ItemEdit::set(value.clone()),
        _ => ItemEdit::patch(value.clone()),
    };
    edit.map(BulkAction::Edit)
        .map_err(|problems: Vec<ObjectProblem>| {
            let loc = || vec![json!("body"), json!(member)];
            details.extend(problems.into_iter().map(|p| item_body::detail(loc(), p)));
        })
        .ok()
}
