//! The queries of one area (internal audits), written once for both backends: see `mod.rs`.

macro_rules! internal_audits_queries {
    ($handle:ty, $db:ty) => {
        const INTERNAL_AUDIT_COLUMNS: &str =
            "id, number, title, scope, controls, auditor_id, planned_on, held_on, report, changed_at, changed_by";
        const AUDIT_FINDING_COLUMNS: &str = "id, audit_id, number, kind, control_urn, description, state, root_cause, \
                                             corrective_action, owner_id, due_on, created_at, created_by, changed_at";

        #[derive(sqlx::FromRow)]
        struct InternalAuditRow {
            id: String,
            number: i64,
            title: String,
            scope: String,
            controls: String,
            auditor_id: String,
            planned_on: String,
            held_on: Option<String>,
            report: String,
            changed_at: i64,
            changed_by: String,
        }

        fn internal_audit_of(r: InternalAuditRow) -> mamori_store::InternalAuditRecord {
            mamori_store::InternalAuditRecord {
                id: r.id,
                number: r.number,
                title: r.title,
                scope: r.scope,
                controls: r.controls,
                auditor_id: r.auditor_id,
                planned_on: r.planned_on,
                held_on: r.held_on,
                report: r.report,
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }

        #[derive(sqlx::FromRow)]
        struct AuditFindingRow {
            id: String,
            audit_id: String,
            number: i64,
            kind: String,
            control_urn: Option<String>,
            description: String,
            state: String,
            root_cause: String,
            corrective_action: String,
            owner_id: Option<String>,
            due_on: Option<String>,
            created_at: i64,
            created_by: String,
            changed_at: i64,
        }

        fn audit_finding_of(r: AuditFindingRow) -> mamori_store::AuditFindingRecord {
            mamori_store::AuditFindingRecord {
                id: r.id,
                audit_id: r.audit_id,
                number: r.number,
                kind: r.kind,
                control_urn: r.control_urn,
                description: r.description,
                state: r.state,
                root_cause: r.root_cause,
                corrective_action: r.corrective_action,
                owner_id: r.owner_id,
                due_on: r.due_on,
                created_at: UnixMillis(r.created_at),
                created_by: r.created_by,
                changed_at: UnixMillis(r.changed_at),
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::InternalAuditRead for $handle {
            async fn internal_audits(&mut self) -> StoreResult<Vec<mamori_store::InternalAuditRecord>> {
                let rows = sqlx::query_as::<$db, InternalAuditRow>(&format!(
                    "SELECT {INTERNAL_AUDIT_COLUMNS} FROM internal_audits ORDER BY planned_on DESC, number DESC"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(internal_audit_of).collect())
            }

            async fn internal_audit(&mut self, id: &str) -> StoreResult<Option<mamori_store::InternalAuditRecord>> {
                let row = sqlx::query_as::<$db, InternalAuditRow>(&format!(
                    "SELECT {INTERNAL_AUDIT_COLUMNS} FROM internal_audits WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(internal_audit_of))
            }

            async fn audit_findings(&mut self) -> StoreResult<Vec<mamori_store::AuditFindingRecord>> {
                let rows = sqlx::query_as::<$db, AuditFindingRow>(&format!(
                    "SELECT {AUDIT_FINDING_COLUMNS} FROM audit_findings ORDER BY number"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(audit_finding_of).collect())
            }

            async fn audit_finding(&mut self, id: &str) -> StoreResult<Option<mamori_store::AuditFindingRecord>> {
                let row = sqlx::query_as::<$db, AuditFindingRow>(&format!(
                    "SELECT {AUDIT_FINDING_COLUMNS} FROM audit_findings WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(audit_finding_of))
            }

            async fn finding_steps(&mut self, finding_id: &str) -> StoreResult<Vec<mamori_store::FindingStepRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, String, String, String)>(
                    "SELECT finding_id, at, step, state, actor, note FROM audit_finding_steps \
                     WHERE finding_id = $1 ORDER BY at",
                )
                .bind(finding_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(finding_id, at, step, state, actor, note)| mamori_store::FindingStepRecord {
                        finding_id,
                        at: UnixMillis(at),
                        step,
                        state,
                        actor,
                        note,
                    })
                    .collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::InternalAuditWrite for $handle {
            async fn insert_internal_audit(&mut self, a: &mamori_store::InternalAuditRecord) -> StoreResult<i64> {
                // Two at once may draw the same number: the UNIQUE constraint refuses the second
                // (a conflict the caller reports as such).
                let number: i64 = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(number), 0) + 1 FROM internal_audits",
                )
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                sqlx::query::<$db>(&format!(
                    "INSERT INTO internal_audits ({INTERNAL_AUDIT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ))
                .bind(&a.id)
                .bind(number)
                .bind(&a.title)
                .bind(&a.scope)
                .bind(&a.controls)
                .bind(&a.auditor_id)
                .bind(&a.planned_on)
                .bind(&a.held_on)
                .bind(&a.report)
                .bind(a.changed_at.0)
                .bind(&a.changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(number)
            }

            async fn update_internal_audit(&mut self, a: &mamori_store::InternalAuditRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE internal_audits SET title = $2, scope = $3, controls = $4, auditor_id = $5, \
                     planned_on = $6, held_on = $7, report = $8, changed_at = $9, changed_by = $10 WHERE id = $1",
                )
                .bind(&a.id)
                .bind(&a.title)
                .bind(&a.scope)
                .bind(&a.controls)
                .bind(&a.auditor_id)
                .bind(&a.planned_on)
                .bind(&a.held_on)
                .bind(&a.report)
                .bind(a.changed_at.0)
                .bind(&a.changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_audit_finding(&mut self, f: &mamori_store::AuditFindingRecord) -> StoreResult<i64> {
                let number: i64 = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(number), 0) + 1 FROM audit_findings",
                )
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                sqlx::query::<$db>(&format!(
                    "INSERT INTO audit_findings ({AUDIT_FINDING_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                ))
                .bind(&f.id)
                .bind(&f.audit_id)
                .bind(number)
                .bind(&f.kind)
                .bind(&f.control_urn)
                .bind(&f.description)
                .bind(&f.state)
                .bind(&f.root_cause)
                .bind(&f.corrective_action)
                .bind(&f.owner_id)
                .bind(&f.due_on)
                .bind(f.created_at.0)
                .bind(&f.created_by)
                .bind(f.changed_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(number)
            }

            async fn move_audit_finding(
                &mut self,
                f: &mamori_store::AuditFindingRecord,
                from: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE audit_findings SET state = $2, root_cause = $3, corrective_action = $4, owner_id = $5, \
                     due_on = $6, changed_at = $7 WHERE id = $1 AND state = $8",
                )
                .bind(&f.id)
                .bind(&f.state)
                .bind(&f.root_cause)
                .bind(&f.corrective_action)
                .bind(&f.owner_id)
                .bind(&f.due_on)
                .bind(f.changed_at.0)
                .bind(from)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_finding_step(&mut self, s: &mamori_store::FindingStepRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO audit_finding_steps (finding_id, at, step, state, actor, note) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&s.finding_id)
                .bind(s.at.0)
                .bind(&s.step)
                .bind(&s.state)
                .bind(&s.actor)
                .bind(&s.note)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}

pub(crate) use internal_audits_queries;
