//! Team scope on monitoring data (who may see whose devices, activity, events, commands and
//! shifts): the rule is `mamori_domain::authz::PeopleScope`; here it is applied to records. A
//! record outside the caller's scope is not found — as with another client's customers — and
//! the attempt is recorded as denied (DESIGN invariant 9).

use crate::{Core, CoreError, Principal, check_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions::Action};
use mamori_domain::authz::PeopleScope;
use mamori_store::{DeviceRecord, UserRecord};
use std::collections::HashMap;

impl Core {
    pub(crate) fn people_scope(principal: &Principal) -> PeopleScope {
        PeopleScope::of(&principal.user.roles, principal.user.team_id.as_deref())
    }

    /// A device the principal may see; `action` names what was attempted, for the refusal.
    pub(crate) async fn device_in_scope(
        &self,
        principal: &Principal,
        device_id: &str,
        action: &'static Action,
        ctx: &RequestContext,
    ) -> Result<DeviceRecord, CoreError> {
        check_id(device_id, "device")?;
        let mut read = self.store.read().await?;
        let device = read.device(device_id).await?.ok_or(CoreError::NotFound { what: "device" })?;
        let scope = Self::people_scope(principal);
        if scope == PeopleScope::Everyone {
            return Ok(device);
        }
        let team = match &device.user_id {
            Some(user) => read.user_by_id(user).await?.and_then(|u| u.team_id),
            None => None,
        };
        drop(read);
        if scope.covers(&principal.user.id, device.user_id.as_deref(), team.as_deref()) {
            return Ok(device);
        }
        Err(self.out_of_scope(principal, action, format!("device:{device_id}"), "device", ctx).await)
    }

    /// A person whose monitoring data (shifts, networks) the principal may see or set.
    pub(crate) async fn person_in_scope(
        &self,
        principal: &Principal,
        user_id: &str,
        action: &'static Action,
        ctx: &RequestContext,
    ) -> Result<UserRecord, CoreError> {
        check_id(user_id, "user")?;
        let user = self
            .store
            .read()
            .await?
            .user_by_id(user_id)
            .await?
            .ok_or(CoreError::NotFound { what: "user" })?;
        if Self::people_scope(principal).covers(&principal.user.id, Some(&user.id), user.team_id.as_deref()) {
            return Ok(user);
        }
        Err(self.out_of_scope(principal, action, format!("user:{user_id}"), "user", ctx).await)
    }

    /// Keeps the devices the principal may see.
    pub(crate) async fn devices_in_scope(
        &self,
        principal: &Principal,
        devices: Vec<DeviceRecord>,
    ) -> Result<Vec<DeviceRecord>, CoreError> {
        let scope = Self::people_scope(principal);
        if scope == PeopleScope::Everyone {
            return Ok(devices);
        }
        let teams: HashMap<String, Option<String>> =
            self.store.read().await?.list_users().await?.into_iter().map(|u| (u.id, u.team_id)).collect();
        Ok(devices
            .into_iter()
            .filter(|d| {
                let team = d.user_id.as_ref().and_then(|u| teams.get(u)).and_then(Option::as_deref);
                scope.covers(&principal.user.id, d.user_id.as_deref(), team)
            })
            .collect())
    }
}

impl Core {
    /// Records the refusal and gives the answer for a record outside the scope: not found.
    async fn out_of_scope(
        &self,
        principal: &Principal,
        action: &'static Action,
        object: String,
        what: &'static str,
        ctx: &RequestContext,
    ) -> CoreError {
        let refusal = AuditEvent::of(action, principal.actor(), Outcome::Denied)
            .object(object)
            .detail("reason", "team_scope");
        self.record_denied(ctx, refusal).await;
        CoreError::NotFound { what }
    }
}
