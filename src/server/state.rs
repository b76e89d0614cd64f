//! State shared by every request handler and server function.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::auth::Auth;
use crate::server::inference::ModelRegistry;
use crate::server::rest::PageCache;
use crate::server::store::ItemStore;
use crate::server::telemetry::Metrics;

/// Handles to the seams, cloned cheaply into each request.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ItemStore>,
    pub models: Arc<ModelRegistry>,
    pub leptos_options: LeptosOptions,
    /// Serialized listing pages, valid until the next write.
    pub pages: Arc<PageCache>,
    /// Who may do what.
    pub auth: Arc<Auth>,
    /// Every Prometheus series of this server.
    pub metrics: Arc<Metrics>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
