//! Signing in and out, second factors, and turning a cookie or bearer token into a [`Principal`].

use crate::identity::caller_cache::CredentialKind;
use crate::{CoreError, Credential, Identity, Principal, new_id, settings, verify_password};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::tokens;
use mamori_domain::identity::{UserStatus, totp_required};
use mamori_domain::lockout::LockoutPolicy;
use mamori_domain::session_policy::{SECOND_FACTOR_WINDOW, SessionPolicy};
use mamori_domain::{Permission, authz};
use mamori_store::{SecurityEvent, SessionRecord, SessionState, StoreTx, UserRecord};

/// A session just created. `cookie` is the only copy of its secret.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: String,
    pub id: String,
    /// What the console's forms must carry back (double-submit, DESIGN invariant 3).
    pub csrf_token: String,
}

/// Where the sign-in stands after the password.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Signed in.
    Complete(NewSession),
    /// The user has TOTP: the code (or a recovery code) comes next.
    NeedsSecondFactor(NewSession),
}

impl SignIn {
    pub fn session(&self) -> &NewSession {
        match self {
            SignIn::Complete(s) | SignIn::NeedsSecondFactor(s) => s,
        }
    }
}

fn user_object(id: &str) -> String {
    format!("user:{id}")
}

impl Identity {
    /// First step of signing in. Unknown names, wrong passwords, disabled accounts all answer
    /// [`CoreError::SignInFailed`] after the same Argon2 work, so none can be told apart.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<SignIn, CoreError> {
        let username = username.trim().to_lowercase();
        let now = self.base.now();
        // A name that breaks the naming rule belongs to nobody; it is not even looked up.
        let user = match mamori_domain::identity::validate_username(&username) {
            Ok(()) => self.base.store.read().await?.user_by_username(&username).await?,
            Err(_) => None,
        };
        let password_ok =
            verify_password(password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await?;

        let Some(user) = user else {
            let mut tx = self.base.store.begin().await?;
            let event = AuditEvent::of(&actions::SIGNIN_PASSWORD, Actor::Anonymous, Outcome::Failure)
                .detail("reason", "unknown_user");
            self.base.audit(&mut tx, ctx, event).await?;
            tx.commit().await?;
            return Err(CoreError::SignInFailed);
        };
        let fail = |outcome: Outcome, reason: &str| {
            AuditEvent::of(&actions::SIGNIN_PASSWORD, Actor::User(user.id.clone()), outcome)
                .object(user_object(&user.id))
                .detail("reason", reason)
        };

        let mut tx = self.base.store.begin().await?;
        // Decide on the row as it is now, held until the commit: the record read before the
        // password check may predate a lock that concurrent wrong guesses have just set.
        let Some(user) = tx.user_for_update(&user.id).await? else {
            return Err(CoreError::SignInFailed);
        };
        if LockoutPolicy::is_locked(user.locked_until, now) {
            self.base.audit(&mut tx, ctx, fail(Outcome::Denied, "locked")).await?;
            tx.commit().await?;
            return Err(CoreError::Locked { until: user.locked_until.unwrap_or(now) });
        }
        if user.status != UserStatus::Active {
            self.base.audit(&mut tx, ctx, fail(Outcome::Failure, user.status.as_str())).await?;
            tx.commit().await?;
            return Err(CoreError::SignInFailed);
        }
        if !password_ok {
            self.base.audit(&mut tx, ctx, fail(Outcome::Failure, "wrong_password")).await?;
            let locked = self.count_failure(&mut tx, &user, ctx).await?;
            tx.commit().await?;
            return Err(match locked {
                Some(until) => CoreError::Locked { until },
                None => CoreError::SignInFailed,
            });
        }

        tx.clear_failed_signins(&user.id).await?;
        let state =
            if user.totp_enabled() { SessionState::AwaitingSecondFactor } else { SessionState::Active };
        let session = self.new_session(&mut tx, &user, state, ctx).await?;
        let ok = AuditEvent::of(&actions::SIGNIN_PASSWORD, Actor::User(user.id.clone()), Outcome::Success)
            .object(user_object(&user.id));
        self.base.audit(&mut tx, ctx, ok).await?;
        let result = if user.totp_enabled() {
            SignIn::NeedsSecondFactor(session)
        } else {
            self.session_started(&mut tx, &user, &session.id, ctx).await?;
            SignIn::Complete(session)
        };
        tx.commit().await?;
        Ok(result)
    }

    /// Counts a failed sign-in step; locks the account when the policy says so (and records it
    /// as a security event). Returns the end of the lock if this failure locked the account.
    async fn count_failure(
        &self,
        tx: &mut Box<dyn StoreTx>,
        user: &UserRecord,
        ctx: &RequestContext,
    ) -> Result<Option<mamori_domain::UnixMillis>, CoreError> {
        let now = self.base.now();
        let failures = tx.add_failed_signin(&user.id).await?;
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        let Some(until) = self.base.policies.lockout.lock_after_failure(failures, now) else {
            return Ok(None);
        };
        tx.lock_user(&user.id, until).await?;
        tx.insert_security_event(&SecurityEvent {
            id: new_id(),
            kind: "account_locked".into(),
            user_id: Some(user.id.clone()),
            details: serde_json::json!({ "failures": failures, "locked_until": until.0 }).to_string(),
            created_at: now,
        })
        .await?;
        let event = AuditEvent::of(&actions::ACCOUNT_LOCK, Actor::System, Outcome::Success)
            .object(user_object(&user.id))
            .detail("failures", failures.to_string())
            .detail("locked_until", until.0.to_string());
        self.base.audit(tx, ctx, event).await?;
        tracing::warn!(user_id = %user.id, failures, "account locked after failed sign-ins");
        Ok(Some(until))
    }

    async fn new_session(
        &self,
        tx: &mut Box<dyn StoreTx>,
        user: &UserRecord,
        state: SessionState,
        ctx: &RequestContext,
    ) -> Result<NewSession, CoreError> {
        let now = self.base.now();
        let cookie = tokens::new_secret()?;
        let record = SessionRecord {
            id: new_id(),
            digest: tokens::digest(&cookie),
            user_id: user.id.clone(),
            state,
            csrf_token: tokens::new_secret()?,
            source_ip: ctx.source_ip.clone(),
            user_agent: ctx.user_agent.as_ref().map(|ua| ua.chars().take(200).collect()),
            created_at: now,
            last_seen_at: now,
        };
        tx.insert_session(&record).await?;
        Ok(NewSession { cookie, id: record.id, csrf_token: record.csrf_token })
    }

    /// Records the start of a fully signed-in session, and raises a security event when the same
    /// account already has a live session from another address (LEAK-5: no lending of accounts).
    async fn session_started(
        &self,
        tx: &mut Box<dyn StoreTx>,
        user: &UserRecord,
        session_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let mut start =
            AuditEvent::of(&actions::SESSION_START, Actor::User(user.id.clone()), Outcome::Success)
                .object(format!("session:{session_id}"));
        if let Some(browser) = &ctx.browser {
            start = start.detail("browser", browser.clone());
        }
        self.base.audit(tx, ctx, start).await?;
        let others = tx.user_sessions(&user.id).await?;
        let elsewhere = others.iter().find(|s| {
            s.id != session_id
                && s.state == SessionState::Active
                && !self.base.policies.session.is_expired(s.created_at, s.last_seen_at, now)
                && s.source_ip.is_some()
                && s.source_ip != ctx.source_ip
        });
        if let Some(other) = elsewhere {
            tx.insert_security_event(&SecurityEvent {
                id: new_id(),
                kind: "shared_account_suspected".into(),
                user_id: Some(user.id.clone()),
                details: serde_json::json!({
                    "session": session_id,
                    "other_session": other.id,
                    "source_ip": ctx.source_ip,
                    "other_source_ip": other.source_ip,
                })
                .to_string(),
                created_at: now,
            })
            .await?;
            let event = AuditEvent::of(&actions::ACCOUNT_SHARED_SUSPECTED, Actor::System, Outcome::Success)
                .object(user_object(&user.id))
                .detail("session", session_id)
                .detail("other_session", other.id.clone());
            self.base.audit(tx, ctx, event).await?;
            tracing::warn!(user_id = %user.id, "one account signed in from two addresses at once");
        }
        Ok(())
    }

    /// Second step: a TOTP code, or one of the user's recovery codes.
    /// Returns the fully signed-in session, under a new id and cookie: the half-open session
    /// the password opened ends here, so a cookie captured before the second factor is worth
    /// nothing after it.
    pub async fn second_factor(
        &self,
        principal: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, CoreError> {
        let Credential::Session { id: session_id, awaiting_second_factor: true, .. } = &principal.via else {
            return Err(CoreError::Forbidden("no sign-in is waiting for a second factor"));
        };
        let now = self.base.now();
        let code = code.trim();
        let is_totp = code.len() == mamori_crypto::totp::DIGITS && code.bytes().all(|b| b.is_ascii_digit());
        let mut tx = self.base.store.begin().await?;
        // The row as it is now (held until the commit): a lock set by concurrent failures, or
        // the last TOTP step used by a concurrent code, counts.
        let Some(fresh) = tx.user_for_update(&principal.user.id).await? else {
            return Err(CoreError::SessionEnded);
        };
        let user = &fresh;
        if LockoutPolicy::is_locked(user.locked_until, now) {
            let event =
                AuditEvent::of(&actions::SIGNIN_SECOND_FACTOR, Actor::User(user.id.clone()), Outcome::Denied)
                    .object(user_object(&user.id))
                    .detail("reason", "locked");
            self.base.audit(&mut tx, ctx, event).await?;
            tx.delete_session(session_id).await?;
            tx.commit().await?;
            return Err(CoreError::Locked { until: user.locked_until.unwrap_or(now) });
        }
        let (accepted, action) = if is_totp {
            let step = match &user.totp_secret {
                Some(sealed) => {
                    let secret = self.secrets.open(sealed, &user.id)?;
                    let secret = String::from_utf8_lossy(&secret).into_owned();
                    let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
                    mamori_crypto::totp::verify(&secret, code, now.as_secs(), last)?
                }
                None => None,
            };
            let fresh = match step {
                Some(step) => tx.advance_totp_step(&user.id, i64::try_from(step).unwrap_or(i64::MAX)).await?,
                None => false,
            };
            (fresh, &actions::SIGNIN_TOTP)
        } else {
            let used = tx.use_recovery_code(&user.id, &tokens::recovery_code_digest(code)).await?;
            (used, &actions::SIGNIN_RECOVERY_CODE)
        };
        let outcome = if accepted { Outcome::Success } else { Outcome::Failure };
        let event =
            AuditEvent::of(action, Actor::User(user.id.clone()), outcome).object(user_object(&user.id));
        self.base.audit(&mut tx, ctx, event).await?;
        if !accepted {
            let locked = self.count_failure(&mut tx, user, ctx).await?;
            if locked.is_some() {
                tx.delete_session(session_id).await?;
            }
            tx.commit().await?;
            return Err(match locked {
                Some(until) => CoreError::Locked { until },
                None => CoreError::SecondFactorFailed,
            });
        }
        tx.clear_failed_signins(&user.id).await?;
        let session = self.renew_session(&mut tx, user, session_id, "second_factor", ctx).await?;
        self.session_started(&mut tx, user, &session.id, ctx).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// A step-up (issue 15): a signed-in user gives a TOTP code again, on the spot, before a
    /// sensitive decision. The code is checked like a sign-in's — not a step used before, a
    /// failure counted towards the lockout — and recorded (`mfa.step_up`). A recovery code does
    /// not do: it is for a lost phone, not for approving.
    pub async fn step_up(
        &self,
        principal: &Principal,
        code: &str,
        purpose: &str,
        ctx: &RequestContext,
    ) -> Result<super::StepUp, CoreError> {
        let now = self.base.now();
        let code = code.trim();
        let mut tx = self.base.store.begin().await?;
        let Some(user) = tx.user_for_update(&principal.user.id).await? else {
            return Err(CoreError::SessionEnded);
        };
        let Some(sealed) = &user.totp_secret else {
            return Err(CoreError::Forbidden(
                "a decision needs a second factor: enrol TOTP on your account page",
            ));
        };
        if LockoutPolicy::is_locked(user.locked_until, now) {
            return Err(CoreError::Locked { until: user.locked_until.unwrap_or(now) });
        }
        let is_totp = code.len() == mamori_crypto::totp::DIGITS && code.bytes().all(|b| b.is_ascii_digit());
        let step = if is_totp {
            let secret = self.secrets.open(sealed, &user.id)?;
            let secret = String::from_utf8_lossy(&secret).into_owned();
            let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
            mamori_crypto::totp::verify(&secret, code, now.as_secs(), last)?
        } else {
            None
        };
        let accepted = match step {
            Some(step) => tx.advance_totp_step(&user.id, i64::try_from(step).unwrap_or(i64::MAX)).await?,
            None => false,
        };
        let outcome = if accepted { Outcome::Success } else { Outcome::Failure };
        let purpose: String = purpose.chars().filter(|c| !c.is_control()).take(100).collect();
        let event = AuditEvent::of(&actions::MFA_STEP_UP, principal.actor(), outcome)
            .object(user_object(&user.id))
            .detail("for", purpose);
        self.base.audit(&mut tx, ctx, event).await?;
        if !accepted {
            let locked = self.count_failure(&mut tx, &user, ctx).await?;
            tx.commit().await?;
            return Err(match locked {
                Some(until) => CoreError::Locked { until },
                None => CoreError::SecondFactorFailed,
            });
        }
        tx.clear_failed_signins(&user.id).await?;
        tx.commit().await?;
        Ok(super::StepUp { user_id: user.id.clone(), at: now })
    }

    /// Ends `old_session` and opens a fully signed-in one in its place (a new id, cookie and
    /// CSRF token). Called wherever a session gains rights: the second factor, a completed
    /// TOTP enrolment, a changed password.
    pub(crate) async fn renew_session(
        &self,
        tx: &mut Box<dyn StoreTx>,
        user: &UserRecord,
        old_session: &str,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<NewSession, CoreError> {
        tx.delete_session(old_session).await?;
        let session = self.new_session(tx, user, SessionState::Active, ctx).await?;
        let event = AuditEvent::of(&actions::SESSION_RENEW, Actor::User(user.id.clone()), Outcome::Success)
            .object(format!("session:{}", session.id))
            .detail("previous", format!("session:{old_session}"))
            .detail("reason", reason);
        self.base.audit(tx, ctx, event).await?;
        Ok(session)
    }

    /// Turns a session cookie into a principal, ending the session if it has expired, the user
    /// was disabled, or a second factor was not given in time.
    pub async fn session_principal(
        &self,
        cookie: &str,
        ctx: &RequestContext,
    ) -> Result<Option<Principal>, CoreError> {
        let now = self.base.now();
        let digest = tokens::digest(cookie);
        let generation = self.base.store.identity_generation();
        if let Some(p) = self.callers.get(CredentialKind::Session, &digest, generation, now) {
            return Ok(Some(p));
        }
        let mut read = self.base.store.read().await?;
        let Some(session) = read.session_by_digest(&digest).await? else {
            return Ok(None);
        };
        let user = read.user_by_id(&session.user_id).await?;
        let client_ids = read.user_clients(&session.user_id).await?;
        let totp_for_everyone = read.setting(settings::TOTP_FOR_EVERYONE).await?.as_deref() == Some("true");
        drop(read);

        let awaiting = session.state == SessionState::AwaitingSecondFactor;
        let ends_at = |last_seen| {
            let end = self.base.policies.session.expires_at(session.created_at, last_seen);
            if awaiting { end.min(session.created_at.plus(SECOND_FACTOR_WINDOW)) } else { end }
        };
        let expired = now >= ends_at(session.last_seen_at);
        let user = match user {
            Some(u) if u.status == UserStatus::Active && !expired => u,
            other => {
                let reason = if other.is_none() || expired { "expired" } else { "user_disabled" };
                let mut tx = self.base.store.begin().await?;
                tx.delete_session(&session.id).await?;
                let event = AuditEvent::of(
                    &actions::SESSION_END,
                    Actor::User(session.user_id.clone()),
                    Outcome::Success,
                )
                .object(format!("session:{}", session.id))
                .detail("reason", reason);
                self.base.audit(&mut tx, ctx, event).await?;
                tx.commit().await?;
                return Ok(None);
            }
        };
        let mut last_seen = session.last_seen_at;
        if SessionPolicy::needs_touch(last_seen, now) {
            let mut tx = self.base.store.begin().await?;
            tx.touch_session(&session.id, now).await?;
            tx.commit().await?;
            last_seen = now;
        }
        let must_enrol = !user.totp_enabled() && totp_required(&user.roles, totp_for_everyone);
        let principal = Principal {
            permissions: if awaiting { Default::default() } else { authz::permissions_of(&user.roles) },
            must_enrol_totp: must_enrol,
            client_ids,
            via: Credential::Session {
                id: session.id,
                csrf_token: session.csrf_token,
                awaiting_second_factor: awaiting,
            },
            user: user.into(),
        };
        let deadline = ends_at(last_seen).min(SessionPolicy::touch_due(last_seen));
        self.callers.put(CredentialKind::Session, &digest, &principal, generation, now, deadline);
        Ok(Some(principal))
    }

    /// Turns a bearer token into a principal. A token's rights are those it was given, limited
    /// to what its owner holds now (a demoted or disabled owner's tokens shrink or stop).
    pub async fn token_principal(&self, token: &str) -> Result<Option<Principal>, CoreError> {
        let now = self.base.now();
        let digest = tokens::digest(token);
        let generation = self.base.store.identity_generation();
        if let Some(p) = self.callers.get(CredentialKind::ApiToken, &digest, generation, now) {
            return Ok(Some(p));
        }
        let mut read = self.base.store.read().await?;
        let Some(t) = read.api_token_by_digest(&digest).await? else {
            return Ok(None);
        };
        if t.revoked_at.is_some() || now >= t.expires_at {
            return Ok(None);
        }
        let Some(owner) = read.user_by_id(&t.owner_id).await?.filter(|u| u.status == UserStatus::Active)
        else {
            return Ok(None);
        };
        let client_ids = read.user_clients(&owner.id).await?;
        drop(read);
        let mut last_used = t.last_used_at;
        if last_used.is_none_or(|last| SessionPolicy::needs_touch(last, now)) {
            let mut tx = self.base.store.begin().await?;
            tx.touch_api_token(&t.id, now).await?;
            tx.commit().await?;
            last_used = Some(now);
        }
        let owner_permissions = authz::permissions_of(&owner.roles);
        let permissions = t
            .permissions
            .iter()
            .filter_map(|p| p.parse::<Permission>().ok())
            .filter(|p| owner_permissions.contains(p))
            .collect();
        let principal = Principal {
            user: owner.into(),
            via: Credential::ApiToken { id: t.id },
            permissions,
            client_ids,
            must_enrol_totp: false,
        };
        let deadline = last_used.map_or(now, SessionPolicy::touch_due).min(t.expires_at);
        self.callers.put(CredentialKind::ApiToken, &digest, &principal, generation, now, deadline);
        Ok(Some(principal))
    }

    /// Ends this session.
    pub async fn sign_out(&self, principal: &Principal, ctx: &RequestContext) -> Result<(), CoreError> {
        let Some(session_id) = principal.session_id() else {
            return Err(CoreError::Forbidden("an API token has no session to end"));
        };
        let mut tx = self.base.store.begin().await?;
        tx.delete_session(session_id).await?;
        let event = AuditEvent::of(&actions::SESSION_END, principal.actor(), Outcome::Success)
            .object(format!("session:{session_id}"))
            .detail("reason", "sign_out");
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
