//! Server functions: the UI's door to the same seams the REST API uses.
//!
//! Each function is thin: validate with the shared domain rules, call the
//! seam, let [`RpcError`]'s one mapping (`mapping.rs`) turn the seam's
//! error into what the browser is told. On the browser side the macro
//! turns them into HTTP calls under `/rpc/`, clear of the REST paths;
//! [`wire`] is how their arguments and answers travel, `status` answers
//! the front layer's refusals in their error shape.

mod error;
mod items;
#[cfg(feature = "ssr")]
mod mapping;
mod models;
mod session;
#[cfg(feature = "ssr")]
pub mod status;
pub mod wire;

pub use error::RpcError;

/// The application state the server functions run against.
#[cfg(feature = "ssr")]
fn app_state() -> Result<crate::server::state::AppState, crate::rpc::RpcError> {
    leptos::prelude::use_context::<crate::server::state::AppState>()
        .ok_or_else(|| crate::rpc::RpcError::Internal("application state missing".into()))
}

pub use items::*;
pub use models::*;
pub use session::*;

/// This request as the audit log records it: through the UI, by `caller`.
#[cfg(feature = "ssr")]
fn witness(
    caller: Option<&crate::server::auth::Principal>,
) -> Result<crate::server::auth::Witness, crate::rpc::RpcError> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()
        .ok_or_else(|| crate::rpc::RpcError::Internal("request missing".into()))?;
    Ok(crate::server::auth::Witness::of(
        &parts,
        crate::server::http::request_id(&parts.headers),
        caller,
        crate::domain::Door::Ui,
    ))
}

/// The caller may do `permission`: the same check the REST API makes
/// ([`crate::server::auth::Auth::require`]), on this request's headers.
#[cfg(feature = "ssr")]
async fn authorize(
    permission: crate::domain::Permission,
) -> Result<Option<crate::server::auth::Principal>, crate::rpc::RpcError> {
    let state = app_state()?;
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()
        .ok_or_else(|| crate::rpc::RpcError::Internal("request missing".into()))?;
    Ok(state.auth.require(&parts.headers, permission).await?)
}
