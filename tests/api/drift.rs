//! Input drift: every door's rows are counted against the training
//! distribution in `model.toml`, read at `GET /api/models/{name}/drift`
//! and exported as Prometheus gauges.

use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};
use crate::hot_reload::copy_model;
use crate::observability::sample;
use crate::rpc::call;

/// `n` rows of the linear model's three features: the first at `first(i)`,
/// the other two spread evenly over the training range [0, 10).
fn rows(n: usize, first: impl Fn(usize) -> f64) -> Vec<[f64; 3]> {
    (0..n)
        .map(|i| {
            let spread = (i as f64 + 0.5) * 10.0 / n as f64;
            [first(i), spread, 10.0 - spread]
        })
        .collect()
}

async fn drift(app: &TestApp, model: &str) -> Value {
    let (status, body) =
        status_and_json(app.get(&format!("/api/models/{model}/drift")).await).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn input<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no input {name}: {report}"))
}

#[tokio::test]
async fn rows_from_every_door_are_read_against_the_training_data() {
    let app = TestApp::spawn().await;

    let report = drift(&app, "linear").await;
    assert_eq!(report["model"], "linear");
    assert_eq!(report["version"], "2.0.0");
    assert_eq!(report["window_seconds"], 3600);
    assert_eq!(
        report["rows"], 0,
        "the load's own test rows are not counted: {report}"
    );
    assert_eq!(report["min_rows"], 100);
    assert_eq!(report["has_reference"], true);
    for name in ["feature1", "feature2", "feature3"] {
        let feature = input(&report, name);
        assert_eq!(feature["reading"], "too_few_rows", "{feature}");
        assert_eq!(feature["psi"], Value::Null);
        // train.py's deciles of uniform training values: 9 edges, 10 bins
        // of about a tenth each.
        assert_eq!(feature["edges"].as_array().unwrap().len(), 9, "{feature}");
        let training: Vec<f64> = serde_json::from_value(feature["training"].clone()).unwrap();
        assert_eq!(training.len(), 10);
        assert!(
            (training.iter().sum::<f64>() - 1.0).abs() < 1e-9,
            "{training:?}"
        );
        assert!(
            training.iter().all(|s| (s - 0.1).abs() < 0.02),
            "{training:?}"
        );
        assert_eq!(feature["live"], json!(vec![0.0; 10]));
    }

    // 150 rows like the training data, through REST.
    let instances: Vec<Value> = rows(150, |i| (i as f64 + 0.5) / 15.0)
        .iter()
        .map(|r| json!({"feature1": r[0], "feature2": r[1], "feature3": r[2]}))
        .collect();
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/linear/predict",
            &json!({ "instances": instances }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let report = drift(&app, "linear").await;
    assert_eq!(report["rows"], 150);
    for name in ["feature1", "feature2", "feature3"] {
        let feature = input(&report, name);
        assert_eq!(feature["reading"], "stable", "{feature}");
        assert!(feature["psi"].as_f64().unwrap() < 0.1, "{feature}");
    }

    // 150 more through the Open Inference Protocol, every feature1 far
    // above anything seen in training, and one through the original
    // contract.
    let flat: Vec<f64> = rows(150, |_| 50.0).into_iter().flatten().collect();
    let (status, body) = status_and_json(
        app.post_json(
            "/v2/models/linear/infer",
            &json!({"inputs": [{"name": "input", "shape": [150, 3], "datatype": "FP64", "data": flat}]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 50.0, "feature2": 5.0, "feature3": 5.0}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let report = drift(&app, "linear").await;
    assert_eq!(report["rows"], 301);
    let feature1 = input(&report, "feature1");
    assert_eq!(feature1["reading"], "drifted", "{feature1}");
    let live: Vec<f64> = serde_json::from_value(feature1["live"].clone()).unwrap();
    let top_edge = feature1["edges"][8].as_f64().unwrap();
    let in_top_bin = (0..150)
        .filter(|i| (*i as f64 + 0.5) / 15.0 >= top_edge)
        .count()
        + 151;
    assert!(
        (live[9] - in_top_bin as f64 / 301.0).abs() < 1e-9,
        "{live:?}"
    );
    let psi = feature1["psi"].as_f64().unwrap();
    assert!(psi >= 0.25, "{feature1}");
    assert_eq!(input(&report, "feature2")["reading"], "stable", "{report}");

    // The same figures as Prometheus gauges.
    let text = app.get("/metrics").await.text().await.unwrap();
    let labels = [r#"model="linear""#, r#"version="2.0.0""#];
    let gauge = sample(
        &text,
        "itemserve_model_input_drift",
        &[labels[0], labels[1], r#"input="feature1""#],
    )
    .unwrap_or_else(|| panic!("no drift gauge in:\n{text}"));
    assert!((gauge - psi).abs() < 1e-9, "{gauge} vs {psi}");
    assert_eq!(
        sample(&text, "itemserve_model_drift_window_rows", &labels),
        Some(301.0)
    );
    // No gauge for a model without a reading yet.
    assert_eq!(
        sample(&text, "itemserve_model_input_drift", &[r#"model="iris""#]),
        None
    );
}

/// A models folder with one model: the linear graph, under a manifest
/// whose first input carries `reference` (a TOML inline table, or none).
fn linear_with_reference(models: &std::path::Path, name: &str, reference: Option<&str>) {
    let dir = models.join(name);
    copy_model("linear", &dir);
    let mut toml = String::from("task = \"regression\"\nversion = \"1\"\n");
    for (i, feature) in ["feature1", "feature2", "feature3"].iter().enumerate() {
        toml +=
            &format!("[[inputs]]\nname = \"{feature}\"\nmin = 0.0\nmax = 10.0\ndefault = 1.0\n");
        if let (0, Some(reference)) = (i, reference) {
            toml += &format!("reference = {reference}\n");
        }
    }
    std::fs::write(dir.join("model.toml"), toml).unwrap();
}

#[tokio::test]
async fn models_without_a_reference_say_so_and_bad_references_are_refused_with_the_reason() {
    let models = tempfile::tempdir().unwrap();
    linear_with_reference(models.path(), "plain", None);
    linear_with_reference(
        models.path(),
        "unordered",
        Some("{ edges = [5.0, 2.0], shares = [0.3, 0.3, 0.4] }"),
    );
    linear_with_reference(
        models.path(),
        "short",
        Some("{ edges = [5.0], shares = [1.0] }"),
    );
    linear_with_reference(
        models.path(),
        "halves",
        Some("{ edges = [5.0], shares = [0.5, 0.5] }"),
    );
    let app = TestApp::with().empty().models(models.path()).start().await;

    let report = drift(&app, "plain").await;
    assert_eq!(report["has_reference"], false, "{report}");
    assert_eq!(input(&report, "feature1")["reading"], "no_reference");

    // One input with a reference is enough for that input's reading.
    let report = drift(&app, "halves").await;
    assert_eq!(report["has_reference"], true, "{report}");
    assert_eq!(input(&report, "feature1")["reading"], "too_few_rows");
    assert_eq!(input(&report, "feature2")["reading"], "no_reference");

    for (model, reason) in [
        (
            "unordered",
            "model.toml: input 'feature1': reference edges must be finite and strictly ascending",
        ),
        (
            "short",
            "model.toml: input 'feature1': reference needs one share per bin: 1 edges make 2 bins, not 1",
        ),
    ] {
        let (status, body) =
            status_and_json(app.get(&format!("/api/models/{model}")).await).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"]["message"], reason, "{body}");
        let (status, body) =
            status_and_json(app.get(&format!("/api/models/{model}/drift")).await).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            body["detail"].as_str().unwrap_or_default().contains(reason),
            "{body}"
        );
    }

    let (status, body) = status_and_json(app.get("/api/models/nope/drift").await).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["detail"], "Model 'nope' not found");
}

#[tokio::test]
async fn the_prediction_pages_rows_count_but_its_what_if_sweeps_do_not() {
    let app = TestApp::spawn().await;
    let sweep: Vec<[f64; 3]> = (0..50).map(|i| [i as f64 / 5.0, 1.0, 1.0]).collect();
    let (status, body) = call(
        &app,
        "/rpc/models/what-if",
        json!({"model": "linear", "rows": sweep}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(50), "{body}");
    assert_eq!(drift(&app, "linear").await["rows"], 0);

    let (status, body) = call(
        &app,
        "/rpc/models/predict",
        json!({"model": "linear", "rows": [[1.5, 2.3, 0.8]]}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(drift(&app, "linear").await["rows"], 1);

    // A what-if call is checked like any other.
    let (status, body) = call(
        &app,
        "/rpc/models/what-if",
        json!({"model": "linear", "rows": [[1.0]]}).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["Validation"][0]["kind"], "length", "{body}");
}

#[tokio::test]
async fn the_window_is_a_setting() {
    let app = TestApp::with()
        .configure(|c| c.drift_window_secs = 600)
        .start()
        .await;
    let report = drift(&app, "linear").await;
    assert_eq!(report["window_seconds"], 600, "{report}");
}
