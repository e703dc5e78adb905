//! Request checks shared by the handlers; each failure is a 422 whose message names the field.

use crate::error::ApiError;
use nova_store::FieldFilter;
use std::collections::BTreeMap;

/// Payload filters from a `{"field": "value"}` map; field names are checked.
pub(crate) fn filters(map: &BTreeMap<String, String>) -> Result<Vec<FieldFilter>, ApiError> {
    map.iter()
        .map(|(field, value)| {
            let ok = !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if ok {
                Ok(FieldFilter {
                    field: field.clone(),
                    value: value.clone(),
                })
            } else {
                Err(ApiError::invalid(format!(
                    "filters: `{field}` is not a field name (letters, digits, `_`, `-`)"
                )))
            }
        })
        .collect()
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
