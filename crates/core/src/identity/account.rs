//! What users do for themselves: password, TOTP, recovery codes, language, sessions.

use crate::identity::auth::NewSession;
use crate::{CoreError, Identity, Principal, hash_password, verify_password};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::{tokens, totp};
use mamori_domain::UnixMillis;
use mamori_domain::identity::{Language, totp_required};
use mamori_domain::password_policy::{self, HISTORY_DEPTH, PasswordProblem};
use mamori_proto::ErrorCode;
use std::time::Duration;

/// How long a started TOTP enrolment (its QR code) stays valid.
pub const TOTP_ENROLMENT_VALIDITY: Duration = Duration::from_secs(3600);

/// What the enrolment page shows: scan the QR code or type the secret, then confirm a code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

pub const TOTP_ISSUER: &str = "Mamori";

pub(crate) fn password_error(p: PasswordProblem) -> CoreError {
    let code = match p {
        PasswordProblem::TooShort => ErrorCode::PasswordTooShort,
        PasswordProblem::TooLong => ErrorCode::PasswordTooLong,
        PasswordProblem::SameAsUsername => ErrorCode::PasswordIsUsername,
        PasswordProblem::Common => ErrorCode::PasswordCommon,
        PasswordProblem::Reused => ErrorCode::PasswordReused,
    };
    CoreError::invalid("new_password", code, format!("the new password {p}"))
}

/// Checks a new password against every rule, the last five included. Argon2 runs here, outside
/// any transaction.
pub(crate) async fn check_new_password(
    base: &crate::Base,
    user_id: Option<&str>,
    username: &str,
    password: &str,
) -> Result<(), CoreError> {
    password_policy::check(username, password).map_err(password_error)?;
    if let Some(id) = user_id {
        let history =
            base.store.read().await?.password_history(id, i64::try_from(HISTORY_DEPTH).unwrap_or(5)).await?;
        for old in history {
            if verify_password(password, Some(&old)).await? {
                return Err(password_error(PasswordProblem::Reused));
            }
        }
    }
    Ok(())
}

impl Identity {
    /// Changes the caller's password. Other sessions of the user end; this one is renewed (a new
    /// id and cookie, returned) when the change was made in a session.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        ctx: &RequestContext,
    ) -> Result<Option<NewSession>, CoreError> {
        let user = &self.record_of(principal).await?;
        if !verify_password(current, user.password_hash.as_deref()).await? {
            let mut tx = self.base.store.begin().await?;
            let event = AuditEvent::of(&actions::PASSWORD_CHANGE, principal.actor(), Outcome::Failure)
                .object(format!("user:{}", user.id))
                .detail("reason", "wrong_current_password");
            self.base.audit(&mut tx, ctx, event).await?;
            tx.commit().await?;
            return Err(CoreError::invalid(
                "current_password",
                ErrorCode::WrongCurrentPassword,
                "the current password is wrong",
            ));
        }
        check_new_password(&self.base, Some(&user.id), &user.username, new).await?;
        let hash = hash_password(new).await?;
        let mut tx = self.base.store.begin().await?;
        tx.set_password(&user.id, &hash, self.base.now()).await?;
        let mut ended = 0;
        for s in tx.user_sessions(&user.id).await? {
            if Some(s.id.as_str()) != principal.session_id() {
                tx.delete_session(&s.id).await?;
                ended += 1;
            }
        }
        let event = AuditEvent::of(&actions::PASSWORD_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("user:{}", user.id))
            .detail("other_sessions_ended", ended.to_string());
        self.base.audit(&mut tx, ctx, event).await?;
        let renewed = match principal.live_session_id() {
            Some(id) => Some(self.renew_session(&mut tx, user, id, "password_changed", ctx).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(renewed)
    }

    /// The TOTP enrolment in progress, or a new one. A pending secret is kept until it is
    /// confirmed or [`TOTP_ENROLMENT_VALIDITY`] passes, so a reload of the page shows the same QR
    /// code and an app that already scanned it keeps working.
    pub async fn totp_enrolment(&self, principal: &Principal) -> Result<TotpEnrolment, CoreError> {
        let user = &self.record_of(principal).await?;
        let now = self.base.now();
        let stored = self.base.store.read().await?.user_by_id(&user.id).await?;
        let pending = stored.as_ref().and_then(|u| u.totp_pending.as_deref());
        if let Some((started, secret)) = pending.and_then(|sealed| self.open_pending_totp(sealed, &user.id))
            && now < started.plus(TOTP_ENROLMENT_VALIDITY)
        {
            return enrolment_view(&secret, &user.username);
        }
        let secret = totp::new_secret_base32()?;
        let sealed = self.secrets.seal(format!("{}:{secret}", now.0).as_bytes(), &user.id)?;
        let mut tx = self.base.store.begin().await?;
        tx.set_totp_pending(&user.id, Some(&sealed)).await?;
        tx.commit().await?;
        enrolment_view(&secret, &user.username)
    }

    /// A pending enrolment's start and secret (`<unix ms>:<base32>`, sealed); `None` if it
    /// cannot be read (then a new one is started).
    fn open_pending_totp(&self, sealed: &[u8], user_id: &str) -> Option<(UnixMillis, String)> {
        let plain = self.secrets.open(sealed, user_id).ok()?;
        let text = std::str::from_utf8(&plain).ok()?;
        let (started, secret) = text.split_once(':')?;
        Some((UnixMillis(started.parse().ok()?), secret.to_owned()))
    }

    /// Confirms enrolment with a code from the app. Returns the ten recovery codes, shown once,
    /// and — when the enrolment was made in a session — that session renewed: it gains the
    /// rights the missing second factor held back.
    pub async fn confirm_totp_enrolment(
        &self,
        principal: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<(Vec<String>, Option<NewSession>), CoreError> {
        let user = &self.record_of(principal).await?;
        let now = self.base.now();
        let pending =
            user.totp_pending.as_deref().and_then(|sealed| self.open_pending_totp(sealed, &user.id));
        let Some((started, secret)) = pending else {
            return Err(CoreError::invalid("code", ErrorCode::NoEnrolment, "start TOTP enrolment first"));
        };
        if now >= started.plus(TOTP_ENROLMENT_VALIDITY) {
            return Err(CoreError::invalid(
                "code",
                ErrorCode::EnrolmentExpired,
                "this enrolment has expired; scan the new QR code and enter its code",
            ));
        }
        let Some(step) = totp::verify(&secret, code, now.as_secs(), None)? else {
            return Err(CoreError::invalid(
                "code",
                ErrorCode::TotpCodeWrong,
                "the code does not match; check the phone's clock and try the next code",
            ));
        };
        let codes = tokens::new_recovery_codes()?;
        let digests: Vec<String> = codes.iter().map(|c| tokens::recovery_code_digest(c)).collect();
        let sealed = self.secrets.seal(secret.as_bytes(), &user.id)?;
        let mut tx = self.base.store.begin().await?;
        tx.enable_totp(&user.id, &sealed, i64::try_from(step).unwrap_or(i64::MAX)).await?;
        tx.replace_recovery_codes(&user.id, &digests).await?;
        let event = AuditEvent::of(&actions::MFA_ENABLE, principal.actor(), Outcome::Success)
            .object(format!("user:{}", user.id))
            .detail("method", "totp");
        self.base.audit(&mut tx, ctx, event).await?;
        let renewed = match principal.live_session_id() {
            Some(id) => Some(self.renew_session(&mut tx, user, id, "mfa_enabled", ctx).await?),
            None => None,
        };
        tx.commit().await?;
        Ok((codes, renewed))
    }

    /// Turns TOTP off for oneself — only where no role requires it.
    pub async fn disable_own_totp(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let user = &self.record_of(principal).await?;
        let refuse = |reason: &str| {
            AuditEvent::of(&actions::MFA_DISABLE, principal.actor(), Outcome::Denied)
                .object(format!("user:{}", user.id))
                .detail("reason", reason)
        };
        if !user.totp_enabled() {
            self.base.audit_access(ctx, refuse("totp_not_enabled")).await?;
            return Err(CoreError::invalid(
                "totp",
                ErrorCode::TotpNotEnabled,
                "TOTP is not enrolled; there is nothing to turn off",
            ));
        }
        if totp_required(&user.roles, self.totp_required_for_everyone().await?) {
            self.base.audit_access(ctx, refuse("required_by_role")).await?;
            return Err(CoreError::Forbidden("your role requires TOTP; it cannot be turned off"));
        }
        let mut tx = self.base.store.begin().await?;
        tx.disable_totp(&user.id).await?;
        let event = AuditEvent::of(&actions::MFA_DISABLE, principal.actor(), Outcome::Success)
            .object(format!("user:{}", user.id));
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the recovery codes with ten new ones.
    pub async fn regenerate_recovery_codes(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        let user = &self.record_of(principal).await?;
        if !user.totp_enabled() {
            return Err(CoreError::invalid(
                "totp",
                ErrorCode::TotpNotEnabled,
                "recovery codes need TOTP enrolled first",
            ));
        }
        let codes = tokens::new_recovery_codes()?;
        let digests: Vec<String> = codes.iter().map(|c| tokens::recovery_code_digest(c)).collect();
        let mut tx = self.base.store.begin().await?;
        tx.replace_recovery_codes(&user.id, &digests).await?;
        let event =
            AuditEvent::of(&actions::MFA_RECOVERY_CODES_REGENERATE, principal.actor(), Outcome::Success)
                .object(format!("user:{}", user.id));
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(codes)
    }

    pub async fn recovery_codes_left(&self, principal: &Principal) -> Result<i64, CoreError> {
        Ok(self.base.store.read().await?.count_recovery_codes(&principal.user.id).await?)
    }

    pub async fn set_language(
        &self,
        principal: &Principal,
        language: Option<Language>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut tx = self.base.store.begin().await?;
        tx.set_user_language(&principal.user.id, language.map(Language::as_str), self.base.now()).await?;
        let event = AuditEvent::of(&actions::PROFILE_LANGUAGE, principal.actor(), Outcome::Success)
            .object(format!("user:{}", principal.user.id))
            .detail("language", language.map_or("browser", Language::as_str));
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn my_sessions(
        &self,
        principal: &Principal,
    ) -> Result<Vec<crate::identity::Session>, CoreError> {
        Ok(self
            .base
            .store
            .read()
            .await?
            .user_sessions(&principal.user.id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Ends one of the caller's own sessions.
    pub async fn end_my_session(
        &self,
        principal: &Principal,
        session_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut tx = self.base.store.begin().await?;
        let mine = tx.user_sessions(&principal.user.id).await?.into_iter().any(|s| s.id == session_id);
        if !mine {
            return Err(CoreError::NotFound { what: "session" });
        }
        tx.delete_session(session_id).await?;
        let event = AuditEvent::of(&actions::SESSION_END, principal.actor(), Outcome::Success)
            .object(format!("session:{session_id}"))
            .detail("reason", "ended_by_user");
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Signs the caller out everywhere, this session included.
    pub async fn sign_out_everywhere(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<u64, CoreError> {
        let mut tx = self.base.store.begin().await?;
        let ended = tx.delete_user_sessions(&principal.user.id).await?;
        let event = AuditEvent::of(&actions::SESSION_END_ALL, principal.actor(), Outcome::Success)
            .object(format!("user:{}", principal.user.id))
            .detail("sessions_ended", ended.to_string());
        self.base.audit(&mut tx, ctx, event).await?;
        tx.commit().await?;
        Ok(ended)
    }
}

fn enrolment_view(secret: &str, username: &str) -> Result<TotpEnrolment, CoreError> {
    let uri = totp::otpauth_uri(secret, TOTP_ISSUER, username)?;
    Ok(TotpEnrolment { qr_svg: totp::qr_svg(&uri)?, otpauth_uri: uri, secret_base32: secret.to_owned() })
}
