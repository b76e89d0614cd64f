//! `/history?item=ID`: every change of one item, newest first: who made it,
//! when and through which door, each field's old and new value, and (for
//! editors) putting an earlier revision's fields back.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde_json::Value;

use crate::app::account::{allows, Account};
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::trash::day_and_time;
use crate::app::widgets::{load_failed, report_outcome, HydrationMarker, OlderNewer};
use crate::domain::{Action as Change, Door, Permission, Revision};
use crate::rpc::{list_history, revert_item};

#[component]
pub fn HistoryPage() -> impl IntoView {
    let account = expect_context::<Account>();
    let query = use_query_map();
    let id = move || {
        query
            .live_with(|q| q.get("item").and_then(|v| v.parse::<i64>().ok()))
            .flatten()
    };
    // The page shown: the newest (`None`), or the one below a version.
    let before = RwSignal::new(None::<i64>);
    let version = RwSignal::new(0u64);
    let page = KeptResource::new(ArcResource::new(
        move || (id(), before.get_or(None), version.get_or(0)),
        |(id, before, _)| async move {
            match id {
                Some(id) => list_history(id, before).await.map(Some),
                None => Ok(None),
            }
        },
    ));
    let reverted = Callback::new(move |_| {
        before.set(None);
        version.update(|n| *n += 1);
    });

    view! {
        <Title text="History"/>
        <div class="page-head">
            <div>
                <h1>"History"</h1>
                <p class="muted">"Every change of the item, newest first: who made it, when, and what each field was before."</p>
            </div>
            <div class="page-actions"><a class="button" href="/">"Back to items"</a></div>
        </div>
        <div class="layout">
        <section class="card history-card" aria-labelledby="history-heading">
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading the history…"</p> }>
                {move || suspend(async move {
                    let listing = try_await(page).await?;
                    let session = try_await(account.session).await;
                    let can_revert = session.is_some_and(|s| allows(&s, Permission::WriteItems));
                    Some(match listing {
                        Ok(None) => view! {
                            <p class="muted" id="history-heading">"Open an item's history from its row in the table."</p>
                            <HydrationMarker/>
                        }
                        .into_any(),
                        Ok(Some(page)) => {
                            // The newest revision is the item as it stands (unless deleted).
                            // `try_`: this can run on after the page was disposed.
                            let newest = before.try_get_untracked().flatten().is_none()
                                .then(|| page.revisions.first().cloned())
                                .flatten()
                                .filter(|r| r.action != Change::Delete);
                            let title = page.revisions.first().map_or_else(String::new, |r| {
                                format!("“{}” (item {})", r.item.name, r.item_id)
                            });
                            let current = newest.as_ref().map(|r| r.version);
                            view! {
                                <h2 id="history-heading" class="history-title">{title}</h2>
                                {page.revisions.is_empty().then(|| view! {
                                    <p class="muted">"No changes are kept for this item (it predates history, or retention removed them)."</p>
                                })}
                                <ol class="history">
                                    {page.revisions.into_iter().map(|revision| {
                                        let offer = can_revert && current.is_some_and(|c| c != revision.version)
                                            && revision.action != Change::Delete;
                                        view! { <RevisionEntry revision current=current.filter(|_| offer) on_reverted=reverted/> }
                                    }).collect_view()}
                                </ol>
                                <OlderNewer at=before older=page.before label="History pages"/>
                                <HydrationMarker/>
                            }
                            .into_any()
                        }
                        Err(error) => {
                            account.notice(&error);
                            load_failed(format!("Could not load the history. {error}"), version)
                        }
                    })
                })}
            </Transition>
        </section>
        </div>
    }
}

/// One revision: what, who, when, through which door, the fields it
/// changed, and (with `current`, the item's version now) "Revert to this".
#[component]
fn RevisionEntry(
    revision: Revision,
    current: Option<i64>,
    on_reverted: Callback<()>,
) -> impl IntoView {
    let account = expect_context::<Account>();
    let (id, version) = (revision.item_id, revision.version);
    let problem = RwSignal::new(None::<String>);
    let revert = Action::new(move |current: &i64| {
        let current = *current;
        async move { revert_item(id, version, current).await }
    });
    // Read once here, like the trash row's (see there).
    let reverting = revert.pending();
    report_outcome(revert, account, problem, move |_| on_reverted.run(()));
    let what = match (revision.action, revision.reverted_to) {
        (Change::Revert, Some(to)) => format!("Reverted to version {to}"),
        (Change::Create, _) => "Created".into(),
        (Change::Update, _) => "Updated".into(),
        (Change::Delete, _) => "Deleted".into(),
        (Change::Import, _) => "Imported".into(),
        (Change::Restore, _) => "Restored from the trash".into(),
        (Change::Revert, None) => "Reverted".into(),
    };
    let who = match (&revision.actor, &revision.token) {
        (Some(actor), Some(token)) => format!("{actor} (token {token})"),
        (Some(actor), None) => actor.clone(),
        (None, _) => "nobody logged in".into(),
    };
    let door = match revision.door {
        Door::Rest => "REST",
        Door::Ui => "the UI",
        Door::Import => "an import",
        Door::Bulk => "a bulk action",
    };
    let at = day_and_time(&revision.at);
    view! {
        <li class="revision" data-version=version>
            <div class="revision-head">
                <span class="tag">"v" {version}</span>
                <strong>{what}</strong>
                <span class="muted">{format!("by {who}, through {door}, {at}")}</span>
                {current.map(|current| view! {
                    <button type="button" class="button small" disabled=move || reverting.get_or(false)
                        on:click=move |_| { problem.set(None); revert.dispatch(current); }>
                        "Revert to this"
                    </button>
                })}
            </div>
            {(!revision.changes.is_empty()).then(|| view! {
                <table class="diff">
                    <thead><tr>
                        <th scope="col">"Field"</th>
                        <th scope="col">"Before"</th>
                        <th scope="col">"After"</th>
                    </tr></thead>
                    <tbody>
                        {revision.changes.into_iter().map(|change| view! {
                            <tr>
                                <th scope="row">{change.field}</th>
                                <td class="old">{shown(&change.old)}</td>
                                <td class="new">{shown(&change.new)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
        </li>
    }
}

/// A field's value as the table shows it (`—` for none).
fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(text) => text.clone(),
        // `25`, not JSON's `25.0`.
        Value::Number(n) => {
            let text = n.to_string();
            match text.as_bytes().ends_with(b".0") {
                true => text[..text.len() - 2].to_owned(),
                false => text,
            }
        }
        other => other.to_string(),
    }
}
