//! `GET /items/events`: committed item changes as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use super::error::ApiError;
use super::extract::{Can, Read};
use super::openapi::Detail;
use crate::domain::ItemChange;
use crate::server::rate::ClientKey;
use crate::server::state::AppState;
use crate::server::store::ChangeEvent;

/// How soon a browser reconnects after the stream drops.
const RETRY: Duration = Duration::from_secs(1);

/// How long a client over its stream cap is asked to wait.
const STREAM_RETRY: Duration = Duration::from_secs(5);

/// A comment this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn event(change: &ChangeEvent) -> Event {
    Event::default().id(&change.id).data(&change.json)
}

/// "Reload": changes may have been missed. Carries the newest event's id
/// (when there is one) so that the next reconnect resumes from there.
fn reset(latest: Option<&str>) -> Event {
    let json = serde_json::to_string(&ItemChange::reset()).unwrap_or_default();
    let event = Event::default().data(json);
    match latest {
        Some(id) => event.id(id),
        None => event,
    }
}

/// `GET /items/events`.
#[utoipa::path(
    get,
    path = "/items/events",
    tag = "items",
    summary = "Follow changes (server-sent events)",
    description = "A `text/event-stream` of committed item changes, from every client and, on \
PostgreSQL, every instance: one event per create, update and delete, with `data` like \
`{\"kind\":\"updated\",\"id\":1,\"version\":2}`. Each event has an `id`; a client that \
reconnects with `Last-Event-ID` (browsers' `EventSource` does so by itself) first gets the \
events it missed. `{\"kind\":\"reset\"}` means changes may have been missed (the client's \
last event is too old, or it fell behind): reload what you show. A comment line every 15 s \
keeps the connection open; the stream ends when the server shuts down.",
    params(("Last-Event-ID" = Option<String>, Header, description = "The id of the last event received")),
    responses(
        (status = 200, description = "The event stream (never ends by itself)", content_type = "text/event-stream", body = ItemChange),
        (status = 401, description = "Reading requires a login here and none was given", body = Detail),
        (status = 429, description = "This client has too many streams open already", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    _: Can<Read>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Some(slot) = state.streams.take(ClientKey::from(client.ip())) else {
        return Err(ApiError::TooManyRequests(
            format!(
                "Too many event streams open from your address (at most {}); close one, \
                 or retry later",
                state.streams.limit()
            ),
            STREAM_RETRY,
        ));
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let subscription = state.changes.subscribe(last);
    let first: Vec<Event> = if subscription.gap {
        vec![reset(Some(&subscription.latest))]
    } else if subscription.missed.is_empty() {
        // No data: only names where the client stands, so that a reconnect
        // (even to a restarted server) can tell what it missed.
        vec![Event::default().id(&subscription.latest)]
    } else {
        subscription.missed.iter().map(|e| event(e)).collect()
    };
    let live = stream::unfold(subscription.live, |mut live| async move {
        let next = match live.recv().await {
            Ok(change) => event(&change),
            // Fell behind the live stream: what was skipped is unknown.
            Err(RecvError::Lagged(_)) => reset(None),
            Err(RecvError::Closed) => return None,
        };
        Some((next, live))
    });
    let events = stream::once(async { Event::default().retry(RETRY) })
        .chain(stream::iter(first))
        .chain(live)
        // The slot is held for as long as the stream lives.
        .map(move |event| {
            let _held = &slot;
            Ok::<_, Infallible>(event)
        })
        .take_until(state.changes.closed());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
