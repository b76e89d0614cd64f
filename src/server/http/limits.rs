//! Per-request limits: URI length, a rate limit per client (user or
//! address) and a deadline for request bodies. Checked by the front layer
//! ([`super::FrontLayer`]) before anything else runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::HeaderValue;
use axum::response::Response;

use super::refusal::{Door, Doors, Refusal};
use crate::server::rate::{ClientKey, RateLimiter};

/// The largest request body any route reads (REST, server functions).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Paths never limited: orchestrators' probes must not be throttled into
/// restarting a healthy server.
const UNLIMITED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/v2/health/live",
    "/v2/health/ready",
    "/metrics",
];

/// Routes whose body is a file read as it arrives, for as long as it
/// takes: no deadline for the whole request (the route waits a bounded
/// time for each part instead).
const STREAMED_UPLOADS: &[&str] = &["/items/import"];

/// What one request may cost the server, enforced by [`RequestLimits::admit`].
pub struct RequestLimits {
    /// Requests per client address; `None` for no limit.
    pub rate: Option<RateLimiter>,
    /// Time a request with a body may take, upload included.
    pub body_timeout: Duration,
    /// Longest accepted path plus query string, in bytes.
    pub max_uri_bytes: usize,
    /// Counts the requests the rate limit refuses.
    pub refused: prometheus_client::metrics::counter::Counter,
    /// Tells whose access token a request carries, to count it against
    /// the user rather than the address.
    pub auth: Option<Arc<crate::server::auth::Auth>>,
}

/// A request's body must arrive (and its answer be ready) within this
/// time, or it is answered 408 by [`BodyDeadline::expired`].
#[derive(Clone, Copy)]
pub struct BodyDeadline {
    pub timeout: Duration,
    /// Whose shape the answer takes.
    door: Door,
    doors: Doors,
}

impl RequestLimits {
    /// Refuses over-long URIs (414) and a client's requests beyond its
    /// rate (429 with `Retry-After`); a request with a body gets a
    /// deadline, so a client trickling a body cannot hold a connection and
    /// a task indefinitely. A deadline that passes is answered in the
    /// shape `doors` gives the request's door.
    pub fn admit(&self, request: &Request, doors: Doors) -> Result<Option<BodyDeadline>, Refusal> {
        let uri = request.uri();
        let path = uri.path();
        let uri_bytes = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_bytes > self.max_uri_bytes {
            let message = format!(
                "The URL is {uri_bytes} bytes long; at most {} are accepted. \
                 Send long search terms or inputs in a request body.",
                self.max_uri_bytes
            );
            return Err(Refusal::UriTooLong(message));
        }
        if let Some(limiter) = &self.rate {
            // A valid access token counts against its user (wherever they
            // call from); anything else against the address. Only tokens
            // checked by their signature alone qualify, so made-up tokens
            // cannot buy fresh budgets or cost a database lookup here.
            let user = self
                .auth
                .as_ref()
                .and_then(|auth| auth.access_token_user(request.headers()));
            let client = user.map(ClientKey::user).or_else(|| {
                request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| ClientKey::from(addr.ip()))
            });
            if let Some(client) = client.filter(|_| !UNLIMITED.contains(&path)) {
                if let Err(retry_after) = limiter.check(client) {
                    self.refused.inc();
                    return Err(Refusal::TooManyRequests(
                        limiter.refusal_message(retry_after),
                        retry_after,
                    ));
                }
            }
        }

        let headers = request.headers();
        let has_body = headers.contains_key(TRANSFER_ENCODING)
            || headers
                .get(CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        let streamed = STREAMED_UPLOADS.contains(&path);
        Ok((has_body && !streamed).then(|| BodyDeadline {
            timeout: self.body_timeout,
            door: Door::of(path),
            doors,
        }))
    }
}

impl BodyDeadline {
    /// The answer when the deadline passed: 408, and the connection closed.
    pub fn expired(&self) -> Response {
        let message = format!(
            "The request was not complete within {} s; send the body without pauses.",
            self.timeout.as_secs_f64()
        );
        let mut response = self
            .doors
            .refuse(self.door, Refusal::RequestTimeout(message));
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}
