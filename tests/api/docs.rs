//! The OpenAPI document, Swagger UI and ReDoc.

use std::collections::BTreeSet;

use itemserve::server::rest::route_list;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{status_and_json, TestApp};

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

async fn document(app: &TestApp) -> Value {
    let (status, doc) = status_and_json(app.get("/openapi.json").await).await;
    assert_eq!(status, 200);
    doc
}

/// `(METHOD, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let registered: BTreeSet<(String, String)> = route_list()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect();
    let documented = documented(&doc);
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented routes that are not registered: {unrouted:?}"
    );
}

#[tokio::test]
async fn every_documented_route_answers_from_its_handler() {
    // The route list above is what the router was built from; this checks
    // the router itself: no documented operation falls through to the
    // JSON 404/405 of unknown routes.
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in documented(&doc) {
        let concrete = path
            .replace("{id}", "1")
            .replace("{name}", "linear")
            .replace("{version}", "2.0.0");
        let response = no_redirects
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(&concrete),
            )
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if response
            .headers()
            .get("content-type")
            .is_some_and(|v| v == "text/event-stream")
        {
            // The event stream is routed and never ends; not read here.
            assert_eq!(status, 200, "{method} {path}");
            continue;
        }
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert!(
            !(status == 404 && body.contains("\"Not Found\"")),
            "{method} {path} is documented but not routed: {body}"
        );
    }
}

#[tokio::test]
async fn the_document_describes_bodies_errors_and_examples() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let create = &doc["paths"]["/items/"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ItemIn"
    );
    for status in ["201", "409", "413", "414", "415", "422", "429"] {
        assert!(
            create["responses"].get(status).is_some(),
            "POST /items/ lacks {status}"
        );
    }
    let patch = &doc["paths"]["/items/{id}"]["patch"];
    assert!(patch["requestBody"]["content"]
        .get("application/merge-patch+json")
        .is_some());
    assert!(patch["responses"].get("412").is_some());
    // The original app's examples.
    let item_in = &doc["components"]["schemas"]["ItemIn"];
    assert_eq!(item_in["example"]["name"], "Item Four");
    assert_eq!(item_in["properties"]["name"]["maxLength"], 200);
    let features = &doc["components"]["schemas"]["OriginalFeatures"]["example"];
    assert_eq!(features["feature1"], 1.5);
    let validation = &doc["components"]["schemas"]["ValidationError"];
    assert_eq!(
        validation["properties"]["detail"]["items"]["$ref"],
        "#/components/schemas/ValidationDetail"
    );
    // v2 errors are the protocol's shape.
    let infer = &doc["paths"]["/v2/models/{name}/infer"]["post"];
    assert_eq!(
        infer["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/InferenceError"
    );
    // Every operation has a unique id (clients generate method names from them).
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for method in METHODS {
            if let Some(id) = item.get(method).and_then(|op| op["operationId"].as_str()) {
                assert!(ids.insert(id.to_owned()), "operationId {id} repeats");
            }
        }
    }
}

#[tokio::test]
async fn swagger_ui_and_redoc_are_served_without_any_external_resource() {
    let app = TestApp::spawn().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "{html}"
    );
    let init = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains("/openapi.json"));
    assert_eq!(app.get("/docs/swagger-ui-bundle.js").await.status(), 200);

    let page = app.get("/redoc").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<redoc spec-url=\"/openapi.json\">"),
        "{html}"
    );
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "{html}"
    );
    let script = app.get("/redoc/redoc.standalone.js").await;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(script.bytes().await.unwrap().len() > 500_000);
}

#[tokio::test]
async fn the_welcome_map_points_at_the_docs() {
    let app = TestApp::spawn().await;
    let (status, body) = status_and_json(app.get("/api").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["docs"], "/docs");
    assert_eq!(body["redoc"], "/redoc");
    assert_eq!(body["openapi"], "/openapi.json");
    assert!(body["endpoints"]["PATCH /items/{id}"].is_string());
}
