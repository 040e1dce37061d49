//! A token bucket: `capacity` actions at once, refilled at `per_hour` a hour — how many masked
//! values an operator may reveal before a supervisor must approve more (issue 4).

use crate::clock::UnixMillis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub capacity: u32,
    pub per_hour: u32,
}

/// One token, in the bucket's exact unit: a millisecond of refill at one token an hour.
const TOKEN: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenBucket {
    /// In units of 1/3,600,000 token, so refilling is exact integer arithmetic.
    units: i64,
    at: UnixMillis,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: UnixMillis) -> Self {
        TokenBucket { units: i64::from(limit.capacity) * TOKEN, at: now }
    }

    /// A bucket as stored: its level in units of 1/3,600,000 token, and when it was last taken from.
    pub fn from_parts(units: i64, at: UnixMillis) -> Self {
        TokenBucket { units, at }
    }

    pub fn parts(&self) -> (i64, UnixMillis) {
        (self.units, self.at)
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, limit: RateLimit, now: UnixMillis) -> bool {
        let elapsed = (now.0 - self.at.0).max(0);
        let refill = elapsed.saturating_mul(i64::from(limit.per_hour));
        self.units = self.units.saturating_add(refill).min(i64::from(limit.capacity) * TOKEN);
        self.at = self.at.max(now);
        if self.units >= TOKEN {
            self.units -= TOKEN;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills() {
        let limit = RateLimit { capacity: 3, per_hour: 6 };
        let t0 = UnixMillis(0);
        let mut b = TokenBucket::new(limit, t0);
        assert!((0..3).all(|_| b.try_take(limit, t0)), "a burst of three");
        assert!(!b.try_take(limit, t0), "then none");
        assert!(!b.try_take(limit, UnixMillis(9 * 60_000)), "one per ten minutes: not yet");
        assert!(b.try_take(limit, UnixMillis(10 * 60_000)), "ten minutes later, one more");
        assert!(!b.try_take(limit, UnixMillis(10 * 60_000)));
        let mut later = TokenBucket::new(limit, t0);
        later.try_take(limit, t0);
        assert!(
            (0..3).all(|_| later.try_take(limit, UnixMillis(24 * 3_600_000))),
            "refills to capacity, no more"
        );
        assert!(!later.try_take(limit, UnixMillis(24 * 3_600_000)));
    }
}
