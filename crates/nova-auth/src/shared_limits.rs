//! Rate buckets and daily quotas kept in Redis, so several `nova serve` replicas behind one load balancer
//! count a caller's requests together. One Lua script per request does the whole check atomically on the
//! Redis server, with the server's clock (replicas' clocks never disagree about a bucket): GCRA for the
//! rate (the same algorithm as the in-process `governor` buckets), an INCR with expiry for the day.
//! When Redis cannot be reached the caller falls back to its in-process limits (see [`crate::Limiter`]):
//! limits become per replica for the outage, never absent.

use crate::limits::{Rate, Verdict};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// After a failure, how long Redis is left alone before the next try (requests use local limits).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// How often an ongoing outage is logged.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// KEYS[1] the rate bucket (its theoretical arrival time, ms), KEYS[2] today's count.
/// ARGV: emission interval ms (0: no rate), burst, quota (-1: none), seconds until the day ends.
/// Returns {0, remaining} allowed, {1, retry ms} over the rate, {2, 0} quota used up.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
if quota >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= quota then return {2, 0} end
end
local remaining = -1
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then return {1, allow_at - now} end
  redis.call('SET', KEYS[1], new_tat, 'PX', burst * interval + 1000)
  remaining = math.floor((now - allow_at) / interval)
end
if quota >= 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]) + 3600)
end
return {0, remaining}
";

/// The Redis side of the limiter.
pub struct SharedLimits {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    script: redis::Script,
    state: Mutex<Link>,
}

#[derive(Default)]
struct Link {
    conn: Option<redis::Connection>,
    /// Set after a failure: Redis is not tried again before then.
    resting_until: Option<Instant>,
    last_warning: Option<Instant>,
}

impl SharedLimits {
    /// Limits in the Redis at `url` (`redis://host:port/db`), under keys starting with `prefix`. Nothing is
    /// connected yet: an unreachable Redis is reported (and survived) by the first check.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("`{url}` is not a Redis URL: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            timeout,
            script: redis::Script::new(SCRIPT),
            state: Mutex::new(Link::default()),
        })
    }

    /// The verdict for one request, or `None` when Redis did not answer (the caller decides locally).
    pub(crate) fn check(
        &self,
        subject: &str,
        rate: Option<Rate>,
        daily_quota: Option<u64>,
        (day, reset_secs): (u64, u64),
    ) -> Option<Verdict> {
        let mut link = self.state.lock();
        if link.resting_until.is_some_and(|t| Instant::now() < t) {
            return None;
        }
        let (interval_ms, burst) = match rate {
            Some(r) => (
                (u64::from(r.per_secs) * 1000 / u64::from(r.requests.get())).max(1),
                r.requests.get(),
            ),
            None => (0, 1),
        };
        let rate_key = match rate {
            // The rate is part of the key: a key whose rate changes starts afresh, as locally.
            Some(r) => format!("{}rate:{}:{}", self.prefix, String::from(r), subject),
            None => format!("{}rate:none", self.prefix),
        };
        let quota_key = format!("{}quota:{day}:{subject}", self.prefix);
        let quota = daily_quota.map_or(-1, |q| i64::try_from(q).unwrap_or(i64::MAX));
        let answer = self.run(&mut link, |conn, script| {
            script
                .key(&rate_key)
                .key(&quota_key)
                .arg(interval_ms)
                .arg(burst)
                .arg(quota)
                .arg(reset_secs)
                .invoke::<(i64, i64)>(conn)
        });
        let (code, value) = match answer {
            Ok(a) => a,
            Err(e) => {
                link.conn = None;
                link.resting_until = Some(Instant::now() + RETRY_AFTER_FAILURE);
                if link.last_warning.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
                    link.last_warning = Some(Instant::now());
                    tracing::warn!(
                        "Redis is unreachable ({e}): rate limits and quotas are counted per replica \
                         until it is back"
                    );
                }
                return None;
            }
        };
        Some(match code {
            1 => Verdict::RateLimited {
                limit: burst,
                retry_after: Duration::from_millis(u64::try_from(value).unwrap_or(0)),
            },
            2 => Verdict::QuotaExceeded {
                quota: daily_quota.unwrap_or(0),
                reset_secs,
            },
            _ => Verdict::Allowed {
                rate: rate.map(|r| {
                    let limit = r.requests.get();
                    let remaining = u32::try_from(value.max(0)).unwrap_or(0).min(limit);
                    let refill =
                        u64::from(r.per_secs) * u64::from(limit - remaining) / u64::from(limit);
                    (limit, remaining, refill)
                }),
            },
        })
    }

    /// Runs `call` on the connection, opening it first if needed. A kept connection that fails (Redis
    /// restarted since) is replaced once at once, so a restart costs no request its shared verdict.
    fn run<T>(
        &self,
        link: &mut Link,
        call: impl Fn(&mut redis::Connection, &redis::Script) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        if let Some(mut conn) = link.conn.take() {
            if let Ok(answer) = call(&mut conn, &self.script) {
                link.conn = Some(conn);
                return Ok(answer);
            }
        }
        let mut conn = self.client.get_connection_with_timeout(self.timeout)?;
        conn.set_read_timeout(Some(self.timeout))?;
        conn.set_write_timeout(Some(self.timeout))?;
        if link.resting_until.take().is_some() {
            tracing::info!("Redis is reachable again: limits are shared across replicas");
        }
        let answer = call(&mut conn, &self.script)?;
        link.conn = Some(conn);
        Ok(answer)
    }
}
