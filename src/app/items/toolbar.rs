//! Search and category filter above the table, paging below it.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use super::UI_PAGE_SIZE;
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::domain::{ItemQuery, Total};
use crate::rpc::RpcError;

/// Search box and category menu. Works as a plain GET form before the
/// WASM bundle loads; after hydration it navigates without a reload.
#[component]
pub fn SearchBar(
    query: Memo<ItemQuery>,
    categories: KeptResource<Result<Vec<String>, RpcError>>,
) -> impl IntoView {
    let initial = query.try_get_untracked().unwrap_or_default();
    let text = RwSignal::new(initial.q.unwrap_or_default());
    let category = RwSignal::new(initial.category.unwrap_or_default());
    // Keep the inputs in step with the address (back/forward, "clear").
    Effect::new(move |_| {
        let q = query.get();
        text.set(q.q.unwrap_or_default());
        category.set(q.category.unwrap_or_default());
    });

    let navigate = use_navigate();
    let apply = move || {
        let current = query.get_untracked();
        let text = text.get_untracked();
        let category = category.get_untracked();
        let next = ItemQuery {
            q: (!text.trim().is_empty()).then(|| text.trim().to_owned()),
            category: (!category.is_empty()).then_some(category),
            skip: 0,
            cursor: None,
            ..current
        };
        navigate(
            &format!("/?{}", next.to_query_string(UI_PAGE_SIZE)),
            Default::default(),
        );
    };
    // The menu shows the filter as the category the server matched
    // (ignoring case), so `?category=lighting` shows "Lighting" rather than
    // a blank menu: no option has the value as typed. The names come from
    // the menu's options as they are rendered (below), not from the
    // resource: read outside <Suspense>, a resource may differ between the
    // server's render and hydration.
    let known = RwSignal::new(Vec::<String>::new());
    let shown = move || {
        let current = category.get_or(String::new());
        let current_lower = lowercase(&current);
        known
            .live_with(|names| {
                names
                    .iter()
                    .find(|n| lowercase(n) == current_lower)
                    .cloned()
            })
            .flatten()
            .unwrap_or(current)
    };
    let on_submit = {
        let apply = apply.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            apply();
        }
    };

    view! {
        <form class="toolbar" role="search" method="get" action="/" on:submit=on_submit>
            <div class="field inline grow">
                <label for="search" class="visually-hidden">"Search items"</label>
                <input id="search" name="q" type="search" placeholder="Search name or description…"
                    autocomplete="off" bind:value=text/>
            </div>
            <div class="field inline">
                <label for="category-filter" class="visually-hidden">"Filter by category"</label>
                <select id="category-filter" name="category"
                    prop:value=shown
                    on:change=move |ev| { category.set(event_target_value(&ev)); apply(); }>
                    <option value="">"All categories"</option>
                    <Transition>
                        {move || suspend(async move {
                            let current = category.try_get_untracked().unwrap_or_default();
                            let mut names = try_await(categories).await.and_then(Result::ok).unwrap_or_default();
                            known.try_set(names.clone());
                            // The server matches categories ignoring case in any
                            // language; lowercase is close enough to mark the choice.
                            let current_lower = lowercase(&current);
                            let same = |name: &str| lowercase(name) == current_lower;
                            if !current.is_empty() && !names.iter().any(|n| same(n)) {
                                names.insert(0, current.clone());
                            }
                            names.into_iter().map(|name| {
                                let selected = same(&name);
                                view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                            }).collect_view()
                        })}
                    </Transition>
                </select>
            </div>
            <button type="submit" class="button">"Search"</button>
            <Show when=move || query.live_with(ItemQuery::is_filtered).unwrap_or(false)>
                <a class="button ghost" href="/">"Clear"</a>
            </Show>
        </form>
    }
}

/// `text` in lower case, by Unicode's rules. In the browser the browser
/// does it: Rust's `str::to_lowercase` would add its Unicode tables to the
/// WASM bundle every first visit downloads, for this one comparison
/// (figures in docs/benchmarks.md).
fn lowercase(text: &str) -> String {
    #[cfg(feature = "hydrate")]
    {
        String::from(web_sys::js_sys::JsString::from(text).to_lower_case())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        text.to_lowercase()
    }
}

/// "Showing 11–20 of 42" with previous/next links, which follow the page's
/// cursors (the next page costs the same however deep it is); past the
/// server's counting bound, "of more than 10 000" and no last page.
#[component]
pub fn Pagination(
    query: ItemQuery,
    total: Total,
    shown: usize,
    /// How many items come before this page.
    offset: u64,
    next: Option<String>,
    prev: Option<String>,
) -> impl IntoView {
    let limit = u64::from(query.limit.max(1));
    let first = offset;
    let last = offset + shown as u64;
    let page_link = |cursor: String| {
        let q = ItemQuery {
            skip: 0,
            cursor: Some(cursor),
            ..query.clone()
        };
        format!("/?{}", q.to_query_string(UI_PAGE_SIZE))
    };
    let prev = prev.map(page_link);
    let next = next.map(page_link);
    let page = offset / limit + 1;
    let of_pages = match total.exact {
        true => format!(" of {}", total.n.div_ceil(limit).max(1)),
        false => String::new(),
    };
    view! {
        <nav class="pagination" aria-label="Pagination">
            <p class="muted" aria-live="polite">
                {if shown == 0 {
                    "No items".to_owned()
                } else {
                    format!("Showing {}–{} of {total} · page {page}{of_pages}", first + 1, last)
                }}
            </p>
            <div class="pager">
                {match prev {
                    Some(href) => view! { <a class="button small" href=href rel="prev">"← Previous"</a> }.into_any(),
                    None => view! { <span class="button small" aria-disabled="true">"← Previous"</span> }.into_any(),
                }}
                {match next {
                    Some(href) => view! { <a class="button small" href=href rel="next">"Next →"</a> }.into_any(),
                    None => view! { <span class="button small" aria-disabled="true">"Next →"</span> }.into_any(),
                }}
            </div>
        </nav>
    }
}
