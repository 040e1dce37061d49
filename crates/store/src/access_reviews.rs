//! Access-right reviews [アクセス権の棚卸し] (issue 18, item 3; LEAK-6): campaigns whose population
//! is frozen when they start — one entry per person and role, client company assignment and
//! enrolled PC — each decided by the person's supervisor (or the security admins).

use super::*;

/// A campaign: scheduled, started by hand, or triggered by a person's transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReviewCampaignRecord {
    pub id: String,
    pub title: String,
    /// `scheduled`, `manual` or `transfer`.
    pub trigger: String,
    /// The person a transfer campaign reviews.
    pub subject_user_id: Option<String>,
    pub started_at: UnixMillis,
    /// An audit actor (`user:<id>` or `system`).
    pub started_by: String,
    pub due_at: UnixMillis,
    /// When its unfinished entries were handed to the security admins (the due date passed).
    pub escalated_at: Option<UnixMillis>,
    /// When its last entry was approved or revoked.
    pub finished_at: Option<UnixMillis>,
    /// Counts (read only): entries, those approved or revoked, those carrying a flag.
    pub entries: i64,
    pub decided: i64,
    pub flagged: i64,
}

/// One frozen entry: a person's role, client company or PC, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReviewEntryRecord {
    pub id: String,
    pub campaign_id: String,
    pub user_id: String,
    /// The person's display name and team name at the freeze.
    pub user_name: String,
    pub team_name: String,
    /// `role`, `client` or `device`.
    pub kind: String,
    /// The role's name, the client company's id or the device's id.
    pub item: String,
    /// The client company's or PC's name at the freeze (the role's name for a role).
    pub item_name: String,
    /// The supervisors who review it, as `,<id>,<id>,` (any of them may decide); `None`: the
    /// security admins.
    pub reviewers: Option<String>,
    /// Comma-separated flag codes.
    pub flags: String,
    pub flag_count: i64,
    /// `approve`, `revoke`, `defer`; `None`: not decided yet.
    pub decision: Option<String>,
    pub reason: String,
    pub decided_at: Option<UnixMillis>,
    /// An audit actor.
    pub decided_by: Option<String>,
    /// When it was handed to the security admins (escalated by its reviewer or the due date).
    pub escalated_at: Option<UnixMillis>,
}

/// Whose entries a page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReviewerFilter {
    All,
    /// One supervisor's (a user id).
    Reviewer(String),
    /// Those of the security admins (no supervisor, or escalated).
    SecurityAdmins,
}

/// A reviewer's progress in a campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewerProgress {
    /// The reviewers as stored on the entries (`,<id>,…,`); `None`: the security admins.
    pub reviewers: Option<String>,
    pub entries: i64,
    pub decided: i64,
    pub deferred: i64,
    pub flagged: i64,
}

#[async_trait]
pub trait AccessReviewRead: Send {
    /// Every campaign, newest first, with its counts.
    async fn access_review_campaigns(&mut self) -> StoreResult<Vec<AccessReviewCampaignRecord>>;
    async fn access_review_campaign(&mut self, id: &str) -> StoreResult<Option<AccessReviewCampaignRecord>>;
    /// The latest finished campaign (the live evidence of Annex A 5.18).
    async fn last_finished_access_review(&mut self) -> StoreResult<Option<AccessReviewCampaignRecord>>;
    /// One page of a campaign's entries, flagged first (most flags first), then by person and
    /// kind; `open_only` leaves out those approved or revoked. Returns the page and how many
    /// match in all.
    async fn access_review_entry_page(
        &mut self,
        campaign_id: &str,
        reviewer: &ReviewerFilter,
        open_only: bool,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<AccessReviewEntryRecord>, i64)>;
    /// Every entry of a campaign, in the page order (the export).
    async fn access_review_entries(&mut self, campaign_id: &str)
    -> StoreResult<Vec<AccessReviewEntryRecord>>;
    async fn access_review_entry(&mut self, id: &str) -> StoreResult<Option<AccessReviewEntryRecord>>;
    /// Each reviewer's progress in a campaign.
    async fn access_review_progress(&mut self, campaign_id: &str) -> StoreResult<Vec<ReviewerProgress>>;
    /// Unfinished campaigns past their due date and not escalated yet.
    async fn access_reviews_overdue(
        &mut self,
        now: UnixMillis,
    ) -> StoreResult<Vec<AccessReviewCampaignRecord>>;
    /// The people with a security event of `kind` since `since` (one pass).
    async fn users_with_security_event_since(
        &mut self,
        kind: &str,
        since: UnixMillis,
    ) -> StoreResult<Vec<String>>;
}

#[async_trait]
pub trait AccessReviewWrite: AccessReviewRead {
    async fn insert_access_review_campaign(&mut self, c: &AccessReviewCampaignRecord) -> StoreResult<()>;
    /// Stores a campaign's frozen population (in chunks).
    async fn insert_access_review_entries(&mut self, entries: &[AccessReviewEntryRecord]) -> StoreResult<()>;
    /// Records a decision on an entry still open (not approved or revoked) of an unfinished
    /// campaign; false otherwise.
    async fn decide_access_review_entry(
        &mut self,
        id: &str,
        decision: &str,
        reason: &str,
        at: UnixMillis,
        by: &str,
    ) -> StoreResult<bool>;
    /// Hands an open entry to the security admins; false when it is not open.
    async fn escalate_access_review_entry(&mut self, id: &str, at: UnixMillis) -> StoreResult<bool>;
    /// Hands every open entry of a campaign to the security admins and marks it escalated;
    /// returns how many entries moved.
    async fn escalate_access_review_campaign(&mut self, id: &str, at: UnixMillis) -> StoreResult<u64>;
    /// Marks a campaign finished if none of its entries is open; returns whether it did.
    async fn finish_access_review_campaign_if_done(&mut self, id: &str, at: UnixMillis) -> StoreResult<bool>;
}
