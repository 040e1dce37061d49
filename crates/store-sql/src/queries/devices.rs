//! The queries of one area (devices), written once for both backends: see `mod.rs`.

macro_rules! devices_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::DeviceRead for $handle {
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

            async fn devices_of_user(&mut self, user_id: &str) -> StoreResult<Vec<DeviceRecord>> {
                Ok(sqlx::query_as::<$db, DeviceRow>(&format!(
                    "{DEVICE_COLUMNS} WHERE user_id = $1 AND revoked_at IS NULL ORDER BY hostname, id"
                ))
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(device_of)
                .collect())
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

            async fn has_pending_commands(&mut self, device_id: &str, issued_after: UnixMillis) -> StoreResult<bool> {
                let n = sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM device_commands WHERE device_id = $1 AND state = 'pending' \
                     AND created_at >= $2",
                )
                .bind(device_id)
                .bind(issued_after.0)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(n > 0)
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
        }

        #[async_trait::async_trait]
        impl mamori_store::DeviceWrite for $handle {
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

            async fn deliver_commands(
                &mut self,
                device_id: &str,
                now: UnixMillis,
                issued_after: UnixMillis,
            ) -> StoreResult<Vec<CommandRecord>> {
                Ok(sqlx::query_as::<$db, CommandRow>(&format!(
                    "UPDATE device_commands SET state = 'delivered', delivered_at = $2 \
                     WHERE device_id = $1 AND state = 'pending' AND created_at >= $3 RETURNING {COMMAND_FIELDS}"
                ))
                .bind(device_id)
                .bind(now.0)
                .bind(issued_after.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(command_of)
                .collect())
            }

            async fn expire_commands(
                &mut self,
                issued_before: UnixMillis,
                now: UnixMillis,
            ) -> StoreResult<Vec<CommandRecord>> {
                Ok(sqlx::query_as::<$db, CommandRow>(&format!(
                    "UPDATE device_commands SET state = 'expired', finished_at = $2 \
                     WHERE state IN ('pending', 'delivered') AND created_at < $1 RETURNING {COMMAND_FIELDS}"
                ))
                .bind(issued_before.0)
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
                     WHERE id = $1 AND device_id = $2 \
                     AND (state = 'delivered' OR (state = 'expired' AND delivered_at IS NOT NULL))",
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

            async fn insert_device_events(&mut self, events: &[DeviceEventRecord]) -> StoreResult<Vec<String>> {
                let mut inserted = Vec::new();
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
                    q.push(" ON CONFLICT DO NOTHING RETURNING event_id");
                    let ids: Vec<String> =
                        q.build_query_scalar().fetch_all(self.handle.conn()).await.map_err(db_err)?;
                    inserted.extend(ids);
                }
                Ok(inserted)
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
        }
    };
}

pub(crate) use devices_queries;
