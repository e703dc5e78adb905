//! A document as read from a source, before chunking.

use sha2::{Digest, Sha256};

/// One document: an article, a ticket, a BEIR corpus entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Stable id: the file path relative to the ingest root, or the `_id` of a JSONL record.
    pub id: String,
    /// Title (first heading, file stem, or the record's title).
    pub title: String,
    /// Where it came from (path, or path#line for JSONL records).
    pub source: String,
    /// Markdown-ish body: `#` headings and blank-line paragraphs are honoured by the chunker.
    pub text: String,
    /// `article` or `ticket`.
    pub kind: String,
}

impl Document {
    /// Hash of title and text; unchanged documents are skipped on re-ingest.
    pub fn hash(&self) -> String {
        content_hash(&format!("{}\n{}", self.title, self.text))
    }
}

/// Hex sha256 of `text`.
pub fn content_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
