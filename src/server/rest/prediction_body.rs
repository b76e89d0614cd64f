//! A fast decoder for the common prediction bodies: a batch
//! `{"instances": [{...}, ...]}`, one row `{"features": {...}}`, and the
//! original app's bare row `{"feature1": ..., ...}`.
//!
//! Decoding 10 000 rows into `serde_json::Value`s first costs far more than
//! running the model, and even for one row the tree, its strings and its
//! drop cost more than the row itself, so well-formed bodies are read
//! straight into one row-major buffer. Anything unusual (a type error, a
//! missing or unknown feature, an escaped key, a repeated key) makes these
//! return `None`, and the caller takes the general path, which reports every
//! problem precisely.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::domain::MAX_BATCH_ROWS;

/// The rows of a plain body, row-major in `features` order.
#[derive(Debug, PartialEq)]
pub struct Rows {
    pub flat: Vec<f64>,
    pub n_rows: usize,
    /// Sent as one row (`features`) rather than as a batch (`instances`).
    pub single: bool,
}

/// `{"instances": [...]}` or `{"features": {...}}`.
pub fn decode(body: &[u8], features: &[&str]) -> Option<Rows> {
    let rows = complete(body, Body { features })?;
    (1..=MAX_BATCH_ROWS).contains(&rows.n_rows).then_some(rows)
}

/// One row sent as the body itself (the original `POST /predict/`).
pub fn decode_row(body: &[u8], features: &[&str]) -> Option<Vec<f64>> {
    let mut flat = Vec::with_capacity(features.len());
    complete(
        body,
        Row {
            features,
            out: &mut flat,
        },
    )?;
    Some(flat)
}

/// Decodes all of `body` with `seed`, nothing after it.
fn complete<'de, S: DeserializeSeed<'de>>(body: &'de [u8], seed: S) -> Option<S::Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = seed.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

fn unusual<E: de::Error>() -> E {
    E::custom("not a plain body")
}

struct Body<'a> {
    features: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = Rows;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Rows, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = Rows;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with 'instances' or 'features'")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rows, A::Error> {
        let mut rows = None;
        while let Some(key) = map.next_key::<&str>()? {
            if rows.is_some() {
                return Err(unusual());
            }
            let k = self.features.len();
            rows = Some(match key {
                "instances" => {
                    let flat = map.next_value_seed(Instances {
                        features: self.features,
                    })?;
                    Rows {
                        n_rows: flat.len() / k.max(1),
                        flat,
                        single: false,
                    }
                }
                "features" => {
                    let mut flat = Vec::with_capacity(k);
                    map.next_value_seed(Row {
                        features: self.features,
                        out: &mut flat,
                    })?;
                    Rows {
                        flat,
                        n_rows: 1,
                        single: true,
                    }
                }
                _ => return Err(unusual()),
            });
        }
        rows.ok_or_else(unusual)
    }
}

struct Instances<'a> {
    features: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Instances<'_> {
    type Value = Vec<f64>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Instances<'_> {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
        let k = self.features.len();
        let mut flat = Vec::with_capacity(seq.size_hint().unwrap_or(64).min(MAX_BATCH_ROWS) * k);
        let mut rows = 0;
        while seq
            .next_element_seed(Row {
                features: self.features,
                out: &mut flat,
            })?
            .is_some()
        {
            rows += 1;
            if rows > MAX_BATCH_ROWS {
                return Err(unusual());
            }
        }
        Ok(flat)
    }
}

struct Row<'a, 'b> {
    features: &'a [&'a str],
    out: &'b mut Vec<f64>,
}

impl<'de> DeserializeSeed<'de> for Row<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Row<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of features")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let k = self.features.len();
        let start = self.out.len();
        self.out.resize(start + k, f64::NAN);
        let mut seen = 0usize;
        while let Some(key) = map.next_key::<&str>()? {
            let column = self
                .features
                .iter()
                .position(|f| *f == key)
                .ok_or_else(unusual)?;
            let slot = &mut self.out[start + column];
            if !slot.is_nan() {
                return Err(unusual());
            }
            *slot = map.next_value::<f64>()?;
            seen += 1;
        }
        if seen != k {
            return Err(unusual());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, decode_row, Rows};

    const FEATURES: [&str; 2] = ["a", "b"];

    #[test]
    fn plain_batches_are_decoded_in_feature_order() {
        let body = br#"{"instances": [{"b": 2, "a": 1.5}, {"a": -1, "b": 0}]}"#;
        let rows = Rows {
            flat: vec![1.5, 2.0, -1.0, 0.0],
            n_rows: 2,
            single: false,
        };
        assert_eq!(decode(body, &FEATURES), Some(rows));
    }

    #[test]
    fn plain_single_rows_are_decoded_in_feature_order() {
        let rows = Rows {
            flat: vec![1.5, 2.0],
            n_rows: 1,
            single: true,
        };
        assert_eq!(
            decode(br#"{"features": {"b": 2, "a": 1.5}}"#, &FEATURES),
            Some(rows)
        );
        assert_eq!(
            decode_row(br#" {"b": 2, "a": 1.5} "#, &FEATURES),
            Some(vec![1.5, 2.0])
        );
    }

    #[test]
    fn anything_unusual_falls_back_to_the_general_path() {
        for body in [
            &br#"{"instances": []}"#[..],
            br#"{"instances": [{"a": 1}]}"#,
            br#"{"instances": [{"a": 1, "b": 2, "c": 3}]}"#,
            br#"{"instances": [{"a": 1, "a": 2}]}"#,
            br#"{"instances": [{"a": "1", "b": 2}]}"#,
            br#"{"instances": [{"a": null, "b": 2}]}"#,
            br#"{"feature": {"a": 1, "b": 2}}"#,
            br#"{"features": {"a": 1}}"#,
            br#"{"features": [1, 2]}"#,
            br#"{"features": {"a": 1, "b": 2}, "instances": [{"a": 1, "b": 2}]}"#,
            br#"{"instances": [{"a": 1, "b": 2}], "x": 1}"#,
            br#"{"instances": [{"a": 1, "b": 2}]} trailing"#,
            br#"{"instances": [{"\u0061": 1, "b": 2}]}"#,
        ] {
            assert_eq!(
                decode(body, &FEATURES),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        for body in [
            &br#"{"a": 1}"#[..],
            br#"{"a": 1, "b": 2, "c": 3}"#,
            br#"{"a": 1, "b": 2, "a": 3}"#,
            br#"{"a": true, "b": 2}"#,
            br#"{"a": 1e999, "b": 2}"#,
            br#"[1, 2]"#,
            br#"{"a": 1, "b": 2}{}"#,
        ] {
            assert_eq!(
                decode_row(body, &FEATURES),
                None,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
