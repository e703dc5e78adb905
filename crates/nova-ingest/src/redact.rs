//! PII redaction: personal data found in a document's text, title, tags, source and metadata is replaced
//! with a typed placeholder (`[EMAIL]`, `[CARD]`…) before anything is embedded, indexed or stored.
//!
//! Each kind is a pattern that finds candidates and a check that keeps only real ones, so look-alikes
//! survive: card numbers must pass the Luhn check (order numbers rarely do), IBANs the mod-97 check, US
//! SSNs the issuing rules, IP addresses must parse, phone numbers need the shape of one (a `+` or
//! `(area)` prefix and 9–15 digits, or three groups and 10–15), so dates (`2026-12-05`) and version strings
//! (`v1.28.3`) are left alone. Kinds are tried in a fixed order and an earlier kind's match wins.
//! Operators add their own kinds as named regular expressions. This module only rewrites text; when to
//! redact is the engine's decision.

use crate::document::Document;
use regex::Regex;
use std::collections::BTreeMap;

/// A custom pattern that is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("redaction pattern `{name}`: {source}")]
pub struct PatternError {
    /// The pattern's name.
    pub name: String,
    /// What the regex parser said.
    #[source]
    pub source: regex::Error,
}

/// How many values of each kind were replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RedactionCounts(pub BTreeMap<String, usize>);

impl RedactionCounts {
    /// Values replaced, all kinds together.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        for (k, n) in &other.0 {
            *self.0.entry(k.clone()).or_default() += n;
        }
    }
}

/// Keeps a candidate: `Some(end)` for the byte where the value really ends (a candidate may be trimmed
/// back to a valid prefix), `None` when it is not one. Gets the whole text and the candidate's span, so
/// it can look at what surrounds it.
type Check = fn(&str, usize, usize) -> Option<usize>;

struct Kind {
    placeholder: String,
    pattern: Regex,
    check: Check,
}

/// Finds and replaces personal data.
pub struct Redactor {
    kinds: Vec<Kind>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.kinds.iter().map(|k| k.placeholder.as_str()).collect();
        f.debug_struct("Redactor").field("kinds", &names).finish()
    }
}

fn built_in(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the built-in patterns are valid and tested")
}

impl Redactor {
    /// The built-in kinds, then `custom` (name → regular expression; the placeholder is `[NAME]` in
    /// capitals).
    pub fn new(custom: &[(String, String)]) -> Result<Self, PatternError> {
        let mut kinds = vec![
            kind(
                "EMAIL",
                r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}",
                standalone,
            ),
            kind("IBAN", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}", iban),
            kind("CARD", r"\b\d(?:[ -]?\d){12,18}", card),
            kind("SSN", r"\b\d{3}-\d{2}-\d{4}\b", ssn),
            kind("IP", r"(?i)[0-9a-f:]*:[0-9a-f:]*:[0-9a-f:.]*", ipv6),
            kind("IP", r"\d{1,3}(?:\.\d{1,3}){3}", ipv4),
            kind(
                "PHONE",
                r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}",
                phone,
            ),
        ];
        for (name, pattern) in custom {
            let regex = Regex::new(pattern).map_err(|source| PatternError {
                name: name.clone(),
                source,
            })?;
            kinds.push(Kind {
                placeholder: format!("[{}]", name.to_uppercase()),
                pattern: regex,
                check: |_, _, end| Some(end),
            });
        }
        Ok(Self { kinds })
    }

    /// `text` with every value found replaced; the counts by placeholder are added to `counts`.
    pub fn redact(&self, text: &str, counts: &mut RedactionCounts) -> String {
        // Spans taken so far, sorted; a later kind may not overlap an earlier kind's value.
        let mut taken: Vec<(usize, usize, usize)> = Vec::new();
        for (k, kind) in self.kinds.iter().enumerate() {
            let mut from = 0;
            while let Some(m) = kind.pattern.find_at(text, from) {
                // A candidate that is not a value may still hold one that starts later in the run.
                from = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
                let Some(end) = (kind.check)(text, m.start(), m.end()) else {
                    continue;
                };
                let (start, end) = (m.start(), end);
                if taken.iter().any(|&(s, e, _)| start < e && s < end) {
                    continue;
                }
                taken.push((start, end, k));
                from = end;
                if from >= text.len() {
                    break;
                }
            }
        }
        if taken.is_empty() {
            return text.to_owned();
        }
        taken.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, k) in taken {
            out.push_str(&text[at..start]);
            let placeholder = &self.kinds[k].placeholder;
            out.push_str(placeholder);
            *counts.0.entry(placeholder.clone()).or_default() += 1;
            at = end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// Redacts everything of `doc` that is stored or shown — title, text, source, tags and metadata
    /// values — but not its id (the key re-ingest matches on) nor its `acl` groups.
    pub fn document(&self, doc: &mut Document, counts: &mut RedactionCounts) {
        doc.title = self.redact(&doc.title, counts);
        doc.text = self.redact(&doc.text, counts);
        doc.source = self.redact(&doc.source, counts);
        for tag in &mut doc.tags {
            *tag = self.redact(tag, counts);
        }
        for value in doc.fields.values_mut() {
            *value = self.redact(value, counts);
        }
    }
}

fn kind(name: &str, pattern: &str, check: Check) -> Kind {
    Kind {
        placeholder: format!("[{name}]"),
        pattern: built_in(pattern),
        check,
    }
}

/// Not glued to a word or number on either side (`x1.2.3.4` or `192.168.1.10a` is no address).
fn standalone(text: &str, start: usize, end: usize) -> Option<usize> {
    let glued = |c: char| c.is_alphanumeric() || c == '_';
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    (!before.is_some_and(glued) && !after.is_some_and(glued)).then_some(end)
}

/// Digits of `s`.
fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// The longest prefix of the candidate, cut at a separator, that `valid` accepts.
fn longest_valid(
    text: &str,
    start: usize,
    end: usize,
    valid: impl Fn(&str) -> bool,
) -> Option<usize> {
    let mut end = end;
    loop {
        let candidate = &text[start..end];
        if valid(candidate) && standalone(text, start, end).is_some() {
            return Some(end);
        }
        // Drop the last group: a value followed by another number in the same run.
        let cut = candidate.rfind([' ', '-'])?;
        end = start + cut;
    }
}

fn luhn(d: &[u32]) -> bool {
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                if x * 2 > 9 {
                    x * 2 - 9
                } else {
                    x * 2
                }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn card(text: &str, start: usize, end: usize) -> Option<usize> {
    longest_valid(text, start, end, |c| {
        let d = digits(c);
        (13..=19).contains(&d.len()) && luhn(&d) && d.iter().any(|&x| x != d[0])
    })
}

fn iban(text: &str, start: usize, end: usize) -> Option<usize> {
    longest_valid(text, start, end, |c| {
        let compact: String = c.chars().filter(|c| !c.is_whitespace()).collect();
        if !(15..=34).contains(&compact.len()) {
            return false;
        }
        // Move the country code and check digits to the end; letters count as 10–35; the remainder
        // mod 97 must be 1 (ISO 13616).
        let (head, tail) = compact.split_at(4);
        let mut rem: u64 = 0;
        for c in tail.chars().chain(head.chars()) {
            let v = match c.to_digit(36) {
                Some(v) => v as u64,
                None => return false,
            };
            rem = if v >= 10 {
                (rem * 100 + v) % 97
            } else {
                (rem * 10 + v) % 97
            };
        }
        rem == 1
    })
}

fn ssn(text: &str, start: usize, end: usize) -> Option<usize> {
    let s = &text[start..end];
    let (area, rest) = s.split_at(3);
    let (group, serial) = (&rest[1..3], &rest[4..]);
    let valid_area = area != "000" && area != "666" && !area.starts_with('9');
    (valid_area && group != "00" && serial != "0000")
        .then_some(end)
        .and_then(|e| standalone(text, start, e))
}

fn ipv4(text: &str, start: usize, end: usize) -> Option<usize> {
    let s = &text[start..end];
    // `v1.2.3.4` is a version, not an address.
    let versioned = text[..start].ends_with(['v', 'V']);
    (!versioned && s.parse::<std::net::Ipv4Addr>().is_ok())
        .then_some(end)
        .and_then(|e| standalone(text, start, e))
}

fn ipv6(text: &str, start: usize, end: usize) -> Option<usize> {
    // The run may end in a `:` or `.` that is punctuation ("at fe80::1: the gateway").
    let mut e = end;
    while e > start {
        let s = &text[start..e];
        if (s.contains("::") || s.matches(':').count() >= 7)
            && s.parse::<std::net::Ipv6Addr>().is_ok()
        {
            return standalone(text, start, e);
        }
        e -= 1;
    }
    None
}

fn phone(text: &str, start: usize, end: usize) -> Option<usize> {
    let s = &text[start..end];
    let n = digits(s).len();
    let groups = s.split([' ', '.', '-']).filter(|g| !g.is_empty()).count();
    // With a country or area prefix 9 digits can be a number; a bare run of groups needs 10 (a US
    // number's 3-3-4), so SSN-shaped 3-2-4 runs and short codes are left alone.
    let prefixed = s.starts_with('+') || s.contains('(');
    let shaped = if prefixed {
        n >= 9
    } else {
        groups >= 3 && n >= 10
    };
    // The whole run of digit groups must be the number: `1234 5678 9012 3456` holds no phone.
    let sep = |c: char| matches!(c, ' ' | '.' | '-');
    let mut before = text[..start].chars().rev();
    let more_before = matches!((before.next(), before.next()), (Some(c), Some(d)) if sep(c) && d.is_ascii_digit());
    let mut after = text[end..].chars();
    let more_after =
        matches!((after.next(), after.next()), (Some(c), Some(d)) if sep(c) && d.is_ascii_digit());
    (n <= 15 && shaped && !more_before && !more_after)
        .then_some(end)
        .and_then(|e| standalone(text, start, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str) -> (String, RedactionCounts) {
        let mut counts = RedactionCounts::default();
        let out = Redactor::new(&[]).unwrap().redact(text, &mut counts);
        (out, counts)
    }

    #[test]
    fn every_kind_is_replaced_by_its_placeholder() {
        for (value, placeholder) in [
            ("jane.doe+kb@example.co.uk", "[EMAIL]"),
            ("4111 1111 1111 1111", "[CARD]"),
            ("5500-0000-0000-0004", "[CARD]"),
            ("378282246310005", "[CARD]"),
            ("123-45-6789", "[SSN]"),
            ("DE89 3704 0044 0532 0130 00", "[IBAN]"),
            ("GB82WEST12345698765432", "[IBAN]"),
            ("192.168.10.24", "[IP]"),
            ("fe80::1ff:fe23:4567:890a", "[IP]"),
            ("2001:db8:85a3::8a2e:370:7334", "[IP]"),
            ("+1 415 555 0132", "[PHONE]"),
            ("(415) 555-0132", "[PHONE]"),
            ("+44 20 7946 0958", "[PHONE]"),
            ("415-555-0132", "[PHONE]"),
        ] {
            let (out, counts) = redacted(&format!("Contact: {value}, thanks."));
            assert_eq!(out, format!("Contact: {placeholder}, thanks."), "{value}");
            assert_eq!(counts.total(), 1, "{value}");
        }
    }

    #[test]
    fn look_alikes_survive() {
        for keep in [
            "order 4111111111111112",          // fails Luhn
            "order ORD-2026-558812",           // an order number
            "released 2026-12-05",             // a date
            "at 14:30:05 UTC",                 // a time
            "version v1.28.3",                 // a version
            "upgrade to 2.4.1 today",          // a version
            "build v10.0.1.5",                 // a four-part version
            "ticket 000-12-3456",              // not a valid SSN
            "ref DE00 1234 5678 9012 3456 78", // fails mod-97
            "port 8080 and 3 nodes",
            "error 0x80070005",
            "call count 1234",
            "ISBN 978-3-16-148410-0",
        ] {
            let (out, counts) = redacted(keep);
            assert_eq!(out, keep, "{counts:?}");
        }
    }

    #[test]
    fn a_value_next_to_another_number_is_still_found() {
        let (out, _) = redacted("card 4111 1111 1111 1111 2026 expiry");
        assert_eq!(out, "card [CARD] 2026 expiry");
        let (out, _) = redacted("gateway fe80::1: unreachable");
        assert_eq!(out, "gateway [IP]: unreachable");
        let (out, _) = redacted("ref 1234 4111 1111 1111 1111");
        assert_eq!(out, "ref 1234 [CARD]");
    }

    #[test]
    fn custom_patterns_get_their_own_placeholder_and_a_bad_one_is_named() {
        let r = Redactor::new(&[("employee_id".into(), r"EMP-\d{6}".into())]).unwrap();
        let mut counts = RedactionCounts::default();
        assert_eq!(r.redact("by EMP-004211", &mut counts), "by [EMPLOYEE_ID]");
        assert_eq!(counts.0["[EMPLOYEE_ID]"], 1);
        let err = Redactor::new(&[("bad".into(), "(".into())]).unwrap_err();
        assert!(err.to_string().contains("`bad`"), "{err}");
    }

    #[test]
    fn a_document_is_redacted_everywhere_but_its_id_and_acl() {
        let mut doc = Document::new(
            "a.md",
            "Call +1 415 555 0132",
            "a.md",
            "mail jane@example.com",
        );
        doc.tags = vec!["jane@example.com".into()];
        doc.acl = vec!["hr".into()];
        doc.fields
            .insert("requester".into(), "jane@example.com".into());
        let mut counts = RedactionCounts::default();
        Redactor::new(&[]).unwrap().document(&mut doc, &mut counts);
        assert_eq!(doc.title, "Call [PHONE]");
        assert_eq!(doc.text, "mail [EMAIL]");
        assert_eq!(doc.tags, ["[EMAIL]"]);
        assert_eq!(doc.fields["requester"], "[EMAIL]");
        assert_eq!(
            (doc.id.as_str(), doc.acl.as_slice()),
            ("a.md", &["hr".to_owned()][..])
        );
        assert_eq!(counts.total(), 4);
    }
}
