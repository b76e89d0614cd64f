//! `/deleted`: the trash. Deleted items, newest first, with who deleted
//! them and when, to restore (editors) or purge for good (admins).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::app::account::{allows, Account};
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::{load_failed, report_outcome, HydrationMarker, OlderNewer};
use crate::domain::{Permission, TrashedItem};
use crate::rpc::{list_trash, purge_item, restore_item};

#[component]
pub fn TrashPage() -> impl IntoView {
    let account = expect_context::<Account>();
    // The page shown: the first (`None`), or the one after a cursor.
    let cursor = RwSignal::new(None::<String>);
    let version = RwSignal::new(0u64);
    let page = KeptResource::new(ArcResource::new(
        move || (cursor.get_or(None), version.get_or(0)),
        |(cursor, _)| list_trash(cursor),
    ));
    let changed = Callback::new(move |_| version.update(|n| *n += 1));

    view! {
        <Title text="Trash"/>
        <div class="page-head">
            <div>
                <h1>"Trash"</h1>
                <p class="muted">"Deleted items, most recent first. Restore brings one back as it was; purging removes it for good."</p>
            </div>
        </div>
        <div class="layout">
        <section class="card table-card" aria-labelledby="trash-heading">
            <h2 id="trash-heading" class="visually-hidden">"Deleted items"</h2>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading the trash…"</p> }>
                {move || suspend(async move {
                    let listing = try_await(page).await?;
                    let session = try_await(account.session).await;
                    let (can_restore, can_purge) = session.map_or((false, false), |s| {
                        (allows(&s, Permission::WriteItems), allows(&s, Permission::PurgeItems))
                    });
                    Some(match listing {
                        Ok(page) if page.items.is_empty() => view! {
                            <p class="empty-trash muted">"The trash is empty."</p>
                            <HydrationMarker/>
                        }
                        .into_any(),
                        Ok(page) => view! {
                            <div class="table-wrap">
                                <table class="items trash">
                                    <thead><tr>
                                        <th scope="col">"ID"</th>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Category"</th>
                                        <th scope="col">"Price"</th>
                                        <th scope="col">"Deleted"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr></thead>
                                    <tbody>
                                        {page.items.into_iter().map(|item| view! {
                                            <TrashRow account item can_restore can_purge on_changed=changed/>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            <OlderNewer at=cursor older=page.next label="Trash pages"/>
                            <HydrationMarker/>
                        }
                        .into_any(),
                        Err(error) => {
                            account.notice(&error);
                            load_failed(format!("Could not load the trash. {error}"), version)
                        }
                    })
                })}
            </Transition>
        </section>
        </div>
    }
}

#[component]
fn TrashRow(
    account: Account,
    item: TrashedItem,
    can_restore: bool,
    can_purge: bool,
    on_changed: Callback<()>,
) -> impl IntoView {
    let id = item.id;
    let problem = RwSignal::new(None::<String>);
    let confirming = RwSignal::new(false);
    let restore = Action::new(move |_: &()| async move { restore_item(id).await.map(drop) });
    let purge = Action::new(move |_: &()| async move { purge_item(id).await });
    for action in [restore, purge] {
        report_outcome(action, account, problem, move |()| on_changed.run(()));
    }
    // Read once here: an action's `pending` panics once the row is gone,
    // which a render cancelled mid-way (a closed connection) can reach.
    let (restoring, purging) = (restore.pending(), purge.pending());
    let busy = move || restoring.get_or(false) || purging.get_or(false);
    let name = item.name.clone();
    let deleted = match &item.deleted_by {
        Some(by) => format!("{} by {by}", day_and_time(&item.deleted_at)),
        None => day_and_time(&item.deleted_at),
    };
    let purge_actions = move || {
        if confirming.get_or(false) {
            view! {
                <span class="confirm-text">"Gone for good?"</span>
                <button type="button" class="button small danger" disabled=busy
                    on:click=move |_| { problem.set(None); purge.dispatch(()); }>"Yes, purge"</button>
                <button type="button" class="button small" on:click=move |_| confirming.set(false)>"Cancel"</button>
            }
            .into_any()
        } else {
            view! {
                <button type="button" class="button small danger-outline" disabled=busy
                    on:click=move |_| confirming.set(true)>"Purge"</button>
            }
            .into_any()
        }
    };
    view! {
        <tr data-item-id=id>
            <td class="col-id" data-label="ID">{id}</td>
            <td class="col-name" data-label="Name"><span class="item-name">{item.name.clone()}</span></td>
            <td data-label="Category">{item.category.unwrap_or_else(|| "—".into())}</td>
            <td class="col-price" data-label="Price">{item.price.map_or_else(|| "—".into(), |p| format!("{p:.2}"))}</td>
            <td data-label="Deleted" title=item.deleted_at.clone()>{deleted}</td>
            <td class="col-actions">
                <div class="row-actions">
                    {can_restore.then(|| view! {
                        <button type="button" class="button small" aria-label=format!("Restore {name}")
                            disabled=busy on:click=move |_| { problem.set(None); restore.dispatch(()); }>
                            "Restore"
                        </button>
                    })}
                    {can_purge.then(|| purge_actions)}
                </div>
                {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
            </td>
        </tr>
    }
}

/// `2026-01-03 08:15 UTC` of an RFC 3339 time.
pub(crate) fn day_and_time(at: &str) -> String {
    match (at.get(..10), at.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => at.to_owned(),
    }
}
