//! Every shipped model reproduces scikit-learn's outputs from its
//! `reference.json` within 1e-4, through the same loading path the server uses.

use std::path::Path;

use itemserve::domain::Prediction;
use itemserve::server::inference::ModelRegistry;
use itemserve::server::telemetry::Metrics;
use serde_json::Value;

const TOLERANCE: f64 = 1e-4;

fn reference(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name)
        .join("reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rows(reference: &Value) -> Vec<Vec<f64>> {
    reference["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn registry() -> ModelRegistry {
    ModelRegistry::open(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
        Metrics::new(),
    )
}

/// The predictions for every reference row: all in one batch, and each row
/// alone (a single row runs through a plan of its own).
fn batch_and_singles(name: &str, rows: &[Vec<f64>]) -> [Vec<Prediction>; 2] {
    let model = registry().get(name).unwrap();
    let batch = model.predict(rows).unwrap();
    let singles = rows
        .iter()
        .map(|row| model.predict(std::slice::from_ref(row)).unwrap().remove(0))
        .collect();
    [batch, singles]
}

fn check_regressor(name: &str, tolerance: f64) {
    let reference = reference(name);
    for predictions in batch_and_singles(name, &rows(&reference)) {
        check_regression(name, &reference, &predictions, tolerance);
    }
}

fn check_regression(name: &str, reference: &Value, predictions: &[Prediction], tolerance: f64) {
    let expected = reference["outputs"]["prediction"].as_array().unwrap();
    assert_eq!(predictions.len(), expected.len());
    for (got, want) in predictions.iter().zip(expected) {
        let Prediction::Regression { value } = got else {
            panic!("{name} is a regressor")
        };
        let want = want.as_f64().unwrap();
        assert!(
            (value - want).abs() < tolerance,
            "{name}: {value} vs scikit-learn {want}"
        );
    }
}

#[test]
fn linear_matches_scikit_learn() {
    // A float64 graph end to end: scikit-learn's own answers, to rounding.
    check_regressor("linear", 1e-9);
}

#[test]
fn diabetes_matches_scikit_learn() {
    check_regressor("diabetes", TOLERANCE);
}

#[test]
fn diabetes_boosting_matches_scikit_learn() {
    // A tree ensemble (TreeEnsembleRegressor, run by the server's own op).
    check_regressor("diabetes_boosting", TOLERANCE);
}

#[test]
fn iris_matches_scikit_learn() {
    let reference = reference("iris");
    for predictions in batch_and_singles("iris", &rows(&reference)) {
        check_classification(&reference, &predictions);
    }
}

fn check_classification(reference: &Value, predictions: &[Prediction]) {
    let labels = reference["outputs"]["label"].as_array().unwrap();
    let probabilities = reference["outputs"]["probabilities"].as_array().unwrap();
    for (i, got) in predictions.iter().enumerate() {
        let Prediction::Classification {
            class_index,
            probabilities: got_probs,
            ..
        } = got
        else {
            panic!("iris is a classifier")
        };
        assert_eq!(*class_index as u64, labels[i].as_u64().unwrap(), "row {i}");
        for (g, w) in got_probs.iter().zip(probabilities[i].as_array().unwrap()) {
            let w = w.as_f64().unwrap();
            assert!(
                (g.probability - w).abs() < TOLERANCE,
                "row {i}: {} vs {w}",
                g.probability
            );
        }
    }
}

/// What the original FastAPI app answers for its own example request.
const ORIGINAL_ANSWER: f64 = 6.876654844185817;

#[test]
fn the_original_example_predicts_exactly_what_the_original_app_does() {
    let model = registry().get("linear").unwrap();
    let prediction = model.predict(&[vec![1.5, 2.3, 0.8]]).unwrap();
    let got = prediction[0].headline();
    assert!(
        (got - ORIGINAL_ANSWER).abs() < 1e-9,
        "{got} vs the original app's {ORIGINAL_ANSWER}"
    );
}

#[test]
fn batches_of_different_sizes_give_the_same_rows_as_single_runs() {
    // Run states are reused between calls; a batch size must not leak into
    // the next call.
    let model = registry().get("linear").unwrap();
    let rows: Vec<Vec<f64>> = (0..7).map(|i| vec![i as f64, 1.0, 2.0]).collect();
    let singles: Vec<f64> = rows
        .iter()
        .map(|r| model.predict(std::slice::from_ref(r)).unwrap()[0].headline())
        .collect();
    for size in [3, 1, 7, 2] {
        let batch = model.predict(&rows[..size]).unwrap();
        for (i, p) in batch.iter().enumerate() {
            assert_eq!(p.headline(), singles[i], "batch of {size}, row {i}");
        }
    }
}
