//! Tree ensembles served over HTTP: the classifiers tract-onnx gets wrong
//! (binary, string labels) answer scikit-learn's probabilities and labels
//! through the REST and Open Inference Protocol doors. The models and the
//! expected answers are `tests/trees/` (see its `make.py`).

use std::path::Path;

use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};

fn case(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A models folder serving the case `name` as the classifier `served`,
/// with classes `labels` (the case's inputs named `f0`, `f1`, ...).
fn serve_classifier(models: &Path, name: &str, served: &str, labels: &[&str]) {
    let dir = models.join(served);
    std::fs::create_dir_all(&dir).unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees");
    std::fs::copy(from.join(format!("{name}.onnx")), dir.join("model.onnx")).unwrap();
    let features = case(name)["inputs"][0].as_array().unwrap().len();
    let mut toml = String::from(
        "description = \"a tree ensemble from tests/trees\"\ntask = \"classification\"\nversion = \"1.0.0\"\n",
    );
    for i in 0..features {
        toml += &format!(
            "[[inputs]]\nname = \"f{i}\"\ndescription = \"\"\nmin = 0.0\nmax = 1.0\ndefault = 0.0\n"
        );
    }
    toml += &format!("[classes]\nlabels = {}\n", json!(labels));
    std::fs::write(dir.join("model.toml"), toml).unwrap();
}

fn instances(case: &Value) -> Value {
    let rows = case["inputs"].as_array().unwrap();
    rows.iter()
        .map(|row| {
            let features: serde_json::Map<String, Value> = row
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("f{i}"), v.clone()))
                .collect();
            Value::Object(features)
        })
        .collect()
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
        "{what}: {got}, scikit-learn {want}"
    );
}

#[tokio::test]
async fn a_binary_gradient_boosting_classifier_answers_scikit_learns_probabilities_and_labels() {
    let models = tempfile::tempdir().unwrap();
    let name = "gradient_boosting_classifier_binary";
    serve_classifier(models.path(), name, "cancer", &["malignant", "benign"]);
    let app = TestApp::with().empty().models(models.path()).start().await;
    let expected = case(name);

    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/cancer/predict",
            &json!({"instances": instances(&expected)}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let predictions = body["predictions"].as_array().unwrap();
    let labels = expected["outputs"]["label"].as_array().unwrap();
    let probabilities = expected["outputs"]["probabilities"].as_array().unwrap();
    assert_eq!(predictions.len(), labels.len());
    let mut both_classes = [false; 2];
    for (i, prediction) in predictions.iter().enumerate() {
        let class = labels[i].as_u64().unwrap() as usize;
        both_classes[class] = true;
        assert_eq!(prediction["class_index"], class, "row {i}: {prediction}");
        assert_eq!(prediction["label"], ["malignant", "benign"][class]);
        for (k, p) in prediction["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let want = probabilities[i][k].as_f64().unwrap();
            assert_close(
                p["probability"].as_f64().unwrap(),
                want,
                &format!("row {i} class {k}"),
            );
        }
    }
    assert_eq!(both_classes, [true, true], "the rows cover both classes");
}

#[tokio::test]
async fn a_classifier_with_string_labels_is_served_and_v2_offers_its_probabilities() {
    let models = tempfile::tempdir().unwrap();
    let name = "random_forest_classifier_strings";
    serve_classifier(
        models.path(),
        name,
        "flowers",
        &["setosa", "versicolor", "virginica"],
    );
    let app = TestApp::with().empty().models(models.path()).start().await;
    let expected = case(name);

    // The graph's string labels are not a numeric tensor: v2 lists the
    // probabilities alone.
    let (status, metadata) = status_and_json(app.get("/v2/models/flowers").await).await;
    assert_eq!(status, 200, "{metadata}");
    assert_eq!(
        metadata["outputs"],
        json!([{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]}])
    );

    let rows = expected["inputs"].as_array().unwrap();
    let flat: Vec<Value> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().clone())
        .collect();
    let request = json!({"inputs": [{
        "name": "input", "datatype": "FP32", "shape": [rows.len(), 4], "data": flat
    }]});
    let (status, body) =
        status_and_json(app.post_json("/v2/models/flowers/infer", &request).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outputs"].as_array().unwrap().len(), 1, "{body}");
    let got = body["outputs"][0]["data"].as_array().unwrap();
    let want: Vec<f64> = expected["outputs"]["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_close(g.as_f64().unwrap(), *w, &format!("probability {i}"));
    }

    // REST names the class from model.toml, as scikit-learn's predict does.
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/flowers/predict",
            &json!({"instances": instances(&expected)}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let labels = expected["outputs"]["label"].as_array().unwrap();
    for (prediction, label) in body["predictions"].as_array().unwrap().iter().zip(labels) {
        assert_eq!(&prediction["label"], label, "{prediction}");
    }
}

#[tokio::test]
async fn a_malformed_tree_ensemble_is_reported_with_the_reason_and_not_served() {
    let models = tempfile::tempdir().unwrap();
    // The small classifier's graph, with its first branch pointing at node
    // 126, which the tree does not have (make.py writes it).
    serve_classifier(
        models.path(),
        "small_classifier_softmax",
        "broken",
        &["a", "b", "c"],
    );
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees/malformed/branch_outside_its_tree.onnx");
    std::fs::copy(from, models.path().join("broken/model.onnx")).unwrap();
    let app = TestApp::with().empty().models(models.path()).start().await;

    let (status, body) = status_and_json(app.get("/api/models/broken").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["state"], "error", "{body}");
    let reason = body["status"]["message"].as_str().unwrap_or_default();
    assert!(
        reason.contains("its true node 126 is not in the tree"),
        "{body}"
    );
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/broken/predict",
            &json!({"features": {"f0": 0.0, "f1": 0.0}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
}
