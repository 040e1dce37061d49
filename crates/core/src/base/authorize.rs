//! Authorization inside the services: every operation applies the one rule of
//! `mamori_domain::authz::authorize` — the permission held, the resource in the caller's scope
//! (client companies for customers, the people scope for PCs, activity and shifts) — whoever
//! calls it: a route (whose guard already checked the permission), the command line, a
//! background job, a detector. A refusal is recorded as denied (DESIGN invariant 9); a record
//! outside the scope is "not found", never "forbidden", so its existence is not confirmed.

use crate::{Base, CoreError, Principal, check_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions::Action};
use mamori_domain::Permission;
use mamori_domain::authz::{self, Refusal, Resource, Subject};
use mamori_store::{DeviceRecord, UserRecord};
use std::collections::HashMap;

/// What was attempted, for the `denied` entry of a refusal and its answer.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub action: &'static Action,
    /// The record asked for (`device:<id>`, a customer's keyed hash…).
    pub object: Option<String>,
    /// What the caller is told was not found, when the record is outside the scope.
    pub what: &'static str,
    /// Details worth recording with the refusal (the customer's client company, the lookup's
    /// purpose).
    pub details: Vec<(&'static str, String)>,
}

impl Attempt {
    pub(crate) fn of(action: &'static Action) -> Self {
        Attempt { action, object: None, what: "record", details: Vec::new() }
    }

    pub(crate) fn on(mut self, object: String, what: &'static str) -> Self {
        self.object = Some(object);
        self.what = what;
        self
    }
}

impl Base {
    pub(crate) fn subject(principal: &Principal) -> Subject<'_> {
        Subject {
            user_id: &principal.user.id,
            roles: &principal.user.roles,
            team_id: principal.user.team_id.as_deref(),
            client_ids: &principal.client_ids,
            permissions: &principal.permissions,
        }
    }

    /// Applies the rule; on a refusal records it and answers 403 (a permission) or 404 (a scope).
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        needs: Permission,
        resource: Resource<'_>,
        attempt: Attempt,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let Err(refusal) = authz::authorize(&Self::subject(principal), needs, resource) else {
            return Ok(());
        };
        let mut entry = AuditEvent::of(attempt.action, principal.actor(), Outcome::Denied)
            .detail("reason", refusal.reason());
        if let Some(object) = attempt.object {
            entry = entry.object(object);
        }
        for (key, value) in attempt.details {
            entry = entry.detail(key, value);
        }
        if let Refusal::Permission(p) = refusal {
            entry = entry.detail("needs", p.as_str());
        }
        self.record_denied(ctx, entry).await;
        Err(match refusal {
            Refusal::Permission(_) => {
                CoreError::Forbidden("your roles do not grant the permission this needs")
            }
            Refusal::ClientScope | Refusal::TeamScope => CoreError::NotFound { what: attempt.what },
        })
    }

    /// [`Base::authorize`] for an operation on the system as a whole (users, organisation,
    /// tokens, settings, policies, the audit log).
    pub(crate) async fn permitted(
        &self,
        principal: &Principal,
        needs: Permission,
        action: &'static Action,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.authorize(principal, needs, Resource::System, Attempt::of(action), ctx).await
    }

    /// A device the principal may act on with `needs`; `action` names the attempt.
    pub(crate) async fn device_in_scope(
        &self,
        principal: &Principal,
        needs: Permission,
        device_id: &str,
        action: &'static Action,
        ctx: &RequestContext,
    ) -> Result<DeviceRecord, CoreError> {
        check_id(device_id, "device")?;
        let mut read = self.store.read().await?;
        let device = read.device(device_id).await?.ok_or(CoreError::NotFound { what: "device" })?;
        let team = match &device.user_id {
            Some(user) => read.user_by_id(user).await?.and_then(|u| u.team_id),
            None => None,
        };
        drop(read);
        let resource = Resource::Person { user_id: device.user_id.as_deref(), team_id: team.as_deref() };
        let attempt = Attempt::of(action).on(format!("device:{device_id}"), "device");
        self.authorize(principal, needs, resource, attempt, ctx).await?;
        Ok(device)
    }

    /// A person whose monitoring data (shifts, networks) the principal may read or set.
    pub(crate) async fn person_in_scope(
        &self,
        principal: &Principal,
        needs: Permission,
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
        let resource = Resource::Person { user_id: Some(&user.id), team_id: user.team_id.as_deref() };
        let attempt = Attempt::of(action).on(format!("user:{user_id}"), "user");
        self.authorize(principal, needs, resource, attempt, ctx).await?;
        Ok(user)
    }

    /// Keeps the devices the principal may see (a list is narrowed, not refused).
    pub(crate) async fn devices_in_scope(
        &self,
        principal: &Principal,
        devices: Vec<DeviceRecord>,
    ) -> Result<Vec<DeviceRecord>, CoreError> {
        let subject = Self::subject(principal);
        if authz::PeopleScope::of(subject.roles, subject.team_id) == authz::PeopleScope::Everyone {
            return Ok(devices);
        }
        let teams: HashMap<String, Option<String>> =
            self.store.read().await?.list_users().await?.into_iter().map(|u| (u.id, u.team_id)).collect();
        Ok(devices
            .into_iter()
            .filter(|d| {
                let team = d.user_id.as_ref().and_then(|u| teams.get(u)).and_then(Option::as_deref);
                let resource = Resource::Person { user_id: d.user_id.as_deref(), team_id: team };
                authz::authorize(&subject, Permission::DevicesRead, resource).is_ok()
            })
            .collect())
    }

    /// Whether a customer of `client_id` may be read by the principal (for narrowing lists).
    pub(crate) fn reads_client(principal: &Principal, client_id: &str) -> bool {
        let resource = Resource::Customer { client_id };
        authz::authorize(&Self::subject(principal), Permission::CustomersRead, resource).is_ok()
    }

    /// Whether the principal may see this person's monitoring data (for narrowing lists).
    pub(crate) fn sees_person(principal: &Principal, user: &UserRecord) -> bool {
        let resource = Resource::Person { user_id: Some(&user.id), team_id: user.team_id.as_deref() };
        authz::authorize(&Self::subject(principal), Permission::DevicesRead, resource).is_ok()
    }
}
