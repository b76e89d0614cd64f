//! One model loaded into tract: parsed, typed with a symbolic batch size,
//! optimized once, and shared by every request; plus a plan made for
//! exactly one row, the most common request.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use super::drift::DriftMonitor;
use super::manifest::{Manifest, ManifestError};
use super::InferenceError;
use crate::domain::{ClassProbability, ModelInfo, ModelStatus, Prediction, Task};
use crate::server::telemetry::chain;
use crate::server::telemetry::ModelMetrics;

/// Run states kept per model: enough for every worker thread at once.
const MAX_POOLED_STATES: usize = 16;

/// Element types the models may take as input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputType {
    F32,
    F64,
}

impl InputType {
    /// The Open Inference Protocol's name for it.
    pub fn v2_name(self) -> &'static str {
        match self {
            InputType::F32 => "FP32",
            InputType::F64 => "FP64",
        }
    }
}

/// A named output tensor of the ONNX graph.
#[derive(Clone, Debug)]
pub struct TensorOutput {
    pub name: String,
    pub datum_type: DatumType,
    /// Trailing dimensions after the batch one (empty for `[N]`).
    pub inner_shape: Vec<usize>,
    /// Its position among the graph's outputs.
    pub graph_index: usize,
}

impl TensorOutput {
    /// The Open Inference Protocol's name for the element type.
    pub fn v2_datatype(&self) -> &'static str {
        match self.datum_type {
            DatumType::F32 => "FP32",
            DatumType::F64 => "FP64",
            DatumType::I64 => "INT64",
            DatumType::I32 => "INT32",
            DatumType::Bool => "BOOL",
            _ => "BYTES",
        }
    }

    /// Whether the values are integers (class labels, say).
    pub fn is_integer(&self) -> bool {
        self.datum_type.is_integer()
    }
}

/// The ONNX-level view of a model, for the Open Inference Protocol.
#[derive(Clone, Debug)]
pub struct TensorSignature {
    pub input_name: String,
    pub input_type: InputType,
    pub features: usize,
    pub outputs: Vec<TensorOutput>,
}

/// Why a model could not be loaded. The message is the model's status
/// for clients (`/api/models`, the prediction page), so each variant says
/// what to fix; tract's error stays behind it as the source.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("model.onnx: {}", chain(.0.as_ref()))]
    Parse(#[source] TractError),
    #[error("model.onnx: {}", chain(.0.as_ref()))]
    Graph(#[source] TractError),
    #[error("input shape: {}", chain(.0.as_ref()))]
    InputShape(#[source] TractError),
    #[error("cannot prepare model.onnx for tract: {}", chain(.0.as_ref()))]
    Optimize(#[source] TractError),
    #[error("cannot plan model.onnx: {}", chain(.0.as_ref()))]
    Plan(#[source] TractError),
    /// The graph is valid ONNX but not a shape this server serves.
    #[error("{0}")]
    Unsupported(String),
    #[error("a test prediction failed: {}", chain(.0))]
    TestPrediction(#[source] InferenceError),
}

/// A model ready to run.
pub struct LoadedModel {
    pub info: ModelInfo,
    pub signature: TensorSignature,
    /// The plan for any number of rows.
    batch: Plan,
    /// The plan for one row: with every shape known, tract settles at load
    /// time what the batch plan works out on each run.
    single: Plan,
    /// Index of the output holding the values (regression) or the class
    /// probabilities (classification).
    result_output: usize,
    /// Where each run is counted; the registry sets it.
    pub(crate) metrics: ModelMetrics,
    /// The live distribution of the inputs, against the training data's:
    /// the doors' entry points (`inference::predict`, ...) count their
    /// rows in it, not the model itself, so that the load's test rows and
    /// the prediction page's what-if sweeps are not taken for traffic.
    pub drift: DriftMonitor,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("name", &self.info.name)
            .finish()
    }
}

/// A runnable plan and the run states kept for it.
struct Plan {
    plan: Arc<TypedRunnableModel>,
    /// Run states kept for reuse: spawning one allocates per graph node,
    /// which would cost more than running a small model.
    states: std::sync::Mutex<Vec<TypedSimpleState>>,
}

impl Plan {
    fn new(plan: Arc<TypedRunnableModel>) -> Plan {
        Plan {
            plan,
            states: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn run(&self, input: Tensor) -> Result<TVec<TValue>, InferenceError> {
        let pooled = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut state = match pooled {
            Some(state) => state,
            None => self
                .plan
                .spawn()
                .map_err(|e| InferenceError::Runtime(e.into()))?,
        };
        let outputs = state
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| InferenceError::Runtime(e.into()))?;
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if states.len() < MAX_POOLED_STATES {
            states.push(state);
        }
        Ok(outputs)
    }
}

/// The graph typed for `rows` rows (a number or the batch symbol) of
/// `features` values, and optimized.
fn optimize(
    mut model: InferenceModel,
    input_type: InputType,
    rows: TDim,
    features: usize,
) -> Result<TypedModel, LoadError> {
    let dt = match input_type {
        InputType::F32 => f32::datum_type(),
        InputType::F64 => f64::datum_type(),
    };
    model
        .set_input_fact(
            0,
            InferenceFact::dt_shape(dt, tvec![rows, features.to_dim()]),
        )
        .map_err(LoadError::InputShape)?;
    model.into_optimized().map_err(LoadError::Optimize)
}

impl LoadedModel {
    /// Loads `dir/model.onnx` with its metadata, optimizes it for any batch
    /// size and checks it on one row. Unsupported operators surface here, at
    /// the typing/optimizing step, not at the first request.
    #[tracing::instrument(level = "debug", name = "inference.load", skip(dir))]
    pub fn load(name: &str, dir: &Path) -> Result<LoadedModel, LoadError> {
        let manifest = Manifest::load(dir)?;
        let features = manifest.inputs.len();

        let model = super::trees::onnx()
            .model_for_path(dir.join("model.onnx"))
            .map_err(LoadError::Parse)?;
        if model.input_outlets().map_err(LoadError::Graph)?.len() != 1 {
            return Err(LoadError::Unsupported(
                "model.onnx must have exactly one input tensor".into(),
            ));
        }
        let declared = model
            .input_fact(0)
            .ok()
            .and_then(|f| f.datum_type.concretize());
        let input_type = match declared {
            Some(DatumType::F64) => InputType::F64,
            Some(DatumType::F32) | None => InputType::F32,
            Some(other) => {
                return Err(LoadError::Unsupported(format!(
                    "model.onnx takes {other:?} input; only float32 and float64 are supported"
                )))
            }
        };
        let input_name = model
            .node(model.input_outlets().map_err(LoadError::Graph)?[0].node)
            .name
            .clone();
        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(LoadError::Graph)?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map(str::to_owned)
                    .unwrap_or_else(|| model.node(o.node).name.clone())
            })
            .collect();

        // skl2onnx leaves the batch dimension unnamed; a symbol lets one
        // optimized plan serve every batch size.
        let batch = model.symbols.sym("N");
        let single = optimize(model.clone(), input_type, 1.to_dim(), features)?;
        let optimized = optimize(model, input_type, batch.to_dim(), features)?;
        let mut outputs = Vec::new();
        for (i, name) in output_names.into_iter().enumerate() {
            let fact = optimized.output_fact(i).map_err(LoadError::Graph)?;
            let inner_shape = fact
                .shape
                .iter()
                .skip(1)
                .map(|d| d.to_usize().unwrap_or(0))
                .collect();
            // Numbers only: a classifier's string labels are not served
            // (its probabilities are, and the class names are in
            // model.toml).
            if !(fact.datum_type.is_number() || fact.datum_type == DatumType::Bool) {
                tracing::info!(output = %name, datum_type = ?fact.datum_type, "output not served: not numbers");
                continue;
            }
            outputs.push(TensorOutput {
                name,
                datum_type: fact.datum_type,
                inner_shape,
                graph_index: i,
            });
        }
        let labels = manifest.labels().to_vec();
        let is_float = |o: &TensorOutput| matches!(o.datum_type, DatumType::F32 | DatumType::F64);
        let result_position = match manifest.task {
            Task::Regression => outputs
                .iter()
                .position(|o| is_float(o) && o.inner_shape.iter().product::<usize>() == 1)
                .ok_or_else(|| {
                    LoadError::Unsupported("no float output with one value per row".into())
                })?,
            Task::Classification => outputs
                .iter()
                .position(|o| is_float(o) && o.inner_shape == [labels.len()])
                .ok_or_else(|| {
                    LoadError::Unsupported(format!(
                        "no probability output with {} classes (export with zipmap=False)",
                        labels.len()
                    ))
                })?,
        };
        // The plans' outputs are the graph's.
        let result_output = outputs[result_position].graph_index;
        let plan = |model: TypedModel| {
            model
                .into_runnable()
                .map(Plan::new)
                .map_err(LoadError::Plan)
        };

        let info = ModelInfo {
            name: name.to_owned(),
            version: manifest.version.clone(),
            task: manifest.task,
            description: manifest.description.clone(),
            status: ModelStatus::Ready,
            inputs: manifest.inputs.clone(),
            outputs: manifest.outputs.clone(),
            labels,
            provenance: manifest.provenance.clone(),
        };
        let loaded = LoadedModel {
            drift: DriftMonitor::new(
                name,
                &manifest.version,
                &manifest.inputs,
                &manifest.references,
            ),
            info,
            signature: TensorSignature {
                input_name,
                input_type,
                features,
                outputs,
            },
            batch: plan(optimized)?,
            single: plan(single)?,
            result_output,
            metrics: ModelMetrics::default(),
        };
        // Catch shape mismatches now rather than at the first request, in
        // both plans.
        let defaults: Vec<f64> = loaded.info.inputs.iter().map(|s| s.default).collect();
        loaded
            .predict(std::slice::from_ref(&defaults))
            .and_then(|_| loaded.predict(&[defaults.clone(), defaults]))
            .map_err(LoadError::TestPrediction)?;
        Ok(loaded)
    }

    /// Runs the raw graph on `n_rows` rows of row-major `flat` values and
    /// returns every output tensor.
    pub fn run_flat(&self, flat: &[f64], n_rows: usize) -> Result<TVec<TValue>, InferenceError> {
        let started = std::time::Instant::now();
        let shape = [n_rows, self.signature.features];
        let tensor = match self.signature.input_type {
            InputType::F64 => Tensor::from_shape(&shape, flat),
            InputType::F32 => {
                let narrow: Vec<f32> = flat.iter().map(|v| *v as f32).collect();
                Tensor::from_shape(&shape, &narrow)
            }
        }
        .map_err(|e| InferenceError::InvalidInput(e.to_string()))?;
        let plan = if n_rows == 1 {
            &self.single
        } else {
            &self.batch
        };
        let outputs = plan.run(tensor)?;
        self.metrics.observe(n_rows, started.elapsed());
        Ok(outputs)
    }

    /// Predictions for each row, in order.
    pub fn predict(&self, rows: &[Vec<f64>]) -> Result<Vec<Prediction>, InferenceError> {
        let k = self.signature.features;
        if let Some(bad) = rows.iter().position(|r| r.len() != k) {
            return Err(InferenceError::InvalidInput(format!(
                "row {bad} has {} values; the model takes {k}",
                rows[bad].len()
            )));
        }
        let flat: Vec<f64> = rows.iter().flatten().copied().collect();
        self.predict_flat(&flat, rows.len())
    }

    /// Predictions for `n_rows` rows of row-major `flat` values.
    pub fn predict_flat(
        &self,
        flat: &[f64],
        n_rows: usize,
    ) -> Result<Vec<Prediction>, InferenceError> {
        let outputs = self.run_flat(flat, n_rows)?;
        let values = as_f64(&outputs[self.result_output])?;
        super::check_finite(&values, n_rows, flat)?;
        Ok(self.predictions(values))
    }

    fn predictions(&self, values: Vec<f64>) -> Vec<Prediction> {
        match self.info.task {
            Task::Regression => values
                .into_iter()
                .map(|value| Prediction::Regression { value })
                .collect(),
            Task::Classification => values
                .chunks(self.info.labels.len().max(1))
                .map(|probs| self.classify(probs))
                .collect(),
        }
    }

    fn classify(&self, probs: &[f64]) -> Prediction {
        // The arg-max of the probabilities (the first on a tie, as
        // scikit-learn's `predict`), not the graph's label output, which
        // may be strings; the class names are the manifest's.
        let class_index = probs
            .iter()
            .enumerate()
            .fold(None, |best: Option<(usize, f64)>, (i, p)| match best {
                Some((_, b)) if *p <= b => best,
                _ => Some((i, *p)),
            })
            .map_or(0, |(i, _)| i);
        Prediction::Classification {
            label: self
                .info
                .labels
                .get(class_index)
                .cloned()
                .unwrap_or_default(),
            class_index,
            probabilities: self
                .info
                .labels
                .iter()
                .zip(probs)
                .map(|(label, p)| ClassProbability {
                    label: label.clone(),
                    probability: *p,
                })
                .collect(),
        }
    }
}

/// A float output tensor as f64 values, row-major.
pub fn as_f64(value: &TValue) -> Result<Vec<f64>, InferenceError> {
    let tensor: &Tensor = value;
    // The usual float outputs are read as they are, without a cast tensor.
    if let Some(plain) = tensor.as_plain_ram() {
        match tensor.datum_type() {
            DatumType::F64 => {
                if let Ok(values) = plain.as_slice::<f64>() {
                    return Ok(values.to_vec());
                }
            }
            DatumType::F32 => {
                if let Ok(values) = plain.as_slice::<f32>() {
                    return Ok(values.iter().map(|&v| f64::from(v)).collect());
                }
            }
            _ => {}
        }
    }
    let cast = tensor
        .cast_to::<f64>()
        .map_err(|e| InferenceError::Runtime(e.into()))?;
    let view = cast
        .to_plain_array_view::<f64>()
        .map_err(|e| InferenceError::Runtime(e.into()))?;
    Ok(view.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iris() -> LoadedModel {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/iris");
        LoadedModel::load("iris", &dir).unwrap()
    }

    #[test]
    fn a_tie_goes_to_the_first_class_as_in_scikit_learn() {
        let model = iris();
        let label = |probs: &[f64]| match model.classify(probs) {
            Prediction::Classification {
                label, class_index, ..
            } => (label, class_index),
            other => panic!("{other:?}"),
        };
        assert_eq!(label(&[0.4, 0.4, 0.2]), ("setosa".into(), 0));
        assert_eq!(label(&[0.2, 0.4, 0.4]), ("versicolor".into(), 1));
        assert_eq!(label(&[0.1, 0.2, 0.7]), ("virginica".into(), 2));
    }
}
