//! The customer vault: sealed customer records and their blind indexes, and the calls the
//! telephony system reports.

use super::*;

/// What a read handle may do in this area.
#[async_trait]
pub trait VaultRead: Send {
    // --- customer vault
    async fn customer(&mut self, id: &str) -> StoreResult<Option<CustomerRecord>>;
    /// The records a blind-index digest points to.
    async fn customers_by_index(&mut self, kind: &str, digest: &[u8]) -> StoreResult<Vec<CustomerRecord>>;
    async fn count_customers(&mut self) -> StoreResult<i64>;
    /// Up to `limit` records whose data key is wrapped by a key version below `version`:
    /// (id, wrapped key).
    async fn customers_to_rewrap(&mut self, version: u32, limit: i64) -> StoreResult<Vec<(String, Vec<u8>)>>;
    async fn count_customers_to_rewrap(&mut self, version: u32) -> StoreResult<i64>;
    /// How many of a client company's records were registered in `[from, before)`.
    async fn count_client_customers(
        &mut self,
        client_id: &str,
        from: UnixMillis,
        before: UnixMillis,
    ) -> StoreResult<i64>;
    /// The next `limit` of those records after `after_id`, in id order (an export's page).
    async fn client_customers_page(
        &mut self,
        client_id: &str,
        from: UnixMillis,
        before: UnixMillis,
        after_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<CustomerRecord>>;
    // --- calls (CTI)
    /// The operator's calls that have not ended.
    async fn active_calls(&mut self, operator_id: &str) -> StoreResult<Vec<CallRecord>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait VaultWrite: VaultRead {
    // --- customer vault
    /// Inserts records with their blind-index entries, with as few statements as possible.
    async fn insert_customers(&mut self, customers: &[NewCustomerRows]) -> StoreResult<()>;
    /// Replaces a record's wrapped key if it is still `old`; false when it changed meanwhile.
    async fn rewrap_customer(&mut self, id: &str, old: &[u8], new: &[u8], version: u32) -> StoreResult<bool>;
    /// Replaces a record's sealed fields and its blind-index entries; false when it is gone.
    async fn update_customer(
        &mut self,
        id: &str,
        fields: &[u8],
        index: &[(String, Vec<u8>)],
        now: UnixMillis,
    ) -> StoreResult<bool>;
    /// Deletes a record, its wrapped data key and its blind-index entries; false when it is gone.
    async fn delete_customer(&mut self, id: &str) -> StoreResult<bool>;
    // --- calls (CTI)
    async fn insert_call(&mut self, call: &CallRecord) -> StoreResult<()>;
    /// Ends a call; false when it is unknown or already ended.
    async fn end_call(&mut self, external_id: &str, now: UnixMillis) -> StoreResult<bool>;
}
