//! The queries of one area (access-right reviews), written once for both backends: see `mod.rs`.

macro_rules! access_reviews_queries {
    ($handle:ty, $db:ty) => {
        const CAMPAIGN_COLUMNS: &str = "c.id, c.title, c.trigger_kind, c.subject_user_id, c.started_at, c.started_by, \
             c.due_at, c.escalated_at, c.finished_at, \
             (SELECT COUNT(*) FROM access_review_entries e WHERE e.campaign_id = c.id) AS entries, \
             (SELECT COUNT(*) FROM access_review_entries e WHERE e.campaign_id = c.id \
                AND e.decision IN ('approve', 'revoke')) AS decided, \
             (SELECT COUNT(*) FROM access_review_entries e WHERE e.campaign_id = c.id AND e.flag_count > 0) AS flagged";
        const ENTRY_COLUMNS: &str = "id, campaign_id, user_id, user_name, team_name, kind, item, item_name, \
             reviewers, flags, flag_count, decision, reason, decided_at, decided_by, escalated_at";
        const ENTRY_ORDER: &str = "ORDER BY flag_count DESC, user_name, user_id, kind, item_name, id";

        #[derive(sqlx::FromRow)]
        struct CampaignRow {
            id: String,
            title: String,
            trigger_kind: String,
            subject_user_id: Option<String>,
            started_at: i64,
            started_by: String,
            due_at: i64,
            escalated_at: Option<i64>,
            finished_at: Option<i64>,
            entries: i64,
            decided: i64,
            flagged: i64,
        }

        fn campaign_of(r: CampaignRow) -> AccessReviewCampaignRecord {
            AccessReviewCampaignRecord {
                id: r.id,
                title: r.title,
                trigger: r.trigger_kind,
                subject_user_id: r.subject_user_id,
                started_at: UnixMillis(r.started_at),
                started_by: r.started_by,
                due_at: UnixMillis(r.due_at),
                escalated_at: r.escalated_at.map(UnixMillis),
                finished_at: r.finished_at.map(UnixMillis),
                entries: r.entries,
                decided: r.decided,
                flagged: r.flagged,
            }
        }

        #[derive(sqlx::FromRow)]
        struct EntryRow {
            id: String,
            campaign_id: String,
            user_id: String,
            user_name: String,
            team_name: String,
            kind: String,
            item: String,
            item_name: String,
            reviewers: Option<String>,
            flags: String,
            flag_count: i64,
            decision: Option<String>,
            reason: String,
            decided_at: Option<i64>,
            decided_by: Option<String>,
            escalated_at: Option<i64>,
        }

        fn entry_of(r: EntryRow) -> AccessReviewEntryRecord {
            AccessReviewEntryRecord {
                id: r.id,
                campaign_id: r.campaign_id,
                user_id: r.user_id,
                user_name: r.user_name,
                team_name: r.team_name,
                kind: r.kind,
                item: r.item,
                item_name: r.item_name,
                reviewers: r.reviewers,
                flags: r.flags,
                flag_count: r.flag_count,
                decision: r.decision,
                reason: r.reason,
                decided_at: r.decided_at.map(UnixMillis),
                decided_by: r.decided_by,
                escalated_at: r.escalated_at.map(UnixMillis),
            }
        }

        /// `(reviewer condition, its bound value)` for a page's filter; `$2` is the value.
        fn reviewer_condition(f: &ReviewerFilter) -> (&'static str, Option<String>) {
            match f {
                ReviewerFilter::All => ("($2 IS NULL OR $2 IS NULL)", None),
                ReviewerFilter::Reviewer(id) => ("reviewers LIKE $2", Some(format!("%,{id},%"))),
                ReviewerFilter::SecurityAdmins => ("($2 IS NULL AND reviewers IS NULL)", None),
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::AccessReviewRead for $handle {
            async fn access_review_campaigns(&mut self) -> StoreResult<Vec<AccessReviewCampaignRecord>> {
                let rows = sqlx::query_as::<$db, CampaignRow>(&format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns c ORDER BY c.started_at DESC, c.id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(campaign_of).collect())
            }

            async fn access_review_campaign(
                &mut self,
                id: &str,
            ) -> StoreResult<Option<AccessReviewCampaignRecord>> {
                let row = sqlx::query_as::<$db, CampaignRow>(&format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns c WHERE c.id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(campaign_of))
            }

            async fn last_finished_access_review(&mut self) -> StoreResult<Option<AccessReviewCampaignRecord>> {
                let row = sqlx::query_as::<$db, CampaignRow>(&format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns c WHERE c.finished_at IS NOT NULL \
                     ORDER BY c.finished_at DESC, c.id LIMIT 1"
                ))
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(campaign_of))
            }

            async fn access_review_entry_page(
                &mut self,
                campaign_id: &str,
                reviewer: &ReviewerFilter,
                open_only: bool,
                offset: i64,
                limit: i64,
            ) -> StoreResult<(Vec<AccessReviewEntryRecord>, i64)> {
                let (cond, value) = reviewer_condition(reviewer);
                let open = if open_only { " AND (decision IS NULL OR decision = 'defer')" } else { "" };
                let rows = sqlx::query_as::<$db, EntryRow>(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM access_review_entries WHERE campaign_id = $1 AND {cond}{open} \
                     {ENTRY_ORDER} LIMIT $3 OFFSET $4"
                ))
                .bind(campaign_id)
                .bind(value.clone())
                .bind(limit)
                .bind(offset)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let total = sqlx::query_scalar::<$db, i64>(&format!(
                    "SELECT COUNT(*) FROM access_review_entries WHERE campaign_id = $1 AND {cond}{open}"
                ))
                .bind(campaign_id)
                .bind(value)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok((rows.into_iter().map(entry_of).collect(), total))
            }

            async fn access_review_entries(
                &mut self,
                campaign_id: &str,
            ) -> StoreResult<Vec<AccessReviewEntryRecord>> {
                let rows = sqlx::query_as::<$db, EntryRow>(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM access_review_entries WHERE campaign_id = $1 {ENTRY_ORDER}"
                ))
                .bind(campaign_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(entry_of).collect())
            }

            async fn access_review_entry(&mut self, id: &str) -> StoreResult<Option<AccessReviewEntryRecord>> {
                let row = sqlx::query_as::<$db, EntryRow>(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM access_review_entries WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(entry_of))
            }

            async fn access_review_progress(&mut self, campaign_id: &str) -> StoreResult<Vec<ReviewerProgress>> {
                let rows = sqlx::query_as::<$db, (Option<String>, i64, i64, i64, i64)>(
                    "SELECT reviewers, COUNT(*), \
                     SUM(CASE WHEN decision IN ('approve', 'revoke') THEN 1 ELSE 0 END), \
                     SUM(CASE WHEN decision = 'defer' THEN 1 ELSE 0 END), \
                     SUM(CASE WHEN flag_count > 0 THEN 1 ELSE 0 END) \
                     FROM access_review_entries WHERE campaign_id = $1 GROUP BY reviewers",
                )
                .bind(campaign_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(reviewers, entries, decided, deferred, flagged)| ReviewerProgress {
                        reviewers,
                        entries,
                        decided,
                        deferred,
                        flagged,
                    })
                    .collect())
            }

            async fn access_reviews_overdue(
                &mut self,
                now: UnixMillis,
            ) -> StoreResult<Vec<AccessReviewCampaignRecord>> {
                let rows = sqlx::query_as::<$db, CampaignRow>(&format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM access_review_campaigns c WHERE c.finished_at IS NULL \
                     AND c.escalated_at IS NULL AND c.due_at <= $1 ORDER BY c.due_at, c.id"
                ))
                .bind(now.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(campaign_of).collect())
            }

            async fn users_with_security_event_since(
                &mut self,
                kind: &str,
                since: UnixMillis,
            ) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT DISTINCT user_id FROM security_events WHERE kind = $1 AND created_at >= $2 \
                     AND user_id IS NOT NULL",
                )
                .bind(kind)
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::AccessReviewWrite for $handle {
            async fn insert_access_review_campaign(&mut self, c: &AccessReviewCampaignRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO access_review_campaigns (id, title, trigger_kind, subject_user_id, started_at, \
                     started_by, due_at, escalated_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&c.id)
                .bind(&c.title)
                .bind(&c.trigger)
                .bind(&c.subject_user_id)
                .bind(c.started_at.0)
                .bind(&c.started_by)
                .bind(c.due_at.0)
                .bind(c.escalated_at.map(|t| t.0))
                .bind(c.finished_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_access_review_entries(
                &mut self,
                entries: &[AccessReviewEntryRecord],
            ) -> StoreResult<()> {
                // 16 columns: 60 rows stay under SQLite's 999 bound parameters (older builds).
                for chunk in entries.chunks(60) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                        "INSERT INTO access_review_entries ({ENTRY_COLUMNS}) "
                    ));
                    q.push_values(chunk, |mut row, e| {
                        row.push_bind(e.id.clone())
                            .push_bind(e.campaign_id.clone())
                            .push_bind(e.user_id.clone())
                            .push_bind(e.user_name.clone())
                            .push_bind(e.team_name.clone())
                            .push_bind(e.kind.clone())
                            .push_bind(e.item.clone())
                            .push_bind(e.item_name.clone())
                            .push_bind(e.reviewers.clone())
                            .push_bind(e.flags.clone())
                            .push_bind(e.flag_count)
                            .push_bind(e.decision.clone())
                            .push_bind(e.reason.clone())
                            .push_bind(e.decided_at.map(|t| t.0))
                            .push_bind(e.decided_by.clone())
                            .push_bind(e.escalated_at.map(|t| t.0));
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn decide_access_review_entry(
                &mut self,
                id: &str,
                decision: &str,
                reason: &str,
                at: UnixMillis,
                by: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE access_review_entries SET decision = $2, reason = $3, decided_at = $4, decided_by = $5 \
                     WHERE id = $1 AND (decision IS NULL OR decision = 'defer') AND campaign_id IN \
                     (SELECT id FROM access_review_campaigns WHERE finished_at IS NULL)",
                )
                .bind(id)
                .bind(decision)
                .bind(reason)
                .bind(at.0)
                .bind(by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn escalate_access_review_entry(&mut self, id: &str, at: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE access_review_entries SET reviewers = NULL, escalated_at = $2 \
                     WHERE id = $1 AND (decision IS NULL OR decision = 'defer') AND campaign_id IN \
                     (SELECT id FROM access_review_campaigns WHERE finished_at IS NULL)",
                )
                .bind(id)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn escalate_access_review_campaign(&mut self, id: &str, at: UnixMillis) -> StoreResult<u64> {
                let marked = sqlx::query::<$db>(
                    "UPDATE access_review_campaigns SET escalated_at = $2 \
                     WHERE id = $1 AND escalated_at IS NULL AND finished_at IS NULL",
                )
                .bind(id)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                if marked.rows_affected() == 0 {
                    return Ok(0);
                }
                let moved = sqlx::query::<$db>(
                    "UPDATE access_review_entries SET escalated_at = $2, reviewers = NULL \
                     WHERE campaign_id = $1 AND (decision IS NULL OR decision = 'defer') \
                     AND (reviewers IS NOT NULL OR escalated_at IS NULL)",
                )
                .bind(id)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(moved.rows_affected())
            }

            async fn finish_access_review_campaign_if_done(
                &mut self,
                id: &str,
                at: UnixMillis,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE access_review_campaigns SET finished_at = $2 WHERE id = $1 AND finished_at IS NULL \
                     AND NOT EXISTS (SELECT 1 FROM access_review_entries e WHERE e.campaign_id = $1 \
                       AND (e.decision IS NULL OR e.decision = 'defer'))",
                )
                .bind(id)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(crate) use access_reviews_queries;
