//! The audit log: every security-relevant action through every door is
//! recorded with who did it, through which door, in which request and from
//! where; admins read it, nobody changes it.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{all_pages, status_and_json, TestApp, TestDatabase, TEST_ADMIN_PASSWORD};

/// Every entry of the audit log (following `next`), newest first.
async fn audit(app: &TestApp, path: &str, admin: &str) -> Vec<Value> {
    all_pages(app, path, Some(admin), "entries").await
}

/// An entry as (action, actor, subject, detail, door), oldest first.
fn summary(entries: &[Value]) -> Vec<(String, String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    entries
        .iter()
        .rev()
        .map(|e| {
            (
                text(&e["action"]),
                text(&e["actor"]),
                text(&e["subject"]),
                text(&e["detail"]),
                text(&e["door"]),
            )
        })
        .collect()
}

fn row(
    action: &str,
    actor: &str,
    subject: &str,
    detail: &str,
    door: &str,
) -> (String, String, String, String, String) {
    (
        action.into(),
        actor.into(),
        subject.into(),
        detail.into(),
        door.into(),
    )
}

/// A server function call with an optional session cookie.
async fn rpc(app: &TestApp, path: &str, cookie: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap()
}

/// Logs in through the UI; the session cookie.
async fn ui_log_in(app: &TestApp, name: &str, password: &str) -> String {
    let response = rpc(
        app,
        "/rpc/session/login",
        None,
        json!({"name": name, "password": password}),
    )
    .await;
    assert_eq!(response.status(), 200, "{name}");
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn every_security_action_through_every_door_is_recorded_with_who_and_from_where() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;

    // Failed logins: a wrong password, an unknown name (never the password).
    assert_eq!(app.login("ADMIN", "not the password").await.status(), 401);
    assert_eq!(app.login("mallory", "hunter2-hunter2").await.status(), 401);

    // A user created, changed every way, and a change that changes nothing.
    let created = app
        .client
        .post(app.url("/users"))
        .bearer_auth(&admin)
        .header("x-request-id", "create-grace")
        .json(&json!({"name": "grace", "password": "password-of-grace", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let grace: Value = created.json().await.unwrap();
    let id = &grace["id"];
    app.change_user(&admin, id, json!({"role": "editor"})).await;
    app.change_user(&admin, id, json!({"role": "editor"})).await;
    app.change_user(&admin, id, json!({"disabled": true})).await;
    app.change_user(&admin, id, json!({"disabled": false}))
        .await;
    app.change_user(&admin, id, json!({"password": "a new password"}))
        .await;

    // An API token made by its owner and revoked by an admin; a user
    // created through that token records the token's name.
    let grace_token = app.token("grace", "a new password").await;
    let response = app
        .call(
            Method::POST,
            "/auth/tokens",
            Some(&grace_token),
            Some(&json!({"name": "nightly"})),
        )
        .await;
    let (status, token) = status_and_json(response).await;
    assert_eq!(status, 201, "{token}");
    let admin_api = app
        .call(
            Method::POST,
            "/auth/tokens",
            Some(&admin),
            Some(&json!({"name": "provisioning"})),
        )
        .await;
    let (_, admin_api) = status_and_json(admin_api).await;
    let admin_api = admin_api["token"].as_str().unwrap().to_owned();
    let response = app
        .call(
            Method::POST,
            "/users",
            Some(&admin_api),
            Some(&json!({"name": "linus", "password": "password-of-linus", "role": "viewer"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let revoke = format!("/auth/tokens/{}", token["id"]);
    let response = app.call(Method::DELETE, &revoke, Some(&admin), None).await;
    assert_eq!(response.status(), 200);

    // A script's logout (revoking its refresh token), and a refresh token
    // presented again after it was redeemed.
    let (_, pair) = status_and_json(app.login("linus", "password-of-linus").await).await;
    let refresh = pair["refresh_token"].as_str().unwrap();
    let form = |token: &str| json!({"refresh_token": token});
    let response = app
        .call(Method::POST, "/auth/refresh", None, Some(&form(refresh)))
        .await;
    assert_eq!(response.status(), 200);
    let (_, rotated) = status_and_json(response).await;
    let replayed = app
        .call(Method::POST, "/auth/refresh", None, Some(&form(refresh)))
        .await;
    assert_eq!(replayed.status(), 401);
    let (_, pair) = status_and_json(app.login("linus", "password-of-linus").await).await;
    let response = app
        .call(
            Method::POST,
            "/auth/revoke",
            None,
            Some(&form(pair["refresh_token"].as_str().unwrap())),
        )
        .await;
    assert_eq!(response.status(), 200);
    // Revoking it again ends nothing and records nothing.
    let response = app
        .call(
            Method::POST,
            "/auth/revoke",
            None,
            Some(&form(pair["refresh_token"].as_str().unwrap())),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(rotated["refresh_token"].is_string());

    // The UI's door: log in, add a user, change a role, log out.
    let session = ui_log_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let added = rpc(
        &app,
        "/rpc/users/create",
        Some(&session),
        json!({"name": "ada", "password": "password-of-ada", "role": "viewer"}),
    )
    .await;
    assert_eq!(added.status(), 200);
    let ada: Value = added.json().await.unwrap();
    let changed = rpc(
        &app,
        "/rpc/users/update",
        Some(&session),
        json!({"id": ada["id"], "role": "admin", "disabled": null, "password": null}),
    )
    .await;
    assert_eq!(changed.status(), 200);
    let out = rpc(&app, "/rpc/session/logout", Some(&session), json!({})).await;
    assert_eq!(out.status(), 200);

    let entries = audit(&app, "/audit?limit=7", &admin).await;
    let ended = "every token and session of the user ended";
    let expected = vec![
        row("user_created", "-", "admin", "role admin: the first user, made at startup", "-"),
        row("login", "admin", "-", "-", "rest"),
        row("login_failed", "ADMIN", "-", "wrong password", "rest"),
        row("login_failed", "mallory", "-", "no user has this name", "rest"),
        row("user_created", "admin", "grace", "role viewer", "rest"),
        row("role_changed", "admin", "grace", "viewer → editor", "rest"),
        row("user_disabled", "admin", "grace", ended, "rest"),
        row("user_enabled", "admin", "grace", "-", "rest"),
        row("password_reset", "admin", "grace", ended, "rest"),
        row("login", "grace", "-", "-", "rest"),
        row("token_created", "grace", "nightly", &format!("token {} of grace", token["id"]), "rest"),
        row("token_created", "admin", "provisioning", "", "rest"),
        row("user_created", "admin", "linus", "role viewer", "rest"),
        row("token_revoked", "admin", "nightly", &format!("token {} of grace", token["id"]), "rest"),
        row("login", "linus", "-", "-", "rest"),
        row(
            "refresh_token_reused",
            "-",
            "linus",
            "presented again after it was redeemed: its family is revoked and the user's access tokens ended",
            "rest",
        ),
        row("login", "linus", "-", "-", "rest"),
        row("logout", "linus", "-", "ended a refresh token", "rest"),
        row("login", "admin", "-", "-", "ui"),
        row("user_created", "admin", "ada", "role viewer", "ui"),
        row("role_changed", "admin", "ada", "viewer → admin", "ui"),
        row("logout", "admin", "-", "ended the browser session", "ui"),
    ];
    let mut found = summary(&entries);
    // The provisioning token's id is not known here; its detail names it.
    assert!(found[11].3.starts_with("token ") && found[11].3.ends_with(" of admin"));
    found[11].3 = String::new();
    assert_eq!(found, expected);

    // Who, from where, in which request: the fields beside the summary.
    let by_request = entries
        .iter()
        .find(|e| e["request_id"] == "create-grace")
        .expect("the request id is recorded");
    assert_eq!(by_request["subject"], "grace");
    for entry in &entries {
        let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
        match entry["door"].as_str() {
            Some(_) => assert_eq!(entry["client"], "127.0.0.1", "{entry}"),
            None => assert_eq!(entry["client"], Value::Null, "{entry}"),
        }
    }
    let through_token = entries
        .iter()
        .find(|e| e["subject"] == "linus" && e["action"] == "user_created")
        .unwrap();
    assert_eq!(through_token["token"], "provisioning");
    assert!(
        !entries.iter().any(
            |e| e.to_string().contains("not the password") || e.to_string().contains("hunter2")
        ),
        "no password is ever recorded"
    );
}

#[tokio::test]
async fn the_audit_log_is_filtered_and_paged_and_bad_queries_say_what_is_wrong() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    for _ in 0..3 {
        assert_eq!(app.login("Eve", "guess guess guess").await.status(), 401);
    }
    // The time of the third failure: `since` includes it, `until` not.
    let third = audit(&app, "/audit", &admin).await[0]["at"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let _ = app.admin_token().await;
    assert_eq!(app.login("eve", "guess again!").await.status(), 401);

    // By user, ignoring case; by action; both; by time.
    let eve = audit(&app, "/audit?user=EVE&limit=1", &admin).await;
    assert_eq!(eve.len(), 4);
    assert!(eve.iter().all(|e| e["action"] == "login_failed"));
    let logins = audit(&app, "/audit?action=login", &admin).await;
    assert_eq!(logins.len(), 2);
    assert!(logins.iter().all(|e| e["actor"] == "admin"));
    let none = audit(&app, "/audit?user=eve&action=login", &admin).await;
    assert!(none.is_empty());
    let since = format!("/audit?since={}", urlencode(&third));
    let after: Vec<String> = audit(&app, &since, &admin)
        .await
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(after, ["login_failed", "login", "login_failed"]);
    let until = format!("/audit?until={}&user=eve", urlencode(&third));
    assert_eq!(audit(&app, &until, &admin).await.len(), 2);
    // A time in another offset means the same instant.
    let all = audit(&app, "/audit?since=2000-01-01T01:00:00%2B01:00", &admin).await;
    assert_eq!(all.len(), 7);
    // A page's next link keeps the filters.
    let (_, page) = status_and_json(
        app.call(
            Method::GET,
            "/audit?action=login_failed&limit=2",
            Some(&admin),
            None,
        )
        .await,
    )
    .await;
    let next = page["next"].as_str().unwrap();
    assert!(
        next.contains("action=login_failed") && next.contains("limit=2"),
        "{next}"
    );

    // Bad queries: 422 naming the parameter and what is wrong.
    // Another log's cursor is not taken for one of this log.
    for name in ["x", "y"] {
        let response = app
            .call(
                Method::POST,
                "/items/",
                Some(&admin),
                Some(&json!({"name": name})),
            )
            .await;
        let (_, item) = status_and_json(response).await;
        let path = format!("/items/{}", item["id"]);
        let response = app.call(Method::DELETE, &path, Some(&admin), None).await;
        assert_eq!(response.status(), 200);
    }
    let response = app
        .call(Method::GET, "/trash?limit=1", Some(&admin), None)
        .await;
    let (_, trash) = status_and_json(response).await;
    let next = trash["next"].as_str().unwrap();
    let trash_cursor = next
        .split("cursor=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    for (query, field, says) in [
        (
            "action=purge",
            "action",
            "Input should be one of: login, login_failed",
        ),
        ("since=yesterday", "since", "valid RFC 3339 date and time"),
        ("until=2026-01-02", "until", "valid RFC 3339 date and time"),
        ("limit=0", "limit", "greater than or equal to 1"),
        ("limit=101", "limit", "less than or equal to 100"),
        (
            "cursor=not-a-cursor",
            "cursor",
            "Not a cursor of the audit log",
        ),
        (
            &format!("cursor={trash_cursor}"),
            "cursor",
            "Not a cursor of the audit log",
        ),
    ] {
        let path = format!("/audit?{query}");
        let (status, body) =
            status_and_json(app.call(Method::GET, &path, Some(&admin), None).await).await;
        assert_eq!(status, 422, "{path}: {body}");
        let detail = &body["detail"][0];
        assert_eq!(detail["loc"], json!(["query", field]), "{path}: {body}");
        assert!(
            detail["msg"].as_str().unwrap().contains(says),
            "{path}: {body}"
        );
    }
}

/// `%`-encoding for a query value (a time holds `:` and `+`).
fn urlencode(text: &str) -> String {
    text.replace('%', "%25")
        .replace('+', "%2B")
        .replace(':', "%3A")
}

#[tokio::test]
async fn only_admins_read_the_audit_log_and_nothing_changes_or_removes_an_entry() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    let editor = app.user_token(&admin, "ed", "editor").await;

    let (status, body) = status_and_json(app.get("/audit").await).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["detail"], "Not authenticated");
    for (token, role) in [(&viewer, "viewer"), (&editor, "editor")] {
        let (status, body) =
            status_and_json(app.call(Method::GET, "/audit", Some(token), None).await).await;
        assert_eq!(status, 403, "{role}: {body}");
        assert_eq!(
            body["detail"],
            format!("This needs the admin role (you are {role})")
        );
    }
    // The UI's server function applies the same rule.
    let session = ui_log_in(&app, "vera", "password-of-vera").await;
    let refused = rpc(
        &app,
        "/rpc/audit/list",
        Some(&session),
        json!({"filter": {"user": null, "action": null, "since": null, "until": null}, "cursor": null}),
    )
    .await;
    assert_eq!(refused.status(), 403);
    let session = ui_log_in(&app, "admin", TEST_ADMIN_PASSWORD).await;
    let page = rpc(
        &app,
        "/rpc/audit/list",
        Some(&session),
        json!({"filter": {"user": "VERA", "action": "login", "since": null, "until": null}, "cursor": null}),
    )
    .await;
    assert_eq!(page.status(), 200);
    let page: Value = page.json().await.unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{page}");
    assert_eq!(page["entries"][0]["door"], "ui");
    assert_eq!(page["next"], Value::Null);
    let bad = rpc(
        &app,
        "/rpc/audit/list",
        Some(&session),
        json!({"filter": {"user": null, "action": null, "since": "last week", "until": null}, "cursor": null}),
    )
    .await;
    assert_eq!(bad.status(), 422);
    let bad: Value = bad.json().await.unwrap();
    assert!(bad.to_string().contains("since"), "{bad}");

    // No route writes the log.
    let before = audit(&app, "/audit", &admin).await;
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let response = app
            .call(method.clone(), "/audit", Some(&admin), Some(&json!({})))
            .await;
        assert_eq!(response.status(), 405, "{method} /audit");
        let path = format!("/audit/{}", before[0]["id"]);
        let response = app.call(method.clone(), &path, Some(&admin), None).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    // Nor does anyone with the database: the schema refuses.
    let refusal = match app.database().expect("a database of its own") {
        TestDatabase::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.path().join("items.db")).unwrap();
            let update = conn.execute("UPDATE audit_log SET actor = 'nobody'", []);
            let delete = conn.execute("DELETE FROM audit_log", []);
            vec![
                update.unwrap_err().to_string(),
                delete.unwrap_err().to_string(),
            ]
        }
        TestDatabase::Postgres { .. } => {
            let url = app.database().unwrap().url();
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            let mut refusals = Vec::new();
            for sql in [
                "UPDATE audit_log SET actor = 'nobody'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
            ] {
                let error = client.batch_execute(sql).await.unwrap_err();
                refusals.push(format!("{:?}", error.as_db_error().map(|e| e.message())));
            }
            refusals
        }
    };
    for refused in refusal {
        assert!(
            refused.contains("the audit log is append-only"),
            "{refused}"
        );
    }
    assert_eq!(audit(&app, "/audit", &admin).await, before);
}

#[tokio::test]
async fn the_audit_page_is_rendered_on_the_server_for_admins_with_its_filters() {
    let app = TestApp::with().empty().auth().start().await;
    let admin = app.admin_token().await;
    let viewer = app.user_token(&admin, "vera", "viewer").await;
    assert_eq!(app.login("mallory", "a guess at it").await.status(), 401);
    let render = |path: &'static str, token: String| {
        let request = app.client.get(app.url(path)).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            response.text().await.unwrap()
        }
    };
    let html = render("/admin?view=audit", admin.clone()).await;
    for needle in [
        "<h1>Audit log</h1>",
        "Login failed",
        "mallory",
        "no user has this name",
        "User created",
        "vera",
        "role viewer",
        r#"aria-current="page">Audit log"#,
    ] {
        assert!(html.contains(needle), "the audit page shows {needle}");
    }
    let html = render("/admin?view=audit&action=login_failed", admin.clone()).await;
    assert!(html.contains("mallory") && !html.contains("role viewer"));
    let html = render("/admin?view=audit&user=VERA", admin.clone()).await;
    assert!(html.contains("Logged in") && !html.contains("mallory"));
    // The users page is the other tab.
    let html = render("/admin", admin).await;
    assert!(html.contains(r#"aria-current="page">Users"#), "{html}");
    let html = render("/admin?view=audit", viewer).await;
    assert!(html.contains("Only admins can read the audit log."));
    assert!(!html.contains("mallory"));
}
