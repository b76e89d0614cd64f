//! A committed change to the catalogue, as the item event stream
//! (`GET /items/events`) tells it to browsers and scripts.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    /// Changes may have been missed (the stream fell behind, or the
    /// server lost its feed for a moment): reload what you show.
    Reset,
    /// Many items changed at once (an import, a bulk action): one event
    /// for all of them rather than one each. Reload what you show.
    Bulk,
}

/// One event of the stream: the kind, and which item at which version (an
/// item's current state is one `GET /items/{id}` away).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(example = json!({"kind": "updated", "id": 1, "version": 2})))]
pub struct ItemChange {
    pub kind: ChangeKind,
    /// The item (absent for `reset` and `bulk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Its version after the change (absent for `deleted`, `reset` and
    /// `bulk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

impl ChangeKind {
    /// The name in the stream's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
            ChangeKind::Reset => "reset",
            ChangeKind::Bulk => "bulk",
        }
    }
}

impl ItemChange {
    pub fn reset() -> Self {
        ItemChange {
            kind: ChangeKind::Reset,
            id: None,
            version: None,
        }
    }

    pub fn bulk() -> Self {
        ItemChange {
            kind: ChangeKind::Bulk,
            id: None,
            version: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChangeKind;

    #[test]
    fn each_kind_is_named_as_in_the_json() {
        for kind in [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Deleted,
            ChangeKind::Reset,
            ChangeKind::Bulk,
        ] {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }
}
