//! Model listing and inference for the prediction page.

use leptos::prelude::*;

use crate::domain::{ModelInfo, Prediction};
use crate::rpc::wire::Rpc;
use crate::rpc::RpcError;

#[cfg(feature = "ssr")]
fn registry() -> Result<std::sync::Arc<crate::server::inference::ModelRegistry>, RpcError> {
    super::app_state().map(|state| state.models.clone())
}

/// Every model with its status and input schema.
#[server(prefix = "/rpc", endpoint = "models/list", input = Rpc, output = Rpc)]
pub async fn list_models() -> Result<Vec<ModelInfo>, RpcError> {
    super::authorize(crate::domain::Permission::Read).await?;
    Ok(registry()?.list())
}

/// Predictions for `rows` (values in the model's feature order); one call
/// serves both a single prediction and a what-if sweep.
#[server(prefix = "/rpc", endpoint = "models/predict", input = Rpc, output = Rpc)]
pub async fn predict_rows(model: String, rows: Vec<Vec<f64>>) -> Result<Vec<Prediction>, RpcError> {
    super::authorize(crate::domain::Permission::Read).await?;
    use super::mapping;
    let model = registry()?.get(&model).map_err(mapping::model_lookup)?;
    model.info.check_rows(&rows).map_err(RpcError::Validation)?;
    let described = model.clone();
    crate::server::inference::predict(model, rows)
        .await
        .map_err(|error| mapping::inference(error, &described.info))
}
