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
