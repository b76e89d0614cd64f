//! The status of server functions' error answers.
//!
//! Leptos answers every server function error with status 500, the error
//! (an [`AppError`], as JSON) in the body and a `serverfnerror` header; its
//! browser client reads any 4xx or 5xx answer the same way. A body that is
//! not JSON, a field that fails validation or a missing login are the
//! caller's to fix, not the server's fault: this gives each error answer
//! the status of its kind ([`AppError::status`], the same as REST's for the
//! same mistake), so that scripts, proxies and the request metrics tell
//! them apart.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

use crate::domain::AppError;

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
    match serde_json::from_slice::<AppError>(&bytes) {
        Ok(error) => {
            parts.status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        }
        Err(e) => tracing::error!(error = %e, "a server function's error is not an AppError"),
    }
    Response::from_parts(parts, Body::from(bytes))
}
