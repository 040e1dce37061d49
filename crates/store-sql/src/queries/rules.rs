//! The queries of one area (rule sets with their history), written once for both backends: see
//! `mod.rs`. A version's rows are written once and never changed; reads take the latest version.

macro_rules! rules_queries {
    ($handle:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl mamori_store::RulesRead for $handle {
            async fn shift_schedule(
                &mut self,
                user_id: &str,
            ) -> StoreResult<Option<mamori_domain::activity::ShiftSchedule>> {
                let latest = sqlx::query_as::<$db, (i64, i64)>(
                    "SELECT version, utc_offset_minutes FROM shift_schedules WHERE user_id = $1 \
                     ORDER BY version DESC LIMIT 1",
                )
                .bind(user_id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some((version, offset)) = latest else { return Ok(None) };
                let rows = sqlx::query_as::<$db, (i64, String, String)>(
                    "SELECT days, start_time, end_time FROM shifts WHERE user_id = $1 AND version = $2 \
                     ORDER BY position",
                )
                .bind(user_id)
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                shift_schedule_of(offset, rows).map(Some)
            }

            async fn shift_schedule_versions(&mut self, user_id: &str) -> StoreResult<Vec<RuleVersion>> {
                sqlx::query_as::<$db, (i64, i64, String)>(
                    "SELECT version, changed_at, changed_by FROM shift_schedules WHERE user_id = $1 \
                     ORDER BY version DESC",
                )
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(rule_version).collect())
            }

            async fn user_networks(&mut self, user_id: &str) -> StoreResult<Option<Vec<String>>> {
                let latest = sqlx::query_scalar::<$db, Option<i64>>(
                    "SELECT MAX(version) FROM user_network_versions WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some(version) = latest else { return Ok(None) };
                sqlx::query_scalar::<$db, String>(
                    "SELECT cidr FROM user_networks WHERE user_id = $1 AND version = $2 ORDER BY cidr",
                )
                .bind(user_id)
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(Some)
            }

            async fn keystroke_limits(&mut self) -> StoreResult<Option<mamori_domain::activity::KeystrokeLimits>> {
                let latest = sqlx::query_scalar::<$db, Option<i64>>("SELECT MAX(version) FROM keystroke_limit_versions")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                let Some(version) = latest else { return Ok(None) };
                let rows = sqlx::query_as::<$db, (String, i64)>(
                    "SELECT role, per_minute FROM keystroke_limits WHERE version = $1",
                )
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                keystroke_limits_of(rows).map(Some)
            }

            async fn site_device_policy(
                &mut self,
                site_id: &str,
            ) -> StoreResult<Option<mamori_domain::posture::PosturePolicy>> {
                let latest = sqlx::query_as::<$db, (i64, Option<i64>, Option<i64>, i64, i64)>(
                    "SELECT version, max_av_age_days, max_screen_lock_secs, require_disk_encryption, unreadable \
                     FROM site_policy_versions WHERE site_id = $1 ORDER BY version DESC LIMIT 1",
                )
                .bind(site_id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some((version, av, lock, encryption, unreadable)) = latest else { return Ok(None) };
                let builds = sqlx::query_as::<$db, (String, String)>(
                    "SELECT os_family, min_build FROM site_policy_os_builds WHERE site_id = $1 AND version = $2",
                )
                .bind(site_id)
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let software = sqlx::query_scalar::<$db, String>(
                    "SELECT name FROM site_policy_software WHERE site_id = $1 AND version = $2 ORDER BY position",
                )
                .bind(site_id)
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let networks = sqlx::query_scalar::<$db, String>(
                    "SELECT cidr FROM site_policy_networks WHERE site_id = $1 AND version = $2 ORDER BY position",
                )
                .bind(site_id)
                .bind(version)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                site_policy_of((av, lock, encryption, unreadable), builds, software, networks).map(Some)
            }

            async fn site_device_policy_versions(&mut self, site_id: &str) -> StoreResult<Vec<RuleVersion>> {
                sqlx::query_as::<$db, (i64, i64, String)>(
                    "SELECT version, changed_at, changed_by FROM site_policy_versions WHERE site_id = $1 \
                     ORDER BY version DESC",
                )
                .bind(site_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
                .map(|rows| rows.into_iter().map(rule_version).collect())
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::RulesWrite for $handle {
            async fn put_shift_schedule(
                &mut self,
                user_id: &str,
                schedule: &mamori_domain::activity::ShiftSchedule,
                changed_at: UnixMillis,
                changed_by: &str,
            ) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM shift_schedules WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO shift_schedules (user_id, version, utc_offset_minutes, changed_at, changed_by) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(user_id)
                .bind(version)
                .bind(i64::from(schedule.utc_offset_minutes))
                .bind(changed_at.0)
                .bind(changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (position, shift) in schedule.shifts.iter().enumerate() {
                    sqlx::query::<$db>(
                        "INSERT INTO shifts (user_id, version, position, days, start_time, end_time) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(user_id)
                    .bind(version)
                    .bind(i64::try_from(position).unwrap_or(i64::MAX))
                    .bind(weekday_bits(&shift.days))
                    .bind(&shift.start)
                    .bind(&shift.end)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(version)
            }

            async fn put_user_networks(
                &mut self,
                user_id: &str,
                networks: &[String],
                changed_at: UnixMillis,
                changed_by: &str,
            ) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM user_network_versions WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO user_network_versions (user_id, version, changed_at, changed_by) VALUES ($1, $2, $3, $4)",
                )
                .bind(user_id)
                .bind(version)
                .bind(changed_at.0)
                .bind(changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                let mut unique: Vec<&String> = networks.iter().collect();
                unique.sort();
                unique.dedup();
                for cidr in unique {
                    sqlx::query::<$db>("INSERT INTO user_networks (user_id, version, cidr) VALUES ($1, $2, $3)")
                        .bind(user_id)
                        .bind(version)
                        .bind(cidr)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(version)
            }

            async fn put_keystroke_limits(
                &mut self,
                limits: &mamori_domain::activity::KeystrokeLimits,
                changed_at: UnixMillis,
                changed_by: &str,
            ) -> StoreResult<i64> {
                let version =
                    sqlx::query_scalar::<$db, i64>("SELECT COALESCE(MAX(version), 0) + 1 FROM keystroke_limit_versions")
                        .fetch_one(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO keystroke_limit_versions (version, changed_at, changed_by) VALUES ($1, $2, $3)",
                )
                .bind(version)
                .bind(changed_at.0)
                .bind(changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (role, per_minute) in &limits.per_role {
                    sqlx::query::<$db>(
                        "INSERT INTO keystroke_limits (version, role, per_minute) VALUES ($1, $2, $3)",
                    )
                    .bind(version)
                    .bind(role.as_str())
                    .bind(i64::from(*per_minute))
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(version)
            }
            async fn put_site_device_policy(
                &mut self,
                site_id: &str,
                policy: &mamori_domain::posture::PosturePolicy,
                changed_at: UnixMillis,
                changed_by: &str,
            ) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM site_policy_versions WHERE site_id = $1",
                )
                .bind(site_id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                sqlx::query::<$db>(
                    "INSERT INTO site_policy_versions (site_id, version, max_av_age_days, max_screen_lock_secs, \
                     require_disk_encryption, unreadable, changed_at, changed_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(site_id)
                .bind(version)
                .bind(policy.max_av_age_days.map(i64::from))
                .bind(policy.max_screen_lock_secs.map(i64::from))
                .bind(i64::from(policy.require_disk_encryption))
                .bind(i64::from(policy.unreadable))
                .bind(changed_at.0)
                .bind(changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (os_family, min_build) in &policy.min_os_build {
                    sqlx::query::<$db>(
                        "INSERT INTO site_policy_os_builds (site_id, version, os_family, min_build) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(site_id)
                    .bind(version)
                    .bind(os_family)
                    .bind(min_build)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                let listed = |list: &[String]| -> Vec<(i64, String)> {
                    list.iter().enumerate().map(|(i, v)| (i64::try_from(i).unwrap_or(i64::MAX), v.clone())).collect()
                };
                for (position, name) in listed(policy.software_allowlist.as_deref().unwrap_or_default()) {
                    sqlx::query::<$db>(
                        "INSERT INTO site_policy_software (site_id, version, position, name) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(site_id)
                    .bind(version)
                    .bind(position)
                    .bind(name)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                for (position, cidr) in listed(&policy.approved_networks) {
                    sqlx::query::<$db>(
                        "INSERT INTO site_policy_networks (site_id, version, position, cidr) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(site_id)
                    .bind(version)
                    .bind(position)
                    .bind(cidr)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(version)
            }
        }
    };
}

pub(crate) use rules_queries;
