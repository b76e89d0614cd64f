//! The Open Inference Protocol (KServe / Triton "v2") REST surface, so that
//! standard v2 clients can call the models. Errors are `{"error": "..."}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use crate::server::inference::{self, InferenceError, LoadedModel};
use crate::server::state::AppState;
use tensor::{InferBody, InferRequest};

mod header;
pub(super) mod repository;
mod tensor;

type V2Result = Result<Json<Value>, ApiError>;

/// [`Can<Read>`](super::extract::Can), refused in the protocol's error shape.
pub struct V2Can;

impl axum::extract::FromRequestParts<AppState> for V2Can {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        super::extract::Can::<super::extract::Read>::from_request_parts(parts, state)
            .await
            .map(|_| V2Can)
            .map_err(ApiError::into_open_inference)
    }
}

pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::OpenInference(StatusCode::BAD_REQUEST, message.into())
}

/// `GET /v2/health/live`.
#[utoipa::path(get, path = "/v2/health/live", tag = "v2", summary = "Server liveness",
    responses((status = 200, description = "The server is live", body = super::openapi::V2Live)))]
pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

/// `GET /v2/health/ready`: the server accepts inference requests.
#[utoipa::path(get, path = "/v2/health/ready", tag = "v2", summary = "Server readiness",
    responses((status = 200, description = "The server accepts inference requests", body = super::openapi::V2Ready)))]
pub async fn ready() -> Json<Value> {
    Json(json!({ "ready": true }))
}

/// `GET /v2`: server metadata.
#[utoipa::path(get, path = "/v2", tag = "v2", summary = "Server metadata",
    responses((status = 200, description = "Name, version and protocol extensions", body = super::openapi::V2ServerMetadata)))]
pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "itemserve",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data", "model_repository"],
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
#[utoipa::path(get, path = "/v2/models/{name}", tag = "v2", summary = "Model metadata",
    params(("name" = String, Path, description = "The model's name", example = "linear")),
    responses(
        (status = 200, description = "Inputs and outputs with datatypes and shapes", body = super::openapi::V2ModelMetadata),
        (status = 404, description = "No model has this name", body = super::openapi::InferenceErrorBody),
        (status = 503, description = "The model failed to load", body = super::openapi::InferenceErrorBody),
    ))]
pub async fn model_metadata(
    State(state): State<AppState>,
    _: V2Can,
    Path(name): Path<String>,
) -> V2Result {
    let model = model(&state, &name, None)?;
    Ok(Json(metadata(&model)))
}

/// `GET /v2/models/{name}/versions/{version}`.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "v2", summary = "Model metadata of one version",
    params(
        ("name" = String, Path, description = "The model's name", example = "linear"),
        ("version" = String, Path, description = "The version served", example = "2.0.0"),
    ),
    responses(
        (status = 200, description = "Inputs and outputs with datatypes and shapes", body = super::openapi::V2ModelMetadata),
        (status = 404, description = "No model has this name, or it serves another version", body = super::openapi::InferenceErrorBody),
        (status = 503, description = "The model failed to load", body = super::openapi::InferenceErrorBody),
    ))]
pub async fn model_version_metadata(
    State(state): State<AppState>,
    _: V2Can,
    Path((name, version)): Path<(String, String)>,
) -> V2Result {
    let model = model(&state, &name, Some(&version))?;
    Ok(Json(metadata(&model)))
}

/// `GET /v2/models/{name}/ready`: the status code is the answer, as the
/// protocol says (200 ready, 4xx not), so clients that only look at the
/// status (the Triton client does) read it right; the body says it too.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "v2", summary = "Model readiness",
    params(("name" = String, Path, description = "The model's name", example = "linear")),
    responses(
        (status = 200, description = "The model is ready", body = super::openapi::V2ModelReady),
        (status = 400, description = "The model exists but is not ready (it failed to load)", body = super::openapi::V2ModelReady),
        (status = 404, description = "No model has this name", body = super::openapi::InferenceErrorBody),
    ))]
pub async fn model_ready(
    State(state): State<AppState>,
    _: V2Can,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    match state.models.get(&name) {
        Ok(_) => Ok(Json(json!({ "name": name, "ready": true })).into_response()),
        Err(e @ InferenceError::NotReady { .. }) => Ok((
            StatusCode::BAD_REQUEST,
            Json(json!({ "name": name, "ready": false, "error": e.to_string() })),
        )
            .into_response()),
        Err(e) => Err(ApiError::from(e).into_open_inference()),
    }
}

/// `POST /v2/models/{name}/infer`.
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "v2", summary = "Inference",
    params(("name" = String, Path, description = "The model's name", example = "linear")),
    request_body(
        description = "JSON (`application/json` or no content type), or the binary tensor form: `application/octet-stream` with the JSON header's length in `Inference-Header-Content-Length`, then the raw little-endian tensor bytes.",
        content(
            (super::openapi::V2InferRequest = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "The output tensors (JSON, or the binary form when asked)",
            headers(("Model-Version" = String, description = "The version of the model that answered")), content(
            (super::openapi::V2InferResponse = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 400, description = "The request does not fit the model (names, shapes, datatypes, sizes)", body = super::openapi::InferenceErrorBody),
        (status = 404, description = "No model has this name (or version)", body = super::openapi::InferenceErrorBody),
        (status = 415, description = "Another content type", body = super::openapi::InferenceErrorBody),
        (status = 422, description = "A result is not a finite number; the rows and their inputs are named", body = super::openapi::InferenceErrorBody),
        (status = 503, description = "The model failed to load", body = super::openapi::InferenceErrorBody),
    ))]
pub async fn infer(
    State(state): State<AppState>,
    _: V2Can,
    Path(name): Path<String>,
    body: Result<InferBody, ApiError>,
) -> Result<Response, ApiError> {
    run_infer(&state, &name, None, body).await
}

/// `POST /v2/models/{name}/versions/{version}/infer`.
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "v2", summary = "Inference with one version",
    params(
        ("name" = String, Path, description = "The model's name", example = "linear"),
        ("version" = String, Path, description = "The version served", example = "2.0.0"),
    ),
    request_body(
        description = "JSON (`application/json` or no content type), or the binary tensor form: `application/octet-stream` with the JSON header's length in `Inference-Header-Content-Length`, then the raw little-endian tensor bytes.",
        content(
            (super::openapi::V2InferRequest = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        ),
    ),
    responses(
        (status = 200, description = "The output tensors (JSON, or the binary form when asked)",
            headers(("Model-Version" = String, description = "The version of the model that answered")), content(
            (super::openapi::V2InferResponse = "application/json"),
            (Vec<u8> = "application/octet-stream"),
        )),
        (status = 400, description = "The request does not fit the model (names, shapes, datatypes, sizes)", body = super::openapi::InferenceErrorBody),
        (status = 404, description = "No model has this name (or version)", body = super::openapi::InferenceErrorBody),
        (status = 415, description = "Another content type", body = super::openapi::InferenceErrorBody),
        (status = 422, description = "A result is not a finite number; the rows and their inputs are named", body = super::openapi::InferenceErrorBody),
        (status = 503, description = "The model failed to load", body = super::openapi::InferenceErrorBody),
    ))]
pub async fn infer_version(
    State(state): State<AppState>,
    _: V2Can,
    Path((name, version)): Path<(String, String)>,
    body: Result<InferBody, ApiError>,
) -> Result<Response, ApiError> {
    run_infer(&state, &name, Some(&version), body).await
}

async fn run_infer(
    state: &AppState,
    name: &str,
    version: Option<&str>,
    body: Result<InferBody, ApiError>,
) -> Result<Response, ApiError> {
    let model = model(state, name, version)?;
    let mut request = InferRequest::parse(body?, &model)?;
    let data = std::mem::take(&mut request.data);
    let results = inference::run_flat(model.clone(), data, request.rows)
        .await
        .map_err(|e| ApiError::open_inference(e, &model))?;
    let mut response = request.respond(&model, results);
    response
        .headers_mut()
        .extend(super::models::version_header(&model.info));
    Ok(response)
}
