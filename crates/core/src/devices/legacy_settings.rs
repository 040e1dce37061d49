//! Earlier versions kept some rule sets as JSON in the settings table — an operator's shifts, a
//! home worker's approved networks, the keystroke limits, each site's PC policy. At start they
//! move to their typed tables (`mamori_store::RulesWrite`) as the first version, made by
//! `system`, and the settings rows go. A row that cannot be read leaves the safe side in force,
//! with an error in the log: no shifts (nothing collected), no extra networks (nothing more
//! approved), the default keystroke limits — and for a site's PC policy, where "no rules" would
//! fail open, a version marked unreadable, so its PCs fail `policy_unreadable` until an admin
//! sets the policy again.

use crate::devices::activity::{LEGACY_KEYSTROKE_LIMITS, LEGACY_SHIFTS_PREFIX};
use crate::devices::{LEGACY_NETWORKS_PREFIX, LEGACY_SITE_POLICY_PREFIX};
use crate::{CoreError, Devices};
use mamori_audit::Actor;
use mamori_domain::activity::{KeystrokeLimits, ShiftSchedule};
use mamori_domain::identity::OrgKind;
use mamori_domain::posture::PosturePolicy;

impl Devices {
    /// Moves the rule sets still in the settings table to their tables; returns how many rows
    /// moved. Does nothing once they have moved.
    pub async fn move_rules_out_of_settings(&self) -> Result<usize, CoreError> {
        let now = self.base.now();
        let by = Actor::System.encode();
        let mut tx = self.base.store.begin().await?;
        let mut moved = 0;
        for (key, json) in tx.settings_with_prefix(LEGACY_SHIFTS_PREFIX).await? {
            let user = &key[LEGACY_SHIFTS_PREFIX.len()..];
            match serde_json::from_str::<ShiftSchedule>(&json) {
                Ok(schedule) if tx.user_by_id(user).await?.is_some() => {
                    tx.put_shift_schedule(user, &schedule, now, &by).await?;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(setting = %key, error = %e, "stored shifts cannot be read; none are kept")
                }
            }
            tx.delete_setting(&key).await?;
            moved += 1;
        }
        for (key, json) in tx.settings_with_prefix(LEGACY_NETWORKS_PREFIX).await? {
            let user = &key[LEGACY_NETWORKS_PREFIX.len()..];
            match serde_json::from_str::<Vec<String>>(&json) {
                Ok(networks) if tx.user_by_id(user).await?.is_some() => {
                    tx.put_user_networks(user, &networks, now, &by).await?;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(setting = %key, error = %e, "stored approved networks cannot be read; none are kept");
                }
            }
            tx.delete_setting(&key).await?;
            moved += 1;
        }
        for (key, json) in tx.settings_with_prefix(LEGACY_SITE_POLICY_PREFIX).await? {
            let site = &key[LEGACY_SITE_POLICY_PREFIX.len()..];
            let is_site = matches!(tx.org_unit(site).await?, Some(u) if u.kind == OrgKind::Site);
            let policy = serde_json::from_str::<PosturePolicy>(&json).map_err(|e| e.to_string());
            let policy = policy.and_then(|p| p.checked().map_err(|e| e.to_string()));
            match policy {
                Ok(policy) if is_site => {
                    tx.put_site_device_policy(site, &policy, now, &by).await?;
                }
                Ok(_) => {}
                Err(e) if is_site => {
                    tracing::error!(setting = %key, error = %e, "a stored PC policy cannot be read; its checks fail closed until it is set again");
                    tx.put_site_device_policy(site, &PosturePolicy::unreadable(), now, &by).await?;
                }
                Err(_) => {}
            }
            tx.delete_setting(&key).await?;
            moved += 1;
        }
        if let Some(json) = tx.setting(LEGACY_KEYSTROKE_LIMITS).await? {
            match serde_json::from_str::<KeystrokeLimits>(&json) {
                Ok(limits) => {
                    tx.put_keystroke_limits(&limits, now, &by).await?;
                }
                Err(e) => {
                    tracing::error!(error = %e, "stored keystroke limits cannot be read; the defaults apply")
                }
            }
            tx.delete_setting(LEGACY_KEYSTROKE_LIMITS).await?;
            moved += 1;
        }
        tx.commit().await?;
        if moved > 0 {
            tracing::info!(rows = moved, "rule sets moved from the settings table to their own tables");
        }
        Ok(moved)
    }
}
