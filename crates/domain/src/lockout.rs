//! Account lockout after repeated failed sign-ins.

use crate::clock::UnixMillis;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failed sign-ins in a row that lock the account.
    pub max_failures: u32,
    /// How long the lock lasts.
    pub duration: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_failures: 10, duration: Duration::from_secs(30 * 60) }
    }
}

impl LockoutPolicy {
    /// After a failure that brings the count to `failures_in_a_row`: the time the lock ends, if
    /// this failure locks the account.
    pub fn lock_after_failure(&self, failures_in_a_row: u32, now: UnixMillis) -> Option<UnixMillis> {
        (failures_in_a_row >= self.max_failures).then(|| now.plus(self.duration))
    }

    pub fn is_locked(locked_until: Option<UnixMillis>, now: UnixMillis) -> bool {
        locked_until.is_some_and(|until| now < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenth_failure_locks_for_thirty_minutes() {
        let p = LockoutPolicy::default();
        let now = UnixMillis(1_000_000);
        assert_eq!(p.lock_after_failure(9, now), None);
        let until = p.lock_after_failure(10, now);
        assert_eq!(until, Some(UnixMillis(1_000_000 + 30 * 60 * 1000)));
        assert!(LockoutPolicy::is_locked(until, now));
        assert!(!LockoutPolicy::is_locked(until, UnixMillis(1_000_000 + 30 * 60 * 1000)));
    }
}
