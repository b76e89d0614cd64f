//! The front layer every request passes first: its id (on the request,
//! the response and every log line), the request limits and the site
//! guard, panics caught, security headers, compression, the HTTP latency
//! histogram and the access log line.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::any::Any;
use std::panic::AssertUnwindSafe;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::future::CatchUnwind;
use futures_util::FutureExt;
use tower::{Layer, Service};
use tracing::Instrument;

use super::compression::Negotiated;
use super::limits::{BodyDeadline, RequestLimits};
use super::refusal::{Door, Doors, Refusal};
use super::security::SiteGuard;
use crate::server::telemetry::{intern_route, method_label, Metrics};

/// The request id header, read from clients and proxies and always answered.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the front layer gives every request one.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let id = headers.get(&REQUEST_ID)?;
    id.to_str().ok().map(str::to_owned)
}

/// Longest request id taken from a client; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// Filled while a request is handled, for its access log line (only
/// when that line is written): the user, once a handler knows them.
#[derive(Clone, Debug, Default)]
pub struct LogSlot(Arc<std::sync::OnceLock<String>>);

impl LogSlot {
    /// Names the logged-in user.
    pub fn set_user(&self, name: &str) {
        let _ = self.0.set(name.to_owned());
    }
}

/// The label of requests no route matches (static files, 404s).
const UNMATCHED: &str = "unmatched";

/// The router's route patterns (`/items/{id}`), to label each request with
/// the one its path matches, as axum's `MatchedPath` would, but found in
/// front of the router by one lookup (a layer on every route instead costs
/// a boxed service and a future per request).
pub struct RoutePatterns(matchit::Router<&'static str>);

impl RoutePatterns {
    /// Patterns in axum's syntax; one registered for several methods may
    /// come more than once.
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> RoutePatterns {
        let mut router = matchit::Router::new();
        for pattern in patterns {
            // A repeat is refused as a conflict: the first one stands.
            let _ = router.insert(pattern, intern_route(pattern));
        }
        RoutePatterns(router)
    }

    /// The pattern `path` matches, or `unmatched`.
    pub fn find(&self, path: &str) -> &'static str {
        self.0.at(path).map_or(UNMATCHED, |found| *found.value)
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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let value = (u128::from(*PREFIX) << 64) | u128::from(NEXT.fetch_add(1, Ordering::Relaxed));
    let mut id = [0u8; 32];
    for (i, pair) in value.to_be_bytes().iter().enumerate() {
        id[2 * i] = HEX[usize::from(pair >> 4)];
        id[2 * i + 1] = HEX[usize::from(pair & 0xf)];
    }
    HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
}

/// The outermost layer: gives each request its id and a span carrying it,
/// applies the request limits (URI length, rate, body deadline) and
/// refuses cross-site server function calls; on the way out it adds the
/// request id and the security headers, records the request in the HTTP
/// histogram under its route pattern and writes the access log line. It
/// also compresses answers for clients that accept it.
/// Hand-written, as one layer (rather than `from_fn` middlewares, which
/// box and clone per request), to keep the hot paths within a few percent
/// of their cost without it.
#[derive(Clone)]
pub struct FrontLayer {
    routes: Arc<RoutePatterns>,
    metrics: Arc<Metrics>,
    limits: Arc<RequestLimits>,
    guard: Arc<SiteGuard>,
    doors: Doors,
}

impl FrontLayer {
    pub fn new(
        routes: RoutePatterns,
        metrics: Arc<Metrics>,
        limits: RequestLimits,
        guard: SiteGuard,
        doors: Doors,
    ) -> FrontLayer {
        FrontLayer {
            routes: Arc::new(routes),
            metrics,
            limits: Arc::new(limits),
            guard: Arc::new(guard),
            doors,
        }
    }
}

impl<S: Clone> Layer<S> for FrontLayer {
    type Service = Front<Negotiated<S>>;

    /// Compression sits inside, for requests that accept it only (see
    /// [`Negotiated`]): as a layer of its own on the router it would wrap,
    /// box and clone every route per request.
    fn layer(&self, inner: S) -> Front<Negotiated<S>> {
        Front {
            inner: Negotiated::new(inner),
            layer: self.clone(),
        }
    }
}

/// The app's router inside its front layer: what the server serves.
pub type FrontService = Front<Negotiated<axum::Router>>;

/// The service of [`FrontLayer`].
#[derive(Clone)]
pub struct Front<S> {
    inner: S,
    layer: FrontLayer,
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
        let started = Instant::now();
        let id = match request.headers().get(&REQUEST_ID) {
            Some(value) if sane(value) => value.clone(),
            _ => {
                // Handlers read the id from the request (a change records
                // it), so the one answered replaces what the client sent.
                let id = generate();
                request.headers_mut().insert(REQUEST_ID.clone(), id.clone());
                id
            }
        };
        let method = method_label(request.method());
        let route = self.layer.routes.find(request.uri().path());
        let log = tracing::enabled!(target: "itemserve::http", tracing::Level::INFO).then(|| {
            let slot = LogSlot::default();
            request.extensions_mut().insert(slot.clone());
            let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
            AccessLog {
                path: request.uri().path().to_owned(),
                slot,
                span,
            }
        });
        let door = Door::of(request.uri().path());
        // Kept (a reference count) to answer a panic in the shape asked
        // for; read only then.
        let accept = match door {
            Door::Rest => request.headers().get(axum::http::header::ACCEPT).cloned(),
            _ => None,
        };
        let doors = self.layer.doors;
        let admitted = self
            .layer
            .limits
            .admit(&request, doors)
            .and_then(|deadline| self.layer.guard.check(&request).map(|()| deadline));
        let state = match admitted {
            Err(refusal) => FrontState::Refused {
                response: Some(doors.refuse(door, refusal)),
            },
            Ok(deadline) => {
                let answer = AssertUnwindSafe(self.inner.call(request)).catch_unwind();
                let future = match deadline {
                    None => Limited::Plain { future: answer },
                    Some(deadline) => Limited::Deadline {
                        future: tokio::time::timeout(deadline.timeout, answer),
                        deadline,
                    },
                };
                match &log {
                    Some(log) => FrontState::Logged {
                        future: future.instrument(log.span.clone()),
                    },
                    // Without a span to enter at every poll.
                    None => FrontState::Inner { future },
                }
            }
        };
        FrontFuture {
            state,
            id,
            started,
            method,
            route,
            door,
            doors,
            accept,
            metrics: Arc::clone(&self.layer.metrics),
            log,
        }
    }
}

/// The answer to a request whose handler or page render panicked: logged
/// with the request id and counted, then a 500 in the door's shape (a page
/// request gets a short HTML page).
fn panicked(
    panic: &(dyn Any + Send),
    id: &HeaderValue,
    route: &str,
    (door, doors, accept): (Door, Doors, Option<&HeaderValue>),
    metrics: &Metrics,
) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    let id = id.to_str().unwrap_or_default();
    tracing::error!(
        request_id = id,
        route,
        panic = message,
        "a request panicked; answered 500"
    );
    metrics.request_panicked();
    // A browser asking for a page is answered a page even on failure.
    let wants_page = accept.is_some_and(|accept| {
        accept
            .as_bytes()
            .windows(b"text/html".len())
            .any(|w| w == b"text/html")
    });
    if wants_page {
        let page = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Something went wrong</title></head><body><h1>Something went wrong</h1>\
             <p>The server could not show this page. Reload to try again; if it keeps \
             happening, give the administrator this request id: <code>{id}</code>.</p>\
             </body></html>"
        );
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page,
        )
            .into_response();
    }
    doors.refuse(door, Refusal::Internal(format!("panic: {message}")))
}

/// What the access log line needs beyond the metrics' labels, kept only
/// when the line is written.
struct AccessLog {
    path: String,
    slot: LogSlot,
    span: tracing::Span,
}

/// The inner service's answer, with a panic caught (see [`Limited`]).
type Guarded<F> = CatchUnwind<AssertUnwindSafe<F>>;

pin_project_lite::pin_project! {
    #[project = FrontStateProj]
    enum FrontState<F> {
        Inner { #[pin] future: Limited<Guarded<F>> },
        Logged { #[pin] future: tracing::instrument::Instrumented<Limited<Guarded<F>>> },
        Refused { response: Option<Response> },
    }
}

pin_project_lite::pin_project! {
    /// The inner service's answer, within the body deadline if it has one.
    /// A handler or page render that panicked is answered 500 here: the
    /// connection and the other requests on it carry on.
    #[project = LimitedProj]
    enum Limited<F> {
        Plain { #[pin] future: F },
        Deadline { #[pin] future: tokio::time::Timeout<F>, deadline: BodyDeadline },
    }
}

impl<F> Future for Limited<F>
where
    F: Future<Output = Result<Result<Response, Infallible>, Box<dyn Any + Send>>>,
{
    type Output = Result<Response, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = match self.project() {
            LimitedProj::Plain { future } => std::task::ready!(future.poll(cx)),
            LimitedProj::Deadline { future, deadline } => {
                match std::task::ready!(future.poll(cx)) {
                    Ok(answer) => answer,
                    Err(_elapsed) => return Poll::Ready(Ok(deadline.expired())),
                }
            }
        };
        Poll::Ready(answer.map(|Ok(response)| response))
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Front`].
    pub struct FrontFuture<F> {
        #[pin]
        state: FrontState<F>,
        id: HeaderValue,
        started: Instant,
        method: &'static str,
        route: &'static str,
        door: Door,
        doors: Doors,
        // A REST request's `Accept`, for `panicked`.
        accept: Option<HeaderValue>,
        metrics: Arc<Metrics>,
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
        let answer = match this.state.project() {
            FrontStateProj::Inner { future } => std::task::ready!(future.poll(cx)),
            FrontStateProj::Logged { future } => std::task::ready!(future.poll(cx)),
            FrontStateProj::Refused { response } => {
                Ok(response.take().expect("a refusal is answered once"))
            }
        };
        let mut response = answer.unwrap_or_else(|panic| {
            let _entered = this.log.as_ref().map(|log| log.span.enter());
            let shape = (*this.door, *this.doors, this.accept.as_ref());
            panicked(&*panic, this.id, *this.route, shape, this.metrics)
        });
        let status = response.status().as_u16();
        let took = this.started.elapsed();
        this.metrics
            .http_request(this.method, this.route, status, took);
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID.clone(), this.id.clone());
        super::security::add_headers(headers);
        if let Some(log) = this.log.take() {
            let _entered = log.span.enter();
            tracing::info!(
                target: "itemserve::http",
                method = *this.method,
                route = *this.route,
                path = log.path,
                status,
                user = log.slot.0.get().map(String::as_str),
                latency_ms = took.as_secs_f64() * 1000.0,
                "request"
            );
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_labelled_with_the_pattern_their_path_matches() {
        let patterns = RoutePatterns::new([
            "/items/",
            "/items",
            "/items/{id}",
            // Registered again for another method: the first one stands.
            "/items/{id}",
            "/docs/",
            "/docs/{*rest}",
        ]);
        assert_eq!(patterns.find("/items/"), "/items/");
        assert_eq!(patterns.find("/items"), "/items");
        assert_eq!(patterns.find("/items/42"), "/items/{id}");
        assert_eq!(patterns.find("/docs/"), "/docs/");
        assert_eq!(patterns.find("/docs/swagger-ui.css"), "/docs/{*rest}");
        assert_eq!(patterns.find("/items/42/extra"), UNMATCHED);
        assert_eq!(patterns.find("/pkg/itemserve.js"), UNMATCHED);
    }

    /// The front layer around a router whose every route panics.
    fn panicking_front(metrics: &Arc<Metrics>) -> FrontService {
        use axum::routing::{get, post};
        async fn boom() -> &'static str {
            panic!("a render read a disposed signal")
        }
        let router = axum::Router::new()
            .route("/", get(boom))
            .route("/items/", get(boom))
            .route("/rpc/items/list", post(boom));
        let limits = RequestLimits {
            rate: None,
            body_timeout: std::time::Duration::from_secs(5),
            max_uri_bytes: 8192,
            refused: Default::default(),
            auth: None,
        };
        FrontLayer::new(
            RoutePatterns::new(["/", "/items/", "/rpc/items/list"]),
            Arc::clone(metrics),
            limits,
            SiteGuard::new(Vec::new()),
            crate::server::startup::DOORS,
        )
        .layer(router)
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_with_its_request_id_and_counted() {
        use tower::ServiceExt;
        let metrics = Metrics::new();
        let front = panicking_front(&metrics);
        let cases = [
            ("GET", "/", Some("text/html"), "text/html"),
            ("GET", "/items/", None, "application/json"),
            ("POST", "/rpc/items/list", None, "application/json"),
        ];
        for (method, path, accept, kind) in cases {
            let mut request = Request::builder()
                .method(method)
                .uri(path)
                .header("host", "a")
                .header(&REQUEST_ID, format!("panic-{}", path.len()));
            if method == "POST" {
                request = request.header("content-type", "application/json");
            }
            if let Some(accept) = accept {
                request = request.header("accept", accept);
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            let response = front.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 500, "{path}");
            assert_eq!(
                response.headers()[&REQUEST_ID],
                format!("panic-{}", path.len()).as_str()
            );
            let content_type = response.headers()["content-type"].to_str().unwrap();
            assert!(content_type.starts_with(kind), "{path}: {content_type}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let body = String::from_utf8_lossy(&body);
            assert!(!body.contains("disposed"), "no internals: {body}");
            match path {
                "/" => assert!(body.contains(&format!("panic-{}", path.len())), "{body}"),
                "/items/" => assert_eq!(body, r#"{"detail":"Internal server error"}"#),
                _ => assert!(body.contains("Internal"), "{body}"),
            }
        }
        let exported = metrics.render();
        assert!(
            exported.contains("itemserve_request_panics_total 3"),
            "{exported}"
        );
    }

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 32);
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
        // One process, one prefix: ids sort by arrival within it.
        assert_eq!(a.as_bytes()[..16], b.as_bytes()[..16]);
    }
}
