//! The one typed chunk payload: what every stored chunk carries, written by ingest and read by search,
//! troubleshoot, tickets and document reads. Payload keys are named here and nowhere else; the store
//! indexes the ones [`STORE_SCHEMA_KEYWORDS`] and [`STORE_SCHEMA_INTEGERS`] list.

use crate::cipher::{open_fields, Keyring, SEALED};
use crate::error::{EngineError, Result};
use nova_ingest::{Chunk, Document};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Payload keys.
pub mod keys {
    /// The document id.
    pub const DOC_ID: &str = "doc_id";
    /// Chunk position in the document, from 0.
    pub const CHUNK: &str = "chunk";
    /// Document title.
    pub const TITLE: &str = "title";
    /// Chunk text.
    pub const TEXT: &str = "text";
    /// `article`, `ticket`, …
    pub const KIND: &str = "kind";
    /// Content hash of the document version.
    pub const HASH: &str = "hash";
    /// Document version the chunk belongs to (1, 2, …; 0 for chunks written before versions).
    pub const VERSION: &str = "version";
    /// Groups allowed to see the document.
    pub const ACL: &str = nova_core::ACL_FIELD;
    /// Filterable labels (the legal profile's `privileged` is one).
    pub const TAGS: &str = "tags";
    /// Chunks in the document's version.
    pub const CHUNK_COUNT: &str = "chunk_count";
    /// The sealed fields under encryption at rest (ask for it with any of them).
    pub const SEALED: &str = crate::cipher::SEALED;
}

/// The `kind` of a ticket.
pub const TICKET_KIND: &str = "ticket";

/// Whether a payload key is stored in the clear under encryption at rest: the ids, counts and hashes
/// versioning needs, and the indexed fields filters and the access filter match inside the store
/// (documented in docs/security.md). Title, section path, text and every other metadata field are
/// sealed.
pub fn stays_clear(key: &str) -> bool {
    [
        keys::DOC_ID,
        keys::CHUNK,
        keys::HASH,
        keys::VERSION,
        keys::CHUNK_COUNT,
    ]
    .contains(&key)
        || STORE_SCHEMA_KEYWORDS.contains(&key)
}

/// A sealed payload is bound to its document id, so sealed text moved to another document's chunk does
/// not open there.
fn sealing_context(map: &serde_json::Map<String, serde_json::Value>) -> Result<String> {
    match map.get(keys::DOC_ID) {
        Some(serde_json::Value::String(id)) => Ok(id.clone()),
        _ => Err(EngineError::Encryption(
            "a sealed chunk payload was read without its document id".into(),
        )),
    }
}

/// Keyword-indexed payload keys of new knowledge bases: the document fields, then the ticket fields
/// help desks filter by (their names are nova-ingest's canonical ticket fields).
pub const STORE_SCHEMA_KEYWORDS: [&str; 8] = [
    keys::DOC_ID,
    keys::KIND,
    keys::TAGS,
    keys::ACL,
    "source",
    "category",
    "priority",
    "status",
];

/// Integer-indexed payload keys of new knowledge bases.
pub const STORE_SCHEMA_INTEGERS: [&str; 2] = [keys::CHUNK, keys::VERSION];

/// The keys of [`ChunkPayload`]'s named fields.
const STANDARD_KEYS: [&str; 12] = [
    "doc_id",
    "chunk",
    "title",
    "source",
    "headings",
    "text",
    "kind",
    "hash",
    "tags",
    "acl",
    "version",
    "chunk_count",
];

/// Internal keys never shown as metadata (`indexed` is from KBs built by early versions).
const INTERNAL_KEYS: [&str; 1] = ["indexed"];

/// What one stored chunk carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkPayload {
    /// Document id.
    pub doc_id: String,
    /// Position in the document.
    pub chunk: u64,
    /// Document title.
    pub title: String,
    /// Source path or URL.
    pub source: String,
    /// Section path.
    pub headings: Vec<String>,
    /// Chunk text.
    pub text: String,
    /// `article`, `ticket`, …
    pub kind: String,
    /// Content hash of the document version.
    pub hash: String,
    /// Filterable labels.
    pub tags: Vec<String>,
    /// Groups allowed to see the document; empty = everyone.
    pub acl: Vec<String>,
    /// Document version (0 for chunks written before versions existed).
    pub version: u64,
    /// Chunks in this version (0 when unknown: written before versions existed).
    pub chunk_count: u64,
    /// Every other field (category, priority, answer, product, …).
    #[serde(flatten)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl ChunkPayload {
    /// The text that was embedded and BM25-indexed for this chunk ([`indexed_text`]).
    pub fn indexed_text(&self) -> String {
        indexed_fields(&self.title, &self.headings, &self.text)
    }

    /// Reads a stored payload (all or some of its keys), opening its sealed fields with `keyring`.
    pub fn from_map(
        mut map: serde_json::Map<String, serde_json::Value>,
        keyring: Option<&Keyring>,
    ) -> Result<Self> {
        if map.contains_key(SEALED) {
            let context = sealing_context(&map)?;
            open_fields(keyring, &mut map, &context)?;
        }
        let mut p: Self =
            serde_json::from_value(serde_json::Value::Object(map)).map_err(EngineError::Payload)?;
        for k in INTERNAL_KEYS {
            p.metadata.remove(k);
        }
        Ok(p)
    }

    /// The stored form; with a keyring, everything but the fields filters and versioning need is sealed
    /// into one member (see [`stays_clear`]).
    pub fn into_map(
        self,
        keyring: Option<&Keyring>,
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        let doc_id = self.doc_id.clone();
        let mut map = match serde_json::to_value(self).map_err(EngineError::Payload)? {
            serde_json::Value::Object(map) => map,
            other => {
                return Err(EngineError::Internal(format!(
                    "a chunk payload serialised to {other}"
                )))
            }
        };
        if let Some(keyring) = keyring {
            keyring.seal_fields(&mut map, |k| !stays_clear(k), &doc_id)?;
        }
        Ok(map)
    }

    /// The payload of chunk `c` of version `version` (of `chunk_count` chunks) of `doc`.
    pub fn of(doc: &Document, hash: &str, version: u64, chunk_count: usize, c: &Chunk) -> Self {
        let mut p = Self {
            doc_id: doc.id.clone(),
            chunk: c.index as u64,
            title: doc.title.clone(),
            source: doc.source.clone(),
            headings: c.headings.clone(),
            text: c.text.clone(),
            kind: doc.kind.clone(),
            hash: hash.to_owned(),
            tags: doc.tags.clone(),
            acl: doc.acl.clone(),
            version,
            chunk_count: chunk_count as u64,
            metadata: serde_json::Map::new(),
        };
        for (k, v) in &doc.fields {
            // Metadata never overwrites the fields search relies on.
            if !STANDARD_KEYS.contains(&k.as_str()) {
                p.metadata
                    .insert(k.clone(), serde_json::Value::String(v.clone()));
            }
        }
        p
    }
}

/// What is embedded and BM25-indexed for chunk `c` of `doc`: title and section go in with the text,
/// since they often name the topic the passage itself only implies (BEIR likewise indexes title + text).
pub fn indexed_text(doc: &Document, c: &Chunk) -> String {
    indexed_fields(&doc.title, &c.headings, &c.text)
}

/// Title, section path and text, each on its own line, empty ones left out.
fn indexed_fields(title: &str, headings: &[String], text: &str) -> String {
    let heading_path = headings.join(" › ");
    [title, heading_path.as_str(), text]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stable chunk id: the first 8 bytes of sha256 over (doc id, version, index). Each version has its own
/// ids, so a new version is written beside the old one and the old one deleted after: readers always
/// find one whole version. Version 0 keeps the ids of KBs built before versions existed.
pub fn chunk_id(doc_id: &str, version: u64, index: u64) -> u64 {
    let key = if version == 0 {
        format!("{doc_id}#{index}")
    } else {
        format!("{doc_id}#v{version}#{index}")
    };
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}

/// Picks one whole version from a document's chunks (several versions coexist only while a new one
/// replaces an old one): the newest version that has all its chunks, in chunk order.
pub fn whole_version(mut chunks: Vec<ChunkPayload>) -> Vec<ChunkPayload> {
    chunks.sort_by_key(|c| (std::cmp::Reverse(c.version), c.chunk));
    let mut start = 0;
    while start < chunks.len() {
        let version = chunks[start].version;
        let end = chunks[start..]
            .iter()
            .position(|c| c.version != version)
            .map_or(chunks.len(), |n| start + n);
        let expected = chunks[start].chunk_count as usize;
        let mut indices: Vec<u64> = chunks[start..end].iter().map(|c| c.chunk).collect();
        indices.dedup();
        if expected == 0 || indices.len() == expected {
            return chunks.drain(start..end).collect();
        }
        start = end;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(version: u64, chunk: u64, of: u64) -> ChunkPayload {
        ChunkPayload {
            doc_id: "d".into(),
            version,
            chunk,
            chunk_count: of,
            ..ChunkPayload::default()
        }
    }

    #[test]
    fn the_newest_complete_version_wins_and_a_partial_one_is_passed_over() {
        let mixed = vec![part(1, 1, 2), part(2, 0, 3), part(1, 0, 2), part(2, 2, 3)];
        let picked = whole_version(mixed);
        assert_eq!(
            picked
                .iter()
                .map(|c| (c.version, c.chunk))
                .collect::<Vec<_>>(),
            [(1, 0), (1, 1)]
        );
        let done = whole_version(vec![part(2, 1, 2), part(1, 0, 1), part(2, 0, 2)]);
        assert_eq!(done.iter().map(|c| c.version).collect::<Vec<_>>(), [2, 2]);
    }

    #[test]
    fn metadata_round_trips_beside_the_standard_fields_and_never_shadows_them() {
        let mut doc = Document::new("T-1", "VPN", "t.csv", "drops");
        doc.fields.insert("answer".into(), "reboot".into());
        doc.fields.insert("title".into(), "spoofed".into());
        let c = nova_ingest::chunk(&doc, nova_ingest::ChunkOptions::default()).remove(0);
        let p = ChunkPayload::of(&doc, "h", 1, 1, &c);
        assert_eq!(p.title, "VPN");
        let back =
            ChunkPayload::from_map(p.clone().into_map(None).expect("map"), None).expect("payload");
        assert_eq!(back, p);
        let ring = Keyring::from_key(&[3u8; 32]).expect("key");
        let sealed = p.clone().into_map(Some(&ring)).expect("sealed");
        let stored = serde_json::to_string(&sealed).expect("json");
        assert!(!stored.contains("VPN") && !stored.contains("drops") && !stored.contains("reboot"));
        assert_eq!(sealed.get(keys::DOC_ID), Some(&serde_json::json!("T-1")));
        let opened = ChunkPayload::from_map(sealed.clone(), Some(&ring)).expect("opened");
        assert_eq!(opened, p);
        assert!(
            ChunkPayload::from_map(sealed, None).is_err(),
            "no key, no text"
        );
        assert_eq!(
            back.metadata.get("answer"),
            Some(&serde_json::json!("reboot"))
        );
    }

    #[test]
    fn legacy_chunk_ids_are_kept_for_version_zero() {
        let legacy = Sha256::digest(b"a.md#3");
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&legacy[..8]);
        assert_eq!(chunk_id("a.md", 0, 3), u64::from_le_bytes(bytes));
        assert_ne!(chunk_id("a.md", 1, 3), chunk_id("a.md", 2, 3));
    }
}
