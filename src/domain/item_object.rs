//! An item as a JSON object (a `POST /items/` body, a line of an NDJSON
//! import, a row of a CSV import once its text is typed): checked for
//! types, then by the item rules, reporting every bad field at once.

use serde_json::{json, Value};

use super::{ItemDraft, ValidItem, MAX_ITEM_ID};

/// An object's optional id and its valid fields.
#[derive(Clone, Debug)]
pub struct ItemObject {
    pub id: Option<i64>,
    pub item: ValidItem,
}

/// What is wrong with one field of an object (or, with no field, with the
/// object as a whole), in the terms of pydantic's error entries.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectProblem {
    /// `None` when the value is not an object at all.
    pub field: Option<String>,
    /// pydantic's error type (`missing`, `string_too_long`, ...).
    pub kind: String,
    pub message: String,
    /// The value that was refused.
    pub input: Value,
    /// The limit broken, e.g. `{"gt": 0}`.
    pub ctx: Option<Value>,
}

impl ObjectProblem {
    /// A problem of one field.
    pub fn of_field(field: &str, kind: &str, message: impl Into<String>, input: Value) -> Self {
        Self::at(field, kind, message, input)
    }

    /// A problem of the value as a whole (no field).
    pub fn whole(kind: &str, message: impl Into<String>, input: Value) -> Self {
        ObjectProblem {
            field: None,
            kind: kind.to_owned(),
            message: message.into(),
            input,
            ctx: None,
        }
    }

    fn at(field: &str, kind: &str, message: impl Into<String>, input: Value) -> Self {
        ObjectProblem {
            field: Some(field.to_owned()),
            kind: kind.to_owned(),
            message: message.into(),
            input,
            ctx: None,
        }
    }
}

impl ItemObject {
    pub fn parse(body: &Value) -> Result<ItemObject, Vec<ObjectProblem>> {
        let Some(object) = body.as_object() else {
            return Err(vec![ObjectProblem {
                field: None,
                kind: "model_attributes_type".into(),
                message: "Input should be a valid dictionary or object to extract fields from"
                    .into(),
                input: body.clone(),
                ctx: None,
            }]);
        };
        let mut problems = Vec::new();
        let input = |field: &str| object.get(field).cloned().unwrap_or(Value::Null);

        let id = match object.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => match integer(v) {
                Some(id) if (1..=MAX_ITEM_ID as i128).contains(&id) => Some(id as i64),
                Some(id) if id < 1 => {
                    problems.push(ObjectProblem {
                        ctx: Some(json!({"gt": 0})),
                        ..ObjectProblem::at(
                            "id",
                            "greater_than",
                            "Input should be greater than 0",
                            v.clone(),
                        )
                    });
                    None
                }
                Some(_) => {
                    problems.push(ObjectProblem {
                        ctx: Some(json!({"le": MAX_ITEM_ID})),
                        ..ObjectProblem::at(
                            "id",
                            "less_than_equal",
                            format!(
                                "Input should be less than or equal to {MAX_ITEM_ID} \
                                 (2^53 - 1, the largest integer JavaScript clients read exactly)"
                            ),
                            v.clone(),
                        )
                    });
                    None
                }
                None => {
                    problems.push(ObjectProblem::at(
                        "id",
                        "int_type",
                        "Input should be a valid integer",
                        v.clone(),
                    ));
                    None
                }
            },
        };
        let name = match object.get("name") {
            None => {
                problems.push(ObjectProblem::at(
                    "name",
                    "missing",
                    "Field required",
                    Value::Null,
                ));
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                problems.push(ObjectProblem::at(
                    "name",
                    "string_type",
                    "Input should be a valid string",
                    v.clone(),
                ));
                None
            }
        };
        let mut optional_text = |field: &str| match object.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                problems.push(ObjectProblem::at(
                    field,
                    "string_type",
                    "Input should be a valid string",
                    v.clone(),
                ));
                None
            }
        };
        let description = optional_text("description");
        let category = optional_text("category");
        let price = match object.get("price") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(v) => {
                problems.push(ObjectProblem::at(
                    "price",
                    "float_type",
                    "Input should be a valid number",
                    v.clone(),
                ));
                None
            }
        };

        let draft = ItemDraft {
            name: name.unwrap_or_else(|| "placeholder".into()),
            description,
            category,
            price,
        };
        match draft.validate() {
            Ok(item) if problems.is_empty() => Ok(ItemObject { id, item }),
            Ok(_) => Err(problems),
            Err(field_errors) => {
                // A field with a type error has no value to check further.
                let more: Vec<ObjectProblem> = field_errors
                    .into_iter()
                    .filter(|e| {
                        !problems
                            .iter()
                            .any(|p| p.field.as_deref() == Some(&e.field))
                    })
                    .map(|e| {
                        let value = input(&e.field);
                        ObjectProblem::at(&e.field, &e.kind, e.message, value)
                    })
                    .collect();
                problems.extend(more);
                problems.sort_by_key(|p| field_order(p.field.as_deref()));
                Err(problems)
            }
        }
    }
}

/// Applies a JSON merge patch (RFC 7396) to `target`: object members of
/// the patch replace the target's, `null` removes a member, objects merge
/// recursively, and anything else replaces the target whole.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Value::Object(object) = target else {
        unreachable!("target was made an object above")
    };
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_patch(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Accepts JSON integers of any size, and floats with no fractional part
/// (as pydantic does); wide enough that an out-of-range id is reported as
/// out of range rather than as "not an integer".
fn integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e30)
                    .map(|f| f as i128)
            }),
        _ => None,
    }
}

/// Problems in the order of the fields.
fn field_order(field: Option<&str>) -> usize {
    ["id", "name", "description", "category", "price"]
        .iter()
        .position(|f| field == Some(*f))
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge_patch;

    #[test]
    fn merge_patch_follows_the_rfc_7396_examples() {
        // Every example of RFC 7396, appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut result = target.clone();
            merge_patch(&mut result, &patch);
            assert_eq!(result, expected, "{target} patched with {patch}");
        }
    }
}
