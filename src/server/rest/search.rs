//! `/search/` and `/filter/`: listings that echo their parameters.

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::ListParams;
use crate::domain::{Item, ItemQuery, DEFAULT_LIMIT};
use crate::server::state::AppState;

/// The query of a listing request, one page of its items and their total.
async fn page(
    state: &AppState,
    raw: Option<&str>,
) -> Result<(ItemQuery, Vec<Item>, u64), ApiError> {
    let query = ListParams::parse(raw, DEFAULT_LIMIT)?;
    let (items, total) = tokio::try_join!(state.store.list(&query), state.store.count(&query))?;
    Ok((query, items, total))
}

/// `GET /search/?q=&skip=&limit=`: matching items with the total count.
pub async fn search(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (query, items, total) = page(&state, raw.as_deref()).await?;
    Ok(Json(json!({
        "q": query.q,
        "skip": query.skip,
        "limit": query.limit,
        "total": total,
        "items": items,
    })))
}

/// `GET /filter/?category=&price_lt=`: items in a category and/or under a price.
pub async fn filter(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let (query, items, total) = page(&state, raw.as_deref()).await?;
    Ok(Json(json!({
        "category": query.category,
        "price_less_than": query.price_lt,
        "total": total,
        "items": items,
    })))
}
