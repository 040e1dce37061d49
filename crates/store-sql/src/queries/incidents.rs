//! The queries of one area (incidents), written once for both backends: see `mod.rs`.

macro_rules! incidents_queries {
    ($handle:ty, $db:ty) => {
        const INCIDENT_COLUMNS: &str = "id, number, title, kind, state, severity, description, reported_by, \
                                        assignee_id, learned_at, created_at, updated_at, people, sensitive, \
                                        financial, wrongful_purpose, encrypted_key_safe, client_ids, \
                                        preliminary_reported_at, final_reported_at, people_notified_at, \
                                        clients_notified_at, review, closed_at";

        #[async_trait::async_trait]
        impl mamori_store::IncidentRead for $handle {
            async fn incident(&mut self, id: &str) -> StoreResult<Option<IncidentRecord>> {
                sqlx::query_as::<$db, IncidentRow>(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|r| r.map(IncidentRecord::from))
            }

            async fn incidents_since(
                &mut self,
                since: UnixMillis,
                states: &[&str],
                limit: i64,
            ) -> StoreResult<Vec<IncidentRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE (updated_at >= "
                ));
                q.push_bind(since.0);
                q.push(" OR state <> 'closed')");
                if !states.is_empty() {
                    q.push(" AND state IN (");
                    let mut list = q.separated(", ");
                    for s in states {
                        list.push_bind(s.to_string());
                    }
                    q.push(")");
                }
                q.push(" ORDER BY updated_at DESC, number DESC LIMIT ");
                q.push_bind(limit);
                q.build_query_as::<IncidentRow>()
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|rows| rows.into_iter().map(IncidentRecord::from).collect())
            }

            async fn open_incidents(&mut self) -> StoreResult<Vec<IncidentRecord>> {
                sqlx::query_as::<$db, IncidentRow>(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state <> 'closed' ORDER BY number"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(IncidentRecord::from).collect())
            }

            async fn incident_alert_ids(&mut self, incident_id: &str) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY linked_at, alert_id",
                )
                .bind(incident_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn incidents_of_alert(&mut self, alert_id: &str) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>("SELECT incident_id FROM incident_alerts WHERE alert_id = $1")
                    .bind(alert_id)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn incident_events(&mut self, incident_id: &str) -> StoreResult<Vec<IncidentEvent>> {
                let rows = sqlx::query_as::<$db, (String, String, i64, String, String, String)>(
                    "SELECT id, incident_id, at, actor, kind, detail FROM incident_events WHERE incident_id = $1 \
                     ORDER BY seq",
                )
                .bind(incident_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, incident_id, at, actor, kind, detail)| IncidentEvent {
                        id,
                        incident_id,
                        at: UnixMillis(at),
                        actor,
                        kind,
                        detail,
                    })
                    .collect())
            }

            async fn incident_checklist(
                &mut self,
                incident_id: &str,
            ) -> StoreResult<Vec<(String, UnixMillis, String)>> {
                let rows = sqlx::query_as::<$db, (String, i64, String)>(
                    "SELECT item, done_at, done_by FROM incident_checklist WHERE incident_id = $1 ORDER BY done_at",
                )
                .bind(incident_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|(item, at, by)| (item, UnixMillis(at), by)).collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::IncidentWrite for $handle {
            async fn insert_incident(&mut self, i: &IncidentRecord) -> StoreResult<i64> {
                let number = sqlx::query_scalar::<$db, i64>("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                sqlx::query::<$db>(&format!(
                    "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"
                ))
                .bind(&i.id)
                .bind(number)
                .bind(&i.title)
                .bind(&i.kind)
                .bind(&i.state)
                .bind(&i.severity)
                .bind(&i.description)
                .bind(&i.reported_by)
                .bind(&i.assignee_id)
                .bind(i.learned_at.0)
                .bind(i.created_at.0)
                .bind(i.updated_at.0)
                .bind(i64::from(i.data.people))
                .bind(i64::from(i.data.sensitive))
                .bind(i64::from(i.data.financial))
                .bind(i64::from(i.data.wrongful_purpose))
                .bind(i64::from(i.data.encrypted_key_safe))
                .bind(join_list(&i.client_ids))
                .bind(i.preliminary_reported_at.map(|t| t.0))
                .bind(i.final_reported_at.map(|t| t.0))
                .bind(i.people_notified_at.map(|t| t.0))
                .bind(i.clients_notified_at.map(|t| t.0))
                .bind(&i.review)
                .bind(i.closed_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(number)
            }

            async fn update_incident(&mut self, i: &IncidentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE incidents SET title = $2, kind = $3, state = $4, severity = $5, description = $6, \
                     assignee_id = $7, learned_at = $8, updated_at = $9, people = $10, sensitive = $11, \
                     financial = $12, wrongful_purpose = $13, encrypted_key_safe = $14, client_ids = $15, \
                     preliminary_reported_at = $16, final_reported_at = $17, people_notified_at = $18, \
                     clients_notified_at = $19, review = $20, closed_at = $21 WHERE id = $1",
                )
                .bind(&i.id)
                .bind(&i.title)
                .bind(&i.kind)
                .bind(&i.state)
                .bind(&i.severity)
                .bind(&i.description)
                .bind(&i.assignee_id)
                .bind(i.learned_at.0)
                .bind(i.updated_at.0)
                .bind(i64::from(i.data.people))
                .bind(i64::from(i.data.sensitive))
                .bind(i64::from(i.data.financial))
                .bind(i64::from(i.data.wrongful_purpose))
                .bind(i64::from(i.data.encrypted_key_safe))
                .bind(join_list(&i.client_ids))
                .bind(i.preliminary_reported_at.map(|t| t.0))
                .bind(i.final_reported_at.map(|t| t.0))
                .bind(i.people_notified_at.map(|t| t.0))
                .bind(i.clients_notified_at.map(|t| t.0))
                .bind(&i.review)
                .bind(i.closed_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn link_incident_alerts(
                &mut self,
                incident_id: &str,
                alert_ids: &[String],
                at: UnixMillis,
            ) -> StoreResult<u64> {
                let mut linked = 0;
                for alert in alert_ids {
                    linked += sqlx::query::<$db>(
                        "INSERT INTO incident_alerts (incident_id, alert_id, linked_at) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(incident_id)
                    .bind(alert)
                    .bind(at.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                }
                Ok(linked)
            }

            async fn insert_incident_event(&mut self, e: &IncidentEvent) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO incident_events (id, incident_id, at, actor, kind, detail, seq) VALUES ($1, $2, $3, $4, \
                     $5, $6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_events WHERE incident_id = $2))",
                )
                .bind(&e.id)
                .bind(&e.incident_id)
                .bind(e.at.0)
                .bind(&e.actor)
                .bind(&e.kind)
                .bind(&e.detail)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn set_incident_checklist_item(
                &mut self,
                incident_id: &str,
                item: &str,
                done: Option<(UnixMillis, &str)>,
            ) -> StoreResult<bool> {
                let changed = match done {
                    Some((at, by)) => sqlx::query::<$db>(
                        "INSERT INTO incident_checklist (incident_id, item, done_at, done_by) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(incident_id)
                    .bind(item)
                    .bind(at.0)
                    .bind(by)
                    .execute(self.handle.conn())
                    .await,
                    None => sqlx::query::<$db>("DELETE FROM incident_checklist WHERE incident_id = $1 AND item = $2")
                        .bind(incident_id)
                        .bind(item)
                        .execute(self.handle.conn())
                        .await,
                };
                Ok(changed.map_err(db_err)?.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use incidents_queries;
