//! The tree operators against the cases of `tests/trees/` (written by
//! `tests/trees/make.py`): scikit-learn's own predictions for models that
//! skl2onnx exported, and onnxruntime's outputs for small graphs that use
//! every mode, aggregate function and post transform.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// How far an output may be from the expected one: relative, and absolute
/// below 1 (probabilities near 0 have no useful relative error).
const TOLERANCE: f64 = 1e-5;

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/trees");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "the cases of {} are missing",
        dir.display()
    );
    cases
}

/// Runs the case's model on its rows; the outputs by name.
fn run(case: &Path, rows: &[Vec<f64>]) -> TractResult<Vec<(String, Tensor)>> {
    let mut model = super::onnx().model_for_path(case.with_extension("onnx"))?;
    let names: Vec<String> = model
        .output_outlets()?
        .iter()
        .map(|o| model.outlet_label(*o).unwrap().to_owned())
        .collect();
    let double = model.input_fact(0)?.datum_type.concretize() == Some(DatumType::F64);
    let features = rows[0].len();
    let flat: Vec<f64> = rows.concat();
    let input = tract_ndarray::Array2::from_shape_vec((rows.len(), features), flat)?.into_tensor();
    let input = if double {
        input
    } else {
        input.cast_to::<f32>()?.into_owned()
    };
    model.set_input_fact(
        0,
        InferenceFact::dt_shape(input.datum_type(), input.shape()),
    )?;
    let plan = model.into_optimized()?.into_runnable()?;
    let outputs = plan.run(tvec!(input.into_tvalue()))?;
    Ok(names
        .into_iter()
        .zip(outputs)
        .map(|(n, t)| (n, t.into_tensor()))
        .collect())
}

fn rows(case: &Value) -> Vec<Vec<f64>> {
    case["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

fn flatten(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other.clone()),
    }
}

#[test]
fn every_tree_case_gives_the_expected_outputs() {
    let mut failures = Vec::new();
    for case in cases() {
        let name = case.file_stem().unwrap().to_string_lossy().into_owned();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&case).unwrap()).unwrap();
        let outputs = match run(&case, &rows(&expected)) {
            Ok(outputs) => outputs,
            Err(e) => {
                failures.push(format!("{name}: {e:?}"));
                continue;
            }
        };
        for (output, tensor) in outputs {
            let mut want = Vec::new();
            flatten(&expected["outputs"][&output], &mut want);
            let got: Vec<Value> = match tensor.datum_type() {
                DatumType::String => tensor
                    .to_plain_array_view::<String>()
                    .unwrap()
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
                DatumType::I64 => tensor
                    .to_plain_array_view::<i64>()
                    .unwrap()
                    .iter()
                    .map(|v| Value::from(*v))
                    .collect(),
                _ => tensor
                    .cast_to::<f64>()
                    .unwrap()
                    .to_plain_array_view::<f64>()
                    .unwrap()
                    .iter()
                    .map(|v| Value::from(*v))
                    .collect(),
            };
            if got.len() != want.len() {
                failures.push(format!(
                    "{name}.{output}: {} values, want {}",
                    got.len(),
                    want.len()
                ));
                continue;
            }
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                let same = match (g.as_f64(), w.as_f64()) {
                    (Some(g), Some(w)) if g.is_finite() || w.is_finite() => {
                        (g - w).abs() <= TOLERANCE * w.abs().max(1.0)
                    }
                    _ => g == w,
                };
                if !same {
                    failures.push(format!("{name}.{output}[{i}]: {g}, want {w}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn probit_on_a_binary_classifier_is_refused_with_the_reason() {
    // The binary classifier of the cases, its post transform made PROBIT:
    // a binary classifier has one score, which PROBIT cannot make into two
    // probabilities.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/trees/small_classifier_binary_logistic.onnx");
    let mut proto = super::onnx().proto_model_for_path(&path).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let node = graph
        .node
        .iter_mut()
        .find(|n| n.op_type == "TreeEnsembleClassifier")
        .unwrap();
    let transform = node
        .attribute
        .iter_mut()
        .find(|a| a.name == "post_transform")
        .unwrap();
    transform.s = b"PROBIT".to_vec();
    let error = super::onnx()
        .model_for_proto_model(&proto)
        .and_then(|model| model.into_optimized())
        .unwrap_err();
    let message = format!("{error:?}");
    assert!(
        message.contains("PROBIT has no defined meaning for a binary classifier's single score"),
        "{message}"
    );
}
