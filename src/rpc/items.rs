//! Item CRUD for the UI.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::domain::Permission;
use crate::domain::{BulkChange, Item, ItemDraft, ItemPage, ItemQuery, RevisionPage, TrashPage};
use crate::rpc::wire::Rpc;
use crate::rpc::RpcError;

#[cfg(feature = "ssr")]
fn store() -> Result<std::sync::Arc<dyn crate::server::store::ItemStore>, RpcError> {
    super::app_state().map(|state| state.store.clone())
}

/// Checks that the caller may write items; who they are, for the
/// revisions of their changes (through the UI, in this request).
#[cfg(feature = "ssr")]
async fn origin() -> Result<crate::server::store::Origin, RpcError> {
    let caller = super::authorize(Permission::WriteItems).await?;
    let request_id = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| crate::server::http::request_id(&parts.headers));
    Ok(crate::server::auth::Principal::origin(
        caller.as_ref(),
        crate::domain::Door::Ui,
        request_id,
    ))
}

/// Applies one change to the items `ids` names or, with `matching`, to
/// every item its filters match (at most [`crate::domain::MAX_BULK_ITEMS`]):
/// to all of them, or to none. Answers the ids changed.
#[server(prefix = "/rpc", endpoint = "items/bulk", input = Rpc, output = Rpc)]
pub async fn bulk_items(
    ids: Vec<i64>,
    matching: Option<ItemQuery>,
    change: BulkChange,
) -> Result<Vec<i64>, RpcError> {
    use crate::domain::{bulk_ids, BulkFilter, BulkTarget};
    let origin = crate::server::store::Origin {
        door: crate::domain::Door::Bulk,
        ..origin().await?
    };
    let target = match matching {
        Some(_) if change == BulkChange::Restore => {
            return Err(RpcError::BadRequest("a restore names its items".into()))
        }
        Some(query) => {
            let query = query.checked().map_err(RpcError::Validation)?;
            BulkTarget::Matching(BulkFilter::of(query))
        }
        None => BulkTarget::Ids(bulk_ids(ids).map_err(|e| RpcError::Validation(vec![e]))?),
    };
    let action = change.action().map_err(RpcError::Validation)?;
    Ok(store()?.bulk(&target, &action, &origin).await?)
}

/// Revisions on a page of an item's history.
#[cfg(feature = "ssr")]
const HISTORY_PAGE: i64 = 20;

/// A page of an item's history, newest first, from below version `before`.
#[server(prefix = "/rpc", endpoint = "items/history", input = Rpc, output = Rpc)]
pub async fn list_history(id: i64, before: Option<i64>) -> Result<RevisionPage, RpcError> {
    super::authorize(Permission::Read).await?;
    let store = store()?;
    let page = crate::server::store::history_page(store.as_ref(), id, before, HISTORY_PAGE);
    let (revisions, before) = page
        .await?
        .ok_or_else(|| RpcError::NotFound("No item has this id.".into()))?;
    Ok(RevisionPage { revisions, before })
}

/// Writes the fields of revision `version` back as an update of item `id`,
/// if nobody changed it since `current`.
#[server(prefix = "/rpc", endpoint = "items/revert", input = Rpc, output = Rpc)]
pub async fn revert_item(id: i64, version: i64, current: i64) -> Result<Item, RpcError> {
    let origin = crate::server::store::Origin {
        reverts: Some(version),
        ..origin().await?
    };
    let store = store()?;
    let revision = store.revision_at(id, version).await?.ok_or_else(|| {
        RpcError::NotFound("This revision is no longer kept (history retention).".into())
    })?;
    let item = ItemDraft::of(&revision.item)
        .validate()
        .map_err(RpcError::Validation)?;
    Ok(store.update(id, item, Some(current), &origin).await?)
}

/// Deleted items on a page of the trash.
#[cfg(feature = "ssr")]
const TRASH_PAGE: i64 = 50;

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
    let origin = origin().await?;
    let item = draft.validate().map_err(RpcError::Validation)?;
    Ok(store()?.create(None, item, &origin).await?)
}

/// Replaces an item's fields, if nobody changed it since `version`.
#[server(prefix = "/rpc", endpoint = "items/update", input = Rpc, output = Rpc)]
pub async fn update_item(id: i64, version: i64, draft: ItemDraft) -> Result<Item, RpcError> {
    let origin = origin().await?;
    let item = draft.validate().map_err(RpcError::Validation)?;
    Ok(store()?.update(id, item, Some(version), &origin).await?)
}

/// Deletes an item, if nobody changed it since `version` (it moves to the
/// trash).
#[server(prefix = "/rpc", endpoint = "items/delete", input = Rpc, output = Rpc)]
pub async fn delete_item(id: i64, version: i64) -> Result<(), RpcError> {
    let origin = origin().await?;
    Ok(store()?.delete(id, Some(version), &origin).await?)
}

/// A page of the trash, most recently deleted first, from `cursor` (the
/// `next` of the page before).
#[server(prefix = "/rpc", endpoint = "trash/list", input = Rpc, output = Rpc)]
pub async fn list_trash(cursor: Option<String>) -> Result<TrashPage, RpcError> {
    use crate::server::store::TrashPosition;
    super::authorize(Permission::Read).await?;
    let after = cursor.as_deref().map(TrashPosition::decode).transpose()?;
    let mut items = store()?.trash(None, after.as_ref(), TRASH_PAGE + 1).await?;
    let next = crate::server::store::cut_page(&mut items, TRASH_PAGE)
        .map(|last| TrashPosition::after(last).encode());
    Ok(TrashPage { items, next })
}

/// Brings a deleted item back from the trash.
#[server(prefix = "/rpc", endpoint = "trash/restore", input = Rpc, output = Rpc)]
pub async fn restore_item(id: i64) -> Result<Item, RpcError> {
    let origin = origin().await?;
    Ok(store()?.restore(id, &origin).await?)
}

/// Removes a deleted item from the trash for good (admins).
#[server(prefix = "/rpc", endpoint = "trash/purge", input = Rpc, output = Rpc)]
pub async fn purge_item(id: i64) -> Result<(), RpcError> {
    super::authorize(Permission::PurgeItems).await?;
    Ok(store()?.purge(id).await?)
}
