//! Property-based fuzzing of request decoding and validation, through the
//! real server: generated bodies, query strings and paths must always get
//! a well-formed answer (a 2xx, or a 4xx whose JSON says what is wrong),
//! never a 5xx, and the server must keep serving.
//!
//! The number of cases per target comes from `FUZZ_CASES` (default 300),
//! which bounds the time this takes in the test command; proptest prints the
//! seed of any failure so it can be replayed.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::TestApp;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Strings a hostile or careless client sends.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ]{0,20}",
        Just(String::new()),
        Just("'; DROP TABLE items; --".to_owned()),
        Just("<script>alert(1)</script>".to_owned()),
        Just("\u{0}\u{202e}\u{fffd}".to_owned()),
        ".{190,210}",
        Just("x".repeat(3000)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
    ]
}

/// Any JSON value, biased towards the keys the API knows.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("id".to_owned()),
            Just("name".to_owned()),
            Just("description".to_owned()),
            Just("category".to_owned()),
            Just("price".to_owned()),
            Just("features".to_owned()),
            Just("instances".to_owned()),
            Just("inputs".to_owned()),
            Just("shape".to_owned()),
            Just("data".to_owned()),
            Just("datatype".to_owned()),
            Just("x1".to_owned()),
            Just("sepal_length".to_owned()),
            text(),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..6)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body: usually JSON, sometimes raw bytes (truncated, invalid UTF-8...).
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => value().prop_map(|v| v.to_string().into_bytes()),
        1 => value().prop_flat_map(|v| {
            let bytes = v.to_string().into_bytes();
            let len = bytes.len();
            (Just(bytes), 0..=len).prop_map(|(b, cut)| b[..cut].to_vec())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("skip"),
        Just("limit"),
        Just("q"),
        Just("category"),
        Just("price_lt"),
        Just("sort"),
        Just("name"),
        Just("description"),
        Just("other"),
    ];
    let value = prop_oneof![
        text(),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        Just("-name".to_owned()),
        Just("NaN".to_owned()),
        Just("1e999".to_owned()),
        "%[0-9A-F]{2}",
    ];
    prop::collection::vec((key, value), 0..5).prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    })
}

/// Sends one request and checks the answer is well-formed.
async fn check(app: &TestApp, method: Method, path: &str, body: Option<Vec<u8>>) {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(body) = &body {
        request = request
            .header("content-type", "application/json")
            .body(body.clone());
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let shown = || {
        format!(
            "{method} {path} with {:?} -> {status}: {text}",
            body.as_deref().map(String::from_utf8_lossy)
        )
    };
    assert!(status.as_u16() < 500, "{}", shown());
    if status.is_client_error() {
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}", shown()));
        let message = if path.starts_with("/rpc/") {
            // A server function's error: `{"Kind": details}`.
            json.as_object()
                .filter(|error| error.len() == 1)
                .and_then(|error| error.values().next())
        } else {
            json.get("detail").or_else(|| json.get("error"))
        };
        assert!(
            message.is_some_and(|m| !m.is_null()),
            "no explanation: {}",
            shown()
        );
    }
}

/// Draws `cases()` values from `strategy` and runs `each` on them.
async fn fuzz<S: Strategy>(strategy: S, mut each: impl AsyncFnMut(S::Value)) {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        ..Config::default()
    });
    for _ in 0..cases() {
        let value = strategy
            .new_tree(&mut runner)
            .expect("strategy yields")
            .current();
        each(value).await;
    }
}

#[tokio::test]
async fn item_bodies_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    fuzz(body(), async |body| {
        check(&app, Method::POST, "/items/", Some(body.clone())).await;
        check(&app, Method::PUT, "/items/1", Some(body)).await;
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn prediction_bodies_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    fuzz(body(), async |body| {
        for path in [
            "/predict/",
            "/api/models/iris/predict",
            "/v2/models/linear/infer",
        ] {
            check(&app, Method::POST, path, Some(body.clone())).await;
        }
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn server_function_bodies_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    fuzz(body(), async |body| {
        for path in [
            "/rpc/items/list",
            "/rpc/items/create",
            "/rpc/items/update",
            "/rpc/items/delete",
            "/rpc/models/predict",
        ] {
            check(&app, Method::POST, path, Some(body.clone())).await;
        }
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn query_strings_and_paths_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let segment = prop_oneof![
        text().prop_map(|t| form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("..%2F..%2Fetc%2Fpasswd".to_owned()),
        Just("99999999999999999999999".to_owned()),
    ];
    fuzz((query_string(), segment), async |(query, segment)| {
        for path in [
            format!("/items/?{query}"),
            format!("/search/?{query}"),
            format!("/filter/?{query}"),
            format!("/items/{segment}"),
            format!("/api/models/{segment}"),
            format!("/v2/models/{segment}"),
        ] {
            check(&app, Method::GET, &path, None).await;
        }
        check(&app, Method::DELETE, &format!("/items/{segment}"), None).await;
    })
    .await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}
