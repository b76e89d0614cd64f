//! A fast decoder for the common batch body `{"instances": [{...}, ...]}`.
//!
//! Decoding 10 000 rows into `serde_json::Value`s first costs far more than
//! running the model, so well-formed batches are read straight into one
//! row-major buffer. Anything unusual (a type error, a missing or unknown
//! feature, an escaped key, `features` instead of `instances`) makes this
//! return `None`, and the caller takes the general path, which reports every
//! problem precisely.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::domain::MAX_BATCH_ROWS;

/// Row-major values of every instance, in `features` order, and the row count.
pub fn decode(body: &[u8], features: &[&str]) -> Option<(Vec<f64>, usize)> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let flat = Body { features }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    let rows = flat.len() / features.len().max(1);
    (1..=MAX_BATCH_ROWS).contains(&rows).then_some((flat, rows))
}

fn unusual<E: de::Error>() -> E {
    E::custom("not a plain batch")
}

struct Body<'a> {
    features: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Body<'_> {
    type Value = Vec<f64>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Body<'_> {
    type Value = Vec<f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with 'instances'")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<f64>, A::Error> {
        let mut flat = None;
        while let Some(key) = map.next_key::<&str>()? {
            if key != "instances" || flat.is_some() {
                return Err(unusual());
            }
            flat = Some(map.next_value_seed(Instances {
                features: self.features,
            })?);
        }
        flat.ok_or_else(unusual)
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
    use super::decode;

    const FEATURES: [&str; 2] = ["a", "b"];

    #[test]
    fn plain_batches_are_decoded_in_feature_order() {
        let body = br#"{"instances": [{"b": 2, "a": 1.5}, {"a": -1, "b": 0}]}"#;
        assert_eq!(
            decode(body, &FEATURES),
            Some((vec![1.5, 2.0, -1.0, 0.0], 2))
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
            br#"{"features": {"a": 1, "b": 2}}"#,
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
    }
}
