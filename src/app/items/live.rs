//! Keeping the table live: the browser follows `GET /items/events` and
//! reloads the visible page (with its sort, filters and page) when any
//! client changes an item. A row open in the editor is never replaced
//! under the person typing: the reload waits until every editor closes,
//! and the edited row says that it changed elsewhere meanwhile.

use leptos::prelude::*;

use super::Refresh;
use crate::app::reactive::Live;
use crate::domain::{ChangeKind, ItemChange};

/// Shared by the page and its rows.
#[derive(Clone, Copy)]
pub struct LiveTable {
    refresh: Refresh,
    /// Rows open in the editor.
    editing: RwSignal<Vec<i64>>,
    /// Edited rows that someone else changed meanwhile.
    changed: RwSignal<Vec<i64>>,
    /// Rows whose own save is on its way: their event is no news.
    saving: RwSignal<Vec<i64>>,
    /// A reload is owed once the editors close.
    owed: RwSignal<bool>,
}

impl LiveTable {
    pub fn new(refresh: Refresh) -> Self {
        LiveTable {
            refresh,
            editing: RwSignal::new(Vec::new()),
            changed: RwSignal::new(Vec::new()),
            saving: RwSignal::new(Vec::new()),
            owed: RwSignal::new(false),
        }
    }

    /// The page's reload switch.
    pub fn refresh(self) -> Refresh {
        self.refresh
    }

    /// A change arrived from the stream.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn apply(self, change: &ItemChange) {
        let editing = self.editing.try_get_untracked().unwrap_or_default();
        if editing.is_empty() {
            self.refresh.bump();
            return;
        }
        let saving = self.saving.try_get_untracked().unwrap_or_default();
        let touched: Vec<i64> = match (change.kind, change.id) {
            // Anything may have changed: every open editor is told so.
            (ChangeKind::Reset, _) => editing,
            (_, Some(id)) if editing.contains(&id) && !saving.contains(&id) => vec![id],
            _ => Vec::new(),
        };
        if !touched.is_empty() {
            self.changed.update(|changed| {
                for id in touched {
                    if !changed.contains(&id) {
                        changed.push(id);
                    }
                }
            });
        }
        self.owed.set(true);
    }

    /// Row `id` opened its editor.
    pub fn editing_started(self, id: i64) {
        self.editing.update(|e| {
            if !e.contains(&id) {
                e.push(id)
            }
        });
    }

    /// Row `id` is saving its edit: the change it makes is its own.
    pub fn saving(self, id: i64, saving: bool) {
        self.saving.update(|s| {
            s.retain(|x| *x != id);
            if saving {
                s.push(id);
            }
        });
    }

    /// Row `id` closed its editor (saved or cancelled); the reload owed, if
    /// any, happens when the last editor closes.
    pub fn editing_ended(self, id: i64) {
        if self.forget(id) && self.editing.get_untracked().is_empty() && self.owed.get_untracked() {
            self.owed.set(false);
            self.refresh.bump();
        }
    }

    /// Row `id` went away (the page was left or reloaded): no longer an
    /// open editor. Says whether it was one.
    pub fn forget(self, id: i64) -> bool {
        let open = self.editing.try_with_untracked(|e| e.contains(&id));
        if open != Some(true) {
            return false;
        }
        self.editing.update(|e| e.retain(|x| *x != id));
        if self.changed.try_with_untracked(|c| c.contains(&id)) == Some(true) {
            self.changed.update(|c| c.retain(|x| *x != id));
        }
        true
    }

    /// Whether someone else changed row `id` while it was being edited.
    pub fn changed_elsewhere(self, id: i64) -> bool {
        self.changed.live_with(|c| c.contains(&id)).unwrap_or(false)
    }
}

/// Opens the event stream (browser only) and applies each change; closed
/// when the page goes away. The browser's `EventSource` reconnects by
/// itself after a drop, sending `Last-Event-ID`, so the server replays what
/// was missed.
pub fn follow_changes(live: LiveTable) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;

        let Ok(source) = web_sys::EventSource::new("/items/events") else {
            return;
        };
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(data) = event.data().as_string() else {
                    return;
                };
                if let Ok(change) = serde_json::from_str::<ItemChange>(&data) {
                    live.apply(&change);
                }
            },
        );
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // Marks the page for tests and people who look: the table is live.
        let on_open = Closure::<dyn FnMut()>::new(move || {
            if let Some(body) = document().body() {
                let _ = body.set_attribute("data-live", "true");
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        // The handlers live as long as the stream, which ends with the page.
        let open = send_wrapper::SendWrapper::new((source, on_message, on_open));
        on_cleanup(move || {
            let (source, on_message, on_open) = open.take();
            source.close();
            drop((on_message, on_open));
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = live;
}
