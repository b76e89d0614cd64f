//! The server-rendered UI, seen as HTML (the browser tests live in end2end/).

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn the_item_table_is_rendered_on_the_server_with_its_data() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    for needle in [
        "Item One",
        "This is the first item.",
        "Item Three",
        "Showing 1–3 of 3",
        "/pkg/itemserve.js",
    ] {
        assert!(html.contains(needle), "page contains {needle}");
    }
}

#[tokio::test]
async fn names_with_markup_are_escaped_in_the_page() {
    let app = TestApp::spawn_empty().await;
    app.create(json!({"name": "<script>alert('x')</script>"}))
        .await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(!html.contains("<script>alert('x')</script>"));
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn the_page_honours_search_and_paging_in_the_address() {
    let app = TestApp::spawn_empty().await;
    for i in 1..=12 {
        app.create(json!({"name": format!("Widget {i:02}")})).await;
    }
    let html = app.get("/?skip=10").await.text().await.unwrap();
    assert!(html.contains("Widget 11") && !html.contains("Widget 01"));
    assert!(html.contains("Showing 11–12 of 12"));
    let html = app.get("/?q=widget%2007").await.text().await.unwrap();
    assert!(html.contains("Showing 1–1 of 1"));
}

#[tokio::test]
async fn an_empty_catalogue_shows_the_empty_state() {
    let app = TestApp::spawn_empty().await;
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("No items yet."));
}

#[tokio::test]
async fn unknown_pages_render_a_404_page() {
    let app = TestApp::spawn().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn the_prediction_page_lists_the_models_on_the_server() {
    let app = TestApp::spawn().await;
    let response = app.get("/predict").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for needle in ["diabetes", "iris", "linear", "feature1", "What if"] {
        assert!(html.contains(needle), "page contains {needle}");
    }
}

#[tokio::test]
async fn get_predict_with_a_slash_redirects_to_the_page() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/predict/")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/predict");
}
