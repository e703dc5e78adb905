//! Checking a trail: every record sealed by the expected sealer, over its exact bytes, numbered without
//! gaps, each chained to the one before, the first to the anchor (or the genesis hash), the last at or
//! after the one `head.json` names. The first problem is reported by the record it concerns.

use crate::error::Result;
use crate::files::{for_each_line, log_numbers, read_marker, Marker, ANCHOR, HEAD};
use crate::seal::{Sealer, GENESIS};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The first thing wrong with a trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The record it concerns, when one can be named.
    pub seq: Option<u64>,
    /// Where it was found.
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
    /// What is wrong, in a sentence.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)?;
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            write!(f, " ({name}:{line})")?;
        }
        Ok(())
    }
}

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Records checked before the first problem (all of them when intact).
    pub records: u64,
    /// Log files in the trail.
    pub files: usize,
    /// The last record removed by retention, which the remaining chain starts from.
    pub anchor_seq: Option<u64>,
    /// The last record's sequence number.
    pub last_seq: Option<u64>,
    /// `None` when the trail is intact.
    pub problem: Option<Problem>,
}

impl Verification {
    /// Whether the whole trail checked out.
    pub fn intact(&self) -> bool {
        self.problem.is_none()
    }
}

fn problem(seq: Option<u64>, at: Option<(&Path, usize)>, what: String) -> Problem {
    Problem {
        seq,
        file: at.map(|(f, _)| f.to_owned()),
        line: at.map(|(_, l)| l),
        what,
    }
}

/// A marker file checked against `sealer`.
fn marker(dir: &Path, name: &str, kind: &str, sealer: &Sealer) -> Result<Option<Marker>, Problem> {
    match read_marker(&dir.join(name)) {
        Err(reason) => Err(problem(None, None, reason)),
        Ok(Some(m)) if !m.is_sealed_by(kind, sealer) => Err(problem(
            Some(m.seq),
            None,
            format!(
                "{name} was altered (its seal does not match, or it is sealed with another key)"
            ),
        )),
        Ok(m) => Ok(m),
    }
}

/// Verifies the trail in `dir` with `sealer` (the HMAC key the trail was written with, or plain).
pub fn verify(dir: &Path, sealer: &Sealer) -> Result<Verification> {
    let mut out = Verification {
        records: 0,
        files: log_numbers(dir)?.len(),
        anchor_seq: None,
        last_seq: None,
        problem: None,
    };
    let anchor = match marker(dir, ANCHOR, "anchor", sealer) {
        Ok(a) => a,
        Err(p) => {
            out.problem = Some(p);
            return Ok(out);
        }
    };
    out.anchor_seq = anchor.as_ref().map(|a| a.seq);
    // Every sequence number present, to tell a removed record from one moved elsewhere.
    let mut present = HashSet::new();
    for_each_line(dir, |line| {
        if let Some(p) = &line.parsed {
            present.insert(p.record.seq);
        }
        true
    })?;
    let (mut expected, mut prev) = anchor
        .as_ref()
        .map_or((1, GENESIS.to_owned()), |a| (a.seq + 1, a.hash.clone()));
    // The hash of the record head.json names, once it is read.
    let mut head_hash = None;
    let head = marker(dir, HEAD, "head", sealer);
    let head_seq = head.as_ref().ok().and_then(|h| h.as_ref().map(|h| h.seq));
    let mut found = None;
    for_each_line(dir, |line| {
        let at = Some((line.file.as_path(), line.number));
        let Some(parsed) = &line.parsed else {
            found = Some(problem(
                None,
                at,
                "a line is not a sealed record (damaged or edited)".into(),
            ));
            return false;
        };
        let r = &parsed.record;
        let seq = r.seq;
        if r.seal != sealer.name() {
            let what = match sealer {
                Sealer::Plain if r.seal.starts_with("hmac") => format!(
                    "record {seq} is sealed with an HMAC key ({}); verify with that key (audit.hmac_key_file)",
                    r.seal
                ),
                _ => format!(
                    "record {seq} is not sealed with the expected key: it says `{}`, expected `{}`",
                    r.seal,
                    sealer.name()
                ),
            };
            found = Some(problem(Some(seq), at, what));
            return false;
        }
        if !sealer.check(parsed.body.as_bytes(), &r.hash) {
            found = Some(problem(
                Some(seq),
                at,
                format!("record {seq} was edited: its seal does not match its content"),
            ));
            return false;
        }
        if seq != expected {
            let what = if seq < expected || present.contains(&expected) {
                format!("record {seq} is out of order: record {expected} should come here (records were reordered)")
            } else if seq == expected + 1 {
                format!("record {expected} was removed (it came before record {seq})")
            } else {
                format!(
                    "records {expected} to {} were removed (they came before record {seq})",
                    seq - 1
                )
            };
            let named = if seq > expected && !present.contains(&expected) {
                expected
            } else {
                seq
            };
            found = Some(problem(Some(named), at, what));
            return false;
        }
        if r.prev != prev {
            let what = if out.records == 0 {
                match &anchor {
                    Some(a) => format!("record {seq}, the first kept, does not chain to the anchor (record {}) in anchor.json", a.seq),
                    None => format!("record {seq}, the first, does not start the chain"),
                }
            } else {
                format!(
                    "record {} was altered and re-sealed: record {seq} chains to a different record {}",
                    seq - 1,
                    seq - 1
                )
            };
            let named = if out.records == 0 { seq } else { seq - 1 };
            found = Some(problem(Some(named), at, what));
            return false;
        }
        if Some(seq) == head_seq {
            head_hash = Some(r.hash.clone());
        }
        out.records += 1;
        out.last_seq = Some(seq);
        expected = seq + 1;
        prev = r.hash.clone();
        true
    })?;
    if found.is_some() {
        out.problem = found;
        return Ok(out);
    }
    out.problem = match head {
        Err(p) => Some(p),
        Ok(None) if out.records > 0 => Some(problem(
            None,
            None,
            "head.json is missing, so records removed from the end could not be seen".into(),
        )),
        Ok(None) => None,
        Ok(Some(h)) => {
            let last = out.last_seq.or(out.anchor_seq).unwrap_or(0);
            if h.seq > last {
                Some(problem(
                    Some(last + 1),
                    None,
                    if h.seq == last + 1 {
                        format!(
                            "record {} was removed from the end (head.json names it as the last)",
                            h.seq
                        )
                    } else {
                        format!("records {} to {} were removed from the end (head.json names {} as the last)", last + 1, h.seq, h.seq)
                    },
                ))
            } else {
                match &head_hash {
                    Some(hash) if *hash != h.hash => Some(problem(
                        Some(h.seq),
                        None,
                        format!(
                            "record {} was altered and re-sealed (head.json names another)",
                            h.seq
                        ),
                    )),
                    _ => None,
                }
            }
        }
    };
    Ok(out)
}
