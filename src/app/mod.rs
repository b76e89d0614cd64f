//! The browser UI, rendered on the server and hydrated by the WASM bundle.

mod account;
mod admin;
mod audit;
mod chunk;
mod history;
mod items;
mod predict;
mod reactive;
mod trash;
mod widgets;

use widgets::HydrationMarker;

use std::future::Future;

use leptos::prelude::*;
use leptos::wasm_split::wasm_split;
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{provide_meta_context, Link, Meta, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::{Lazy, LazyRoute, SsrMode, StaticSegment};

use account::{provide_account, AccountMenu, LoginPage, SessionExpiredDialog};
use admin::AdminPage;
use chunk::NotLoaded;
use history::HistoryPage;
use items::ItemsPage;
use predict::PredictPage;
use trash::TrashPage;

/// The HTML document around the app (server side only). It loads the
/// bundle and stylesheet by their content-hashed names.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let state = expect_context::<crate::server::state::AppState>();
    crate::server::http::security::set_page_policy(state.assets.live_reload_port());
    let stylesheet = state.assets.stylesheet().to_owned();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: layout, navigation and routes.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_account();

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="itemserve: item catalogue and model serving"/>
        <Title formatter=|page: String| format!("{page} · itemserve")/>
        <Router>
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    "itemserve"
                </a>
                <nav aria-label="Main">
                    <A href="/" exact=true>"Items"</A>
                    <A href="/predict">"Predict"</A>
                    <A href="/deleted">"Trash"</A>
                    <a href="/docs" rel="external">"API docs"</a>
                </nav>
                <AccountMenu/>
            </header>
            <SessionExpiredDialog/>
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=StaticSegment("") view=ItemsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("predict") view={Lazy::<PredictRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("login") view={Lazy::<LoginRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("deleted") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=StaticSegment("history") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// The prediction page, in its own WASM chunk: the item table (the first
/// page most people open) does not download the chart and the forms.
struct PredictRoute;

#[wasm_split(predict_page, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_predict_page))]
fn predict_page() -> Result<AnyView, NotLoaded> {
    Ok(view! { <PredictPage/> }.into_any())
}

impl LazyRoute for PredictRoute {
    fn data() -> Self {
        PredictRoute
    }

    fn view(_this: Self) -> impl Future<Output = AnyView> {
        chunk::page("predict_page", predict_page())
    }

    fn preload() -> impl Future<Output = ()> {
        chunk::preload(preload_predict_page())
    }
}

/// The login page, in its own WASM chunk: with logins off nobody opens it,
/// and with them on most visits only read.
struct LoginRoute;

#[wasm_split(login_page, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_login_page))]
fn login_page() -> Result<AnyView, NotLoaded> {
    Ok(view! { <LoginPage/> }.into_any())
}

impl LazyRoute for LoginRoute {
    fn data() -> Self {
        LoginRoute
    }

    fn view(_this: Self) -> impl Future<Output = AnyView> {
        chunk::page("login_page", login_page())
    }

    fn preload() -> impl Future<Output = ()> {
        chunk::preload(preload_login_page())
    }
}

/// The users page and the audit log (`/admin`, admins only), the trash
/// (`/deleted`) and an item's history (`/history`), in one WASM chunk and behind one route type: every
/// route type adds router code to the main module, which every first visit
/// downloads.
struct AdminRoute;

#[wasm_split(admin_page, wasm_split_path = ::leptos::wasm_split, fallible, preload(preload_admin_page))]
fn admin_page() -> Result<AnyView, NotLoaded> {
    Ok(match use_location().pathname.get_untracked().as_str() {
        "/deleted" => view! { <TrashPage/> }.into_any(),
        "/history" => view! { <HistoryPage/> }.into_any(),
        _ => view! { <AdminPage/> }.into_any(),
    })
}

impl LazyRoute for AdminRoute {
    fn data() -> Self {
        AdminRoute
    }

    fn view(_this: Self) -> impl Future<Output = AnyView> {
        chunk::page("admin_page", admin_page())
    }

    fn preload() -> impl Future<Output = ()> {
        chunk::preload(preload_admin_page())
    }
}

/// Any unknown page.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <section class="card empty-state">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <a class="button" href="/">"Back to the items"</a>
        </section>
        <HydrationMarker/>
    }
}
