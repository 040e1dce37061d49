//! The queries of one area (audit), written once for both backends: see `mod.rs`.

macro_rules! audit_queries {
    ($handle:ty, $db:ty, $audit_lock:expr, $integrator_lock:expr) => {
        /// The `WHERE` of a search (after `WHERE 1 = 1`), shared by the search and its count.
        fn push_audit_filters(sql: &mut sqlx::QueryBuilder<'_, $db>, q: &AuditQuery) -> StoreResult<()> {
            // A list of values: `column IN (…)`, or `NOT IN`; an empty `IN` list matches nothing.
            let mut any_of = |column: &str, values: &[String], negate: bool| {
                if values.is_empty() {
                    if !negate {
                        sql.push(" AND 1 = 0");
                    }
                    return;
                }
                sql.push(format!(" AND {column} {}IN (", if negate { "NOT " } else { "" }));
                let mut list = sql.separated(", ");
                for v in values {
                    list.push_bind(v.clone());
                }
                list.push_unseparated(")");
            };
            if let Some(actors) = &q.actors {
                any_of("actor", actors, false);
            }
            if let Some(actions) = &q.actions {
                any_of("action", actions, false);
            }
            any_of("action", &q.hidden_actions, true);
            if let Some(object) = &q.object {
                sql.push(" AND object = ").push_bind(object.clone());
            }
            if let Some(outcome) = &q.outcome {
                sql.push(" AND outcome = ").push_bind(outcome.clone());
            }
            if let Some(from) = q.from {
                sql.push(" AND time >= ").push_bind(from.0);
            }
            if let Some(to) = q.to {
                sql.push(" AND time < ").push_bind(to.0);
            }
            if let Some(before) = q.before_index {
                sql.push(" AND idx < ").push_bind(from_index(before)?);
            }
            if let Some((key, value)) = &q.detail {
                // Details are stored as compact JSON of plain codes: `"key":"value"` is the pair.
                let code = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                if !code(key) || !code(value) {
                    return Err(StoreError::Corrupt("a detail filter is a code".into()));
                }
                sql.push(" AND details LIKE ").push_bind(format!("%\"{key}\":\"{value}\"%"));
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl mamori_store::AuditRead for $handle {
            async fn search_audit(&mut self, q: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
                let mut sql = sqlx::QueryBuilder::<$db>::new(
                    "SELECT idx, time, category, action, actor, object, outcome, source_ip, request_id, details \
                     FROM audit_entries WHERE 1 = 1",
                );
                push_audit_filters(&mut sql, q)?;
                sql.push(" ORDER BY idx DESC LIMIT ").push_bind(q.limit);
                sql.build_query_as::<AuditRow>()
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(AuditEntry::try_from)
                .collect()
            }

            async fn count_audit(&mut self, q: &AuditQuery) -> StoreResult<u64> {
                let mut sql = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM audit_entries WHERE 1 = 1");
                push_audit_filters(&mut sql, q)?;
                let n: i64 = sql.build_query_scalar().fetch_one(self.handle.conn()).await.map_err(db_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn audit_cursors(&mut self) -> StoreResult<Vec<(String, u64, UnixMillis)>> {
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT name, next_index, updated_at FROM audit_cursors ORDER BY name",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(name, next, at)| (name, u64::try_from(next).unwrap_or(0), UnixMillis(at)))
                    .collect())
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

            async fn audit_pruned_below(&mut self) -> StoreResult<u64> {
                let floor = sqlx::query_scalar::<$db, i64>("SELECT pruned_below FROM audit_retention WHERE id = 1")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                to_index(floor)
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
        }

        #[async_trait::async_trait]
        impl mamori_store::AuditWrite for $handle {
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
        }
    };
}

pub(crate) use audit_queries;
