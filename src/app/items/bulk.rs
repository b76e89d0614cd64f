//! Acting on many items at once: the boxes of the item table choose them,
//! and a bar at the foot of the window acts on them (delete, with undo;
//! set the category or the price; export). All of it is a chunk of its own,
//! fetched the first time a box is ticked, and the bar is mounted at the
//! end of the body: the item page holds only the boxes and the call.

use leptos::wasm_split::wasm_split;

use super::Refresh;
use crate::app::chunk::NotLoaded;
use crate::domain::{write_csv_record, Item, ItemQuery, CSV_HEADER};

/// Something changed in the item table `query` lists (a box, or a field of
/// a row's editor, which is ignored).
#[wasm_split(bulk_selection, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn table_changed(
    event: leptos::ev::Event,
    query: ItemQuery,
    refresh: Refresh,
) -> Result<(), NotLoaded> {
    #[cfg(feature = "hydrate")]
    bar::update(event, query, refresh);
    #[cfg(not(feature = "hydrate"))]
    let _ = (event, query, refresh);
    Ok(())
}

/// A CSV file of `items`, as the export writes it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub fn csv(items: &[Item]) -> String {
    let mut file = String::from(CSV_HEADER);
    for item in items {
        write_csv_record(item, &mut file);
    }
    file
}

#[cfg(feature = "hydrate")]
mod bar {
    use std::any::Any;
    use std::cell::RefCell;
    use std::time::Duration;

    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::HtmlInputElement;

    use super::{csv, Refresh};
    use crate::app::items::form::problem_message;
    use crate::app::reactive::Live;
    use crate::domain::{BulkChange, ItemPage, ItemQuery};
    use crate::rpc::{bulk_items, list_items};

    /// How long the answer to an action stays (and its Undo with it).
    const NOTICE: Duration = Duration::from_secs(8);

    /// The bar's state, shared with the table's calls.
    #[derive(Clone)]
    struct State {
        /// The table's listing, and its page as the bar reads it (the
        /// items, how many match), once fetched.
        query: ArcRwSignal<ItemQuery>,
        page: ArcRwSignal<Option<ItemPage>>,
        refresh: Refresh,
        /// The ids of the ticked boxes.
        ticked: ArcRwSignal<Vec<i64>>,
        /// Every item matching the filters is chosen, not only the ticked.
        matching: ArcRwSignal<bool>,
        /// What the last action did, and the ids a delete can bring back.
        notice: ArcRwSignal<Option<(String, Option<Vec<i64>>)>>,
    }

    thread_local! {
        /// The bar shown, and what unmounts it when dropped.
        static SHOWN: RefCell<Option<(State, Box<dyn Any>)>> = const { RefCell::new(None) };
    }

    /// The table's boxes, one per row (in the row of its item's id).
    fn boxes() -> Vec<HtmlInputElement> {
        let Ok(list) = document().query_selector_all("table.items input.select") else {
            return Vec::new();
        };
        (0..list.length())
            .filter_map(|i| list.item(i)?.dyn_into::<HtmlInputElement>().ok())
            .collect()
    }

    fn ticked_ids() -> Vec<i64> {
        boxes()
            .iter()
            .filter(|b| b.checked())
            .filter_map(|b| {
                b.closest("tr")
                    .ok()??
                    .get_attribute("data-item-id")?
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// Ticks (or clears) every box, and shows in the header's box whether
    /// all, some or none are ticked.
    fn tick_all(on: Option<bool>) {
        let boxes = boxes();
        if let Some(on) = on {
            boxes.iter().for_each(|b| b.set_checked(on));
        }
        let header = document()
            .query_selector("table.items input.select-all")
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok());
        if let Some(header) = header {
            let n = boxes.iter().filter(|b| b.checked()).count();
            header.set_checked(n > 0 && n == boxes.len());
            header.set_indeterminate(n > 0 && n < boxes.len());
        }
    }

    pub fn update(event: leptos::ev::Event, query: ItemQuery, refresh: Refresh) {
        let input = event_target::<HtmlInputElement>(&event);
        if input.type_() != "checkbox" {
            return;
        }
        let all = (input.class_name() == "select-all").then(|| input.checked());
        tick_all(all);
        let ticked = ticked_ids();
        let shown = SHOWN.with(|shown| shown.borrow().as_ref().map(|(state, _)| state.clone()));
        let state = match shown {
            Some(state) => {
                state.matching.set(false);
                state.ticked.set(ticked);
                state
            }
            None if ticked.is_empty() => return,
            None => {
                let Some(body) = document().body() else {
                    return;
                };
                let state = State {
                    query: ArcRwSignal::new(query.clone()),
                    page: ArcRwSignal::new(None),
                    refresh,
                    ticked: ArcRwSignal::new(ticked),
                    matching: ArcRwSignal::new(false),
                    notice: ArcRwSignal::new(None),
                };
                let view_state = state.clone();
                let mounted = leptos::mount::mount_to(body, move || {
                    view! { <SelectionBar state=view_state.clone()/> }
                });
                SHOWN.with(|shown| shown.replace(Some((state.clone(), Box::new(mounted)))));
                state
            }
        };
        // The page's items and total, read again when the listing changed.
        if state.page.with_untracked(Option::is_none) || state.query.get_untracked() != query {
            state.query.set(query.clone());
            let page = state.page.clone();
            leptos::task::spawn_local(async move {
                if let Ok(listed) = list_items(query).await {
                    page.set(Some(listed));
                }
            });
        }
    }

    /// Takes the bar down when nothing is chosen and nothing to tell,
    /// after the event that led here.
    fn close_if_idle() {
        set_timeout(
            || {
                SHOWN.with(|shown| {
                    let mut shown = shown.borrow_mut();
                    let idle = shown.as_ref().is_some_and(|(state, _)| {
                        state.ticked.get_untracked().is_empty()
                            && !state.matching.get_untracked()
                            && state.notice.get_untracked().is_none()
                    });
                    if idle {
                        shown.take();
                    }
                })
            },
            Duration::ZERO,
        );
    }

    /// What the bar is asking for a value of.
    #[derive(Clone, Copy, PartialEq)]
    enum Asking {
        Nothing,
        Category,
        Price,
    }

    #[component]
    fn SelectionBar(state: State) -> impl IntoView {
        // Owned by the bar (its mount), so the closures below are `Copy`.
        let query = RwSignal::from(state.query);
        let page = RwSignal::from(state.page);
        let refresh = state.refresh;
        let ticked = RwSignal::from(state.ticked);
        let matching = RwSignal::from(state.matching);
        let notice = RwSignal::from(state.notice);
        let asking = RwSignal::new(Asking::Nothing);
        let value = RwSignal::new(String::new());
        let problem = RwSignal::new(None::<String>);

        let total = move || page.with(|p| p.as_ref().map(|p| p.total));
        let count = move || match (matching.get(), total()) {
            (true, Some(total)) if total.exact => format!("All {total} matching items selected"),
            (true, _) => "All matching items selected".to_owned(),
            (false, _) => format!("{} selected", ticked.with(Vec::len)),
        };
        // Offered once every box of the page is ticked and more match.
        let offer_all = move || {
            let shown = page.with(|p| p.as_ref().map_or(0, |p| p.items.len()));
            !matching.get()
                && shown > 0
                && ticked.with(Vec::len) == shown
                && total().is_some_and(|t| t.n as usize > shown || !t.exact)
        };
        let total_text = move || total().map(|t| t.to_string()).unwrap_or_default();

        let run = Action::new(move |change: &BulkChange| {
            let change = change.clone();
            let filters = matching.get_untracked().then(|| ItemQuery {
                skip: 0,
                cursor: None,
                ..query.get_untracked()
            });
            let undo = match &change {
                BulkChange::Restore => notice.get_untracked().and_then(|(_, ids)| ids),
                _ => None,
            };
            let ids = undo.unwrap_or_else(|| ticked.get_untracked());
            async move { (change.clone(), bulk_items(ids, filters, change).await) }
        });
        Effect::new(move |_| {
            let Some((change, outcome)) = run.value().get() else {
                return;
            };
            match outcome {
                Ok(ids) => {
                    let n = ids.len();
                    let items = if n == 1 { "item" } else { "items" };
                    let (text, undo) = match change {
                        BulkChange::Delete => (format!("Deleted {n} {items}."), Some(ids)),
                        BulkChange::Restore => (format!("Restored {n} {items}."), None),
                        _ => (format!("Changed {n} {items}."), None),
                    };
                    notice.set(Some((text.clone(), undo)));
                    problem.set(None);
                    asking.set(Asking::Nothing);
                    tick_all(Some(false));
                    ticked.set(Vec::new());
                    matching.set(false);
                    // The page may be gone (the bar is not part of it).
                    refresh.0.try_update(|n| *n += 1);
                    page.set(None);
                    set_timeout(
                        move || {
                            let current = notice
                                .try_with_untracked(|n| n.as_ref().is_some_and(|n| n.0 == text));
                            if current == Some(true) {
                                notice.set(None);
                                close_if_idle();
                            }
                        },
                        NOTICE,
                    );
                }
                Err(error) => problem.set(Some(problem_message(&error))),
            }
        });
        let busy = run.pending();

        let apply = move || {
            let text = value.get_untracked();
            let text = text.trim();
            let change = match asking.get_untracked() {
                Asking::Nothing => return,
                Asking::Category => {
                    BulkChange::Category((!text.is_empty()).then(|| text.to_owned()))
                }
                Asking::Price if text.is_empty() => BulkChange::Price(None),
                Asking::Price => match text.parse::<f64>() {
                    Ok(price) => BulkChange::Price(Some(price)),
                    Err(_) => {
                        problem.set(Some("Enter a price as a number, like 12.50.".into()));
                        return;
                    }
                },
            };
            run.dispatch(change);
        };
        let ask = move |what: Asking| {
            problem.set(None);
            value.set(String::new());
            asking.set(what);
        };
        let export_href = move || match matching.get() {
            true => {
                let filters = ItemQuery {
                    skip: 0,
                    cursor: None,
                    ..query.get()
                };
                format!("/items/export?format=csv&{}", filters.to_query_string(0))
            }
            false => {
                let chosen = ticked.get();
                let items: Vec<_> = page.with(|p| {
                    p.iter()
                        .flat_map(|p| &p.items)
                        .filter(|item| chosen.contains(&item.id))
                        .cloned()
                        .collect()
                });
                let file = web_sys::js_sys::encode_uri_component(&csv(&items));
                format!("data:text/csv;charset=utf-8,{file}")
            }
        };
        let clear = move |_| {
            tick_all(Some(false));
            ticked.set(Vec::new());
            matching.set(false);
            close_if_idle();
        };
        let chosen = move || matching.get() || ticked.with(|t| !t.is_empty());
        let undo_ids = move || notice.with(|n| n.as_ref().and_then(|n| n.1.clone()));
        let select_page = move |_| {
            tick_all(Some(true));
            ticked.set(ticked_ids());
        };

        view! {
            <div class="toast bulk-bar" role="region" aria-label="Selected items">
                <Show when=chosen>
                    <strong class="bulk-count" role="status">{count}</strong>
                    <Show when=offer_all>
                        <button type="button" class="button small ghost" on:click=move |_| matching.set(true)>
                            "Select all " {total_text} " matching"
                        </button>
                    </Show>
                    <button type="button" class="button small ghost" on:click=select_page>
                        "Select page"
                    </button>
                    <div class="bulk-actions" role="group" aria-label="Act on the selected items">
                        <button type="button" class="button small danger-outline" disabled=move || busy.get_or(false)
                            on:click=move |_| { run.dispatch(BulkChange::Delete); }>"Delete"</button>
                        <button type="button" class="button small" on:click=move |_| ask(Asking::Category)>"Set category…"</button>
                        <button type="button" class="button small" on:click=move |_| ask(Asking::Price)>"Set price…"</button>
                        <a class="button small" href=export_href download="items.csv" rel="external">"Export selected"</a>
                        <button type="button" class="button small ghost" aria-label="Clear the selection"
                            on:click=clear>"×"</button>
                    </div>
                    <Show when=move || asking.get_or(Asking::Nothing) != Asking::Nothing>
                        <form class="bulk-ask" on:submit=move |ev| { ev.prevent_default(); apply(); }>
                            <label>
                                {move || match asking.get_or(Asking::Nothing) {
                                    Asking::Price => "New price (empty: none)",
                                    _ => "New category (empty: none)",
                                }}
                                <input type="text" prop:value=move || value.get_or(String::new())
                                    inputmode=move || if asking.get_or(Asking::Nothing) == Asking::Price { "decimal" } else { "text" }
                                    on:input=move |ev| value.set(event_target_value(&ev))/>
                            </label>
                            <button type="submit" class="button small primary" disabled=move || busy.get_or(false)>
                                {move || if busy.get_or(false) { "Applying…" } else { "Apply" }}
                            </button>
                            <button type="button" class="button small" on:click=move |_| asking.set(Asking::Nothing)>"Cancel"</button>
                        </form>
                    </Show>
                </Show>
                {move || notice.get().map(|(text, _)| view! { <span class="bulk-notice" role="status">{text}</span> })}
                {move || undo_ids().map(|_| view! {
                    <button type="button" class="button small" disabled=move || busy.get_or(false)
                        on:click=move |_| { run.dispatch(BulkChange::Restore); }>"Undo"</button>
                })}
                {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
            </div>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::csv;
    use crate::domain::Item;

    #[test]
    fn the_export_of_a_selection_quotes_what_csv_needs_quoted() {
        let item = Item {
            id: 7,
            name: "Lamp, brass".into(),
            description: Some("A \"warm\" light".into()),
            category: None,
            price: Some(12.5),
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        };
        assert_eq!(
            csv(&[item]),
            "id,name,description,category,price\r\n7,\"Lamp, brass\",\"A \"\"warm\"\" light\",,12.5\r\n"
        );
    }
}
