//! The prediction page: pick a model, fill in its features, see the result
//! and how it changes as one feature sweeps its range.

mod chart;
mod drift;
mod result;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::{Banner, HydrationMarker};
use crate::domain::{FieldError, ModelInfo, ModelStatus, Task};
use crate::rpc::{list_models, predict_rows};
use chart::WhatIfChart;
use drift::DriftPanel;
use result::{Comparison, ResultPanel};

/// The model shown when the address names none: the original app's.
const PREFERRED_MODEL: &str = "linear";

/// The page at `/predict`.
#[component]
pub fn PredictPage() -> impl IntoView {
    let params = use_query_map();
    let requested = Memo::new(move |_| params.live_with(|p| p.get("model")).flatten());
    let models = KeptResource::new(ArcResource::new(|| (), |_| list_models()));

    view! {
        <Title text="Predict"/>
        <div class="page-head">
            <div>
                <h1>"Predict"</h1>
                <p class="muted">"Run the served models in the browser: fill in the features, read the result, explore what-ifs."</p>
            </div>
        </div>
        <Transition fallback=|| view! { <div class="card skeleton"><div class="skeleton-row"></div><div class="skeleton-row"></div></div> }>
            {move || suspend(async move {
                let Some(listing) = try_await(models).await else {
                    return ().into_any();
                };
                match listing {
                    Err(error) => {
                        let message = Signal::stored(Some(format!("Could not load the models. {error}")));
                        view! { <Banner message=message/><HydrationMarker/> }.into_any()
                    }
                    Ok(list) if list.is_empty() => view! {
                        <section class="card empty-state">
                            <p class="empty-title">"No models are loaded."</p>
                            <p class="muted">"Add a folder with model.onnx and model.toml under models/; it is picked up within seconds."</p>
                        </section>
                        <HydrationMarker/>
                    }.into_any(),
                    Ok(list) => {
                        let chosen = choose(&list, requested.live_get().flatten().as_deref());
                        let selected = list.iter().find(|m| m.name == chosen).cloned();
                        view! {
                            <div class="predict-layout">
                                <ModelList models=list.clone() selected=chosen.clone()/>
                                {match selected {
                                    Some(info) if info.status.is_ready() => {
                                        let siblings = siblings(&list, &info);
                                        view! { <Workbench info siblings/> }.into_any()
                                    }
                                    Some(info) => view! {
                                        <section class="card">
                                            <h2>{info.name.clone()}</h2>
                                            <div class="banner banner-error" role="alert">{status_text(&info.status)}</div>
                                        </section>
                                        <HydrationMarker/>
                                    }.into_any(),
                                    None => view! {
                                        <section class="card empty-state">
                                            <p class="empty-title">{format!("There is no model named “{chosen}”.")}</p>
                                        </section>
                                        <HydrationMarker/>
                                    }.into_any(),
                                }}
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// The other ready models that take the same features, in the same order,
/// for the same task: the page asks them too, to compare.
fn siblings(models: &[ModelInfo], info: &ModelInfo) -> Vec<String> {
    models
        .iter()
        .filter(|m| m.name != info.name && m.status.is_ready() && m.task == info.task)
        .filter(|m| m.feature_names() == info.feature_names())
        .map(|m| m.name.clone())
        .collect()
}

/// The requested model, else the preferred one, else the first ready one.
fn choose(models: &[ModelInfo], requested: Option<&str>) -> String {
    requested
        .map(str::to_owned)
        .or_else(|| {
            models
                .iter()
                .find(|m| m.name == PREFERRED_MODEL && m.status.is_ready())
                .map(|m| m.name.clone())
        })
        .or_else(|| {
            models
                .iter()
                .find(|m| m.status.is_ready())
                .map(|m| m.name.clone())
        })
        .unwrap_or_else(|| models[0].name.clone())
}

fn status_text(status: &ModelStatus) -> String {
    match status {
        ModelStatus::Ready => "Ready".into(),
        ModelStatus::Error {
            message,
            serving_previous: true,
        } => {
            format!("The latest files failed to load ({message}); the previous version is still serving.")
        }
        ModelStatus::Error { message, .. } => format!("Failed to load: {message}"),
        ModelStatus::Unloaded => {
            "Unloaded through the model repository API; loading it again serves it.".into()
        }
    }
}

/// The models, each a link, with task and status.
#[component]
fn ModelList(models: Vec<ModelInfo>, selected: String) -> impl IntoView {
    view! {
        <nav class="card model-list" aria-label="Models">
            <h2>"Models"</h2>
            <ul>
                {models.into_iter().map(|m| {
                    let current = m.name == selected;
                    let (dot, state) = match &m.status {
                        ModelStatus::Ready => ("dot ok", "ready"),
                        ModelStatus::Error { serving_previous: true, .. } => ("dot warn", "error (previous version serving)"),
                        ModelStatus::Error { .. } => ("dot bad", "error"),
                        ModelStatus::Unloaded => ("dot off", "unloaded"),
                    };
                    let task = match m.task { Task::Regression => "regression", Task::Classification => "classification" };
                    view! {
                        <li>
                            <a href=format!("/predict?model={}", m.name) class="model-link" class:current=current
                               aria-current=current.then_some("page") title=status_text(&m.status)>
                                <span class=dot aria-hidden="true"></span>
                                <span class="model-name">{m.name.clone()}</span>
                                <span class="muted small">{format!("{task} · v{}", m.version)}</span>
                                <span class="visually-hidden">{format!("status: {state}")}</span>
                            </a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </nav>
    }
}

/// Form, result and chart for one ready model; `siblings` (models taking
/// the same features) answer the same rows beside it.
#[component]
fn Workbench(info: ModelInfo, siblings: Vec<String>) -> impl IntoView {
    let info = StoredValue::new(info);
    let texts: Vec<RwSignal<String>> = info.with_value(|i| {
        i.inputs
            .iter()
            .map(|s| RwSignal::new(format_number(s.default)))
            .collect()
    });
    let texts = StoredValue::new(texts);
    // `None` once disposed, as is `parsed` then: no values and no errors.
    let current_texts = move || {
        texts
            .try_with_value(|t| t.iter().map(|s| s.live_get()).collect::<Option<Vec<_>>>())
            .flatten()
    };
    let parsed = Memo::new(move |_| {
        current_texts()
            .and_then(|current| info.try_with_value(|i| i.parse_form(&current)))
            .unwrap_or_else(|| Err(Vec::new()))
    });
    let errors =
        Signal::derive(move || parsed.live_get().and_then(Result::err).unwrap_or_default());

    let predict = Action::new(move |row: &Vec<f64>| {
        let (name, row) = (info.with_value(|i| i.name.clone()), row.clone());
        async move { predict_rows(name, vec![row]).await.map(|mut p| p.remove(0)) }
    });
    let siblings = StoredValue::new(siblings);
    let compare = Action::new(move |row: &Vec<f64>| {
        let (names, row) = (siblings.get_value(), row.clone());
        async move {
            let mut answers = Vec::with_capacity(names.len());
            for name in names {
                let answer = predict_rows(name.clone(), vec![row.clone()]).await;
                answers.push((name, answer.map(|mut p| p.remove(0))));
            }
            answers
        }
    });
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if let Ok(row) = parsed.get_untracked() {
            if !siblings.with_value(Vec::is_empty) {
                compare.dispatch(row.clone());
            }
            predict.dispatch(row);
        }
    };
    let reset = move |_| {
        texts.with_value(|t| {
            info.with_value(|i| {
                for (signal, spec) in t.iter().zip(&i.inputs) {
                    signal.set(format_number(spec.default));
                }
            })
        });
    };

    let name = info.with_value(|i| i.name.clone());
    let description = info.with_value(|i| i.description.clone());
    let provenance = info.with_value(|i| i.provenance.clone());
    let fields = info.with_value(|i| {
        i.inputs
            .iter()
            .enumerate()
            .map(|(index, spec)| {
                let value = texts.with_value(|t| t[index]);
                let id = format!("feature-{}", spec.name);
                let field = spec.name.clone();
                let error = Memo::new(move |_| {
                    let field = field.clone();
                    errors
                        .live_with(|e| FieldError::find(e, &field).map(|e| e.message.clone()))
                        .flatten()
                });
                let unit = (!spec.unit.is_empty()).then(|| format!(" ({})", spec.unit));
                let hint = format!("typical {} – {}", format_number(spec.min), format_number(spec.max));
                let error_id = format!("{id}-error");
                view! {
                    <div class="field" class:has-error=move || error.live_with(Option::is_some).unwrap_or(false)>
                        <label for=id.clone() title=spec.description.clone()>{spec.name.clone()}{unit}</label>
                        <input id=id type="text" inputmode="decimal" autocomplete="off" name=spec.name.clone()
                            aria-invalid=move || if error.live_with(Option::is_some).unwrap_or(false) { "true" } else { "false" }
                            aria-describedby=error_id.clone()
                            bind:value=value/>
                        <p class="field-hint muted">{hint}</p>
                        <p class="field-error" id=error_id role="alert">{move || error.get_or(None).unwrap_or_default()}</p>
                    </div>
                }
            })
            .collect_view()
    });

    let predicting = predict.pending();
    view! {
        <div class="workbench">
            <section class="card" aria-labelledby="model-heading">
                <h2 id="model-heading">{name}</h2>
                <p class="muted">{description}</p>
                <form class="feature-form" on:submit=on_submit novalidate>
                    <div class="feature-grid">{fields}</div>
                    <div class="form-row">
                        <button type="submit" class="button primary" disabled=move || predicting.get_or(false)>
                            {move || if predicting.get_or(false) { "Predicting…" } else { "Predict" }}
                        </button>
                        <button type="button" class="button ghost" on:click=reset>"Reset to defaults"</button>
                    </div>
                </form>
                <ResultPanel result=predict.value() pending=predicting info=info.get_value()/>
                <Comparison answers=compare.value()/>
                <details class="provenance">
                    <summary>"Where this model comes from"</summary>
                    <dl>
                        <dt>"Data"</dt><dd>{provenance.dataset}</dd>
                        <dt>"Training"</dt><dd>{provenance.recipe}</dd>
                        <dt>"Quality"</dt><dd>{provenance.metric}</dd>
                    </dl>
                </details>
            </section>
            <WhatIfChart info=info.get_value() values=Signal::derive(move || parsed.live_get().and_then(Result::ok))/>
            <DriftPanel model=info.with_value(|i| i.name.clone()) predictions=predict.version()/>
        </div>
    }
}

/// A number for an input box: short, without trailing zeros.
pub(crate) fn format_number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_owned()
    }
}
