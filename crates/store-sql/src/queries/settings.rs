//! The queries of one area (settings), written once for both backends: see `mod.rs`.

macro_rules! settings_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::SettingsRead for $handle {
            async fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
                sqlx::query_scalar::<$db, String>("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn settings_with_prefix(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
                // Not LIKE: the prefix is matched as it is, whatever characters it holds.
                sqlx::query_as::<$db, (String, String)>(
                    "SELECT key, value FROM settings WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
                )
                .bind(prefix)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::SettingsWrite for $handle {
            async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn delete_setting(&mut self, key: &str) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("DELETE FROM settings WHERE key = $1")
                    .bind(key)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }
        }
    };
}

pub(crate) use settings_queries;
