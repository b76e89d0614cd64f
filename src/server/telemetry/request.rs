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

/// The id of the request being handled, in its extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only ever built from visible ASCII (see `sane`).
        self.0.to_str().unwrap_or_default()
    }
}

/// Where the auth extractors note who the caller is, for the access log.
#[derive(Clone, Debug, Default)]
pub struct UserSlot(Arc<std::sync::OnceLock<String>>);

impl UserSlot {
    pub fn set(&self, name: &str) {
        let _ = self.0.set(name.to_owned());
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
/// request id and the security headers, records the HTTP histogram and
/// writes the access log line. One hand-written service (rather than
/// several `from_fn` middlewares, which box and clone per request) keeps
/// the hot paths within a few percent of their cost without it.
#[derive(Clone)]
pub struct FrontLayer {
    metrics: Arc<Metrics>,
}

impl FrontLayer {
    pub fn new(metrics: Arc<Metrics>) -> FrontLayer {
        FrontLayer { metrics }
    }
}

impl<S> Layer<S> for FrontLayer {
    type Service = Front<S>;

    fn layer(&self, inner: S) -> Front<S> {
        Front {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service of [`FrontLayer`].
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Front<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let started = Instant::now();
        let id = match request.headers().get(&REQUEST_ID) {
            Some(value) if sane(value) => value.clone(),
            _ => generate(),
        };
        let method = method_label(request.method());
        let logging = tracing::enabled!(tracing::Level::INFO);
        let (span, log) = if logging {
            let user = UserSlot::default();
            request.extensions_mut().insert(user.clone());
            let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
            (span, Some((request.uri().path().to_owned(), user)))
        } else {
            (tracing::Span::none(), None)
        };
        request.extensions_mut().insert(RequestId(id.clone()));
        let metrics = Arc::clone(&self.metrics);

        let refusal = crate::server::security::cross_site_refusal(&request);
        let inner = match refusal {
            None => Some(self.inner.call(request)),
            Some(_) => None,
        };
        Box::pin(async move {
            let mut response = match (inner, refusal) {
                (Some(inner), _) => inner.instrument(span.clone()).await?,
                (None, Some(refusal)) => refusal,
                (None, None) => unreachable!("either the inner call or a refusal"),
            };
            let took = started.elapsed();
            let status = response.status().as_u16();
            let route = response.extensions_mut().remove::<MatchedPath>();
            let route_text = route.as_ref().map_or("unmatched", |m| m.as_str());
            metrics.http_request(method, route_text, status, took);
            let headers = response.headers_mut();
            headers.insert(REQUEST_ID.clone(), id);
            crate::server::security::add_headers(headers);
            if let Some((path, user)) = log {
                let _entered = span.enter();
                tracing::info!(
                    target: "itemserve::http",
                    method,
                    route = route_text,
                    path,
                    status,
                    user = user.0.get().map(String::as_str),
                    latency_ms = took.as_secs_f64() * 1000.0,
                    "request"
                );
            }
            Ok(response)
        })
    }
}

/// On the router (around each route): hands the matched route pattern out
/// to [`Front`], which runs before routing and cannot see it otherwise.
#[derive(Clone, Copy, Default)]
pub struct RouteLabelLayer;

impl<S> Layer<S> for RouteLabelLayer {
    type Service = RouteLabel<S>;

    fn layer(&self, inner: S) -> RouteLabel<S> {
        RouteLabel { inner }
    }
}

/// The service of [`RouteLabelLayer`].
#[derive(Clone)]
pub struct RouteLabel<S> {
    inner: S,
}

impl<S> Service<Request> for RouteLabel<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = WithRoute<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        WithRoute {
            inner: self.inner.call(request),
            route,
        }
    }
}

pin_project_lite::pin_project! {
    /// The inner future, whose response gets the route pattern.
    pub struct WithRoute<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
    }
}

impl<F, E> Future for WithRoute<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(route) = this.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}
