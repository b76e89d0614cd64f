//! Turns a JSON body into an optional id and a [`ValidItem`], reporting
//! every bad field at once in pydantic's shape.

use serde_json::{json, Value};

use super::error::{ApiError, ValidationDetail};
use crate::domain::{ItemObject, ObjectProblem, ValidItem};

/// A parsed `POST /items/` or `PUT /items/{id}` body.
pub struct ItemBody {
    pub id: Option<i64>,
    pub item: ValidItem,
}

impl ItemBody {
    pub fn parse(body: &Value) -> Result<ItemBody, ApiError> {
        match ItemObject::parse(body) {
            Ok(ItemObject { id, item }) => Ok(ItemBody { id, item }),
            Err(problems) => Err(ApiError::Validation(
                problems
                    .into_iter()
                    .map(|p| detail(vec![json!("body")], p))
                    .collect(),
            )),
        }
    }
}

/// A problem of an item object as a 422 entry, located under `loc` (and
/// its field, if it has one).
pub fn detail(mut loc: Vec<Value>, problem: ObjectProblem) -> ValidationDetail {
    loc.extend(problem.field.map(Value::String));
    let detail = ValidationDetail::at(loc, &problem.kind, problem.message, problem.input);
    match problem.ctx {
        Some(ctx) => detail.with_ctx(ctx),
        None => detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_ITEM_ID;

    fn errors(body: Value) -> Vec<(String, String)> {
        match ItemBody::parse(&body) {
            Err(ApiError::Validation(details)) => details
                .into_iter()
                .map(|d| (d.loc[1].as_str().unwrap_or_default().to_owned(), d.kind))
                .collect(),
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => vec![],
        }
    }

    #[test]
    fn the_original_example_parses() {
        let body =
            ItemBody::parse(&json!({"id": 4, "name": "Item Four", "description": "Great item"}))
                .unwrap();
        assert_eq!(body.id, Some(4));
        assert_eq!(body.item.name(), "Item Four");
    }

    #[test]
    fn type_and_value_errors_are_all_reported_in_field_order() {
        let found = errors(json!({"id": "x", "name": "", "category": 5, "price": -3}));
        let expected = [
            ("id", "int_type"),
            ("name", "string_too_short"),
            ("category", "string_type"),
            ("price", "greater_than_equal"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_missing_name_is_reported_as_missing() {
        assert_eq!(
            errors(json!({"description": "x"})),
            [("name".to_string(), "missing".to_string())]
        );
    }

    #[test]
    fn a_non_object_body_is_rejected() {
        assert!(matches!(
            ItemBody::parse(&json!([1, 2])),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert_eq!(errors(json!({"id": 0, "name": "a"}))[0].1, "greater_than");
        assert_eq!(errors(json!({"id": 1.5, "name": "a"}))[0].1, "int_type");
        assert!(ItemBody::parse(&json!({"id": 7.0, "name": "a"})).is_ok());
    }

    #[test]
    fn ids_stop_at_the_largest_integer_javascript_holds_exactly() {
        let body = ItemBody::parse(&json!({"id": MAX_ITEM_ID, "name": "a"})).unwrap();
        assert_eq!(body.id, Some(MAX_ITEM_ID));
        for id in [
            json!(MAX_ITEM_ID + 1),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e20),
        ] {
            assert_eq!(
                errors(json!({"id": id, "name": "a"})),
                [("id".to_string(), "less_than_equal".to_string())],
                "{id}"
            );
        }
    }
}
