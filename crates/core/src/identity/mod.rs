//! Identity (DESIGN part 1): who people are and how they prove it — sign-in with a password and
//! TOTP, sessions and API tokens, what users do for themselves, what security admins do to
//! users, the organisation (sites, teams, client companies) and settings, and first-time setup.
//!
//! | file | holds |
//! |---|---|
//! | `auth.rs` | signing in and out, second factors, credential → [`crate::Principal`] |
//! | `account.rs` | a user's own password, TOTP, recovery codes, language, sessions |
//! | `admin.rs` | users, organisation, API tokens, settings, security events |
//! | `setup.rs` | the first security admin, invitation links |
//! | `caller_cache.rs` | a short memory of who a credential belongs to |

pub mod account;
pub mod admin;
pub mod auth;
pub(crate) mod caller_cache;
pub mod setup;

/// Records handed out as stored: plain data, no secrets (those have views above: [`User`],
/// [`Session`], [`ApiToken`]).
pub use mamori_store::{OrgUnit, SecurityEvent, UserProfile};

use crate::CoreError;
use crate::base::Base;
use mamori_crypto::secret_box::SecretBox;
use mamori_domain::identity::UserStatus;
use mamori_domain::{Role, UnixMillis};
use mamori_store::{ApiTokenRecord, SessionRecord, SessionState, UserRecord};
use std::sync::Arc;

/// Proof that a user passed a second factor at a moment (a step-up, [`Identity::step_up`]):
/// only identity makes one, so a decision that needs it cannot be taken without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    pub(crate) user_id: String,
    pub(crate) at: UnixMillis,
}

/// A user as the services hand one out: who they are and the state of their account — never
/// their password hash or second-factor secrets, which stay inside this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub status: UserStatus,
    pub language: Option<String>,
    pub team_id: Option<String>,
    pub site_id: Option<String>,
    pub mail_address: Option<String>,
    pub totp_enabled: bool,
    pub locked_until: Option<UnixMillis>,
    pub created_at: UnixMillis,
}

impl From<&UserRecord> for User {
    fn from(u: &UserRecord) -> Self {
        User {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.clone(),
            status: u.status,
            language: u.language.clone(),
            team_id: u.team_id.clone(),
            site_id: u.site_id.clone(),
            mail_address: u.mail_address.clone(),
            totp_enabled: u.totp_enabled(),
            locked_until: u.locked_until,
            created_at: u.created_at,
        }
    }
}

impl From<UserRecord> for User {
    fn from(u: UserRecord) -> Self {
        User::from(&u)
    }
}

impl From<&User> for User {
    fn from(u: &User) -> Self {
        u.clone()
    }
}

/// One of a user's sessions as their profile lists it — not its cookie digest or CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub awaiting_second_factor: bool,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: UnixMillis,
    pub last_seen_at: UnixMillis,
}

impl From<SessionRecord> for Session {
    fn from(s: SessionRecord) -> Self {
        Session {
            id: s.id,
            awaiting_second_factor: s.state == SessionState::AwaitingSecondFactor,
            source_ip: s.source_ip,
            user_agent: s.user_agent,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
        }
    }
}

/// An API token as listed — its digest stays in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    pub name: String,
    /// The user whose rights bound the token's.
    pub owner_id: String,
    /// Permission names (`users.read`, …).
    pub permissions: Vec<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
}

impl From<ApiTokenRecord> for ApiToken {
    fn from(t: ApiTokenRecord) -> Self {
        ApiToken {
            id: t.id,
            name: t.name,
            owner_id: t.owner_id,
            permissions: t.permissions,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
            last_used_at: t.last_used_at,
        }
    }
}

/// The identity service.
#[derive(Debug)]
pub struct Identity {
    base: Arc<Base>,
    /// Seals TOTP secrets with the data directory's key.
    pub(crate) secrets: SecretBox,
    callers: caller_cache::CallerCache,
}

impl Identity {
    pub(crate) fn new(base: Arc<Base>, secrets: SecretBox) -> Self {
        Identity { base, secrets, callers: Default::default() }
    }
}

impl Identity {
    /// Removes sessions idle for longer than `idle` (housekeeping); returns how many.
    pub async fn remove_idle_sessions(&self, idle: std::time::Duration) -> Result<u64, CoreError> {
        let mut tx = self.base.store.begin().await?;
        let removed = tx.delete_sessions_seen_before(self.base.now().minus(idle)).await?;
        tx.commit().await?;
        Ok(removed)
    }

    pub async fn totp_required_for_everyone(&self) -> Result<bool, CoreError> {
        let mut r = self.base.store.read().await?;
        Ok(r.setting(crate::settings::TOTP_FOR_EVERYONE).await?.as_deref() == Some("true"))
    }
}

#[cfg(feature = "raw-store")]
impl Identity {
    /// Seals a TOTP secret as the store keeps it, for tests that write users directly.
    pub fn seal_totp_secret(&self, secret: &str, user_id: &str) -> Result<Vec<u8>, CoreError> {
        Ok(self.secrets.seal(secret.as_bytes(), user_id)?)
    }
}

impl Identity {
    /// The caller's stored record, read afresh: what a principal carries may be up to
    /// [`CALLER_CACHE_TTL`](caller_cache::CALLER_CACHE_TTL) old and never holds secrets.
    pub(crate) async fn record_of(&self, principal: &crate::Principal) -> Result<UserRecord, CoreError> {
        self.base.store.read().await?.user_by_id(&principal.user.id).await?.ok_or(CoreError::SessionEnded)
    }
}
