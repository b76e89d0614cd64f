//! `/search/` and `/filter/`: listings that echo their parameters.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Value};

use super::cache::cached_page;
use super::error::ApiError;
use super::extract::ListParams;
use super::extract::{Can, Read};
use crate::domain::{ItemQuery, Listing, Total, DEFAULT_LIMIT};
use crate::server::cache::JsonPage;
use crate::server::state::AppState;

/// Answers a listing request with `shape(query, page, total)` plus the
/// page's `next` and `prev` cursors (also in `Link`), reusing the answer
/// until the next write.
async fn page(
    state: &AppState,
    route: &str,
    raw: Option<&str>,
    shape: impl FnOnce(&ItemQuery, &Listing, Total) -> Value,
) -> Result<Response, ApiError> {
    let query = ListParams::parse(raw, DEFAULT_LIMIT)?;
    let key = format!("{route}?{}", query.to_query_string(DEFAULT_LIMIT));
    cached_page(state, key, async {
        let (listing, total) =
            tokio::try_join!(state.store.list(&query), state.store.count(&query))?;
        let mut value = shape(&query, &listing, total);
        value["next"] = json!(listing.next);
        value["prev"] = json!(listing.prev);
        JsonPage::listing(&value, &format!("/{route}/"), &query, &listing)
    })
    .await
}

/// `GET /search/?q=&skip=&limit=`: matching items with the total count.
#[utoipa::path(
    get,
    path = "/search/",
    tag = "items",
    summary = "Search items",
    description = "Items whose name or description contains `q` (Unicode case folding), with the total number of matches. Matches are counted up to a bound (`--count-bound`, 10 000 by default): past it `total` is the bound and `total_exact` is false.",
    params(
        ("q" = Option<String>, Query, description = "Text to find; blank matches every item"),
        ("skip" = Option<u64>, Query, description = "Items to skip (paging; a deep page reads every item before it, so page with `cursor` instead)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: a page's `next` or `prev`, with the same filters and sort; not with `skip`"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
    ),
    responses(
        (status = 200, description = "The page of matches", body = super::openapi::ItemPage,
            headers(("Link" = String, description = "The next and previous pages (`rel=\"next\"`, `rel=\"prev\"`), when there are any"))),
        (status = 422, description = "A query parameter is invalid", body = super::error::ValidationBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    _: Can<Read>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    page(&state, "search", raw.as_deref(), |query, listing, total| {
        json!({
            "q": query.q,
            "skip": query.skip,
            "limit": query.limit,
            "total": total.n,
            "total_exact": total.exact,
            "items": listing.items,
        })
    })
    .await
}

/// `GET /filter/?category=&price_lt=`: items in a category and/or under a price.
#[utoipa::path(
    get,
    path = "/filter/",
    tag = "items",
    summary = "Filter items",
    description = "Items in a category (ignoring case) and/or cheaper than `price_lt`, with the total. A category's total is always exact; with `price_lt`, matches are counted up to a bound (`--count-bound`, 10 000 by default): past it `total` is the bound and `total_exact` is false.",
    params(
        ("category" = Option<String>, Query, description = "Exact category, ignoring case"),
        ("price_lt" = Option<f64>, Query, description = "Only items cheaper than this"),
        ("skip" = Option<u64>, Query, description = "Items to skip (paging; a deep page reads every item before it, so page with `cursor` instead)"),
        ("cursor" = Option<String>, Query, description = "Where the page starts: a page's `next` or `prev`, with the same filters and sort; not with `skip`"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Page size (default 100)"),
    ),
    responses(
        (status = 200, description = "The filtered page", body = super::openapi::FilterPage,
            headers(("Link" = String, description = "The next and previous pages (`rel=\"next\"`, `rel=\"prev\"`), when there are any"))),
        (status = 422, description = "A query parameter is invalid", body = super::error::ValidationBody),
    )
)]
pub async fn filter(
    State(state): State<AppState>,
    _: Can<Read>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    page(&state, "filter", raw.as_deref(), |query, listing, total| {
        json!({
            "category": query.category,
            "price_less_than": query.price_lt,
            "total": total.n,
            "total_exact": total.exact,
            "items": listing.items,
        })
    })
    .await
}
