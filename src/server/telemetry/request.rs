//! Per-request telemetry: a request id on every request, response and log
//! line; one access log line per request; the HTTP latency histogram.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower::{Layer, Service};
use tracing::Instrument;

use super::metrics::{method_label, Metrics};

/// The request id header, read from clients and proxies and always answered.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// Filled while a request is handled, for its access log line (only
/// when that line is written): the route pattern and the user.
#[derive(Clone, Debug, Default)]
pub struct LogSlot(Arc<LogFields>);

#[derive(Debug, Default)]
struct LogFields {
    route: std::sync::OnceLock<String>,
    user: std::sync::OnceLock<String>,
}

impl LogSlot {
    /// Names the logged-in user.
    pub fn set_user(&self, name: &str) {
        let _ = self.0.user.set(name.to_owned());
    }

    fn set_route(&self, route: &str) {
        let _ = self.0.route.set(route.to_owned());
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
    let mut id = [0u8; 32];
    for (i, byte) in id.iter_mut().enumerate() {
        let value = if i < 16 { *PREFIX } else { n };
        let nibble = (value >> ((15 - i % 16) * 4)) & 0xf;
        *byte = b"0123456789abcdef"[nibble as usize];
    }
    HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
}

/// The outermost layer: gives each request its id and a span carrying it,
/// refuses cross-site server function calls, and on the way out adds the
/// request id and the security headers and writes the access log line.
/// Hand-written (rather than `from_fn` middleware, which boxes and clones
/// per request) to keep the hot paths within a few percent of their cost
/// without it; the latency histogram is recorded by [`HttpMetricsLayer`].
#[derive(Clone, Copy, Default)]
pub struct FrontLayer;

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front { inner }
    }
}

/// The service of [`FrontLayer`].
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = FrontFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = match request.headers().get(&REQUEST_ID) {
            Some(value) if sane(value) => value.clone(),
            _ => generate(),
        };
        let log = tracing::enabled!(target: "itemserve::http", tracing::Level::INFO).then(|| {
            let slot = LogSlot::default();
            request.extensions_mut().insert(slot.clone());
            let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
            AccessLog {
                started: Instant::now(),
                method: method_label(request.method()),
                path: request.uri().path().to_owned(),
                slot,
                span,
            }
        });
        let span = log
            .as_ref()
            .map_or_else(tracing::Span::none, |l| l.span.clone());
        let state = match crate::server::security::cross_site_refusal(&request) {
            Some(refusal) => FrontState::Refused {
                response: Some(refusal),
            },
            None => FrontState::Inner {
                future: self.inner.call(request).instrument(span),
            },
        };
        FrontFuture { state, id, log }
    }
}

/// What the access log line needs, kept only when it is written.
struct AccessLog {
    started: Instant,
    method: &'static str,
    path: String,
    slot: LogSlot,
    span: tracing::Span,
}

pin_project_lite::pin_project! {
    #[project = FrontStateProj]
    enum FrontState<F> {
        Inner { #[pin] future: tracing::instrument::Instrumented<F> },
        Refused { response: Option<Response> },
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Front`].
    pub struct FrontFuture<F> {
        #[pin]
        state: FrontState<F>,
        id: HeaderValue,
        log: Option<AccessLog>,
    }
}

impl<F> Future for FrontFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.state.project() {
            FrontStateProj::Inner { future } => std::task::ready!(future.poll(cx))?,
            FrontStateProj::Refused { response } => {
                response.take().expect("a refusal is answered once")
            }
        };
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID.clone(), this.id.clone());
        crate::server::security::add_headers(headers);
        if let Some(log) = this.log.take() {
            let _entered = log.span.enter();
            tracing::info!(
                target: "itemserve::http",
                method = log.method,
                route = log.slot.0.route.get().map_or("unmatched", String::as_str),
                path = log.path,
                status = response.status().as_u16(),
                user = log.slot.0.user.get().map(String::as_str),
                latency_ms = log.started.elapsed().as_secs_f64() * 1000.0,
                "request"
            );
        }
        Poll::Ready(Ok(response))
    }
}

/// On the router, around every route and the fallback: times the request
/// and records it in the HTTP histogram under its route pattern (which is
/// known only after routing), and hands the pattern to the access log.
#[derive(Clone)]
pub struct HttpMetricsLayer {
    metrics: Arc<Metrics>,
}

impl HttpMetricsLayer {
    pub fn new(metrics: Arc<Metrics>) -> HttpMetricsLayer {
        HttpMetricsLayer { metrics }
    }
}

impl<S> Layer<S> for HttpMetricsLayer {
    type Service = HttpMetrics<S>;

    fn layer(&self, inner: S) -> HttpMetrics<S> {
        HttpMetrics {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service of [`HttpMetricsLayer`].
#[derive(Clone)]
pub struct HttpMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for HttpMetrics<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        if let (Some(slot), Some(route)) = (request.extensions().get::<LogSlot>(), &route) {
            slot.set_route(route.as_str());
        }
        Timed {
            started: Instant::now(),
            method: method_label(request.method()),
            route,
            metrics: Arc::clone(&self.metrics),
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`HttpMetrics`].
    pub struct Timed<F> {
        #[pin]
        inner: F,
        started: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
        metrics: Arc<Metrics>,
    }
}

impl<F, E> Future for Timed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let route = this.route.as_ref().map_or("unmatched", |m| m.as_str());
        this.metrics.http_request(
            this.method,
            route,
            response.status().as_u16(),
            this.started.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}
