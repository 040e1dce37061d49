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

use crate::CoreError;
use crate::base::Base;
use mamori_crypto::secret_box::SecretBox;
use std::sync::Arc;

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
