//! Model metadata and predictions, shared by the prediction page and the
//! server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// What a model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Task {
    Regression,
    Classification,
}

/// One input feature, in the model's column order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FeatureSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub unit: String,
    /// Typical lowest value (from the training data); not a hard limit.
    pub min: f64,
    /// Typical highest value; not a hard limit.
    pub max: f64,
    pub default: f64,
}

/// One named output of a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OutputSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Where a model came from and how good it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Provenance {
    #[serde(default)]
    pub dataset: String,
    #[serde(default)]
    pub recipe: String,
    #[serde(default)]
    pub metric: String,
}

/// Whether a model can serve predictions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ModelStatus {
    Ready,
    /// Failed to load; `serving_previous` when an earlier good version of
    /// the same model still answers requests.
    Error {
        message: String,
        serving_previous: bool,
    },
    /// Taken out of service through the model repository API; loading it
    /// again serves it.
    Unloaded,
}

impl ModelStatus {
    pub fn is_ready(&self) -> bool {
        matches!(self, ModelStatus::Ready)
    }
}

/// Everything a client needs to know to call a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ModelInfo {
    pub name: String,
    pub version: String,
    pub task: Task,
    pub description: String,
    pub status: ModelStatus,
    pub inputs: Vec<FeatureSpec>,
    pub outputs: Vec<OutputSpec>,
    /// Class names, by class index (classifiers only).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub labels: Vec<String>,
    pub provenance: Provenance,
}

impl ModelInfo {
    /// Orders named feature values by the model's columns, reporting every
    /// missing, unknown or non-finite feature.
    pub fn feature_row(&self, values: &BTreeMap<String, f64>) -> Result<Vec<f64>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut row = Vec::with_capacity(self.inputs.len());
        for spec in &self.inputs {
            match values.get(&spec.name) {
                None => errors.push(FieldError::new(&spec.name, "missing", "Field required")),
                Some(v) if !v.is_finite() => errors.push(FieldError::new(
                    &spec.name,
                    "finite_number",
                    "Input should be a finite number",
                )),
                Some(v) => row.push(*v),
            }
        }
        for name in values.keys() {
            if !self.inputs.iter().any(|s| &s.name == name) {
                errors.push(FieldError::new(
                    name,
                    "extra_forbidden",
                    format!(
                        "Unknown feature; expected one of {}",
                        self.feature_names().join(", ")
                    ),
                ));
            }
        }
        if errors.is_empty() {
            Ok(row)
        } else {
            Err(errors)
        }
    }

    /// Parses the text of one input per feature (as typed in a form), in
    /// column order, reporting every empty or non-numeric field.
    pub fn parse_form(&self, texts: &[String]) -> Result<Vec<f64>, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut row = Vec::with_capacity(self.inputs.len());
        for (spec, text) in self.inputs.iter().zip(texts) {
            match super::validation::parse_number(&spec.name, text) {
                Ok(Some(v)) if v.is_finite() => row.push(v),
                Ok(Some(_)) => errors.push(FieldError::new(
                    &spec.name,
                    "finite_number",
                    "Input should be a finite number",
                )),
                Ok(None) => errors.push(FieldError::new(&spec.name, "missing", "Enter a number")),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() && row.len() == self.inputs.len() {
            Ok(row)
        } else {
            Err(errors)
        }
    }

    /// Checks rows of values for this model: 1 to [`MAX_BATCH_ROWS`] rows,
    /// each with one finite value per feature.
    pub fn check_rows(&self, rows: &[Vec<f64>]) -> Result<(), Vec<FieldError>> {
        if rows.is_empty() || rows.len() > MAX_BATCH_ROWS {
            return Err(vec![FieldError::new(
                "rows",
                "too_long",
                format!("Send 1 to {MAX_BATCH_ROWS} rows, not {}", rows.len()),
            )]);
        }
        for (i, row) in rows.iter().enumerate() {
            if row.len() != self.inputs.len() {
                return Err(vec![FieldError::new(
                    "rows",
                    "length",
                    format!(
                        "Row {i} has {} values; the model takes {}",
                        row.len(),
                        self.inputs.len()
                    ),
                )]);
            }
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(vec![FieldError::new(
                    &self.inputs[j].name,
                    "finite_number",
                    "Input should be a finite number",
                )]);
            }
        }
        Ok(())
    }

    pub fn feature_names(&self) -> Vec<&str> {
        self.inputs.iter().map(|s| s.name.as_str()).collect()
    }

    /// Why a row got no prediction when the model's result for it is not a
    /// finite number (an overflow, typically from huge inputs): names each
    /// input with its value and the range the model knows.
    pub fn non_finite_message(&self, row: &[f64]) -> String {
        let inputs: Vec<String> = self
            .inputs
            .iter()
            .zip(row)
            .map(|(spec, v)| format!("{}={v:e}", spec.name))
            .collect();
        let ranges: Vec<String> = self
            .inputs
            .iter()
            .map(|s| format!("{} {} to {}", s.name, s.min, s.max))
            .collect();
        format!(
            "The model's result for {} is not a finite number (it overflows), so there is \
             no prediction. Use values nearer the model's typical range ({}).",
            inputs.join(", "),
            ranges.join(", ")
        )
    }
}

/// One row's prediction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Prediction {
    Regression {
        value: f64,
    },
    Classification {
        label: String,
        class_index: usize,
        /// Probability per class name, in class order.
        probabilities: Vec<ClassProbability>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClassProbability {
    pub label: String,
    pub probability: f64,
}

impl Prediction {
    /// The number a chart plots: the value, or the winning class's probability.
    pub fn headline(&self) -> f64 {
        match self {
            Prediction::Regression { value } => *value,
            Prediction::Classification {
                class_index,
                probabilities,
                ..
            } => probabilities
                .get(*class_index)
                .map_or(0.0, |p| p.probability),
        }
    }
}

/// A row whose prediction came out as infinity or NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NonFiniteRow {
    /// Position of the row in the request (0 for a single prediction).
    pub index: usize,
    /// The row's input values, in the model's feature order.
    pub inputs: Vec<f64>,
}

/// Most non-finite rows an error reports.
pub const MAX_NON_FINITE_ROWS: usize = 50;

/// Largest batch one request may send.
pub const MAX_BATCH_ROWS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ModelInfo {
        let spec = |name: &str| FeatureSpec {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            min: 0.0,
            max: 1.0,
            default: 0.5,
        };
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            task: Task::Regression,
            description: String::new(),
            status: ModelStatus::Ready,
            inputs: vec![spec("a"), spec("b")],
            outputs: vec![],
            labels: vec![],
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn the_form_parses_numbers_and_names_bad_fields() {
        let texts = vec!["1.5".to_string(), "x".to_string()];
        let errors = info().parse_form(&texts).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].kind.as_str()),
            ("b", "float_parsing")
        );
        let texts = vec![" 2 ".to_string(), "-0.5".to_string()];
        assert_eq!(info().parse_form(&texts).unwrap(), vec![2.0, -0.5]);
        let errors = info()
            .parse_form(&["".to_string(), "inf".to_string()])
            .unwrap_err();
        let kinds: Vec<_> = errors.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["missing", "finite_number"]);
    }

    #[test]
    fn rows_must_fit_the_model() {
        assert!(info().check_rows(&[vec![1.0, 2.0]]).is_ok());
        assert!(info().check_rows(&[]).is_err());
        assert!(info().check_rows(&[vec![1.0]]).is_err());
        assert!(info().check_rows(&[vec![1.0, f64::NAN]]).is_err());
    }

    #[test]
    fn features_are_put_in_column_order() {
        let values = BTreeMap::from([("b".to_string(), 2.0), ("a".to_string(), 1.0)]);
        assert_eq!(info().feature_row(&values).unwrap(), vec![1.0, 2.0]);
    }

    #[test]
    fn missing_unknown_and_non_finite_features_are_all_reported() {
        let values = BTreeMap::from([("b".to_string(), f64::NAN), ("zzz".to_string(), 1.0)]);
        let errors = info().feature_row(&values).unwrap_err();
        let kinds: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("a", "missing"),
                ("b", "finite_number"),
                ("zzz", "extra_forbidden")
            ]
        );
    }
}
