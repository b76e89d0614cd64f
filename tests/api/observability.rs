//! Request ids, Prometheus metrics, security headers, CORS and the
//! same-origin check of the UI's server functions.

use serde_json::json;

use crate::helpers::{page_nonce, status_and_json, test_config, TestApp, TestDatabase};

/// The value of `name` in a metrics exposition line whose labels include
/// every one of `labels`, e.g. `("itemserve_items", &[])`.
pub(crate) fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.split(['{', ' ']).next() == Some(name) && labels.iter().all(|l| line.contains(l))
        })
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_id_is_kept() {
    let app = TestApp::spawn().await;
    let first = app.get("/items/1").await;
    let second = app.get("/no/such/path").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (a, b) = (id(&first), id(&second));
    assert_eq!(a.len(), 32, "{a}");
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()), "{a}");
    assert_ne!(a, b);

    let kept = app
        .client
        .get(app.url("/items/1"))
        .header("x-request-id", "trace-42.abc_DEF")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "trace-42.abc_DEF");

    // Too long, or with characters unsafe in logs: replaced.
    for bad in ["x".repeat(200), "has space".into(), "quote\"d".into()] {
        let replaced = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", &bad)
            .send()
            .await
            .unwrap();
        let id = id(&replaced);
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32);
    }

    // Refusals too (a 429 from the rate limit, a 414).
    let long = format!("/items/?q={}", "a".repeat(9000));
    let refused = app.get(&long).await;
    assert_eq!(refused.status(), 414);
    assert!(refused.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_inference_commits_and_items() {
    let app = TestApp::with().empty().start().await;
    app.create(json!({"name": "Counted"})).await;
    app.create(json!({"name": "Counted too"})).await;
    for id in [1, 2, 999] {
        app.get(&format!("/items/{id}")).await;
    }
    // A docs asset (a catch-all route) and a path no route matches.
    assert_eq!(app.get("/docs/swagger-ui.css").await.status(), 200);
    assert_eq!(app.get("/no/such/thing").await.status(), 404);
    let prediction = app
        .post_json(
            "/api/models/linear/predict",
            &json!({"instances": [
                {"feature1": 1, "feature2": 2, "feature3": 3},
                {"feature1": 1, "feature2": 2, "feature3": 3},
                {"feature1": 1, "feature2": 2, "feature3": 3},
            ]}),
        )
        .await;
    assert_eq!(prediction.status(), 200);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();

    let route = |route: &str, status: &str| {
        sample(
            &text,
            "itemserve_http_request_duration_seconds_count",
            &[
                &format!("route=\"{route}\""),
                &format!("status=\"{status}\""),
                "method=\"GET\"",
            ],
        )
    };
    assert_eq!(route("/items/{id}", "200"), Some(2.0), "{text}");
    assert_eq!(route("/docs/{*rest}", "200"), Some(1.0), "{text}");
    assert_eq!(route("unmatched", "404"), Some(1.0), "{text}");
    assert_eq!(route("/items/{id}", "404"), Some(1.0), "{text}");
    let created = sample(
        &text,
        "itemserve_http_request_duration_seconds_count",
        &["route=\"/items/\"", "status=\"201\"", "method=\"POST\""],
    );
    assert_eq!(created, Some(2.0), "{text}");

    let linear = ["model=\"linear\"", "version=\"2.0.0\""];
    // The load's own test prediction is not counted as a request.
    assert_eq!(
        sample(&text, "itemserve_inference_requests_total", &linear),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "itemserve_inference_rows_total", &linear),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "itemserve_inference_duration_seconds_count", &linear),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "itemserve_model_loads_total",
            &["model=\"linear\"", "outcome=\"success\""]
        ),
        Some(1.0)
    );
    let commits = sample(&text, "itemserve_store_commit_writes_count", &[]).unwrap();
    let writes = sample(&text, "itemserve_store_commit_writes_sum", &[]).unwrap();
    assert!(
        commits >= 1.0 && writes >= 2.0,
        "{commits} commits, {writes} writes"
    );
    assert!(sample(&text, "itemserve_store_commit_duration_seconds_count", &[]).unwrap() >= 1.0);
    assert_eq!(sample(&text, "itemserve_items", &[]), Some(2.0));
    assert!(sample(&text, "itemserve_open_connections", &[]).unwrap() >= 1.0);
    assert_eq!(
        sample(
            &text,
            "itemserve_build_info",
            &[&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "itemserve_rate_limit_rejections_total", &[]),
        Some(0.0)
    );
    // Unknown paths share one series instead of one per path.
    assert!(!text.contains("999\""), "raw paths leak into labels");
}

#[tokio::test]
async fn rate_limit_refusals_are_counted() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.rate_limit = 1;
            c.rate_limit_burst = Some(1);
        })
        .start()
        .await;
    let mut refused = 0;
    for _ in 0..5 {
        if app.get("/items/").await.status() == 429 {
            refused += 1;
        }
    }
    assert!(refused >= 3);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        sample(&text, "itemserve_rate_limit_rejections_total", &[]),
        Some(refused as f64),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_can_live_on_their_own_address_only() {
    let db = TestDatabase::new().await;
    let mut config = test_config(&db.url());
    config.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = itemserve::server::startup::Application::build(&config)
        .await
        .unwrap();
    let (addr, metrics_addr) = (app.addr(), app.metrics_addr().unwrap());
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let main = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(main.status(), 404);
    let own = client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("itemserve_build_info"));
}

#[tokio::test]
async fn security_headers_are_on_every_response_and_pages_get_a_nonce() {
    let app = TestApp::spawn().await;
    // API responses: the short policy that allows nothing.
    for path in ["/items/1", "/items/999999", "/openapi.json", "/metrics"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(
            headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'",
            "{path}"
        );
    }
    // Documents: their own resources only, never framed (the UI's 404 page
    // among them).
    for path in ["/docs/", "/redoc", "/docs/swagger-ui-bundle.js", "/no/such"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        assert!(headers.contains_key("permissions-policy"), "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(
            !csp.contains("unsafe-eval'") || csp.contains("wasm-unsafe-eval"),
            "{csp}"
        );
    }

    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let nonce = page_nonce(&page);
    let nonce = nonce.as_str();
    assert!(nonce.len() >= 16);
    assert!(csp.contains("'wasm-unsafe-eval'"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's scripts lack the nonce"
    );
    // Every inline script carries it.
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        if !tag.contains("src=") {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "inline script without nonce: {tag}"
            );
        }
    }
    // A new page, a new nonce.
    let again = app.get("/").await;
    assert_ne!(
        again.headers()["content-security-policy"].to_str().unwrap(),
        csp
    );
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/items/1"))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert!(!response
        .headers()
        .contains_key("access-control-allow-origin"));

    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.cors_origins = vec!["https://app.example".parse().unwrap()];
        })
        .start()
        .await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/items/1"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "content-type,if-match")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("PATCH"), "{methods}");

    let other = app
        .client
        .get(app.url("/items/1"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn server_functions_refuse_cross_site_calls() {
    let app = TestApp::spawn().await;
    let call = |headers: Vec<(&'static str, String)>| {
        let request = app
            .client
            .post(app.url("/rpc/items/categories"))
            .header("content-type", "application/json")
            .body("{}");
        let request = headers
            .into_iter()
            .fold(request, |r, (name, value)| r.header(name, value));
        async move { request.send().await.unwrap() }
    };
    let own_origin = format!("http://{}", app.addr);

    let same = call(vec![
        ("origin", own_origin.clone()),
        ("sec-fetch-site", "same-origin".into()),
    ])
    .await;
    assert_eq!(same.status(), 200);
    let script = call(vec![]).await;
    assert_eq!(script.status(), 200);

    let foreign = call(vec![("origin", "https://evil.example".into())]).await;
    let (status, body) = status_and_json(foreign).await;
    assert_eq!(status, 403);
    // In the server functions' own error shape, which the browser decodes.
    assert!(
        body["Forbidden"].as_str().unwrap().contains("Cross-site"),
        "{body}"
    );
    let cross = call(vec![
        ("origin", own_origin),
        ("sec-fetch-site", "cross-site".into()),
    ])
    .await;
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn json_logs_carry_one_access_line_per_request_with_its_id_and_user() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let db = TestDatabase::new().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--addr", "127.0.0.1:0", "--log-format", "json"])
        .arg("--database-url")
        .arg(db.url())
        .env("RUST_LOG", "info")
        .env("ITEMSERVE_ADMIN_PASSWORD", "json-log-admin-password")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if let Some(rest) = event["message"]
            .as_str()
            .and_then(|m| m.split("open ").nth(1))
        {
            url = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let url = url.expect("the ready line");
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{url}/auth/token"))
        .form(&[
            ("username", "admin"),
            ("password", "json-log-admin-password"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = client
        .post(format!("{url}/items/"))
        .bearer_auth(login["access_token"].as_str().unwrap())
        .header("x-request-id", "json-log-test-1")
        .json(&json!({"name": "Logged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let access = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            if event["target"] == "itemserve::http" && event["span"]["id"] == "json-log-test-1" {
                return event;
            }
        }
        panic!("the server's log ended");
    })
    .await
    .expect("an access line for the request");
    assert_eq!(access["method"], "POST");
    assert_eq!(access["route"], "/items/");
    assert_eq!(access["path"], "/items/");
    assert_eq!(access["status"], 201);
    assert_eq!(access["user"], "admin");
    assert!(access["latency_ms"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn a_malformed_cors_origin_stops_the_start_with_a_clear_message() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--cors-origins", "https://ok.example,not an origin"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("is not an origin like https://app.example.com"),
        "{message}"
    );
}

#[tokio::test]
async fn a_models_own_failures_are_counted_per_version() {
    let app = TestApp::spawn().await;
    let overflow = json!({"feature1": 1e308, "feature2": 1e308, "feature3": 1e308});
    for _ in 0..2 {
        let (status, body) = status_and_json(app.post_json("/predict/", &overflow).await).await;
        assert_eq!(status, 422, "{body}");
    }
    // A request refused before the model runs is not the model's failure.
    let (status, _) =
        status_and_json(app.post_json("/predict/", &json!({"feature1": "x"})).await).await;
    assert_eq!(status, 422);
    let text = app.get("/metrics").await.text().await.unwrap();
    let labels = [r#"model="linear""#, r#"version="2.0.0""#];
    let kind = |kind: &str| {
        let kind = format!(r#"kind="{kind}""#);
        sample(
            &text,
            "itemserve_inference_errors_total",
            &[labels[0], labels[1], &kind],
        )
    };
    assert_eq!(kind("not_finite"), Some(2.0), "{text}");
    assert_eq!(kind("runtime"), Some(0.0), "{text}");
}
