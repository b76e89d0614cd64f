//! Keyset cursors: where a page of a listing starts, as the position of a
//! row in the listing's order rather than a count of rows to skip.
//!
//! A cursor holds the sort key and id of the row it starts after (a `next`
//! cursor) or before (a `prev` cursor), so the database seeks to it instead
//! of counting past every earlier row, and rows inserted or deleted
//! meanwhile never make a row repeat or go missing. It also names the
//! listing it belongs to (sort and filters), so it cannot silently page a
//! different one. It is opaque to clients, not secret: base64url of a small
//! JSON array.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use super::{fold_case, StoreError};
use crate::domain::{AuditEntry, Item, ItemQuery, Listing, SortField, TrashedItem};

/// The layout of the cursors this module writes; older or newer ones are
/// refused with a clear message rather than misread.
const FORMAT: u64 = 1;

/// A row's value in the column a listing sorts by.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Key {
    /// The item has no value there (sorted after every value).
    Missing,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// A decoded cursor: the boundary row and which way the page runs from it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Position {
    pub key: Key,
    pub id: i64,
    /// A `prev` cursor: the page is the rows just before the boundary.
    pub backward: bool,
    /// How many rows came before the boundary when the cursor was made.
    pub at: u64,
}

/// The position a query's cursor names, checked against the query.
pub(crate) fn decode(query: &ItemQuery) -> Result<Option<Position>, StoreError> {
    let Some(cursor) = &query.cursor else {
        return Ok(None);
    };
    let refuse = |reason: String| StoreError::BadCursor {
        cursor: cursor.clone(),
        reason,
    };
    let foreign = || {
        refuse(
            "Not a cursor this server gave out: pass the `next` or `prev` cursor of a page \
             unchanged"
                .into(),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| foreign())?;
    let fields: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| foreign())?;
    let [format, sort, listing, key, id, backward, at] = fields.as_slice() else {
        return Err(foreign());
    };
    if format.as_u64() != Some(FORMAT) {
        return Err(refuse(
            "This cursor was made by another version of the server; start again from the \
             first page"
                .into(),
        ));
    }
    if sort.as_str() != Some(query.sort_param().as_str()) {
        return Err(refuse(format!(
            "This cursor pages a listing sorted by {}, not by {}: send the sort and filters \
             of the page it came from",
            sort.as_str().unwrap_or("?"),
            query.sort_param()
        )));
    }
    if listing.as_str() != Some(fingerprint(query).as_str()) {
        return Err(refuse(
            "This cursor pages a listing with other filters (q, category, price_lt): send the \
             filters of the page it came from"
                .into(),
        ));
    }
    let key = read_key(query.sort, key).ok_or_else(foreign)?;
    let (Some(id), Some(backward), Some(at)) = (id.as_i64(), backward.as_bool(), at.as_u64())
    else {
        return Err(foreign());
    };
    Ok(Some(Position {
        key,
        id,
        backward,
        at,
    }))
}

/// The cursor of the boundary at `item` in `query`'s listing.
fn encode(query: &ItemQuery, item: &Item, backward: bool, at: u64) -> String {
    let key = match key_of(query.sort, item) {
        Key::Missing => Value::Null,
        Key::Integer(n) => json!(n),
        Key::Real(x) => json!(x),
        Key::Text(t) => json!(t),
    };
    let fields = json!([
        FORMAT,
        query.sort_param(),
        fingerprint(query),
        key,
        item.id,
        backward,
        at
    ]);
    URL_SAFE_NO_PAD.encode(fields.to_string())
}

/// A page read for `query` from `position` (up to `limit + 1` rows in the
/// order the SQL of [`super::sql::list`] read them), with the cursors of
/// the pages beside it.
pub(crate) fn listing(
    query: &ItemQuery,
    position: Option<&Position>,
    mut rows: Vec<Item>,
) -> Listing {
    let limit = query.limit as usize;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let (offset, more_after, more_before) = match position {
        None => (query.skip, more, query.skip > 0),
        Some(p) if !p.backward => (p.at, more, true),
        Some(p) => {
            rows.reverse();
            // Read backwards: the extra row says whether rows come before.
            let offset = if more {
                p.at.saturating_sub(rows.len() as u64)
            } else {
                0
            };
            (offset, true, more)
        }
    };
    let end = offset + rows.len() as u64;
    let next = rows
        .last()
        .filter(|_| more_after)
        .map(|last| encode(query, last, false, end));
    let prev = rows
        .first()
        .filter(|_| more_before)
        .map(|first| encode(query, first, true, offset));
    Listing {
        items: rows,
        offset,
        next,
        prev,
    }
}

/// Where a page of the trash starts: after the item deleted at
/// `deleted_at` with id `id`, in the trash's order (newest deletion first).
#[derive(Clone, Debug, PartialEq)]
pub struct TrashPosition {
    pub deleted_at: String,
    pub id: i64,
}

/// What marks a trash cursor, so that a listing's cursor is not taken for one.
const TRASH: &str = "trash";

impl TrashPosition {
    /// The position just after `item`.
    pub fn after(item: &TrashedItem) -> Self {
        TrashPosition {
            deleted_at: item.deleted_at.clone(),
            id: item.id,
        }
    }

    /// The opaque cursor of this position.
    pub fn encode(&self) -> String {
        encode_time_position(TRASH, &self.deleted_at, self.id)
    }

    /// The position a trash cursor names.
    pub fn decode(cursor: &str) -> Result<Self, StoreError> {
        let (deleted_at, id) = decode_time_position(TRASH, "the trash", cursor)?;
        Ok(TrashPosition { deleted_at, id })
    }
}

/// Where a page of the audit log starts: after the entry recorded at `at`
/// with id `id`, newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPosition {
    pub at: String,
    pub id: i64,
}

/// What marks an audit log cursor.
const AUDIT: &str = "audit";

impl AuditPosition {
    /// The position just after `entry`.
    pub fn after(entry: &AuditEntry) -> Self {
        AuditPosition {
            at: entry.at.clone(),
            id: entry.id,
        }
    }

    /// The opaque cursor of this position.
    pub fn encode(&self) -> String {
        encode_time_position(AUDIT, &self.at, self.id)
    }

    /// The position an audit log cursor names.
    pub fn decode(cursor: &str) -> Result<Self, StoreError> {
        let (at, id) = decode_time_position(AUDIT, "the audit log", cursor)?;
        Ok(AuditPosition { at, id })
    }
}

/// The cursor of a position in a log read newest first (`kind` names the
/// log): a time and the id that breaks ties.
fn encode_time_position(kind: &str, at: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(json!([FORMAT, kind, at, id]).to_string())
}

/// The time and id a cursor of the log `kind` names (`log` in words, for
/// the error).
fn decode_time_position(kind: &str, log: &str, cursor: &str) -> Result<(String, i64), StoreError> {
    let foreign = || StoreError::BadCursor {
        cursor: cursor.to_owned(),
        reason: format!(
            "Not a cursor of {log}: pass the `next` cursor of a page of {log} unchanged"
        ),
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| foreign())?;
    let fields: Vec<Value> = serde_json::from_slice(&bytes).map_err(|_| foreign())?;
    match fields.as_slice() {
        [format, tag, at, id] if format.as_u64() == Some(FORMAT) && tag.as_str() == Some(kind) => {
            match (at.as_str(), id.as_i64()) {
                (Some(at), Some(id)) => Ok((at.to_owned(), id)),
                _ => Err(foreign()),
            }
        }
        _ => Err(foreign()),
    }
}

/// The value `item` sorts by in `sort`.
pub(crate) fn key_of(sort: SortField, item: &Item) -> Key {
    let text = |t: &Option<String>| t.clone().map_or(Key::Missing, Key::Text);
    match sort {
        SortField::Id => Key::Integer(item.id),
        SortField::Name => Key::Text(item.name.clone()),
        SortField::Description => text(&item.description),
        SortField::Category => text(&item.category),
        SortField::Price => item.price.map_or(Key::Missing, Key::Real),
        SortField::CreatedAt => Key::Text(item.created_at.clone()),
        SortField::UpdatedAt => Key::Text(item.updated_at.clone()),
        SortField::Version => Key::Integer(item.version),
    }
}

/// Whether a sort column may hold no value.
pub(crate) fn may_be_missing(sort: SortField) -> bool {
    matches!(
        sort,
        SortField::Description | SortField::Category | SortField::Price
    )
}

/// A key read back from a cursor, if it has the sort column's type.
fn read_key(sort: SortField, value: &Value) -> Option<Key> {
    if value.is_null() {
        return may_be_missing(sort).then_some(Key::Missing);
    }
    match sort {
        SortField::Id | SortField::Version => value.as_i64().map(Key::Integer),
        SortField::Price => value.as_f64().map(Key::Real),
        _ => value.as_str().map(|t| Key::Text(t.to_owned())),
    }
}

/// Names a listing's filters (as they select rows: text folded as the
/// search folds it), so a cursor is only taken by the listing it pages.
fn fingerprint(query: &ItemQuery) -> String {
    let filters = json!([
        query.q.as_deref().map(fold_case),
        query.category.as_deref().map(fold_case),
        query.price_lt,
    ])
    .to_string();
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = filters.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, price: Option<f64>) -> Item {
        Item {
            id,
            name: format!("item {id}"),
            description: None,
            category: None,
            price,
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            version: 1,
        }
    }

    fn by_price() -> ItemQuery {
        ItemQuery {
            sort: SortField::Price,
            descending: true,
            limit: 2,
            q: Some("Lamp".into()),
            ..ItemQuery::default()
        }
    }

    #[test]
    fn a_cursor_decodes_to_the_boundary_it_was_made_at() {
        let query = by_price();
        for (price, key) in [
            (Some(0.1 + 0.2), Key::Real(0.1 + 0.2)),
            (None, Key::Missing),
        ] {
            let cursor = encode(&query, &item(7, price), true, 40);
            let paged = ItemQuery {
                cursor: Some(cursor),
                ..query.clone()
            };
            assert_eq!(
                decode(&paged).unwrap(),
                Some(Position {
                    key,
                    id: 7,
                    backward: true,
                    at: 40
                })
            );
        }
    }

    #[test]
    fn a_cursor_of_another_listing_or_a_mangled_one_is_refused_with_a_reason() {
        let query = by_price();
        let cursor = encode(&query, &item(7, Some(5.0)), false, 2);
        let reason = |query: ItemQuery, cursor: &str| match decode(&ItemQuery {
            cursor: Some(cursor.to_owned()),
            ..query
        }) {
            Err(StoreError::BadCursor { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        let other_sort = ItemQuery {
            descending: false,
            ..by_price()
        };
        assert!(reason(other_sort, &cursor).contains("sorted by -price, not by price"));
        let other_filter = ItemQuery {
            q: None,
            ..by_price()
        };
        assert!(reason(other_filter, &cursor).contains("other filters"));
        // The same search in another case selects the same rows.
        let same = ItemQuery {
            q: Some("LAMP".into()),
            cursor: Some(cursor.clone()),
            ..by_price()
        };
        assert!(decode(&same).is_ok());
        for mangled in ["", "!!", &cursor[1..], &URL_SAFE_NO_PAD.encode("[1]")] {
            assert!(
                reason(by_price(), mangled).contains("Not a cursor"),
                "{mangled}"
            );
        }
        let text_key = URL_SAFE_NO_PAD.encode(
            json!([FORMAT, "-price", fingerprint(&query), "cheap", 7, false, 2]).to_string(),
        );
        assert!(reason(by_price(), &text_key).contains("Not a cursor"));
        let future = URL_SAFE_NO_PAD
            .encode(json!([9, "-price", fingerprint(&query), 5.0, 7, false, 2]).to_string());
        assert!(reason(by_price(), &future).contains("another version"));
    }

    #[test]
    fn a_page_says_where_it_is_and_links_to_the_pages_beside_it() {
        let query = by_price();
        let rows = |ids: &[i64]| ids.iter().map(|&id| item(id, Some(id as f64))).collect();
        // The first page: more rows follow, none come before.
        let first = listing(&query, None, rows(&[9, 8, 7]));
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.offset, 0);
        assert!(first.prev.is_none());
        let next = first.next.expect("a next cursor");
        let position = decode(&ItemQuery {
            cursor: Some(next),
            ..query.clone()
        })
        .unwrap()
        .unwrap();
        assert_eq!((position.id, position.backward, position.at), (8, false, 2));
        // A page read backwards, in reverse order, that reached the start.
        let back = Position {
            key: Key::Real(7.0),
            id: 7,
            backward: true,
            at: 2,
        };
        let page = listing(&query, Some(&back), rows(&[8, 9]));
        let ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, [9, 8]);
        assert_eq!(page.offset, 0);
        assert!(page.prev.is_none() && page.next.is_some());
        // An empty page links nowhere.
        let empty = listing(&query, None, vec![]);
        assert!(empty.next.is_none() && empty.prev.is_none());
    }
}

#[cfg(test)]
mod trash_tests {
    use super::*;

    #[test]
    fn a_trash_cursor_reads_back_its_position_and_nothing_else_passes_for_one() {
        let at = TrashPosition {
            deleted_at: "2026-01-03T08:15:00.000Z".into(),
            id: 7,
        };
        assert_eq!(TrashPosition::decode(&at.encode()).unwrap(), at);
        let listing =
            URL_SAFE_NO_PAD.encode(json!([FORMAT, "id", "", 1, 7, false, 20]).to_string());
        let audit = AuditPosition {
            at: at.deleted_at.clone(),
            id: 7,
        };
        assert_eq!(AuditPosition::decode(&audit.encode()).unwrap(), audit);
        // Each log's cursor is its own.
        assert!(AuditPosition::decode(&at.encode()).is_err());
        let audit = audit.encode();
        for foreign in ["", "!!", listing.as_str(), &at.encode()[1..], &audit] {
            assert!(
                matches!(
                    TrashPosition::decode(foreign),
                    Err(StoreError::BadCursor { .. })
                ),
                "{foreign}"
            );
        }
    }
}
