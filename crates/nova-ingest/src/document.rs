//! A document as read from a source, before chunking.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One document: an article, a ticket, a BEIR corpus entry.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// Stable id: the file path relative to the ingest root, or the `_id` of a JSONL record.
    pub id: String,
    /// Title (first heading, file stem, or the record's title).
    pub title: String,
    /// Where it came from (path, or path:line for records).
    pub source: String,
    /// Markdown-ish body: `#` headings and blank-line paragraphs are honoured by the chunker.
    pub text: String,
    /// `article` or `ticket`.
    pub kind: String,
    /// Free labels, filterable (`--filter tags=vpn`).
    pub tags: Vec<String>,
    /// Groups allowed to see the document; empty means everyone.
    pub acl: Vec<String>,
    /// Other metadata kept with the document (category, priority, status, answer, …).
    pub fields: BTreeMap<String, String>,
}

impl Document {
    /// An article with no metadata.
    pub fn new(
        id: impl Into<String>,
        title: impl Into<String>,
        source: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            source: source.into(),
            text: text.into(),
            kind: "article".into(),
            ..Self::default()
        }
    }

    /// Hash of everything stored: unchanged documents are skipped on re-ingest, and a metadata change
    /// (new tags, new ACL) counts as an update.
    pub fn hash(&self) -> String {
        let mut meta = format!(
            "{}\n{}\n{}\n{}",
            self.kind,
            self.tags.join("\u{1f}"),
            self.acl.join("\u{1f}"),
            self.title
        );
        for (k, v) in &self.fields {
            meta.push_str(&format!("\n{k}={v}"));
        }
        // Plain documents keep the hash of title + text they had before metadata existed, so KBs built
        // then are not re-embedded.
        if self.kind == "article"
            && self.tags.is_empty()
            && self.acl.is_empty()
            && self.fields.is_empty()
        {
            return content_hash(&format!("{}\n{}", self.title, self.text));
        }
        content_hash(&format!("{meta}\n{}", self.text))
    }
}

/// Hex sha256 of `text`.
pub fn content_hash(text: &str) -> String {
    nova_core::to_hex(&Sha256::digest(text.as_bytes()))
}

/// Splits a list field: a JSON-ish `[a, b]`, or values separated by commas or semicolons.
pub(crate) fn split_list(raw: &str) -> Vec<String> {
    raw.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split([',', ';'])
        .map(|s| s.trim().trim_matches(['"', '\'']).trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_semicolons_and_brackets() {
        assert_eq!(split_list("[vpn, \"network\"]"), ["vpn", "network"]);
        assert_eq!(split_list("a; b ,c"), ["a", "b", "c"]);
        assert!(split_list("  ").is_empty());
    }

    #[test]
    fn metadata_changes_change_the_hash() {
        let plain = Document::new("a", "T", "s", "body");
        let mut tagged = plain.clone();
        tagged.tags.push("vpn".into());
        assert_ne!(plain.hash(), tagged.hash());
        assert_eq!(plain.hash(), content_hash("T\nbody"));
    }
}
