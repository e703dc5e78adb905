//! One record: the event a caller reports, and how it is written as a sealed line and read back.
//!
//! A line is the record's JSON with `"hash"` as its last member; the hash (or HMAC) covers the exact
//! bytes of the line without that member, so verifying never depends on re-serialising anything.

use crate::seal::Sealer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What happened, as the caller reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What was done, dotted: `search`, `document.delete`, `key.create`, `kb.drop`, `audit.read`…
    pub action: String,
    /// Who did it (a key name, an OIDC `sub`, `local-admin`).
    pub subject: String,
    /// The knowledge base it concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kb: Option<String>,
    /// The request's id (the HTTP `x-request-id`, `cli` for a command line, `task-N` for a task).
    pub request_id: String,
    /// SHA-256 of the query text, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_sha256: Option<String>,
    /// The query text itself, only when the trail is configured to keep it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The documents concerned: those returned to a reader, written, or deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub doc_ids: Vec<String>,
    /// Anything else worth keeping (counts, a key's role, a task id).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

impl Event {
    /// `action` by `subject` in request `request_id`.
    pub fn new(action: &str, subject: &str, request_id: &str) -> Self {
        Self {
            action: action.to_owned(),
            subject: subject.to_owned(),
            request_id: request_id.to_owned(),
            ..Self::default()
        }
    }

    /// On knowledge base `kb`.
    pub fn kb(mut self, kb: &str) -> Self {
        self.kb = Some(kb.to_owned());
        self
    }

    /// The query's hash, and its text when `keep_text`.
    pub fn query(mut self, text: &str, keep_text: bool) -> Self {
        self.query_sha256 = Some(hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            text.as_bytes(),
        )));
        self.query = keep_text.then(|| text.to_owned());
        self
    }

    /// The documents concerned.
    pub fn doc_ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.doc_ids = ids.into_iter().map(Into::into).collect();
        self
    }

    /// Extra detail (a JSON object).
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A record as stored: the event, its place in the chain and its seal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the trail, from 1, without gaps.
    pub seq: u64,
    /// When it was written (RFC 3339, UTC, milliseconds).
    pub ts: String,
    /// The previous record's hash (all zeros for the first record of a trail).
    pub prev: String,
    /// How it is sealed: `sha256` or `hmac-sha256:<key id>`.
    pub seal: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
    /// The seal of this record's line without this member.
    pub hash: String,
}

/// The fields written before the hash, in order.
#[derive(Serialize)]
struct Unsealed<'a> {
    seq: u64,
    ts: &'a str,
    prev: &'a str,
    seal: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// The member the seal is appended as.
const HASH_MEMBER: &str = ",\"hash\":\"";

/// `event` as record `seq` after `prev`, sealed: the line (with its newline) and its hash.
pub(crate) fn seal_line(
    sealer: &Sealer,
    seq: u64,
    ts: &str,
    prev: &str,
    event: &Event,
) -> (String, String) {
    let body = serde_json::to_string(&Unsealed {
        seq,
        ts,
        prev,
        seal: sealer.name(),
        event,
    })
    .expect("an Event is plain data and always serialises");
    let hash = sealer.seal(body.as_bytes());
    let mut line = String::with_capacity(body.len() + HASH_MEMBER.len() + hash.len() + 3);
    line.push_str(&body[..body.len() - 1]);
    line.push_str(HASH_MEMBER);
    line.push_str(&hash);
    line.push_str("\"}\n");
    (line, hash)
}

/// A line taken apart: the record, and the exact bytes its hash covers.
pub(crate) struct ParsedLine {
    pub record: Record,
    pub body: String,
}

/// Reads one line (without its newline); `None` when it is not a sealed record.
pub(crate) fn parse_line(line: &str) -> Option<ParsedLine> {
    let record: Record = serde_json::from_str(line).ok()?;
    let at = line.rfind(HASH_MEMBER)?;
    // The hash must be the last member, exactly as written: anything after it would be unsealed.
    let tail = &line[at + HASH_MEMBER.len()..];
    if tail != format!("{}\"}}", record.hash) {
        return None;
    }
    let mut body = String::with_capacity(at + 1);
    body.push_str(&line[..at]);
    body.push('}');
    Some(ParsedLine { record, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_line_reads_back_and_its_hash_covers_every_byte_before_it() {
        let sealer = Sealer::Plain;
        let event = Event::new("search", "alice", "r1")
            .kb("ops")
            .query("vpn \"drops\"\nagain", false)
            .doc_ids(["a.md", "b.md"])
            .detail(serde_json::json!({"k": 5}));
        let (line, hash) = seal_line(&sealer, 3, "2026-01-01T00:00:00.000Z", "ab", &event);
        assert!(line.ends_with("\"}\n") && line.matches('\n').count() == 1);
        let parsed = parse_line(line.trim_end()).unwrap();
        assert_eq!(parsed.record.event, event);
        assert_eq!(parsed.record.hash, hash);
        assert_eq!((parsed.record.seq, parsed.record.prev.as_str()), (3, "ab"));
        assert!(sealer.check(parsed.body.as_bytes(), &hash));
        assert_eq!(
            parsed.record.event.query, None,
            "text not kept unless asked"
        );
        let edited = line.trim_end().replace("alice", "mallory");
        let parsed = parse_line(&edited).unwrap();
        assert!(!sealer.check(parsed.body.as_bytes(), &parsed.record.hash));
    }

    #[test]
    fn a_line_with_members_after_the_hash_is_not_a_sealed_record() {
        let (line, _) = seal_line(&Sealer::Plain, 1, "t", "p", &Event::new("a", "s", "r"));
        let extended = line.trim_end().replace("\"}", "\",\"x\":1}");
        assert!(parse_line(&extended).is_none());
        assert!(parse_line("not json").is_none());
    }
}
