//! Names checked once at the edge: a [`KbName`] is safe as a folder name, a [`DocId`] is a usable
//! document id. Code past the edge takes these types and never re-checks.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Not a knowledge base name.
    #[error("invalid knowledge base name `{}`: use 1–64 letters, digits, `-` and `_`", excerpt(.0))]
    KbName(String),
    /// Not a document id.
    #[error("invalid document id `{}`: it must be 1–{max} characters without control or bidirectional-override characters", excerpt(.0), max = DocId::MAX_LEN)]
    DocId(String),
    /// Not a label field name.
    #[error("invalid label field `{}`: use 1–64 letters, digits, `-` and `_`", excerpt(.0))]
    Label(String),
}

impl NameError {
    /// The stable code (always invalid input).
    pub fn code(&self) -> crate::Code {
        crate::Code::InvalidInput
    }
}

/// Characters of client input quoted in a message at most: a 100,000-character name must not make a
/// 100 KB error.
pub const EXCERPT_CHARS: usize = 64;

/// `text` as it may be quoted back in a message or log: control characters escaped (a newline or a bidi
/// override cannot forge a line or reorder what a reader sees), cut after [`EXCERPT_CHARS`] characters
/// with the full length noted.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(EXCERPT_CHARS) {
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    let total = text.chars().count();
    if total > EXCERPT_CHARS {
        out.push_str(&format!("… ({total} characters)"));
    }
    out
}

/// Whitespace as the API contract's `\S` pattern means it (ECMAScript's `\s`): Rust's `trim` also strips
/// U+0085 and U+180E, which a client validating against the schema counts as text.
fn ecma_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Whether `text` holds nothing but whitespace (the API contract's meaning of blank, so the engine and
/// the documented schema never disagree about what is empty).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(ecma_space)
}

/// `bytes` as lowercase hex (digests and key ids).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unicode's bidirectional formatting characters (embeddings, overrides, isolates and marks): in an id they
/// make a listing display a different name than the stored one ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
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

    /// The store name of version `n` (2, 3, …) of this KB's index, built beside the serving one by a
    /// blue-green rebuild: `<kb>.v<n>`. A dot is not allowed in the names users give, so a version
    /// never collides with a knowledge base, never parses as one and is never listed as one; its files
    /// live inside the KB's folder ([`crate::DataLayout::kb_dir`]). Version 1 is the KB's own name.
    pub fn version(&self, n: u32) -> KbName {
        match n {
            0 | 1 => self.clone(),
            n => KbName(format!("{}.v{n}", self.base())),
        }
    }

    /// For the name of an index version: the KB it belongs to and its number.
    pub fn split_version(&self) -> Option<(&str, u32)> {
        let (base, n) = self.0.rsplit_once(".v")?;
        Some((base, n.parse().ok()?))
    }

    /// The knowledge base this name belongs to (itself, unless it names an index version).
    pub fn base(&self) -> &str {
        self.split_version().map_or(&self.0, |(b, _)| b)
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
    /// Longest id accepted, in characters.
    pub const MAX_LEN: usize = 512;

    /// Checks `id`.
    pub fn parse(id: &str) -> Result<Self, NameError> {
        let ok = !id.trim().is_empty()
            && id.chars().count() <= Self::MAX_LEN
            && !id.chars().any(|c| c.is_control() || is_bidi_control(c));
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
    fn blank_means_what_the_contract_means() {
        assert!(is_blank("") && is_blank(" \t\n\u{3000}\u{feff}"));
        // Rust's `trim` strips NEL and the Mongolian vowel separator; ECMAScript's `\s` does not.
        assert!(!is_blank("\u{85}") && !is_blank("\u{180e}") && !is_blank(" a "));
    }

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
        for bad in [
            "",
            "  ",
            "a\nb",
            "a\0b",
            "invoice\u{202E}fdp.exe",
            &"d".repeat(513),
        ] {
            assert!(DocId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refusals_quote_a_short_escaped_excerpt_of_the_input() {
        let long = DocId::parse(&"x".repeat(100_000)).unwrap_err().to_string();
        assert!(long.len() < 300, "{} bytes", long.len());
        assert!(long.contains("(100000 characters)"), "{long}");
        let forged = DocId::parse("a\nERROR b\u{202E}").unwrap_err().to_string();
        assert!(
            !forged.contains('\n') && !forged.contains('\u{202E}'),
            "{forged}"
        );
        assert!(
            forged.contains("\\u{a}") && forged.contains("\\u{202e}"),
            "{forged}"
        );
    }
}
