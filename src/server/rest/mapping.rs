//! The one mapping of the REST door: every seam's error (store, auth,
//! models) and every front-layer refusal as the API answers it. The
//! status of each [`ApiError`] is documented at [`ApiError::status`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::error::{ApiError, ValidationDetail, NON_FINITE_KIND};
use super::item_body;
use crate::domain::{ModelInfo, NonFiniteRow, MAX_BULK_ITEMS};
use crate::server::auth::AuthError;
use crate::server::http::Refusal;
use crate::server::inference::{InferenceError, LoadedModel};
use crate::server::store::{StoreError, MAX_REPORTED_ROWS};
use crate::server::transfer::{ImportError, RowProblem};

impl From<InferenceError> for ApiError {
    fn from(e: InferenceError) -> Self {
        match e {
            InferenceError::NotFound(_) => ApiError::NotFound(e.to_string()),
            InferenceError::NotReady { .. } => ApiError::Unavailable(e.to_string()),
            InferenceError::InvalidInput(message) => ApiError::BadRequest(message),
            // Predictions locate each row better ([`ApiError::prediction`]);
            // this is for a handler that cannot.
            InferenceError::NonFinite(rows) => ApiError::Validation(
                rows.iter()
                    .map(|row| {
                        ValidationDetail::at(
                            vec![json!("body")],
                            NON_FINITE_KIND,
                            format!(
                                "The model's result for row {} is not a finite number",
                                row.index
                            ),
                            json!(row.inputs),
                        )
                    })
                    .collect(),
            ),
            InferenceError::Runtime(_) => ApiError::Internal(e.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::item_not_found(),
            StoreError::NotInTrash(_) => ApiError::NotFound("Item not found in the trash".into()),
            StoreError::IdReused(id) => ApiError::Conflict(format!(
                "Item {id} cannot be restored: an item with id {id} was created after it was \
                 deleted; delete that item first"
            )),
            StoreError::Conflict(id) => {
                ApiError::Conflict(format!("Item with id {id} already exists"))
            }
            StoreError::IdsExhausted => ApiError::Unavailable(format!(
                "No item ids are left to assign (ids end at {}); send an explicit free id",
                crate::domain::MAX_ITEM_ID
            )),
            StoreError::VersionMismatch { current, .. } => ApiError::PreconditionFailed(format!(
                "Item was changed by someone else: it is now at version {current}; \
                 fetch it again and retry"
            )),
            StoreError::UserExists(name) => {
                ApiError::Conflict(format!("A user named '{name}' already exists"))
            }
            StoreError::UserNotFound(_) => ApiError::NotFound("User not found".into()),
            StoreError::CredentialNotFound(_) => {
                ApiError::NotFound("Token not found (or already revoked)".into())
            }
            StoreError::BulkRefused(refusals) => {
                let total = refusals.len() as u64;
                let detail = refusals
                    .into_iter()
                    .take(MAX_REPORTED_ROWS)
                    .map(|refusal| {
                        let loc = vec![json!("item"), json!(refusal.id)];
                        item_body::detail(loc, refusal.problem)
                    })
                    .collect();
                ApiError::ValidationCapped { detail, total }
            }
            StoreError::TooManyMatches => ApiError::Validation(vec![ValidationDetail::new(
                "body",
                "filter",
                "too_many_matches",
                format!(
                    "The filter matches more than {MAX_BULK_ITEMS} items, the most one bulk \
                     action changes; narrow the filter (or name the ids)"
                ),
                Value::Null,
            )]),
            StoreError::BadCursor { cursor, reason } => {
                ApiError::Validation(vec![ValidationDetail::new(
                    "query",
                    "cursor",
                    "cursor_invalid",
                    reason,
                    json!(cursor),
                )])
            }
            StoreError::Unavailable(error) => {
                tracing::warn!(%error, "the database is unavailable");
                ApiError::Unavailable(
                    "The database is unavailable; try again in a few seconds".into(),
                )
            }
            StoreError::Backend(_) => ApiError::Internal(e.into()),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::TooLarge { limit } => ApiError::PayloadTooLarge(format!(
                "The file is larger than the import limit of {limit} bytes \
                 (--import-max-bytes); nothing was imported. Split it into several files."
            )),
            ImportError::Unreadable(problem) => ApiError::Validation(vec![ValidationDetail::at(
                vec![json!("body"), json!(problem.line)],
                "file_invalid",
                format!("{}; nothing was imported", problem.message),
                Value::Null,
            )]),
            ImportError::Rejected(report) => ApiError::ValidationCapped {
                detail: row_details(report.problems),
                total: report.problems_total,
            },
            ImportError::Upload(_) => ApiError::BadRequest(
                "The upload of the file broke off before its end; nothing was imported".into(),
            ),
            ImportError::Stalled(wait) => ApiError::RequestTimeout(format!(
                "No part of the file arrived for {} s; nothing was imported. Send the file \
                 without pauses.",
                wait.as_secs()
            )),
            ImportError::Store(e) => e.into(),
            ImportError::Spool(_) => ApiError::Internal(e.into()),
        }
    }
}

/// The rows of a file that were not imported, as 422 entries located at
/// `["body", line, field]`.
pub fn row_details(problems: Vec<RowProblem>) -> Vec<ValidationDetail> {
    problems
        .into_iter()
        .map(|p| super::item_body::detail(vec![json!("body"), json!(p.line)], p.problem))
        .collect()
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotLoggedIn | AuthError::BadCredentials(_) => {
                ApiError::Unauthorized(e.to_string())
            }
            AuthError::Forbidden { .. } => ApiError::Forbidden(e.to_string()),
            AuthError::LookAlikeName { .. } => ApiError::Conflict(e.to_string()),
            AuthError::TooManyAttempts(wait) => ApiError::TooManyRequests(e.to_string(), wait),
            AuthError::Store(e) => e.into(),
            AuthError::ShortSecret | AuthError::Internal(_) => ApiError::Internal(e.into()),
        }
    }
}

impl ApiError {
    /// `GET /readyz` when the database does not answer: a 503 whatever the
    /// store says (a readiness probe needs no more), and the cause logged.
    pub fn not_ready(error: StoreError) -> ApiError {
        tracing::warn!(%error, "readiness check failed");
        ApiError::Unavailable("Database unavailable".into())
    }

    /// A prediction that failed (`/predict/`, `/api/models/{name}/predict`):
    /// each row whose result is not finite becomes a 422 detail located by
    /// `locate(row index)` and showing the row's inputs by name.
    pub fn prediction(
        error: InferenceError,
        info: &ModelInfo,
        locate: impl Fn(usize) -> Vec<Value>,
    ) -> ApiError {
        match error {
            InferenceError::NonFinite(rows) => ApiError::Validation(
                rows.iter()
                    .map(|row| {
                        ValidationDetail::at(
                            locate(row.index),
                            NON_FINITE_KIND,
                            info.non_finite_message(&row.inputs),
                            named_features(info, row),
                        )
                    })
                    .collect(),
            ),
            other => other.into(),
        }
    }

    /// The original `POST /predict/` without its model `name`: 503, since
    /// the original contract names no model a client could have got wrong.
    pub fn original_model_missing(error: InferenceError, name: &str) -> ApiError {
        match error {
            InferenceError::NotFound(_) => {
                ApiError::Unavailable(format!("Model '{name}' is not loaded: add models/{name}/"))
            }
            other => other.into(),
        }
    }

    /// An inference failure in the Open Inference Protocol's shape; rows
    /// whose outputs are infinite or NaN are a 422 naming each row and its
    /// inputs, which no client should take for a result.
    pub fn open_inference(error: InferenceError, model: &LoadedModel) -> ApiError {
        match error {
            InferenceError::NonFinite(rows) => {
                let sentences: Vec<String> = rows
                    .iter()
                    .map(|row| {
                        format!(
                            "row {}: {}",
                            row.index,
                            model.info.non_finite_message(&row.inputs)
                        )
                    })
                    .collect();
                ApiError::OpenInference(StatusCode::UNPROCESSABLE_ENTITY, sentences.join(" "))
            }
            other => ApiError::from(other).into_open_inference(),
        }
    }
}

/// A row's inputs as the object of named features a client sends.
fn named_features(info: &ModelInfo, row: &NonFiniteRow) -> Value {
    let object: Map<String, Value> = info
        .inputs
        .iter()
        .zip(&row.inputs)
        .map(|(spec, v)| (spec.name.clone(), json!(v)))
        .collect();
    Value::Object(object)
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::BadRequest(message) => ApiError::BadRequest(message),
            Refusal::Forbidden(message) => ApiError::Forbidden(message),
            Refusal::RequestTimeout(message) => ApiError::RequestTimeout(message),
            Refusal::PayloadTooLarge(message) => ApiError::PayloadTooLarge(message),
            Refusal::UriTooLong(message) => ApiError::UriTooLong(message),
            Refusal::UnsupportedMediaType(message) => ApiError::UnsupportedMediaType(message),
            Refusal::TooManyRequests(message, wait) => ApiError::TooManyRequests(message, wait),
            Refusal::HeadTooLarge(message) => ApiError::HeadTooLarge(message),
            Refusal::Internal(message) => ApiError::Internal(message.into()),
        }
    }
}

/// A front-layer refusal as REST answers it: `{"detail": ...}`.
pub fn refusal(refusal: Refusal) -> Response {
    ApiError::from(refusal).into_response()
}

/// A front-layer refusal as the Open Inference Protocol answers it:
/// `{"error": ...}`.
pub fn open_inference_refusal(refusal: Refusal) -> Response {
    ApiError::from(refusal)
        .into_open_inference()
        .into_response()
}
