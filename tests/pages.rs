//! The server-rendered pages, seen as HTML (the browser tests live in
//! end2end/).
//!
//! These checks share one server in one runtime, as in production, and run
//! in order. Several Leptos servers rendering pages in one test process
//! (what tests/api does for REST) now and then left a render hanging or hit
//! a disposed reactive value; one server with 1 500 concurrent page requests
//! never did, so the pages are tested the way they are served.

mod common;

use itemserve::server::startup::Application;
use serde_json::json;

struct Page {
    status: u16,
    html: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(&format!(
        "sqlite://{}",
        dir.path().join("pages.db").display()
    ));
    config.seed_demo_items = true;
    // A stand-in for the built site: the bundle's files, one precompressed.
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("pkg")).unwrap();
    for (file, content) in [
        ("itemserve.js", "export default function init() {}"),
        ("itemserve.wasm", "\0asm"),
        ("itemserve.wasm.br", "brotli bytes"),
        ("itemserve.css", "body { margin: 0 }"),
        ("favicon.svg", "<svg/>"),
    ] {
        let folder = if file.starts_with("favicon") {
            site.clone()
        } else {
            site.join("pkg")
        };
        std::fs::write(folder.join(file), content).unwrap();
    }
    config.site_root = site.to_string_lossy().into_owned();
    let app = Application::build(&config).await.expect("app starts");
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = |path: &str| {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        async move {
            let response = client.get(url).send().await.unwrap();
            Page {
                status: response.status().as_u16(),
                html: response.text().await.unwrap(),
            }
        }
    };
    let create = |body: serde_json::Value| {
        let (client, url) = (client.clone(), format!("{base}/items/"));
        async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 201);
        }
    };

    // The item table is rendered on the server with its data.
    let home = page("/").await;
    assert_eq!(home.status, 200);
    for needle in [
        "Item One",
        "This is the first item.",
        "Item Three",
        "Showing 1–3 of 3",
        "/pkg/itemserve.js",
    ] {
        assert!(
            home.html.contains(needle),
            "the item page contains {needle}"
        );
    }

    // An empty catalogue shows the empty state.
    for id in 1..=3 {
        let response = client
            .delete(format!("{base}/items/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert!(page("/").await.html.contains("No items yet."));

    // Names with markup are escaped.
    create(json!({"name": "<script>alert('x')</script>"})).await;
    let html = page("/").await.html;
    assert!(!html.contains("<script>alert('x')</script>"));
    assert!(html.contains("&lt;script&gt;"));

    // Search and paging come from the address.
    for i in 1..=12 {
        create(json!({"name": format!("Widget {i:02}")})).await;
    }
    let html = page("/?q=widget&skip=10").await.html;
    assert!(html.contains("Widget 11") && !html.contains("Widget 01"));
    assert!(html.contains("Showing 11–12 of 12"));
    assert!(page("/?q=widget%2007")
        .await
        .html
        .contains("Showing 1–1 of 1"));

    // Unknown pages render a 404 page.
    let missing = page("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.html.contains("Page not found"));

    // The prediction page lists the models on the server.
    let predict = page("/predict").await;
    assert_eq!(predict.status, 200);
    for needle in ["diabetes", "iris", "linear", "feature1", "What if"] {
        assert!(
            predict.html.contains(needle),
            "the prediction page contains {needle}"
        );
    }

    // The trash page lists the deleted demo items on the server.
    let trash = page("/deleted").await;
    assert_eq!(trash.status, 200);
    for needle in [
        "<h1>Trash</h1>",
        "Item One",
        "Item Three",
        "Restore Item Two",
    ] {
        assert!(
            trash.html.contains(needle),
            "the trash page contains {needle}"
        );
    }

    // An item's history renders on the server too: the demo item's
    // deletion (items seeded before history have no other revision).
    let history = page("/history?item=2").await;
    assert_eq!(history.status, 200);
    for needle in [
        "<h1>History</h1>",
        "“Item Two” (item 2)",
        "Deleted",
        "data-version=\"2\"",
    ] {
        assert!(
            history.html.contains(needle),
            "the history page contains {needle}"
        );
    }

    // The page loads the bundle's files. With plain names (no hash file
    // beside this test binary, as under `cargo test`) they and the page are
    // revalidated on every use; the icon is fresh for an hour. (The
    // content-hashed names of a cargo-leptos build, cached for a year, are
    // checked in end2end/tests/delivery.spec.ts.)
    let fetch = |path: &str, accept_encoding: &str| {
        let request = client
            .get(format!("{base}{path}"))
            .header("accept-encoding", accept_encoding);
        async move { request.send().await.unwrap() }
    };
    let response = fetch("/", "identity").await;
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let html = response.text().await.unwrap();
    for url in [
        "/pkg/itemserve.css",
        "/pkg/itemserve.js",
        "/pkg/itemserve.wasm",
    ] {
        assert!(html.contains(&format!("\"{url}\"")), "the page loads {url}");
    }
    for (url, cache) in [
        ("/pkg/itemserve.css", "no-cache"),
        ("/pkg/itemserve.wasm", "no-cache"),
        ("/favicon.svg", "public, max-age=3600"),
    ] {
        let response = fetch(url, "identity").await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(response.headers()["cache-control"], cache, "{url}");
    }
    // A client that accepts brotli gets the precompressed copy.
    let response = fetch("/pkg/itemserve.wasm", "br").await;
    assert_eq!(response.headers()["content-encoding"], "br");
    assert_eq!(response.headers()["content-type"], "application/wasm");
    assert_eq!(response.headers()["vary"], "accept-encoding");
    assert_eq!(response.bytes().await.unwrap(), "brotli bytes");
    let missing = fetch("/pkg/itemserve.0123456789abcdef.wasm", "br").await;
    assert_eq!(missing.status(), 404);

    // Pages and larger JSON are compressed for clients that accept it; a
    // small answer (one item) is not.
    let page = fetch("/", "gzip").await;
    assert_eq!(page.headers()["content-encoding"], "gzip");
    let document = fetch("/openapi.json", "br").await;
    assert_eq!(document.headers()["content-encoding"], "br");
    let small = fetch("/items/?limit=1", "gzip, br").await;
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());
    let large = fetch("/items/?limit=100", "gzip, br").await;
    assert_eq!(large.headers()["content-encoding"], "br");

    // GET /predict/ (with a slash) redirects to the page.
    let response = client.get(format!("{base}/predict/")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/predict");
}
