//! Operators' activity (issue 5; MON-1, MON-3, invariant 8): shift schedules, which decide when
//! an agent may collect activity at all; the per-role keystroke limits behind the
//! `abnormal_keystroke_rate` signal; and the per-minute buckets agents report. The server keeps a
//! bucket only when it falls inside the operator's shift, whatever the agent sent.

use crate::base::authorize::Attempt;
use crate::{CoreError, Devices, Principal, check_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::activity::{ActivityBucket, KeystrokeLimits, ShiftSchedule};
use mamori_domain::authz::Resource;
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
use mamori_store::{ActivityRecord, DeviceRecord};

/// Where these rule sets were kept before they had tables (moved out at start).
pub(crate) const LEGACY_SHIFTS_PREFIX: &str = "shifts:";
pub(crate) const LEGACY_KEYSTROKE_LIMITS: &str = "keystroke_limits";

impl Devices {
    /// A user's shifts (empty until set: no activity is collected), for someone who may see
    /// that user's monitoring data (themselves included).
    pub async fn user_shifts(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<ShiftSchedule, CoreError> {
        self.base
            .person_in_scope(principal, Permission::DevicesRead, user_id, &actions::DEVICE_SHIFTS_READ, ctx)
            .await?;
        self.shifts_of(user_id).await
    }

    /// The shifts in force (none until set: nothing is collected).
    pub(crate) async fn shifts_of(&self, user_id: &str) -> Result<ShiftSchedule, CoreError> {
        check_id(user_id, "user")?;
        Ok(self.base.store.read().await?.shift_schedule(user_id).await?.unwrap_or_default())
    }

    pub async fn set_user_shifts(
        &self,
        principal: &Principal,
        user_id: &str,
        schedule: ShiftSchedule,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .person_in_scope(
                principal,
                Permission::DevicesManage,
                user_id,
                &actions::DEVICE_SHIFTS_CHANGE,
                ctx,
            )
            .await?;
        let schedule = schedule
            .checked()
            .map_err(|e| CoreError::invalid("shifts", ErrorCode::InvalidValue, e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.user_by_id(user_id).await?.ok_or(CoreError::NotFound { what: "user" })?;
        let version =
            tx.put_shift_schedule(user_id, &schedule, self.base.now(), &principal.actor().encode()).await?;
        let e = AuditEvent::of(&actions::DEVICE_SHIFTS_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("user:{user_id}"))
            .detail("shifts", schedule.shifts.len().to_string())
            .detail("version", version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The shifts of the operator a PC is assigned to (none for an unassigned PC).
    pub async fn device_shifts(&self, device: &DeviceRecord) -> Result<ShiftSchedule, CoreError> {
        match &device.user_id {
            Some(user) => self.shifts_of(user).await,
            None => Ok(ShiftSchedule::default()),
        }
    }

    /// The limits in force (`devices.read`; the defaults until set).
    pub async fn keystroke_limits(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<KeystrokeLimits, CoreError> {
        let attempt = Attempt::of(&actions::POLICY_READ).on("keystroke_limits".into(), "record");
        self.base.authorize(principal, Permission::DevicesRead, Resource::System, attempt, ctx).await?;
        self.limits_in_force().await
    }

    async fn limits_in_force(&self) -> Result<KeystrokeLimits, CoreError> {
        Ok(self.base.store.read().await?.keystroke_limits().await?.unwrap_or_default())
    }

    pub async fn set_keystroke_limits(
        &self,
        principal: &Principal,
        limits: KeystrokeLimits,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::DevicesManage, &actions::DEVICE_KEYSTROKE_LIMITS_CHANGE, ctx)
            .await?;
        let limits = limits
            .checked()
            .map_err(|e| CoreError::invalid("per_role", ErrorCode::InvalidValue, e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        let version = tx.put_keystroke_limits(&limits, self.base.now(), &principal.actor().encode()).await?;
        let e = AuditEvent::of(&actions::DEVICE_KEYSTROKE_LIMITS_CHANGE, principal.actor(), Outcome::Success)
            .detail("version", version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Of the buckets a PC reported, those the server keeps — inside its operator's shifts — and
    /// the signals they raise. Checked whole before anything is stored.
    pub(crate) async fn activity_to_keep(
        &self,
        device: &DeviceRecord,
        buckets: Vec<ActivityBucket>,
        now: UnixMillis,
    ) -> Result<(Vec<ActivityRecord>, Vec<(&'static str, serde_json::Value)>), CoreError> {
        for b in &buckets {
            b.checked().map_err(|e| CoreError::invalid("events", ErrorCode::InvalidValue, e.to_string()))?;
        }
        if buckets.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let shifts = self.device_shifts(device).await?;
        let limit = match &device.user_id {
            Some(user) => match self.base.store.read().await?.user_by_id(user).await? {
                Some(u) => self.limits_in_force().await?.limit_for(&u.roles),
                None => None,
            },
            None => None,
        };
        let mut keep = Vec::new();
        let mut signals = Vec::new();
        for bucket in buckets {
            if !shifts.on_shift(UnixMillis(bucket.minute)) {
                continue;
            }
            if let Some(limit) = limit
                && bucket.keystrokes > limit
            {
                signals.push((
                    "abnormal_keystroke_rate",
                    serde_json::json!({
                        "minute": UnixMillis(bucket.minute).rfc3339(),
                        "keystrokes": bucket.keystrokes,
                        "limit": limit,
                    }),
                ));
            }
            keep.push(ActivityRecord { device_id: device.id.clone(), bucket, received_at: now });
        }
        Ok((keep, signals))
    }

    /// A PC's activity buckets of the last `hours`, newest first. Who looked at an operator's
    /// minutes is itself recorded (an access entry, committed before the buckets are returned):
    /// monitoring data is about a person too.
    pub async fn device_activity(
        &self,
        principal: &Principal,
        device_id: &str,
        hours: u32,
        ctx: &RequestContext,
    ) -> Result<Vec<ActivityRecord>, CoreError> {
        self.base
            .device_in_scope(
                principal,
                Permission::DevicesRead,
                device_id,
                &actions::DEVICE_ACTIVITY_READ,
                ctx,
            )
            .await?;
        let since =
            self.base.now().minus(std::time::Duration::from_secs(u64::from(hours.min(24 * 31)) * 3600));
        let buckets = self.base.store.read().await?.device_activity(device_id, since, 2000).await?;
        let e = AuditEvent::of(&actions::DEVICE_ACTIVITY_READ, principal.actor(), Outcome::Success)
            .object(format!("device:{device_id}"))
            .detail("hours", hours.to_string())
            .detail("buckets", buckets.len().to_string());
        self.base.audit_access(ctx, e).await?;
        Ok(buckets)
    }
}
