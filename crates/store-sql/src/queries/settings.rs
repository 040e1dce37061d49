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
        }
    };
}

pub(crate) use settings_queries;
