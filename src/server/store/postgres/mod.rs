//! The PostgreSQL backend (tokio-postgres with a deadpool pool), for several
//! instances sharing one database.
//!
//! Every write is committed durably (`synchronous_commit` as the server
//! has it, on by default) before the caller hears of it. Creates are
//! inserted in groups, one statement and one WAL flush for all the creates
//! waiting at the time (`inserts.rs`); every other write is one statement
//! in its own transaction, or one short transaction. Assigned ids come from
//! a sequence (`next_item_id()` in the migration), so creates from many
//! instances never wait on each other.
//!
//! Point reads (an item or a user by key, a credential by hash) share a
//! few connections on which concurrent queries are pipelined
//! (`connections.rs`); scans and other writes take a pooled connection.
//! The users that access tokens name are kept in memory for as long as
//! this instance is sure to hear of their changes (`user_cache.rs`).
//!
//! After each committed write the instance announces it with `NOTIFY`
//! (`announce.rs`, in batches), and every instance feeds what it hears
//! into its event streams (`listen.rs`).
//!
//! Statements are prepared once per connection and cached (deadpool's
//! `prepare_cached`). Another instance may write at any time, so this store
//! keeps no cache of items and has no [`ItemStore::revision`]: the REST
//! listing and page caches never reuse an answer, and a client that wrote
//! through one instance reads its write through any other.

mod announce;
mod bulk;
mod connections;
mod import;
mod inserts;
mod listen;
mod user_cache;
mod users;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row};

use super::cursor;
use super::sql::{self, item_columns, revision_columns, Dialect, SqlRow, SqlValue, MAX_CATEGORIES};
use super::{
    announce_upgrade, demo_items, now_rfc3339, ChangeFeed, DbError, FoldedText, HistoryMark,
    ImportRows, Imported, ItemBatches, ItemStore, OnError, Origin, StoreError, TrashPosition,
    EXPORT_BATCH, EXPORT_QUEUE,
};
use crate::domain::{
    BulkAction, BulkTarget, ChangeKind, Item, ItemQuery, Listing, Revision, Total, TrashedItem,
    ValidItem,
};
use crate::server::telemetry::CommitMetrics;

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// How long a request waits for a connection (or for a new one to be
/// made) before it answers 503.
pub(super) const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Below how many matches a search's page is read from its matches alone
/// (see [`PostgresStore::search_page`]); with more, a page in any order is
/// a short read.
const RARE_SEARCH: u64 = 1_000;

/// The advisory lock that lets one instance at a time migrate the schema.
const MIGRATION_LOCK: i64 = 0x6974_656d_7365_7276; // "itemserv"

const SELECT_BY_ID: &str = concat!("SELECT ", item_columns!(), " FROM items WHERE id = $1");

/// Replaces an item's fields. Its revision is written by the
/// `items_record_update` trigger (migration V7), which sees the row this
/// replaced; `$11` is who makes the change (see [`origin_setting`]), set
/// for the trigger in the same statement.
const UPDATE: &str = concat!(
    "UPDATE items SET name = $2, description = $3, category = $4, price = $5, \
     updated_at = $6, version = version + 1, name_folded = $8, description_folded = $9, \
     category_folded = $10 WHERE id = $1 AND ($7::bigint IS NULL OR version = $7) \
     AND set_config('itemserve.origin', $11, true) IS NOT NULL RETURNING ",
    item_columns!()
);

/// Who makes an update, as the update trigger reads it from the
/// transaction's `itemserve.origin` setting.
fn origin_setting(origin: &Origin) -> String {
    serde_json::json!({
        "action": origin.update_action().as_str(),
        "actor": origin.actor,
        "token": origin.token,
        "door": origin.door.as_str(),
        "request_id": origin.request_id,
        "reverted_to": origin.reverts,
    })
    .to_string()
}

/// Deletes, records the deletion as the item's next version (with the
/// item as it was), keeps that version (a later item under its id carries
/// on after it) and the item in its tombstone (the trash), and retires the id when a client had chosen it above the
/// sequence (so it is never assigned later); answers how many rows went.
const DELETE: &str = concat!(
    "WITH deleted AS (\
     DELETE FROM items WHERE id = $1 AND ($2::bigint IS NULL OR version = $2) \
     RETURNING id, version + 1 AS version, name, description, category, price, created_at, \
     name_folded, description_folded), \
     tombstone AS (INSERT INTO item_tombstones (id, version, name, description, category, \
     price, created_at, deleted_at, deleted_by, name_folded, description_folded) \
     SELECT id, version, name, description, category, price, created_at, $3::text, $4::text, \
     name_folded, description_folded FROM deleted \
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, name = excluded.name, \
     description = excluded.description, category = excluded.category, \
     price = excluded.price, created_at = excluded.created_at, \
     deleted_at = excluded.deleted_at, deleted_by = excluded.deleted_by, \
     name_folded = excluded.name_folded, description_folded = excluded.description_folded), \
     retired AS (INSERT INTO retired_item_ids (id) SELECT id FROM deleted \
     WHERE id > (SELECT last_value FROM item_ids) ON CONFLICT DO NOTHING), \
     revision AS (INSERT INTO item_revisions (",
    revision_columns!(),
    ") SELECT id, version, 'delete', $3::text, $4::text, $5::text, $6::text, $7::text, NULL, \
     name, description, category, \
     price, created_at, FALSE, NULL, NULL, NULL, NULL FROM deleted) \
     SELECT count(*) FROM deleted"
);

/// The item in the trash under `$1`, locked until the restore commits.
const TRASHED: &str = concat!(
    "SELECT ",
    sql::trash_columns!(),
    " FROM item_tombstones WHERE id = $1 AND name IS NOT NULL FOR UPDATE"
);

/// An item back from the trash, unless the id is taken.
const RESTORE: &str = concat!(
    "INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
     version, name_folded, description_folded, category_folded) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (id) DO NOTHING \
     RETURNING ",
    item_columns!()
);

/// A restore's revision: the item as it came back.
const RECORD_RESTORE: &str = concat!(
    "INSERT INTO item_revisions (",
    revision_columns!(),
    ") VALUES ($1, $2, 'restore', $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11, $12, FALSE, \
     NULL, NULL, NULL, NULL)"
);

/// A demo item of a new database, under its id: nobody's change, so no
/// revision (as on SQLite).
const SEED_ONE: &str = "INSERT INTO items (id, name, description, category, price, created_at, \
     updated_at, version, name_folded, description_folded, category_folded) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, 1, $7, $8, $9)";

/// How to open a [`PostgresStore`].
pub struct PostgresOptions {
    /// Insert the original app's demo items into a brand-new database.
    pub seed_demo_items: bool,
    /// Connections in the pool (for scans and writes); an eighth as many
    /// (one to four) are opened besides, shared by the point reads.
    pub pool_size: usize,
    /// Where commits are measured.
    pub commits: CommitMetrics,
    /// Matches of a search or price filter counted at most.
    pub count_bound: u64,
}

/// Items (and users) in a PostgreSQL database.
pub struct PostgresStore {
    pool: Pool,
    /// Point reads, pipelined on shared connections.
    points: connections::Connections,
    /// Creates, committed in groups.
    inserts: inserts::Inserts,
    /// Updates and deletes are a commit each.
    commits: CommitMetrics,
    announcer: announce::Announcer,
    /// Users read by bearer-token requests (see `user_cache.rs`).
    user_cache: Arc<user_cache::UserCache>,
    count_bound: u64,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`),
    /// applies pending migrations (one instance at a time) and opens the
    /// pool. Fails when the server cannot be reached.
    pub async fn open(
        url: &str,
        options: PostgresOptions,
        changes: Arc<ChangeFeed>,
    ) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::backend(format!("DATABASE_URL is not a PostgreSQL URL: {e}"))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(POOL_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("itemserve");
        }
        let (mut client, connection) = config.connect(NoTls).await.map_err(postgres_error)?;
        let connection = tokio::spawn(connection);
        migrate(&mut client, options.seed_demo_items).await?;
        drop(client);
        let _ = connection.await;

        let user_cache = Arc::new(user_cache::UserCache::default());
        listen::start(config.clone(), &changes, Arc::clone(&user_cache))
            .await
            .map_err(|e| {
                StoreError::backend(format!(
                    "cannot listen for change notifications: {}",
                    crate::server::telemetry::chain(&e)
                ))
            })?;
        let points =
            connections::Connections::open(config.clone(), (options.pool_size / 8).clamp(1, 4))
                .await?;
        let inserts = inserts::Inserts::start(config.clone(), options.commits.clone()).await?;
        let announcer = announce::Announcer::start(config.clone()).await?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(|e| StoreError::backend(format!("cannot build the connection pool: {e}")))?;
        Ok(PostgresStore {
            user_cache,
            announcer,
            inserts,
            points,
            pool,
            commits: options.commits,
            count_bound: options.count_bound,
        })
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// A pooled connection and its prepared (cached) `sql`.
    async fn prepared(
        &self,
        sql: &str,
    ) -> Result<(deadpool_postgres::Object, tokio_postgres::Statement), StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(postgres_error)?;
        Ok((client, statement))
    }

    /// Rows of a cached statement.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        client
            .query(&statement, params)
            .await
            .map_err(postgres_error)
    }

    /// Rows of a statement planned with its parameters this once: a
    /// search's plan depends on the words searched (see
    /// [`sql::searches_by_trigrams`]), and a cached statement may settle on
    /// one plan for them all.
    async fn query_planned(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        client.query(sql, params).await.map_err(postgres_error)
    }

    /// A page of a search read through the trigram indexes.
    ///
    /// Asked for a page in the order of an index (the id, a name), the
    /// planner reads that index and tests each row until the page is full
    /// whenever it expects the pattern to match many rows, and for a word
    /// it overestimates (`123456` in ten million items) that read the
    /// whole table, for seconds. So the search first counts its matches up
    /// to [`RARE_SEARCH`] (through the trigram indexes when they are
    /// rare); a rarer search then reads its page with index scans turned
    /// off for its transaction, which leaves the trigram indexes' bitmap
    /// and a sort of its few matches. A commoner one fills a page from any
    /// order quickly and is planned as usual.
    async fn search_page(
        &self,
        query: &ItemQuery,
        page: &str,
        values: &[SqlValue],
    ) -> Result<Vec<Row>, StoreError> {
        let (probe, probe_values, _) = sql::total(Dialect::Postgres, query, RARE_SEARCH - 1);
        let mut client = self.client().await?;
        let matches: i64 = client
            .query_one(probe.as_str(), &params(&probe_values))
            .await
            .and_then(|row| row.try_get(0))
            .map_err(postgres_error)?;
        if matches >= RARE_SEARCH as i64 {
            return client
                .query(page, &params(values))
                .await
                .map_err(postgres_error);
        }
        let tx = client.transaction().await.map_err(postgres_error)?;
        tx.batch_execute("SET LOCAL enable_indexscan = off")
            .await
            .map_err(postgres_error)?;
        let rows = tx
            .query(page, &params(values))
            .await
            .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        Ok(rows)
    }

    /// The row of a cached statement, if any.
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        client
            .query_opt(&statement, params)
            .await
            .map_err(postgres_error)
    }

    /// The one row of a cached statement.
    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, StoreError> {
        let (client, statement) = self.prepared(sql).await?;
        client
            .query_one(&statement, params)
            .await
            .map_err(postgres_error)
    }

    /// Runs one write (its own transaction) and measures its commit.
    async fn write<T>(
        &self,
        write: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = std::time::Instant::now();
        let result = write.await;
        if result.is_ok() {
            self.commits.observe(1, started.elapsed());
        }
        result
    }

    /// Announces a committed change to every instance's event streams
    /// (see `announce.rs`); never delays or fails the write.
    fn announce(&self, kind: ChangeKind, id: i64, version: Option<i64>) {
        self.announcer.send(kind, Some(id), version);
    }

    /// Why an update or delete of `id` touched no row.
    async fn missing_or_moved(&self, id: i64, expected: Option<i64>) -> StoreError {
        let current = self
            .query_opt("SELECT version FROM items WHERE id = $1", &[&id])
            .await
            .and_then(|row| {
                row.map(|r| r.try_get::<_, i64>(0))
                    .transpose()
                    .map_err(postgres_error)
            });
        match (current, expected) {
            (Err(e), _) => e,
            (Ok(Some(current)), Some(expected)) => StoreError::VersionMismatch {
                id,
                expected,
                current,
            },
            _ => StoreError::NotFound(id),
        }
    }
}

/// Applies pending migrations under an advisory lock, so that instances
/// starting together migrate one after the other; seeds a new database.
async fn migrate(client: &mut tokio_postgres::Client, seed: bool) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(postgres_error)?;
    let runner = embedded::migrations::runner();
    let migrated = async {
        let has_history: bool = client
            .query_one(
                "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(postgres_error)?;
        let applied = if has_history {
            runner
                .get_last_applied_migration_async(client)
                .await
                .map_err(migration_error)?
                .map_or(0, |m| m.version())
        } else {
            0
        };
        let known = runner.get_migrations().len() as i32;
        if applied > known {
            return Err(StoreError::backend(format!(
                "the database is at schema version {applied}, newer than this build knows \
                 ({known})"
            )));
        }
        announce_upgrade(applied, known);
        runner.run_async(client).await.map_err(migration_error)?;
        index_search(client).await?;
        if applied == 0 && seed {
            let tx = client.transaction().await.map_err(postgres_error)?;
            let now = now_rfc3339();
            for (id, item) in demo_items()? {
                let folded = FoldedText::of_item(&item);
                tx.execute(
                    SEED_ONE,
                    &[
                        &id,
                        &item.name(),
                        &item.description(),
                        &item.category(),
                        &item.price(),
                        &now,
                        &folded.name,
                        &folded.description,
                        &folded.category,
                    ],
                )
                .await
                .map_err(postgres_error)?;
            }
            tx.commit().await.map_err(postgres_error)?;
        }
        Ok(())
    }
    .await;
    // Closing the connection would release the lock too; this is for the
    // instance that waits on it now.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(postgres_error);
    migrated.and(unlocked.map(drop))
}

/// The trigram indexes a search of three characters or more reads
/// (`pg_trgm`'s GIN indexes over the folded name and description, which
/// answer `LIKE '%…%'`), built when they are missing. `pg_trgm` ships with
/// PostgreSQL and is trusted since version 13, so a database's owner may
/// create it; where it cannot be created the server says so and searches
/// read every item, as they did before these indexes (same answers, a cost
/// that grows with the catalogue). Kept out of the numbered migrations so
/// that a later start, once someone has created the extension, builds
/// them.
async fn index_search(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    const INDEXES: &str = "\
        CREATE INDEX IF NOT EXISTS items_name_trgm ON items \
            USING gin (name_folded gin_trgm_ops); \
        CREATE INDEX IF NOT EXISTS items_description_trgm ON items \
            USING gin (description_folded gin_trgm_ops)";
    let built: bool = client
        .query_one(
            "SELECT to_regclass('items_name_trgm') IS NOT NULL \
             AND to_regclass('items_description_trgm') IS NOT NULL",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(postgres_error)?;
    if built {
        return Ok(());
    }
    if let Err(e) = client
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .await
    {
        tracing::warn!(
            error = %e,
            "the pg_trgm extension could not be created, so searches are not indexed: \
             they give the same answers but read every item, which is slow in a large \
             catalogue; to index them, have a superuser or the database's owner run \
             `CREATE EXTENSION pg_trgm;` in this database and restart the server"
        );
        return Ok(());
    }
    let items: i64 = client
        .query_one(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'items'::regclass",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(postgres_error)?;
    tracing::info!(
        items,
        "building the search indexes (pg_trgm); a catalogue of millions of items takes minutes"
    );
    let started = std::time::Instant::now();
    client
        .batch_execute(INDEXES)
        .await
        .map_err(postgres_error)?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "search indexes built"
    );
    Ok(())
}

/// A failed migration; a missing right to create tables says what to do.
fn migration_error(e: refinery::Error) -> StoreError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(error) = source {
        if let Some(pg) = error.downcast_ref::<tokio_postgres::Error>() {
            if pg.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
                return StoreError::backend(format!(
                    "the database user may not create itemserve's tables ({pg}); start \
                     itemserve once as the database's owner, or grant this user CREATE on \
                     the schema"
                ));
            }
        }
        source = error.source();
    }
    StoreError::backend(format!("migrating the database failed: {e}"))
}

/// A driver error: "unavailable" when the connection failed or was lost.
pub(super) fn postgres_error(e: tokio_postgres::Error) -> StoreError {
    let error = DbError::Postgres(Arc::new(e));
    if error.is_connection_lost() {
        StoreError::Unavailable(error)
    } else {
        StoreError::Backend(error)
    }
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => postgres_error(e),
        other => StoreError::Unavailable(DbError::Pool(other.to_string().into())),
    }
}

impl ToSql for SqlValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            SqlValue::Text(text) => text.to_sql(ty, out),
            SqlValue::Real(real) => real.to_sql(ty, out),
            SqlValue::Integer(int) => int.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty) || <f64 as ToSql>::accepts(ty) || <i64 as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

fn params(values: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl SqlRow for Row {
    type Error = tokio_postgres::Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error> {
        self.try_get(i)
    }
    fn text(&self, i: usize) -> Result<String, Self::Error> {
        self.try_get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error> {
        self.try_get(i)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, Self::Error> {
        self.try_get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error> {
        self.try_get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, Self::Error> {
        self.try_get(i)
    }
}

/// Empties item `id`'s tombstone and removes its history up to the
/// deletion; `false` when it was not in the trash.
async fn purge_one(tx: &tokio_postgres::Transaction<'_>, id: i64) -> Result<bool, StoreError> {
    let Some(row) = tx
        .query_opt(sql::take_from_trash(Dialect::Postgres), &[&id])
        .await
        .map_err(postgres_error)?
    else {
        return Ok(false);
    };
    let version: i64 = row.try_get(0).map_err(postgres_error)?;
    tx.execute(sql::purge_history(Dialect::Postgres), &[&id, &version])
        .await
        .map_err(postgres_error)?;
    Ok(true)
}

/// A restore's statements, prepared once for all the items a transaction
/// restores.
struct RestoreStatements {
    insert: tokio_postgres::Statement,
    take: tokio_postgres::Statement,
    record: tokio_postgres::Statement,
}

impl RestoreStatements {
    async fn prepare(tx: &tokio_postgres::Transaction<'_>) -> Result<Self, StoreError> {
        let (insert, take, record) = tokio::try_join!(
            tx.prepare(RESTORE),
            tx.prepare(sql::take_from_trash(Dialect::Postgres)),
            tx.prepare(RECORD_RESTORE),
        )
        .map_err(postgres_error)?;
        Ok(RestoreStatements {
            insert,
            take,
            record,
        })
    }
}

/// Brings a trashed item (locked by this transaction) back under its id,
/// unless the id is taken ([`StoreError::IdReused`]), and records it.
async fn restore_one(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &RestoreStatements,
    trashed: &TrashedItem,
    origin: &Origin,
) -> Result<Item, StoreError> {
    let id = trashed.id;
    let folded = FoldedText::of(
        &trashed.name,
        trashed.description.as_deref(),
        trashed.category.as_deref(),
    );
    let row = tx
        .query_opt(
            &statements.insert,
            &[
                &id,
                &trashed.name,
                &trashed.description,
                &trashed.category,
                &trashed.price,
                &trashed.created_at,
                &now_rfc3339(),
                &(trashed.version + 1),
                &folded.name,
                &folded.description,
                &folded.category,
            ],
        )
        .await
        .map_err(postgres_error)?
        .ok_or(StoreError::IdReused(id))?;
    let restored = item(&row)?;
    tx.execute(&statements.take, &[&id])
        .await
        .map_err(postgres_error)?;
    tx.execute(
        &statements.record,
        &[
            &id,
            &restored.version,
            &restored.updated_at,
            &origin.actor,
            &origin.token,
            &origin.door.as_str(),
            &origin.request_id,
            &restored.name,
            &restored.description,
            &restored.category,
            &restored.price,
            &restored.created_at,
        ],
    )
    .await
    .map_err(postgres_error)?;
    Ok(restored)
}

fn item(row: &Row) -> Result<Item, StoreError> {
    sql::item_from_row(row).map_err(postgres_error)
}

#[async_trait]
impl ItemStore for PostgresStore {
    #[tracing::instrument(level = "debug", name = "postgres.get", skip(self))]
    async fn get(&self, id: i64) -> Result<Option<Item>, StoreError> {
        self.points
            .query_opt(SELECT_BY_ID, &[&id])
            .await?
            .as_ref()
            .map(item)
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.list", skip_all)]
    async fn list(&self, query: &ItemQuery) -> Result<Listing, StoreError> {
        let position = cursor::decode(query)?;
        let (statement, values) = sql::list(Dialect::Postgres, query, position.as_ref());
        let rows = match sql::searches_by_trigrams(query) {
            true => self.search_page(query, &statement, &values).await?,
            false => self.query(&statement, &params(&values)).await?,
        };
        let rows = rows.iter().map(item).collect::<Result<_, _>>()?;
        Ok(cursor::listing(query, position.as_ref(), rows))
    }

    #[tracing::instrument(level = "debug", name = "postgres.count", skip_all)]
    async fn count(&self, query: &ItemQuery) -> Result<Total, StoreError> {
        let (sql, values, exact) = sql::total(Dialect::Postgres, query, self.count_bound);
        let rows = match sql::searches_by_trigrams(query) {
            true => self.query_planned(&sql, &params(&values)).await?,
            false => vec![self.query_one(&sql, &params(&values)).await?],
        };
        let row = rows
            .first()
            .ok_or_else(|| StoreError::backend("a count answered no row"))?;
        let n = row.try_get::<_, i64>(0).map_err(postgres_error)?;
        let n = u64::try_from(n).unwrap_or(0);
        Ok(match exact {
            true => Total::exact(n),
            false => Total::bounded(n, self.count_bound),
        })
    }

    #[tracing::instrument(level = "debug", name = "postgres.export", skip_all)]
    async fn export(&self, query: &ItemQuery) -> Result<ItemBatches, StoreError> {
        let (sql, values) = sql::export(Dialect::Postgres, query);
        let mut client = self.client().await?;
        let (batches, receiver) = tokio::sync::mpsc::channel(EXPORT_QUEUE);
        // The pooled connection is the export's until it ends. A portal
        // hands the rows over a batch at a time (one statement: one
        // snapshot), so neither side holds more than a few batches.
        tokio::spawn(async move {
            let read = async {
                let tx = client
                    .build_transaction()
                    .read_only(true)
                    .start()
                    .await
                    .map_err(postgres_error)?;
                let portal = tx
                    .bind(sql.as_str(), &params(&values))
                    .await
                    .map_err(postgres_error)?;
                loop {
                    let rows = tx
                        .query_portal(&portal, EXPORT_BATCH as i32)
                        .await
                        .map_err(postgres_error)?;
                    let done = rows.len() < EXPORT_BATCH;
                    let items = rows.iter().map(item).collect::<Result<Vec<_>, _>>()?;
                    if !items.is_empty() && batches.send(Ok(items)).await.is_err() {
                        break; // The receiver went away.
                    }
                    if done {
                        break;
                    }
                }
                Ok::<(), StoreError>(())
            };
            if let Err(e) = read.await {
                let _ = batches.send(Err(e)).await;
            }
        });
        Ok(receiver)
    }

    #[tracing::instrument(level = "debug", name = "postgres.import", skip_all)]
    async fn import(
        &self,
        mut rows: ImportRows,
        on_error: OnError,
        origin: &Origin,
    ) -> Result<Imported, StoreError> {
        let mut client = self.client().await?;
        let outcome = import::import(self, &mut client, &mut rows, on_error, origin).await?;
        if outcome.imported > 0 {
            self.announcer.send(ChangeKind::Bulk, None, None);
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", name = "postgres.create", skip(self, item, origin))]
    async fn create(
        &self,
        id: Option<i64>,
        item: ValidItem,
        origin: &Origin,
    ) -> Result<Item, StoreError> {
        let created = self.inserts.create(id, item, origin.clone()).await?;
        self.announce(ChangeKind::Created, created.id, Some(created.version));
        Ok(created)
    }

    #[tracing::instrument(level = "debug", name = "postgres.update", skip(self, item_in, origin))]
    async fn update(
        &self,
        id: i64,
        item_in: ValidItem,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<Item, StoreError> {
        let folded = FoldedText::of_item(&item_in);
        let updated = self
            .write(self.query_opt(
                UPDATE,
                &[
                    &id,
                    &item_in.name(),
                    &item_in.description(),
                    &item_in.category(),
                    &item_in.price(),
                    &now_rfc3339(),
                    &expected_version,
                    &folded.name,
                    &folded.description,
                    &folded.category,
                    &origin_setting(origin),
                ],
            ))
            .await?;
        match updated {
            Some(row) => {
                let updated = item(&row)?;
                self.announce(ChangeKind::Updated, updated.id, Some(updated.version));
                Ok(updated)
            }
            None => Err(self.missing_or_moved(id, expected_version).await),
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.delete", skip(self, origin))]
    async fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let row = self
            .write(self.query_one(
                DELETE,
                &[
                    &id,
                    &expected_version,
                    &now_rfc3339(),
                    &origin.actor,
                    &origin.token,
                    &origin.door.as_str(),
                    &origin.request_id,
                ],
            ))
            .await?;
        if row.try_get::<_, i64>(0).map_err(postgres_error)? == 1 {
            self.announce(ChangeKind::Deleted, id, None);
            Ok(())
        } else {
            Err(self.missing_or_moved(id, expected_version).await)
        }
    }

    #[tracing::instrument(level = "debug", name = "postgres.bulk", skip_all)]
    async fn bulk(
        &self,
        target: &BulkTarget,
        action: &BulkAction,
        origin: &Origin,
    ) -> Result<Vec<i64>, StoreError> {
        let ids = self
            .write(async {
                let mut client = self.client().await?;
                let tx = client.transaction().await.map_err(postgres_error)?;
                let ids = bulk::run(&tx, target, action, origin).await?;
                tx.commit().await.map_err(postgres_error)?;
                Ok(ids)
            })
            .await?;
        if !ids.is_empty() {
            self.announcer.send(ChangeKind::Bulk, None, None);
        }
        Ok(ids)
    }

    #[tracing::instrument(level = "debug", name = "postgres.history", skip(self))]
    async fn history(
        &self,
        id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        let rows = self
            .query(
                sql::history(Dialect::Postgres),
                &[&id, &before.unwrap_or(i64::MAX), &limit],
            )
            .await?;
        rows.iter()
            .map(|row| sql::revision_from_row(row).map_err(postgres_error))
            .collect()
    }

    #[tracing::instrument(level = "debug", name = "postgres.revision_at", skip(self))]
    async fn revision_at(&self, id: i64, version: i64) -> Result<Option<Revision>, StoreError> {
        let row = self
            .points
            .query_opt(sql::revision_at(Dialect::Postgres), &[&id, &version])
            .await?;
        row.map(|row| sql::revision_from_row(&row).map_err(postgres_error))
            .transpose()
    }

    #[tracing::instrument(level = "debug", name = "postgres.trash", skip(self))]
    async fn trash(
        &self,
        q: Option<&str>,
        after: Option<&TrashPosition>,
        limit: i64,
    ) -> Result<Vec<TrashedItem>, StoreError> {
        let Some((deleted_at, id, folded)) = sql::trash_bounds(q, after) else {
            return Ok(Vec::new());
        };
        let sql = sql::trash_page(Dialect::Postgres, folded.is_some());
        let rows = match folded {
            Some(q) => self.query(sql, &[&deleted_at, &id, &limit, &q]).await?,
            None => self.query(sql, &[&deleted_at, &id, &limit]).await?,
        };
        rows.iter()
            .map(|row| sql::trashed_from_row(row).map_err(postgres_error))
            .collect()
    }

    #[tracing::instrument(level = "debug", name = "postgres.restore", skip(self, origin))]
    async fn restore(&self, id: i64, origin: &Origin) -> Result<Item, StoreError> {
        let restored = self
            .write(async {
                let mut client = self.client().await?;
                let tx = client.transaction().await.map_err(postgres_error)?;
                let trashed = tx
                    .query_opt(TRASHED, &[&id])
                    .await
                    .map_err(postgres_error)?
                    .ok_or(StoreError::NotInTrash(id))?;
                let trashed = sql::trashed_from_row(&trashed).map_err(postgres_error)?;
                let statements = RestoreStatements::prepare(&tx).await?;
                let restored = restore_one(&tx, &statements, &trashed, origin).await?;
                tx.commit().await.map_err(postgres_error)?;
                Ok(restored)
            })
            .await?;
        self.announce(ChangeKind::Created, restored.id, Some(restored.version));
        Ok(restored)
    }

    #[tracing::instrument(level = "debug", name = "postgres.purge", skip(self))]
    async fn purge(&self, id: i64) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(postgres_error)?;
        if !purge_one(&tx, id).await? {
            return Err(StoreError::NotInTrash(id));
        }
        tx.commit().await.map_err(postgres_error)
    }

    #[tracing::instrument(level = "debug", name = "postgres.purge_expired", skip(self))]
    async fn purge_expired(&self, deleted_before: &str, limit: i64) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(postgres_error)?;
        let ids = tx
            .query(
                sql::expired_trash(Dialect::Postgres),
                &[&deleted_before, &limit],
            )
            .await
            .map_err(postgres_error)?;
        let mut purged = 0;
        for row in ids {
            let id: i64 = row.try_get(0).map_err(postgres_error)?;
            purged += u64::from(purge_one(&tx, id).await?);
        }
        tx.commit().await.map_err(postgres_error)?;
        Ok(purged)
    }

    #[tracing::instrument(level = "debug", name = "postgres.prune_history_before", skip(self))]
    async fn prune_history_before(&self, before: &str, limit: i64) -> Result<u64, StoreError> {
        let (client, statement) = self
            .prepared(sql::prune_old_revisions(Dialect::Postgres))
            .await?;
        client
            .execute(&statement, &[&before, &limit])
            .await
            .map_err(postgres_error)
    }

    async fn index_history_by_time(&self, _wanted: bool) -> Result<(), StoreError> {
        // Kept whatever this instance's rule: instances sharing the
        // database may be set differently, and one dropping the index
        // another's retention job reads would make that job scan.
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "postgres.prune_history_beyond", skip(self))]
    async fn prune_history_beyond(
        &self,
        keep: i64,
        from: &HistoryMark,
        limit: i64,
    ) -> Result<(u64, Option<HistoryMark>), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(postgres_error)?;
        let rows = tx
            .query(
                sql::revisions_after(Dialect::Postgres),
                &[&from.at, &from.item_id, &from.version, &limit],
            )
            .await
            .map_err(postgres_error)?;
        let marks = rows
            .iter()
            .map(|r| {
                Ok(HistoryMark {
                    at: r.try_get(0)?,
                    item_id: r.try_get(1)?,
                    version: r.try_get(2)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(postgres_error)?;
        let mut items: Vec<i64> = marks.iter().map(|m| m.item_id).collect();
        items.sort_unstable();
        items.dedup();
        let pruned = tx
            .execute(sql::prune_item_history(Dialect::Postgres), &[&items, &keep])
            .await
            .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        let next = (marks.len() as i64 == limit)
            .then(|| marks.last().cloned())
            .flatten();
        Ok((pruned, next))
    }

    #[tracing::instrument(level = "debug", name = "postgres.categories", skip_all)]
    async fn categories(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .query(sql::categories(Dialect::Postgres), &[&MAX_CATEGORIES])
            .await?;
        let mut named = rows
            .iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(postgres_error)?;
        named.sort();
        Ok(named.into_iter().map(|(_, name)| name).collect())
    }

    fn revision(&self) -> Option<u64> {
        None
    }

    /// Both kinds of connection: the pool's and the shared ones.
    #[tracing::instrument(level = "debug", name = "postgres.ping", skip_all)]
    async fn ping(&self) -> Result<(), StoreError> {
        self.query_one("SELECT 1", &[]).await?;
        self.points.query_opt("SELECT 1", &[]).await.map(drop)
    }
}
