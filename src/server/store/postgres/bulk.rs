//! Bulk actions on PostgreSQL, in one transaction: the targets are locked
//! in id order, then each item's statement is sent without waiting for the
//! one before (pipelined on the connection), so ten thousand items cost
//! about one round trip each way rather than ten thousand.

use std::collections::HashMap;

use futures_util::future::join_all;
use tokio_postgres::Transaction;

use super::{
    item, origin_setting, params, postgres_error, restore_one, RestoreStatements, DELETE, UPDATE,
};
use crate::domain::{BulkAction, BulkRefusal, BulkTarget, Item, ItemEdit, TrashedItem};
use crate::server::store::sql::{self, item_columns, BulkIds, Dialect};
use crate::server::store::{
    bulk_matches, bulk_outcome, now_rfc3339, FoldedText, Origin, StoreError,
};

/// The targets' items, locked until the action commits.
const LOCK_ITEMS: &str = concat!(
    "SELECT ",
    item_columns!(),
    " FROM items WHERE id = ANY($1) ORDER BY id FOR UPDATE"
);

/// The targets' tombstones holding an item, locked until the action commits.
const LOCK_TRASHED: &str = concat!(
    "SELECT ",
    sql::trash_columns!(),
    " FROM item_tombstones WHERE id = ANY($1) AND name IS NOT NULL ORDER BY id FOR UPDATE"
);

/// Runs a bulk action in `tx`; see [`crate::server::store::ItemStore::bulk`].
/// The caller commits, or drops `tx` on an error (nothing is written).
pub(super) async fn run(
    tx: &Transaction<'_>,
    target: &BulkTarget,
    action: &BulkAction,
    origin: &Origin,
) -> Result<Vec<i64>, StoreError> {
    let ids = match sql::bulk_ids(Dialect::Postgres, target, action)? {
        BulkIds::Named(ids) => ids,
        BulkIds::Matching(sql, values) => {
            let rows = tx
                .query(&sql, &params(&values))
                .await
                .map_err(postgres_error)?;
            let ids = rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<Vec<i64>, _>>()
                .map_err(postgres_error)?;
            bulk_matches(ids)?
        }
    };
    let refusals = match action {
        BulkAction::Delete => delete(tx, &ids, origin).await?,
        BulkAction::Restore => restore(tx, &ids, origin).await?,
        BulkAction::Edit(edit) => change(tx, &ids, edit, origin).await?,
    };
    bulk_outcome(ids, refusals)
}

/// Deletes each item by the single delete's statement; an id that deletes
/// nothing has no item.
async fn delete(
    tx: &Transaction<'_>,
    ids: &[i64],
    origin: &Origin,
) -> Result<Vec<BulkRefusal>, StoreError> {
    let statement = &tx.prepare(DELETE).await.map_err(postgres_error)?;
    let (now, door, any_version) = (&now_rfc3339(), &origin.door.as_str(), &None::<i64>);
    let deleted = join_all(ids.iter().map(|id| async move {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] = [
            id,
            any_version,
            now,
            &origin.actor,
            &origin.token,
            door,
            &origin.request_id,
        ];
        tx.query_one(statement, &params).await
    }))
    .await;
    let mut refusals = Vec::new();
    for (id, row) in ids.iter().zip(deleted) {
        let count: i64 = row.and_then(|row| row.try_get(0)).map_err(postgres_error)?;
        if count == 0 {
            refusals.push(BulkRefusal::not_found(*id));
        }
    }
    Ok(refusals)
}

/// Restores each trashed item as the single restore does.
async fn restore(
    tx: &Transaction<'_>,
    ids: &[i64],
    origin: &Origin,
) -> Result<Vec<BulkRefusal>, StoreError> {
    let rows = tx
        .query(LOCK_TRASHED, &[&ids])
        .await
        .map_err(postgres_error)?;
    let trashed = rows
        .iter()
        .map(|row| sql::trashed_from_row(row).map(|t| (t.id, t)))
        .collect::<Result<HashMap<i64, TrashedItem>, _>>()
        .map_err(postgres_error)?;
    let mut refusals: Vec<BulkRefusal> = ids
        .iter()
        .filter(|id| !trashed.contains_key(id))
        .map(|id| BulkRefusal::not_in_trash(*id))
        .collect();
    let found: Vec<&TrashedItem> = ids.iter().filter_map(|id| trashed.get(id)).collect();
    let statements = &RestoreStatements::prepare(tx).await?;
    let restored = join_all(found.iter().map(|t| restore_one(tx, statements, t, origin))).await;
    for (t, outcome) in found.iter().zip(restored) {
        if let Err(e) = outcome {
            refusals.push(e.refusal(t.id)?);
        }
    }
    Ok(refusals)
}

/// Applies the edit to each locked item and, when every item takes it,
/// updates each by the single update's statement (its trigger records the
/// revision).
async fn change(
    tx: &Transaction<'_>,
    ids: &[i64],
    edit: &ItemEdit,
    origin: &Origin,
) -> Result<Vec<BulkRefusal>, StoreError> {
    let rows = tx
        .query(LOCK_ITEMS, &[&ids])
        .await
        .map_err(postgres_error)?;
    let items = rows
        .iter()
        .map(|row| item(row).map(|item| (item.id, item)))
        .collect::<Result<HashMap<i64, Item>, _>>()?;
    let mut refusals = Vec::new();
    let mut changes = Vec::with_capacity(items.len());
    for &id in ids {
        match items.get(&id).map(|item| (item, edit.apply(item))) {
            None => refusals.push(BulkRefusal::not_found(id)),
            Some((_, Err(problems))) => refusals.extend(
                problems
                    .into_iter()
                    .map(|problem| BulkRefusal { id, problem }),
            ),
            Some((item, Ok(changed))) => {
                let folded = FoldedText::of_item(&changed);
                changes.push((item, changed, folded));
            }
        }
    }
    if !refusals.is_empty() {
        return Ok(refusals);
    }
    let statement = &tx.prepare(UPDATE).await.map_err(postgres_error)?;
    let (now, setting) = (&now_rfc3339(), &origin_setting(origin));
    let updated = join_all(changes.iter().map(|(item, changed, folded)| async move {
        let version = Some(item.version);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 11] = [
            &item.id,
            &changed.name(),
            &changed.description(),
            &changed.category(),
            &changed.price(),
            now,
            &version,
            &folded.name,
            &folded.description,
            &folded.category,
            setting,
        ];
        tx.query_opt(statement, &params).await
    }))
    .await;
    for ((item, _, _), row) in changes.iter().zip(updated) {
        // The row is locked: an update that matched nothing cannot happen.
        if row.map_err(postgres_error)?.is_none() {
            refusals.push(BulkRefusal::not_found(item.id));
        }
    }
    Ok(refusals)
}
