//! The feed of committed item changes behind `GET /items/events`.
//!
//! The storage layer publishes into it after each commit: SQLite from its
//! own writes, PostgreSQL from `LISTEN` (a trigger notifies on every
//! committed change, whichever instance made it; see `postgres/listen.rs`).
//! Each event has an id; the last [`KEPT`] are kept so that a client that
//! reconnects with `Last-Event-ID` gets what it missed. A client that
//! missed more, or one that falls behind the live stream, gets a `reset`
//! event and reloads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::domain::{ChangeKind, ItemChange};

/// Events kept for clients that reconnect.
const KEPT: usize = 1024;

/// Events a live subscriber may fall behind before it gets a `reset`. On
/// PostgreSQL one round of announcements (up to a thousand changes, see
/// `postgres/announce.rs`) reaches the feed at once, faster than any stream
/// can send it on: the buffer holds such a round whole, so a burst of
/// writes does not make every open table reload.
const LIVE_BUFFER: usize = KEPT;

/// One event as it goes out: its id and the JSON of its change.
#[derive(Debug)]
pub struct ChangeEvent {
    pub id: String,
    pub change: ItemChange,
    pub json: String,
}

/// The recent history.
#[derive(Default)]
struct Kept {
    events: VecDeque<Arc<ChangeEvent>>,
    /// Whether events have been dropped off its front since it started.
    trimmed: bool,
}

/// Published changes: a broadcast to live streams and a short history.
pub struct ChangeFeed {
    live: broadcast::Sender<Arc<ChangeEvent>>,
    kept: Mutex<Kept>,
    /// Ids of events numbered here (SQLite); PostgreSQL's come from the
    /// database, so that every instance names an event alike.
    next: AtomicU64,
    /// Set when the server shuts down: every stream ends.
    closing: tokio::sync::watch::Sender<bool>,
    /// A prefix that makes this process's own ids unlike any earlier
    /// process's: after a restart, an old `Last-Event-ID` is unknown (and
    /// answered with a reset) rather than mistaken for a new event.
    epoch: String,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            live: broadcast::channel(LIVE_BUFFER).0,
            kept: Mutex::default(),
            next: AtomicU64::new(1),
            closing: tokio::sync::watch::Sender::new(false),
            epoch: format!(
                "{:x}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_micros())
            ),
        }
    }
}

/// Where a (re)connecting client starts.
pub struct Subscription {
    /// Events after the client's last one, to send first.
    pub missed: Vec<Arc<ChangeEvent>>,
    /// The client's last event is no longer known: it should reload.
    pub gap: bool,
    /// The newest event so far (or this process's start), for the client
    /// to resume from.
    pub latest: String,
    pub live: broadcast::Receiver<Arc<ChangeEvent>>,
}

impl ChangeFeed {
    /// Publishes a change numbered by this process.
    pub fn publish(&self, kind: ChangeKind, id: i64, version: Option<i64>) {
        self.publish_numbered(ItemChange {
            kind,
            id: Some(id),
            version,
        });
    }

    /// Publishes one event for many items changed at once (an import, a
    /// bulk action), numbered by this process.
    pub fn publish_bulk(&self) {
        self.publish_numbered(ItemChange::bulk());
    }

    fn publish_numbered(&self, change: ItemChange) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.publish_as(format!("{}-{n}", self.epoch), change);
    }

    /// Publishes a change under an id given elsewhere (the database's).
    pub fn publish_as(&self, id: String, change: ItemChange) {
        let json = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
        let event = Arc::new(ChangeEvent { id, change, json });
        // Under the lock, so that a subscriber sees each event exactly once:
        // either among the missed ones or live, never both or neither.
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.events.len() == KEPT {
            kept.events.pop_front();
            kept.trimmed = true;
        }
        kept.events.push_back(event.clone());
        // No live subscriber is not an error.
        let _ = self.live.send(event);
    }

    /// Tells every live stream to reload: changes may have been missed.
    /// The history is cleared, so a reconnect with an older id reloads too.
    pub fn reset(&self) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.events.clear();
        kept.trimmed = true;
        let change = ItemChange::reset();
        let json = serde_json::to_string(&change).unwrap_or_else(|_| "{}".into());
        let event = Arc::new(ChangeEvent {
            id: format!("{}-reset-{n}", self.epoch),
            change,
            json,
        });
        kept.events.push_back(event.clone());
        let _ = self.live.send(event);
    }

    /// The id that stands for "this process's start": a client that has
    /// seen no event yet resumes from it.
    fn start(&self) -> String {
        format!("{}-0", self.epoch)
    }

    /// A new stream, after event `last` when the client names one.
    pub fn subscribe(&self, last: Option<&str>) -> Subscription {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let live = self.live.subscribe();
        let (missed, gap) = match last {
            None => (Vec::new(), false),
            Some(last) if last == self.start() => {
                (kept.events.iter().cloned().collect(), kept.trimmed)
            }
            Some(last) => match kept.events.iter().position(|e| e.id == last) {
                Some(at) => (kept.events.iter().skip(at + 1).cloned().collect(), false),
                None => (Vec::new(), true),
            },
        };
        let latest = kept
            .events
            .back()
            .map_or_else(|| self.start(), |e| e.id.clone());
        Subscription {
            missed: if gap { Vec::new() } else { missed },
            gap,
            latest,
            live,
        }
    }

    /// Ends every stream (the server is shutting down) and refuses none:
    /// streams opened later end at once.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Completes when [`ChangeFeed::close`] has been called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|closed| *closed).await;
        }
    }

    /// Open streams right now.
    pub fn subscribers(&self) -> usize {
        self.live.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconnect_gets_exactly_the_events_after_its_last_one() {
        let feed = ChangeFeed::default();
        feed.publish(ChangeKind::Created, 1, Some(1));
        let first = feed.subscribe(None);
        assert!(first.missed.is_empty() && !first.gap);
        feed.publish(ChangeKind::Updated, 1, Some(2));
        feed.publish(ChangeKind::Deleted, 1, None);
        let kept = feed.kept.lock().unwrap().events.clone();
        let again = feed.subscribe(Some(&kept[0].id));
        assert_eq!(
            again
                .missed
                .iter()
                .map(|e| e.change.kind)
                .collect::<Vec<_>>(),
            [ChangeKind::Updated, ChangeKind::Deleted]
        );
        assert!(!again.gap);
        let unknown = feed.subscribe(Some("an id from before a restart"));
        assert!(unknown.gap && unknown.missed.is_empty());
    }

    #[test]
    fn a_reset_forgets_the_history() {
        let feed = ChangeFeed::default();
        feed.publish(ChangeKind::Created, 1, Some(1));
        let old = feed.kept.lock().unwrap().events[0].id.clone();
        feed.reset();
        assert!(feed.subscribe(Some(&old)).gap);
    }

    #[test]
    fn a_client_that_saw_no_event_yet_resumes_from_the_start() {
        let feed = ChangeFeed::default();
        let first = feed.subscribe(None);
        assert_eq!(first.latest, feed.start());
        feed.publish(ChangeKind::Created, 1, Some(1));
        let again = feed.subscribe(Some(&first.latest));
        assert_eq!(again.missed.len(), 1);
        assert!(!again.gap);
        // Another process's start is unknown here: reload.
        assert!(feed.subscribe(Some("0-0")).gap);
    }
}
