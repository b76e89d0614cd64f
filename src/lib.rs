//! itemserve: an item catalogue with a Leptos UI and a JSON REST API.
//!
//! - [`domain`]: types and validation shared by browser and server
//! - [`app`]: the UI, rendered on the server and hydrated in the browser
//! - [`rpc`]: the server functions the UI calls (under `/rpc/`), their
//!   error type and encoding
//! - `server` (feature `ssr`): configuration, REST handlers, storage

pub mod app;
pub mod domain;
pub mod rpc;
#[cfg(feature = "ssr")]
pub mod server;

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // The release bundle aborts on a panic without running any hook
    // (`cargo xtask build`); other builds report panics in the console.
    #[cfg(not(panic = "immediate-abort"))]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
