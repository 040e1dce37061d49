//! Embedded SQLite: one file in the data directory, WAL mode, fsync on commit.
//!
//! One writer connection serialises write transactions inside the process (SQLite allows one
//! writer at a time anyway, and this avoids busy-retries); reads use a small pool of their own.

use crate::queries::store_tx_impl;
use crate::rows::*;
use crate::{Generation, Handle, db_err, migrate_err};
use async_trait::async_trait;
use mamori_audit::merkle::{Hash, NodeId};
use mamori_audit::{AuditEntry, AuditEvent};
use mamori_domain::approval::ApprovalState;
use mamori_domain::{Role, UnixMillis};
use mamori_store::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use std::path::Path;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    generation: Generation,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<Self> {
        owner_only(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before it is acknowledged (DESIGN invariant 7).
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // An erased customer's wrapped key and sealed fields are overwritten, not left in
            // free pages of the file.
            .pragma("secure_delete", "ON")
            .busy_timeout(Duration::from_secs(10));
        // No test query on acquire: a broken file connection fails its statement anyway.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(db_err)?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        MIGRATOR.run(&writer).await.map_err(|e| migrate_err(e, known))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await
            .map_err(db_err)?;
        Ok(SqliteStore { writer, reader, generation: Generation::default() })
    }
}

/// The database holds sealed customer data, password hashes and the audit log: only the
/// service's user may read it. SQLite gives its `-wal` and `-shm` files the mode of the
/// database file, so creating that one 0600 covers all three; files left 0644 by an older
/// version are narrowed.
#[cfg(unix)]
fn owner_only(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let fail = |e: std::io::Error| StoreError::Unavailable(format!("{}: {e}", path.display()));
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(fail)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = std::path::PathBuf::from(file);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn owner_only(_: &Path) -> StoreResult<()> {
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn identity_generation(&self) -> u64 {
        self.generation.current()
    }

    fn one_process(&self) -> bool {
        true
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self.writer.begin().await.map_err(db_err)?;
        Ok(Box::new(SqliteHandle {
            generation: self.generation.clone(),
            identity_changed: false,
            handle: Handle::Tx(tx),
        }))
    }

    async fn read(&self) -> StoreResult<Box<dyn StoreRead>> {
        let conn = self.reader.acquire().await.map_err(db_err)?;
        Ok(Box::new(SqliteHandle {
            generation: self.generation.clone(),
            identity_changed: false,
            handle: Handle::Plain(conn),
        }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(db_err).map(drop)
    }
}

pub struct SqliteHandle {
    generation: Generation,
    identity_changed: bool,
    handle: Handle<Sqlite>,
}

// The single writer connection already serialises appends and tree extensions.
store_tx_impl!(SqliteHandle, Sqlite, "", "");
