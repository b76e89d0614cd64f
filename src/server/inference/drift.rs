//! The drift check: each loaded model version counts the values its inputs
//! take, per bin of the training distribution its manifest gives, over a
//! sliding window, and compares the two by the population stability index.
//!
//! Counting is a binary search per input and one short lock per request
//! (a batch is counted before the lock is taken), so it stays on the
//! request path; the window is a ring of time slots, so old values fall out
//! without a sweep.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::manifest::Reference;
use crate::domain::{DriftReading, DriftReport, FeatureSpec, InputDrift};

/// How far back the live distribution reaches unless configured
/// (`--drift-window-secs`).
pub const WINDOW: Duration = Duration::from_secs(60 * 60);
/// The window moves in steps of `WINDOW / SLOTS`.
const SLOTS: u64 = 12;
/// Rows the window must hold before an input gets a reading: with fewer, a
/// bin or two of chance makes a large index.
pub const MIN_ROWS: u64 = 100;
/// The share an empty bin counts as, so that the index stays finite (a
/// value never seen in training, or no longer seen live, still weighs).
const EMPTY_SHARE: f64 = 1e-4;

/// The population stability index of `actual` against `expected` (shares of
/// the same bins, each summing to 1): the sum over bins of
/// `(a - e) * ln(a / e)`, with empty bins counted as [`EMPTY_SHARE`].
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(e, a)| {
            let (e, a) = (e.max(EMPTY_SHARE), a.max(EMPTY_SHARE));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The bin of `value` under `edges` (see [`Reference`]).
fn bin(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|edge| *edge <= value)
}

/// One time slot's counts.
struct Slot {
    /// Which slot since the monitor started it counts (the ring reuses it).
    number: u64,
    rows: u64,
    /// Per bin of every input with a reference, inputs one after another.
    counts: Vec<u64>,
}

/// The live input distribution of one model version.
pub struct DriftMonitor {
    model: String,
    version: String,
    names: Vec<String>,
    references: Vec<Option<Reference>>,
    /// Where each input's bins start in a slot's `counts`.
    offsets: Vec<usize>,
    bins: usize,
    started: Instant,
    slot_length: Duration,
    ring: Mutex<Vec<Slot>>,
}

impl DriftMonitor {
    /// A monitor over the default window for a version whose inputs are
    /// `inputs`, with `references[i]` the training distribution of input
    /// `i` (if its manifest gives one).
    pub fn new(
        model: &str,
        version: &str,
        inputs: &[FeatureSpec],
        references: &[Option<Reference>],
    ) -> DriftMonitor {
        let names = inputs.iter().map(|s| s.name.clone()).collect();
        let references = (0..inputs.len())
            .map(|i| references.get(i).cloned().flatten())
            .collect();
        Self::build(
            model.to_owned(),
            version.to_owned(),
            names,
            references,
            WINDOW,
        )
    }

    /// The same inputs and references, with an empty window of `window`.
    pub fn with_window(&self, window: Duration) -> DriftMonitor {
        Self::build(
            self.model.clone(),
            self.version.clone(),
            self.names.clone(),
            self.references.clone(),
            window,
        )
    }

    fn build(
        model: String,
        version: String,
        names: Vec<String>,
        references: Vec<Option<Reference>>,
        window: Duration,
    ) -> DriftMonitor {
        let mut offsets = Vec::with_capacity(names.len());
        let mut bins = 0;
        for reference in &references {
            offsets.push(bins);
            bins += reference.as_ref().map_or(0, |r| r.shares.len());
        }
        let ring = (0..SLOTS)
            .map(|_| Slot {
                number: u64::MAX,
                rows: 0,
                counts: vec![0; bins],
            })
            .collect();
        DriftMonitor {
            model,
            version,
            names,
            references,
            offsets,
            bins,
            started: Instant::now(),
            slot_length: window / SLOTS as u32,
            ring: Mutex::new(ring),
        }
    }

    /// The slot counting now.
    fn slot_number(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.started);
        (elapsed.as_nanos() / self.slot_length.as_nanos().max(1)) as u64
    }

    /// Counts `n_rows` rows of row-major `flat` values (one per input, in
    /// order).
    pub fn record(&self, flat: &[f64], n_rows: usize) {
        let features = self.names.len();
        if features == 0 || flat.len() != n_rows * features {
            return;
        }
        self.record_rows(flat.chunks_exact(features));
    }

    /// Counts `rows` (one value per input, in order; a row of another
    /// length is skipped). Values that are not finite (a missing value) are
    /// not counted for their input.
    pub fn record_rows<'a>(&self, rows: impl IntoIterator<Item = &'a [f64]>) {
        let features = self.names.len();
        let mut counts = vec![0u64; self.bins];
        let mut n_rows = 0u64;
        for row in rows.into_iter().filter(|r| r.len() == features) {
            n_rows += 1;
            for (i, value) in row.iter().enumerate() {
                if let Some(reference) = &self.references[i] {
                    if value.is_finite() {
                        counts[self.offsets[i] + bin(&reference.edges, *value)] += 1;
                    }
                }
            }
        }
        if n_rows == 0 {
            return;
        }
        let number = self.slot_number(Instant::now());
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut ring[(number % SLOTS) as usize];
        if slot.number != number {
            slot.number = number;
            slot.rows = 0;
            slot.counts.iter_mut().for_each(|c| *c = 0);
        }
        slot.rows += n_rows;
        for (total, added) in slot.counts.iter_mut().zip(counts) {
            *total += added;
        }
    }

    /// The distributions over the window ending now.
    pub fn report(&self) -> DriftReport {
        let current = self.slot_number(Instant::now());
        let mut rows = 0;
        let mut counts = vec![0u64; self.bins];
        {
            let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            for slot in ring.iter() {
                // The current slot and the SLOTS - 1 before it.
                if slot.number <= current && current - slot.number < SLOTS {
                    rows += slot.rows;
                    for (total, c) in counts.iter_mut().zip(&slot.counts) {
                        *total += c;
                    }
                }
            }
        }
        let inputs = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let Some(reference) = &self.references[i] else {
                    return InputDrift {
                        name: name.clone(),
                        edges: Vec::new(),
                        training: Vec::new(),
                        live: Vec::new(),
                        psi: None,
                        reading: DriftReading::NoReference,
                    };
                };
                let own = &counts[self.offsets[i]..self.offsets[i] + reference.shares.len()];
                let seen: u64 = own.iter().sum();
                let live: Vec<f64> = own
                    .iter()
                    .map(|c| {
                        if seen == 0 {
                            0.0
                        } else {
                            *c as f64 / seen as f64
                        }
                    })
                    .collect();
                let psi = (seen >= MIN_ROWS).then(|| psi(&reference.shares, &live));
                InputDrift {
                    name: name.clone(),
                    edges: reference.edges.clone(),
                    training: reference.shares.clone(),
                    live,
                    psi,
                    reading: psi.map_or(DriftReading::TooFewRows, DriftReading::of),
                }
            })
            .collect();
        DriftReport {
            model: self.model.clone(),
            version: self.version.clone(),
            window_seconds: (self.slot_length * SLOTS as u32).as_secs(),
            rows,
            min_rows: MIN_ROWS,
            has_reference: self.references.iter().any(Option::is_some),
            inputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> FeatureSpec {
        FeatureSpec {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            min: 0.0,
            max: 10.0,
            default: 5.0,
        }
    }

    fn quartiles() -> Reference {
        Reference {
            edges: vec![2.5, 5.0, 7.5],
            shares: vec![0.25, 0.25, 0.25, 0.25],
        }
    }

    #[test]
    fn the_index_matches_a_hand_computed_example() {
        // Training 25% in each of four bins; live 10%, 20%, 30%, 40%:
        // (0.10-0.25)ln(0.10/0.25) + (0.20-0.25)ln(0.20/0.25)
        // + (0.30-0.25)ln(0.30/0.25) + (0.40-0.25)ln(0.40/0.25)
        // = 0.137444 + 0.011157 + 0.009116 + 0.070500 = 0.228218
        let index = psi(&[0.25; 4], &[0.1, 0.2, 0.3, 0.4]);
        assert!((index - 0.228_218).abs() < 1e-6, "{index}");
        assert_eq!(psi(&[0.25; 4], &[0.25; 4]), 0.0);
        // An empty live bin weighs as 1e-4, not as infinity.
        let empty = psi(&[0.5, 0.5], &[1.0, 0.0]);
        assert!(empty.is_finite() && empty > 2.0, "{empty}");
    }

    #[test]
    fn values_fall_in_the_bins_the_training_script_uses() {
        // numpy.searchsorted(edges, v, side="right"): an edge belongs to the
        // bin above it.
        let edges = [2.5, 5.0, 7.5];
        assert_eq!(bin(&edges, -1.0), 0);
        assert_eq!(bin(&edges, 2.5), 1);
        assert_eq!(bin(&edges, 4.999), 1);
        assert_eq!(bin(&edges, 7.5), 3);
        assert_eq!(bin(&edges, 1e9), 3);
    }

    #[test]
    fn live_rows_are_read_against_the_training_distribution() {
        let monitor = DriftMonitor::new(
            "m",
            "1",
            &[spec("a"), spec("b")],
            &[Some(quartiles()), None],
        );
        // 99 rows: not yet enough for a reading.
        let row = |a: f64| [a, 0.0];
        let flat: Vec<f64> = (0..99)
            .flat_map(|i| row((i % 4) as f64 * 2.5 + 1.0))
            .collect();
        monitor.record(&flat, 99);
        let report = monitor.report();
        assert_eq!(report.rows, 99);
        assert!(report.has_reference);
        assert_eq!(report.inputs[0].reading, DriftReading::TooFewRows);
        assert_eq!(report.inputs[1].reading, DriftReading::NoReference);
        // One more, a missing value that is not counted for its input, and
        // a row of the wrong length that is not counted at all.
        monitor.record(&[8.5, 0.0, f64::NAN, 0.0], 2);
        monitor.record_rows([[1.0].as_slice()]);
        let report = monitor.report();
        assert_eq!(report.rows, 101);
        let a = &report.inputs[0];
        assert_eq!(a.live, [0.25, 0.25, 0.25, 0.25]);
        assert_eq!(a.psi, Some(0.0));
        assert_eq!(a.reading, DriftReading::Stable);

        // Every live value in the top bin: drifted.
        let shifted = DriftMonitor::new("m", "1", &[spec("a")], &[Some(quartiles())]);
        shifted.record(&[9.0; 200], 200);
        let a = &shifted.report().inputs[0];
        assert_eq!(a.live, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(a.reading, DriftReading::Drifted);
    }

    #[test]
    fn old_rows_leave_the_window() {
        let monitor = DriftMonitor::new("m", "1", &[spec("a")], &[Some(quartiles())])
            .with_window(Duration::from_millis(120));
        monitor.record(&[1.0; 150], 150);
        assert_eq!(monitor.report().rows, 150);
        std::thread::sleep(Duration::from_millis(300));
        let report = monitor.report();
        assert_eq!(report.rows, 0);
        assert_eq!(report.inputs[0].live, [0.0; 4]);
        monitor.record(&[9.0; 100], 100);
        assert_eq!(monitor.report().inputs[0].live, [0.0, 0.0, 0.0, 1.0]);
    }
}
