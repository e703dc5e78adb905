//! Request checks shared by the handlers; each failure is a 422 whose message names the field.

use crate::error::ApiError;
use nova_engine::{Condition, Filter};
use std::collections::BTreeMap;

/// A filter from a `{"field": "value"}` map (every pair must match); field names are checked, and at most
/// `max` conditions are accepted (each costs a payload-index lookup). The engine refuses fields it
/// enforces itself (`acl`).
pub(crate) fn filters(map: &BTreeMap<String, String>, max: usize) -> Result<Filter, ApiError> {
    at_most("filters", map.len(), max)?;
    let mut filter = Filter::all();
    for (field, value) in map {
        let ok = !field.is_empty()
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(ApiError::invalid(format!(
                "filters: `{}` is not a field name (letters, digits, `_`, `-`)",
                nova_core::excerpt(field)
            )));
        }
        filter = filter.and(Condition::eq(field.as_str(), value.as_str()));
    }
    Ok(filter)
}

/// 422 naming `field` when it holds more than `max` items (`server.max_filters`).
pub(crate) fn at_most(field: &str, n: usize, max: usize) -> Result<(), ApiError> {
    if n > max {
        return Err(ApiError::invalid(format!(
            "`{field}` has {n} entries; at most {max} are accepted (server.max_filters)"
        )));
    }
    Ok(())
}

/// 422 naming `field` when `text` is blank or longer than `max` characters (`server.max_query_chars`).
pub(crate) fn query_text(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    non_empty(field, text)?;
    let n = text.chars().count();
    if n > max {
        return Err(ApiError::invalid(format!(
            "`{field}` is {n} characters; at most {max} are accepted (server.max_query_chars)"
        )));
    }
    Ok(())
}

/// 422 naming `field` when `text` is blank.
pub(crate) fn non_empty(field: &str, text: &str) -> Result<(), ApiError> {
    if nova_core::is_blank(text) {
        return Err(ApiError::invalid(format!("`{field}` must not be empty")));
    }
    Ok(())
}

/// `value` (or `default`) within 1..=`max`, else a 422 naming `field`.
pub(crate) fn bounded(
    field: &str,
    value: Option<usize>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    match value.unwrap_or(default) {
        v if (1..=max).contains(&v) => Ok(v),
        v => Err(ApiError::invalid(format!(
            "`{field}` must be between 1 and {max}, got {v}"
        ))),
    }
}

/// An optional count from JSON: JSON has one number type, and JSON Schema's `integer` admits `68.0`,
/// which JavaScript clients send for computed values — so a whole number written with a fraction part is
/// the same count; `68.5`, negatives and values beyond `T` are refused naming the value.
pub(crate) fn whole_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    use serde::de::Error as _;
    use serde::Deserialize as _;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    // Beyond 2^53 a float no longer holds every whole number exactly.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=EXACT).contains(f))
            .map(|f| f as u64)
    });
    let v = whole.ok_or_else(|| {
        D::Error::custom(format!(
            "invalid value `{n}`, expected a non-negative whole number"
        ))
    })?;
    T::try_from(v)
        .map(Some)
        .map_err(|_| D::Error::custom(format!("`{n}` is too large")))
}

#[cfg(test)]
mod whole_number_tests {
    #[derive(serde::Deserialize, Debug)]
    struct Body {
        #[serde(default, deserialize_with = "super::whole_number")]
        k: Option<usize>,
    }

    fn k(json: &str) -> Result<Option<usize>, String> {
        serde_json::from_str::<Body>(json)
            .map(|b| b.k)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_in_either_notation_and_nothing_else() {
        assert_eq!(k(r#"{"k": 68}"#), Ok(Some(68)));
        assert_eq!(k(r#"{"k": 68.0}"#), Ok(Some(68)));
        assert_eq!(k(r#"{"k": 6.8e1}"#), Ok(Some(68)));
        assert_eq!(k(r#"{"k": null}"#), Ok(None));
        assert_eq!(k("{}"), Ok(None));
        for bad in ["68.5", "-1", "-1.0", "1e300", r#""68""#] {
            assert!(k(&format!(r#"{{"k": {bad}}}"#)).is_err(), "{bad}");
        }
    }
}
