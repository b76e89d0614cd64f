//! `GET /items/export` and `POST /items/import`: the catalogue (or the part
//! a query selects) as one CSV or NDJSON file, streamed as it is read; and
//! such a file read into the catalogue as it arrives.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::error::{ApiError, ValidationBody, ValidationDetail};
use super::extract::{Can, Editor, ListParams, Read};
use super::mapping::row_details;
use super::openapi::{Detail, ImportAnswer};
use crate::domain::{Door, Item, ItemQuery, DEFAULT_LIMIT};
use crate::server::http::MediaType;
use crate::server::state::AppState;
use crate::server::store::{OnError, Origin};
use crate::server::telemetry::chain;
use crate::server::transfer::{self, Format, ImportOptions};

/// The query of an export: listing's filters and order, and the format.
fn export_params(raw: Option<&str>) -> Result<(ItemQuery, Format), ApiError> {
    let mut details = Vec::new();
    let mut format = Format::Csv;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match &*key {
            "format" => match Format::parse(&value) {
                Some(f) => format = f,
                None => details.push(
                    ValidationDetail::new(
                        "query",
                        "format",
                        "enum",
                        "Input should be 'csv' or 'ndjson'",
                        json!(value),
                    )
                    .with_ctx(json!({"expected": "'csv' or 'ndjson'"})),
                ),
            },
            "skip" | "limit" | "cursor" => details.push(ValidationDetail::new(
                "query",
                &key,
                "extra_forbidden",
                "An export holds every matching item: skip, limit and cursor do not apply",
                json!(value),
            )),
            _ => {}
        }
    }
    let query = match ListParams::parse(raw, DEFAULT_LIMIT) {
        Ok(query) => Some(query),
        Err(ApiError::Validation(more)) => {
            details.extend(more.into_iter().filter(|d| {
                !matches!(
                    d.loc.get(1).and_then(|l| l.as_str()),
                    Some("skip" | "limit" | "cursor")
                )
            }));
            None
        }
        Err(other) => return Err(other),
    };
    match query {
        Some(query) if details.is_empty() => Ok((query, format)),
        _ => Err(ApiError::Validation(details)),
    }
}

/// `GET /items/export`.
#[utoipa::path(
    get,
    path = "/items/export",
    tag = "items",
    summary = "Export items (CSV or NDJSON)",
    description = "Every item matching `q`, `category` and `price_lt`, in the order of `sort` \
(as `GET /items/` takes them; no paging), as one file: `format=csv` (the default: a header row \
`id,name,description,category,price`, RFC 4180 quoting, CRLF line ends, a missing value is an \
empty field) or `format=ndjson` (one JSON object a line, a missing value is `null`). The file \
is read from one snapshot of the catalogue (writes during the export are not in it) and \
streamed as it is read, so its size is not limited by the server's memory. Importing it into \
an empty catalogue gives the same items, ids included.",
    params(
        ("format" = Option<String>, Query, description = "`csv` (default) or `ndjson`"),
        ("q" = Option<String>, Query, description = "Text in the name or description (ignoring case)"),
        ("category" = Option<String>, Query, description = "Exact category, ignoring case"),
        ("price_lt" = Option<f64>, Query, description = "Only items cheaper than this"),
        ("sort" = Option<String>, Query, description = "A field (`id`, `name`, `description`, `category`, `price`, `updated_at`), `-` first for descending"),
    ),
    responses(
        (status = 200, description = "The file, as an attachment",
            content(
                (String = "text/csv"),
                (String = "application/x-ndjson"),
            ),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"items.csv\" (or .ndjson)"))),
        (status = 401, description = "Reading requires a login here and none was given", body = Detail),
        (status = 422, description = "A query parameter is invalid", body = super::error::ValidationBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    _: Can<Read>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (query, format) = export_params(raw.as_deref())?;
    let mut batches = state.store.export(&query).await?;
    // The first batch is read before the status is sent, so that a
    // database that cannot be read answers with an error status.
    let first = batches.recv().await.transpose()?.unwrap_or_default();
    let encode = move |items: &[Item], mut text: String| {
        for item in items {
            format.write(item, &mut text);
        }
        Bytes::from(text)
    };
    let opening = encode(&first, format.header().to_owned());
    let rest = stream::unfold(batches, move |mut batches| async move {
        match batches.recv().await? {
            Ok(items) => Some((Ok(encode(&items, String::new())), batches)),
            Err(e) => {
                // Past the status line there is no error status to give:
                // the response ends unfinished, which clients notice.
                tracing::error!(error = %chain(&e), "an export stopped partway");
                Some((
                    Err(std::io::Error::other("the export stopped partway")),
                    batches,
                ))
            }
        }
    });
    // Fused: the compression layer polls the body once more after its end.
    let body = Body::from_stream(stream::once(async { Ok(opening) }).chain(rest).fuse());
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static(format.media_type())),
            (
                CONTENT_DISPOSITION,
                HeaderValue::from_static(format.attachment()),
            ),
        ],
        body,
    )
        .into_response())
}

/// The query of an import: what to do with a bad row.
fn import_params(raw: Option<&str>) -> Result<OnError, ApiError> {
    let mut on_error = OnError::Abort;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if key == "on_error" {
            on_error = match &*value {
                "abort" => OnError::Abort,
                "skip" => OnError::Skip,
                _ => {
                    let detail = ValidationDetail::new(
                        "query",
                        "on_error",
                        "enum",
                        "Input should be 'abort' or 'skip'",
                        json!(value),
                    )
                    .with_ctx(json!({"expected": "'abort' or 'skip'"}));
                    return Err(ApiError::Validation(vec![detail]));
                }
            };
        }
    }
    Ok(on_error)
}

/// The format a `Content-Type` names.
fn import_format(request: &Request) -> Result<Format, ApiError> {
    let media = MediaType::of(request.headers());
    if media.is("text/csv") {
        return Ok(Format::Csv);
    }
    if [
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
    ]
    .iter()
    .any(|name| media.is(name))
    {
        return Ok(Format::Ndjson);
    }
    let sent = match media.to_string() {
        sent if sent.is_empty() => "no Content-Type".to_owned(),
        sent => format!("'{sent}'"),
    };
    Err(ApiError::UnsupportedMediaType(format!(
        "Send the file as 'text/csv' (with a header row) or 'application/x-ndjson' (one item \
         object a line), not {sent}"
    )))
}

/// `POST /items/import`.
#[utoipa::path(
    post,
    path = "/items/import",
    tag = "items",
    summary = "Import items (CSV or NDJSON)",
    description = "Adds the items of a file, chosen by `Content-Type`: `text/csv` (a header row \
naming the columns, any of `id,name,description,category,price` with `name` required; RFC 4180 \
quoting; UTF-8, a byte order mark is skipped; an empty field is a missing value) or \
`application/x-ndjson` (one item object a line, as `POST /items/` takes it). Every row is checked \
by the rules of `POST /items/`; a row with an `id` takes that id (an id already in use is that \
row's error), the others get the next free ids in the order of the file. By default the import is \
all or nothing: one bad row and nothing is written (422 lists the bad rows). With \
`on_error=skip` the good rows are written and the bad ones listed. Problems name the row's \
line in `loc` (`[\"body\", line, field]`), the first 1 000 of them, with `errors_total` \
counting all. The file is read as it arrives, up to a limit (`--import-max-bytes`, 1 GiB by \
default; 413 past it), then written in one transaction, announced to event streams as one \
`bulk` event.",
    params(("on_error" = Option<String>, Query, description = "`abort` (default): one bad row and nothing is imported; `skip`: bad rows are left out")),
    request_body(content(
        (String = "text/csv", example = "id,name,description,category,price\r\n,Desk lamp,Warm light,Lighting,25.5\r\n"),
        (String = "application/x-ndjson", example = "{\"name\": \"Desk lamp\", \"price\": 25.5}\n"),
    )),
    responses(
        (status = 200, description = "The items were imported (and, with `on_error=skip`, the rows left out)", body = ImportAnswer),
        (status = 401, description = "Not logged in", body = Detail),
        (status = 403, description = "Importing needs an editor or admin", body = Detail),
        (status = 408, description = "No part of the file arrived in time; nothing was imported", body = Detail),
        (status = 413, description = "The file is larger than the import limit", body = Detail),
        (status = 415, description = "Not a CSV or NDJSON file", body = Detail),
        (status = 422, description = "Bad rows (nothing was imported), a bad header, or a bad query parameter", body = ValidationBody),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    Editor(origin): Editor,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let on_error = import_params(raw.as_deref())?;
    let format = import_format(&request)?;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let options = ImportOptions {
        format,
        on_error,
        max_bytes: state.import_max_bytes,
        declared_bytes: declared,
        idle_timeout: state.import_idle_timeout,
        origin: Origin {
            door: Door::Import,
            ..origin
        },
    };
    let body = request.into_body().into_data_stream();
    let report = transfer::import(state.store.as_ref(), body, &options).await?;
    Ok(Json(json!({
        "imported": report.imported,
        "skipped": report.skipped,
        "skipped_rows": row_details(report.problems),
        "errors_total": report.problems_total,
    }))
    .into_response())
}
