//! Parts of the UI fetched on first use. The item forms and the login
//! dialog's form are split into WASM chunks of their own by the release
//! build; a chunk that does not arrive (the connection dropped, or a newer
//! itemserve was deployed since the page loaded and the old chunk is gone)
//! is an error the page shows, not a crash: without `fallible` the loader
//! panics, and a panic aborts the whole bundle.
//!
//! A split function is declared with
//! `#[wasm_split(<unique name>, wasm_split_path = ::leptos::wasm_split, fallible)]`
//! and returns `Result<AnyView, NotLoaded>`; a later call tries the fetch
//! again. On the server, and in builds that are not split, it is called
//! directly and never fails.

use std::future::Future;

use leptos::prelude::*;

/// What the person is told when a part's code could not be fetched.
pub const NOT_LOADED: &str =
    "This part of the page could not be loaded: the connection dropped, or itemserve was \
     updated since the page was opened. Reload the page to try again.";

/// A part of the UI whose WASM chunk could not be fetched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NotLoaded;

impl From<leptos::wasm_split::SplitLoaderError> for NotLoaded {
    fn from(_: leptos::wasm_split::SplitLoaderError) -> Self {
        NotLoaded
    }
}

/// [`NOT_LOADED`] as an alert, where the part would have been.
pub fn not_loaded_alert() -> impl IntoView {
    view! { <p class="form-status error" role="alert">{NOT_LOADED}</p> }
}

/// Fetches a route's chunk (`load`, its split function's preload), which
/// the router does before it asks for the route's view.
///
/// A failure during a client-side navigation shows when the view is asked
/// for ([`page`]). While the page the server rendered is being hydrated no
/// other view may take its place (hydration would fail on the first
/// element that differs and abort the bundle): then the route is never
/// hydrated, the server's page stays as it is, readable but not
/// interactive, and an alert over it offers a reload.
pub fn preload<E>(load: impl Future<Output = Result<(), E>>) -> impl Future<Output = ()> {
    let hydrating =
        Owner::current_shared_context().is_some_and(|context| context.during_hydration());
    async move {
        if load.await.is_ok() || !hydrating {
            return;
        }
        #[cfg(feature = "hydrate")]
        leptos::mount::mount_to_body(|| {
            view! {
                <div class="card chunk-alert">
                    {not_loaded_alert()}
                    // A full page load, not a client-side navigation.
                    <a class="button" href="" rel="external">"Reload"</a>
                </div>
            }
        });
        std::future::pending().await
    }
}

/// A route's page, from its split function `load` (named `chunk`): the
/// page, or [`NOT_LOADED`] where it would have been when its chunk could
/// not be fetched.
pub fn page(
    chunk: &'static str,
    load: impl Future<Output = Result<AnyView, NotLoaded>>,
) -> impl Future<Output = AnyView> {
    // The server names the chunk in the page's preload links, so the
    // browser fetches it alongside the main module.
    #[cfg(feature = "ssr")]
    leptos::prefetch_lazy_fn_on_server(chunk);
    #[cfg(not(feature = "ssr"))]
    let _ = chunk;
    async move {
        load.await.unwrap_or_else(|NotLoaded| {
            view! { <section class="card">{not_loaded_alert()}</section> }.into_any()
        })
    }
}
