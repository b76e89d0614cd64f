//! The group-commit writer: one thread owns the only write connection.
//!
//! Every write waiting when a transaction starts joins it, and the whole
//! group becomes durable with a single fsync. No caller hears "done" before
//! the commit that holds its write returned.
//!
//! One failing write must leave the others intact. The group first runs
//! without a savepoint per write: a savepoint makes SQLite copy every page
//! a write touches that the group had already changed, which costs more
//! than the write's own statements once a write touches several tables
//! (an item, its revision, its tombstone). When a write fails, the group is
//! rolled back and run again with a savepoint around each write. Writes
//! that cannot run twice (an import reads its rows once) always run that
//! second way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::Connection;

use crate::server::store::StoreError;
use crate::server::telemetry::CommitMetrics;

/// Most writes one transaction (one fsync) carries.
const MAX_GROUP: usize = 256;

/// Writes queued for the writer thread; callers wait (asynchronously) when
/// it is full.
pub(super) const QUEUE: usize = 1024;

/// One caller's write, queued for the writer thread.
pub(super) trait Write: Send {
    /// Whether running it again after a rolled-back run gives the same
    /// write (its statements are all it does).
    fn replayable(&self) -> bool;
    /// Runs the statements, keeping the outcome (a later run's replaces
    /// it); says whether they succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the group's commit is known: with the
    /// outcome of its run, or with `committed`'s error.
    fn answer(self: Box<Self>, committed: Result<(), &StoreError>);
}

pub(super) type WriteJob = Box<dyn Write>;

/// A write, its outcome once run, and where its answer goes.
pub(super) struct Job<T, F> {
    pub f: F,
    pub replayable: bool,
    pub outcome: Option<Result<T, StoreError>>,
    pub reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Write for Job<T, F>
where
    T: Send + 'static,
    F: FnMut(&Connection) -> Result<T, StoreError> + Send,
{
    fn replayable(&self) -> bool {
        self.replayable
    }

    fn run(&mut self, conn: &Connection) -> bool {
        // A panicking write must not take the writer thread (and every later
        // write) down with it: it fails alone and its statements roll back.
        let f = &mut self.f;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(StoreError::backend("a database write panicked")));
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<(), &StoreError>) {
        let outcome = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            // The write had failed by itself; its own error says more.
            (Err(_), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(e.shared()),
            (Ok(()), None) => Err(StoreError::backend("a write was committed without running")),
        };
        let _ = self.reply.send(outcome);
    }
}

/// The writer thread: takes every queued write (up to [`MAX_GROUP`]) into
/// one transaction, commits it with one fsync, then answers each caller.
/// Ends when the store is dropped.
pub(super) fn write_loop(
    mut conn: Connection,
    mut queue: tokio::sync::mpsc::Receiver<WriteJob>,
    revision: &AtomicU64,
    metrics: &CommitMetrics,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.blocking_recv_many(&mut group, MAX_GROUP) > 0 {
        let started = Instant::now();
        match run_group(&mut conn, &mut group) {
            Ok(()) => {
                metrics.observe(group.len(), started.elapsed());
                // Before anyone hears "done": a reader that then starts sees
                // the new revision and no page cached before this commit.
                revision.fetch_add(1, Ordering::Release);
                group.drain(..).for_each(|job| job.answer(Ok(())));
            }
            Err(e) => {
                tracing::error!(error = %e, writes = group.len(), "a group of writes failed");
                group.drain(..).for_each(|job| job.answer(Err(&e)));
            }
        }
    }
}

/// Runs the jobs in `group`, oldest first (a caller's later write must see
/// its earlier ones), in one immediate transaction, and commits: first all
/// together, then, if one of them failed, again with a savepoint around
/// each. Each job keeps the outcome of its last run.
fn run_group(conn: &mut Connection, group: &mut [WriteJob]) -> Result<(), StoreError> {
    if group.iter().all(|job| job.replayable()) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if group.iter_mut().all(|job| job.run(&tx)) {
            tx.commit()?;
            return Ok(());
        }
        tx.rollback()?;
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for job in group.iter_mut() {
        step(&tx, "SAVEPOINT write")?;
        if !job.run(&tx) {
            step(&tx, "ROLLBACK TO write")?;
        }
        step(&tx, "RELEASE write")?;
    }
    tx.commit()?;
    Ok(())
}

/// Runs one of the savepoint statements around each write, prepared once
/// (opening a savepoint by name, as `Transaction::savepoint` does, parses
/// its SQL anew each time).
fn step(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
