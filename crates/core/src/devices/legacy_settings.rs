//! Earlier versions kept some rule sets as JSON in the settings table — an operator's shifts, a
//! home worker's approved networks, the keystroke limits. At start they move to their typed
//! tables (`mamori_store::RulesWrite`) as the first version, made by `system`, and the settings
//! rows go. A row that cannot be read is dropped with an error in the log, leaving the safe side
//! in force: no shifts (nothing collected), no extra networks (nothing more approved), the default
//! keystroke limits.

use crate::devices::LEGACY_NETWORKS_PREFIX;
use crate::devices::activity::{LEGACY_KEYSTROKE_LIMITS, LEGACY_SHIFTS_PREFIX};
use crate::{CoreError, Devices};
use mamori_audit::Actor;
use mamori_domain::activity::{KeystrokeLimits, ShiftSchedule};

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
