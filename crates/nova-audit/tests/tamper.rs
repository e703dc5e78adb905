#![allow(clippy::unwrap_used)] // test setup: a failed step should fail the test loudly
//! A trail written through the public API, then damaged the ways an editor of the files could damage
//! it: each damage must fail verification and name the record it touched.

use nova_audit::{verify, AuditTrail, Event, Sealer, TrailOptions};
use std::path::{Path, PathBuf};

fn write_trail(dir: &Path, sealer: Sealer, records: u64, rotate_bytes: u64) {
    let trail = AuditTrail::open(
        dir,
        TrailOptions {
            sealer,
            rotate_bytes,
            retention_days: 0,
        },
    )
    .unwrap();
    for i in 1..=records {
        let seq = trail
            .append(
                Event::new("search", &format!("user{}", i % 3), &format!("req-{i}"))
                    .kb("ops")
                    .query(&format!("query {i}"), false)
                    .doc_ids([format!("doc-{i}.md")]),
            )
            .unwrap();
        assert_eq!(seq, i);
    }
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Rewrites the only log file's lines with `change`.
fn edit_lines(dir: &Path, change: impl FnOnce(&mut Vec<String>)) {
    let file = &log_files(dir)[0];
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    change(&mut lines);
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
}

fn problem_of(dir: &Path, sealer: &Sealer) -> (Option<u64>, String) {
    let v = verify(dir, sealer).unwrap();
    let p = v.problem.expect("damage must be found");
    (p.seq, p.to_string())
}

#[test]
fn an_untouched_trail_verifies() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    let v = verify(dir.path(), &Sealer::Plain).unwrap();
    assert!(v.intact(), "{:?}", v.problem);
    assert_eq!((v.records, v.last_seq, v.files), (10, Some(10), 1));
}

#[test]
fn an_edited_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    edit_lines(dir.path(), |l| l[4] = l[4].replace("user2", "user0"));
    let (seq, what) = problem_of(dir.path(), &Sealer::Plain);
    assert_eq!(seq, Some(5), "{what}");
    assert!(what.contains("record 5 was edited"), "{what}");
}

#[test]
fn a_removed_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    edit_lines(dir.path(), |l| {
        l.remove(4);
    });
    let (seq, what) = problem_of(dir.path(), &Sealer::Plain);
    assert_eq!(seq, Some(5), "{what}");
    assert!(what.contains("record 5 was removed"), "{what}");
}

#[test]
fn swapped_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    edit_lines(dir.path(), |l| l.swap(4, 5));
    let (seq, what) = problem_of(dir.path(), &Sealer::Plain);
    assert_eq!(seq, Some(6), "{what}");
    assert!(what.contains("out of order"), "{what}");
}

#[test]
fn a_removed_last_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    edit_lines(dir.path(), |l| {
        l.pop();
    });
    let (seq, what) = problem_of(dir.path(), &Sealer::Plain);
    assert_eq!(seq, Some(10), "{what}");
    assert!(
        what.contains("record 10 was removed from the end"),
        "{what}"
    );
}

#[test]
fn a_removed_first_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 10, 64 << 20);
    edit_lines(dir.path(), |l| {
        l.remove(0);
    });
    let (seq, what) = problem_of(dir.path(), &Sealer::Plain);
    assert_eq!(seq, Some(1), "{what}");
}

/// What an editor without the key can do: change record `edit_at + 1`, then re-compute its hash and
/// every later one (and the head) with plain SHA-256, keeping or dropping the HMAC label. The records
/// before the edit keep their real seals.
fn rechain_with_sha256(dir: &Path, edit_at: usize, relabel: bool) {
    let plain = Sealer::Plain;
    let file = &log_files(dir)[0];
    let text = std::fs::read_to_string(file).unwrap();
    let mut prev = String::new();
    let mut out = Vec::new();
    let mut last = (0u64, String::new());
    for (i, line) in text.lines().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if i < edit_at {
            prev = v["hash"].as_str().unwrap().to_owned();
            out.push(line.to_owned());
            continue;
        }
        let obj = v.as_object_mut().unwrap();
        obj.shift_remove("hash");
        if i == edit_at {
            obj.insert("subject".into(), "someone-else".into());
        }
        obj.insert("prev".into(), prev.clone().into());
        if relabel {
            obj.insert("seal".into(), "sha256".into());
        }
        let body = serde_json::to_string(&v).unwrap();
        let hash = plain.seal(body.as_bytes());
        out.push(format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]));
        last = (v["seq"].as_u64().unwrap(), hash.clone());
        prev = hash;
    }
    std::fs::write(file, out.join("\n") + "\n").unwrap();
    let mac = plain.seal(format!("head:{}:{}", last.0, last.1).as_bytes());
    let head = serde_json::json!({"seq": last.0, "hash": last.1, "seal": "sha256", "mac": mac});
    std::fs::write(dir.join("head.json"), head.to_string()).unwrap();
}

#[test]
fn with_an_hmac_key_a_chain_recomputed_with_plain_hashes_is_refused_at_the_edit() {
    let key = Sealer::from_key(&[42u8; 32]);
    for relabel in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_trail(dir.path(), key.clone(), 10, 64 << 20);
        assert!(verify(dir.path(), &key).unwrap().intact());
        rechain_with_sha256(dir.path(), 4, relabel);
        let v = verify(dir.path(), &key).unwrap();
        let p = v.problem.expect("the forgery must be found with the key");
        assert_eq!(p.seq, Some(5), "relabel {relabel}: {p}");
        assert_eq!(v.records, 4, "the records before the edit still verify");
    }
}

#[test]
fn rotated_files_chain_into_each_other_and_a_removed_middle_file_is_found() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 40, 1_000);
    let files = log_files(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    let v = verify(dir.path(), &Sealer::Plain).unwrap();
    assert!(v.intact(), "{:?}", v.problem);
    assert_eq!(v.records, 40);
    std::fs::remove_file(&files[1]).unwrap();
    let v = verify(dir.path(), &Sealer::Plain).unwrap();
    assert!(v.problem.unwrap().what.contains("were removed"));
}

#[test]
fn concurrent_appends_get_distinct_numbers_and_a_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let trail = AuditTrail::open(dir.path(), TrailOptions::default()).unwrap();
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let trail = &trail;
                s.spawn(move || {
                    (0..50)
                        .map(|i| {
                            trail
                                .append(Event::new("search", &format!("t{t}"), &format!("{i}")))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>());
    assert!(verify(dir.path(), &Sealer::Plain).unwrap().intact());
}

#[test]
fn two_writers_on_one_folder_continue_each_others_chain() {
    // Two handles stand for two processes (a server and a command line): each holds its own OS lock
    // handle and must notice the other's records before writing its own.
    let dir = tempfile::tempdir().unwrap();
    let a = AuditTrail::open(dir.path(), TrailOptions::default()).unwrap();
    let b = AuditTrail::open(dir.path(), TrailOptions::default()).unwrap();
    let mut got = Vec::new();
    for i in 0..10 {
        let w = if i % 3 == 0 { &a } else { &b };
        got.push(w.append(Event::new("x", "s", &i.to_string())).unwrap());
    }
    assert_eq!(got, (1..=10).collect::<Vec<_>>());
    let v = verify(dir.path(), &Sealer::Plain).unwrap();
    assert!(v.intact(), "{:?}", v.problem);
}

#[test]
fn a_cut_off_last_line_is_not_chained_to_and_the_trail_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    write_trail(dir.path(), Sealer::Plain, 3, 64 << 20);
    // A crash in the middle of a write that was never acknowledged.
    let file = &log_files(dir.path())[0];
    let mut bytes = std::fs::read(file).unwrap();
    bytes.extend_from_slice(b"{\"seq\":4,\"ts\":\"20");
    std::fs::write(file, bytes).unwrap();
    let trail = AuditTrail::open(dir.path(), TrailOptions::default()).unwrap();
    assert_eq!(trail.append(Event::new("x", "s", "r")).unwrap(), 4);
    assert!(verify(dir.path(), &Sealer::Plain).unwrap().intact());
}
