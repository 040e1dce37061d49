//! The audit log: entries, the Merkle tree's nodes, signed checkpoints, forwarding and feed
//! cursors, retention.

use super::*;

/// What a read handle may do in this area.
#[async_trait]
pub trait AuditRead: Send {
    // --- audit log (a transparency log: entries, the Merkle tree's nodes, signed checkpoints)
    async fn search_audit(&mut self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// How many entries the search matches (its limit and paging ignored).
    async fn count_audit(&mut self, query: &AuditQuery) -> StoreResult<u64>;
    /// Every delivery cursor (forwarding destinations, the detection feed): name, the next
    /// index to deliver, and when it last moved.
    async fn audit_cursors(&mut self) -> StoreResult<Vec<(String, u64, UnixMillis)>>;
    /// Entries with `from <= index < to`, in index order.
    async fn audit_entries(&mut self, from: u64, to: u64) -> StoreResult<Vec<AuditEntry>>;
    /// How many entries the log holds (the index the next one gets), pruned ones included.
    async fn audit_log_size(&mut self) -> StoreResult<u64>;
    async fn audit_node(&mut self, id: NodeId) -> StoreResult<Option<Hash>>;
    /// Stored nodes of one level with `from <= index < to`, in index order.
    async fn audit_nodes_range(&mut self, level: u8, from: u64, to: u64) -> StoreResult<Vec<(u64, Hash)>>;
    async fn latest_checkpoint(&mut self) -> StoreResult<Option<CheckpointRecord>>;
    /// Checkpoints with `from <= size <= to`, smallest first.
    async fn checkpoints_between(&mut self, from: u64, to: u64) -> StoreResult<Vec<CheckpointRecord>>;
    /// Entries below this index were archived and may have been pruned.
    async fn audit_pruned_below(&mut self) -> StoreResult<u64>;
    /// The first entry stamped at or after `time`.
    async fn first_audit_index_since(&mut self, time: UnixMillis) -> StoreResult<Option<u64>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait AuditWrite: AuditRead {
    // --- audit log (a transparency log: entries, the Merkle tree's nodes, signed checkpoints)
    /// Appends an entry in this transaction and returns its index. Appends are serialised
    /// across processes, so committed entries always form a gap-free prefix.
    async fn append_audit(&mut self, time: UnixMillis, event: &AuditEvent) -> StoreResult<u64>;
    /// Appends several entries at the same time, in order, with as few statements as possible;
    /// returns the first one's index (the rest follow without gaps).
    async fn append_audit_batch(&mut self, time: UnixMillis, events: &[AuditEvent]) -> StoreResult<u64>;
    async fn insert_audit_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> StoreResult<()>;
    async fn insert_checkpoint(&mut self, checkpoint: &CheckpointRecord) -> StoreResult<()>;
    /// Takes, for this transaction, the lock that lets one process at a time extend the tree
    /// (waiting for another holder to commit).
    async fn lock_audit_integrator(&mut self) -> StoreResult<()>;
    /// Takes (or renews) the lease to deliver to forwarding destination `name` until
    /// `lease_until`, creating its cursor at 0 if it is new. Returns where delivery resumes, or
    /// `None` while another holder's lease runs.
    async fn claim_audit_cursor(
        &mut self,
        name: &str,
        holder: &str,
        now: UnixMillis,
        lease_until: UnixMillis,
    ) -> StoreResult<Option<u64>>;
    /// Moves a cursor from `from` to `to` if `holder` still holds it there; false otherwise.
    async fn advance_audit_cursor(
        &mut self,
        name: &str,
        holder: &str,
        from: u64,
        to: u64,
        now: UnixMillis,
    ) -> StoreResult<bool>;
    /// Raises the retention floor to `below` and deletes the entries under it (their hashes stay
    /// in the tree); returns how many were deleted.
    async fn prune_audit(&mut self, below: u64) -> StoreResult<u64>;
}
