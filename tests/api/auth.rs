//! Users, roles and tokens: who may do what, through REST and through the
//! UI's server functions, and every way a credential can be bad.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use itemserve::server::config::Switch;

use crate::helpers::TEST_ADMIN_PASSWORD;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{status_and_json, test_config, TestApp, TestDatabase};

/// Every route that changes items, with a body that would succeed.
fn item_writes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::POST, "/items/", Some(json!({"name": "New"}))),
        (Method::PUT, "/items/1", Some(json!({"name": "Replaced"}))),
        (Method::PATCH, "/items/2", Some(json!({"price": 3.5}))),
        (Method::DELETE, "/items/3", None),
        // The role is checked before the body is looked at.
        (
            Method::POST,
            "/items/import",
            Some(json!({"name": "Imported"})),
        ),
    ]
}

/// Every admin route, with a body that would succeed.
fn admin_routes() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/users", None),
        (
            Method::POST,
            "/users",
            Some(json!({"name": "newcomer", "password": "long enough", "role": "viewer"})),
        ),
        (Method::GET, "/users/1", None),
        (Method::GET, "/users/1/tokens", None),
        // Last: a new password ends the caller's own access tokens too.
        (
            Method::PATCH,
            "/users/1",
            Some(json!({"password": "admin-password-for-tests"})),
        ),
    ]
}

async fn assert_401(response: reqwest::Response, context: &str) {
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer"),
        "{context}"
    );
    let (status, body) = status_and_json(response).await;
    assert_eq!(status, 401, "{context}: {body}");
    assert!(body["detail"].is_string(), "{context}: {body}");
}

#[tokio::test]
async fn the_role_matrix_holds_for_every_write_and_admin_route() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.seed_demo_items = true;
        })
        .start()
        .await;
    let admin = app.admin_token().await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let disabled = app.user_token(&admin, "dora", "editor").await;
    let (_, dora) = status_and_json(
        app.call(Method::GET, "/auth/me", Some(&disabled), None)
            .await,
    )
    .await;
    app.change_user(&admin, &dora["id"], json!({"disabled": true}))
        .await;

    for (method, path, body) in item_writes().into_iter().chain(admin_routes()) {
        let context = format!("{method} {path}");
        assert_401(
            app.call(method.clone(), path, None, body.as_ref()).await,
            &format!("anonymous {context}"),
        )
        .await;
        assert_401(
            app.call(method.clone(), path, Some(&disabled), body.as_ref())
                .await,
            &format!("disabled {context}"),
        )
        .await;
        let (status, answer) = status_and_json(
            app.call(method.clone(), path, Some(&viewer), body.as_ref())
                .await,
        )
        .await;
        assert_eq!(status, 403, "viewer {context}: {answer}");
        assert!(
            answer["detail"].as_str().unwrap().contains("role"),
            "{answer}"
        );
    }

    // Editors write items but cannot manage users; admins do both.
    let editor = app.user_token(&admin, "eddie", "editor").await;
    for (token, who) in [(&editor, "editor"), (&admin, "admin")] {
        let created = app
            .call(
                Method::POST,
                "/items/",
                Some(token),
                Some(&json!({"name": who})),
            )
            .await;
        assert_eq!(created.status(), 201, "{who}");
        let id = created.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        let path = format!("/items/{id}");
        let patched = app
            .call(
                Method::PATCH,
                &path,
                Some(token),
                Some(&json!({"price": 1.0})),
            )
            .await;
        assert_eq!(patched.status(), 200, "{who}");
        let put = app
            .call(
                Method::PUT,
                &path,
                Some(token),
                Some(&json!({"name": "again"})),
            )
            .await;
        assert_eq!(put.status(), 200, "{who}");
        assert_eq!(
            app.call(Method::DELETE, &path, Some(token), None)
                .await
                .status(),
            200,
            "{who}"
        );
    }
    for (method, path, body) in admin_routes() {
        let (status, _) = status_and_json(
            app.call(method.clone(), path, Some(&editor), body.as_ref())
                .await,
        )
        .await;
        assert_eq!(status, 403, "editor {method} {path}");
    }
    for (method, path, body) in admin_routes() {
        let response = app
            .call(method.clone(), path, Some(&admin), body.as_ref())
            .await;
        assert!(
            response.status().is_success(),
            "admin {method} {path}: {}",
            response.status()
        );
    }

    // Reading is open by default.
    assert_eq!(app.get("/items/1").await.status(), 200);
    assert_eq!(app.get("/api/models").await.status(), 200);
}

#[tokio::test]
async fn reading_can_require_a_login() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.public_read = false;
            c.seed_demo_items = true;
        })
        .start()
        .await;
    for path in [
        "/items/",
        "/items/1",
        "/search/?q=item",
        "/filter/",
        "/api/models",
    ] {
        assert_401(app.get(path).await, path).await;
    }
    let v2 = app
        .call(
            Method::POST,
            "/v2/models/linear/infer",
            None,
            Some(&json!({"inputs": []})),
        )
        .await;
    assert_eq!(v2.status(), 401);
    let (_, body) = status_and_json(v2).await;
    assert!(
        body["error"].is_string(),
        "v2 keeps its error shape: {body}"
    );
    // Health and the docs stay open.
    for path in [
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/api",
        "/v2/health/ready",
    ] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    let admin = app.admin_token().await;
    let viewer = app.user_token(&admin, "vic", "viewer").await;
    assert_eq!(
        app.call(Method::GET, "/items/1", Some(&viewer), None)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn login_accepts_the_oauth2_form_and_json_and_refuses_wrong_passwords() {
    let app = TestApp::with().empty().auth().start().await;
    let (status, body) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("isr_"));
    // Names ignore case.
    assert_eq!(app.login("ADMIN", TEST_ADMIN_PASSWORD).await.status(), 200);

    let json_login = app
        .call(
            Method::POST,
            "/auth/token",
            None,
            Some(&json!({"username": "admin", "password": TEST_ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(json_login.status(), 200);

    for (name, password) in [("admin", "wrong password"), ("nobody", "whatever pw")] {
        let response = app.login(name, password).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let (status, body) = status_and_json(response).await;
        assert_eq!(
            (status, body),
            (401, json!({"detail": "Incorrect user name or password"}))
        );
    }
    let (status, body) = status_and_json(
        app.call(
            Method::POST,
            "/auth/token",
            None,
            Some(&json!({"username": "admin"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "password"]));
    let plain = app
        .send_raw(Method::POST, "/auth/token", "text/plain", b"admin".to_vec())
        .await;
    assert_eq!(plain.status(), 415);
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.access_token_ttl = 1;
        })
        .start()
        .await;
    let token = app.admin_token().await;
    let me = |token: String| {
        let app = &app;
        async move { app.call(Method::GET, "/auth/me", Some(&token), None).await }
    };
    let (status, body) = status_and_json(me(token.clone()).await).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("admin")));

    let parts: Vec<&str> = token.split('.').collect();
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut forged = payload.clone();
    forged["sub"] = json!("2");
    forged["role"] = json!("admin");
    let forged = URL_SAFE_NO_PAD.encode(forged.to_string());
    let alg_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
    let other_key = {
        // The right shape, signed by a key the server does not have.
        use jsonwebtoken::{encode, EncodingKey, Header};
        encode(
            &Header::default(),
            &payload,
            &EncodingKey::from_secret(b"some other key of 32 bytes......"),
        )
        .unwrap()
    };
    for (bad, what) in [
        (
            format!("{}.{forged}.{}", parts[0], parts[2]),
            "changed payload",
        ),
        (format!("{alg_none}.{}.", parts[1]), "alg none"),
        (
            format!("{hs512}.{}.{}", parts[1], parts[2]),
            "another algorithm",
        ),
        (other_key, "wrong key"),
        ("garbage".into(), "not a token"),
        ("isk_not-a-real-api-token".into(), "unknown API token"),
    ] {
        assert_401(me(bad).await, what).await;
    }
    let no_scheme = app
        .client
        .get(app.url("/auth/me"))
        .header("authorization", token.clone())
        .send()
        .await
        .unwrap();
    assert_401(no_scheme, "no Bearer scheme").await;

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_401(me(token).await, "expired").await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_can_be_revoked() {
    let app = TestApp::with().empty().auth().start().await;
    let (_, first) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();

    let (status, second) = status_and_json(
        app.call(
            Method::POST,
            "/auth/refresh",
            None,
            Some(&json!({"refresh_token": refresh})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(
        app.call(Method::GET, "/auth/me", Some(access), None)
            .await
            .status(),
        200
    );

    // The redeemed token works once only.
    let again = app
        .call(
            Method::POST,
            "/auth/refresh",
            None,
            Some(&json!({"refresh_token": refresh})),
        )
        .await;
    assert_401(again, "reused refresh token").await;

    // The OAuth2 form of a refresh, then revocation.
    let next = second["refresh_token"].as_str().unwrap();
    let revoked = app
        .call(
            Method::POST,
            "/auth/revoke",
            None,
            Some(&json!({"refresh_token": next})),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    let form = app
        .client
        .post(app.url("/auth/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", next)])
        .send()
        .await
        .unwrap();
    assert_401(form, "revoked refresh token").await;
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_without_secrets_and_revocable() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let editor = app.user_token(&admin, "eve", "editor").await;

    let (status, created) = status_and_json(
        app.call(
            Method::POST,
            "/auth/tokens",
            Some(&editor),
            Some(&json!({"name": "nightly import"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("isk_"));
    let id = created["id"].as_i64().unwrap();

    // The token acts as its user.
    let write = app
        .call(
            Method::POST,
            "/items/",
            Some(&secret),
            Some(&json!({"name": "By script"})),
        )
        .await;
    assert_eq!(write.status(), 201);

    let (_, listed) = status_and_json(
        app.call(Method::GET, "/auth/tokens", Some(&editor), None)
            .await,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "nightly import");
    assert!(listed[0]["last_used_at"].is_string());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never listed"
    );

    // Another user cannot revoke it; its owner can.
    let other = app.user_token(&admin, "otto", "editor").await;
    let (status, _) = status_and_json(
        app.call(
            Method::DELETE,
            &format!("/auth/tokens/{id}"),
            Some(&other),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/auth/tokens/{id}"),
            Some(&editor),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_401(
        app.call(Method::GET, "/items/", Some(&secret), None).await,
        "revoked API token",
    )
    .await;
    let (status, _) = status_and_json(
        app.call(
            Method::DELETE,
            &format!("/auth/tokens/{id}"),
            Some(&editor),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404, "revoking twice");

    // Bad names.
    for body in [
        json!({}),
        json!({"name": "  "}),
        json!({"name": "x".repeat(101)}),
    ] {
        let (status, _) = status_and_json(
            app.call(Method::POST, "/auth/tokens", Some(&editor), Some(&body))
                .await,
        )
        .await;
        assert_eq!(status, 422, "{body}");
    }
}

#[tokio::test]
async fn user_management_validates_and_protects_the_last_admin() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let (status, body) = status_and_json(
        app.call(
            Method::POST,
            "/users",
            Some(&admin),
            Some(&json!({"name": "has space", "password": "tiny7", "role": "boss"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["loc"][1].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "password", "role"]);
    assert!(
        !body.to_string().contains("tiny7"),
        "passwords are never echoed: {body}"
    );

    app.user_token(&admin, "Grace", "viewer").await;
    let (status, _) = status_and_json(
        app.call(
            Method::POST,
            "/users",
            Some(&admin),
            Some(&json!({"name": "grace", "password": "long enough", "role": "viewer"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409, "names ignore case");

    let (_, me) =
        status_and_json(app.call(Method::GET, "/auth/me", Some(&admin), None).await).await;
    let own = format!("/users/{}", me["id"]);
    for change in [json!({"role": "viewer"}), json!({"disabled": true})] {
        let (status, _) = status_and_json(
            app.call(Method::PATCH, &own, Some(&admin), Some(&change))
                .await,
        )
        .await;
        assert_eq!(status, 409, "{change}");
    }
    let (status, _) = status_and_json(
        app.call(Method::GET, "/users/999", Some(&admin), None)
            .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = status_and_json(
        app.call(Method::GET, "/users/abc", Some(&admin), None)
            .await,
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_password_reset_or_disabling_ends_the_users_sessions() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    app.user_token(&admin, "ruth", "editor").await;
    let (_, pair) = status_and_json(app.login("ruth", "password-of-ruth").await).await;
    let (_, ruth) = status_and_json(
        app.call(
            Method::GET,
            "/auth/me",
            Some(pair["access_token"].as_str().unwrap()),
            None,
        )
        .await,
    )
    .await;
    app.change_user(&admin, &ruth["id"], json!({"password": "a brand new one"}))
        .await;
    let refresh = app
        .call(
            Method::POST,
            "/auth/refresh",
            None,
            Some(&json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_401(refresh, "refresh token after a password reset").await;
    assert_eq!(app.login("ruth", "password-of-ruth").await.status(), 401);
    assert_eq!(app.login("ruth", "a brand new one").await.status(), 200);

    app.change_user(&admin, &ruth["id"], json!({"disabled": true}))
        .await;
    let (status, body) = status_and_json(app.login("ruth", "a brand new one").await).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "This user is disabled"}))
    );
}

#[tokio::test]
async fn login_attempts_are_limited_per_address_and_per_user_name() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.login_rate_limit = 3;
        })
        .start()
        .await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.login("admin", "wrong password").await.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let (status, body) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    assert_eq!(status, 429, "even the right password waits: {body}");
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("Too many login attempts"));
    // Other routes are not affected.
    assert_eq!(app.get("/items/").await.status(), 200);
}

#[tokio::test]
async fn server_functions_apply_the_same_permissions_with_the_session_cookie() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.seed_demo_items = true;
        })
        .start()
        .await;
    let admin = app.admin_token().await;
    app.user_token(&admin, "vince", "viewer").await;
    app.user_token(&admin, "edna", "editor").await;

    let rpc = |path: &str, cookie: Option<&str>, body: Value| {
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        async move { request.send().await.unwrap() }
    };
    let log_in = |name: &'static str| {
        let rpc = &rpc;
        async move {
            let response = rpc(
                "/rpc/session/login",
                None,
                json!({"name": name, "password": format!("password-of-{name}")}),
            )
            .await;
            assert_eq!(response.status(), 200, "{name}");
            let cookie = response.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                "{cookie}"
            );
            assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
            cookie.split(';').next().unwrap().to_owned()
        }
    };
    let create = json!({"draft": {"name": "From the UI", "description": null, "category": null, "price": null}});

    let anonymous = rpc("/rpc/items/create", None, create.clone()).await;
    assert_eq!(anonymous.status(), 401, "not logged in");
    let body: Value = anonymous.json().await.unwrap();
    assert!(body["Unauthorized"].is_string(), "{body}");

    let viewer = log_in("vince").await;
    let refused = rpc("/rpc/items/create", Some(&viewer), create.clone()).await;
    assert_eq!(refused.status(), 403, "a viewer may not write");
    let body: Value = refused.json().await.unwrap();
    assert!(body["Forbidden"].is_string(), "{body}");

    let editor = log_in("edna").await;
    let created = rpc("/rpc/items/create", Some(&editor), create.clone()).await;
    assert_eq!(created.status(), 200);
    let item: Value = created.json().await.unwrap();
    assert_eq!(item["name"], "From the UI");

    // The session says who is logged in; logging out ends it.
    let session: Value = rpc("/rpc/session/current", Some(&editor), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["user"]["name"], "edna");
    assert_eq!(session["policy"]["enabled"], true);
    let out = rpc("/rpc/session/logout", Some(&editor), json!({})).await;
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let body: Value = rpc("/rpc/items/create", Some(&editor), create)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        body.to_string().contains("Unauthorized"),
        "a logged-out session: {body}"
    );

    // The admin page's functions are for admins only.
    let body: Value = rpc("/rpc/users/list", Some(&viewer), json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body.to_string().contains("Forbidden"), "{body}");

    // Wrong passwords get the REST API's answer.
    let body: Value = rpc(
        "/rpc/session/login",
        None,
        json!({"name": "edna", "password": "nope nope"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        body.to_string().contains("Incorrect user name or password"),
        "{body}"
    );
}

#[tokio::test]
async fn with_auth_off_everything_is_open_and_the_account_routes_say_so() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.create(json!({"name": "Anyone"})).await["name"],
        "Anyone"
    );
    let (status, body) = status_and_json(app.login("admin", TEST_ADMIN_PASSWORD).await).await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Authentication is off"),
        "{body}"
    );
}

#[tokio::test]
async fn the_rate_limit_counts_a_logged_in_user_apart_from_their_address() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.rate_limit = 1;
            c.rate_limit_burst = Some(3);
        })
        .start()
        .await;
    let admin = app.admin_token().await;
    // Anonymous requests spend the address's budget...
    let mut anonymous = Vec::new();
    for _ in 0..4 {
        anonymous.push(app.get("/items/").await.status().as_u16());
    }
    assert_eq!(anonymous.last(), Some(&429), "{anonymous:?}");
    // ...not the user's, who has a budget of their own from the same address.
    let mut user = Vec::new();
    for _ in 0..4 {
        user.push(
            app.call(Method::GET, "/items/", Some(&admin), None)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(user, [200, 200, 200, 429]);
    // A made-up token buys no fresh budget: it counts against the address.
    let fake = app
        .call(Method::GET, "/items/", Some("not-a-token"), None)
        .await;
    assert_eq!(fake.status(), 429);
}

#[tokio::test]
async fn metrics_are_for_admins_by_default() {
    let app = TestApp::with().empty().auth().start().await;
    assert_401(app.get("/metrics").await, "anonymous /metrics").await;
    let admin = app.admin_token().await;
    let editor = app.user_token(&admin, "mel", "editor").await;
    let (status, _) =
        status_and_json(app.call(Method::GET, "/metrics", Some(&editor), None).await).await;
    assert_eq!(status, 403);
    let response = app.call(Method::GET, "/metrics", Some(&admin), None).await;
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("itemserve_build_info"));

    // Opened on purpose, anyone may read them.
    let open = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = Switch::On;
            c.metrics_admin_only = false;
        })
        .start()
        .await;
    assert_eq!(open.get("/metrics").await.status(), 200);
}

#[tokio::test]
async fn tokens_stay_valid_across_a_restart_and_a_short_signing_key_is_refused() {
    let db = TestDatabase::new().await;
    let mut config = test_config(&db.url());
    config.auth = Switch::On;
    let mut first = TestApp::start_with(&config).await;
    let token = first.admin_token().await;
    first.stop().await;
    // The generated signing key is kept in the database.
    let second = TestApp::start_with(&config).await;
    let me = second
        .call(Method::GET, "/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status(), 200);

    config.jwt_secret = Some("too short".into());
    let error = itemserve::server::startup::Application::build(&config)
        .await
        .err()
        .expect("a short key stops the start");
    assert!(
        error.to_string().contains("at least 32 characters"),
        "{error}"
    );
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_proxy() {
    let app = TestApp::with().empty().auth().start().await;
    let response = app
        .client
        .post(app.url("/rpc/session/login"))
        .header("content-type", "application/json")
        .header("x-forwarded-proto", "https")
        .body(json!({"name": "admin", "password": TEST_ADMIN_PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}
