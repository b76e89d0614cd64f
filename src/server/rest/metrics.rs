//! `GET /metrics`: the Prometheus series, for admins (or open on an
//! address of its own).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::IntoResponse;

use super::error::ApiError;
use crate::domain::{ItemQuery, Permission};
use crate::server::auth::Auth;
use crate::server::inference::ModelRegistry;
use crate::server::store::ItemStore;
use crate::server::telemetry::Metrics;

/// What `/metrics` needs: the series and the store to count items in.
#[derive(Clone)]
pub struct MetricsState {
    pub metrics: Arc<Metrics>,
    pub store: Arc<dyn ItemStore>,
    /// The models, whose drift is read at each scrape.
    pub models: Arc<ModelRegistry>,
    /// When set, only admins (by token) may read the metrics.
    pub admin_only: Option<Arc<Auth>>,
}

/// `GET /metrics`: every series in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    summary = "Prometheus metrics",
    description = "Every series in the OpenMetrics text format: HTTP requests and latency by route and status, inference per model and version (requests, rows, time, the model's own failures), each model input's drift (population stability index), model loads, group commits, rate-limit refusals, open connections, items, build. With logins on, admins only (an admin's API token as a bearer token) unless `ITEMSERVE_METRICS_ADMIN_ONLY=false`; served open on an address of its own with `--metrics-addr`.",
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "Admins only, and not logged in", body = super::Detail),
        (status = 403, description = "Admins only", body = super::Detail),
    )
)]
pub async fn metrics_endpoint(
    State(state): State<MetricsState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(auth) = &state.admin_only {
        auth.require(&headers, Permission::ManageUsers).await?;
    }
    // The total is kept with every write: a scrape reads one number.
    if let Ok(total) = state.store.count(&ItemQuery::default()).await {
        state
            .metrics
            .items
            .set(i64::try_from(total.n).unwrap_or(i64::MAX));
    }
    state.metrics.publish_drift(&state.models.drift_reports());
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    ))
}
