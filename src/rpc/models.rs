//! Model listing and inference for the prediction page.

use leptos::prelude::*;

use crate::domain::{DriftReport, ModelInfo, Prediction};
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

/// Predictions for `rows` (values in the model's feature order), which
/// the drift check counts as live inputs.
#[server(prefix = "/rpc", endpoint = "models/predict", input = Rpc, output = Rpc)]
pub async fn predict_rows(model: String, rows: Vec<Vec<f64>>) -> Result<Vec<Prediction>, RpcError> {
    run_rows(model, rows, true).await
}

/// Predictions for made-up `rows` (the what-if chart's sweeps), which the
/// drift check does not count.
#[server(prefix = "/rpc", endpoint = "models/what-if", input = Rpc, output = Rpc)]
pub async fn what_if_rows(model: String, rows: Vec<Vec<f64>>) -> Result<Vec<Prediction>, RpcError> {
    run_rows(model, rows, false).await
}

#[cfg(feature = "ssr")]
async fn run_rows(
    model: String,
    rows: Vec<Vec<f64>>,
    live: bool,
) -> Result<Vec<Prediction>, RpcError> {
    use super::mapping;
    use crate::server::inference;
    super::authorize(crate::domain::Permission::Read).await?;
    let model = registry()?.get(&model).map_err(mapping::model_lookup)?;
    model.info.check_rows(&rows).map_err(RpcError::Validation)?;
    let described = model.clone();
    let answered = if live {
        inference::predict(model, rows).await
    } else {
        inference::what_if(model, rows).await
    };
    answered.map_err(|error| mapping::inference(error, &described.info))
}

/// How the serving version's live inputs compare with its training data.
#[server(prefix = "/rpc", endpoint = "models/drift", input = Rpc, output = Rpc)]
pub async fn model_drift(model: String) -> Result<DriftReport, RpcError> {
    super::authorize(crate::domain::Permission::Read).await?;
    registry()?
        .drift(&model)
        .map_err(super::mapping::model_lookup)
}
