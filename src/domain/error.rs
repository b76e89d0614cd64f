//! The error type of the UI's server functions.

use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use super::wire::JsonText;
use super::FieldError;

/// What a server function can report to the browser.
///
/// Internal details (SQL, file paths) never travel in here: the server logs
/// them and sends [`AppError::Internal`] with a generic sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
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
    #[error("The server could not complete the request: {0}")]
    Internal(String),
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// Field errors, when this is a validation error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            AppError::Validation(errors) => errors,
            _ => &[],
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}
