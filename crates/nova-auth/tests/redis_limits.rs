#![allow(clippy::unwrap_used)] // test setup: a failed step should fail loudly
//! Two limiters (two replicas) sharing one real `redis-server` count a caller's requests together; with
//! Redis gone each falls back to its own in-process limits — never to none — and shares again once Redis
//! is back. SKIPPED when `redis-server` is not installed (`scripts/redis-test-deps.sh` installs it).

use nova_auth::{Limiter, Rate, Redis, SharedLimits, Verdict};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        let Ok(child) = child else {
            eprintln!(
                "SKIPPED: redis-server is not installed (scripts/redis-test-deps.sh installs it)"
            );
            return None;
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self { child, port })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn replica(dir: &TempDir, url: &str) -> std::sync::Arc<Limiter> {
    let redis = Redis::new(url, "test:", Duration::from_millis(200)).unwrap();
    let shared = SharedLimits::new(std::sync::Arc::new(redis));
    Limiter::open_shared(dir.path(), Some(shared)).unwrap()
}

fn allowed(v: &Verdict) -> bool {
    matches!(v, Verdict::Allowed { .. })
}

#[test]
fn replicas_share_rates_and_quotas_and_an_outage_falls_back_to_local_limits() {
    let port = free_port();
    let Some(redis) = RedisServer::start(port) else {
        return;
    };
    let (da, db) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let (a, b) = (replica(&da, &redis.url()), replica(&db, &redis.url()));
    let rate: Rate = "4/min".parse().unwrap();

    // One bucket for both: four requests alternate between the replicas, the fifth is refused by either.
    let verdicts: Vec<Verdict> = (0..4)
        .map(|i| [&a, &b][i % 2].check("key:k", Some(rate), None))
        .collect();
    assert!(verdicts.iter().all(allowed), "{verdicts:?}");
    assert_eq!(
        verdicts[3],
        Verdict::Allowed {
            rate: Some((4, 0, 60))
        }
    );
    for limiter in [&a, &b] {
        match limiter.check("key:k", Some(rate), None) {
            Verdict::RateLimited { limit, retry_after } => {
                assert_eq!(limit, 4);
                assert!(retry_after > Duration::from_secs(10), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Another caller has its own bucket.
    assert!(allowed(&b.check("key:other", Some(rate), None)));

    // A daily quota of 3, counted across replicas.
    for limiter in [&a, &b, &a] {
        assert!(allowed(&limiter.check("key:q", None, Some(3))));
    }
    assert!(matches!(
        b.check("key:q", None, Some(3)),
        Verdict::QuotaExceeded { quota: 3, .. }
    ));

    // The same Redis holds the replicas' query embeddings.
    let cache = Redis::new(&redis.url(), "test:", Duration::from_millis(200)).unwrap();
    nova_core::SharedCache::put(&cache, "emb:m:1", &[1, 2, 3], Duration::from_secs(60));
    assert_eq!(
        nova_core::SharedCache::get(&cache, "emb:m:1"),
        Some(vec![1, 2, 3])
    );
    assert_eq!(nova_core::SharedCache::get(&cache, "emb:m:2"), None);

    // Redis down: each replica limits on its own (a fresh local bucket of 4), never without limit.
    drop(redis);
    let local: Vec<bool> = (0..6)
        .map(|_| allowed(&a.check("key:k", Some(rate), None)))
        .collect();
    assert_eq!(local, [true, true, true, true, false, false]);

    // Back on the same port: shared again (the new, empty Redis gives the caller a fresh shared bucket,
    // which the other replica now draws from too).
    assert_eq!(
        nova_core::SharedCache::get(&cache, "emb:m:1"),
        None,
        "a miss, not an error"
    );
    let redis = RedisServer::start(port).unwrap();
    std::thread::sleep(Duration::from_millis(1_100)); // the limiter rests a second after a failure
    let shared: Vec<bool> = (0..5)
        .map(|i| allowed(&[&a, &b][i % 2].check("key:k", Some(rate), None)))
        .collect();
    assert_eq!(shared, [true, true, true, true, false]);
    drop(redis);
}
