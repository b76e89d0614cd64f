//! `/predict/` (the original contract) and `/api/models` (every model).

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ValidationDetail};
use super::extract::{Can, JsonBytes, Read};
use super::prediction_body;
use crate::domain::{DriftReport, ModelInfo, MAX_BATCH_ROWS};
use crate::server::inference::{self, InferenceError};
use crate::server::state::AppState;

/// The model behind the original app's `POST /predict/`.
const ORIGINAL_MODEL: &str = "linear";

/// At most this many problems are listed for one request.
const MAX_DETAILS: usize = 50;

/// The response header naming the model version that answered, on every
/// prediction route (a manifest's version is always a valid value).
pub(super) fn version_header(info: &ModelInfo) -> [(HeaderName, HeaderValue); 1] {
    [(
        HeaderName::from_static("model-version"),
        HeaderValue::try_from(info.version.as_str()).unwrap_or(HeaderValue::from_static("")),
    )]
}

/// `POST /predict/`: `{"feature1","feature2","feature3"}` → `{"prediction"}`.
#[utoipa::path(
    post,
    path = "/predict/",
    tag = "models",
    summary = "Predict with the original model",
    description = "The original app's contract: the `linear` model on three features.",
    request_body = super::openapi::OriginalFeatures,
    responses(
        (status = 200, description = "The prediction", body = OriginalPrediction,
            headers(("Model-Version" = String, description = "The version of the model that answered"))),
        (status = 422, description = "A feature is missing or not a number, or the result overflows (`prediction_not_finite`)", body = super::error::ValidationBody),
        (status = 503, description = "The `linear` model is not loaded", body = super::openapi::Detail),
    )
)]
pub async fn predict_original(
    State(state): State<AppState>,
    _: Can<Read>,
    body: JsonBytes,
) -> Result<impl IntoResponse, ApiError> {
    let model = match state.models.get(ORIGINAL_MODEL) {
        Ok(model) => model,
        Err(e) => {
            // The original app reads the body before anything else: a body
            // that is not JSON is the client's to fix (422) even then.
            body.parse()?;
            return Err(ApiError::original_model_missing(e, ORIGINAL_MODEL));
        }
    };
    let row = match prediction_body::decode_row(&body.0, &model.info.feature_names()) {
        Some(row) => row,
        None => parse_row(&body.parse()?, &model.info, &[json!("body")])
            .map_err(ApiError::Validation)?,
    };
    // An Arc clone (not the metadata's) keeps the model's names for an error.
    let described = model.clone();
    let prediction = inference::predict_flat(model, row, 1)
        .await
        .map_err(|e| ApiError::prediction(e, &described.info, |_| vec![json!("body")]))?;
    Ok((
        version_header(&described.info),
        OriginalPrediction {
            prediction: prediction[0].headline(),
        },
    ))
}

/// The original app's response body.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"prediction": 6.876654844185815}))]
pub struct OriginalPrediction {
    prediction: f64,
}

impl IntoResponse for OriginalPrediction {
    /// `{"prediction": x}`, written in place: the hottest answer of the
    /// API is one fixed key and a number, which serde would escape and
    /// frame again each time.
    fn into_response(self) -> Response {
        let mut json = Vec::with_capacity(48);
        json.extend_from_slice(br#"{"prediction":"#);
        // A number always writes (a non-finite one never gets here).
        let _ = serde_json::to_writer(&mut json, &self.prediction);
        json.push(b'}');
        super::cache::json_response(json.into())
    }
}

/// `GET /api/models`: every model with its status and schema.
#[utoipa::path(
    get,
    path = "/api/models",
    tag = "models",
    summary = "List the models",
    description = "Every model in `models/`: version, task, status, inputs with typical ranges, outputs, labels and provenance.",
    responses((status = 200, description = "The models", body = super::openapi::ModelList))
)]
pub async fn list(State(state): State<AppState>, _: Can<Read>) -> Json<Value> {
    Json(json!({ "models": state.models.list() }))
}

/// `GET /api/models/{name}`.
#[utoipa::path(
    get,
    path = "/api/models/{name}",
    tag = "models",
    summary = "One model's metadata",
    params(("name" = String, Path, description = "The model's name (its folder in `models/`)", example = "iris")),
    responses(
        (status = 200, description = "The model", body = ModelInfo),
        (status = 404, description = "No model has this name", body = super::openapi::Detail),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _: Can<Read>,
    Path(name): Path<String>,
) -> Result<Json<ModelInfo>, ApiError> {
    state
        .models
        .info(&name)
        .map(Json)
        .ok_or_else(|| InferenceError::NotFound(name).into())
}

/// `GET /api/models/{name}/drift`: how the serving version's live inputs
/// compare with its training data.
#[utoipa::path(
    get,
    path = "/api/models/{name}/drift",
    tag = "models",
    summary = "A model's input drift",
    description = "For each input of the serving version: the training data's share of rows per bin (from `model.toml`), the share of the rows predicted through every door over the drift window (`window_seconds`: an hour unless `--drift-window-secs` says otherwise), and their population stability index with a reading: `stable` below 0.1, `shifting` below 0.25, `drifted` from 0.25; `too_few_rows` until the window holds 100 values, `no_reference` when the manifest gives no training distribution for the input. Each instance reports the rows it served; a reload starts a new window.",
    params(("name" = String, Path, description = "The model's name", example = "iris")),
    responses(
        (status = 200, description = "The drift per input", body = DriftReport),
        (status = 404, description = "No model has this name", body = super::openapi::Detail),
        (status = 503, description = "The model failed to load", body = super::openapi::Detail),
    )
)]
pub async fn drift(
    State(state): State<AppState>,
    _: Can<Read>,
    Path(name): Path<String>,
) -> Result<Json<DriftReport>, ApiError> {
    Ok(Json(state.models.drift(&name)?))
}

/// `POST /api/models/{name}/predict`: `{"features": {...}}` for one row or
/// `{"instances": [{...}, ...]}` for a batch.
#[utoipa::path(
    post,
    path = "/api/models/{name}/predict",
    tag = "models",
    summary = "Predict with a model",
    description = "One row as `features` or up to 10 000 rows as `instances`. The `Server-Timing` header carries the model's own time.",
    params(("name" = String, Path, description = "The model's name", example = "iris")),
    request_body = super::openapi::PredictRequest,
    responses(
        (status = 200, description = "The prediction(s)", body = super::openapi::PredictResponse,
            headers(
                ("Server-Timing" = String, description = "`inference;dur=<ms>`"),
                ("Model-Version" = String, description = "The version of the model that answered"),
            )),
        (status = 404, description = "No model has this name", body = super::openapi::Detail),
        (status = 422, description = "Every bad feature or row; results that overflow (`prediction_not_finite`)", body = super::error::ValidationBody),
        (status = 503, description = "The model failed to load", body = super::openapi::Detail),
    )
)]
pub async fn predict(
    State(state): State<AppState>,
    _: Can<Read>,
    Path(name): Path<String>,
    body: JsonBytes,
) -> Result<impl IntoResponse, ApiError> {
    let model = state.models.get(&name)?;
    let (model_name, version) = (model.info.name.clone(), model.info.version.clone());
    let features = model.info.feature_names();
    let (flat, n_rows, single) = match prediction_body::decode(&body.0, &features) {
        Some(rows) => (rows.flat, rows.n_rows, rows.single),
        None => match PredictRequest::parse(&body.parse()?, &model.info)? {
            PredictRequest::One(row) => (row, 1, true),
            PredictRequest::Batch(rows) => {
                let n_rows = rows.len();
                (rows.concat(), n_rows, false)
            }
        },
    };
    let started = std::time::Instant::now();
    let described = model.clone();
    let locate = |i: usize| match single {
        true => vec![json!("body"), json!("features")],
        false => vec![json!("body"), json!("instances"), json!(i)],
    };
    let predictions = inference::predict_flat(model, flat, n_rows)
        .await
        .map_err(|e| ApiError::prediction(e, &described.info, locate))?;
    // Lets clients (and the benchmark) see the model's share of the time.
    let timing = format!(
        "inference;dur={:.3}",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let body = if single {
        json!({ "model": model_name, "version": version, "prediction": predictions[0] })
    } else {
        json!({ "model": model_name, "version": version, "predictions": predictions })
    };
    Ok((
        [("server-timing", timing)],
        version_header(&described.info),
        Json(body),
    ))
}

enum PredictRequest {
    One(Vec<f64>),
    Batch(Vec<Vec<f64>>),
}

impl PredictRequest {
    fn parse(body: &Value, info: &ModelInfo) -> Result<PredictRequest, ApiError> {
        let invalid = |loc: Vec<Value>, kind: &str, msg: &str, input: &Value| {
            ApiError::Validation(vec![ValidationDetail::at(loc, kind, msg, input.clone())])
        };
        let Some(object) = body.as_object() else {
            return Err(invalid(
                vec![json!("body")],
                "model_attributes_type",
                "Input should be an object with 'features' or 'instances'",
                body,
            ));
        };
        match (object.get("features"), object.get("instances")) {
            (Some(_), Some(_)) => Err(invalid(
                vec![json!("body")],
                "value_error",
                "Send either 'features' (one row) or 'instances' (a list of rows), not both",
                &json!({}),
            )),
            (None, None) => Err(invalid(
                vec![json!("body"), json!("features")],
                "missing",
                "Field required: send 'features' (one row) or 'instances' (a list of rows)",
                body,
            )),
            (Some(features), None) => {
                let loc = [json!("body"), json!("features")];
                parse_row(features, info, &loc)
                    .map(PredictRequest::One)
                    .map_err(ApiError::Validation)
            }
            (None, Some(instances)) => {
                let loc = vec![json!("body"), json!("instances")];
                let Some(list) = instances.as_array() else {
                    return Err(invalid(
                        loc,
                        "list_type",
                        "Input should be a valid list",
                        instances,
                    ));
                };
                if list.is_empty() {
                    return Err(invalid(
                        loc,
                        "too_short",
                        "List should have at least 1 item",
                        instances,
                    ));
                }
                if list.len() > MAX_BATCH_ROWS {
                    return Err(invalid(
                        loc,
                        "too_long",
                        &format!(
                            "List should have at most {MAX_BATCH_ROWS} items, not {}",
                            list.len()
                        ),
                        &json!(list.len()),
                    ));
                }
                let mut rows = Vec::with_capacity(list.len());
                let mut details = Vec::new();
                for (i, row) in list.iter().enumerate() {
                    let loc = [json!("body"), json!("instances"), json!(i)];
                    match parse_row(row, info, &loc) {
                        Ok(values) => rows.push(values),
                        Err(mut errors) => details.append(&mut errors),
                    }
                    if details.len() >= MAX_DETAILS {
                        details.truncate(MAX_DETAILS);
                        break;
                    }
                }
                if details.is_empty() {
                    Ok(PredictRequest::Batch(rows))
                } else {
                    Err(ApiError::Validation(details))
                }
            }
        }
    }
}

/// Reads one row of named features (an object) in the model's column
/// order, naming every missing, unknown or non-numeric feature.
fn parse_row(
    value: &Value,
    info: &ModelInfo,
    loc: &[Value],
) -> Result<Vec<f64>, Vec<ValidationDetail>> {
    let at = |field: &str| {
        let mut loc = loc.to_vec();
        loc.push(json!(field));
        loc
    };
    let Some(object) = value.as_object() else {
        return Err(vec![ValidationDetail::at(
            loc.to_vec(),
            "model_attributes_type",
            format!(
                "Input should be an object of features: {}",
                info.feature_names().join(", ")
            ),
            value.clone(),
        )]);
    };
    let mut details = Vec::new();
    let mut row = Vec::with_capacity(info.inputs.len());
    for spec in &info.inputs {
        match object.get(&spec.name) {
            None => details.push(ValidationDetail::at(
                at(&spec.name),
                "missing",
                "Field required",
                value.clone(),
            )),
            Some(Value::Number(n)) => row.push(n.as_f64().unwrap_or(f64::NAN)),
            Some(other) => details.push(ValidationDetail::at(
                at(&spec.name),
                "float_type",
                "Input should be a valid (finite) number",
                other.clone(),
            )),
        }
    }
    for (key, input) in extra_fields(object, info) {
        details.push(ValidationDetail::at(
            at(key),
            "extra_forbidden",
            format!(
                "Unknown feature; this model takes {}",
                info.feature_names().join(", ")
            ),
            input.clone(),
        ));
    }
    if details.is_empty() {
        Ok(row)
    } else {
        Err(details)
    }
}

fn extra_fields<'a>(
    object: &'a Map<String, Value>,
    info: &'a ModelInfo,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    object
        .iter()
        .filter(|(k, _)| !info.inputs.iter().any(|s| &s.name == *k))
}
