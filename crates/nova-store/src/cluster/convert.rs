//! Our filters, payloads and vectors in the gRPC client's terms.

use crate::error::{Result, StoreError};
use crate::record::MatchValues;
use crate::Payload;
use nova_core::{AccessFilter, Condition, Filter};
use qdrant_client::qdrant::{
    self, r#match::MatchValue, with_payload_selector::SelectorOptions, PayloadIncludeSelector,
};

/// A payload key usable in a filter or selector: the same rule as the embedded backend (a JSON path
/// of plain keys), so a filter refused by one is refused by the other.
fn key(field: &str) -> Result<String> {
    let plain = !field.is_empty()
        && field.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        });
    if plain {
        Ok(field.to_owned())
    } else {
        Err(StoreError::FieldName(field.to_owned()))
    }
}

fn condition(c: &Condition) -> Result<qdrant::Condition> {
    Ok(match c {
        Condition::AnyOf { field, values } => {
            // A list always (a single string with a space would become a full-text match).
            let matcher = match MatchValues::of(field, values)? {
                MatchValues::Keywords(words) => MatchValue::from(words),
                MatchValues::Integers(numbers) => MatchValue::from(numbers),
            };
            qdrant::Condition::matches(key(field)?, matcher)
        }
        Condition::IsEmpty { field } => qdrant::Condition::is_empty(key(field)?),
        Condition::Filter(inner) => filter(inner)?.into(),
    })
}

fn conditions(cs: &[Condition]) -> Result<Vec<qdrant::Condition>> {
    cs.iter().map(condition).collect()
}

/// A filter in the client's terms.
pub(super) fn filter(f: &Filter) -> Result<qdrant::Filter> {
    Ok(qdrant::Filter {
        must: conditions(&f.must)?,
        should: conditions(&f.should)?,
        must_not: conditions(&f.must_not)?,
        ..Default::default()
    })
}

/// The caller's filter restricted by `access`; `None` when nothing is filtered.
pub(super) fn restricted(f: &Filter, access: &AccessFilter) -> Result<Option<qdrant::Filter>> {
    let f = access.restrict(f.clone());
    if f.is_all() {
        Ok(None)
    } else {
        filter(&f).map(Some)
    }
}

/// Which payload keys to return (`None`: all).
pub(super) fn payload_selector(keys: Option<&[&str]>) -> Result<SelectorOptions> {
    match keys {
        None => Ok(SelectorOptions::Enable(true)),
        Some([]) => Ok(SelectorOptions::Enable(false)),
        Some(keys) => Ok(SelectorOptions::Include(PayloadIncludeSelector {
            fields: keys.iter().map(|k| key(k)).collect::<Result<_>>()?,
        })),
    }
}

/// A stored payload back as JSON.
pub(super) fn payload_of(fields: std::collections::HashMap<String, qdrant::Value>) -> Payload {
    qdrant_client::Payload::from(fields).into()
}

/// A point id as this crate writes them (numbers only).
pub(super) fn num_id(id: Option<qdrant::PointId>) -> Option<u64> {
    match id?.point_id_options? {
        qdrant::point_id::PointIdOptions::Num(n) => Some(n),
        qdrant::point_id::PointIdOptions::Uuid(_) => None,
    }
}

/// The named vector `name` of a returned point, dense.
pub(super) fn dense_of(vectors: Option<qdrant::VectorsOutput>, name: &str) -> Option<Vec<f32>> {
    match vectors?.get_vector_by_name(name)? {
        qdrant::vector_output::Vector::Dense(v) => Some(v.data),
        _ => None,
    }
}

/// The named vector `name` of a returned point, sparse.
pub(super) fn sparse_of(
    vectors: Option<&qdrant::VectorsOutput>,
    name: &str,
) -> Option<crate::SparseVec> {
    match vectors?.get_vector_by_name(name)? {
        qdrant::vector_output::Vector::Sparse(v) => Some(crate::SparseVec {
            indices: v.indices,
            values: v.values,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nova_core::FieldValue;

    #[test]
    fn keyword_lists_stay_exact_matches_even_with_spaces() {
        let f = filter(&Filter::must([Condition::eq("title", "two words")])).expect("filter");
        let Some(qdrant::condition::ConditionOneOf::Field(field)) = &f.must[0].condition_one_of
        else {
            panic!("a field condition");
        };
        let matcher = field.r#match.as_ref().and_then(|m| m.match_value.clone());
        assert!(
            matches!(matcher, Some(MatchValue::Keywords(_))),
            "{matcher:?}"
        );
    }

    #[test]
    fn mixed_values_and_odd_field_names_are_refused() {
        let mixed = Condition::AnyOf {
            field: "x".into(),
            values: vec![FieldValue::Integer(1), "a".into()],
        };
        assert!(matches!(
            filter(&Filter::must([mixed])),
            Err(StoreError::MixedValues(_))
        ));
        let odd = Filter::must([Condition::eq("a[0]", "b")]);
        assert!(matches!(filter(&odd), Err(StoreError::FieldName(_))));
    }

    #[test]
    fn payloads_survive_the_round_trip() {
        let json = serde_json::json!({"doc_id": "a", "chunk": 3, "acl": ["x"], "meta": {"k": 1.5}});
        let serde_json::Value::Object(map) = json else {
            unreachable!()
        };
        let back = payload_of(qdrant_client::Payload::from(map.clone()).into());
        assert_eq!(back, map);
    }
}
