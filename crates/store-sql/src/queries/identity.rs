//! The queries of one area (identity), written once for both backends: see `mod.rs`.

macro_rules! identity_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::IdentityRead for $handle {
            async fn count_users(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM users")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn user_by_id(&mut self, id: &str) -> StoreResult<Option<UserRecord>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                sqlx::query_as::<$db, UserRow>(&sql)
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(UserRecord::try_from)
                    .transpose()
            }

            async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRecord>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
                sqlx::query_as::<$db, UserRow>(&sql)
                    .bind(username)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(UserRecord::try_from)
                    .transpose()
            }

            async fn list_users(&mut self) -> StoreResult<Vec<UserRecord>> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
                sqlx::query_as::<$db, UserRow>(&sql)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(UserRecord::try_from)
                    .collect()
            }

            async fn password_history(&mut self, id: &str, limit: i64) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT hash FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2",
                )
                .bind(id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn count_recovery_codes(&mut self, user_id: &str) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn user_clients(&mut self, user_id: &str) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT client_id FROM user_clients WHERE user_id = $1 ORDER BY client_id",
                )
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn session_by_digest(&mut self, digest: &str) -> StoreResult<Option<SessionRecord>> {
                let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE digest = $1");
                sqlx::query_as::<$db, SessionRow>(&sql)
                    .bind(digest)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(SessionRecord::try_from)
                    .transpose()
            }

            async fn user_sessions(&mut self, user_id: &str) -> StoreResult<Vec<SessionRecord>> {
                let sql =
                    format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC");
                sqlx::query_as::<$db, SessionRow>(&sql)
                    .bind(user_id)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(SessionRecord::try_from)
                    .collect()
            }

            async fn link_by_digest(&mut self, digest: &str) -> StoreResult<Option<OneTimeLink>> {
                sqlx::query_as::<$db, LinkRow>(
                    "SELECT digest, purpose, user_id, created_at, expires_at, used_at \
                     FROM one_time_links WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?
                .map(OneTimeLink::try_from)
                .transpose()
            }

            async fn unexpired_setup_link_exists(&mut self, now: UnixMillis) -> StoreResult<bool> {
                let n = sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM one_time_links \
                     WHERE purpose = 'setup' AND used_at IS NULL AND expires_at > $1",
                )
                .bind(now.0)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(n > 0)
            }

            async fn api_token_by_digest(&mut self, digest: &str) -> StoreResult<Option<ApiTokenRecord>> {
                let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE digest = $1");
                Ok(sqlx::query_as::<$db, ApiTokenRow>(&sql)
                    .bind(digest)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(ApiTokenRecord::from))
            }

            async fn api_token_by_id(&mut self, id: &str) -> StoreResult<Option<ApiTokenRecord>> {
                let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
                Ok(sqlx::query_as::<$db, ApiTokenRow>(&sql)
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(ApiTokenRecord::from))
            }

            async fn list_api_tokens(&mut self) -> StoreResult<Vec<ApiTokenRecord>> {
                let sql = format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC");
                Ok(sqlx::query_as::<$db, ApiTokenRow>(&sql)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(ApiTokenRecord::from)
                    .collect())
            }

            async fn org_unit(&mut self, id: &str) -> StoreResult<Option<OrgUnit>> {
                sqlx::query_as::<$db, OrgRow>(
                    "SELECT id, kind, name, site_id, created_at FROM org_units WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?
                .map(OrgUnit::try_from)
                .transpose()
            }

            async fn list_org_units(&mut self, kind: OrgKind) -> StoreResult<Vec<OrgUnit>> {
                sqlx::query_as::<$db, OrgRow>(
                    "SELECT id, kind, name, site_id, created_at FROM org_units WHERE kind = $1 ORDER BY name",
                )
                .bind(kind.as_str())
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(OrgUnit::try_from)
                .collect()
            }

            async fn list_security_events(&mut self, limit: i64) -> StoreResult<Vec<SecurityEvent>> {
                Ok(sqlx::query_as::<$db, SecurityEventRow>(
                    "SELECT id, kind, user_id, details, created_at FROM security_events \
                     ORDER BY created_at DESC LIMIT $1",
                )
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(SecurityEvent::from)
                .collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::IdentityWrite for $handle {
            async fn insert_user(&mut self, u: &UserRecord) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "INSERT INTO users (id, username, display_name, roles, status, language, team_id, site_id, \
                     password_hash, password_changed_at, totp_secret, totp_pending, totp_last_step, \
                     failed_signins, locked_until, created_at, updated_at, mail_address) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                )
                .bind(&u.id)
                .bind(&u.username)
                .bind(&u.display_name)
                .bind(join_list(&u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()))
                .bind(u.status.as_str())
                .bind(&u.language)
                .bind(&u.team_id)
                .bind(&u.site_id)
                .bind(&u.password_hash)
                .bind(u.password_changed_at.map(|t| t.0))
                .bind(&u.totp_secret)
                .bind(&u.totp_pending)
                .bind(u.totp_last_step)
                .bind(u.failed_signins)
                .bind(u.locked_until.map(|t| t.0))
                .bind(u.created_at.0)
                .bind(u.updated_at.0)
                .bind(&u.mail_address)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                if let Some(hash) = &u.password_hash {
                    self.push_password_history(&u.id, hash, u.created_at).await?;
                }
                Ok(())
            }

            async fn user_for_update(&mut self, id: &str) -> StoreResult<Option<UserRecord>> {
                // A no-op update takes the row lock on PostgreSQL (and SQLite's single writer
                // already serialises); the row read afterwards is the latest committed one.
                sqlx::query::<$db>("UPDATE users SET failed_signins = failed_signins WHERE id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                self.user_by_id(id).await
            }

            async fn update_user_profile(&mut self, id: &str, p: &UserProfile, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "UPDATE users SET display_name = $2, team_id = $3, site_id = $4, updated_at = $5, \
                     mail_address = $6 WHERE id = $1",
                )
                .bind(id)
                .bind(&p.display_name)
                .bind(&p.team_id)
                .bind(&p.site_id)
                .bind(now.0)
                .bind(&p.mail_address)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn set_user_roles(&mut self, id: &str, roles: &[Role], now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                sqlx::query::<$db>("UPDATE users SET roles = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(join_list(&names))
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn set_user_status(&mut self, id: &str, status: &str, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(status)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn set_user_language(&mut self, id: &str, language: Option<&str>, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("UPDATE users SET language = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(language)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn set_password(&mut self, id: &str, hash: &str, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "UPDATE users SET password_hash = $2, password_changed_at = $3, updated_at = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(hash)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                self.push_password_history(id, hash, now).await
            }

            async fn add_failed_signin(&mut self, id: &str) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>(
                    "UPDATE users SET failed_signins = failed_signins + 1 WHERE id = $1 RETURNING failed_signins",
                )
                .bind(id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn lock_user(&mut self, id: &str, until: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("UPDATE users SET locked_until = $2 WHERE id = $1")
                    .bind(id)
                    .bind(until.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn clear_failed_signins(&mut self, id: &str) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE users SET failed_signins = 0, locked_until = NULL WHERE id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn set_totp_pending(&mut self, id: &str, sealed: Option<&[u8]>) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("UPDATE users SET totp_pending = $2 WHERE id = $1")
                    .bind(id)
                    .bind(sealed)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn enable_totp(&mut self, id: &str, sealed: &[u8], step: i64) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "UPDATE users SET totp_secret = $2, totp_pending = NULL, totp_last_step = $3 WHERE id = $1",
                )
                .bind(id)
                .bind(sealed)
                .bind(step)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn disable_totp(&mut self, id: &str) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL WHERE id = $1",
                )
                .bind(id)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                self.replace_recovery_codes(id, &[]).await
            }

            async fn advance_totp_step(&mut self, id: &str, step: i64) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE users SET totp_last_step = $2 \
                     WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
                )
                .bind(id)
                .bind(step)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn replace_recovery_codes(&mut self, user_id: &str, digests: &[String]) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                for d in digests {
                    sqlx::query::<$db>("INSERT INTO recovery_codes (user_id, digest) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(d)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            }

            async fn use_recovery_code(&mut self, user_id: &str, digest: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("DELETE FROM recovery_codes WHERE user_id = $1 AND digest = $2")
                    .bind(user_id)
                    .bind(digest)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_user_clients(&mut self, user_id: &str, client_ids: &[String]) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("DELETE FROM user_clients WHERE user_id = $1")
                    .bind(user_id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                for c in client_ids {
                    sqlx::query::<$db>("INSERT INTO user_clients (user_id, client_id) VALUES ($1, $2)")
                        .bind(user_id)
                        .bind(c)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            }

            async fn insert_session(&mut self, s: &SessionRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO sessions (id, digest, user_id, state, csrf_token, source_ip, user_agent, \
                     created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&s.id)
                .bind(&s.digest)
                .bind(&s.user_id)
                .bind(s.state.as_str())
                .bind(&s.csrf_token)
                .bind(&s.source_ip)
                .bind(&s.user_agent)
                .bind(s.created_at.0)
                .bind(s.last_seen_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn touch_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE sessions SET last_seen_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn promote_session(&mut self, id: &str, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("UPDATE sessions SET state = $2, last_seen_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(SessionState::Active.as_str())
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn delete_session(&mut self, id: &str) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn delete_user_sessions(&mut self, user_id: &str) -> StoreResult<u64> {
                self.identity_changed = true;
                sqlx::query::<$db>("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|r| r.rows_affected())
            }

            async fn delete_sessions_seen_before(&mut self, cutoff: UnixMillis) -> StoreResult<u64> {
                let n = sqlx::query::<$db>("DELETE FROM sessions WHERE last_seen_at < $1")
                    .bind(cutoff.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .rows_affected();
                // Housekeeping that removed nothing leaves every cached caller valid.
                self.identity_changed |= n > 0;
                Ok(n)
            }

            async fn insert_link(&mut self, l: &OneTimeLink) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO one_time_links (digest, purpose, user_id, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&l.digest)
                .bind(l.purpose.as_str())
                .bind(&l.user_id)
                .bind(l.created_at.0)
                .bind(l.expires_at.0)
                .bind(l.used_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn use_link(&mut self, digest: &str, now: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE one_time_links SET used_at = $2 WHERE digest = $1 AND used_at IS NULL",
                )
                .bind(digest)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_api_token(&mut self, t: &ApiTokenRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO api_tokens (id, digest, name, owner_id, permissions, created_at, expires_at, \
                     revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&t.id)
                .bind(&t.digest)
                .bind(&t.name)
                .bind(&t.owner_id)
                .bind(join_list(&t.permissions))
                .bind(t.created_at.0)
                .bind(t.expires_at.0)
                .bind(t.revoked_at.map(|x| x.0))
                .bind(t.last_used_at.map(|x| x.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn revoke_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool> {
                self.identity_changed = true;
                let done = sqlx::query::<$db>(
                    "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn touch_api_token(&mut self, id: &str, now: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn insert_org_unit(&mut self, o: &OrgUnit) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO org_units (id, kind, name, site_id, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&o.id)
                .bind(o.kind.as_str())
                .bind(&o.name)
                .bind(&o.site_id)
                .bind(o.created_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn insert_security_event(&mut self, e: &SecurityEvent) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO security_events (id, kind, user_id, details, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&e.id)
                .bind(&e.kind)
                .bind(&e.user_id)
                .bind(&e.details)
                .bind(e.created_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }
        }

        impl $handle {
            async fn push_password_history(&mut self, id: &str, hash: &str, now: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>("INSERT INTO password_history (user_id, hash, created_at) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(hash)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                // Keep only what the reuse rule needs.
                sqlx::query::<$db>(
                    "DELETE FROM password_history WHERE user_id = $1 AND created_at NOT IN \
                     (SELECT created_at FROM password_history WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2)",
                )
                .bind(id)
                .bind(i64::try_from(mamori_domain::password_policy::HISTORY_DEPTH).unwrap_or(5))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }
        }
    };
}

pub(crate) use identity_queries;
