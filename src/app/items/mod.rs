//! The item catalogue page: search, create, edit, delete and page through.

mod bulk;
mod editor;
mod form;
mod import;
mod live;
mod row;
mod table;
mod toolbar;
mod undo;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::account::{allows, session_resource};
use crate::app::chunk::{not_loaded_alert, NotLoaded};
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::{Banner, HydrationMarker};
use crate::domain::{ItemQuery, Permission};
use crate::rpc::{list_categories, list_items};
use form::create_item_form;
use import::import_form;
use live::{follow_changes, LiveTable};
use table::{ItemTable, TableSkeleton};
use toolbar::{Pagination, SearchBar};

/// Rows per page in the UI (the REST API defaults to 100).
pub const UI_PAGE_SIZE: u32 = 10;

/// Bumped after every successful change so the listing reloads.
#[derive(Clone, Copy)]
pub struct Refresh(RwSignal<u64>);

impl Refresh {
    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

/// The first page with no filters.
fn first_page() -> ItemQuery {
    ItemQuery {
        limit: UI_PAGE_SIZE,
        ..ItemQuery::default()
    }
}

/// The page at `/`.
#[component]
pub fn ItemsPage() -> impl IntoView {
    let params = use_query_map();
    // `try_`: a server render can finish (and dispose of this page) while
    // a resource task still reads the query through these memos.
    let parsed = Memo::new(move |_| {
        params
            .live_with(|map| ItemQuery::from_pairs(map, UI_PAGE_SIZE))
            .unwrap_or_else(|| Ok(first_page()))
    });
    let query = Memo::new(move |_| {
        parsed
            .live_get()
            .and_then(Result::ok)
            .unwrap_or_else(first_page)
    });
    let bad_params = Signal::derive(move || {
        parsed.live_get()?.err().map(|errors| {
            let fields: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            format!(
                "Ignored invalid filters in the address ({}).",
                fields.join("; ")
            )
        })
    });

    let refresh = Refresh(RwSignal::new(0));
    provide_context(refresh);
    let live = LiveTable::new(refresh);
    provide_context(live);
    // In the browser only (effects do not run on the server).
    Effect::new(move |_| follow_changes(live));
    // This page's own view of the session, loaded once: logging in again
    // in the expired-session dialog must not re-create the forms and rows
    // (and lose what was typed); logging out reloads the whole page.
    let session = session_resource(None);
    // Sources use `try_get`: a server render can finish (and dispose of this
    // page) while a resource task is still looking at its source.
    let page = KeptResource::new(ArcResource::new(
        move || {
            let q = query.live_get().unwrap_or_else(first_page);
            (q, refresh.0.live_get().unwrap_or_default())
        },
        |(q, _)| list_items(q),
    ));
    let categories = KeptResource::new(ArcResource::new(
        move || refresh.0.live_get().unwrap_or_default(),
        |_| list_categories(),
    ));
    // The table's loading bar follows the transition, in the browser only.
    // On the server `set_pending` starts an effect on another worker thread
    // that reads the transition's task list while the render writes it, and
    // Leptos takes a read lock it cannot get at once for a disposed signal
    // and panics. Reference-counted rather than owned by this page: the
    // transition may report "done" after the page is gone.
    let pending = ArcRwSignal::new(false);
    let set_pending = cfg!(feature = "hydrate").then(|| {
        let pending = pending.clone();
        SignalSetter::map(move |value| pending.set(value))
    });
    let is_pending = Signal::derive({
        let pending = pending.clone();
        move || pending.live_get().unwrap_or(false)
    });

    let export_href = move || {
        let shown = query.live_get().unwrap_or_else(first_page);
        let filters = ItemQuery {
            skip: 0,
            limit: UI_PAGE_SIZE,
            cursor: None,
            ..shown
        }
        .to_query_string(UI_PAGE_SIZE);
        match filters.is_empty() {
            true => "/items/export?format=csv".to_owned(),
            false => format!("/items/export?format=csv&{filters}"),
        }
    };

    // The create form is opened with "New item", the import panel with
    // "Import"; their code arrives then.
    let creating = RwSignal::new(false);
    let close = Callback::new(move |_| creating.set(false));
    let importing = RwSignal::new(false);
    let close_import = Callback::new(move |_| importing.set(false));

    let table = Transition(TransitionProps {
        fallback: TableSkeleton.into(),
        set_pending,
        children: TypedChildren::to_children(move || {
            move || {
                suspend(async move {
                    let Some(listing) = try_await(page).await else {
                        return ().into_any();
                    };
                    match listing {
                        Ok(result) => {
                            let query = query.try_get_untracked().unwrap_or_else(first_page);
                            let (total, shown, offset) =
                                (result.total, result.items.len(), result.offset);
                            let (next, prev) = (result.next.clone(), result.prev.clone());
                            let session = try_await(session).await;
                            let writable =
                                session.is_some_and(|s| allows(&s, Permission::WriteItems));
                            view! {
                                <ItemTable page=result query=query.clone() writable=writable live=live/>
                                <Pagination query=query total=total shown=shown offset=offset
                                    next=next prev=prev/>
                                <HydrationMarker/>
                            }
                            .into_any()
                        }
                        Err(error) => {
                            let message =
                                Signal::stored(Some(format!("Could not load the items. {error}")));
                            view! {
                            <Banner message=message on_retry=Callback::new(move |_| refresh.bump())/>
                            <HydrationMarker/>
                        }
                        .into_any()
                        }
                    }
                })
            }
        }),
    });

    view! {
        <Title text="Items"/>
        <div class="page-head">
            <div>
                <h1>"Items"</h1>
                <p class="muted">"The catalogue. Click a column to sort; every change is saved at once."</p>
            </div>
            <div class="page-actions">
            // Every matching item (all pages), in the table's order: a plain
            // link, so the browser downloads the file as it streams.
            <a class="button" href=export_href download rel="external"
                title="Download every item matching the search and filters, in this order, as CSV">
                "Export CSV"
            </a>
            // Only for those who may add items (known once the session loads).
            <Transition fallback=|| ()>
                {move || suspend(async move {
                    let session = try_await(session).await?;
                    allows(&session, Permission::WriteItems).then(|| view! {
                        <button type="button" class="button" aria-controls="import-panel"
                            aria-expanded=move || importing.get_or(false).to_string()
                            on:click=move |_| importing.update(|open| *open = !*open)>
                            "Import"
                        </button>
                        <button type="button" class="button primary" aria-controls="create-panel"
                            aria-expanded=move || creating.get_or(false).to_string()
                            on:click=move |_| creating.update(|open| *open = !*open)>
                            "New item"
                        </button>
                    })
                })}
            </Transition>
            </div>
        </div>
        <div class="layout">
            <LazyPanel id="import-panel" class="card import-card" opening="Opening the import…"
                open=importing load=Arc::new(move || Box::pin(import_form(live, close_import)))/>
            <LazyPanel id="create-panel" class="card create-card" opening="Opening the form…"
                open=creating load=Arc::new(move || Box::pin(create_item_form(close)))/>
            <section class="card table-card" aria-labelledby="items-heading">
                <h2 id="items-heading" class="visually-hidden">"Item list"</h2>
                <SearchBar query=query categories=categories/>
                <Banner message=bad_params/>
                <div class="table-wrap" class:is-loading=move || is_pending.live_get().unwrap_or(false) aria-busy=move || is_pending.live_get().unwrap_or(false).to_string()>
                    <div class="progress" aria-hidden="true"></div>
                    {table}
                </div>
            </section>
        </div>
    }
}

/// Loads a panel's view (a split function, see `chunk.rs`).
type PanelLoader =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<AnyView, NotLoaded>> + Send>> + Send + Sync>;

/// A panel above the table shown while `open`, whose code is fetched the
/// first time it opens; says so in its place when the code cannot be
/// fetched. One component for every such panel: each distinct view tree
/// adds its own code to the bundle every first visit downloads.
#[component]
fn LazyPanel(
    id: &'static str,
    class: &'static str,
    /// Shown while the code arrives.
    opening: &'static str,
    open: RwSignal<bool>,
    load: PanelLoader,
) -> impl IntoView {
    let load = StoredValue::new(load);
    view! {
        <div id=id>
            <Show when=move || open.get_or(false)>
                <Suspense fallback=move || view! {
                    <section class=class aria-busy="true">
                        <p class="muted" role="status">{opening}</p>
                    </section>
                }>
                    {move || suspend(async move {
                                let Some(load) = load.try_get_value() else {
                                    return ().into_any();
                                };
                                load().await.unwrap_or_else(|NotLoaded| view! {
                                    <section class=class>
                                        {not_loaded_alert()}
                                        <button type="button" class="button" on:click=move |_| open.set(false)>"Close"</button>
                                    </section>
                                }.into_any())
                            })}
                </Suspense>
            </Show>
        </div>
    }
}
