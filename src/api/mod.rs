//! Server functions: the UI's door to the same seams the REST API uses.
//!
//! Each function is thin: validate with the shared domain rules, call the
//! store, map its error. On the browser side the macro turns them into
//! HTTP calls under `/rpc/`, clear of the REST paths.

mod items;
mod models;
mod session;

/// The application state the server functions run against.
#[cfg(feature = "ssr")]
fn app_state() -> Result<crate::server::state::AppState, crate::domain::AppError> {
    leptos::prelude::use_context::<crate::server::state::AppState>()
        .ok_or_else(|| crate::domain::AppError::Internal("application state missing".into()))
}

pub use items::*;
pub use models::*;
pub use session::*;

/// The caller may do `permission`: the same check the REST API makes
/// ([`crate::server::auth::Auth::require`]), on this request's headers.
#[cfg(feature = "ssr")]
async fn authorize(
    permission: crate::domain::Permission,
) -> Result<Option<crate::server::auth::Principal>, crate::domain::AppError> {
    let state = app_state()?;
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()
        .ok_or_else(|| crate::domain::AppError::Internal("request missing".into()))?;
    Ok(state.auth.require(&parts.headers, permission).await?)
}
