//! Each instance's ear on the database: `LISTEN itemserve_items` on a
//! connection of its own, feeding the notifications that every instance
//! sends after each committed write into the [`ChangeFeed`]. When the
//! connection drops it reconnects; changes made meanwhile were not heard,
//! so the feed then tells every stream to reset (reload).
//!
//! The same connection hears user changes (`itemserve_users`) for the
//! [`UserCache`], which answers only while this connection listens.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::Deserialize;
use tokio_postgres::{AsyncMessage, NoTls};

use super::user_cache::{self, UserCache};
use crate::domain::{ChangeKind, ItemChange};
use crate::server::store::ChangeFeed;
use crate::server::telemetry::chain;

/// Why the listener could not start, or stopped listening.
#[derive(Debug, thiserror::Error)]
pub(super) enum ListenError {
    #[error("cannot connect to the database")]
    Connect(#[source] tokio_postgres::Error),
    #[error("cannot LISTEN")]
    Listen(#[source] tokio_postgres::Error),
    #[error("the listening connection failed")]
    Lost(#[source] tokio_postgres::Error),
    #[error("the listening connection closed")]
    Closed,
    #[error("the change listener stopped")]
    Stopped,
}

/// The channel item changes are announced on (`announce.rs`).
const CHANNEL: &str = "itemserve_items";

/// Between attempts to reconnect, and between checks that the feed (the
/// server) still exists.
const PAUSE: Duration = Duration::from_secs(1);

/// One change of a notification, as `announce` builds it.
#[derive(Deserialize)]
struct Announced {
    event: i64,
    kind: ChangeKind,
    /// Absent (null) for `bulk`.
    #[serde(default)]
    id: Option<i64>,
    version: Option<i64>,
}

/// A notification's payload: an array of changes, or one change alone
/// (as builds before the arrays sent them, during a rolling upgrade).
#[derive(Deserialize)]
#[serde(untagged)]
enum Payload {
    Many(Vec<Announced>),
    One(Announced),
}

/// Listens until the feed is dropped (the server stopped). Returns once
/// the first `LISTEN` is in place, so that no write after startup goes
/// unheard; fails when it cannot be.
pub(super) async fn start(
    config: tokio_postgres::Config,
    changes: &Arc<ChangeFeed>,
    users: Arc<UserCache>,
) -> Result<(), ListenError> {
    let feed = Arc::downgrade(changes);
    let (listening, started) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut listening = Some(listening);
        let mut heard_before = false;
        while feed.strong_count() > 0 {
            let listened = listen(&config, &feed, &users, heard_before, &mut listening).await;
            users.set_listening(false);
            match listened {
                Ok(()) => return,
                Err(error) => {
                    if let Some(first) = listening.take() {
                        let _ = first.send(Err(error));
                        return;
                    }
                    tracing::warn!(error = %chain(&error), "lost the database's change notifications; reconnecting");
                    heard_before = true;
                }
            }
            tokio::time::sleep(PAUSE).await;
        }
    });
    started.await.unwrap_or(Err(ListenError::Stopped))
}

/// One connection's worth of listening: `Ok` when the feed is gone, `Err`
/// (why) when the connection failed or was lost.
async fn listen(
    config: &tokio_postgres::Config,
    feed: &Weak<ChangeFeed>,
    users: &UserCache,
    reconnected: bool,
    listening: &mut Option<tokio::sync::oneshot::Sender<Result<(), ListenError>>>,
) -> Result<(), ListenError> {
    let (client, mut connection) = config.connect(NoTls).await.map_err(ListenError::Connect)?;
    let (notes, mut heard) = tokio::sync::mpsc::unbounded_channel();
    // The connection is driven here; its notifications go to `heard`.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(note))) => {
                    if notes.send(note).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {}", user_cache::CHANNEL))
        .await
        .map_err(ListenError::Listen)?;
    users.set_listening(true);
    if let Some(first) = listening.take() {
        let _ = first.send(Ok(()));
    }
    if reconnected {
        if let Some(feed) = feed.upgrade() {
            feed.reset();
        }
    }
    loop {
        tokio::select! {
            note = heard.recv() => {
                let Some(note) = note else { break };
                if note.channel() == user_cache::CHANNEL {
                    users.forget_all();
                    continue;
                }
                let Some(feed) = feed.upgrade() else { return Ok(()) };
                let changes = match serde_json::from_str::<Payload>(note.payload()) {
                    Ok(Payload::Many(changes)) => changes,
                    Ok(Payload::One(change)) => vec![change],
                    Err(error) => {
                        tracing::warn!(%error, payload = note.payload(), "an unreadable change notification");
                        continue;
                    }
                };
                for c in changes {
                    feed.publish_as(
                        format!("pg-{}", c.event),
                        ItemChange { kind: c.kind, id: c.id, version: c.version },
                    );
                }
            }
            _ = tokio::time::sleep(PAUSE) => {
                if feed.strong_count() == 0 {
                    driver.abort();
                    return Ok(());
                }
            }
        }
    }
    drop(client);
    match driver.await {
        Ok(Err(e)) => Err(ListenError::Lost(e)),
        _ => Err(ListenError::Closed),
    }
}
