//! The server-rendered item page: what anonymous visitors get from the
//! rendered-page cache must follow every write at once and never be what a
//! signed-in user sees.

use serde_json::json;

use crate::helpers::*;

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_anonymous_item_page_follows_every_write_at_once() {
    let app = TestApp::spawn().await;
    let path = "/?q=zebra";
    for _ in 0..2 {
        assert!(page(&app, path)
            .await
            .contains("No items match these filters."));
    }

    let item = app
        .create(json!({"name": "Zebra lamp", "price": 12.5}))
        .await;
    let id = item["id"].as_i64().unwrap();
    let html = page(&app, path).await;
    assert!(
        html.contains("Zebra lamp"),
        "a new item is on the next page view"
    );
    assert!(html.contains("12.50"));

    let response = app
        .put_json(
            &format!("/items/{id}"),
            &json!({"name": "Zebra lamp XL", "price": 13.0}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let html = page(&app, path).await;
    assert!(
        html.contains("Zebra lamp XL") && html.contains("13.00"),
        "a change is shown"
    );

    assert_eq!(app.delete(&format!("/items/{id}")).await.status(), 200);
    assert!(
        page(&app, path)
            .await
            .contains("No items match these filters."),
        "a deleted item is gone"
    );
}

#[tokio::test]
async fn the_page_says_more_than_when_matches_were_counted_to_the_bound() {
    let app = TestApp::with()
        .empty()
        .configure(|config| config.count_bound = 3)
        .start()
        .await;
    for i in 0..5 {
        app.create(json!({"name": format!("lamp {i}")})).await;
    }
    let html = page(&app, "/?q=lamp&limit=2").await;
    assert!(
        html.contains("Showing 1–2 of more than 3 · page 1<"),
        "no last page is claimed"
    );
    assert!(html.contains(r#"rel="next""#), "a next page is offered");
    let html = page(&app, "/?limit=2").await;
    assert!(
        html.contains("Showing 1–2 of 5 · page 1 of 3"),
        "exact in all"
    );
}

#[tokio::test]
async fn pages_from_the_cache_get_a_fresh_nonce_in_policy_and_scripts() {
    let app = TestApp::spawn().await;
    let mut nonces: Vec<String> = Vec::new();
    for _ in 0..3 {
        let response = app.get("/").await;
        let nonce = page_nonce(&response);
        let html = response.text().await.unwrap();
        let scripts = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(scripts >= 1, "the page's scripts carry the policy's nonce");
        for old in &nonces {
            assert!(
                !html.contains(old.as_str()),
                "an earlier page's nonce is reused"
            );
        }
        nonces.push(nonce);
    }
}

#[tokio::test]
async fn a_signed_in_user_never_gets_the_anonymous_page() {
    let app = TestApp::with().empty().auth().start().await;
    let token = app.admin_token().await;
    let created = app
        .call(
            reqwest::Method::POST,
            "/items/",
            Some(&token),
            Some(&json!({"name": "Desk lamp"})),
        )
        .await;
    assert_eq!(created.status(), 201);
    // Rendered, then served from the cache.
    for _ in 0..2 {
        let html = page(&app, "/").await;
        assert!(html.contains("Desk lamp"));
        assert!(html.contains("Log in") && !html.contains("Log out"));
    }
    let response = app
        .client
        .get(app.url("/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Log out"), "the admin's own page");
    assert!(
        html.contains("Edit") && html.contains("Delete"),
        "with the rows' actions"
    );
    // And the anonymous page after it is still the anonymous one.
    let html = page(&app, "/").await;
    assert!(!html.contains("Log out"));
}

#[tokio::test]
async fn the_anonymous_page_is_kept_until_the_next_write_through_the_server() {
    // PostgreSQL keeps no pages: another instance may have written.
    if skip_unless_sqlite("the_anonymous_page_is_kept_until_the_next_write_through_the_server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("items.db");
    let app = TestApp::with()
        .database(&format!("sqlite://{}", db.display()))
        .start()
        .await;
    assert!(page(&app, "/").await.contains("Item One"));
    // A change behind the server's back (another program on the file): the
    // store's revision does not move, so the kept page is still served...
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE items SET name = 'Renamed outside' WHERE id = 1", [])
        .unwrap();
    let html = page(&app, "/").await;
    assert!(html.contains("Item One") && !html.contains("Renamed outside"));
    // ...while a request with a session cookie is rendered afresh,
    let fresh = app
        .client
        .get(app.url("/"))
        .header("cookie", "itemserve_session=unknown")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fresh.contains("Renamed outside"));
    // and the next write through the server retires the kept page.
    app.create(json!({"name": "Lamp"})).await;
    assert!(page(&app, "/").await.contains("Renamed outside"));
}

/// Panics anywhere in this process (a server's request tasks and the tasks
/// Leptos spawns for resources included), counted by a hook installed once.
fn panics_so_far() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Once;
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
    PANICS.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_thousands_of_times_at_once_without_a_panic() {
    use futures::stream::{self, StreamExt};
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.auth = itemserve::server::config::Switch::On;
            c.seed_demo_items = true;
        })
        .start()
        .await;
    let login = app
        .client
        .post(app.url("/rpc/session/login"))
        .header("content-type", "application/json")
        .body(json!({"name": "admin", "password": crate::helpers::TEST_ADMIN_PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let admin = app.admin_token().await;
    for n in 0..15 {
        let response = app
            .call(
                reqwest::Method::POST,
                "/items/",
                Some(&admin),
                Some(&json!({"name": format!("Row {n}"), "category": "Stress", "price": n})),
            )
            .await;
        assert_eq!(response.status(), 201);
    }

    let before = panics_so_far();
    // Signed in (rows with Edit and Delete, the account menu, the admin
    // page), and anonymous; every page, several queries.
    let paths = [
        "/",
        "/?sort=-price",
        "/?q=row&skip=10",
        "/predict",
        "/admin",
        "/admin?view=audit",
        "/login",
    ];
    let requests = (0..6000).map(|n| {
        let signed_in = n % 4 != 3;
        let path = paths[n % paths.len()];
        let mut request = app.client.get(app.url(path));
        if signed_in {
            request = request.header("cookie", cookie.as_str());
        }
        async move {
            let response = request
                .send()
                .await
                .expect("an answer, not a dropped connection");
            (path, signed_in, response.status().as_u16())
        }
    });
    let answers: Vec<(&str, bool, u16)> =
        stream::iter(requests).buffer_unordered(32).collect().await;
    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, _, status)| *status != 200)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(5)]
    );
    assert_eq!(
        panics_so_far() - before,
        0,
        "no panic while rendering (see the log above)"
    );
}
