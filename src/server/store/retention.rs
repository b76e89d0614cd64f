//! Retention: items deleted longer ago than the trash's retention period
//! are purged, and item revisions beyond the history's retention are
//! removed, by jobs that run beside the server, a small batch per
//! transaction so that they never hold up the writes of requests.

use std::sync::Arc;
use std::time::Duration;

use super::{HistoryMark, ItemStore};

/// Items purged per transaction.
const BATCH: i64 = 500;

/// How often the job looks for expired items: a tenth of the retention,
/// between a second and ten minutes (a day's retention is kept to within
/// minutes, a test's retention of seconds to within a second).
fn period(retention: Duration) -> Duration {
    (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

/// Purges expired items from the trash, now and then, until the task is
/// dropped. Several instances on one database may run it together: an
/// item is purged by one of them.
pub async fn purge_expired_trash(store: Arc<dyn ItemStore>, retention: Duration) {
    // The first look one period after the start, not at it: a server
    // starting is busy enough (and its first pages are cached until the
    // next commit, which a purge is).
    let period = period(retention);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Ok(retention) = chrono::Duration::from_std(retention) else {
            return;
        };
        let Some(cutoff) = chrono::Utc::now().checked_sub_signed(retention) else {
            // Longer ago than time can say: nothing is that old.
            continue;
        };
        let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut purged = 0;
        loop {
            match store.purge_expired(&cutoff, BATCH).await {
                Ok(n) => {
                    purged += n;
                    if n < BATCH as u64 {
                        break;
                    }
                    // Let waiting writes in between batches.
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    tracing::warn!(%error, "purging expired items from the trash failed; retrying later");
                    break;
                }
            }
        }
        if purged > 0 {
            tracing::info!(purged, deleted_before = %cutoff, "purged expired items from the trash");
        }
    }
}

/// Which item revisions are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryRetention {
    /// Every revision (the default).
    Forever,
    /// The newest N revisions of each item.
    Newest(u32),
    /// The revisions recorded within this long.
    Younger(Duration),
}

/// How far back a pass of [`HistoryRetention::Newest`] starts before the
/// previous pass began: revisions are stamped by the instance that wrote
/// them, whose clock may be a little behind this one's.
const CLOCK_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// Removes the revisions `rule` does not keep, every `period` (the first
/// time one period after the start), until the task is dropped. Several
/// instances may run it together: a revision is removed by one of them.
pub async fn prune_history(store: Arc<dyn ItemStore>, rule: HistoryRetention, period: Duration) {
    if rule == HistoryRetention::Forever {
        return;
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Where the next pass of `Newest` starts: the first pass reads every
    // revision, later ones those recorded since the one before began (only
    // an item with a new revision can hold more than N).
    let mut since = String::new();
    loop {
        ticker.tick().await;
        let started = chrono::Utc::now();
        let outcome = match rule {
            HistoryRetention::Forever => return,
            HistoryRetention::Younger(age) => {
                let Some(cutoff) = chrono::Duration::from_std(age)
                    .ok()
                    .and_then(|age| started.checked_sub_signed(age))
                else {
                    continue;
                };
                let cutoff = cutoff.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                prune_older(&*store, &cutoff).await
            }
            HistoryRetention::Newest(keep) => prune_beyond(&*store, i64::from(keep), &since).await,
        };
        match outcome {
            Ok(removed) => {
                if removed > 0 {
                    tracing::info!(
                        removed,
                        ?rule,
                        "removed item revisions past the history's retention"
                    );
                }
                since =
                    (started - CLOCK_SLACK).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            }
            Err(error) => {
                tracing::warn!(%error, "removing old item revisions failed; retrying later");
            }
        }
    }
}

/// Removes every revision recorded before `cutoff`, a batch at a time.
async fn prune_older(store: &dyn ItemStore, cutoff: &str) -> Result<u64, super::StoreError> {
    let mut removed = 0;
    loop {
        let n = store.prune_history_before(cutoff, BATCH).await?;
        removed += n;
        if n < BATCH as u64 {
            return Ok(removed);
        }
        // Let waiting writes in between batches.
        tokio::task::yield_now().await;
    }
}

/// Keeps the newest `keep` revisions of every item with a revision
/// recorded since `since`, a batch of revisions at a time.
async fn prune_beyond(
    store: &dyn ItemStore,
    keep: i64,
    since: &str,
) -> Result<u64, super::StoreError> {
    let mut removed = 0;
    let mut from = HistoryMark::start(since.to_owned());
    loop {
        let (n, next) = store.prune_history_beyond(keep, &from, BATCH).await?;
        removed += n;
        match next {
            Some(next) => from = next,
            None => return Ok(removed),
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_looks_often_enough_for_its_retention_and_never_busily() {
        assert_eq!(
            period(Duration::from_secs(30 * 86_400)),
            Duration::from_secs(600)
        );
        assert_eq!(period(Duration::from_secs(3_000)), Duration::from_secs(300));
        assert_eq!(period(Duration::from_secs(2)), Duration::from_secs(1));
    }
}

/// How often the search index is brought up to date with the writes, when
/// the backend keeps it behind them: a search reads the items written since
/// directly, so the fewer they are the better, but each batch costs a
/// commit of the index.
const SEARCH_INDEX_PERIOD: Duration = Duration::from_millis(250);

/// Items moved into the search index in one transaction (a few
/// milliseconds of the writer, which other writes wait on).
const SEARCH_INDEX_BATCH: i64 = 2_000;

/// Keeps the search index up to date with the writes, until the task is
/// dropped.
pub async fn keep_search_indexed(store: Arc<dyn ItemStore>) {
    let mut ticker = tokio::time::interval(SEARCH_INDEX_PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        loop {
            match store.index_search(SEARCH_INDEX_BATCH).await {
                Ok(n) if n < SEARCH_INDEX_BATCH as u64 => break,
                // Let waiting writes in between batches.
                Ok(_) => tokio::task::yield_now().await,
                Err(error) => {
                    tracing::warn!(%error, "bringing the search index up to date failed; retrying later");
                    break;
                }
            }
        }
    }
}
