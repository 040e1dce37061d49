//! First-time setup (the first security admin) and invitation links.

use crate::User;
use crate::identity::account::check_new_password;
use crate::identity::admin::{validate_display_name, validate_username};
use crate::{CoreError, Identity, hash_password, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::tokens;
use mamori_domain::identity::UserStatus;
use mamori_domain::{Role, UnixMillis};
use mamori_store::{LinkPurpose, OneTimeLink, StoreTx, UserRecord};
use std::time::Duration;

/// A setup link is valid this long.
pub const SETUP_LINK_VALIDITY: Duration = Duration::from_secs(3600);

pub(crate) async fn invitation_link(
    tx: &mut Box<dyn StoreTx>,
    user_id: &str,
    now: UnixMillis,
    validity: Duration,
) -> Result<String, CoreError> {
    let token = tokens::new_secret()?;
    tx.insert_link(&OneTimeLink {
        digest: tokens::digest(&token),
        purpose: LinkPurpose::Invitation,
        user_id: Some(user_id.to_owned()),
        created_at: now,
        expires_at: now.plus(validity),
        used_at: None,
    })
    .await?;
    Ok(token)
}

/// What the first start should tell the operator of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupState {
    /// Users exist; nothing to do.
    Done,
    /// A new link was made; print it (this is the only time it is shown).
    NewLink(String),
    /// A link made earlier is still valid; it is not shown again.
    LinkOutstanding,
}

impl Identity {
    /// On start: with no users yet, make a one-time setup link unless a valid one exists.
    pub async fn prepare_setup(&self) -> Result<SetupState, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        if tx.count_users().await? > 0 {
            return Ok(SetupState::Done);
        }
        if tx.unexpired_setup_link_exists(now).await? {
            return Ok(SetupState::LinkOutstanding);
        }
        let token = self.new_setup_link(&mut tx, now).await?;
        tx.commit().await?;
        Ok(SetupState::NewLink(token))
    }

    /// A fresh setup link even if one is outstanding (`mamori setup-link`, for a lost link).
    pub async fn force_setup_link(&self) -> Result<Option<String>, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        if tx.count_users().await? > 0 {
            return Ok(None);
        }
        let token = self.new_setup_link(&mut tx, now).await?;
        tx.commit().await?;
        Ok(Some(token))
    }

    async fn new_setup_link(&self, tx: &mut Box<dyn StoreTx>, now: UnixMillis) -> Result<String, CoreError> {
        let token = tokens::new_secret()?;
        tx.insert_link(&OneTimeLink {
            digest: tokens::digest(&token),
            purpose: LinkPurpose::Setup,
            user_id: None,
            created_at: now,
            expires_at: now.plus(SETUP_LINK_VALIDITY),
            used_at: None,
        })
        .await?;
        let e = AuditEvent::of(&actions::SETUP_LINK_ISSUED, Actor::System, Outcome::Success);
        tx.append_audit(now, &e).await?;
        Ok(token)
    }

    /// Whether a link can still be used (to show its form, or an error at once).
    pub async fn check_link(&self, token: &str, purpose: LinkPurpose) -> Result<(), CoreError> {
        self.valid_link(token, purpose).await.map(drop)
    }

    async fn valid_link(&self, token: &str, purpose: LinkPurpose) -> Result<OneTimeLink, CoreError> {
        let link = self.base.store.read().await?.link_by_digest(&tokens::digest(token)).await?;
        match link {
            Some(l) if l.purpose == purpose && l.used_at.is_none() && self.base.now() < l.expires_at => Ok(l),
            _ => Err(CoreError::LinkInvalid),
        }
    }

    /// Creates the first security admin from a setup link. Works once, and only while no user
    /// exists.
    pub async fn complete_setup(
        &self,
        token: &str,
        username: &str,
        display_name: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        self.check_link(token, LinkPurpose::Setup).await?;
        let username = validate_username(username)?;
        let display_name = validate_display_name(display_name)?;
        check_new_password(&self.base, None, &username, password).await?;
        let hash = hash_password(password).await?;
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        if tx.count_users().await? > 0 || !tx.use_link(&tokens::digest(token), now).await? {
            return Err(CoreError::LinkInvalid);
        }
        let user = UserRecord {
            password_hash: Some(hash),
            password_changed_at: Some(now),
            ..UserRecord::new(
                new_id(),
                username,
                display_name,
                vec![Role::SecurityAdmin],
                UserStatus::Active,
                now,
            )
        };
        tx.insert_user(&user).await?;
        let e = AuditEvent::of(&actions::SETUP_COMPLETE, Actor::User(user.id.clone()), Outcome::Success)
            .object(format!("user:{}", user.id))
            .detail("roles", "security_admin");
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(user.into())
    }

    /// An invited user chooses their password; the account becomes active.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let link = self.valid_link(token, LinkPurpose::Invitation).await?;
        let user_id = link.user_id.ok_or(CoreError::LinkInvalid)?;
        let user = self.base.store.read().await?.user_by_id(&user_id).await?.ok_or(CoreError::LinkInvalid)?;
        if user.status != UserStatus::Invited {
            return Err(CoreError::LinkInvalid);
        }
        check_new_password(&self.base, Some(&user.id), &user.username, password).await?;
        let hash = hash_password(password).await?;
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        if !tx.use_link(&tokens::digest(token), now).await? {
            return Err(CoreError::LinkInvalid);
        }
        tx.set_password(&user.id, &hash, now).await?;
        tx.set_user_status(&user.id, UserStatus::Active.as_str(), now).await?;
        let e =
            AuditEvent::of(&actions::USER_INVITATION_ACCEPT, Actor::User(user.id.clone()), Outcome::Success)
                .object(format!("user:{}", user.id));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(UserRecord { status: UserStatus::Active, ..user }.into())
    }
}
