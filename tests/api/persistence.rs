use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{skip_unless_sqlite, status_and_json, TestApp, TestDatabase};

#[tokio::test]
async fn items_survive_a_graceful_restart() {
    let db = TestDatabase::new().await;
    // On SQLite, in folders that do not exist yet.
    let dir = tempfile::tempdir().unwrap();
    let url = match &db {
        TestDatabase::Sqlite(_) => format!(
            "sqlite://{}",
            dir.path().join("nested/folder/items.db").display()
        ),
        TestDatabase::Postgres { .. } => db.url(),
    };
    let mut app = TestApp::with().database(&url).start().await;
    app.create(json!({"id": 10, "name": "Keeper", "price": 9.99}))
        .await;
    app.put_json("/items/1", &json!({"name": "Edited"})).await;
    app.delete("/items/2").await;
    app.stop().await;

    let app = TestApp::with().database(&url).start().await;
    let (_, items) = status_and_json(app.get("/items/").await).await;
    let names: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Edited", "Item Three", "Keeper"],
        "demo items are not seeded twice"
    );
    let (_, item) = status_and_json(app.get("/items/1").await).await;
    assert_eq!(item["version"], 2);
}

/// Starts the real binary and returns it with the address it printed.
async fn start_binary(database_url: &str) -> (Child, String) {
    let (child, url, _) = start_binary_logged(database_url).await;
    (child, url)
}

/// Starts the real binary and returns it with the address it printed and
/// what it logged before that.
async fn start_binary_logged(database_url: &str) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        // Eight writers from one address outrun the default rate limit.
        .args(["--rate-limit", "0"])
        // Durability is the subject here; the writes need no login.
        .args(["--auth", "off"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("open ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
            log.push_str(&line);
            log.push('\n');
        }
        panic!("server exited before printing its address");
    })
    .await
    .expect("server prints its address");
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url, log)
}

/// What the writers saw acknowledged: id → (version, name).
type Acknowledged = std::collections::HashMap<i64, (i64, String)>;

/// One writer: creates an item, then keeps updating it and creating more,
/// recording every acknowledged write, until the server dies.
async fn write_until_killed(base: String, writer: usize, round: usize) -> Acknowledged {
    let client = reqwest::Client::new();
    let mut acked = Acknowledged::new();
    let mut own: Option<i64> = None;
    for n in 0.. {
        let name = format!("r{round} w{writer} n{n}");
        let result = match own {
            Some(id) if n % 3 != 0 => {
                client
                    .put(format!("{base}/items/{id}"))
                    .json(&json!({ "name": name, "price": n }))
                    .send()
                    .await
            }
            _ => {
                client
                    .post(format!("{base}/items/"))
                    .json(&json!({ "name": name, "description": "crash test" }))
                    .send()
                    .await
            }
        };
        let Ok(response) = result else { break };
        if !response.status().is_success() {
            panic!("write refused: {}", response.status());
        }
        // The answer might be cut off by the kill; then it was not seen.
        let Ok(item) = response.json::<serde_json::Value>().await else {
            break;
        };
        let id = item["id"].as_i64().unwrap();
        acked.insert(id, (item["version"].as_i64().unwrap(), name));
        own = Some(id);
    }
    acked
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_under_load_round_after_round() {
    let db = TestDatabase::new().await;
    let url = db.url();
    let client = reqwest::Client::new();
    let mut acked = Acknowledged::new();

    for round in 0..4 {
        let (mut child, base) = start_binary(&url).await;
        let writers: Vec<_> = (0..8)
            .map(|w| tokio::spawn(write_until_killed(base.clone(), w, round)))
            .collect();
        // Let the load settle, then kill mid-stream; vary the moment.
        tokio::time::sleep(Duration::from_millis(300 + 150 * round as u64)).await;
        child.start_kill().unwrap(); // SIGKILL: no chance to flush anything
        child.wait().await.unwrap();
        let before = acked.len();
        for writer in writers {
            acked.extend(writer.await.unwrap());
        }
        assert!(
            acked.len() > before,
            "round {round} acknowledged some writes"
        );
    }

    // The file is sound after four crashes.
    if let TestDatabase::Sqlite(dir) = &db {
        let check: String = rusqlite::Connection::open(dir.path().join("items.db"))
            .unwrap()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    let (_child, base) = start_binary(&url).await;
    let mut stored = Acknowledged::new();
    for skip in (0..).step_by(1000) {
        let page: Vec<serde_json::Value> = client
            .get(format!("{base}/items/?limit=1000&skip={skip}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in &page {
            let version = item["version"].as_i64().unwrap();
            let name = item["name"].as_str().unwrap().to_owned();
            stored.insert(item["id"].as_i64().unwrap(), (version, name));
        }
        if page.len() < 1000 {
            break;
        }
    }
    for (id, (version, name)) in &acked {
        let (stored_version, stored_name) = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged item {id} ({name}) is missing"));
        // A write in flight at the kill may have landed after the last
        // acknowledged one, never before it.
        assert!(
            stored_version >= version,
            "item {id} went back from version {version} to {stored_version}"
        );
        if stored_version == version {
            assert_eq!(stored_name, name, "item {id} at version {version}");
        }
    }
}

#[tokio::test]
async fn the_help_documents_the_configuration() {
    let output = Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .arg("--help")
        .output()
        .await
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "LEPTOS_SITE_ADDR",
        "DATABASE_URL",
        "RUST_LOG",
        "ITEMSERVE_SEED_DEMO_ITEMS",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

/// Runs the binary on `database_url`, expects it to refuse to start, and
/// returns its log.
async fn failed_start_log(database_url: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn an_unsupported_database_url_fails_with_a_clear_message() {
    let log = failed_start_log("mysql://localhost/x").await;
    assert!(
        log.contains("unsupported DATABASE_URL scheme 'mysql'"),
        "{log}"
    );
}

#[tokio::test]
async fn a_second_server_on_the_same_database_file_refuses_to_start() {
    if skip_unless_sqlite("a_second_server_on_the_same_database_file_refuses_to_start") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("items.db").display());
    let (_first, _) = start_binary(&url).await;
    let log = failed_start_log(&url).await;
    assert!(log.contains("is in use by another process"), "{log}");
}

#[tokio::test]
async fn a_database_of_the_builds_before_refinery_upgrades_in_place_and_keeps_its_data() {
    if skip_unless_sqlite("a_database_of_the_builds_before_refinery_upgrades_in_place") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("items.db");
    let url = database_of_the_builds_before_refinery(&path);

    for start in 0..2 {
        let mut app = TestApp::with().database(&url).start().await;
        let (status, items) = status_and_json(app.get("/items/").await).await;
        assert_eq!(status, 200);
        let names: Vec<&str> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if start == 0 {
            &["Kept"]
        } else {
            &["Kept", "Added"]
        };
        assert_eq!(
            names, expected,
            "start {start}: no demo items, no re-run migration"
        );
        if start == 0 {
            let created = app.create(json!({"name": "Added"})).await;
            assert_eq!(created["id"], 8);
        }
        app.stop().await;
    }
    let recorded: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM refinery_schema_history", [], |r| {
            r.get(0)
        })
        .unwrap();
    let migrations = sqlite_migrations();
    assert_eq!(
        recorded as usize, migrations,
        "every migration recorded once"
    );
}

/// What earlier builds left at `path`: the first three migrations applied
/// by hand and counted in `PRAGMA user_version`, without refinery's history
/// table, and one item (id 7, "Kept"). Returns its URL.
fn database_of_the_builds_before_refinery(path: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    for sql in [
        include_str!("../../migrations/sqlite/V1__create_items.sql"),
        include_str!("../../migrations/sqlite/V2__assigned_ids_and_folded_text.sql"),
        include_str!("../../migrations/sqlite/V3__users_and_credentials.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO items (id, name, name_folded, created_at, updated_at) \
         VALUES (7, 'Kept', 'kept', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z'); \
         UPDATE item_id_counter SET last = 7; \
         PRAGMA journal_mode = WAL; PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    format!("sqlite://{}", path.display())
}

#[tokio::test]
async fn upgrading_an_existing_database_says_so_and_logs_each_migration() {
    if skip_unless_sqlite("upgrading_an_existing_database_says_so_and_logs_each_migration") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let migrations = sqlite_migrations();

    let fresh = format!("sqlite://{}", dir.path().join("new.db").display());
    let (_server, _, log) = start_binary_logged(&fresh).await;
    assert!(
        !log.contains("upgrading the database schema"),
        "a new database is created, not upgraded: {log}"
    );

    let old = database_of_the_builds_before_refinery(&dir.path().join("old.db"));
    let (_server, _, log) = start_binary_logged(&old).await;
    assert!(
        log.contains(&format!(
            "upgrading the database schema from version 3 to {migrations}; on a large catalogue"
        )),
        "{log}"
    );
    for version in 4..=migrations {
        assert!(
            log.contains(&format!("applying migration: V{version}__")),
            "migration {version} announced as it starts: {log}"
        );
    }
    assert!(
        !log.contains("applying migration: V3__"),
        "what had run is not run again: {log}"
    );
}

/// How many SQLite migrations this build has.
fn sqlite_migrations() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count()
}
