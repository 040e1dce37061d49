//! The queries of one area (shared), written once for both backends: see `mod.rs`.

macro_rules! shared_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::SharedStateWrite for $handle {
            async fn claim_once(&mut self, scope: &str, key: &str, expires_at: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "INSERT INTO used_once (scope, key, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(scope)
                .bind(key)
                .bind(expires_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_used_once(&mut self, now: UnixMillis) -> StoreResult<u64> {
                sqlx::query::<$db>("DELETE FROM used_once WHERE expires_at < $1")
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(db_err)
            }

            async fn rate_bucket_for_update(&mut self, key: &str) -> StoreResult<Option<(i64, UnixMillis)>> {
                // The no-op update holds the row (PostgreSQL) until the commit.
                sqlx::query_as::<$db, (i64, i64)>(
                    "UPDATE rate_buckets SET units = units WHERE key = $1 RETURNING units, at",
                )
                .bind(key)
                .fetch_optional(self.handle.conn())
                .await
                .map(|row| row.map(|(units, at)| (units, UnixMillis(at))))
                .map_err(db_err)
            }

            async fn put_rate_bucket(&mut self, key: &str, units: i64, at: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO rate_buckets (key, units, at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET units = excluded.units, at = excluded.at",
                )
                .bind(key)
                .bind(units)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map(drop)
                .map_err(db_err)
            }
        }
    };
}

pub(crate) use shared_queries;
