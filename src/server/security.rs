//! Safe defaults for browsers: security headers on every response (and
//! `no-cache` on pages), the
//! Content-Security-Policy (with the page's nonce on server-rendered
//! pages), CORS for configured origins only, and a same-origin check on
//! the UI's server functions.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, ORIGIN, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::server::rest::ApiError;
use crate::server::telemetry::REQUEST_ID;

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

/// The answer to a server function call from another site's page (403),
/// or `None` to let the request through. Browsers name the caller in
/// `Sec-Fetch-Site` and `Origin`; a request with neither is not from a
/// browser page (a script), and the session cookie is SameSite=Strict in
/// any case.
pub fn cross_site_refusal(request: &Request) -> Option<Response> {
    if !request.uri().path().starts_with(SERVER_FN_PREFIX) || is_same_origin(request) {
        return None;
    }
    Some(
        ApiError::Forbidden(
            "Cross-site request refused: the UI's server functions answer this site's own \
             pages only"
                .into(),
        )
        .into_response(),
    )
}

fn is_same_origin(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return false;
        }
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, authority)| authority);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
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
    use super::page_policy;

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
