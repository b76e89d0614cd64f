//! Prometheus metrics, in the text exposition format at `/metrics`.
//!
//! One [`Metrics`] per server (not a global registry), so that each part
//! gets handles to exactly the series it updates and tests can read one
//! server's figures. Handles are cheap clones of atomics; per-request work
//! is one family lookup for the HTTP histogram.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::domain::DriftReport;

use super::histograms::{Histogram as LocalHistogram, Histograms, HttpHistograms};

/// Latency buckets from 50 µs to about 3.3 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 17))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    model: String,
    version: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InputLabels {
    model: String,
    version: String,
    input: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    model: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every series this server exports.
pub struct Metrics {
    registry: Registry,
    http: Arc<HttpHistograms>,
    inference_requests: Family<ModelLabels, Counter>,
    inference_rows: Family<ModelLabels, Counter>,
    inference_errors: Family<ErrorLabels, Counter>,
    inference_latency: Arc<Histograms<ModelLabels>>,
    model_reloads: Family<ReloadLabels, Counter>,
    drift_index: Family<InputLabels, Gauge<f64, AtomicU64>>,
    drift_rows: Family<ModelLabels, Gauge>,
    commits: CommitMetrics,
    /// Requests refused by the rate limit.
    pub rate_limited: Counter,
    /// Requests whose handler or page render panicked (answered 500).
    panics: Counter,
    /// Connections open now.
    pub open_connections: Gauge,
    /// Items stored, refreshed at each scrape.
    pub items: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("itemserve");
        let http = Arc::new(HttpHistograms::new());
        registry.register_collector(Box::new(Arc::clone(&http)));
        let inference_requests = Family::<ModelLabels, Counter>::default();
        registry.register(
            "inference_requests",
            "Inference requests per model and version (every door: REST, v2, the UI)",
            inference_requests.clone(),
        );
        let inference_rows = Family::<ModelLabels, Counter>::default();
        registry.register(
            "inference_rows",
            "Rows predicted per model and version",
            inference_rows.clone(),
        );
        let inference_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "inference_errors",
            "Predictions the model itself failed, per model, version and kind: not_finite (a result overflowed: 422), runtime (the engine failed: 500)",
            inference_errors.clone(),
        );
        // On every prediction: lock-free, unlike prometheus-client's.
        let inference_latency = Arc::new(Histograms::new(
            "inference_duration",
            "Time the model itself took per request",
        ));
        registry.register_collector(Box::new(Arc::clone(&inference_latency)));
        let model_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "model_loads",
            "Model loads and reloads by outcome (success, failure)",
            model_reloads.clone(),
        );
        let drift_index = Family::<InputLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "model_input_drift",
            "Population stability index of each input's live values over the drift window against the training data (0.1 shifting, 0.25 drifted); only inputs with a reading",
            drift_index.clone(),
        );
        let drift_rows = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "model_drift_window_rows",
            "Rows predicted within the drift window, per model and version",
            drift_rows.clone(),
        );
        let commit_size = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "store_commit_writes",
            "Writes per commit (SQLite: one group commit, one fsync; PostgreSQL: one per write)",
            commit_size.clone(),
        );
        let commit_latency = latency_buckets();
        registry.register_with_unit(
            "store_commit_duration",
            "Time of one commit, fsync included (PostgreSQL: the whole write statement)",
            Unit::Seconds,
            commit_latency.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "rate_limit_rejections",
            "Requests refused with 429 by the per-client rate limit",
            rate_limited.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "request_panics",
            "Requests whose handler or page render panicked, answered 500 (a bug: see the log by request id)",
            panics.clone(),
        );
        let open_connections = Gauge::default();
        registry.register(
            "open_connections",
            "HTTP connections open now",
            open_connections.clone(),
        );
        let items = Gauge::default();
        registry.register("items", "Items in the catalogue", items.clone());
        registry.register(
            "build",
            "The running build",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Arc::new(Metrics {
            registry,
            http,
            inference_requests,
            inference_rows,
            inference_errors,
            inference_latency,
            model_reloads,
            drift_index,
            drift_rows,
            commits: CommitMetrics {
                size: commit_size,
                latency: commit_latency,
            },
            rate_limited,
            panics,
            open_connections,
            items,
        })
    }

    /// Counts a request that panicked.
    pub fn request_panicked(&self) {
        self.panics.inc();
    }

    /// Records one answered HTTP request; `route` is the router's pattern
    /// (`/items/{id}`, never the raw path, so the series stay few) or
    /// `unmatched`.
    pub fn http_request(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        self.http.observe(method, route, status, took);
    }

    /// The inference series of one model version, to keep with the model.
    pub fn model(&self, model: &str, version: &str) -> ModelMetrics {
        let labels = ModelLabels {
            model: model.to_owned(),
            version: version.to_owned(),
        };
        ModelMetrics {
            requests: self.inference_requests.get_or_create_owned(&labels),
            rows: self.inference_rows.get_or_create_owned(&labels),
            not_finite: self.inference_errors.get_or_create_owned(&ErrorLabels {
                model: model.to_owned(),
                version: version.to_owned(),
                kind: "not_finite",
            }),
            runtime: self.inference_errors.get_or_create_owned(&ErrorLabels {
                model: model.to_owned(),
                version: version.to_owned(),
                kind: "runtime",
            }),
            latency: self.inference_latency.get_or_create(&labels),
        }
    }

    /// The storage writer's series.
    pub fn commits(&self) -> CommitMetrics {
        self.commits.clone()
    }

    /// Replaces the drift series with these reports (the models serving
    /// now; a version no longer served leaves no series behind).
    pub fn publish_drift(&self, reports: &[DriftReport]) {
        self.drift_index.clear();
        self.drift_rows.clear();
        for report in reports {
            let model = ModelLabels {
                model: report.model.clone(),
                version: report.version.clone(),
            };
            self.drift_rows
                .get_or_create(&model)
                .set(i64::try_from(report.rows).unwrap_or(i64::MAX));
            for input in &report.inputs {
                if let Some(psi) = input.psi {
                    self.drift_index
                        .get_or_create(&InputLabels {
                            model: report.model.clone(),
                            version: report.version.clone(),
                            input: input.name.clone(),
                        })
                        .set(psi);
                }
            }
        }
    }

    /// Records a model load or reload.
    pub fn model_loaded(&self, model: &str, succeeded: bool) {
        self.model_reloads
            .get_or_create(&ReloadLabels {
                model: model.to_owned(),
                outcome: if succeeded { "success" } else { "failure" },
            })
            .inc();
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The group-commit series of the storage writer.
#[derive(Clone, Debug)]
pub struct CommitMetrics {
    size: Histogram,
    latency: Histogram,
}

impl CommitMetrics {
    /// Records one commit of `writes` writes.
    pub fn observe(&self, writes: usize, took: Duration) {
        self.size.observe(writes as f64);
        self.latency.observe(took.as_secs_f64());
    }
}

impl Default for CommitMetrics {
    /// Series registered nowhere: for stores opened outside a server.
    fn default() -> Self {
        CommitMetrics {
            size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            latency: latency_buckets(),
        }
    }
}

/// The inference series of one model version.
#[derive(Clone, Debug)]
pub struct ModelMetrics {
    requests: Counter,
    rows: Counter,
    not_finite: Counter,
    runtime: Counter,
    latency: Arc<LocalHistogram>,
}

impl Default for ModelMetrics {
    /// Series registered nowhere: for models loaded outside a server.
    fn default() -> Self {
        ModelMetrics {
            requests: Counter::default(),
            rows: Counter::default(),
            not_finite: Counter::default(),
            runtime: Counter::default(),
            latency: Arc::default(),
        }
    }
}

impl ModelMetrics {
    /// Records one inference request of `rows` rows.
    pub fn observe(&self, rows: usize, took: Duration) {
        self.requests.inc();
        self.rows.inc_by(rows as u64);
        self.latency.observe(took);
    }

    /// Counts a prediction whose result overflowed.
    pub fn not_finite(&self) {
        self.not_finite.inc();
    }

    /// Counts a prediction the engine failed.
    pub fn runtime_error(&self) {
        self.runtime.inc();
    }
}

/// The HTTP method as a static label (others are `OTHER`, so a client
/// cannot invent series).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
