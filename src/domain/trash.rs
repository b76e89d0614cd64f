//! The trash: deleted items, kept as they were deleted until they are
//! restored or purged.

use serde::{Deserialize, Serialize};

/// A deleted item in the trash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(example = json!({
    "id": 7, "name": "Desk lamp", "description": "Brass", "category": "Lighting",
    "price": 24.0, "created_at": "2026-01-01T12:00:00.000Z", "version": 4,
    "deleted_at": "2026-01-03T08:15:00.000Z", "deleted_by": "ada"
})))]
pub struct TrashedItem {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price: Option<f64>,
    /// RFC 3339, when the item was first created.
    pub created_at: String,
    /// The version its deletion took; a restore makes the next one.
    pub version: i64,
    /// RFC 3339, when it was deleted.
    pub deleted_at: String,
    /// Who deleted it (`null`: nobody was logged in).
    pub deleted_by: Option<String>,
}

/// A page of the trash, as the UI reads it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrashPage {
    pub items: Vec<TrashedItem>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}
