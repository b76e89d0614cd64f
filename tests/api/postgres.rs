//! What only PostgreSQL offers: several instances on one database, and a
//! database server that goes away and comes back. Skipped (with a message)
//! when the tests run on SQLite; `scripts/test` runs them against
//! PostgreSQL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use itemserve::server::config::Switch;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::events::EventStream;
use crate::helpers::{postgres_server, status_and_json, test_config, TestApp, TestDatabase};
use crate::rpc;

fn skip(test: &str) -> bool {
    let skip = postgres_server().is_none();
    if skip {
        eprintln!("{test}: skipped, set ITEMSERVE_TEST_POSTGRES to run it");
    }
    skip
}

/// Two instances on one new database.
async fn two_instances(db: &TestDatabase) -> (TestApp, TestApp) {
    let mut config = test_config(&db.url());
    config.seed_demo_items = true;
    let a = TestApp::start_with(&config).await;
    let b = TestApp::start_with(&config).await;
    (a, b)
}

#[tokio::test]
async fn a_write_through_one_instance_is_read_through_the_other_at_once() {
    if skip("a_write_through_one_instance_is_read_through_the_other_at_once") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    // Both listing and page are read once before each write, so a cache
    // that kept them would answer the stale copy.
    for round in 0..25 {
        let name = format!("Written through A #{round}");
        let _ = b.get("/items/?limit=100&sort=-id").await;
        let _ = b.get("/?sort=-id").await;
        let created = a.create(json!({ "name": name })).await;
        let id = created["id"].as_i64().unwrap();

        let (status, listed) = status_and_json(b.get("/items/?limit=100&sort=-id").await).await;
        assert_eq!(status, 200);
        assert!(
            listed.as_array().unwrap().iter().any(|i| i["id"] == id),
            "round {round}: B's listing lacks item {id} created through A"
        );
        let page = b.get("/?sort=-id").await.text().await.unwrap();
        assert!(page.contains(&name), "round {round}: B's page lacks {name}");

        // A change and a delete through B, seen through A.
        let renamed = format!("Renamed through B #{round}");
        let response = b
            .put_json(&format!("/items/{id}"), &json!({ "name": renamed }))
            .await;
        assert_eq!(response.status(), 200);
        let (_, item) = status_and_json(a.get(&format!("/items/{id}")).await).await;
        assert_eq!(item["name"], renamed.as_str());
        assert_eq!(item["version"], 2);
        if round % 5 == 0 {
            assert_eq!(b.delete(&format!("/items/{id}")).await.status(), 200);
            assert_eq!(a.get(&format!("/items/{id}")).await.status(), 404);
        }
    }
}

#[tokio::test]
async fn instances_that_create_at_once_never_hand_out_one_id_twice() {
    if skip("instances_that_create_at_once_never_hand_out_one_id_twice") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move {
                app.create(json!({ "name": format!("Parallel {i}") })).await["id"]
                    .as_i64()
                    .unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40, "every create got an id of its own");
    assert!(ids[0] > 3, "the demo items' ids are skipped: {ids:?}");
    let (_, listed) = status_and_json(b.get("/items/?limit=100").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 43, "{listed}");
}

/// A TCP proxy between the server and PostgreSQL that the test can cut
/// (every open connection closed, new ones closed at once) and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accepting, cut_signal) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = cut_signal.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy { addr, up, cuts }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The host and port of a `postgres://user@host:port/db` URL.
fn upstream_of(url: &str) -> SocketAddr {
    let rest = url.split_once("://").unwrap().1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hostport = rest.split('/').next().unwrap();
    let hostport = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&hostport.replace("localhost", "127.0.0.1"))
        .unwrap()
        .next()
        .unwrap()
}

#[tokio::test]
async fn while_the_database_is_gone_requests_get_503_and_the_service_recovers_by_itself() {
    if skip("while_the_database_is_gone_requests_get_503_and_the_service_recovers_by_itself") {
        return;
    }
    let db = TestDatabase::new().await;
    let url = db.url();
    let proxy = Proxy::start(upstream_of(&url)).await;
    let (scheme_user, rest) = url.rsplit_once('@').unwrap();
    let through_proxy = format!(
        "{scheme_user}@{}/{}",
        proxy.addr,
        rest.split_once('/').unwrap().1
    );
    let mut config = test_config(&through_proxy);
    config.seed_demo_items = true;
    let app = TestApp::start_with(&config).await;

    let mut acknowledged = Vec::new();
    for i in 0..5 {
        acknowledged.push(app.create(json!({ "name": format!("Before {i}") })).await);
    }

    let mut events = EventStream::open(&app, None).await;
    proxy.cut();
    for (method, path, body) in [
        ("GET", "/items/1", None),
        ("GET", "/items/", None),
        ("POST", "/items/", Some(json!({ "name": "While down" }))),
        ("PUT", "/items/1", Some(json!({ "name": "While down" }))),
        ("DELETE", "/items/2", None),
    ] {
        let request = app.client.request(method.parse().unwrap(), app.url(path));
        let request = match &body {
            Some(body) => request.json(body),
            None => request,
        };
        let (status, body) = status_and_json(request.send().await.unwrap()).await;
        assert_eq!(
            status, 503,
            "{method} {path} while the database is down: {body}"
        );
        assert_eq!(
            body["detail"], "The database is unavailable; try again in a few seconds",
            "{method} {path}"
        );
    }
    // The UI's server functions answer 503 as well, with their error.
    let list = json!({ "query": itemserve::domain::ItemQuery::default() }).to_string();
    let answer = rpc::call(&app, "/rpc/items/list", list).await;
    rpc::assert_refused(&answer, 503, "Unavailable", "database is unavailable");
    let (status, body) = status_and_json(app.get("/readyz").await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process itself is alive"
    );

    proxy.restore();
    let started = Instant::now();
    loop {
        let status = app.get("/readyz").await.status();
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "not ready again 15 s after the database came back ({status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = app.create(json!({ "name": "After" })).await;
    let (_, listed) = status_and_json(app.get("/items/?limit=100").await).await;
    let listed: Vec<&Value> = listed.as_array().unwrap().iter().collect();
    for item in acknowledged.iter().chain([&created]) {
        assert!(
            listed
                .iter()
                .any(|l| l["id"] == item["id"] && l["name"] == item["name"]),
            "acknowledged {item} is stored"
        );
    }
    assert!(
        !listed.iter().any(|l| l["name"] == "While down"),
        "nothing answered with 503 was written"
    );
    // The instance's own ear on the database was cut too: once it listens
    // again, open streams are told to reload (changes may have been missed).
    // (The creates above may still be on their way to the stream first.)
    let mut seen = Vec::new();
    while seen.len() < 10 {
        let event = events.next().await;
        if event.data == json!({"kind": "reset"}) {
            break;
        }
        seen.push(event.data);
    }
    assert!(seen.len() < 10, "no reset among {seen:?}");
}

#[tokio::test]
async fn an_unreachable_database_at_startup_fails_with_a_clear_message() {
    if skip("an_unreachable_database_at_startup_fails_with_a_clear_message") {
        return;
    }
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = test_config(&format!("postgres://postgres@127.0.0.1:{port}/test"));
    let error = match itemserve::server::startup::Application::build(&config).await {
        Ok(_) => panic!("started without a database"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("unavailable"), "{error}");
}

/// A connection to the test database `db` as the server's admin user.
async fn admin_client(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Runs `sql` on the test database `db` as the server's admin user.
async fn run_sql(db: &TestDatabase, sql: &str) {
    admin_client(db).await.batch_execute(sql).await.unwrap();
}

#[tokio::test]
async fn when_the_id_sequence_is_used_up_a_create_without_id_is_a_503_saying_so() {
    if skip("when_the_id_sequence_is_used_up_a_create_without_id_is_a_503_saying_so") {
        return;
    }
    let db = TestDatabase::new().await;
    let app = TestApp::with().database(&db.url()).start().await;
    run_sql(&db, "SELECT setval('item_ids', 9007199254740991)").await;
    let (status, body) = status_and_json(
        app.post_json("/items/", &json!({"name": "One too many"}))
            .await,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("No item ids are left to assign"),
        "{body}"
    );
    // Through the UI's server functions too.
    let draft =
        json!({"name": "One too many", "description": null, "category": null, "price": null});
    let answer = rpc::call(
        &app,
        "/rpc/items/create",
        json!({ "draft": draft }).to_string(),
    )
    .await;
    rpc::assert_refused(
        &answer,
        503,
        "Unavailable",
        "No item ids are left to assign",
    );
    // An explicit free id is still accepted.
    let (status, _) = status_and_json(
        app.post_json("/items/", &json!({"id": 50, "name": "Chosen"}))
            .await,
    )
    .await;
    assert_eq!(status, 201);
}

/// The URL of the test database `db` for the user `role` (no password).
fn url_as(db: &TestDatabase, role: &str) -> String {
    let url = db.url();
    let (scheme, rest) = url.split_once("://").unwrap();
    format!(
        "{scheme}://{role}@{}",
        rest.rsplit_once('@').map_or(rest, |(_, r)| r)
    )
}

#[tokio::test]
async fn a_database_user_without_the_right_to_create_tables_gets_a_clear_error() {
    if skip("a_database_user_without_the_right_to_create_tables_gets_a_clear_error") {
        return;
    }
    let db = TestDatabase::new().await;
    let role = format!("itemserve_reader_{}", std::process::id());
    run_sql(
        &db,
        &format!("DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
    )
    .await;
    let as_reader = url_as(&db, &role);
    let result = itemserve::server::startup::Application::build(&test_config(&as_reader)).await;
    run_sql(&db, &format!("DROP ROLE IF EXISTS {role}")).await;
    let error = match result {
        Ok(_) => panic!("migrated without the right to create tables"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("may not create itemserve's tables"),
        "{error}"
    );
}

#[tokio::test]
async fn a_change_through_one_instance_reaches_the_event_streams_of_both() {
    if skip("a_change_through_one_instance_reaches_the_event_streams_of_both") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    let mut on_a = EventStream::open(&a, None).await;
    let mut on_b = EventStream::open(&b, None).await;
    let created = a.create(json!({"name": "Announced"})).await;
    let want = json!({"kind": "created", "id": created["id"], "version": 1});
    let (seen_a, seen_b) = (on_a.next().await, on_b.next().await);
    assert_eq!(seen_a.data, want);
    assert_eq!(seen_b.data, want);
    assert_eq!(seen_a.id, seen_b.id, "every instance names an event alike");

    // A browser whose stream to B dropped resumes on A (behind a load
    // balancer) without missing what happened meanwhile.
    drop(on_b);
    let id = created["id"].as_i64().unwrap();
    let response = b
        .put_json(&format!("/items/{id}"), &json!({"name": "Changed"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(on_a.next().await.data["kind"], "updated");
    let mut resumed = EventStream::open(&a, seen_b.id.as_deref()).await;
    assert_eq!(
        resumed.next().await.data,
        json!({"kind": "updated", "id": id, "version": 2})
    );
}

#[tokio::test]
async fn an_import_through_one_instance_is_one_bulk_event_on_the_other_and_its_rows_are_read_there()
{
    if skip(
        "an_import_through_one_instance_is_one_bulk_event_on_the_other_and_its_rows_are_read_there",
    ) {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    // B reads its total and first page before, so caches it kept would
    // answer the old ones.
    let (_, before) = status_and_json(b.get("/search/?q=imported%20row").await).await;
    assert_eq!(before["total"], 0);
    let mut on_b = EventStream::open(&b, None).await;
    let file: String = (0..300)
        .map(|n| format!("{{\"name\": \"Imported row {n}\"}}\n"))
        .collect();
    let (status, body) = crate::transfer::import(&a, "", "application/x-ndjson", &file).await;
    assert_eq!(status, 200, "{body}");
    a.create(json!({"name": "After the import"})).await;
    assert_eq!(on_b.next().await.data, json!({"kind": "bulk"}));
    assert_eq!(
        on_b.next().await.data["kind"],
        "created",
        "one event for the whole import, then the create"
    );
    let (_, after) = status_and_json(b.get("/search/?q=imported%20row&limit=1000").await).await;
    assert_eq!(after["total"], 300);
    assert_eq!(after["items"].as_array().unwrap().len(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_creates_reaches_the_other_instance_whole_and_in_order() {
    if skip("a_burst_of_creates_reaches_the_other_instance_whole_and_in_order") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    let mut on_b = EventStream::open(&b, None).await;
    // Enough at once that creates commit in groups and their announcements
    // go out several to a notification, more than one notification holds.
    let creates = (0..300).map(|i| {
        let a = &a;
        async move { a.create(json!({ "name": format!("Burst {i}") })).await["id"].as_i64() }
    });
    let mut created: Vec<i64> = futures::future::join_all(creates)
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let mut heard = Vec::new();
    let mut last_event = 0;
    while heard.len() < created.len() {
        let event = on_b.next().await;
        assert_eq!(event.data["kind"], "created", "{:?}", event.data);
        let number: i64 = event
            .id
            .as_deref()
            .unwrap()
            .trim_start_matches("pg-")
            .parse()
            .unwrap();
        assert!(number > last_event, "event {number} after {last_event}");
        last_event = number;
        heard.push(event.data["id"].as_i64().unwrap());
    }
    created.sort_unstable();
    heard.sort_unstable();
    assert_eq!(heard, created, "every create was announced once");
}

/// Calls `request` until it answers `status` (a change heard by the other
/// instance) or `within` passes; returns the last answer's status and body.
async fn until_status<F, Fut>(status: u16, within: Duration, request: F) -> (u16, Value)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = reqwest::Response>,
{
    let deadline = Instant::now() + within;
    loop {
        let (got, body) = status_and_json(request().await).await;
        if got == status || Instant::now() >= deadline {
            return (got, body);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_user_demoted_or_disabled_through_one_instance_is_refused_by_the_other_at_once() {
    if skip("a_user_demoted_or_disabled_through_one_instance_is_refused_by_the_other_at_once") {
        return;
    }
    let db = TestDatabase::new().await;
    let mut config = test_config(&db.url());
    config.auth = Switch::On;
    let a = TestApp::start_with(&config).await;
    let b = TestApp::start_with(&config).await;
    let admin = a.admin_token().await;
    let dora = a.user_token(&admin, "dora", "editor").await;
    let through_b = json!({"name": "Through B"});
    let create_on_b = || b.call(Method::POST, "/items/", Some(&dora), Some(&through_b));
    // B reads Dora (and keeps her in memory) before each change.
    let (status, _) = status_and_json(create_on_b().await).await;
    assert_eq!(status, 201);
    let (_, me) = status_and_json(b.call(Method::GET, "/auth/me", Some(&dora), None).await).await;

    // Well under the 5 s for which B would keep an entry without hearing
    // of a change: only the notification can make these pass.
    let soon = Duration::from_secs(2);
    a.change_user(&admin, &me["id"], json!({"role": "viewer"}))
        .await;
    let (status, body) = until_status(403, soon, create_on_b).await;
    assert_eq!(status, 403, "B still let the demoted user write: {body}");
    assert!(body["detail"].is_string(), "{body}");

    let (status, _) =
        status_and_json(b.call(Method::GET, "/auth/me", Some(&dora), None).await).await;
    assert_eq!(status, 200);
    a.change_user(&admin, &me["id"], json!({"disabled": true}))
        .await;
    let (status, body) = until_status(401, soon, || {
        b.call(Method::GET, "/auth/me", Some(&dora), None)
    })
    .await;
    assert_eq!(status, 401, "B still accepted the disabled user: {body}");
}

#[tokio::test]
async fn a_user_disabled_by_hand_in_sql_is_refused_within_seconds() {
    if skip("a_user_disabled_by_hand_in_sql_is_refused_within_seconds") {
        return;
    }
    let db = TestDatabase::new().await;
    let mut config = test_config(&db.url());
    config.auth = Switch::On;
    let app = TestApp::start_with(&config).await;
    let admin = app.admin_token().await;
    let dora = app.user_token(&admin, "dora", "editor").await;
    let me = || app.call(Method::GET, "/auth/me", Some(&dora), None);
    // The instance reads Dora (and keeps her in memory).
    let (status, _) = status_and_json(me().await).await;
    assert_eq!(status, 200);

    // No notification: only the 5 s after which an entry is read again can
    // make this pass.
    run_sql(&db, "UPDATE users SET disabled = true WHERE name = 'dora'").await;
    let (status, body) = until_status(401, Duration::from_secs(8), me).await;
    assert_eq!(
        status, 401,
        "a user disabled in SQL was still accepted: {body}"
    );
}

#[tokio::test]
async fn a_restore_reaches_other_instances_and_their_retention_jobs_purge_the_trash_together() {
    if skip("a_restore_reaches_other_instances_and_their_retention_jobs_purge_the_trash_together") {
        return;
    }
    let db = TestDatabase::new().await;
    let mut config = test_config(&db.url());
    config.trash_retention = itemserve::server::config::Retention(Some(Duration::from_secs(3)));
    let a = TestApp::start_with(&config).await;
    let b = TestApp::start_with(&config).await;

    let mut events = EventStream::open(&b, None).await;
    let item = a.create(json!({"name": "Shared"})).await;
    let id = item["id"].as_i64().unwrap();
    assert_eq!(a.delete(&format!("/items/{id}")).await.status(), 200);
    let restored = a
        .call(Method::POST, &format!("/trash/{id}/restore"), None, None)
        .await;
    assert_eq!(restored.status(), 200);
    for want in [
        json!({"kind": "created", "id": id, "version": 1}),
        json!({"kind": "deleted", "id": id}),
        json!({"kind": "created", "id": id, "version": 3}),
    ] {
        assert_eq!(events.next().await.data, want);
    }

    // More than a batch of expired items, purged by both instances' jobs
    // at once: each exactly once, and with its history.
    let mut deleted = Vec::new();
    for n in 0..600 {
        let item = a.create(json!({"name": format!("Binned {n}")})).await;
        let id = item["id"].as_i64().unwrap();
        let by = if n % 2 == 0 { &a } else { &b };
        assert_eq!(by.delete(&format!("/items/{id}")).await.status(), 200);
        deleted.push(id);
    }
    let started = Instant::now();
    loop {
        let (status, page) = status_and_json(b.get("/trash?limit=1").await).await;
        assert_eq!(status, 200, "{page}");
        if page["items"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the trash still holds items: {page}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for id in [deleted[0], deleted[599]] {
        let (status, _) = status_and_json(a.get(&format!("/items/{id}/history")).await).await;
        assert_eq!(status, 404, "item {id}'s history went with it");
    }
    let (_, kept) = status_and_json(b.get(&format!("/items/{id}")).await).await;
    assert_eq!(kept["name"], "Shared", "the restored item stays");
}

#[tokio::test]
async fn a_bulk_action_through_one_instance_is_one_event_on_the_other_and_read_there_at_once() {
    if skip("a_bulk_action_through_one_instance_is_one_event_on_the_other_and_read_there_at_once") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    let mut ids = Vec::new();
    for n in 0..50 {
        let item = a
            .create(json!({"name": format!("Shelf {n}"), "category": "Storage"}))
            .await;
        ids.push(item["id"].as_i64().unwrap());
    }
    // B reads the category first, so a page it kept would answer the old one.
    let (_, before) = status_and_json(b.get("/filter/?category=storage").await).await;
    assert_eq!(before["total"], 50);
    let mut on_b = EventStream::open(&b, None).await;
    let request = json!({"action": "set", "ids": ids, "values": {"category": "Shelving"}});
    let (status, body) = status_and_json(a.post_json("/items/bulk", &request).await).await;
    assert_eq!((status, &body["count"]), (200, &json!(50)), "{body}");
    a.create(json!({"name": "After the bulk action"})).await;
    assert_eq!(on_b.next().await.data, json!({"kind": "bulk"}));
    assert_eq!(
        on_b.next().await.data["kind"],
        "created",
        "one event for all 50"
    );
    let (_, after) = status_and_json(b.get("/filter/?category=shelving").await).await;
    assert_eq!(after["total"], 50);
    let (_, old) = status_and_json(b.get("/filter/?category=storage").await).await;
    assert_eq!(old["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bulk_actions_on_overlapping_items_through_two_instances_each_apply_whole() {
    if skip("bulk_actions_on_overlapping_items_through_two_instances_each_apply_whole") {
        return;
    }
    let db = TestDatabase::new().await;
    let (a, b) = two_instances(&db).await;
    let mut ids = Vec::new();
    for n in 0..200 {
        let item = a.create(json!({"name": format!("Crate {n}")})).await;
        ids.push(item["id"].as_i64().unwrap());
    }
    // Both instances raise every price at once, many times: each action
    // locks its items in id order, so neither waits on the other forever
    // and every item ends with one revision per action.
    let rounds = 5;
    async fn raise(app: &TestApp, ids: &[i64], price: u32) -> (u16, Value) {
        let request = json!({"action": "set", "ids": ids, "values": {"price": price}});
        status_and_json(app.post_json("/items/bulk", &request).await).await
    }
    for round in 0..rounds {
        let (first, second) = tokio::join!(raise(&a, &ids, round), raise(&b, &ids, 100 + round));
        assert_eq!(first.0, 200, "{}", first.1);
        assert_eq!(second.0, 200, "{}", second.1);
    }
    for id in [ids[0], ids[199]] {
        let (_, item) = status_and_json(a.get(&format!("/items/{id}")).await).await;
        assert_eq!(item["version"], 1 + 2 * rounds as i64);
        let (_, history) =
            status_and_json(a.get(&format!("/items/{id}/history?limit=100")).await).await;
        let revisions = history["revisions"].as_array().unwrap();
        assert_eq!(revisions.len(), 1 + 2 * rounds as usize);
        assert!(revisions.iter().take(10).all(|r| r["door"] == "bulk"));
    }
}

/// Whether `index` exists in the test database `db`.
async fn index_exists(db: &TestDatabase, index: &str) -> bool {
    admin_client(db)
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&index])
        .await
        .unwrap()
        .get(0)
}

/// The names a search for `LAMP%` finds (`%` is a plain character).
async fn lamp_percent(app: &TestApp) -> Vec<String> {
    let (status, body) = status_and_json(app.get("/search/?q=LAMP%25").await).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn without_pg_trgm_searches_read_every_row_and_a_later_start_builds_their_indexes() {
    if skip("without_pg_trgm_searches_read_every_row_and_a_later_start_builds_their_indexes") {
        return;
    }
    // A user who may create tables but not extensions (no CREATE on the
    // database), on a database where pg_trgm is not there yet.
    let db = TestDatabase::new().await;
    let role = format!("itemserve_owner_{}", std::process::id());
    run_sql(
        &db,
        &format!(
            "DROP EXTENSION IF EXISTS pg_trgm CASCADE; DROP ROLE IF EXISTS {role}; \
             CREATE ROLE {role} LOGIN; GRANT USAGE, CREATE ON SCHEMA public TO {role}"
        ),
    )
    .await;
    let as_owner = url_as(&db, &role);
    let config = test_config(&as_owner);
    {
        let app = TestApp::start_with(&config).await;
        for name in ["Desk lamp% 1", "Floor LAMP%", "Lamp", "Oak desk"] {
            app.create(json!({"name": name})).await;
        }
        assert!(!index_exists(&db, "items_name_trgm").await);
        assert_eq!(lamp_percent(&app).await, ["Desk lamp% 1", "Floor LAMP%"]);
    }
    // Once someone who may has created the extension, the next start
    // builds the indexes, and searches answer the same through them.
    run_sql(&db, "CREATE EXTENSION pg_trgm").await;
    let app = TestApp::start_with(&config).await;
    assert!(index_exists(&db, "items_name_trgm").await);
    assert!(index_exists(&db, "items_description_trgm").await);
    assert_eq!(lamp_percent(&app).await, ["Desk lamp% 1", "Floor LAMP%"]);
    drop(app);
    run_sql(&db, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
}
