//! File readers. Each file gives documents or a [`Skip`] with the reason; folders are walked in sorted
//! order so ingest runs are reproducible.

use crate::outcome::{check_ids, ReadOutcome, Skip};
use crate::records::{read_csv, read_jsonl, FieldMap};
use std::path::{Path, PathBuf};

const TEXT_EXTENSIONS: [&str; 4] = ["md", "markdown", "txt", "text"];
const HTML_EXTENSIONS: [&str; 3] = ["html", "htm", "xhtml"];

/// How files are read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Which JSONL/CSV fields hold the id, title and text.
    pub fields: FieldMap,
}

/// Reads a file or (recursively) a folder. Document ids are paths relative to `path` for folders and
/// the file name for a single file; JSONL/CSV records use their id field. A document id seen twice is
/// read once; the second is reported as a skip.
pub fn read_path(path: &Path, opts: &ReadOptions) -> ReadOutcome {
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
            read_file(&file, &rel, opts, &mut out);
        }
    } else {
        let name = path.file_name().map_or_else(
            || path.to_string_lossy().into_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        read_file(path, &name, opts, &mut out);
    }
    check_ids(&mut out);
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

/// Reads one file. Its documents' `source` is `id` — the path relative to the ingest root — never the
/// path as typed: results and skips are shown to API callers, who must not learn the server's folders.
fn read_file(path: &Path, id: &str, opts: &ReadOptions, out: &mut ReadOutcome) {
    match fs_err::read(path) {
        Ok(bytes) => parse(path, id, id, bytes, opts, out),
        Err(e) => out.skipped.push(Skip {
            source: id.to_owned(),
            reason: format!("unreadable: {}", e.kind()),
        }),
    }
}

/// Reads an uploaded file's bytes; `name` (e.g. `guide.md`) picks the format and is the document id.
pub fn read_bytes(name: &str, bytes: Vec<u8>, opts: &ReadOptions) -> ReadOutcome {
    let mut out = ReadOutcome::default();
    parse(Path::new(name), name, name, bytes, opts, &mut out);
    check_ids(&mut out);
    out
}

fn parse(
    path: &Path,
    id: &str,
    source: &str,
    bytes: Vec<u8>,
    opts: &ReadOptions,
    out: &mut ReadOutcome,
) {
    let source = source.to_owned();
    let skip = |reason: String| Skip {
        source: source.clone(),
        reason,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return out.skipped.push(skip("empty".into()));
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // PDFs are binary by nature; every other format must be text.
    if ext == "pdf" {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return match crate::pdf::document(id, &source, &bytes, &stem) {
            Ok(doc) => out.docs.push(doc),
            Err(reason) => out.skipped.push(skip(reason)),
        };
    }
    if bytes.contains(&0) {
        return out.skipped.push(skip("binary file".into()));
    }
    match ext.as_str() {
        "jsonl" | "ndjson" => return read_jsonl(&bytes, &source, &opts.fields, out),
        "csv" => return read_csv(&bytes, &source, &opts.fields, out),
        _ => {}
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return out.skipped.push(skip("invalid UTF-8".into()));
    };
    if TEXT_EXTENSIONS.contains(&ext.as_str()) {
        out.docs
            .push(crate::markdown::document(id, &source, &text, path));
    } else if HTML_EXTENSIONS.contains(&ext.as_str()) {
        match crate::html::document(id, &source, &text) {
            Some(doc) => out.docs.push(doc),
            None => out.skipped.push(skip(
                "empty (no text outside navigation and scripts)".into(),
            )),
        }
    } else {
        out.skipped.push(skip(format!(
            "unsupported file type `.{ext}` (md, txt, html, pdf, jsonl, csv)"
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_file_names_and_record_ids_obey_the_document_id_rule() {
        let opts = ReadOptions::default();
        let long_name = format!("{}.md", "n".repeat(5_000));
        let read = read_bytes(&long_name, b"# Title\n\nbody".to_vec(), &opts);
        assert!(read.docs.is_empty());
        assert!(
            read.skipped[0].reason.contains("invalid document id"),
            "{:?}",
            read.skipped
        );
        assert!(
            read.skipped[0].to_string().len() < 400,
            "skip quotes the whole name"
        );

        let jsonl = format!(
            "{{\"_id\":\"{}\",\"text\":\"long\"}}\n{{\"_id\":\"a\\u0000b\",\"text\":\"nul\"}}\n\
             {{\"_id\":\"x\\u202Etxt.exe\",\"text\":\"bidi\"}}\n{{\"_id\":\"ok\",\"text\":\"fine\"}}\n",
            "i".repeat(20_000)
        );
        let read = read_bytes("r.jsonl", jsonl.into_bytes(), &opts);
        let ids: Vec<&str> = read.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["ok"]);
        assert_eq!(read.skipped.len(), 3, "{:?}", read.skipped);
        assert!(read
            .skipped
            .iter()
            .all(|s| s.reason.starts_with("invalid document id")));
    }

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
        let out = read_path(p, &ReadOptions::default());
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
