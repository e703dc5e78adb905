//! Reading records back: by time range, subject, knowledge base and action, for `GET /v1/audit` and
//! `nova audit export`. Reading does not verify (that is `verify`'s job); it returns what is stored.

use crate::error::{AuditError, Result};
use crate::files::{for_each_line_in, last_line, log_name, log_numbers};
use crate::record::{parse_line, Event, Record};
use chrono::{DateTime, NaiveDate, Utc};
use std::io::Write;
use std::path::Path;

/// Which records to return.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Only this knowledge base.
    pub kb: Option<String>,
    /// Only actions equal to this or starting with it and a dot (`document` matches `document.delete`).
    pub action: Option<String>,
    /// Only records after this sequence number (paging).
    pub after_seq: Option<u64>,
    /// At most this many.
    pub limit: Option<usize>,
}

impl Query {
    /// A `since` bound: `YYYY-MM-DD` (that day's start, UTC) or an RFC 3339 time.
    pub fn parse_since(value: &str) -> Result<DateTime<Utc>> {
        parse_time(value, false)
    }

    /// An `until` bound: `YYYY-MM-DD` (that whole day included) or an RFC 3339 time (excluded).
    pub fn parse_until(value: &str) -> Result<DateTime<Utc>> {
        parse_time(value, true)
    }

    fn matches(&self, r: &Record) -> bool {
        let ts = DateTime::parse_from_rfc3339(&r.ts).map(|t| t.with_timezone(&Utc));
        let in_time = match (&ts, self.since, self.until) {
            (_, None, None) => true,
            (Ok(t), since, until) => since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t < u),
            (Err(_), _, _) => false,
        };
        in_time
            && self.after_seq.is_none_or(|a| r.seq > a)
            && self.subject.as_ref().is_none_or(|s| r.event.subject == *s)
            && self
                .kb
                .as_ref()
                .is_none_or(|k| r.event.kb.as_ref() == Some(k))
            && self.action.as_ref().is_none_or(|a| {
                r.event.action == *a
                    || r.event
                        .action
                        .strip_prefix(a.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
    }
}

fn parse_time(value: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| AuditError::BadTime {
        value: value.chars().take(64).collect(),
    })?;
    let day = if end_of_day {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// The log files that can hold records at or after `since`: a file whose last record is older is
/// skipped without reading it.
fn files_for(dir: &Path, q: &Query) -> Result<Vec<u32>> {
    let mut numbers = log_numbers(dir)?;
    if let Some(since) = q.since {
        let mut keep_from = 0;
        for (i, n) in numbers.iter().enumerate() {
            let last = last_line(&dir.join(log_name(*n)))?
                .and_then(|(l, _)| parse_line(&l))
                .and_then(|p| DateTime::parse_from_rfc3339(&p.record.ts).ok());
            match last {
                Some(t) if t < since => keep_from = i + 1,
                _ => break,
            }
        }
        numbers.drain(..keep_from);
    }
    Ok(numbers)
}

/// Calls `each` with every matching record and its stored line, up to the query's limit.
fn scan(dir: &Path, q: &Query, mut each: impl FnMut(Record, &str) -> Result<()>) -> Result<u64> {
    let mut n = 0u64;
    let mut failed = None;
    for_each_line_in(dir, &files_for(dir, q)?, |line| {
        if q.limit.is_some_and(|l| n >= l as u64) {
            return false;
        }
        match line.parsed {
            Some(p) if q.matches(&p.record) => match each(p.record, &line.raw) {
                Ok(()) => {
                    n += 1;
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            },
            _ => true,
        }
    })?;
    failed.map_or(Ok(n), Err)
}

/// The matching records, oldest first.
pub fn read(dir: &Path, q: &Query) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    scan(dir, q, |r, _| {
        out.push(r);
        Ok(())
    })?;
    Ok(out)
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// The stored lines, seals and all (what `verify` reads).
    Jsonl,
    /// One row per record for a spreadsheet: seq, ts, subject, action, kb, request_id, query_sha256,
    /// query, doc_ids (`;`-separated), detail (JSON), hash.
    Csv,
}

/// Writes the matching records to `out`; how many. `reveal` may rewrite a CSV row's event first (the
/// engine opens query text it sealed); JSONL lines are written exactly as stored, so they still verify.
pub fn export(
    dir: &Path,
    q: &Query,
    format: ExportFormat,
    out: &mut dyn Write,
    reveal: &dyn Fn(&mut Event),
) -> Result<u64> {
    let io = |e: std::io::Error| AuditError::Io {
        path: "<output>".into(),
        source: e,
    };
    match format {
        ExportFormat::Jsonl => scan(dir, q, |_, raw| {
            out.write_all(raw.as_bytes())
                .and_then(|()| out.write_all(b"\n"))
                .map_err(io)
        }),
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let csv_err = |e: csv::Error| io(std::io::Error::other(e));
            w.write_record([
                "seq",
                "ts",
                "subject",
                "action",
                "kb",
                "request_id",
                "query_sha256",
                "query",
                "doc_ids",
                "detail",
                "hash",
            ])
            .map_err(csv_err)?;
            let n = scan(dir, q, |mut r, _| {
                reveal(&mut r.event);
                let detail = if r.event.detail.is_null() {
                    String::new()
                } else {
                    r.event.detail.to_string()
                };
                w.write_record([
                    r.seq.to_string(),
                    r.ts,
                    r.event.subject,
                    r.event.action,
                    r.event.kb.unwrap_or_default(),
                    r.event.request_id,
                    r.event.query_sha256.unwrap_or_default(),
                    r.event.query.unwrap_or_default(),
                    r.event.doc_ids.join(";"),
                    detail,
                    r.hash,
                ])
                .map_err(csv_err)
            })?;
            w.flush().map_err(io)?;
            Ok(n)
        }
    }
}
