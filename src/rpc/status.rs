//! Front-layer refusals (too many requests, a body too large, a foreign
//! origin, ...) on the server functions' routes, answered as server
//! functions answer errors: an [`RpcError`] the browser decodes, with the
//! refusal's status. A server function's own errors get the status of
//! their kind where they are written ([`RpcError`]'s `ser`).

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::rpc::RpcError;
use crate::server::http::Refusal;

/// A front-layer refusal as server functions answer errors: an
/// [`RpcError`] the browser decodes like any other, with the refusal's
/// status.
pub fn refusal(refusal: Refusal) -> Response {
    let status = refusal.status();
    let error = match refusal {
        Refusal::Forbidden(message) => RpcError::Forbidden(message),
        Refusal::TooManyRequests(message, _) => RpcError::TooManyRequests(message),
        // What panicked is logged, never sent.
        Refusal::Internal(_) => RpcError::Internal("an internal error occurred".into()),
        Refusal::BadRequest(message)
        | Refusal::RequestTimeout(message)
        | Refusal::PayloadTooLarge(message)
        | Refusal::UriTooLong(message)
        | Refusal::UnsupportedMediaType(message)
        | Refusal::HeadTooLarge(message) => RpcError::BadRequest(message),
    };
    let body = serde_json::to_vec(&error).unwrap_or_default();
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
