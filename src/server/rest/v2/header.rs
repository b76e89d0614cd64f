//! The JSON header of a v2 inference request, decoded in one pass.
//!
//! A JSON tensor of 10 000 rows is 30 000 numbers: decoding them into a
//! `serde_json::Value` tree first and copying them out afterwards costs more
//! than the model itself. The typed decoder here writes the numbers of
//! `inputs[*].data` straight into one `Vec<f64>` and keeps every other field
//! as a small `Value`. Whatever it does not take (a request that is not an
//! object, `data` holding a string, nesting deeper than rows and columns,
//! ...) is decoded again the general way, so that [`InferRequest`] names the
//! mistake exactly as it always has.
//!
//! [`InferRequest`]: super::tensor::InferRequest

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// The fields of a request header that inference reads.
#[derive(Debug, Default)]
pub struct Header {
    /// `id`, echoed in the answer; `Some(Value::Null)` for `"id": null`.
    pub id: Option<Value>,
    /// `inputs`; `None` when missing or not a list.
    pub inputs: Option<Vec<Input>>,
    pub outputs: Option<Value>,
    pub parameters: Option<Value>,
}

/// One entry of `inputs`. `name`, `datatype` and `shape` are `None` when
/// missing or of the wrong type (the validation says which is wrong); `data`
/// of the wrong kind is kept as it came, for the validation to name.
#[derive(Debug, Default)]
pub struct Input {
    pub name: Option<String>,
    pub datatype: Option<String>,
    /// Every dimension, when `shape` is a list of non-negative integers.
    pub shape: Option<Vec<u64>>,
    pub parameters: Option<Value>,
    pub data: Option<Data>,
}

/// The `data` of an input.
#[derive(Debug)]
pub enum Data {
    /// Every number of a flat or `[rows][columns]` list (or a lone number),
    /// row-major, as decoded by the fast path.
    Numbers(Vec<f64>),
    /// Anything else, as sent: the validation says what is wrong with it.
    Raw(Value),
}

/// Why a header could not be read at all.
#[derive(Debug)]
pub enum HeaderError {
    /// Not JSON (serde_json's message).
    Syntax(serde_json::Error),
    /// JSON, but not an object.
    NotAnObject,
}

impl Header {
    /// Decodes the JSON header: typed in one pass when the request has the
    /// usual shape, the general way otherwise.
    pub fn from_slice(json: &[u8]) -> Result<Header, HeaderError> {
        // Checked as UTF-8 once here, rather than string by string.
        if let Ok(text) = std::str::from_utf8(json) {
            if let Ok(header) = serde_json::from_str::<Header>(text) {
                return Ok(header);
            }
        }
        let value: Value = serde_json::from_slice(json).map_err(HeaderError::Syntax)?;
        Header::from_value(value).ok_or(HeaderError::NotAnObject)
    }

    /// The general way: any JSON object, fields taken as they are.
    fn from_value(value: Value) -> Option<Header> {
        let Value::Object(mut object) = value else {
            return None;
        };
        let inputs = match object.remove("inputs") {
            Some(Value::Array(list)) => Some(list.into_iter().map(Input::from_value).collect()),
            _ => None,
        };
        Some(Header {
            id: object.remove("id"),
            inputs,
            outputs: object.remove("outputs"),
            parameters: object.remove("parameters"),
        })
    }
}

impl Input {
    fn from_value(value: Value) -> Input {
        let Value::Object(mut object) = value else {
            return Input::default();
        };
        let text = |value: Option<Value>| match value {
            Some(Value::String(text)) => Some(text),
            _ => None,
        };
        Input {
            name: text(object.remove("name")),
            datatype: text(object.remove("datatype")),
            shape: object
                .remove("shape")
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|dims| dims.iter().map(Value::as_u64).collect()),
            parameters: object.remove("parameters"),
            data: object.remove("data").map(Data::Raw),
        }
    }

    /// `parameters.<key>`, if present.
    pub fn parameter(&self, key: &str) -> Option<&Value> {
        self.parameters.as_ref()?.as_object()?.get(key)
    }
}

// The fast path. Both visitors take maps only (a derived struct would also
// take a JSON list, by position), and the last of repeated keys wins, as in
// a `Value`. A `name`, `datatype` or `shape` of another type fails it, and
// the general way decides.

impl<'de> Deserialize<'de> for Header {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = Header;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an inference request object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
                let mut header = Header::default();
                while let Some(key) = map.next_key::<KeyName<'de>>()? {
                    match key.0.as_ref() {
                        "id" => header.id = Some(map.next_value()?),
                        "inputs" => header.inputs = Some(map.next_value()?),
                        "outputs" => header.outputs = Some(map.next_value()?),
                        "parameters" => header.parameters = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(header)
            }
        }
        deserializer.deserialize_map(HeaderVisitor)
    }
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputVisitor;
        impl<'de> Visitor<'de> for InputVisitor {
            type Value = Input;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an input tensor object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Input, A::Error> {
                let mut input = Input::default();
                while let Some(key) = map.next_key::<KeyName<'de>>()? {
                    match key.0.as_ref() {
                        "name" => input.name = Some(map.next_value()?),
                        "datatype" => input.datatype = Some(map.next_value()?),
                        "shape" => input.shape = Some(map.next_value()?),
                        "parameters" => input.parameters = Some(map.next_value()?),
                        "data" => {
                            let mut numbers = Vec::new();
                            map.next_value_seed(Numbers {
                                out: &mut numbers,
                                depth: 0,
                            })?;
                            input.data = Some(Data::Numbers(numbers));
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(input)
            }
        }
        deserializer.deserialize_map(InputVisitor)
    }
}

/// A map key, borrowed when the JSON has no escapes in it.
struct KeyName<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for KeyName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeyName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyName<'de>, E> {
                Ok(KeyName(v.into()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyName<'de>, E> {
                Ok(KeyName(v.to_owned().into()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Appends the numbers of a number, a list of numbers or a list of lists of
/// numbers to `out`; anything else is an error (and the general path then
/// names it).
struct Numbers<'a> {
    out: &'a mut Vec<f64>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Numbers<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Numbers<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("numbers, flat or as rows")
    }
    // The same conversions as `serde_json::Number::as_f64`.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.out.push(v);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out.push(v as f64);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out.push(v as f64);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= 2 {
            return Err(de::Error::custom("nested deeper than rows and columns"));
        }
        if self.depth == 0 {
            if let Some(n) = seq.size_hint() {
                self.out.reserve(n);
            }
        }
        while seq
            .next_element_seed(Numbers {
                out: &mut *self.out,
                depth: self.depth + 1,
            })?
            .is_some()
        {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(header: &Header) -> &[f64] {
        match &header.inputs.as_ref().unwrap()[0].data {
            Some(Data::Numbers(v)) => v,
            other => panic!("not decoded on the fast path: {other:?}"),
        }
    }

    #[test]
    fn flat_nested_and_lone_numbers_are_decoded_in_one_pass() {
        for (data, expected) in [
            ("[1, 2.5, -3]", vec![1.0, 2.5, -3.0]),
            ("[[1, 2, 3], [4, 5, 6]]", vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            ("[[1, 2], 3]", vec![1.0, 2.0, 3.0]),
            ("7", vec![7.0]),
            ("[]", vec![]),
        ] {
            let json = format!(
                r#"{{"id": "a", "inputs": [{{"name": "input", "shape": [1, 3], "data": {data}, "extra": {{"x": [1]}}}}]}}"#
            );
            let header = Header::from_slice(json.as_bytes()).unwrap();
            assert_eq!(numbers(&header), expected, "{data}");
            assert_eq!(header.id, Some(Value::from("a")));
        }
    }

    #[test]
    fn what_the_fast_path_does_not_take_comes_back_as_sent() {
        for data in [r#"[1, "NaN", 3]"#, "[[[1]]]", "null", r#"{"a": 1}"#] {
            let json = format!(r#"{{"inputs": [{{"name": "input", "data": {data}}}]}}"#);
            let header = Header::from_slice(json.as_bytes()).unwrap();
            let input = &header.inputs.as_ref().unwrap()[0];
            let expected: Value = serde_json::from_str(data).unwrap();
            assert!(
                matches!(&input.data, Some(Data::Raw(v)) if *v == expected),
                "{data}"
            );
            assert_eq!(input.name.as_deref(), Some("input"));
        }
        // An input given as a list is not read by position.
        let header = Header::from_slice(br#"{"inputs": [["input", "FP64"]]}"#).unwrap();
        assert!(header.inputs.unwrap()[0].name.is_none());
        // `"id": null` is kept, to be echoed.
        let header = Header::from_slice(br#"{"id": null, "inputs": {}}"#).unwrap();
        assert_eq!(header.id, Some(Value::Null));
        assert!(header.inputs.is_none());
    }

    #[test]
    fn not_json_and_not_an_object_are_told_apart() {
        assert!(matches!(
            Header::from_slice(b"{\"inputs\": ["),
            Err(HeaderError::Syntax(_))
        ));
        assert!(matches!(
            Header::from_slice(b"[1, 2]"),
            Err(HeaderError::NotAnObject)
        ));
    }

    #[test]
    fn the_last_of_repeated_keys_wins_as_in_a_value() {
        let header = Header::from_slice(br#"{"inputs": [{"data": [1], "data": [2, 3]}]}"#).unwrap();
        assert_eq!(numbers(&header), [2.0, 3.0]);
    }
}
