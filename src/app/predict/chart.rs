//! The what-if chart: the prediction as one feature sweeps its range while
//! the others keep the form's values. One batch request per redraw.

use leptos::prelude::*;

use super::format_number;
use crate::app::reactive::{suspend, try_await, KeptResource, Live};
use crate::app::widgets::HydrationMarker;
use crate::domain::{ModelInfo, Prediction, Task};
use crate::rpc::what_if_rows;

/// Points along the swept feature.
const STEPS: usize = 41;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

#[component]
pub fn WhatIfChart(info: ModelInfo, values: Signal<Option<Vec<f64>>>) -> impl IntoView {
    let info = StoredValue::new(info);
    let feature = RwSignal::new(0usize);
    // `try_` reads: a server render may dispose of this component while a
    // resource task still looks at its source.
    let sweep = KeptResource::new(ArcResource::new(
        move || {
            (
                values.live_get().flatten(),
                feature.live_get().unwrap_or_default(),
            )
        },
        move |(values, feature)| {
            let request = info
                .try_with_value(|i| values.map(|v| (i.name.clone(), sweep_rows(i, &v, feature))))
                .flatten();
            async move {
                match request {
                    None => Ok(None),
                    Some((name, (xs, rows))) => {
                        what_if_rows(name, rows).await.map(|p| Some((xs, p)))
                    }
                }
            }
        },
    ));
    let options = info.with_value(|i| {
        i.inputs
            .iter()
            .enumerate()
            .map(|(index, spec)| view! { <option value=index.to_string()>{spec.name.clone()}</option> })
            .collect_view()
    });

    view! {
        <section class="card chart-card" aria-labelledby="chart-heading">
            <div class="chart-head">
                <h2 id="chart-heading">"What if…"</h2>
                <label class="inline-label">
                    "sweep "
                    <select aria-label="Feature to sweep"
                        on:change=move |ev| feature.set(event_target_value(&ev).parse().unwrap_or(0))>
                        {options}
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <div class="chart-placeholder skeleton-row"></div> }>
                {move || suspend(async move {
                    let view = match try_await(sweep).await {
                        Some(Ok(Some((xs, predictions)))) => {
                            let feature = feature.try_get_untracked().unwrap_or_default();
                            let current = values.try_get_untracked().flatten().and_then(|v| v.get(feature).copied());
                            info.try_with_value(|i| {
                                let label = i.inputs.get(feature).map(|s| s.name.clone()).unwrap_or_default();
                                draw(i, &xs, &predictions, current, &label).into_any()
                            })
                            .unwrap_or_else(|| ().into_any())
                        }
                        Some(Ok(None)) => view! { <p class="muted chart-placeholder">"Fix the highlighted fields to see the chart."</p> }.into_any(),
                        Some(Err(error)) => view! { <p class="form-status error">{format!("Could not compute the chart: {error}")}</p> }.into_any(),
                        None => ().into_any(),
                    };
                    view! { {view} <HydrationMarker/> }
                })}
            </Transition>
        </section>
    }
}

/// The x values and the batch of rows for one sweep of `feature`.
fn sweep_rows(info: &ModelInfo, values: &[f64], feature: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let spec = &info.inputs[feature.min(info.inputs.len() - 1)];
    let current = values[feature];
    let (mut lo, mut hi) = (spec.min.min(current), spec.max.max(current));
    if (hi - lo).abs() < f64::EPSILON {
        lo -= 1.0;
        hi += 1.0;
    }
    // Weighted ends rather than `lo + (hi - lo) * t`: with inputs near
    // f64::MAX the difference overflows to infinity, which JSON cannot carry.
    let xs: Vec<f64> = (0..STEPS)
        .map(|i| {
            let t = i as f64 / (STEPS - 1) as f64;
            lo * (1.0 - t) + hi * t
        })
        .collect();
    let rows = xs
        .iter()
        .map(|x| {
            let mut row = values.to_vec();
            row[feature] = *x;
            row
        })
        .collect();
    (xs, rows)
}

/// One plotted line: a name and its y values.
fn series(info: &ModelInfo, predictions: &[Prediction]) -> Vec<(String, Vec<f64>)> {
    match info.task {
        Task::Regression => vec![(
            "prediction".into(),
            predictions.iter().map(Prediction::headline).collect(),
        )],
        Task::Classification => info
            .labels
            .iter()
            .enumerate()
            .map(|(c, label)| {
                let ys = predictions
                    .iter()
                    .map(|p| match p {
                        Prediction::Classification { probabilities, .. } => {
                            probabilities.get(c).map_or(0.0, |p| p.probability)
                        }
                        Prediction::Regression { value } => *value,
                    })
                    .collect();
                (label.clone(), ys)
            })
            .collect(),
    }
}

/// Maps data ranges to the SVG's drawing area.
struct Scale {
    x: (f64, f64),
    y: (f64, f64),
}

impl Scale {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }
    fn py(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }
}

fn y_range(info: &ModelInfo, lines: &[(String, Vec<f64>)]) -> (f64, f64) {
    if info.task == Task::Classification {
        return (0.0, 1.0);
    }
    let ys = lines.iter().flat_map(|(_, ys)| ys.iter().copied());
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let pad = ((hi - lo) * 0.08).max(1e-6);
    (lo - pad, hi + pad)
}

fn draw(
    info: &ModelInfo,
    xs: &[f64],
    predictions: &[Prediction],
    current: Option<f64>,
    feature: &str,
) -> impl IntoView {
    let lines = series(info, predictions);
    let scale = Scale {
        x: (xs[0], xs[xs.len() - 1]),
        y: y_range(info, &lines),
    };
    let y_ticks: Vec<f64> = (0..=4)
        .map(|i| scale.y.0 + (scale.y.1 - scale.y.0) * i as f64 / 4.0)
        .collect();
    let x_ticks = [scale.x.0, (scale.x.0 + scale.x.1) / 2.0, scale.x.1];
    let polylines = lines
        .iter()
        .enumerate()
        .map(|(i, (name, ys))| {
            let points = xs
                .iter()
                .zip(ys)
                .map(|(x, y)| format!("{:.1},{:.1}", scale.px(*x), scale.py(*y)))
                .collect::<Vec<_>>()
                .join(" ");
            view! { <polyline class=format!("line series-{}", i % 6) points=points data-series=name.clone()/> }
        })
        .collect_view();
    let marker = current.map(|x| {
        let px = scale.px(x);
        view! { <line class="marker" x1=px y1=TOP x2=px y2=HEIGHT - BOTTOM/> }
    });
    let legend = (lines.len() > 1).then(|| {
        view! {
            <ul class="legend">
                {lines.iter().enumerate().map(|(i, (name, _))| view! {
                    <li><span class=format!("swatch series-{}", i % 6)></span>{name.clone()}</li>
                }).collect_view()}
            </ul>
        }
    });
    let y_label = if info.task == Task::Classification {
        "probability"
    } else {
        "prediction"
    };
    view! {
        <svg class="chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
            aria-label=format!("{y_label} as {feature} varies")>
            {y_ticks.iter().map(|y| {
                let py = scale.py(*y);
                view! {
                    <line class="grid" x1=LEFT y1=py x2=WIDTH - RIGHT y2=py/>
                    <text class="tick" x=LEFT - 6.0 y=py + 4.0 text-anchor="end">{format_number((y * 1000.0).round() / 1000.0)}</text>
                }
            }).collect_view()}
            {x_ticks.iter().map(|x| view! {
                <text class="tick" x=scale.px(*x) y=HEIGHT - BOTTOM + 16.0 text-anchor="middle">{format_number(*x)}</text>
            }).collect_view()}
            <text class="axis-label" x=(LEFT + WIDTH - RIGHT) / 2.0 y=HEIGHT - 6.0 text-anchor="middle">{feature.to_owned()}</text>
            {marker}
            {polylines}
        </svg>
        {legend}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{FeatureSpec, ModelStatus, Provenance};

    fn info() -> ModelInfo {
        ModelInfo {
            name: "m".into(),
            version: "1".into(),
            task: Task::Regression,
            description: String::new(),
            status: ModelStatus::Ready,
            inputs: vec![
                FeatureSpec {
                    name: "a".into(),
                    description: String::new(),
                    unit: String::new(),
                    min: 0.0,
                    max: 1.0,
                    default: 0.5,
                },
                FeatureSpec {
                    name: "b".into(),
                    description: String::new(),
                    unit: String::new(),
                    min: 2.0,
                    max: 2.0,
                    default: 2.0,
                },
            ],
            outputs: vec![],
            labels: vec![],
            provenance: Provenance::default(),
        }
    }

    #[test]
    fn a_sweep_covers_the_typical_range_and_the_current_value() {
        let (xs, rows) = sweep_rows(&info(), &[1.5, 2.0], 0);
        assert_eq!(xs.len(), STEPS);
        assert_eq!((xs[0], xs[STEPS - 1]), (0.0, 1.5));
        assert!(rows.iter().all(|r| r[1] == 2.0), "other features are held");
        assert_eq!(rows[STEPS - 1][0], 1.5);
    }

    #[test]
    fn a_sweep_up_to_a_huge_value_stays_finite() {
        for current in [1e308, -1e308, f64::MAX] {
            let (xs, rows) = sweep_rows(&info(), &[current, 2.0], 0);
            assert!(xs.iter().all(|x| x.is_finite()), "{current}: {xs:?}");
            assert!(xs[0] == current || xs[STEPS - 1] == current, "{current}");
            assert_eq!(rows.len(), STEPS);
        }
    }

    #[test]
    fn a_feature_without_a_range_is_swept_around_its_value() {
        let (xs, _) = sweep_rows(&info(), &[0.5, 2.0], 1);
        assert_eq!((xs[0], xs[STEPS - 1]), (1.0, 3.0));
    }

    #[test]
    fn the_scale_maps_corners_to_the_drawing_area() {
        let scale = Scale {
            x: (0.0, 10.0),
            y: (-1.0, 1.0),
        };
        assert_eq!(scale.px(0.0), LEFT);
        assert_eq!(scale.px(10.0), WIDTH - RIGHT);
        assert_eq!(scale.py(-1.0), HEIGHT - BOTTOM);
        assert_eq!(scale.py(1.0), TOP);
    }
}
