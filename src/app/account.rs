//! Who is using the UI: the session, the header's account menu, the login
//! page, and the login dialog that opens when a session expires mid-use
//! (over the page, so whatever was typed stays where it was).

use leptos::prelude::*;
use leptos::wasm_split::wasm_split;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};

use crate::app::chunk::{not_loaded_alert, NotLoaded};
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::HydrationMarker;
use crate::domain::{Permission, Session};
use crate::rpc::RpcError;
use crate::rpc::{current_session, log_in, log_out};

/// The session, shared by every page through context.
#[derive(Clone, Copy)]
pub struct Account {
    pub session: KeptResource<Result<Session, RpcError>>,
    version: RwSignal<u64>,
    /// Set when a server function answered "not logged in": the login
    /// dialog opens.
    pub expired: RwSignal<bool>,
}

impl Account {
    /// Loads the session again (after logging in or out).
    pub fn reload(self) {
        self.version.update(|n| *n += 1);
    }

    /// Opens the login dialog when `error` says the session is gone.
    pub fn notice(self, error: &RpcError) {
        if matches!(error, RpcError::Unauthorized(_)) {
            self.expired.set(true);
        }
    }
}

/// Creates the session resource and puts it in context.
pub fn provide_account() -> Account {
    let version = RwSignal::new(0);
    let account = Account {
        session: session_resource(Some(version)),
        version,
        expired: RwSignal::new(false),
    };
    provide_context(account);
    account
}

/// The session as a resource, loaded again whenever `version` moves
/// (never, without one). Every page's session resource is made here: each
/// distinct resource adds its own code to the module every first visit
/// downloads.
pub fn session_resource(version: Option<RwSignal<u64>>) -> KeptResource<Result<Session, RpcError>> {
    KeptResource::new(ArcResource::new(
        move || version.and_then(|v| v.live_get()).unwrap_or_default(),
        |_| current_session(),
    ))
}

/// Whether the session (once loaded) allows `permission`.
pub fn allows(session: &Result<Session, RpcError>, permission: Permission) -> bool {
    session.as_ref().is_ok_and(|s| s.allows(permission))
}

/// The header's right side: who is logged in and the way out, or the way in.
#[component]
pub fn AccountMenu() -> impl IntoView {
    let account = expect_context::<Account>();
    let logout = Action::new(move |_: &()| async move { log_out().await });
    Effect::new(move |_| {
        if let Some(result) = logout.value().get() {
            if result.is_ok() {
                // A fresh page: nothing of the last user's view stays.
                let _ = window().location().set_href("/");
            }
        }
    });
    // Plain links inside the `Suspend` (the router still navigates them in
    // the page): `<A>` reads the router's context, which is gone when the
    // `Suspend` runs on after its request was cancelled. The current page is
    // marked as `<A>` would, from the location read out here.
    let path = use_location().pathname;
    let current = move |href: &'static str| {
        move || (path.live_get().as_deref() == Some(href)).then_some("page")
    };
    view! {
        <Transition fallback=|| ()>
            {move || suspend(async move {
                let session = try_await(account.session).await.and_then(Result::ok);
                let view = match session {
                    Some(Session { policy, user: Some(user) }) if policy.enabled => {
                        let admin = user.role >= crate::domain::Role::Admin;
                        view! {
                            <div class="account">
                                {admin.then(|| view! { <a href="/admin" aria-current=current("/admin")>"Users"</a> })}
                                <span class="account-name" title="Logged in">
                                    {user.name.clone()}
                                    <span class="role-badge">{user.role.as_str()}</span>
                                </span>
                                <button type="button" class="button small" on:click=move |_| { logout.dispatch(()); }>
                                    "Log out"
                                </button>
                            </div>
                        }
                        .into_any()
                    }
                    Some(Session { policy, user: None }) if policy.enabled => view! {
                        <div class="account">
                            <a href="/login" aria-current=current("/login")>"Log in"</a>
                        </div>
                    }
                    .into_any(),
                    _ => ().into_any(),
                };
                view
            })}
        </Transition>
    }
}

/// Name and password; calls `on_success` once logged in.
#[component]
fn LoginForm(#[prop(into)] on_success: Callback<()>, id_prefix: &'static str) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let submit = Action::new(move |(name, password): &(String, String)| {
        let (name, password) = (name.clone(), password.clone());
        async move { log_in(name, password).await }
    });
    Effect::new(move |_| match submit.value().get() {
        Some(Ok(_)) => {
            password.set(String::new());
            problem.set(None);
            on_success.run(());
        }
        Some(Err(error)) => problem.set(Some(error.to_string())),
        None => {}
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (n, p) = (name.get_untracked(), password.get_untracked());
        if n.trim().is_empty() || p.is_empty() {
            problem.set(Some("Enter your user name and password.".into()));
            return;
        }
        submit.dispatch((n, p));
    };
    let submitting = submit.pending();
    let name_id = format!("{id_prefix}-name");
    let password_id = format!("{id_prefix}-password");
    view! {
        <form class="login-form" on:submit=on_submit novalidate>
            <div class="field">
                <label for=name_id.clone()>"User name"</label>
                <input id=name_id name="username" autocomplete="username" required
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for=password_id.clone()>"Password"</label>
                <input id=password_id name="password" type="password" autocomplete="current-password" required
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev))/>
            </div>
            {move || problem.get_or(None).map(|p| view! { <p class="form-status error" role="alert">{p}</p> })}
            <button type="submit" class="button primary" disabled=move || submitting.get_or(false)>
                {move || if submitting.get_or(false) { "Logging in…" } else { "Log in" }}
            </button>
        </form>
    }
}

/// `/login`: back to `?next=` (or the items) once logged in. A lazy route
/// (see `app/mod.rs`): its code is not in the main WASM module.
#[component]
pub fn LoginPage() -> impl IntoView {
    let account = expect_context::<Account>();
    let query = use_query_map();
    let navigate = use_navigate();
    let on_success = Callback::new(move |_| {
        account.reload();
        let next = query
            .with_untracked(|q| q.get("next"))
            .filter(|next| crate::domain::local_path(next).is_some())
            .unwrap_or_else(|| "/".into());
        navigate(&next, Default::default());
    });
    view! {
        <Title text="Log in"/>
        <section class="card login-card" aria-labelledby="login-heading">
            <h1 id="login-heading">"Log in"</h1>
            <p class="muted">"Reading is open to everyone; adding, editing and deleting items needs an editor's account."</p>
            <LoginForm on_success=on_success id_prefix="login"/>
        </section>
        <HydrationMarker/>
    }
}

/// Opens over the page when a session expires mid-use; logging in here
/// keeps every form as it was, so the user can simply save again.
#[component]
pub fn SessionExpiredDialog() -> impl IntoView {
    let account = expect_context::<Account>();
    let on_success = Callback::new(move |_| {
        account.expired.set(false);
        account.reload();
    });
    view! {
        <Show when=move || account.expired.get_or(false)>
            <div class="dialog-backdrop">
                <div class="card dialog" role="dialog" aria-modal="true" aria-labelledby="expired-heading">
                    <h2 id="expired-heading">"Your session has expired"</h2>
                    <p class="muted">"Log in again to carry on. What you typed is still there: save it again afterwards."</p>
                    <Suspense fallback=|| view! { <p class="muted" role="status">"Loading the login form…"</p> }>
                        {move || suspend(async move {
                            relogin_form(on_success).await.unwrap_or_else(|NotLoaded| not_loaded_alert().into_any())
                        })}
                    </Suspense>
                    <button type="button" class="button small" on:click=move |_| account.expired.set(false)>
                        "Not now"
                    </button>
                </div>
            </div>
        </Show>
    }
}

/// The dialog's form, in a WASM chunk of its own (shared with the login
/// page): fetched the first time a session expires, which most visits never
/// see (see `chunk.rs`).
#[wasm_split(relogin_form, wasm_split_path = ::leptos::wasm_split, fallible)]
fn relogin_form(on_success: Callback<()>) -> Result<AnyView, NotLoaded> {
    Ok(view! { <LoginForm on_success=on_success id_prefix="relogin"/> }.into_any())
}
