//! The item page as anonymous visitors see it, rendered once per store
//! revision.
//!
//! Rendering `/` runs the whole Leptos view tree (router, resources, one
//! component per row) and costs far more than sending the result. What an
//! anonymous visitor sees depends only on the address and the data, so the
//! rendered HTML is kept with the same revision rule as the REST listings
//! ([`PageCache`](crate::server::cache::PageCache)): a page read before a
//! write is never served after it.
//! Each answer still gets its own CSP nonce: the cached HTML is kept split
//! at the nonce of the render that produced it, and joined again around a
//! fresh one.
//!
//! Requests with a session cookie or an `Authorization` header are always
//! rendered (the header, the rows' actions and the embedded session differ
//! per user), and so is every other page.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::auth::{random_text, SESSION_COOKIE};
use crate::server::cache::{CachedPage, Weigh};
use crate::server::http::security::page_policy;
use crate::server::state::AppState;

/// Rendered pages larger than this are not kept (a page of 100 rows is
/// about 60 KB).
const MAX_PAGE_BYTES: usize = 512 * 1024;

/// The bytes of the nonce Leptos puts in a page (16 random bytes, base64).
const NONCE_BYTES: usize = 16;

impl CachedPage {
    /// `html` split at every occurrence of `nonce`.
    fn split(html: &Bytes, nonce: &str) -> CachedPage {
        let mut parts = Vec::new();
        let mut rest = html.clone();
        while let Some(at) = find(&rest, nonce.as_bytes()) {
            parts.push(rest.slice(..at));
            rest = rest.slice(at + nonce.len()..);
        }
        parts.push(rest);
        CachedPage {
            parts: parts.into(),
        }
    }

    /// The page with `nonce` where the original one was.
    fn join(&self, nonce: &str) -> Vec<u8> {
        let mut html = Vec::with_capacity(self.bytes() + self.parts.len() * nonce.len());
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                html.extend_from_slice(nonce.as_bytes());
            }
            html.extend_from_slice(part);
        }
        html
    }

    /// A `200` HTML answer with a fresh nonce in page and policy.
    fn respond(&self) -> Response {
        let nonce = random_text(NONCE_BYTES);
        let mut response = Body::from(self.join(&nonce)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        // Pages are not kept under `cargo leptos watch`: no live reload here.
        if let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce, None)) {
            headers.insert(CONTENT_SECURITY_POLICY, policy);
        }
        response
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Whether the answer to `request` is the same for every anonymous visitor
/// and may be kept.
fn cacheable(request: &Request) -> bool {
    let headers = request.headers();
    request.method() == Method::GET
        && request.uri().path() == "/"
        && !headers.contains_key(AUTHORIZATION)
        && !headers
            .get_all(COOKIE)
            .iter()
            .any(|c| c.to_str().map_or(true, |c| c.contains(SESSION_COOKIE)))
}

/// The nonce a page's policy names (`'nonce-…'`).
fn policy_nonce(response: &Response) -> Option<String> {
    let policy = response
        .headers()
        .get(CONTENT_SECURITY_POLICY)?
        .to_str()
        .ok()?;
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let end = start + policy[start..].find('\'')?;
    (end > start).then(|| policy[start..end].to_owned())
}

/// Middleware around the UI's routes: serves `/` from the cache when it
/// can, and keeps what it renders.
pub async fn from_cache(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Under `cargo leptos watch` the stylesheet changes without a write.
    // Read before rendering: a write during the render moves the revision
    // on, and the page is then stored under the old one and never served.
    // No revision: the store cannot know of every write (PostgreSQL).
    let revision = state.store.revision();
    let Some(revision) = revision.filter(|_| cacheable(&request) && !state.assets.is_watched())
    else {
        return next.run(request).await;
    };
    let key = request
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    if let Some(page) = state.html.get(revision, &key) {
        return page.respond();
    }
    let response = next.run(request).await;
    if response.status() != StatusCode::OK || response.headers().contains_key(SET_COOKIE) {
        return response;
    }
    let Some(nonce) = policy_nonce(&response) else {
        return response;
    };
    let (parts, body) = response.into_parts();
    // The page is rendered whole before it is sent (`SsrMode::Async`), so
    // collecting it holds nothing back.
    let html = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The page could not be rendered.",
            )
                .into_response();
        }
    };
    if html.len() <= MAX_PAGE_BYTES {
        state
            .html
            .put(revision, key, CachedPage::split(&html, &nonce));
    }
    Response::from_parts(parts, Body::from(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_served_with_a_new_nonce_everywhere_the_old_one_was() {
        let html =
            Bytes::from_static(b"<script nonce=\"abc\">1</script><script nonce=\"abc\">2</script>");
        let page = CachedPage::split(&html, "abc");
        assert_eq!(
            page.join("XYZW"),
            b"<script nonce=\"XYZW\">1</script><script nonce=\"XYZW\">2</script>"
        );
        assert_eq!(page.bytes(), html.len() - 6);
    }

    #[test]
    fn the_nonce_is_read_from_the_policy() {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&page_policy("n0nce_-x", None)).unwrap(),
        );
        assert_eq!(policy_nonce(&response).as_deref(), Some("n0nce_-x"));
    }
}
