#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly
//! Two `nova serve` replicas — separate data folders, the same API key — behind no load balancer but a
//! test that alternates between them: with `[cache] redis` they limit a caller as one server would.
//! SKIPPED when `redis-server` is not installed (`scripts/redis-test-deps.sh`).

mod common;

use common::{spawn_serve, wait_ready};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// GET `path` with the key; the status code.
fn get(addr: &str, path: &str, key: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_whitespace().nth(1).unwrap().parse().unwrap()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn two_replicas_sharing_redis_count_one_callers_requests_together() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Ok(redis) = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .spawn()
    else {
        eprintln!(
            "SKIPPED: redis-server is not installed (scripts/redis-test-deps.sh installs it)"
        );
        return;
    };
    let _redis = Killed(redis);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // One key, known to both replicas (as a Secret would give it to every pod).
    let (da, db) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let out = common::nova_in(
        da.path(),
        &[
            "keys", "create", "--name", "bot", "--role", "reader", "--rate", "6/min",
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    copy_dir(&da.path().join("auth"), &db.path().join("auth"));

    let url = format!("redis://127.0.0.1:{port}/");
    let env = [("NOVA_CACHE__REDIS", url.as_str())];
    let (a, addr_a) = spawn_serve(da.path(), &env);
    let _a = Killed(a);
    let (b, addr_b) = spawn_serve(db.path(), &env);
    let _b = Killed(b);
    wait_ready(&addr_a);
    wait_ready(&addr_b);

    let statuses: Vec<u16> = (0..8)
        .map(|i| get([&addr_a, &addr_b][i % 2], "/v1/kbs", &key))
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 429, 429],
        "6/min across both replicas"
    );
}
