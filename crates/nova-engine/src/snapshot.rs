//! Knowledge-base snapshots: one gzip-compressed tar archive holding a manifest (`nova-snapshot.json`: every file's
//! path, size and SHA-256) and the KB's folder — store shard, `kb.json`, routers, feedback — copied while
//! the store is frozen, so it is consistent while a server keeps serving. Restoring unpacks into a
//! hidden folder beside the KBs, checks every file against the manifest, and only then renames it into
//! place: a truncated or altered archive is refused and leaves nothing behind.

use crate::error::{EngineError, Result};
use crate::files::io;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// The manifest's name inside the archive (its first entry).
const MANIFEST: &str = "nova-snapshot.json";
/// The archive format written.
const FORMAT: u32 = 1;
/// Files of a KB folder that belong to the running process, not to the KB.
const SKIPPED: [&str; 1] = ["writer.lock"];

/// What a snapshot holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotInfo {
    /// Archive format version.
    pub format: u32,
    /// The KB the snapshot was taken of.
    pub kb: String,
    /// When it was taken, Unix seconds.
    pub created_unix: u64,
    /// Files, with their sizes and SHA-256.
    pub files: BTreeMap<String, FileEntry>,
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

impl SnapshotInfo {
    /// Total bytes of the files.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }
}

fn bad(problem: impl Into<String>) -> EngineError {
    EngineError::Invalid(format!("not a usable KB snapshot: {}", problem.into()))
}

/// The KB folder's files to archive: all but the process's lock and half-written temporaries.
fn kb_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = crate::files::files_under(dir)?;
    files.retain(|(rel, _)| !SKIPPED.contains(&rel.as_str()) && !rel.ends_with(".tmp"));
    Ok(files)
}

fn sha256_of(path: &Path) -> Result<FileEntry> {
    let mut file = fs_err::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok(FileEntry {
        size,
        sha256: nova_core::to_hex(&hasher.finalize()),
    })
}

/// Writes KB `kb`'s folder `dir` to `out` as a snapshot; the caller keeps the KB's files still.
pub(crate) fn write(kb: &str, dir: &Path, out: &mut dyn Write) -> Result<SnapshotInfo> {
    let files = kb_files(dir)?;
    let mut info = SnapshotInfo {
        format: FORMAT,
        kb: kb.to_owned(),
        created_unix: crate::tasks::now(),
        files: BTreeMap::new(),
    };
    for (rel, path) in &files {
        info.files.insert(rel.clone(), sha256_of(path)?);
    }
    let manifest =
        serde_json::to_vec_pretty(&info).map_err(|e| EngineError::Internal(e.to_string()))?;
    let out_err = io(Path::new("<snapshot output>"));
    // Fast compression: the store's files are preallocated and mostly zeros.
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, manifest.as_slice())
        .map_err(&out_err)?;
    for (rel, path) in &files {
        tar.append_path_with_name(path, format!("kb/{rel}"))
            .map_err(&out_err)?;
    }
    tar.into_inner()
        .map_err(&out_err)?
        .finish()
        .map_err(&out_err)?
        .flush()
        .map_err(&out_err)?;
    Ok(info)
}

/// A relative path inside the archive that stays inside the folder it is unpacked into.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| p.to_path_buf())
}

/// Unpacks a snapshot from `input` into `staging` (created, must not exist), checking every file
/// against the manifest. Returns the manifest; on error the caller removes `staging`.
pub(crate) fn unpack(input: &mut dyn Read, staging: &Path) -> Result<SnapshotInfo> {
    fs_err::create_dir_all(staging).map_err(io(staging))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(input));
    let mut entries = archive
        .entries()
        .map_err(|e| bad(format!("unreadable archive: {e}")))?;
    let mut first = entries
        .next()
        .ok_or_else(|| bad("the archive is empty"))?
        .map_err(|e| bad(format!("unreadable archive: {e}")))?;
    if first.path().ok().as_deref() != Some(Path::new(MANIFEST)) {
        return Err(bad(format!("its first entry is not {MANIFEST}")));
    }
    let mut manifest = Vec::new();
    first
        .read_to_end(&mut manifest)
        .map_err(|e| bad(format!("truncated manifest: {e}")))?;
    let info: SnapshotInfo =
        serde_json::from_slice(&manifest).map_err(|e| bad(format!("malformed manifest: {e}")))?;
    if info.format != FORMAT {
        return Err(bad(format!(
            "format {} (this version reads {FORMAT})",
            info.format
        )));
    }
    let mut seen: BTreeMap<String, FileEntry> = BTreeMap::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("truncated or damaged archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("a malformed entry name: {e}")))?
            .to_string_lossy()
            .into_owned();
        let rel = name
            .strip_prefix("kb/")
            .filter(|r| info.files.contains_key(*r))
            .ok_or_else(|| bad(format!("`{name}` is not in the manifest")))?
            .to_owned();
        let target =
            staging.join(safe_relative(&rel).ok_or_else(|| bad(format!("unsafe path `{rel}`")))?);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut file = fs_err::File::create(&target).map_err(io(&target))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = entry
                .read(&mut buf)
                .map_err(|e| bad(format!("`{rel}` is truncated: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(io(&target))?;
            size += n as u64;
        }
        file.sync_all().map_err(io(&target))?;
        seen.insert(
            rel,
            FileEntry {
                size,
                sha256: nova_core::to_hex(&hasher.finalize()),
            },
        );
    }
    // The tar reader stops at the end-of-archive marker, before gzip's trailer: reading the stream to
    // its end checks the CRC, so damage in the archive's padding is refused like damage anywhere else.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink())
        .map_err(|e| bad(format!("truncated or damaged archive: {e}")))?;
    for (rel, want) in &info.files {
        match seen.get(rel) {
            None => return Err(bad(format!("`{rel}` is missing (a truncated archive?)"))),
            Some(got) if got != want => {
                return Err(bad(format!(
                    "`{rel}` does not match its checksum (the archive was altered or damaged)"
                )))
            }
            Some(_) => {}
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::TempDir::new().expect("tmp");
        fs_err::create_dir_all(dir.path().join("store/segments")).expect("dirs");
        fs_err::write(dir.path().join("kb.json"), b"{\"model\":\"m\"}").expect("meta");
        fs_err::write(dir.path().join("store/segments/a.dat"), vec![7u8; 100_000]).expect("data");
        fs_err::write(dir.path().join("writer.lock"), b"pid 1").expect("lock");
        dir
    }

    #[test]
    fn a_snapshot_round_trips_and_leaves_the_lock_behind() {
        let src = folder();
        let mut archive = Vec::new();
        let info = write("ops", src.path(), &mut archive).expect("write");
        assert_eq!(info.files.len(), 2, "{:?}", info.files.keys());
        let out = tempfile::TempDir::new().expect("tmp");
        let staging = out.path().join("ops");
        let back = unpack(&mut archive.as_slice(), &staging).expect("unpack");
        assert_eq!(back.files, info.files);
        assert_eq!(
            fs_err::read(staging.join("store/segments/a.dat")).expect("read"),
            vec![7u8; 100_000]
        );
        assert!(!staging.join("writer.lock").exists());
    }

    #[test]
    fn a_truncated_or_altered_archive_is_refused() {
        let src = folder();
        let mut archive = Vec::new();
        write("ops", src.path(), &mut archive).expect("write");
        let out = tempfile::TempDir::new().expect("tmp");
        let half = &archive[..archive.len() / 2];
        let err = unpack(&mut &half[..], &out.path().join("a")).expect_err("truncated");
        assert!(
            err.to_string().contains("not a usable KB snapshot"),
            "{err}"
        );
        // A damaged gzip checksum is caught by reading the stream to its end. (A byte flipped inside
        // the deflate stream can land in bits the decoder ignores — the same files come out, so
        // nothing can tell — and the tar headers carry times, so where it landed varied per run.)
        let mut damaged = archive.clone();
        let at = damaged.len() - 8; // gzip's trailer: CRC-32, then the length
        damaged[at] ^= 0xff;
        let err = unpack(&mut damaged.as_slice(), &out.path().join("b")).expect_err("damaged");
        assert!(
            err.to_string().contains("not a usable KB snapshot"),
            "{err}"
        );
    }

    #[test]
    fn a_file_altered_inside_a_well_formed_archive_fails_its_checksum() {
        let src = folder();
        let mut archive = Vec::new();
        write("ops", src.path(), &mut archive).expect("write");
        // Re-pack with one byte of the store file changed: gzip and tar stay valid, so only the
        // manifest's SHA-256 can notice.
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(archive.as_slice())
            .read_to_end(&mut tar_bytes)
            .expect("gunzip");
        let run = vec![7u8; 1024];
        let at = tar_bytes
            .windows(run.len())
            .position(|w| w == run.as_slice())
            .expect("file data in the tar");
        tar_bytes[at + 10] = 8;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar_bytes).expect("gzip");
        let altered = gz.finish().expect("gzip");
        let out = tempfile::TempDir::new().expect("tmp");
        let err = unpack(&mut altered.as_slice(), &out.path().join("c")).expect_err("altered");
        assert!(err.to_string().contains("checksum"), "{err}");
    }
}
