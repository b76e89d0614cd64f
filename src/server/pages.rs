//! What the router answers for a path no route takes: a JSON 404 under the
//! API's prefixes, a static file of the site, or the UI's own 404 page.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use crate::server::rest::{self, ApiError};
use crate::server::state::AppState;

/// The router's fallback.
pub async fn fallback(state: State<AppState>, req: Request) -> Response {
    if rest::is_api_path(req.uri().path()) {
        return ApiError::NotFound("Not Found".into()).into_response();
    }
    let (parts, body) = req.into_parts();
    let file = Request::from_parts(parts.clone(), Body::empty());
    if let Some(response) = state.assets.respond(file).await {
        return response;
    }
    let req = Request::from_parts(parts, body);
    let ui = leptos_axum::file_and_error_handler::<AppState, _>(crate::app::shell);
    ui(req.uri().clone(), state, req).await
}
