//! Checks (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): checklists, the runs done, the follow-ups
//! their failed items opened, and the photos taken (sealed like vendor files).

use super::*;

/// A checklist (its current state; retired ones stay for their runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecklistRecord {
    pub id: String,
    pub title: String,
    /// The items, as JSON (a list of strings).
    pub items: String,
    /// A `Performer`'s name (`self`, `supervisor`).
    pub performer: String,
    /// A `Frequency`'s name.
    pub frequency: String,
    pub site_id: Option<String>,
    pub team_id: Option<String>,
    /// The day in Japan it was made (`YYYY-MM-DD`): periods before it are not owed.
    pub created_on: String,
    pub retired_at: Option<UnixMillis>,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// A check done (never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunRecord {
    pub id: String,
    pub checklist_id: String,
    /// The period it counts for (`2026-11-30`, `2026-W49`, `2026-11`).
    pub period: String,
    pub user_id: String,
    /// The team it was done for (the person's team).
    pub team_id: Option<String>,
    pub done_at: UnixMillis,
    /// The answers, as JSON (a list of `Answer`, in the items' order).
    pub answers: String,
    pub note: String,
    /// Items not ok.
    pub failed: i64,
}

/// A failed item to put right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFollowUpRecord {
    pub id: String,
    pub run_id: String,
    pub checklist_id: String,
    /// The item's position, from 0, and its text at the time.
    pub item: i64,
    pub item_text: String,
    pub note: String,
    /// Whose run it came from, and their team (whose supervisors resolve it).
    pub user_id: String,
    pub team_id: Option<String>,
    pub opened_at: UnixMillis,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub resolved_at: Option<UnixMillis>,
    pub resolved_by: Option<String>,
    pub resolution: String,
}

/// A photo of a run (or of one of its items): its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPhotoRecord {
    pub id: String,
    pub run_id: String,
    pub item: Option<i64>,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub kek_version: u32,
}

/// A photo's sealed content and wrapped data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPhotoSealed {
    pub wrapped_key: Vec<u8>,
    pub content: Vec<u8>,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait ChecksRead: Send {
    /// The checklists (the retired ones when asked), by title.
    async fn checklists(&mut self, include_retired: bool) -> StoreResult<Vec<ChecklistRecord>>;
    async fn checklist(&mut self, id: &str) -> StoreResult<Option<ChecklistRecord>>;
    /// Runs done at or after `since`, the latest first.
    async fn check_runs_since(&mut self, since: UnixMillis) -> StoreResult<Vec<CheckRunRecord>>;
    async fn check_run(&mut self, id: &str) -> StoreResult<Option<CheckRunRecord>>;
    /// Follow-ups (only the open ones when asked), the oldest first.
    async fn check_follow_ups(&mut self, open_only: bool) -> StoreResult<Vec<CheckFollowUpRecord>>;
    async fn check_follow_up(&mut self, id: &str) -> StoreResult<Option<CheckFollowUpRecord>>;
    /// The photos of some runs (metadata only).
    async fn check_photos(&mut self, run_ids: &[String]) -> StoreResult<Vec<CheckPhotoRecord>>;
    async fn check_photo(&mut self, id: &str) -> StoreResult<Option<(CheckPhotoRecord, CheckPhotoSealed)>>;
    /// Photos whose data key is wrapped below `version`: (id, wrapped key), at most `limit`.
    async fn check_photos_to_rewrap(
        &mut self,
        version: u32,
        limit: i64,
    ) -> StoreResult<Vec<(String, Vec<u8>)>>;
    async fn count_check_photos_to_rewrap(&mut self, version: u32) -> StoreResult<i64>;
    async fn count_check_photos(&mut self) -> StoreResult<i64>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait ChecksWrite: ChecksRead {
    /// Stores a checklist (new or changed).
    async fn put_checklist(&mut self, list: &ChecklistRecord) -> StoreResult<()>;
    async fn insert_check_run(&mut self, run: &CheckRunRecord) -> StoreResult<()>;
    async fn insert_check_follow_up(&mut self, f: &CheckFollowUpRecord) -> StoreResult<()>;
    /// Resolves a follow-up still open; false when it was not (resolved already).
    async fn resolve_check_follow_up(
        &mut self,
        id: &str,
        at: UnixMillis,
        by: &str,
        resolution: &str,
    ) -> StoreResult<bool>;
    async fn insert_check_photo(
        &mut self,
        photo: &CheckPhotoRecord,
        sealed: &CheckPhotoSealed,
    ) -> StoreResult<()>;
    /// Replaces a photo's wrapped data key if it is still `old`; false when it changed meanwhile.
    async fn rewrap_check_photo(
        &mut self,
        id: &str,
        old: &[u8],
        new: &[u8],
        version: u32,
    ) -> StoreResult<bool>;
}
