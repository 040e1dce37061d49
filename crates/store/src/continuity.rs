//! Business continuity (issue 18, item 6; ISMS-5): plans per scenario, with their history, and
//! the drills held.

use super::*;

/// A continuity plan's version (the plan in force is its latest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuityPlanRecord {
    pub id: String,
    /// From 1, one more at each change.
    pub version: i64,
    /// A `Scenario`'s name.
    pub scenario: String,
    pub title: String,
    pub steps: String,
    pub owner_id: String,
    /// The contact tree, as JSON (a list of `Contact`).
    pub contacts: String,
    pub drill_every_months: i64,
    /// The day in Japan the plan was first made (`YYYY-MM-DD`): the first drill is due an
    /// interval after it.
    pub created_on: String,
    pub retired_at: Option<UnixMillis>,
    pub changed_at: UnixMillis,
    /// An audit actor.
    pub changed_by: String,
}

/// A drill held (never changed once recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuityDrillRecord {
    pub id: String,
    pub plan_id: String,
    /// `YYYY-MM-DD`, the day in Japan.
    pub held_on: String,
    /// User ids, comma-separated.
    pub participants: String,
    /// A `DrillResult`'s name.
    pub result: String,
    pub findings: String,
    pub actions: String,
    pub recorded_at: UnixMillis,
    /// An audit actor.
    pub recorded_by: String,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait ContinuityRead: Send {
    /// The plans in force (and the retired ones when asked), by scenario and title.
    async fn continuity_plans(&mut self, include_retired: bool) -> StoreResult<Vec<ContinuityPlanRecord>>;
    async fn continuity_plan(&mut self, id: &str) -> StoreResult<Option<ContinuityPlanRecord>>;
    /// Every version of a plan, the newest first.
    async fn continuity_plan_history(&mut self, id: &str) -> StoreResult<Vec<ContinuityPlanRecord>>;
    /// The drills of every plan, the latest held first.
    async fn continuity_drills(&mut self) -> StoreResult<Vec<ContinuityDrillRecord>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait ContinuityWrite: ContinuityRead {
    /// Stores a plan's new version and makes it the one in force.
    async fn put_continuity_plan(&mut self, plan: &ContinuityPlanRecord) -> StoreResult<()>;
    async fn insert_continuity_drill(&mut self, drill: &ContinuityDrillRecord) -> StoreResult<()>;
}
