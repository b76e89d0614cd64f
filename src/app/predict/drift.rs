//! The drift panel: for each input of the chosen model, the training data's
//! distribution beside the live values of the drift window (an hour unless
//! configured), and their population
//! stability index in plain words.

use leptos::prelude::*;

use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::HydrationMarker;
use crate::domain::{DriftReading, DriftReport, InputDrift, PSI_DRIFTED, PSI_SHIFTING};
use crate::rpc::model_drift;

/// The panel for `model`; `predictions` counts the page's own predictions,
/// so that the panel is read again after each one (they are live rows too).
#[component]
pub fn DriftPanel(model: String, predictions: RwSignal<usize>) -> impl IntoView {
    let report = KeptResource::new(ArcResource::new(
        move || predictions.get_or(0),
        move |_| model_drift(model.clone()),
    ));
    view! {
        <section class="card drift" aria-labelledby="drift-heading">
            <h2 id="drift-heading">"Input drift"</h2>
            <Transition fallback=|| view! { <div class="skeleton-row"></div> }>
                {move || suspend(async move {
                    match try_await(report).await {
                        None => ().into_any(),
                        Some(Err(error)) => view! {
                            <p class="form-status error" role="alert">{format!("Could not read the drift. {error}")}</p>
                            <HydrationMarker/>
                        }.into_any(),
                        Some(Ok(report)) => view! { <Report report/><HydrationMarker/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Report(report: DriftReport) -> impl IntoView {
    let window = match report.window_seconds {
        3600 => "hour".to_owned(),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    };
    let summary = format!(
        "The last {window}'s {} predicted row{} beside the training data. The population \
         stability index reads below {PSI_SHIFTING} as stable, below {PSI_DRIFTED} as \
         shifting, and from {PSI_DRIFTED} on as drifted; a reading needs {} rows.",
        report.rows,
        if report.rows == 1 { "" } else { "s" },
        report.min_rows,
    );
    if !report.has_reference {
        return view! {
            <p class="muted">{summary}</p>
            <p>"This model's manifest gives no training distribution, so its drift cannot be read. \
                models/train.py writes one for every input (reference = { edges, shares })."</p>
        }
        .into_any();
    }
    view! {
        <p class="muted">{summary}</p>
        <div class="table-wrap">
            <table class="drift-table">
                <thead>
                    <tr><th scope="col">"Input"</th><th scope="col">"Training and live"</th><th scope="col" class="num">"PSI"</th><th scope="col">"Reading"</th></tr>
                </thead>
                <tbody>{report.inputs.into_iter().map(|input| view! { <InputRow input/> }).collect_view()}</tbody>
            </table>
        </div>
        <p class="drift-legend small muted">
            <span class="swatch training" aria-hidden="true"></span>"training"
            <span class="swatch live" aria-hidden="true"></span>"live, same bins"
        </p>
    }
    .into_any()
}

#[component]
fn InputRow(input: InputDrift) -> impl IntoView {
    let psi = input
        .psi
        .map_or_else(|| "–".to_owned(), |p| format!("{p:.3}"));
    let tone = match input.reading {
        DriftReading::Stable => "ok",
        DriftReading::Shifting => "warn",
        DriftReading::Drifted => "bad",
        DriftReading::TooFewRows | DriftReading::NoReference => "none",
    };
    let percent = |shares: &[f64]| {
        shares
            .iter()
            .map(|s| format!("{:.0}%", s * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let label = if input.live.iter().all(|s| *s == 0.0) {
        format!(
            "Training shares per bin: {}; no live rows.",
            percent(&input.training)
        )
    } else {
        format!(
            "Training shares per bin: {}; live: {}.",
            percent(&input.training),
            percent(&input.live)
        )
    };
    view! {
        <tr data-input=input.name.clone()>
            <th scope="row">{input.name.clone()}</th>
            <td>
                {(!input.training.is_empty()).then(|| view! {
                    <Bars training=input.training.clone() live=input.live.clone() label/>
                })}
            </td>
            <td class="num">{psi}</td>
            <td><span class=format!("reading {tone}")>{input.reading.label()}</span></td>
        </tr>
    }
}

/// Two histograms over the same bins: training as outlines, live filled.
#[component]
fn Bars(training: Vec<f64>, live: Vec<f64>, label: String) -> impl IntoView {
    const HEIGHT: f64 = 36.0;
    let bins = training.len().max(1) as f64;
    let width = 100.0 / bins;
    let top = training
        .iter()
        .chain(&live)
        .fold(0.0f64, |a, b| a.max(*b))
        .max(1e-9);
    let bar = |i: usize, share: f64, inset: f64, class: &'static str| {
        let h = share / top * HEIGHT;
        view! {
            <rect class=class x=format!("{:.2}", i as f64 * width + inset) y=format!("{:.2}", 38.0 - h)
                width=format!("{:.2}", width - 2.0 * inset) height=format!("{h:.2}")/>
        }
    };
    view! {
        <svg class="drift-bars" viewBox="0 0 100 38" preserveAspectRatio="none" role="img" aria-label=label>
            {training.iter().enumerate().map(|(i, s)| bar(i, *s, 0.6, "training")).collect_view()}
            {live.iter().enumerate().map(|(i, s)| bar(i, *s, width * 0.28, "live")).collect_view()}
        </svg>
    }
}
