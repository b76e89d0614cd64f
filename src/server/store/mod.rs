//! The storage seam: every read and write of items goes through [`ItemStore`].
//!
//! Handlers and server functions hold an `Arc<dyn ItemStore>` and never know
//! which database is behind it: SQLite (`sqlite/`), the embedded default, or
//! PostgreSQL (`postgres/`) for several instances on one database. What both
//! share — the SQL of filters and ordering, reading rows into domain types —
//! is in `sql.rs`, written once.

mod changes;
mod cursor;
mod postgres;
mod retention;
mod sql;
mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    Action, AuditAction, AuditEntry, AuditFilter, BulkAction, BulkRefusal, BulkTarget, Door, Item,
    ItemQuery, Listing, Revision, Role, Total, TrashedItem, User, ValidItem, MAX_BULK_ITEMS,
};
use crate::server::telemetry::CommitMetrics;

pub use changes::{ChangeEvent, ChangeFeed, Subscription};
pub use cursor::{AuditPosition, TrashPosition};
pub use postgres::{PostgresOptions, PostgresStore};
pub use retention::{keep_search_indexed, prune_history, purge_expired_trash, HistoryRetention};
pub use sqlite::SqliteStore;

/// What can go wrong in storage, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("item {0} not found")]
    NotFound(i64),
    /// No deleted item with this id is in the trash (never deleted, or
    /// restored or purged since).
    #[error("item {0} is not in the trash")]
    NotInTrash(i64),
    /// A deleted item cannot be restored: an item was created under its
    /// id since.
    #[error("the id of deleted item {0} is in use again")]
    IdReused(i64),
    #[error("an item with id {0} already exists")]
    Conflict(i64),
    /// Every id up to [`crate::domain::MAX_ITEM_ID`] has been handed out.
    #[error("no item ids are left to assign")]
    IdsExhausted,
    #[error("item {id} is at version {current}, not the expected {expected}")]
    VersionMismatch {
        id: i64,
        expected: i64,
        current: i64,
    },
    /// A user with this name (compared ignoring case) exists.
    #[error("a user named '{0}' already exists")]
    UserExists(String),
    #[error("user {0} not found")]
    UserNotFound(i64),
    #[error("credential {0} not found")]
    CredentialNotFound(i64),
    /// A bulk action that some of its items refuse (every refusal, by
    /// id); nothing was written.
    #[error("{} items refuse the bulk action", .0.len())]
    BulkRefused(Vec<BulkRefusal>),
    /// A bulk action's filter matches more than [`MAX_BULK_ITEMS`] items;
    /// nothing was written.
    #[error("the filter matches more than {MAX_BULK_ITEMS} items")]
    TooManyMatches,
    /// A listing's cursor is not one of this listing's (another sort or
    /// filters, another server version) or not a cursor at all.
    #[error("bad cursor: {reason}")]
    BadCursor { cursor: String, reason: String },
    /// The database cannot be reached (connection refused or lost, no
    /// connection free in time): worth retrying shortly.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] DbError),
    /// The database failed; the message is for logs, not for clients.
    #[error("database error: {0}")]
    Backend(#[source] DbError),
}

impl StoreError {
    /// What one item of a bulk action refused, from the error of its
    /// single-item write; other errors end the action.
    pub(crate) fn refusal(self, id: i64) -> Result<BulkRefusal, StoreError> {
        match self {
            StoreError::NotFound(_) => Ok(BulkRefusal::not_found(id)),
            StoreError::NotInTrash(_) => Ok(BulkRefusal::not_in_trash(id)),
            StoreError::IdReused(_) => Ok(BulkRefusal::id_taken(id)),
            other => Err(other),
        }
    }

    /// A failure described in words (no driver error behind it).
    pub(crate) fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend(DbError::Other(message.into().into()))
    }

    /// The same failure again, for the second of two callers that share it
    /// (a group of writes whose commit failed).
    pub(crate) fn shared(&self) -> StoreError {
        match self {
            StoreError::Unavailable(e) => StoreError::Unavailable(e.clone()),
            StoreError::Backend(e) => StoreError::Backend(e.clone()),
            other => StoreError::backend(other.to_string()),
        }
    }
}

/// The driver's own error, kept typed so that callers can tell a locked
/// database, a unique violation and a lost connection apart (see the
/// `is_…` methods) without reading message text. Shared (`Arc`) because a
/// failed group commit answers every write in the group with it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(std::sync::Arc<rusqlite::Error>),
    #[error(transparent)]
    Postgres(std::sync::Arc<tokio_postgres::Error>),
    /// No connection could be had from the pool.
    #[error("{0}")]
    Pool(std::sync::Arc<str>),
    #[error("{0}")]
    Other(std::sync::Arc<str>),
}

impl DbError {
    /// SQLite's "database is locked" (another process holds the file).
    pub fn is_locked(&self) -> bool {
        matches!(self, DbError::Sqlite(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy))
    }

    /// A UNIQUE or PRIMARY KEY constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(e) => {
                e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                    && matches!(&**e, rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
            }
            DbError::Postgres(e) => {
                e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            }
            _ => false,
        }
    }

    /// The connection to the database server failed or was lost.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            DbError::Postgres(e) => {
                e.is_closed() || e.as_db_error().is_none() && e.code().is_none()
            }
            DbError::Pool(_) => true,
            _ => false,
        }
    }
}

/// Items read by [`ItemStore::export`], a batch at a time. The reader waits
/// while [`EXPORT_QUEUE`] batches are unread, so an export holds a few
/// batches in memory however large the table is, and dropping the receiver
/// ends the read.
pub type ItemBatches = tokio::sync::mpsc::Receiver<Result<Vec<Item>, StoreError>>;

/// Items in one batch of an export.
pub(crate) const EXPORT_BATCH: usize = 1_000;
/// Batches an export reads ahead of its receiver.
pub(crate) const EXPORT_QUEUE: usize = 2;

/// One row of an import, validated: the line of the file it starts on, the
/// id it names (if any) and its fields.
#[derive(Clone, Debug)]
pub struct ImportRow {
    pub line: u64,
    pub id: Option<i64>,
    pub item: ValidItem,
}

/// What an import sends the store: rows, then `End`. Rows that stop
/// without `End` (the sender was dropped: the upload failed) are an
/// unfinished import, which writes nothing.
#[derive(Debug)]
pub enum ImportBatch {
    Rows(Vec<ImportRow>),
    End,
}

/// The rows of an import, as [`ItemStore::import`] receives them.
pub type ImportRows = tokio::sync::mpsc::Receiver<ImportBatch>;

impl ImportBatch {
    /// What an import received next: rows, `None` at their end, or an
    /// error when they stopped before it.
    pub(crate) fn rows(
        received: Option<ImportBatch>,
    ) -> Result<Option<Vec<ImportRow>>, StoreError> {
        match received {
            Some(ImportBatch::Rows(rows)) => Ok(Some(rows)),
            Some(ImportBatch::End) => Ok(None),
            None => Err(StoreError::backend(
                "the import's rows stopped before their end",
            )),
        }
    }
}

/// What an import does with a row the store refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// One refused row and nothing is written.
    Abort,
    /// The row is left out; the others are written.
    Skip,
}

/// Rows an import reports at most (it counts them all).
pub const MAX_REPORTED_ROWS: usize = 1_000;

/// A row the store refused: its id is taken (by an item stored before, or
/// by an earlier row of the same import).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRow {
    pub line: u64,
    pub id: i64,
}

/// What an import came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Items written (0 when an `Abort` import refused a row).
    pub imported: u64,
    /// The first [`MAX_REPORTED_ROWS`] refused rows, by line.
    pub refused: Vec<RefusedRow>,
    /// Every refused row.
    pub refused_total: u64,
}

impl Imported {
    /// Notes a refused row (the first ones by line are kept).
    pub(crate) fn refuse(&mut self, row: RefusedRow) {
        self.refused_total += 1;
        if self.refused.len() < MAX_REPORTED_ROWS {
            self.refused.push(row);
        }
    }
}

/// Who makes a change and how, recorded in its revision.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    /// The logged-in user's name (`None`: nobody is logged in).
    pub actor: Option<String>,
    /// The name of the API token the request came with.
    pub token: Option<String>,
    pub door: Door,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
    /// An update that writes back the fields of this earlier version.
    pub reverts: Option<i64>,
}

impl Origin {
    /// What an update from this origin is recorded as.
    pub(crate) fn update_action(&self) -> Action {
        match self.reverts {
            Some(_) => Action::Revert,
            None => Action::Update,
        }
    }
}

/// The ids a bulk action's filter matched (read one past the limit), or
/// [`StoreError::TooManyMatches`].
pub(crate) fn bulk_matches(ids: Vec<i64>) -> Result<Vec<i64>, StoreError> {
    match ids.len() > MAX_BULK_ITEMS {
        true => Err(StoreError::TooManyMatches),
        false => Ok(ids),
    }
}

/// A bulk action's ids, done, unless some item refused it (the refusals
/// by id, each item's in the order found).
pub(crate) fn bulk_outcome(
    ids: Vec<i64>,
    mut refusals: Vec<BulkRefusal>,
) -> Result<Vec<i64>, StoreError> {
    refusals.sort_by_key(|refusal| refusal.id);
    match refusals.is_empty() {
        true => Ok(ids),
        false => Err(StoreError::BulkRefused(refusals)),
    }
}

/// Revisions of one item answered at most per page.
pub const MAX_HISTORY_PAGE: i64 = 100;

/// Trashed items answered at most per page.
pub const MAX_TRASH_PAGE: i64 = 100;

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` (or `sqlite::memory:`), or
    /// `postgres://user@host:port/database`.
    pub database_url: String,
    /// Insert the original app's three demo items into a brand-new database.
    pub seed_demo_items: bool,
    /// PostgreSQL: connections in the pool.
    pub pool_size: usize,
    /// Where group commits are measured.
    pub commits: CommitMetrics,
    /// Matches of a search or price filter counted at most (see [`Total`]).
    pub count_bound: u64,
}

/// Items storage, shared by the REST API and the UI's server functions.
#[async_trait]
pub trait ItemStore: Send + Sync + 'static {
    /// One item, or `None`.
    async fn get(&self, id: i64) -> Result<Option<Item>, StoreError>;

    /// A page of items matching the query's filters, in its order, from
    /// its cursor (or `skip`), with the cursors of the pages beside it.
    async fn list(&self, query: &ItemQuery) -> Result<Listing, StoreError>;

    /// How many items match the query's filters (ignoring paging): exact
    /// for everything and for one category (counts kept with every write),
    /// counted up to the store's bound for other filters.
    async fn count(&self, query: &ItemQuery) -> Result<Total, StoreError>;

    /// Every item matching the query's filters, in its order (its page is
    /// ignored), read from one snapshot of the table however long the
    /// reading takes: writes meanwhile are not seen. The read runs beside
    /// the caller and stays only [`EXPORT_QUEUE`] batches ahead of it.
    async fn export(&self, query: &ItemQuery) -> Result<ItemBatches, StoreError>;

    /// Stores many new items in one transaction: the rows as they arrive
    /// (until [`ImportBatch::End`]), each under its id or the next free one
    /// (assigned in the order of the rows). A row whose id is taken is
    /// refused; with [`OnError::Abort`] one refused row (or rows that stop
    /// without their end) writes nothing. Announced as one `bulk` change.
    async fn import(
        &self,
        rows: ImportRows,
        on_error: OnError,
        origin: &Origin,
    ) -> Result<Imported, StoreError>;

    /// Stores a new item under `id`, or under the next free id when `None`.
    ///
    /// Assigned ids come from a counter that only assignment moves: they
    /// grow, skip ids that clients chose themselves, and never repeat the
    /// id of a deleted item. An explicit id does not change which ids are
    /// assigned later.
    ///
    /// Every write records a revision (see [`ItemStore::history`]) in its
    /// own transaction, naming `origin`.
    async fn create(
        &self,
        id: Option<i64>,
        item: ValidItem,
        origin: &Origin,
    ) -> Result<Item, StoreError>;

    /// Replaces an item's fields and bumps its version. With
    /// `expected_version`, fails with [`StoreError::VersionMismatch`] when
    /// the stored item has moved on (optimistic concurrency).
    async fn update(
        &self,
        id: i64,
        item: ValidItem,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<Item, StoreError>;

    /// Removes an item, with the same optional version check as `update`.
    /// The deletion takes the next version (recorded with the item as it
    /// was), and an item created again under the id carries on after it.
    async fn delete(
        &self,
        id: i64,
        expected_version: Option<i64>,
        origin: &Origin,
    ) -> Result<(), StoreError>;

    /// Up to `limit` revisions of an item, newest first, from below
    /// version `before` (all when `None`). Empty for an id that never
    /// had an item (or none since history was kept).
    async fn history(
        &self,
        id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Revision>, StoreError>;

    /// The revision of an item that made `version`.
    async fn revision_at(&self, id: i64, version: i64) -> Result<Option<Revision>, StoreError>;

    /// Up to `limit` items of the trash, most recently deleted first,
    /// from after `after` (the start when `None`); with `q`, only those
    /// whose name or description holds it (ignoring case, as search does).
    async fn trash(
        &self,
        q: Option<&str>,
        after: Option<&TrashPosition>,
        limit: i64,
    ) -> Result<Vec<TrashedItem>, StoreError>;

    /// Brings an item back from the trash as it was deleted, under its id
    /// and the version after its deletion's, recorded as a `restore`.
    /// [`StoreError::IdReused`] when an item was created under the id
    /// meanwhile (it stays in the trash); [`StoreError::NotInTrash`] when
    /// it is not there.
    async fn restore(&self, id: i64, origin: &Origin) -> Result<Item, StoreError>;

    /// Removes an item from the trash for good, with its history up to its
    /// deletion. Its id stays retired (never assigned again).
    async fn purge(&self, id: i64) -> Result<(), StoreError>;

    /// Purges up to `limit` items deleted before `deleted_before` (RFC
    /// 3339), oldest first, in one short transaction; answers how many.
    async fn purge_expired(&self, deleted_before: &str, limit: i64) -> Result<u64, StoreError>;

    /// Removes up to `limit` revisions recorded before `before` (RFC
    /// 3339), oldest first, in one short transaction; answers how many.
    async fn prune_history_before(&self, before: &str, limit: i64) -> Result<u64, StoreError>;

    /// Keeps (`wanted`) or leaves out the index of revisions by the time
    /// they were recorded, which only the retention job reads. Called once
    /// at startup with whether a retention rule is set; building the index
    /// over a large history takes a while.
    async fn index_history_by_time(&self, wanted: bool) -> Result<(), StoreError>;

    /// Reads the next `limit` revisions after `from` in the order they
    /// were recorded, and keeps only the newest `keep` revisions of each of
    /// their items, in one short transaction. Answers how many it removed
    /// and where the next batch starts (`None` when no revision follows).
    async fn prune_history_beyond(
        &self,
        keep: i64,
        from: &HistoryMark,
        limit: i64,
    ) -> Result<(u64, Option<HistoryMark>), StoreError>;

    /// Applies one action to many items in one transaction: to every
    /// target, or (when any refuses it) to none, answering every refusal
    /// ([`StoreError::BulkRefused`]). A filter that matches more than
    /// [`MAX_BULK_ITEMS`] items is [`StoreError::TooManyMatches`]; a
    /// restore names its ids (the trash is not filtered by item fields).
    /// Each change records its revision, as the single-item writes do;
    /// the whole is announced as one `bulk` change. Answers the ids
    /// changed, in the order of the target.
    async fn bulk(
        &self,
        target: &BulkTarget,
        action: &BulkAction,
        origin: &Origin,
    ) -> Result<Vec<i64>, StoreError>;

    /// Moves up to `limit` items written since into the search index, when
    /// the backend keeps it behind the writes (SQLite; see
    /// `docs/storage.md`), in one short transaction; answers how many.
    async fn index_search(&self, _limit: i64) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Distinct categories in use, sorted.
    async fn categories(&self) -> Result<Vec<String>, StoreError>;

    /// A number that grows with every committed write: two reads at the
    /// same revision see the same items, so their answers can be reused
    /// until it moves. Advanced after a write commits and before the
    /// writer hears of it. `None` from a backend that cannot tell (another
    /// process may write): no answer may then be reused.
    fn revision(&self) -> Option<u64>;

    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What a stored secret stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// A browser session (the cookie).
    Session,
    /// A refresh token, exchanged for access tokens.
    Refresh,
    /// A personal API token for scripts.
    Api,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Refresh => "refresh",
            CredentialKind::Api => "api",
        }
    }
}

/// A stored credential, without its secret.
#[derive(Clone, Debug, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Credential {
    pub id: i64,
    pub user_id: i64,
    /// The label given when it was created (API tokens).
    pub name: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// What redeeming a refresh token came to ([`UserStore::rotate_refresh`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Rotation {
    /// The token was live: it is revoked now, and the new one stored in
    /// its family.
    Rotated(User),
    /// The token had been redeemed (or revoked) before: presented again,
    /// it has leaked. Every live token of its family is revoked now, and
    /// the user's token generation moved on (their access tokens end).
    Replayed { user_id: i64 },
    /// No refresh token has this hash, or it expired.
    Unknown,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
    pub password_hash: Option<String>,
}

impl UserChanges {
    /// Whether the change ends the user's credentials and access tokens:
    /// a new password or disabling.
    pub fn ends_tokens(&self) -> bool {
        self.disabled == Some(true) || self.password_hash.is_some()
    }
}

/// Users and their credentials, in the same database as the items.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn count_users(&self) -> Result<u64, StoreError>;
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, StoreError>;
    /// The user with this name (ignoring case) and the password hash.
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError>;
    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn list_users(&self) -> Result<Vec<User>, StoreError>;
    async fn update_user(&self, id: i64, changes: UserChanges) -> Result<User, StoreError>;
    /// Stores the hash of a new secret; the secret itself is never stored.
    async fn create_credential(
        &self,
        kind: CredentialKind,
        user_id: i64,
        name: Option<String>,
        token_hash: String,
        expires_at: Option<String>,
    ) -> Result<Credential, StoreError>;
    /// The live credential with this hash (not revoked, not expired at
    /// `now`) and its user; marks it used.
    async fn use_credential(
        &self,
        kind: CredentialKind,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<(Credential, User)>, StoreError>;
    /// Redeems the refresh token with hash `old_hash` at `now`: when live,
    /// revokes it and stores `new_hash` (expiring at `expires_at`) in the
    /// same family, in one transaction, so that of two racing redemptions
    /// one wins; when already redeemed, revokes its family (see
    /// [`Rotation`]).
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: String,
        expires_at: String,
        now: &str,
    ) -> Result<Rotation, StoreError>;
    /// Revokes the credential with this hash, if live; answers its user's
    /// id then.
    async fn revoke_credential_by_hash(
        &self,
        kind: CredentialKind,
        token_hash: &str,
    ) -> Result<Option<i64>, StoreError>;
    /// Revokes credential `id`, of `owner` when given; answers it as it
    /// is now.
    async fn revoke_credential(
        &self,
        kind: CredentialKind,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Credential, StoreError>;
    /// Credentials of one kind: one user's, or everyone's.
    async fn list_credentials(
        &self,
        kind: CredentialKind,
        owner: Option<i64>,
    ) -> Result<Vec<Credential>, StoreError>;
    /// The stored setting, or `value` stored now if there was none (one
    /// winner when instances race).
    async fn setting_or_insert(&self, key: &str, value: String) -> Result<String, StoreError>;
    /// Adds an entry to the audit log, stamped with the time now.
    async fn record_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError>;
    /// Up to `limit` entries of the audit log that `filter` keeps, newest
    /// first, after `after`.
    async fn audit(
        &self,
        filter: &AuditFilter,
        after: Option<&AuditPosition>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}

/// A revision's place in the order revisions were recorded: when, then
/// the item and version that break ties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryMark {
    pub at: String,
    pub item_id: i64,
    pub version: i64,
}

impl HistoryMark {
    /// Before every revision recorded at or after `at`.
    pub fn start(at: String) -> Self {
        HistoryMark {
            at,
            item_id: i64::MIN,
            version: i64::MIN,
        }
    }
}

/// An entry for the audit log; see [`AuditEntry`] for the fields.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    pub action: AuditAction,
    pub actor: Option<String>,
    pub token: Option<String>,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub door: Option<Door>,
    pub request_id: Option<String>,
    pub client: Option<String>,
}

/// Cuts `rows`, read one past a page of `limit` rows to learn whether
/// more follow, to the page; answers its last row when more do (where the
/// next page starts).
pub fn cut_page<T>(rows: &mut Vec<T>, limit: i64) -> Option<&T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    rows.last().filter(|_| more)
}

/// A page of up to `limit` revisions of item `id`, newest first, from below
/// version `before`, and the version the next page starts below when older
/// ones follow; `None` when no item ever had the id (since history was
/// kept). Both doors page an item's history through this.
pub async fn history_page(
    store: &dyn ItemStore,
    id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Option<(Vec<Revision>, Option<i64>)>, StoreError> {
    // One more than the page, to know whether older ones follow.
    let mut revisions = store.history(id, before, limit + 1).await?;
    if revisions.is_empty() && before.is_none() && store.get(id).await?.is_none() {
        return Ok(None);
    }
    let next = cut_page(&mut revisions, limit).map(|last| last.version);
    Ok(Some((revisions, next)))
}

/// Entries on a page of the audit log, at most.
pub const MAX_AUDIT_PAGE: i64 = 100;

/// The stores behind one database.
#[derive(Clone)]
pub struct Stores {
    pub items: Arc<dyn ItemStore>,
    pub users: Arc<dyn UserStore>,
    /// Committed item changes, for the event stream.
    pub changes: Arc<ChangeFeed>,
}

/// Opens the backend that `options.database_url` names.
pub async fn open(options: &StoreOptions) -> Result<Stores, StoreError> {
    let url = options.database_url.as_str();
    let changes = Arc::new(ChangeFeed::default());
    fn stores<S: ItemStore + UserStore>(store: S, changes: Arc<ChangeFeed>) -> Stores {
        let store = Arc::new(store);
        Stores {
            items: store.clone(),
            users: store,
            changes,
        }
    }
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store = SqliteStore::open(
            path,
            options.seed_demo_items,
            options.commits.clone(),
            changes.clone(),
            options.count_bound,
        )
        .await?;
        return Ok(stores(store, changes));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let postgres = PostgresOptions {
            seed_demo_items: options.seed_demo_items,
            pool_size: options.pool_size,
            commits: options.commits.clone(),
            count_bound: options.count_bound,
        };
        let store = PostgresStore::open(url, postgres, changes.clone()).await?;
        return Ok(stores(store, changes));
    }
    let scheme = url.split(':').next().unwrap_or_default();
    Err(StoreError::backend(format!(
        "unsupported DATABASE_URL scheme '{scheme}': use sqlite://PATH or \
         postgres://USER@HOST:PORT/DATABASE"
    )))
}

/// The original FastAPI app's demo items, so its examples work out of the box.
const DEMO_ITEMS: [(i64, &str, &str); 3] = [
    (1, "Item One", "This is the first item."),
    (2, "Item Two", "This is the second item."),
    (3, "Item Three", "This is the third item."),
];

/// [`DEMO_ITEMS`] as validated items under their ids, for a new database.
pub(crate) fn demo_items() -> Result<Vec<(i64, ValidItem)>, StoreError> {
    DEMO_ITEMS
        .into_iter()
        .map(|(id, name, description)| {
            let item = crate::domain::ItemDraft {
                name: name.into(),
                description: Some(description.into()),
                ..crate::domain::ItemDraft::default()
            }
            .validate()
            .map_err(|e| StoreError::backend(format!("a demo item is invalid: {e:?}")))?;
            Ok((id, item))
        })
        .collect()
}

/// Text as the search compares it: Unicode default case folding, so that
/// `CAFÉ` finds `Café` and `STRASSE` finds `Straße`. Computed here, not by
/// the database, so every backend folds alike.
pub(crate) fn fold_case(text: &str) -> String {
    caseless::default_case_fold_str(text)
}

/// The case-folded copies of an item's text that are stored beside it for
/// search; every write of the text writes these too.
pub(crate) struct FoldedText {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
}

impl FoldedText {
    pub fn of(name: &str, description: Option<&str>, category: Option<&str>) -> Self {
        FoldedText {
            name: fold_case(name),
            description: description.map(fold_case),
            category: category.map(fold_case),
        }
    }

    pub fn of_item(item: &ValidItem) -> Self {
        Self::of(item.name(), item.description(), item.category())
    }
}

/// The current time as the RFC 3339 text stored in `created_at`/`updated_at`.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Says that an existing database is about to be upgraded. Refinery then
/// logs each migration as it applies it; this line tells the operator why a
/// server whose migrations rebuild a table of millions of rows has not
/// started listening yet. A new database's schema is created without it.
pub(crate) fn announce_upgrade(applied: i32, known: i32) {
    if applied > 0 && applied < known {
        tracing::info!(
            from = applied,
            to = known,
            "upgrading the database schema from version {applied} to {known}; on a large \
             catalogue this takes a while"
        );
    }
}
