//! Item CRUD for the UI.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::domain::Permission;
use crate::domain::{Item, ItemDraft, ItemPage, ItemQuery};
use crate::rpc::wire::Rpc;
use crate::rpc::RpcError;

#[cfg(feature = "ssr")]
fn store() -> Result<std::sync::Arc<dyn crate::server::store::ItemStore>, RpcError> {
    super::app_state().map(|state| state.store.clone())
}

/// A page of items with how many match the filters.
#[server(prefix = "/rpc", endpoint = "items/list", input = Rpc, output = Rpc)]
pub async fn list_items(query: ItemQuery) -> Result<ItemPage, RpcError> {
    super::authorize(Permission::Read).await?;
    let query = query.checked().map_err(RpcError::Validation)?;
    let store = store()?;
    let (listing, total) = tokio::try_join!(store.list(&query), store.count(&query))?;
    Ok(ItemPage::new(listing, total))
}

/// Categories in use, for the filter menu.
#[server(prefix = "/rpc", endpoint = "items/categories", input = Rpc, output = Rpc)]
pub async fn list_categories() -> Result<Vec<String>, RpcError> {
    super::authorize(Permission::Read).await?;
    Ok(store()?.categories().await?)
}

/// Creates an item with the next free id.
#[server(prefix = "/rpc", endpoint = "items/create", input = Rpc, output = Rpc)]
pub async fn create_item(draft: ItemDraft) -> Result<Item, RpcError> {
    super::authorize(Permission::WriteItems).await?;
    let item = draft.validate().map_err(RpcError::Validation)?;
    Ok(store()?.create(None, item).await?)
}

/// Replaces an item's fields, if nobody changed it since `version`.
#[server(prefix = "/rpc", endpoint = "items/update", input = Rpc, output = Rpc)]
pub async fn update_item(id: i64, version: i64, draft: ItemDraft) -> Result<Item, RpcError> {
    super::authorize(Permission::WriteItems).await?;
    let item = draft.validate().map_err(RpcError::Validation)?;
    Ok(store()?.update(id, item, Some(version)).await?)
}

/// Deletes an item, if nobody changed it since `version`.
#[server(prefix = "/rpc", endpoint = "items/delete", input = Rpc, output = Rpc)]
pub async fn delete_item(id: i64, version: i64) -> Result<(), RpcError> {
    super::authorize(Permission::WriteItems).await?;
    Ok(store()?.delete(id, Some(version)).await?)
}
