//! The JSON REST API for scripts: the original FastAPI contract, the model
//! routes, the Open Inference Protocol, health, and the API's own
//! documentation (`/openapi.json`, `/docs`, `/redoc`).

mod account;
mod audit;
mod bulk;
mod cache;
mod docs;
mod error;
mod events;
mod extract;
mod history;
mod item_body;
mod items;
mod mapping;
mod metrics;
mod models;
mod openapi;
mod prediction_body;
mod search;
mod service;
mod transfer;
mod trash;
mod users;
mod v2;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

pub use error::{ApiError, ValidationDetail};
pub use mapping::{open_inference_refusal, refusal};
pub use metrics::{metrics_endpoint, MetricsState};
pub use openapi::{document, Detail};
pub use service::{is_api_path, method_not_allowed};

use crate::server::state::AppState;

/// Every REST route, registered through [`RouteTable`] so that the list of
/// routes the router serves and the list `/openapi.json` documents can be
/// compared (a test does). Collection paths answer with and without the
/// trailing slash, as the original app did.
pub fn routes() -> Router<AppState> {
    // No `DefaultBodyLimit` layer: every body is read by
    // [`extract::read_body`], which applies the limit itself.
    table().router.merge(docs::pages())
}

/// Every `(method, path)` the REST router serves, in registration order,
/// and `GET /metrics` (added beside it by the startup code, unless it has
/// an address of its own).
pub fn route_list() -> Vec<(Method, &'static str)> {
    let mut routes = table().routes;
    routes.push((Method::GET, "/metrics"));
    routes
}

/// Every route pattern of the REST router and the docs pages beside it
/// (with `/metrics`), for the request metrics' labels.
pub fn route_patterns() -> impl Iterator<Item = &'static str> {
    route_list()
        .into_iter()
        .map(|(_, path)| path)
        .chain(docs::PAGE_ROUTES.iter().copied())
}

fn table() -> RouteTable {
    RouteTable::default()
        .both_slashes(Method::GET, "/items/", items::list)
        .both_slashes(Method::POST, "/items/", items::create)
        .add(Method::GET, "/items/events", events::stream)
        .add(Method::GET, "/items/export", transfer::export)
        .add(Method::POST, "/items/import", transfer::import)
        .add(Method::POST, "/items/bulk", bulk::bulk)
        .add(Method::GET, "/items/{id}", items::get)
        .add(Method::PUT, "/items/{id}", items::update)
        .add(Method::PATCH, "/items/{id}", items::patch)
        .add(Method::DELETE, "/items/{id}", items::delete)
        .add(Method::GET, "/items/{id}/history", history::list)
        .add(Method::GET, "/items/{id}/history/{version}", history::get)
        .add(Method::POST, "/items/{id}/revert", history::revert)
        .add(Method::GET, "/trash", trash::list)
        .add(Method::POST, "/trash/{id}/restore", trash::restore)
        .add(Method::DELETE, "/trash/{id}", trash::purge)
        .add(Method::GET, "/audit", audit::list)
        .both_slashes(Method::GET, "/search/", search::search)
        .both_slashes(Method::GET, "/filter/", search::filter)
        .both_slashes(Method::GET, "/api/", service::index)
        .both_slashes(Method::POST, "/predict/", models::predict_original)
        // GET /predict/ is a person who typed the page's address with a slash.
        .add(Method::GET, "/predict/", service::to_prediction_page)
        .add(Method::GET, "/api/models", models::list)
        .add(Method::GET, "/api/models/{name}", models::get)
        .add(Method::POST, "/api/models/{name}/predict", models::predict)
        .add(Method::GET, "/api/models/{name}/drift", models::drift)
        .add(Method::GET, "/v2", v2::server_metadata)
        .add(Method::GET, "/v2/health/live", v2::live)
        .add(Method::GET, "/v2/health/ready", v2::ready)
        .add(Method::POST, "/v2/repository/index", v2::repository::index)
        .add(
            Method::POST,
            "/v2/repository/models/{name}/load",
            v2::repository::load,
        )
        .add(
            Method::POST,
            "/v2/repository/models/{name}/unload",
            v2::repository::unload,
        )
        .add(Method::GET, "/v2/models/{name}", v2::model_metadata)
        .add(Method::GET, "/v2/models/{name}/ready", v2::model_ready)
        .add(Method::POST, "/v2/models/{name}/infer", v2::infer)
        .add(
            Method::GET,
            "/v2/models/{name}/versions/{version}",
            v2::model_version_metadata,
        )
        .add(
            Method::POST,
            "/v2/models/{name}/versions/{version}/infer",
            v2::infer_version,
        )
        .add(Method::POST, "/auth/token", account::token)
        .add(Method::POST, "/auth/refresh", account::refresh)
        .add(Method::POST, "/auth/revoke", account::revoke)
        .add(Method::GET, "/auth/me", account::me)
        .add(Method::GET, "/auth/tokens", account::list_tokens)
        .add(Method::POST, "/auth/tokens", account::create_token)
        .add(Method::DELETE, "/auth/tokens/{id}", account::revoke_token)
        .add(Method::GET, "/users", users::list)
        .add(Method::POST, "/users", users::create)
        .add(Method::GET, "/users/{id}", users::get)
        .add(Method::PATCH, "/users/{id}", users::update)
        .add(Method::GET, "/users/{id}/tokens", users::tokens)
        .add(Method::GET, "/healthz", service::healthz)
        .add(Method::GET, "/readyz", service::readyz)
        .add(Method::GET, docs::OPENAPI_PATH, docs::openapi_json)
}

/// A router that remembers what it registered.
#[derive(Default)]
struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a routable method");
        // axum merges the method routers of one path.
        self.router = self.router.route(path, on(filter, handler));
        self.routes.push((method, path));
        self
    }

    /// `path` (ending in `/`) and the same path without the slash.
    fn both_slashes<H, T>(self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState> + Clone,
        T: 'static,
    {
        let bare = path.strip_suffix('/').expect("a path ending in a slash");
        self.add(method.clone(), path, handler.clone())
            .add(method, bare, handler)
    }
}
