//! `nova embed`: texts from arguments or a JSONL file → embeddings as JSON lines.
//!
//! File mode streams: lines are read, embedded in chunks and written in order, so memory stays flat on
//! large inputs. A bad line is reported with its number and skipped; the others are still embedded.

use super::Outcome;
use crate::cli::EmbedArgs;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use nova_embed::{Embedder, SentenceEmbedder};
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

/// Lines embedded per forward round; large enough to keep batches full, small enough to stream.
const CHUNK_LINES: usize = 512;

pub fn run(embedder: &SentenceEmbedder, args: &EmbedArgs) -> Result<Outcome> {
    match (&args.input, &args.output) {
        (Some(input), Some(output)) => embed_file(embedder, input, output, &args.field),
        _ => embed_args(embedder, &args.texts),
    }
}

fn embed_args(embedder: &SentenceEmbedder, texts: &[String]) -> Result<Outcome> {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    let mut out = std::io::stdout().lock();
    for (text, embedding) in texts.iter().zip(vectors) {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "text": text, "embedding": embedding }),
        )?;
        writeln!(out)?;
    }
    Ok(Outcome::Done)
}

/// A line that parsed: its object and the text to embed.
#[derive(Debug)]
struct Record {
    object: Map<String, Value>,
    text: String,
}

/// Why a line was skipped; shown as `FILE:LINE: reason`.
fn parse_line(bytes: &[u8], field: &str) -> Result<Option<Record>, String> {
    let line = std::str::from_utf8(bytes).map_err(|e| format!("invalid UTF-8 ({e})"))?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON ({e})"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object".into());
    };
    match object.get(field) {
        Some(Value::String(text)) => Ok(Some(Record {
            text: text.clone(),
            object,
        })),
        Some(_) => Err(format!("field `{field}` is not a string")),
        None => Err(format!("missing field `{field}`")),
    }
}

fn embed_file(
    embedder: &SentenceEmbedder,
    input: &Path,
    output: &Path,
    field: &str,
) -> Result<Outcome> {
    let file = fs_err::File::open(input).context("cannot read input")?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = BufReader::new(file);
    let mut writer: BufWriter<Box<dyn Write>> = BufWriter::new(if output == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        Box::new(fs_err::File::create(output).context("cannot write output")?)
    });
    let progress = ProgressBar::new(size).with_style(
        ProgressStyle::with_template(
            "{spinner} embedding [{bar:30}] {percent}% {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut line_no, mut embedded, mut skipped) = (0usize, 0usize, 0usize);
    let mut chunk: Vec<Record> = Vec::with_capacity(CHUNK_LINES);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {}", input.display()))?;
        if n > 0 {
            line_no += 1;
            progress.inc(n as u64);
            let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
            match parse_line(bytes.strip_suffix(b"\r").unwrap_or(bytes), field) {
                Ok(Some(record)) => chunk.push(record),
                Ok(None) => {}
                Err(reason) => {
                    skipped += 1;
                    progress.suspend(|| {
                        eprintln!(
                            "warning: {}:{line_no}: {reason}; line skipped",
                            input.display()
                        )
                    });
                }
            }
        }
        if chunk.len() >= CHUNK_LINES || (n == 0 && !chunk.is_empty()) {
            embedded += write_chunk(embedder, &mut chunk, &mut writer)?;
        }
        if n == 0 {
            break;
        }
    }
    writer
        .flush()
        .with_context(|| format!("writing {}", output.display()))?;
    progress.finish_and_clear();
    eprintln!(
        "embedded {embedded} texts from {}, skipped {skipped} lines",
        input.display()
    );
    Ok(if skipped > 0 {
        Outcome::Partial
    } else {
        Outcome::Done
    })
}

fn write_chunk(
    embedder: &SentenceEmbedder,
    chunk: &mut Vec<Record>,
    out: &mut impl Write,
) -> Result<usize> {
    let texts: Vec<&str> = chunk.iter().map(|r| r.text.as_str()).collect();
    let vectors = embedder.embed(&texts)?;
    let count = chunk.len();
    for (record, vector) in chunk.drain(..).zip(vectors) {
        let mut object = record.object;
        object.insert("embedding".into(), Value::from(vector));
        serde_json::to_writer(&mut *out, &object)?;
        out.write_all(b"\n")?;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(parse_line(b"{nope", "text")
            .unwrap_err()
            .starts_with("invalid JSON"));
        assert_eq!(
            parse_line(b"[1]", "text").unwrap_err(),
            "expected a JSON object"
        );
        assert_eq!(
            parse_line(br#"{"t":1}"#, "text").unwrap_err(),
            "missing field `text`"
        );
        assert_eq!(
            parse_line(br#"{"text":1}"#, "text").unwrap_err(),
            "field `text` is not a string"
        );
        assert!(parse_line(b"\xff\xfe", "text")
            .unwrap_err()
            .starts_with("invalid UTF-8"));
    }

    #[test]
    fn blank_lines_are_ignored_and_good_lines_keep_their_fields() {
        assert!(parse_line(b"  ", "text").expect("blank is fine").is_none());
        let rec = parse_line(br#"{"id":7,"body":"hi"}"#, "body")
            .expect("ok")
            .expect("some");
        assert_eq!(rec.text, "hi");
        assert_eq!(rec.object["id"], 7);
    }
}
