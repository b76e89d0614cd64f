//! The Open Inference Protocol (KServe v2) routes.

use serde_json::json;

use crate::helpers::{status_and_json, TestApp};

#[tokio::test]
async fn health_and_server_metadata() {
    let app = TestApp::spawn().await;
    assert_eq!(
        status_and_json(app.get("/v2/health/live").await).await,
        (200, json!({"live": true}))
    );
    assert_eq!(
        status_and_json(app.get("/v2/health/ready").await).await,
        (200, json!({"ready": true}))
    );
    let (status, body) = status_and_json(app.get("/v2").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "itemserve");
    assert_eq!(
        body["extensions"],
        json!(["binary_tensor_data", "model_repository"])
    );
}

#[tokio::test]
async fn model_metadata_describes_the_tensors() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/v2/models/iris").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "iris");
    assert_eq!(body["versions"], json!(["1.0.0"]));
    assert_eq!(
        body["inputs"],
        json!([{"name": "input", "datatype": "FP32", "shape": [-1, 4]}])
    );
    assert_eq!(
        body["outputs"][1],
        json!({"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]})
    );
    let (status, body) = status_and_json(app.get("/v2/models/iris/ready").await).await;
    assert_eq!(
        (status, body),
        (200, json!({"name": "iris", "ready": true}))
    );
    let (status, _) = status_and_json(app.get("/v2/models/iris/versions/1.0.0").await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_models_and_versions_are_404_with_an_error() {
    let app = TestApp::spawn().await;
    for path in [
        "/v2/models/nope",
        "/v2/models/nope/ready",
        "/v2/models/iris/versions/9",
    ] {
        let (status, body) = status_and_json(app.get(path).await).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].is_string(), "{path}: {body}");
    }
    let (status, body) = status_and_json(
        app.post_json("/v2/models/nope/infer", &json!({"inputs": []}))
            .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "Model 'nope' not found"}));
}

#[tokio::test]
async fn infer_takes_nested_or_flat_data_and_echoes_the_id() {
    let app = TestApp::spawn().await;
    let nested = json!({
        "id": "req-1",
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64", "data": [[1.5, 2.3, 0.8], [0, 0, 0]]}]
    });
    let (status, body) =
        status_and_json(app.post_json("/v2/models/linear/infer", &nested).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "req-1");
    assert_eq!(body["model_name"], "linear");
    let output = &body["outputs"][0];
    assert_eq!(output["name"], "variable");
    assert_eq!(output["datatype"], "FP64");
    assert_eq!(output["shape"], json!([2, 1]));
    assert!((output["data"][0].as_f64().unwrap() - 6.876654844185817).abs() < 1e-9);

    let flat = json!({"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [1.5, 2.3, 0.8, 0, 0, 0]}]});
    let (status, flat_body) =
        status_and_json(app.post_json("/v2/models/linear/infer", &flat).await).await;
    assert_eq!(status, 200);
    let a = output["data"][0].as_f64().unwrap();
    let b = flat_body["outputs"][0]["data"][0].as_f64().unwrap();
    assert!((a - b).abs() < 1e-4);
}

#[tokio::test]
async fn infer_returns_labels_and_probabilities_for_a_classifier() {
    let app = TestApp::spawn().await;
    let request = json!({
        "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}],
        "outputs": [{"name": "probabilities"}]
    });
    let (status, body) =
        status_and_json(app.post_json("/v2/models/iris/infer", &request).await).await;
    assert_eq!(status, 200);
    let outputs = body["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "only the requested output");
    assert_eq!(outputs[0]["shape"], json!([1, 3]));
    assert!(outputs[0]["data"][0].as_f64().unwrap() > 0.9);

    let all = json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [6.5, 3.0, 5.2, 2.0]}]});
    let (_, body) = status_and_json(app.post_json("/v2/models/iris/infer", &all).await).await;
    assert_eq!(
        body["outputs"][0],
        json!({"name": "label", "datatype": "INT64", "shape": [1], "data": [2]})
    );
}

#[tokio::test]
async fn bad_infer_requests_are_400_with_a_clear_error() {
    let app = TestApp::spawn().await;
    let tensor = |name: &str, shape: serde_json::Value, datatype: &str, data: serde_json::Value| json!({"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]});
    let cases = [
        (json!({"inputs": []}), "exactly one input"),
        (json!({"nothing": 1}), "'inputs'"),
        (
            tensor("x", json!([1, 3]), "FP64", json!([1, 2, 3])),
            "Unknown input 'x'",
        ),
        (
            tensor("input", json!([1, 3]), "INT64", json!([1, 2, 3])),
            "Unsupported datatype",
        ),
        (
            tensor("input", json!([1, 4]), "FP64", json!([1, 2, 3, 4])),
            "expected [N, 3]",
        ),
        (
            tensor("input", json!([2, 3]), "FP64", json!([1, 2, 3])),
            "needs 6",
        ),
        (
            tensor("input", json!([1, 3]), "FP64", json!([1, "NaN", 3])),
            "only numbers",
        ),
        (
            tensor("input", json!([1, 3]), "FP64", json!([1, 2, 3, 4])),
            "more than the 3 values",
        ),
        (
            tensor("input", json!([1, 3]), "FP64", json!([[[1, 2, 3]]])),
            "nested deeper",
        ),
        (
            tensor("input", json!([1, 3]), "FP64", json!({"a": 1})),
            "only numbers",
        ),
        (json!([1, 2, 3]), "must be a JSON object"),
        (json!({"inputs": [[1, 2, 3]]}), "Unknown input ''"),
        (
            tensor("input", json!([0, 3]), "FP64", json!([])),
            "1 to 10000 rows",
        ),
        (
            tensor("input", json!([10001, 3]), "FP64", json!([])),
            "1 to 10000 rows",
        ),
        (
            tensor("input", json!([-1, 3]), "FP64", json!([])),
            "non-negative integers",
        ),
    ];
    for (request, needle) in cases {
        let (status, body) =
            status_and_json(app.post_json("/v2/models/linear/infer", &request).await).await;
        assert_eq!(status, 400, "{request}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error in {body}"));
        assert!(
            error.contains(needle),
            "{error:?} should mention {needle:?}"
        );
    }
    let unknown_output = json!({
        "inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}],
        "outputs": [{"name": "nope"}]
    });
    let (status, body) = status_and_json(
        app.post_json("/v2/models/linear/infer", &unknown_output)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("Unknown output 'nope'"));
}

#[tokio::test]
async fn malformed_json_to_infer_is_a_400_in_the_v2_shape() {
    let app = TestApp::spawn().await;
    let response = app
        .send_raw(
            reqwest::Method::POST,
            "/v2/models/linear/infer",
            "application/json",
            b"{\"inputs\": [".to_vec(),
        )
        .await;
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("JSON decode error"),
        "{body}"
    );
}

fn linear_request(rows: &[[f64; 3]]) -> serde_json::Value {
    let data: Vec<f64> = rows.iter().flatten().copied().collect();
    json!({"inputs": [{"name": "input", "shape": [rows.len(), 3], "datatype": "FP64", "data": data}]})
}

#[tokio::test]
async fn an_overflowing_result_is_a_422_naming_the_row() {
    let app = TestApp::spawn().await;
    let request = linear_request(&[[1.5, 2.3, 0.8], [1e308, 1e308, 1e308]]);
    let (status, body) =
        status_and_json(app.post_json("/v2/models/linear/infer", &request).await).await;
    assert_eq!(status, 422, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.starts_with("row 1: "), "{error}");
    assert!(error.contains("feature1=1e308"), "{error}");
}

#[tokio::test]
async fn infer_takes_json_without_a_content_type_or_as_octet_stream() {
    let app = TestApp::spawn().await;
    let body = serde_json::to_vec(&linear_request(&[[1.5, 2.3, 0.8]])).unwrap();
    let response = app
        .post_with_headers("/v2/models/linear/infer", &[], body.clone())
        .await;
    let (status, answer) = status_and_json(response).await;
    assert_eq!(status, 200, "{answer}");
    let value = answer["outputs"][0]["data"][0].as_f64().unwrap();
    assert!((value - 6.876654844185817).abs() < 1e-9, "{answer}");

    let (status, _) = status_and_json(
        app.send_raw(
            reqwest::Method::POST,
            "/v2/models/linear/infer",
            "application/octet-stream",
            body.clone(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);

    let (status, answer) = status_and_json(
        app.send_raw(
            reqwest::Method::POST,
            "/v2/models/linear/infer",
            "text/plain",
            body,
        )
        .await,
    )
    .await;
    assert_eq!(status, 415);
    assert!(
        answer["error"].as_str().unwrap().contains("text/plain"),
        "{answer}"
    );

    // The original REST routes still insist on JSON.
    let original = br#"{"feature1": 1.5, "feature2": 2.3, "feature3": 0.8}"#.to_vec();
    let response = app.post_with_headers("/predict/", &[], original).await;
    assert_eq!(response.status(), 415);
}

/// Sends a binary-extension request: the JSON header, then the tensor
/// bytes, announcing `claimed_length` (default: the true one) as the
/// header's length.
async fn post_binary(
    app: &TestApp,
    header: &serde_json::Value,
    tensor: &[u8],
    claimed_length: Option<usize>,
) -> reqwest::Response {
    let mut body = serde_json::to_vec(header).unwrap();
    let length = claimed_length.unwrap_or(body.len());
    body.extend_from_slice(tensor);
    app.post_with_headers(
        "/v2/models/linear/infer",
        &[("inference-header-content-length", length.to_string())],
        body,
    )
    .await
}

#[tokio::test]
async fn binary_tensor_data_goes_in_and_comes_out() {
    let app = TestApp::spawn().await;
    let rows = [[1.5f32, 2.3, 0.8], [0.0, 0.0, 0.0]];
    let tensor: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let header = json!({
        "id": "bin-1",
        "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32",
                    "parameters": {"binary_data_size": tensor.len()}}],
        "outputs": [{"name": "variable", "parameters": {"binary_data": true}}]
    });
    let response = post_binary(&app, &header, &tensor, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let json_length: usize = response.headers()["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = response.bytes().await.unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&bytes[..json_length]).unwrap();
    assert_eq!(answer["id"], "bin-1");
    let output = &answer["outputs"][0];
    assert_eq!(output["shape"], json!([2, 1]));
    assert_eq!(output["parameters"]["binary_data_size"], 16);
    assert!(output.get("data").is_none(), "{answer}");
    let values: Vec<f64> = bytes[json_length..]
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), 2);
    // FP32 inputs: the original example to float32 precision.
    assert!((values[0] - 6.876654844185817).abs() < 1e-5, "{values:?}");
}

#[tokio::test]
async fn binary_requests_that_do_not_add_up_are_400_with_an_error() {
    let app = TestApp::spawn().await;
    let tensor = vec![0u8; 24];
    let header = |size: usize| {
        json!({"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64",
                           "parameters": {"binary_data_size": size}}]})
    };
    let cases = [
        // declared size does not fit the shape
        (header(16), tensor[..16].to_vec(), None),
        // fewer bytes after the header than declared
        (header(24), tensor[..8].to_vec(), None),
        // header length beyond the body
        (header(24), tensor.clone(), Some(100_000)),
        // a value that is not a finite number
        (
            header(24),
            [0.0, f64::NAN, 1.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            None,
        ),
    ];
    for (header, tensor, claimed) in cases {
        let response = post_binary(&app, &header, &tensor, claimed).await;
        let (status, answer) = status_and_json(response).await;
        assert_eq!(status, 400, "{header}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
}
