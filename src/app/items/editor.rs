//! A row's inline editor, in a WASM chunk of its own: the table hydrates
//! without it, and the first click on Edit fetches it (a few kilobytes;
//! see `app/chunk.rs`).

use leptos::prelude::*;
use leptos::wasm_split::wasm_split;

use super::form::ItemFormState;
use super::live::LiveTable;
use super::row::{timestamp, Mode};
use super::Refresh;
use crate::app::chunk::NotLoaded;
use crate::app::reactive::Live;
use crate::app::widgets::TextField;
use crate::domain::{Item, ItemDraft, ItemForm};
use crate::rpc::update_item;

/// The cells of `item`'s row while it is being edited: the fields, Save and
/// Cancel. `mode` goes back to [`Mode::View`] on Cancel; `problem` shows
/// what went wrong with the last save.
#[wasm_split(item_row_editor, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn row_editor(
    item: Item,
    mode: RwSignal<Mode>,
    problem: RwSignal<Option<String>>,
) -> Result<AnyView, NotLoaded> {
    Ok(view! { <RowEditor item mode problem/> }.into_any())
}

#[component]
fn RowEditor(item: Item, mode: RwSignal<Mode>, problem: RwSignal<Option<String>>) -> impl IntoView {
    let refresh = expect_context::<Refresh>();
    let live = expect_context::<LiveTable>();
    let state = ItemFormState::new(ItemForm::from_item(&item));
    let errors = state.errors();
    let (id, version) = (item.id, item.version);

    let save = Action::new(move |draft: &ItemDraft| {
        let draft = draft.clone();
        async move { update_item(id, version, draft).await }
    });
    // Success reloads the table, which re-creates this row from fresh data.
    Effect::new(move |_| {
        if save.pending().get() {
            live.saving(id, true);
            return;
        }
        match save.value().get() {
            Some(Ok(_)) => {
                live.saving(id, false);
                live.editing_ended(id);
                refresh.bump();
            }
            Some(Err(error)) => {
                live.saving(id, false);
                problem.set(state.absorb_error(&error));
            }
            None => {}
        }
    });
    // Cancelled while saving: the save's own change is news again (the
    // stream then reloads the table).
    on_cleanup(move || live.saving(id, false));

    let on_save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        if let Some(draft) = state.draft_for_submit() {
            save.dispatch(draft);
        }
    };
    let cancel = move |_| {
        problem.set(None);
        mode.set(Mode::View);
    };

    let saving = save.pending();
    let form_id = format!("edit-{id}");
    let field_id = move |f: &str| format!("edit-{id}-{f}");
    view! {
        <td class="col-id" data-label="ID">{id}</td>
        <td class="col-name" data-label="Name">
            <TextField id=field_id("name") form=form_id.clone() label="Name" field="name" value=state.name
                errors=errors show_errors=state.submitted generation=state.generation required=true/>
        </td>
        <td class="col-description" data-label="Description">
            <TextField id=field_id("description") form=form_id.clone() label="Description" field="description"
                value=state.description errors=errors show_errors=state.submitted generation=state.generation multiline=true/>
        </td>
        <td class="col-category" data-label="Category">
            <TextField id=field_id("category") form=form_id.clone() label="Category" field="category"
                value=state.category errors=errors show_errors=state.submitted generation=state.generation/>
        </td>
        <td class="col-price num" data-label="Price">
            <TextField id=field_id("price") form=form_id.clone() label="Price" field="price" value=state.price
                errors=errors show_errors=state.submitted generation=state.generation input_mode="decimal"/>
        </td>
        <td class="col-updated" data-label="Updated">{timestamp(item.updated_at)}</td>
        <td class="col-actions">
            <form id=form_id.clone() class="row-form" on:submit=on_save novalidate></form>
            <div class="row-actions">
                <button type="submit" form=form_id class="button small primary"
                    disabled=move || saving.get_or(false)>
                    {move || if saving.get_or(false) { "Saving…" } else { "Save" }}
                </button>
                <button type="button" class="button small" on:click=cancel>"Cancel"</button>
            </div>
            {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
            {move || live.changed_elsewhere(id).then(|| view! {
                <p class="row-note" role="status">
                    "Someone else changed this item while you were editing it; saving now will be refused. Cancel to see their version."
                </p>
            })}
        </td>
    }
}
