//! `nova redact --dry-run PATH…`: what PII redaction would replace, by kind and file, without ingesting.
//! Reads files as `nova ingest` does and runs the same redactor the engine runs at ingest; it touches no
//! knowledge base, so it needs no engine.

use super::Outcome;
use crate::cli::RedactArgs;
use crate::config::Config;
use anyhow::{bail, Context, Result};
use nova_ingest::{ReadOptions, RedactionCounts, Redactor};
use serde::Serialize;

#[derive(Serialize)]
struct FileReport {
    source: String,
    documents: usize,
    counts: RedactionCounts,
}

pub fn run(config: &Config, args: &RedactArgs) -> Result<Outcome> {
    let redactor =
        Redactor::new(&config.redaction.settings().patterns).context("redaction.patterns")?;
    let mut files: Vec<FileReport> = Vec::new();
    let mut total = RedactionCounts::default();
    let mut skipped = 0;
    for path in &args.paths {
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        let read = nova_ingest::read_path(path, &ReadOptions::default());
        for skip in &read.skipped {
            eprintln!("skipped {}: {}", skip.source, skip.reason);
        }
        skipped += read.skipped.len();
        for mut doc in read.docs {
            // Records of one file (JSONL/CSV rows) report under the file.
            let source = doc
                .source
                .rsplit_once(':')
                .filter(|(_, line)| line.chars().all(|c| c.is_ascii_digit()))
                .map_or(doc.source.clone(), |(file, _)| file.to_owned());
            let mut counts = RedactionCounts::default();
            redactor.document(&mut doc, &mut counts);
            if args.show && counts.total() > 0 {
                println!(
                    "--- {} ({})\n{}\n{}\n",
                    doc.id, doc.source, doc.title, doc.text
                );
            }
            total.add(&counts);
            match files.iter_mut().find(|f| f.source == source) {
                Some(f) => {
                    f.documents += 1;
                    f.counts.add(&counts);
                }
                None => files.push(FileReport {
                    source,
                    documents: 1,
                    counts,
                }),
            }
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"files": files, "total": total}))?
        );
    } else {
        for f in &files {
            let kinds: Vec<String> = f.counts.0.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let kinds = if kinds.is_empty() {
                "nothing to redact".to_owned()
            } else {
                kinds.join(", ")
            };
            println!("{}\t{} documents\t{kinds}", f.source, f.documents);
        }
        let kinds: Vec<String> = total.0.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "would redact {} values in {} files{}{}",
            total.total(),
            files.len(),
            if kinds.is_empty() {
                String::new()
            } else {
                format!(": {}", kinds.join(", "))
            },
            if args.dry_run {
                ""
            } else {
                " (nothing is written: ingest redacts when [redaction] is on)"
            },
        );
    }
    Ok(if skipped > 0 {
        Outcome::Partial
    } else {
        Outcome::Done
    })
}
