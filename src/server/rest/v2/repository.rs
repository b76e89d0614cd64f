//! The Open Inference Protocol's model repository extension (Triton's
//! `model_repository`): list the models of `models/` with their state, load
//! one from its folder, unload one. Editors and admins only; each instance
//! acts on its own models.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::bad_request;
use crate::domain::ModelStatus;
use crate::server::inference::InferenceError;
use crate::server::rest::error::ApiError;
use crate::server::rest::extract::{Can, ManageModels};
use crate::server::state::AppState;

/// [`Can<ManageModels>`](Can), refused in the protocol's error shape.
pub struct V2Manage;

impl FromRequestParts<AppState> for V2Manage {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        Can::<ManageModels>::from_request_parts(parts, state)
            .await
            .map(|_| V2Manage)
            .map_err(ApiError::into_open_inference)
    }
}

/// The request body: nothing, or a JSON object.
fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(bad_request("the body must be a JSON object")),
        Err(e) => Err(bad_request(format!("the body is not JSON: {e}"))),
    }
}

/// The parameters of a load or unload body (the Triton client sends `{}`
/// or `{"parameters": {...}}`).
fn parameters(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match object(body)?.remove("parameters") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(parameters)) => Ok(parameters),
        Some(_) => Err(bad_request("'parameters' must be an object")),
    }
}

/// `POST /v2/repository/index`: every model with its state.
#[utoipa::path(post, path = "/v2/repository/index", tag = "v2", summary = "The model repository's index",
    description = "Every model of `models/` with its version and state: `READY` when it serves, `UNAVAILABLE` with the reason otherwise (it failed to load, or was unloaded). With `{\"ready\": true}`, only the ready ones. Editors and admins.",
    request_body(content = Option<super::super::openapi::V2RepositoryIndexRequest>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "The models", body = Vec<super::super::openapi::V2RepositoryModel>),
        (status = 400, description = "The body is not a JSON object", body = super::super::openapi::InferenceErrorBody),
        (status = 401, description = "Not logged in", body = super::super::openapi::InferenceErrorBody),
        (status = 403, description = "Viewers may not manage models", body = super::super::openapi::InferenceErrorBody),
    ))]
pub async fn index(
    State(state): State<AppState>,
    _: V2Manage,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let only_ready = match object(&body)?.get("ready") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(ready)) => *ready,
        Some(_) => return Err(bad_request("'ready' must be true or false")),
    };
    let models: Vec<Value> = state
        .models
        .list()
        .into_iter()
        .filter(|m| !only_ready || m.status.is_ready())
        .map(|m| {
            let (state, reason) = match &m.status {
                ModelStatus::Ready => ("READY", String::new()),
                ModelStatus::Unloaded => ("UNAVAILABLE", "unloaded".to_owned()),
                ModelStatus::Error { message, .. } => ("UNAVAILABLE", message.clone()),
            };
            json!({ "name": m.name, "version": m.version, "state": state, "reason": reason })
        })
        .collect();
    Ok(Json(Value::Array(models)))
}

/// `POST /v2/repository/models/{name}/load`: (re)loads a model from its
/// folder and serves it.
#[utoipa::path(post, path = "/v2/repository/models/{name}/load", tag = "v2", summary = "Load a model",
    description = "Loads `models/<name>/` now (again, if it serves already) and serves it: a model unloaded earlier serves again. A model that fails to load answers 400 with the reason and, if an earlier version served, that version goes on serving. Uploading a model's files in the request (`config`, `file:` parameters) is not supported: put the folder under `models/`. Editors and admins.",
    params(("name" = String, Path, description = "The model's name (its folder in `models/`)", example = "iris")),
    request_body(content = Option<super::super::openapi::V2RepositoryLoadRequest>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "The model serves", body = super::super::openapi::V2Empty),
        (status = 400, description = "It failed to load (the reason is given), or the body is not a JSON object, or it uploads files", body = super::super::openapi::InferenceErrorBody),
        (status = 401, description = "Not logged in", body = super::super::openapi::InferenceErrorBody),
        (status = 403, description = "Viewers may not manage models", body = super::super::openapi::InferenceErrorBody),
        (status = 404, description = "No folder of that name", body = super::super::openapi::InferenceErrorBody),
    ))]
pub async fn load(
    State(state): State<AppState>,
    _: V2Manage,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let parameters = parameters(&body)?;
    if let Some(key) = parameters
        .keys()
        .find(|k| *k == "config" || k.starts_with("file:"))
    {
        return Err(bad_request(format!(
            "this server loads models from its models folder; uploading a model in the request ('{key}') is not supported: put its folder (model.onnx, model.toml) under models/{name}/"
        )));
    }
    let models = state.models.clone();
    let loaded = tokio::task::spawn_blocking(move || models.load_now(&name))
        .await
        .map_err(|e| ApiError::from(InferenceError::Runtime(e.into())).into_open_inference())?;
    match loaded {
        Ok(_) => Ok(Json(json!({}))),
        Err(InferenceError::NotReady { name, reason }) => {
            Err(bad_request(format!("failed to load '{name}': {reason}")))
        }
        Err(e) => Err(ApiError::from(e).into_open_inference()),
    }
}

/// `POST /v2/repository/models/{name}/unload`: stops serving a model.
#[utoipa::path(post, path = "/v2/repository/models/{name}/unload", tag = "v2", summary = "Unload a model",
    description = "Stops serving the model: its predictions answer 503 and changes to its folder are not picked up until it is loaded again (requests already running finish). Editors and admins.",
    params(("name" = String, Path, description = "The model's name", example = "iris")),
    request_body(content = Option<super::super::openapi::V2RepositoryUnloadRequest>, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "The model no longer serves", body = super::super::openapi::V2Empty),
        (status = 400, description = "The body is not a JSON object", body = super::super::openapi::InferenceErrorBody),
        (status = 401, description = "Not logged in", body = super::super::openapi::InferenceErrorBody),
        (status = 403, description = "Viewers may not manage models", body = super::super::openapi::InferenceErrorBody),
        (status = 404, description = "No model has this name", body = super::super::openapi::InferenceErrorBody),
    ))]
pub async fn unload(
    State(state): State<AppState>,
    _: V2Manage,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // `unload_dependents` (Triton's ensembles) has nothing to act on here.
    parameters(&body)?;
    state
        .models
        .unload(&name)
        .map_err(|e| ApiError::from(e).into_open_inference())?;
    Ok(Json(json!({})))
}
