//! The server-rendered pages, seen as HTML (the browser tests live in
//! end2end/).
//!
//! These checks share one server in one runtime, as in production, and run
//! in order. Several Leptos servers rendering pages in one test process
//! (what tests/api does for REST) now and then left a render hanging or hit
//! a disposed reactive value; one server with 1 500 concurrent page requests
//! never did, so the pages are tested the way they are served.

use itemserve::server::config::Config;
use itemserve::server::startup::Application;
use serde_json::json;

struct Page {
    status: u16,
    html: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_rendered_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(format!(
        "sqlite://{}",
        dir.path().join("pages.db").display()
    ));
    config.seed_demo_items = true;
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

    // GET /predict/ (with a slash) redirects to the page.
    let response = client.get(format!("{base}/predict/")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/predict");
}
