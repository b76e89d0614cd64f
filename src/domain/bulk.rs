//! Bulk actions: one change (delete, restore, set fields, merge patch)
//! applied to many items at once, all of them or none.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::MAX_ITEM_ID;
use super::{merge_patch, FieldError, Item, ItemObject, ItemQuery, ObjectProblem, ValidItem};

/// Items one bulk action changes at most: the ids it names, or the items
/// its filter matches. A transaction this size stays short on both
/// backends (a filter that matches more is refused, not cut).
pub const MAX_BULK_ITEMS: usize = 10_000;

/// What a bulk action does to each item.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkAction {
    /// Moves the items to the trash.
    Delete,
    /// Brings the items back from the trash.
    Restore,
    /// Changes fields of the items, as a merge patch of each (`set` is a
    /// patch that names only fields).
    Edit(ItemEdit),
}

/// Which items a bulk action changes.
#[derive(Clone, Debug, PartialEq)]
pub enum BulkTarget {
    /// These ids (distinct, in the order given).
    Ids(Vec<i64>),
    /// Every item the filter matches, as listing filters them.
    Matching(BulkFilter),
}

/// A listing's filters (`q`, `category`, `price_lt`), without its page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BulkFilter {
    pub q: Option<String>,
    pub category: Option<String>,
    pub price_lt: Option<f64>,
}

impl BulkFilter {
    /// The filters of a listing's query.
    pub fn of(query: ItemQuery) -> Self {
        BulkFilter {
            q: query.q,
            category: query.category,
            price_lt: query.price_lt,
        }
    }
}

/// A bulk change as the item page asks for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum BulkChange {
    Delete,
    Restore,
    /// Sets (or, with `None`, clears) the category.
    Category(Option<String>),
    /// Sets (or, with `None`, clears) the price.
    Price(Option<f64>),
}

impl BulkChange {
    /// The action, its values checked by the item rules.
    pub fn action(self) -> Result<BulkAction, Vec<FieldError>> {
        let values = match self {
            BulkChange::Delete => return Ok(BulkAction::Delete),
            BulkChange::Restore => return Ok(BulkAction::Restore),
            BulkChange::Category(category) => json!({ "category": category }),
            BulkChange::Price(price) => json!({ "price": price }),
        };
        ItemEdit::set(values)
            .map(BulkAction::Edit)
            .map_err(|problems| {
                problems
                    .into_iter()
                    .map(|p| {
                        FieldError::new(p.field.as_deref().unwrap_or("values"), &p.kind, p.message)
                    })
                    .collect()
            })
    }
}

/// Ids for a bulk action: 1 to [`MAX_BULK_ITEMS`] item ids, each once,
/// ascending (the order both backends take their locks in).
pub fn bulk_ids(mut ids: Vec<i64>) -> Result<Vec<i64>, FieldError> {
    if ids.is_empty() || ids.len() > MAX_BULK_ITEMS {
        return Err(FieldError::new(
            "ids",
            "ids_count",
            format!("Select from 1 to {MAX_BULK_ITEMS} items"),
        ));
    }
    if ids.iter().any(|id| !(1..=MAX_ITEM_ID).contains(id)) {
        return Err(FieldError::new(
            "ids",
            "id_range",
            format!("An item id is from 1 to {MAX_ITEM_ID}"),
        ));
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A JSON merge patch (RFC 7396) of an item's editable fields.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemEdit {
    patch: Value,
}

/// An item a bulk action cannot change, and why (`field` names the field
/// when the changed item would break a rule; `None` when the item itself
/// is the problem: not found, not in the trash, its id taken).
#[derive(Clone, Debug, PartialEq)]
pub struct BulkRefusal {
    pub id: i64,
    pub problem: ObjectProblem,
}

/// The fields a bulk `set` may name.
pub const EDITABLE_FIELDS: [&str; 4] = ["name", "description", "category", "price"];

impl ItemEdit {
    /// A merge patch of the item fields. Problems are those the patched
    /// fields would have on any item (a wrong type, a name too long, a
    /// required name removed), so they are reported once for the request
    /// rather than once for each item; an `id` cannot be patched.
    pub fn patch(patch: Value) -> Result<ItemEdit, Vec<ObjectProblem>> {
        let Some(object) = patch.as_object() else {
            return Err(vec![ObjectProblem::whole(
                "model_attributes_type",
                "A merge patch should be an object of the fields to change",
                patch,
            )]);
        };
        if let Some(id) = object.get("id") {
            return Err(vec![ObjectProblem::of_field(
                "id",
                "extra_forbidden",
                "A bulk action cannot change ids",
                id.clone(),
            )]);
        }
        let edit = ItemEdit { patch };
        let sample = Item {
            id: 1,
            name: "sample".into(),
            description: None,
            category: None,
            price: None,
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        };
        // Every field rule looks at its own field alone, so what the patch
        // breaks on one valid item it breaks on every item.
        edit.apply(&sample).map(|_| edit)
    }

    /// Sets the named fields (`null` clears an optional one): a merge
    /// patch that may name only [`EDITABLE_FIELDS`], at least one.
    pub fn set(values: Value) -> Result<ItemEdit, Vec<ObjectProblem>> {
        let Some(object) = values.as_object() else {
            return Err(vec![ObjectProblem::whole(
                "model_attributes_type",
                "The values to set should be an object of fields",
                values,
            )]);
        };
        if object.is_empty() {
            return Err(vec![ObjectProblem::whole(
                "too_short",
                format!(
                    "Name at least one field to set: {}",
                    EDITABLE_FIELDS.join(", ")
                ),
                values,
            )]);
        }
        let unknown: Vec<ObjectProblem> = object
            .iter()
            .filter(|(field, _)| !EDITABLE_FIELDS.contains(&field.as_str()))
            .map(|(field, value)| {
                ObjectProblem::of_field(
                    field,
                    "extra_forbidden",
                    format!(
                        "Not a field that can be set (these can: {})",
                        EDITABLE_FIELDS.join(", ")
                    ),
                    value.clone(),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(unknown);
        }
        ItemEdit::patch(values)
    }

    /// The item's fields once patched, checked by the rules of `PUT`.
    pub fn apply(&self, item: &Item) -> Result<ValidItem, Vec<ObjectProblem>> {
        let mut fields = item_fields(item);
        merge_patch(&mut fields, &self.patch);
        ItemObject::parse(&fields).map(|object| object.item)
    }
}

/// An item's editable fields as the JSON object a merge patch applies to.
pub fn item_fields(item: &Item) -> Value {
    json!({
        "name": item.name,
        "description": item.description,
        "category": item.category,
        "price": item.price,
    })
}

impl BulkRefusal {
    /// No item has this id.
    pub fn not_found(id: i64) -> Self {
        BulkRefusal {
            id,
            problem: ObjectProblem::whole("not_found", "Item not found", json!(id)),
        }
    }

    /// The id names no item in the trash.
    pub fn not_in_trash(id: i64) -> Self {
        BulkRefusal {
            id,
            problem: ObjectProblem::whole("not_in_trash", "Item not found in the trash", json!(id)),
        }
    }

    /// An item was created under the id of this trashed item since.
    pub fn id_taken(id: i64) -> Self {
        BulkRefusal {
            id,
            problem: ObjectProblem::whole(
                "id_taken",
                format!(
                    "Cannot restore item {id}: an item with this id was created after it was \
                     deleted"
                ),
                json!(id),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            id: 4,
            name: "Lamp".into(),
            description: Some("Brass".into()),
            category: Some("Lighting".into()),
            price: Some(20.0),
            created_at: String::new(),
            updated_at: String::new(),
            version: 3,
        }
    }

    fn kinds(problems: Vec<ObjectProblem>) -> Vec<(Option<String>, String)> {
        problems.into_iter().map(|p| (p.field, p.kind)).collect()
    }

    #[test]
    fn set_changes_the_named_fields_and_keeps_the_others() {
        let edit = ItemEdit::set(json!({"category": "Desks", "description": null})).unwrap();
        let changed = edit.apply(&item()).unwrap();
        assert_eq!(changed.name(), "Lamp");
        assert_eq!(changed.description(), None);
        assert_eq!(changed.category(), Some("Desks"));
        assert_eq!(changed.price(), Some(20.0));
    }

    #[test]
    fn set_names_only_editable_fields_and_at_least_one() {
        let found = kinds(ItemEdit::set(json!({"colour": "red", "price": 1})).unwrap_err());
        assert_eq!(found, [(Some("colour".into()), "extra_forbidden".into())]);
        let found = kinds(ItemEdit::set(json!({})).unwrap_err());
        assert_eq!(found, [(None, "too_short".into())]);
        let found = kinds(ItemEdit::set(json!(["price"])).unwrap_err());
        assert_eq!(found, [(None, "model_attributes_type".into())]);
    }

    #[test]
    fn a_patch_is_checked_once_by_the_item_rules() {
        let found = kinds(ItemEdit::patch(json!({"name": null, "price": -1})).unwrap_err());
        assert_eq!(
            found,
            [
                (Some("name".into()), "missing".into()),
                (Some("price".into()), "greater_than_equal".into()),
            ]
        );
        let found = kinds(ItemEdit::set(json!({"name": "  "})).unwrap_err());
        assert_eq!(found, [(Some("name".into()), "string_too_short".into())]);
    }

    #[test]
    fn a_patch_cannot_change_ids_and_ignores_unknown_fields() {
        let found = kinds(ItemEdit::patch(json!({"id": 9})).unwrap_err());
        assert_eq!(found, [(Some("id".into()), "extra_forbidden".into())]);
        let edit = ItemEdit::patch(json!({"colour": "red", "price": 5})).unwrap();
        assert_eq!(edit.apply(&item()).unwrap().price(), Some(5.0));
    }
}
