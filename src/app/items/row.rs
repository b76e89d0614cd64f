//! One table row: shows an item, edits it in place, deletes it after a
//! confirmation.

use leptos::either::Either;
use leptos::prelude::*;

use super::editor::row_editor;
use super::form::problem_message;
use super::live::LiveTable;
use super::undo::offer_undo;
use crate::app::chunk::{NotLoaded, NOT_LOADED};
use crate::app::reactive::{suspend, Live};
use crate::domain::Item;
use crate::rpc::delete_item;

/// What a writable row shows.
#[derive(Clone, Copy, PartialEq)]
pub enum Mode {
    View,
    Edit,
    ConfirmDelete,
}

/// One item's row: read-only cells for those who may not change items, the
/// inline editor and delete confirmation for those who may.
///
/// The page's state comes as a prop, not from context: rows are created
/// inside the table's `Suspend`, which on the server can still be running
/// after the request was cancelled and the page's owner (and its context)
/// is gone.
#[component]
pub fn ItemRow(
    item: Item,
    /// Whether Edit and Delete are offered (editors and admins).
    writable: bool,
    live: LiveTable,
) -> impl IntoView {
    if writable {
        view! { <EditableRow item live/> }.into_any()
    } else {
        // No signals, actions or effects: nothing on this row can change,
        // and a page of them renders in a fraction of the time.
        let id = item.id;
        view! { <tr data-item-id=id>{item_cells(item)}</tr> }.into_any()
    }
}

/// The cells showing an item.
fn item_cells(item: Item) -> impl IntoView {
    let missing = || view! { <span class="none">"—"</span> };
    let updated_at = item.updated_at;
    view! {
        <td class="col-id" data-label="ID">{item.id}</td>
        <td class="col-name" data-label="Name"><span class="item-name">{item.name}</span></td>
        <td class="col-description" data-label="Description">
            {match item.description {
                Some(d) => Either::Left(view! { <span class="clamp">{d}</span> }),
                None => Either::Right(missing()),
            }}
        </td>
        <td class="col-category" data-label="Category">
            {match item.category {
                Some(c) => Either::Left(view! { <span class="tag">{c}</span> }),
                None => Either::Right(missing()),
            }}
        </td>
        <td class="col-price num" data-label="Price">
            {match item.price {
                Some(p) => Either::Left(view! { <span>{format_price(p)}</span> }),
                None => Either::Right(missing()),
            }}
        </td>
        <td class="col-updated" data-label="Updated">{timestamp(updated_at)}</td>
    }
}

/// A row with Edit and Delete. The editor itself is loaded on the first
/// Edit (see `editor.rs`); until it arrives the row shows the item and
/// says it is opening.
#[component]
fn EditableRow(item: Item, live: LiveTable) -> impl IntoView {
    let refresh = live.refresh();
    let mode = RwSignal::new(Mode::View);
    let problem = RwSignal::new(None::<String>);
    let (id, version) = (item.id, item.version);
    // While the editor is open, live updates wait (see `live.rs`).
    Effect::new(move |_| {
        if mode.get() == Mode::Edit {
            live.editing_started(id);
        } else {
            live.editing_ended(id);
        }
    });
    // Only forgets: a reload started from a disposal would run while the
    // table is being replaced.
    on_cleanup(move || {
        live.forget(id);
    });

    let remove = Action::new(move |_: &()| async move { delete_item(id, version).await });
    let deleted_name = item.name.clone();
    Effect::new(move |_| match remove.value().get() {
        Some(Ok(())) => {
            refresh.bump();
            let name = deleted_name.clone();
            // Without its code (it could not be fetched) there is no offer;
            // the item is in the trash all the same.
            leptos::task::spawn_local(async move {
                let _ = offer_undo(id, name, refresh).await;
            });
        }
        Some(Err(error)) => {
            mode.set(Mode::View);
            problem.set(Some(problem_message(&error)));
        }
        None => {}
    });

    let deleting = remove.pending();
    let name = item.name.clone();
    let actions = move || {
        let name = name.clone();
        match mode.get_or(Mode::View) {
            Mode::ConfirmDelete => view! {
                <div class="row-actions confirm" role="group" aria-label=format!("Confirm deleting {name}")>
                    <span class="confirm-text">"Delete?"</span>
                    <button type="button" class="button small danger" disabled=move || deleting.get_or(false)
                        on:click=move |_| { remove.dispatch(()); }>
                        {move || if deleting.get_or(false) { "Deleting…" } else { "Yes, delete" }}
                    </button>
                    <button type="button" class="button small" on:click=move |_| mode.set(Mode::View)>"Cancel"</button>
                </div>
            }
            .into_any(),
            _ => view! {
                <div class="row-actions">
                    <button type="button" class="button small" aria-label=format!("Edit {name}")
                        on:click=move |ev| {
                            // The Save button takes this button's place during the
                            // click; stop the click from then submitting the form.
                            ev.prevent_default();
                            problem.set(None);
                            mode.set(Mode::Edit)
                        }>"Edit"</button>
                    <a class="button small" href=format!("/history?item={id}") aria-label=format!("History of {name}")>"History"</a>
                    <button type="button" class="button small danger-outline" aria-label=format!("Delete {name}")
                        on:click=move |ev| {
                            ev.prevent_default();
                            problem.set(None);
                            mode.set(Mode::ConfirmDelete)
                        }>"Delete"</button>
                </div>
            }
            .into_any(),
        }
    };
    // The item's cells and the actions, as the server renders the row.
    let shown = {
        let item = item.clone();
        move || {
            view! {
                {item_cells(item.clone())}
                <td class="col-actions">
                    {actions.clone()}
                    {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
                </td>
            }
        }
    };
    let opening = {
        let item = item.clone();
        move || {
            view! {
                {item_cells(item.clone())}
                <td class="col-actions"><p class="row-note" role="status">"Opening the editor…"</p></td>
            }
        }
    };

    // Only opening and closing the editor replace the cells; a delete
    // confirmation changes the actions alone.
    let editing = Memo::new(move |_| mode.get_or(Mode::View) == Mode::Edit);
    let select_label = format!("Select {}", item.name);
    view! {
        <tr data-item-id=id class:editing=move || editing.get_or(false)>
            <td class="col-select">
                <input type="checkbox" class="select" aria-label=select_label/>
            </td>
            {move || if editing.get_or(false) {
                let item = item.clone();
                let opening = opening.clone();
                view! {
                    <Suspense fallback=opening>
                        {move || {
                            let item = item.clone();
                            suspend(async move {
                                row_editor(item.clone(), mode, problem).await.unwrap_or_else(|NotLoaded| view! {
                                    {item_cells(item)}
                                    <td class="col-actions">
                                        <p class="row-problem" role="alert" title=NOT_LOADED>"Could not load the editor: reload the page."</p>
                                        <button type="button" class="button small" on:click=move |_| mode.set(Mode::View)>"Cancel"</button>
                                    </td>
                                }.into_any())
                            })
                        }}
                    </Suspense>
                }
                .into_any()
            } else {
                shown().into_any()
            }}
        </tr>
    }
}

/// A price with two decimals and thousands separators.
fn format_price(price: f64) -> String {
    let fixed = format!("{price:.2}");
    let (whole, cents) = fixed.split_once('.').unwrap_or((&fixed, "00"));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped}.{cents}")
}

/// An RFC 3339 time shown as `YYYY-MM-DD HH:MM` (UTC), full value on hover.
pub fn timestamp(value: String) -> impl IntoView {
    let short = value
        .get(..16)
        .map(|s| s.replace('T', " "))
        .unwrap_or_else(|| value.clone());
    let title = format!("{value} (UTC)");
    view! { <time datetime=value title=title>{short}</time> }
}

#[cfg(test)]
mod tests {
    use super::format_price;

    #[test]
    fn prices_are_grouped_with_two_decimals() {
        assert_eq!(format_price(0.0), "0.00");
        assert_eq!(format_price(12.5), "12.50");
        assert_eq!(format_price(1234567.891), "1,234,567.89");
        assert_eq!(format_price(100.0), "100.00");
    }
}
