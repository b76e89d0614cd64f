//! The REST layer's one error type and its mapping to status + JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::FieldError;
use crate::server::store::StoreError;

/// One entry of a 422 body, in the shape FastAPI/pydantic uses.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidationDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Value>,
}

impl ValidationDetail {
    /// A detail located at `[source, field]`, e.g. `["body", "name"]`.
    pub fn new(
        source: &str,
        field: &str,
        kind: &str,
        msg: impl Into<String>,
        input: Value,
    ) -> Self {
        ValidationDetail {
            kind: kind.to_owned(),
            loc: vec![json!(source), json!(field)],
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// A domain field error, located in `source` and showing the offending input.
    pub fn from_field(source: &str, error: &FieldError, input: Value) -> Self {
        Self::new(
            source,
            &error.field,
            &error.kind,
            error.message.clone(),
            input,
        )
    }
}

#[derive(Serialize)]
struct ValidationBody {
    detail: Vec<ValidationDetail>,
}

/// Every way a REST request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("invalid request")]
    Validation(Vec<ValidationDetail>),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("Method Not Allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Unavailable(String),
    /// Logged in full; clients see a generic sentence.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn item_not_found() -> Self {
        ApiError::NotFound("Item not found".into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::item_not_found(),
            StoreError::Conflict(id) => {
                ApiError::Conflict(format!("Item with id {id} already exists"))
            }
            StoreError::VersionMismatch { current, .. } => ApiError::PreconditionFailed(format!(
                "Item was changed by someone else: it is now at version {current}; \
                 fetch it again and retry"
            )),
            StoreError::Backend(message) => ApiError::Internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = match self {
            // Serialized straight from the structs to keep pydantic's key order.
            ApiError::Validation(details) => {
                return (status, Json(ValidationBody { detail: details })).into_response()
            }
            ApiError::Internal(message) => {
                tracing::error!(%message, "request failed");
                json!("Internal server error")
            }
            other => json!(other.to_string()),
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}
