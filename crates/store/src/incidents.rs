//! Incidents (issue 16, items 4 and 5): the incidents, the alerts linked to each, their
//! timeline's own entries and their playbook's checklist.

use super::*;

/// One incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: String,
    /// Its number for people (`INC-12`), in the order incidents were opened.
    pub number: i64,
    pub title: String,
    /// An `IncidentKind`'s name.
    pub kind: String,
    /// An `IncidentState`'s name.
    pub state: String,
    pub severity: String,
    pub description: String,
    /// `None` when reported anonymously.
    pub reported_by: Option<String>,
    pub assignee_id: Option<String>,
    /// When the centre learned of it: the breach-report clock runs from here.
    pub learned_at: UnixMillis,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    pub data: mamori_domain::incident::DataAssessment,
    /// Client companies whose customers are involved.
    pub client_ids: Vec<String>,
    pub preliminary_reported_at: Option<UnixMillis>,
    pub final_reported_at: Option<UnixMillis>,
    pub people_notified_at: Option<UnixMillis>,
    pub clients_notified_at: Option<UnixMillis>,
    /// The post-incident review, written when it is closed.
    pub review: Option<String>,
    pub closed_at: Option<UnixMillis>,
}

/// One of an incident's own timeline entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentEvent {
    pub id: String,
    pub incident_id: String,
    pub at: UnixMillis,
    /// An audit actor (`user:<id>`, `anonymous`, `system`).
    pub actor: String,
    /// `opened`, `reported`, `comment`, `state`, `assessment`, `assigned`, `checklist`,
    /// `alerts_linked`, `report_recorded`, `reminder`.
    pub kind: String,
    /// What it says: the comment, `from→to`, the item, the report…
    pub detail: String,
}

/// What a read handle may do in this area.
#[async_trait]
pub trait IncidentRead: Send {
    async fn incident(&mut self, id: &str) -> StoreResult<Option<IncidentRecord>>;
    /// Incidents updated since `since`, newest first; with `states`, only those.
    async fn incidents_since(
        &mut self,
        since: UnixMillis,
        states: &[&str],
        limit: i64,
    ) -> StoreResult<Vec<IncidentRecord>>;
    /// Incidents not closed (the reminder sweep reads them).
    async fn open_incidents(&mut self) -> StoreResult<Vec<IncidentRecord>>;
    async fn incident_alert_ids(&mut self, incident_id: &str) -> StoreResult<Vec<String>>;
    /// The incidents an alert is linked to.
    async fn incidents_of_alert(&mut self, alert_id: &str) -> StoreResult<Vec<String>>;
    async fn incident_events(&mut self, incident_id: &str) -> StoreResult<Vec<IncidentEvent>>;
    /// The checklist items done: (item, when, by whom).
    async fn incident_checklist(
        &mut self,
        incident_id: &str,
    ) -> StoreResult<Vec<(String, UnixMillis, String)>>;
}

/// What only a write transaction may do in this area.
#[async_trait]
pub trait IncidentWrite: IncidentRead {
    /// Stores a new incident with the next number (the record's `number` is ignored); returns it.
    async fn insert_incident(&mut self, incident: &IncidentRecord) -> StoreResult<i64>;
    /// Replaces an incident's changeable fields (all but id, number, reporter, creation).
    async fn update_incident(&mut self, incident: &IncidentRecord) -> StoreResult<()>;
    /// Links alerts (those linked already stay once); returns how many were new.
    async fn link_incident_alerts(
        &mut self,
        incident_id: &str,
        alert_ids: &[String],
        at: UnixMillis,
    ) -> StoreResult<u64>;
    async fn insert_incident_event(&mut self, event: &IncidentEvent) -> StoreResult<()>;
    /// Marks a checklist item done (true) or not (false); returns whether anything changed.
    async fn set_incident_checklist_item(
        &mut self,
        incident_id: &str,
        item: &str,
        done: Option<(UnixMillis, &str)>,
    ) -> StoreResult<bool>;
}
