//! Adding, replacing and removing model folders while the server runs.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};

/// Copies the shipped model `name` (model.onnx, model.toml) into `to`.
pub(crate) fn copy_model(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    std::fs::create_dir_all(to).unwrap();
    for file in ["model.onnx", "model.toml"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

/// A server whose only model, `broken`, has a file that is not ONNX; the
/// folder lives as long as the returned guard.
pub(crate) async fn with_a_broken_model() -> (tempfile::TempDir, TestApp) {
    let models = tempfile::tempdir().unwrap();
    let broken = models.path().join("broken");
    copy_model("iris", &broken);
    std::fs::write(broken.join("model.onnx"), b"\x08\x01garbage").unwrap();
    let app = TestApp::with().empty().models(models.path()).start().await;
    (models, app)
}

/// Polls `path` until `check` accepts the answer (at most 2 seconds, the
/// promised pick-up time).
async fn eventually(
    app: &TestApp,
    path: &str,
    check: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, body) = status_and_json(app.get(path).await).await;
        if check(status, &body) {
            return (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never satisfied the check; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn linear_row() -> Value {
    json!({"features": {"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}})
}

#[tokio::test]
async fn a_model_folder_added_later_is_served_within_two_seconds() {
    let models = tempfile::tempdir().unwrap();
    let app = TestApp::with().empty().models(models.path()).start().await;
    let (_, body) = status_and_json(app.get("/api/models").await).await;
    assert_eq!(body["models"], json!([]));

    copy_model("linear", &models.path().join("fresh"));
    eventually(&app, "/api/models/fresh", |status, _| status == 200).await;
    let (status, body) = status_and_json(
        app.post_json("/api/models/fresh/predict", &linear_row())
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!((body["prediction"]["value"].as_f64().unwrap() - 6.876654844185817).abs() < 1e-9);
}

#[tokio::test]
async fn a_broken_replacement_keeps_the_old_version_serving_and_reports_the_error() {
    let models = tempfile::tempdir().unwrap();
    copy_model("linear", &models.path().join("linear"));
    let app = TestApp::with().empty().models(models.path()).start().await;
    assert_eq!(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1, "feature2": 1, "feature3": 1})
        )
        .await
        .status(),
        200
    );

    std::fs::write(
        models.path().join("linear/model.onnx"),
        b"this is not an ONNX file",
    )
    .unwrap();
    let (_, info) = eventually(&app, "/api/models/linear", |_, body| {
        body["status"]["state"] == "error"
    })
    .await;
    assert_eq!(info["status"]["serving_previous"], true);
    assert!(
        info["status"]["message"]
            .as_str()
            .unwrap()
            .contains("model.onnx"),
        "{info}"
    );

    let (status, _) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1, "feature2": 1, "feature3": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "the previous version still answers");

    copy_model("linear", &models.path().join("linear"));
    eventually(&app, "/api/models/linear", |_, body| {
        body["status"]["state"] == "ready"
    })
    .await;
}

#[tokio::test]
async fn a_broken_new_model_is_listed_with_its_error_and_answers_503() {
    let (_models, app) = with_a_broken_model().await;

    let (status, body) = status_and_json(app.get("/api/models").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["models"][0]["name"], "broken");
    assert_eq!(body["models"][0]["status"]["state"], "error");
    assert_eq!(body["models"][0]["status"]["serving_previous"], false);

    let (status, body) = status_and_json(
        app.post_json("/api/models/broken/predict", &json!({"features": {}}))
            .await,
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        body["detail"].as_str().unwrap().contains("not available"),
        "{body}"
    );
    // The protocol answers "not ready" with a 4xx status; the body says why.
    let (status, body) = status_and_json(app.get("/v2/models/broken/ready").await).await;
    assert_eq!(status, 400);
    assert_eq!(
        (&body["name"], &body["ready"]),
        (&json!("broken"), &json!(false))
    );
    assert!(
        body["error"].as_str().unwrap().contains("not available"),
        "{body}"
    );
}

#[tokio::test]
async fn a_removed_model_folder_stops_being_served() {
    let models = tempfile::tempdir().unwrap();
    copy_model("iris", &models.path().join("iris"));
    let app = TestApp::with().empty().models(models.path()).start().await;
    assert_eq!(app.get("/api/models/iris").await.status(), 200);

    std::fs::remove_dir_all(models.path().join("iris")).unwrap();
    eventually(&app, "/api/models/iris", |status, _| status == 404).await;
}
