//! Filter expressions over chunk payloads: the shape of Qdrant's `Filter` (must / should / must_not of
//! conditions, nestable), small enough for every store backend to translate. No evaluation here; the
//! backend runs them inside its own query so filtered reads never over-fetch.

use serde::{Deserialize, Serialize};

/// A payload value a condition compares with: keywords (strings) or integers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A keyword, matched exactly (also as an element of a keyword array such as `tags`).
    Keyword(String),
    /// An integer.
    Integer(i64),
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        Self::Keyword(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        Self::Keyword(s)
    }
}

impl From<i64> for FieldValue {
    fn from(n: i64) -> Self {
        Self::Integer(n)
    }
}

/// One test on a payload field, or a nested filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The field equals (or, for an array, contains) at least one of `values`.
    AnyOf {
        /// Payload key.
        field: String,
        /// Accepted values; all of one kind (keywords or integers).
        values: Vec<FieldValue>,
    },
    /// The field is absent, null or an empty array.
    IsEmpty {
        /// Payload key.
        field: String,
    },
    /// A nested filter (e.g. an OR group inside an AND).
    Filter(Box<Filter>),
}

impl Condition {
    /// `field` equals `value`.
    pub fn eq(field: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        Self::AnyOf {
            field: field.into(),
            values: vec![value.into()],
        }
    }

    /// `field` equals one of `values`.
    pub fn any_of<V: Into<FieldValue>>(
        field: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Self::AnyOf {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// `field` is absent or empty.
    pub fn is_empty(field: impl Into<String>) -> Self {
        Self::IsEmpty {
            field: field.into(),
        }
    }

    fn visit_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Self::AnyOf { field, .. } | Self::IsEmpty { field } => out.push(field),
            Self::Filter(f) => f.visit_fields(out),
        }
    }
}

/// All of `must`, at least one of `should` (when it is not empty), none of `must_not`.
/// The empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Every one must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must: Vec<Condition>,
    /// At least one must hold (ignored when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub should: Vec<Condition>,
    /// None may hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub must_not: Vec<Condition>,
}

impl Filter {
    /// Matches everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// Every condition must hold.
    pub fn must(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Self {
            must: conditions.into_iter().collect(),
            ..Self::default()
        }
    }

    /// Adds a required condition.
    pub fn and(mut self, condition: Condition) -> Self {
        self.must.push(condition);
        self
    }

    /// Adds a forbidden condition.
    pub fn and_not(mut self, condition: Condition) -> Self {
        self.must_not.push(condition);
        self
    }

    /// Both filters must hold.
    pub fn intersect(self, other: Filter) -> Self {
        match (self.is_all(), other.is_all()) {
            (true, _) => other,
            (_, true) => self,
            _ => Filter::must([
                Condition::Filter(Box::new(self)),
                Condition::Filter(Box::new(other)),
            ]),
        }
    }

    /// True when the filter has no condition (matches everything).
    pub fn is_all(&self) -> bool {
        self.must.is_empty() && self.should.is_empty() && self.must_not.is_empty()
    }

    /// Every payload key the filter names, nested ones included (to reject reserved fields).
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_fields(&mut out);
        out
    }

    fn visit_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        for c in self.must.iter().chain(&self.should).chain(&self.must_not) {
            c.visit_fields(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_lists_nested_keys_so_reserved_ones_can_be_refused() {
        let inner = Filter {
            should: vec![Condition::is_empty("acl")],
            ..Filter::default()
        };
        let f = Filter::must([Condition::eq("kind", "ticket")])
            .and(Condition::Filter(Box::new(inner)))
            .and_not(Condition::eq("chunk", 0));
        assert_eq!(f.fields(), ["kind", "acl", "chunk"]);
    }

    #[test]
    fn intersecting_with_the_empty_filter_keeps_the_other_unchanged() {
        let f = Filter::must([Condition::eq("kind", "ticket")]);
        assert_eq!(Filter::all().intersect(f.clone()), f);
        assert_eq!(f.clone().intersect(Filter::all()), f);
        assert_eq!(f.clone().intersect(f.clone()).must.len(), 2);
    }
}
