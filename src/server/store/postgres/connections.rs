//! A fixed set of connections that reconnect by themselves, outside the
//! pool, for two uses:
//!
//! - point reads (one row by key), on connections every request shares:
//!   tokio-postgres pipelines the queries that tasks send on one connection
//!   at the same time, so a handful of PostgreSQL backends answer many
//!   concurrent requests, each woken once for several queries, instead of
//!   one backend per request. Scans (pages, counts) and writes stay on
//!   pooled connections, so a slow scan never holds up the point reads
//!   queued behind it on a shared connection;
//! - the grouped creates (`inserts.rs`), one connection per committing task.
//!
//! A connection found lost is replaced by the next use of its slot (one
//! reconnect per slot at a time); a point read whose connection was lost
//! under it is tried once more on a fresh one, so a database restart costs
//! no read that could have been answered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::{postgres_error, POOL_TIMEOUT};
use crate::server::store::{DbError, StoreError};

/// The connections of one use.
pub(super) struct Connections {
    config: tokio_postgres::Config,
    slots: Box<[Slot]>,
    next: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Connection>>>,
    /// Held while this slot reconnects, so that one task does it.
    reconnecting: tokio::sync::Mutex<()>,
}

/// One open connection and the statements prepared on it.
pub(super) struct Connection {
    pub client: Client,
    statements: Mutex<HashMap<&'static str, Statement>>,
}

impl Connections {
    /// Opens `count` connections (at least one).
    pub async fn open(
        config: tokio_postgres::Config,
        count: usize,
    ) -> Result<Connections, StoreError> {
        let connections = Connections {
            config,
            slots: (0..count.max(1)).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
        };
        for slot in connections.slots.iter() {
            connections.connection(slot).await?;
        }
        Ok(connections)
    }

    /// The open connection of slot `index`.
    pub async fn get(&self, index: usize) -> Result<Arc<Connection>, StoreError> {
        self.connection(&self.slots[index % self.slots.len()]).await
    }

    /// The row `sql` (a statement text fixed at compile time) finds, if
    /// any, on the next connection in turn.
    pub async fn query_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let mut retried = false;
        loop {
            let connection = self.connection(slot).await?;
            let result = async {
                let statement = connection.prepared(sql).await?;
                connection.client.query_opt(&statement, params).await
            }
            .await;
            match result {
                Ok(row) => return Ok(row),
                // Lost under this read: once more, on a new connection.
                Err(e) if e.is_closed() && !retried => retried = true,
                Err(e) => return Err(postgres_error(e)),
            }
        }
    }

    /// The slot's open connection, made anew when it has none or its
    /// connection was lost.
    async fn connection(&self, slot: &Slot) -> Result<Arc<Connection>, StoreError> {
        if let Some(open) = slot.open() {
            return Ok(open);
        }
        let _reconnecting = slot.reconnecting.lock().await;
        // Another task may have reconnected it while this one waited.
        if let Some(open) = slot.open() {
            return Ok(open);
        }
        let connect = self.config.connect(NoTls);
        let (client, driver) = tokio::time::timeout(POOL_TIMEOUT, connect)
            .await
            .map_err(|_| {
                StoreError::Unavailable(DbError::Pool(
                    "timed out connecting to the database".into(),
                ))
            })?
            .map_err(postgres_error)?;
        // Ends when the connection does; the client then reports closed.
        tokio::spawn(driver);
        let connection = Arc::new(Connection {
            client,
            statements: Mutex::default(),
        });
        *slot.lock() = Some(Arc::clone(&connection));
        Ok(connection)
    }
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Arc<Connection>>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> Option<Arc<Connection>> {
        self.lock()
            .as_ref()
            .filter(|c| !c.client.is_closed())
            .cloned()
    }
}

impl Connection {
    /// `sql` prepared on this connection (once; later calls reuse it).
    pub async fn prepared(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        let known = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(statement) = known {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await?;
        self.statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sql, statement.clone());
        Ok(statement)
    }
}
