//! The queries of one area (checks), written once for both backends: see `mod.rs`.

macro_rules! checks_queries {
    ($handle:ty, $db:ty) => {
        const CHECKLIST_COLUMNS: &str =
            "id, title, items, performer, frequency, site_id, team_id, created_on, retired_at, changed_at, changed_by";
        const CHECK_RUN_COLUMNS: &str = "id, checklist_id, period, user_id, team_id, done_at, answers, note, failed";
        const CHECK_FOLLOW_UP_COLUMNS: &str = "id, run_id, checklist_id, item, item_text, note, user_id, team_id, \
                                               opened_at, due_on, resolved_at, resolved_by, resolution";
        const CHECK_PHOTO_COLUMNS: &str = "id, run_id, item, media_type, size, sha256, kek_version";

        #[derive(sqlx::FromRow)]
        struct ChecklistRow {
            id: String,
            title: String,
            items: String,
            performer: String,
            frequency: String,
            site_id: Option<String>,
            team_id: Option<String>,
            created_on: String,
            retired_at: Option<i64>,
            changed_at: i64,
            changed_by: String,
        }

        fn checklist_of(r: ChecklistRow) -> mamori_store::ChecklistRecord {
            mamori_store::ChecklistRecord {
                id: r.id,
                title: r.title,
                items: r.items,
                performer: r.performer,
                frequency: r.frequency,
                site_id: r.site_id,
                team_id: r.team_id,
                created_on: r.created_on,
                retired_at: r.retired_at.map(UnixMillis),
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }

        #[derive(sqlx::FromRow)]
        struct CheckRunRow {
            id: String,
            checklist_id: String,
            period: String,
            user_id: String,
            team_id: Option<String>,
            done_at: i64,
            answers: String,
            note: String,
            failed: i64,
        }

        fn check_run_of(r: CheckRunRow) -> mamori_store::CheckRunRecord {
            mamori_store::CheckRunRecord {
                id: r.id,
                checklist_id: r.checklist_id,
                period: r.period,
                user_id: r.user_id,
                team_id: r.team_id,
                done_at: UnixMillis(r.done_at),
                answers: r.answers,
                note: r.note,
                failed: r.failed,
            }
        }

        #[derive(sqlx::FromRow)]
        struct CheckFollowUpRow {
            id: String,
            run_id: String,
            checklist_id: String,
            item: i64,
            item_text: String,
            note: String,
            user_id: String,
            team_id: Option<String>,
            opened_at: i64,
            due_on: String,
            resolved_at: Option<i64>,
            resolved_by: Option<String>,
            resolution: String,
        }

        fn check_follow_up_of(r: CheckFollowUpRow) -> mamori_store::CheckFollowUpRecord {
            mamori_store::CheckFollowUpRecord {
                id: r.id,
                run_id: r.run_id,
                checklist_id: r.checklist_id,
                item: r.item,
                item_text: r.item_text,
                note: r.note,
                user_id: r.user_id,
                team_id: r.team_id,
                opened_at: UnixMillis(r.opened_at),
                due_on: r.due_on,
                resolved_at: r.resolved_at.map(UnixMillis),
                resolved_by: r.resolved_by,
                resolution: r.resolution,
            }
        }

        #[derive(sqlx::FromRow)]
        struct CheckPhotoRow {
            id: String,
            run_id: String,
            item: Option<i64>,
            media_type: String,
            size: i64,
            sha256: String,
            kek_version: i64,
        }

        fn check_photo_of(r: CheckPhotoRow) -> StoreResult<mamori_store::CheckPhotoRecord> {
            Ok(mamori_store::CheckPhotoRecord {
                kek_version: u32::try_from(r.kek_version)
                    .map_err(|_| mamori_store::StoreError::Corrupt("a check photo's key version".into()))?,
                id: r.id,
                run_id: r.run_id,
                item: r.item,
                media_type: r.media_type,
                size: r.size,
                sha256: r.sha256,
            })
        }

        #[async_trait::async_trait]
        impl mamori_store::ChecksRead for $handle {
            async fn checklists(&mut self, include_retired: bool) -> StoreResult<Vec<mamori_store::ChecklistRecord>> {
                let filter = if include_retired { "" } else { "WHERE retired_at IS NULL " };
                let rows = sqlx::query_as::<$db, ChecklistRow>(&format!(
                    "SELECT {CHECKLIST_COLUMNS} FROM checklists {filter}ORDER BY title, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(checklist_of).collect())
            }

            async fn checklist(&mut self, id: &str) -> StoreResult<Option<mamori_store::ChecklistRecord>> {
                let row = sqlx::query_as::<$db, ChecklistRow>(&format!(
                    "SELECT {CHECKLIST_COLUMNS} FROM checklists WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(checklist_of))
            }

            async fn check_runs_since(&mut self, since: UnixMillis) -> StoreResult<Vec<mamori_store::CheckRunRecord>> {
                let rows = sqlx::query_as::<$db, CheckRunRow>(&format!(
                    "SELECT {CHECK_RUN_COLUMNS} FROM check_runs WHERE done_at >= $1 ORDER BY done_at DESC, id"
                ))
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(check_run_of).collect())
            }

            async fn check_run(&mut self, id: &str) -> StoreResult<Option<mamori_store::CheckRunRecord>> {
                let row = sqlx::query_as::<$db, CheckRunRow>(&format!(
                    "SELECT {CHECK_RUN_COLUMNS} FROM check_runs WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(check_run_of))
            }

            async fn check_follow_ups(
                &mut self,
                open_only: bool,
            ) -> StoreResult<Vec<mamori_store::CheckFollowUpRecord>> {
                let filter = if open_only { "WHERE resolved_at IS NULL " } else { "" };
                let rows = sqlx::query_as::<$db, CheckFollowUpRow>(&format!(
                    "SELECT {CHECK_FOLLOW_UP_COLUMNS} FROM check_follow_ups {filter}ORDER BY opened_at, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(check_follow_up_of).collect())
            }

            async fn check_follow_up(&mut self, id: &str) -> StoreResult<Option<mamori_store::CheckFollowUpRecord>> {
                let row = sqlx::query_as::<$db, CheckFollowUpRow>(&format!(
                    "SELECT {CHECK_FOLLOW_UP_COLUMNS} FROM check_follow_ups WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(check_follow_up_of))
            }

            async fn check_photos(&mut self, run_ids: &[String]) -> StoreResult<Vec<mamori_store::CheckPhotoRecord>> {
                let mut out = Vec::new();
                for run in run_ids {
                    let rows = sqlx::query_as::<$db, CheckPhotoRow>(&format!(
                        "SELECT {CHECK_PHOTO_COLUMNS} FROM check_photos WHERE run_id = $1 ORDER BY item, id"
                    ))
                    .bind(run)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                    for r in rows {
                        out.push(check_photo_of(r)?);
                    }
                }
                Ok(out)
            }

            async fn check_photo(
                &mut self,
                id: &str,
            ) -> StoreResult<Option<(mamori_store::CheckPhotoRecord, mamori_store::CheckPhotoSealed)>> {
                let row = sqlx::query_as::<$db, CheckPhotoRow>(&format!(
                    "SELECT {CHECK_PHOTO_COLUMNS} FROM check_photos WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                let sealed = sqlx::query_as::<$db, (Vec<u8>, Vec<u8>)>(
                    "SELECT wrapped_key, content FROM check_photos WHERE id = $1",
                )
                .bind(id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(Some((
                    check_photo_of(row)?,
                    mamori_store::CheckPhotoSealed { wrapped_key: sealed.0, content: sealed.1 },
                )))
            }

            async fn check_photos_to_rewrap(
                &mut self,
                version: u32,
                limit: i64,
            ) -> StoreResult<Vec<(String, Vec<u8>)>> {
                sqlx::query_as::<$db, (String, Vec<u8>)>(
                    "SELECT id, wrapped_key FROM check_photos WHERE kek_version < $1 ORDER BY id LIMIT $2",
                )
                .bind(i64::from(version))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn count_check_photos_to_rewrap(&mut self, version: u32) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM check_photos WHERE kek_version < $1")
                    .bind(i64::from(version))
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn count_check_photos(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM check_photos")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::ChecksWrite for $handle {
            async fn put_checklist(&mut self, c: &mamori_store::ChecklistRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO checklists ({CHECKLIST_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (id) DO UPDATE SET title = excluded.title, items = excluded.items, \
                     performer = excluded.performer, frequency = excluded.frequency, site_id = excluded.site_id, \
                     team_id = excluded.team_id, created_on = excluded.created_on, retired_at = excluded.retired_at, \
                     changed_at = excluded.changed_at, changed_by = excluded.changed_by"
                ))
                .bind(&c.id)
                .bind(&c.title)
                .bind(&c.items)
                .bind(&c.performer)
                .bind(&c.frequency)
                .bind(&c.site_id)
                .bind(&c.team_id)
                .bind(&c.created_on)
                .bind(c.retired_at.map(|t| t.0))
                .bind(c.changed_at.0)
                .bind(&c.changed_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_check_run(&mut self, r: &mamori_store::CheckRunRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO check_runs ({CHECK_RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&r.id)
                .bind(&r.checklist_id)
                .bind(&r.period)
                .bind(&r.user_id)
                .bind(&r.team_id)
                .bind(r.done_at.0)
                .bind(&r.answers)
                .bind(&r.note)
                .bind(r.failed)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_check_follow_up(&mut self, f: &mamori_store::CheckFollowUpRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO check_follow_ups ({CHECK_FOLLOW_UP_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(&f.id)
                .bind(&f.run_id)
                .bind(&f.checklist_id)
                .bind(f.item)
                .bind(&f.item_text)
                .bind(&f.note)
                .bind(&f.user_id)
                .bind(&f.team_id)
                .bind(f.opened_at.0)
                .bind(&f.due_on)
                .bind(f.resolved_at.map(|t| t.0))
                .bind(&f.resolved_by)
                .bind(&f.resolution)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn resolve_check_follow_up(
                &mut self,
                id: &str,
                at: UnixMillis,
                by: &str,
                resolution: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE check_follow_ups SET resolved_at = $2, resolved_by = $3, resolution = $4 \
                     WHERE id = $1 AND resolved_at IS NULL",
                )
                .bind(id)
                .bind(at.0)
                .bind(by)
                .bind(resolution)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn rewrap_check_photo(
                &mut self,
                id: &str,
                old: &[u8],
                new: &[u8],
                version: u32,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE check_photos SET wrapped_key = $3, kek_version = $4 WHERE id = $1 AND wrapped_key = $2",
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

            async fn insert_check_photo(
                &mut self,
                p: &mamori_store::CheckPhotoRecord,
                sealed: &mamori_store::CheckPhotoSealed,
            ) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO check_photos (id, run_id, item, media_type, size, sha256, wrapped_key, \
                     kek_version, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&p.id)
                .bind(&p.run_id)
                .bind(p.item)
                .bind(&p.media_type)
                .bind(p.size)
                .bind(&p.sha256)
                .bind(&sealed.wrapped_key)
                .bind(i64::from(p.kek_version))
                .bind(&sealed.content)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}

pub(crate) use checks_queries;
