//! Record files: JSONL (BEIR `corpus.jsonl` or any objects) and CSV exports. Which field holds the id,
//! title and text is chosen by a [`FieldMap`]; by default common names are recognised (`_id`/`id`,
//! `title`/`subject`, `text`/`body`/`content`/`description`). `tags` and `acl` become lists, `kind`
//! the document kind, and every other non-empty field is kept as metadata. A bad line or row is a
//! [`Skip`] naming its line number; the rest of the file is still read.

use crate::document::{split_list, Document};
use crate::outcome::{ReadOutcome, Skip};
use serde_json::Value;

/// Which record fields make up a document. Names match case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMap {
    /// Id field [default: `_id`, `id`, `ticket_id`, `key`, `number`].
    pub id: Option<String>,
    /// Title field [default: `title`, `subject`, `summary`].
    pub title: Option<String>,
    /// Text fields, joined by blank lines [default: the first of `text`, `body`, `content`, `description`].
    pub text: Vec<String>,
    /// Kind for records without a `kind` field [default: `article`].
    pub kind: Option<String>,
    /// Metadata columns stored under another name, as (column, stored name): a ticket export's `Topic_group`
    /// becomes `category`.
    pub renames: Vec<(String, String)>,
    /// Skip records whose text fields are empty instead of falling back to the title (tickets need a body).
    pub require_text: bool,
}

const ID_NAMES: [&str; 5] = ["_id", "id", "ticket_id", "key", "number"];
const TITLE_NAMES: [&str; 3] = ["title", "subject", "summary"];
const TEXT_NAMES: [&str; 4] = ["text", "body", "content", "description"];

/// One record as (field, value) pairs in file order.
type Pairs = Vec<(String, String)>;

/// Field names match ignoring case, spaces, `_` and `-`: help-desk exports say `Ticket ID` where
/// others say `ticket_id`.
pub(crate) fn same_name(a: &str, b: &str) -> bool {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    key(a) == key(b)
}

fn find<'a>(pairs: &'a Pairs, name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| same_name(k, name))
        .map(|(_, v)| v.as_str())
}

impl FieldMap {
    fn id_fields(&self) -> Vec<&str> {
        self.id.as_deref().map_or(ID_NAMES.to_vec(), |f| vec![f])
    }

    fn title_fields(&self) -> Vec<&str> {
        self.title
            .as_deref()
            .map_or(TITLE_NAMES.to_vec(), |f| vec![f])
    }

    /// Turns one record into a document; `fallback_id` is used when the file has no id column at all.
    fn document(
        &self,
        pairs: &Pairs,
        source: String,
        fallback_id: Option<String>,
    ) -> Result<Document, String> {
        let first = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| find(pairs, n).filter(|v| !v.trim().is_empty()))
        };
        let id_fields = self.id_fields();
        let id = match first(&id_fields).map(str::to_owned).or(fallback_id) {
            Some(id) => id,
            None => return Err(format!("missing `{}` field", id_fields.join("`/`"))),
        };
        let title = first(&self.title_fields())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let text_fields: Vec<&str> = if self.text.is_empty() {
            TEXT_NAMES
                .iter()
                .copied()
                .filter(|n| find(pairs, n).is_some())
                .take(1)
                .collect()
        } else {
            self.text.iter().map(String::as_str).collect()
        };
        let text = text_fields
            .iter()
            .filter_map(|n| find(pairs, n))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        // A title-only record is still a document (BEIR has some); its title is its text.
        let text = match (text.is_empty(), title.is_empty()) {
            (false, _) => text,
            (true, false) if !self.require_text => title.clone(),
            (true, _) => {
                let names = if text_fields.is_empty() {
                    TEXT_NAMES.to_vec()
                } else {
                    text_fields
                };
                return Err(format!("missing or empty `{}` field", names.join("`/`")));
            }
        };
        let mut doc = Document::new(id, title, source, text);
        doc.kind = find(pairs, "kind")
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .or_else(|| self.kind.clone())
            .unwrap_or_else(|| "article".into());
        let used: Vec<&str> = id_fields
            .iter()
            .chain(&self.title_fields())
            .chain(&text_fields_or_default(&self.text))
            .copied()
            .chain(["kind", "tags", "acl"])
            .collect();
        for (k, v) in pairs {
            if used.iter().any(|u| same_name(u, k)) || v.trim().is_empty() {
                continue;
            }
            let name = self
                .renames
                .iter()
                .find(|(column, _)| same_name(column, k))
                .map_or_else(|| k.to_lowercase(), |(_, stored)| stored.clone());
            doc.fields.insert(name, v.trim().to_owned());
        }
        doc.tags = find(pairs, "tags").map(split_list).unwrap_or_default();
        doc.acl = find(pairs, "acl").map(split_list).unwrap_or_default();
        Ok(doc)
    }
}

fn text_fields_or_default(text: &[String]) -> Vec<&str> {
    if text.is_empty() {
        TEXT_NAMES.to_vec()
    } else {
        text.iter().map(String::as_str).collect()
    }
}

/// JSON scalars and string arrays as text; objects and nulls are not kept.
fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(json_text)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Value::Null | Value::Object(_) => None,
    }
}

/// Reads JSONL bytes line by line; invalid UTF-8 or JSON on one line skips only that line.
pub(crate) fn read_jsonl(bytes: &[u8], source: &str, map: &FieldMap, out: &mut ReadOutcome) {
    for (n, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_source = format!("{source}:{}", n + 1);
        let skip = |reason: String| Skip {
            source: line_source.clone(),
            reason,
        };
        let Ok(line) = std::str::from_utf8(raw) else {
            out.skipped.push(skip("invalid UTF-8".into()));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                out.skipped.push(skip("not a JSON object".into()));
                continue;
            }
            Err(e) => {
                out.skipped.push(skip(format!("parse error: {e}")));
                continue;
            }
        };
        let pairs: Pairs = object
            .iter()
            .filter_map(|(k, v)| json_text(v).map(|t| (k.clone(), t)))
            .collect();
        match map.document(&pairs, line_source.clone(), None) {
            Ok(doc) => out.docs.push(doc),
            Err(reason) => out.skipped.push(skip(reason)),
        }
    }
}

/// The header row's column names, trimmed and without a byte-order mark.
pub(crate) fn csv_headers(reader: &mut csv::Reader<&[u8]>) -> Result<Vec<String>, csv::Error> {
    Ok(reader
        .byte_headers()?
        .iter()
        .map(|f| {
            String::from_utf8_lossy(f)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_owned()
        })
        .collect())
}

/// Reads a CSV export with a header row. Quoted fields may span lines; rows with the wrong number of
/// columns, broken quoting or invalid UTF-8 are skipped with their line number.
pub(crate) fn read_csv(bytes: &[u8], source: &str, map: &FieldMap, out: &mut ReadOutcome) {
    let file_skip = |reason: String| Skip {
        source: source.to_owned(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = match csv_headers(&mut reader) {
        Ok(h) => h,
        Err(e) => return out.skipped.push(file_skip(format!("parse error: {e}"))),
    };
    let has = |names: &[&str]| {
        names
            .iter()
            .any(|n| headers.iter().any(|h| same_name(h, n)))
    };
    for (label, wanted) in [("id", &map.id), ("title", &map.title)] {
        if let Some(f) = wanted.as_deref().filter(|f| !has(&[f])) {
            return out.skipped.push(file_skip(format!(
                "no {label} column `{f}` (columns: {})",
                headers.join(", ")
            )));
        }
    }
    if let Some(f) = map.text.iter().find(|f| !has(&[f.as_str()])) {
        return out.skipped.push(file_skip(format!(
            "no text column `{f}` (columns: {})",
            headers.join(", ")
        )));
    }
    let ids_in_file = has(&map.id_fields());
    let name = std::path::Path::new(source)
        .file_name()
        .map_or_else(|| source.to_owned(), |n| n.to_string_lossy().into_owned());
    let mut record = csv::ByteRecord::new();
    loop {
        let read = reader.read_byte_record(&mut record);
        let line = match &read {
            Err(e) => e.position().map(csv::Position::line),
            Ok(_) => record.position().map(csv::Position::line),
        }
        .unwrap_or_default();
        let line_source = format!("{source}:{line}");
        let skip = |reason: String| Skip {
            source: line_source.clone(),
            reason,
        };
        match read {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let reason = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("row has {len} columns, the header has {expected_len} (check the quoting)")
                    }
                    _ => format!("parse error: {e}"),
                };
                out.skipped.push(skip(reason));
                continue;
            }
        }
        let mut pairs = Pairs::new();
        let mut bad_utf8 = false;
        for (h, field) in headers.iter().zip(record.iter()) {
            match std::str::from_utf8(field) {
                Ok(v) => pairs.push((h.clone(), v.to_owned())),
                Err(_) => bad_utf8 = true,
            }
        }
        if bad_utf8 {
            out.skipped.push(skip("invalid UTF-8".into()));
            continue;
        }
        let fallback = (!ids_in_file).then(|| format!("{name}:{line}"));
        match map.document(&pairs, line_source.clone(), fallback) {
            Ok(doc) => out.docs.push(doc),
            Err(reason) => out.skipped.push(skip(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_docs(text: &[u8], map: &FieldMap) -> ReadOutcome {
        let mut out = ReadOutcome::default();
        read_csv(text, "t.csv", map, &mut out);
        out
    }

    #[test]
    fn csv_rows_become_documents_with_metadata_and_bad_rows_are_named() {
        let data = b"Ticket ID,Subject,Body,Category,Tags\n\
            1,VPN down,\"Cannot connect\nafter update\",network,\"vpn;remote\"\n\
            2,Printer,\"missing quote,x,y\n";
        let out = csv_docs(data, &FieldMap::default());
        assert_eq!(out.docs.len(), 1, "{:?}", out.skipped);
        let d = &out.docs[0];
        assert_eq!((d.id.as_str(), d.title.as_str()), ("1", "VPN down"));
        assert_eq!(d.text, "Cannot connect\nafter update");
        assert_eq!(d.tags, ["vpn", "remote"]);
        assert_eq!(
            d.fields.get("category").map(String::as_str),
            Some("network")
        );
        assert_eq!(out.skipped.len(), 1);
        assert!(
            out.skipped[0].source.ends_with("t.csv:4"),
            "{:?}",
            out.skipped
        );
    }

    #[test]
    fn csv_without_id_column_uses_row_numbers_and_chosen_text_columns() {
        let map = FieldMap {
            text: vec!["Document".into()],
            ..FieldMap::default()
        };
        let out = csv_docs(
            b"Document,Topic_group\nlaptop screen broken,Hardware\n\xff\xfe,Access\n,Misc\n",
            &map,
        );
        assert_eq!(out.docs.len(), 1);
        assert_eq!(out.docs[0].id, "t.csv:2");
        assert_eq!(
            out.docs[0].fields.get("topic_group").map(String::as_str),
            Some("Hardware")
        );
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "t.csv:3: invalid UTF-8",
                "t.csv:4: missing or empty `Document` field"
            ]
        );
    }

    #[test]
    fn csv_with_an_unknown_mapped_column_is_one_clear_skip() {
        let map = FieldMap {
            text: vec!["body".into()],
            ..FieldMap::default()
        };
        let out = csv_docs(b"a,b\n1,2\n", &map);
        assert!(out.docs.is_empty());
        assert_eq!(
            out.skipped[0].reason,
            "no text column `body` (columns: a, b)"
        );
    }

    #[test]
    fn jsonl_lines_with_bad_utf8_or_json_are_skipped_alone() {
        let mut out = ReadOutcome::default();
        read_jsonl(
            b"{\"id\":7,\"text\":\"ok\",\"tags\":[\"a\",\"b\"]}\n\xff\n[1]\n{\"id\":\"x\"}\n",
            "r.jsonl",
            &FieldMap::default(),
            &mut out,
        );
        assert_eq!(out.docs.len(), 1);
        assert_eq!((out.docs[0].id.as_str(), out.docs[0].tags.len()), ("7", 2));
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "r.jsonl:2: invalid UTF-8",
                "r.jsonl:3: not a JSON object",
                "r.jsonl:4: missing or empty `text`/`body`/`content`/`description` field"
            ]
        );
    }
}
