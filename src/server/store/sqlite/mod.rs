//! The embedded SQLite backend (rusqlite, WAL mode).
//!
//! Reads run inline on the calling task: a point read is a few microseconds,
//! far less than the thread hop that moving it elsewhere would cost (measured
//! on 2 cores: rusqlite queried inline served 80 000 point reads/s, sqlx's
//! SQLite pool, which hops threads per query, 32 600).
//!
//! Writes go to one writer thread that owns the only write connection. It
//! practises group commit: every write waiting when a transaction starts
//! joins it, each inside its own savepoint (so one failing write leaves the
//! others intact), and the whole group becomes durable with a single fsync.
//! No caller hears "done" before the commit that holds its write returned.
//! Readers never block the writer and the writer never blocks readers (WAL).

mod users;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row};

use super::{fold_case, now_rfc3339, FoldedText, ItemStore, StoreError, DEMO_ITEMS};
use crate::domain::{Item, ItemDraft, ItemQuery, SortField, ValidItem, MAX_ITEM_ID};
use crate::server::telemetry::CommitMetrics;

/// Schema migrations in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../../migrations/sqlite/0001_create_items.sql"),
    include_str!("../../../../migrations/sqlite/0002_assigned_ids_and_folded_text.sql"),
    include_str!("../../../../migrations/sqlite/0003_users_and_credentials.sql"),
];

/// The migration that added the case-folded columns; rows stored before it
/// get theirs filled in right after it runs.
const FOLDED_TEXT_MIGRATION: usize = 2;

/// Read connections: enough for both cores plus a request waiting on I/O.
const READERS: usize = 4;

/// The SQLite VFS for database files; see `open_blocking`.
const EXCLUSIVE_VFS: &str = "unix-excl";

/// Most categories the filter menu lists.
const MAX_CATEGORIES: i64 = 500;

/// Most writes one transaction (one fsync) carries.
const MAX_GROUP: usize = 256;

/// Writes queued for the writer thread; callers wait (asynchronously) when
/// it is full.
const QUEUE: usize = 1024;

macro_rules! columns {
    () => {
        "id, name, description, category, price, created_at, updated_at, version"
    };
}
const COLUMNS: &str = columns!();
/// The hot point read, as a literal: no formatting per request.
const SELECT_BY_ID: &str = concat!("SELECT ", columns!(), " FROM items WHERE id = ?1");

/// Items stored in one SQLite database file.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writes: tokio::sync::mpsc::Sender<WriteJob>,
    /// Commits so far; see [`ItemStore::revision`].
    revision: Arc<AtomicU64>,
    /// Counts and categories scan the whole table; they are reused until
    /// the next commit.
    aggregates: Mutex<Aggregates>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

/// Results of whole-table queries at one revision.
#[derive(Default)]
struct Aggregates {
    revision: u64,
    counts: HashMap<String, u64>,
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

/// One caller's write, queued for the writer thread.
trait Write: Send {
    /// Runs the statements; says whether they succeeded and returns how to
    /// answer the caller once the group's commit is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion);
    /// Answers the caller with `error` without running.
    fn fail(self: Box<Self>, error: &StoreError);
}

type WriteJob = Box<dyn Write>;
type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

struct Job<T, F> {
    f: F,
    reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Write for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion) {
        let Job { f, reply } = *self;
        // A panicking write must not take the writer thread (and every later
        // write) down with it: it fails alone and its statements roll back.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(StoreError::Backend("a database write panicked".into())));
        let ok = result.is_ok();
        let completion: Completion = Box::new(move |committed| {
            let outcome = match (committed, result) {
                (Ok(()), result) => result,
                (Err(e), Ok(_)) => Err(StoreError::Backend(e.to_string())),
                // The write had failed by itself; its own error says more.
                (Err(_), Err(e)) => Err(e),
            };
            let _ = reply.send(outcome);
        });
        (ok, completion)
    }

    fn fail(self: Box<Self>, error: &StoreError) {
        let _ = self.reply.send(Err(StoreError::Backend(error.to_string())));
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
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
    ) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        let opened = tokio::task::spawn_blocking(move || {
            Self::open_blocking(&path, seed_demo_items, commits).map_err(|e| match e {
                StoreError::Backend(message) if message.contains("database is locked") => {
                    StoreError::Backend(format!(
                        "{path} is in use by another process (itemserve keeps its database \
                         file to itself; stop the other server first)"
                    ))
                }
                other => other,
            })
        });
        opened
            .await
            .map_err(|e| StoreError::Backend(format!("opening the database panicked: {e}")))?
    }

    fn open_blocking(
        path: &str,
        seed_demo_items: bool,
        commits: CommitMetrics,
    ) -> Result<SqliteStore, StoreError> {
        let (target, flags, vfs) = if path == ":memory:" {
            // A named shared-cache memory database, so the reader connections
            // see the writer's data.
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let name = format!(
                "file:itemserve-memory-{}-{}?mode=memory&cache=shared",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            (
                name,
                OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI,
                None,
            )
        } else {
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Backend(format!(
                            "cannot create folder {}: {e}",
                            parent.display()
                        ))
                    })?;
                }
            }
            // "unix-excl": this process holds the file exclusively, and its
            // connections share the WAL index in memory instead of taking
            // file locks on every read (they were a tenth of the time of a
            // point read). Nothing else may write the file behind our back,
            // which the cached counts and pages rely on.
            (path.to_owned(), OpenFlags::default(), Some(EXCLUSIVE_VFS))
        };
        let open = || match vfs {
            Some(vfs) => Connection::open_with_flags_and_vfs(&target, flags, vfs),
            None => Connection::open_with_flags(&target, flags),
        };

        let mut writer = open()?;
        configure(&writer)?;
        // WAL lets readers run beside the single writer; FULL makes every
        // acknowledged write survive a crash or power loss.
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", "FULL")?;
        migrate(&mut writer, seed_demo_items)?;

        let readers = (0..READERS)
            .map(|_| {
                let conn = open()?;
                configure(&conn)?;
                conn.pragma_update(None, "query_only", true)?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;

        let (writes, queue) = tokio::sync::mpsc::channel(QUEUE);
        let revision = Arc::new(AtomicU64::new(1));
        let committed = Arc::clone(&revision);
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || write_loop(writer, queue, &committed, &commits))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;

        Ok(SqliteStore {
            inner: Arc::new(Inner {
                writes,
                revision,
                aggregates: Mutex::default(),
                readers,
                next_reader: AtomicUsize::new(0),
            }),
        })
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
    /// An error from `f` undoes only `f`'s own statements.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Backend("the database writer has stopped".into());
        self.inner
            .writes
            .send(Box::new(Job { f, reply }))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The writer thread: takes every queued write (up to [`MAX_GROUP`]) into
/// one transaction, commits it with one fsync, then answers each caller.
/// Ends when the store is dropped.
fn write_loop(
    mut conn: Connection,
    mut queue: tokio::sync::mpsc::Receiver<WriteJob>,
    revision: &AtomicU64,
    metrics: &CommitMetrics,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut done = Vec::with_capacity(MAX_GROUP);
    while queue.blocking_recv_many(&mut group, MAX_GROUP) > 0 {
        let started = Instant::now();
        match run_group(&mut conn, &mut group, &mut done) {
            Ok(()) => {
                metrics.observe(done.len(), started.elapsed());
                // Before anyone hears "done": a reader that then starts sees
                // the new revision and no page cached before this commit.
                revision.fetch_add(1, Ordering::Release);
                done.drain(..).for_each(|answer| answer(Ok(())));
            }
            Err(e) => {
                tracing::error!(error = %e, writes = done.len() + group.len(), "a group of writes failed");
                done.drain(..).for_each(|answer| answer(Err(&e)));
                group.drain(..).for_each(|job| job.fail(&e));
            }
        }
    }
}

/// Runs the jobs in `group` in one immediate transaction, each inside its own
/// savepoint, and commits. Jobs that ran move their answers to `done`; on an
/// error, the jobs still in `group` never ran.
fn run_group(
    conn: &mut Connection,
    group: &mut Vec<WriteJob>,
    done: &mut Vec<Completion>,
) -> Result<(), StoreError> {
    let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Oldest first: a caller's later write must see its earlier ones.
    group.reverse();
    while let Some(job) = group.pop() {
        let mut savepoint = match tx.savepoint() {
            Ok(sp) => sp,
            Err(e) => {
                group.push(job);
                return Err(e.into());
            }
        };
        let (ok, answer) = job.run(&savepoint);
        done.push(answer);
        if ok {
            savepoint.commit()?;
        } else {
            savepoint.rollback()?;
            savepoint.commit()?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// A poisoned lock only means another request panicked mid-query; SQLite
/// rolled its transaction back, so the connection (or cache) is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migrate(conn: &mut Connection, seed_demo_items: bool) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let applied: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {applied}, newer than this build knows ({})",
            MIGRATIONS.len()
        )));
    }
    for sql in &MIGRATIONS[applied..] {
        tx.execute_batch(sql)?;
    }
    if applied > 0 && applied < FOLDED_TEXT_MIGRATION {
        fill_folded_text(&tx)?;
    }
    if applied == 0 && seed_demo_items {
        for (id, name, description) in DEMO_ITEMS {
            let item = ItemDraft {
                name: name.into(),
                description: Some(description.into()),
                ..ItemDraft::default()
            }
            .validate()
            .map_err(|e| StoreError::Backend(format!("a demo item is invalid: {e:?}")))?;
            insert(&tx, Some(id), &item)?;
        }
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len())?;
    tx.commit()?;
    Ok(())
}

/// Computes the case-folded search columns of rows stored before they existed.
fn fill_folded_text(tx: &Connection) -> Result<(), StoreError> {
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = {
        let mut stmt = tx.prepare("SELECT id, name, description, category FROM items")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare(
        "UPDATE items SET name_folded = ?2, description_folded = ?3, category_folded = ?4 \
         WHERE id = ?1",
    )?;
    for (id, name, description, category) in rows {
        let folded = FoldedText::of(&name, description.as_deref(), category.as_deref());
        update.execute(params![
            id,
            folded.name,
            folded.description,
            folded.category
        ])?;
    }
    Ok(())
}

/// Inserts `item` under `id`, or under the next assigned id, with its
/// case-folded search text.
fn insert(tx: &Connection, id: Option<i64>, item: &ValidItem) -> Result<Item, StoreError> {
    let id = match id {
        Some(id) => id,
        None => next_assigned_id(tx)?,
    };
    let folded = FoldedText::of_item(item);
    let result = tx
        .prepare_cached(&format!(
            "INSERT INTO items (id, name, description, category, price, created_at, \
             updated_at, version, name_folded, description_folded, category_folded) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, ?9) RETURNING {COLUMNS}"
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
            item_from_row,
        );
    match result {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Err(StoreError::Conflict(id))
        }
        result => Ok(result?),
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
        candidate += 1;
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

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        category: row.get(3)?,
        price: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        version: row.get(7)?,
    })
}

/// The WHERE clause and its parameters for a query's filters.
fn filters(query: &ItemQuery) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut clauses = Vec::new();
    let mut values = Vec::new();
    // Plain substring tests on the folded text: `%` and `_` stay literal.
    if let Some(q) = &query.q {
        values.push(Value::Text(fold_case(q)));
        let n = values.len();
        clauses.push(format!(
            "(instr(name_folded, ?{n}) > 0 OR instr(description_folded, ?{n}) > 0)"
        ));
    }
    if let Some(category) = &query.category {
        values.push(Value::Text(fold_case(category)));
        clauses.push(format!("category_folded = ?{}", values.len()));
    }
    if let Some(price_lt) = query.price_lt {
        values.push(Value::Real(price_lt));
        clauses.push(format!("price < ?{}", values.len()));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (sql, values)
}

/// ORDER BY for a query; missing values sort last either way and ties break
/// by id so paging is stable.
fn order_by(query: &ItemQuery) -> String {
    let dir = if query.descending { "DESC" } else { "ASC" };
    let column = query.sort.as_str();
    match query.sort {
        SortField::Id => format!(" ORDER BY id {dir}"),
        SortField::Description | SortField::Category | SortField::Price => {
            format!(" ORDER BY {column} IS NULL, {column} {dir}, id {dir}")
        }
        _ => format!(" ORDER BY {column} {dir}, id {dir}"),
    }
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
    async fn get(&self, id: i64) -> Result<Option<Item>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached(SELECT_BY_ID)?
                .query_row([id], item_from_row)
                .optional()
        })
    }

    async fn list(&self, query: &ItemQuery) -> Result<Vec<Item>, StoreError> {
        let (where_sql, mut values) = filters(query);
        let sql = format!(
            "SELECT {COLUMNS} FROM items{where_sql}{} LIMIT ?{} OFFSET ?{}",
            order_by(query),
            values.len() + 1,
            values.len() + 2
        );
        values.push(rusqlite::types::Value::Integer(i64::from(query.limit)));
        values.push(rusqlite::types::Value::Integer(
            i64::try_from(query.skip).unwrap_or(i64::MAX),
        ));
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(values), item_from_row)?;
            rows.collect()
        })
    }

    async fn count(&self, query: &ItemQuery) -> Result<u64, StoreError> {
        let revision = self.revision();
        let (where_sql, values) = filters(query);
        let key = format!("{where_sql} {values:?}");
        let aggregates = || lock(&self.inner.aggregates);
        if let Some(n) = aggregates()
            .at(revision)
            .and_then(|a| a.counts.get(&key).copied())
        {
            return Ok(n);
        }
        let sql = format!("SELECT count(*) FROM items{where_sql}");
        let n = self.read(|conn| {
            conn.prepare_cached(&sql)?
                .query_row(rusqlite::params_from_iter(values), |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
        })?;
        if let Some(a) = aggregates().at(revision) {
            if a.counts.len() < Aggregates::MAX_COUNTS {
                a.counts.insert(key, n);
            }
        }
        Ok(n)
    }

    async fn create(&self, id: Option<i64>, item: ValidItem) -> Result<Item, StoreError> {
        self.write(move |tx| insert(tx, id, &item)).await
    }

    async fn update(
        &self,
        id: i64,
        item: ValidItem,
        expected_version: Option<i64>,
    ) -> Result<Item, StoreError> {
        self.write(move |tx| {
            let folded = FoldedText::of_item(&item);
            let updated = tx
                .prepare_cached(&format!(
                    "UPDATE items SET name = ?2, description = ?3, category = ?4, price = ?5, \
                     updated_at = ?6, version = version + 1, name_folded = ?8, \
                     description_folded = ?9, category_folded = ?10 \
                     WHERE id = ?1 AND (?7 IS NULL OR version = ?7) RETURNING {COLUMNS}"
                ))?
                .query_row(
                    params![
                        id,
                        item.name(),
                        item.description(),
                        item.category(),
                        item.price(),
                        now_rfc3339(),
                        expected_version,
                        folded.name,
                        folded.description,
                        folded.category,
                    ],
                    item_from_row,
                )
                .optional()?;
            match updated {
                Some(item) => Ok(item),
                None => Err(missing_or_moved(tx, id, expected_version)?),
            }
        })
        .await
    }

    async fn delete(&self, id: i64, expected_version: Option<i64>) -> Result<(), StoreError> {
        self.write(move |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM items WHERE id = ?1 AND (?2 IS NULL OR version = ?2)")?
                .execute(params![id, expected_version])?;
            if deleted == 1 {
                // An id above the counter was chosen by a client; keep the
                // counter from handing it out again later.
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO retired_item_ids (id) \
                     SELECT ?1 WHERE ?1 > (SELECT last FROM item_id_counter)",
                )?
                .execute([id])?;
                Ok(())
            } else {
                Err(missing_or_moved(tx, id, expected_version)?)
            }
        })
        .await
    }

    async fn categories(&self) -> Result<Vec<String>, StoreError> {
        let revision = self.revision();
        let aggregates = || lock(&self.inner.aggregates);
        if let Some(known) = aggregates().at(revision).and_then(|a| a.categories.clone()) {
            return Ok(known);
        }
        let categories: Vec<String> = self.read(|conn| {
            // The most used categories (one spelling per folded name), then
            // sorted by name: a client that invents hundreds of categories
            // cannot push the ones in real use out of everyone's menu.
            let mut stmt = conn.prepare_cached(
                "SELECT min(category), category_folded FROM items \
                 WHERE category_folded IS NOT NULL GROUP BY category_folded \
                 ORDER BY count(*) DESC, category_folded LIMIT ?1",
            )?;
            let rows = stmt.query_map([MAX_CATEGORIES], |r| {
                Ok((r.get::<_, String>(1)?, r.get::<_, String>(0)?))
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

    fn revision(&self) -> u64 {
        self.inner.revision.load(Ordering::Acquire)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }
}
