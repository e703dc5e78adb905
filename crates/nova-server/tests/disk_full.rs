#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! A full disk and a read-only disk, for real (root only; SKIPPED otherwise). Full: the data folder is a
//! small tmpfs mounted for the test, filled with a file. Ingest answers `507 insufficient_storage` and
//! writes nothing, searches and reads keep working, readiness says `degraded` (still 200), and ingest
//! works again once the file is removed — both when the free-space floor (`data.min_free_mb`) refuses the
//! write and when the file system itself is full (floor 0). Read-only: the data folder is an ext4 image
//! mounted with `errors=remount-ro`, and the test makes the kernel record a file-system error (ext4's
//! `trigger_fs_error`), so it turns read-only under the running server the way a failing disk does.

mod common;

use common::*;
use std::io::Write;
use std::process::Command;

/// A small file system mounted on a temporary folder; unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
    /// The ext4 image's folder, when it is one.
    _image: Option<TempDir>,
}

fn run(cmd: &mut Command) -> bool {
    cmd.output().is_ok_and(|o| o.status.success())
}

impl Tmpfs {
    /// A tmpfs of `mib` MiB on `data`; `None` when this process may not mount (not root): the caller
    /// skips.
    fn mount(data: &TempDir, mib: u64) -> Option<Self> {
        let ok = run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(data.path()));
        ok.then(|| Self {
            dir: data.path().to_path_buf(),
            _image: None,
        })
    }

    /// An ext4 image of `mib` MiB on `data` through a loop device, remounted read-only by the kernel on
    /// the first file-system error; `None` when that cannot be set up here.
    fn ext4(data: &TempDir, mib: u64) -> Option<Self> {
        let folder = TempDir::new().unwrap();
        let image = folder.path().join("disk.img");
        let ok = run(Command::new("truncate")
            .args(["-s", &format!("{mib}M")])
            .arg(&image))
            && run(Command::new("mkfs.ext4").arg("-q").arg(&image))
            && run(Command::new("mount")
                .args(["-o", "loop,errors=remount-ro"])
                .arg(&image)
                .arg(data.path()));
        ok.then(|| Self {
            dir: data.path().to_path_buf(),
            _image: Some(folder),
        })
    }

    /// Makes the kernel record an error on this ext4 file system: with `errors=remount-ro` it turns
    /// read-only at once, open files and all.
    fn fail_ext4(&self) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
        let dir = self.dir.to_string_lossy();
        let device = mounts
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(1) == Some(&&*dir))
            .map(|f| f[0].trim_start_matches("/dev/").to_owned())
            .unwrap();
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "test").unwrap();
        // The kernel now refuses every write there (its mount options say `emergency_ro`).
        let e = std::fs::write(self.dir.join("probe"), "x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(30), "{e}");
    }

    fn available(&self) -> u64 {
        fs4::available_space(&self.dir).unwrap()
    }

    /// Writes zeros to `filler` until fewer than `leave` bytes are free (0: until the file system says
    /// it is full).
    fn fill(&self, leave: u64) -> PathBuf {
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while leave == 0 || self.available() >= leave {
            if let Err(e) = file.write_all(&block).and_then(|()| file.sync_data()) {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the server's files may still be open while the test winds down.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A ready server whose data folder is what `mount` puts on it and whose floor is `floor_mib`.
async fn server_on(
    mount: impl FnOnce(&TempDir) -> Option<Tmpfs>,
    floor_mib: u64,
) -> Option<(Tmpfs, TestApp)> {
    let data = TempDir::new().unwrap();
    let Some(fs) = mount(&data) else {
        eprintln!("SKIPPED: cannot mount a file system here (needs root, tmpfs, loop devices, mkfs.ext4): this disk check did not run");
        return None;
    };
    let app = TestApp::unready_in(data, Limits::default(), Default::default()).await;
    tokio::task::block_in_place(|| {
        app.load_with(EngineOptions {
            min_free_bytes: floor_mib * 1024 * 1024,
            ..EngineOptions::default()
        })
    });
    let r = app.post("/v1/kbs", json!({"name": "disk"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    Some((fs, app))
}

fn doc(id: &str, words: &str) -> Value {
    let text = format!("{id}: {}", words.repeat(40));
    json!({"documents": [{"id": id, "title": id, "text": text}]})
}

async fn ingest(app: &TestApp, id: &str, words: &str) -> Response {
    app.post("/v1/kbs/disk/documents?wait=true", doc(id, words))
        .await
}

async fn found(app: &TestApp, query: &str) -> Vec<String> {
    let r = app
        .post("/v1/kbs/disk/search", json!({"query": query, "k": 5}))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "searches keep working");
    let body: Value = r.json().await.unwrap();
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn readiness(app: &TestApp) -> (StatusCode, Value) {
    let r = app.get("/readyz").await;
    (r.status(), r.json().await.unwrap())
}

/// The disk is full: the write is refused with 507 and written nowhere, reads go on, and the write goes
/// through once the filler is gone.
async fn full_then_freed(fs: &Tmpfs, app: &TestApp, fill_to: u64, expect_message: &str) {
    let r = ingest(app, "vpn-guide", "reconnect the vpn client after sleep ").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(found(app, "vpn client reconnect").await[0], "vpn-guide");

    let filler = fs.fill(fill_to);
    let r = ingest(app, "printer-guide", "clear the printer spooler queue ").await;
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(expect_message), "{message}");
    assert!(
        !message.contains(&*fs.dir.to_string_lossy()),
        "no path: {message}"
    );

    // Nothing of the refused write, everything of the acknowledged one.
    let r = app.get("/v1/kbs/disk/documents/printer-guide").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.get("/v1/kbs/disk/documents/vpn-guide").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(found(app, "vpn client reconnect").await[0], "vpn-guide");
    let (status, ready) = readiness(app).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(
        (ready["status"].as_str(), ready["disk_writable"].as_bool()),
        (Some("degraded"), Some(false)),
        "{ready}"
    );

    std::fs::remove_file(filler).unwrap();
    let r = ingest(app, "printer-guide", "clear the printer spooler queue ").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "ingest works again once space returns"
    );
    assert_eq!(
        found(app, "printer spooler queue").await[0],
        "printer-guide"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_floor_ingest_is_refused_with_507_and_reads_go_on() {
    let Some((fs, app)) = server_on(|d| Tmpfs::mount(d, 160), 48).await else {
        return;
    };
    // 24 MiB left: below the 48 MiB floor, far from a full disk.
    full_then_freed(&fs, &app, 24 * 1024 * 1024, "data.min_free_mb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_file_system_answers_507_not_500_and_recovers() {
    let Some((fs, app)) = server_on(|d| Tmpfs::mount(d, 96), 0).await else {
        return;
    };
    // No floor: the file system itself refuses the write.
    full_then_freed(&fs, &app, 0, "full or read-only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_that_turns_read_only_answers_507_and_reads_go_on() {
    let Some((fs, app)) = server_on(|d| Tmpfs::ext4(d, 160), 0).await else {
        return;
    };
    let r = ingest(&app, "vpn-guide", "reconnect the vpn client after sleep ").await;
    assert_eq!(r.status(), StatusCode::OK);

    fs.fail_ext4();
    let r = ingest(&app, "printer-guide", "clear the printer spooler queue ").await;
    let (status, code, body) = error_of(r).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::INSUFFICIENT_STORAGE, "insufficient_storage"),
        "{body}"
    );
    assert_eq!(found(&app, "vpn client reconnect").await[0], "vpn-guide");
    let r = app.get("/v1/kbs/disk/documents/vpn-guide").await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, ready) = readiness(&app).await;
    assert_eq!(
        (status, ready["status"].as_str()),
        (StatusCode::OK, Some("degraded")),
        "{ready}"
    );
}
