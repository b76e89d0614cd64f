//! The front layer's own answer: a request refused before any handler ran.
//! Each door renders a [`Refusal`] in its own error shape ([`Doors`], set
//! by startup from the doors' error types), so that a client reads it like
//! any other error of the door it called.

use std::time::Duration;

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// Why a request was refused before any handler ran.
#[derive(Debug)]
pub enum Refusal {
    /// 400: a request head that HTTP does not allow.
    BadRequest(String),
    /// 403: a cross-site request.
    Forbidden(String),
    /// 408: the body did not arrive in time.
    RequestTimeout(String),
    /// 413: a server function call whose declared body is over the limit.
    PayloadTooLarge(String),
    /// 414: a path and query over the limit.
    UriTooLong(String),
    /// 415: a server function call whose body is not JSON.
    UnsupportedMediaType(String),
    /// 429: over the client's rate; `Retry-After` says when to come back.
    TooManyRequests(String, Duration),
    /// 431: a request head over [`super::security::MAX_HEAD_BYTES`].
    HeadTooLarge(String),
    /// 500: a handler or render panicked (the message is logged, never
    /// sent).
    Internal(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Which door a request came to, by its path: it decides the shape of an
/// answer made before any handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// The REST API and everything else: `{"detail": ...}`.
    Rest,
    /// The Open Inference Protocol under `/v2`: `{"error": ...}`.
    OpenInference,
    /// The UI's server functions under `/rpc/`: their error type, which
    /// the browser decodes like any other server function error.
    ServerFunction,
}

impl Door {
    pub fn of(path: &str) -> Door {
        if path.starts_with("/v2") {
            Door::OpenInference
        } else if path.starts_with("/rpc/") {
            Door::ServerFunction
        } else {
            Door::Rest
        }
    }
}

/// How each door renders a refusal (status and body; `Retry-After` is
/// added here).
#[derive(Clone, Copy)]
pub struct Doors {
    pub rest: fn(Refusal) -> Response,
    pub open_inference: fn(Refusal) -> Response,
    pub server_functions: fn(Refusal) -> Response,
}

impl Doors {
    /// `refusal` in the shape of `door`.
    pub fn refuse(&self, door: Door, refusal: Refusal) -> Response {
        let wait = match &refusal {
            Refusal::TooManyRequests(_, wait) => Some(*wait),
            _ => None,
        };
        let render = match door {
            Door::Rest => self.rest,
            Door::OpenInference => self.open_inference,
            Door::ServerFunction => self.server_functions,
        };
        let mut response = render(refusal);
        if let Some(wait) = wait {
            response
                .headers_mut()
                .insert(RETRY_AFTER, retry_after(wait));
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up (at least 1: "retry now"
/// would invite a retry storm).
pub fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}
