//! `/admin`: the admins' user list: add users, change roles, disable and
//! enable, reset passwords.

use leptos::prelude::*;
use leptos_meta::Title;

use leptos_router::hooks::use_query_map;

use crate::app::account::{allows, Account};
use crate::app::audit::AuditLog;
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::{Banner, HydrationMarker};
use crate::domain::{Permission, Role, User};
use crate::rpc::RpcError;
use crate::rpc::{add_user, change_user, list_users};

/// `/admin`: the users, or with `?view=audit` the audit log.
#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let audit = Memo::new(move |_| {
        query
            .live_with(|q| q.get("view").as_deref() == Some("audit"))
            .unwrap_or(false)
    });
    move || match audit.get_or(false) {
        true => view! { <AuditLog/> }.into_any(),
        false => view! { <UsersPage/> }.into_any(),
    }
}

/// Links between the admin pages; the one shown is marked current.
#[component]
pub fn AdminTabs() -> impl IntoView {
    let query = use_query_map();
    let audit = move || {
        query
            .live_with(|q| q.get("view").as_deref() == Some("audit"))
            .unwrap_or(false)
    };
    let current = |on: bool| on.then_some("page");
    view! {
        <nav class="tabs" aria-label="Administration">
            <a href="/admin" aria-current=move || current(!audit())>"Users"</a>
            <a href="/admin?view=audit" aria-current=move || current(audit())>"Audit log"</a>
        </nav>
    }
}

#[component]
fn UsersPage() -> impl IntoView {
    let account = expect_context::<Account>();
    let version = RwSignal::new(0u64);
    let users = KeptResource::new(ArcResource::new(
        move || version.live_get().unwrap_or_default(),
        |_| list_users(),
    ));
    let reload = move || version.update(|n| *n += 1);

    view! {
        <Title text="Users"/>
        <div class="page-head">
            <div>
                <h1>"Users"</h1>
                <p class="muted">"Viewers read; editors also add, edit and delete items; admins also manage users."</p>
            </div>
            <AdminTabs/>
        </div>
        <div class="layout">
        // Outside the list's transition: reloading the list keeps the form
        // (and its confirmation) as it is.
        <Transition fallback=|| ()>
            {move || suspend(async move {
                let session = try_await(account.session).await?;
                allows(&session, Permission::ManageUsers)
                    .then(|| view! { <AddUserForm account on_added=Callback::new(move |_| reload())/> })
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || suspend(async move {
                let Some(listing) = try_await(users).await else {
                    return ().into_any();
                };
                match listing {
                    Ok(list) => view! {
                            <section class="card table-card" aria-labelledby="users-heading">
                                <h2 id="users-heading" class="visually-hidden">"User list"</h2>
                                <div class="table-wrap">
                                    <table class="items users">
                                        <thead><tr>
                                            <th scope="col">"Name"</th>
                                            <th scope="col">"Role"</th>
                                            <th scope="col">"State"</th>
                                            <th scope="col">"Password"</th>
                                        </tr></thead>
                                        <tbody>
                                            {list.into_iter().map(|user| view! {
                                                <UserRow account user=user on_changed=Callback::new(move |_| reload())/>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            </section>
                        <HydrationMarker/>
                    }
                    .into_any(),
                    Err(error) => {
                        account.notice(&error);
                        let message = Signal::stored(Some(match error {
                            RpcError::Forbidden(_) => "Only admins can manage users.".to_string(),
                            RpcError::Unauthorized(_) => "Log in as an admin to manage users.".to_string(),
                            other => format!("Could not load the users. {other}"),
                        }));
                        view! { <Banner message=message/><HydrationMarker/> }.into_any()
                    }
                }
            })}
        </Transition>
        </div>
    }
}

fn role_options(selected: Role) -> impl IntoView {
    Role::ALL
        .into_iter()
        .map(|role| {
            view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> }
        })
        .collect_view()
}

/// Takes the account as a prop rather than from context: it is created
/// inside a `Suspend`, which on the server can still be running after the
/// request was cancelled and the page's owner (and its context) is gone.
#[component]
fn AddUserForm(account: Account, #[prop(into)] on_added: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let status = RwSignal::new(None::<(bool, String)>);
    let add = Action::new(move |(n, p, r): &(String, String, Role)| {
        let (n, p, r) = (n.clone(), p.clone(), *r);
        async move { add_user(n, p, r).await }
    });
    Effect::new(move |_| match add.value().get() {
        Some(Ok(user)) => {
            name.set(String::new());
            password.set(String::new());
            status.set(Some((
                true,
                format!("Added {} as {}.", user.name, user.role.as_str()),
            )));
            on_added.run(());
        }
        Some(Err(error)) => {
            account.notice(&error);
            let text = match &error {
                RpcError::Validation(errors) => errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join(" · "),
                other => other.to_string(),
            };
            status.set(Some((false, text)));
        }
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        status.set(None);
        add.dispatch((
            name.get_untracked(),
            password.get_untracked(),
            role.get_untracked(),
        ));
    };
    let adding = add.pending();
    view! {
        <section class="card create-card" aria-labelledby="add-user-heading">
            <h2 id="add-user-heading">"Add a user"</h2>
            <form class="item-form" on:submit=on_submit novalidate>
                <div class="field">
                    <label for="new-user-name">"User name"</label>
                    <input id="new-user-name" autocomplete="off" prop:value=name
                        on:input=move |ev| name.set(event_target_value(&ev)) placeholder="e.g. grace"/>
                </div>
                <div class="field">
                    <label for="new-user-password">"Password"</label>
                    <input id="new-user-password" type="password" autocomplete="new-password" prop:value=password
                        on:input=move |ev| password.set(event_target_value(&ev)) placeholder="8 characters or more"/>
                </div>
                <div class="field">
                    <label for="new-user-role">"Role"</label>
                    <select id="new-user-role" on:change=move |ev| {
                        if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }
                    }>{role_options(Role::Viewer)}</select>
                </div>
                <div class="form-actions">
                    <button type="submit" class="button primary" disabled=move || adding.get_or(false)>
                        {move || if adding.get_or(false) { "Adding…" } else { "Add user" }}
                    </button>
                </div>
                {move || status.get_or(None).map(|(ok, text)| view! {
                    <p class=if ok { "form-status ok" } else { "form-status error" }
                       role=if ok { "status" } else { "alert" }>{text}</p>
                })}
            </form>
        </section>
    }
}

/// Takes the account as a prop, as [`AddUserForm`] does.
#[component]
fn UserRow(account: Account, user: User, #[prop(into)] on_changed: Callback<()>) -> impl IntoView {
    let id = user.id;
    let problem = RwSignal::new(None::<String>);
    let new_password = RwSignal::new(String::new());
    let change = Action::new(
        move |(role, disabled, password): &(Option<Role>, Option<bool>, Option<String>)| {
            let (role, disabled, password) = (*role, *disabled, password.clone());
            async move { change_user(id, role, disabled, password).await }
        },
    );
    Effect::new(move |_| match change.value().get() {
        Some(Ok(_)) => {
            problem.set(None);
            new_password.set(String::new());
            on_changed.run(());
        }
        Some(Err(error)) => {
            account.notice(&error);
            problem.set(Some(match error {
                RpcError::Validation(errors) => errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
                other => other.to_string(),
            }));
        }
        None => {}
    });
    let disabled = user.disabled;
    let name = user.name.clone();
    view! {
        <tr data-user=user.name.clone() class:muted-row=disabled>
            <td data-label="Name">{user.name.clone()}</td>
            <td data-label="Role">
                <select aria-label=format!("Role of {name}") on:change=move |ev| {
                    if let Some(role) = Role::parse(&event_target_value(&ev)) {
                        change.dispatch((Some(role), None, None));
                    }
                }>{role_options(user.role)}</select>
            </td>
            <td data-label="State">
                <button type="button" class="button small" on:click=move |_| { change.dispatch((None, Some(!disabled), None)); }>
                    {if disabled { "Disabled · enable" } else { "Active · disable" }}
                </button>
            </td>
            <td data-label="Password">
                <form class="inline-form" on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    change.dispatch((None, None, Some(new_password.get_untracked())));
                }>
                    <input type="password" autocomplete="new-password" aria-label=format!("New password for {}", user.name)
                        placeholder="New password" prop:value=new_password
                        on:input=move |ev| new_password.set(event_target_value(&ev))/>
                    <button type="submit" class="button small">"Reset"</button>
                </form>
                {move || problem.get_or(None).map(|p| view! { <p class="row-problem" role="alert">{p}</p> })}
            </td>
        </tr>
    }
}
