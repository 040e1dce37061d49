//! Four-eyes requests (issue 15): requests, their decisions, and the single-use grant. Every
//! change of state is a conditional update, so two replicas never both decide, expire or use
//! the same request (DESIGN invariant 10).

use super::*;
use mamori_domain::approval::ApprovalState;

/// What a read handle may do in this area.
#[async_trait]
pub trait ApprovalRead: Send {
    async fn approval(&mut self, id: &str) -> StoreResult<Option<ApprovalRecord>>;
    /// Requests waiting for a decision, oldest first.
    async fn pending_approvals(&mut self, limit: i64) -> StoreResult<Vec<ApprovalRecord>>;
    /// A person's own requests, newest first.
    async fn approvals_of(&mut self, requester_id: &str, limit: i64) -> StoreResult<Vec<ApprovalRecord>>;
    /// Take-outs that were granted and are still out (granted, or past their date and not
    /// returned), or whose grant ended at or after `since`; by grant end.
    async fn take_out_grants(&mut self, since: UnixMillis) -> StoreResult<Vec<ApprovalRecord>>;
    /// Whether any notification is due now and not claimed (checked before claiming, so an
    /// idle queue costs no write transaction).
    async fn notifications_due(&mut self, now: UnixMillis) -> StoreResult<bool>;
    /// The latest notifications, newest first (the deliveries page).
    async fn webhook_notifications(&mut self, limit: i64) -> StoreResult<Vec<WebhookNotification>>;
    /// The decisions on a request, in order.
    async fn approval_decisions(&mut self, approval_id: &str) -> StoreResult<Vec<ApprovalDecision>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait ApprovalWrite: ApprovalRead {
    async fn insert_approval(&mut self, a: &ApprovalRecord) -> StoreResult<()>;
    /// Records a decision; [`StoreError::Conflict`] when this person has decided already.
    async fn insert_approval_decision(&mut self, d: &ApprovalDecision) -> StoreResult<()>;
    /// Moves a request from `from` to `to` (with the times that go with it); false when it was
    /// no longer in `from` (another replica got there first).
    async fn move_approval(
        &mut self,
        id: &str,
        from: ApprovalState,
        to: ApprovalState,
        at: UnixMillis,
        grant_expires_at: Option<UnixMillis>,
    ) -> StoreResult<bool>;
    /// Uses a grant once: true only for a granted, unexpired request of exactly this digest.
    async fn use_approval_grant(&mut self, id: &str, digest: &str, now: UnixMillis) -> StoreResult<bool>;
    /// Queues a notification (in the transaction of the step it tells of).
    async fn insert_webhook_notification(&mut self, n: &WebhookNotification) -> StoreResult<()>;
    /// Notifications due now and not claimed by another replica, claimed until `until`.
    async fn claim_webhook_notifications(
        &mut self,
        now: UnixMillis,
        until: UnixMillis,
        limit: i64,
    ) -> StoreResult<Vec<WebhookNotification>>;
    /// Records an attempt: its new status, the attempts so far, when to try next, the error.
    async fn record_notification_attempt(
        &mut self,
        id: &str,
        status: &str,
        attempts: i64,
        next_at: UnixMillis,
        error: Option<&str>,
        delivered_at: Option<UnixMillis>,
    ) -> StoreResult<()>;
    /// Requests past their time — pending past `decide_by`, granted past `grant_expires_at` —
    /// marked expired; returns them as they were.
    async fn expire_approvals(&mut self, now: UnixMillis) -> StoreResult<Vec<ApprovalRecord>>;
}
