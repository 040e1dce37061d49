//! A short memory of who a session cookie or API token belongs to.
//!
//! Resolving a credential takes several reads (session or token, user, client assignments,
//! settings) on every request; operators on a live call make many requests in a row. An entry
//! here is used only while all of these hold:
//! - the store's identity generation is unchanged — any committed change to a user, session,
//!   token or setting *in this process* makes every entry stale at once, so a disabled user,
//!   a revoked token or an ended session is refused on the very next request;
//! - it is younger than [`CALLER_CACHE_TTL`], which bounds how late a change made by *another*
//!   replica (PostgreSQL) is seen;
//! - the credential's own deadline has not come: its expiry, the end of a second-factor window,
//!   or the moment its last-seen time is due to be recorded again.

use crate::Principal;
use mamori_domain::UnixMillis;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// How long another replica's change to a user, session or token may go unseen here.
pub const CALLER_CACHE_TTL: Duration = Duration::from_secs(1);

/// Entries beyond this are dropped wholesale (far above any centre's concurrent sessions).
const MAX_ENTRIES: usize = 20_000;

#[derive(Debug, Default)]
pub(crate) struct CallerCache {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    principal: Principal,
    generation: u64,
    usable_until: UnixMillis,
}

/// Whether a credential is a session cookie or an API token; their digests never share a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CredentialKind {
    Session,
    ApiToken,
}

fn key(kind: CredentialKind, digest: &str) -> String {
    match kind {
        CredentialKind::Session => format!("s:{digest}"),
        CredentialKind::ApiToken => format!("t:{digest}"),
    }
}

impl CallerCache {
    pub(crate) fn get(
        &self,
        kind: CredentialKind,
        digest: &str,
        generation: u64,
        now: UnixMillis,
    ) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&key(kind, digest))?;
        (entry.generation == generation && now < entry.usable_until).then(|| entry.principal.clone())
    }

    /// Remembers a principal resolved from data read at `generation` (read *before* the data,
    /// so a change committed meanwhile leaves the entry already stale).
    pub(crate) fn put(
        &self,
        kind: CredentialKind,
        digest: &str,
        principal: &Principal,
        generation: u64,
        now: UnixMillis,
        credential_deadline: UnixMillis,
    ) {
        let Ok(mut entries) = self.entries.lock() else { return };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| now < e.usable_until);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let usable_until = now.plus(CALLER_CACHE_TTL).min(credential_deadline);
        entries.insert(key(kind, digest), Entry { principal: principal.clone(), generation, usable_until });
    }
}
