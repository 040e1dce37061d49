//! The queries of one area (ISMS registers), written once for both backends: see `mod.rs`.

macro_rules! isms_queries {
    ($handle:ty, $db:ty) => {
        const CONTROL_COLUMNS: &str = "urn, catalog_urn, parent_urn, ref_id, name, name_ja, description, \
                                       description_ja, assessable, position";
        const SOA_COLUMNS: &str = "control_urn, version, applicable, justification, implementation, owner_id, \
                                   review_on, changed_at, changed_by";

        type ControlRow = (
            String,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            bool,
            i64,
        );
        const ASSET_COLUMNS: &str = "id, version, kind, name, owner_id, location, confidentiality, integrity, \
                                     availability, allowed, review_on, notes, source, source_id, retired_at, \
                                     changed_at, changed_by";

        #[derive(sqlx::FromRow)]
        struct AssetRow {
            id: String,
            version: i64,
            kind: String,
            name: String,
            owner_id: Option<String>,
            location: String,
            confidentiality: String,
            integrity: String,
            availability: String,
            allowed: Option<bool>,
            review_on: Option<String>,
            notes: String,
            source: String,
            source_id: Option<String>,
            retired_at: Option<i64>,
            changed_at: i64,
            changed_by: String,
        }

        fn asset_of(r: AssetRow) -> AssetRecord {
            AssetRecord {
                id: r.id,
                version: r.version,
                kind: r.kind,
                name: r.name,
                owner_id: r.owner_id,
                location: r.location,
                confidentiality: r.confidentiality,
                integrity: r.integrity,
                availability: r.availability,
                allowed: r.allowed,
                review_on: r.review_on,
                notes: r.notes,
                source: r.source,
                source_id: r.source_id,
                retired_at: r.retired_at.map(UnixMillis),
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }

        type SoaRow = (String, i64, bool, String, String, Option<String>, Option<String>, i64, String);

        fn control_of(r: ControlRow) -> ControlRecord {
            ControlRecord {
                urn: r.0,
                catalog_urn: r.1,
                parent_urn: r.2,
                ref_id: r.3,
                name: r.4,
                name_ja: r.5,
                description: r.6,
                description_ja: r.7,
                assessable: r.8,
                position: r.9,
            }
        }

        fn soa_of(r: SoaRow) -> SoaEntryRecord {
            SoaEntryRecord {
                control_urn: r.0,
                version: r.1,
                applicable: r.2,
                justification: r.3,
                implementation: r.4,
                owner_id: r.5,
                review_on: r.6,
                changed_at: UnixMillis(r.7),
                changed_by: r.8,
            }
        }

        fn evidence_of(r: (String, i64, String, String, Option<i64>)) -> EvidenceRecord {
            EvidenceRecord {
                kind: r.0,
                computed_at: UnixMillis(r.1),
                status: r.2,
                value: r.3,
                checked_at: UnixMillis(r.4.unwrap_or(r.1).max(r.1)),
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::IsmsRead for $handle {
            async fn catalogs(&mut self) -> StoreResult<Vec<CatalogRecord>> {
                let rows = sqlx::query_as::<
                    $db,
                    (String, String, String, Option<String>, i64, Option<String>, bool, i64, String),
                >(
                    "SELECT urn, ref_id, name, name_ja, version, provider, built_in, imported_at, imported_by \
                     FROM control_catalogs ORDER BY built_in DESC, imported_at, urn",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| CatalogRecord {
                        urn: r.0,
                        ref_id: r.1,
                        name: r.2,
                        name_ja: r.3,
                        version: r.4,
                        provider: r.5,
                        built_in: r.6,
                        imported_at: UnixMillis(r.7),
                        imported_by: r.8,
                    })
                    .collect())
            }

            async fn catalog_controls(&mut self, catalog_urn: Option<&str>) -> StoreResult<Vec<ControlRecord>> {
                let rows = match catalog_urn {
                    Some(c) => sqlx::query_as::<$db, ControlRow>(&format!(
                        "SELECT {CONTROL_COLUMNS} FROM catalog_controls WHERE catalog_urn = $1 ORDER BY position"
                    ))
                    .bind(c)
                    .fetch_all(self.handle.conn())
                    .await,
                    None => sqlx::query_as::<$db, ControlRow>(&format!(
                        "SELECT {CONTROL_COLUMNS} FROM catalog_controls ORDER BY catalog_urn, position"
                    ))
                    .fetch_all(self.handle.conn())
                    .await,
                };
                Ok(rows.map_err(db_err)?.into_iter().map(control_of).collect())
            }

            async fn control_mappings(&mut self) -> StoreResult<Vec<(String, String)>> {
                sqlx::query_as::<$db, (String, String)>(
                    "SELECT from_urn, to_urn FROM control_mappings ORDER BY from_urn, to_urn",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn soa_entries(&mut self) -> StoreResult<Vec<SoaEntryRecord>> {
                let rows = sqlx::query_as::<$db, SoaRow>(&format!(
                    "SELECT {SOA_COLUMNS} FROM soa_entries s WHERE version = \
                     (SELECT MAX(version) FROM soa_entries l WHERE l.control_urn = s.control_urn)"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(soa_of).collect())
            }

            async fn soa_history(&mut self, control_urn: &str) -> StoreResult<Vec<SoaEntryRecord>> {
                let rows = sqlx::query_as::<$db, SoaRow>(&format!(
                    "SELECT {SOA_COLUMNS} FROM soa_entries WHERE control_urn = $1 ORDER BY version DESC"
                ))
                .bind(control_urn)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(soa_of).collect())
            }

            async fn evidence_current(&mut self) -> StoreResult<Vec<EvidenceRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, String, Option<i64>)>(
                    "SELECT r.kind, r.computed_at, r.status, r.value, c.checked_at FROM evidence_results r \
                     LEFT JOIN evidence_checks c ON c.kind = r.kind WHERE r.computed_at = \
                     (SELECT MAX(computed_at) FROM evidence_results l WHERE l.kind = r.kind) ORDER BY r.kind",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(evidence_of).collect())
            }

            async fn evidence_at(&mut self, at: UnixMillis) -> StoreResult<Vec<EvidenceRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, String, Option<i64>)>(
                    "SELECT r.kind, r.computed_at, r.status, r.value, CAST(NULL AS BIGINT) FROM evidence_results r \
                     WHERE r.computed_at = (SELECT MAX(computed_at) FROM evidence_results l \
                     WHERE l.kind = r.kind AND l.computed_at <= $1) ORDER BY r.kind",
                )
                .bind(at.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(evidence_of).collect())
            }

            async fn evidence_history(&mut self, kind: &str, limit: i64) -> StoreResult<Vec<EvidenceRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, String, Option<i64>)>(
                    "SELECT kind, computed_at, status, value, CAST(NULL AS BIGINT) FROM evidence_results WHERE kind = $1 \
                     ORDER BY computed_at DESC LIMIT $2",
                )
                .bind(kind)
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(evidence_of).collect())
            }

            async fn assets(&mut self, include_retired: bool) -> StoreResult<Vec<AssetRecord>> {
                let filter = if include_retired { "" } else { "WHERE retired_at IS NULL " };
                let rows = sqlx::query_as::<$db, AssetRow>(&format!(
                    "SELECT {ASSET_COLUMNS} FROM assets {filter}ORDER BY kind, name, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(asset_of).collect())
            }

            async fn asset(&mut self, id: &str) -> StoreResult<Option<AssetRecord>> {
                let row = sqlx::query_as::<$db, AssetRow>(&format!("SELECT {ASSET_COLUMNS} FROM assets WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                Ok(row.map(asset_of))
            }

            async fn asset_history(&mut self, id: &str) -> StoreResult<Vec<AssetRecord>> {
                let rows = sqlx::query_as::<$db, AssetRow>(&format!(
                    "SELECT {ASSET_COLUMNS} FROM asset_versions WHERE id = $1 ORDER BY version DESC"
                ))
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(asset_of).collect())
            }

            async fn actors_with_action_since(
                &mut self,
                action: &str,
                since: UnixMillis,
            ) -> StoreResult<Vec<String>> {
                sqlx::query_scalar::<$db, String>(
                    "SELECT DISTINCT actor FROM audit_entries WHERE action = $1 AND time >= $2 AND outcome = 'success'",
                )
                .bind(action)
                .bind(since.0)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }
        }

        #[async_trait::async_trait]
        impl mamori_store::IsmsWrite for $handle {
            async fn put_catalog(
                &mut self,
                c: &CatalogRecord,
                controls: &[ControlRecord],
                mappings: &[(String, String)],
            ) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO control_catalogs (urn, ref_id, name, name_ja, version, provider, built_in, \
                     imported_at, imported_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (urn) DO \
                     UPDATE SET ref_id = $2, name = $3, name_ja = $4, version = $5, provider = $6, built_in = $7, \
                     imported_at = $8, imported_by = $9",
                )
                .bind(&c.urn)
                .bind(&c.ref_id)
                .bind(&c.name)
                .bind(&c.name_ja)
                .bind(c.version)
                .bind(&c.provider)
                .bind(c.built_in)
                .bind(c.imported_at.0)
                .bind(&c.imported_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for table in ["control_mappings", "catalog_controls"] {
                    sqlx::query::<$db>(&format!("DELETE FROM {table} WHERE catalog_urn = $1"))
                        .bind(&c.urn)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                for chunk in controls.chunks(500) {
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("INSERT INTO catalog_controls ({CONTROL_COLUMNS}) "));
                    q.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.urn)
                            .push_bind(&c.urn)
                            .push_bind(&r.parent_urn)
                            .push_bind(&r.ref_id)
                            .push_bind(&r.name)
                            .push_bind(&r.name_ja)
                            .push_bind(&r.description)
                            .push_bind(&r.description_ja)
                            .push_bind(r.assessable)
                            .push_bind(r.position);
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                for chunk in mappings.chunks(500) {
                    let mut q =
                        sqlx::QueryBuilder::<$db>::new("INSERT INTO control_mappings (from_urn, to_urn, catalog_urn) ");
                    q.push_values(chunk, |mut b, (from, to)| {
                        b.push_bind(from).push_bind(to).push_bind(&c.urn);
                    });
                    q.build().execute(self.handle.conn()).await.map_err(db_err)?;
                }
                Ok(())
            }

            async fn put_soa_entry(&mut self, e: &SoaEntryRecord) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>(&format!(
                    "INSERT INTO soa_entries ({SOA_COLUMNS}) VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM \
                     soa_entries WHERE control_urn = $1), $2, $3, $4, $5, $6, $7, $8) RETURNING version"
                ))
                .bind(&e.control_urn)
                .bind(e.applicable)
                .bind(&e.justification)
                .bind(&e.implementation)
                .bind(&e.owner_id)
                .bind(&e.review_on)
                .bind(e.changed_at.0)
                .bind(&e.changed_by)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn put_asset(&mut self, a: &AssetRecord) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM asset_versions WHERE id = $1",
                )
                .bind(&a.id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (table, upsert) in [("asset_versions", false), ("assets", true)] {
                    let conflict = if upsert {
                        " ON CONFLICT (id) DO UPDATE SET version = $2, kind = $3, name = $4, owner_id = $5, \
                         location = $6, confidentiality = $7, integrity = $8, availability = $9, allowed = $10, \
                         review_on = $11, notes = $12, source = $13, source_id = $14, retired_at = $15, \
                         changed_at = $16, changed_by = $17"
                    } else {
                        ""
                    };
                    sqlx::query::<$db>(&format!(
                        "INSERT INTO {table} ({ASSET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                         $12, $13, $14, $15, $16, $17){conflict}"
                    ))
                    .bind(&a.id)
                    .bind(version)
                    .bind(&a.kind)
                    .bind(&a.name)
                    .bind(&a.owner_id)
                    .bind(&a.location)
                    .bind(&a.confidentiality)
                    .bind(&a.integrity)
                    .bind(&a.availability)
                    .bind(a.allowed)
                    .bind(&a.review_on)
                    .bind(&a.notes)
                    .bind(&a.source)
                    .bind(&a.source_id)
                    .bind(a.retired_at.map(|t| t.0))
                    .bind(a.changed_at.0)
                    .bind(&a.changed_by)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(version)
            }

            async fn record_evidence(
                &mut self,
                kind: &str,
                status: &str,
                value: &str,
                at: UnixMillis,
            ) -> StoreResult<bool> {
                let latest = sqlx::query_as::<$db, (i64, String, String)>(
                    "SELECT computed_at, status, value FROM evidence_results WHERE kind = $1 \
                     ORDER BY computed_at DESC LIMIT 1",
                )
                .bind(kind)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let changed = latest.as_ref().is_none_or(|(_, s, v)| s != status || v != value);
                if changed {
                    // A clock that stepped back must not hide the new result behind the old one.
                    let at = latest.map_or(at.0, |(t, _, _)| at.0.max(t + 1));
                    sqlx::query::<$db>(
                        "INSERT INTO evidence_results (kind, computed_at, status, value) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(kind)
                    .bind(at)
                    .bind(status)
                    .bind(value)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                sqlx::query::<$db>(
                    "INSERT INTO evidence_checks (kind, checked_at) VALUES ($1, $2) ON CONFLICT (kind) DO UPDATE \
                     SET checked_at = $2",
                )
                .bind(kind)
                .bind(at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(changed)
            }
        }
    };
}

pub(crate) use isms_queries;
