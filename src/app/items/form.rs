//! Form state shared by the create form and the inline editor, and the
//! create form itself.

use leptos::prelude::*;
use leptos::wasm_split::wasm_split;

use super::Refresh;
use crate::app::account::Account;
use crate::app::chunk::NotLoaded;
use crate::app::reactive::Live;
use crate::app::widgets::TextField;
use crate::domain::{FieldError, ItemDraft, ItemForm};
use crate::rpc::create_item;
use crate::rpc::RpcError;

/// The signals behind an item form.
#[derive(Clone, Copy)]
pub struct ItemFormState {
    pub name: RwSignal<String>,
    pub description: RwSignal<String>,
    pub category: RwSignal<String>,
    pub price: RwSignal<String>,
    /// Set on the first submit: from then on every field shows its error.
    pub submitted: RwSignal<bool>,
    /// Errors the server reported for the last submit.
    pub server_errors: RwSignal<Vec<FieldError>>,
    /// Bumped by every reset, so the fields forget what was typed before.
    pub generation: RwSignal<u32>,
}

impl ItemFormState {
    pub fn new(initial: ItemForm) -> Self {
        ItemFormState {
            name: RwSignal::new(initial.name),
            description: RwSignal::new(initial.description),
            category: RwSignal::new(initial.category),
            price: RwSignal::new(initial.price),
            submitted: RwSignal::new(false),
            server_errors: RwSignal::new(Vec::new()),
            generation: RwSignal::new(0),
        }
    }

    /// The current text of every field (tracked); `None` once disposed.
    pub fn form(&self) -> Option<ItemForm> {
        Some(ItemForm {
            name: self.name.live_get()?,
            description: self.description.live_get()?,
            category: self.category.live_get()?,
            price: self.price.live_get()?,
        })
    }

    /// Errors to show: the shared validation's, else the server's.
    pub fn errors(self) -> Signal<Vec<FieldError>> {
        Signal::derive(move || match self.form().map(|form| form.validate()) {
            Some(Err(errors)) => errors,
            Some(Ok(_)) => self.server_errors.get_or(Vec::new()),
            None => Vec::new(),
        })
    }

    /// Validates for a submit; `None` (with errors now visible) when invalid.
    pub fn draft_for_submit(&self) -> Option<ItemDraft> {
        self.submitted.set(true);
        self.server_errors.set(Vec::new());
        self.form()?.validate().ok().map(ItemDraft::from)
    }

    /// Puts `form` back in the fields and hides every error.
    pub fn reset_to(&self, form: ItemForm) {
        self.name.set(form.name);
        self.description.set(form.description);
        self.category.set(form.category);
        self.price.set(form.price);
        self.submitted.set(false);
        self.server_errors.set(Vec::new());
        self.generation.update(|g| *g += 1);
    }

    /// Shows a server's answer: field errors under the fields, anything
    /// else returned as a message.
    pub fn absorb_error(&self, error: &RpcError) -> Option<String> {
        if let RpcError::Validation(errors) = error {
            self.server_errors.set(errors.clone());
            return None;
        }
        Some(problem_message(error))
    }
}

/// What to tell the person about a refused change (field errors aside); an
/// expired session also opens the login dialog.
pub fn problem_message(error: &RpcError) -> String {
    if let Some(account) = use_context::<Account>() {
        account.notice(error);
    }
    match error {
        RpcError::Unauthorized(_) => {
            "Your session has expired: log in again, then save. What you typed is kept.".into()
        }
        other => other.to_string(),
    }
}

/// The create form, in a WASM chunk of its own (with the row editor's
/// fields): fetched when the person first opens it (see `chunk.rs`).
/// `on_close` hides it.
#[wasm_split(item_create_form, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn create_item_form(on_close: Callback<()>) -> Result<AnyView, NotLoaded> {
    Ok(view! { <CreateItemForm on_close/> }.into_any())
}

/// "Add an item": validates as you type, saves through `create_item`.
#[component]
fn CreateItemForm(on_close: Callback<()>) -> impl IntoView {
    let refresh = expect_context::<Refresh>();
    let state = ItemFormState::new(ItemForm::default());
    let errors = state.errors();
    let message = RwSignal::new(None::<(bool, String)>);

    let create = Action::new(move |draft: &ItemDraft| {
        let draft = draft.clone();
        async move { create_item(draft).await }
    });
    Effect::new(move |_| {
        if let Some(result) = create.value().get() {
            match result {
                Ok(item) => {
                    state.reset_to(ItemForm::default());
                    message.set(Some((
                        true,
                        format!("Added “{}” as item #{}.", item.name, item.id),
                    )));
                    refresh.bump();
                }
                Err(error) => {
                    message.set(state.absorb_error(&error).map(|m| (false, m)));
                }
            }
        }
    });

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        message.set(None);
        if let Some(draft) = state.draft_for_submit() {
            create.dispatch(draft);
        }
    };

    let creating = create.pending();
    view! {
        <section class="card create-card" aria-labelledby="create-heading">
            <h2 id="create-heading">"Add an item"</h2>
            <form class="item-form" on:submit=on_submit novalidate>
                <TextField id="new-name".into() label="Name" field="name" value=state.name
                    errors=errors show_errors=state.submitted generation=state.generation required=true placeholder="e.g. Desk lamp"/>
                <TextField id="new-category".into() label="Category" field="category" value=state.category
                    errors=errors show_errors=state.submitted generation=state.generation placeholder="e.g. Lighting"/>
                <TextField id="new-price".into() label="Price" field="price" value=state.price
                    errors=errors show_errors=state.submitted generation=state.generation placeholder="0.00" input_mode="decimal"/>
                <TextField id="new-description".into() label="Description" field="description"
                    value=state.description errors=errors show_errors=state.submitted generation=state.generation multiline=true
                    placeholder="Optional"/>
                <div class="form-actions">
                    <button type="submit" class="button primary" disabled=move || creating.get_or(false)>
                        {move || if creating.get_or(false) { "Adding…" } else { "Add item" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| on_close.run(())>"Close"</button>
                </div>
                {move || message.get_or(None).map(|(ok, text)| view! {
                    <p class=if ok { "form-status ok" } else { "form-status error" }
                       role=if ok { "status" } else { "alert" }>{text}</p>
                })}
            </form>
        </section>
    }
}
