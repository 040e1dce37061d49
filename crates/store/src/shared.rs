//! State every replica must agree on (DESIGN invariant 10): keys used once, token buckets.

use super::*;

/// What only a write transaction may do in this area.
#[async_trait]
pub trait SharedStateWrite: Send {
    // --- shared state (DESIGN invariant 10)
    /// Records the first use of `key` in `scope`; false when it was used before (on any
    /// replica). Kept until `expires_at`, then purged.
    async fn claim_once(&mut self, scope: &str, key: &str, expires_at: UnixMillis) -> StoreResult<bool>;
    /// Forgets keys that expired before `now`; returns how many.
    async fn purge_used_once(&mut self, now: UnixMillis) -> StoreResult<u64>;
    /// A token bucket's state (units, as of), its row held until the commit; `None` if the
    /// bucket was never used.
    async fn rate_bucket_for_update(&mut self, key: &str) -> StoreResult<Option<(i64, UnixMillis)>>;
    async fn put_rate_bucket(&mut self, key: &str, units: i64, at: UnixMillis) -> StoreResult<()>;
}
