//! Item history: every door records a revision with who, when, how and
//! what changed; reading it back, paging it, and reverting to one.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};
use crate::rpc::call;
use crate::transfer::import;

/// The revisions of item `id`, newest first (every page).
async fn history(app: &TestApp, id: i64, token: Option<&str>) -> Vec<Value> {
    let mut revisions = Vec::new();
    let mut path = format!("/items/{id}/history?limit=2");
    loop {
        let (status, page) = status_and_json(app.call(Method::GET, &path, token, None).await).await;
        assert_eq!(status, 200, "{path}: {page}");
        revisions.extend(page["revisions"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => return revisions,
        }
    }
}

/// `(action, door, actor, version)` of each revision.
fn summary(revisions: &[Value]) -> Vec<(String, String, Value, i64)> {
    revisions
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["door"].as_str().unwrap().to_owned(),
                r["actor"].clone(),
                r["version"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn s(text: &str) -> String {
    text.to_owned()
}

#[tokio::test]
async fn every_change_through_rest_records_a_revision_with_what_changed_newest_first() {
    let app = TestApp::with().empty().start().await;
    let created = app
        .create(json!({"name": "Lamp", "category": "Lighting", "price": 10.0}))
        .await;
    let id = created["id"].as_i64().unwrap();
    let put = app
        .put_json(
            &format!("/items/{id}"),
            &json!({"name": "Lamp", "category": "Lighting", "price": 12.5}),
        )
        .await;
    assert_eq!(put.status(), 200);
    let patched = app
        .send_raw(
            Method::PATCH,
            &format!("/items/{id}"),
            "application/merge-patch+json",
            br#"{"description": "Brass", "category": null}"#.to_vec(),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let request_id = patched.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let revisions = history(&app, id, None).await;
    assert_eq!(
        summary(&revisions),
        [
            (s("update"), s("rest"), Value::Null, 3),
            (s("update"), s("rest"), Value::Null, 2),
            (s("create"), s("rest"), Value::Null, 1),
        ]
    );
    assert_eq!(
        revisions[0]["changes"],
        json!([
            {"field": "description", "old": null, "new": "Brass"},
            {"field": "category", "old": "Lighting", "new": null},
        ])
    );
    assert_eq!(revisions[0]["request_id"], request_id);
    assert_eq!(
        revisions[1]["changes"],
        json!([{"field": "price", "old": 10.0, "new": 12.5}])
    );
    assert_eq!(
        revisions[2]["changes"],
        json!([
            {"field": "name", "old": null, "new": "Lamp"},
            {"field": "category", "old": null, "new": "Lighting"},
            {"field": "price", "old": null, "new": 10.0},
        ])
    );
    // Each revision holds the item as that change left it.
    let current: Value = app.get(&format!("/items/{id}")).await.json().await.unwrap();
    assert_eq!(revisions[0]["item"], current);
    assert_eq!(revisions[2]["item"], created);

    // One revision by its version.
    let (status, one) = status_and_json(app.get(&format!("/items/{id}/history/2")).await).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, revisions[1]);
}

#[tokio::test]
async fn a_delete_is_a_revision_of_its_own_and_the_history_outlives_the_item() {
    let app = TestApp::with().empty().start().await;
    let id = app.create(json!({"name": "Chair", "price": 40})).await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
    let revisions = history(&app, id, None).await;
    assert_eq!(
        summary(&revisions),
        [
            (s("delete"), s("rest"), Value::Null, 2),
            (s("create"), s("rest"), Value::Null, 1),
        ]
    );
    assert_eq!(revisions[0]["item"]["name"], "Chair");
    assert_eq!(revisions[0]["changes"], json!([]));

    // A revert does not bring a deleted item back.
    let (status, body) = status_and_json(
        app.post_json(&format!("/items/{id}/revert"), &json!({"version": 1}))
            .await,
    )
    .await;
    assert_eq!((status, body), (404, json!({"detail": "Item not found"})));

    // Created again under its id, it carries on after the deletion.
    let again = app.create(json!({"id": id, "name": "Chair again"})).await;
    assert_eq!(again["version"], 3);
    assert_eq!(history(&app, id, None).await.len(), 3);
}

#[tokio::test]
async fn revert_writes_the_old_values_as_a_new_update_and_honours_if_match() {
    let app = TestApp::with().empty().start().await;
    let id = app
        .create(json!({"name": "Desk", "description": "Oak", "price": 100}))
        .await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/items/{id}");
    app.put_json(
        &path,
        &json!({"name": "Desk", "description": "Pine", "price": 80}),
    )
    .await;

    // A stale If-Match is refused and writes nothing.
    let stale = app
        .client
        .post(app.url(&format!("{path}/revert")))
        .header("if-match", "\"1\"")
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(stale).await;
    assert_eq!(status, 412, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("version"),
        "{body}"
    );

    let reverted = app
        .client
        .post(app.url(&format!("{path}/revert")))
        .header("if-match", "\"2\"")
        .json(&json!({"version": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(reverted.status(), 200);
    assert_eq!(reverted.headers()["etag"], "\"3\"");
    let item: Value = reverted.json().await.unwrap();
    assert_eq!(
        (&item["description"], &item["price"], &item["version"]),
        (&json!("Oak"), &json!(100.0), &json!(3))
    );
    let revisions = history(&app, id, None).await;
    assert_eq!(revisions[0]["action"], "revert");
    assert_eq!(revisions[0]["reverted_to"], 1);
    assert_eq!(
        revisions[0]["changes"],
        json!([
            {"field": "description", "old": "Pine", "new": "Oak"},
            {"field": "price", "old": 80.0, "new": 100.0},
        ])
    );
}

#[tokio::test]
async fn bad_history_and_revert_requests_get_clear_errors() {
    let app = TestApp::spawn().await; // Items 1 to 3.
    let cases: [(Method, &str, Option<Value>, u16, &str); 11] = [
        (
            Method::GET,
            "/items/999/history",
            None,
            404,
            "Item not found",
        ),
        (Method::GET, "/items/x/history", None, 422, "valid integer"),
        (
            Method::GET,
            "/items/1/history?limit=0",
            None,
            422,
            "greater than or equal to 1",
        ),
        (
            Method::GET,
            "/items/1/history?limit=101",
            None,
            422,
            "less than or equal to 100",
        ),
        (
            Method::GET,
            "/items/1/history?before=abc",
            None,
            422,
            "valid integer",
        ),
        (
            Method::GET,
            "/items/1/history/7",
            None,
            404,
            "Item 1 has no revision of version 7",
        ),
        (
            Method::GET,
            "/items/1/history/zero",
            None,
            422,
            "valid integer",
        ),
        (
            Method::POST,
            "/items/1/revert",
            Some(json!({"version": 9})),
            404,
            "Item 1 has no revision of version 9",
        ),
        (
            Method::POST,
            "/items/1/revert",
            Some(json!({})),
            422,
            "Field required",
        ),
        (
            Method::POST,
            "/items/1/revert",
            Some(json!({"version": "one"})),
            422,
            "valid integer",
        ),
        (
            Method::POST,
            "/items/999/revert",
            Some(json!({"version": 1})),
            404,
            "Item not found",
        ),
    ];
    for (method, path, body, want, says) in cases {
        let (status, answer) =
            status_and_json(app.call(method.clone(), path, None, body.as_ref()).await).await;
        assert_eq!(status, want, "{method} {path}: {answer}");
        assert!(
            answer["detail"].to_string().contains(says),
            "{method} {path}: expected '{says}' in {answer}"
        );
    }
    // The demo items were stored without a change of anyone's: their
    // history starts empty (and is not a 404).
    let (status, page) = status_and_json(app.get("/items/1/history").await).await;
    assert_eq!(
        (status, page),
        (200, json!({"revisions": [], "next": null}))
    );
}

#[tokio::test]
async fn the_ui_and_imports_record_their_door_and_logged_in_users_and_tokens_their_names() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let editor = app.user_token(&admin, "edith", "editor").await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let (status, token) = status_and_json(
        app.call(
            Method::POST,
            "/auth/tokens",
            Some(&editor),
            Some(&json!({"name": "nightly sync"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{token}");
    let api_token = token["token"].as_str().unwrap().to_owned();

    let (_, created) = status_and_json(
        app.call(
            Method::POST,
            "/items/",
            Some(&editor),
            Some(&json!({"name": "Vase"})),
        )
        .await,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let response = app
        .call(
            Method::PUT,
            &format!("/items/{id}"),
            Some(&api_token),
            Some(&json!({"name": "Blue vase"})),
        )
        .await;
    assert_eq!(response.status(), 200);

    // An import, by the admin.
    let imported = app
        .client
        .post(app.url("/items/import"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-ndjson")
        .body("{\"id\": 500, \"name\": \"Imported\"}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 200);

    let revisions = history(&app, id, Some(&viewer)).await;
    assert_eq!(
        summary(&revisions),
        [
            (s("update"), s("rest"), json!("edith"), 2),
            (s("create"), s("rest"), json!("edith"), 1),
        ]
    );
    assert_eq!(revisions[0]["token"], "nightly sync");
    assert_eq!(revisions[1]["token"], Value::Null);
    assert_eq!(
        summary(&history(&app, 500, Some(&viewer)).await),
        [(s("import"), s("import"), json!("admin"), 1)]
    );

    // A viewer may read history but not revert.
    let (status, body) = status_and_json(
        app.call(
            Method::POST,
            &format!("/items/{id}/revert"),
            Some(&viewer),
            Some(&json!({"version": 1})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("editor"),
        "{body}"
    );
    // Reading history needs what reading the item needs.
    let item = app.get(&format!("/items/{id}")).await.status();
    let history = app.get(&format!("/items/{id}/history")).await.status();
    assert_eq!(history, item);
}

#[tokio::test]
async fn the_uis_server_functions_record_the_ui_door() {
    let app = TestApp::with().empty().start().await;
    let draft = json!({"name": "Rug", "description": null, "category": null, "price": null});
    let (status, created) = call(
        &app,
        "/rpc/items/create",
        json!({"draft": draft}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_i64().unwrap();
    let (status, _) = call(
        &app,
        "/rpc/items/delete",
        json!({"id": id, "version": 1}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        summary(&history(&app, id, None).await),
        [
            (s("delete"), s("ui"), Value::Null, 2),
            (s("create"), s("ui"), Value::Null, 1),
        ]
    );
}

#[tokio::test]
async fn concurrent_updates_each_leave_their_own_revision_with_the_values_they_replaced() {
    let app = TestApp::with().empty().start().await;
    let id = app.create(json!({"name": "v0", "price": 0})).await["id"]
        .as_i64()
        .unwrap();
    let writers = 8;
    let mut tasks = Vec::new();
    for n in 1..=writers {
        let client = app.client.clone();
        let url = app.url(&format!("/items/{id}"));
        tasks.push(tokio::spawn(async move {
            let body = json!({"name": format!("v{n}"), "price": n});
            client.put(url).json(&body).send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let revisions = history(&app, id, None).await;
    assert_eq!(revisions.len(), writers + 1);
    // Oldest first: each update's old name is the name the one before it
    // wrote, so no change is lost or recorded twice.
    let mut names: Vec<String> = Vec::new();
    for revision in revisions.iter().rev() {
        let name = revision["item"]["name"].as_str().unwrap().to_owned();
        if let Some(previous) = names.last() {
            let change = &revision["changes"][0];
            assert_eq!(change["field"], "name", "{revision}");
            assert_eq!(change["old"], json!(previous), "{revision}");
        }
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), writers + 1, "every write is there once");
}

#[tokio::test]
async fn an_import_through_either_mode_records_one_revision_per_stored_row() {
    let app = TestApp::with().empty().start().await;
    let file = "id,name,price\n10,Ten,1\n11,Eleven,2\n11,Eleven again,3\n,Assigned,4\n";
    let (status, body) = import(&app, "?on_error=skip", "text/csv", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 3, "{body}");
    for id in [10, 11] {
        let revisions = history(&app, id, None).await;
        assert_eq!(
            summary(&revisions),
            [(s("import"), s("import"), Value::Null, 1)]
        );
    }
    assert_eq!(
        history(&app, 11, None).await[0]["item"]["name"],
        "Eleven",
        "the refused row left no revision"
    );
    // The refused all-or-nothing import leaves none.
    let (status, body) = import(&app, "", "text/csv", "id,name\n20,Twenty\n10,Taken\n").await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = status_and_json(app.get("/items/20/history").await).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_history_page_names_the_older_ones_in_its_link_header_and_bad_revert_bodies_are_422() {
    let app = TestApp::with().empty().start().await;
    let id = app.create(json!({"name": "Stool"})).await["id"]
        .as_i64()
        .unwrap();
    for price in [1, 2] {
        app.put_json(
            &format!("/items/{id}"),
            &json!({"name": "Stool", "price": price}),
        )
        .await;
    }
    let first = app.get(&format!("/items/{id}/history?limit=2")).await;
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let (_, page) = status_and_json(first).await;
    let next = page["next"].as_str().unwrap();
    assert_eq!(next, format!("/items/{id}/history?before=2&limit=2"));
    assert_eq!(link, format!("<{next}>; rel=\"next\""));
    let last = app.get(next).await;
    assert!(last.headers().get("link").is_none());
    let (_, page) = status_and_json(last).await;
    assert_eq!(summary(page["revisions"].as_array().unwrap()).len(), 1);
    assert_eq!(page["next"], Value::Null);

    for (body, kind) in [
        (json!([1]), "model_attributes_type"),
        (json!({"version": 0}), "greater_than_equal"),
        (json!({"version": 1.5}), "int_type"),
    ] {
        let (status, answer) =
            status_and_json(app.post_json(&format!("/items/{id}/revert"), &body).await).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["detail"][0]["type"], kind, "{body}: {answer}");
    }
}

/// The versions in item `id`'s history, newest first, once `done` holds
/// for them (the retention job runs every 100 ms here); fails after 10 s.
async fn versions_once(app: &TestApp, id: i64, done: impl Fn(&[i64]) -> bool) -> Vec<i64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let versions: Vec<i64> = history(app, id, None)
            .await
            .iter()
            .map(|r| r["version"].as_i64().unwrap())
            .collect();
        if done(&versions) {
            return versions;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "item {id}'s history is still {versions:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_history_keeps_the_newest_n_revisions_of_each_item_when_told_to() {
    use itemserve::server::store::HistoryRetention;
    let app = TestApp::with()
        .empty()
        .configure(|config| {
            config.history_retention = HistoryRetention::Newest(2);
            config.history_prune_period = std::time::Duration::from_millis(100);
        })
        .start()
        .await;
    let busy = app.create(json!({"name": "Busy"})).await["id"]
        .as_i64()
        .unwrap();
    let quiet = app.create(json!({"name": "Quiet"})).await["id"]
        .as_i64()
        .unwrap();
    for n in 0..4 {
        let path = format!("/items/{busy}");
        let response = app
            .put_json(&path, &json!({"name": format!("Busy {n}")}))
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(versions_once(&app, busy, |v| v.len() == 2).await, [5, 4]);
    assert_eq!(versions_once(&app, quiet, |_| true).await, [1]);
    // A removed revision cannot be reverted to; a kept one can.
    let (status, body) = status_and_json(
        app.post_json(&format!("/items/{busy}/revert"), &json!({"version": 2}))
            .await,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body["detail"],
        format!("Item {busy} has no revision of version 2")
    );
    let reverted = app
        .post_json(&format!("/items/{busy}/revert"), &json!({"version": 4}))
        .await;
    assert_eq!(reverted.status(), 200);
    // The next pass reads only what changed since the last one, and
    // keeps the newest two of that.
    assert_eq!(
        versions_once(&app, busy, |v| v[0] == 6 && v.len() == 2).await,
        [6, 5]
    );
}

#[tokio::test]
async fn the_history_keeps_the_revisions_younger_than_its_retention_when_told_to() {
    use itemserve::server::store::HistoryRetention;
    let app = TestApp::with()
        .empty()
        .configure(|config| {
            config.history_retention = HistoryRetention::Younger(std::time::Duration::from_secs(2));
            config.history_prune_period = std::time::Duration::from_millis(100);
        })
        .start()
        .await;
    let old = app.create(json!({"name": "Old"})).await["id"]
        .as_i64()
        .unwrap();
    let response = app
        .put_json(&format!("/items/{old}"), &json!({"name": "Older"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(history(&app, old, None).await.len(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let new = app.create(json!({"name": "New"})).await["id"]
        .as_i64()
        .unwrap();
    // The old item's revisions go; the item itself stays, as it is.
    assert!(versions_once(&app, old, <[i64]>::is_empty).await.is_empty());
    let (status, item) = status_and_json(app.get(&format!("/items/{old}")).await).await;
    assert_eq!((status, item["name"].as_str()), (200, Some("Older")));
    assert_eq!(versions_once(&app, new, |_| true).await, [1]);
}

#[tokio::test]
async fn the_history_page_reads_revisions_by_page_and_reverts_through_its_server_functions() {
    let app = TestApp::with().empty().start().await;
    let item = app.create(json!({"name": "Stool", "price": 10.0})).await;
    let id = item["id"].as_i64().unwrap();
    for n in 1..=22 {
        let body = json!({"name": "Stool", "price": 10.0 + n as f64});
        assert_eq!(
            app.put_json(&format!("/items/{id}"), &body).await.status(),
            200
        );
    }

    // 23 revisions: twenty, then the three oldest.
    let (status, page) = call(
        &app,
        "/rpc/items/history",
        json!({"id": id, "before": null}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let versions: Vec<i64> = page["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (4..=23).rev().collect::<Vec<_>>());
    assert_eq!(page["before"], 4);
    let (_, older) = call(
        &app,
        "/rpc/items/history",
        json!({"id": id, "before": 4}).to_string(),
    )
    .await;
    assert_eq!(older["revisions"].as_array().unwrap().len(), 3);
    assert_eq!(older["before"], Value::Null);

    // Back to version 1, through the UI, if nobody changed it since 23.
    let revert = json!({"id": id, "version": 1, "current": 23});
    let (status, reverted) = call(&app, "/rpc/items/revert", revert.to_string()).await;
    assert_eq!(status, 200, "{reverted}");
    assert_eq!(
        (&reverted["price"], &reverted["version"]),
        (&json!(10.0), &json!(24))
    );
    let newest = history(&app, id, None).await;
    assert_eq!(
        (
            &newest[0]["action"],
            &newest[0]["door"],
            &newest[0]["reverted_to"]
        ),
        (&json!("revert"), &json!("ui"), &json!(1))
    );
    let (status, error) = call(&app, "/rpc/items/revert", revert.to_string()).await;
    assert_eq!(status, 409, "moved on since 23: {error}");

    let (status, error) = call(
        &app,
        "/rpc/items/revert",
        json!({"id": id, "version": 99, "current": 24}).to_string(),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    assert!(
        error["NotFound"]
            .as_str()
            .unwrap()
            .contains("no longer kept"),
        "{error}"
    );
    let (status, error) = call(
        &app,
        "/rpc/items/history",
        json!({"id": 999, "before": null}).to_string(),
    )
    .await;
    assert_eq!(
        (status, error),
        (404, json!({"NotFound": "No item has this id."}))
    );
}

#[tokio::test]
async fn sqlite_indexes_revisions_by_time_only_while_a_retention_rule_reads_them() {
    use itemserve::server::store::HistoryRetention;
    if crate::helpers::skip_unless_sqlite("revisions_by_time") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("items.db");
    let url = format!("sqlite://{}", file.display());
    let indexed = || -> bool {
        rusqlite::Connection::open(&file)
            .unwrap()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'item_revisions_by_time')",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    // Every write would pay for the index; with no rule set (the default),
    // nothing reads it.
    let mut app = TestApp::with().empty().database(&url).start().await;
    let id = app.create(json!({"name": "Lamp"})).await["id"]
        .as_i64()
        .unwrap();
    app.stop().await;
    assert!(!indexed());
    for (rule, wanted) in [
        (HistoryRetention::Newest(5), true),
        (HistoryRetention::Newest(5), true),
        (HistoryRetention::Forever, false),
    ] {
        let mut app = TestApp::with()
            .empty()
            .database(&url)
            .configure(|config| config.history_retention = rule)
            .start()
            .await;
        let path = format!("/items/{id}");
        let response = app.put_json(&path, &json!({"name": "Lamp"})).await;
        assert_eq!(response.status(), 200);
        app.stop().await;
        assert_eq!(indexed(), wanted, "{rule:?}");
    }
    // The history is whole whatever the index did meanwhile.
    let app = TestApp::with().empty().database(&url).start().await;
    assert_eq!(history(&app, id, None).await.len(), 4);
}
