use serde_json::json;

use crate::helpers::{status_and_json, TestApp};

#[tokio::test]
async fn a_new_database_lists_the_three_demo_items() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/items/").await).await;
    assert_eq!(status, 200);
    let items = body.as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["id"], 1);
    assert_eq!(items[0]["name"], "Item One");
    assert_eq!(items[0]["description"], "This is the first item.");
    assert_eq!(items[2]["name"], "Item Three");
    assert_eq!(items[0]["version"], 1);
}

#[tokio::test]
async fn the_items_collection_answers_without_a_trailing_slash_too() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/items").await).await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn demo_items_can_be_turned_off() {
    let app = TestApp::with().empty().start().await;
    let (status, body) = status_and_json(app.get("/items/").await).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
}

#[tokio::test]
async fn reading_one_item_returns_it_with_an_etag() {
    let app = TestApp::spawn().await;
    let response = app.get("/items/2").await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "Item Two");
}

#[tokio::test]
async fn a_read_item_is_never_answered_stale_after_a_write() {
    // Point reads are reused until the next write: read first, so that the
    // answer is stored, then change the item every way there is.
    let app = TestApp::spawn().await;
    let read = |path: &'static str| {
        let app = &app;
        async move {
            let response = app.get(path).await;
            let etag = response.headers().get("etag").cloned();
            let (status, body) = status_and_json(response).await;
            (status, etag, body)
        }
    };
    let (_, etag, body) = read("/items/1").await;
    assert_eq!(etag.unwrap(), "\"1\"");
    assert_eq!(body["name"], "Item One");
    assert_eq!(
        read("/items/1").await.2,
        body,
        "a second read answers the same"
    );

    let put = app.put_json("/items/1", &json!({"name": "Renamed"})).await;
    assert_eq!(put.status(), 200);
    let (status, etag, body) = read("/items/1").await;
    assert_eq!(status, 200);
    assert_eq!(etag.unwrap(), "\"2\"");
    assert_eq!(body["name"], "Renamed");

    let patch = app
        .send_raw(
            reqwest::Method::PATCH,
            "/items/1",
            "application/merge-patch+json",
            br#"{"description": "patched"}"#.to_vec(),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let (_, etag, body) = read("/items/1").await;
    assert_eq!(etag.unwrap(), "\"3\"");
    assert_eq!(body["description"], "patched");

    // A missing item is not stored as missing: created, it is found.
    assert_eq!(read("/items/4").await.0, 404);
    let created = app.post_json("/items/", &json!({"name": "New"})).await;
    assert_eq!(created.status(), 201);
    assert_eq!(read("/items/4").await.0, 200);

    assert_eq!(app.delete("/items/1").await.status(), 200);
    let (status, etag, body) = read("/items/1").await;
    assert_eq!(status, 404);
    assert!(etag.is_none());
    assert_eq!(body, json!({"detail": "Item not found"}));
}

#[tokio::test]
async fn reading_a_missing_item_returns_404() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/items/99").await).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Item not found"}));
}

#[tokio::test]
async fn the_original_guides_post_creates_item_four() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/items/",
            &json!({"id": 4, "name": "Item Four", "description": "Great item"}),
        )
        .await;
    assert_eq!(response.headers()["location"], "/items/4");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 201);
    assert_eq!(body["id"], 4);
    assert_eq!(body["name"], "Item Four");
    assert_eq!(body["description"], "Great item");
    assert_eq!(body["category"], json!(null));
    assert_eq!(body["version"], 1);
    assert_eq!(body["created_at"], body["updated_at"]);
    let (status, fetched) = status_and_json(app.get("/items/4").await).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, body);
}

#[tokio::test]
async fn creating_without_an_id_assigns_the_next_one() {
    let app = TestApp::spawn().await;
    let created = app
        .create(json!({"name": "  Lamp  ", "category": "Lighting", "price": 12.5}))
        .await;
    assert_eq!(created["id"], 4);
    assert_eq!(created["name"], "Lamp", "names are trimmed");
    assert_eq!(created["category"], "Lighting");
    assert_eq!(created["price"], 12.5);
    let timestamp = created["created_at"].as_str().unwrap();
    assert!(
        timestamp.ends_with('Z') && timestamp.contains('T'),
        "RFC 3339: {timestamp}"
    );
}

#[tokio::test]
async fn ids_of_deleted_items_are_not_reused() {
    let app = TestApp::spawn().await;
    assert_eq!(app.delete("/items/3").await.status(), 200);
    let created = app.create(json!({"name": "New"})).await;
    assert_eq!(created["id"], 4);
}

#[tokio::test]
async fn creating_an_existing_id_returns_409() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json("/items/", &json!({"id": 1, "name": "Dup"}))
            .await,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body, json!({"detail": "Item with id 1 already exists"}));
    let (_, original) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(
        original["name"], "Item One",
        "the existing item is untouched"
    );
}

#[tokio::test]
async fn updating_replaces_the_fields_and_bumps_the_version() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.put_json(
            "/items/1",
            &json!({"name": "Item One v2", "price": 3, "category": "Demo"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 1);
    assert_eq!(body["name"], "Item One v2");
    assert_eq!(body["description"], json!(null), "PUT replaces every field");
    assert_eq!(body["price"], 3.0);
    assert_eq!(body["version"], 2);
    assert!(body["updated_at"].as_str() >= body["created_at"].as_str());
    let (_, fetched) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(fetched, body);
}

#[tokio::test]
async fn updating_with_the_same_id_in_the_body_is_fine() {
    let app = TestApp::spawn().await;
    let response = app
        .put_json("/items/2", &json!({"id": 2, "name": "Two"}))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn updating_a_missing_item_returns_404() {
    let app = TestApp::spawn().await;
    let (status, body) =
        status_and_json(app.put_json("/items/42", &json!({"name": "x"})).await).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Item not found"}));
}

#[tokio::test]
async fn if_match_with_the_current_version_allows_the_update() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .put(app.url("/items/1"))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Checked"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn if_match_with_a_stale_version_returns_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.put_json("/items/1", &json!({"name": "First writer"}))
        .await;
    let response = app
        .client
        .put(app.url("/items/1"))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Second writer"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 412);
    assert!(
        body["detail"].as_str().unwrap().contains("version 2"),
        "{body}"
    );
    let (_, item) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(item["name"], "First writer");
}

#[tokio::test]
async fn deleting_an_item_removes_it() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.delete("/items/1").await).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"detail": "Item deleted"}));
    assert_eq!(app.get("/items/1").await.status(), 404);
}

#[tokio::test]
async fn deleting_a_missing_item_returns_404() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.delete("/items/77").await).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Item not found"}));
}

#[tokio::test]
async fn deleting_with_a_stale_if_match_returns_412() {
    let app = TestApp::spawn().await;
    app.put_json("/items/1", &json!({"name": "moved on"})).await;
    let response = app
        .client
        .delete(app.url("/items/1"))
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    assert_eq!(app.get("/items/1").await.status(), 200);
}

#[tokio::test]
async fn the_api_index_lists_the_endpoints() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/api").await).await;
    assert_eq!(status, 200);
    assert!(body["message"].as_str().unwrap().contains("Welcome"));
    assert!(body["endpoints"]["GET /items/"].is_string());
    assert!(body["endpoints"]["POST /items/"].is_string());
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/healthz").await).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, body) = status_and_json(app.get("/readyz").await).await;
    assert_eq!((status, body), (200, json!({"status": "ready"})));
}
