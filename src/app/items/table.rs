//! The item table: sortable headers, rows, empty and loading states.

use leptos::prelude::*;

use super::live::LiveTable;
use super::row::ItemRow;
use super::UI_PAGE_SIZE;
use crate::domain::{ItemPage, ItemQuery, SortField};

/// The rows of one page.
#[component]
pub fn ItemTable(
    page: ItemPage,
    query: ItemQuery,
    /// Whether the rows offer Edit and Delete.
    writable: bool,
    /// The page's live state, handed down rather than read from context
    /// (see [`ItemRow`]).
    live: LiveTable,
) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <EmptyState query=query total=page.total.n/> }.into_any();
    }
    // Editors tick rows to act on many at once: the selection bar, a chunk
    // of its own, takes every change of the table from there (nothing
    // happens when its code cannot be fetched; see `bulk.rs`).
    let selection = writable.then(|| (query.clone(), live.refresh()));
    let header = move |field: SortField, label: &'static str, class: &'static str| {
        view! { <SortHeader field label class query=query.clone()/> }
    };
    view! {
        <table class="items" on:change=move |ev| {
            if let Some((query, refresh)) = selection.clone() {
                leptos::task::spawn_local(async move {
                    let _ = super::bulk::table_changed(ev, query, refresh).await;
                });
            }
        }>
            <thead>
                <tr>
                    {writable.then(|| view! {
                        <th scope="col" class="col-select">
                            <input type="checkbox" class="select-all" aria-label="Select every item on this page"/>
                        </th>
                    })}
                    {header(SortField::Id, "ID", "col-id")}
                    {header(SortField::Name, "Name", "col-name")}
                    {header(SortField::Description, "Description", "col-description")}
                    {header(SortField::Category, "Category", "col-category")}
                    {header(SortField::Price, "Price", "col-price num")}
                    {header(SortField::UpdatedAt, "Updated", "col-updated")}
                    {writable.then(|| view! {
                        <th scope="col" class="col-actions"><span class="visually-hidden">"Actions"</span></th>
                    })}
                </tr>
            </thead>
            <tbody>
                <For each=move || page.items.clone() key=|item| (item.id, item.version) let(item)>
                    <ItemRow item writable live/>
                </For>
            </tbody>
        </table>
    }
    .into_any()
}

/// A column header that sorts by its field; a second click reverses.
#[component]
fn SortHeader(
    field: SortField,
    label: &'static str,
    class: &'static str,
    query: ItemQuery,
) -> impl IntoView {
    let active = query.sort == field;
    let descending = active && query.descending;
    let next = ItemQuery {
        sort: field,
        descending: active && !query.descending,
        skip: 0,
        cursor: None,
        ..query
    };
    let href = format!("/?{}", next.to_query_string(UI_PAGE_SIZE));
    let aria_sort = match (active, descending) {
        (false, _) => "none",
        (true, false) => "ascending",
        (true, true) => "descending",
    };
    let arrow = match (active, descending) {
        (false, _) => "↕",
        (true, false) => "▲",
        (true, true) => "▼",
    };
    view! {
        <th scope="col" class=class aria-sort=aria_sort>
            <a href=href class="sort" class:active=active title=format!("Sort by {}", label.to_ascii_lowercase())>
                {label}
                <span class="sort-arrow" aria-hidden="true">{arrow}</span>
            </a>
        </th>
    }
}

/// Shown when a page has no rows.
#[component]
fn EmptyState(query: ItemQuery, total: u64) -> impl IntoView {
    let (title, hint) = if query.is_filtered() {
        (
            "No items match these filters.",
            "Try other words or clear the filters.",
        )
    } else if total > 0 {
        ("This page is empty.", "Go back to the first page.")
    } else {
        ("No items yet.", "Add the first one with “New item”.")
    };
    view! {
        <div class="empty-state" role="status">
            <div class="empty-icon" aria-hidden="true">"∅"</div>
            <p class="empty-title">{title}</p>
            <p class="muted">{hint}</p>
            {(query.is_filtered() || total > 0).then(|| view! { <a class="button" href="/">"Show all items"</a> })}
        </div>
    }
}

/// Placeholder rows while the first page loads.
#[component]
pub fn TableSkeleton() -> impl IntoView {
    view! {
        <div class="skeleton" role="status" aria-live="polite">
            <span class="visually-hidden">"Loading items…"</span>
            {(0..5).map(|_| view! { <div class="skeleton-row"></div> }).collect_view()}
        </div>
    }
}
