//! The Open Inference Protocol (KServe / Triton "v2") REST surface, so that
//! standard v2 clients can call the models. Errors are `{"error": "..."}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::JsonBody;
use crate::domain::MAX_BATCH_ROWS;
use crate::server::inference::{self, InferenceError, LoadedModel, TensorOutput};
use crate::server::state::AppState;

type V2Result = Result<Json<Value>, ApiError>;

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::OpenInference(StatusCode::BAD_REQUEST, message.into())
}

/// `GET /v2/health/live`.
pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// `GET /v2/health/ready`: the server accepts inference requests.
pub async fn ready() -> Json<Value> {
    Json(json!({ "ready": true }))
}

/// `GET /v2`: server metadata.
pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "itemserve",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": [],
    }))
}

fn model(
    state: &AppState,
    name: &str,
    version: Option<&str>,
) -> Result<std::sync::Arc<LoadedModel>, ApiError> {
    let model = state
        .models
        .get(name)
        .map_err(|e| ApiError::from(e).into_open_inference())?;
    if let Some(version) = version.filter(|v| *v != model.info.version) {
        return Err(ApiError::OpenInference(
            StatusCode::NOT_FOUND,
            format!(
                "Model '{name}' has no version '{version}' (serving '{}')",
                model.info.version
            ),
        ));
    }
    Ok(model)
}

fn metadata(model: &LoadedModel) -> Value {
    let sig = &model.signature;
    json!({
        "name": model.info.name,
        "versions": [model.info.version],
        "platform": "onnx_tract",
        "inputs": [{
            "name": sig.input_name,
            "datatype": sig.input_type.v2_name(),
            "shape": [-1, sig.features],
        }],
        "outputs": sig.outputs.iter().map(|o| {
            let mut shape = vec![json!(-1)];
            shape.extend(o.inner_shape.iter().map(|d| json!(d)));
            json!({ "name": o.name, "datatype": o.v2_datatype(), "shape": shape })
        }).collect::<Vec<_>>(),
    })
}

/// `GET /v2/models/{name}`.
pub async fn model_metadata(State(state): State<AppState>, Path(name): Path<String>) -> V2Result {
    let model = model(&state, &name, None)?;
    Ok(Json(metadata(&model)))
}

/// `GET /v2/models/{name}/versions/{version}`.
pub async fn model_version_metadata(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> V2Result {
    let model = model(&state, &name, Some(&version))?;
    Ok(Json(metadata(&model)))
}

/// `GET /v2/models/{name}/ready`: 200 with `ready` true or false.
pub async fn model_ready(State(state): State<AppState>, Path(name): Path<String>) -> V2Result {
    match state.models.get(&name) {
        Ok(_) => Ok(Json(json!({ "name": name, "ready": true }))),
        Err(InferenceError::NotReady { .. }) => Ok(Json(json!({ "name": name, "ready": false }))),
        Err(e) => Err(ApiError::from(e).into_open_inference()),
    }
}

/// `POST /v2/models/{name}/infer`.
pub async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> V2Result {
    run_infer(&state, &name, None, body).await
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
pub async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Result<JsonBody, ApiError>,
) -> V2Result {
    run_infer(&state, &name, Some(&version), body).await
}

async fn run_infer(
    state: &AppState,
    name: &str,
    version: Option<&str>,
    body: Result<JsonBody, ApiError>,
) -> V2Result {
    let model = model(state, name, version)?;
    let JsonBody(body) = body.map_err(ApiError::into_open_inference)?;
    let request = InferRequest::parse(&body, &model)?;
    let n_rows = request.rows;
    let results = inference::run_flat(model.clone(), request.data, n_rows)
        .await
        .map_err(|e| ApiError::from(e).into_open_inference())?;
    let outputs: Vec<Value> = results
        .into_iter()
        .filter(|(spec, _)| {
            request
                .outputs
                .as_ref()
                .is_none_or(|wanted| wanted.contains(&spec.name))
        })
        .map(|(spec, values)| output_tensor(&spec, values, n_rows))
        .collect();
    let mut response = json!({
        "model_name": model.info.name,
        "model_version": model.info.version,
        "outputs": outputs,
    });
    if let Some(id) = request.id {
        response["id"] = id;
    }
    Ok(Json(response))
}

fn output_tensor(spec: &TensorOutput, values: Vec<f64>, n_rows: usize) -> Value {
    let mut shape = vec![n_rows];
    shape.extend(&spec.inner_shape);
    let data: Vec<Value> = if spec.is_integer() {
        values.iter().map(|v| json!(*v as i64)).collect()
    } else {
        values.iter().map(|v| json!(v)).collect()
    };
    json!({ "name": spec.name, "datatype": spec.v2_datatype(), "shape": shape, "data": data })
}

/// A validated inference request: one input tensor, flattened row-major.
struct InferRequest {
    id: Option<Value>,
    rows: usize,
    data: Vec<f64>,
    outputs: Option<Vec<String>>,
}

impl InferRequest {
    fn parse(body: &Value, model: &LoadedModel) -> Result<InferRequest, ApiError> {
        let sig = &model.signature;
        let object = body
            .as_object()
            .ok_or_else(|| bad_request("The request body must be a JSON object"))?;
        let inputs = object
            .get("inputs")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_request("'inputs' must be a list of input tensors"))?;
        let [input] = inputs.as_slice() else {
            return Err(bad_request(format!(
                "Expected exactly one input tensor ('{}'), got {}",
                sig.input_name,
                inputs.len()
            )));
        };
        let input_name = input
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if input_name != sig.input_name {
            return Err(bad_request(format!(
                "Unknown input '{input_name}'; model '{}' takes '{}'",
                model.info.name, sig.input_name
            )));
        }
        let datatype = input
            .get("datatype")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !matches!(datatype, "FP32" | "FP64") {
            return Err(bad_request(format!(
                "Unsupported datatype '{datatype}' for '{input_name}': use FP32 or FP64"
            )));
        }
        let shape: Vec<u64> = input
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|dims| dims.iter().map(Value::as_u64).collect())
            .ok_or_else(|| {
                bad_request(format!(
                    "'shape' of '{input_name}' must be a list of non-negative integers"
                ))
            })?;
        let k = sig.features as u64;
        let rows = match shape.as_slice() {
            [n, cols] if *cols == k => *n,
            [cols] if *cols == k => 1,
            _ => {
                return Err(bad_request(format!(
                    "Shape {shape:?} of '{input_name}' does not fit the model: expected [N, {k}]"
                )))
            }
        };
        if rows == 0 || rows > MAX_BATCH_ROWS as u64 {
            return Err(bad_request(format!(
                "The batch must have 1 to {MAX_BATCH_ROWS} rows, not {rows}"
            )));
        }
        let expected = (rows * k) as usize;
        let raw = input
            .get("data")
            .ok_or_else(|| bad_request(format!("'data' of '{input_name}' is missing")))?;
        let mut data = Vec::with_capacity(expected);
        flatten(raw, &mut data, expected, 0)?;
        if data.len() != expected {
            return Err(bad_request(format!(
                "'data' of '{input_name}' has {} values; shape {shape:?} needs {expected}",
                data.len()
            )));
        }
        let outputs = match object.get("outputs") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => {
                let names: Vec<String> = list
                    .iter()
                    .map(|o| o.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad_request("each requested output needs a 'name'"))?;
                if let Some(unknown) = names
                    .iter()
                    .find(|n| !sig.outputs.iter().any(|o| &o.name == *n))
                {
                    let known: Vec<&str> = sig.outputs.iter().map(|o| o.name.as_str()).collect();
                    return Err(bad_request(format!(
                        "Unknown output '{unknown}'; the model has {}",
                        known.join(", ")
                    )));
                }
                Some(names)
            }
            Some(_) => return Err(bad_request("'outputs' must be a list")),
        };
        Ok(InferRequest {
            id: object.get("id").cloned(),
            rows: rows as usize,
            data,
            outputs,
        })
    }
}

/// Appends the numbers of a flat or nested list to `out`.
fn flatten(value: &Value, out: &mut Vec<f64>, limit: usize, depth: usize) -> Result<(), ApiError> {
    match value {
        Value::Number(n) => {
            if out.len() >= limit {
                return Err(bad_request(format!(
                    "'data' has more than the {limit} values its shape allows"
                )));
            }
            out.push(n.as_f64().unwrap_or(f64::NAN));
            Ok(())
        }
        Value::Array(items) if depth < 2 => items
            .iter()
            .try_for_each(|v| flatten(v, out, limit, depth + 1)),
        Value::Array(_) => Err(bad_request("'data' is nested deeper than its shape")),
        other => Err(bad_request(format!(
            "'data' must hold only numbers (finite, as JSON numbers); found {other}"
        ))),
    }
}
