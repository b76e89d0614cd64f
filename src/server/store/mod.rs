//! The storage seam: every read and write of items goes through [`ItemStore`].
//!
//! Handlers and server functions hold an `Arc<dyn ItemStore>` and never know
//! which database is behind it. SQLite is the embedded default; a PostgreSQL
//! backend plugs in here as another implementation.

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Item, ItemQuery, ValidItem};
use crate::server::telemetry::CommitMetrics;

pub use sqlite::SqliteStore;

/// What can go wrong in storage, in terms callers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("item {0} not found")]
    NotFound(i64),
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
    /// The database failed; the message is for logs, not for clients.
    #[error("database error: {0}")]
    Backend(String),
}

/// How to open the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` (or `sqlite::memory:`).
    pub database_url: String,
    /// Insert the original app's three demo items into a brand-new database.
    pub seed_demo_items: bool,
    /// Where group commits are measured.
    pub commits: CommitMetrics,
}

/// Items storage, shared by the REST API and the UI's server functions.
#[async_trait]
pub trait ItemStore: Send + Sync + 'static {
    /// One item, or `None`.
    async fn get(&self, id: i64) -> Result<Option<Item>, StoreError>;

    /// A page of items matching the query's filters, in its order.
    async fn list(&self, query: &ItemQuery) -> Result<Vec<Item>, StoreError>;

    /// How many items match the query's filters (ignoring paging).
    async fn count(&self, query: &ItemQuery) -> Result<u64, StoreError>;

    /// Stores a new item under `id`, or under the next free id when `None`.
    ///
    /// Assigned ids come from a counter that only assignment moves: they
    /// grow, skip ids that clients chose themselves, and never repeat the
    /// id of a deleted item. An explicit id does not change which ids are
    /// assigned later.
    async fn create(&self, id: Option<i64>, item: ValidItem) -> Result<Item, StoreError>;

    /// Replaces an item's fields and bumps its version. With
    /// `expected_version`, fails with [`StoreError::VersionMismatch`] when
    /// the stored item has moved on (optimistic concurrency).
    async fn update(
        &self,
        id: i64,
        item: ValidItem,
        expected_version: Option<i64>,
    ) -> Result<Item, StoreError>;

    /// Removes an item, with the same optional version check as `update`.
    async fn delete(&self, id: i64, expected_version: Option<i64>) -> Result<(), StoreError>;

    /// Distinct categories in use, sorted.
    async fn categories(&self) -> Result<Vec<String>, StoreError>;

    /// A number that grows with every committed write: two reads at the
    /// same revision see the same items, so their answers can be reused
    /// until it moves. Advanced after a write commits and before the
    /// writer hears of it. A backend that cannot tell (another process may
    /// write) must return a new number on every call.
    fn revision(&self) -> u64;

    /// Cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the backend that `options.database_url` names.
pub async fn open(options: &StoreOptions) -> Result<Arc<dyn ItemStore>, StoreError> {
    let url = options.database_url.as_str();
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let store =
            SqliteStore::open(path, options.seed_demo_items, options.commits.clone()).await?;
        return Ok(Arc::new(store));
    }
    let scheme = url.split(':').next().unwrap_or_default();
    Err(StoreError::Backend(format!(
        "unsupported DATABASE_URL scheme '{scheme}': this build supports sqlite://PATH"
    )))
}

/// The original FastAPI app's demo items, so its examples work out of the box.
pub(crate) const DEMO_ITEMS: [(i64, &str, &str); 3] = [
    (1, "Item One", "This is the first item."),
    (2, "Item Two", "This is the second item."),
    (3, "Item Three", "This is the third item."),
];

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

impl From<StoreError> for crate::domain::AppError {
    fn from(e: StoreError) -> Self {
        use crate::domain::AppError;
        match e {
            StoreError::NotFound(_) => {
                AppError::NotFound("This item no longer exists; it may have been deleted.".into())
            }
            StoreError::Conflict(id) => {
                AppError::Conflict(format!("An item with id {id} already exists."))
            }
            StoreError::IdsExhausted => AppError::Conflict(
                "No item ids are left to assign; delete items or ask an administrator.".into(),
            ),
            StoreError::VersionMismatch { .. } => AppError::Conflict(
                "Someone else changed this item meanwhile. The table now shows their version; \
                 edit it again if needed."
                    .into(),
            ),
            StoreError::Backend(message) => {
                tracing::error!(%message, "storage failed in a server function");
                AppError::Internal("a database error occurred".into())
            }
        }
    }
}
