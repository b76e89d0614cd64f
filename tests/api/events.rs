//! `GET /items/events`: the change stream that keeps tables live.

use std::time::Duration;

use itemserve::server::config::Switch;
use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};

/// One received server-sent event.
#[derive(Debug)]
pub struct Received {
    pub id: Option<String>,
    pub data: Value,
}

/// An open event stream, read event by event.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Opens the stream, after `last_event_id` when given.
    pub async fn open(app: &TestApp, last_event_id: Option<&str>) -> EventStream {
        let mut request = app.client.get(app.url("/items/events"));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event with data (comments and the `retry:` hint skipped),
    /// within five seconds.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                while let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let (mut id, mut data) = (None, None);
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            id = Some(v.trim().to_owned());
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data = Some(serde_json::from_str(v.trim()).unwrap());
                        }
                    }
                    if let Some(data) = data {
                        return Received { id, data };
                    }
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("an event within 5 s")
    }

    /// Whether the server ended the stream within five seconds.
    pub async fn ends(mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(_)) = self.response.chunk().await {}
        })
        .await
        .is_ok()
    }
}

#[tokio::test]
async fn every_committed_change_reaches_the_stream_in_order() {
    let app = TestApp::spawn().await;
    let mut events = EventStream::open(&app, None).await;
    let created = app.create(json!({"name": "Streamed"})).await;
    let id = created["id"].as_i64().unwrap();
    let response = app
        .put_json(&format!("/items/{id}"), &json!({"name": "Streamed again"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
    // A refused write is not an event.
    assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 404);
    // A restore from the trash is announced as a create.
    let restored = app
        .call(
            reqwest::Method::POST,
            &format!("/trash/{id}/restore"),
            None,
            None,
        )
        .await;
    assert_eq!(restored.status(), 200);
    let later = app.create(json!({"name": "After"})).await;
    // A create that chooses its id is announced like one that does not.
    app.create(json!({"id": 4242, "name": "Chosen"})).await;

    let expected = [
        json!({"kind": "created", "id": id, "version": 1}),
        json!({"kind": "updated", "id": id, "version": 2}),
        json!({"kind": "deleted", "id": id}),
        json!({"kind": "created", "id": id, "version": 4}),
        json!({"kind": "created", "id": later["id"], "version": 1}),
        json!({"kind": "created", "id": 4242, "version": 1}),
    ];
    for want in expected {
        let event = events.next().await;
        assert_eq!(event.data, want);
        assert!(
            event.id.is_some_and(|i| !i.is_empty()),
            "every change has an id"
        );
    }
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_what_it_missed_and_an_unknown_id_a_reset() {
    let app = TestApp::spawn().await;
    let mut events = EventStream::open(&app, None).await;
    app.create(json!({"name": "Seen"})).await;
    let seen = events.next().await;
    drop(events);

    // Written while the client was away.
    let missed_one = app.create(json!({"name": "Missed 1"})).await;
    let missed_two = app.create(json!({"name": "Missed 2"})).await;

    let mut events = EventStream::open(&app, seen.id.as_deref()).await;
    assert_eq!(events.next().await.data["id"], missed_one["id"]);
    assert_eq!(events.next().await.data["id"], missed_two["id"]);
    let live = app.create(json!({"name": "Live"})).await;
    assert_eq!(events.next().await.data["id"], live["id"]);

    let mut events = EventStream::open(&app, Some("from-another-server-life")).await;
    let reset = events.next().await;
    assert_eq!(reset.data, json!({"kind": "reset"}));
    assert!(
        reset.id.is_some(),
        "a reset names the newest event to resume from"
    );
}

#[tokio::test]
async fn shutting_down_ends_open_streams_at_once() {
    let mut app = TestApp::spawn().await;
    let events = EventStream::open(&app, None).await;
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        started.elapsed()
    );
    assert!(events.ends().await);
}

#[tokio::test]
async fn when_reading_needs_a_login_so_does_the_stream() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.public_read = false;
        })
        .start()
        .await;
    let (status, body) = status_and_json(app.get("/items/events").await).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["detail"].is_string(), "{body}");
}

#[tokio::test]
async fn the_welcome_map_lists_the_stream() {
    let app = TestApp::spawn().await;
    let (_, map) = status_and_json(app.get("/api").await).await;
    assert!(
        map["endpoints"]["GET /items/events"]
            .as_str()
            .is_some_and(|d| d.contains("server-sent events")),
        "{map}"
    );
}
