//! Opening a SQLite database: the file and its VFS, the connections'
//! settings, and the schema migrations (refinery, from `migrations/sqlite`).

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use refinery::Target;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use super::writer::{write_loop, QUEUE};
use super::{index_noted, insert, Inner, SqliteStore};
use crate::server::store::{announce_upgrade, demo_items, ChangeFeed, FoldedText, StoreError};
use crate::server::telemetry::CommitMetrics;

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

/// The migration that added the case-folded columns; rows stored before it
/// get theirs filled in right after it runs.
const FOLDED_TEXT_MIGRATION: i32 = 2;

/// Read connections: enough for both cores plus a request waiting on I/O.
const READERS: usize = 4;

/// The SQLite VFS for database files; see [`open_blocking`].
const EXCLUSIVE_VFS: &str = "unix-excl";

/// Opens (creating if needed) the database at `path`, with its parent
/// folder, applies pending migrations and starts the writer thread.
pub(super) fn open_blocking(
    path: &str,
    seed_demo_items: bool,
    commits: CommitMetrics,
    changes: Arc<ChangeFeed>,
    count_bound: u64,
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
                    StoreError::backend(format!("cannot create folder {}: {e}", parent.display()))
                })?;
            }
        }
        // "unix-excl": this process holds the file exclusively, and its
        // connections share the WAL index in memory instead of taking file
        // locks on every read (they were a tenth of the time of a point
        // read). Nothing else may write the file behind our back, which the
        // cached counts and pages rely on.
        (path.to_owned(), OpenFlags::default(), Some(EXCLUSIVE_VFS))
    };
    let open = move || match vfs {
        Some(vfs) => Connection::open_with_flags_and_vfs(&target, flags, vfs),
        None => Connection::open_with_flags(&target, flags),
    };
    let open_reader = {
        let open = open.clone();
        move || -> Result<Connection, StoreError> {
            let conn = open()?;
            configure(&conn)?;
            conn.pragma_update(None, "query_only", true)?;
            Ok(conn)
        }
    };

    let mut writer = open()?;
    configure(&writer)?;
    // WAL lets readers run beside the single writer; FULL makes every
    // acknowledged write survive a crash or power loss.
    writer.pragma_update(None, "journal_mode", "WAL")?;
    writer.pragma_update(None, "synchronous", "FULL")?;
    migrate(&mut writer, seed_demo_items)?;

    let readers = (0..READERS)
        .map(|_| open_reader().map(Mutex::new))
        .collect::<Result<Vec<_>, StoreError>>()?;

    let (writes, queue) = tokio::sync::mpsc::channel(QUEUE);
    let revision = Arc::new(AtomicU64::new(1));
    let committed = Arc::clone(&revision);
    thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || write_loop(writer, queue, &committed, &commits))
        .map_err(|e| StoreError::backend(format!("cannot start the writer thread: {e}")))?;

    Ok(SqliteStore {
        inner: Arc::new(Inner {
            writes,
            changes,
            revision,
            aggregates: Mutex::default(),
            readers,
            next_reader: AtomicUsize::new(0),
            open_reader: Box::new(open_reader),
            count_bound,
        }),
    })
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn migration_error(e: refinery::Error) -> StoreError {
    StoreError::backend(format!("migrating the database failed: {e}"))
}

/// Applies pending migrations. Databases from before refinery recorded
/// their schema in `PRAGMA user_version` (how many migrations ran); those
/// migrations are recorded as applied without running them again.
fn migrate(conn: &mut Connection, seed_demo_items: bool) -> Result<(), StoreError> {
    let runner = || embedded::migrations::runner();
    let known = runner().get_migrations().len() as i32;
    let has_history: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'refinery_schema_history'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    let legacy: i32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if !has_history && legacy > 0 {
        if legacy > known {
            return Err(StoreError::backend(format!(
                "the database is at schema version {legacy}, newer than this build knows \
                 ({known})"
            )));
        }
        runner()
            .set_target(Target::FakeVersion(legacy))
            .run(conn)
            .map_err(migration_error)?;
    }
    let applied = if has_history || legacy > 0 {
        runner()
            .get_last_applied_migration(conn)
            .map_err(migration_error)?
            .map_or(0, |m| m.version())
    } else {
        0
    };
    if applied > known {
        return Err(StoreError::backend(format!(
            "the database is at schema version {applied}, newer than this build knows \
             ({known})"
        )));
    }
    announce_upgrade(applied, known);
    if applied > 0 && applied < FOLDED_TEXT_MIGRATION {
        runner()
            .set_target(Target::Version(FOLDED_TEXT_MIGRATION))
            .run(conn)
            .map_err(migration_error)?;
        fill_folded_text(conn)?;
    }
    runner().run(conn).map_err(migration_error)?;
    if applied == 0 && seed_demo_items {
        let tx = conn.transaction()?;
        for (id, item) in demo_items()? {
            insert(&tx, Some(id), &item, None)?;
        }
        // Indexed at once: nothing is written behind a new server's back.
        index_noted(&tx, i64::MAX)?;
        tx.commit()?;
    }
    Ok(())
}

/// Computes the case-folded search columns of rows stored before they existed.
fn fill_folded_text(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    let rows: Vec<(i64, String, Option<String>, Option<String>)> = {
        let mut stmt = tx.prepare("SELECT id, name, description, category FROM items")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    {
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
    }
    tx.commit()?;
    Ok(())
}
