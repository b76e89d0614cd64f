//! The outcome of one prediction: a value, or a class with probability bars.

use leptos::prelude::*;

use super::format_number;
use crate::app::reactive::Live;
use crate::domain::{ModelInfo, Prediction};
use crate::rpc::RpcError;

#[component]
pub fn ResultPanel(
    #[prop(into)] result: Signal<Option<Result<Prediction, RpcError>>>,
    pending: Memo<bool>,
    info: ModelInfo,
) -> impl IntoView {
    let output = info
        .outputs
        .first()
        .map(|o| o.description.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "Prediction".into());
    view! {
        <div class="result" role="status" aria-live="polite" aria-busy=move || pending.get_or(false).to_string()>
            {move || match result.get_or(None) {
                None => view! { <p class="muted">"Press Predict to run the model on these values."</p> }.into_any(),
                Some(Err(error)) => view! { <p class="form-status error">{error.to_string()}</p> }.into_any(),
                Some(Ok(Prediction::Regression { value })) => view! {
                    <p class="result-label">{output.clone()}</p>
                    <p class="result-value" data-testid="prediction-value">{format_number(value)}</p>
                }.into_any(),
                Some(Ok(Prediction::Classification { label, probabilities, .. })) => view! {
                    <p class="result-label">"Predicted class"</p>
                    <p class="result-value" data-testid="prediction-class">{label.clone()}</p>
                    <ul class="bars" aria-label="Class probabilities">
                        {probabilities.into_iter().map(|p| {
                            let percent = (p.probability * 100.0).clamp(0.0, 100.0);
                            let winner = p.label == label;
                            view! {
                                <li class="bar-row" class:winner=winner>
                                    <span class="bar-label">{p.label.clone()}</span>
                                    <span class="bar" role="meter" aria-label=format!("probability of {}", p.label)
                                        aria-valuemin="0" aria-valuemax="1" aria-valuenow=format!("{:.4}", p.probability)>
                                        <span class="bar-fill" style=format!("width: {percent:.1}%")></span>
                                    </span>
                                    <span class="bar-value">{format!("{percent:.1}%")}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </div>
    }
}

/// What the other models taking the same features answered for the same
/// row, each a link to its own page.
#[component]
pub fn Comparison(
    #[prop(into)] answers: Signal<Option<Vec<(String, Result<Prediction, RpcError>)>>>,
) -> impl IntoView {
    move || {
        let answers = answers.get_or(None).filter(|a| !a.is_empty())?;
        Some(view! {
            <div class="comparison" data-testid="comparison">
                <p class="result-label">"Other models, same values"</p>
                <ul>
                    {answers.into_iter().map(|(name, answer)| {
                        let text = match answer {
                            Ok(Prediction::Regression { value }) => format_number(value),
                            Ok(Prediction::Classification { label, class_index, probabilities }) => {
                                let p = probabilities.get(class_index).map_or(0.0, |p| p.probability);
                                format!("{label} ({:.1}%)", p * 100.0)
                            }
                            Err(error) => error.to_string(),
                        };
                        let href = format!("/predict?model={name}");
                        view! {
                            <li><a href=href>{name}</a>" "<span class="comparison-value">{text}</span></li>
                        }
                    }).collect_view()}
                </ul>
            </div>
        })
    }
}
