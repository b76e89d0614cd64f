//! Budgets per client (a user, or an address): a rate limit, and slots
//! for long-lived event streams. Used by the front layer (requests per
//! client), by auth (login attempts) and by the event stream door.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

    /// What a refused client is told.
    pub fn refusal_message(&self, retry_after: Duration) -> String {
        format!(
            "Too many requests from you (your user, or your address when not logged in): the limit is {} per second with bursts of {}. \
             Retry in {:.2} s.",
            self.per_second,
            self.burst,
            retry_after.as_secs_f64()
        )
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
