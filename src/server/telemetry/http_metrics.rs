//! The per-request HTTP latency histogram, built for the hot path.
//!
//! prometheus-client's `Family<_, Histogram>` takes a shared read lock to
//! find a series and a mutex to record into it, and its labels allocate:
//! measurable at 100 000 requests a second on two cores. Here each thread
//! keeps its own map from (route, method, status) to the series, and a
//! series is a row of atomic counters, so recording a request is a
//! thread-local lookup and two relaxed atomic additions. The series are
//! exported through prometheus-client's [`Collector`] with the rest.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use rustc_hash::FxHasher;

type Fx = BuildHasherDefault<FxHasher>;

/// Upper bounds in seconds: 50 µs doubling to about 3.3 s, then +Inf.
const BOUNDS: [f64; 17] = {
    let mut bounds = [0.0; 17];
    let mut i = 0;
    let mut bound = 0.000_05;
    while i < 17 {
        bounds[i] = bound;
        bound *= 2.0;
        i += 1;
    }
    bounds
};

/// One series: a count per bucket (the last is +Inf) and the sum.
#[derive(Debug, Default)]
struct Series {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

/// A series' labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct Key {
    method: &'static str,
    route: &'static str,
    status: u16,
}

/// Every HTTP series of one server.
#[derive(Debug)]
pub struct HttpHistograms {
    /// Distinguishes servers in the per-thread caches (tests run several).
    id: u64,
    series: RwLock<HashMap<Key, Arc<Series>, Fx>>,
}

/// (server id, route text address, method, status).
type LocalKey = (u64, usize, &'static str, u16);

thread_local! {
    /// This thread's way to each series.
    static LOCAL: RefCell<HashMap<LocalKey, Arc<Series>, Fx>> = RefCell::new(HashMap::default());
}

/// Route patterns as `'static` text: a router has a few dozen.
static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);

fn intern(route: &str) -> &'static str {
    if let Some(found) = ROUTES
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(route)
    {
        return found;
    }
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = routes.get(route) {
        return found;
    }
    let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
    routes.insert(leaked);
    leaked
}

impl HttpHistograms {
    pub fn new() -> HttpHistograms {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        HttpHistograms {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            series: RwLock::default(),
        }
    }

    /// Records one request. `route` must be the router's own pattern text
    /// (its address identifies it in the per-thread cache), or a `'static`
    /// placeholder such as `unmatched`.
    pub fn observe(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        let local_key = (
            self.id,
            route.as_ptr() as usize ^ route.len(),
            method,
            status,
        );
        let series = LOCAL.with(|local| {
            if let Some(series) = local.borrow().get(&local_key) {
                return Arc::clone(series);
            }
            let series = self.shared(Key {
                method,
                route: intern(route),
                status,
            });
            local.borrow_mut().insert(local_key, Arc::clone(&series));
            series
        });
        let seconds = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BOUNDS.len());
        series.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        series.sum_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn shared(&self, key: Key) -> Arc<Series> {
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(series.entry(key).or_default())
    }
}

impl Collector for HttpHistograms {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let unit = Unit::Seconds;
        let mut metric = encoder.encode_descriptor(
            "http_request_duration",
            "HTTP requests by method, route pattern and status, with their latency",
            Some(&unit),
            MetricType::Histogram,
        )?;
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<&Key> = series.keys().collect();
        keys.sort_by_key(|k| (k.route, k.method, k.status));
        for key in keys {
            let s = &series[key];
            let counts: Vec<u64> = s
                .buckets
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect();
            let buckets: Vec<(f64, u64)> = BOUNDS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(counts.iter().copied())
                .collect();
            metric.encode_family(key)?.encode_histogram::<Key>(
                s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
                counts.iter().sum(),
                &buckets,
                None,
            )?;
        }
        Ok(())
    }
}
