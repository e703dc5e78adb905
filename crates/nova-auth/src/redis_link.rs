//! One connection to the Redis that replicas share, used for rate limits and the query-embedding cache:
//! opened lazily, replaced once at once when a call fails on it (Redis restarted), and left alone for a
//! second after Redis did not answer, so an outage costs requests no waiting — each use falls back to
//! its per-process path, and the outage is logged every 30 s.

use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// After a failure, how long Redis is left alone before the next try.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How often an ongoing outage is logged.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The shared Redis.
pub struct Redis {
    client: redis::Client,
    pub(crate) prefix: String,
    timeout: Duration,
    state: Mutex<Link>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: only the prefix is shown.
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[derive(Default)]
struct Link {
    conn: Option<redis::Connection>,
    /// Set after a failure: Redis is not tried again before then.
    resting_until: Option<Instant>,
    last_warning: Option<Instant>,
}

impl Redis {
    /// The Redis at `url` (`redis://[:password@]host:port/db`), every key starting with `prefix`, each
    /// call bounded by `timeout`. Nothing is connected yet: an unreachable Redis is reported (and
    /// survived) by the first call.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("not a Redis URL (redis://host:port/db): {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            state: Mutex::new(Link::default()),
        })
    }

    /// Runs `call`, or returns `None` when Redis did not answer (the caller takes its local path).
    pub(crate) fn call<T>(
        &self,
        call: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let mut link = self.state.lock();
        if link.resting_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        match self.run(&mut link, call) {
            Ok(answer) => Some(answer),
            Err(e) => {
                link.conn = None;
                link.resting_until = Some(Instant::now() + RETRY_AFTER_FAILURE);
                if link.last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    link.last_warning = Some(Instant::now());
                    tracing::warn!(
                        "Redis is unreachable ({e}): rate limits, quotas and the query cache are per \
                         replica until it is back"
                    );
                }
                None
            }
        }
    }

    /// Runs `call` on the connection, opening it first if needed. A kept connection that fails (Redis
    /// restarted since) is replaced once at once, so a restart costs no call its shared answer.
    fn run<T>(
        &self,
        link: &mut Link,
        call: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        if let Some(mut conn) = link.conn.take() {
            if let Ok(answer) = call(&mut conn) {
                link.conn = Some(conn);
                return Ok(answer);
            }
        }
        let mut conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        if link.resting_until.take().is_some() {
            tracing::info!("Redis is reachable again: limits and the query cache are shared");
        }
        let answer = call(&mut conn)?;
        link.conn = Some(conn);
        Ok(answer)
    }
}

impl nova_core::SharedCache for Redis {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        let key = format!("{}{key}", self.prefix);
        self.call(|conn| redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(conn))
            .flatten()
    }

    fn put(&self, key: &str, value: &[u8], ttl: Duration) {
        let key = format!("{}{key}", self.prefix);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.call(|conn| {
            redis::cmd("SET")
                .arg(&key)
                .arg(value)
                .arg("PX")
                .arg(ms)
                .query::<()>(conn)
        });
    }
}
