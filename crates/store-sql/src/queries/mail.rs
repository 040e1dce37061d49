//! The queries of one area (outgoing mail), written once for both backends: see `mod.rs`.

macro_rules! mail_queries {
    ($handle:ty, $db:ty) => {
        const MAIL_COLUMNS: &str = "id, sender_id, kind, envelope_from, recipients, findings, summary, size, state, \
                                    reason, approval_id, created_at, confirm_after, hold_until, attempts, next_at, \
                                    last_error, closed_at";

        #[async_trait::async_trait]
        impl mamori_store::MailRead for $handle {
            async fn outgoing_mail(&mut self, id: &str) -> StoreResult<Option<OutgoingMail>> {
                sqlx::query_as::<$db, OutgoingMailRow>(&format!("SELECT {MAIL_COLUMNS} FROM outgoing_mail WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|r| r.map(OutgoingMail::from))
            }

            async fn outgoing_mail_message(&mut self, id: &str) -> StoreResult<Option<Vec<u8>>> {
                sqlx::query_scalar::<$db, Vec<u8>>("SELECT message FROM outgoing_mail WHERE id = $1")
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn outgoing_mails_of(&mut self, sender_id: &str, limit: i64) -> StoreResult<Vec<OutgoingMail>> {
                sqlx::query_as::<$db, OutgoingMailRow>(&format!(
                    "SELECT {MAIL_COLUMNS} FROM outgoing_mail WHERE sender_id = $1 AND kind = 'mail' \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(sender_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(OutgoingMail::from).collect())
            }

            async fn outgoing_mails_in(&mut self, state: &str, limit: i64) -> StoreResult<Vec<OutgoingMail>> {
                sqlx::query_as::<$db, OutgoingMailRow>(&format!(
                    "SELECT {MAIL_COLUMNS} FROM outgoing_mail WHERE state = $1 ORDER BY created_at, id LIMIT $2"
                ))
                .bind(state)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(OutgoingMail::from).collect())
            }

            async fn held_mails_past(&mut self, now: UnixMillis, limit: i64) -> StoreResult<Vec<OutgoingMail>> {
                sqlx::query_as::<$db, OutgoingMailRow>(&format!(
                    "SELECT {MAIL_COLUMNS} FROM outgoing_mail WHERE state = 'held' AND hold_until <= $1 \
                     ORDER BY hold_until, id LIMIT $2"
                ))
                .bind(now.0)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(OutgoingMail::from).collect())
            }

            async fn mails_with_decided_requests(&mut self, limit: i64) -> StoreResult<Vec<OutgoingMail>> {
                let columns = MAIL_COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
                sqlx::query_as::<$db, OutgoingMailRow>(&format!(
                    "SELECT {columns} FROM outgoing_mail m JOIN approvals a ON a.id = m.approval_id \
                     WHERE m.state = 'awaiting_approval' AND a.state <> 'pending' ORDER BY m.created_at, m.id LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(OutgoingMail::from).collect())
            }

            async fn mail_password_digest(&mut self, user_id: &str) -> StoreResult<Option<String>> {
                sqlx::query_scalar::<$db, String>("SELECT digest FROM mail_passwords WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn mail_file_link(&mut self, token_digest: &str) -> StoreResult<Option<mamori_store::MailFileLink>> {
                let row = sqlx::query_as::<$db, (String, String, String, String, String, i64, Vec<u8>, i64, i64, i64)>(
                    "SELECT id, mail_id, token_digest, name, content_type, size, sealed, expires_at, downloads_left, \
                     created_at FROM mail_attachment_links WHERE token_digest = $1",
                )
                .bind(token_digest)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(|r| mamori_store::MailFileLink {
                    id: r.0,
                    mail_id: r.1,
                    token_digest: r.2,
                    name: r.3,
                    content_type: r.4,
                    size: r.5,
                    sealed: r.6,
                    expires_at: UnixMillis(r.7),
                    downloads_left: r.8,
                    created_at: UnixMillis(r.9),
                }))
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::MailWrite for $handle {
            async fn insert_outgoing_mail(&mut self, m: &OutgoingMail, sealed_message: &[u8]) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO outgoing_mail (id, sender_id, kind, envelope_from, recipients, findings, summary, message, \
                     size, state, reason, approval_id, created_at, confirm_after, hold_until, attempts, next_at, last_error, \
                     closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                )
                .bind(&m.id)
                .bind(&m.sender_id)
                .bind(&m.kind)
                .bind(&m.envelope_from)
                .bind(&m.recipients)
                .bind(&m.findings)
                .bind(&m.summary)
                .bind(sealed_message)
                .bind(m.size)
                .bind(&m.state)
                .bind(&m.reason)
                .bind(&m.approval_id)
                .bind(m.created_at.0)
                .bind(m.confirm_after.0)
                .bind(m.hold_until.0)
                .bind(m.attempts)
                .bind(m.next_at.0)
                .bind(&m.last_error)
                .bind(m.closed_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn move_outgoing_mail(&mut self, id: &str, from: &str, to: &MailMove) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE outgoing_mail SET state = $1, reason = COALESCE($2, reason), \
                     approval_id = COALESCE($3, approval_id), closed_at = $4, next_at = $5, claimed_until = NULL \
                     WHERE id = $6 AND state = $7",
                )
                .bind(&to.to)
                .bind(&to.reason)
                .bind(&to.approval_id)
                .bind(to.closed.then_some(to.at.0))
                .bind(to.at.0)
                .bind(id)
                .bind(from)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_outgoing_mails(
                &mut self,
                now: UnixMillis,
                until: UnixMillis,
                limit: i64,
            ) -> StoreResult<Vec<OutgoingMail>> {
                let due: Vec<OutgoingMail> = sqlx::query_as::<$db, OutgoingMailRow>(&format!(
                    "SELECT {MAIL_COLUMNS} FROM outgoing_mail WHERE state = 'released' AND next_at <= $1 \
                     AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY next_at, id LIMIT $2"
                ))
                .bind(now.0)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(OutgoingMail::from)
                .collect();
                let mut claimed = Vec::with_capacity(due.len());
                for m in due {
                    // Another replica may have claimed it since the read.
                    let done = sqlx::query::<$db>(
                        "UPDATE outgoing_mail SET claimed_until = $1 WHERE id = $2 AND state = 'released' \
                         AND (claimed_until IS NULL OR claimed_until < $3)",
                    )
                    .bind(until.0)
                    .bind(&m.id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 1 {
                        claimed.push(m);
                    }
                }
                Ok(claimed)
            }

            async fn insert_mail_notification(&mut self, n: &MailNotification) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "INSERT INTO mail_notifications (id, reminder, subject, body, created_at, attempts, next_at, recipients) \
                     VALUES ($1, $2, $3, $4, $5, 0, $6, $7) ON CONFLICT (reminder) DO NOTHING",
                )
                .bind(&n.id)
                .bind(&n.reminder)
                .bind(&n.subject)
                .bind(&n.body)
                .bind(n.created_at.0)
                .bind(n.next_at.0)
                .bind(n.recipients.join(","))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_mail_notifications(
                &mut self,
                now: UnixMillis,
                until: UnixMillis,
                max_attempts: i64,
                limit: i64,
            ) -> StoreResult<Vec<MailNotification>> {
                let due = sqlx::query_as::<$db, (String, String, String, String, i64, i64, i64, Option<String>, String)>(
                    "SELECT id, reminder, subject, body, created_at, attempts, next_at, last_error, recipients \
                     FROM mail_notifications \
                     WHERE sent_at IS NULL AND next_at <= $1 AND attempts < $2 ORDER BY next_at, id LIMIT $3",
                )
                .bind(now.0)
                .bind(max_attempts)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let mut claimed = Vec::with_capacity(due.len());
                for r in due {
                    // Moving `next_at` ahead is the claim: another replica sees it not due.
                    let done = sqlx::query::<$db>(
                        "UPDATE mail_notifications SET next_at = $1 WHERE id = $2 AND sent_at IS NULL AND next_at <= $3",
                    )
                    .bind(until.0)
                    .bind(&r.0)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 1 {
                        claimed.push(MailNotification {
                            id: r.0,
                            reminder: r.1,
                            subject: r.2,
                            body: r.3,
                            created_at: UnixMillis(r.4),
                            attempts: r.5,
                            next_at: until,
                            last_error: r.7,
                            sent_at: None,
                            recipients: crate::rows::split_list(&r.8).map(str::to_owned).collect(),
                        });
                    }
                }
                Ok(claimed)
            }

            async fn record_mail_notification(
                &mut self,
                id: &str,
                outcome: Result<UnixMillis, (UnixMillis, &str)>,
            ) -> StoreResult<()> {
                let q = match outcome {
                    Ok(at) => sqlx::query::<$db>(
                        "UPDATE mail_notifications SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2",
                    )
                    .bind(at.0)
                    .bind(id),
                    Err((next_at, error)) => sqlx::query::<$db>(
                        "UPDATE mail_notifications SET next_at = $1, attempts = attempts + 1, last_error = $2 WHERE id = $3",
                    )
                    .bind(next_at.0)
                    .bind(error.to_owned())
                    .bind(id),
                };
                q.execute(self.handle.conn()).await.map_err(db_err)?;
                Ok(())
            }

            async fn record_mail_attempt(
                &mut self,
                id: &str,
                attempts: i64,
                next_at: UnixMillis,
                error: &str,
            ) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE outgoing_mail SET attempts = $1, next_at = $2, last_error = $3, claimed_until = NULL WHERE id = $4",
                )
                .bind(attempts)
                .bind(next_at.0)
                .bind(error)
                .bind(id)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn set_mail_password_digest(&mut self, user_id: &str, digest: &str, at: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO mail_passwords (user_id, digest, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET digest = excluded.digest, created_at = excluded.created_at",
                )
                .bind(user_id)
                .bind(digest)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn replace_outgoing_mail_message(&mut self, id: &str, sealed_message: &[u8]) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE outgoing_mail SET message = $1 WHERE id = $2")
                    .bind(sealed_message)
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(())
            }

            async fn insert_mail_file_link(&mut self, l: &mamori_store::MailFileLink) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO mail_attachment_links (id, mail_id, token_digest, name, content_type, size, sealed, \
                     expires_at, downloads_left, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&l.id)
                .bind(&l.mail_id)
                .bind(&l.token_digest)
                .bind(&l.name)
                .bind(&l.content_type)
                .bind(l.size)
                .bind(&l.sealed)
                .bind(l.expires_at.0)
                .bind(l.downloads_left)
                .bind(l.created_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn take_mail_file_download(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool> {
                // One statement decides: two downloads of the last one left (on any replica)
                // cannot both take it.
                let done = sqlx::query::<$db>(
                    "UPDATE mail_attachment_links SET downloads_left = downloads_left - 1 \
                     WHERE id = $1 AND downloads_left > 0 AND expires_at > $2",
                )
                .bind(id)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn forget_mail_files(&mut self, now: UnixMillis) -> StoreResult<u64> {
                let done = sqlx::query::<$db>(
                    "UPDATE mail_attachment_links SET sealed = $1 \
                     WHERE (expires_at <= $2 OR downloads_left <= 0) AND length(sealed) > 0",
                )
                .bind(Vec::<u8>::new())
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use mail_queries;
