//! Moving the catalogue out and in: `GET /items/export`.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::helpers::{error_locs, pairs, status_and_json, TestApp};

/// The fields an export carries, of every item `GET /items/` lists with
/// `query` (paged through).
async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let path = format!("/items/?{query}&limit=1000&skip={}", all.len());
        let (status, page) = status_and_json(app.get(&path).await).await;
        assert_eq!(status, 200, "{path}: {page}");
        let page = page.as_array().unwrap().clone();
        let done = page.len() < 1000;
        all.extend(page.into_iter().map(|item| {
            json!({
                "id": item["id"], "name": item["name"], "description": item["description"],
                "category": item["category"], "price": item["price"],
            })
        }));
        if done {
            return all;
        }
    }
}

fn ndjson_lines(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "unterminated: {text:?}"
    );
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn an_export_is_a_csv_file_with_a_header_quoting_only_what_must_be() {
    let app = TestApp::with().empty().start().await;
    app.create(json!({"name": "Lamp", "description": "Warm, \"soft\" light\nsecond line", "category": "Lighting", "price": 25.5}))
        .await;
    app.create(json!({"name": " Café ", "price": 0.1})).await;
    app.create(json!({"name": "Plain", "category": "Misc"}))
        .await;

    let response = app.get("/items/export").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"items.csv\""
    );
    // Names are trimmed when stored; the description keeps its spaces.
    assert_eq!(
        response.text().await.unwrap(),
        "id,name,description,category,price\r\n\
         1,Lamp,\"Warm, \"\"soft\"\" light\nsecond line\",Lighting,25.5\r\n\
         2,Café,,,0.1\r\n\
         3,Plain,,Misc,\r\n"
    );
}

#[tokio::test]
async fn a_compressed_export_ends_like_any_other() {
    let app = TestApp::spawn().await;
    for encoding in ["gzip", "br"] {
        let response = app
            .client
            .get(app.url("/items/export?format=ndjson"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        let body = response.bytes().await.expect("the whole body arrives");
        assert!(!body.is_empty());
    }
}

#[tokio::test]
async fn an_empty_catalogue_exports_only_the_header_or_nothing() {
    let app = TestApp::with().empty().start().await;
    let response = app.get("/items/export?format=csv").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "id,name,description,category,price\r\n"
    );
    let response = app.get("/items/export?format=ndjson").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test]
async fn an_ndjson_export_has_one_object_a_line_with_nulls_for_missing_values() {
    let app = TestApp::spawn().await;
    app.create(
        json!({"name": "Chair", "description": "Ergonomic", "category": "Furniture", "price": 150}),
    )
    .await;
    let response = app.get("/items/export?format=ndjson").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"items.ndjson\""
    );
    let lines = ndjson_lines(&response.text().await.unwrap());
    assert_eq!(lines, listed(&app, "").await);
    assert_eq!(
        lines[0],
        json!({"id": 1, "name": "Item One", "description": "This is the first item.", "category": null, "price": null})
    );
}

#[tokio::test]
async fn an_export_holds_every_match_of_listings_filters_in_their_order_across_many_batches() {
    let app = TestApp::with().empty().start().await;
    // More items than one batch of the store's reads (1 000).
    let creates = (0..2_300).map(|n| {
        let app = &app;
        async move {
            let category = ["Tools", "tools", "Garden", "Kitchen"][n % 4];
            let mut body = json!({"name": format!("Item {n:04} {}", ["alpha", "beta", "gamma"][n % 3]), "category": category});
            if n % 7 != 0 {
                body["price"] = json!((n * 37 % 500) as f64 / 4.0);
            }
            if n % 5 == 0 {
                body["description"] = json!(format!("note {n}, with a comma"));
            }
            app.create(body).await;
        }
    });
    stream::iter(creates)
        .buffer_unordered(16)
        .collect::<()>()
        .await;

    for query in [
        "",
        "sort=-price",
        "category=TOOLS&sort=name",
        "q=beta&sort=-description",
        "price_lt=40&sort=price",
        "q=gamma&category=garden&price_lt=100&sort=-id",
    ] {
        let expected = listed(&app, query).await;
        let response = app
            .get(&format!("/items/export?format=ndjson&{query}"))
            .await;
        assert_eq!(response.status(), 200, "{query}");
        let exported = ndjson_lines(&response.text().await.unwrap());
        assert_eq!(exported.len(), expected.len(), "{query}");
        assert!(
            exported == expected,
            "{query}: the export differs from the listing"
        );
    }
    // The CSV file of everything: a header and one line an item.
    let csv = app.get("/items/export").await.text().await.unwrap();
    assert_eq!(csv.matches("\r\n").count(), 1 + 2_300);
}

#[tokio::test]
async fn an_export_refuses_an_unknown_format_paging_and_bad_filters_naming_each() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(
        app.get("/items/export?format=xlsx&skip=10&limit=5&price_lt=abc&sort=colour")
            .await,
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let mut locs = error_locs(&body);
    locs.sort();
    assert_eq!(
        locs,
        pairs(&[
            ("query.format", "enum"),
            ("query.limit", "extra_forbidden"),
            ("query.price_lt", "float_parsing"),
            ("query.skip", "extra_forbidden"),
            ("query.sort", "enum"),
        ])
    );
    let format = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["loc"][1] == "format")
        .unwrap();
    assert_eq!(format["msg"], "Input should be 'csv' or 'ndjson'");
    assert_eq!(format["input"], "xlsx");
}

// ---- Import ----

/// POSTs `body` to `/items/import` (with `query`) as `content_type`.
pub(crate) async fn import(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let path = format!("/items/import{query}");
    status_and_json(
        app.send_raw(
            reqwest::Method::POST,
            &path,
            content_type,
            body.as_bytes().to_vec(),
        )
        .await,
    )
    .await
}

/// The `(loc, type)` of each entry of `entries` (a 422's `detail` or an
/// import's `skipped_rows`), as `body.LINE.field`.
fn row_locs(entries: &Value) -> Vec<(String, String)> {
    error_locs(&json!({"detail": entries}))
}

#[tokio::test]
async fn a_csv_import_adds_every_row_taking_given_ids_and_assigning_the_others_in_order() {
    let app = TestApp::spawn().await; // Items 1 to 3.
    let file = "\u{feff}name,price,id,description,category\r\n\
                Desk lamp,25.5,,\"Warm, \"\"soft\"\" light\",Lighting\r\n\
                Chair,150,10,,Furniture\r\n\
                \r\n\
                Café crème,,,\"two\nlines\",\r\n";
    let (status, body) = import(&app, "", "text/csv; charset=utf-8", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"imported": 3, "skipped": 0, "skipped_rows": [], "errors_total": 0})
    );
    let items = listed(&app, "").await;
    assert_eq!(
        items[3..],
        [
            json!({"id": 4, "name": "Desk lamp", "description": "Warm, \"soft\" light", "category": "Lighting", "price": 25.5}),
            json!({"id": 5, "name": "Café crème", "description": "two\nlines", "category": null, "price": null}),
            json!({"id": 10, "name": "Chair", "description": null, "category": "Furniture", "price": 150.0}),
        ]
    );
    // The kept counts (the page's total, a category's) include them.
    let (_, all) = status_and_json(app.get("/search/?limit=1").await).await;
    assert_eq!(
        (all["total"].clone(), all["total_exact"].clone()),
        (json!(6), json!(true))
    );
    let (_, lighting) = status_and_json(app.get("/filter/?category=LIGHTING").await).await;
    assert_eq!(lighting["total"], 1);

    // An import refused as a whole leaves the counts as they were, and
    // creates go on counting after an import.
    let (status, _) = import(
        &app,
        "",
        "text/csv",
        "name,category
Lamp 2,Lighting
,Lighting
",
    )
    .await;
    assert_eq!(status, 422);
    app.create(json!({"name": "Lamp 3", "category": "lighting"}))
        .await;
    let (_, all) = status_and_json(app.get("/search/?limit=1").await).await;
    assert_eq!(all["total"], 7);
    let (_, lighting) = status_and_json(app.get("/filter/?category=Lighting").await).await;
    assert_eq!(lighting["total"], 2);
}

#[tokio::test]
async fn an_ndjson_import_takes_the_objects_post_takes() {
    let app = TestApp::with().empty().start().await;
    let file = "{\"name\": \"Lamp\", \"price\": 25.5, \"category\": \"Lighting\"}\r\n\
                \n\
                {\"id\": 7, \"name\": \"Chair\", \"description\": null}\n\
                {\"name\": \"Rug\", \"price\": 60}";
    let (status, body) = import(&app, "", "application/x-ndjson", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 3);
    let names: Vec<(i64, String)> = listed(&app, "")
        .await
        .iter()
        .map(|i| {
            (
                i["id"].as_i64().unwrap(),
                i["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            (1, "Lamp".to_owned()),
            (2, "Rug".to_owned()),
            (7, "Chair".to_owned())
        ]
    );
}

#[tokio::test]
async fn one_bad_row_rejects_the_file_naming_each_bad_row_by_line_and_field() {
    let app = TestApp::spawn().await;
    let file = "id,name,price\n\
                ,Good,1\n\
                ,,2\n\
                0,Zero id,3\n\
                ,Cheap,-1\n\
                ,Too,many,fields\n\
                ,Not a price,cheap\n\
                ,Also good,4\n";
    let (status, body) = import(&app, "", "text/csv", file).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        row_locs(&body["detail"]),
        pairs(&[
            ("body.3.name", "string_too_short"),
            ("body.4.id", "greater_than"),
            ("body.5.price", "greater_than_equal"),
            ("body.6", "csv_invalid"),
            ("body.7.price", "float_type"),
        ])
    );
    assert_eq!(body["errors_total"], 5);
    assert_eq!(body["detail"][4]["input"], "cheap");
    // Nothing was written.
    assert_eq!(listed(&app, "").await.len(), 3);

    // The same rows, skipping the bad ones.
    let (status, body) = import(&app, "?on_error=skip", "text/csv", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(body["skipped"], 5);
    assert_eq!(row_locs(&body["skipped_rows"]).len(), 5);
    let names: Vec<Value> = listed(&app, "")
        .await
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names[3..], [json!("Good"), json!("Also good")]);
}

#[tokio::test]
async fn an_id_in_use_or_given_twice_is_that_rows_error() {
    let app = TestApp::spawn().await; // Items 1 to 3.
    let file = "{\"id\": 2, \"name\": \"Taken\"}\n\
                {\"id\": 20, \"name\": \"First twenty\"}\n\
                {\"id\": 20, \"name\": \"Second twenty\"}\n\
                {\"name\": \"Fresh\"}\n";
    let (status, body) = import(&app, "", "application/x-ndjson", file).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        row_locs(&body["detail"]),
        pairs(&[("body.1.id", "id_taken"), ("body.3.id", "id_taken")])
    );
    assert_eq!(body["detail"][0]["msg"], "Item with id 2 already exists");
    assert_eq!(listed(&app, "").await.len(), 3, "nothing was written");

    let (status, body) = import(&app, "?on_error=skip", "application/x-ndjson", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(
        row_locs(&body["skipped_rows"]),
        pairs(&[("body.1.id", "id_taken"), ("body.3.id", "id_taken")])
    );
    let (_, twenty) = status_and_json(app.get("/items/20").await).await;
    assert_eq!(twenty["name"], "First twenty");
    let (_, taken) = status_and_json(app.get("/items/2").await).await;
    assert_eq!(taken["name"], "Item Two");
}

#[tokio::test]
async fn assigned_ids_step_over_ids_in_use_or_retired_and_a_deleted_items_id_carries_on_its_version(
) {
    let app = TestApp::spawn().await; // Items 1 to 3.
                                      // Ids a client chose past the last assigned one: 4 in use, 6 retired.
    app.create(json!({"id": 4, "name": "Chosen four"})).await;
    app.create(json!({"id": 6, "name": "Chosen six"})).await;
    assert_eq!(app.delete("/items/6").await.status(), 200);
    assert_eq!(app.delete("/items/2").await.status(), 200);
    let file = "{\"name\": \"Fresh a\"}\n\
                {\"name\": \"Fresh b\"}\n\
                {\"name\": \"Fresh c\"}\n\
                {\"id\": 2, \"name\": \"Two again\"}\n";
    let (status, body) = import(&app, "", "application/x-ndjson", file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 4, "{body}");
    let items = listed(&app, "").await;
    let id_of = |name: &str| {
        items
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} is missing: {items:?}"))["id"]
            .as_i64()
            .unwrap()
    };
    let fresh = [id_of("Fresh a"), id_of("Fresh b"), id_of("Fresh c")];
    for id in fresh {
        assert!(id > 3 && id != 4 && id != 6, "assigned {fresh:?}");
    }
    assert_eq!(id_of("Chosen four"), 4);
    assert_eq!(id_of("Two again"), 2);
    let response = app.get("/items/2").await;
    assert_eq!(
        response.headers()["etag"],
        "\"3\"",
        "the deleted item was at version 1, and its deletion is version 2"
    );
    // Creates go on after the import's ids.
    let next = app.create(json!({"name": "After"})).await;
    assert!(next["id"].as_i64().unwrap() > *fresh.iter().max().unwrap());
}

#[tokio::test]
async fn after_a_long_run_of_chosen_ids_the_next_assigned_id_is_the_first_free_one() {
    let app = TestApp::spawn().await; // Items 1 to 3.
                                      // Ids 4 to 5 000 chosen, then 5 001 chosen and deleted (retired), so
                                      // the run of ids that cannot be assigned reaches 5 001.
    let mut file = String::from("id,name\n");
    for id in 4..=5_000 {
        file.push_str(&format!("{id},chosen {id}\n"));
    }
    let (status, body) = import(&app, "", "text/csv", &file).await;
    assert_eq!(status, 200, "{body}");
    app.create(json!({"id": 5_001, "name": "retired soon"}))
        .await;
    assert_eq!(app.delete("/items/5001").await.status(), 200);
    let first = app.create(json!({"name": "first assigned"})).await;
    assert_eq!(first["id"], 5_002);
    let second = app.create(json!({"name": "second assigned"})).await;
    assert_eq!(second["id"], 5_003);
    // An import's rows without ids cross a run the same way.
    app.create(json!({"id": 5_004, "name": "chosen"})).await;
    app.create(json!({"id": 5_005, "name": "chosen"})).await;
    let (status, body) = import(&app, "", "text/csv", "name\nimported\n").await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = status_and_json(app.get("/search/?q=imported").await).await;
    assert_eq!(page["items"][0]["id"], 5_006, "{page}");
}

#[tokio::test]
async fn problems_are_listed_up_to_a_thousand_and_counted_beyond() {
    let app = TestApp::with().empty().start().await;
    let mut file = String::from("name,price\n");
    for n in 0..1_500 {
        file.push_str(&format!("Row {n},-{n}.5\n"));
    }
    let (status, body) = import(&app, "", "text/csv", &file).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"].as_array().unwrap().len(), 1_000);
    assert_eq!(body["errors_total"], 1_500);
    assert_eq!(body["detail"][999]["loc"], json!(["body", 1001, "price"]));
}

#[tokio::test]
async fn a_file_that_cannot_be_read_on_is_refused_with_its_line() {
    let app = TestApp::spawn().await;
    for (file, line, words) in [
        ("name,colour\nLamp,red\n", 1, "'colour'"),
        ("price\n3\n", 1, "'name'"),
        ("name\nfine\n\"never closed\n", 3, "not closed"),
    ] {
        let (status, body) = import(&app, "", "text/csv", file).await;
        assert_eq!(status, 422, "{file:?}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", line]), "{file:?}");
        assert_eq!(body["detail"][0]["type"], "file_invalid");
        let message = body["detail"][0]["msg"].as_str().unwrap();
        assert!(
            message.contains(words) && message.contains("nothing was imported"),
            "{message}"
        );
    }
    let (status, body) = import(
        &app,
        "",
        "application/x-ndjson",
        "{\"name\": \"a\"}\n{oops\n",
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        row_locs(&body["detail"]),
        pairs(&[("body.2", "json_invalid")])
    );
    assert_eq!(listed(&app, "").await.len(), 3);
}

#[tokio::test]
async fn an_import_refuses_other_media_types_bad_modes_and_files_over_the_limit() {
    let app = TestApp::with()
        .configure(|c| c.import_max_bytes = 64)
        .start()
        .await;
    let (status, body) = import(&app, "", "application/json", "[{\"name\": \"a\"}]").await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("text/csv"),
        "{body}"
    );

    let (status, body) = import(&app, "?on_error=ignore", "text/csv", "name\na\n").await;
    assert_eq!(status, 422);
    assert_eq!(
        row_locs(&body["detail"]),
        pairs(&[("query.on_error", "enum")])
    );

    let big = format!("name\n{}\n", "x".repeat(100));
    let (status, body) = import(&app, "", "text/csv", &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("64 bytes"),
        "{body}"
    );

    // Sent in chunks, without a length: counted as it arrives.
    let response = raw_chunked_import(&app, &big).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert_eq!(listed(&app, "").await.len(), 3);
}

/// POSTs `file` to `/items/import` as CSV in chunks of 16 bytes, without a
/// `Content-Length`, and returns the raw answer.
async fn raw_chunked_import(app: &TestApp, file: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /items/import HTTP/1.1\r\nHost: {}\r\nContent-Type: text/csv\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in file.as_bytes().chunks(16) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // The server answered and closed early.
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_export_imported_into_an_empty_catalogue_gives_the_same_items() {
    let source = TestApp::with().empty().start().await;
    for body in [
        json!({"name": "Lamp", "description": "Warm, \"soft\"\nlight", "category": "Lighting", "price": 0.1}),
        json!({"id": 40, "name": " padded ", "description": "  kept spaces  "}),
        json!({"name": "Ünïcødé ✓", "category": "Ελληνικά", "price": 123456789.125}),
        json!({"name": "Gone"}),
    ] {
        source.create(body).await;
    }
    assert_eq!(source.delete("/items/3").await.status(), 200);
    for format in ["csv", "ndjson"] {
        let exported = source.get(&format!("/items/export?format={format}")).await;
        let content_type = exported.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let file = exported.text().await.unwrap();
        let target = TestApp::with().empty().start().await;
        let (status, body) = import(&target, "", &content_type, &file).await;
        assert_eq!(status, 200, "{format}: {body}");
        assert_eq!(
            listed(&target, "").await,
            listed(&source, "").await,
            "{format}"
        );
        let again = target.get(&format!("/items/export?format={format}")).await;
        assert_eq!(again.text().await.unwrap(), file, "{format}");
    }
}

#[tokio::test]
async fn an_import_is_one_bulk_event_on_the_stream() {
    let app = TestApp::with().empty().start().await;
    let mut events = crate::events::EventStream::open(&app, None).await;
    let file: String = (0..50)
        .map(|n| format!("{{\"name\": \"Row {n}\"}}\n"))
        .collect();
    let (status, _) = import(&app, "", "application/x-ndjson", &file).await;
    assert_eq!(status, 200);
    app.create(json!({"name": "After"})).await;
    let first = events.next().await;
    assert_eq!(first.data, json!({"kind": "bulk"}));
    let second = events.next().await;
    assert_eq!(
        second.data["kind"], "created",
        "one event for the import, then the create"
    );
    assert_eq!(second.data["id"], 51);
}

#[tokio::test]
async fn an_export_shows_the_catalogue_as_it_was_when_it_started() {
    let app = TestApp::with().empty().start().await;
    let rows = 40_000;
    let file: String = (0..rows)
        .map(|n| {
            format!(
                "{{\"name\": \"Row {n}\", \"description\": \"{}\"}}\n",
                "x".repeat(300)
            )
        })
        .collect();
    let (status, body) = import(&app, "", "application/x-ndjson", &file).await;
    assert_eq!(status, 200, "{body}");
    // About 13 MB: more than the socket holds, so the server is still
    // reading when the changes below commit.
    let mut export = app.get("/items/export?format=ndjson").await;
    let mut text = String::from_utf8(export.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    for id in (rows - 10)..=rows {
        assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
    }
    app.create(json!({"name": "Newcomer"})).await;
    while let Some(chunk) = export.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let lines = ndjson_lines(&text);
    assert_eq!(lines.len(), rows as usize);
    assert_eq!(lines.last().unwrap()["id"], rows);
    assert_eq!(listed(&app, "").await.len(), rows as usize - 11 + 1);
}

// ---- The command line ----

/// Runs `itemserve import ARGS` on `database_url`; exit success and stderr.
async fn import_command(database_url: &str, args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .arg("import")
        .args(args)
        .args(["--database-url", database_url])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_import_command_writes_a_file_into_the_database_and_lists_bad_rows() {
    let db = crate::helpers::TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let url = match &db {
        crate::helpers::TestDatabase::Sqlite(_) => {
            format!("sqlite://{}", dir.path().join("items.db").display())
        }
        crate::helpers::TestDatabase::Postgres { .. } => db.url(),
    };
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        "name,category,price\nLamp,Lighting,19.5\nDesk,,250\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.data");
    std::fs::write(&bad, "{\"name\": \"Rug\"}\n{\"name\": \"\"}\n").unwrap();

    let (ok, stderr) = import_command(&url, &[good.to_str().unwrap()]).await;
    assert!(ok, "{stderr}");
    assert!(stderr.contains("imported 2 items"), "{stderr}");

    // The format from --format when the name does not tell it.
    let (ok, stderr) = import_command(&url, &[bad.to_str().unwrap()]).await;
    assert!(!ok && stderr.contains("--format"), "{stderr}");
    let (ok, stderr) = import_command(&url, &[bad.to_str().unwrap(), "--format", "ndjson"]).await;
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("line 2: name: String should have at least 1 character"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    let (ok, stderr) = import_command(
        &url,
        &[
            bad.to_str().unwrap(),
            "--format",
            "ndjson",
            "--on-error",
            "skip",
        ],
    )
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("imported 1 item ") && stderr.contains("1 row left out"),
        "{stderr}"
    );
    let (ok, stderr) = import_command(&url, &["/no/such/file.csv"]).await;
    assert!(
        !ok && stderr.contains("cannot open /no/such/file.csv"),
        "{stderr}"
    );

    // The server finds them, after the three demo items that the first
    // opening of the new database (the command's) stored.
    let app = TestApp::with().database(&url).start().await;
    let names: Vec<Value> = listed(&app, "")
        .await
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert!(
        names.ends_with(&[json!("Lamp"), json!("Desk"), json!("Rug")]),
        "{names:?}"
    );
}

/// Opens `POST /items/import` (CSV, chunked) and sends the head; the
/// stream for the body's chunks.
async fn open_chunked_import(app: &TestApp) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /items/import HTTP/1.1\r\nHost: {}\r\nContent-Type: text/csv\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

async fn send_chunk(stream: &mut tokio::net::TcpStream, text: &str) {
    use tokio::io::AsyncWriteExt;
    let framed = format!("{:x}\r\n{text}\r\n", text.len());
    stream.write_all(framed.as_bytes()).await.unwrap();
}

async fn answer(mut stream: tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_upload_may_take_longer_than_the_body_timeout_but_not_stall() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.body_timeout = 0.4)
        .start()
        .await;
    // Steady parts for three times the body timeout: accepted.
    let mut stream = open_chunked_import(&app).await;
    send_chunk(&mut stream, "name\n").await;
    for n in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send_chunk(&mut stream, &format!("Slow {n}\n")).await;
    }
    send_chunk(&mut stream, "").await;
    let reply = answer(stream).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("\"imported\":6"), "{reply}");

    // A pause longer than it: 408, and nothing of that file is written.
    let mut stream = open_chunked_import(&app).await;
    send_chunk(&mut stream, "name\nStalled\n").await;
    let reply = tokio::time::timeout(Duration::from_secs(5), answer(stream))
        .await
        .expect("the server answers a stalled upload");
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(reply.contains("No part of the file arrived for"), "{reply}");
    assert_eq!(listed(&app, "").await.len(), 6);
}

#[tokio::test]
async fn an_upload_cut_off_before_its_end_writes_nothing() {
    let app = TestApp::with().empty().start().await;
    let mut stream = open_chunked_import(&app).await;
    send_chunk(&mut stream, "name\nHalf\nof a\n").await;
    drop(stream);
    // The server notices the closed connection and drops the import.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listed(&app, "").await.len(), 0);
    let (status, body) = import(&app, "", "text/csv", "name\nWhole\n").await;
    assert_eq!((status, body["imported"].clone()), (200, json!(1)));
}
