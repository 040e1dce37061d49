//! Rule sets kept as typed tables with their history (issue 13, item 6): an operator's shifts, a
//! home worker's approved networks, the keystroke limits per role, each site's PC policy. Each change is a new version
//! stamped with who made it and when; the latest version is the one in force.

use super::*;
use mamori_domain::activity::{KeystrokeLimits, ShiftSchedule};
use mamori_domain::posture::PosturePolicy;

/// One version of a rule set: when it was made and by whom (an audit actor, `user:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleVersion {
    pub version: i64,
    pub changed_at: UnixMillis,
    pub changed_by: String,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait RulesRead: Send {
    /// The user's shifts in force; `None` when none were ever set.
    async fn shift_schedule(&mut self, user_id: &str) -> StoreResult<Option<ShiftSchedule>>;
    /// Every version of the user's shifts, newest first.
    async fn shift_schedule_versions(&mut self, user_id: &str) -> StoreResult<Vec<RuleVersion>>;
    /// The user's own approved networks in force; `None` when none were ever set.
    async fn user_networks(&mut self, user_id: &str) -> StoreResult<Option<Vec<String>>>;
    /// The keystroke limits in force; `None` when none were ever set.
    async fn keystroke_limits(&mut self) -> StoreResult<Option<KeystrokeLimits>>;
    /// The site's PC policy in force, as stored (not checked); `None` when none was ever set. A
    /// version marked unreadable comes back with `unreadable` set and no rules.
    async fn site_device_policy(&mut self, site_id: &str) -> StoreResult<Option<PosturePolicy>>;
    /// Every version of the site's PC policy, newest first.
    async fn site_device_policy_versions(&mut self, site_id: &str) -> StoreResult<Vec<RuleVersion>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait RulesWrite: RulesRead {
    /// Stores a new version of the user's shifts; returns its number.
    async fn put_shift_schedule(
        &mut self,
        user_id: &str,
        schedule: &ShiftSchedule,
        changed_at: UnixMillis,
        changed_by: &str,
    ) -> StoreResult<i64>;
    async fn put_user_networks(
        &mut self,
        user_id: &str,
        networks: &[String],
        changed_at: UnixMillis,
        changed_by: &str,
    ) -> StoreResult<i64>;
    async fn put_keystroke_limits(
        &mut self,
        limits: &KeystrokeLimits,
        changed_at: UnixMillis,
        changed_by: &str,
    ) -> StoreResult<i64>;
    /// Stores a new version of the site's PC policy (`unreadable` is stored as such); returns
    /// its number.
    async fn put_site_device_policy(
        &mut self,
        site_id: &str,
        policy: &PosturePolicy,
        changed_at: UnixMillis,
        changed_by: &str,
    ) -> StoreResult<i64>;
}
