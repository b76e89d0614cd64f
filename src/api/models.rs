//! Model listing and inference for the prediction page.

use leptos::prelude::*;

use crate::domain::wire::Rpc;
use crate::domain::{AppError, ModelInfo, Prediction};

#[cfg(feature = "ssr")]
fn registry() -> Result<std::sync::Arc<crate::server::inference::ModelRegistry>, AppError> {
    super::app_state().map(|state| state.models.clone())
}

/// Every model with its status and input schema.
#[server(prefix = "/rpc", endpoint = "models/list", input = Rpc, output = Rpc)]
pub async fn list_models() -> Result<Vec<ModelInfo>, AppError> {
    super::authorize(crate::domain::Permission::Read).await?;
    Ok(registry()?.list())
}

/// Predictions for `rows` (values in the model's feature order); one call
/// serves both a single prediction and a what-if sweep.
#[server(prefix = "/rpc", endpoint = "models/predict", input = Rpc, output = Rpc)]
pub async fn predict_rows(model: String, rows: Vec<Vec<f64>>) -> Result<Vec<Prediction>, AppError> {
    super::authorize(crate::domain::Permission::Read).await?;
    use crate::server::inference::{self, InferenceError};
    let model = registry()?.get(&model).map_err(|e| match e {
        InferenceError::NotFound(_) => AppError::NotFound(e.to_string()),
        other => AppError::Unavailable(other.to_string()),
    })?;
    model.info.check_rows(&rows).map_err(AppError::Validation)?;
    let described = model.clone();
    inference::predict(model, rows).await.map_err(|e| match e {
        InferenceError::NonFinite(rows) => {
            AppError::Rejected(described.info.non_finite_message(&rows[0].inputs))
        }
        other => {
            tracing::error!(error = %other, "inference failed in a server function");
            AppError::Internal("the model could not run".into())
        }
    })
}
