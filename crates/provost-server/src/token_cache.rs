//! Tokens already verified, by their exact text. A service that sends one token with every
//! request has its signature and claims checked once instead of per request (an HS256 check is a
//! few microseconds, an RS256 one tens). An entry serves only until its token's `exp` plus the
//! leeway; after that the token is verified afresh, which answers with the precise error.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::access::Actor;

/// Most tokens remembered. When full it starts over: only tokens that verified get in, so
/// nobody without a valid token can fill it.
const CAPACITY: usize = 4096;

#[derive(Default)]
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<Box<str>, (Actor, u64)>>,
}

impl TokenCache {
    /// The actor of `token` if it verified before and `now` (unix seconds) is not past `until`.
    pub fn get(&self, token: &str, now: u64) -> Option<Actor> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let (actor, until) = entries.get(token)?;
        (now <= *until).then(|| actor.clone())
    }

    /// Remembers a verified token's actor until `until` (unix seconds).
    pub fn put(&self, token: &str, actor: &Actor, until: u64) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(token.into(), (actor.clone(), until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_serves_until_its_time_and_the_cache_stays_bounded() {
        let cache = TokenCache::default();
        let alice = Actor {
            username: "alice".into(),
            ..Actor::default()
        };
        cache.put("t1", &alice, 100);
        assert_eq!(
            cache.get("t1", 100).map(|a| a.username),
            Some("alice".into())
        );
        assert!(cache.get("t1", 101).is_none(), "past its time");
        assert!(cache.get("t2", 50).is_none(), "never verified");
        for i in 0..CAPACITY + 10 {
            cache.put(&format!("k{i}"), &alice, 100);
        }
        let held = cache.entries.read().expect("lock").len();
        assert!(held <= CAPACITY, "{held} entries");
    }
}
