//! Safe defaults for browsers: security headers on every response (and
//! `no-cache` on pages), the
//! Content-Security-Policy (with the page's nonce on server-rendered
//! pages), CORS for configured origins only, and a same-origin check on
//! the UI's server functions and on every write a session cookie
//! authenticates.

use axum::extract::Request;
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST,
    ORIGIN, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::front::REQUEST_ID;
use super::limits::MAX_BODY_BYTES;
use super::media_type::MediaType;
use super::refusal::Refusal;

/// Everything but the script sources: only this server's own resources;
/// styles may be inline (ReDoc and Swagger UI set them; scripts are what
/// matters); no frames, plugins or foreign form targets. In two parts around
/// the end of `connect-src`, which a page under `cargo leptos watch` extends.
const POLICY_REST_HEAD: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'";
const POLICY_REST_TAIL: &str = "; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; \
    form-action 'self'; frame-ancestors 'none'";

/// The policy of a server-rendered page: its inline hydration script runs
/// by its nonce, the WASM bundle by `'wasm-unsafe-eval'`. With
/// `live_reload`, the port of cargo-leptos's live-reload websocket, the page
/// may also connect there (same host as the page, another port: another
/// origin to the browser).
pub fn page_policy(nonce: &str, live_reload: Option<u32>) -> String {
    let reload = match live_reload {
        Some(port) => format!(" ws://*:{port} wss://*:{port}"),
        None => String::new(),
    };
    format!(
        "script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
        {POLICY_REST_HEAD}{reload}{POLICY_REST_TAIL}"
    )
}

/// Sets the page policy, with the nonce Leptos gave this render's inline
/// scripts, on the response being rendered (called by the page shell).
/// `live_reload` is cargo-leptos's reload port under `cargo leptos watch`
/// (where Leptos adds its live-reload script), which the page may reach.
pub fn set_page_policy(live_reload: Option<u32>) {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce.to_string(), live_reload)) {
        response.insert_header(CONTENT_SECURITY_POLICY, value);
    }
}

/// Where the UI's server functions live.
const SERVER_FN_PREFIX: &str = "/rpc/";

static PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// The policy of everything that is not a document or a script (JSON,
/// WASM, CSS, images, metrics): it may load nothing and be framed nowhere.
/// Short on purpose: it goes out with every API response.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// Adds the security headers to a response. Documents (HTML and scripts)
/// get the full set and the default policy unless they set their own
/// (server-rendered pages, HTML, set theirs with their nonce); everything else
/// gets the short data policy, `nosniff` and `no-referrer`, which is all a
/// browser applies to such a response.
pub fn add_headers(headers: &mut HeaderMap) {
    if !is_document(headers) {
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DATA_POLICY),
        );
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        return;
    }
    static DOCUMENT_POLICY: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
        HeaderValue::from_str(&format!(
            "script-src 'self'; {POLICY_REST_HEAD}{POLICY_REST_TAIL}"
        ))
        .expect("a valid header value")
    });
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(CONTENT_SECURITY_POLICY, DOCUMENT_POLICY.clone());
    }
    // Pages are rendered per user and name the current build's bundle:
    // never reuse one without asking. (The bundle's versioned files set
    // their own, year-long, caching.)
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        PERMISSIONS_POLICY.clone(),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
}

/// HTML, or a script (a script run as a worker is governed by its own
/// response's policy).
fn is_document(headers: &HeaderMap) -> bool {
    let Some(kind) = headers.get(CONTENT_TYPE) else {
        return false;
    };
    let kind = kind.as_bytes();
    let essence = kind
        .iter()
        .position(|&b| b == b';')
        .map_or(kind, |end| &kind[..end]);
    essence.eq_ignore_ascii_case(b"text/html")
        || essence
            .windows(b"javascript".len())
            .any(|w| w.eq_ignore_ascii_case(b"javascript"))
}

/// Which requests must come from this site's own pages, and how that is
/// told. Applies to the UI's server functions (always) and to every other
/// request that a browser session cookie authenticates and that may change
/// something (any method but GET, HEAD and OPTIONS): the cookie is sent by
/// the browser whoever's page made the request, and `SameSite=Strict` does
/// not cover sibling subdomains, so without this a page on another site
/// could act as the logged-in user. Requests authenticated by a bearer
/// token, or by nothing, carry no ambient authority and pass.
pub struct SiteGuard {
    /// The origins this site is served under (`--public-origins`); empty:
    /// the request's own `Host` with the scheme it arrived by.
    public: Vec<HeaderValue>,
}

/// The most a request's head (request line and headers) may hold. hyper's
/// read buffer enforces about this much, but a head that arrives in one
/// read can fill more of the buffer than its limit: checked here again.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

impl SiteGuard {
    /// A guard for `public` origins (validated by the configuration).
    pub fn new(public: Vec<HeaderValue>) -> SiteGuard {
        SiteGuard { public }
    }

    /// `Err` with the reason when `request` must not reach the router:
    /// a missing or repeated `Host` (RFC 9112 §3.2: 400), a cross-site
    /// server function call or cookie-authenticated write (403), or a
    /// server function call whose body is not JSON (415: browsers send the
    /// form and `text/plain` types from any site without asking first).
    pub fn check(&self, request: &Request) -> Result<(), Refusal> {
        let headers = request.headers();
        let mut hosts = headers.get_all(HOST).iter();
        let host = hosts.next();
        if hosts.next().is_some() {
            return Err(Refusal::BadRequest(
                "The request has more than one Host header".into(),
            ));
        }
        // HTTP/2 and later name the host in the request line instead.
        if host.is_none() && request.version() == axum::http::Version::HTTP_11 {
            return Err(Refusal::BadRequest(
                "The request has no Host header (HTTP/1.1 requires one)".into(),
            ));
        }
        // What hyper counts: each line with its separator and line end.
        let head = request
            .uri()
            .path_and_query()
            .map_or(0, |pq| pq.as_str().len())
            + headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 4)
                .sum::<usize>();
        if head > MAX_HEAD_BYTES {
            return Err(Refusal::HeadTooLarge(format!(
                "The request's headers hold {head} bytes; at most {MAX_HEAD_BYTES} are accepted"
            )));
        }
        let server_function = request.uri().path().starts_with(SERVER_FN_PREFIX);
        if server_function {
            if request.method() == Method::POST && !MediaType::of(headers).is("application/json") {
                return Err(Refusal::UnsupportedMediaType(
                    "Server functions take JSON: send the arguments with \
                     'Content-Type: application/json'"
                        .into(),
                ));
            }
            let declared = headers
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|bytes| bytes > MAX_BODY_BYTES as u64) {
                return Err(Refusal::PayloadTooLarge(format!(
                    "Request body too large: the limit is {MAX_BODY_BYTES} bytes"
                )));
            }
        } else if !(unsafe_method(request.method()) && uses_session_cookie(headers)) {
            return Ok(());
        }
        if self.is_same_origin(headers) {
            return Ok(());
        }
        Err(Refusal::Forbidden(if server_function {
            "Cross-site request refused: the UI's server functions answer this site's own \
             pages only"
                .into()
        } else {
            "Cross-site request refused: a request authenticated by the session cookie must \
             come from this site's own pages (scripts send 'Authorization: Bearer <token>')"
                .into()
        }))
    }

    /// Whether the browser says the request comes from this site's own
    /// page. `Sec-Fetch-Site` and `Origin` name the caller; a request with
    /// neither is not from a browser page (a script). Scheme, host and port
    /// must all match: `https://` is another origin than `http://`.
    fn is_same_origin(&self, headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site") {
            if !matches!(site.as_bytes(), b"same-origin" | b"none") {
                return false;
            }
        }
        let Some(host) = headers.get(HOST).map(HeaderValue::as_bytes) else {
            // HTTP/2 without a Host header: only the configured origins can
            // be checked, against `Origin` alone.
            return headers
                .get(ORIGIN)
                .is_none_or(|origin| self.public.iter().any(|p| same_origin(p, origin)));
        };
        if !self.public.is_empty() {
            // The Host must be one this site is served under, whatever the
            // page claims (a rebound DNS name names itself in both).
            let served = self
                .public
                .iter()
                .any(|p| authority(p.as_bytes()).eq_ignore_ascii_case(host));
            return served
                && headers
                    .get(ORIGIN)
                    .is_none_or(|origin| self.public.iter().any(|p| same_origin(p, origin)));
        }
        let Some(origin) = headers.get(ORIGIN) else {
            return true;
        };
        let scheme: &[u8] = if crate::server::auth::is_https(headers) {
            b"https://"
        } else {
            b"http://"
        };
        let origin = origin.as_bytes();
        origin.len() == scheme.len() + host.len()
            && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
            && origin[scheme.len()..].eq_ignore_ascii_case(host)
    }
}

/// The `host[:port]` of an origin.
fn authority(origin: &[u8]) -> &[u8] {
    origin
        .windows(3)
        .position(|w| w == b"://")
        .map_or(origin, |at| &origin[at + 3..])
}

/// Origins compare without regard to case (scheme and host are
/// case-insensitive).
fn same_origin(a: &HeaderValue, b: &HeaderValue) -> bool {
    a.as_bytes().eq_ignore_ascii_case(b.as_bytes())
}

fn unsafe_method(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A session cookie without a bearer token (which takes precedence, see
/// [`crate::server::auth::Auth::authenticate`]).
fn uses_session_cookie(headers: &HeaderMap) -> bool {
    !headers.contains_key(AUTHORIZATION)
        && crate::server::auth::cookie(headers, crate::server::auth::SESSION_COOKIE).is_some()
}

/// CORS for the configured origins; `None` (no CORS headers at all, so
/// browsers keep other sites' pages out) when there are none.
pub fn cors(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::IF_MATCH,
                axum::http::header::AUTHORIZATION,
                REQUEST_ID.clone(),
                HeaderName::from_static("inference-header-content-length"),
            ])
            .expose_headers([
                axum::http::header::ETAG,
                axum::http::header::LOCATION,
                axum::http::header::RETRY_AFTER,
                REQUEST_ID.clone(),
                HeaderName::from_static("server-timing"),
                HeaderName::from_static("inference-header-content-length"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    fn verdict(guard: &SiteGuard, request: &Request) -> &'static str {
        match guard.check(request) {
            Ok(()) => "pass",
            Err(Refusal::BadRequest(_)) => "400",
            Err(Refusal::Forbidden(_)) => "403",
            Err(Refusal::PayloadTooLarge(_)) => "413",
            Err(Refusal::UnsupportedMediaType(_)) => "415",
            Err(Refusal::HeadTooLarge(_)) => "431",
            Err(other) => panic!("the guard does not refuse with {other:?}"),
        }
    }

    #[test]
    fn a_head_over_64_kib_is_refused_whatever_the_read_buffer_let_through() {
        let guard = SiteGuard::new(Vec::new());
        let big = "x".repeat(MAX_HEAD_BYTES);
        let over = request(Method::GET, "/items/1", &[("host", "a"), ("x-big", &big)]);
        assert_eq!(verdict(&guard, &over), "431");
        let fine = "x".repeat(MAX_HEAD_BYTES - 100);
        let under = request(Method::GET, "/items/1", &[("host", "a"), ("x-big", &fine)]);
        assert_eq!(verdict(&guard, &under), "pass");
    }

    #[test]
    fn cookie_writes_and_server_functions_must_come_from_the_same_origin() {
        let guard = SiteGuard::new(Vec::new());
        let cookie = ("cookie", "itemserve_session=iss_x");
        let json = ("content-type", "application/json");
        let host = ("host", "items.test:3000");
        let cases: &[(Method, &str, Vec<(&str, &str)>, &str)] = &[
            (
                Method::POST,
                "/users",
                vec![host, cookie, ("origin", "http://items.test:3000")],
                "pass",
            ),
            (
                Method::POST,
                "/users",
                vec![host, cookie, ("origin", "http://evil.test")],
                "403",
            ),
            (
                Method::POST,
                "/users",
                vec![host, cookie, ("origin", "https://items.test:3000")],
                "403",
            ),
            (
                Method::POST,
                "/users",
                vec![host, cookie, ("sec-fetch-site", "same-site")],
                "403",
            ),
            (
                Method::DELETE,
                "/items/1",
                vec![host, cookie, ("sec-fetch-site", "cross-site")],
                "403",
            ),
            // Reads, bearer tokens and anonymous requests carry no cookie authority.
            (
                Method::GET,
                "/users",
                vec![host, cookie, ("origin", "http://evil.test")],
                "pass",
            ),
            (
                Method::POST,
                "/users",
                vec![
                    host,
                    cookie,
                    ("authorization", "Bearer x"),
                    ("origin", "http://evil.test"),
                ],
                "pass",
            ),
            (
                Method::POST,
                "/items/",
                vec![host, ("origin", "http://evil.test")],
                "pass",
            ),
            // Server functions: always checked, JSON only.
            (
                Method::POST,
                "/rpc/items/list",
                vec![host, json, ("origin", "http://evil.test")],
                "403",
            ),
            (
                Method::POST,
                "/rpc/items/list",
                vec![host, json, ("origin", "http://items.test:3000")],
                "pass",
            ),
            (
                Method::POST,
                "/rpc/items/list",
                vec![host, ("content-type", "text/plain")],
                "415",
            ),
            (
                Method::POST,
                "/rpc/items/list",
                vec![host, json, ("content-length", "2000000")],
                "413",
            ),
            // Behind a proxy that says the site is served over HTTPS.
            (
                Method::POST,
                "/rpc/items/list",
                vec![
                    host,
                    json,
                    ("x-forwarded-proto", "https"),
                    ("origin", "https://items.test:3000"),
                ],
                "pass",
            ),
            (
                Method::POST,
                "/rpc/items/list",
                vec![
                    host,
                    json,
                    ("x-forwarded-proto", "https"),
                    ("origin", "http://items.test:3000"),
                ],
                "403",
            ),
        ];
        for (method, path, headers, expected) in cases {
            let r = request(method.clone(), path, headers);
            assert_eq!(
                verdict(&guard, &r),
                *expected,
                "{method} {path} {headers:?}"
            );
        }
    }

    #[test]
    fn with_public_origins_the_host_must_be_one_of_them() {
        let guard = SiteGuard::new(vec![HeaderValue::from_static("https://items.example")]);
        let json = ("content-type", "application/json");
        for (host, origin, expected) in [
            ("items.example", Some("https://items.example"), "pass"),
            ("ITEMS.example", Some("https://Items.Example"), "pass"),
            ("items.example", None, "pass"),
            ("items.example", Some("http://items.example"), "403"),
            ("evil.example:3000", Some("http://evil.example:3000"), "403"),
            ("evil.example", None, "403"),
        ] {
            let mut headers = vec![("host", host), json];
            if let Some(origin) = origin {
                headers.push(("origin", origin));
            }
            let r = request(Method::POST, "/rpc/items/list", &headers);
            assert_eq!(verdict(&guard, &r), expected, "{host} {origin:?}");
        }
    }

    #[test]
    fn a_request_names_exactly_one_host() {
        let guard = SiteGuard::new(Vec::new());
        let two = request(Method::GET, "/", &[("host", "a"), ("host", "b")]);
        assert_eq!(verdict(&guard, &two), "400");
        let none = request(Method::GET, "/", &[]);
        assert_eq!(verdict(&guard, &none), "400");
        let mut http2 = request(Method::GET, "/", &[]);
        *http2.version_mut() = axum::http::Version::HTTP_2;
        assert_eq!(
            verdict(&guard, &http2),
            "pass",
            "HTTP/2 names it in the request line"
        );
    }

    #[test]
    fn a_page_may_reach_the_live_reload_socket_only_under_watch() {
        let plain = page_policy("abc", None);
        assert!(plain.starts_with("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval'; "));
        assert!(
            plain.contains("; connect-src 'self'; worker-src"),
            "{plain}"
        );
        assert!(!plain.contains("ws:"), "{plain}");
        let watched = page_policy("abc", Some(3001));
        assert!(
            watched.contains("; connect-src 'self' ws://*:3001 wss://*:3001; worker-src"),
            "{watched}"
        );
        // Everything else is the same policy.
        assert_eq!(
            watched.replace(" ws://*:3001 wss://*:3001", ""),
            plain,
            "{watched}"
        );
    }
}
