//! The trash: a deleted item leaves every listing but is kept as it was
//! deleted, to be restored (with its history) or purged for good, by an
//! admin or by the retention job.

use std::time::{Duration, Instant};

use itemserve::server::config::Retention;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{all_pages, status_and_json, TestApp};
use crate::rpc::call;

/// Every item of the trash (following `next`), as `token` sees it.
async fn trash(app: &TestApp, path: &str, token: Option<&str>) -> Vec<Value> {
    all_pages(app, path, token, "items").await
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

/// The actions of an item's history, newest first.
async fn actions(app: &TestApp, id: i64) -> Vec<String> {
    let (status, page) = status_and_json(app.get(&format!("/items/{id}/history")).await).await;
    assert_eq!(status, 200, "{page}");
    page["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_owned())
        .collect()
}

/// What every way of reading the catalogue says about the Lighting
/// category: ids listed, found by search, exported, counted, and whether
/// the category menu has it.
async fn lighting(app: &TestApp) -> (Vec<i64>, Vec<i64>, Vec<i64>, Value, bool) {
    let (_, listed) = status_and_json(app.get("/items/?category=Lighting").await).await;
    let (_, found) = status_and_json(app.get("/search/?q=lamp").await).await;
    let export = app
        .get("/items/export?format=ndjson&category=Lighting")
        .await;
    assert_eq!(export.status(), 200);
    let exported: Vec<i64> = export
        .text()
        .await
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    let query = json!({"query": {"skip": 0, "limit": 10, "q": null, "category": "Lighting",
        "price_lt": null, "sort": "Id", "descending": false}});
    let (status, page) = call(app, "/rpc/items/list", query.to_string()).await;
    assert_eq!(status, 200, "{page}");
    let (status, categories) = call(app, "/rpc/items/categories", "{}").await;
    assert_eq!(status, 200, "{categories}");
    let in_menu = categories.as_array().unwrap().contains(&json!("Lighting"));
    let found = match found.as_array() {
        Some(items) => ids(items),
        None => ids(found["items"].as_array().unwrap()),
    };
    (
        ids(listed.as_array().unwrap()),
        found,
        exported,
        page["total"]["n"].clone(),
        in_menu,
    )
}

#[tokio::test]
async fn a_deleted_item_leaves_every_listing_waits_in_the_trash_and_comes_back_with_its_history() {
    let app = TestApp::with().empty().start().await;
    let lamp = app
        .create(json!({"name": "Desk lamp", "description": "Brass", "category": "Lighting", "price": 10.0}))
        .await;
    let id = lamp["id"].as_i64().unwrap();
    let put = app
        .put_json(
            &format!("/items/{id}"),
            &json!({"name": "Desk lamp", "description": "Brass", "category": "Lighting", "price": 12.5}),
        )
        .await;
    assert_eq!(put.status(), 200);
    assert_eq!(
        lighting(&app).await,
        (vec![id], vec![id], vec![id], json!(1), true)
    );

    // The original contract's answer, and the item is gone everywhere.
    let (status, body) = status_and_json(app.delete(&format!("/items/{id}")).await).await;
    assert_eq!((status, body), (200, json!({"detail": "Item deleted"})));
    let (status, body) = status_and_json(app.get(&format!("/items/{id}")).await).await;
    assert_eq!((status, body), (404, json!({"detail": "Item not found"})));
    assert_eq!(
        lighting(&app).await,
        (vec![], vec![], vec![], json!(0), false)
    );

    // In the trash, as it was deleted.
    let trashed = trash(&app, "/trash", None).await;
    assert_eq!(trashed.len(), 1, "{trashed:?}");
    let entry = &trashed[0];
    for field in ["id", "name", "description", "category", "created_at"] {
        assert_eq!(entry[field], lamp[field], "{field}");
    }
    assert_eq!(entry["price"], 12.5, "its last price");
    assert_eq!(entry["version"], 3, "the deletion's version");
    assert_eq!(entry["deleted_by"], Value::Null, "nobody is logged in");
    assert!(entry["deleted_at"].as_str().unwrap() > lamp["created_at"].as_str().unwrap());

    // Restored: back everywhere, at the next version, created when it was.
    let restored = app
        .call(Method::POST, &format!("/trash/{id}/restore"), None, None)
        .await;
    assert_eq!(restored.headers()["etag"], "\"4\"");
    let (status, restored) = status_and_json(restored).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["version"], 4);
    assert_eq!(restored["price"], 12.5);
    assert_eq!(restored["created_at"], lamp["created_at"]);
    let (_, got) = status_and_json(app.get(&format!("/items/{id}")).await).await;
    assert_eq!(got, restored);
    assert_eq!(
        lighting(&app).await,
        (vec![id], vec![id], vec![id], json!(1), true)
    );
    assert!(trash(&app, "/trash", None).await.is_empty());
    assert_eq!(
        actions(&app, id).await,
        ["restore", "delete", "update", "create"]
    );
    let (_, revision) = status_and_json(app.get(&format!("/items/{id}/history/4")).await).await;
    assert_eq!(revision["door"], "rest");
    assert_eq!(revision["item"], restored);

    // It is no longer in the trash.
    let (status, body) = status_and_json(
        app.call(Method::POST, &format!("/trash/{id}/restore"), None, None)
            .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (404, json!({"detail": "Item not found in the trash"}))
    );
}

#[tokio::test]
async fn an_id_taken_since_the_deletion_cannot_be_restored_and_the_item_stays_in_the_trash() {
    let app = TestApp::with().empty().start().await;
    let first = app.create(json!({"id": 500, "name": "First"})).await;
    assert_eq!(app.delete("/items/500").await.status(), 200);
    let second = app.create(json!({"id": 500, "name": "Second"})).await;
    assert_eq!(second["version"], first["version"].as_i64().unwrap() + 2);

    let (status, body) = status_and_json(
        app.call(Method::POST, "/trash/500/restore", None, None)
            .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body["detail"],
        "Item 500 cannot be restored: an item with id 500 was created after it was deleted; \
         delete that item first"
    );
    assert_eq!(ids(&trash(&app, "/trash", None).await), [500]);
    let (_, still) = status_and_json(app.get("/items/500").await).await;
    assert_eq!(still["name"], "Second");

    // Deleting the second puts it in the trash in place of the first.
    assert_eq!(app.delete("/items/500").await.status(), 200);
    let trashed = trash(&app, "/trash", None).await;
    assert_eq!((trashed.len(), &trashed[0]["name"]), (1, &json!("Second")));
    let (status, restored) = status_and_json(
        app.call(Method::POST, "/trash/500/restore", None, None)
            .await,
    )
    .await;
    assert_eq!(
        (status, &restored["name"]),
        (200, &json!("Second")),
        "{restored}"
    );
}

#[tokio::test]
async fn only_admins_purge_and_a_purged_item_is_gone_with_its_history_and_its_id() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let editor = app.user_token(&admin, "edith", "editor").await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let (status, item) = status_and_json(
        app.call(
            Method::POST,
            "/items/",
            Some(&editor),
            Some(&json!({"name": "Old chair"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{item}");
    let id = item["id"].as_i64().unwrap();
    let path = format!("/items/{id}");
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&editor), None)
            .await
            .status(),
        200
    );

    // Whoever may read items sees the trash (here anyone: reading is
    // public by default), and who deleted what.
    let trashed = trash(&app, "/trash", Some(&viewer)).await;
    assert_eq!(trashed[0]["deleted_by"], "edith");
    assert_eq!(trash(&app, "/trash", None).await, trashed);

    let purge = format!("/trash/{id}");
    let restore = format!("/trash/{id}/restore");
    for (method, path, token, want) in [
        (Method::DELETE, &purge, &editor, 403),
        (Method::DELETE, &purge, &viewer, 403),
        (Method::POST, &restore, &viewer, 403),
    ] {
        let (status, body) = status_and_json(app.call(method, path, Some(token), None).await).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("role"), "{body}");
    }
    let (status, body) = status_and_json(app.call(Method::DELETE, &purge, None, None).await).await;
    assert_eq!(status, 401, "{body}");

    let (status, body) =
        status_and_json(app.call(Method::DELETE, &purge, Some(&admin), None).await).await;
    assert_eq!((status, body), (200, json!({"detail": "Item purged"})));
    assert!(trash(&app, "/trash", Some(&admin)).await.is_empty());
    let (status, body) = status_and_json(
        app.call(Method::GET, &format!("{path}/history"), Some(&admin), None)
            .await,
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Item not found"})));
    for (method, path) in [(Method::DELETE, &purge), (Method::POST, &restore)] {
        let (status, body) =
            status_and_json(app.call(method, path, Some(&admin), None).await).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "Item not found in the trash"}))
        );
    }
    // Its id is never handed out again.
    let (_, next) = status_and_json(
        app.call(
            Method::POST,
            "/items/",
            Some(&editor),
            Some(&json!({"name": "New chair"})),
        )
        .await,
    )
    .await;
    assert!(next["id"].as_i64().unwrap() > id, "{next}");

    // Where reading needs a login, so does the trash.
    let private = TestApp::with()
        .empty()
        .auth()
        .configure(|config| config.public_read = false)
        .start()
        .await;
    let (status, body) = status_and_json(private.get("/trash").await).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn the_trash_pages_by_cursor_newest_deletion_first_and_searches_as_search_does() {
    let app = TestApp::with().empty().start().await;
    let names = ["Café table", "Oak table", "Lamp", "CAFÉ chair", "Rug"];
    let mut deleted = Vec::new();
    for name in names {
        let item = app.create(json!({"name": name})).await;
        let id = item["id"].as_i64().unwrap();
        assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
        deleted.push(id);
        // Distinct deletion times, to the millisecond.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let newest_first: Vec<i64> = deleted.iter().rev().copied().collect();
    assert_eq!(
        ids(&trash(&app, "/trash?limit=2", None).await),
        newest_first
    );
    assert_eq!(ids(&trash(&app, "/trash", None).await), newest_first);
    // Folded like search: CAFÉ finds café, in either case.
    assert_eq!(
        ids(&trash(&app, "/trash?q=caf%C3%A9&limit=1", None).await),
        [deleted[3], deleted[0]]
    );
    assert!(trash(&app, "/trash?q=sofa", None).await.is_empty());
    assert!(trash(&app, "/trash?q=a%00b", None).await.is_empty());

    let (_, first) = status_and_json(app.get("/trash?limit=2").await).await;
    let next = first["next"].as_str().unwrap();
    assert!(next.starts_with("/trash?cursor="), "{next}");
    for (query, loc, says) in [
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=101", "limit", "less than or equal to 100"),
        ("limit=two", "limit", "valid integer"),
        ("cursor=not-a-cursor", "cursor", "Not a cursor of the trash"),
    ] {
        let (status, body) = status_and_json(app.get(&format!("/trash?{query}")).await).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["query", loc]),
            "{query}: {body}"
        );
        let msg = body["detail"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(says), "{query}: {msg}");
    }
    for (method, path, want) in [
        (Method::POST, "/trash/abc/restore", 422),
        (Method::DELETE, "/trash/abc", 422),
        (Method::POST, "/trash/99999/restore", 404),
        (Method::DELETE, "/trash/99999", 404),
    ] {
        let (status, body) = status_and_json(app.call(method, path, None, None).await).await;
        assert_eq!(status, want, "{path}: {body}");
        if want == 404 {
            assert_eq!(body, json!({"detail": "Item not found in the trash"}));
        } else {
            assert_eq!(body["detail"][0]["loc"], json!(["path", "id"]), "{body}");
        }
    }
}

#[tokio::test]
async fn the_retention_job_purges_what_was_deleted_longer_ago_than_the_retention() {
    let app = TestApp::with()
        .empty()
        .configure(|config| config.trash_retention = Retention(Some(Duration::from_secs(2))))
        .start()
        .await;
    let item = app.create(json!({"name": "Short-lived"})).await;
    let id = item["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
    assert_eq!(ids(&trash(&app, "/trash", None).await), [id]);
    let started = Instant::now();
    while !trash(&app, "/trash", None).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the item is still in the trash"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = status_and_json(app.get(&format!("/items/{id}/history")).await).await;
    assert_eq!(status, 404, "its history went with it");
}

#[tokio::test]
async fn the_ui_server_functions_restore_purge_and_page_the_trash_and_say_what_went_wrong() {
    let app = TestApp::with().empty().start().await;
    app.create(json!({"id": 70, "name": "Stool"})).await;
    assert_eq!(app.delete("/items/70").await.status(), 200);

    let (status, page) = call(&app, "/rpc/trash/list", json!({"cursor": null}).to_string()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (ids(page["items"].as_array().unwrap()), &page["next"]),
        (vec![70], &Value::Null)
    );
    let (status, error) = call(
        &app,
        "/rpc/trash/list",
        json!({"cursor": "bogus"}).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["Validation"][0]["field"], "cursor", "{error}");

    // Taken again since: the UI says why it cannot come back.
    app.create(json!({"id": 70, "name": "New stool"})).await;
    let (status, error) = call(&app, "/rpc/trash/restore", json!({"id": 70}).to_string()).await;
    assert_eq!(
        (status, error),
        (
            409,
            json!({"Conflict": "This item cannot be restored: a new item with id 70 was created since."})
        )
    );
    let (status, _) = call(&app, "/rpc/trash/purge", json!({"id": 70}).to_string()).await;
    assert_eq!(status, 200);
    for endpoint in ["/rpc/trash/restore", "/rpc/trash/purge"] {
        let (status, error) = call(&app, endpoint, json!({"id": 70}).to_string()).await;
        assert_eq!(
            (status, error),
            (
                404,
                json!({"NotFound": "This item is no longer in the trash; it may have been restored or purged."})
            ),
            "{endpoint}"
        );
    }
}
