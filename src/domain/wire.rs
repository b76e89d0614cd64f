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

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AppError;

    #[test]
    fn a_value_comes_back_as_it_was_sent() {
        let sent: Result<Vec<String>, AppError> = Ok(vec!["Lighting".into(), "Éclairage".into()]);
        let bytes = <JsonText as Encodes<_>>::encode(&sent).unwrap();
        let back: Result<Vec<String>, AppError> = JsonText::decode(bytes).unwrap();
        assert_eq!(back.unwrap(), ["Lighting", "Éclairage"]);
    }

    #[test]
    fn bytes_that_are_not_text_are_refused_with_the_reason() {
        let error =
            <JsonText as Decodes<String>>::decode(Bytes::from_static(b"\"\xff\"")).unwrap_err();
        assert!(error.to_string().contains("utf-8"), "{error}");
    }
}
