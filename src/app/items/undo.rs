//! "Deleted X. Undo": for a few seconds after a delete, the item can be
//! brought back from the trash with one click. All of it is a chunk of its
//! own, fetched on the first delete (see `chunk.rs`): the offer is mounted
//! at the end of the page's body rather than kept in the page's tree, so
//! the item page itself holds nothing of it but the call.

use leptos::wasm_split::wasm_split;

use super::Refresh;
use crate::app::chunk::NotLoaded;

/// Offers to undo the deletion of item `id` (named `name`), in place of
/// any earlier offer; after a restore the table reloads.
#[wasm_split(undo_delete, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn offer_undo(id: i64, name: String, refresh: Refresh) -> Result<(), NotLoaded> {
    #[cfg(feature = "hydrate")]
    offer::show(id, name, refresh);
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, name, refresh);
    Ok(())
}

#[cfg(feature = "hydrate")]
mod offer {
    use std::any::Any;
    use std::cell::RefCell;
    use std::time::Duration;

    use leptos::prelude::*;

    use super::Refresh;
    use crate::app::items::form::problem_message;
    use crate::app::reactive::Live;
    use crate::rpc::restore_item;

    /// How long the offer stays.
    const OFFER: Duration = Duration::from_secs(8);

    thread_local! {
        /// The offer shown: its item and what unmounts it when dropped.
        static SHOWN: RefCell<Option<(i64, Box<dyn Any>)>> = const { RefCell::new(None) };
    }

    pub fn show(id: i64, name: String, refresh: Refresh) {
        let Some(body) = document().body() else {
            return;
        };
        let mounted =
            leptos::mount::mount_to(body, move || view! { <UndoDelete id name refresh/> });
        // Replacing the earlier offer unmounts it.
        SHOWN.with(|shown| shown.replace(Some((id, Box::new(mounted)))));
    }

    /// Takes the offer for `id` down, after the event that asked for it.
    fn close(id: i64) {
        set_timeout(
            move || {
                SHOWN.with(|shown| {
                    let mut shown = shown.borrow_mut();
                    if shown.as_ref().is_some_and(|(current, _)| *current == id) {
                        shown.take();
                    }
                })
            },
            Duration::ZERO,
        );
    }

    #[component]
    fn UndoDelete(id: i64, name: String, refresh: Refresh) -> impl IntoView {
        let problem = RwSignal::new(None::<String>);
        let undo = Action::new(move |_: &()| async move { restore_item(id).await });
        Effect::new(move |_| match undo.value().get() {
            Some(Ok(_)) => {
                // The page may be gone (the offer is not part of it).
                refresh.0.try_update(|n| *n += 1);
                close(id);
            }
            Some(Err(error)) => problem.set(Some(problem_message(&error))),
            None => {}
        });
        let undoing = undo.pending();
        // The offer ends by itself, unless it is being taken up or failed.
        set_timeout(
            move || {
                if !undoing.get_or(false) && problem.get_or(None).is_none() {
                    close(id);
                }
            },
            OFFER,
        );
        view! {
            <div class="toast" role="status">
                <span>"Deleted “" {name} "”."</span>
                <button type="button" class="button small" disabled=move || undoing.get_or(false)
                    on:click=move |_| { undo.dispatch(()); }>
                    {move || if undoing.get_or(false) { "Restoring…" } else { "Undo" }}
                </button>
                <button type="button" class="button small ghost" aria-label="Dismiss"
                    on:click=move |_| close(id)>"×"</button>
                {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
            </div>
        }
    }
}
