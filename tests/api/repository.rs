//! The Open Inference Protocol's model repository extension: the index,
//! loading a model from its folder and unloading it (editors and admins).

use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};
use crate::hot_reload::copy_model;
use crate::models::iris_features;

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    status_and_json(
        app.call(reqwest::Method::POST, path, token, Some(&body))
            .await,
    )
    .await
}

fn entry<'a>(index: &'a Value, name: &str) -> Option<&'a Value> {
    index.as_array().unwrap().iter().find(|m| m["name"] == name)
}

#[tokio::test]
async fn an_unloaded_model_stays_out_of_service_until_it_is_loaded_again() {
    let app = TestApp::spawn().await;
    let (status, index) = post(&app, "/v2/repository/index", None, json!({})).await;
    assert_eq!(status, 200, "{index}");
    assert_eq!(
        entry(&index, "iris"),
        Some(&json!({"name": "iris", "version": "1.0.0", "state": "READY", "reason": ""}))
    );

    let (status, body) = post(
        &app,
        "/v2/repository/models/iris/unload",
        None,
        json!({"parameters": {"unload_dependents": false}}),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({})));
    let (_, index) = post(&app, "/v2/repository/index", None, json!({})).await;
    assert_eq!(entry(&index, "iris").unwrap()["state"], "UNAVAILABLE");
    assert_eq!(entry(&index, "iris").unwrap()["reason"], "unloaded");
    let (_, ready) = post(&app, "/v2/repository/index", None, json!({"ready": true})).await;
    assert!(entry(&ready, "iris").is_none(), "{ready}");
    assert!(entry(&ready, "linear").is_some(), "{ready}");

    let (status, model) = status_and_json(app.get("/api/models/iris").await).await;
    assert_eq!(status, 200);
    assert_eq!(model["status"], json!({"state": "unloaded"}));
    let row = json!({ "features": iris_features() });
    let (status, body) =
        status_and_json(app.post_json("/api/models/iris/predict", &row).await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["detail"],
        "Model 'iris' is not available: unloaded through the model repository API"
    );
    // Other models serve on.
    let (status, _) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);

    let (status, body) = post(&app, "/v2/repository/models/iris/load", None, json!({})).await;
    assert_eq!((status, &body), (200, &json!({})));
    let (status, body) =
        status_and_json(app.post_json("/api/models/iris/predict", &row).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prediction"]["label"], "setosa");
}

#[tokio::test]
async fn bad_repository_requests_say_what_is_wrong() {
    let app = TestApp::spawn().await;
    for path in [
        "/v2/repository/models/nope/load",
        "/v2/repository/models/nope/unload",
    ] {
        let (status, body) = post(&app, path, None, json!({})).await;
        assert_eq!(
            (status, &body),
            (404, &json!({"error": "Model 'nope' not found"})),
            "{path}"
        );
    }
    let (status, body) = post(
        &app,
        "/v2/repository/models/linear/load",
        None,
        json!({"parameters": {"config": "{}", "file:1/model.onnx": "AAAA"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("uploading a model in the request ('config') is not supported"),
        "{body}"
    );
    for (path, sent, says) in [
        (
            "/v2/repository/index",
            "[1]",
            "the body must be a JSON object",
        ),
        (
            "/v2/repository/index",
            "{\"ready\": \"yes\"}",
            "'ready' must be true or false",
        ),
        (
            "/v2/repository/models/linear/unload",
            "{\"parameters\": 3}",
            "'parameters' must be an object",
        ),
        (
            "/v2/repository/models/linear/load",
            "not json",
            "the body is not JSON",
        ),
    ] {
        let (status, body) = status_and_json(
            app.send_raw(reqwest::Method::POST, path, "application/json", sent.into())
                .await,
        )
        .await;
        assert_eq!(status, 400, "{path} {sent}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{path} {sent}: {body}"
        );
    }
    // Nothing was unloaded on the way.
    let (_, index) = post(&app, "/v2/repository/index", None, json!({"ready": true})).await;
    assert!(entry(&index, "linear").is_some(), "{index}");
}

#[tokio::test]
async fn a_model_that_fails_to_load_answers_400_with_the_reason_and_the_previous_version_serves() {
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().join("lin");
    copy_model("linear", &dir);
    let app = TestApp::with()
        .empty()
        .models(models.path())
        .configure(|c| c.models_poll_ms = 60_000)
        .start()
        .await;
    std::fs::write(dir.join("model.onnx"), b"not an onnx graph").unwrap();
    let (status, body) = post(&app, "/v2/repository/models/lin/load", None, json!({})).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("failed to load 'lin': model.onnx: "),
        "{body}"
    );
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/lin/predict",
            &json!({"features": {"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "the previous version serves: {body}");
}

#[tokio::test]
async fn only_editors_and_admins_manage_models() {
    let app = TestApp::with().auth().start().await;
    let admin = app.admin_token().await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let editor = app.user_token(&admin, "eddie", "editor").await;
    for path in [
        "/v2/repository/index",
        "/v2/repository/models/iris/unload",
        "/v2/repository/models/iris/load",
    ] {
        let (status, body) = post(&app, path, None, json!({})).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        let (status, body) = post(&app, path, Some(&viewer), json!({})).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        let (status, body) = post(&app, path, Some(&editor), json!({})).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}
