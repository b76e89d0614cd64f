//! Creates, committed in groups: the creates that arrive while one group
//! commits are inserted together by the next, with one multi-row statement
//! in one transaction, so a whole group waits for one WAL flush instead of
//! one flush each (PostgreSQL joins concurrent commits into one flush too,
//! but on a busy 2-core machine it managed about one flush per create:
//! 7 000 creates/s). No caller hears "stored" before the commit holding its
//! row returned.
//!
//! A group fails as a whole only when the connection is lost; any other
//! failure of the group statement (a row PostgreSQL refuses) makes its
//! creates go one by one, so each caller gets its own answer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::{ClientWrapper, Pool};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{item, pool_error, postgres_error};
use crate::domain::{Item, ValidItem};
use crate::server::store::sql::item_columns;
use crate::server::store::{now_rfc3339, DbError, FoldedText, StoreError};
use crate::server::telemetry::CommitMetrics;

/// Most creates one group carries.
const MAX_GROUP: usize = 256;

/// Creates waiting for a group; callers wait (asynchronously) beyond it.
const QUEUE: usize = 4096;

/// Groups being committed at once, each on a pooled connection: while one
/// waits for its flush, the next is being inserted.
const COMMITTERS: usize = 3;

/// One create: under `$1`, or under the next free id when `$1` is null
/// (`coalesce` calls `next_item_id()` only then).
pub(super) const INSERT_ONE: &str = concat!(
    "INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
     version, name_folded, description_folded, category_folded) \
     VALUES (coalesce($1::bigint, next_item_id()), $2, $3, $4, $5, $6, $6, 1, $7, $8, $9) \
     RETURNING ",
    item_columns!()
);

/// Ids for the creates of a group that name none, from the same sequence
/// and by the same rules as a create of its own.
const NEXT_IDS: &str = "SELECT next_item_id() FROM generate_series(1, $1::int)";

/// The group's rows, from parallel arrays; a row whose id exists already
/// is left out (its caller hears of the conflict).
const INSERT_GROUP: &str = concat!(
    "INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
     version, name_folded, description_folded, category_folded) \
     SELECT id, name, description, category, price, now, now, 1, name_folded, \
     description_folded, category_folded \
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::text[], \
     $7::text[], $8::text[], $9::text[]) \
     AS r(id, name, description, category, price, now, name_folded, description_folded, \
     category_folded) \
     ON CONFLICT (id) DO NOTHING RETURNING ",
    item_columns!()
);

/// One caller's create.
struct Create {
    id: Option<i64>,
    item: ValidItem,
    reply: oneshot::Sender<Result<Item, StoreError>>,
}

/// Queues creates for the committing tasks, which end with the store.
pub(super) struct Inserts {
    queue: mpsc::Sender<Create>,
}

impl Inserts {
    pub fn start(pool: Pool, commits: CommitMetrics) -> Inserts {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..COMMITTERS {
            tokio::spawn(commit_loop(
                pool.clone(),
                Arc::clone(&waiting),
                commits.clone(),
            ));
        }
        Inserts { queue }
    }

    /// Stores `item` under `id`, or under the next free id; answers once
    /// the row is durable.
    pub async fn create(&self, id: Option<i64>, item: ValidItem) -> Result<Item, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::backend("the store is shutting down");
        self.queue
            .send(Create { id, item, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes every create waiting (up to [`MAX_GROUP`]) and commits them as
/// one group, until the store is dropped.
async fn commit_loop(
    pool: Pool,
    waiting: Arc<Mutex<mpsc::Receiver<Create>>>,
    commits: CommitMetrics,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        // The lock is let go before the commit: the next group gathers
        // while this one waits for its flush.
        if waiting.lock().await.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        let started = Instant::now();
        let stored = commit(&pool, std::mem::take(&mut group)).await;
        if stored > 0 {
            commits.observe(stored, started.elapsed());
        }
    }
}

/// Inserts a group and answers its callers; returns how many rows it stored.
async fn commit(pool: &Pool, group: Vec<Create>) -> usize {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(e) => {
            answer_all(group, &pool_error(e));
            return 0;
        }
    };
    let mut stored = 0;
    let alone = match insert_group(&client, &group).await {
        Ok(outcomes) => {
            let mut alone = Vec::new();
            for (create, outcome) in group.into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Stored(item) => {
                        stored += 1;
                        let _ = create.reply.send(Ok(item));
                    }
                    Outcome::Conflict(id) => {
                        let _ = create.reply.send(Err(StoreError::Conflict(id)));
                    }
                    Outcome::Alone => alone.push(create),
                }
            }
            alone
        }
        Err(e @ StoreError::Unavailable(_)) => {
            answer_all(group, &e);
            return 0;
        }
        Err(e) => {
            tracing::debug!(error = %e, creates = group.len(), "a group insert failed; inserting its rows one by one");
            group
        }
    };
    for create in alone {
        stored += usize::from(one_by_one(&client, create).await);
    }
    stored
}

fn answer_all(group: Vec<Create>, error: &StoreError) {
    for create in group {
        let _ = create.reply.send(Err(error.shared()));
    }
}

/// How one create of a group ended.
enum Outcome {
    Stored(Item),
    /// The id it chose was taken.
    Conflict(i64),
    /// It goes in a statement of its own: its id was chosen by another
    /// create of the group too, or a client chose the id assigned to it at
    /// the same moment.
    Alone,
}

/// One statement for the whole group, plus one for the ids it needs.
async fn insert_group(
    client: &ClientWrapper,
    group: &[Create],
) -> Result<Vec<Outcome>, StoreError> {
    let chosen: HashSet<i64> = group.iter().filter_map(|c| c.id).collect();
    let needed = group.iter().filter(|c| c.id.is_none()).count();
    let mut fresh = Vec::new();
    if needed > 0 {
        let statement = client
            .prepare_cached(NEXT_IDS)
            .await
            .map_err(postgres_error)?;
        for row in client
            .query(&statement, &[&(needed as i32)])
            .await
            .map_err(postgres_error)?
        {
            let id: i64 = row.try_get(0).map_err(postgres_error)?;
            // An id that another create of this group chose is skipped
            // (the sequence has moved past it for good).
            if !chosen.contains(&id) {
                fresh.push(id);
            }
        }
        fresh.reverse();
    }
    let mut seen = HashSet::with_capacity(chosen.len());
    let ids: Vec<Option<i64>> = group
        .iter()
        .map(|create| match create.id {
            Some(id) => seen.insert(id).then_some(id),
            None => fresh.pop(),
        })
        .collect();

    let rows: Vec<(i64, &ValidItem, FoldedText)> = group
        .iter()
        .zip(&ids)
        .filter_map(|(c, id)| id.map(|id| (id, &c.item, FoldedText::of_item(&c.item))))
        .collect();
    let now = now_rfc3339();
    let row_ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.1.name()).collect();
    let descriptions: Vec<Option<&str>> = rows.iter().map(|r| r.1.description()).collect();
    let categories: Vec<Option<&str>> = rows.iter().map(|r| r.1.category()).collect();
    let prices: Vec<Option<f64>> = rows.iter().map(|r| r.1.price()).collect();
    let times = vec![now.as_str(); rows.len()];
    let names_folded: Vec<&str> = rows.iter().map(|r| r.2.name.as_str()).collect();
    let descriptions_folded: Vec<Option<&str>> =
        rows.iter().map(|r| r.2.description.as_deref()).collect();
    let categories_folded: Vec<Option<&str>> =
        rows.iter().map(|r| r.2.category.as_deref()).collect();
    let statement = client
        .prepare_cached(INSERT_GROUP)
        .await
        .map_err(postgres_error)?;
    let inserted = client
        .query(
            &statement,
            &[
                &row_ids,
                &names,
                &descriptions,
                &categories,
                &prices,
                &times,
                &names_folded,
                &descriptions_folded,
                &categories_folded,
            ],
        )
        .await
        .map_err(postgres_error)?;
    let mut stored = HashMap::with_capacity(inserted.len());
    for row in &inserted {
        let item = item(row)?;
        stored.insert(item.id, item);
    }
    Ok(group
        .iter()
        .zip(ids)
        .map(|(create, id)| match (id, create.id) {
            (Some(id), _) if stored.contains_key(&id) => {
                Outcome::Stored(stored.remove(&id).expect("checked just above"))
            }
            // Its own chosen id was in the statement, and taken.
            (Some(_), Some(chosen)) => Outcome::Conflict(chosen),
            (Some(_), None) | (None, _) => Outcome::Alone,
        })
        .collect())
}

/// One create in a statement of its own; says whether it stored a row.
async fn one_by_one(client: &ClientWrapper, create: Create) -> bool {
    let outcome = insert_one(client, create.id, &create.item).await;
    let stored = outcome.is_ok();
    let _ = create.reply.send(outcome);
    stored
}

/// One create in a statement of its own: a chosen id that is taken is a
/// conflict; an assigned id that a client chose at the same moment is
/// replaced by the next.
async fn insert_one(
    client: &ClientWrapper,
    id: Option<i64>,
    item_in: &ValidItem,
) -> Result<Item, StoreError> {
    let folded = FoldedText::of_item(item_in);
    let now = now_rfc3339();
    let (name, description, category, price) = (
        item_in.name(),
        item_in.description(),
        item_in.category(),
        item_in.price(),
    );
    // A client may insert the id the sequence hands out at the very same
    // moment; the sequence then moves on.
    let mut attempts = 0;
    loop {
        let result = query_one(
            client,
            INSERT_ONE,
            &[
                &id,
                &name,
                &description,
                &category,
                &price,
                &now,
                &folded.name,
                &folded.description,
                &folded.category,
            ],
        )
        .await;
        match (result, id) {
            (Ok(row), _) => return item(&row),
            (Err(StoreError::Backend(e)), Some(id)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(id))
            }
            (Err(StoreError::Backend(e)), None) if e.is_unique_violation() && attempts < 3 => {
                attempts += 1;
            }
            (Err(StoreError::Backend(DbError::Postgres(e))), None)
                if e.code() == Some(&SqlState::SEQUENCE_GENERATOR_LIMIT_EXCEEDED) =>
            {
                return Err(StoreError::IdsExhausted)
            }
            (Err(e), _) => return Err(e),
        }
    }
}

/// The one row of `sql`, prepared once per connection.
async fn query_one(
    client: &ClientWrapper,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<tokio_postgres::Row, StoreError> {
    let statement = client.prepare_cached(sql).await.map_err(postgres_error)?;
    client
        .query_one(&statement, params)
        .await
        .map_err(postgres_error)
}
