//! The REST door's one error type, its status for each variant, and its
//! body: `{"detail": ...}` (422: pydantic's list of problems), or
//! `{"error": ...}` for the Open Inference Protocol. How each seam's error
//! becomes one is in [`super::mapping`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::FieldError;
use crate::server::http::retry_after;
use crate::server::telemetry::{chain, BoxError};

/// The `type` of a 422 detail for a prediction that came out infinite or NaN.
pub const NON_FINITE_KIND: &str = "prediction_not_finite";

/// One entry of a 422 body, in the shape FastAPI/pydantic uses.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ValidationDetail {
    /// What kind of problem, in pydantic's names (`missing`, `string_too_long`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Where: `["body", "name"]`, `["query", "limit"]`, `["path", "id"]`, ...
    #[schema(value_type = Vec<LocEntry>)]
    pub loc: Vec<Value>,
    /// A sentence for people.
    pub msg: String,
    /// The value that was rejected.
    pub input: Value,
    /// The limit that was broken, e.g. `{"max_length": 200}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub ctx: Option<Value>,
}

/// A step of a [`ValidationDetail`]'s location: a name or an index.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LocEntry {
    Name(String),
    Index(u64),
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

    /// A detail at an arbitrary location, e.g. `["body", "instances", 3, "x1"]`.
    pub fn at(loc: Vec<Value>, kind: &str, msg: impl Into<String>, input: Value) -> Self {
        ValidationDetail {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input,
            ctx: None,
        }
    }

    /// The same detail with pydantic's `ctx` (the limit that was broken).
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
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

/// A 422 body: every problem found, in the shape FastAPI answers (named
/// `ValidationError` in the OpenAPI document).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ValidationError, example = json!({"detail": [{"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": null}]}))]
pub struct ValidationBody {
    detail: Vec<ValidationDetail>,
    /// How many problems there are when `detail` lists only the first
    /// ones (a file's rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_total: Option<u64>,
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
    /// Like `Validation`, listing only the first of `total` problems.
    #[error("{total} problems in the request")]
    ValidationCapped {
        detail: Vec<ValidationDetail>,
        total: u64,
    },
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
    /// Too many requests: 429 with `Retry-After` (whole seconds, at least 1).
    #[error("{0}")]
    TooManyRequests(String, std::time::Duration),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    UriTooLong(String),
    /// A request head over the limit: 431.
    #[error("{0}")]
    HeadTooLarge(String),
    /// Not logged in, or credentials that are not valid: 401 with
    /// `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in without the role: 403.
    #[error("{0}")]
    Forbidden(String),
    /// An Open Inference Protocol error: `{"error": "..."}`.
    #[error("{1}")]
    OpenInference(StatusCode, String),
    /// The server's fault: the cause is logged in full, clients see a
    /// generic sentence.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl ApiError {
    pub fn item_not_found() -> Self {
        ApiError::NotFound("Item not found".into())
    }

    /// The status each error is answered with: the variant names it, but
    /// for [`ApiError::OpenInference`], which carries its own.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::Validation(_) | ApiError::ValidationCapped { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ApiError::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::OpenInference(status, _) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The same error in the Open Inference Protocol's shape: a sentence
    /// under `error`, 400 for anything the client got wrong.
    pub fn into_open_inference(self) -> ApiError {
        let status = match self.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
        let message = match &self {
            ApiError::Validation(details) => details
                .iter()
                .map(|d| {
                    let at: Vec<String> = d
                        .loc
                        .iter()
                        .skip(1)
                        .map(|p| p.as_str().map_or(p.to_string(), str::to_owned))
                        .collect();
                    match d.ctx.as_ref().and_then(|c| c["error"].as_str()) {
                        Some(cause) => format!("{}: {cause}", d.msg),
                        None if at.is_empty() => d.msg.clone(),
                        None => format!("{}: {}", at.join("."), d.msg),
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::OpenInference(_, message) => message.clone(),
            ApiError::Internal(_) => {
                tracing::error!(error = %chain(&self), "request failed");
                "Internal server error".into()
            }
            other => other.to_string(),
        };
        ApiError::OpenInference(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            ApiError::TooManyRequests(_, wait) => Some(retry_after(*wait)),
            _ => None,
        };
        let mut response = self.into_body_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds);
        }
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl ApiError {
    fn into_body_response(self) -> Response {
        let status = self.status();
        let detail = match self {
            // Serialized straight from the structs to keep pydantic's key order.
            ApiError::Validation(details) => {
                let body = ValidationBody {
                    detail: details,
                    errors_total: None,
                };
                return (status, Json(body)).into_response();
            }
            ApiError::ValidationCapped { detail, total } => {
                let body = ValidationBody {
                    detail,
                    errors_total: Some(total),
                };
                return (status, Json(body)).into_response();
            }
            error @ ApiError::Internal(_) => {
                tracing::error!(error = %chain(&error), "request failed");
                json!("Internal server error")
            }
            ApiError::OpenInference(_, message) => {
                return (status, Json(json!({ "error": message }))).into_response()
            }
            other => json!(other.to_string()),
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}
