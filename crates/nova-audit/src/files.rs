//! The trail's folder: numbered log files, `head.json` (the last record written) and `anchor.json`
//! (the last record retention removed), and reading records back from the files.

use crate::error::{AuditError, Result};
use crate::record::{parse_line, ParsedLine};
use crate::seal::Sealer;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Name of the `n`th log file.
pub(crate) fn log_name(n: u32) -> String {
    format!("audit-{n:06}.jsonl")
}

/// The log files' numbers, ascending.
pub(crate) fn log_numbers(dir: &Path) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    let entries = match fs_err::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(AuditError::io(dir)(e)),
    };
    for entry in entries {
        let name = entry.map_err(AuditError::io(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("audit-")
            .and_then(|s| s.strip_suffix(".jsonl"))
            .and_then(|s| s.parse().ok())
        {
            out.push(n);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// One line of a log file, taken apart (`None` when it is not a sealed record).
pub(crate) struct Line {
    pub file: PathBuf,
    /// 1-based.
    pub number: usize,
    /// The line as stored, without its newline.
    pub raw: String,
    pub parsed: Option<ParsedLine>,
}

/// Calls `each` with every line of every log file in order; stops early when it returns `false`.
pub(crate) fn for_each_line(dir: &Path, each: impl FnMut(Line) -> bool) -> Result<()> {
    for_each_line_in(dir, &log_numbers(dir)?, each)
}

/// [`for_each_line`] over the log files numbered `numbers`.
pub(crate) fn for_each_line_in(
    dir: &Path,
    numbers: &[u32],
    mut each: impl FnMut(Line) -> bool,
) -> Result<()> {
    for &n in numbers {
        let path = dir.join(log_name(n));
        let file = fs_err::File::open(&path).map_err(AuditError::io(&path))?;
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(AuditError::io(&path))?;
            let go_on = each(Line {
                file: path.clone(),
                number: i + 1,
                parsed: parse_line(&line),
                raw: line,
            });
            if !go_on {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A record named outside the log (by `head.json` or `anchor.json`), sealed so it cannot be moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Marker {
    pub seq: u64,
    pub hash: String,
    pub seal: String,
    /// The sealer's seal of `"<kind>:<seq>:<hash>"`.
    pub mac: String,
}

impl Marker {
    pub fn new(kind: &str, sealer: &Sealer, seq: u64, hash: &str) -> Self {
        Self {
            seq,
            hash: hash.to_owned(),
            seal: sealer.name(),
            mac: sealer.seal(format!("{kind}:{seq}:{hash}").as_bytes()),
        }
    }

    pub fn is_sealed_by(&self, kind: &str, sealer: &Sealer) -> bool {
        self.seal == sealer.name()
            && sealer.check(
                format!("{kind}:{}:{}", self.seq, self.hash).as_bytes(),
                &self.mac,
            )
    }
}

pub(crate) const HEAD: &str = "head.json";
pub(crate) const ANCHOR: &str = "anchor.json";

/// Reads a marker; `Ok(None)` when the file does not exist, `Err` text when it is unreadable.
pub(crate) fn read_marker(path: &Path) -> std::result::Result<Option<Marker>, String> {
    match fs_err::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is damaged: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Replaces a marker atomically (temp file, rename); `durable` also syncs it and the folder.
pub(crate) fn write_marker(path: &Path, marker: &Marker, durable: bool) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(marker).expect("a marker is plain data");
    let mut file = open_private(&tmp, true)?;
    file.write_all(&bytes).map_err(AuditError::io(&tmp))?;
    if durable {
        file.sync_all().map_err(AuditError::io(&tmp))?;
    }
    drop(file);
    fs_err::rename(&tmp, path).map_err(AuditError::io(path))?;
    if durable {
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
    }
    Ok(())
}

/// Makes a folder's entries (a new or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs_err::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(AuditError::io(dir))
}

/// The last complete line of `path` (ending in a newline) and the length up to its end; `None` when
/// the file holds no complete line. A partial last line (a write cut off before it was acknowledged)
/// is not returned. Reads backwards from the end, so a large file costs what its last line does.
pub(crate) fn last_line(path: &Path) -> Result<Option<(String, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    const STEP: u64 = 64 << 10;
    let io = AuditError::io(path);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(AuditError::io(path))?.len();
    // Bytes from `pos` to the end of the file, read so far.
    let mut tail: Vec<u8> = Vec::new();
    let mut pos = size;
    let mut end: Option<usize> = None;
    while pos > 0 {
        let step = STEP.min(pos);
        pos -= step;
        let mut chunk = vec![0; step as usize];
        file.seek(SeekFrom::Start(pos))
            .and_then(|_| file.read_exact(&mut chunk))
            .map_err(AuditError::io(path))?;
        chunk.extend_from_slice(&tail);
        tail = chunk;
        // Indexes into `tail` move as chunks are put in front, so the end is found again each time.
        end = tail.iter().rposition(|b| *b == b'\n');
        if let Some(e) = end {
            if let Some(start) = tail[..e].iter().rposition(|b| *b == b'\n') {
                return finish(path, &tail[start + 1..e], pos + e as u64 + 1).map(Some);
            }
        }
    }
    match end {
        Some(e) => finish(path, &tail[..e], e as u64 + 1).map(Some),
        None => Ok(None),
    }
}

fn finish(path: &Path, line: &[u8], end: u64) -> Result<(String, u64)> {
    let line = String::from_utf8(line.to_vec()).map_err(|_| AuditError::Damaged {
        path: path.to_owned(),
        reason: "the last record is not UTF-8".into(),
    })?;
    Ok((line, end))
}

/// Opens `path` for writing, owner-only (0600): the trail names who read what. `truncate` starts it
/// empty; otherwise writes append.
pub(crate) fn open_private(path: &Path, truncate: bool) -> Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if truncate {
        options.write(true).truncate(true);
    } else {
        options.read(true).append(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(AuditError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_complete_line_is_found_across_read_steps_and_a_partial_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let long = "x".repeat(150_000);
        std::fs::write(&path, format!("a\n{long}\npartial")).unwrap();
        let (line, end) = last_line(&path).unwrap().unwrap();
        assert_eq!(line, long);
        assert_eq!(end, 2 + 150_001);
        std::fs::write(&path, "only\n").unwrap();
        assert_eq!(last_line(&path).unwrap(), Some(("only".into(), 5)));
        std::fs::write(&path, "no newline").unwrap();
        assert_eq!(last_line(&path).unwrap(), None);
    }
}
