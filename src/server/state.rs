//! State shared by every request handler and server function.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::assets::SiteAssets;
use crate::server::auth::Auth;
use crate::server::cache::{CachedItem, CachedPage, JsonPage, PageCache};
use crate::server::inference::ModelRegistry;
use crate::server::rate::StreamSlots;
use crate::server::store::{ChangeFeed, ItemStore};
use crate::server::telemetry::Metrics;

/// Handles to the seams. axum clones the state at least twice per request
/// (into the handler and for `State`): one shared pointer keeps that to a
/// single reference count, where cloning every field (`LeptosOptions`'
/// strings among them) would cost a noticeable share of a cheap request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

/// What [`AppState`] points to.
pub struct Services {
    pub store: Arc<dyn ItemStore>,
    /// Committed item changes, for `GET /items/events`.
    pub changes: Arc<ChangeFeed>,
    pub models: Arc<ModelRegistry>,
    pub leptos_options: LeptosOptions,
    /// The browser bundle and public files, and the names pages load them by.
    pub assets: SiteAssets,
    /// Serialized listing pages, valid until the next write.
    pub pages: Arc<PageCache<JsonPage>>,
    /// Items as `GET /items/{id}` answers them, valid until the next write.
    pub items: PageCache<CachedItem>,
    /// The item page as anonymous visitors see it, until the next write.
    pub html: PageCache<CachedPage>,
    /// Who may do what.
    pub auth: Arc<Auth>,
    /// Every Prometheus series of this server.
    pub metrics: Arc<Metrics>,
    /// Event streams open per client.
    pub streams: Arc<StreamSlots>,
    /// Largest file an import accepts, in bytes.
    pub import_max_bytes: u64,
    /// Longest wait for the next part of an import's file.
    pub import_idle_timeout: std::time::Duration,
}

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
