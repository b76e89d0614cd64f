//! Id assignment: explicit ids have a documented range, and nothing a
//! client sends changes which ids the server assigns to others.

use serde_json::{json, Value};

use crate::helpers::{skip_unless_sqlite, status_and_json, TestApp};
use itemserve::domain::MAX_ITEM_ID;

async fn create_without_id(app: &TestApp) -> i64 {
    app.create(json!({"name": "auto"})).await["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn an_explicit_id_beyond_2_53_minus_1_is_a_422_naming_the_limit() {
    let app = TestApp::spawn().await;
    for id in [
        json!(MAX_ITEM_ID + 1),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(1e20),
    ] {
        let (status, body) = status_and_json(
            app.post_json("/items/", &json!({"id": id, "name": "x"}))
                .await,
        )
        .await;
        assert_eq!(status, 422, "{id}: {body}");
        let detail = &body["detail"][0];
        assert_eq!(detail["type"], "less_than_equal", "{body}");
        assert_eq!(detail["loc"], json!(["body", "id"]));
        assert_eq!(detail["ctx"], json!({"le": MAX_ITEM_ID}));
        assert!(
            detail["msg"].as_str().unwrap().contains("9007199254740991"),
            "{body}"
        );
    }
    // Nothing was stored.
    let (_, items) = status_and_json(app.get("/items/").await).await;
    assert_eq!(items.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_largest_explicit_id_leaves_later_creates_working_and_their_ids_small() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json("/items/", &json!({"id": MAX_ITEM_ID, "name": "far away"}))
            .await,
    )
    .await;
    assert_eq!((status, &body["id"]), (201, &json!(MAX_ITEM_ID)));
    // Before, the next create after an id at the top of the range failed
    // with a 500 for everyone until that row was deleted.
    for expected in 4..=8 {
        assert_eq!(create_without_id(&app).await, expected);
    }
    let (status, body) = status_and_json(app.get(&format!("/items/{MAX_ITEM_ID}")).await).await;
    assert_eq!((status, &body["name"]), (200, &json!("far away")));
}

#[tokio::test]
async fn assigned_ids_step_over_ids_that_clients_chose() {
    let app = TestApp::spawn().await;
    for id in [4, 5, 7] {
        app.create(json!({"id": id, "name": format!("chosen {id}")}))
            .await;
    }
    let assigned: Vec<i64> = [
        create_without_id(&app).await,
        create_without_id(&app).await,
        create_without_id(&app).await,
    ]
    .into();
    assert_eq!(assigned, [6, 8, 9]);
}

#[tokio::test]
async fn the_id_of_a_deleted_item_a_client_chose_is_never_assigned() {
    let app = TestApp::spawn().await;
    app.create(json!({"id": 5, "name": "chosen"})).await;
    let (status, _) = status_and_json(app.delete("/items/5").await).await;
    assert_eq!(status, 200);
    assert_eq!(create_without_id(&app).await, 4);
    // 5 belonged to a deleted item: skipped.
    assert_eq!(create_without_id(&app).await, 6);
    // A client may still choose it again explicitly.
    let (status, _) = status_and_json(
        app.post_json("/items/", &json!({"id": 5, "name": "again"}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn many_writers_mixing_explicit_and_assigned_ids_never_collide() {
    let app = TestApp::with().empty().start().await;
    let tasks = (0..8).map(|w| {
        let client = app.client.clone();
        let url = app.url("/items/");
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                // Writers 0-3 choose ids just ahead of the counter.
                let body = if w < 4 {
                    json!({"id": 20 + w * 10 + i, "name": "chosen"})
                } else {
                    json!({"name": "assigned"})
                };
                let response = client.post(&url).json(&body).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                assert_eq!(status, 201, "{body}");
                ids.push(body["id"].as_i64().unwrap());
            }
            ids
        })
    });
    let mut all: Vec<i64> = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "every create got its own id");
    assert!(all.iter().all(|id| (1..=MAX_ITEM_ID).contains(id)));
}

#[tokio::test]
async fn a_database_wedged_by_an_old_build_upgrades_and_assigns_ids_again() {
    if skip_unless_sqlite("a_database_wedged_by_an_old_build_upgrades_and_assigns_ids_again") {
        return;
    }
    // A database as the previous schema left it after a client stored an
    // item under id 2^63 - 1: SQLite's own sequence is at its end.
    let (app, _dir) = start_on_schema_1(
        "INSERT INTO items (id, name, description, category, created_at, updated_at) VALUES
           (1, 'Café crème', NULL, 'Boissons', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
           (2, 'Straße', 'GRÜNE Ecke', NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
           (9223372036854775807, 'Wedge', NULL, NULL, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
    )
    .await;
    assert_eq!(create_without_id(&app).await, 3);
    // The old rows became searchable by their folded text.
    let (_, found) = status_and_json(app.get("/search/?q=CAF%C3%89").await).await;
    assert_eq!(found["total"], 1, "{found}");
    let (_, found) = status_and_json(app.get("/search/?q=gr%C3%BCne").await).await;
    assert_eq!(found["items"][0]["name"], "Straße", "{found}");
    let (_, found) = status_and_json(app.get("/filter/?category=BOISSONS").await).await;
    assert_eq!(found["total"], 1, "{found}");
}

#[tokio::test]
async fn when_every_id_is_handed_out_a_create_without_one_is_a_503_saying_so() {
    if skip_unless_sqlite("when_every_id_is_handed_out_a_create_without_one_is_a_503_saying_so") {
        return;
    }
    // A database whose sequence an old build had moved to the last id.
    let (app, _dir) = start_on_schema_1(&format!(
        "INSERT INTO items (id, name, created_at, updated_at)
         VALUES ({MAX_ITEM_ID}, 'Last', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');"
    ))
    .await;
    let (status, body) =
        status_and_json(app.post_json("/items/", &json!({"name": "one more"})).await).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("No item ids are left"),
        "{body}"
    );
    // An explicit free id still works.
    let (status, _) = status_and_json(
        app.post_json("/items/", &json!({"id": 7, "name": "chosen"}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
}

/// A server on a database at schema version 1 (as builds before the id
/// counter left it), holding the rows that `inserts` adds.
async fn start_on_schema_1(inserts: &str) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(include_str!("../../migrations/sqlite/V1__create_items.sql"))
        .unwrap();
    conn.execute_batch(inserts).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA user_version = 1;")
        .unwrap();
    drop(conn);
    let app = TestApp::with()
        .database(&format!("sqlite://{}", path.display()))
        .start()
        .await;
    (app, dir)
}
