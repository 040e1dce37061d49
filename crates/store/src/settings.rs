//! System-wide settings (key and value).

use super::*;

/// What a read handle may do in this area.
#[async_trait]
pub trait SettingsRead: Send {
    // --- settings
    async fn setting(&mut self, key: &str) -> StoreResult<Option<String>>;
    /// Every setting whose key starts with `prefix`, as (key, value).
    async fn settings_with_prefix(&mut self, prefix: &str) -> StoreResult<Vec<(String, String)>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait SettingsWrite: SettingsRead {
    // --- settings
    async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;
    async fn delete_setting(&mut self, key: &str) -> StoreResult<()>;
}
