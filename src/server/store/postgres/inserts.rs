//! Creates, committed in groups: the creates that arrive while one group
//! commits are inserted together by the next, with one multi-row statement
//! in one transaction, so a whole group waits for one WAL flush instead of
//! one flush each (PostgreSQL joins concurrent commits into one flush too,
//! but on a busy machine it joins few, close to one flush per create; figures
//! in docs/benchmarks.md). No caller hears "stored" before the commit holding
//! its row returned.
//!
//! One task commits the groups, one after the other, on a connection of its
//! own. Several committing at once (so that one group is inserted while the
//! last waits for its flush) is slower: an idle committer takes whatever
//! has just arrived, often a single create, and every statement has a fixed
//! cost, so the groups shrink and the commits multiply (figures in
//! docs/benchmarks.md).
//!
//! A group fails as a whole only when the connection is lost; any other
//! failure of the group statement (a row PostgreSQL refuses) makes its
//! creates go one by one, so each caller gets its own answer.

use std::collections::HashSet;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::connections::{Connection, Connections};
use super::{item, postgres_error};
use crate::domain::{Item, ValidItem};
use crate::server::store::sql::{item_columns, revision_columns};
use crate::server::store::{now_rfc3339, DbError, FoldedText, Origin, StoreError};
use crate::server::telemetry::CommitMetrics;

/// Most creates one group carries.
const MAX_GROUP: usize = 256;

/// Creates waiting for a group; callers wait (asynchronously) beyond it.
const QUEUE: usize = 4096;

/// One create: under `$1`, or under the next free id when `$1` is null
/// (`coalesce` calls `next_item_id()` only then).
const INSERT_ONE: &str = concat!(
    "WITH inserted AS (INSERT INTO items (id, name, description, category, price, created_at, \
     updated_at, version, name_folded, description_folded, category_folded) \
     VALUES (coalesce($1::bigint, next_item_id()), $2, $3, $4, $5, $6, $6, \
     coalesce((SELECT version FROM item_tombstones WHERE id = $1::bigint), 0) + 1, \
     $7, $8, $9) \
     RETURNING ",
    item_columns!(),
    "), revision AS (INSERT INTO item_revisions (",
    revision_columns!(),
    ") SELECT id, version, 'create', created_at, $10::text, $11::text, $12::text, $13::text, \
     NULL, name, description, \
     category, price, created_at, FALSE, NULL, NULL, NULL, NULL FROM inserted) \
     SELECT * FROM inserted"
);

/// Records the revision of each create of a group, from the `inserted`
/// and `input` steps of [`INSERT_GROUP`] and [`INSERT_ASSIGNED`].
macro_rules! record_created {
    () => {
        concat!(
            "revision AS (INSERT INTO item_revisions (",
            revision_columns!(),
            ") SELECT i.id, i.version, 'create', i.created_at, input.actor, input.token, \
             input.door, input.request_id, NULL, i.name, i.description, i.category, i.price, \
             i.created_at, FALSE, NULL, NULL, NULL, NULL \
             FROM inserted i JOIN input ON input.id = i.id) "
        )
    };
}

/// The whole group in one statement (one round trip, one commit). The
/// creates come in parallel arrays; those that name no id get one straight
/// from the sequence (`slot` numbers them), skipping any that another create
/// of the group chose. Left out of the insert, and so without a row in the
/// answer: an id that exists already (`ON CONFLICT`), and an assigned id
/// that is retired or in use (the rare case `next_item_id()` steps over;
/// that create then goes alone). The answer has a row per create, in
/// order: the stored item's columns (null when it was left out), then its
/// position.
const INSERT_GROUP: &str = concat!(
    "WITH ids AS MATERIALIZED (\
        SELECT id, row_number() OVER () AS slot \
        FROM (SELECT nextval('item_ids') AS id FROM generate_series(1, $11::int)) AS s \
        WHERE id <> ALL ($12::bigint[])), \
     input AS MATERIALIZED (\
        SELECT r.n, coalesce(r.id, ids.id) AS id, r.id IS NULL AS assigned, r.name, \
        r.description, r.category, r.price, r.now, r.name_folded, r.description_folded, \
        r.category_folded, r.actor, r.token, r.door, r.request_id \
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::float8[], \
        $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $13::text[], \
        $14::text[], $15::text[], $16::text[]) WITH ORDINALITY \
        AS r(id, name, description, category, price, now, name_folded, description_folded, \
        category_folded, slot, actor, token, door, request_id, n) \
        LEFT JOIN ids ON ids.slot = r.slot), \
     inserted AS (\
        INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
        version, name_folded, description_folded, category_folded) \
        SELECT id, name, description, category, price, now, now, \
        coalesce((SELECT t.version FROM item_tombstones t \
        WHERE NOT input.assigned AND t.id = input.id), 0) + 1, \
        name_folded, description_folded, category_folded FROM input \
        WHERE NOT (assigned AND EXISTS (SELECT 1 FROM retired_item_ids t WHERE t.id = input.id)) \
        ON CONFLICT (id) DO NOTHING RETURNING ",
    item_columns!(),
    "), ",
    record_created!(),
    "SELECT inserted.*, input.n FROM input LEFT JOIN inserted ON inserted.id = input.id \
     ORDER BY input.n"
);

/// [`INSERT_GROUP`] for the usual group, in which no create names its id:
/// each takes the sequence's next value, with no ids to skip and no slots
/// to match, and the time is one parameter, which spares PostgreSQL a
/// noticeable part of its work per group (figures in docs/benchmarks.md).
/// Same answer: the stored item's columns (null when left out), then the
/// create's position.
const INSERT_ASSIGNED: &str = concat!(
    "WITH input AS MATERIALIZED (\
        SELECT nextval('item_ids') AS id, r.* \
        FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $6::text[], $7::text[], \
        $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) WITH ORDINALITY \
        AS r(name, description, category, price, name_folded, description_folded, \
        category_folded, actor, token, door, request_id, n)), \
     inserted AS (\
        INSERT INTO items (id, name, description, category, price, created_at, updated_at, \
        version, name_folded, description_folded, category_folded) \
        SELECT id, name, description, category, price, $5::text, $5::text, 1, name_folded, \
        description_folded, category_folded FROM input \
        WHERE NOT EXISTS (SELECT 1 FROM retired_item_ids t WHERE t.id = input.id) \
        ON CONFLICT (id) DO NOTHING RETURNING ",
    item_columns!(),
    "), ",
    record_created!(),
    "SELECT inserted.*, input.n FROM input LEFT JOIN inserted ON inserted.id = input.id \
     ORDER BY input.n"
);

/// One caller's create.
struct Create {
    id: Option<i64>,
    item: ValidItem,
    origin: Origin,
    reply: oneshot::Sender<Result<Item, StoreError>>,
}

/// Queues creates for the committing tasks, which end with the store.
pub(super) struct Inserts {
    queue: mpsc::Sender<Create>,
}

impl Inserts {
    /// Connects the committing task and starts it. Its connection always
    /// uses generic plans: PostgreSQL would otherwise plan the group
    /// statement anew for every group (its custom plans look cheaper for
    /// the arrays it is given), which cost a third of each commit here.
    pub async fn start(
        mut config: tokio_postgres::Config,
        commits: CommitMetrics,
    ) -> Result<Inserts, StoreError> {
        config.options("-c plan_cache_mode=force_generic_plan");
        let connection = Connections::open(config, 1).await?;
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(commit_loop(connection, waiting, commits));
        Ok(Inserts { queue })
    }

    /// Stores `item` under `id`, or under the next free id; answers once
    /// the row is durable.
    pub async fn create(
        &self,
        id: Option<i64>,
        item: ValidItem,
        origin: Origin,
    ) -> Result<Item, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::backend("the store is shutting down");
        self.queue
            .send(Create {
                id,
                item,
                origin,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes every create waiting (up to [`MAX_GROUP`]) and commits them as
/// one group, until the store is dropped.
async fn commit_loop(
    connection: Connections,
    mut waiting: mpsc::Receiver<Create>,
    commits: CommitMetrics,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    loop {
        if waiting.recv_many(&mut group, MAX_GROUP).await == 0 {
            return;
        }
        let started = Instant::now();
        let group = std::mem::take(&mut group);
        let stored = match connection.get(0).await {
            Ok(connection) => commit(&connection, group).await,
            Err(e) => {
                answer_all(group, &e);
                0
            }
        };
        if stored > 0 {
            commits.observe(stored, started.elapsed());
        }
    }
}

/// Inserts a group and answers its callers; returns how many rows it stored.
async fn commit(client: &Connection, group: Vec<Create>) -> usize {
    let mut stored = 0;
    let alone = match insert_group(client, &group).await {
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
        stored += usize::from(one_by_one(client, create).await);
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

/// One statement for the whole group (see [`INSERT_GROUP`]).
async fn insert_group(client: &Connection, group: &[Create]) -> Result<Vec<Outcome>, StoreError> {
    // Two creates of the group that choose one id: the later ones go
    // alone, and hear of the conflict there.
    let mut chosen = HashSet::new();
    let in_statement: Vec<bool> = group
        .iter()
        .map(|c| c.id.is_none_or(|id| chosen.insert(id)))
        .collect();
    let creates: Vec<(&Create, FoldedText)> = group
        .iter()
        .zip(&in_statement)
        .filter(|(_, inside)| **inside)
        .map(|(c, _)| (c, FoldedText::of_item(&c.item)))
        .collect();
    let now = now_rfc3339();
    let names: Vec<&str> = creates.iter().map(|(c, _)| c.item.name()).collect();
    let descriptions: Vec<Option<&str>> =
        creates.iter().map(|(c, _)| c.item.description()).collect();
    let categories: Vec<Option<&str>> = creates.iter().map(|(c, _)| c.item.category()).collect();
    let prices: Vec<Option<f64>> = creates.iter().map(|(c, _)| c.item.price()).collect();
    let names_folded: Vec<&str> = creates.iter().map(|(_, f)| f.name.as_str()).collect();
    let descriptions_folded: Vec<Option<&str>> = creates
        .iter()
        .map(|(_, f)| f.description.as_deref())
        .collect();
    let categories_folded: Vec<Option<&str>> =
        creates.iter().map(|(_, f)| f.category.as_deref()).collect();
    let actors: Vec<Option<&str>> = creates
        .iter()
        .map(|(c, _)| c.origin.actor.as_deref())
        .collect();
    let tokens: Vec<Option<&str>> = creates
        .iter()
        .map(|(c, _)| c.origin.token.as_deref())
        .collect();
    let doors: Vec<&str> = creates
        .iter()
        .map(|(c, _)| c.origin.door.as_str())
        .collect();
    let request_ids: Vec<Option<&str>> = creates
        .iter()
        .map(|(c, _)| c.origin.request_id.as_deref())
        .collect();
    // What only the general statement takes, for a group in which some
    // create names its id.
    let ids: Vec<Option<i64>>;
    let times: Vec<&str>;
    let slots: Vec<Option<i64>>;
    let draw: i32;
    let chosen_ids: Vec<i64>;
    let (sql, params): (&'static str, Vec<&(dyn ToSql + Sync)>) = if chosen.is_empty() {
        let params: Vec<&(dyn ToSql + Sync)> = vec![
            &names,
            &descriptions,
            &categories,
            &prices,
            &now,
            &names_folded,
            &descriptions_folded,
            &categories_folded,
            &actors,
            &tokens,
            &doors,
            &request_ids,
        ];
        (INSERT_ASSIGNED, params)
    } else {
        ids = creates.iter().map(|(c, _)| c.id).collect();
        times = vec![now.as_str(); creates.len()];
        let mut assigned: i64 = 0;
        slots = creates
            .iter()
            .map(|(c, _)| {
                c.id.is_none().then(|| {
                    assigned += 1;
                    assigned
                })
            })
            .collect();
        // As many ids as needed, plus one for each that a create chose
        // (those are skipped); none when every create chose its own.
        draw = if assigned == 0 {
            0
        } else {
            (assigned + chosen.len() as i64) as i32
        };
        chosen_ids = chosen.into_iter().collect();
        let params: Vec<&(dyn ToSql + Sync)> = vec![
            &ids,
            &names,
            &descriptions,
            &categories,
            &prices,
            &times,
            &names_folded,
            &descriptions_folded,
            &categories_folded,
            &slots,
            &draw,
            &chosen_ids,
            &actors,
            &tokens,
            &doors,
            &request_ids,
        ];
        (INSERT_GROUP, params)
    };
    let statement = client.prepared(sql).await.map_err(postgres_error)?;
    let answer = client
        .client
        .query(&statement, &params)
        .await
        .map_err(postgres_error)?;
    if answer.len() != creates.len() {
        return Err(StoreError::backend(format!(
            "a group insert of {} creates answered {} rows",
            creates.len(),
            answer.len()
        )));
    }
    let mut rows = answer.iter();
    group
        .iter()
        .zip(in_statement)
        .map(|(create, inside)| {
            let Some(row) = inside.then(|| rows.next()).flatten() else {
                return Ok(Outcome::Alone);
            };
            let stored: Option<i64> = row.try_get(0).map_err(postgres_error)?;
            Ok(match (stored, create.id) {
                (Some(_), _) => Outcome::Stored(item(row)?),
                (None, Some(chosen)) => Outcome::Conflict(chosen),
                (None, None) => Outcome::Alone,
            })
        })
        .collect()
}

/// One create in a statement of its own; says whether it stored a row.
async fn one_by_one(client: &Connection, create: Create) -> bool {
    let outcome = insert_one(client, create.id, &create.item, &create.origin).await;
    let stored = outcome.is_ok();
    let _ = create.reply.send(outcome);
    stored
}

/// One create in a statement of its own: a chosen id that is taken is a
/// conflict; an assigned id that a client chose at the same moment is
/// replaced by the next.
async fn insert_one(
    client: &Connection,
    id: Option<i64>,
    item_in: &ValidItem,
    origin: &Origin,
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
                &origin.actor,
                &origin.token,
                &origin.door.as_str(),
                &origin.request_id,
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
    client: &Connection,
    sql: &'static str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<tokio_postgres::Row, StoreError> {
    let statement = client.prepared(sql).await.map_err(postgres_error)?;
    client
        .client
        .query_one(&statement, params)
        .await
        .map_err(postgres_error)
}
