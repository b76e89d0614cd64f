//! Logs and metrics, for every layer above (the seams count their work
//! here; the front layer records each request).
//!
//! - [`init`]: the global log subscriber (human-readable or JSON lines)
//! - [`chain`]: an error with its causes, for a log line
//! - [`histograms`]: lock-free latency histograms for the hot paths
//! - [`metrics`]: every Prometheus series

mod chain;
mod histograms;
mod metrics;

use tracing_subscriber::EnvFilter;

pub use chain::{chain, BoxError};
pub use histograms::intern as intern_route;
pub use metrics::{method_label, CommitMetrics, Metrics, ModelMetrics};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Installs the global log subscriber; later calls (e.g. from tests) are no-ops.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter '{filter}' ({e}); using 'info'");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
