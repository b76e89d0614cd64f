//! What a hostile client tried, and what it must get: cross-site writes
//! with the session cookie, malformed request heads, reused ETags and
//! refresh tokens, credentials that outlive a password reset, weak
//! passwords, lockouts, caches keeping tokens, server functions taking
//! what REST refuses, and one address holding many event streams.

use std::time::Duration;

use itemserve::server::config::Switch;

use crate::helpers::TEST_ADMIN_PASSWORD;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{status_and_json, TestApp};

/// Logs `name` in through the UI's server function and returns the
/// session cookie (`itemserve_session=...`).
async fn session_cookie(app: &TestApp, name: &str, password: &str) -> String {
    let response = app
        .client
        .post(app.url("/rpc/session/login"))
        .header("content-type", "application/json")
        .body(json!({"name": name, "password": password}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "logging {name} in");
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// Sends `request` as raw HTTP/1.1 and returns the status line and the
/// rest of the answer (what arrived before the server closed).
async fn raw_http(app: &TestApp, request: &[u8]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Written while reading: a server may answer before it read it all.
    let write = async {
        let _ = writer.write_all(request).await;
    };
    let read = async {
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer)).await;
        answer
    };
    let ((), answer) = tokio::join!(write, read);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (status, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
    (status.to_owned(), rest.to_owned())
}

#[tokio::test]
async fn rest_writes_with_the_session_cookie_must_come_from_this_site() {
    let app = TestApp::with().empty().auth().start().await;
    let cookie = session_cookie(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let own = format!("http://{}", app.addr);

    // The attack: a form on another site's page, posted with the cookie.
    let form = "name=mallory&password=correct+horse+battery&role=admin";
    for (path, origin, site) in [
        ("/users", "http://evil.example", "same-site"),
        ("/users", "http://evil.example", "cross-site"),
        ("/auth/tokens", &*own, "cross-site"),
        ("/users", "https://evil.example", "none"),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .body(form)
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 403, "{path} from {origin} ({site}): {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Cross-site request refused"),
            "{body}"
        );
    }
    // The same page's scheme must match too: https is another origin.
    let other_scheme = app
        .client
        .delete(app.url("/items/1"))
        .header("cookie", &cookie)
        .header("origin", format!("https://{}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(other_scheme.status(), 403);

    // Nobody was added.
    let admin = app.admin_token().await;
    let (_, users) =
        status_and_json(app.call(Method::GET, "/users", Some(&admin), None).await).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");

    // The site's own page may, with JSON.
    let own_page = app
        .client
        .post(app.url("/auth/tokens"))
        .header("cookie", &cookie)
        .header("origin", &own)
        .header("sec-fetch-site", "same-origin")
        .json(&json!({"name": "from the admin page"}))
        .send()
        .await
        .unwrap();
    assert_eq!(own_page.status(), 201);
    // A script with a bearer token carries no ambient authority: its
    // Origin does not matter.
    let script = app
        .client
        .post(app.url("/auth/tokens"))
        .bearer_auth(&admin)
        .header("origin", "http://evil.example")
        .json(&json!({"name": "script"}))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 201);
    // Reads are not writes: the cookie works from anywhere for GET.
    let read = app
        .client
        .get(app.url("/auth/me"))
        .header("cookie", &cookie)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}

#[tokio::test]
async fn form_bodies_reach_only_the_oauth2_token_routes() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    for path in ["/users", "/auth/tokens"] {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(&admin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("name=formed&password=correct+horse+battery&role=viewer")
            .send()
            .await
            .unwrap();
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 415, "{path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{body}"
        );
    }
    let patch = app
        .client
        .patch(app.url("/users/1"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body(r#"{"role": "viewer"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 415);
    // The OAuth2 password flow still takes its form.
    assert_eq!(app.login("admin", TEST_ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn server_functions_take_json_only_and_answer_refusals_in_their_own_shape() {
    let app = TestApp::spawn().await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .send_raw(
                Method::POST,
                "/rpc/items/categories",
                content_type,
                b"{}".to_vec(),
            )
            .await;
        let (status, body) = status_and_json(response).await;
        assert_eq!(status, 415, "{content_type}: {body}");
        assert!(
            body["BadRequest"].as_str().unwrap().contains("JSON"),
            "the browser decodes this as the server functions' error: {body}"
        );
    }
    let too_large = app
        .send_raw(
            Method::POST,
            "/rpc/items/categories",
            "application/json",
            vec![b' '; 1024 * 1024 + 1],
        )
        .await;
    let (status, body) = status_and_json(too_large).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["BadRequest"].as_str().unwrap().contains("too large"),
        "{body}"
    );
}

#[tokio::test]
async fn server_functions_refuse_what_rest_refuses_in_a_listing() {
    let app = TestApp::spawn().await;
    let list = |query: Value| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/rpc/items/list"))
                .header("content-type", "application/json")
                .body(json!({ "query": query }).to_string())
                .send()
                .await
                .unwrap();
            status_and_json(response).await
        }
    };
    let base = json!({"skip": 0, "limit": 10, "q": null, "category": null, "price_lt": null,
        "sort": "Id", "descending": false});
    let (status, body) = list(base.clone()).await;
    assert_eq!(status, 200, "{body}");
    for (field, value) in [
        ("limit", json!(4_294_967_295u64)),
        ("q", json!("x".repeat(100_000))),
        ("category", json!("c".repeat(5_000))),
    ] {
        let mut query = base.clone();
        query[field] = value;
        let (status, body) = list(query).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(body["Validation"][0]["field"], field, "{body}");
    }
    // REST says the same about the same values.
    let (status, _) = status_and_json(app.get("/items/?limit=4294967295").await).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn server_functions_check_scheme_and_host_against_the_public_origin() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.public_origins = vec!["https://items.example".parse().unwrap()];
        })
        .start()
        .await;
    let call = |host: &str, origin: &str| {
        let request = app
            .client
            .post(app.url("/rpc/items/categories"))
            .header("content-type", "application/json")
            .header("host", host)
            .header("origin", origin)
            .body("{}");
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(call("items.example", "https://items.example").await, 200);
    assert_eq!(
        call("items.example", "http://items.example").await,
        403,
        "scheme"
    );
    assert_eq!(
        call("evil.example:3000", "http://evil.example:3000").await,
        403,
        "a rebound name naming itself in both"
    );
    assert_eq!(
        call("evil.example", "https://items.example").await,
        403,
        "host"
    );
}

#[tokio::test]
async fn a_rate_limited_server_function_answers_an_error_the_browser_can_read() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.rate_limit = 1;
            c.rate_limit_burst = Some(1);
        })
        .start()
        .await;
    let mut last = None;
    for _ in 0..3 {
        last = Some(
            app.client
                .post(app.url("/rpc/items/categories"))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap(),
        );
    }
    let response = last.unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 429);
    assert!(body["TooManyRequests"].is_string(), "{body}");
}

#[tokio::test]
async fn request_heads_must_name_one_host_and_stay_within_64_kib() {
    let app = TestApp::spawn().await;
    let (ok, _) = raw_http(
        &app,
        b"GET /items/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(ok.contains(" 200 "), "{ok}");
    for (what, request) in [
        (
            "two Host headers",
            &b"GET /items/1 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n"[..],
        ),
        (
            "no Host header",
            &b"GET /items/1 HTTP/1.1\r\nConnection: close\r\n\r\n"[..],
        ),
    ] {
        let (status, rest) = raw_http(&app, request).await;
        assert!(status.contains(" 400 "), "{what}: {status}");
        assert!(rest.contains("Host header"), "{what}: {rest}");
    }
    // One header of 114 KB, sent at once. (hyper's read buffer refuses most
    // such heads itself; the front layer's own check, unit-tested in
    // `security.rs`, answers those that arrive in one larger read.)
    let mut big = b"GET /items/1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 114 * 1024));
    big.extend_from_slice(b"\r\n\r\n");
    let (status, rest) = raw_http(&app, &big).await;
    assert!(status.contains(" 431 "), "{status}: {rest}");
}

#[tokio::test]
async fn an_etag_of_a_deleted_item_never_matches_its_successor() {
    let app = TestApp::with().empty().start().await;
    let etag =
        |response: &reqwest::Response| response.headers()["etag"].to_str().unwrap().to_owned();
    let first = app
        .post_json("/items/", &json!({"id": 30, "name": "First"}))
        .await;
    assert_eq!(first.status(), 201);
    let held = app.get("/items/30").await;
    let held = etag(&held);
    assert_eq!(held, "\"1\"");
    assert_eq!(app.delete("/items/30").await.status(), 200);
    let second = app
        .post_json("/items/", &json!({"id": 30, "name": "Second"}))
        .await;
    assert_eq!(second.status(), 201);
    let (_, body) = status_and_json(second).await;
    assert_eq!(
        body["version"], 3,
        "versions carry on under a reused id, after the deletion's own: {body}"
    );

    let stale = app
        .client
        .put(app.url("/items/30"))
        .header("if-match", &held)
        .json(&json!({"name": "Overwritten"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(stale).await;
    assert_eq!(status, 412, "{body}");
    // The same through the UI's server function, which sends the version.
    let rpc = app
        .client
        .post(app.url("/rpc/items/update"))
        .header("content-type", "application/json")
        .body(
            json!({"id": 30, "version": 1, "draft": {"name": "Overwritten", "description": null,
                "category": null, "price": null}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rpc.status(), 409);

    // If-Match compares strongly: a weak tag never matches.
    let weak = app
        .client
        .put(app.url("/items/30"))
        .header("if-match", "W/\"2\"")
        .json(&json!({"name": "Weakly"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_and_json(weak).await;
    assert_eq!(status, 412);
    assert!(body["detail"].as_str().unwrap().contains("weak"), "{body}");
    let (_, item) = status_and_json(app.get("/items/30").await).await;
    assert_eq!(item["name"], "Second");
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family_and_its_access_tokens() {
    let app = TestApp::with().empty().auth().start().await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(app.url("/auth/refresh"))
                .json(&json!({ "refresh_token": token }))
                .send()
                .await
                .unwrap();
            status_and_json(response).await
        }
    };
    let (status, first) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    assert_eq!(status, 200);
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = refresh(rt1.clone()).await;
    assert_eq!(status, 200, "{second}");
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call(Method::GET, "/auth/me", Some(&access2), None)
            .await
            .status(),
        200
    );

    // rt1 again: it leaked.
    let (status, body) = refresh(rt1).await;
    assert_eq!(status, 401, "{body}");
    // Its successor, and the access token it fed, end with it.
    let (status, body) = refresh(rt2).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        app.call(Method::GET, "/auth/me", Some(&access2), None)
            .await
            .status(),
        401
    );
    // Logging in again works.
    assert_eq!(app.login("admin", TEST_ADMIN_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_password_reset_or_disabling_ends_every_token_of_the_user() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let access = app.user_token(&admin, "rita", "editor").await;
    let (status, created) = status_and_json(
        app.call(
            Method::POST,
            "/auth/tokens",
            Some(&access),
            Some(&json!({"name": "nightly"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);
    let api_token = created["token"].as_str().unwrap().to_owned();
    let (_, me) =
        status_and_json(app.call(Method::GET, "/auth/me", Some(&access), None).await).await;
    let id = me["id"].clone();

    app.change_user(&admin, &id, json!({"password": "a fresh secret 7"}))
        .await;
    for (what, token) in [("access token", &access), ("API token", &api_token)] {
        let response = app.call(Method::GET, "/auth/me", Some(token), None).await;
        assert_eq!(response.status(), 401, "{what} after a password reset");
    }

    // Disabling, then enabling again, revives no old API token.
    let access = app.token("rita", "a fresh secret 7").await;
    let (_, created) = status_and_json(
        app.call(
            Method::POST,
            "/auth/tokens",
            Some(&access),
            Some(&json!({"name": "second"})),
        )
        .await,
    )
    .await;
    let api_token = created["token"].as_str().unwrap().to_owned();
    app.change_user(&admin, &id, json!({"disabled": true}))
        .await;
    app.change_user(&admin, &id, json!({"disabled": false}))
        .await;
    for (what, token) in [("access token", &access), ("API token", &api_token)] {
        let response = app.call(Method::GET, "/auth/me", Some(token), None).await;
        assert_eq!(response.status(), 401, "{what} after disabling");
    }
    assert_eq!(app.login("rita", "a fresh secret 7").await.status(), 200);
}

#[tokio::test]
async fn blank_repeated_and_common_passwords_are_refused() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    for (password, kind) in [
        ("        ", "password_too_weak"),
        ("xxxxxxxxxxxx", "password_too_weak"),
        ("password", "password_too_common"),
        ("Password1", "password_too_common"),
        ("12345678", "password_too_common"),
    ] {
        let (status, body) = status_and_json(
            app.call(
                Method::POST,
                "/users",
                Some(&admin),
                Some(&json!({"name": "weak", "password": password, "role": "viewer"})),
            )
            .await,
        )
        .await;
        assert_eq!(status, 422, "{password:?}: {body}");
        assert_eq!(body["detail"][0]["type"], kind, "{password:?}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "password"]));
    }
}

#[tokio::test]
async fn one_guessing_address_does_not_lock_the_user_out_elsewhere() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.login_rate_limit = 3;
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        })
        .start()
        .await;
    let login_from = |address: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/auth/token"))
                .header("x-forwarded-for", address)
                .form(&[("username", "admin"), ("password", password)])
                .send()
                .await
                .unwrap()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            login_from("203.0.113.7", "wrong guess")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let refused = login_from("203.0.113.7", "wrong guess").await;
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(refused.status(), 429);
    // The real user, from their own address, gets in.
    let real = login_from("198.51.100.20", TEST_ADMIN_PASSWORD).await;
    assert_eq!(real.status(), 200);
}

#[tokio::test]
async fn answers_that_carry_tokens_are_never_cached() {
    let app = TestApp::with().empty().auth().start().await;
    let login = app.login("admin", TEST_ADMIN_PASSWORD).await;
    assert_eq!(login.headers()["cache-control"], "no-store");
    let body: Value = login.json().await.unwrap();
    let refreshed = app
        .client
        .post(app.url("/auth/refresh"))
        .json(&json!({"refresh_token": body["refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    assert_eq!(refreshed.headers()["cache-control"], "no-store");
    let token = app
        .call(
            Method::POST,
            "/auth/tokens",
            body["access_token"].as_str(),
            Some(&json!({"name": "cached?"})),
        )
        .await;
    assert_eq!(token.status(), 201);
    assert_eq!(token.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_event_streams() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.streams_per_client = 3)
        .start()
        .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let stream = app.get("/items/events").await;
        assert_eq!(stream.status(), 200);
        open.push(stream);
    }
    let refused = app.get("/items/events").await;
    assert!(refused.headers().contains_key("retry-after"));
    let (status, body) = status_and_json(refused).await;
    assert_eq!(status, 429);
    assert!(
        body["detail"].as_str().unwrap().contains("event streams"),
        "{body}"
    );
    // A closed stream gives its slot back.
    drop(open.pop());
    let mut reopened = None;
    for _ in 0..50 {
        let response = app.get("/items/events").await;
        if response.status() == 200 {
            reopened = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "the slot came back");
}

#[tokio::test]
async fn user_names_that_look_like_an_existing_one_are_refused() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let create = |name: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            status_and_json(
                app.call(
                    Method::POST,
                    "/users",
                    Some(admin),
                    Some(&json!({"name": name, "password": "a long secret 9", "role": "viewer"})),
                )
                .await,
            )
            .await
        }
    };
    // Cyrillic а, full-width letters, a dotted capital I.
    for look_alike in [
        "\u{430}dmin",
        "\u{ff41}\u{ff44}\u{ff4d}\u{ff49}\u{ff4e}",
        "ADM\u{130}N",
    ] {
        let (status, body) = create(look_alike).await;
        assert_eq!(status, 409, "{look_alike}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("looks like the existing user 'admin'"),
            "{body}"
        );
    }
    // Bidirectional controls never make it into a name.
    let (status, body) = create("admin\u{202e}").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = create("adminka").await;
    assert_eq!(status, 201, "{body}");
}
