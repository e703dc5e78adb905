//! Appending to the trail. A record is durable (written and `fdatasync`ed) before `append` returns.
//! Concurrent callers are written together: the first caller to find no write under way writes every
//! record queued so far with one sync, and the others wait for it (group commit), so auditing every
//! read costs one sync per batch, not per request. An OS lock on `lock` makes appends from several
//! processes (the server and a command line) take turns; each turn first checks whether another process
//! wrote since, and continues the chain from what is really on disk.

use crate::error::{AuditError, Result};
use crate::files::{
    last_line, log_name, log_numbers, open_private, read_marker, sync_dir, write_marker, Marker,
    ANCHOR, HEAD,
};
use crate::record::{parse_line, seal_line, Event};
use crate::seal::{Sealer, GENESIS};
use parking_lot::{Condvar, Mutex, MutexGuard};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the trail is written.
#[derive(Debug, Clone)]
pub struct TrailOptions {
    /// How records are sealed.
    pub sealer: Sealer,
    /// A new log file is started once the current one reaches this size.
    pub rotate_bytes: u64,
    /// Log files whose every record is older than this many days are removed (0 keeps everything);
    /// the last removed record is kept in `anchor.json`, which the rest of the chain verifies from.
    pub retention_days: u64,
}

impl Default for TrailOptions {
    fn default() -> Self {
        Self {
            sealer: Sealer::Plain,
            rotate_bytes: 64 << 20,
            retention_days: 365,
        }
    }
}

/// An audit trail open for appending.
pub struct AuditTrail {
    dir: PathBuf,
    opts: TrailOptions,
    queue: Mutex<Queue>,
    written: Condvar,
    writer: Mutex<Writer>,
    /// The cross-process lock (`lock`), taken while `writer` is held.
    lock: std::fs::File,
}

#[derive(Default)]
struct Queue {
    pending: Vec<(u64, Event)>,
    next_ticket: u64,
    writing: bool,
    /// Each finished caller's sequence number, or its batch's error.
    done: HashMap<u64, std::result::Result<u64, String>>,
}

/// Where the chain ends, as far as this process knows.
struct Writer {
    file: Option<std::fs::File>,
    file_no: u32,
    len: u64,
    last_seq: u64,
    last_hash: String,
}

/// Holds the cross-process lock for as long as it lives.
struct OsLock<'a>(&'a std::fs::File);

impl Drop for OsLock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// The current time as written in records.
pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl AuditTrail {
    /// Opens (creating if needed) the trail in `dir` and applies retention.
    pub fn open(dir: &Path, opts: TrailOptions) -> Result<Self> {
        fs_err::create_dir_all(dir).map_err(AuditError::io(dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
        let lock = open_private(&dir.join("lock"), false)?;
        let trail = Self {
            dir: dir.to_owned(),
            opts,
            queue: Mutex::new(Queue::default()),
            written: Condvar::new(),
            lock,
            writer: Mutex::new(Writer {
                file: None,
                file_no: 0,
                len: 0,
                last_seq: 0,
                last_hash: GENESIS.to_owned(),
            }),
        };
        trail.write_batch(&[], true)?;
        Ok(trail)
    }

    /// The trail's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How records are sealed.
    pub fn sealer(&self) -> &Sealer {
        &self.opts.sealer
    }

    /// Appends `event`; returns its sequence number once it is on disk.
    pub fn append(&self, event: Event) -> Result<u64> {
        let mut queue = self.queue.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push((ticket, event));
        loop {
            if let Some(done) = queue.done.remove(&ticket) {
                return done.map_err(AuditError::BatchFailed);
            }
            if queue.writing {
                self.written.wait(&mut queue);
                continue;
            }
            queue.writing = true;
            let batch = std::mem::take(&mut queue.pending);
            let events: Vec<&Event> = batch.iter().map(|(_, e)| e).collect();
            let outcome = MutexGuard::unlocked(&mut queue, || self.write_batch(&events, false));
            queue.writing = false;
            match outcome {
                Ok(seqs) => {
                    for ((t, _), seq) in batch.iter().zip(seqs) {
                        queue.done.insert(*t, Ok(seq));
                    }
                }
                Err(e) => {
                    tracing::error!("audit trail: {e}");
                    for (t, _) in &batch {
                        queue.done.insert(*t, Err(e.to_string()));
                    }
                }
            }
            self.written.notify_all();
        }
    }

    /// Writes `events` (and a retention record when files were removed) with one sync; their sequence
    /// numbers, in order.
    fn write_batch(&self, events: &[&Event], retire: bool) -> Result<Vec<u64>> {
        let mut w = self.writer.lock();
        self.lock
            .lock()
            .map_err(AuditError::io(self.dir.join("lock")))?;
        let _os_lock = OsLock(&self.lock);
        self.catch_up(&mut w)?;
        let rotate = w.len >= self.opts.rotate_bytes;
        if rotate {
            w.file_no += 1;
            w.file = None;
            w.len = 0;
        }
        let retention = if rotate || retire {
            self.retire(&w)?
        } else {
            None
        };
        if retention.is_none() && events.is_empty() {
            return Ok(Vec::new());
        }
        let path = self.dir.join(log_name(w.file_no));
        if w.file.is_none() {
            let existed = path.exists();
            w.file = Some(open_private(&path, false)?);
            if !existed {
                sync_dir(&self.dir)?;
            }
        }
        let mut buf = String::new();
        let mut seqs = Vec::with_capacity(events.len() + 1);
        let (mut seq, mut hash) = (w.last_seq, w.last_hash.clone());
        for event in retention.iter().chain(events.iter().copied()) {
            seq += 1;
            let (line, h) = seal_line(&self.opts.sealer, seq, &now_rfc3339(), &hash, event);
            buf.push_str(&line);
            hash = h;
            seqs.push(seq);
        }
        let file = w.file.as_mut().expect("opened above");
        let written = file
            .write_all(buf.as_bytes())
            .and_then(|()| file.sync_data());
        if let Err(e) = written {
            // What reached the file is unknown: read it back before the next write.
            w.file = None;
            return Err(AuditError::Io { path, source: e });
        }
        w.len += buf.len() as u64;
        w.last_seq = seq;
        w.last_hash = hash;
        // Not synced: after a crash the head may name an earlier record than the log's last, which the
        // verifier accepts; it is never ahead of what is durable.
        let head = Marker::new("head", &self.opts.sealer, w.last_seq, &w.last_hash);
        write_marker(&self.dir.join(HEAD), &head, false)?;
        if retention.is_some() {
            // The retention record is not a caller's.
            seqs.remove(0);
        }
        Ok(seqs)
    }

    /// Brings `w` up to what is on disk: another process may have appended or rotated since, or this
    /// process may not have read the trail yet. A partial last line (a write that was never
    /// acknowledged) is cut off so the next record starts on a line of its own.
    fn catch_up(&self, w: &mut Writer) -> Result<()> {
        // The usual case, checked without listing the folder: our file has not grown under us and no
        // process has started the next one.
        if let Some(file) = &w.file {
            let len = file.metadata().map_err(AuditError::io(&self.dir))?.len();
            if len == w.len && !self.dir.join(log_name(w.file_no + 1)).exists() {
                return Ok(());
            }
        }
        let numbers = log_numbers(&self.dir)?;
        let latest = numbers.last().copied().unwrap_or(1);
        w.file = None;
        w.file_no = latest;
        w.len = 0;
        let (mut seq, mut hash) = match read_marker(&self.dir.join(ANCHOR)) {
            Ok(Some(anchor)) => (anchor.seq, anchor.hash),
            Ok(None) => (0, GENESIS.to_owned()),
            Err(reason) => {
                return Err(AuditError::Damaged {
                    path: self.dir.join(ANCHOR),
                    reason,
                })
            }
        };
        // The newest file holding a complete record ends the chain.
        for n in numbers.iter().rev() {
            let path = self.dir.join(log_name(*n));
            let size = fs_err::metadata(&path)
                .map_err(AuditError::io(&path))?
                .len();
            let last = last_line(&path)?;
            let end = last.as_ref().map_or(0, |(_, end)| *end);
            if *n == latest {
                if size > end {
                    tracing::warn!(file = %path.display(), bytes = size - end, "audit trail: cutting off a record that was never acknowledged");
                    let f = open_private(&path, false)?;
                    f.set_len(end).map_err(AuditError::io(&path))?;
                    f.sync_data().map_err(AuditError::io(&path))?;
                }
                w.len = end;
            }
            if let Some((line, _)) = last {
                let parsed = parse_line(&line).ok_or_else(|| AuditError::Damaged {
                    path: path.clone(),
                    reason: "the last record is not a sealed record; run `nova audit verify`"
                        .into(),
                })?;
                seq = parsed.record.seq;
                hash = parsed.record.hash;
                break;
            }
        }
        w.last_seq = seq;
        w.last_hash = hash;
        Ok(())
    }

    /// Removes log files (never the one being written) whose every record is older than the retention;
    /// the last removed record becomes the anchor. Returns the record that says so.
    fn retire(&self, w: &Writer) -> Result<Option<Event>> {
        if self.opts.retention_days == 0 {
            return Ok(None);
        }
        let cutoff = chrono::Utc::now() - chrono::Duration::days(self.opts.retention_days as i64);
        let mut expired = Vec::new();
        let mut anchor = None;
        for n in log_numbers(&self.dir)? {
            if n >= w.file_no {
                break;
            }
            let path = self.dir.join(log_name(n));
            let Some(parsed) = last_line(&path)?.and_then(|(line, _)| parse_line(&line)) else {
                break;
            };
            let old =
                chrono::DateTime::parse_from_rfc3339(&parsed.record.ts).is_ok_and(|ts| ts < cutoff);
            if !old {
                break;
            }
            anchor = Some((parsed.record.seq, parsed.record.hash));
            expired.push(path);
        }
        let Some((seq, hash)) = anchor else {
            return Ok(None);
        };
        // The anchor is durable before any file goes, so the remaining chain always has its start.
        let marker = Marker::new("anchor", &self.opts.sealer, seq, &hash);
        write_marker(&self.dir.join(ANCHOR), &marker, true)?;
        let mut names = Vec::new();
        for path in &expired {
            fs_err::remove_file(path).map_err(AuditError::io(path))?;
            names.push(
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            );
        }
        sync_dir(&self.dir)?;
        tracing::info!(
            files = names.len(),
            anchor_seq = seq,
            "audit trail: retention removed old files"
        );
        Ok(Some(
            Event::new("audit.retention", "nova", "retention").detail(serde_json::json!({
                "removed_files": names,
                "anchor_seq": seq,
                "retention_days": self.opts.retention_days,
            })),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verify;

    /// Writes records `seqs` dated `ts` as log file `n`, chained from `prev`; the last hash.
    fn old_file(dir: &Path, n: u32, seqs: std::ops::RangeInclusive<u64>, prev: &str) -> String {
        let mut prev = prev.to_owned();
        let mut text = String::new();
        for seq in seqs {
            let (line, hash) = seal_line(
                &Sealer::Plain,
                seq,
                "2020-01-01T00:00:00.000Z",
                &prev,
                &Event::new("search", "old", "r"),
            );
            text.push_str(&line);
            prev = hash;
        }
        std::fs::write(dir.join(log_name(n)), text).unwrap();
        prev
    }

    #[test]
    fn retention_removes_old_files_and_what_remains_verifies_from_the_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let h3 = old_file(dir.path(), 1, 1..=3, GENESIS);
        let h4 = old_file(dir.path(), 2, 4..=4, &h3);
        write_marker(
            &dir.path().join(HEAD),
            &Marker::new("head", &Sealer::Plain, 4, &h4),
            false,
        )
        .unwrap();
        let opts = TrailOptions {
            retention_days: 90,
            ..TrailOptions::default()
        };
        let trail = AuditTrail::open(dir.path(), opts).unwrap();
        assert!(
            !dir.path().join(log_name(1)).exists(),
            "expired file removed"
        );
        assert!(
            dir.path().join(log_name(2)).exists(),
            "the current file stays"
        );
        // The retention record took seq 5; the next caller gets 6.
        assert_eq!(trail.append(Event::new("x", "s", "r")).unwrap(), 6);
        let v = verify(dir.path(), &Sealer::Plain).unwrap();
        assert!(v.intact(), "{:?}", v.problem);
        assert_eq!((v.anchor_seq, v.records), (Some(3), 3));
        let all = crate::query::read(dir.path(), &crate::query::Query::default()).unwrap();
        assert_eq!(all[1].event.action, "audit.retention");
        assert_eq!(all[1].event.detail["anchor_seq"], 3);
        // Without the anchor the start of the remaining chain is missing.
        std::fs::remove_file(dir.path().join(ANCHOR)).unwrap();
        let p = verify(dir.path(), &Sealer::Plain).unwrap().problem.unwrap();
        assert!(p.what.contains("records 1 to 3 were removed"), "{p}");
    }
}
