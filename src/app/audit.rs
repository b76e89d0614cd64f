//! `/admin?view=audit`: the audit log, for admins. Newest first, filtered
//! by user and action; the filters and the page are in the address, so a
//! view can be linked and works before the page is interactive.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::app::account::Account;
use crate::app::admin::AdminTabs;
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::{load_failed, HydrationMarker};
use crate::domain::{AuditAction, AuditEntry, AuditFilter, Door};
use crate::rpc::{list_audit, RpcError};

/// The address of a page of the audit log.
fn page_href(filter: &AuditFilter, cursor: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("view", "audit");
    if let Some(user) = &filter.user {
        query.append_pair("user", user);
    }
    if let Some(action) = filter.action {
        query.append_pair("action", action.as_str());
    }
    if let Some(cursor) = cursor {
        query.append_pair("cursor", cursor);
    }
    format!("/admin?{}", query.finish())
}

#[component]
pub fn AuditLog() -> impl IntoView {
    let account = expect_context::<Account>();
    let query = use_query_map();
    // What the address asks for: the filter and where the page starts.
    let wanted = move || {
        query
            .live_with(|q| {
                let filter = AuditFilter {
                    user: q.get("user").filter(|u| !u.trim().is_empty()),
                    action: q.get("action").as_deref().and_then(AuditAction::parse),
                    ..AuditFilter::default()
                };
                (filter, q.get("cursor"))
            })
            .unwrap_or_default()
    };
    let version = RwSignal::new(0u64);
    let page = KeptResource::new(ArcResource::new(
        move || (wanted(), version.get_or(0)),
        |((filter, cursor), _)| list_audit(filter, cursor),
    ));
    let user = RwSignal::new(wanted().0.user.unwrap_or_default());
    let action = RwSignal::new(wanted().0.action.map_or("", AuditAction::as_str).to_owned());
    let navigate = use_navigate();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let filter = AuditFilter {
            user: Some(user.get_untracked()).filter(|u| !u.trim().is_empty()),
            action: AuditAction::parse(&action.get_untracked()),
            ..AuditFilter::default()
        };
        navigate(&page_href(&filter, None), Default::default());
    };

    view! {
        <Title text="Audit log"/>
        <div class="page-head">
            <div>
                <h1>"Audit log"</h1>
                <p class="muted">"Logins, tokens and changes to users, newest first. Entries cannot be changed or removed."</p>
            </div>
            <AdminTabs/>
        </div>
        <div class="layout">
        <section class="card table-card" aria-labelledby="audit-heading">
            <h2 id="audit-heading" class="visually-hidden">"Entries"</h2>
            <form class="toolbar" role="search" method="get" action="/admin" on:submit=on_submit>
                <input type="hidden" name="view" value="audit"/>
                <div class="field inline grow">
                    <label for="audit-user" class="visually-hidden">"User"</label>
                    <input id="audit-user" name="user" type="search" placeholder="User…"
                        autocomplete="off" bind:value=user/>
                </div>
                <div class="field inline">
                    <label for="audit-action" class="visually-hidden">"Action"</label>
                    <select id="audit-action" name="action" prop:value=action
                        on:change=move |ev| action.set(event_target_value(&ev))>
                        <option value="">"All actions"</option>
                        {AuditAction::ALL.map(|a| {
                            let selected = action.get_untracked() == a.as_str();
                            view! { <option value=a.as_str() selected=selected>{label(a)}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="button">"Filter"</button>
            </form>
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading the audit log…"</p> }>
                {move || suspend(async move {
                    let listing = try_await(page).await?;
                    let (filter, cursor) = wanted();
                    Some(match listing {
                        Ok(page) if page.entries.is_empty() => view! {
                            <p class="empty-audit muted">"No entries."</p>
                            <HydrationMarker/>
                        }
                        .into_any(),
                        Ok(page) => view! {
                            <div class="table-wrap">
                                <table class="items audit">
                                    <thead><tr>
                                        <th scope="col">"When"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"User"</th>
                                        <th scope="col">"Subject"</th>
                                        <th scope="col">"Detail"</th>
                                        <th scope="col">"From"</th>
                                    </tr></thead>
                                    <tbody>
                                        {page.entries.into_iter().map(|entry| view! { <AuditRow entry/> }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                            {(cursor.is_some() || page.next.is_some()).then(|| view! {
                                <nav class="pagination" aria-label="Audit log pages">
                                    {cursor.is_some().then(|| view! {
                                        <a class="button small" href=page_href(&filter, None)>"Newest"</a>
                                    })}
                                    {page.next.as_deref().map(|next| view! {
                                        <a class="button small" href=page_href(&filter, Some(next))>"Older"</a>
                                    })}
                                </nav>
                            })}
                            <HydrationMarker/>
                        }
                        .into_any(),
                        Err(error) => {
                            account.notice(&error);
                            let message = match error {
                                RpcError::Forbidden(_) => "Only admins can read the audit log.".to_string(),
                                RpcError::Unauthorized(_) => "Log in as an admin to read the audit log.".to_string(),
                                other => format!("Could not load the audit log. {other}"),
                            };
                            load_failed(message, version)
                        }
                    })
                })}
            </Transition>
        </section>
        </div>
    }
}

#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let dash = || "—".to_owned();
    let user = match (&entry.actor, &entry.token) {
        (Some(actor), Some(token)) => format!("{actor} (token {token})"),
        (Some(actor), None) => actor.clone(),
        (None, _) => "—".into(),
    };
    let door = match entry.door {
        Some(Door::Rest) => "REST",
        Some(Door::Ui) => "UI",
        Some(Door::Import) => "import",
        Some(Door::Bulk) => "bulk",
        None => "server",
    };
    let from = match &entry.client {
        Some(client) => format!("{door}, {client}"),
        None => door.to_owned(),
    };
    let failed = matches!(
        entry.action,
        AuditAction::LoginFailed | AuditAction::RefreshTokenReused
    );
    view! {
        <tr data-audit-id=entry.id class:warn=failed>
            <td data-label="When" title=entry.at.clone()>{day_and_time(&entry.at)}</td>
            <td data-label="Action"><span class="audit-action">{label(entry.action)}</span></td>
            <td data-label="User">{user}</td>
            <td data-label="Subject">{entry.subject.unwrap_or_else(dash)}</td>
            <td data-label="Detail">{entry.detail.unwrap_or_else(dash)}</td>
            <td data-label="From" title=entry.request_id.map(|id| format!("request {id}"))>{from}</td>
        </tr>
    }
}

/// An action in words.
fn label(action: AuditAction) -> &'static str {
    match action {
        AuditAction::Login => "Logged in",
        AuditAction::LoginFailed => "Login failed",
        AuditAction::Logout => "Logged out",
        AuditAction::RefreshTokenReused => "Refresh token reused",
        AuditAction::TokenCreated => "API token created",
        AuditAction::TokenRevoked => "API token revoked",
        AuditAction::UserCreated => "User created",
        AuditAction::RoleChanged => "Role changed",
        AuditAction::UserDisabled => "User disabled",
        AuditAction::UserEnabled => "User enabled",
        AuditAction::PasswordReset => "Password reset",
    }
}

/// `2026-01-03 08:15:07 UTC` of an RFC 3339 time.
fn day_and_time(at: &str) -> String {
    match (at.get(..10), at.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => at.to_owned(),
    }
}
