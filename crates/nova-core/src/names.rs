//! Names checked once at the edge: a [`KbName`] is safe as a folder name, a [`DocId`] is a usable
//! document id. Code past the edge takes these types and never re-checks.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not a knowledge base name.
    #[error("invalid knowledge base name `{0}`: use 1–64 letters, digits, `-` and `_`")]
    KbName(String),
    /// Not a document id.
    #[error("invalid document id `{0}`: it must be 1–{max} characters without control characters", max = DocId::MAX_LEN)]
    DocId(String),
    /// Not a label field name.
    #[error("invalid label field `{0}`: use 1–64 letters, digits, `-` and `_`")]
    Label(String),
}

impl NameError {
    /// The stable code (always invalid input).
    pub fn code(&self) -> crate::Code {
        crate::Code::InvalidInput
    }
}

/// Letters, digits, `-`, `_`; 1–64 characters: usable as a folder name on every platform.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A knowledge base name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KbName(String);

impl KbName {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if is_plain_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(NameError::KbName(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket label field (`category`, `priority`): also a folder name for its routers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LabelField(String);

impl LabelField {
    /// Checks `name`.
    pub fn parse(name: &str) -> Result<Self, NameError> {
        if is_plain_name(name) {
            Ok(Self(name.to_owned()))
        } else {
            Err(NameError::Label(name.to_owned()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A document id: a path relative to an ingest root, a record's id, `FILE:LINE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocId(String);

impl DocId {
    /// Longest id accepted, in bytes.
    pub const MAX_LEN: usize = 512;

    /// Checks `id`.
    pub fn parse(id: &str) -> Result<Self, NameError> {
        let ok =
            !id.trim().is_empty() && id.len() <= Self::MAX_LEN && !id.chars().any(char::is_control);
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(NameError::DocId(id.to_owned()))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}
display_as_str!(KbName, LabelField, DocId);

/// Serde reads these names as strings, checked by `parse`.
macro_rules! checked_string {
    ($($t:ty),*) => {$(
        impl TryFrom<String> for $t {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(name: $t) -> String {
                name.0
            }
        }
    )*};
}
checked_string!(KbName, DocId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_names_must_be_plain_folder_names() {
        assert!(KbName::parse("ops_2-eu").is_ok());
        for bad in ["", "../escape", "a/b", "x y", &"k".repeat(65)] {
            assert!(KbName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn doc_ids_may_be_paths_but_not_blank_or_control_characters() {
        assert!(DocId::parse("runbooks/vpn.md").is_ok());
        assert!(DocId::parse("export.csv:12").is_ok());
        for bad in ["", "  ", "a\nb", &"d".repeat(513)] {
            assert!(DocId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
