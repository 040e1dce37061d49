//! Devices (endpoint agents): enrolment, the ledger, inventory, events, remote commands,
//! activity minutes.

use super::*;

/// What a read handle may do in this area.
#[async_trait]
pub trait DeviceRead: Send {
    // --- devices (endpoint agents)
    async fn device(&mut self, id: &str) -> StoreResult<Option<DeviceRecord>>;
    async fn list_devices(&mut self) -> StoreResult<Vec<DeviceRecord>>;
    /// The PCs enrolled for a person and not revoked.
    async fn devices_of_user(&mut self, user_id: &str) -> StoreResult<Vec<DeviceRecord>>;
    /// The device's inventory reports, newest first.
    async fn inventory_history(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<InventoryRecord>>;
    /// Whether the device has a command waiting that was issued at or after `issued_after` (a
    /// read, before taking them with a write; older ones have timed out).
    async fn has_pending_commands(&mut self, device_id: &str, issued_after: UnixMillis) -> StoreResult<bool>;
    async fn device_commands(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<CommandRecord>>;
    /// Devices with commands pending that were issued after `since` (for waking their polls).
    async fn devices_with_pending_commands(&mut self, since: UnixMillis) -> StoreResult<Vec<String>>;
    /// Unrevoked devices last seen before `cutoff` with no `heartbeat_lost` event since.
    async fn devices_gone_silent(&mut self, cutoff: UnixMillis) -> StoreResult<Vec<DeviceRecord>>;
    /// The device's events, newest first.
    async fn device_events(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<DeviceEventRecord>>;
    /// Every PC's events of these kinds since `since`, oldest first (the floor's lock and USB state).
    async fn recent_events_of_kinds(
        &mut self,
        kinds: &[&str],
        since: UnixMillis,
    ) -> StoreResult<Vec<DeviceEventRecord>>;
    /// A PC's buckets from `since`, newest first.
    async fn device_activity(
        &mut self,
        device_id: &str,
        since: UnixMillis,
        limit: i64,
    ) -> StoreResult<Vec<ActivityRecord>>;
    /// Each PC's latest bucket, for those with one from `since`.
    async fn latest_activity(&mut self, since: UnixMillis) -> StoreResult<Vec<ActivityRecord>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait DeviceWrite: DeviceRead {
    // --- devices (endpoint agents)
    async fn insert_enrolment(&mut self, e: &EnrolmentRecord) -> StoreResult<()>;
    /// Marks an unused, unexpired enrolment token used by `device_id` and returns it; None when
    /// there is no such token (unknown, used or expired).
    async fn use_enrolment(
        &mut self,
        token_hash: &str,
        now: UnixMillis,
        device_id: &str,
    ) -> StoreResult<Option<EnrolmentRecord>>;
    async fn insert_device(&mut self, d: &DeviceRecord) -> StoreResult<()>;
    /// False when the device is unknown or already revoked.
    async fn revoke_device(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool>;
    async fn device_seen(&mut self, id: &str, now: UnixMillis, ip: Option<&str>) -> StoreResult<()>;
    /// Moves each device's last contact forward to the given time (never back).
    async fn devices_seen(&mut self, seen: &[(String, UnixMillis)]) -> StoreResult<()>;
    async fn insert_inventory(&mut self, i: &InventoryRecord) -> StoreResult<()>;
    async fn insert_command(&mut self, c: &CommandRecord) -> StoreResult<()>;
    /// The device's pending commands issued at or after `issued_after`, now marked delivered
    /// (older ones have timed out and are never delivered).
    async fn deliver_commands(
        &mut self,
        device_id: &str,
        now: UnixMillis,
        issued_after: UnixMillis,
    ) -> StoreResult<Vec<CommandRecord>>;
    /// Marks `expired` the commands issued before `issued_before` that are still pending or
    /// delivered without a result; returns them.
    async fn expire_commands(
        &mut self,
        issued_before: UnixMillis,
        now: UnixMillis,
    ) -> StoreResult<Vec<CommandRecord>>;
    /// Records a delivered command's outcome (also one that timed out after its delivery: the
    /// agent did act on it); false when there is no such delivered command.
    async fn finish_command(
        &mut self,
        device_id: &str,
        id: &str,
        ok: bool,
        result: &str,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    /// Stores events, skipping any already stored (same device and event id); returns the ids of
    /// those that were new.
    async fn insert_device_events(&mut self, events: &[DeviceEventRecord]) -> StoreResult<Vec<String>>;
    /// Stores activity buckets, skipping a minute already stored for the PC; returns how many were new.
    async fn insert_activity(&mut self, buckets: &[ActivityRecord]) -> StoreResult<u64>;
}
