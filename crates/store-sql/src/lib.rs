//! Mamori's two storage backends behind `mamori_store::Store`: embedded SQLite (the default,
//! nothing to install) and PostgreSQL (several replicas on one database).
//!
//! The SQL is written once, in [`queries`], in the dialect both databases accept (`$1`
//! placeholders, `RETURNING`, `ON CONFLICT`); each backend instantiates it for its own sqlx types
//! and adds only what differs: connection set-up, migrations and the audit sequencer's lock.
//! Migrations live in `migrations/sqlite` and `migrations/postgres` and run on start.

pub mod postgres;
mod queries;
mod rows;
pub mod sqlite;

use mamori_store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

/// Opens the database and brings its schema up to date.
pub async fn open(db: &Database) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match db {
        Database::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        Database::Postgres(url) => Arc::new(postgres::PgStore::open(url).await?),
    })
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(d.constraint().unwrap_or("unique constraint").to_owned())
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::ColumnNotFound(_) => {
            StoreError::Corrupt(e.to_string())
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

fn migrate_err(e: sqlx::migrate::MigrateError, known: i64) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::VersionMissing(found) => StoreError::SchemaTooNew { found, known },
        other => StoreError::Migration(other.to_string()),
    }
}

/// Counts this process's committed transactions that changed users, sessions, API tokens or
/// settings; see [`Store::identity_generation`].
#[derive(Debug, Default, Clone)]
struct Generation(Arc<AtomicU64>);

impl Generation {
    fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
    fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

/// A connection that is either inside a transaction or not.
enum Handle<DB: sqlx::Database> {
    Tx(sqlx::Transaction<'static, DB>),
    Plain(sqlx::pool::PoolConnection<DB>),
}

impl<DB: sqlx::Database> Handle<DB> {
    fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Handle::Tx(t) => t,
            Handle::Plain(c) => c,
        }
    }

    async fn commit(self) -> Result<(), StoreError> {
        match self {
            Handle::Tx(t) => t.commit().await.map_err(db_err),
            Handle::Plain(_) => Ok(()),
        }
    }
}
