//! Per-request limits: URI length, a rate limit per client (user or
//! address) and a deadline for request bodies. Checked by the front layer
//! (`telemetry::FrontLayer`) before anything else runs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, RETRY_AFTER, TRANSFER_ENCODING};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::server::rest::ApiError;

/// Paths never limited: orchestrators' probes must not be throttled into
/// restarting a healthy server.
const UNLIMITED: &[&str] = &[
    "/healthz",
    "/readyz",
    "/v2/health/live",
    "/v2/health/ready",
    "/metrics",
];

/// A generic cell rate algorithm (token bucket) per client: `per_second`
/// requests a second on average, up to `burst` at once.
pub struct RateLimiter {
    /// Time one request "costs", in nanoseconds.
    cost: u64,
    /// How far ahead of now a client's budget may be spent.
    window: u64,
    per_second: u32,
    burst: u32,
    epoch: Instant,
    clients: Mutex<Clients>,
}

struct Clients {
    /// When each client's budget is next fully spent, in nanoseconds since
    /// `epoch` (the GCRA "theoretical arrival time").
    spent_until: HashMap<ClientKey, u64>,
    /// Forget idle clients when the map reaches this size.
    sweep_at: usize,
}

/// Who a request is counted against: an IPv4 address, or an IPv6 /64
/// (one subscriber usually owns a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(u128);

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientKey(u128::from(v4.to_bits())),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(u128::from(v4.to_bits())),
                // Bit 32 marks IPv6: IPv4 keys never reach it.
                None => ClientKey(v6.to_bits() & (u128::MAX << 64) | 1 << 32),
            },
        }
    }
}

impl ClientKey {
    /// A key for something other than an address (a hashed user name), for
    /// a limiter that counts only such keys.
    pub fn from_hash(hash: u64) -> ClientKey {
        ClientKey(u128::from(hash))
    }

    /// A logged-in user's key. Bit 33 marks users: address keys never set
    /// it (IPv4 keys stay below bit 32, IPv6 keys keep only bit 32 and the
    /// upper 64 bits).
    pub fn user(id: i64) -> ClientKey {
        ClientKey((u128::from(id as u64) << 64) | 1 << 33)
    }
}

impl RateLimiter {
    /// `per_second` must be at least 1; `burst` is raised to at least 1.
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        Self::with_cost(
            1_000_000_000 / u64::from(per_second.max(1)),
            per_second,
            burst,
        )
    }

    /// `per_minute` requests a minute on average (at least 1), up to
    /// `burst` at once.
    pub fn per_minute(per_minute: u32, burst: u32) -> RateLimiter {
        Self::with_cost(60_000_000_000 / u64::from(per_minute.max(1)), 0, burst)
    }

    fn with_cost(cost: u64, per_second: u32, burst: u32) -> RateLimiter {
        let per_second = per_second.max(1);
        let burst = burst.max(1);
        RateLimiter {
            cost,
            window: cost * u64::from(burst),
            per_second,
            burst,
            epoch: Instant::now(),
            clients: Mutex::new(Clients {
                spent_until: HashMap::new(),
                sweep_at: 1024,
            }),
        }
    }

    /// Takes one request from `client`'s budget, or says how long until
    /// one is available.
    pub fn check(&self, client: ClientKey) -> Result<(), Duration> {
        self.check_at(client, self.epoch.elapsed())
    }

    fn check_at(&self, client: ClientKey, now: Duration) -> Result<(), Duration> {
        let now = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if clients.spent_until.len() >= clients.sweep_at {
            // Clients whose budget has fully refilled carry no state.
            clients.spent_until.retain(|_, until| *until > now);
            clients.sweep_at = (clients.spent_until.len() * 2).max(1024);
        }
        let until = clients.spent_until.entry(client).or_insert(now);
        let next = (*until).max(now) + self.cost;
        if next - now > self.window {
            return Err(Duration::from_nanos(next - now - self.window));
        }
        *until = next;
        Ok(())
    }

    fn refuse(&self, retry_after: Duration, path: &str) -> Response {
        let message = format!(
            "Too many requests from you (your user, or your address when not logged in): the limit is {} per second with bursts of {}. \
             Retry in {:.2} s.",
            self.per_second,
            self.burst,
            retry_after.as_secs_f64()
        );
        Door::of(path).refusal(ApiError::TooManyRequests(message, retry_after))
    }
}

/// Event streams (`GET /items/events`) open per client at most: each holds
/// a connection and a task for as long as the client likes, so one client
/// must not take the whole connection cap.
pub struct StreamSlots {
    per_client: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open event stream of a client; the slot frees when this drops
/// (the stream ends or the client goes away).
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    client: ClientKey,
}

impl StreamSlots {
    pub fn new(per_client: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            per_client,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for `client`, or `None` when it has [`Self::limit`] open.
    pub fn take(self: &Arc<Self>, client: ClientKey) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_insert(0);
        if *count >= self.per_client {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            slots: Arc::clone(self),
            client,
        })
    }

    /// Streams one client may have open at once.
    pub fn limit(&self) -> usize {
        self.per_client
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

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
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline {
    pub timeout: Duration,
    /// Whose shape the answer takes.
    door: Door,
}

impl RequestLimits {
    /// Refuses over-long URIs (414) and a client's requests beyond its
    /// rate (429 with `Retry-After`); a request with a body gets a
    /// deadline, so a client trickling a body cannot hold a connection and
    /// a task indefinitely. The refusal is boxed: it is rare, and keeps the
    /// result of every admitted request small.
    pub fn admit(&self, request: &Request) -> Result<Option<BodyDeadline>, Box<Response>> {
        let uri = request.uri();
        let path = uri.path();
        let uri_bytes = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_bytes > self.max_uri_bytes {
            let message = format!(
                "The URL is {uri_bytes} bytes long; at most {} are accepted. \
                 Send long search terms or inputs in a request body.",
                self.max_uri_bytes
            );
            return Err(Box::new(
                Door::of(path).refusal(ApiError::UriTooLong(message)),
            ));
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
                    return Err(Box::new(limiter.refuse(retry_after, path)));
                }
            }
        }

        let headers = request.headers();
        let has_body = headers.contains_key(TRANSFER_ENCODING)
            || headers
                .get(CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        Ok(has_body.then(|| BodyDeadline {
            timeout: self.body_timeout,
            door: Door::of(path),
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
        let mut response = self.door.refusal(ApiError::RequestTimeout(message));
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Which door a request came to, by its path: it decides the shape of an
/// answer made before any handler ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// The REST API and everything else: `{"detail": ...}`.
    Rest,
    /// The Open Inference Protocol under `/v2`: `{"error": ...}`.
    OpenInference,
    /// The UI's server functions under `/rpc/`: their error type, which
    /// the browser decodes like any other server function error.
    ServerFunction,
}

impl Door {
    pub fn of(path: &str) -> Door {
        if path.starts_with("/v2") {
            Door::OpenInference
        } else if path.starts_with("/rpc/") {
            Door::ServerFunction
        } else {
            Door::Rest
        }
    }

    /// `error` in this door's shape, with its status.
    pub fn refusal(self, error: ApiError) -> Response {
        let wait = match &error {
            ApiError::TooManyRequests(_, wait) => Some(*wait),
            _ => None,
        };
        let mut response = match self {
            Door::Rest => error.into_response(),
            Door::OpenInference => error.into_open_inference().into_response(),
            Door::ServerFunction => server_function_refusal(error),
        };
        if let Some(wait) = wait {
            response
                .headers_mut()
                .insert(RETRY_AFTER, crate::server::rest::retry_after(wait));
        }
        response
    }
}

fn server_function_refusal(error: ApiError) -> Response {
    use crate::domain::AppError;
    let status = error.status();
    let message = error.to_string();
    let error = match error {
        ApiError::Unauthorized(_) => AppError::Unauthorized(message),
        ApiError::Forbidden(_) => AppError::Forbidden(message),
        ApiError::TooManyRequests(..) => AppError::TooManyRequests(message),
        ApiError::Unavailable(_) => AppError::Unavailable(message),
        ApiError::Internal(_) => AppError::Internal("an internal error occurred".into()),
        _ => AppError::BadRequest(message),
    };
    let body = serde_json::to_vec(&error).unwrap_or_default();
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(n: u8) -> ClientKey {
        ClientKey::from(IpAddr::from([10, 0, 0, n]))
    }

    #[test]
    fn allows_a_burst_then_the_steady_rate() {
        let limiter = RateLimiter::new(10, 5);
        let t0 = Duration::from_secs(1);
        for _ in 0..5 {
            assert!(limiter.check_at(client(1), t0).is_ok());
        }
        let wait = limiter.check_at(client(1), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // Another client has its own budget.
        assert!(limiter.check_at(client(2), t0).is_ok());
        // One request's worth of time later, exactly one more fits.
        let t1 = t0 + Duration::from_millis(100);
        assert!(limiter.check_at(client(1), t1).is_ok());
        assert!(limiter.check_at(client(1), t1).is_err());
        // After a quiet second the whole burst is back.
        let t2 = t1 + Duration::from_secs(1);
        for _ in 0..5 {
            assert!(limiter.check_at(client(1), t2).is_ok());
        }
        assert!(limiter.check_at(client(1), t2).is_err());
    }

    #[test]
    fn each_client_has_its_own_stream_slots_and_gets_them_back() {
        let slots = StreamSlots::new(2);
        let a = slots.take(client(1)).unwrap();
        let _b = slots.take(client(1)).unwrap();
        assert!(slots.take(client(1)).is_none());
        assert!(slots.take(client(2)).is_some(), "another client");
        drop(a);
        assert!(
            slots.take(client(1)).is_some(),
            "a closed stream frees its slot"
        );
    }

    #[test]
    fn idle_clients_are_forgotten() {
        let limiter = RateLimiter::new(1000, 1);
        for n in 0..=255u8 {
            for m in 0..4u8 {
                let ip = IpAddr::from([10, m, 0, n]);
                assert!(limiter
                    .check_at(ClientKey::from(ip), Duration::ZERO)
                    .is_ok());
            }
        }
        // Everyone's budget has refilled by now; the next sweep drops them.
        let _ = limiter.check_at(client(1), Duration::from_secs(1));
        let clients = limiter.clients.lock().unwrap();
        assert_eq!(clients.spent_until.len(), 1);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_prefix() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::from(a), ClientKey::from(b));
        assert_ne!(ClientKey::from(a), ClientKey::from(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(ClientKey::from(mapped), client(1));
        // An IPv6 /64 never collides with an IPv4 address.
        let low: IpAddr = "::".parse().unwrap();
        assert_ne!(
            ClientKey::from(low),
            ClientKey::from(IpAddr::from([0, 0, 0, 0]))
        );
    }
}
