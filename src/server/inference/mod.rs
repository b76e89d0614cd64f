//! The model seam: every prediction goes through [`ModelRegistry`].
//!
//! Models live in `models/<name>/` (ONNX graph + metadata), are loaded and
//! optimized once with tract, and are swapped atomically when their files
//! change. A request holds an `Arc` of the version it started with, so a
//! swap never disturbs it.

mod drift;
mod manifest;
mod model;
mod registry;
mod trees;

use std::sync::Arc;

pub use drift::DriftMonitor;
pub use manifest::ManifestError;
pub use model::{as_f64, InputType, LoadError, LoadedModel, TensorOutput, TensorSignature};
pub use registry::ModelRegistry;

use crate::domain::{NonFiniteRow, Prediction, MAX_NON_FINITE_ROWS};
use crate::server::telemetry::BoxError;

/// Rows above which inference moves to the blocking pool, so that a big
/// batch cannot hold up other requests on the async workers.
const INLINE_ROWS: usize = 256;

/// Big batches running at once: one per core. More would only queue for the
/// CPU while each held its request's buffers in memory.
static BLOCKING_PERMITS: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });

/// Runs blocking inference work on the blocking pool, at most one job per core.
async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, InferenceError> + Send + 'static,
) -> Result<T, InferenceError> {
    let _permit = BLOCKING_PERMITS
        .acquire()
        .await
        .map_err(|e| InferenceError::Runtime(e.into()))?;
    // The caller's span (with its request id) follows the work.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| InferenceError::Runtime(e.into()))?
}

/// Fails with [`InferenceError::NonFinite`] naming the rows of `flat`
/// (row-major inputs of `n_rows` rows) whose share of `values` (an output
/// tensor, row-major) holds an infinity or NaN.
pub(crate) fn check_finite(
    values: &[f64],
    n_rows: usize,
    flat: &[f64],
) -> Result<(), InferenceError> {
    if values.iter().all(|v| v.is_finite()) || n_rows == 0 {
        return Ok(());
    }
    let per_row = values.len() / n_rows;
    let features = flat.len() / n_rows;
    let rows: Vec<NonFiniteRow> = values
        .chunks(per_row.max(1))
        .enumerate()
        .filter(|(_, out)| out.iter().any(|v| !v.is_finite()))
        .take(MAX_NON_FINITE_ROWS)
        .map(|(index, _)| NonFiniteRow {
            index,
            inputs: flat[index * features..(index + 1) * features].to_vec(),
        })
        .collect();
    Err(InferenceError::NonFinite(rows))
}

/// What can go wrong when asking for a prediction.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error("Model '{0}' not found")]
    NotFound(String),
    #[error("Model '{name}' is not available: {reason}")]
    NotReady { name: String, reason: String },
    #[error("{0}")]
    InvalidInput(String),
    /// The model's result is infinite or NaN for these rows (at most
    /// [`MAX_NON_FINITE_ROWS`]): never a prediction, always the client's to fix.
    #[error("the model's result is not a finite number for {} row(s)", .0.len())]
    NonFinite(Vec<NonFiniteRow>),
    /// tract (or the task running it) failed: the server's fault, never
    /// the client's; the cause is for logs.
    #[error("inference failed")]
    Runtime(#[source] BoxError),
}

/// Predicts `rows` with `model`, off the async workers when the batch is
/// big; the drift check counts them.
pub async fn predict(
    model: Arc<LoadedModel>,
    rows: Vec<Vec<f64>>,
) -> Result<Vec<Prediction>, InferenceError> {
    model.drift.record_rows(rows.iter().map(Vec::as_slice));
    what_if(model, rows).await
}

/// Predicts made-up `rows` (the prediction page's what-if sweeps): as
/// [`predict`], but the drift check does not count them as live inputs.
#[tracing::instrument(level = "debug", name = "inference.predict", skip_all, fields(model = %model.info.name, rows = rows.len()))]
pub async fn what_if(
    model: Arc<LoadedModel>,
    rows: Vec<Vec<f64>>,
) -> Result<Vec<Prediction>, InferenceError> {
    let result = if rows.len() <= INLINE_ROWS {
        model.predict(&rows)
    } else {
        let running = model.clone();
        run_blocking(move || running.predict(&rows)).await
    };
    counted(&model, result)
}

/// Predicts `n_rows` rows of row-major `flat` values, off the async workers
/// when the batch is big.
#[tracing::instrument(level = "debug", name = "inference.predict", skip_all, fields(model = %model.info.name, rows = n_rows))]
pub async fn predict_flat(
    model: Arc<LoadedModel>,
    flat: Vec<f64>,
    n_rows: usize,
) -> Result<Vec<Prediction>, InferenceError> {
    model.drift.record(&flat, n_rows);
    let result = if n_rows <= INLINE_ROWS {
        model.predict_flat(&flat, n_rows)
    } else {
        let running = model.clone();
        run_blocking(move || running.predict_flat(&flat, n_rows)).await
    };
    counted(&model, result)
}

/// Runs the raw graph on row-major `flat` data, off the async workers when
/// the batch is big (for the Open Inference Protocol): the values of every
/// output, row-major, in the order of the model's `signature.outputs`.
#[tracing::instrument(level = "debug", name = "inference.run", skip_all, fields(model = %model.info.name, rows = n_rows))]
pub async fn run_flat(
    model: Arc<LoadedModel>,
    flat: Vec<f64>,
    n_rows: usize,
) -> Result<Vec<Vec<f64>>, InferenceError> {
    model.drift.record(&flat, n_rows);
    let running = model.clone();
    let work = move || {
        let raw = running.run_flat(&flat, n_rows)?;
        let outputs = running
            .signature
            .outputs
            .iter()
            .map(|output| as_f64(&raw[output.graph_index]))
            .collect::<Result<Vec<_>, InferenceError>>()?;
        for values in &outputs {
            check_finite(values, n_rows, &flat)?;
        }
        Ok(outputs)
    };
    let result = if n_rows <= INLINE_ROWS {
        work()
    } else {
        run_blocking(work).await
    };
    counted(&model, result)
}

/// `result`, with a failure of the model's own (an overflow, the engine)
/// counted in its version's error series.
fn counted<T>(model: &LoadedModel, result: Result<T, InferenceError>) -> Result<T, InferenceError> {
    match &result {
        Err(InferenceError::NonFinite(_)) => model.metrics.not_finite(),
        Err(InferenceError::Runtime(_)) => model.metrics.runtime_error(),
        _ => {}
    }
    result
}
