//! `PATCH /items/{id}`: JSON merge patch (RFC 7396).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{error_locs, pairs, status_and_json, TestApp};

async fn patch(
    app: &TestApp,
    id: i64,
    body: Value,
    headers: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let mut request = app
        .client
        .request(Method::PATCH, app.url(&format!("/items/{id}")))
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = status_and_json(response).await;
    (status, body, etag)
}

#[tokio::test]
async fn given_fields_change_null_clears_and_absent_fields_stay() {
    let app = TestApp::with().empty().start().await;
    let item = app
        .create(
            json!({"name": "Lamp", "description": "Brass", "category": "Lighting", "price": 20.0}),
        )
        .await;
    let id = item["id"].as_i64().unwrap();

    let (status, body, etag) =
        patch(&app, id, json!({"price": 25.5, "description": null}), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Lamp");
    assert_eq!(body["category"], "Lighting");
    assert_eq!(body["price"], 25.5);
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["version"], 2);
    assert_eq!(etag.as_deref(), Some("\"2\""));

    let (_, stored) = status_and_json(app.get(&format!("/items/{id}")).await).await;
    assert_eq!(stored, body);
}

#[tokio::test]
async fn plain_json_is_accepted_too_and_the_id_may_be_repeated() {
    let app = TestApp::spawn().await;
    let response = app
        .send_raw(
            Method::PATCH,
            "/items/1",
            "application/json",
            br#"{"id": 1, "name": "Renamed"}"#.to_vec(),
        )
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Renamed");
    assert_eq!(body["description"], "This is the first item.");
}

#[tokio::test]
async fn the_patched_item_is_validated_like_a_put_body() {
    let app = TestApp::spawn().await;
    let (status, body, _) = patch(
        &app,
        1,
        json!({"name": "", "price": -1, "category": 5}),
        &[],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        error_locs(&body),
        pairs(&[
            ("body.name", "string_too_short"),
            ("body.category", "string_type"),
            ("body.price", "greater_than_equal"),
        ])
    );
    // Clearing the required name is "missing", as in a PUT without it.
    let (status, body, _) = patch(&app, 1, json!({"name": null}), &[]).await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), pairs(&[("body.name", "missing")]));
    // A different id in the body is refused as in PUT.
    let (status, body, _) = patch(&app, 1, json!({"id": 2}), &[]).await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), pairs(&[("body.id", "value_error")]));
    // A patch that is not an object replaces the whole item (RFC 7396),
    // which is then not an item.
    let (status, body, _) = patch(&app, 1, json!(["x"]), &[]).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "model_attributes_type");
    // Nothing was stored.
    let (_, stored) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(stored["version"], 1);
}

#[tokio::test]
async fn if_match_guards_the_patch() {
    let app = TestApp::spawn().await;
    let (status, _, _) = patch(&app, 1, json!({"price": 1.0}), &[("if-match", "\"1\"")]).await;
    assert_eq!(status, 200);
    let (status, body, _) = patch(&app, 1, json!({"price": 2.0}), &[("if-match", "\"1\"")]).await;
    assert_eq!(status, 412, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("version 2"),
        "{body}"
    );
    let (status, body, _) = patch(&app, 1, json!({"price": 2.0}), &[("if-match", "\"2\"")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], 2.0);
}

#[tokio::test]
async fn unknown_items_bad_ids_and_bad_bodies_get_clear_errors() {
    let app = TestApp::spawn().await;
    let (status, body, _) = patch(&app, 999, json!({"price": 1.0}), &[]).await;
    assert_eq!((status, body), (404, json!({"detail": "Item not found"})));

    let response = app
        .send_raw(
            Method::PATCH,
            "/items/abc",
            "application/merge-patch+json",
            b"{}".to_vec(),
        )
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), pairs(&[("path.id", "int_parsing")]));

    let response = app
        .send_raw(Method::PATCH, "/items/1", "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(response.status(), 415);

    let response = app
        .send_raw(
            Method::PATCH,
            "/items/1",
            "application/merge-patch+json",
            b"{oops".to_vec(),
        )
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
}

#[tokio::test]
async fn concurrent_patches_of_different_fields_all_apply() {
    // Without If-Match, a patch that loses a race with another write is
    // reapplied to the newer item instead of overwriting it.
    let app = TestApp::with().empty().start().await;
    let id = app.create(json!({"name": "Start"})).await["id"]
        .as_i64()
        .unwrap();
    let fields = ["description", "category"];
    let tasks: Vec<_> = fields
        .iter()
        .map(|field| {
            let client = app.client.clone();
            let url = app.url(&format!("/items/{id}"));
            let body = json!({ *field: format!("set {field}") }).to_string();
            tokio::spawn(async move {
                client
                    .patch(url)
                    .header("content-type", "application/merge-patch+json")
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let (_, item) = status_and_json(app.get(&format!("/items/{id}")).await).await;
    assert_eq!(item["description"], "set description");
    assert_eq!(item["category"], "set category");
    assert_eq!(item["version"], 3);
}
