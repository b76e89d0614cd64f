//! Field-level validation errors and the limits they enforce.

use serde::{Deserialize, Serialize};

/// Longest accepted item name, in characters, after trimming.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest accepted description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2000;
/// Longest accepted category, in characters, after trimming.
pub const CATEGORY_MAX_CHARS: usize = 100;

/// One problem with one input field.
///
/// `kind` uses the error type names of pydantic (`missing`, `string_too_long`,
/// ...) because the REST API keeps the original FastAPI app's error contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as it appears in JSON bodies and query strings.
    pub field: String,
    /// A machine-readable error type, e.g. `string_too_long`.
    pub kind: String,
    /// A sentence for people.
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, kind: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            kind: kind.to_owned(),
            message: message.into(),
        }
    }

    /// The first error reported for `field`, if any.
    pub fn find<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a FieldError> {
        errors.iter().find(|e| e.field == field)
    }
}

/// Checks a required text field: trimmed, non-empty, at most `max` characters.
pub(crate) fn required_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(
            field,
            "string_too_short",
            "String should have at least 1 character",
        ));
    }
    check_length(field, trimmed, max)?;
    check_characters(field, trimmed, false)?;
    Ok(trimmed.to_owned())
}

/// Checks an optional text field; blank input means "no value".
pub(crate) fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
    trim: bool,
) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let value = if trim { raw.trim() } else { raw };
    check_length(field, value, max)?;
    // Trimmed fields are single-line ones (category); the untrimmed one
    // (description) is free text.
    check_characters(field, value, !trim)?;
    Ok(Some(value.to_owned()))
}

fn check_length(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            "string_too_long",
            format!("String should have at most {max} characters"),
        ));
    }
    Ok(())
}

/// Refuses control characters (NUL among them, which databases truncate
/// at); multi-line text may hold line breaks and tabs.
fn check_characters(field: &str, value: &str, multiline: bool) -> Result<(), FieldError> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        let message = if multiline {
            "String should not contain control characters other than line breaks and tabs"
        } else {
            "String should not contain control characters such as line breaks"
        };
        return Err(FieldError::new(field, "string_pattern_mismatch", message));
    }
    Ok(())
}

/// Checks an optional price: finite and not negative.
pub(crate) fn price(field: &str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        None => Ok(None),
        Some(p) if !p.is_finite() => Err(FieldError::new(
            field,
            "finite_number",
            "Input should be a finite number",
        )),
        Some(p) if p < 0.0 => Err(FieldError::new(
            field,
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        )),
        Some(p) => Ok(Some(p)),
    }
}

/// Parses a number typed into a text box; blank means "no value".
pub(crate) fn parse_number(field: &str, raw: &str) -> Result<Option<f64>, FieldError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<f64>().map(Some).map_err(|_| {
        FieldError::new(
            field,
            "float_parsing",
            "Input should be a valid number, unable to parse string as a number",
        )
    })
}
