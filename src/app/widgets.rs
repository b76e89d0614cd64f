//! Small building blocks shared by the pages.

use leptos::prelude::*;

use crate::app::account::Account;
use crate::app::reactive::Live;
use crate::domain::FieldError;
use crate::rpc::RpcError;

/// A labelled text input bound to `value`, with its field error underneath.
///
/// `errors` holds the current errors of the whole form; the one for `field`
/// is shown once the field was typed in or the form was submitted. A form
/// that resets itself bumps `generation`, which forgets earlier typing, so
/// an emptied form shows no errors until the user types or submits again.
#[component]
pub fn TextField(
    /// Element id; also links the label and the error message.
    id: String,
    label: &'static str,
    field: &'static str,
    value: RwSignal<String>,
    #[prop(into)] errors: Signal<Vec<FieldError>>,
    /// Whether errors should be visible yet.
    #[prop(into)]
    show_errors: Signal<bool>,
    /// Bumped by the form on reset; typing before the last bump no longer counts.
    #[prop(optional, into)]
    generation: Signal<u32>,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] input_mode: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional)] multiline: bool,
    /// Id of the `<form>` this control belongs to, when it sits outside it
    /// (as in a table row).
    #[prop(optional, into)]
    form: Option<String>,
) -> impl IntoView {
    // The form generation in which the user last typed here.
    let typed_in = RwSignal::new(None::<u32>);
    let touched = move || typed_in.get_or(None) == Some(generation.get_or(0));
    let on_input = move |_| typed_in.set(Some(generation.get_untracked()));
    let error = Memo::new(move |_| {
        (touched() || show_errors.get_or(false))
            .then(|| {
                errors
                    .live_with(|errors| FieldError::find(errors, field).map(|e| e.message.clone()))
                    .flatten()
            })
            .flatten()
    });
    let error_id = format!("{id}-error");
    let described = error_id.clone();
    let invalid = move || {
        if error.live_with(Option::is_some).unwrap_or(false) {
            "true"
        } else {
            "false"
        }
    };
    let control = if multiline {
        view! {
            <textarea
                id=id.clone()
                name=field
                rows="2"
                form=form.clone()
                placeholder=placeholder
                aria-invalid=invalid
                aria-describedby=described.clone()
                bind:value=value
                on:input=on_input
            ></textarea>
        }
        .into_any()
    } else {
        view! {
            <input
                id=id.clone()
                name=field
                type="text"
                form=form.clone()
                inputmode=(!input_mode.is_empty()).then_some(input_mode)
                placeholder=placeholder
                autocomplete="off"
                aria-invalid=invalid
                aria-required=required.then_some("true")
                aria-describedby=described.clone()
                bind:value=value
                on:input=on_input
            />
        }
        .into_any()
    };
    view! {
        <div class="field" class:has-error=move || error.live_with(Option::is_some).unwrap_or(false)>
            <label for=id>{label} {required.then_some(view! { <span class="req" aria-hidden="true">"*"</span> })}</label>
            {control}
            <p class="field-error" id=error_id role="alert">
                {move || error.get_or(None).unwrap_or_default()}
            </p>
        </div>
    }
}

/// A dismissible message above the content.
#[component]
pub fn Banner(
    #[prop(into)] message: Signal<Option<String>>,
    #[prop(optional)] on_retry: Option<Callback<()>>,
) -> impl IntoView {
    view! {
        <Show when=move || message.live_with(Option::is_some).unwrap_or(false)>
            <div class="banner banner-error" role="alert">
                <span>{move || message.get_or(None).unwrap_or_default()}</span>
                {on_retry.map(|retry| view! {
                    <button type="button" class="button small" on:click=move |_| retry.run(())>
                        "Retry"
                    </button>
                })}
            </div>
        </Show>
    }
}

/// A page's list that could not be loaded: `message`, with a Retry that
/// loads it again (bumps `reload`).
pub fn load_failed(message: String, reload: RwSignal<u64>) -> AnyView {
    let message = Signal::stored(Some(message));
    let retry = Callback::new(move |_| reload.update(|n| *n += 1));
    view! { <Banner message=message on_retry=retry/><HydrationMarker/> }.into_any()
}

/// Follows what a row's `action` answers: `on_ok` with its value, or the
/// refusal in `problem` (an expired session also opens the login dialog).
pub fn report_outcome<I, T>(
    action: Action<I, Result<T, RpcError>>,
    account: Account,
    problem: RwSignal<Option<String>>,
    on_ok: impl Fn(T) + 'static,
) where
    I: Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| match action.value().get() {
        Some(Ok(value)) => on_ok(value),
        Some(Err(error)) => {
            account.notice(&error);
            problem.set(Some(error.to_string()));
        }
        None => {}
    });
}

/// "Newest" and "Older" under a list paged by position: `at` is where the
/// page shown starts (`None`: the newest), `older` where the next starts.
#[component]
pub fn OlderNewer<T>(
    at: RwSignal<Option<T>>,
    older: Option<T>,
    label: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    // `try_`: rendered inside a `Suspend`, which can run on after its page
    // was disposed (see `reactive`).
    let newest = at.try_get_untracked().is_some_and(|at| at.is_some());
    (newest || older.is_some()).then(|| {
        view! {
            <nav class="pagination" aria-label=label>
                {newest.then(|| view! {
                    <button type="button" class="button small" on:click=move |_| at.set(None)>"Newest"</button>
                })}
                {older.map(|older| view! {
                    <button type="button" class="button small"
                        on:click=move |_| at.set(Some(older.clone()))>"Older"</button>
                })}
            </nav>
        }
    })
}

/// Marks `<body data-hydrated="true">` once the part of the page it sits
/// in is interactive. Effects run only in the browser, after hydration, so
/// placing this after a page's async content tells tests when to click.
#[component]
pub fn HydrationMarker() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
