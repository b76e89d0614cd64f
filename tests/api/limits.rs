//! Resource limits: rate limiting, idle and slow clients, connection caps,
//! over-long URIs. Each test checks the server keeps serving others.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{status_and_json, TestApp};

/// Reads until the server closes the connection (or `limit` passes) and
/// returns what it sent; `None` if it was still open at the limit.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
        }
    }
}

async fn assert_still_serving(app: &TestApp) {
    let started = Instant::now();
    let response = app.get("/items/").await;
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a normal request waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_burst_beyond_the_rate_limit_gets_429_with_retry_after() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.rate_limit = 5;
            c.rate_limit_burst = Some(10);
        })
        .start()
        .await;

    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(app.get("/items/").await.status().as_u16());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (10..=12).contains(&ok),
        "the burst of 10 (plus what refilled meanwhile) passes: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));

    let response = app.get("/items/1").await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1, "whole seconds, rounded up");
    let (_, body) = status_and_json(response).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("limit is 5 per second with bursts of 10"),
        "{detail}"
    );

    // Open Inference clients get their own error shape.
    let (status, body) = status_and_json(
        app.post_json("/v2/models/linear/infer", &json!({"inputs": []}))
            .await,
    )
    .await;
    assert_eq!(status, 429);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("Too many requests"));

    // Probes are never throttled.
    for path in ["/healthz", "/readyz", "/v2/health/live", "/v2/health/ready"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }

    // The budget refills at the configured rate.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.get("/items/").await.status(), 200);
}

/// Statuses of `n` requests for `/items/` said to be forwarded for `client`.
async fn forwarded_for(app: &TestApp, client: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        let response = app
            .client
            .get(app.url("/items/"))
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.rate_limit = 1;
            c.rate_limit_burst = Some(5);
            c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        })
        .start()
        .await;
    let first = forwarded_for(&app, "203.0.113.7", 8).await;
    assert_eq!(first[..5], [200; 5], "{first:?}");
    assert_eq!(first[7], 429, "{first:?}");
    // Another client behind the same proxy is not held back by the first.
    let second = forwarded_for(&app, "203.0.113.8", 5).await;
    assert_eq!(second, [200; 5]);
    // Addresses a client writes in front of the proxy's entry do not count.
    let spoofed = forwarded_for(&app, "198.51.100.1, 203.0.113.7", 1).await;
    assert_eq!(spoofed, [429]);
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.rate_limit = 1;
            c.rate_limit_burst = Some(5);
        })
        .start()
        .await;
    let first = forwarded_for(&app, "203.0.113.7", 8).await;
    assert_eq!(first[7], 429, "{first:?}");
    // The header names someone else, but the connection is the same client.
    let (status, body) = status_and_json(
        app.client
            .get(app.url("/items/"))
            .header("x-forwarded-for", "203.0.113.8")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 429);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Too many requests"),
        "{body}"
    );
}

#[tokio::test]
async fn the_rate_limit_is_off_when_set_to_zero() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.rate_limit = 0)
        .start()
        .await;
    for _ in 0..300 {
        assert_eq!(app.get("/healthz").await.status(), 200);
        assert_eq!(app.get("/items/").await.status(), 200);
    }
}

#[tokio::test]
async fn many_idle_connections_do_not_stop_the_server() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.header_timeout = 1.0)
        .start()
        .await;
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(app.addr).await.unwrap());
    }
    assert_still_serving(&app).await;

    // A keep-alive connection left idle after a response is closed too.
    let mut kept = TcpStream::connect(app.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();

    // The header timeout closes every silent connection.
    let started = Instant::now();
    for stream in &mut idle {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        assert!(
            read_until_closed(stream, left).await.is_some(),
            "an idle connection was still open after {:?}",
            started.elapsed()
        );
    }
    let answer = read_until_closed(&mut kept, Duration::from_secs(5))
        .await
        .expect("the idle keep-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_and_others_are_served() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.header_timeout = 1.0)
        .start()
        .await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /items/ HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    // Trickle one header byte per slow client every 200 ms.
    let started = Instant::now();
    let mut closed = 0;
    while closed < slow.len() && started.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        closed = 0;
        for stream in &mut slow {
            if stream.write_all(b"x").await.is_err() {
                closed += 1;
            }
        }
        if started.elapsed() < Duration::from_millis(700) {
            assert_still_serving(&app).await;
        }
    }
    // Writes only fail once the peer has reset; read to be certain.
    for stream in &mut slow {
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        let answer = read_until_closed(stream, left)
            .await
            .expect("the slow client was disconnected");
        assert!(
            !answer.contains("200 OK"),
            "no request was served: {answer}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        started.elapsed()
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_body_sent_too_slowly_gets_408() {
    let app = TestApp::with()
        .empty()
        .configure(|c| c.body_timeout = 1.0)
        .start()
        .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(
            b"POST /items/ HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"name\": ",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server answers and closes");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("not complete within 1 s"), "{answer}");
    assert_still_serving(&app).await;
    let (_, items) = status_and_json(app.get("/items/").await).await;
    assert_eq!(items, json!([]), "nothing half-written was stored");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let app = TestApp::with()
        .empty()
        .configure(|c| {
            c.max_connections = 20;
            c.header_timeout = 1.0;
        })
        .start()
        .await;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(app.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(app.addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut extra, Duration::from_millis(500))
        .await
        .expect("the extra connection is closed without waiting");
    assert!(answer.is_empty(), "{answer}");

    // Once the held connections time out, new clients get in again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_still_serving(&app).await;
    drop(held);
}

#[tokio::test]
async fn over_long_urls_get_414_or_431_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let long_query = "a".repeat(20_000);
    for path in [
        format!("/items/?q={long_query}"),
        format!("/search/?q={long_query}"),
        format!("/v2/models/{long_query}"),
    ] {
        let response = app.get(&path).await;
        let status = response.status().as_u16();
        let (_, body) = status_and_json(response).await;
        assert_eq!(status, 414, "{body}");
        let message = body["detail"]
            .as_str()
            .or(body["error"].as_str())
            .unwrap_or_default();
        assert!(message.contains("at most 8192"), "{body}");
    }
    // Beyond the request-head buffer the HTTP layer itself refuses, with
    // no body. (Clients such as reqwest refuse to send a URL this long.)
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let huge = format!(
        "GET /items/?q={} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(200_000)
    );
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(huge.as_bytes()).await;
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server answers and closes");
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    // Under the URL limit, the search term's own limit answers.
    let (status, body) =
        status_and_json(app.get(&format!("/items/?q={}", "a".repeat(8000))).await).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "string_too_long", "{body}");
    assert_eq!(
        app.get(&format!("/items/?q={}", "a".repeat(200)))
            .await
            .status(),
        200
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_malformed_trusted_proxy_stops_the_start_with_a_clear_message() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_itemserve"))
        .args(["--trusted-proxies", "10.0.0.0/8,proxy.example"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("'proxy.example' is not an IP address or a network like 10.0.0.0/8"),
        "{message}"
    );
}
