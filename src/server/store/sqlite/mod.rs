//! The embedded SQLite backend (rusqlite, WAL mode).
//!
//! Reads run inline on the calling task: a point read is so short that the
//! thread hop of moving it elsewhere would cost more than the read itself, and
//! a pool that hops threads per query serves far fewer of them (figures in
//! docs/benchmarks.md).
//!
//! Writes go to one writer thread that owns the only write connection and
//! commits every write waiting at the time with one fsync (`writer.rs`).
//! Readers never block the writer and the writer never blocks readers (WAL).
//! Opening the file and migrating it are in `open.rs`.

mod open;
mod users;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::cursor;
use super::sql::{
    self, item_columns, revision_columns, BulkIds, Dialect, SqlRow, SqlValue, MAX_CATEGORIES,
};
use super::{
    now_rfc3339, ChangeFeed, DbError, FoldedText, HistoryMark, ImportBatch, ImportRows, Imported,
    ItemBatches, ItemStore, OnError, Origin, RefusedRow, StoreError, TrashPosition, EXPORT_BATCH,
    EXPORT_QUEUE,
};
use crate::domain::{
    Action, BulkAction, BulkRefusal, BulkTarget, ChangeKind, Item, ItemDraft, ItemQuery, Listing,
    Revision, Total, TrashedItem, ValidItem, MAX_ITEM_ID,
};
use crate::server::telemetry::CommitMetrics;
use writer::{Job, WriteJob};

/// The hot point read, as a literal: no formatting per request.
const SELECT_BY_ID: &str = concat!("SELECT ", item_columns!(), " FROM items WHERE id = ?1");

/// Items stored in one SQLite database file.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writes: tokio::sync::mpsc::Sender<WriteJob>,
    /// Told of every committed item change.
    changes: Arc<ChangeFeed>,
    /// Commits so far; see [`ItemStore::revision`].
    revision: Arc<AtomicU64>,
    /// Counts and categories, reused until the next commit.
    aggregates: Mutex<Aggregates>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Opens one more read connection, for reads too long to hold one of
    /// `readers` (exports).
    open_reader: Box<dyn Fn() -> Result<Connection, StoreError> + Send + Sync>,
    /// Matches of a search or price filter counted at most.
    count_bound: u64,
}

/// Results of whole-table queries at one revision.
#[derive(Default)]
struct Aggregates {
    revision: u64,
    counts: HashMap<String, Total>,
    categories: Option<Vec<String>>,
}

impl Aggregates {
    /// Most distinct filters whose counts are kept.
    const MAX_COUNTS: usize = 1024;

    /// The results for `revision`: older ones are dropped on the way, and
    /// `None` for a revision older than what is kept (a slow reader).
    fn at(&mut self, revision: u64) -> Option<&mut Self> {
        if revision > self.revision {
            *self = Aggregates {
                revision,
                ..Aggregates::default()
            };
        }
        (revision == self.revision).then_some(self)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(DbError::Sqlite(Arc::new(e)))
    }
}

/// An item from [`sql::ITEM_COLUMNS`] (a plain function: rusqlite's row
/// callbacks must accept rows of any lifetime).
fn item_row(row: &Row<'_>) -> rusqlite::Result<Item> {
    sql::item_from_row(row)
}

/// A revision from [`revision_columns`].
fn revision_row(row: &Row<'_>) -> rusqlite::Result<Revision> {
    sql::revision_from_row(row)
}

/// A trashed item from [`sql::trash_columns`].
fn trashed_row(row: &Row<'_>) -> rusqlite::Result<TrashedItem> {
    sql::trashed_from_row(row)
}

fn to_value(value: SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Text(text) => Value::Text(text),
        SqlValue::Real(real) => Value::Real(real),
        SqlValue::Integer(int) => Value::Integer(int),
    }
}

impl SqlRow for Row<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }
    fn opt_real(&self, i: usize) -> rusqlite::Result<Option<f64>> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }
    fn flag(&self, i: usize) -> rusqlite::Result<bool> {
        self.get(i)
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, with its parent
    /// folder, and applies pending migrations. `:memory:` gives a private
    /// in-memory database, for tests.
    pub async fn open(
        path: &str,
        seed_demo_items: bool,
        commits: CommitMetrics,
        changes: Arc<ChangeFeed>,
        count_bound: u64,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let opened = tokio::task::spawn_blocking(move || {
            let open = open::open_blocking(&path, seed_demo_items, commits, changes, count_bound);
            open.map_err(|e| match e {
                StoreError::Backend(e) if e.is_locked() => StoreError::backend(format!(
                    "{path} is in use by another process (itemserve keeps its database \
                     file to itself; stop the other server first)"
                )),
                other => other,
            })
        });
        opened
            .await
            .map_err(|e| StoreError::backend(format!("opening the database panicked: {e}")))?
    }

    /// Commits so far; see [`ItemStore::revision`].
    fn committed(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    /// Runs `f` on a free read connection, on the current thread.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let readers = &self.inner.readers;
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        let guard = (0..readers.len())
            .find_map(|i| readers[(start + i) % readers.len()].try_lock().ok())
            .unwrap_or_else(|| lock(&readers[start % readers.len()]));
        Ok(f(&guard)?)
    }

    /// Runs `f` on the writer thread inside a transaction (shared with other
    /// writes waiting at the time) and returns its result once committed.
    /// An error from `f` undoes only `f`'s own statements. `f` may run more
    /// than once (when another write of its group fails): only its last
    /// run's statements stay, so it must do nothing but them.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(f, true).await
    }

    /// [`SqliteStore::write`] for a write that must run once (it consumes
    /// what it writes); its group runs with a savepoint around each write.
    async fn write_once<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.send_write(f, false).await
    }

    async fn send_write<T, F>(&self, f: F, replayable: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::backend("the database writer has stopped");
        let job = Job {
            f,
            replayable,
            outcome: None,
            reply,
        };
        self.inner
            .writes
            .send(Box::new(job))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A poisoned lock only means another request panicked mid-query; SQLite
/// rolled its transaction back, so the connection (or cache) is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The index of item revisions by time (see
/// [`ItemStore::index_history_by_time`]).
const REVISIONS_BY_TIME: &str = "item_revisions_by_time";

/// Inserts `item` under `id`, or under the next assigned id, with its
/// case-folded search text.
pub(super) fn insert(
    tx: &Connection,
    id: Option<i64>,
    item: &ValidItem,
    origin: Option<&Origin>,
) -> Result<Item, StoreError> {
    let id = match id {
        Some(id) => id,
        None => next_assigned_id(tx)?,
    };
    let folded = FoldedText::of_item(item);
    let result = tx
        .prepare_cached(concat!(
            "INSERT INTO items (id, name, description, category, price, created_at, \
             updated_at, version, name_folded, description_folded, category_folded) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, \
             coalesce((SELECT version FROM item_tombstones WHERE id = ?1), 0) + 1, \
             ?7, ?8, ?9) RETURNING ",
            item_columns!()
        ))?
        .query_row(
            params![
                id,
                item.name(),
                item.description(),
                item.category(),
                item.price(),
                now_rfc3339(),
                folded.name,
                folded.description,
                folded.category,
            ],
            item_row,
        );
    let created = match result.map_err(StoreError::from) {
        Err(StoreError::Backend(e)) if e.is_unique_violation() => Err(StoreError::Conflict(id)),
        result => result,
    }?;
    note_new_text(tx, id)?;
    if let Some(origin) = origin {
        record(tx, &created, Action::Create, origin, None)?;
    }
    Ok(created)
}

/// Notes a new item for the search index (see the search-index
/// migration): the index holds nothing for it yet, unless it held the text
/// of an item under the same id not yet moved out (then that is kept).
fn note_new_text(tx: &Connection, id: i64) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO item_search_pending (id, indexed) VALUES (?1, 0)")?
        .execute([id])?;
    Ok(())
}

/// Notes item `id` for the search index before its row goes, or (given the
/// text it is about to get) before its text changes, if it does: the text
/// it has now is what the index holds for it, unless it was noted already.
fn note_text_change(tx: &Connection, id: i64, new: Option<&FoldedText>) -> Result<(), StoreError> {
    macro_rules! note {
        () => {
            "INSERT OR IGNORE INTO item_search_pending \
             (id, indexed, name_folded, description_folded) \
             SELECT id, 1, name_folded, description_folded FROM items WHERE id = ?1"
        };
    }
    match new {
        None => tx.prepare_cached(note!())?.execute([id])?,
        Some(new) => tx
            .prepare_cached(concat!(
                note!(),
                " AND (name_folded IS NOT ?2 OR description_folded IS NOT ?3)"
            ))?
            .execute(params![id, new.name, new.description])?,
    };
    Ok(())
}

/// Moves up to `limit` noted items (the lowest ids) into the search index,
/// in one write: their text as the index holds it out, their text now in.
pub(super) fn index_noted(tx: &Connection, limit: i64) -> Result<u64, StoreError> {
    let last: Option<i64> = tx
        .prepare_cached(
            "SELECT max(id) FROM (SELECT id FROM item_search_pending ORDER BY id LIMIT ?1)",
        )?
        .query_row([limit], |r| r.get(0))?;
    let Some(last) = last else {
        return Ok(0);
    };
    tx.prepare_cached(
        "INSERT INTO item_search (item_search, rowid, name_folded, description_folded) \
         SELECT 'delete', id, name_folded, description_folded FROM item_search_pending \
         WHERE id <= ?1 AND indexed",
    )?
    .execute([last])?;
    tx.prepare_cached(
        "INSERT INTO item_search (rowid, name_folded, description_folded) \
         SELECT i.id, i.name_folded, i.description_folded \
         FROM item_search_pending p CROSS JOIN items i ON i.id = p.id WHERE p.id <= ?1",
    )?
    .execute([last])?;
    let moved = tx
        .prepare_cached("DELETE FROM item_search_pending WHERE id <= ?1")?
        .execute([last])?;
    Ok(moved as u64)
}

/// Records a revision: `item` as the change left it (for a delete, as it
/// was, under the deletion's version), with its fields before when it was
/// an update.
fn record(
    tx: &Connection,
    item: &Item,
    action: Action,
    origin: &Origin,
    before: Option<&ItemDraft>,
) -> Result<(), StoreError> {
    tx.prepare_cached(concat!(
        "INSERT INTO item_revisions (",
        revision_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18, ?19)"
    ))?
    .execute(params![
        item.id,
        item.version,
        action.as_str(),
        item.updated_at,
        origin.actor,
        origin.token,
        origin.door.as_str(),
        origin.request_id,
        origin.reverts,
        item.name,
        item.description,
        item.category,
        item.price,
        item.created_at,
        before.is_some(),
        before.map(|b| &b.name),
        before.and_then(|b| b.description.as_deref()),
        before.and_then(|b| b.category.as_deref()),
        before.and_then(|b| b.price),
    ])?;
    Ok(())
}

/// The stored item `id`, read in the writer's transaction.
fn current(tx: &Connection, id: i64) -> Result<Option<Item>, StoreError> {
    Ok(tx
        .prepare_cached(SELECT_BY_ID)?
        .query_row([id], item_row)
        .optional()?)
}

/// Replaces the fields of `current` (read in this transaction) with
/// `item`, at the next version, and records the change.
fn replace(
    tx: &Connection,
    current: &Item,
    item: &ValidItem,
    origin: &Origin,
) -> Result<Item, StoreError> {
    let folded = FoldedText::of_item(item);
    note_text_change(tx, current.id, Some(&folded))?;
    let updated = tx
        .prepare_cached(concat!(
            "UPDATE items SET name = ?2, description = ?3, category = ?4, price = ?5, \
             updated_at = ?6, version = version + 1, name_folded = ?7, \
             description_folded = ?8, category_folded = ?9 \
             WHERE id = ?1 RETURNING ",
            item_columns!()
        ))?
        .query_row(
            params![
                current.id,
                item.name(),
                item.description(),
                item.category(),
                item.price(),
                now_rfc3339(),
                folded.name,
                folded.description,
                folded.category,
            ],
            item_row,
        )?;
    let before = ItemDraft::of(current);
    record(tx, &updated, origin.update_action(), origin, Some(&before))?;
    Ok(updated)
}

/// Moves item `id` to the trash (when at `expected_version`, if given),
/// recording the deletion as its next version.
///
/// The revision and the tombstone copy the item inside SQLite, before the
/// row goes: reading it out (eight columns) and binding it back twice cost
/// the writer thread, which every write waits on, more than two lookups of
/// a row it has just read. The tombstone takes the item's folded text too.
fn delete(
    tx: &Connection,
    id: i64,
    expected_version: Option<i64>,
    origin: &Origin,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    // The deletion is a version of its own; a later item under this id
    // carries on after it.
    let recorded = tx
        .prepare_cached(concat!(
            "INSERT INTO item_revisions (",
            revision_columns!(),
            ") SELECT id, version + 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, name, description, \
             category, price, created_at, 0, NULL, NULL, NULL, NULL \
             FROM items WHERE id = ?1 AND (?2 IS NULL OR version = ?2)"
        ))?
        .execute(params![
            id,
            expected_version,
            Action::Delete.as_str(),
            now,
            origin.actor,
            origin.token,
            origin.door.as_str(),
            origin.request_id,
            origin.reverts,
        ])?;
    if recorded == 0 {
        return Err(missing_or_moved(tx, id, expected_version)?);
    }
    // The tombstone keeps the item, in the trash, until it is restored or
    // purged. (`WHERE` before `ON CONFLICT` is what tells SQLite the
    // conflict clause is not a join's.)
    tx.prepare_cached(
        "INSERT INTO item_tombstones (id, version, name, description, category, price, \
         created_at, deleted_at, deleted_by, name_folded, description_folded) \
         SELECT id, version + 1, name, description, category, price, created_at, ?2, ?3, \
         name_folded, description_folded FROM items WHERE id = ?1 \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
         name = excluded.name, description = excluded.description, \
         category = excluded.category, price = excluded.price, \
         created_at = excluded.created_at, deleted_at = excluded.deleted_at, \
         deleted_by = excluded.deleted_by, name_folded = excluded.name_folded, \
         description_folded = excluded.description_folded",
    )?
    .execute(params![id, now, origin.actor])?;
    note_text_change(tx, id, None)?;
    tx.prepare_cached("DELETE FROM items WHERE id = ?1")?
        .execute([id])?;
    // An id above the counter was chosen by a client; keep the counter
    // from handing it out again later.
    tx.prepare_cached(
        "INSERT OR IGNORE INTO retired_item_ids (id) \
         SELECT ?1 WHERE ?1 > (SELECT last FROM item_id_counter)",
    )?
    .execute([id])?;
    Ok(())
}

/// Brings item `id` back from the trash, as it was deleted.
fn restore(tx: &Connection, id: i64, origin: &Origin) -> Result<Item, StoreError> {
    let trashed = tx
        .prepare_cached(concat!(
            "SELECT ",
            sql::trash_columns!(),
            " FROM item_tombstones WHERE id = ?1 AND name IS NOT NULL"
        ))?
        .query_row([id], trashed_row)
        .optional()?
        .ok_or(StoreError::NotInTrash(id))?;
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM items WHERE id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if exists {
        return Err(StoreError::IdReused(id));
    }
    let folded = FoldedText::of(
        &trashed.name,
        trashed.description.as_deref(),
        trashed.category.as_deref(),
    );
    let restored = tx
        .prepare_cached(concat!(
            "INSERT INTO items (id, name, description, category, price, created_at, \
             updated_at, version, name_folded, description_folded, category_folded) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING ",
            item_columns!()
        ))?
        .query_row(
            params![
                id,
                trashed.name,
                trashed.description,
                trashed.category,
                trashed.price,
                trashed.created_at,
                now_rfc3339(),
                trashed.version + 1,
                folded.name,
                folded.description,
                folded.category,
            ],
            item_row,
        )?;
    note_new_text(tx, id)?;
    tx.prepare_cached(sql::take_from_trash(Dialect::Sqlite))?
        .query_row([id], |_| Ok(()))?;
    record(tx, &restored, Action::Restore, origin, None)?;
    Ok(restored)
}

/// Runs a bulk action in the writer's transaction: item by item through
/// the single-item writes, noting what each refuses. One refusal and the
/// action fails, and the writer undoes its statements.
fn bulk(
    tx: &Connection,
    target: &BulkTarget,
    action: &BulkAction,
    origin: &Origin,
) -> Result<Vec<i64>, StoreError> {
    let ids = match sql::bulk_ids(Dialect::Sqlite, target, action)? {
        BulkIds::Named(ids) => ids,
        BulkIds::Matching(sql, values) => {
            let ids = tx
                .prepare_cached(&sql)?
                .query_map(
                    rusqlite::params_from_iter(values.into_iter().map(to_value)),
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            super::bulk_matches(ids)?
        }
    };
    let mut refusals = Vec::new();
    for &id in &ids {
        let done = match action {
            BulkAction::Delete => delete(tx, id, None, origin),
            BulkAction::Restore => restore(tx, id, origin).map(drop),
            BulkAction::Edit(edit) => match current(tx, id)? {
                None => Err(StoreError::NotFound(id)),
                Some(item) => match edit.apply(&item) {
                    Err(problems) => {
                        let refused = problems.into_iter();
                        refusals.extend(refused.map(|problem| BulkRefusal { id, problem }));
                        Ok(())
                    }
                    // Once an item refuses, the rest are only checked.
                    Ok(_) if !refusals.is_empty() => Ok(()),
                    Ok(changed) => replace(tx, &item, &changed, origin).map(drop),
                },
            },
        };
        if let Err(e) = done {
            refusals.push(e.refusal(id)?);
        }
    }
    super::bulk_outcome(ids, refusals)
}

/// Empties item `id`'s tombstone and removes its history up to the
/// deletion; `false` when it was not in the trash.
fn purge_one(tx: &Connection, id: i64) -> Result<bool, StoreError> {
    let version: Option<i64> = tx
        .prepare_cached(sql::take_from_trash(Dialect::Sqlite))?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let Some(version) = version else {
        return Ok(false);
    };
    tx.prepare_cached(sql::purge_history(Dialect::Sqlite))?
        .execute([id, version])?;
    Ok(true)
}

/// One imported row, under its id (explicit or assigned by [`import`]).
const INSERT_IMPORTED: &str = "INSERT INTO items (id, name, description, category, price, \
     created_at, updated_at, version, name_folded, description_folded, category_folded) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, \
     coalesce((SELECT version FROM item_tombstones WHERE id = ?1), 0) + 1, ?7, ?8, ?9) \
     RETURNING version";

/// Whether an id may not be assigned: in use, or retired.
const ID_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM items WHERE id = ?1) \
     OR EXISTS (SELECT 1 FROM retired_item_ids WHERE id = ?1)";

/// Runs an import on the writer thread, inside a savepoint of its own: the
/// rows are inserted as they arrive, with the id counter kept in memory
/// and written once at the end. Undone when a row is refused and
/// `on_error` says to abort, and when the rows stop before their end.
fn import(
    conn: &Connection,
    rows: &mut ImportRows,
    on_error: OnError,
    origin: &Origin,
) -> Result<Imported, StoreError> {
    conn.execute_batch("SAVEPOINT import")?;
    let undo = |conn: &Connection| conn.execute_batch("ROLLBACK TO import; RELEASE import");
    match insert_imported(conn, rows, origin) {
        Ok(outcome) if on_error == OnError::Abort && outcome.refused_total > 0 => {
            undo(conn)?;
            Ok(Imported {
                imported: 0,
                ..outcome
            })
        }
        Ok(outcome) => {
            conn.execute_batch("RELEASE import")?;
            Ok(outcome)
        }
        Err(e) => {
            undo(conn)?;
            Err(e)
        }
    }
}

/// The trigger that keeps the counts with every insert (see the kept-counts
/// migration). An import sets it aside inside its savepoint and adds its
/// counts once per category instead: per row it would update the total's
/// row and a category's row (and that row's index entry) on every insert,
/// which is most of an insert's cost. Undoing the savepoint puts it back.
const COUNT_TRIGGER: &str = "items_count_insert";

/// Categories whose counts an import gathers before adding them to the
/// table (a file of as many categories as rows must not fill the memory).
const GATHERED_CATEGORIES: usize = 10_000;

fn insert_imported(
    conn: &Connection,
    rows: &mut ImportRows,
    origin: &Origin,
) -> Result<Imported, StoreError> {
    let now = now_rfc3339();
    let trigger: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
        [COUNT_TRIGGER],
        |r| r.get(0),
    )?;
    conn.execute_batch(&format!("DROP TRIGGER {COUNT_TRIGGER}"))?;
    let mut insert = conn.prepare_cached(INSERT_IMPORTED)?;
    let mut taken = conn.prepare_cached(ID_TAKEN)?;
    let first_last: i64 = conn.query_row("SELECT last FROM item_id_counter", [], |r| r.get(0))?;
    let mut last = first_last;
    // Every id above this one is free: none is in use or retired (ids this
    // import stores raise it as they go), so assigning one needs no lookup.
    let mut free_above: i64 = conn.query_row(
        "SELECT max(coalesce((SELECT max(id) FROM items), 0), \
         coalesce((SELECT max(id) FROM retired_item_ids), 0))",
        [],
        |r| r.get(0),
    )?;
    let mut counts = Counts::default();
    let mut outcome = Imported::default();
    while let Some(batch) = ImportBatch::rows(rows.blocking_recv())? {
        for row in batch {
            let id = match row.id {
                Some(id) => id,
                None => {
                    let mut candidate = last + 1;
                    while candidate <= free_above
                        && candidate <= MAX_ITEM_ID
                        && taken.query_row([candidate], |r| r.get::<_, bool>(0))?
                    {
                        candidate = past_run(conn, candidate)?;
                    }
                    if candidate > MAX_ITEM_ID {
                        return Err(StoreError::IdsExhausted);
                    }
                    last = candidate;
                    candidate
                }
            };
            let item = &row.item;
            let folded = FoldedText::of_item(item);
            let inserted = insert.query_row(
                params![
                    id,
                    item.name(),
                    item.description(),
                    item.category(),
                    item.price(),
                    now,
                    folded.name,
                    folded.description,
                    folded.category,
                ],
                |r| r.get::<_, i64>(0),
            );
            match inserted.map_err(StoreError::from) {
                Ok(version) => {
                    outcome.imported += 1;
                    free_above = free_above.max(id);
                    note_new_text(conn, id)?;
                    counts.add(conn, folded.category)?;
                    let stored = Item {
                        id,
                        name: item.name().to_owned(),
                        description: item.description().map(str::to_owned),
                        category: item.category().map(str::to_owned),
                        price: item.price(),
                        created_at: now.clone(),
                        updated_at: now.clone(),
                        version,
                    };
                    record(conn, &stored, Action::Import, origin, None)?;
                }
                Err(StoreError::Backend(e)) if e.is_unique_violation() => {
                    outcome.refuse(RefusedRow { line: row.line, id })
                }
                Err(e) => return Err(e),
            }
        }
    }
    counts.flush(conn)?;
    conn.prepare_cached("UPDATE item_count SET n = n + ?1")?
        .execute([outcome.imported])?;
    conn.execute_batch(&trigger)?;
    if last > first_last {
        conn.prepare_cached("UPDATE item_id_counter SET last = ?1")?
            .execute([last])?;
        conn.prepare_cached("DELETE FROM retired_item_ids WHERE id <= ?1")?
            .execute([last])?;
    }
    Ok(outcome)
}

/// Items an import stored per category, added to the kept counts a
/// category at a time.
#[derive(Default)]
struct Counts(HashMap<String, u64>);

impl Counts {
    fn add(&mut self, conn: &Connection, category: Option<String>) -> Result<(), StoreError> {
        let Some(category) = category else {
            return Ok(());
        };
        *self.0.entry(category).or_default() += 1;
        if self.0.len() >= GATHERED_CATEGORIES {
            self.flush(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let mut add = conn.prepare_cached(
            "INSERT INTO category_counts (category_folded, n) VALUES (?1, ?2) \
             ON CONFLICT (category_folded) DO UPDATE SET n = n + excluded.n",
        )?;
        for (category, n) in self.0.drain() {
            add.execute(params![category, n])?;
        }
        Ok(())
    }
}

/// Advances the id counter to the next id that is neither in use (a client
/// may have chosen it) nor retired, and returns it. The ids skipped are
/// passed for good, so the walk costs, over time, one step per id.
fn next_assigned_id(tx: &Connection) -> Result<i64, StoreError> {
    let last: i64 = tx
        .prepare_cached("SELECT last FROM item_id_counter")?
        .query_row([], |r| r.get(0))?;
    let mut taken = tx.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM items WHERE id = ?1) \
             OR EXISTS (SELECT 1 FROM retired_item_ids WHERE id = ?1)",
    )?;
    let mut candidate = last + 1;
    while candidate <= MAX_ITEM_ID && taken.query_row([candidate], |r| r.get::<_, bool>(0))? {
        candidate = past_run(tx, candidate)?;
    }
    if candidate > MAX_ITEM_ID {
        return Err(StoreError::IdsExhausted);
    }
    tx.prepare_cached("UPDATE item_id_counter SET last = ?1")?
        .execute([candidate])?;
    if candidate > last + 1 {
        // Retired ids at or below the counter can never come up again.
        tx.prepare_cached("DELETE FROM retired_item_ids WHERE id <= ?1")?
            .execute([candidate])?;
    }
    Ok(candidate)
}

/// The first id after `first` that no item has, `first` being in use or
/// retired. A long run of ids in use (an import of chosen ids, a restored
/// export) is crossed in strides, not one lookup per id: the run is
/// extended by doubling segments and the gap then narrowed by halving one,
/// each step counting only the ids not yet known to be in use (a segment
/// is full when it holds as many items as it is long). Counting a range of
/// the index is far quicker than as many lookups, and the segments counted
/// add up to about three times the run's length.
fn past_run(tx: &Connection, first: i64) -> Result<i64, StoreError> {
    let mut count = tx.prepare_cached("SELECT count(*) FROM items WHERE id BETWEEN ?1 AND ?2")?;
    let mut full = |from: i64, to: i64| -> Result<bool, StoreError> {
        let n: i64 = count.query_row([from, to], |r| r.get(0))?;
        Ok(n == to - from + 1)
    };
    if !full(first, first)? {
        return Ok(first + 1); // Retired, not an item's: no run to cross.
    }
    // Ids up to `known` are in use; the first free one is at most `beyond`.
    let mut known = first;
    let mut stride = 1_i64;
    let mut beyond = loop {
        if known == MAX_ITEM_ID {
            return Ok(MAX_ITEM_ID + 1);
        }
        let last = known.saturating_add(stride).min(MAX_ITEM_ID);
        if !full(known + 1, last)? {
            break last;
        }
        known = last;
        stride = stride.saturating_mul(2);
    };
    while beyond - known > 1 {
        let middle = known + (beyond - known) / 2;
        if full(known + 1, middle)? {
            known = middle;
        } else {
            beyond = middle;
        }
    }
    Ok(beyond)
}

/// Why an update or delete of `id` touched no row.
fn missing_or_moved(
    tx: &Connection,
    id: i64,
    expected: Option<i64>,
) -> Result<StoreError, StoreError> {
    let current: Option<i64> = tx
        .query_row("SELECT version FROM items WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(match (current, expected) {
        (Some(current), Some(expected)) => StoreError::VersionMismatch {
            id,
            expected,
            current,
        },
        _ => StoreError::NotFound(id),
    })
}

#[async_trait]
impl ItemStore for SqliteStore {
    #[tracing::instrument(level = "debug", name = "sqlite.get", skip(self))]
    async fn get(&self, id: i64) -> Result<Option<Item>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(SELECT_BY_ID)?
                .query_row([id], item_row)
                .optional()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.list", skip_all)]
    async fn list(&self, query: &ItemQuery) -> Result<Listing, StoreError> {
        let position = cursor::decode(query)?;
        let (sql, values) = sql::list(Dialect::Sqlite, query, position.as_ref());
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(
                rusqlite::params_from_iter(values.into_iter().map(to_value)),
                item_row,
            )?;
            rows.collect()
        })?;
        Ok(cursor::listing(query, position.as_ref(), rows))
    }

    #[tracing::instrument(level = "debug", name = "sqlite.count", skip_all)]
    async fn count(&self, query: &ItemQuery) -> Result<Total, StoreError> {
        let revision = self.committed();
        let bound = self.inner.count_bound;
        let (sql, values, exact) = sql::total(Dialect::Sqlite, query, bound);
        let key = format!("{sql} {values:?}");
        let aggregates = || lock(&self.inner.aggregates);
        if let Some(total) = aggregates()
            .at(revision)
            .and_then(|a| a.counts.get(&key).copied())
        {
            return Ok(total);
        }
        let n = self.read(|conn| {
            conn.prepare_cached(&sql)?.query_row(
                rusqlite::params_from_iter(values.into_iter().map(to_value)),
                |r| r.get::<_, i64>(0),
            )
        })?;
        let n = u64::try_from(n).unwrap_or(0);
        let total = match exact {
            true => Total::exact(n),
            false => Total::bounded(n, bound),
        };
        if let Some(a) = aggregates().at(revision) {
            if a.counts.len() < Aggregates::MAX_COUNTS {
                a.counts.insert(key, total);
            }
        }
        Ok(total)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.export", skip_all)]
    async fn export(&self, query: &ItemQuery) -> Result<ItemBatches, StoreError> {
        let (sql, values) = sql::export(Dialect::Sqlite, query);
        let (batches, receiver) = tokio::sync::mpsc::channel(EXPORT_QUEUE);
        let inner = Arc::clone(&self.inner);
        // A connection of its own, on a thread that may wait for the
        // receiver as long as it likes: one statement reads one snapshot
        // (WAL), and the pool's readers stay free for requests.
        tokio::task::spawn_blocking(move || {
            let read = || -> Result<(), StoreError> {
                let conn = (inner.open_reader)()?;
                let mut stmt = conn.prepare(&sql)?;
                let mut rows =
                    stmt.query(rusqlite::params_from_iter(values.into_iter().map(to_value)))?;
                let mut batch = Vec::with_capacity(EXPORT_BATCH);
                while let Some(row) = rows.next()? {
                    batch.push(item_row(row)?);
                    if batch.len() == EXPORT_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(EXPORT_BATCH));
                        if batches.blocking_send(Ok(full)).is_err() {
                            return Ok(()); // The receiver went away.
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = batches.blocking_send(Ok(batch));
                }
                Ok(())
            };
            if let Err(e) = read() {
                let _ = batches.blocking_send(Err(e));
            }
        });
        Ok(receiver)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.import", skip_all)]
    async fn import(
        &self,
        mut rows: ImportRows,
        on_error: OnError,
        origin: &Origin,
    ) -> Result<Imported, StoreError> {
        // Other writes wait while it runs: the rows should come from a
        // file already received, not from a client still uploading.
        let origin = origin.clone();
        let outcome = self
            .write_once(move |tx| import(tx, &mut rows, on_error, &origin))
            .await?;
        if outcome.imported > 0 {
            self.inner.changes.publish_bulk();
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.create", skip(self, item, origin))]
    async fn create(
        &self,
        id: Option<i64>,
        item: ValidItem,
        origin: &Origin,
    ) -> Result<Item, StoreError> {
        let origin = origin.clone();
        let created = self
            .write(move |tx| insert(tx, id, &item, Some(&origin)))
            .await?;
        self.inner
            .changes
            .publish(ChangeKind::Created, created.id, Some(created.version));
        Ok(created)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.update", skip(self, item, origin))]
    async fn update(
        &self,
        id: i64,
        item: ValidItem,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<Item, StoreError> {
        let origin = origin.clone();
        self.write(move |tx| {
            // Read on the writer's connection, in its transaction: nothing
            // else writes between this read and the update.
            let current = current(tx, id)?.ok_or(StoreError::NotFound(id))?;
            if let Some(expected) = expected_version.filter(|v| *v != current.version) {
                return Err(StoreError::VersionMismatch {
                    id,
                    expected,
                    current: current.version,
                });
            }
            replace(tx, &current, &item, &origin)
        })
        .await
        .inspect(|item| {
            self.inner
                .changes
                .publish(ChangeKind::Updated, item.id, Some(item.version))
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.delete", skip(self, origin))]
    async fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let origin = origin.clone();
        self.write(move |tx| delete(tx, id, expected_version, &origin))
            .await?;
        self.inner.changes.publish(ChangeKind::Deleted, id, None);
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "sqlite.bulk", skip_all)]
    async fn bulk(
        &self,
        target: &BulkTarget,
        action: &BulkAction,
        origin: &Origin,
    ) -> Result<Vec<i64>, StoreError> {
        let (target, action, origin) = (target.clone(), action.clone(), origin.clone());
        let ids = self
            .write(move |tx| bulk(tx, &target, &action, &origin))
            .await?;
        if !ids.is_empty() {
            self.inner.changes.publish_bulk();
        }
        Ok(ids)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.history", skip(self))]
    async fn history(
        &self,
        id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(sql::history(Dialect::Sqlite))?
                .query_map(params![id, before.unwrap_or(i64::MAX), limit], revision_row)?
                .collect()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.revision_at", skip(self))]
    async fn revision_at(&self, id: i64, version: i64) -> Result<Option<Revision>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(sql::revision_at(Dialect::Sqlite))?
                .query_row([id, version], revision_row)
                .optional()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.trash", skip(self))]
    async fn trash(
        &self,
        q: Option<&str>,
        after: Option<&TrashPosition>,
        limit: i64,
    ) -> Result<Vec<TrashedItem>, StoreError> {
        let Some((deleted_at, id, folded)) = sql::trash_bounds(q, after) else {
            return Ok(Vec::new());
        };
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(sql::trash_page(Dialect::Sqlite, folded.is_some()))?;
            let rows = match &folded {
                Some(q) => stmt.query_map(params![deleted_at, id, limit, q], trashed_row)?,
                None => stmt.query_map(params![deleted_at, id, limit], trashed_row)?,
            };
            rows.collect()
        })
    }

    #[tracing::instrument(level = "debug", name = "sqlite.restore", skip(self, origin))]
    async fn restore(&self, id: i64, origin: &Origin) -> Result<Item, StoreError> {
        let origin = origin.clone();
        let restored = self.write(move |tx| restore(tx, id, &origin)).await?;
        self.inner
            .changes
            .publish(ChangeKind::Created, restored.id, Some(restored.version));
        Ok(restored)
    }

    #[tracing::instrument(level = "debug", name = "sqlite.purge", skip(self))]
    async fn purge(&self, id: i64) -> Result<(), StoreError> {
        self.write(move |tx| match purge_one(tx, id)? {
            true => Ok(()),
            false => Err(StoreError::NotInTrash(id)),
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.purge_expired", skip(self))]
    async fn purge_expired(&self, deleted_before: &str, limit: i64) -> Result<u64, StoreError> {
        let deleted_before = deleted_before.to_owned();
        self.write(move |tx| {
            let ids: Vec<i64> = tx
                .prepare_cached(sql::expired_trash(Dialect::Sqlite))?
                .query_map(params![deleted_before, limit], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let mut purged = 0;
            for id in ids {
                purged += u64::from(purge_one(tx, id)?);
            }
            Ok(purged)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.prune_history_before", skip(self))]
    async fn prune_history_before(&self, before: &str, limit: i64) -> Result<u64, StoreError> {
        let before = before.to_owned();
        self.write(move |tx| {
            Ok(tx
                .prepare_cached(sql::prune_old_revisions(Dialect::Sqlite))?
                .execute(params![before, limit])? as u64)
        })
        .await
    }

    async fn index_history_by_time(&self, wanted: bool) -> Result<(), StoreError> {
        // Every recorded revision (every write) would pay for this index,
        // so it exists only while a retention rule reads it.
        self.write(move |tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1)",
                [REVISIONS_BY_TIME],
                |r| r.get(0),
            )?;
            match (wanted, exists) {
                (true, false) => {
                    tracing::info!(
                        "indexing item revisions by time for the history's retention \
                         (once; a large history takes a while)"
                    );
                    let started = std::time::Instant::now();
                    tx.execute_batch(&format!(
                        "CREATE INDEX {REVISIONS_BY_TIME} ON item_revisions (at, item_id, version)"
                    ))?;
                    tracing::info!(
                        seconds = started.elapsed().as_secs_f64(),
                        "indexed item revisions by time"
                    );
                }
                (false, true) => {
                    tx.execute_batch(&format!("DROP INDEX {REVISIONS_BY_TIME}"))?;
                    tracing::info!(
                        "dropped the index of item revisions by time: no history retention is set"
                    );
                }
                _ => {}
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.prune_history_beyond", skip(self))]
    async fn prune_history_beyond(
        &self,
        keep: i64,
        from: &HistoryMark,
        limit: i64,
    ) -> Result<(u64, Option<HistoryMark>), StoreError> {
        let from = from.clone();
        self.write(move |tx| {
            let marks: Vec<HistoryMark> = tx
                .prepare_cached(sql::revisions_after(Dialect::Sqlite))?
                .query_map(params![from.at, from.item_id, from.version, limit], |r| {
                    Ok(HistoryMark {
                        at: r.get(0)?,
                        item_id: r.get(1)?,
                        version: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut items: Vec<i64> = marks.iter().map(|m| m.item_id).collect();
            items.sort_unstable();
            items.dedup();
            let mut prune = tx.prepare_cached(sql::prune_item_history(Dialect::Sqlite))?;
            let mut pruned = 0;
            for item in items {
                pruned += prune.execute(params![item, keep])? as u64;
            }
            let next = (marks.len() as i64 == limit)
                .then(|| marks.last().cloned())
                .flatten();
            Ok((pruned, next))
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "sqlite.categories", skip_all)]
    #[tracing::instrument(level = "debug", name = "sqlite.index_search", skip(self))]
    async fn index_search(&self, limit: i64) -> Result<u64, StoreError> {
        let noted: bool = self.read(|conn| {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM item_search_pending)")?
                .query_row([], |r| r.get(0))
        })?;
        if !noted {
            return Ok(0);
        }
        self.write(move |tx| index_noted(tx, limit)).await
    }

    async fn categories(&self) -> Result<Vec<String>, StoreError> {
        let revision = self.committed();
        let aggregates = || lock(&self.inner.aggregates);
        if let Some(known) = aggregates().at(revision).and_then(|a| a.categories.clone()) {
            return Ok(known);
        }
        let categories: Vec<String> = self.read(|conn| {
            let mut stmt = conn.prepare_cached(sql::categories(Dialect::Sqlite))?;
            let rows = stmt.query_map([MAX_CATEGORIES], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut named: Vec<(String, String)> = rows.collect::<rusqlite::Result<_>>()?;
            named.sort();
            Ok(named.into_iter().map(|(_, name)| name).collect())
        })?;
        if let Some(a) = aggregates().at(revision) {
            a.categories = Some(categories.clone());
        }
        Ok(categories)
    }

    fn revision(&self) -> Option<u64> {
        Some(self.committed())
    }

    #[tracing::instrument(level = "debug", name = "sqlite.ping", skip_all)]
    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }
}
