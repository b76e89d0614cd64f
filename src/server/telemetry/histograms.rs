//! Latency histograms built for the hot paths.
//!
//! prometheus-client's `Family<_, Histogram>` takes a shared read lock to
//! find a series and a mutex to record into it, and its labels allocate:
//! a measurable share of a cheap request's cost at the request rates this
//! server reaches (figures in docs/benchmarks.md). Here every series
//! is split into per-thread shards, rows of atomic counters that only
//! their own thread writes, so recording is a thread-local lookup and two
//! uncontended atomic additions; a scrape adds the shards up. Two families
//! use them, exported through prometheus-client's [`Collector`] with the
//! rest of the registry:
//!
//! - [`HttpHistograms`]: every request by method, route pattern and
//!   status, found per thread by the pattern's address;
//! - [`Histograms`]: a family with owned labels whose series are handed
//!   out once ([`Histogram`]) and kept by their user (a model version).
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder};
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

/// One thread's shard of a series: a count per bucket (the last is +Inf)
/// and the sum. Aligned so that two threads' shards never share a cache
/// line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Series {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Series {
    fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BOUNDS.len());
        // Only this shard's thread writes it: no contention, plain adds
        // would do but for the scrape reading concurrently.
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
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
    /// Every thread's shard of each series.
    series: RwLock<HashMap<Key, Vec<Arc<Series>>, Fx>>,
}

/// (server id, route text address, method, status).
type LocalKey = (u64, usize, &'static str, u16);

thread_local! {
    /// This thread's shard of each series.
    static LOCAL: RefCell<HashMap<LocalKey, Arc<Series>, Fx>> = RefCell::new(HashMap::default());
}

/// Route patterns as `'static` text: a router has a few dozen.
static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);

pub fn intern(route: &str) -> &'static str {
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
        LOCAL.with(|local| {
            if let Some(shard) = local.borrow().get(&local_key) {
                shard.record(took);
                return;
            }
            let shard = self.shared(Key {
                method,
                route: intern(route),
                status,
            });
            shard.record(took);
            local.borrow_mut().insert(local_key, shard);
        });
    }

    /// A new shard of the `key` series, for the calling thread.
    fn shared(&self, key: Key) -> Arc<Series> {
        let shard = Arc::new(Series::default());
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        series.entry(key).or_default().push(Arc::clone(&shard));
        shard
    }
}

impl Collector for HttpHistograms {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "http_request_duration",
            "HTTP requests by method, route pattern and status, with their latency",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut keys: Vec<&Key> = series.keys().collect();
        keys.sort_by_key(|k| (k.route, k.method, k.status));
        for key in keys {
            encode_series(&mut metric, key, &series[key])?;
        }
        Ok(())
    }
}

/// Writes one series, its shards added up.
fn encode_series<L: EncodeLabelSet>(
    metric: &mut MetricEncoder,
    labels: &L,
    shards: &[Arc<Series>],
) -> Result<(), std::fmt::Error> {
    let mut counts = [0u64; BOUNDS.len() + 1];
    let mut sum_nanos = 0u64;
    for shard in shards {
        for (count, bucket) in counts.iter_mut().zip(&shard.buckets) {
            *count += bucket.load(Ordering::Relaxed);
        }
        sum_nanos = sum_nanos.saturating_add(shard.sum_nanos.load(Ordering::Relaxed));
    }
    let buckets: Vec<(f64, u64)> = BOUNDS
        .iter()
        .copied()
        .chain([f64::INFINITY])
        .zip(counts.iter().copied())
        .collect();
    metric.encode_family(labels)?.encode_histogram::<L>(
        sum_nanos as f64 / 1e9,
        counts.iter().sum(),
        &buckets,
        None,
    )
}

/// One series of a [`Histograms`] family, kept by what it measures.
#[derive(Debug)]
pub struct Histogram {
    /// Finds this thread's shard in [`OWN`].
    id: u64,
    shards: Mutex<Vec<Arc<Series>>>,
}

thread_local! {
    /// This thread's shard of each [`Histogram`], by id.
    static OWN: RefCell<HashMap<u64, Arc<Series>, Fx>> = RefCell::new(HashMap::default());
}

impl Default for Histogram {
    /// A series in no family: for parts used outside a server.
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Histogram {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            shards: Mutex::default(),
        }
    }
}

impl Histogram {
    /// Records one observation in the calling thread's shard.
    pub fn observe(&self, took: Duration) {
        OWN.with(|own| {
            if let Some(shard) = own.borrow().get(&self.id) {
                shard.record(took);
                return;
            }
            let shard = Arc::new(Series::default());
            shard.record(took);
            self.shards
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::clone(&shard));
            own.borrow_mut().insert(self.id, shard);
        });
    }
}

/// A histogram family with owned labels (a model and its version).
#[derive(Debug)]
pub struct Histograms<L> {
    name: &'static str,
    help: &'static str,
    series: RwLock<Vec<(L, Arc<Histogram>)>>,
}

impl<L: Clone + PartialEq> Histograms<L> {
    pub fn new(name: &'static str, help: &'static str) -> Histograms<L> {
        Histograms {
            name,
            help,
            series: RwLock::default(),
        }
    }

    /// The series labelled `labels`, made on first use.
    pub fn get_or_create(&self, labels: &L) -> Arc<Histogram> {
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, found)) = series.iter().find(|(l, _)| l == labels) {
            return Arc::clone(found);
        }
        let histogram = Arc::new(Histogram::default());
        series.push((labels.clone(), Arc::clone(&histogram)));
        histogram
    }
}

impl<L> Collector for Histograms<L>
where
    L: EncodeLabelSet + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            self.name,
            self.help,
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (labels, histogram) in self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let shards = histogram
                .shards
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            encode_series(&mut metric, labels, &shards)?;
        }
        Ok(())
    }
}
