//! When a session ends on its own.

use crate::clock::UnixMillis;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute_timeout: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(15 * 60),
            absolute_timeout: Duration::from_secs(12 * 60 * 60),
        }
    }
}

/// A session waiting for its second factor lives only this long.
pub const SECOND_FACTOR_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Recording "last seen" on every request would make every read a write; a session's
/// last-seen time is refreshed only when it is older than this. The idle timeout is thus
/// honoured to within this margin.
pub const LAST_SEEN_GRANULARITY: Duration = Duration::from_secs(30);

impl SessionPolicy {
    /// When a session created and last seen at these times ends unless it is used again.
    pub fn expires_at(&self, created: UnixMillis, last_seen: UnixMillis) -> UnixMillis {
        created.plus(self.absolute_timeout).min(last_seen.plus(self.idle_timeout))
    }

    pub fn is_expired(&self, created: UnixMillis, last_seen: UnixMillis, now: UnixMillis) -> bool {
        now >= self.expires_at(created, last_seen)
    }

    /// When the last-seen time should next be recorded.
    pub fn touch_due(last_seen: UnixMillis) -> UnixMillis {
        last_seen.plus(LAST_SEEN_GRANULARITY)
    }

    pub fn needs_touch(last_seen: UnixMillis, now: UnixMillis) -> bool {
        now >= Self::touch_due(last_seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute() {
        let p = SessionPolicy::default();
        let t0 = UnixMillis(0);
        let min = |m: i64| UnixMillis(m * 60_000);
        assert!(!p.is_expired(t0, t0, min(14)));
        assert!(p.is_expired(t0, t0, min(15)));
        assert!(!p.is_expired(t0, min(11 * 60 + 50), min(12 * 60 - 1)));
        assert!(p.is_expired(t0, min(11 * 60 + 59), min(12 * 60)));
    }
}
