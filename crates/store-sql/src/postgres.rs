//! PostgreSQL: for several `mamori serve` replicas sharing one database.

use crate::queries::store_tx_impl;
use crate::rows::*;
use crate::{Generation, Handle, db_err, migrate_err};
use async_trait::async_trait;
use mamori_audit::merkle::{Hash, NodeId};
use mamori_audit::{AuditEntry, AuditEvent};
use mamori_domain::approval::ApprovalState;
use mamori_domain::{Role, UnixMillis};
use mamori_store::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Key of the transaction-scoped advisory lock that makes one audit appender at a time
/// across all replicas ("mamori-audit" folded into an i64).
const AUDIT_SEQUENCER_LOCK: &str = "SELECT pg_advisory_xact_lock(7236497368235921)";

/// The lock of the process extending the Merkle tree and signing checkpoints; another waits,
/// then finds the tree extended and starts again from there.
const AUDIT_INTEGRATOR_LOCK: &str = "SELECT pg_advisory_xact_lock(7236497368235922)";

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    generation: Generation,
}

impl PgStore {
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad PostgreSQL URL: {e}")))?;
        // No ping on every acquire (a round trip per request); a connection PostgreSQL dropped
        // fails its statement, sqlx discards it, and that one request gets a 503.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        MIGRATOR.run(&pool).await.map_err(|e| migrate_err(e, known))?;
        Ok(PgStore { pool, generation: Generation::default() })
    }
}

#[async_trait]
impl Store for PgStore {
    fn identity_generation(&self) -> u64 {
        self.generation.current()
    }

    fn one_process(&self) -> bool {
        false
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self.pool.begin().await.map_err(db_err)?;
        Ok(Box::new(PgHandle {
            generation: self.generation.clone(),
            identity_changed: false,
            handle: Handle::Tx(tx),
        }))
    }

    async fn read(&self) -> StoreResult<Box<dyn StoreRead>> {
        let conn = self.pool.acquire().await.map_err(db_err)?;
        Ok(Box::new(PgHandle {
            generation: self.generation.clone(),
            identity_changed: false,
            handle: Handle::Plain(conn),
        }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err).map(drop)
    }
}

pub struct PgHandle {
    generation: Generation,
    identity_changed: bool,
    handle: Handle<Postgres>,
}

store_tx_impl!(PgHandle, Postgres, AUDIT_SEQUENCER_LOCK, AUDIT_INTEGRATOR_LOCK);
