//! Property-based fuzzing of every reader an upload reaches — Markdown with front matter, plain text,
//! HTML, CSV, JSONL, PDF, help-desk ticket exports — and of the chunker and the PII redactor on what
//! they produce. Inputs are both raw bytes and text built from each format's own syntax (front-matter
//! fences, tags, quotes, separators, PDF objects), so the parsers' deeper paths are reached. The
//! property: no panic, no hang (each call under a time bound), and every output well formed (chunks
//! non-empty and in order, every document with an id).
//!
//! A smoke run in the test suite (`FUZZ_CASES`, default 64 per target); the long run is
//! `bench/fuzz.sh` (1,000,000 cases per target in release mode). A failing input is shrunk by proptest
//! and printed; it then becomes a regression test beside the reader's unit tests.

use nova_ingest::{
    chunk, read_bytes, read_tickets, ChunkOptions, ReadOptions, ReadOutcome, RedactionCounts,
    Redactor, TicketFormat,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One parse of an upload this large must finish well within this (a hang is a finding).
const TIME_BOUND: Duration = Duration::from_secs(10);

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        // Shrinking a failure is worth minutes, not hours.
        max_shrink_iters: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Reads `bytes` as an upload named `name`, then chunks and redacts what came out, checking shape.
fn read_chunk_redact(name: &str, bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let out: ReadOutcome = read_bytes(name, bytes, &ReadOptions::default());
    let redactor = Redactor::new(&[]).expect("built-in patterns compile");
    for doc in &out.docs {
        prop_assert!(!doc.id.is_empty(), "a document without an id from {name}");
        let chunks = chunk(doc, ChunkOptions::default());
        for (i, c) in chunks.iter().enumerate() {
            prop_assert_eq!(c.index, i, "chunks out of order");
            prop_assert!(!c.text.trim().is_empty(), "an empty chunk from {}", name);
        }
        redactor.redact(&doc.text, &mut RedactionCounts::default());
        redactor.redact(&doc.title, &mut RedactionCounts::default());
    }
    prop_assert!(
        started.elapsed() < TIME_BOUND,
        "{name} took {:?}",
        started.elapsed()
    );
    Ok(())
}

/// Text made of a format's own syntax, so generated inputs look like the format often enough.
fn syntax(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(pieces).prop_map(str::to_owned),
            2 => "[a-zA-Z0-9 ]{0,12}",
            1 => any::<String>(),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

const MARKDOWN: &[&str] = &[
    "---\n", "title: ", "tags: [", "]", "acl: ", "\n", "# ", "## ", "- ", "1. ", "```", "`", "*",
    "_", "> ", "[link](", ")", "|", ":", "\"", "'", "  \n", "\t", "<!--", "-->", "\u{feff}",
    "\r\n",
];
const HTML: &[&str] = &[
    "<html>",
    "</html>",
    "<head>",
    "<title>",
    "</title>",
    "<body>",
    "<h1>",
    "</h1>",
    "<h2>",
    "<p>",
    "</p>",
    "<ul>",
    "<li>",
    "<pre>",
    "<code>",
    "<script>",
    "</script>",
    "<style>",
    "<nav>",
    "</nav>",
    "<table><tr><td>",
    "<br>",
    "&amp;",
    "&#x27;",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<",
    ">",
    "\"",
];
const CSV: &[&str] = &[
    "id,title,text,category,answer\n",
    "subject,description,priority,status,resolution\n",
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "T-1",
    "urgent",
    ";",
    "\t",
];
const JSONL: &[&str] = &[
    "{",
    "}",
    "\"id\":",
    "\"text\":",
    "\"title\":",
    "\"category\":",
    "\"tags\":[",
    "]",
    ",",
    ":",
    "\"",
    "\\u0000",
    "\\\"",
    "null",
    "true",
    "1e999",
    "-0",
    "\n",
    "[",
    "{}",
];
const PDF: &[&str] = &[
    "%PDF-1.4\n",
    "1 0 obj\n",
    "endobj\n",
    "<< /Type /Catalog /Pages 2 0 R >>",
    "stream\n",
    "endstream\n",
    "xref\n0 3\n",
    "0000000000 65535 f \n",
    "trailer\n<< /Root 1 0 R /Size 3 >>\n",
    "startxref\n",
    "%%EOF",
    "/Length 44",
    "BT /F1 12 Tf (Hello) Tj ET",
    "/Filter /FlateDecode",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "/Kids [3 0 R]",
    "/Count 1",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn markdown_and_text(text in syntax(MARKDOWN), raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_chunk_redact("doc.md", text.clone().into_bytes())?;
        read_chunk_redact("doc.txt", text.into_bytes())?;
        read_chunk_redact("raw.md", raw)?;
    }

    #[test]
    fn html(text in syntax(HTML)) {
        read_chunk_redact("page.html", text.into_bytes())?;
    }

    #[test]
    fn csv_and_jsonl_records(csv in syntax(CSV), jsonl in syntax(JSONL)) {
        read_chunk_redact("rows.csv", csv.into_bytes())?;
        read_chunk_redact("rows.jsonl", jsonl.into_bytes())?;
    }

    #[test]
    fn ticket_exports(csv in syntax(CSV), jsonl in syntax(JSONL), map_to in "[a-z_]{1,10}") {
        let started = Instant::now();
        let overrides = BTreeMap::from([("text".to_owned(), map_to)]);
        for (bytes, format) in [(csv.as_bytes(), TicketFormat::Csv), (jsonl.as_bytes(), TicketFormat::Jsonl)] {
            let read = read_tickets("export", bytes, format, &BTreeMap::new());
            for doc in &read.outcome.docs {
                prop_assert!(!doc.id.is_empty());
            }
            read_tickets("export", bytes, format, &overrides);
        }
        prop_assert!(started.elapsed() < TIME_BOUND);
    }

    #[test]
    fn pdf(text in syntax(PDF), raw in proptest::collection::vec(any::<u8>(), 0..1024)) {
        read_chunk_redact("file.pdf", text.into_bytes())?;
        let mut prefixed = b"%PDF-1.7\n".to_vec();
        prefixed.extend(raw);
        read_chunk_redact("raw.pdf", prefixed)?;
    }

    #[test]
    fn redactor_on_any_text(text in any::<String>(), digits in "[0-9 +()-]{0,40}") {
        let r = Redactor::new(&[("TICKET".to_owned(), "T-[0-9]+".to_owned())]).expect("pattern");
        let mut counts = RedactionCounts::default();
        r.redact(&text, &mut counts);
        r.redact(&digits, &mut counts);
    }
}
