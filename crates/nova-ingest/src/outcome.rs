//! What a reader gives back: the documents it read and the inputs it skipped, with why.

use crate::document::Document;
use nova_core::{excerpt, DocId};
use std::collections::HashMap;
use std::fmt;

/// Something that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The file (with `:line` for JSONL records).
    pub source: String,
    /// Why: `binary file`, `empty`, `invalid UTF-8`, `parse error: …`, `unsupported file type`.
    pub reason: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// Documents read and things skipped.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Good documents, in file order.
    pub docs: Vec<Document>,
    /// Files or lines that were not read.
    pub skipped: Vec<Skip>,
}

/// Keeps the first document of each valid id. A document whose id is not a [`DocId`] (too long, control
/// or bidi characters — from a file name, a path or a record's `_id`) and later ones with a seen id
/// become skips saying why.
pub(crate) fn check_ids(out: &mut ReadOutcome) {
    let mut first: HashMap<String, String> = HashMap::new();
    let mut kept = Vec::with_capacity(out.docs.len());
    for doc in std::mem::take(&mut out.docs) {
        if let Err(e) = DocId::parse(&doc.id) {
            out.skipped.push(Skip {
                source: excerpt(&doc.source),
                reason: e.to_string(),
            });
        } else if let Some(at) = first.get(&doc.id) {
            out.skipped.push(Skip {
                source: doc.source,
                reason: format!("duplicate document id `{}` (first at {at})", doc.id),
            });
        } else {
            first.insert(doc.id.clone(), doc.source.clone());
            kept.push(doc);
        }
    }
    out.docs = kept;
}
