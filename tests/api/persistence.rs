use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{status_and_json, TestApp};

#[tokio::test]
async fn items_survive_a_graceful_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/folder/items.db").display()
    );
    let mut app = TestApp::start(&url, true).await;
    app.create(json!({"id": 10, "name": "Keeper", "price": 9.99}))
        .await;
    app.put_json("/items/1", &json!({"name": "Edited"})).await;
    app.delete("/items/2").await;
    app.stop().await;

    let app = TestApp::start(&url, true).await;
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
    let mut child = Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--addr", "127.0.0.1:0", "--database-url", database_url])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.split("open ").nth(1) {
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("server exited before printing its address");
    })
    .await
    .expect("server prints its address");
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

#[tokio::test]
async fn acknowledged_writes_survive_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("items.db").display());
    let client = reqwest::Client::new();

    let (mut child, base) = start_binary(&url).await;
    for i in 0..20 {
        let response = client
            .post(format!("{base}/items/"))
            .json(&json!({"name": format!("durable {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    child.start_kill().unwrap(); // SIGKILL: no chance to flush anything
    child.wait().await.unwrap();

    let (_child, base) = start_binary(&url).await;
    let body: serde_json::Value = client
        .get(format!("{base}/search/?q=durable&limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["total"], 20);
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

#[tokio::test]
async fn an_unsupported_database_url_fails_with_a_clear_message() {
    let output = Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            "mysql://localhost/x",
        ])
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(
        log.contains("unsupported DATABASE_URL scheme 'mysql'"),
        "{log}"
    );
}
