//! Announcing committed changes to every instance: `NOTIFY itemserve_items`
//! with the next event number, for `listen.rs` to hear.
//!
//! Not a trigger inside the write: a transaction that NOTIFYs holds a global
//! lock while it commits, so notifying writes could not share a WAL flush
//! and each durable write would wait for one of its own (figures in
//! docs/benchmarks.md). Instead each write, once committed, queues its change
//! here and one task sends what has queued up since its last round in one
//! statement: one small transaction per batch rather than per write, and one
//! notification (a JSON array) per [`PER_NOTIFICATION`] changes, so that
//! every listening instance wakes once for them. The order of an
//! instance's announcements is its commit order.

use std::time::Duration;

use tokio::sync::mpsc;

use super::connections::{Connection, Connections};
use crate::server::store::StoreError;
use crate::server::telemetry::chain;

use crate::domain::ChangeKind;

/// Changes waiting to be announced; beyond this, changes are dropped (and
/// logged): the database is too slow or gone, and the writes themselves
/// are failing.
const QUEUE: usize = 10_000;

/// Most changes one round announces.
const BATCH: usize = 1_000;

/// How long a round waits for more changes after the first: writes come in
/// bursts, and every notification wakes every listening instance.
const GATHER: Duration = Duration::from_millis(2);

/// Most changes in one notification: each takes about 60 bytes of JSON, and
/// PostgreSQL refuses payloads of 8 000 bytes or more.
const PER_NOTIFICATION: usize = 100;

/// One notification: an array of the changes in order, each with its
/// event number (numbered in order), kind, item and version.
const ANNOUNCE: &str = "SELECT pg_notify('itemserve_items', json_agg(json_build_object(\
     'event', nextval('item_change_ids'), 'kind', c.kind, 'id', c.id, 'version', c.version) \
     ORDER BY c.n)::text) \
     FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS c(kind, id, version, n)";

/// Kind, item (none for `bulk`) and version.
type Change = (&'static str, Option<i64>, Option<i64>);

/// Queues changes for the announcing task, which ends with the store.
pub(super) struct Announcer {
    queue: mpsc::Sender<Change>,
}

impl Announcer {
    /// Connects the announcing task (with generic plans, as the group
    /// inserts do) and starts it.
    pub async fn start(mut config: tokio_postgres::Config) -> Result<Announcer, StoreError> {
        config.options("-c plan_cache_mode=force_generic_plan");
        let connection = Connections::open(config, 1).await?;
        let (queue, changes) = mpsc::channel(QUEUE);
        tokio::spawn(run(connection, changes));
        Ok(Announcer { queue })
    }

    pub fn send(&self, kind: ChangeKind, id: Option<i64>, version: Option<i64>) {
        let kind = kind.as_str();
        if self.queue.try_send((kind, id, version)).is_err() {
            tracing::warn!(
                ?id,
                kind,
                "too many changes waiting to be announced; dropped one"
            );
        }
    }
}

async fn run(connection: Connections, mut changes: mpsc::Receiver<Change>) {
    let mut batch = Vec::with_capacity(BATCH);
    while changes.recv_many(&mut batch, BATCH).await > 0 {
        tokio::time::sleep(GATHER).await;
        while batch.len() < BATCH {
            match changes.try_recv() {
                Ok(change) => batch.push(change),
                Err(_) => break,
            }
        }
        let sent = match connection.get(0).await {
            Ok(connection) => announce(&connection, &batch)
                .await
                .map_err(super::postgres_error),
            Err(e) => Err(e),
        };
        if let Err(error) = sent {
            tracing::warn!(error = %chain(&error), changes = batch.len(), "could not announce changes to the event streams");
        }
        batch.clear();
    }
}

/// Sends `batch` in notifications of at most [`PER_NOTIFICATION`] changes,
/// in one transaction when there are several (delivered together, in order).
async fn announce(connection: &Connection, batch: &[Change]) -> Result<(), tokio_postgres::Error> {
    let client = &connection.client;
    let statement = connection.prepared(ANNOUNCE).await?;
    let send = |chunk: &[Change]| {
        let kinds: Vec<&str> = chunk.iter().map(|c| c.0).collect();
        let ids: Vec<Option<i64>> = chunk.iter().map(|c| c.1).collect();
        let versions: Vec<Option<i64>> = chunk.iter().map(|c| c.2).collect();
        let statement = statement.clone();
        async move {
            client
                .execute(&statement, &[&kinds, &ids, &versions])
                .await
                .map(drop)
        }
    };
    if batch.len() <= PER_NOTIFICATION {
        return send(batch).await;
    }
    // This connection is the announcer's alone: a transaction on it is safe.
    let sent = async {
        client.batch_execute("BEGIN").await?;
        for chunk in batch.chunks(PER_NOTIFICATION) {
            send(chunk).await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if sent.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    sent
}
