//! The trash's retention: items deleted longer ago than the retention
//! period are purged by a job that runs beside the server, a small batch
//! per transaction so that it never holds up the writes of requests.

use std::sync::Arc;
use std::time::Duration;

use super::ItemStore;

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
