//! An item's history: every committed change is recorded as a revision,
//! with who made it, through which door, and the fields it changed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Item, ItemDraft};

/// What a change did to the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
    /// Created by an import.
    Import,
    /// An update that wrote the values of an earlier revision back.
    Revert,
    /// Brought back from the trash, as it was deleted.
    Restore,
}

/// Through which door a change came.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Door {
    /// The JSON API.
    #[default]
    Rest,
    /// The web UI's server functions.
    Ui,
    /// A file import (`POST /items/import` or `itemserve import`).
    Import,
    /// A bulk action (`POST /items/bulk`).
    Bulk,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Import => "import",
            Action::Revert => "revert",
            Action::Restore => "restore",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Import,
            Action::Revert,
            Action::Restore,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Rest => "rest",
            Door::Ui => "ui",
            Door::Import => "import",
            Door::Bulk => "bulk",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Door::Rest, Door::Ui, Door::Import, Door::Bulk]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// One field a change set, with its value before and after (`null` for
/// none; every field is `null` before a create).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// One committed change of an item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(example = json!({
    "item_id": 1, "version": 2, "action": "update", "at": "2026-01-02T09:30:00.000Z",
    "actor": "ada", "token": null, "door": "rest", "request_id": "5f0c2a9e1b7d4c3a",
    "reverted_to": null,
    "item": {"id": 1, "name": "Item One", "description": "Now in oak.", "category": null,
        "price": 12.5, "created_at": "2026-01-01T12:00:00.000Z",
        "updated_at": "2026-01-02T09:30:00.000Z", "version": 2},
    "changes": [
        {"field": "description", "old": "This is the first item.", "new": "Now in oak."},
        {"field": "price", "old": null, "new": 12.5}
    ]
})))]
pub struct Revision {
    pub item_id: i64,
    /// The item's version this change made (a delete takes a version of
    /// its own too, so versions never repeat for an id).
    pub version: i64,
    pub action: Action,
    /// RFC 3339, when the change was committed.
    pub at: String,
    /// The user who made it (`null`: nobody was logged in).
    pub actor: Option<String>,
    /// The name of the API token it came with, if it came with one.
    pub token: Option<String>,
    pub door: Door,
    /// The `X-Request-Id` of the request that made it.
    pub request_id: Option<String>,
    /// For a revert: the version whose values were written back.
    pub reverted_to: Option<i64>,
    /// The item after the change; for a delete, the item as it was deleted.
    pub item: Item,
    /// The fields that changed, old and new (none for a delete).
    pub changes: Vec<FieldChange>,
}

/// A page of an item's revisions, newest first, as the UI reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionPage {
    pub revisions: Vec<Revision>,
    /// Where the next (older) page starts: below this version.
    pub before: Option<i64>,
}

/// The fields whose values differ from `before` to `after`, in the order
/// of the item's fields; every field that has a value when there was
/// nothing before (a create).
pub fn changes(before: Option<&ItemDraft>, after: &ItemDraft) -> Vec<FieldChange> {
    let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::String);
    let price = |p: Option<f64>| p.map_or(Value::Null, Value::from);
    let old_name = before.map_or(Value::Null, |b| Value::String(b.name.clone()));
    let empty = ItemDraft::default();
    let before = before.unwrap_or(&empty);
    let pairs = [
        ("name", old_name, Value::String(after.name.clone())),
        (
            "description",
            text(&before.description),
            text(&after.description),
        ),
        ("category", text(&before.category), text(&after.category)),
        ("price", price(before.price), price(after.price)),
    ];
    pairs
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(field, old, new)| FieldChange {
            field: field.into(),
            old,
            new,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_changes_every_field_it_sets_and_an_update_only_those_that_differ() {
        let after = ItemDraft {
            name: "Lamp".into(),
            description: None,
            category: Some("Lighting".into()),
            price: Some(12.5),
        };
        let created: Vec<_> = changes(None, &after).into_iter().map(|c| c.field).collect();
        assert_eq!(created, ["name", "category", "price"]);
        let before = ItemDraft {
            price: Some(10.0),
            ..after.clone()
        };
        assert_eq!(
            changes(Some(&before), &after),
            [FieldChange {
                field: "price".into(),
                old: Value::from(10.0),
                new: Value::from(12.5)
            }]
        );
        assert!(changes(Some(&after), &after).is_empty());
    }

    #[test]
    fn actions_and_doors_read_back_what_they_write() {
        for action in [
            Action::Create,
            Action::Update,
            Action::Delete,
            Action::Import,
            Action::Revert,
            Action::Restore,
        ] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        for door in [Door::Rest, Door::Ui, Door::Import, Door::Bulk] {
            assert_eq!(Door::parse(door.as_str()), Some(door));
        }
        assert_eq!(Action::parse("purge"), None);
    }
}
