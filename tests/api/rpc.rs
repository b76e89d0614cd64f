//! The UI's server functions (`/rpc/...`) answer each error with the status
//! of its kind, as REST does, and the error itself in the body.

use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};
use crate::hot_reload::with_a_broken_model;
use itemserve::server::config::Switch;

use crate::helpers::TEST_ADMIN_PASSWORD;

/// POSTs `body` as it is to a server function.
pub(crate) async fn call(app: &TestApp, path: &str, body: impl Into<Vec<u8>>) -> (u16, Value) {
    status_and_json(
        app.send_raw(reqwest::Method::POST, path, "application/json", body.into())
            .await,
    )
    .await
}

/// Asserts that a server function's answer has `status` and an error of
/// `kind` whose message contains `says`.
pub(crate) fn assert_refused((status, error): &(u16, Value), want: u16, kind: &str, says: &str) {
    assert_eq!(*status, want, "{error}");
    let message = error[kind].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "expected {kind} saying '{says}': {error}"
    );
}

#[tokio::test]
async fn a_call_that_cannot_be_read_is_a_bad_request_that_says_why() {
    let app = TestApp::spawn().await;
    for (body, why) in [
        (&b"not json"[..], "expected ident"),
        (br#"{"id": "one", "version": 1}"#, "invalid type: string"),
        (br#"{"version": 1}"#, "missing field `id`"),
        (b"\"\xff\"", "utf-8"),
    ] {
        let (status, error) = call(&app, "/rpc/items/delete", body).await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(status, 400, "{shown}: {error}");
        let message = error["BadRequest"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{shown}: {error}");
    }
    // Nothing was deleted on the way.
    assert_eq!(app.get("/items/1").await.status(), 200);
}

#[tokio::test]
async fn item_errors_have_the_status_of_their_kind() {
    let app = TestApp::spawn().await;
    let draft =
        |name: &str| json!({"name": name, "description": null, "category": null, "price": null});

    let (status, error) = call(
        &app,
        "/rpc/items/create",
        json!({"draft": draft("  ")}).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["Validation"][0]["field"], "name", "{error}");

    let (status, error) = call(
        &app,
        "/rpc/items/update",
        json!({"id": 999_999, "version": 1, "draft": draft("Lamp")}).to_string(),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    assert!(error["NotFound"].is_string(), "{error}");

    // A stale version: someone else changed the item meanwhile.
    let (status, created) = call(
        &app,
        "/rpc/items/create",
        json!({"draft": draft("Lamp")}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let edit =
        json!({"id": created["id"], "version": created["version"], "draft": draft("Lamp 2")});
    assert_eq!(
        call(&app, "/rpc/items/update", edit.to_string()).await.0,
        200
    );
    let (status, error) = call(&app, "/rpc/items/update", edit.to_string()).await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["Conflict"].as_str().unwrap().contains("changed"),
        "{error}"
    );
}

#[tokio::test]
async fn the_ui_pages_by_cursor_and_a_foreign_cursor_is_a_validation_error() {
    let app = TestApp::spawn().await;
    let query = |cursor: Value| {
        json!({"query": {"skip": 0, "limit": 2, "q": null, "category": null, "price_lt": null,
            "sort": "Name", "descending": false, "cursor": cursor}})
        .to_string()
    };
    let (status, first) = call(&app, "/rpc/items/list", query(Value::Null)).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["offset"], 0);
    assert!(first["prev"].is_null(), "{first}");
    let (status, second) = call(&app, "/rpc/items/list", query(first["next"].clone())).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["offset"], 2);
    assert_eq!(second["items"].as_array().unwrap().len(), 1, "{second}");
    assert!(
        second["next"].is_null() && second["prev"].is_string(),
        "{second}"
    );

    let (status, error) = call(&app, "/rpc/items/list", query(json!("bogus"))).await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["Validation"][0]["field"], "cursor", "{error}");
    assert!(
        error["Validation"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Not a cursor"),
        "{error}"
    );
}

#[tokio::test]
async fn prediction_errors_have_the_status_of_their_kind() {
    let app = TestApp::spawn().await;
    let (status, error) = call(
        &app,
        "/rpc/models/predict",
        json!({"model": "no-such-model", "rows": [[1.0, 2.0, 3.0]]}).to_string(),
    )
    .await;
    assert_eq!(status, 404, "{error}");
    assert!(error["NotFound"].is_string(), "{error}");

    let (status, error) = call(
        &app,
        "/rpc/models/predict",
        json!({"model": "linear", "rows": [[1.0]]}).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["Validation"][0]["kind"], "length", "{error}");
}

#[tokio::test]
async fn too_many_logins_through_the_ui_answer_429() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.login_rate_limit = 2;
        })
        .start()
        .await;
    let attempt = json!({"name": "admin", "password": "wrong password"}).to_string();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(call(&app, "/rpc/session/login", attempt.clone()).await);
    }
    assert_eq!(statuses[0].0, 401, "{}", statuses[0].1);
    assert_refused(
        &statuses[3],
        429,
        "TooManyRequests",
        "Too many login attempts",
    );
}

#[tokio::test]
async fn a_model_that_failed_to_load_answers_503() {
    let (_models, app) = with_a_broken_model().await;
    let answer = call(
        &app,
        "/rpc/models/predict",
        json!({"model": "broken", "rows": [[5.1, 3.5, 1.4, 0.2]]}).to_string(),
    )
    .await;
    assert_refused(&answer, 503, "Unavailable", "not available");
}

#[tokio::test]
async fn logging_in_with_auth_off_is_refused_as_rest_refuses_it() {
    let app = TestApp::spawn().await;
    let (status, error) = call(
        &app,
        "/rpc/session/login",
        json!({"name": "admin", "password": TEST_ADMIN_PASSWORD}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let (rest_status, rest) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    assert_eq!(rest_status, 400, "{rest}");
    assert_eq!(error["BadRequest"], rest["detail"], "{error} / {rest}");
}
