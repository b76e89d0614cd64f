//! How far a model's live inputs have moved from its training data: one
//! report per model version, shared by the model page and the REST door.

use serde::{Deserialize, Serialize};

/// Below this population stability index an input is stable.
pub const PSI_SHIFTING: f64 = 0.1;
/// From this index on an input has drifted.
pub const PSI_DRIFTED: f64 = 0.25;

/// The live inputs of one model version over the recent window, beside the
/// training data's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DriftReport {
    pub model: String,
    pub version: String,
    /// How far back the live distribution reaches, in seconds.
    pub window_seconds: u64,
    /// Rows predicted within the window (every door).
    pub rows: u64,
    /// Rows needed in the window before an input gets a reading.
    pub min_rows: u64,
    /// Whether the model's manifest holds the training distribution; without
    /// it no input gets a reading.
    pub has_reference: bool,
    pub inputs: Vec<InputDrift>,
}

/// One input's training and live distributions over the same bins, and
/// their population stability index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InputDrift {
    pub name: String,
    /// The bins' inner boundaries, ascending: bin 0 is everything below
    /// `edges[0]`, bin `i` is `[edges[i-1], edges[i])`, the last bin is
    /// everything from the last edge on. Empty without a reference.
    pub edges: Vec<f64>,
    /// The share of training rows in each bin (sums to 1).
    pub training: Vec<f64>,
    /// The share of live rows in each bin (sums to 1; all 0 with no rows).
    pub live: Vec<f64>,
    /// Absent until the window holds `min_rows` rows, and without a
    /// reference.
    pub psi: Option<f64>,
    pub reading: DriftReading,
}

/// What the index means, in plain words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum DriftReading {
    /// PSI below 0.1: the live values look like the training data.
    Stable,
    /// PSI from 0.1 to 0.25: worth watching.
    Shifting,
    /// PSI of 0.25 or more: the model sees data unlike what it learned from.
    Drifted,
    /// Too few rows in the window to say.
    TooFewRows,
    /// The manifest holds no training distribution for this input.
    NoReference,
}

impl DriftReading {
    /// The reading of an index.
    pub fn of(psi: f64) -> DriftReading {
        if psi < PSI_SHIFTING {
            DriftReading::Stable
        } else if psi < PSI_DRIFTED {
            DriftReading::Shifting
        } else {
            DriftReading::Drifted
        }
    }

    /// A short label for people.
    pub fn label(self) -> &'static str {
        match self {
            DriftReading::Stable => "stable",
            DriftReading::Shifting => "shifting",
            DriftReading::Drifted => "drifted",
            DriftReading::TooFewRows => "too few rows",
            DriftReading::NoReference => "no training reference",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_follow_the_usual_thresholds() {
        assert_eq!(DriftReading::of(0.0), DriftReading::Stable);
        assert_eq!(DriftReading::of(0.099), DriftReading::Stable);
        assert_eq!(DriftReading::of(0.1), DriftReading::Shifting);
        assert_eq!(DriftReading::of(0.249), DriftReading::Shifting);
        assert_eq!(DriftReading::of(0.25), DriftReading::Drifted);
        assert_eq!(DriftReading::of(3.0), DriftReading::Drifted);
    }
}
