//! The status of server functions' error answers.
//!
//! Leptos answers every server function error with status 500, the error
//! (an [`RpcError`], as JSON) in the body and a `serverfnerror` header; its
//! browser client reads any 4xx or 5xx answer the same way. A body that is
//! not JSON, a field that fails validation or a missing login are the
//! caller's to fix, not the server's fault: this gives each error answer
//! the status of its kind ([`RpcError::status`], the same as REST's for the
//! same mistake), so that scripts, proxies and the request metrics tell
//! them apart.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::rpc::RpcError;
use crate::server::http::Refusal;

/// Sets the status of a server function's error answer from its error.
/// Every other answer passes untouched.
pub async fn error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Leptos writes the whole error, encoded by this server, at once:
    // collecting it waits for nothing and its size is the server's own.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        tracing::error!("a server function's error answer could not be read");
        return Response::from_parts(parts, Body::empty());
    };
    match serde_json::from_slice::<RpcError>(&bytes) {
        Ok(error) => {
            parts.status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(e) => tracing::error!(error = %e, "a server function's error is not an RpcError"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

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
