//! Per-request telemetry: a request id on every request, response and log
//! line; one access log line per request; the HTTP latency histogram.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::metrics::{method_label, Metrics};

/// The request id header, read from clients and proxies and always answered.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// The id of the request being handled, in its extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only ever built from visible ASCII (see `sane`).
        self.0.to_str().unwrap_or_default()
    }
}

/// A client's id is kept when it is short visible ASCII without spaces or
/// quotes (safe in logs and headers); otherwise the server makes one.
fn sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(b))
}

/// A new id: a random per-process prefix and a counter, 32 hex digits in
/// all (unique across instances without a random draw per request).
fn generate() -> HeaderValue {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.finish()
    });
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{:016x}{n:016x}", *PREFIX);
    HeaderValue::from_str(&id).expect("hex digits are a valid header value")
}

/// Middleware, outermost: gives the request its id and a span carrying it,
/// then logs the answer once and records it in the HTTP histogram.
pub async fn track(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = match request.headers().get(&REQUEST_ID) {
        Some(value) if sane(value) => value.clone(),
        _ => generate(),
    };
    let method = method_label(request.method());
    let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
    request.extensions_mut().insert(RequestId(id.clone()));
    let path_for_log =
        tracing::enabled!(tracing::Level::INFO).then(|| request.uri().path().to_owned());

    let mut response = next.run(request).instrument(span.clone()).await;

    let took = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions_mut()
        .remove::<MatchedPath>()
        .map_or_else(|| "unmatched".into(), |m| m.as_str().to_owned());
    let path_for_log = path_for_log.map(|path| (path, route.clone()));
    metrics.http_request(method, route, status, took);
    response.headers_mut().insert(REQUEST_ID.clone(), id);
    if let Some((path, route)) = path_for_log {
        let _entered = span.enter();
        tracing::info!(
            target: "itemserve::http",
            method,
            route,
            path,
            status,
            latency_ms = took.as_secs_f64() * 1000.0,
            "request"
        );
    }
    response
}

/// Middleware, on the router: hands the matched route pattern out to
/// [`track`], which runs before routing and cannot see it otherwise.
pub async fn expose_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(matched);
    }
    response
}
