//! What the `nova` binary's end-to-end tests share: the repository, `nova` on a data folder, API keys made
//! with the CLI, and `nova serve` on a free port.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    // Read at run time: cargo may reuse this binary from a checkout sharing the target folder.
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../..")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `nova` with its data folder in `data`.
pub fn nova_in(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nova"))
        .current_dir(root())
        .env("NOVA_DATA__DIR", data)
        .arg("--model")
        .arg(root().join("models/all-MiniLM-L6-v2"))
        .args(args)
        .output()
        .expect("nova runs")
}

pub fn create_key(data: &Path, name: &str, role: &str) -> String {
    let out = nova_in(data, &["keys", "create", "--name", name, "--role", role]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = stdout.lines().last().expect("a key line").trim().to_owned();
    assert!(key.starts_with("nova_"), "{stdout}");
    let out = nova_in(data, &["keys", "list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains(name), "{listed}");
    assert!(
        !listed.contains(key.rsplit('_').next().expect("secret")),
        "list never shows a secret"
    );
    key
}

/// One HTTP/1.1 GET on loopback; returns the status code (0 when the connection fails).
pub fn http_status(addr: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `nova serve` on a free port over `data` with extra `env`; returns the child and its address as soon
/// as it prints it (before the model has loaded).
pub fn spawn_serve(data: &Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    spawn_serve_logging(data, env, &[], std::process::Stdio::null())
}

/// [`spawn_serve`] with global flags before `serve` (e.g. `-v`) and its stderr sent to `stderr`; the
/// caller's `RUST_LOG` is dropped so the flags decide what is logged.
pub fn spawn_serve_logging(
    data: &Path,
    env: &[(&str, &str)],
    flags: &[&str],
    stderr: std::process::Stdio,
) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nova"))
        .current_dir(root())
        .env("NOVA_DATA__DIR", data)
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .arg("--model")
        .arg(root().join("models/all-MiniLM-L6-v2"))
        .args(flags)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("nova serve runs");
    let first = first_line(&mut child);
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    (child, addr)
}

/// Polls `/readyz` until the model has loaded.
pub fn wait_ready(addr: &str) {
    wait_for_200(addr, "/readyz", 120);
}

/// Polls `path` on `addr` until it answers 200, failing after `within_secs`.
pub fn wait_for_200(addr: &str, path: &str, within_secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(within_secs);
    while http_status(addr, path) != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "{addr}{path} never answered 200"
        );
        std::thread::sleep(std::time::Duration::from_millis(20)); // poll interval, not a timing assumption
    }
}

/// The first line a child with piped stdout prints (its address, for the servers the tests start).
pub fn first_line(child: &mut std::process::Child) -> String {
    use std::io::{BufRead, BufReader};
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("a first line");
    line
}

/// The project's download cache (`$KB_NOVA_CACHE`, else `~/.cache/kb-nova`), where the test-deps
/// scripts install what the browser and MLflow tests drive.
pub fn kb_nova_cache() -> PathBuf {
    std::env::var_os("KB_NOVA_CACHE").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/kb-nova"),
        PathBuf::from,
    )
}
