//! Rate limits and daily quotas per caller, checked before any work is spent on a request. Rates are
//! GCRA token buckets (`governor`), one per subject with that subject's own rate. Daily request counts
//! (UTC days) of callers that have a quota are kept in memory and written to `<data>/auth/usage.json` by a background thread at most
//! a second after they change and when the server stops, so a restart does not reset a quota (a crash
//! can forget at most the last second's requests).

use crate::error::{AuthError, Result};
use crate::shared_limits::SharedLimits;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A request rate: `600/min`, `10/s`, `5000/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate {
    /// Requests per window (also the burst).
    pub requests: NonZeroU32,
    /// Window length in seconds (1, 60 or 3600).
    pub per_secs: u32,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("`{s}` is not a rate like 600/min, 10/s or 5000/h");
        let (n, unit) = s.trim().split_once('/').ok_or_else(bad)?;
        let requests = n.trim().parse::<NonZeroU32>().map_err(|_| bad())?;
        let per_secs = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            _ => return Err(bad()),
        };
        Ok(Self { requests, per_secs })
    }
}

impl TryFrom<String> for Rate {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        let unit = match r.per_secs {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        format!("{}/{unit}", r.requests)
    }
}

impl Rate {
    fn quota(self) -> Quota {
        let period = Duration::from_secs(u64::from(self.per_secs)) / self.requests.get();
        Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(self.requests))
            .allow_burst(self.requests)
    }
}

/// What the limiter says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; `rate` is `(limit, remaining, seconds until the bucket is full)` when a rate applies.
    Allowed {
        /// The rate's state after this request.
        rate: Option<(u32, u32, u64)>,
    },
    /// Over the rate; retry after this long.
    RateLimited {
        /// Requests per window.
        limit: u32,
        /// When the next request would pass.
        retry_after: Duration,
    },
    /// The day's quota is used up.
    QuotaExceeded {
        /// Requests per day.
        quota: u64,
        /// Seconds until the UTC day ends.
        reset_secs: u64,
    },
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Usage {
    /// UTC day number (days since the epoch).
    day: u64,
    /// Requests counted today, by subject.
    counts: HashMap<String, u64>,
    #[serde(skip)]
    dirty: bool,
}

/// Per-subject buckets and daily counts.
pub struct Limiter {
    /// Buckets and counts shared with other replicas, when `[cache] redis` is set.
    shared: Option<SharedLimits>,
    buckets: Mutex<HashMap<String, (Rate, Arc<Bucket>)>>,
    usage: Mutex<Usage>,
    file: PathBuf,
    clock: DefaultClock,
}

fn today() -> (u64, u64) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    (secs / 86_400, 86_400 - secs % 86_400)
}

impl Limiter {
    /// A limiter whose daily counts live in `dir/usage.json` (read now, written in the background).
    pub fn open(dir: &Path) -> Result<Arc<Self>> {
        Self::open_shared(dir, None)
    }

    /// [`Self::open`], counting in `shared` (Redis) first: replicas sharing it limit a caller together.
    /// While it is unreachable, the in-process buckets and counts decide.
    pub fn open_shared(dir: &Path, shared: Option<SharedLimits>) -> Result<Arc<Self>> {
        let file = dir.join("usage.json");
        let mut usage: Usage = match fs_err::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| AuthError::Json {
                path: file.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Usage::default(),
            Err(source) => return Err(AuthError::Io { path: file, source }),
        };
        let (day, _) = today();
        if usage.day != day {
            usage = Usage {
                day,
                ..Usage::default()
            };
        }
        let limiter = Arc::new(Self {
            shared,
            buckets: Mutex::new(HashMap::new()),
            usage: Mutex::new(usage),
            file,
            clock: DefaultClock::default(),
        });
        let weak: Weak<Self> = Arc::downgrade(&limiter);
        std::thread::Builder::new()
            .name("nova-usage-flush".into())
            .spawn(move || {
                while let Some(l) = weak.upgrade() {
                    if let Err(e) = l.flush() {
                        tracing::error!("writing request counts: {e}");
                    }
                    drop(l);
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
            .map_err(|source| AuthError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok(limiter)
    }

    /// Counts one request by `subject` against its `rate` and `daily_quota` (either may be absent).
    pub fn check(&self, subject: &str, rate: Option<Rate>, daily_quota: Option<u64>) -> Verdict {
        if rate.is_none() && daily_quota.is_none() {
            return Verdict::Allowed { rate: None };
        }
        let (day, reset_secs) = today();
        if let Some(verdict) = self
            .shared
            .as_ref()
            .and_then(|s| s.check(subject, rate, daily_quota, (day, reset_secs)))
        {
            return verdict;
        }
        if let Some(quota) = daily_quota {
            let usage = self.usage.lock();
            let used = if usage.day == day {
                usage.counts.get(subject).copied().unwrap_or(0)
            } else {
                0
            };
            if used >= quota {
                return Verdict::QuotaExceeded { quota, reset_secs };
            }
        }
        let state = match rate {
            None => None,
            Some(rate) => {
                let bucket = {
                    let mut buckets = self.buckets.lock();
                    let entry = buckets.entry(subject.to_owned()).or_insert_with(|| {
                        (
                            rate,
                            Arc::new(RateLimiter::direct(rate.quota()).with_middleware()),
                        )
                    });
                    if entry.0 != rate {
                        // The key's rate changed: start it afresh at the new rate.
                        *entry = (
                            rate,
                            Arc::new(RateLimiter::direct(rate.quota()).with_middleware()),
                        );
                    }
                    entry.1.clone()
                };
                match bucket.check() {
                    Ok(snapshot) => {
                        let limit = rate.requests.get();
                        let remaining = snapshot.remaining_burst_capacity();
                        let refill = u64::from(rate.per_secs) * u64::from(limit - remaining)
                            / u64::from(limit);
                        Some((limit, remaining, refill))
                    }
                    Err(not_until) => {
                        return Verdict::RateLimited {
                            limit: rate.requests.get(),
                            retry_after: not_until.wait_time_from(self.clock.now()),
                        }
                    }
                }
            }
        };
        // Only callers with a quota are counted: without one, nothing reads the count, and every
        // request would otherwise dirty the usage file for the flusher to rewrite each second.
        if daily_quota.is_some() {
            let mut usage = self.usage.lock();
            if usage.day != day {
                *usage = Usage {
                    day,
                    ..Usage::default()
                };
            }
            *usage.counts.entry(subject.to_owned()).or_insert(0) += 1;
            usage.dirty = true;
        }
        Verdict::Allowed { rate: state }
    }

    /// Writes the day's counts if they changed (atomically: a temp file and a rename).
    pub fn flush(&self) -> Result<()> {
        let bytes = {
            let mut usage = self.usage.lock();
            if !usage.dirty {
                return Ok(());
            }
            usage.dirty = false;
            serde_json::to_vec(&*usage).map_err(|source| AuthError::Json {
                path: self.file.clone(),
                source,
            })?
        };
        if let Some(dir) = self.file.parent() {
            fs_err::create_dir_all(dir).map_err(|source| AuthError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        crate::keys::write_atomic(&self.file, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_back() {
        let r: Rate = "600/min".parse().unwrap();
        assert_eq!((r.requests.get(), r.per_secs), (600, 60));
        assert_eq!(String::from(r), "600/min");
        assert!("fast".parse::<Rate>().is_err());
        assert!("0/s".parse::<Rate>().is_err());
    }

    #[test]
    fn a_burst_over_the_rate_is_refused_with_a_retry_time() {
        let dir = tempfile::TempDir::new().unwrap();
        let limiter = Limiter::open(dir.path()).unwrap();
        let rate: Rate = "3/min".parse().unwrap();
        for left in [2, 1, 0] {
            assert_eq!(
                limiter.check("k", Some(rate), None),
                Verdict::Allowed {
                    rate: Some((3, left, 20 * (3 - u64::from(left))))
                }
            );
        }
        match limiter.check("k", Some(rate), None) {
            Verdict::RateLimited { limit, retry_after } => {
                assert_eq!(limit, 3);
                assert!(retry_after > Duration::from_secs(15), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        // Another subject has its own bucket.
        assert!(matches!(
            limiter.check("other", Some(rate), None),
            Verdict::Allowed { .. }
        ));
    }

    #[test]
    fn a_daily_quota_survives_a_restart() {
        let dir = tempfile::TempDir::new().unwrap();
        {
            let limiter = Limiter::open(dir.path()).unwrap();
            for _ in 0..3 {
                assert!(matches!(
                    limiter.check("k", None, Some(4)),
                    Verdict::Allowed { .. }
                ));
            }
            limiter.flush().unwrap();
        }
        let limiter = Limiter::open(dir.path()).unwrap();
        assert!(matches!(
            limiter.check("k", None, Some(4)),
            Verdict::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check("k", None, Some(4)),
            Verdict::QuotaExceeded { quota: 4, .. }
        ));
    }
}
