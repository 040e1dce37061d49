//! What security admins do: users, organisation, API tokens, settings; and what auditors read.
//! Each change is audited in its own transaction with the actor, object and what changed.

use crate::User;
use crate::base::authorize::Attempt;
use crate::identity::setup::invitation_link;
use crate::{CoreError, Identity, Principal, check_id, new_id, settings};
use mamori_audit::{
    AuditEvent, Outcome, RequestContext,
    actions::{self, Action},
};
use mamori_crypto::tokens;
use mamori_domain::authz::Resource;
use mamori_domain::identity::{self, UserStatus};
use mamori_domain::{Permission, Role};
use mamori_proto::ErrorCode;
use mamori_store::{ApiTokenRecord, OrgKind, OrgUnit, SecurityEvent, StoreTx, UserProfile, UserRecord};
use std::time::Duration;

/// A new user's details, as the inviting admin gives them.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub team_id: Option<String>,
    pub site_id: Option<String>,
    pub client_ids: Vec<String>,
    /// Where mail reaches them (optional).
    pub mail_address: Option<String>,
}

/// An invitation just made; `token` goes into the link `/invite?token=…` and is not stored.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user: User,
    /// The client companies the user was assigned to.
    pub client_ids: Vec<String>,
    pub token: String,
}

/// An API token just made; `secret` is shown once and not stored.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub token: crate::identity::ApiToken,
    pub secret: String,
}

fn event(principal: &Principal, action: &'static Action, object: String) -> AuditEvent {
    AuditEvent::of(action, principal.actor(), Outcome::Success).object(object)
}

fn validate_roles(roles: &[Role]) -> Result<Vec<Role>, CoreError> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(CoreError::invalid("roles", ErrorCode::RolesEmpty, "give the user at least one role"));
    }
    Ok(roles)
}

pub(crate) fn validate_username(username: &str) -> Result<String, CoreError> {
    let username = username.trim().to_lowercase();
    identity::validate_username(&username).map_err(|p| {
        CoreError::invalid("username", ErrorCode::UsernameInvalid, format!("the user name {p}"))
    })?;
    Ok(username)
}

pub(crate) fn validate_display_name(name: &str) -> Result<String, CoreError> {
    identity::validate_display_name(name).map_err(|p| {
        CoreError::invalid("display_name", ErrorCode::DisplayNameInvalid, format!("the display name {p}"))
    })?;
    Ok(name.trim().to_owned())
}

/// A mail address as given (blank: none), checked and lower-cased.
pub(crate) fn validate_mail_address(address: Option<&str>) -> Result<Option<String>, CoreError> {
    match address.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => identity::normalize_mail_address(a).map(Some).ok_or_else(|| {
            CoreError::invalid(
                "mail_address",
                ErrorCode::InvalidValue,
                "a mail address is like sato@example.co.jp (letters, digits and . _ + - before the @)",
            )
        }),
    }
}

async fn check_org_ref(
    tx: &mut Box<dyn StoreTx>,
    field: &'static str,
    id: Option<&str>,
    kind: OrgKind,
) -> Result<(), CoreError> {
    if let Some(id) = id {
        let unknown = || {
            CoreError::invalid(
                field,
                ErrorCode::UnknownReference,
                format!("no {} with this id", kind.as_str()),
            )
        };
        check_id(id, "organisation unit").map_err(|_| unknown())?;
        match tx.org_unit(id).await? {
            Some(u) if u.kind == kind => {}
            _ => {
                return Err(CoreError::invalid(
                    field,
                    ErrorCode::UnknownReference,
                    format!("no {} with this id", kind.as_str()),
                ));
            }
        }
    }
    Ok(())
}

async fn check_clients(tx: &mut Box<dyn StoreTx>, ids: &[String]) -> Result<Vec<String>, CoreError> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    for id in &ids {
        check_org_ref(tx, "client_ids", Some(id), OrgKind::Client).await?;
    }
    Ok(ids)
}

/// What a change of a user sets; `None` leaves that part as it is (`Some(None)` clears a team
/// or site).
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub team_id: Option<Option<String>>,
    pub site_id: Option<Option<String>>,
    /// `Some(None)` (or a blank address) clears it.
    pub mail_address: Option<Option<String>>,
    pub roles: Option<Vec<Role>>,
    pub client_ids: Option<Vec<String>>,
}

impl Identity {
    /// Users are read with `users.read`. Only the refusal is recorded: reads of settings and directories are not logged one by one.
    async fn may_read_users(
        &self,
        principal: &Principal,
        object: String,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let attempt = Attempt::of(&actions::USER_READ).on(object, "user");
        self.base.authorize(principal, Permission::UsersRead, Resource::System, attempt, ctx).await
    }

    /// Every user (`users.read`).
    pub async fn list_users(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<User>, CoreError> {
        self.may_read_users(principal, "users".into(), ctx).await?;
        Ok(self.base.store.read().await?.list_users().await?.iter().map(User::from).collect())
    }

    /// A user and the client companies they work on (`users.read`).
    pub async fn user(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(User, Vec<String>), CoreError> {
        check_id(id, "user")?;
        self.may_read_users(principal, format!("user:{id}"), ctx).await?;
        let mut r = self.base.store.read().await?;
        let user = r.user_by_id(id).await?.ok_or(CoreError::NotFound { what: "user" })?;
        let clients = r.user_clients(id).await?;
        Ok((user.into(), clients))
    }

    /// A user by user name (for the command line).
    pub async fn user_named(&self, username: &str) -> Result<User, CoreError> {
        let user = self.base.store.read().await?.user_by_username(username).await?;
        Ok(user.ok_or(CoreError::NotFound { what: "user" })?.into())
    }

    async fn user_in(&self, tx: &mut Box<dyn StoreTx>, id: &str) -> Result<UserRecord, CoreError> {
        check_id(id, "user")?;
        tx.user_by_id(id).await?.ok_or(CoreError::NotFound { what: "user" })
    }

    /// Creates an invited user and a one-time link for them to choose a password.
    pub async fn invite_user(
        &self,
        principal: &Principal,
        inv: &Invitation,
        ctx: &RequestContext,
    ) -> Result<Invited, CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_INVITE, ctx).await?;
        let username = validate_username(&inv.username)?;
        let display_name = validate_display_name(&inv.display_name)?;
        let mail_address = validate_mail_address(inv.mail_address.as_deref())?;
        let roles = validate_roles(&inv.roles)?;
        if roles.contains(&Role::SecurityAdmin) {
            // Invite as another role, then ask for the grant (`grant_security_admin`).
            self.base.privileged_gate(principal, &actions::USER_INVITE, "invitation".into(), ctx).await?;
        }
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        if tx.user_by_username(&username).await?.is_some() {
            return Err(CoreError::invalid(
                "username",
                ErrorCode::UsernameTaken,
                "this user name is already taken",
            ));
        }
        check_org_ref(&mut tx, "team_id", inv.team_id.as_deref(), OrgKind::Team).await?;
        check_org_ref(&mut tx, "site_id", inv.site_id.as_deref(), OrgKind::Site).await?;
        let clients = check_clients(&mut tx, &inv.client_ids).await?;
        let user = UserRecord {
            team_id: inv.team_id.clone(),
            site_id: inv.site_id.clone(),
            mail_address,
            ..UserRecord::new(new_id(), username, display_name, roles, UserStatus::Invited, now)
        };
        tx.insert_user(&user).await?;
        tx.set_user_clients(&user.id, &clients).await?;
        let token = invitation_link(&mut tx, &user.id, now, self.base.policies.invitation_validity).await?;
        let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
        let e = event(principal, &actions::USER_INVITE, format!("user:{}", user.id))
            .detail("roles", roles.join(","))
            .detail("clients", clients.join(","));
        self.base.audit(&mut tx, ctx, e).await?;
        // Onboarding training (issue 18, item 2; ISMS-8): assigned with the account, due later.
        crate::isms::training::assign_onboarding(&self.base, &mut tx, &user, principal.actor(), ctx).await?;
        let client_ids = tx.user_clients(&user.id).await?;
        tx.commit().await?;
        Ok(Invited { user: user.into(), client_ids, token })
    }

    /// A new invitation link for a user who has not accepted yet (the old one may have expired).
    pub async fn reinvite_user(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_REINVITE, ctx).await?;
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let user = self.user_in(&mut tx, user_id).await?;
        if user.status != UserStatus::Invited {
            return Err(CoreError::Conflict("this user has already accepted their invitation".into()));
        }
        let token = invitation_link(&mut tx, &user.id, now, self.base.policies.invitation_validity).await?;
        self.base
            .audit(&mut tx, ctx, event(principal, &actions::USER_REINVITE, format!("user:{}", user.id)))
            .await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn update_user_profile(
        &self,
        principal: &Principal,
        user_id: &str,
        profile: &UserProfile,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let change = UserChange {
            display_name: Some(profile.display_name.clone()),
            team_id: Some(profile.team_id.clone()),
            site_id: Some(profile.site_id.clone()),
            mail_address: Some(profile.mail_address.clone()),
            ..Default::default()
        };
        self.change_user(principal, user_id, &change, ctx).await.map(drop)
    }

    /// Changes a user's roles (LEAK-6: every change is on the record for access reviews).
    pub async fn set_user_roles(
        &self,
        principal: &Principal,
        user_id: &str,
        roles: &[Role],
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let change = UserChange { roles: Some(roles.to_vec()), ..Default::default() };
        self.change_user(principal, user_id, &change, ctx).await.map(drop)
    }

    /// Sets which client companies' data a user works on.
    pub async fn set_user_clients(
        &self,
        principal: &Principal,
        user_id: &str,
        client_ids: &[String],
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let change = UserChange { client_ids: Some(client_ids.to_vec()), ..Default::default() };
        self.change_user(principal, user_id, &change, ctx).await.map(drop)
    }

    /// Changes any of a user's profile, roles and client companies in one transaction: every
    /// part is checked before anything is written, and a refused part changes nothing. Each
    /// part changed has its own audit entry (`user.update`, `user.roles`, `user.clients`).
    ///
    /// Granting security_admin is a privileged action (issue 15, item 7): with a second
    /// security admin in the installation it is refused here (`ApprovalRequired`) and done
    /// from an approved request instead (`Core::execute_privileged`).
    pub async fn change_user(
        &self,
        principal: &Principal,
        user_id: &str,
        change: &UserChange,
        ctx: &RequestContext,
    ) -> Result<(User, Vec<String>), CoreError> {
        self.change_user_with(principal, user_id, change, None, ctx).await
    }

    /// A change a second security admin approved (the grant is used by the caller).
    pub(crate) async fn change_user_approved(
        &self,
        principal: &Principal,
        user_id: &str,
        change: &UserChange,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<(User, Vec<String>), CoreError> {
        self.change_user_with(principal, user_id, change, Some(approval_id), ctx).await
    }

    async fn change_user_with(
        &self,
        principal: &Principal,
        user_id: &str,
        change: &UserChange,
        approval: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(User, Vec<String>), CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_UPDATE, ctx).await?;
        let display_name = change.display_name.as_deref().map(validate_display_name).transpose()?;
        let mail_address =
            change.mail_address.as_ref().map(|a| validate_mail_address(a.as_deref())).transpose()?;
        let roles = change.roles.as_deref().map(validate_roles).transpose()?;
        if let Some(roles) = &roles
            && roles.contains(&Role::SecurityAdmin)
            && approval.is_none()
        {
            check_id(user_id, "user")?;
            let holder = self.base.store.read().await?.user_by_id(user_id).await?;
            if holder.is_some_and(|u| !u.roles.contains(&Role::SecurityAdmin)) {
                self.base
                    .privileged_gate(principal, &actions::USER_ROLES, format!("user:{user_id}"), ctx)
                    .await?;
            }
        }
        if let Some(roles) = &roles
            && user_id == principal.user.id
            && !roles.contains(&Role::SecurityAdmin)
        {
            self.base.record_denied(ctx, self_refusal(principal, &actions::USER_ROLES)).await;
            return Err(CoreError::Forbidden(
                "you cannot remove your own security admin role; ask another admin",
            ));
        }
        let mut tx = self.base.store.begin().await?;
        let before = self.user_in(&mut tx, user_id).await?;
        let before_clients = tx.user_clients(user_id).await?;
        if display_name.is_some()
            || change.team_id.is_some()
            || change.site_id.is_some()
            || mail_address.is_some()
        {
            let profile = UserProfile {
                display_name: display_name.unwrap_or_else(|| before.display_name.clone()),
                team_id: change.team_id.clone().unwrap_or_else(|| before.team_id.clone()),
                site_id: change.site_id.clone().unwrap_or_else(|| before.site_id.clone()),
                mail_address: mail_address.unwrap_or_else(|| before.mail_address.clone()),
            };
            check_org_ref(&mut tx, "team_id", profile.team_id.as_deref(), OrgKind::Team).await?;
            check_org_ref(&mut tx, "site_id", profile.site_id.as_deref(), OrgKind::Site).await?;
            tx.update_user_profile(user_id, &profile, self.base.now()).await?;
            let changed: Vec<&str> = [
                ("display_name", before.display_name != profile.display_name),
                ("team_id", before.team_id != profile.team_id),
                ("site_id", before.site_id != profile.site_id),
                ("mail_address", before.mail_address != profile.mail_address),
            ]
            .into_iter()
            .filter_map(|(field, differs)| differs.then_some(field))
            .collect();
            let e = event(principal, &actions::USER_UPDATE, format!("user:{user_id}"))
                .detail("fields", changed.join(","));
            self.base.audit(&mut tx, ctx, e).await?;
        }
        if let Some(roles) = roles {
            tx.set_user_roles(user_id, &roles, self.base.now()).await?;
            let names = |rs: &[Role]| rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
            let mut e = event(principal, &actions::USER_ROLES, format!("user:{user_id}"))
                .detail("from", names(&before.roles))
                .detail("to", names(&roles));
            if let Some(id) = approval {
                e = e.detail("approval", id.to_owned());
            }
            self.base.audit(&mut tx, ctx, e).await?;
        }
        if let Some(client_ids) = &change.client_ids {
            let previous = tx.user_clients(user_id).await?;
            let clients = check_clients(&mut tx, client_ids).await?;
            tx.set_user_clients(user_id, &clients).await?;
            let e = event(principal, &actions::USER_CLIENTS, format!("user:{user_id}"))
                .detail("from", previous.join(","))
                .detail("to", clients.join(","));
            self.base.audit(&mut tx, ctx, e).await?;
        }
        let after = self.user_in(&mut tx, user_id).await?;
        let clients = tx.user_clients(user_id).await?;
        // A transfer — team, site, client companies or roles changed — starts an access review
        // of that person, reviewed by their new team's supervisors (issue 18, item 3; LEAK-6).
        let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
        let role_set = |v: &[Role]| v.iter().copied().collect::<std::collections::BTreeSet<_>>();
        if after.status != mamori_domain::identity::UserStatus::Disabled
            && (before.team_id != after.team_id
                || before.site_id != after.site_id
                || role_set(&before.roles) != role_set(&after.roles)
                || change.client_ids.is_some() && set(&before_clients) != set(&clients))
        {
            crate::isms::access_reviews::start_transfer_review(
                &self.base,
                &mut tx,
                user_id,
                &after.display_name,
                principal.actor(),
                ctx,
            )
            .await?;
        }
        tx.commit().await?;
        Ok((after.into(), clients))
    }

    /// Disables a user and ends all their sessions at once.
    pub async fn disable_user(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_DISABLE, ctx).await?;
        if user_id == principal.user.id {
            self.base.record_denied(ctx, self_refusal(principal, &actions::USER_DISABLE)).await;
            return Err(CoreError::Forbidden("you cannot disable your own account"));
        }
        let mut tx = self.base.store.begin().await?;
        self.user_in(&mut tx, user_id).await?;
        tx.set_user_status(user_id, UserStatus::Disabled.as_str(), self.base.now()).await?;
        let ended = tx.delete_user_sessions(user_id).await?;
        let e = event(principal, &actions::USER_DISABLE, format!("user:{user_id}"))
            .detail("sessions_ended", ended.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Re-enables a disabled user (an invited user stays invited until they accept).
    pub async fn enable_user(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_ENABLE, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let user = self.user_in(&mut tx, user_id).await?;
        let status = if user.password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
        tx.set_user_status(user_id, status.as_str(), self.base.now()).await?;
        self.base
            .audit(&mut tx, ctx, event(principal, &actions::USER_ENABLE, format!("user:{user_id}")))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts a lockout before it ends by itself.
    pub async fn unlock_user(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::USER_UNLOCK, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let user = self.user_in(&mut tx, user_id).await?;
        tx.clear_failed_signins(user_id).await?;
        let e = event(principal, &actions::USER_UNLOCK, format!("user:{user_id}"))
            .detail("was_locked", user.locked_until.is_some_and(|t| t > self.base.now()).to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a user's TOTP (a lost phone). They enrol again at their next sign-in.
    pub async fn reset_user_totp(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::MFA_RESET, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        self.user_in(&mut tx, user_id).await?;
        tx.disable_totp(user_id).await?;
        let ended = tx.delete_user_sessions(user_id).await?;
        let e = AuditEvent::of(&actions::MFA_RESET, principal.actor(), Outcome::Success)
            .object(format!("user:{user_id}"))
            .detail("sessions_ended", ended.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs a user out everywhere.
    pub async fn end_user_sessions(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<u64, CoreError> {
        self.base.permitted(principal, Permission::UsersManage, &actions::SESSION_END_ALL, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        self.user_in(&mut tx, user_id).await?;
        let ended = tx.delete_user_sessions(user_id).await?;
        let e = AuditEvent::of(&actions::SESSION_END_ALL, principal.actor(), Outcome::Success)
            .object(format!("user:{user_id}"))
            .detail("sessions_ended", ended.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(ended)
    }

    pub async fn list_org(&self, kind: OrgKind) -> Result<Vec<OrgUnit>, CoreError> {
        Ok(self.base.store.read().await?.list_org_units(kind).await?)
    }

    pub async fn create_org_unit(
        &self,
        principal: &Principal,
        kind: OrgKind,
        name: &str,
        site_id: Option<String>,
        ctx: &RequestContext,
    ) -> Result<OrgUnit, CoreError> {
        let action = match kind {
            OrgKind::Site => &actions::SITE_CREATE,
            OrgKind::Team => &actions::TEAM_CREATE,
            OrgKind::Client => &actions::CLIENT_CREATE,
        };
        self.base.permitted(principal, Permission::OrgManage, action, ctx).await?;
        identity::validate_org_name(name)
            .map_err(|p| CoreError::invalid("name", ErrorCode::NameInvalid, format!("the name {p}")))?;
        if kind != OrgKind::Team && site_id.is_some() {
            return Err(CoreError::invalid(
                "site_id",
                ErrorCode::NotApplicable,
                "only a team belongs to a site",
            ));
        }
        let mut tx = self.base.store.begin().await?;
        check_org_ref(&mut tx, "site_id", site_id.as_deref(), OrgKind::Site).await?;
        let unit = OrgUnit {
            id: new_id(),
            kind,
            name: name.trim().to_owned(),
            site_id,
            created_at: self.base.now(),
        };
        match tx.insert_org_unit(&unit).await {
            Err(mamori_store::StoreError::Conflict(_)) => {
                return Err(CoreError::invalid(
                    "name",
                    ErrorCode::NameTaken,
                    format!("a {} with this name exists", kind.as_str()),
                ));
            }
            other => other?,
        }
        let action = match kind {
            OrgKind::Site => &actions::SITE_CREATE,
            OrgKind::Team => &actions::TEAM_CREATE,
            OrgKind::Client => &actions::CLIENT_CREATE,
        };
        self.base
            .audit(&mut tx, ctx, event(principal, action, format!("{}:{}", kind.as_str(), unit.id)))
            .await?;
        tx.commit().await?;
        Ok(unit)
    }

    /// Creates an API token for the caller's automation. It may hold only permissions the caller
    /// holds, and expires after `valid_for` (at most a year).
    pub async fn create_api_token(
        &self,
        principal: &Principal,
        name: &str,
        permissions: &[Permission],
        valid_for: Duration,
        ctx: &RequestContext,
    ) -> Result<NewApiToken, CoreError> {
        self.base.permitted(principal, Permission::TokensManage, &actions::TOKEN_CREATE, ctx).await?;
        identity::validate_org_name(name)
            .map_err(|p| CoreError::invalid("name", ErrorCode::NameInvalid, format!("the name {p}")))?;
        if permissions.is_empty() {
            return Err(CoreError::invalid(
                "permissions",
                ErrorCode::PermissionsEmpty,
                "give the token at least one permission",
            ));
        }
        if let Some(p) = permissions.iter().find(|p| !principal.can(**p)) {
            return Err(CoreError::invalid(
                "permissions",
                ErrorCode::PermissionNotHeld,
                format!("you do not hold `{p}` yourself"),
            ));
        }
        if valid_for.is_zero() || valid_for > Duration::from_secs(366 * 86400) {
            return Err(CoreError::invalid(
                "expires_in_days",
                ErrorCode::OutOfRange,
                "must be 1 to 366 days",
            ));
        }
        let now = self.base.now();
        let secret = format!("mmr_{}", tokens::new_secret()?);
        let mut names: Vec<String> = permissions.iter().map(|p| p.as_str().to_owned()).collect();
        names.sort();
        names.dedup();
        let record = ApiTokenRecord {
            id: new_id(),
            digest: tokens::digest(&secret),
            name: name.trim().to_owned(),
            owner_id: principal.user.id.clone(),
            permissions: names,
            created_at: now,
            expires_at: now.plus(valid_for),
            revoked_at: None,
            last_used_at: None,
        };
        let mut tx = self.base.store.begin().await?;
        tx.insert_api_token(&record).await?;
        let e = event(principal, &actions::TOKEN_CREATE, format!("token:{}", record.id))
            .detail("permissions", record.permissions.join(","))
            .detail("expires_at", record.expires_at.0.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(NewApiToken { token: record.into(), secret })
    }

    /// Every API token (`tokens.manage`).
    pub async fn list_api_tokens(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<crate::identity::ApiToken>, CoreError> {
        let attempt = Attempt::of(&actions::TOKEN_LIST).on("api_tokens".into(), "record");
        self.base.authorize(principal, Permission::TokensManage, Resource::System, attempt, ctx).await?;
        Ok(self.base.store.read().await?.list_api_tokens().await?.into_iter().map(Into::into).collect())
    }

    pub async fn revoke_api_token(
        &self,
        principal: &Principal,
        token_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::TokensManage, &actions::TOKEN_REVOKE, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        if tx.api_token_by_id(token_id).await?.is_none() {
            return Err(CoreError::NotFound { what: "API token" });
        }
        if !tx.revoke_api_token(token_id, self.base.now()).await? {
            return Err(CoreError::Conflict("this token is already revoked".into()));
        }
        self.base
            .audit(&mut tx, ctx, event(principal, &actions::TOKEN_REVOKE, format!("token:{token_id}")))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Requires TOTP of every user, operators included (or stops requiring it of operators).
    pub async fn set_totp_for_everyone(
        &self,
        principal: &Principal,
        on: bool,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::SettingsManage, &actions::SETTINGS_TOTP_FOR_EVERYONE, ctx)
            .await?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(settings::TOTP_FOR_EVERYONE, if on { "true" } else { "false" }).await?;
        let e = event(principal, &actions::SETTINGS_TOTP_FOR_EVERYONE, "settings".into())
            .detail("value", on.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest security events, newest first (`security_events.read`).
    pub async fn security_events(
        &self,
        principal: &Principal,
        limit: i64,
        ctx: &RequestContext,
    ) -> Result<Vec<SecurityEvent>, CoreError> {
        let attempt = Attempt::of(&actions::SECURITY_EVENT_LIST).on("security_events".into(), "record");
        self.base
            .authorize(principal, Permission::SecurityEventsRead, Resource::System, attempt, ctx)
            .await?;
        Ok(self.base.store.read().await?.list_security_events(limit.clamp(1, 1000)).await?)
    }
}

impl Identity {
    /// The account signals of [`crate::Core::signals`]: every one with `security_events.read`;
    /// else those about people in the principal's people scope (a supervisor's own team), who
    /// acts on a teammate's locked account or a shared one. None when a PC is asked for.
    pub async fn account_signals(
        &self,
        principal: &Principal,
        filter: &crate::signals::SignalFilter,
    ) -> Result<Vec<crate::signals::Signal>, CoreError> {
        let kinds = filter.kinds(&crate::signals::ACCOUNT_SIGNAL_KINDS);
        if kinds.is_empty() || filter.device_id.is_some() {
            return Ok(Vec::new());
        }
        let all_people = principal.can(Permission::SecurityEventsRead);
        let mut read = self.base.store.read().await?;
        let users: std::collections::HashMap<String, UserRecord> =
            read.list_users().await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        let events = read.list_security_events(crate::signals::MAX_SIGNALS as i64).await?;
        drop(read);
        Ok(events
            .into_iter()
            .filter(|e| e.created_at >= filter.since && kinds.contains(&e.kind.as_str()))
            .filter_map(|e| {
                let person = e.user_id.as_ref().and_then(|u| users.get(u));
                let in_scope = match person {
                    Some(u) => all_people || crate::Base::sees_person(principal, u),
                    None => all_people,
                };
                let team = person.and_then(|u| u.team_id.as_ref());
                if !in_scope || filter.team_id.as_ref().is_some_and(|t| Some(t) != team) {
                    return None;
                }
                Some(crate::signals::Signal {
                    id: e.id,
                    time: e.created_at,
                    kind: e.kind,
                    device: None,
                    person: person.map(User::from),
                    details: crate::signals::details_of(&e.details),
                    take_out: None,
                })
            })
            .collect())
    }

    /// The client companies a user is assigned to.
    pub async fn user_clients(&self, user_id: &str) -> Result<Vec<String>, CoreError> {
        Ok(self.base.store.read().await?.user_clients(user_id).await?)
    }
}

/// An admin refused an action on their own account (locking themselves out).
fn self_refusal(principal: &Principal, action: &'static Action) -> AuditEvent {
    AuditEvent::of(action, principal.actor(), Outcome::Denied)
        .object(format!("user:{}", principal.user.id))
        .detail("reason", "own_account")
}
