//! Listing parameters: paging, search, filters and sort order.
//!
//! The REST API reads them from its query string and the UI from the page
//! URL, both through [`ItemQuery::from_pairs`].

use serde::{Deserialize, Serialize};

use super::validation::FieldError;

/// Page size when none is given.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page a client may ask for.
pub const MAX_LIMIT: u32 = 1000;
/// Longest accepted search text, in characters.
const MAX_SEARCH_CHARS: usize = 200;
/// Longest accepted cursor, in characters: one holding the longest
/// description (2 000 four-byte characters) fits.
const MAX_CURSOR_CHARS: usize = 16_384;

/// A column the listing can be ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SortField {
    #[default]
    Id,
    Name,
    Description,
    Category,
    Price,
    CreatedAt,
    UpdatedAt,
    Version,
}

impl SortField {
    /// Every sortable field, in column order.
    pub const ALL: [SortField; 8] = [
        SortField::Id,
        SortField::Name,
        SortField::Description,
        SortField::Category,
        SortField::Price,
        SortField::CreatedAt,
        SortField::UpdatedAt,
        SortField::Version,
    ];

    /// The field's name in JSON and in `sort=` parameters (and its column).
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Id => "id",
            SortField::Name => "name",
            SortField::Description => "description",
            SortField::Category => "category",
            SortField::Price => "price",
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::Version => "version",
        }
    }

    pub fn parse(s: &str) -> Option<SortField> {
        SortField::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Which items to list and in what order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemQuery {
    pub skip: u64,
    pub limit: u32,
    /// Case-insensitive substring of the name or description.
    pub q: Option<String>,
    /// Exact category, ignoring case.
    pub category: Option<String>,
    /// Only items with a price strictly below this.
    pub price_lt: Option<f64>,
    pub sort: SortField,
    pub descending: bool,
    /// Where the page starts: a `next` or `prev` cursor of an earlier page
    /// of the same listing (same filters and sort), opaque to clients. The
    /// page is then found by the position of that page's last (or first)
    /// row, so rows written meanwhile neither repeat nor skip a row.
    pub cursor: Option<String>,
}

impl Default for ItemQuery {
    fn default() -> Self {
        ItemQuery {
            skip: 0,
            limit: DEFAULT_LIMIT,
            q: None,
            category: None,
            price_lt: None,
            sort: SortField::Id,
            descending: false,
            cursor: None,
        }
    }
}

impl ItemQuery {
    /// Builds a query from `key=value` pairs, reporting every bad value.
    ///
    /// Unknown keys are ignored; for a repeated key the last value wins;
    /// blank text filters mean "no filter".
    pub fn from_pairs<K, V>(
        pairs: impl IntoIterator<Item = (K, V)>,
        default_limit: u32,
    ) -> Result<ItemQuery, Vec<FieldError>>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut query = ItemQuery {
            limit: default_limit,
            ..ItemQuery::default()
        };
        let mut errors: Vec<FieldError> = Vec::new();
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            errors.retain(|e| e.field != key);
            let result = match key {
                "skip" => parse_int(key, value, 0, u64::MAX).map(|v| query.skip = v),
                "limit" => {
                    parse_int(key, value, 0, MAX_LIMIT as u64).map(|v| query.limit = v as u32)
                }
                "q" => text_filter(key, value).map(|v| query.q = v),
                "category" => text_filter(key, value).map(|v| query.category = v),
                "price_lt" => parse_float(key, value).map(|v| query.price_lt = v),
                "sort" => parse_sort(value).map(|(f, d)| {
                    query.sort = f;
                    query.descending = d;
                }),
                "cursor" => cursor(value).map(|v| query.cursor = v),
                _ => Ok(()),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
        if query.cursor.is_some() && query.skip != 0 && !errors.iter().any(|e| e.field == "skip") {
            errors.push(FieldError::new(
                "skip",
                "skip_with_cursor",
                "skip cannot be combined with cursor: the cursor already says where the page starts",
            ));
        }
        if errors.is_empty() {
            Ok(query)
        } else {
            Err(errors)
        }
    }

    /// This query checked by the rules of [`ItemQuery::from_pairs`], for a
    /// query that arrives already typed (a server function's argument):
    /// both doors then refuse the same values (a page of 4 294 967 295
    /// rows, a search text of 100 000 characters).
    pub fn checked(self) -> Result<ItemQuery, Vec<FieldError>> {
        ItemQuery::from_pairs(self.to_pairs(DEFAULT_LIMIT), DEFAULT_LIMIT)
    }

    /// The query as `key=value` pairs, leaving out defaults, so that
    /// `from_pairs(q.to_pairs(d), d)` gives `q` back.
    pub fn to_pairs(&self, default_limit: u32) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(c) = &self.category {
            pairs.push(("category", c.clone()));
        }
        if let Some(p) = self.price_lt {
            pairs.push(("price_lt", p.to_string()));
        }
        if self.sort != SortField::Id || self.descending {
            pairs.push(("sort", self.sort_param()));
        }
        if self.skip != 0 {
            pairs.push(("skip", self.skip.to_string()));
        }
        if let Some(cursor) = &self.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        if self.limit != default_limit {
            pairs.push(("limit", self.limit.to_string()));
        }
        pairs
    }

    /// The query as a URL query string (without `?`), defaults left out.
    pub fn to_query_string(&self, default_limit: u32) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.to_pairs(default_limit))
            .finish()
    }

    /// True when any filter (search text, category, price) is set.
    pub fn is_filtered(&self) -> bool {
        self.q.is_some() || self.category.is_some() || self.price_lt.is_some()
    }

    /// The `sort=` value: the field name, `-` first when descending.
    pub fn sort_param(&self) -> String {
        if self.descending {
            format!("-{}", self.sort.as_str())
        } else {
            self.sort.as_str().to_owned()
        }
    }
}

/// An integer query or path parameter between `min` and `max`.
pub(crate) fn parse_int(field: &str, raw: &str, min: u64, max: u64) -> Result<u64, FieldError> {
    let value: i128 = raw.trim().parse().map_err(|_| {
        FieldError::new(
            field,
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer",
        )
    })?;
    if value < min as i128 {
        return Err(FieldError::new(
            field,
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
        ));
    }
    if value > max as i128 {
        return Err(FieldError::new(
            field,
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    Ok(value as u64)
}

fn parse_float(field: &str, raw: &str) -> Result<Option<f64>, FieldError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        Ok(_) => Err(FieldError::new(
            field,
            "finite_number",
            "Input should be a finite number",
        )),
        Err(_) => Err(FieldError::new(
            field,
            "float_parsing",
            "Input should be a valid number, unable to parse string as a number",
        )),
    }
}

fn text_filter(field: &str, raw: &str) -> Result<Option<String>, FieldError> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_SEARCH_CHARS {
        return Err(FieldError::new(
            field,
            "string_too_long",
            format!("String should have at most {MAX_SEARCH_CHARS} characters"),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn cursor(raw: &str) -> Result<Option<String>, FieldError> {
    let trimmed = raw.trim();
    if trimmed.len() > MAX_CURSOR_CHARS {
        return Err(FieldError::new(
            "cursor",
            "string_too_long",
            format!("String should have at most {MAX_CURSOR_CHARS} characters"),
        ));
    }
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

fn parse_sort(raw: &str) -> Result<(SortField, bool), FieldError> {
    let raw = raw.trim();
    let (name, descending) = match raw.strip_prefix('-') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    SortField::parse(name)
        .map(|f| (f, descending))
        .ok_or_else(|| {
            let names: Vec<&str> = SortField::ALL.iter().map(|f| f.as_str()).collect();
            FieldError::new(
                "sort",
                "enum",
                format!(
                    "Input should be one of {} (prefix '-' for descending)",
                    names.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<ItemQuery, Vec<FieldError>> {
        ItemQuery::from_pairs(pairs.iter().copied(), DEFAULT_LIMIT)
    }

    #[test]
    fn a_typed_query_is_checked_by_the_same_rules() {
        let fine = ItemQuery {
            skip: 20,
            limit: 10,
            q: Some("lamp".into()),
            category: Some("Home".into()),
            price_lt: Some(9.5),
            sort: SortField::Price,
            descending: true,
            cursor: None,
        };
        assert_eq!(fine.clone().checked().unwrap(), fine);
        let huge = ItemQuery {
            limit: u32::MAX,
            q: Some("x".repeat(100_000)),
            category: Some("c".repeat(5_000)),
            ..ItemQuery::default()
        };
        let fields: Vec<String> = huge
            .checked()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["q", "category", "limit"]);
    }

    #[test]
    fn no_parameters_give_the_defaults() {
        assert_eq!(parse(&[]).unwrap(), ItemQuery::default());
    }

    #[test]
    fn every_parameter_is_read() {
        let q = parse(&[
            ("skip", "5"),
            ("limit", "10"),
            ("q", " lamp "),
            ("category", "Home"),
            ("price_lt", "9.5"),
            ("sort", "-price"),
            ("unknown", "ignored"),
        ])
        .unwrap();
        assert_eq!(q.skip, 5);
        assert_eq!(q.limit, 10);
        assert_eq!(q.q.as_deref(), Some("lamp"));
        assert_eq!(q.category.as_deref(), Some("Home"));
        assert_eq!(q.price_lt, Some(9.5));
        assert_eq!((q.sort, q.descending), (SortField::Price, true));
    }

    #[test]
    fn every_bad_value_is_reported() {
        let errors = parse(&[
            ("skip", "-1"),
            ("limit", "1001"),
            ("price_lt", "cheap"),
            ("sort", "colour"),
        ])
        .unwrap_err();
        let kinds: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("skip", "greater_than_equal"),
                ("limit", "less_than_equal"),
                ("price_lt", "float_parsing"),
                ("sort", "enum")
            ]
        );
    }

    #[test]
    fn non_finite_price_filters_are_rejected() {
        for raw in ["NaN", "inf", "-infinity"] {
            let errors = parse(&[("price_lt", raw)]).unwrap_err();
            assert_eq!(errors[0].kind, "finite_number");
        }
    }

    #[test]
    fn a_later_good_value_replaces_an_earlier_bad_one() {
        let q = parse(&[("limit", "x"), ("limit", "7")]).unwrap();
        assert_eq!(q.limit, 7);
    }

    #[test]
    fn a_cursor_is_kept_as_given_and_refuses_a_skip_beside_it() {
        let q = parse(&[("cursor", " abc "), ("sort", "name")]).unwrap();
        assert_eq!(q.cursor.as_deref(), Some("abc"));
        let errors = parse(&[("skip", "20"), ("cursor", "abc")]).unwrap_err();
        assert_eq!(errors[0].field, "skip");
        assert_eq!(errors[0].kind, "skip_with_cursor");
        let errors = parse(&[("cursor", &"a".repeat(20_000))]).unwrap_err();
        assert_eq!(errors[0].kind, "string_too_long");
    }

    #[test]
    fn pairs_round_trip() {
        let q = parse(&[("q", "a b"), ("sort", "-name"), ("skip", "20")]).unwrap();
        let back = ItemQuery::from_pairs(q.to_pairs(DEFAULT_LIMIT), DEFAULT_LIMIT).unwrap();
        assert_eq!(q, back);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        let key = prop_oneof![
            Just("skip".to_owned()),
            Just("limit".to_owned()),
            Just("q".to_owned()),
            Just("category".to_owned()),
            Just("price_lt".to_owned()),
            Just("sort".to_owned()),
            Just("cursor".to_owned()),
            any::<String>(),
        ];
        let value = prop_oneof![
            any::<String>(),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            Just("-price".to_owned()),
            Just("created_at".to_owned()),
        ];
        prop::collection::vec((key, value), 0..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any query string either fails with errors naming real fields, or
        /// gives a query that survives the trip through a URL unchanged.
        #[test]
        fn queries_parse_or_explain_and_round_trip(pairs in pairs()) {
            match ItemQuery::from_pairs(pairs.iter().map(|(k, v)| (k, v)), DEFAULT_LIMIT) {
                Ok(query) => {
                    prop_assert!(query.limit <= MAX_LIMIT);
                    let url = query.to_query_string(DEFAULT_LIMIT);
                    let back = ItemQuery::from_pairs(
                        form_urlencoded::parse(url.as_bytes()),
                        DEFAULT_LIMIT,
                    );
                    prop_assert_eq!(back, Ok(query));
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(pairs.iter().any(|(k, _)| *k == e.field));
                        prop_assert!(!e.message.is_empty());
                    }
                }
            }
        }
    }
}
