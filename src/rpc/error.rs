//! The error type of the UI's server functions.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use super::wire::JsonText;
use crate::domain::FieldError;

/// What a server function can report to the browser.
///
/// Internal details (SQL, file paths) never travel in here: the server logs
/// them and sends [`RpcError::Internal`] with a generic sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum RpcError {
    #[error("Please correct the highlighted fields.")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The request was understood but cannot be answered as it stands
    /// (e.g. the model's result for these inputs overflows).
    #[error("{0}")]
    Rejected(String),
    /// Not logged in, or the session expired: log in (again).
    #[error("{0}")]
    Unauthorized(String),
    /// Logged in without the role for this.
    #[error("{0}")]
    Forbidden(String),
    /// A call this server cannot take: one it could not read (a body that
    /// is not JSON, a missing or mistyped argument), or one for something
    /// switched off (logging in with authentication off). A client's
    /// mistake, which the UI never makes but a script calling `/rpc` by
    /// hand can.
    #[error("The request was refused: {0}")]
    BadRequest(String),
    /// Too many attempts (logins) in a short time: wait, then retry.
    #[error("{0}")]
    TooManyRequests(String),
    /// Something the server depends on is down for now (the database, a
    /// model that failed to load): retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    #[error("The server could not complete the request: {0}")]
    Internal(String),
    /// The browser could not reach the server, or could not read its answer.
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl RpcError {
    /// The HTTP status a server function answers with this error, the
    /// same as REST's for the same mistake. (Leptos itself answers every
    /// error with 500; the server sets this one, see `status.rs`.)
    pub fn status(&self) -> u16 {
        match self {
            RpcError::BadRequest(_) => 400,
            RpcError::Unauthorized(_) => 401,
            RpcError::Forbidden(_) => 403,
            RpcError::NotFound(_) => 404,
            RpcError::Conflict(_) => 409,
            RpcError::Validation(_) | RpcError::Rejected(_) => 422,
            RpcError::TooManyRequests(_) => 429,
            RpcError::Unavailable(_) => 503,
            RpcError::Internal(_) | RpcError::Transport(_) => 500,
        }
    }

    /// Field errors, when this is a validation error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            RpcError::Validation(errors) => errors,
            _ => &[],
        }
    }
}

impl FromServerFnError for RpcError {
    type Encoder = JsonText;

    /// Every error answer of a server function is written here. Leptos
    /// answers it with status 500 and then applies the status the call set
    /// in its response options, so the status of the error's kind
    /// ([`RpcError::status`], the same as REST's for the same mistake) is
    /// set there: a field that fails validation or a missing login is the
    /// caller's to fix, and scripts, proxies and the request metrics tell
    /// them apart from the server's faults.
    #[cfg(feature = "ssr")]
    fn ser(&self) -> axum::body::Bytes {
        use axum::http::StatusCode;
        use leptos::server_fn::Encodes;
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(
                StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
        }
        // An error holds text only, which always encodes.
        <JsonText as Encodes<RpcError>>::encode(self).unwrap_or_else(|error| {
            tracing::error!(%error, "a server function's error could not be encoded");
            axum::body::Bytes::from_static(br#"{"Internal":"an internal error occurred"}"#)
        })
    }

    /// On the server this is called only when a call could not be read or
    /// its answer could not be written (a server function's own errors are
    /// `RpcError`s already).
    #[cfg(feature = "ssr")]
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        use ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::Deserialization(m) | E::Request(m) | E::UnsupportedRequestMethod(m) => {
                RpcError::BadRequest(m)
            }
            E::MissingArg(name) => RpcError::BadRequest(format!("missing argument {name}")),
            other => {
                tracing::error!(error = %other, "a server function could not answer");
                RpcError::Internal("the answer could not be written".into())
            }
        }
    }

    /// In the browser: the server could not be reached, or its answer
    /// could not be read.
    #[cfg(not(feature = "ssr"))]
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        RpcError::Transport(value.to_string())
    }
}
