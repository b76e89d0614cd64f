//! A request's media type, as the doors and the front layer read it.

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};

/// The request's media type without its parameters, as sent; media types
/// compare without regard to case (RFC 9110), so no lowercased copy is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct MediaType<'a>(&'a str);

impl<'a> MediaType<'a> {
    /// The `Content-Type` of `headers` (empty when missing or not text).
    pub fn of(headers: &'a HeaderMap) -> MediaType<'a> {
        headers
            .get(CONTENT_TYPE)
            .map_or_else(MediaType::default, MediaType::from_value)
    }

    /// The media type of a `Content-Type` value (empty when it is not text).
    pub fn from_value(value: &'a HeaderValue) -> MediaType<'a> {
        let text = value.to_str().unwrap_or_default();
        MediaType(text.split(';').next().unwrap_or_default().trim())
    }

    /// Whether this is `name`, in any case.
    pub fn is(self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }

    /// `application/json` or one of its `application/*+json` relatives.
    pub fn is_json(self) -> bool {
        const APPLICATION: &str = "application/";
        const JSON_SUFFIX: &str = "+json";
        let text = self.0.as_bytes();
        self.is("application/json")
            || (text.len() > APPLICATION.len() + JSON_SUFFIX.len()
                && text[..APPLICATION.len()].eq_ignore_ascii_case(APPLICATION.as_bytes())
                && text[text.len() - JSON_SUFFIX.len()..]
                    .eq_ignore_ascii_case(JSON_SUFFIX.as_bytes()))
    }
}

impl std::fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header::CONTENT_TYPE;
    use axum::http::HeaderMap;

    use super::MediaType;

    fn media_type(value: &str) -> (bool, bool, String) {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, value.parse().unwrap());
        let mime = MediaType::of(&headers);
        (mime.is_json(), mime.is("text/plain"), mime.to_string())
    }

    #[test]
    fn media_types_compare_without_case_or_parameters() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            (true, false, "Application/JSON".into())
        );
        assert!(media_type("application/problem+JSON").0);
        assert!(!media_type("application/+json").0);
        assert!(!media_type("application/jsonx").0);
        assert!(!media_type("text/json").0);
        assert!(media_type(" TEXT/Plain ").1);
        // Parameters are not the media type's business, whatever they hold.
        assert!(media_type("application/json; charset=\"utf-8\"").0);
        assert_eq!(MediaType::of(&HeaderMap::new()).to_string(), "");
    }
}
