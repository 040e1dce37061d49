//! Identity: users and their second factors, sessions, one-time links, API tokens, the
//! organisation (sites, teams, client companies) and security events.

use super::*;

/// What a read handle may do in this area.
#[async_trait]
pub trait IdentityRead: Send {
    // --- users
    async fn count_users(&mut self) -> StoreResult<i64>;
    async fn user_by_id(&mut self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn list_users(&mut self) -> StoreResult<Vec<UserRecord>>;
    /// The most recent password hashes, newest first.
    async fn password_history(&mut self, id: &str, limit: i64) -> StoreResult<Vec<String>>;
    async fn count_recovery_codes(&mut self, user_id: &str) -> StoreResult<i64>;
    async fn user_clients(&mut self, user_id: &str) -> StoreResult<Vec<String>>;
    // --- sessions
    async fn session_by_digest(&mut self, digest: &str) -> StoreResult<Option<SessionRecord>>;
    async fn user_sessions(&mut self, user_id: &str) -> StoreResult<Vec<SessionRecord>>;
    // --- one-time links (first-time setup, invitations)
    async fn link_by_digest(&mut self, digest: &str) -> StoreResult<Option<OneTimeLink>>;
    async fn unexpired_setup_link_exists(&mut self, now: UnixMillis) -> StoreResult<bool>;
    // --- API tokens
    async fn api_token_by_digest(&mut self, digest: &str) -> StoreResult<Option<ApiTokenRecord>>;
    async fn api_token_by_id(&mut self, id: &str) -> StoreResult<Option<ApiTokenRecord>>;
    async fn list_api_tokens(&mut self) -> StoreResult<Vec<ApiTokenRecord>>;
    // --- organisation: sites, teams, client companies
    async fn org_unit(&mut self, id: &str) -> StoreResult<Option<OrgUnit>>;
    async fn list_org_units(&mut self, kind: OrgKind) -> StoreResult<Vec<OrgUnit>>;
    // --- security events
    async fn list_security_events(&mut self, limit: i64) -> StoreResult<Vec<SecurityEvent>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait IdentityWrite: IdentityRead {
    // --- users
    async fn insert_user(&mut self, user: &UserRecord) -> StoreResult<()>;
    /// Reads a user inside a write transaction, holding the row until the commit, so decisions
    /// on its failure count and lock (sign-in) are serialised across requests and replicas.
    async fn user_for_update(&mut self, id: &str) -> StoreResult<Option<UserRecord>>;
    async fn update_user_profile(
        &mut self,
        id: &str,
        profile: &UserProfile,
        now: UnixMillis,
    ) -> StoreResult<()>;
    async fn set_user_roles(&mut self, id: &str, roles: &[Role], now: UnixMillis) -> StoreResult<()>;
    async fn set_user_status(&mut self, id: &str, status: &str, now: UnixMillis) -> StoreResult<()>;
    async fn set_user_language(
        &mut self,
        id: &str,
        language: Option<&str>,
        now: UnixMillis,
    ) -> StoreResult<()>;
    /// Sets the password and keeps it in the history.
    async fn set_password(&mut self, id: &str, hash: &str, now: UnixMillis) -> StoreResult<()>;
    /// Adds one failure and returns the count of failures in a row.
    async fn add_failed_signin(&mut self, id: &str) -> StoreResult<i64>;
    async fn lock_user(&mut self, id: &str, until: UnixMillis) -> StoreResult<()>;
    /// Clears failures and any lock (a successful sign-in, or an admin's unlock).
    async fn clear_failed_signins(&mut self, id: &str) -> StoreResult<()>;
    async fn set_totp_pending(&mut self, id: &str, sealed: Option<&[u8]>) -> StoreResult<()>;
    async fn enable_totp(&mut self, id: &str, sealed: &[u8], step: i64) -> StoreResult<()>;
    async fn disable_totp(&mut self, id: &str) -> StoreResult<()>;
    /// Records the TOTP step just used; false when an equal or later step was already used
    /// (a replayed or raced code).
    async fn advance_totp_step(&mut self, id: &str, step: i64) -> StoreResult<bool>;
    async fn replace_recovery_codes(&mut self, user_id: &str, digests: &[String]) -> StoreResult<()>;
    /// Consumes a recovery code; false when it is unknown or already used.
    async fn use_recovery_code(&mut self, user_id: &str, digest: &str) -> StoreResult<bool>;
    async fn set_user_clients(&mut self, user_id: &str, client_ids: &[String]) -> StoreResult<()>;
    // --- sessions
    async fn insert_session(&mut self, session: &SessionRecord) -> StoreResult<()>;
    async fn touch_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;
    async fn promote_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;
    async fn delete_session(&mut self, id: &str) -> StoreResult<()>;
    /// Ends every session of a user; returns how many ended.
    async fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<u64>;
    async fn delete_sessions_seen_before(&mut self, cutoff: UnixMillis) -> StoreResult<u64>;
    // --- one-time links (first-time setup, invitations)
    async fn insert_link(&mut self, link: &OneTimeLink) -> StoreResult<()>;
    /// Marks a link used; false when it was already used (a second click or a race).
    async fn use_link(&mut self, digest: &str, now: UnixMillis) -> StoreResult<bool>;
    // --- API tokens
    async fn insert_api_token(&mut self, token: &ApiTokenRecord) -> StoreResult<()>;
    async fn revoke_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool>;
    async fn touch_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<()>;
    // --- organisation: sites, teams, client companies
    async fn insert_org_unit(&mut self, unit: &OrgUnit) -> StoreResult<()>;
    // --- security events
    async fn insert_security_event(&mut self, event: &SecurityEvent) -> StoreResult<()>;
}
