//! Help-desk ticket exports (CSV or JSONL) as `kind=ticket` documents: subject + body are the text, and
//! the category, answer, priority, status and creation time are stored under those names whatever the
//! export calls them. Zendesk, Jira Service Management, ServiceNow and Freshdesk headers are recognised;
//! `--map field=Column` overrides any of them.

use crate::outcome::{check_ids, ReadOutcome, Skip};
use crate::records::{csv_headers, read_csv, read_jsonl, same_name, FieldMap};
use std::collections::BTreeMap;
use std::path::Path;

/// The ticket fields KB Nova knows, with the export column names that mean them, most specific first.
pub const TICKET_FIELDS: [(&str, &[&str]); 8] = [
    (
        "id",
        &[
            "id",
            "ticket_id",
            "issue_key",
            "number",
            "key",
            "ticket_number",
        ],
    ),
    (
        "subject",
        &["subject", "summary", "short_description", "title"],
    ),
    (
        "body",
        &[
            "body",
            "description",
            "text",
            "details",
            "content",
            "message",
            "document",
        ],
    ),
    (
        "category",
        &[
            "category",
            "queue",
            "topic_group",
            "assignment_group",
            "group",
            "request_type",
            "customer_request_type",
            "components",
        ],
    ),
    (
        "answer",
        &[
            "answer",
            "resolution_notes",
            "close_notes",
            "solution",
            "resolution",
            "response",
        ],
    ),
    ("priority", &["priority", "urgency"]),
    ("status", &["status", "state"]),
    (
        "created",
        &[
            "created",
            "created_at",
            "created_time",
            "opened_at",
            "created_date",
            "date",
        ],
    ),
];

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketFormat {
    /// Comma-separated with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl TicketFormat {
    /// From a file name's extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_string_lossy().to_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }
}

/// What an import read.
#[derive(Debug, Default)]
pub struct TicketRead {
    /// Tickets and skipped rows.
    pub outcome: ReadOutcome,
    /// Which column each ticket field came from, as (field, column).
    pub mapping: Vec<(String, String)>,
    /// Rows imported without a category (searchable, not used to train a router), as `FILE:LINE`.
    pub unlabelled: Vec<String>,
}

/// Column names of the export: the CSV header, or the keys of the first JSON object.
fn columns(bytes: &[u8], format: TicketFormat) -> Result<Vec<String>, String> {
    match format {
        TicketFormat::Csv => csv_headers(&mut csv::ReaderBuilder::new().from_reader(bytes))
            .map_err(|e| format!("unreadable header row: {e}")),
        TicketFormat::Jsonl => bytes
            .split(|&b| b == b'\n')
            .find_map(|line| {
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line).ok()
            })
            .map(|o| o.keys().cloned().collect())
            .ok_or_else(|| "no JSON object line found".to_owned()),
    }
}

/// Resolves each ticket field to a column: `overrides` (field → column) first, then the known names.
/// An override naming a field or column that does not exist is an error listing what does.
pub fn resolve_mapping(
    columns: &[String],
    overrides: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let fields: Vec<&str> = TICKET_FIELDS.iter().map(|(f, _)| *f).collect();
    if let Some(bad) = overrides.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(format!(
            "unknown ticket field `{bad}` in --map (fields: {})",
            fields.join(", ")
        ));
    }
    let mut mapping = Vec::new();
    for (field, names) in TICKET_FIELDS {
        let column = match overrides.get(field) {
            Some(wanted) => Some(
                columns
                    .iter()
                    .find(|c| same_name(c, wanted))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "no column `{wanted}` for {field} (columns: {})",
                            columns.join(", ")
                        )
                    })?,
            ),
            None => names
                .iter()
                .find_map(|n| columns.iter().find(|c| same_name(c, n)))
                .filter(|c| {
                    !mapping
                        .iter()
                        .any(|(_, used): &(String, String)| used == *c)
                })
                .cloned(),
        };
        if let Some(column) = column {
            mapping.push((field.to_owned(), column));
        }
    }
    if !mapping.iter().any(|(f, _)| f == "body") {
        return Err(format!(
            "no ticket body column found (columns: {}); name it with --map body=COLUMN",
            columns.join(", ")
        ));
    }
    Ok(mapping)
}

/// Reads a ticket export. A file-level problem (no body column, an unknown `--map` column) is one skip
/// naming the file; bad rows (empty body, broken quoting, invalid UTF-8) are skipped with their line.
pub fn read_tickets(
    name: &str,
    bytes: &[u8],
    format: TicketFormat,
    overrides: &BTreeMap<String, String>,
) -> TicketRead {
    let mut read = TicketRead::default();
    let mapping = match columns(bytes, format).and_then(|c| resolve_mapping(&c, overrides)) {
        Ok(m) => m,
        Err(reason) => {
            read.outcome.skipped.push(Skip {
                source: name.to_owned(),
                reason,
            });
            return read;
        }
    };
    let column = |field: &str| {
        mapping
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, c)| c.clone())
    };
    let map = FieldMap {
        id: column("id"),
        title: column("subject"),
        text: column("body").into_iter().collect(),
        kind: Some("ticket".into()),
        renames: mapping
            .iter()
            .filter(|(f, _)| !matches!(f.as_str(), "id" | "subject" | "body"))
            .map(|(f, c)| (c.clone(), f.clone()))
            .collect(),
        require_text: true,
    };
    match format {
        TicketFormat::Csv => read_csv(bytes, name, &map, &mut read.outcome),
        TicketFormat::Jsonl => read_jsonl(bytes, name, &map, &mut read.outcome),
    }
    for doc in &mut read.outcome.docs {
        doc.kind = "ticket".into();
    }
    check_ids(&mut read.outcome);
    if column("category").is_some() {
        read.unlabelled = read
            .outcome
            .docs
            .iter()
            .filter(|d| !d.fields.contains_key("category"))
            .map(|d| d.source.clone())
            .collect();
    }
    read.mapping = mapping;
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_overrides() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn servicenow_and_zendesk_headers_are_recognised() {
        let cols = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        let sn = resolve_mapping(
            &cols(
                "number,short_description,description,assignment_group,close_notes,state,opened_at",
            ),
            &no_overrides(),
        )
        .unwrap_or_default();
        let fields: Vec<&str> = sn.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["id", "subject", "body", "category", "answer", "status", "created"]
        );
        let zd = resolve_mapping(
            &cols("Id,Subject,Description,Group,Priority,Status,Created at"),
            &no_overrides(),
        )
        .unwrap_or_default();
        assert!(zd.contains(&("category".into(), "Group".into())));
        assert!(zd.contains(&("created".into(), "Created at".into())));
    }

    #[test]
    fn mapped_rows_are_tickets_and_bad_rows_are_named() {
        let csv = b"Document,Topic_group\nlaptop screen broken,Hardware\n,Access\nvpn token expired,\n\xff,Access\n";
        let mut over = no_overrides();
        over.insert("category".into(), "topic group".into());
        let read = read_tickets("t.csv", csv, TicketFormat::Csv, &over);
        assert_eq!(read.outcome.docs.len(), 2);
        let d = &read.outcome.docs[0];
        assert_eq!(d.kind, "ticket");
        assert_eq!(
            d.fields.get("category").map(String::as_str),
            Some("Hardware")
        );
        let skipped: Vec<String> = read
            .outcome
            .skipped
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            skipped,
            [
                "t.csv:3: missing or empty `Document` field",
                "t.csv:5: invalid UTF-8"
            ]
        );
        assert_eq!(read.unlabelled, ["t.csv:4"]);
    }

    #[test]
    fn an_unknown_column_or_field_is_one_clear_error() {
        let mut over = no_overrides();
        over.insert("category".into(), "Team".into());
        let read = read_tickets("t.csv", b"subject,body\na,b\n", TicketFormat::Csv, &over);
        assert!(read.outcome.docs.is_empty());
        assert_eq!(
            read.outcome.skipped[0].to_string(),
            "t.csv: no column `Team` for category (columns: subject, body)"
        );
        let mut over = no_overrides();
        over.insert("team".into(), "x".into());
        let err = resolve_mapping(&["body".into()], &over).unwrap_err();
        assert!(err.starts_with("unknown ticket field `team`"), "{err}");
    }
}
