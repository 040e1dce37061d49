//! Every query Mamori runs, written once for both backends.
//!
//! `store_tx_impl!` expands to `impl StoreTx` for a backend's handle type. The handle has a
//! `handle: Handle<DB>` field, the store's `generation`, and an `identity_changed` flag that
//! every write to users, sessions, tokens or settings raises (the commit then advances the
//! generation). `$audit_lock` is the statement that makes the audit sequence gap-free and
//! single-writer on that backend, `$integrator_lock` the one that lets one process at a time
//! extend the Merkle tree (empty where the backend already serialises writers).

macro_rules! store_tx_impl {
    ($handle:ty, $db:ty, $audit_lock:expr, $integrator_lock:expr) => {
        #[async_trait::async_trait]
        impl mamori_store::StoreTx for $handle {
            async fn commit(self: Box<Self>) -> mamori_store::StoreResult<()> {
                let (generation, changed) = (self.generation.clone(), self.identity_changed);
                self.handle.commit().await?;
                if changed {
                    generation.advance();
                }
                Ok(())
            }

            async fn count_users(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM users")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn insert_user(&mut self, u: &UserRecord) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "INSERT INTO users (id, username, display_name, roles, status, language, team_id, site_id, \
                     password_hash, password_changed_at, totp_secret, totp_pending, totp_last_step, \
                     failed_signins, locked_until, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
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
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                if let Some(hash) = &u.password_hash {
                    self.push_password_history(&u.id, hash, u.created_at).await?;
                }
                Ok(())
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

            async fn claim_once(&mut self, scope: &str, key: &str, expires_at: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "INSERT INTO used_once (scope, key, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(scope)
                .bind(key)
                .bind(expires_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn purge_used_once(&mut self, now: UnixMillis) -> StoreResult<u64> {
                sqlx::query::<$db>("DELETE FROM used_once WHERE expires_at < $1")
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(db_err)
            }

            async fn rate_bucket_for_update(&mut self, key: &str) -> StoreResult<Option<(i64, UnixMillis)>> {
                // The no-op update holds the row (PostgreSQL) until the commit.
                sqlx::query_as::<$db, (i64, i64)>(
                    "UPDATE rate_buckets SET units = units WHERE key = $1 RETURNING units, at",
                )
                .bind(key)
                .fetch_optional(self.handle.conn())
                .await
                .map(|row| row.map(|(units, at)| (units, UnixMillis(at))))
                .map_err(db_err)
            }

            async fn put_rate_bucket(&mut self, key: &str, units: i64, at: UnixMillis) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO rate_buckets (key, units, at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET units = excluded.units, at = excluded.at",
                )
                .bind(key)
                .bind(units)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map(drop)
                .map_err(db_err)
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

            async fn update_user_profile(&mut self, id: &str, p: &UserProfile, now: UnixMillis) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "UPDATE users SET display_name = $2, team_id = $3, site_id = $4, updated_at = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(&p.display_name)
                .bind(&p.team_id)
                .bind(&p.site_id)
                .bind(now.0)
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

            async fn count_recovery_codes(&mut self, user_id: &str) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
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

            async fn user_clients(&mut self, user_id: &str) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT client_id FROM user_clients WHERE user_id = $1 ORDER BY client_id",
                )
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
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

            async fn append_audit(&mut self, time: UnixMillis, e: &AuditEvent) -> StoreResult<u64> {
                let lock: &str = $audit_lock;
                if !lock.is_empty() {
                    sqlx::query::<$db>(lock).execute(self.handle.conn()).await.map_err(db_err)?;
                }
                // After a prune the table may be empty: the next index is then the floor.
                let index = sqlx::query_scalar::<$db, i64>(
                    "INSERT INTO audit_entries (idx, time, category, action, actor, object, outcome, source_ip, \
                     request_id, details) \
                     VALUES ((SELECT COALESCE(MAX(idx) + 1, (SELECT pruned_below FROM audit_retention WHERE id = 1)) \
                              FROM audit_entries), $1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     RETURNING idx",
                )
                .bind(time.0)
                .bind(e.category.as_str())
                .bind(e.action)
                .bind(e.actor.encode())
                .bind(&e.object)
                .bind(e.outcome.as_str())
                .bind(&e.source_ip)
                .bind(&e.request_id)
                .bind(e.details_json())
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                to_index(index)
            }

            async fn append_audit_batch(&mut self, time: UnixMillis, events: &[AuditEvent]) -> StoreResult<u64> {
                let lock: &str = $audit_lock;
                if !lock.is_empty() {
                    sqlx::query::<$db>(lock).execute(self.handle.conn()).await.map_err(db_err)?;
                }
                let first = self.audit_log_size().await?;
                let mut next = from_index(first)?;
                for chunk in events.chunks(400) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO audit_entries (idx, time, category, action, actor, object, outcome, source_ip, \
                         request_id, details) ",
                    );
                    q.push_values(chunk, |mut row, e| {
                        row.push_bind(next)
                            .push_bind(time.0)
                            .push_bind(e.category.as_str())
                            .push_bind(e.action)
                            .push_bind(e.actor.encode())
                            .push_bind(e.object.clone())
                            .push_bind(e.outcome.as_str())
                            .push_bind(e.source_ip.clone())
                            .push_bind(e.request_id.clone())
                            .push_bind(e.details_json());
                        next += 1;
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(first)
            }

            async fn search_audit(&mut self, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
                sqlx::query_as::<$db, AuditRow>(
                    "SELECT idx, time, category, action, actor, object, outcome, source_ip, request_id, details \
                     FROM audit_entries \
                     WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
                       AND ($3 IS NULL OR object = $3) AND ($4 IS NULL OR outcome = $4) \
                       AND ($5 IS NULL OR time >= $5) AND ($6 IS NULL OR time < $6) \
                       AND ($7 IS NULL OR idx < $7) \
                     ORDER BY idx DESC LIMIT $8",
                )
                .bind(&q.actor)
                .bind(&q.action)
                .bind(&q.object)
                .bind(&q.outcome)
                .bind(q.from.map(|t| t.0))
                .bind(q.to.map(|t| t.0))
                .bind(q.before_index.map(from_index).transpose()?)
                .bind(q.limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(AuditEntry::try_from)
                .collect()
            }

            async fn audit_entries(&mut self, from: u64, to: u64) -> StoreResult<Vec<AuditEntry>> {
                sqlx::query_as::<$db, AuditRow>(
                    "SELECT idx, time, category, action, actor, object, outcome, source_ip, request_id, details \
                     FROM audit_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                )
                .bind(from_index(from)?)
                .bind(from_index(to)?)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(AuditEntry::try_from)
                .collect()
            }

            async fn audit_log_size(&mut self) -> StoreResult<u64> {
                let next = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(idx) + 1, (SELECT pruned_below FROM audit_retention WHERE id = 1)) \
                     FROM audit_entries",
                )
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                to_index(next)
            }

            async fn audit_node(&mut self, id: NodeId) -> StoreResult<Option<Hash>> {
                sqlx::query_scalar::<$db, Vec<u8>>("SELECT hash FROM audit_tree WHERE level = $1 AND idx = $2")
                    .bind(i16::from(id.level))
                    .bind(from_index(id.index)?)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(to_hash)
                    .transpose()
            }

            async fn audit_nodes_range(&mut self, level: u8, from: u64, to: u64) -> StoreResult<Vec<(u64, Hash)>> {
                sqlx::query_as::<$db, (i64, Vec<u8>)>(
                    "SELECT idx, hash FROM audit_tree WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
                )
                .bind(i16::from(level))
                .bind(from_index(from)?)
                .bind(from_index(to)?)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(|(i, h)| Ok((to_index(i)?, to_hash(h)?)))
                .collect()
            }

            async fn insert_audit_nodes(&mut self, nodes: &[(NodeId, Hash)]) -> StoreResult<()> {
                // Several rows per statement: one round trip per few hundred nodes.
                for chunk in nodes.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO audit_tree (level, idx, hash) ");
                    let mut bad = None;
                    q.push_values(chunk, |mut row, (id, hash)| {
                        match from_index(id.index) {
                            Ok(i) => {
                                row.push_bind(i16::from(id.level)).push_bind(i).push_bind(hash.to_vec());
                            }
                            Err(e) => bad = Some(e),
                        }
                    });
                    if let Some(e) = bad {
                        return Err(e);
                    }
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn latest_checkpoint(&mut self) -> StoreResult<Option<CheckpointRecord>> {
                sqlx::query_as::<$db, CheckpointRow>(
                    "SELECT size, root, time, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
                )
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?
                .map(CheckpointRecord::try_from)
                .transpose()
            }

            async fn checkpoints_between(&mut self, from: u64, to: u64) -> StoreResult<Vec<CheckpointRecord>> {
                sqlx::query_as::<$db, CheckpointRow>(
                    "SELECT size, root, time, note FROM audit_checkpoints WHERE size >= $1 AND size <= $2 \
                     ORDER BY size",
                )
                .bind(from_index(from)?)
                .bind(from_index(to)?)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(CheckpointRecord::try_from)
                .collect()
            }

            async fn insert_checkpoint(&mut self, c: &CheckpointRecord) -> StoreResult<()> {
                sqlx::query::<$db>("INSERT INTO audit_checkpoints (size, root, time, note) VALUES ($1, $2, $3, $4)")
                    .bind(from_index(c.size)?)
                    .bind(c.root.to_vec())
                    .bind(c.time.0)
                    .bind(&c.note)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn lock_audit_integrator(&mut self) -> StoreResult<()> {
                let lock: &str = $integrator_lock;
                if lock.is_empty() {
                    return Ok(());
                }
                sqlx::query::<$db>(lock).execute(self.handle.conn()).await.map_err(db_err).map(drop)
            }

            async fn first_audit_index_since(&mut self, time: UnixMillis) -> StoreResult<Option<u64>> {
                sqlx::query_scalar::<$db, Option<i64>>("SELECT MIN(idx) FROM audit_entries WHERE time >= $1")
                    .bind(time.0)
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(to_index)
                    .transpose()
            }

            async fn prune_audit(&mut self, below: u64) -> StoreResult<u64> {
                let below = from_index(below)?;
                sqlx::query::<$db>("UPDATE audit_retention SET pruned_below = $1 WHERE id = 1 AND pruned_below < $1")
                    .bind(below)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                sqlx::query::<$db>("DELETE FROM audit_entries WHERE idx < $1")
                    .bind(below)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|r| r.rows_affected())
            }

            async fn claim_audit_cursor(
                &mut self,
                name: &str,
                holder: &str,
                now: UnixMillis,
                lease_until: UnixMillis,
            ) -> StoreResult<Option<u64>> {
                sqlx::query::<$db>(
                    "INSERT INTO audit_cursors (name, next_index, holder, lease_until, updated_at) \
                     VALUES ($1, 0, '', 0, $2) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                let next = sqlx::query_scalar::<$db, i64>(
                    "UPDATE audit_cursors SET holder = $2, lease_until = $3 \
                     WHERE name = $1 AND (holder = $2 OR lease_until < $4) RETURNING next_index",
                )
                .bind(name)
                .bind(holder)
                .bind(lease_until.0)
                .bind(now.0)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                next.map(to_index).transpose()
            }

            async fn advance_audit_cursor(
                &mut self,
                name: &str,
                holder: &str,
                from: u64,
                to: u64,
                now: UnixMillis,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE audit_cursors SET next_index = $4, updated_at = $5 \
                     WHERE name = $1 AND holder = $2 AND next_index = $3",
                )
                .bind(name)
                .bind(holder)
                .bind(from_index(from)?)
                .bind(from_index(to)?)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn audit_pruned_below(&mut self) -> StoreResult<u64> {
                let floor = sqlx::query_scalar::<$db, i64>("SELECT pruned_below FROM audit_retention WHERE id = 1")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                to_index(floor)
            }

            async fn insert_customers(&mut self, customers: &[NewCustomerRows]) -> StoreResult<()> {
                for chunk in customers.chunks(4000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO customers (id, client_id, wrapped_key, kek_version, fields, created_at, updated_at) ",
                    );
                    q.push_values(chunk, |mut row, c| {
                        let r = &c.record;
                        row.push_bind(r.id.clone())
                            .push_bind(r.client_id.clone())
                            .push_bind(r.wrapped_key.clone())
                            .push_bind(i64::from(r.kek_version))
                            .push_bind(r.fields.clone())
                            .push_bind(r.created_at.0)
                            .push_bind(r.updated_at.0);
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                let index: Vec<(&str, &String, &Vec<u8>)> = customers
                    .iter()
                    .flat_map(|c| c.index.iter().map(move |(k, d)| (c.record.id.as_str(), k, d)))
                    .collect();
                for chunk in index.chunks(10000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO customer_index (kind, digest, customer_id) ");
                    q.push_values(chunk, |mut row, (id, kind, digest)| {
                        row.push_bind((*kind).clone()).push_bind((*digest).clone()).push_bind(id.to_string());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn customer(&mut self, id: &str) -> StoreResult<Option<CustomerRecord>> {
                sqlx::query_as::<$db, CustomerRow>(
                    "SELECT id, client_id, wrapped_key, kek_version, fields, created_at, updated_at FROM customers WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?
                .map(CustomerRecord::try_from)
                .transpose()
            }

            async fn customers_by_index(&mut self, kind: &str, digest: &[u8]) -> StoreResult<Vec<CustomerRecord>> {
                sqlx::query_as::<$db, CustomerRow>(
                    "SELECT c.id, c.client_id, c.wrapped_key, c.kek_version, c.fields, c.created_at, c.updated_at \
                     FROM customer_index i JOIN customers c ON c.id = i.customer_id \
                     WHERE i.kind = $1 AND i.digest = $2 ORDER BY c.id",
                )
                .bind(kind)
                .bind(digest)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(CustomerRecord::try_from)
                .collect()
            }

            async fn customers_to_rewrap(&mut self, version: u32, limit: i64) -> StoreResult<Vec<(String, Vec<u8>)>> {
                sqlx::query_as::<$db, (String, Vec<u8>)>(
                    "SELECT id, wrapped_key FROM customers WHERE kek_version < $1 ORDER BY id LIMIT $2",
                )
                .bind(i64::from(version))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn count_customers_to_rewrap(&mut self, version: u32) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM customers WHERE kek_version < $1")
                    .bind(i64::from(version))
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn rewrap_customer(&mut self, id: &str, old: &[u8], new: &[u8], version: u32) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE customers SET wrapped_key = $3, kek_version = $4 WHERE id = $1 AND wrapped_key = $2",
                )
                .bind(id)
                .bind(old)
                .bind(new)
                .bind(i64::from(version))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn update_customer(
                &mut self,
                id: &str,
                fields: &[u8],
                index: &[(String, Vec<u8>)],
                now: UnixMillis,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE customers SET fields = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(fields)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query::<$db>("DELETE FROM customer_index WHERE customer_id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                if !index.is_empty() {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO customer_index (kind, digest, customer_id) ");
                    q.push_values(index, |mut row, (kind, digest)| {
                        row.push_bind(kind.clone()).push_bind(digest.clone()).push_bind(id.to_owned());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(true)
            }

            async fn delete_customer(&mut self, id: &str) -> StoreResult<bool> {
                sqlx::query::<$db>("DELETE FROM customer_index WHERE customer_id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                let done = sqlx::query::<$db>("DELETE FROM customers WHERE id = $1")
                    .bind(id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn count_customers(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM customers")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn insert_enrolment(&mut self, e: &EnrolmentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO device_enrolments (id, token_hash, site_id, user_id, created_by, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&e.id)
                .bind(&e.token_hash)
                .bind(&e.site_id)
                .bind(&e.user_id)
                .bind(&e.created_by)
                .bind(e.created_at.0)
                .bind(e.expires_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn use_enrolment(
                &mut self,
                token_hash: &str,
                now: UnixMillis,
                device_id: &str,
            ) -> StoreResult<Option<EnrolmentRecord>> {
                let row = sqlx::query_as::<$db, (String, String, Option<String>, Option<String>, String, i64, i64)>(
                    "UPDATE device_enrolments SET used_at = $2, device_id = $3 \
                     WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                     RETURNING id, token_hash, site_id, user_id, created_by, created_at, expires_at",
                )
                .bind(token_hash)
                .bind(now.0)
                .bind(device_id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(|(id, token_hash, site_id, user_id, created_by, created, expires)| EnrolmentRecord {
                    id,
                    token_hash,
                    site_id,
                    user_id,
                    created_by,
                    created_at: UnixMillis(created),
                    expires_at: UnixMillis(expires),
                }))
            }

            async fn insert_device(&mut self, d: &DeviceRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO devices (id, public_key, hostname, site_id, user_id, enrolled_at, revoked_at, last_seen_at, last_ip) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&d.id)
                .bind(&d.public_key)
                .bind(&d.hostname)
                .bind(&d.site_id)
                .bind(&d.user_id)
                .bind(d.enrolled_at.0)
                .bind(d.revoked_at.map(|t| t.0))
                .bind(d.last_seen_at.map(|t| t.0))
                .bind(&d.last_ip)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn device(&mut self, id: &str) -> StoreResult<Option<DeviceRecord>> {
                Ok(sqlx::query_as::<$db, DeviceRow>(&format!("{DEVICE_COLUMNS} WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .map(device_of))
            }

            async fn list_devices(&mut self) -> StoreResult<Vec<DeviceRecord>> {
                Ok(sqlx::query_as::<$db, DeviceRow>(&format!("{DEVICE_COLUMNS} ORDER BY hostname, id"))
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(device_of)
                    .collect())
            }

            async fn revoke_device(&mut self, id: &str, now: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn device_seen(&mut self, id: &str, now: UnixMillis, ip: Option<&str>) -> StoreResult<()> {
                sqlx::query::<$db>("UPDATE devices SET last_seen_at = $2, last_ip = $3 WHERE id = $1")
                    .bind(id)
                    .bind(now.0)
                    .bind(ip)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(drop)
            }

            async fn devices_seen(&mut self, seen: &[(String, UnixMillis)]) -> StoreResult<()> {
                for (id, at) in seen {
                    sqlx::query::<$db>(
                        "UPDATE devices SET last_seen_at = $2 WHERE id = $1 \
                         AND (last_seen_at IS NULL OR last_seen_at < $2)",
                    )
                    .bind(id)
                    .bind(at.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(())
            }

            async fn insert_inventory(&mut self, i: &InventoryRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO device_inventory (id, device_id, collected_at, digest, inventory) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&i.id)
                .bind(&i.device_id)
                .bind(i.collected_at.0)
                .bind(&i.digest)
                .bind(&i.inventory)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn inventory_history(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<InventoryRecord>> {
                Ok(sqlx::query_as::<$db, (String, String, i64, String, String)>(
                    "SELECT id, device_id, collected_at, digest, inventory FROM device_inventory \
                     WHERE device_id = $1 ORDER BY collected_at DESC LIMIT $2",
                )
                .bind(device_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(|(id, device_id, at, digest, inventory)| InventoryRecord {
                    id,
                    device_id,
                    collected_at: UnixMillis(at),
                    digest,
                    inventory,
                })
                .collect())
            }

            async fn insert_command(&mut self, c: &CommandRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO device_commands (id, device_id, kind, message, state, issued_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.id)
                .bind(&c.device_id)
                .bind(&c.kind)
                .bind(&c.message)
                .bind(&c.state)
                .bind(&c.issued_by)
                .bind(c.created_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn has_pending_commands(&mut self, device_id: &str) -> StoreResult<bool> {
                let n = sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM device_commands WHERE device_id = $1 AND state = 'pending'",
                )
                .bind(device_id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(n > 0)
            }

            async fn deliver_commands(&mut self, device_id: &str, now: UnixMillis) -> StoreResult<Vec<CommandRecord>> {
                Ok(sqlx::query_as::<$db, CommandRow>(&format!(
                    "UPDATE device_commands SET state = 'delivered', delivered_at = $2 \
                     WHERE device_id = $1 AND state = 'pending' RETURNING {COMMAND_FIELDS}"
                ))
                .bind(device_id)
                .bind(now.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(command_of)
                .collect())
            }

            async fn finish_command(
                &mut self,
                device_id: &str,
                id: &str,
                ok: bool,
                result: &str,
                now: UnixMillis,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE device_commands SET state = $3, result = $4, finished_at = $5 \
                     WHERE id = $1 AND device_id = $2 AND state = 'delivered'",
                )
                .bind(id)
                .bind(device_id)
                .bind(if ok { "done" } else { "failed" })
                .bind(result)
                .bind(now.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn device_commands(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<CommandRecord>> {
                Ok(sqlx::query_as::<$db, CommandRow>(&format!(
                    "SELECT {COMMAND_FIELDS} FROM device_commands WHERE device_id = $1 ORDER BY created_at DESC LIMIT $2"
                ))
                .bind(device_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(command_of)
                .collect())
            }

            async fn devices_with_pending_commands(&mut self, since: UnixMillis) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT DISTINCT device_id FROM device_commands WHERE state = 'pending' AND created_at >= $1",
                )
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn insert_device_events(&mut self, events: &[DeviceEventRecord]) -> StoreResult<u64> {
                let mut inserted = 0;
                for chunk in events.chunks(1000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO device_events (device_id, event_id, kind, occurred_at, received_at, data) ",
                    );
                    q.push_values(chunk, |mut row, e| {
                        row.push_bind(e.device_id.clone())
                            .push_bind(e.event_id.clone())
                            .push_bind(e.kind.clone())
                            .push_bind(e.occurred_at.0)
                            .push_bind(e.received_at.0)
                            .push_bind(e.data.clone());
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    inserted += q.build().execute(self.handle.conn()).await.map_err(db_err)?.rows_affected();
                }
                Ok(inserted)
            }

            async fn devices_gone_silent(&mut self, cutoff: UnixMillis) -> StoreResult<Vec<DeviceRecord>> {
                Ok(sqlx::query_as::<$db, DeviceRow>(&format!(
                    "{DEVICE_COLUMNS} WHERE revoked_at IS NULL AND last_seen_at < $1 AND NOT EXISTS \
                     (SELECT 1 FROM device_events e WHERE e.device_id = devices.id \
                      AND e.kind = 'heartbeat_lost' AND e.occurred_at >= devices.last_seen_at)"
                ))
                .bind(cutoff.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(device_of)
                .collect())
            }

            async fn device_events(&mut self, device_id: &str, limit: i64) -> StoreResult<Vec<DeviceEventRecord>> {
                Ok(sqlx::query_as::<$db, DeviceEventRow>(
                    "SELECT device_id, event_id, kind, occurred_at, received_at, data FROM device_events \
                     WHERE device_id = $1 ORDER BY occurred_at DESC, event_id LIMIT $2",
                )
                .bind(device_id)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(device_event_of)
                .collect())
            }

            async fn recent_events_of_kinds(
                &mut self,
                kinds: &[&str],
                since: UnixMillis,
            ) -> StoreResult<Vec<DeviceEventRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT device_id, event_id, kind, occurred_at, received_at, data FROM device_events \
                     WHERE occurred_at >= ",
                );
                q.push_bind(since.0).push(" AND kind IN (");
                let mut list = q.separated(", ");
                for k in kinds {
                    list.push_bind(k.to_string());
                }
                q.push(") ORDER BY occurred_at, event_id");
                Ok(q.build_query_as::<DeviceEventRow>()
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?
                    .into_iter()
                    .map(device_event_of)
                    .collect())
            }

            async fn insert_activity(&mut self, buckets: &[ActivityRecord]) -> StoreResult<u64> {
                let mut inserted = 0;
                for chunk in buckets.chunks(1000) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO device_activity (device_id, minute, keystrokes, clicks, idle_secs, app, \
                         browser_domain, received_at) ",
                    );
                    q.push_values(chunk, |mut row, a| {
                        row.push_bind(a.device_id.clone())
                            .push_bind(a.bucket.minute)
                            .push_bind(i64::from(a.bucket.keystrokes))
                            .push_bind(i64::from(a.bucket.clicks))
                            .push_bind(i64::from(a.bucket.idle_secs))
                            .push_bind(a.bucket.app.clone())
                            .push_bind(a.bucket.browser_domain.clone())
                            .push_bind(a.received_at.0);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    inserted += q.build().execute(self.handle.conn()).await.map_err(db_err)?.rows_affected();
                }
                Ok(inserted)
            }

            async fn device_activity(
                &mut self,
                device_id: &str,
                since: UnixMillis,
                limit: i64,
            ) -> StoreResult<Vec<ActivityRecord>> {
                Ok(sqlx::query_as::<$db, ActivityRow>(&format!(
                    "{ACTIVITY_COLUMNS} WHERE device_id = $1 AND minute >= $2 ORDER BY minute DESC LIMIT $3"
                ))
                .bind(device_id)
                .bind(since.0)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(activity_of)
                .collect())
            }

            async fn latest_activity(&mut self, since: UnixMillis) -> StoreResult<Vec<ActivityRecord>> {
                Ok(sqlx::query_as::<$db, ActivityRow>(&format!(
                    "{ACTIVITY_COLUMNS} a WHERE a.minute >= $1 AND a.minute = \
                     (SELECT MAX(b.minute) FROM device_activity b WHERE b.device_id = a.device_id)"
                ))
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(activity_of)
                .collect())
            }

            async fn insert_call(&mut self, c: &CallRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO calls (id, external_id, operator_id, caller_digest, started_at, ended_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&c.id)
                .bind(&c.external_id)
                .bind(&c.operator_id)
                .bind(&c.caller_digest)
                .bind(c.started_at.0)
                .bind(c.ended_at.map(|t| t.0))
                .execute(self.handle.conn())
                .await
                .map_err(db_err)
                .map(drop)
            }

            async fn end_call(&mut self, external_id: &str, now: UnixMillis) -> StoreResult<bool> {
                let done = sqlx::query::<$db>("UPDATE calls SET ended_at = $2 WHERE external_id = $1 AND ended_at IS NULL")
                    .bind(external_id)
                    .bind(now.0)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn active_calls(&mut self, operator_id: &str) -> StoreResult<Vec<CallRecord>> {
                Ok(sqlx::query_as::<$db, (String, String, String, Vec<u8>, i64)>(
                    "SELECT id, external_id, operator_id, caller_digest, started_at FROM calls \
                     WHERE operator_id = $1 AND ended_at IS NULL ORDER BY started_at",
                )
                .bind(operator_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(|(id, external_id, operator_id, caller_digest, started)| CallRecord {
                    id,
                    external_id,
                    operator_id,
                    caller_digest,
                    started_at: UnixMillis(started),
                    ended_at: None,
                })
                .collect())
            }

            async fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
                sqlx::query_scalar::<$db, String>("SELECT value FROM settings WHERE key = $1")
                    .bind(key)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
                self.identity_changed = true;
                sqlx::query::<$db>(
                    "INSERT INTO settings (key, value) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
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

pub(crate) use store_tx_impl;
