//! Tokens already verified, so a client that sends the same JWT on every request pays for its
//! signature check (~70 µs for EdDSA, more for RS256) once a minute instead of on every call.
//!
//! Entries are keyed by the SHA-256 of the whole token (the cache holds no bearer secret), hold only
//! tokens that passed every check, and lapse at the earliest of the token's own `exp` (plus the
//! configured leeway, as the full check allows) and [`TTL`] after they were verified — so a key the
//! provider withdraws stops working within that time, as a key set re-fetch does. Reloading the key set
//! clears the cache. Failures are never cached: a forged token is checked in full every time.

use crate::authenticator::Authenticated;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a verified token is trusted without checking its signature again.
pub const TTL: Duration = Duration::from_secs(60);

/// Distinct tokens held at most; when full the cache starts over (only valid tokens get in, so this
/// bounds memory against many legitimate clients, not an attacker).
const CAPACITY: usize = 10_000;

type TokenHash = [u8; 32];

struct Verified {
    who: Authenticated,
    /// Unix seconds after which the token is expired (its `exp` plus the leeway).
    until_unix: u64,
    at: Instant,
}

/// The verified-token cache of one verifier.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<TokenHash, Verified>>,
}

fn hash(token: &str) -> TokenHash {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenCache {
    /// The caller `token` named when it was verified, if that is recent and the token has not expired.
    pub(crate) fn get(&self, token: &str) -> Option<Authenticated> {
        let entries = self.entries.read();
        let hit = entries.get(&hash(token))?;
        (hit.at.elapsed() < TTL && now_unix() < hit.until_unix).then(|| hit.who.clone())
    }

    /// Remembers that `token` verified as `who` and expires at `exp` (+ `leeway`) Unix seconds.
    pub(crate) fn put(&self, token: &str, who: &Authenticated, exp: u64, leeway: u64) {
        let mut entries = self.entries.write();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(
            hash(token),
            Verified {
                who: who.clone(),
                until_unix: exp.saturating_add(leeway),
                at: Instant::now(),
            },
        );
    }

    /// Forgets every token (the key set changed).
    pub(crate) fn clear(&self) {
        self.entries.write().clear();
    }

    /// How many tokens are held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nova_core::Principal;

    fn who(name: &str) -> Authenticated {
        Authenticated {
            principal: Principal::member(name, &[]),
            rate: None,
            daily_quota: None,
        }
    }

    #[test]
    fn a_token_is_served_until_it_expires_and_only_that_token() {
        let cache = TokenCache::default();
        let later = now_unix() + 600;
        cache.put("tok-a", &who("ann"), later, 0);
        assert_eq!(
            cache.get("tok-a").map(|w| w.principal.subject),
            Some("ann".to_string())
        );
        assert!(cache.get("tok-b").is_none());
        assert!(
            cache.get("tok-a ").is_none(),
            "any other byte is another token"
        );
        // Expired by its own exp (even within the TTL): checked in full again, and refused there.
        cache.put("tok-old", &who("bob"), now_unix() - 1, 0);
        assert!(cache.get("tok-old").is_none());
        // The leeway the full check grants is kept.
        cache.put("tok-leeway", &who("cy"), now_unix() - 1, 30);
        assert!(cache.get("tok-leeway").is_some());
        cache.clear();
        assert!(cache.get("tok-a").is_none());
    }

    #[test]
    fn the_cache_starts_over_when_full() {
        let cache = TokenCache::default();
        let later = now_unix() + 600;
        for i in 0..CAPACITY {
            cache.put(&format!("t{i}"), &who("x"), later, 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.put("one-more", &who("y"), later, 0);
        assert_eq!(cache.len(), 1);
        assert!(cache.get("one-more").is_some());
    }
}
