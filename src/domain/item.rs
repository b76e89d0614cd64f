//! The catalogue item and the steps from raw input to a valid item.

use serde::{Deserialize, Serialize};

use super::validation::{self, FieldError};
use super::{CATEGORY_MAX_CHARS, DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS};

/// The largest item id, explicit or assigned: 2^53 − 1, the largest integer
/// that JavaScript (every browser, `JSON.parse`) holds exactly, so every
/// client reads back the id it was given.
pub const MAX_ITEM_ID: i64 = (1 << 53) - 1;

/// A stored catalogue item, as every client sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(example = json!({
    "id": 1, "name": "Item One", "description": "This is the first item.", "category": null, "price": null,
    "created_at": "2026-01-01T12:00:00.000Z", "updated_at": "2026-01-01T12:00:00.000Z",
    "version": 1
})))]
pub struct Item {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price: Option<f64>,
    /// RFC 3339, set by the server.
    pub created_at: String,
    /// RFC 3339, set by the server.
    pub updated_at: String,
    /// Starts at 1 and grows by one on every update.
    pub version: i64,
}

/// Item fields as a client sent them, not yet validated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemDraft {
    pub name: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price: Option<f64>,
}

/// Item fields that passed validation; only [`ItemDraft::validate`] makes one.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidItem {
    name: String,
    description: Option<String>,
    category: Option<String>,
    price: Option<f64>,
}

impl ValidItem {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    pub fn category(&self) -> Option<&str> {
        self.category.as_deref()
    }
    pub fn price(&self) -> Option<f64> {
        self.price
    }
}

impl From<ValidItem> for ItemDraft {
    fn from(v: ValidItem) -> Self {
        ItemDraft {
            name: v.name,
            description: v.description,
            category: v.category,
            price: v.price,
        }
    }
}

impl ItemDraft {
    /// The editable fields of a stored item.
    pub fn of(item: &Item) -> Self {
        ItemDraft {
            name: item.name.clone(),
            description: item.description.clone(),
            category: item.category.clone(),
            price: item.price,
        }
    }

    /// Checks every field and reports every problem, not just the first.
    ///
    /// Names and categories are trimmed; blank optional fields become `None`.
    pub fn validate(&self) -> Result<ValidItem, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = validation::required_text("name", &self.name, NAME_MAX_CHARS)
            .map_err(|e| errors.push(e))
            .ok();
        let description = validation::optional_text(
            "description",
            self.description.as_deref(),
            DESCRIPTION_MAX_CHARS,
            false,
        )
        .map_err(|e| errors.push(e))
        .ok();
        let category = validation::optional_text(
            "category",
            self.category.as_deref(),
            CATEGORY_MAX_CHARS,
            true,
        )
        .map_err(|e| errors.push(e))
        .ok();
        let price = validation::price("price", self.price)
            .map_err(|e| errors.push(e))
            .ok();
        match (name, description, category, price) {
            (Some(name), Some(description), Some(category), Some(price)) => Ok(ValidItem {
                name,
                description,
                category,
                price,
            }),
            _ => Err(errors),
        }
    }
}

/// The item form as typed into text boxes in the browser.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemForm {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price: String,
}

impl ItemForm {
    /// Pre-fills the form from a stored item (for editing).
    pub fn from_item(item: &Item) -> Self {
        ItemForm {
            name: item.name.clone(),
            description: item.description.clone().unwrap_or_default(),
            category: item.category.clone().unwrap_or_default(),
            price: item.price.map(|p| p.to_string()).unwrap_or_default(),
        }
    }

    /// Parses the text boxes and validates the result with the same rules as
    /// the server.
    pub fn validate(&self) -> Result<ValidItem, Vec<FieldError>> {
        let price = validation::parse_number("price", &self.price);
        let draft = ItemDraft {
            name: self.name.clone(),
            description: Some(self.description.clone()),
            category: Some(self.category.clone()),
            price: price.clone().ok().flatten(),
        };
        let result = draft.validate();
        match price {
            Ok(_) => result,
            Err(parse_error) => {
                let mut errors = result.err().unwrap_or_default();
                errors.push(parse_error);
                Err(errors)
            }
        }
    }
}

/// One page of a listing, with the number of items matching the filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub total: Total,
    /// How many items come before this page, as far as its cursor knows
    /// (for "Showing 21–40"; rows written since may have moved it).
    pub offset: u64,
    /// The cursor of the page after this one, if there is one.
    pub next: Option<String>,
    /// The cursor of the page before this one, if there is one.
    pub prev: Option<String>,
}

impl ItemPage {
    pub fn new(listing: Listing, total: Total) -> ItemPage {
        ItemPage {
            items: listing.items,
            total,
            offset: listing.offset,
            next: listing.next,
            prev: listing.prev,
        }
    }
}

/// One page of a listing and the cursors of the pages beside it
/// ([`crate::domain::ItemQuery::cursor`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    pub items: Vec<Item>,
    /// How many items come before the page (see [`ItemPage::offset`]).
    pub offset: u64,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// How many items a query matches. Counting the matches of a search or a
/// price filter costs a scan of them, so it stops at a bound: past it,
/// `n` is the bound and `exact` is false ("more than n"). The totals of
/// everything and of one category are kept with every write and always
/// exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub n: u64,
    pub exact: bool,
}

impl Total {
    pub fn exact(n: u64) -> Total {
        Total { n, exact: true }
    }

    /// A count of at most `bound + 1` matches: `bound` and not exact when
    /// it went past.
    pub fn bounded(counted: u64, bound: u64) -> Total {
        Total {
            n: counted.min(bound),
            exact: counted <= bound,
        }
    }
}

impl std::fmt::Display for Total {
    /// `1 234`, or `more than 10 000`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.n.to_string();
        let mut grouped = String::new();
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push('\u{202f}');
            }
            grouped.push(digit);
        }
        match self.exact {
            true => f.write_str(&grouped),
            false => write!(f, "more than {grouped}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_past_its_bound_says_so() {
        assert_eq!(Total::bounded(10, 10), Total::exact(10));
        assert_eq!(
            Total::bounded(11, 10),
            Total {
                n: 10,
                exact: false
            }
        );
        assert_eq!(Total::exact(1234).to_string(), "1\u{202f}234");
        assert_eq!(
            Total::bounded(10_001, 10_000).to_string(),
            "more than 10\u{202f}000"
        );
        assert_eq!(Total::exact(0).to_string(), "0");
    }

    fn draft(name: &str) -> ItemDraft {
        ItemDraft {
            name: name.into(),
            ..Default::default()
        }
    }

    fn kinds(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.kind.as_str()))
            .collect()
    }

    #[test]
    fn a_name_is_trimmed() {
        let valid = draft("  Lamp \n").validate().unwrap();
        assert_eq!(valid.name(), "Lamp");
    }

    #[test]
    fn an_empty_or_blank_name_is_rejected() {
        for name in ["", "   ", "\t\n"] {
            let errors = draft(name).validate().unwrap_err();
            assert_eq!(kinds(&errors), [("name", "string_too_short")]);
        }
    }

    #[test]
    fn a_name_of_200_characters_is_accepted_and_201_rejected() {
        assert!(draft(&"é".repeat(200)).validate().is_ok());
        let errors = draft(&"é".repeat(201)).validate().unwrap_err();
        assert_eq!(kinds(&errors), [("name", "string_too_long")]);
    }

    #[test]
    fn description_and_category_have_length_limits() {
        let item = ItemDraft {
            name: "x".into(),
            description: Some("d".repeat(2001)),
            category: Some("c".repeat(101)),
            price: None,
        };
        let errors = item.validate().unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("description", "string_too_long"),
                ("category", "string_too_long")
            ]
        );
    }

    #[test]
    fn blank_optional_fields_become_none() {
        let item = ItemDraft {
            name: "x".into(),
            description: Some("  ".into()),
            category: Some("".into()),
            price: None,
        };
        let valid = item.validate().unwrap();
        assert_eq!(valid.description(), None);
        assert_eq!(valid.category(), None);
    }

    #[test]
    fn negative_and_non_finite_prices_are_rejected() {
        for (price, kind) in [
            (-0.01, "greater_than_equal"),
            (f64::NAN, "finite_number"),
            (f64::INFINITY, "finite_number"),
        ] {
            let item = ItemDraft {
                price: Some(price),
                ..draft("x")
            };
            assert_eq!(kinds(&item.validate().unwrap_err()), [("price", kind)]);
        }
        let free = ItemDraft {
            price: Some(0.0),
            ..draft("x")
        };
        assert_eq!(free.validate().unwrap().price(), Some(0.0));
    }

    #[test]
    fn every_invalid_field_is_reported() {
        let item = ItemDraft {
            name: "".into(),
            description: None,
            category: Some("c".repeat(101)),
            price: Some(-1.0),
        };
        let errors = item.validate().unwrap_err();
        assert_eq!(
            kinds(&errors),
            [
                ("name", "string_too_short"),
                ("category", "string_too_long"),
                ("price", "greater_than_equal")
            ]
        );
    }

    #[test]
    fn the_form_reports_an_unparsable_price_with_other_errors() {
        let form = ItemForm {
            name: "".into(),
            price: "twelve".into(),
            ..Default::default()
        };
        let errors = form.validate().unwrap_err();
        assert_eq!(
            kinds(&errors),
            [("name", "string_too_short"), ("price", "float_parsing")]
        );
    }

    #[test]
    fn the_form_round_trips_an_item() {
        let item = Item {
            id: 1,
            name: "Lamp".into(),
            description: Some("Bright".into()),
            category: Some("Home".into()),
            price: Some(12.5),
            created_at: String::new(),
            updated_at: String::new(),
            version: 1,
        };
        let valid = ItemForm::from_item(&item).validate().unwrap();
        assert_eq!(valid.price(), Some(12.5));
        assert_eq!(valid.category(), Some("Home"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            " {0,3}[a-z]{0,5} {0,3}",
            ".{195,205}",
            ".{1995,2005}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Validation never panics, and what it accepts is within every
        /// limit; what it refuses names each bad field with a sentence.
        #[test]
        fn validation_accepts_only_what_fits(
            name in text(),
            description in proptest::option::of(text()),
            category in proptest::option::of(text()),
            price in proptest::option::of(any::<f64>()),
        ) {
            let draft = ItemDraft { name, description, category, price };
            match draft.validate() {
                Ok(valid) => {
                    prop_assert!(!valid.name().trim().is_empty());
                    prop_assert_eq!(valid.name(), valid.name().trim());
                    prop_assert!(valid.name().chars().count() <= NAME_MAX_CHARS);
                    prop_assert!(valid.description().is_none_or(|d| d.chars().count() <= DESCRIPTION_MAX_CHARS));
                    prop_assert!(valid.category().is_none_or(|c| c.chars().count() <= CATEGORY_MAX_CHARS));
                    prop_assert!(valid.price().is_none_or(|p| p.is_finite() && p >= 0.0));
                    // Validating the result again changes nothing.
                    prop_assert_eq!(ItemDraft::from(valid.clone()).validate(), Ok(valid));
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in &errors {
                        prop_assert!(["name", "description", "category", "price"].contains(&e.field.as_str()));
                        prop_assert!(!e.message.is_empty());
                    }
                }
            }
        }
    }
}
