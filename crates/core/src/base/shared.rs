//! State that must be the same on every replica (DESIGN invariant 10): keys used once — agent
//! request nonces, single-use grants — and counters — the reveal allowance. One small
//! interface, backed by the database (a unique key; a row held for the length of a
//! transaction), so the first use wins on whichever replica it lands and a restart forgets
//! nothing. Where one process is all there is (embedded SQLite) and losing the state at a
//! restart is harmless, a scope may be kept in memory instead: see [`Scope::memory_when_alone`].

use crate::{Base, CoreError};
use mamori_domain::UnixMillis;
use mamori_domain::rate::{RateLimit, TokenBucket};
use mamori_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// A namespace of single-use keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub name: &'static str,
    /// Kept in this process's memory when the store has no other process: agent nonces are
    /// checked on every agent request (hundreds a second), and a nonce forgotten at a restart
    /// only re-opens a replay of a request captured in the last five minutes, from inside TLS.
    pub memory_when_alone: bool,
}

/// Agent request nonces, per device.
pub const DEVICE_NONCES: Scope = Scope { name: "device_nonce", memory_when_alone: true };
/// Incident reminders sent (once across replicas and restarts).
pub const INCIDENT_REMINDERS: Scope = Scope { name: "incident_reminder", memory_when_alone: false };

/// Keys used once, in memory: key → when it may be forgotten.
#[derive(Debug, Default)]
pub(crate) struct UsedInMemory(Mutex<HashMap<(&'static str, String), i64>>);

impl UsedInMemory {
    fn claim(&self, scope: &'static str, key: &str, expires_at: UnixMillis, now: UnixMillis) -> bool {
        let Ok(mut seen) = self.0.lock() else { return false };
        if seen.len() > 10_000 && seen.len() % 1024 == 0 {
            seen.retain(|_, expires| *expires >= now.0);
        }
        seen.insert((scope, key.to_owned()), expires_at.0).is_none()
    }
}

/// Claims at most committed in one transaction.
const CLAIM_BATCH: usize = 1024;

type ClaimReply = oneshot::Sender<Result<bool, String>>;

/// Group commit for claims of single-use keys: an agent request claims its nonce, and hundreds a
/// second would each cost a transaction (and a disk flush) and hold a connection meanwhile. Claims
/// arriving together are written in one transaction; each caller waits for its own answer, so a
/// replay on another replica is still refused by the primary key.
#[derive(Debug)]
pub(crate) struct ClaimLog {
    queue: mpsc::Sender<(&'static str, String, UnixMillis, ClaimReply)>,
}

impl ClaimLog {
    /// Starts the writer task; it ends when the last handle is dropped.
    fn start(store: Arc<dyn Store>) -> Self {
        let (queue, mut incoming) = mpsc::channel(CLAIM_BATCH * 4);
        tokio::spawn(async move {
            let mut batch: Vec<(&'static str, String, UnixMillis, ClaimReply)> =
                Vec::with_capacity(CLAIM_BATCH);
            while incoming.recv_many(&mut batch, CLAIM_BATCH).await > 0 {
                let result = async {
                    let mut tx = store.begin().await?;
                    let mut firsts = Vec::with_capacity(batch.len());
                    // Within the batch too, a key's second claim finds the first one's row.
                    for (scope, key, expires_at, _) in &batch {
                        firsts.push(tx.claim_once(scope, key, *expires_at).await?);
                    }
                    tx.commit().await?;
                    Ok::<_, mamori_store::StoreError>(firsts)
                }
                .await
                .map_err(|e| e.to_string());
                for (i, (.., reply)) in batch.drain(..).enumerate() {
                    let _ = reply.send(match &result {
                        Ok(firsts) => Ok(firsts.get(i).copied().unwrap_or(false)),
                        Err(e) => Err(e.clone()),
                    });
                }
            }
        });
        ClaimLog { queue }
    }

    async fn claim(&self, scope: &'static str, key: &str, expires_at: UnixMillis) -> Result<bool, CoreError> {
        let stopped = || CoreError::Internal("the single-use key writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue.send((scope, key.to_owned(), expires_at, reply)).await.map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(|e| CoreError::Store(mamori_store::StoreError::Unavailable(e)))
    }
}

impl Base {
    /// Records the first use of `key`; false if it was used before, here or on another replica.
    pub(crate) async fn first_use(
        &self,
        scope: Scope,
        key: &str,
        expires_at: UnixMillis,
    ) -> Result<bool, CoreError> {
        if scope.memory_when_alone && self.store.one_process() {
            return Ok(self.used_in_memory.claim(scope.name, key, expires_at, self.now()));
        }
        let claims = self.claims.get_or_init(|| ClaimLog::start(self.store.clone()));
        claims.claim(scope.name, key, expires_at).await
    }

    /// Takes one token from the bucket `key` (full when first used); false when it is empty.
    /// The bucket is read and written in one transaction with its row held, so replicas taking
    /// at once are counted one after the other.
    pub(crate) async fn take_token(&self, key: &str, limit: RateLimit) -> Result<bool, CoreError> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let mut bucket = match tx.rate_bucket_for_update(key).await? {
            Some((units, at)) => TokenBucket::from_parts(units, at),
            None => TokenBucket::new(limit, now),
        };
        let taken = bucket.try_take(limit, now);
        let (units, at) = bucket.parts();
        tx.put_rate_bucket(key, units, at).await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Forgets single-use keys past their expiry (run now and then by the server).
    pub async fn purge_used_keys(&self) -> Result<u64, CoreError> {
        let mut tx = self.store.begin().await?;
        let purged = tx.purge_used_once(self.now()).await?;
        tx.commit().await?;
        Ok(purged)
    }
}
