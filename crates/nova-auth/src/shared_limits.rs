//! Rate buckets and daily quotas kept in Redis, so several `nova serve` replicas behind one load balancer
//! count a caller's requests together. One Lua script per request does the whole check atomically on the
//! Redis server, with the server's clock (replicas' clocks never disagree about a bucket): GCRA for the
//! rate (the same algorithm as the in-process `governor` buckets), an INCR with expiry for the day.
//! When Redis cannot be reached the caller falls back to its in-process limits (see [`crate::Limiter`]):
//! limits become per replica for the outage, never absent.

use crate::limits::{Rate, Verdict};
use crate::redis_link::Redis;
use std::sync::Arc;
use std::time::Duration;

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
    redis: Arc<Redis>,
    script: redis::Script,
}

impl SharedLimits {
    /// Limits kept in `redis`.
    pub fn new(redis: Arc<Redis>) -> Self {
        Self {
            redis,
            script: redis::Script::new(SCRIPT),
        }
    }

    /// The verdict for one request, or `None` when Redis did not answer (the caller decides locally).
    pub(crate) fn check(
        &self,
        subject: &str,
        rate: Option<Rate>,
        daily_quota: Option<u64>,
        (day, reset_secs): (u64, u64),
    ) -> Option<Verdict> {
        let (interval_ms, burst) = match rate {
            Some(r) => (
                (u64::from(r.per_secs) * 1000 / u64::from(r.requests.get())).max(1),
                r.requests.get(),
            ),
            None => (0, 1),
        };
        let rate_key = match rate {
            // The rate is part of the key: a key whose rate changes starts afresh, as locally.
            Some(r) => format!("{}rate:{}:{}", self.redis.prefix, String::from(r), subject),
            None => format!("{}rate:none", self.redis.prefix),
        };
        let quota_key = format!("{}quota:{day}:{subject}", self.redis.prefix);
        let quota = daily_quota.map_or(-1, |q| i64::try_from(q).unwrap_or(i64::MAX));
        let (code, value) = self.redis.call(|conn| {
            self.script
                .key(&rate_key)
                .key(&quota_key)
                .arg(interval_ms)
                .arg(burst)
                .arg(quota)
                .arg(reset_secs)
                .invoke::<(i64, i64)>(conn)
        })?;
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
}
