//! The queries of one area (approvals), written once for both backends: see `mod.rs`.

macro_rules! approvals_queries {
    ($handle:ty, $db:ty) => {
        const APPROVAL_COLUMNS: &str = "id, kind, requester_id, requester_team, content, digest, reason, state, \
                                        created_at, decide_by, closed_at, grant_expires_at";
        const NOTIFICATION_COLUMNS: &str = "id, subject, event, payload, created_at, status, attempts, next_at, \
                                            last_error, delivered_at";

        #[async_trait::async_trait]
        impl mamori_store::ApprovalRead for $handle {
            async fn approval(&mut self, id: &str) -> StoreResult<Option<ApprovalRecord>> {
                sqlx::query_as::<$db, ApprovalRow>(&format!("SELECT {APPROVAL_COLUMNS} FROM approvals WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(ApprovalRecord::try_from)
                    .transpose()
            }

            async fn pending_approvals(&mut self, limit: i64) -> StoreResult<Vec<ApprovalRecord>> {
                sqlx::query_as::<$db, ApprovalRow>(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE state = 'pending' ORDER BY created_at, id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(ApprovalRecord::try_from)
                .collect()
            }

            async fn approvals_of(&mut self, requester_id: &str, limit: i64) -> StoreResult<Vec<ApprovalRecord>> {
                sqlx::query_as::<$db, ApprovalRow>(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE requester_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(requester_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(ApprovalRecord::try_from)
                .collect()
            }

            async fn take_out_grants(&mut self, since: UnixMillis) -> StoreResult<Vec<ApprovalRecord>> {
                sqlx::query_as::<$db, ApprovalRow>(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE kind = 'take_out' AND grant_expires_at IS NOT NULL \
                     AND (state IN ('granted', 'expired') OR grant_expires_at >= $1) ORDER BY grant_expires_at, id"
                ))
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(ApprovalRecord::try_from)
                .collect()
            }

            async fn notifications_due(&mut self, now: UnixMillis) -> StoreResult<bool> {
                sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM webhook_notifications WHERE status = 'pending' AND next_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1) AS due",
                )
                .bind(now.0)
                .fetch_one(self.handle.conn())
                .await
                .map(|n| n > 0)
                .map_err(db_err)
            }

            async fn webhook_notifications(&mut self, limit: i64) -> StoreResult<Vec<WebhookNotification>> {
                sqlx::query_as::<$db, NotificationRow>(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM webhook_notifications ORDER BY created_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(WebhookNotification::from).collect())
            }

            async fn approval_decisions(&mut self, approval_id: &str) -> StoreResult<Vec<ApprovalDecision>> {
                Ok(sqlx::query_as::<$db, ApprovalDecisionRow>(
                    "SELECT approval_id, decider_id, approve, at, comment FROM approval_decisions \
                     WHERE approval_id = $1 ORDER BY at, decider_id",
                )
                .bind(approval_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(ApprovalDecision::from)
                .collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::ApprovalWrite for $handle {
            async fn insert_approval(&mut self, a: &ApprovalRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO approvals ({APPROVAL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(&a.id)
                .bind(a.kind.as_str())
                .bind(&a.requester_id)
                .bind(&a.requester_team)
                .bind(&a.content)
                .bind(&a.digest)
                .bind(&a.reason)
                .bind(a.state.as_str())
                .bind(a.created_at.0)
                .bind(a.decide_by.0)
                .bind(a.closed_at.map(|t| t.0))
                .bind(a.grant_expires_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn insert_approval_decision(&mut self, d: &ApprovalDecision) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO approval_decisions (approval_id, decider_id, approve, at, comment) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&d.approval_id)
                .bind(&d.decider_id)
                .bind(d.approve)
                .bind(d.at.0)
                .bind(&d.comment)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn move_approval(
                &mut self,
                id: &str,
                from: ApprovalState,
                to: ApprovalState,
                at: UnixMillis,
                grant_expires_at: Option<UnixMillis>,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE approvals SET state = $1, closed_at = CASE WHEN $1 = 'granted' THEN closed_at ELSE $2 END, \
                     grant_expires_at = COALESCE($3, grant_expires_at) WHERE id = $4 AND state = $5",
                )
                .bind(to.as_str())
                .bind(at.0)
                .bind(grant_expires_at.map(|t| t.0))
                .bind(id)
                .bind(from.as_str())
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn use_approval_grant(&mut self, id: &str, digest: &str, now: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE approvals SET state = 'used', closed_at = $1 \
                     WHERE id = $2 AND state = 'granted' AND digest = $3 AND grant_expires_at > $1",
                )
                .bind(now.0)
                .bind(id)
                .bind(digest)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_webhook_notification(&mut self, n: &WebhookNotification) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO webhook_notifications (id, subject, event, payload, created_at, status, attempts, next_at, last_error, delivered_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&n.id)
                .bind(&n.subject)
                .bind(&n.event)
                .bind(&n.payload)
                .bind(n.created_at.0)
                .bind(&n.status)
                .bind(n.attempts)
                .bind(n.next_at.0)
                .bind(&n.last_error)
                .bind(n.delivered_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn claim_webhook_notifications(
                &mut self,
                now: UnixMillis,
                until: UnixMillis,
                limit: i64,
            ) -> StoreResult<Vec<WebhookNotification>> {
                let due: Vec<WebhookNotification> = sqlx::query_as::<$db, NotificationRow>(&format!(
                    "SELECT {NOTIFICATION_COLUMNS} FROM webhook_notifications WHERE status = 'pending' AND next_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_at, id LIMIT $2"
                ))
                .bind(now.0)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(WebhookNotification::from)
                .collect();
                let mut claimed = Vec::with_capacity(due.len());
                for n in due {
                    // Another replica may have claimed it since the read.
                    let done = sqlx::query::<$db>(
                        "UPDATE webhook_notifications SET claimed_until = $1 WHERE id = $2 AND status = 'pending' \
                         AND (claimed_until IS NULL OR claimed_until < $3)",
                    )
                    .bind(until.0)
                    .bind(&n.id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 1 {
                        claimed.push(n);
                    }
                }
                Ok(claimed)
            }

            async fn record_notification_attempt(
                &mut self,
                id: &str,
                status: &str,
                attempts: i64,
                next_at: UnixMillis,
                error: Option<&str>,
                delivered_at: Option<UnixMillis>,
            ) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE webhook_notifications SET status = $1, attempts = $2, next_at = $3, last_error = COALESCE($4, last_error), \
                     delivered_at = $5, claimed_until = NULL WHERE id = $6",
                )
                .bind(status)
                .bind(attempts)
                .bind(next_at.0)
                .bind(error)
                .bind(delivered_at.map(|t| t.0))
                .bind(id)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn expire_approvals(&mut self, now: UnixMillis) -> StoreResult<Vec<ApprovalRecord>> {
                let due: Vec<ApprovalRecord> = sqlx::query_as::<$db, ApprovalRow>(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE (state = 'pending' AND decide_by < $1) \
                     OR (state = 'granted' AND grant_expires_at <= $1)"
                ))
                .bind(now.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(ApprovalRecord::try_from)
                .collect::<StoreResult<_>>()?;
                let mut expired = Vec::with_capacity(due.len());
                for a in due {
                    if self.move_approval(&a.id, a.state, ApprovalState::Expired, now, None).await? {
                        expired.push(a);
                    }
                }
                Ok(expired)
            }
        }
    };
}

pub(crate) use approvals_queries;
