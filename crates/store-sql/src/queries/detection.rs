//! The queries of one area (detection), written once for both backends: see `mod.rs`.

macro_rules! detection_queries {
    ($handle:ty, $db:ty) => {
        const ALERT_COLUMNS: &str = "id, rule, subject, subject_user_id, severity, state, first_at, last_at, hits, \
                                     value, threshold, window_minutes, baseline_median, baseline_mad, \
                                     baseline_hours, deviation, raised_index, assignee_id, state_reason, \
                                     suppressed_until, updated_at, updated_by";
        const ALERT_RESPONSE_COLUMNS: &str =
            "id, alert_id, kind, target, state, detail, created_at, reversed_at, reversed_by";

        #[async_trait::async_trait]
        impl mamori_store::DetectionRead for $handle {
            async fn alert(&mut self, id: &str) -> StoreResult<Option<AlertRecord>> {
                sqlx::query_as::<$db, AlertRow>(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|r| r.map(AlertRecord::from))
            }

            async fn latest_alert_for(&mut self, rule: &str, subject: &str) -> StoreResult<Option<AlertRecord>> {
                sqlx::query_as::<$db, AlertRow>(&format!(
                    "SELECT {ALERT_COLUMNS} FROM alerts WHERE rule = $1 AND subject = $2 \
                     ORDER BY first_at DESC, id DESC LIMIT 1"
                ))
                .bind(rule)
                .bind(subject)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|r| r.map(AlertRecord::from))
            }

            async fn alerts_since(
                &mut self,
                since: UnixMillis,
                states: &[&str],
                limit: i64,
            ) -> StoreResult<Vec<AlertRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE last_at >= "));
                q.push_bind(since.0);
                if !states.is_empty() {
                    q.push(" AND state IN (");
                    let mut list = q.separated(", ");
                    for s in states {
                        list.push_bind(s.to_string());
                    }
                    q.push(")");
                }
                q.push(" ORDER BY last_at DESC, id DESC LIMIT ");
                q.push_bind(limit);
                q.build_query_as::<AlertRow>()
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)
                    .map(|rows| rows.into_iter().map(AlertRecord::from).collect())
            }

            async fn alert_evidence(&mut self, alert_id: &str) -> StoreResult<Vec<u64>> {
                let rows = sqlx::query_scalar::<$db, i64>(
                    "SELECT audit_index FROM alert_evidence WHERE alert_id = $1 ORDER BY audit_index",
                )
                .bind(alert_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|i| i as u64).collect())
            }

            async fn alert_responses(&mut self, alert_id: &str) -> StoreResult<Vec<AlertResponseRecord>> {
                sqlx::query_as::<$db, AlertResponseRow>(&format!(
                    "SELECT {ALERT_RESPONSE_COLUMNS} FROM alert_responses WHERE alert_id = $1 ORDER BY created_at, id"
                ))
                .bind(alert_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(AlertResponseRecord::from).collect())
            }

            async fn lookup_hold(&mut self, user_id: &str) -> StoreResult<Option<AlertResponseRecord>> {
                sqlx::query_as::<$db, AlertResponseRow>(&format!(
                    "SELECT {ALERT_RESPONSE_COLUMNS} FROM alert_responses WHERE target = $1 AND kind = 'hold_lookups' \
                     AND state = 'done' AND reversed_at IS NULL ORDER BY created_at DESC LIMIT 1"
                ))
                .bind(format!("user:{user_id}"))
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|r| r.map(AlertResponseRecord::from))
            }

            async fn alert_response(&mut self, id: &str) -> StoreResult<Option<AlertResponseRecord>> {
                sqlx::query_as::<$db, AlertResponseRow>(&format!(
                    "SELECT {ALERT_RESPONSE_COLUMNS} FROM alert_responses WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|r| r.map(AlertResponseRecord::from))
            }

            async fn detector_hours(&mut self, subject: &str, from: i64, to: i64) -> StoreResult<Vec<u64>> {
                let rows = sqlx::query_scalar::<$db, i64>(
                    "SELECT customers FROM detector_hours WHERE subject = $1 AND hour >= $2 AND hour < $3 \
                     AND lookups > 0 ORDER BY hour",
                )
                .bind(subject)
                .bind(from)
                .bind(to)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|c| c.max(0) as u64).collect())
            }

            async fn detection_rules(
                &mut self,
            ) -> StoreResult<Option<(RuleVersion, Vec<(mamori_domain::detect::RuleId, mamori_domain::detect::RuleSettings)>)>>
            {
                let latest = sqlx::query_as::<$db, (i64, i64, String)>(
                    "SELECT version, changed_at, changed_by FROM detection_rule_versions ORDER BY version DESC LIMIT 1",
                )
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some((version, changed_at, changed_by)) = latest else { return Ok(None) };
                let rows = sqlx::query_as::<$db, (String, i64, String, i64, i64, String, String)>(
                    "SELECT rule, enabled, severity, threshold, window_minutes, responses, options \
                     FROM detection_rules WHERE version = $1 ORDER BY rule",
                )
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let rules = rows
                    .into_iter()
                    .map(|(rule, enabled, severity, threshold, window, responses, options)| {
                        let (id, settings) =
                            detection_rule_of((rule, enabled, severity, threshold, window, responses))?;
                        Ok((id, settings.with_options($crate::queries::detection::detection_rule_options(&options)?)))
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(Some((RuleVersion { version, changed_at: UnixMillis(changed_at), changed_by }, rules)))
            }

            async fn alert_counts_by_rule(&mut self, since: UnixMillis) -> StoreResult<Vec<RuleAlertCount>> {
                let rows = sqlx::query_as::<$db, (String, i64, i64)>(
                    "SELECT rule, COUNT(*), SUM(CASE WHEN state = 'false_positive' THEN 1 ELSE 0 END) \
                     FROM alerts WHERE first_at >= $1 GROUP BY rule ORDER BY rule",
                )
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|(rule, alerts, false_positives)| RuleAlertCount { rule, alerts, false_positives })
                    .collect())
            }

            async fn detector_places(
                &mut self,
                kind: mamori_domain::detect::PlaceKind,
                subject: &str,
                since: i64,
            ) -> StoreResult<Vec<(String, i64)>> {
                let mut rows = sqlx::query_as::<$db, (String, i64)>(
                    "SELECT network, last_seen FROM detector_networks \
                     WHERE subject = $1 AND kind = $4 AND last_seen > $2 \
                     ORDER BY last_seen DESC, network LIMIT $3",
                )
                .bind(subject)
                .bind(since)
                .bind(mamori_domain::detect::MAX_NETWORKS as i64)
                .bind(kind.as_str())
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                rows.reverse();
                Ok(rows)
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::DetectionWrite for $handle {
            async fn insert_alert(&mut self, a: &AlertRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                     $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                ))
                .bind(&a.id)
                .bind(&a.rule)
                .bind(&a.subject)
                .bind(&a.subject_user_id)
                .bind(&a.severity)
                .bind(&a.state)
                .bind(a.first_at.0)
                .bind(a.last_at.0)
                .bind(a.hits)
                .bind(a.value)
                .bind(a.threshold)
                .bind(a.window_minutes)
                .bind(a.baseline_median)
                .bind(a.baseline_mad)
                .bind(a.baseline_hours)
                .bind(a.deviation)
                .bind(a.raised_index)
                .bind(&a.assignee_id)
                .bind(&a.state_reason)
                .bind(a.suppressed_until.map(|t| t.0))
                .bind(a.updated_at.0)
                .bind(&a.updated_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn record_alert_hit(&mut self, a: &AlertRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "UPDATE alerts SET last_at = $2, hits = $3, value = $4, threshold = $5, window_minutes = $6, \
                     baseline_median = $7, baseline_mad = $8, baseline_hours = $9, deviation = $10, severity = $11 \
                     WHERE id = $1",
                )
                .bind(&a.id)
                .bind(a.last_at.0)
                .bind(a.hits)
                .bind(a.value)
                .bind(a.threshold)
                .bind(a.window_minutes)
                .bind(a.baseline_median)
                .bind(a.baseline_mad)
                .bind(a.baseline_hours)
                .bind(a.deviation)
                .bind(&a.severity)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn move_alert(&mut self, id: &str, from: &[&str], to: &AlertRecord) -> StoreResult<bool> {
                let mut q = sqlx::QueryBuilder::<$db>::new("UPDATE alerts SET state = ");
                q.push_bind(to.state.clone());
                q.push(", assignee_id = ");
                q.push_bind(to.assignee_id.clone());
                q.push(", state_reason = ");
                q.push_bind(to.state_reason.clone());
                q.push(", suppressed_until = ");
                q.push_bind(to.suppressed_until.map(|t| t.0));
                q.push(", updated_at = ");
                q.push_bind(to.updated_at.0);
                q.push(", updated_by = ");
                q.push_bind(to.updated_by.clone());
                q.push(" WHERE id = ");
                q.push_bind(id.to_owned());
                q.push(" AND state IN (");
                let mut list = q.separated(", ");
                for s in from {
                    list.push_bind(s.to_string());
                }
                q.push(")");
                let done = q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_alert_evidence(&mut self, alert_id: &str, indexes: &[u64]) -> StoreResult<()> {
                for chunk in indexes.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new("INSERT INTO alert_evidence (alert_id, audit_index) ");
                    q.push_values(chunk, |mut row, index| {
                        row.push_bind(alert_id.to_owned()).push_bind(*index as i64);
                    });
                    q.push(" ON CONFLICT DO NOTHING");
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn insert_alert_response(&mut self, r: &AlertResponseRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO alert_responses ({ALERT_RESPONSE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&r.id)
                .bind(&r.alert_id)
                .bind(&r.kind)
                .bind(&r.target)
                .bind(&r.state)
                .bind(&r.detail)
                .bind(r.created_at.0)
                .bind(r.reversed_at.map(|t| t.0))
                .bind(&r.reversed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn reverse_alert_response(&mut self, id: &str, at: UnixMillis, by: &str) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE alert_responses SET state = 'reversed', reversed_at = $2, reversed_by = $3 \
                     WHERE id = $1 AND state = 'done'",
                )
                .bind(id)
                .bind(at.0)
                .bind(by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn put_detector_hours(&mut self, stats: &[mamori_domain::detect::HourStat]) -> StoreResult<()> {
                for chunk in stats.chunks(200) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO detector_hours (subject, hour, customers, lookups, off_call) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.subject.clone())
                            .push_bind(s.hour)
                            .push_bind(s.customers as i64)
                            .push_bind(s.lookups as i64)
                            .push_bind(s.off_call as i64);
                    });
                    q.push(
                        " ON CONFLICT (subject, hour) DO UPDATE SET customers = excluded.customers, \
                         lookups = excluded.lookups, off_call = excluded.off_call",
                    );
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn put_detector_places(
                &mut self,
                kind: mamori_domain::detect::PlaceKind,
                seen: &[mamori_domain::detect::SeenPlace],
                forget_before: i64,
            ) -> StoreResult<()> {
                for chunk in seen.chunks(200) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO detector_networks (subject, network, kind, last_seen) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.subject.clone())
                            .push_bind(s.place.clone())
                            .push_bind(kind.as_str())
                            .push_bind(s.last_seen);
                    });
                    q.push(
                        " ON CONFLICT (subject, network) DO UPDATE SET last_seen = excluded.last_seen \
                         WHERE excluded.last_seen > detector_networks.last_seen",
                    );
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                let mut subjects: Vec<&str> = seen.iter().map(|s| s.subject.as_str()).collect();
                subjects.sort_unstable();
                subjects.dedup();
                for subject in subjects {
                    sqlx::query::<$db>(
                        "DELETE FROM detector_networks WHERE subject = $1 AND kind = $3 AND last_seen <= $2",
                    )
                    .bind(subject)
                    .bind(forget_before)
                    .bind(kind.as_str())
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            }

            async fn put_detection_rules(
                &mut self,
                rules: &[(mamori_domain::detect::RuleId, mamori_domain::detect::RuleSettings)],
                changed_at: UnixMillis,
                changed_by: &str,
            ) -> StoreResult<i64> {
                let version =
                    sqlx::query_scalar::<$db, i64>("SELECT COALESCE(MAX(version), 0) + 1 FROM detection_rule_versions")
                        .fetch_one(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO detection_rule_versions (version, changed_at, changed_by) VALUES ($1, $2, $3)",
                )
                .bind(version)
                .bind(changed_at.0)
                .bind(changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (rule, s) in rules {
                    let mut responses = s.responses.clone();
                    responses.sort();
                    responses.dedup();
                    let responses: Vec<&str> = responses.iter().map(|r| r.as_str()).collect();
                    let options = s.options();
                    let options = if options == Default::default() {
                        String::new()
                    } else {
                        serde_json::to_string(&options).map_err(|e| mamori_store::StoreError::Corrupt(e.to_string()))?
                    };
                    sqlx::query::<$db>(
                        "INSERT INTO detection_rules (version, rule, enabled, severity, threshold, window_minutes, \
                         responses, options) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(version)
                    .bind(rule.as_str())
                    .bind(i64::from(s.enabled))
                    .bind(s.severity.as_str())
                    .bind(i64::from(s.threshold))
                    .bind(i64::from(s.window_minutes))
                    .bind(join_list(&responses))
                    .bind(options)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(version)
            }
        }
    };
}

pub(crate) use detection_queries;

/// A rule's stored options ('' for none).
pub(crate) fn detection_rule_options(
    options: &str,
) -> mamori_store::StoreResult<mamori_domain::detect::RuleOptions> {
    if options.is_empty() {
        return Ok(Default::default());
    }
    serde_json::from_str(options)
        .map_err(|e| mamori_store::StoreError::Corrupt(format!("detection rule options: {e}")))
}
