//! `POST /items/bulk`: one action on many items, all of them or none,
//! recorded in each item's history and announced as one event.

use reqwest::Method;
use serde_json::{json, Value};

use crate::events::EventStream;
use crate::helpers::{error_locs, pairs, status_and_json, TestApp};
use crate::rpc::call;

async fn bulk(app: &TestApp, body: Value) -> (u16, Value) {
    status_and_json(app.post_json("/items/bulk", &body).await).await
}

/// Creates items named `names` (in the category given) and answers their ids.
async fn create(app: &TestApp, names: &[&str], category: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let item = app
            .create(json!({"name": name, "category": category, "price": 10.0 + n as f64}))
            .await;
        ids.push(item["id"].as_i64().unwrap());
    }
    ids
}

async fn item(app: &TestApp, id: i64) -> (u16, Value) {
    status_and_json(app.get(&format!("/items/{id}")).await).await
}

/// The newest revision of an item.
async fn newest_revision(app: &TestApp, id: i64) -> Value {
    let (status, page) =
        status_and_json(app.get(&format!("/items/{id}/history?limit=1")).await).await;
    assert_eq!(status, 200, "{page}");
    page["revisions"][0].clone()
}

/// The category menu, as the item page reads it.
async fn menu(app: &TestApp) -> Value {
    let (status, categories) = call(app, "/rpc/items/categories", "{}").await;
    assert_eq!(status, 200, "{categories}");
    categories
}

#[tokio::test]
async fn set_by_ids_changes_every_named_item_records_each_and_is_one_event() {
    let app = TestApp::with().empty().start().await;
    let mut events = EventStream::open(&app, None).await;
    let ids = create(&app, &["Lamp", "Desk", "Chair"], "Office").await;
    let other = create(&app, &["Rug"], "Home").await[0];
    for _ in 0..4 {
        assert_eq!(events.next().await.data["kind"], "created");
    }

    // Repeats count once; the answer names the ids, ascending.
    let (status, body) = bulk(
        &app,
        json!({"action": "set", "ids": [ids[2], ids[0], ids[1], ids[0]],
               "values": {"category": "Lighting", "description": "Moved"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"detail": "3 items changed", "action": "set", "count": 3, "ids": ids})
    );
    for (n, id) in ids.iter().enumerate() {
        let (_, changed) = item(&app, *id).await;
        assert_eq!(changed["category"], "Lighting");
        assert_eq!(changed["description"], "Moved");
        assert_eq!(changed["price"], 10.0 + n as f64, "fields not set stay");
        assert_eq!(changed["version"], 2);
        let revision = newest_revision(&app, *id).await;
        assert_eq!(revision["action"], "update");
        assert_eq!(revision["door"], "bulk");
        assert_eq!(revision["version"], 2);
        let changed_fields: Vec<&str> = revision["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert_eq!(changed_fields, ["description", "category"], "{revision}");
    }
    let (_, untouched) = item(&app, other).await;
    assert_eq!(untouched["version"], 1);
    // The counts kept with each write follow: Office is gone from the menu.
    assert_eq!(menu(&app).await, json!(["Home", "Lighting"]));
    let (_, listed) = status_and_json(app.get("/items/?category=lighting").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 3);

    // One event for the whole action, then the next change.
    app.create(json!({"name": "After"})).await;
    assert_eq!(events.next().await.data, json!({"kind": "bulk"}));
    assert_eq!(events.next().await.data["kind"], "created");
}

#[tokio::test]
async fn patch_and_delete_by_filter_then_restore_by_ids() {
    let app = TestApp::with().empty().start().await;
    let office = create(&app, &["Lamp", "Desk", "Chair"], "Office").await;
    let home = create(&app, &["Rug", "Sofa"], "Home").await;

    // A merge patch of every Office item under 12: Lamp (10) and Desk (11).
    let (status, body) = bulk(
        &app,
        json!({"action": "patch", "filter": {"category": "OFFICE", "price_lt": 12},
               "patch": {"price": null, "description": "On sale"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ids"], json!(&office[..2]));
    for id in &office[..2] {
        let (_, patched) = item(&app, *id).await;
        assert_eq!(
            (&patched["price"], &patched["description"]),
            (&Value::Null, &json!("On sale"))
        );
    }
    let (_, chair) = item(&app, office[2]).await;
    assert_eq!(chair["version"], 1, "the filter left it out");

    // A search filter deletes to the trash.
    let (status, body) = bulk(
        &app,
        json!({"action": "delete", "filter": {"q": "on SALE"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"detail": "2 items deleted", "action": "delete", "count": 2, "ids": &office[..2]})
    );
    for id in &office[..2] {
        assert_eq!(item(&app, *id).await.0, 404);
        let revision = newest_revision(&app, *id).await;
        assert_eq!(
            (&revision["action"], &revision["door"]),
            (&json!("delete"), &json!("bulk"))
        );
    }
    let (_, trash) = status_and_json(app.get("/trash").await).await;
    assert_eq!(trash["items"].as_array().unwrap().len(), 2);

    // A filter that matches nothing changes nothing.
    let (status, body) = bulk(
        &app,
        json!({"action": "delete", "filter": {"q": "nowhere"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["count"], &body["ids"]), (&json!(0), &json!([])));

    // Restored, as they were deleted, with a revision of their own.
    let (status, body) = bulk(&app, json!({"action": "restore", "ids": &office[..2]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["detail"], "2 items restored");
    for id in &office[..2] {
        let (status, restored) = item(&app, *id).await;
        assert_eq!((status, &restored["description"]), (200, &json!("On sale")));
        assert_eq!(restored["version"], 4, "create, patch, delete, restore");
        let revision = newest_revision(&app, *id).await;
        assert_eq!(
            (&revision["action"], &revision["door"]),
            (&json!("restore"), &json!("bulk"))
        );
    }
    let (_, listed) = status_and_json(app.get("/items/?limit=10").await).await;
    assert_eq!(listed.as_array().unwrap().len(), office.len() + home.len());
}

#[tokio::test]
async fn when_any_item_refuses_nothing_is_written_and_every_refusal_is_listed() {
    let app = TestApp::with().empty().start().await;
    let ids = create(&app, &["Lamp", "Desk"], "Office").await;
    let missing = ids[1] + 100;

    // An id with no item: nothing deleted.
    let (status, body) = bulk(
        &app,
        json!({"action": "delete", "ids": [ids[0], missing, ids[1], missing + 1]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_locs(&body),
        pairs(&[
            (&format!("item.{missing}"), "not_found"),
            (&format!("item.{}", missing + 1), "not_found"),
        ])
    );
    assert_eq!(body["detail"][0]["msg"], "Item not found");
    assert_eq!(body["errors_total"], 2);
    for id in &ids {
        assert_eq!(item(&app, *id).await.1["version"], 1, "not deleted");
    }

    // The same for an edit.
    let (status, body) = bulk(
        &app,
        json!({"action": "set", "ids": [ids[0], missing], "values": {"price": 1}}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_locs(&body),
        pairs(&[(&format!("item.{missing}"), "not_found")])
    );
    assert_eq!(item(&app, ids[0]).await.1["price"], 10.0, "not changed");

    // A restore: one id was never deleted, one was taken again since.
    let (status, body) = bulk(&app, json!({"action": "delete", "ids": &ids})).await;
    assert_eq!(status, 200, "{body}");
    app.create(json!({"id": ids[1], "name": "New desk"})).await;
    let (status, body) = bulk(
        &app,
        json!({"action": "restore", "ids": [ids[0], ids[1], missing]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_locs(&body),
        pairs(&[
            (&format!("item.{}", ids[1]), "id_taken"),
            (&format!("item.{missing}"), "not_in_trash"),
        ])
    );
    assert!(
        body["detail"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("created after it was deleted"),
        "{body}"
    );
    assert_eq!(item(&app, ids[0]).await.0, 404, "still in the trash");
    let (_, trash) = status_and_json(app.get("/trash").await).await;
    assert_eq!(trash["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn ten_thousand_ids_in_one_action_and_a_filter_that_matches_more_is_refused() {
    let app = TestApp::with().empty().start().await;
    let file: String = (0..10_001)
        .map(|n| format!("{{\"name\": \"Row {n}\", \"category\": \"Bulk\"}}\n"))
        .collect();
    let (status, body) = crate::transfer::import(&app, "", "application/x-ndjson", &file).await;
    assert_eq!((status, &body["imported"]), (200, &json!(10_001)), "{body}");
    let ids: Vec<i64> = (1..=10_000).collect();

    let (status, body) = bulk(
        &app,
        json!({"action": "set", "ids": ids, "values": {"category": "Moved"}}),
    )
    .await;
    assert_eq!((status, &body["count"]), (200, &json!(10_000)), "{body}");
    assert_eq!(in_category(&app, "moved").await, 10_000);
    assert_eq!(in_category(&app, "bulk").await, 1);
    assert_eq!(menu(&app).await, json!(["Bulk", "Moved"]));

    // 10 001 items match: refused whole, not cut.
    let (status, body) = bulk(&app, json!({"action": "delete", "filter": {"q": "row"}})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_locs(&body),
        pairs(&[("body.filter", "too_many_matches")])
    );
    assert!(
        body["detail"][0]["msg"].as_str().unwrap().contains("10000"),
        "{body}"
    );
    assert_eq!(in_category(&app, "moved").await, 10_000, "nothing deleted");

    // 10 000 deleted at once, then every one restored.
    let (status, body) = bulk(
        &app,
        json!({"action": "delete", "filter": {"category": "moved"}}),
    )
    .await;
    assert_eq!((status, &body["count"]), (200, &json!(10_000)), "{body}");
    assert_eq!(in_category(&app, "moved").await, 0);
    let (status, body) = bulk(&app, json!({"action": "restore", "ids": ids})).await;
    assert_eq!((status, &body["count"]), (200, &json!(10_000)), "{body}");
    assert_eq!(in_category(&app, "moved").await, 10_000);
}

/// How many items a category holds (an exact total, kept with each write).
async fn in_category(app: &TestApp, category: &str) -> u64 {
    let (status, page) = status_and_json(
        app.get(&format!("/filter/?category={category}&limit=1"))
            .await,
    )
    .await;
    assert_eq!(
        (status, &page["total_exact"]),
        (200, &json!(true)),
        "{page}"
    );
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_bad_request_is_a_422_naming_every_problem() {
    let app = TestApp::with().empty().start().await;
    let id = create(&app, &["Lamp"], "Office").await[0];
    let too_many: Vec<i64> = (1..=10_001).collect();
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (json!([1, 2]), vec![("body", "model_attributes_type")]),
        (json!({"ids": [id]}), vec![("body.action", "missing")]),
        (
            json!({"action": "burn", "ids": [id]}),
            vec![("body.action", "enum")],
        ),
        (json!({"action": "delete"}), vec![("body", "value_error")]),
        (
            json!({"action": "delete", "ids": [id], "filter": {}}),
            vec![("body", "value_error")],
        ),
        (
            json!({"action": "delete", "ids": []}),
            vec![("body.ids", "too_short")],
        ),
        (
            json!({"action": "delete", "ids": too_many}),
            vec![("body.ids", "too_long")],
        ),
        (
            json!({"action": "delete", "ids": "1,2"}),
            vec![("body.ids", "list_type")],
        ),
        (
            json!({"action": "delete", "ids": [0, "x", 1.5, 9007199254740992_i64]}),
            vec![
                ("body.ids.0", "id_range"),
                ("body.ids.1", "int_type"),
                ("body.ids.2", "int_type"),
                ("body.ids.3", "id_range"),
            ],
        ),
        (
            json!({"action": "delete", "filter": {"colour": "red", "q": 5, "price_lt": "cheap"}}),
            vec![
                ("body.filter.colour", "extra_forbidden"),
                ("body.filter.price_lt", "float_type"),
                ("body.filter.q", "string_type"),
            ],
        ),
        (
            json!({"action": "delete", "filter": "lamp"}),
            vec![("body.filter", "model_attributes_type")],
        ),
        (
            json!({"action": "delete", "filter": {"q": "x".repeat(300)}}),
            vec![("body.filter.q", "string_too_long")],
        ),
        (
            json!({"action": "set", "ids": [id]}),
            vec![("body.values", "missing")],
        ),
        (
            json!({"action": "set", "ids": [id], "values": {"colour": "red"}}),
            vec![("body.values.colour", "extra_forbidden")],
        ),
        (
            json!({"action": "set", "ids": [id], "values": {"name": "", "price": -1}}),
            vec![
                ("body.values.name", "string_too_short"),
                ("body.values.price", "greater_than_equal"),
            ],
        ),
        (
            json!({"action": "set", "ids": [id], "values": {"price": 1}, "patch": {}}),
            vec![("body.patch", "extra_forbidden")],
        ),
        (
            json!({"action": "patch", "ids": [id], "patch": {"id": 7}}),
            vec![("body.patch.id", "extra_forbidden")],
        ),
        (
            json!({"action": "patch", "ids": [id], "patch": {"name": null}}),
            vec![("body.patch.name", "missing")],
        ),
        (
            json!({"action": "delete", "ids": [id], "values": {"price": 1}}),
            vec![("body.values", "extra_forbidden")],
        ),
        (
            json!({"action": "restore", "filter": {"q": "lamp"}}),
            vec![("body.filter", "value_error")],
        ),
        (
            json!({"action": "delete", "ids": [id], "dry_run": true}),
            vec![("body.dry_run", "extra_forbidden")],
        ),
    ];
    for (request, expected) in cases {
        let (status, body) = bulk(&app, request.clone()).await;
        assert_eq!(status, 422, "{request}: {body}");
        let mut found = error_locs(&body);
        found.sort();
        assert_eq!(found, pairs(&expected), "{request}: {body}");
        for detail in body["detail"].as_array().unwrap() {
            assert!(!detail["msg"].as_str().unwrap().is_empty(), "{detail}");
        }
    }
    // Not JSON at all.
    let response = app
        .send_raw(
            Method::POST,
            "/items/bulk",
            "application/json",
            b"{".to_vec(),
        )
        .await;
    assert_eq!(response.status(), 422);
    let (_, lamp) = item(&app, id).await;
    assert_eq!(lamp["version"], 1, "nothing was written");
}

#[tokio::test]
async fn bulk_actions_need_an_editor() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let editor = app.user_token(&admin, "edith", "editor").await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let (status, lamp) = status_and_json(
        app.call(
            Method::POST,
            "/items/",
            Some(&editor),
            Some(&json!({"name": "Lamp"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{lamp}");
    let request = json!({"action": "set", "ids": [lamp["id"]], "values": {"price": 3}});
    let (status, body) = status_and_json(
        app.call(Method::POST, "/items/bulk", None, Some(&request))
            .await,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = status_and_json(
        app.call(Method::POST, "/items/bulk", Some(&viewer), Some(&request))
            .await,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("role"), "{body}");
    let (status, body) = status_and_json(
        app.call(Method::POST, "/items/bulk", Some(&editor), Some(&request))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let revision = newest_revision(&app, lamp["id"].as_i64().unwrap()).await;
    assert_eq!(
        (&revision["actor"], &revision["door"]),
        (&json!("edith"), &json!("bulk"))
    );
}

#[tokio::test]
async fn the_ui_server_function_acts_on_ids_or_on_every_match_and_says_what_went_wrong() {
    let app = TestApp::with().empty().start().await;
    let ids = create(&app, &["Peg one", "Peg two", "Hook"], "Hardware").await;

    let by_ids = json!({"ids": [ids[1], ids[0]], "matching": null, "change": {"Category": "Pegs"}});
    let (status, changed) = call(&app, "/rpc/items/bulk", by_ids.to_string()).await;
    assert_eq!((status, changed), (200, json!(&ids[..2])));
    let revision = newest_revision(&app, ids[0]).await;
    assert_eq!(
        (&revision["door"], &revision["item"]["category"]),
        (&json!("bulk"), &json!("Pegs"))
    );

    // Every item the listing's filters match, whatever its page.
    let query = json!({"skip": 0, "limit": 1, "q": "peg", "category": null, "price_lt": null,
        "sort": "Id", "descending": false, "cursor": null});
    let matching = json!({"ids": [], "matching": query, "change": {"Price": 2.5}});
    let (status, changed) = call(&app, "/rpc/items/bulk", matching.to_string()).await;
    assert_eq!((status, changed), (200, json!(&ids[..2])));
    assert_eq!(
        item(&app, ids[2]).await.1["price"],
        12.0,
        "Hook does not match"
    );

    let delete = json!({"ids": ids, "matching": null, "change": "Delete"});
    assert_eq!(
        call(&app, "/rpc/items/bulk", delete.to_string()).await.0,
        200
    );
    let restore = json!({"ids": [ids[0], ids[0] + 50], "matching": null, "change": "Restore"});
    let (status, error) = call(&app, "/rpc/items/bulk", restore.to_string()).await;
    assert_eq!(status, 422, "{error}");
    let message = error["Rejected"].as_str().unwrap();
    assert!(
        message.starts_with("Nothing was changed: 1 of the selected items"),
        "{error}"
    );
    assert!(message.contains("not found in the trash"), "{error}");
    assert_eq!(item(&app, ids[0]).await.0, 404, "still in the trash");

    for (body, field) in [
        (
            json!({"ids": [], "matching": null, "change": "Delete"}),
            "ids",
        ),
        (
            json!({"ids": [0], "matching": null, "change": "Delete"}),
            "ids",
        ),
        (
            json!({"ids": [ids[2]], "matching": null, "change": {"Price": -1.0}}),
            "price",
        ),
        (
            json!({"ids": [ids[2]], "matching": null, "change": {"Category": "x".repeat(101)}}),
            "category",
        ),
    ] {
        let (status, error) = call(&app, "/rpc/items/bulk", body.to_string()).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["Validation"][0]["field"], field, "{body}: {error}");
    }
    let restore_matching = json!({"ids": [], "matching": query, "change": "Restore"});
    let (status, error) = call(&app, "/rpc/items/bulk", restore_matching.to_string()).await;
    assert_eq!(status, 400, "{error}");
}
