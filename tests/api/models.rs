//! `/predict/` and `/api/models`, against the shipped models.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::helpers::{error_locs, pairs, status_and_json, TestApp};
use crate::hot_reload::copy_model;

const IRIS_ROW: [(&str, f64); 4] = [
    ("sepal_length", 5.1),
    ("sepal_width", 3.5),
    ("petal_length", 1.4),
    ("petal_width", 0.2),
];

pub(crate) fn iris_features() -> Value {
    json!(IRIS_ROW
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect::<BTreeMap<_, _>>())
}

#[tokio::test]
async fn the_original_predict_example_answers_what_the_original_app_does() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let prediction = body["prediction"].as_f64().unwrap();
    // The original app answers 6.876654844185817.
    assert!(
        (prediction - 6.876654844185817).abs() < 1e-9,
        "{prediction}"
    );
    assert_eq!(
        body.as_object().unwrap().len(),
        1,
        "only 'prediction': {body}"
    );
}

#[tokio::test]
async fn predict_without_the_trailing_slash_works_too() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json(
            "/predict",
            &json!({"feature1": 0, "feature2": 0, "feature3": 0}),
        )
        .await;
    assert_eq!(response.status(), 200);
}

/// Plain bodies are decoded straight into the row; anything else (here an
/// escaped key, which only the general decoder reads) the general way. Both
/// must give the same row, in the model's feature order.
#[tokio::test]
async fn one_row_predicts_the_same_however_it_is_sent() {
    let app = TestApp::spawn().await;
    let original = |body: &'static str| {
        let app = &app;
        async move {
            let response = app
                .send_raw(
                    reqwest::Method::POST,
                    "/predict/",
                    "application/json",
                    body.as_bytes().to_vec(),
                )
                .await;
            let (status, answer) = status_and_json(response).await;
            assert_eq!(status, 200, "{body}: {answer}");
            answer["prediction"].as_f64().unwrap()
        }
    };
    let expected = original(r#"{"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}"#).await;
    for body in [
        r#"{"feature3": 0.8, "feature1": 1.5, "feature2": 2.3}"#,
        r#"{"feature1": 1.5, "feature2": 2.3, "feature\u0033": 0.8}"#,
        r#" {"feature2":2.3,"feature3":8e-1,"feature1":15E-1} "#,
    ] {
        assert_eq!(original(body).await, expected, "{body}");
    }
    let expected_int = original(r#"{"feature1": 1, "feature2": 2, "feature3": 3}"#).await;
    assert_eq!(
        original(r#"{"feature1": 1.0, "feature2": 2.0, "feature3": 3.0}"#).await,
        expected_int
    );

    for body in [
        json!({"features": {"feature3": 0.8, "feature2": 2.3, "feature1": 1.5}}),
        json!({"instances": [{"feature3": 0.8, "feature2": 2.3, "feature1": 1.5}]}),
    ] {
        let (status, answer) =
            status_and_json(app.post_json("/api/models/linear/predict", &body).await).await;
        assert_eq!(status, 200, "{answer}");
        let value = answer
            .get("prediction")
            .unwrap_or(&answer["predictions"][0])
            .get("value")
            .and_then(Value::as_f64);
        assert_eq!(value, Some(expected), "{body}: {answer}");
    }
}

#[tokio::test]
async fn predict_names_every_missing_or_non_numeric_feature() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json("/predict/", &json!({"feature1": "abc", "feature3": null}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[
            ("body.feature1", "float_type"),
            ("body.feature2", "missing"),
            ("body.feature3", "float_type")
        ])
    );
}

#[tokio::test]
async fn predict_rejects_unknown_features_nan_strings_and_huge_numbers() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1, "feature2": 1, "feature3": 1, "feature4": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[("body.feature4", "extra_forbidden")])
    );

    let (status, body) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": "NaN", "feature2": "Infinity", "feature3": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        error_locs(&body),
        pairs(&[
            ("body.feature1", "float_type"),
            ("body.feature2", "float_type")
        ])
    );

    let raw = br#"{"feature1": 1e999, "feature2": 1, "feature3": 1}"#.to_vec();
    let (status, body) = status_and_json(
        app.send_raw(reqwest::Method::POST, "/predict/", "application/json", raw)
            .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
}

#[tokio::test]
async fn predict_answers_503_when_the_linear_model_is_missing() {
    let empty = tempfile::tempdir().unwrap();
    let app = TestApp::with().empty().models(empty.path()).start().await;
    let (status, body) = status_and_json(
        app.post_json(
            "/predict/",
            &json!({"feature1": 1, "feature2": 1, "feature3": 1}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 503);
    assert!(
        body["detail"].as_str().unwrap().contains("'linear'"),
        "{body}"
    );
    // A body that is not JSON is refused as such all the same.
    let (status, body) = status_and_json(
        app.send_raw(
            reqwest::Method::POST,
            "/predict/",
            "application/json",
            b"{\"feature1\": 1,".to_vec(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "json_invalid", "{body}");
}

#[tokio::test]
async fn the_model_listing_shows_every_shipped_model_ready() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/api/models").await).await;
    assert_eq!(status, 200);
    let models = body["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["diabetes", "diabetes_boosting", "iris", "linear"]);
    for model in models {
        assert_eq!(model["status"]["state"], "ready", "{model}");
        assert!(!model["inputs"].as_array().unwrap().is_empty());
        assert!(model["version"].is_string());
    }
    let iris = &models[2];
    assert_eq!(iris["task"], "classification");
    assert_eq!(iris["labels"], json!(["setosa", "versicolor", "virginica"]));
    assert_eq!(models[0]["inputs"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn one_models_metadata_and_a_404_for_unknown_names() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/api/models/linear").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["task"], "regression");
    assert_eq!(body["inputs"][0]["name"], "feature1");
    assert!(body["provenance"]["recipe"]
        .as_str()
        .unwrap()
        .contains("train.py"));

    for name in ["nope", "..%2F..%2Fetc%2Fpasswd", "linear.onnx"] {
        let (status, body) = status_and_json(app.get(&format!("/api/models/{name}")).await).await;
        assert_eq!(status, 404, "{name}");
        assert!(
            body["detail"].as_str().unwrap().contains("not found"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_classifier_predicts_a_label_with_probabilities() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/iris/predict",
            &json!({"features": iris_features()}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], "iris");
    assert_eq!(body["prediction"]["label"], "setosa");
    let probabilities = body["prediction"]["probabilities"].as_array().unwrap();
    assert_eq!(probabilities.len(), 3);
    let sum: f64 = probabilities
        .iter()
        .map(|p| p["probability"].as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-5);
}

#[tokio::test]
async fn a_batch_of_instances_gets_one_prediction_each() {
    let app = TestApp::spawn().await;
    let instances: Vec<Value> = (0..500)
        .map(|i| json!({"feature1": i as f64 / 100.0, "feature2": 0.5, "feature3": 0.5}))
        .collect();
    let response = app
        .post_json(
            "/api/models/linear/predict",
            &json!({ "instances": instances }),
        )
        .await;
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(timing.starts_with("inference;dur="), "{timing}");
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 200);
    let predictions = body["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 500);
    let first = predictions[0]["value"].as_f64().unwrap();
    let last = predictions[499]["value"].as_f64().unwrap();
    assert!(last > first, "the prediction grows with feature1");
}

#[tokio::test]
async fn ten_thousand_rows_are_accepted_and_one_more_is_not() {
    let app = TestApp::spawn().await;
    let row = json!({"feature1": 1, "feature2": 2, "feature3": 3});
    let ok = vec![row.clone(); 10_000];
    let (status, body) = status_and_json(
        app.post_json("/api/models/linear/predict", &json!({ "instances": ok }))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["predictions"].as_array().unwrap().len(), 10_000);

    let too_many = vec![row; 10_001];
    let (status, body) = status_and_json(
        app.post_json(
            "/api/models/linear/predict",
            &json!({ "instances": too_many }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_locs(&body), pairs(&[("body.instances", "too_long")]));
}

#[tokio::test]
async fn bad_prediction_requests_get_422_naming_the_problem() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({}), vec![("body.features", "missing")]),
        (
            json!({"features": {}, "instances": []}),
            vec![("body", "value_error")],
        ),
        (
            json!({"instances": []}),
            vec![("body.instances", "too_short")],
        ),
        (
            json!({"instances": {"a": 1}}),
            vec![("body.instances", "list_type")],
        ),
        (
            json!({"features": [1, 2, 3]}),
            vec![("body.features", "model_attributes_type")],
        ),
        (
            json!({"instances": [{"feature1": 1, "feature2": 1, "feature3": 1}, {"feature1": "x", "feature2": 1}]}),
            vec![
                ("body.instances.1.feature1", "float_type"),
                ("body.instances.1.feature3", "missing"),
            ],
        ),
    ];
    for (body, expected) in cases {
        let (status, response) =
            status_and_json(app.post_json("/api/models/linear/predict", &body).await).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_locs(&response), pairs(&expected), "{body}");
    }
}

#[tokio::test]
async fn predicting_with_an_unknown_model_is_a_404() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.post_json("/api/models/nope/predict", &json!({"features": {}}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"detail": "Model 'nope' not found"}));
}

#[tokio::test]
async fn a_batch_predicts_the_same_values_as_single_rows() {
    let app = TestApp::spawn().await;
    let rows = [
        json!({"feature3": 0.8, "feature1": 1.5, "feature2": 2.3}),
        json!({"feature1": -4, "feature2": 0, "feature3": 10}),
    ];
    let (status, batch) = status_and_json(
        app.post_json("/api/models/linear/predict", &json!({ "instances": rows }))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    for (i, row) in rows.iter().enumerate() {
        let (_, single) = status_and_json(
            app.post_json("/api/models/linear/predict", &json!({ "features": row }))
                .await,
        )
        .await;
        assert_eq!(batch["predictions"][i], single["prediction"], "row {i}");
    }
}

const HUGE: f64 = 1e308;

#[tokio::test]
async fn an_overflowing_original_prediction_is_a_422_naming_the_inputs_not_a_null() {
    let app = TestApp::spawn().await;
    let body = json!({"feature1": HUGE, "feature2": HUGE, "feature3": HUGE});
    let (status, answer) = status_and_json(app.post_json("/predict/", &body).await).await;
    assert_eq!(status, 422, "{answer}");
    let detail = &answer["detail"][0];
    assert_eq!(detail["type"], "prediction_not_finite");
    assert_eq!(detail["loc"], json!(["body"]));
    assert_eq!(detail["input"], body);
    let msg = detail["msg"].as_str().unwrap();
    for named in [
        "feature1=1e308",
        "feature2=1e308",
        "feature3=1e308",
        "not a finite number",
    ] {
        assert!(msg.contains(named), "{msg}");
    }
}

#[tokio::test]
async fn an_overflowing_prediction_is_a_422_on_the_model_routes_too() {
    let app = TestApp::spawn().await;
    let huge = json!({"feature1": HUGE, "feature2": HUGE, "feature3": 0.5});
    let (status, answer) = status_and_json(
        app.post_json("/api/models/linear/predict", &json!({"features": huge}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["detail"][0]["loc"], json!(["body", "features"]));
    assert_eq!(answer["detail"][0]["input"], huge);

    // In a batch, each overflowing row is named by its position; the
    // others get no partial answer either.
    let fine = json!({"feature1": 1.5, "feature2": 2.3, "feature3": 0.8});
    let batch = json!({"instances": [fine, huge, fine, huge]});
    let (status, answer) =
        status_and_json(app.post_json("/api/models/linear/predict", &batch).await).await;
    assert_eq!(status, 422, "{answer}");
    let locs: Vec<&Value> = answer["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["loc"])
        .collect();
    assert_eq!(
        locs,
        [
            &json!(["body", "instances", 1]),
            &json!(["body", "instances", 3])
        ]
    );

    // A float32 model overflows already when the input is narrowed.
    let mut iris = iris_features();
    iris["petal_length"] = json!(HUGE);
    let (status, answer) = status_and_json(
        app.post_json("/api/models/iris/predict", &json!({"features": iris}))
            .await,
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["detail"][0]["type"], "prediction_not_finite");
}

#[tokio::test]
async fn every_prediction_route_names_the_version_that_answered() {
    let app = TestApp::spawn().await;
    let version = |response: &reqwest::Response| {
        response
            .headers()
            .get("model-version")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let original = app
        .post_json(
            "/predict/",
            &json!({"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}),
        )
        .await;
    assert_eq!(original.status(), 200);
    assert_eq!(version(&original).as_deref(), Some("2.0.0"));
    let rest = app
        .post_json(
            "/api/models/iris/predict",
            &json!({ "features": iris_features() }),
        )
        .await;
    assert_eq!(rest.status(), 200);
    assert_eq!(version(&rest).as_deref(), Some("1.0.0"));
    let infer = json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1.5, 2.3, 0.8]}]});
    for path in [
        "/v2/models/linear/infer",
        "/v2/models/linear/versions/2.0.0/infer",
    ] {
        let v2 = app.post_json(path, &infer).await;
        assert_eq!(v2.status(), 200, "{path}");
        assert_eq!(version(&v2).as_deref(), Some("2.0.0"), "{path}");
        let (_, body) = status_and_json(v2).await;
        assert_eq!(body["model_version"], "2.0.0");
    }
    // An error names no version.
    let refused = app.post_json("/predict/", &json!({"feature1": "x"})).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(version(&refused), None);
}

#[tokio::test]
async fn a_version_that_cannot_name_an_answer_fails_the_load_with_the_reason() {
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().join("spaced");
    copy_model("linear", &dir);
    let manifest = std::fs::read_to_string(dir.join("model.toml"))
        .unwrap()
        .replace("version = \"2.0.0\"", "version = \"2.0 beta\"");
    std::fs::write(dir.join("model.toml"), manifest).unwrap();
    let app = TestApp::with().empty().models(models.path()).start().await;

    let (status, body) = status_and_json(app.get("/api/models/spaced").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["status"]["message"],
        "model.toml: version \"2.0 beta\" must be 1 to 64 visible ASCII characters (letters, digits, punctuation; no spaces)",
        "{body}"
    );
}
