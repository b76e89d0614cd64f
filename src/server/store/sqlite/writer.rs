//! The group-commit writer: one thread owns the only write connection.
//!
//! Every write waiting when a transaction starts joins it, each inside its
//! own savepoint (so one failing write leaves the others intact), and the
//! whole group becomes durable with a single fsync. No caller hears "done"
//! before the commit that holds its write returned.

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
    /// Runs the statements; says whether they succeeded and returns how to
    /// answer the caller once the group's commit is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Completion);
    /// Answers the caller with `error` without running.
    fn fail(self: Box<Self>, error: &StoreError);
}

pub(super) type WriteJob = Box<dyn Write>;
type Completion = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A write and where its answer goes.
pub(super) struct Job<T, F> {
    pub f: F,
    pub reply: tokio::sync::oneshot::Sender<Result<T, StoreError>>,
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
            .unwrap_or_else(|_| Err(StoreError::backend("a database write panicked")));
        let ok = result.is_ok();
        let completion: Completion = Box::new(move |committed| {
            let outcome = match (committed, result) {
                (Ok(()), result) => result,
                (Err(e), Ok(_)) => Err(e.shared()),
                // The write had failed by itself; its own error says more.
                (Err(_), Err(e)) => Err(e),
            };
            let _ = reply.send(outcome);
        });
        (ok, completion)
    }

    fn fail(self: Box<Self>, error: &StoreError) {
        let _ = self.reply.send(Err(error.shared()));
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
