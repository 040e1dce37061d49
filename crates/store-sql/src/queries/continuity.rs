//! The queries of one area (business continuity), written once for both backends: see `mod.rs`.

macro_rules! continuity_queries {
    ($handle:ty, $db:ty) => {
        const CONTINUITY_PLAN_COLUMNS: &str = "id, version, scenario, title, steps, owner_id, contacts, \
                                               drill_every_months, created_on, retired_at, changed_at, changed_by";
        const CONTINUITY_DRILL_COLUMNS: &str =
            "id, plan_id, held_on, participants, result, findings, actions, recorded_at, recorded_by";

        #[derive(sqlx::FromRow)]
        struct ContinuityPlanRow {
            id: String,
            version: i64,
            scenario: String,
            title: String,
            steps: String,
            owner_id: String,
            contacts: String,
            drill_every_months: i64,
            created_on: String,
            retired_at: Option<i64>,
            changed_at: i64,
            changed_by: String,
        }

        fn continuity_plan_of(r: ContinuityPlanRow) -> mamori_store::ContinuityPlanRecord {
            mamori_store::ContinuityPlanRecord {
                id: r.id,
                version: r.version,
                scenario: r.scenario,
                title: r.title,
                steps: r.steps,
                owner_id: r.owner_id,
                contacts: r.contacts,
                drill_every_months: r.drill_every_months,
                created_on: r.created_on,
                retired_at: r.retired_at.map(UnixMillis),
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }

        #[derive(sqlx::FromRow)]
        struct ContinuityDrillRow {
            id: String,
            plan_id: String,
            held_on: String,
            participants: String,
            result: String,
            findings: String,
            actions: String,
            recorded_at: i64,
            recorded_by: String,
        }

        #[async_trait::async_trait]
        impl mamori_store::ContinuityRead for $handle {
            async fn continuity_plans(
                &mut self,
                include_retired: bool,
            ) -> StoreResult<Vec<mamori_store::ContinuityPlanRecord>> {
                let filter = if include_retired { "" } else { "WHERE retired_at IS NULL " };
                let rows = sqlx::query_as::<$db, ContinuityPlanRow>(&format!(
                    "SELECT {CONTINUITY_PLAN_COLUMNS} FROM continuity_plans {filter}ORDER BY scenario, title, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(continuity_plan_of).collect())
            }

            async fn continuity_plan(&mut self, id: &str) -> StoreResult<Option<mamori_store::ContinuityPlanRecord>> {
                let row = sqlx::query_as::<$db, ContinuityPlanRow>(&format!(
                    "SELECT {CONTINUITY_PLAN_COLUMNS} FROM continuity_plans WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(continuity_plan_of))
            }

            async fn continuity_plan_history(
                &mut self,
                id: &str,
            ) -> StoreResult<Vec<mamori_store::ContinuityPlanRecord>> {
                let rows = sqlx::query_as::<$db, ContinuityPlanRow>(&format!(
                    "SELECT {CONTINUITY_PLAN_COLUMNS} FROM continuity_plan_versions WHERE id = $1 \
                     ORDER BY version DESC"
                ))
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(continuity_plan_of).collect())
            }

            async fn continuity_drills(&mut self) -> StoreResult<Vec<mamori_store::ContinuityDrillRecord>> {
                let rows = sqlx::query_as::<$db, ContinuityDrillRow>(&format!(
                    "SELECT {CONTINUITY_DRILL_COLUMNS} FROM continuity_drills \
                     ORDER BY held_on DESC, recorded_at DESC, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| mamori_store::ContinuityDrillRecord {
                        id: r.id,
                        plan_id: r.plan_id,
                        held_on: r.held_on,
                        participants: r.participants,
                        result: r.result,
                        findings: r.findings,
                        actions: r.actions,
                        recorded_at: UnixMillis(r.recorded_at),
                        recorded_by: r.recorded_by,
                    })
                    .collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::ContinuityWrite for $handle {
            async fn put_continuity_plan(&mut self, p: &mamori_store::ContinuityPlanRecord) -> StoreResult<()> {
                for (table, upsert) in [
                    ("continuity_plan_versions", ""),
                    (
                        "continuity_plans",
                        " ON CONFLICT (id) DO UPDATE SET version = excluded.version, scenario = excluded.scenario, \
                         title = excluded.title, steps = excluded.steps, owner_id = excluded.owner_id, \
                         contacts = excluded.contacts, drill_every_months = excluded.drill_every_months, \
                         retired_at = excluded.retired_at, changed_at = excluded.changed_at, \
                         changed_by = excluded.changed_by",
                    ),
                ] {
                    sqlx::query::<$db>(&format!(
                        "INSERT INTO {table} ({CONTINUITY_PLAN_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12){upsert}"
                    ))
                    .bind(&p.id)
                    .bind(p.version)
                    .bind(&p.scenario)
                    .bind(&p.title)
                    .bind(&p.steps)
                    .bind(&p.owner_id)
                    .bind(&p.contacts)
                    .bind(p.drill_every_months)
                    .bind(&p.created_on)
                    .bind(p.retired_at.map(|t| t.0))
                    .bind(p.changed_at.0)
                    .bind(&p.changed_by)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(())
            }

            async fn insert_continuity_drill(&mut self, d: &mamori_store::ContinuityDrillRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO continuity_drills ({CONTINUITY_DRILL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&d.id)
                .bind(&d.plan_id)
                .bind(&d.held_on)
                .bind(&d.participants)
                .bind(&d.result)
                .bind(&d.findings)
                .bind(&d.actions)
                .bind(d.recorded_at.0)
                .bind(&d.recorded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}

pub(crate) use continuity_queries;
