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
    if text.trim().is_empty() {
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
