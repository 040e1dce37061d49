//! Privileged actions (issue 15, item 7; DESIGN invariant 3): granting security_admin, changing
//! an approval policy or the outgoing-mail rules, erasing a customer, rotating or retiring the vault's keys — done only
//! once a second security admin has approved. A security admin asks
//! ([`Core::request_privileged`]), another approves in the inbox with a step-up, and the
//! requester carries it out from the approval ([`Core::execute_privileged`]), which uses the
//! grant first: the action done is exactly the one approved.
//!
//! With a single security admin there is nobody to approve: the actions then go ahead directly
//! (each service's gate, `Base::privileged_gate`), so a new installation can appoint its second
//! admin. The key commands run on the server's command line, with `--approval <id>`
//! ([`Core::clear_key_command`]).

use crate::approvals::{Approval, NewRequest};
use crate::{Core, CoreError, Principal, check_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::approval::{ApprovalKind, ApprovalPolicy, PrivilegedAction};
use mamori_domain::{Permission, Role};
use mamori_proto::ErrorCode;

fn action_content(action: &PrivilegedAction) -> Result<serde_json::Value, CoreError> {
    serde_json::to_value(action).map_err(|e| CoreError::Internal(e.to_string()))
}

impl Core {
    /// The permission an action needs besides the security_admin role.
    fn privileged_permission(action: &PrivilegedAction) -> Permission {
        match action {
            PrivilegedAction::GrantSecurityAdmin { .. } => Permission::UsersManage,
            PrivilegedAction::SetApprovalPolicy { .. }
            | PrivilegedAction::SetMailPolicy { .. }
            | PrivilegedAction::SetDetectionRules { .. }
            | PrivilegedAction::RotateVaultKeys
            | PrivilegedAction::RetireVaultKeys => Permission::SettingsManage,
            PrivilegedAction::EraseCustomer { .. } => Permission::CustomersManage,
        }
    }

    /// Asks a second security admin to approve a privileged action; the action is checked now
    /// as it will be when done (the user exists and is not an admin yet, the policy is within
    /// bounds, the customer exists and the reference is well-formed).
    pub async fn request_privileged(
        &self,
        principal: &Principal,
        action: &PrivilegedAction,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        self.base
            .permitted(principal, Self::privileged_permission(action), &actions::APPROVAL_REQUEST, ctx)
            .await?;
        let action = match action {
            PrivilegedAction::GrantSecurityAdmin { user, roles } => {
                check_id(user, "user")?;
                let holder = self.base.store.read().await?.user_by_id(user).await?;
                let holder = holder.ok_or(CoreError::NotFound { what: "user" })?;
                if holder.roles.contains(&Role::SecurityAdmin) {
                    return Err(CoreError::Conflict("this user is a security admin already".into()));
                }
                let mut roles = roles.clone();
                if !roles.contains(&Role::SecurityAdmin) {
                    roles.push(Role::SecurityAdmin);
                }
                roles.sort_by_key(|r| r.as_str());
                roles.dedup();
                PrivilegedAction::GrantSecurityAdmin { user: user.clone(), roles }
            }
            PrivilegedAction::SetApprovalPolicy { kind, policy } => {
                let policy = policy
                    .clone()
                    .checked()
                    .map_err(|m| CoreError::invalid("policy", ErrorCode::InvalidValue, m))?;
                PrivilegedAction::SetApprovalPolicy { kind: *kind, policy }
            }
            PrivilegedAction::SetMailPolicy { policy } => {
                PrivilegedAction::SetMailPolicy { policy: self.checked_mail_policy(policy.clone()).await? }
            }
            PrivilegedAction::SetDetectionRules { rules } => {
                let rules = crate::detection::checked_rules(mamori_domain::detect::RuleSet(rules.clone()))?;
                PrivilegedAction::SetDetectionRules { rules: rules.0 }
            }
            PrivilegedAction::EraseCustomer { customer, request_ref } => {
                check_id(customer, "customer")?;
                let request_ref = crate::vault::subject::check_request_ref(request_ref)?.to_owned();
                if self.base.store.read().await?.customer(customer).await?.is_none() {
                    return Err(CoreError::NotFound { what: "customer" });
                }
                PrivilegedAction::EraseCustomer { customer: customer.clone(), request_ref }
            }
            other => other.clone(),
        };
        let new = NewRequest {
            kind: ApprovalKind::Privileged,
            content: action_content(&action)?,
            reason: reason.to_owned(),
        };
        self.approvals.request(principal, &new, ctx).await
    }

    /// Carries out an approved privileged action, once, by its requester: the grant is used
    /// first, then the action is done exactly as approved. The key commands are not done here
    /// (they run on the server: `mamori keys rotate --approval <id>`).
    pub async fn execute_privileged(
        &self,
        principal: &Principal,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<PrivilegedAction, CoreError> {
        let view = self.approvals.approval(principal, approval_id, ctx).await?;
        let content: serde_json::Value = serde_json::from_str(&view.request.content).unwrap_or_default();
        let Ok(action) = serde_json::from_value::<PrivilegedAction>(content.clone()) else {
            return Err(self
                .approvals
                .not_usable(principal, approval_id, ApprovalKind::Privileged, ctx)
                .await);
        };
        if matches!(action, PrivilegedAction::RotateVaultKeys | PrivilegedAction::RetireVaultKeys) {
            return Err(CoreError::invalid(
                "action",
                ErrorCode::InvalidValue,
                format!("run it on the server: mamori keys {} --approval {approval_id}", key_verb(&action)),
            ));
        }
        self.approvals.use_grant(principal, approval_id, ApprovalKind::Privileged, &content, ctx).await?;
        match &action {
            PrivilegedAction::GrantSecurityAdmin { user, roles } => {
                let change =
                    crate::identity::admin::UserChange { roles: Some(roles.clone()), ..Default::default() };
                self.identity.change_user_approved(principal, user, &change, approval_id, ctx).await?;
            }
            PrivilegedAction::SetApprovalPolicy { kind, policy } => {
                self.apply_approval_policy(principal, *kind, policy, Some(approval_id), ctx).await?;
            }
            PrivilegedAction::SetMailPolicy { policy } => {
                self.apply_mail_policy(principal, policy.clone(), Some(approval_id), ctx).await?;
            }
            PrivilegedAction::SetDetectionRules { rules } => {
                let rules = mamori_domain::detect::RuleSet(rules.clone());
                self.detection.apply_rules(principal, rules, Some(approval_id), ctx).await?;
            }
            PrivilegedAction::EraseCustomer { customer, request_ref } => {
                self.vault
                    .erase_customer_approved(principal, customer, request_ref, approval_id, ctx)
                    .await?;
            }
            PrivilegedAction::RotateVaultKeys | PrivilegedAction::RetireVaultKeys => {}
        }
        Ok(action)
    }

    /// Sets how a kind of request is decided — directly only where there is no second security
    /// admin to approve it; otherwise ask with [`Core::request_privileged`].
    pub async fn set_approval_policy(
        &self,
        principal: &Principal,
        kind: ApprovalKind,
        policy: &ApprovalPolicy,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::SettingsManage, &actions::APPROVAL_POLICY_CHANGE, ctx)
            .await?;
        let object = format!("approval_policy:{}", kind.as_str());
        self.base.privileged_gate(principal, &actions::APPROVAL_POLICY_CHANGE, object, ctx).await?;
        self.apply_approval_policy(principal, kind, policy, None, ctx).await
    }

    async fn apply_approval_policy(
        &self,
        principal: &Principal,
        kind: ApprovalKind,
        policy: &ApprovalPolicy,
        approval: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let policy =
            policy.clone().checked().map_err(|m| CoreError::invalid("policy", ErrorCode::InvalidValue, m))?;
        let json = serde_json::to_string(&policy).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(&format!("approval_policy:{}", kind.as_str()), &json).await?;
        let roles: Vec<&str> = policy.approver_roles.iter().map(|r| r.as_str()).collect();
        let mut e = AuditEvent::of(&actions::APPROVAL_POLICY_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("approval_policy:{}", kind.as_str()))
            .detail("approvals", policy.approvals.to_string())
            .detail("approver_roles", roles.join(","))
            .detail("own_team_supervisor", policy.own_team_supervisor.to_string())
            .detail("decide_within_ms", policy.decide_within_ms.to_string())
            .detail("grant_valid_ms", policy.grant_valid_ms.to_string());
        if let Some(id) = approval {
            e = e.detail("approval", id.to_owned());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.approvals.changed();
        Ok(())
    }

    /// Clears `mamori keys rotate` or `retire` to run: with a second security admin in the
    /// installation, only with the id of an approved request for exactly that action (used
    /// once, on behalf of the admin who asked); with a single admin, directly. Either way
    /// recorded as `keys.privileged`.
    pub async fn clear_key_command(
        &self,
        action: &PrivilegedAction,
        approval_id: Option<&str>,
    ) -> Result<(), CoreError> {
        let ctx = RequestContext::default();
        let entry = |outcome| {
            AuditEvent::of(&actions::PRIVILEGED_KEYS, Actor::System, outcome)
                .object("vault_kek")
                .detail("action", action.code())
        };
        if !self.base.has_second_admin().await? {
            return self
                .base
                .audit_access(&ctx, entry(Outcome::Success).detail("sole_admin", "true"))
                .await
                .map(drop);
        }
        let Some(id) = approval_id else {
            self.base.record_denied(&ctx, entry(Outcome::Denied).detail("reason", "approval_required")).await;
            return Err(CoreError::ApprovalRequired);
        };
        check_id(id, "approval")?;
        let request = self.base.store.read().await?.approval(id).await?;
        let request = request.ok_or(CoreError::NotFound { what: "approval" })?;
        let requester = self.base.store.read().await?.user_by_id(&request.requester_id).await?;
        let requester = requester.ok_or(CoreError::NotFound { what: "user" })?;
        let on_behalf = Principal::direct(&requester, Vec::new());
        self.approvals
            .use_grant(&on_behalf, id, ApprovalKind::Privileged, &action_content(action)?, &ctx)
            .await?;
        self.base
            .audit_access(&ctx, entry(Outcome::Success).detail("approval", id.to_owned()))
            .await
            .map(drop)
    }
}

fn key_verb(action: &PrivilegedAction) -> &'static str {
    match action {
        PrivilegedAction::RetireVaultKeys => "retire",
        _ => "rotate",
    }
}
