//! File readers. Each file gives documents or a [`Skip`] with the reason; folders are walked in sorted
//! order so ingest runs are reproducible.

use crate::document::Document;
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// Something that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The file (with `:line` for JSONL records).
    pub source: String,
    /// Why: `binary file`, `empty`, `invalid UTF-8`, `parse error: …`, `unsupported file type`.
    pub reason: String,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// Documents read and things skipped.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Good documents, in file order.
    pub docs: Vec<Document>,
    /// Files or lines that were not read.
    pub skipped: Vec<Skip>,
}

const TEXT_EXTENSIONS: [&str; 4] = ["md", "markdown", "txt", "text"];

/// Reads a file or (recursively) a folder. Document ids are paths relative to `path` for folders and
/// the file name for a single file; JSONL records use their `_id`/`id` field.
pub fn read_path(path: &Path) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files, &mut out.skipped);
        files.sort();
        for file in files {
            let rel = file
                .strip_prefix(path)
                .unwrap_or(&file)
                .to_string_lossy()
                .into_owned();
            read_file(&file, &rel, &mut out);
        }
    } else {
        let name = path.file_name().map_or_else(
            || path.to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        read_file(path, &name, &mut out);
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, skipped: &mut Vec<Skip>) {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return skipped.push(Skip {
                source: dir.display().to_string(),
                reason: format!("unreadable: {e}"),
            })
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        } else if path.is_dir() {
            walk(&path, files, skipped);
        } else {
            files.push(path);
        }
    }
}

fn read_file(path: &Path, id: &str, out: &mut ReadOutcome) {
    let source = path.display().to_string();
    let skip = |reason: String| Skip {
        source: source.clone(),
        reason,
    };
    let bytes = match fs_err::read(path) {
        Ok(b) => b,
        Err(e) => return out.skipped.push(skip(format!("unreadable: {e}"))),
    };
    if bytes.contains(&0) {
        return out.skipped.push(skip("binary file".into()));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return out.skipped.push(skip("invalid UTF-8".into()));
    };
    if text.trim().is_empty() {
        return out.skipped.push(skip("empty".into()));
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if ext == "jsonl" {
        read_jsonl(&text, &source, out);
    } else if TEXT_EXTENSIONS.contains(&ext.as_str()) {
        out.docs.push(text_document(id, &source, text, path));
    } else {
        out.skipped
            .push(skip(format!("unsupported file type `.{ext}`")));
    }
}

fn text_document(id: &str, source: &str, text: String, path: &Path) -> Document {
    let title = text
        .lines()
        .find_map(|l| l.strip_prefix("# ").map(|t| t.trim().to_owned()))
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    Document {
        id: id.to_owned(),
        title,
        source: source.to_owned(),
        text,
        kind: "article".into(),
    }
}

/// BEIR `corpus.jsonl` (`_id`, `title`, `text`) or generic records with `id`/`text`.
fn read_jsonl(text: &str, source: &str, out: &mut ReadOutcome) {
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let line_source = format!("{source}:{}", n + 1);
        let skip = |reason: String| Skip {
            source: line_source.clone(),
            reason,
        };
        let value: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                out.skipped.push(skip(format!("parse error: {e}")));
                continue;
            }
        };
        let field = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        let id = field("_id")
            .or_else(|| field("id"))
            .or_else(|| value.get("id").map(Value::to_string));
        match (id, field("text")) {
            (Some(id), Some(body))
                if !body.trim().is_empty()
                    || field("title").is_some_and(|t| !t.trim().is_empty()) =>
            {
                out.docs.push(Document {
                    id,
                    title: field("title").unwrap_or_default(),
                    source: line_source,
                    // A title-only record is still a document (BEIR has some); its title is its text.
                    text: if body.trim().is_empty() {
                        field("title").unwrap_or_default()
                    } else {
                        body
                    },
                    kind: field("kind").unwrap_or_else(|| "article".into()),
                })
            }
            (None, _) => out.skipped.push(skip("missing `_id`/`id` field".into())),
            (Some(_), _) => out
                .skipped
                .push(skip("missing or empty `text` field".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_of_mixed_files_reads_the_good_and_names_the_bad() {
        let dir = tempfile::TempDir::new().unwrap();
        let p = dir.path();
        std::fs::write(p.join("a.md"), "# Disk full\n\nFree space on /var.").unwrap();
        std::fs::write(p.join("b.txt"), "plain text note").unwrap();
        std::fs::write(p.join("empty.md"), "  \n").unwrap();
        std::fs::write(p.join("bin.md"), b"\x00\x01\x02").unwrap();
        std::fs::write(p.join("latin1.txt"), b"caf\xe9").unwrap();
        std::fs::write(
            p.join("c.jsonl"),
            "{\"_id\":\"x\",\"title\":\"T\",\"text\":\"body\"}\n{oops\n",
        )
        .unwrap();
        let out = read_path(p);
        let ids: Vec<&str> = out.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a.md", "b.txt", "x"]);
        assert_eq!(out.docs[0].title, "Disk full");
        let reasons: Vec<String> = out.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.ends_with("bin.md: binary file")));
        assert!(reasons.iter().any(|r| r.ends_with("empty.md: empty")));
        assert!(reasons
            .iter()
            .any(|r| r.ends_with("latin1.txt: invalid UTF-8")));
        assert!(reasons.iter().any(|r| r.contains("c.jsonl:2: parse error")));
    }
}
