//! The one mapping of the server functions' door: every seam's error as
//! the browser is told it. (The status each [`RpcError`] is answered with
//! is documented at [`RpcError::status`].) Internal details are logged
//! here and never sent.

use super::RpcError;
use crate::domain::ModelInfo;
use crate::server::auth::AuthError;
use crate::server::inference::InferenceError;
use crate::server::store::StoreError;
use crate::server::telemetry::chain;

impl From<StoreError> for RpcError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => {
                RpcError::NotFound("This item no longer exists; it may have been deleted.".into())
            }
            StoreError::Conflict(id) => {
                RpcError::Conflict(format!("An item with id {id} already exists."))
            }
            StoreError::NotInTrash(_) => RpcError::NotFound(
                "This item is no longer in the trash; it may have been restored or purged.".into(),
            ),
            StoreError::IdReused(id) => RpcError::Conflict(format!(
                "This item cannot be restored: a new item with id {id} was created since."
            )),
            // 503, as REST answers: no create without an id can succeed
            // until an administrator acts.
            StoreError::IdsExhausted => RpcError::Unavailable(
                "No item ids are left to assign; delete items or ask an administrator.".into(),
            ),
            StoreError::VersionMismatch { .. } => RpcError::Conflict(
                "Someone else changed this item meanwhile. The table now shows their version; \
                 edit it again if needed."
                    .into(),
            ),
            StoreError::UserExists(name) => {
                RpcError::Conflict(format!("A user named '{name}' already exists."))
            }
            StoreError::UserNotFound(_) => RpcError::NotFound("This user does not exist.".into()),
            StoreError::CredentialNotFound(_) => {
                RpcError::NotFound("This token does not exist or was revoked.".into())
            }
            StoreError::BulkRefused(refusals) => {
                let first = refusals.first().map(|r| {
                    let field = r.problem.field.as_deref().map(|f| format!(" ({f})"));
                    format!(
                        " Item {}{}: {}",
                        r.id,
                        field.unwrap_or_default(),
                        r.problem.message
                    )
                });
                RpcError::Rejected(format!(
                    "Nothing was changed: {} of the selected items cannot take this change.{}",
                    refusals.len(),
                    first.unwrap_or_default()
                ))
            }
            StoreError::TooManyMatches => RpcError::Rejected(format!(
                "More than {} items match; narrow the filter to change them at once.",
                crate::domain::MAX_BULK_ITEMS
            )),
            // A page link from another listing, or one edited by hand.
            StoreError::BadCursor { reason, .. } => {
                RpcError::Validation(vec![crate::domain::FieldError::new(
                    "cursor",
                    "cursor_invalid",
                    reason,
                )])
            }
            StoreError::Unavailable(error) => {
                tracing::warn!(%error, "the database is unavailable");
                RpcError::Unavailable(
                    "The database is unavailable right now; try again in a moment.".into(),
                )
            }
            StoreError::Backend(_) => {
                tracing::error!(error = %chain(&e), "storage failed in a server function");
                RpcError::Internal("a database error occurred".into())
            }
        }
    }
}

impl From<AuthError> for RpcError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::NotLoggedIn => {
                RpcError::Unauthorized("You are not logged in (or your session expired).".into())
            }
            AuthError::BadCredentials(message) => RpcError::Unauthorized(message.into()),
            AuthError::Forbidden { .. } => RpcError::Forbidden(e.to_string()),
            AuthError::TooManyAttempts(_) => RpcError::TooManyRequests(e.to_string()),
            AuthError::LookAlikeName { .. } => RpcError::Conflict(e.to_string()),
            AuthError::Store(e) => e.into(),
            AuthError::ShortSecret | AuthError::Internal(_) => {
                tracing::error!(error = %chain(&e), "authentication failed in a server function");
                RpcError::Internal("an internal error occurred".into())
            }
        }
    }
}

/// An inference error of `model`: an unknown model is not found, one that
/// failed to load is unavailable, a result that is not a finite number is
/// rejected naming the inputs that caused it, anything else is the
/// server's fault.
pub fn inference(error: InferenceError, model: &ModelInfo) -> RpcError {
    match error {
        InferenceError::NotFound(_) => RpcError::NotFound(error.to_string()),
        InferenceError::NotReady { .. } => RpcError::Unavailable(error.to_string()),
        InferenceError::NonFinite(rows) => match rows.first() {
            Some(row) => RpcError::Rejected(model.non_finite_message(&row.inputs)),
            None => RpcError::Rejected(InferenceError::NonFinite(rows).to_string()),
        },
        InferenceError::InvalidInput(_) | InferenceError::Runtime(_) => {
            tracing::error!(error = %chain(&error), "inference failed in a server function");
            RpcError::Internal("the model could not run".into())
        }
    }
}

/// A model that could not be found (or is not ready) by `name`.
pub fn model_lookup(error: InferenceError) -> RpcError {
    match error {
        InferenceError::NotFound(_) => RpcError::NotFound(error.to_string()),
        other => RpcError::Unavailable(other.to_string()),
    }
}
