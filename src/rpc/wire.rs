//! How server functions' arguments, answers and errors travel: JSON in the
//! body of a POST, as with Leptos's own `Json`, but decoded from text.
//!
//! The browser decodes every server function's answer, and Leptos decodes
//! the data the server sent along with the page for hydration. Leptos reads
//! the latter as text (`serde_json::from_str`) while its `Json` reads answers
//! as bytes (`serde_json::from_slice`); serde_json compiles every
//! deserializer once per kind of input, so the bundle carried each type's
//! decoder twice. Reading answers as text too keeps one copy.

use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// JSON, decoded from text (see the module's documentation).
pub struct JsonText;

/// The encoding of every server function: [`JsonText`] in a POST body.
pub type Rpc = Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    /// serde_json writes NaN and the infinities as `null`, which the other
    /// side then fails to read as a number (or, for an optional number,
    /// reads as "none"): such a value is refused here, saying why.
    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        if let Err(finite::NotFinite(Some(v))) = value.serialize(finite::Check) {
            return Err(serde_json::Error::custom(format!(
                "the number {v} cannot be sent: JSON carries finite numbers only"
            )));
        }
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

/// A walk over a value that stops at its first non-finite number.
mod finite {
    use serde::ser::{self, Serialize};
    use std::fmt;

    pub struct Check;

    /// The first non-finite number, or `None` when the value's own
    /// serialisation failed (which serde_json then reports).
    #[derive(Debug)]
    pub struct NotFinite(pub Option<f64>);

    impl fmt::Display for NotFinite {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                Some(v) => write!(f, "{v} is not a finite number"),
                None => f.write_str("the value could not be serialised"),
            }
        }
    }

    impl std::error::Error for NotFinite {}

    impl ser::Error for NotFinite {
        fn custom<T: fmt::Display>(_: T) -> Self {
            NotFinite(None)
        }
    }

    type Done = Result<(), NotFinite>;

    fn number(v: f64) -> Done {
        if v.is_finite() {
            Ok(())
        } else {
            Err(NotFinite(Some(v)))
        }
    }

    /// Scalars, which hold no float, pass.
    macro_rules! pass {
        ($($method:ident($ty:ty)),* $(,)?) => {
            $(fn $method(self, _: $ty) -> Done { Ok(()) })*
        };
    }

    impl ser::Serializer for Check {
        type Ok = ();
        type Error = NotFinite;
        type SerializeSeq = Check;
        type SerializeTuple = Check;
        type SerializeTupleStruct = Check;
        type SerializeTupleVariant = Check;
        type SerializeMap = Check;
        type SerializeStruct = Check;
        type SerializeStructVariant = Check;

        pass!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_i128(i128),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_u128(u128),
            serialize_char(char),
            serialize_str(&str),
            serialize_bytes(&[u8]),
            serialize_unit_struct(&'static str),
        );

        fn serialize_f32(self, v: f32) -> Done {
            number(v.into())
        }
        fn serialize_f64(self, v: f64) -> Done {
            number(v)
        }
        fn serialize_none(self) -> Done {
            Ok(())
        }
        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
            value.serialize(self)
        }
        fn serialize_unit(self) -> Done {
            Ok(())
        }
        fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Done {
            Ok(())
        }
        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Done {
            value.serialize(self)
        }
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            value: &T,
        ) -> Done {
            value.serialize(self)
        }
        fn serialize_seq(self, _: Option<usize>) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple(self, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Check, NotFinite> {
            Ok(Check)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Check, NotFinite> {
            Ok(Check)
        }
    }

    /// The compound kinds: every element, key and field is walked.
    macro_rules! elements {
        ($($kind:ident :: $method:ident),* $(,)?) => {
            $(impl ser::$kind for Check {
                type Ok = ();
                type Error = NotFinite;
                fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
                    value.serialize(Check)
                }
                fn end(self) -> Done {
                    Ok(())
                }
            })*
        };
    }
    elements!(
        SerializeSeq::serialize_element,
        SerializeTuple::serialize_element,
        SerializeTupleStruct::serialize_field,
        SerializeTupleVariant::serialize_field,
    );

    impl ser::SerializeMap for Check {
        type Ok = ();
        type Error = NotFinite;
        fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
            key.serialize(Check)
        }
        fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
            value.serialize(Check)
        }
        fn end(self) -> Done {
            Ok(())
        }
    }

    macro_rules! fields {
        ($($kind:ident),*) => {
            $(impl ser::$kind for Check {
                type Ok = ();
                type Error = NotFinite;
                fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, value: &T) -> Done {
                    value.serialize(Check)
                }
                fn end(self) -> Done {
                    Ok(())
                }
            })*
        };
    }
    fields!(SerializeStruct, SerializeStructVariant);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcError;

    #[test]
    fn a_value_comes_back_as_it_was_sent() {
        let sent: Result<Vec<String>, RpcError> = Ok(vec!["Lighting".into(), "Éclairage".into()]);
        let bytes = <JsonText as Encodes<_>>::encode(&sent).unwrap();
        let back: Result<Vec<String>, RpcError> = JsonText::decode(bytes).unwrap();
        assert_eq!(back.unwrap(), ["Lighting", "Éclairage"]);
    }

    #[test]
    fn a_non_finite_number_is_refused_instead_of_sent_as_null() {
        #[derive(Serialize)]
        struct Draft {
            name: String,
            price: Option<f64>,
            rows: Vec<Vec<f64>>,
        }
        let draft = |price, cell| Draft {
            name: "Lamp".into(),
            price,
            rows: vec![vec![1.0, cell]],
        };
        for (value, shown) in [
            (draft(Some(f64::NAN), 2.0), "NaN"),
            (draft(None, f64::INFINITY), "inf"),
            (draft(Some(1.0), f64::NEG_INFINITY), "-inf"),
        ] {
            let error = <JsonText as Encodes<_>>::encode(&value)
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                format!("the number {shown} cannot be sent: JSON carries finite numbers only")
            );
        }
        let sent = <JsonText as Encodes<_>>::encode(&draft(None, 2.5)).unwrap();
        assert_eq!(
            &sent[..],
            br#"{"name":"Lamp","price":null,"rows":[[1.0,2.5]]}"#
        );
    }

    #[test]
    fn bytes_that_are_not_text_are_refused_with_the_reason() {
        let error =
            <JsonText as Decodes<String>>::decode(Bytes::from_static(b"\"\xff\"")).unwrap_err();
        assert!(error.to_string().contains("utf-8"), "{error}");
    }
}
