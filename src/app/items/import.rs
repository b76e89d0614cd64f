//! "Import items": a CSV or NDJSON file from the person's computer, sent to
//! `POST /items/import` as it is (the browser streams it from disk), in a
//! WASM chunk of its own fetched when the panel first opens (see
//! `chunk.rs`). The table reloads once the import is written.

use leptos::html;
use leptos::prelude::*;
use leptos::wasm_split::wasm_split;

use super::live::LiveTable;
use crate::app::chunk::NotLoaded;
use crate::app::reactive::Live;

/// Problems shown under the form at most; the answer says how many more.
const SHOWN_PROBLEMS: usize = 20;

/// The panel, in a chunk of its own. `on_close` hides it.
#[wasm_split(item_import_form, wasm_split_path = ::leptos::wasm_split, fallible)]
pub fn import_form(live: LiveTable, on_close: Callback<()>) -> Result<AnyView, NotLoaded> {
    Ok(view! { <ImportForm live on_close/> }.into_any())
}

/// What the last import came to, as shown.
#[derive(Clone, Debug, PartialEq)]
struct Outcome {
    ok: bool,
    summary: String,
    /// "Line 12, price: Input should be ...", the first few.
    problems: Vec<String>,
}

#[component]
fn ImportForm(live: LiveTable, on_close: Callback<()>) -> impl IntoView {
    let file_input = NodeRef::<html::Input>::new();
    let skip = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Outcome>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        outcome.set(None);
        #[cfg(feature = "hydrate")]
        {
            let Some(file) = file_input
                .get_untracked()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0))
            else {
                outcome.set(Some(Outcome {
                    ok: false,
                    summary: "Choose a CSV or NDJSON file first.".into(),
                    problems: Vec::new(),
                }));
                return;
            };
            busy.set(true);
            let skip = skip.get_untracked();
            leptos::task::spawn_local(async move {
                let shown = match upload(file, skip).await {
                    Ok((status, body)) => describe(status, &body),
                    Err(message) => Outcome {
                        ok: false,
                        summary: format!("The file could not be sent: {message}"),
                        problems: Vec::new(),
                    },
                };
                if shown.ok {
                    live.refresh().bump();
                }
                busy.try_set(false);
                outcome.try_set(Some(shown));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, live);
    };

    view! {
        <section class="card import-card" aria-labelledby="import-heading">
            <h2 id="import-heading">"Import items"</h2>
            <form class="import-form" on:submit=on_submit>
                <p class="muted">
                    "A CSV file with a header row (columns " <code>"id,name,description,category,price"</code>
                    ", " <code>"name"</code> " required) or an NDJSON file (one item object a line). "
                    "Rows without an id get the next free ids."
                </p>
                <div class="field">
                    <label for="import-file">"File"</label>
                    <input id="import-file" type="file" node_ref=file_input
                        accept=".csv,.ndjson,.jsonl,text/csv,application/x-ndjson"/>
                </div>
                <label class="check">
                    <input type="checkbox" prop:checked=skip
                        on:change=move |ev| skip.set(event_target_checked(&ev))/>
                    "Skip bad rows and import the others (otherwise one bad row imports nothing)"
                </label>
                <div class="form-actions">
                    <button type="submit" class="button primary" disabled=move || busy.get_or(false)>
                        {move || if busy.get_or(false) { "Importing…" } else { "Import file" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| on_close.run(())>"Close"</button>
                </div>
                {move || outcome.get_or(None).map(|o| view! {
                    <div class=if o.ok { "form-status ok" } else { "form-status error" }
                        role=if o.ok { "status" } else { "alert" }>
                        <p>{o.summary}</p>
                        {(!o.problems.is_empty()).then(|| view! {
                            <ul class="import-problems">
                                {o.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}
                            </ul>
                        })}
                    </div>
                })}
            </form>
        </section>
    }
}

/// Sends `file` to `POST /items/import`, its media type from its name;
/// the answer's status and body.
#[cfg(feature = "hydrate")]
async fn upload(file: web_sys::File, skip: bool) -> Result<(u16, String), String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let text = |e: wasm_bindgen::JsValue| {
        e.as_string()
            .or_else(|| {
                e.dyn_ref::<web_sys::js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| "the browser refused".into())
    };
    let name = file.name().to_ascii_lowercase();
    let media_type = if name.ends_with(".csv") {
        "text/csv".to_owned()
    } else if name.ends_with(".ndjson") || name.ends_with(".jsonl") {
        "application/x-ndjson".to_owned()
    } else {
        file.type_()
    };
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&file);
    let url = if skip {
        "/items/import?on_error=skip"
    } else {
        "/items/import"
    };
    let request = web_sys::Request::new_with_str_and_init(url, &init).map_err(text)?;
    request
        .headers()
        .set("Content-Type", &media_type)
        .map_err(text)?;
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(text)?
        .dyn_into()
        .map_err(text)?;
    let body = JsFuture::from(response.text().map_err(text)?)
        .await
        .map_err(text)?
        .as_string()
        .unwrap_or_default();
    Ok((response.status(), body))
}

/// The answer of `POST /items/import` in words.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn describe(status: u16, body: &str) -> Outcome {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let count = |key: &str| json[key].as_u64().unwrap_or(0);
    let problems = |entries: &serde_json::Value| -> Vec<String> {
        let all = entries.as_array().cloned().unwrap_or_default();
        let mut lines: Vec<String> = all
            .iter()
            .take(SHOWN_PROBLEMS)
            .map(|entry| {
                let loc = entry["loc"].as_array().cloned().unwrap_or_default();
                let message = entry["msg"].as_str().unwrap_or_default();
                match (
                    loc.get(1).and_then(|l| l.as_u64()),
                    loc.get(2).and_then(|f| f.as_str()),
                ) {
                    (Some(line), Some(field)) => format!("Line {line}, {field}: {message}"),
                    (Some(line), None) => format!("Line {line}: {message}"),
                    _ => message.to_owned(),
                }
            })
            .collect();
        let total = json["errors_total"].as_u64().unwrap_or(all.len() as u64);
        let unlisted = total.saturating_sub(lines.len() as u64);
        if unlisted > 0 {
            lines.push(format!("… and {unlisted} more"));
        }
        lines
    };
    match status {
        200 => {
            let (imported, skipped) = (count("imported"), count("skipped"));
            let items = match imported {
                1 => "1 item".to_owned(),
                n => format!("{n} items"),
            };
            let summary = match skipped {
                0 => format!("Imported {items}."),
                1 => format!("Imported {items}; 1 row was left out:"),
                n => format!("Imported {items}; {n} rows were left out:"),
            };
            Outcome {
                ok: true,
                summary,
                problems: problems(&json["skipped_rows"]),
            }
        }
        422 if json["detail"].is_array() => Outcome {
            ok: false,
            summary: "Nothing was imported: the file has problems.".into(),
            problems: problems(&json["detail"]),
        },
        _ => Outcome {
            ok: false,
            summary: match json["detail"].as_str() {
                Some(detail) => format!("Nothing was imported. {detail}"),
                None => format!("Nothing was imported (the server answered {status})."),
            },
            problems: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_told_in_words_with_its_first_problems() {
        let ok = describe(
            200,
            r#"{"imported": 3, "skipped": 0, "skipped_rows": [], "errors_total": 0}"#,
        );
        assert_eq!(ok.summary, "Imported 3 items.");
        assert!(ok.ok && ok.problems.is_empty());
        let one = describe(
            200,
            r#"{"imported": 1, "skipped": 1, "skipped_rows": [{"loc": ["body", 2, "name"], "msg": "Field required"}], "errors_total": 1}"#,
        );
        assert_eq!(one.summary, "Imported 1 item; 1 row was left out:");
        assert_eq!(one.problems, ["Line 2, name: Field required"]);
        let rejected = describe(
            422,
            r#"{"detail": [{"loc": ["body", 3, "price"], "msg": "Input should be greater than or equal to 0"},
                           {"loc": ["body", 5], "msg": "Expected 2 fields"}], "errors_total": 30}"#,
        );
        assert!(!rejected.ok);
        assert_eq!(
            rejected.problems,
            [
                "Line 3, price: Input should be greater than or equal to 0",
                "Line 5: Expected 2 fields",
                "… and 28 more"
            ]
        );
        let refused = describe(
            413,
            r#"{"detail": "The file is larger than the import limit"}"#,
        );
        assert_eq!(
            refused.summary,
            "Nothing was imported. The file is larger than the import limit"
        );
    }
}
