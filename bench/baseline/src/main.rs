//! A bare axum server: `GET /items/1` answers a constant JSON item, like
//! itemserve's point read without the database.

use axum::{http::header, routing::get, Router};

const ITEM: &str = r#"{"id":1,"name":"Item One","description":"This is the first item.","category":null,"price":null,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z","version":1}"#;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3900".into());
    let app = Router::new().route(
        "/items/1",
        get(|| async { ([(header::CONTENT_TYPE, "application/json")], ITEM) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    println!("baseline listening on http://{addr}");
    axum::serve(listener, app).await.expect("serve");
}
