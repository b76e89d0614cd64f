//! The REST layer's one error type and its mapping to status + JSON body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::FieldError;
use crate::server::auth::AuthError;
use crate::server::http::{retry_after, Refusal};
use crate::server::store::StoreError;

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
    /// Logged in full; clients see a generic sentence.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn item_not_found() -> Self {
        ApiError::NotFound("Item not found".into())
    }

    /// The status this error is answered with.
    pub fn status(&self) -> StatusCode {
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
            ApiError::Internal(message) => {
                tracing::error!(%message, "request failed");
                "Internal server error".into()
            }
            other => other.to_string(),
        };
        ApiError::OpenInference(status, message)
    }
}

impl From<crate::server::inference::InferenceError> for ApiError {
    fn from(e: crate::server::inference::InferenceError) -> Self {
        use crate::server::inference::InferenceError;
        match e {
            InferenceError::NotFound(_) => ApiError::NotFound(e.to_string()),
            InferenceError::NotReady { .. } => ApiError::Unavailable(e.to_string()),
            InferenceError::InvalidInput(message) => ApiError::BadRequest(message),
            // Doors that know where each row came from locate them better
            // (see `rest::models::prediction_error`); this is the fallback.
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
            InferenceError::Runtime(message) => ApiError::Internal(message),
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
            StoreError::Unavailable(error) => {
                tracing::warn!(%error, "the database is unavailable");
                ApiError::Unavailable(
                    "The database is unavailable; try again in a few seconds".into(),
                )
            }
            StoreError::Backend(error) => ApiError::Internal(error.to_string()),
        }
    }
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
            AuthError::Internal(message) => ApiError::Internal(message),
        }
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
            Refusal::Internal(message) => ApiError::Internal(message),
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

impl ApiError {
    fn into_body_response(self) -> Response {
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
            ApiError::OpenInference(_, message) => {
                return (status, Json(json!({ "error": message }))).into_response()
            }
            other => json!(other.to_string()),
        };
        (status, Json(json!({ "detail": detail }))).into_response()
    }
}
