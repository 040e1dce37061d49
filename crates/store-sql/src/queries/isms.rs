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

        const RISK_COLUMNS: &str = "id, assessment_id, number, version, title, threat, vulnerability, \
                                    inherent_probability, inherent_impact, inherent_level, residual_probability, \
                                    residual_impact, residual_level, treatment, owner_id, due_on, review_on, notes, \
                                    changed_at, changed_by";

        #[derive(sqlx::FromRow)]
        struct RiskRow {
            id: String,
            assessment_id: String,
            number: i64,
            version: i64,
            title: String,
            threat: String,
            vulnerability: String,
            inherent_probability: i64,
            inherent_impact: i64,
            inherent_level: i64,
            residual_probability: Option<i64>,
            residual_impact: Option<i64>,
            residual_level: Option<i64>,
            treatment: String,
            owner_id: Option<String>,
            due_on: Option<String>,
            review_on: Option<String>,
            notes: String,
            changed_at: i64,
            changed_by: String,
            #[sqlx(default)]
            asset_ids: Option<String>,
            #[sqlx(default)]
            control_urns: Option<String>,
        }

        fn split_list(s: Option<String>) -> Vec<String> {
            s.map(|s| s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
        }

        fn risk_of(r: RiskRow) -> RiskRecord {
            let residual = match (r.residual_probability, r.residual_impact, r.residual_level) {
                (Some(probability), Some(impact), Some(level)) => Some(RatedRecord { probability, impact, level }),
                _ => None,
            };
            RiskRecord {
                id: r.id,
                assessment_id: r.assessment_id,
                number: r.number,
                version: r.version,
                title: r.title,
                threat: r.threat,
                vulnerability: r.vulnerability,
                inherent: RatedRecord {
                    probability: r.inherent_probability,
                    impact: r.inherent_impact,
                    level: r.inherent_level,
                },
                residual,
                treatment: r.treatment,
                owner_id: r.owner_id,
                due_on: r.due_on,
                review_on: r.review_on,
                notes: r.notes,
                asset_ids: split_list(r.asset_ids),
                control_urns: split_list(r.control_urns),
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }

        const VENDOR_COLUMNS: &str = "id, version, name, parent_id, data_handled, contact, review_on, notes, \
                                      retired_at, changed_at, changed_by";
        type VendorRow = (
            String,
            i64,
            String,
            Option<String>,
            String,
            String,
            Option<String>,
            String,
            Option<i64>,
            i64,
            String,
        );

        fn vendor_of(r: VendorRow, client_ids: Vec<String>) -> VendorRecord {
            VendorRecord {
                id: r.0,
                version: r.1,
                name: r.2,
                parent_id: r.3,
                client_ids,
                data_handled: r.4,
                contact: r.5,
                review_on: r.6,
                notes: r.7,
                retired_at: r.8.map(UnixMillis),
                changed_at: UnixMillis(r.9),
                changed_by: r.10,
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

            async fn risk_assessments(&mut self) -> StoreResult<Vec<RiskAssessmentRecord>> {
                use mamori_domain::isms::risk::{Grade, Level, RiskMatrix};
                let heads = sqlx::query_as::<$db, (String, String, i64, i64, String)>(
                    "SELECT id, name, appetite, created_at, created_by FROM risk_assessments \
                     ORDER BY created_at DESC, id",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let grades = sqlx::query_as::<$db, (String, String, i64, String, String, Option<String>)>(
                    "SELECT assessment_id, axis, position, name_en, name_ja, color FROM risk_matrix_grades \
                     ORDER BY assessment_id, axis, position",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let cells = sqlx::query_as::<$db, (String, i64, i64, i64)>(
                    "SELECT assessment_id, probability, impact, level FROM risk_matrix_cells \
                     ORDER BY assessment_id, probability, impact",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let mut out = Vec::with_capacity(heads.len());
                for (id, name, appetite, created_at, created_by) in heads {
                    let mut matrix = RiskMatrix { probability: vec![], impact: vec![], levels: vec![], grid: vec![] };
                    for (_, axis, _, en, ja, color) in grades.iter().filter(|g| g.0 == id) {
                        let (en, ja) = (en.clone(), ja.clone());
                        match axis.as_str() {
                            "probability" => matrix.probability.push(Grade { en, ja }),
                            "impact" => matrix.impact.push(Grade { en, ja }),
                            _ => matrix.levels.push(Level { en, ja, color: color.clone().unwrap_or_default() }),
                        }
                    }
                    matrix.grid = vec![vec![0; matrix.impact.len()]; matrix.probability.len()];
                    for (_, p, i, level) in cells.iter().filter(|c| c.0 == id) {
                        let cell = matrix
                            .grid
                            .get_mut(*p as usize)
                            .and_then(|row| row.get_mut(*i as usize))
                            .ok_or_else(|| StoreError::Corrupt(format!("risk matrix {id}: cell {p},{i}")))?;
                        *cell = u8::try_from(*level).map_err(|_| StoreError::Corrupt(format!("risk matrix {id}")))?;
                    }
                    out.push(RiskAssessmentRecord {
                        id,
                        name,
                        appetite,
                        matrix,
                        created_at: UnixMillis(created_at),
                        created_by,
                    });
                }
                Ok(out)
            }

            async fn risks(&mut self, assessment_id: &str) -> StoreResult<Vec<RiskRecord>> {
                let mut risks: Vec<RiskRecord> = sqlx::query_as::<$db, RiskRow>(&format!(
                    "SELECT {RISK_COLUMNS} FROM risks WHERE assessment_id = $1 ORDER BY number"
                ))
                .bind(assessment_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?
                .into_iter()
                .map(risk_of)
                .collect();
                let index: std::collections::HashMap<String, usize> =
                    risks.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
                let assets = sqlx::query_as::<$db, (String, String)>(
                    "SELECT l.risk_id, l.asset_id FROM risk_assets l JOIN risks r ON r.id = l.risk_id \
                     WHERE r.assessment_id = $1 ORDER BY l.asset_id",
                )
                .bind(assessment_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (risk, asset) in assets {
                    if let Some(&i) = index.get(&risk) {
                        risks[i].asset_ids.push(asset);
                    }
                }
                let controls = sqlx::query_as::<$db, (String, String)>(
                    "SELECT l.risk_id, l.control_urn FROM risk_controls l JOIN risks r ON r.id = l.risk_id \
                     WHERE r.assessment_id = $1 ORDER BY l.control_urn",
                )
                .bind(assessment_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (risk, urn) in controls {
                    if let Some(&i) = index.get(&risk) {
                        risks[i].control_urns.push(urn);
                    }
                }
                Ok(risks)
            }

            async fn risk(&mut self, id: &str) -> StoreResult<Option<RiskRecord>> {
                let Some(row) = sqlx::query_as::<$db, RiskRow>(&format!("SELECT {RISK_COLUMNS} FROM risks WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?
                else {
                    return Ok(None);
                };
                let mut risk = risk_of(row);
                risk.asset_ids = sqlx::query_scalar::<$db, String>(
                    "SELECT asset_id FROM risk_assets WHERE risk_id = $1 ORDER BY asset_id",
                )
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                risk.control_urns = sqlx::query_scalar::<$db, String>(
                    "SELECT control_urn FROM risk_controls WHERE risk_id = $1 ORDER BY control_urn",
                )
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(Some(risk))
            }

            async fn risk_history(&mut self, id: &str) -> StoreResult<Vec<RiskRecord>> {
                let rows = sqlx::query_as::<$db, RiskRow>(&format!(
                    "SELECT {RISK_COLUMNS}, asset_ids, control_urns FROM risk_versions WHERE id = $1 \
                     ORDER BY version DESC"
                ))
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(risk_of).collect())
            }

            async fn risk_control_links(&mut self) -> StoreResult<Vec<(String, String)>> {
                sqlx::query_as::<$db, (String, String)>("SELECT control_urn, risk_id FROM risk_controls")
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn risk_asset_links(&mut self) -> StoreResult<Vec<(String, String, String)>> {
                sqlx::query_as::<$db, (String, String, String)>(
                    "SELECT l.risk_id, a.id, a.name FROM risk_assets l JOIN assets a ON a.id = l.asset_id",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn vendors(&mut self, include_retired: bool) -> StoreResult<Vec<VendorRecord>> {
                let filter = if include_retired { "" } else { "WHERE retired_at IS NULL " };
                let rows = sqlx::query_as::<$db, VendorRow>(&format!(
                    "SELECT {VENDOR_COLUMNS} FROM vendors {filter}ORDER BY name, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let links = sqlx::query_as::<$db, (String, String)>(
                    "SELECT vendor_id, client_id FROM vendor_clients ORDER BY client_id",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                let mut clients: std::collections::HashMap<String, Vec<String>> = Default::default();
                for (vendor, client) in links {
                    clients.entry(vendor).or_default().push(client);
                }
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        let ids = clients.remove(&r.0).unwrap_or_default();
                        vendor_of(r, ids)
                    })
                    .collect())
            }

            async fn vendor(&mut self, id: &str) -> StoreResult<Option<VendorRecord>> {
                let Some(row) =
                    sqlx::query_as::<$db, VendorRow>(&format!("SELECT {VENDOR_COLUMNS} FROM vendors WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(self.handle.conn())
                        .await
                        .map_err(db_err)?
                else {
                    return Ok(None);
                };
                let clients = sqlx::query_scalar::<$db, String>(
                    "SELECT client_id FROM vendor_clients WHERE vendor_id = $1 ORDER BY client_id",
                )
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(Some(vendor_of(row, clients)))
            }

            async fn vendor_history(&mut self, id: &str) -> StoreResult<Vec<VendorRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, Option<String>, String, String, Option<String>, String, Option<i64>, i64, String, String)>(
                    &format!("SELECT {VENDOR_COLUMNS}, client_ids FROM vendor_versions WHERE id = $1 ORDER BY version DESC"),
                )
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        let clients = r.11.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect();
                        vendor_of((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10), clients)
                    })
                    .collect())
            }

            async fn certificates(&mut self) -> StoreResult<Vec<CertificateRecord>> {
                let rows = sqlx::query_as::<$db, (String, Option<String>, String, String, String, String, String, String, i64, String)>(
                    "SELECT id, vendor_id, scheme, number, issuer, first_obtained_on, issued_on, expires_on, recorded_at, \
                     recorded_by FROM certificates ORDER BY vendor_id, scheme, expires_on",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| CertificateRecord {
                        id: r.0,
                        vendor_id: r.1,
                        scheme: r.2,
                        number: r.3,
                        issuer: r.4,
                        first_obtained_on: r.5,
                        issued_on: r.6,
                        expires_on: r.7,
                        recorded_at: UnixMillis(r.8),
                        recorded_by: r.9,
                    })
                    .collect())
            }

            async fn vendor_assessments(&mut self, vendor_id: Option<&str>) -> StoreResult<Vec<VendorAssessmentRecord>> {
                let sql = "SELECT id, vendor_id, assessed_on, total, tier, next_on, notes, recorded_at, recorded_by \
                           FROM vendor_assessments WHERE ($1 IS NULL OR vendor_id = $1) \
                           ORDER BY assessed_on DESC, recorded_at DESC";
                let rows = sqlx::query_as::<$db, (String, String, String, i64, String, String, String, i64, String)>(sql)
                    .bind(vendor_id)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let scores = sqlx::query_as::<$db, (String, i64)>(
                        "SELECT criterion, score FROM vendor_assessment_scores WHERE assessment_id = $1 ORDER BY criterion",
                    )
                    .bind(&r.0)
                    .fetch_all(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                    out.push(VendorAssessmentRecord {
                        id: r.0,
                        vendor_id: r.1,
                        assessed_on: r.2,
                        scores,
                        total: r.3,
                        tier: r.4,
                        next_on: r.5,
                        notes: r.6,
                        recorded_at: UnixMillis(r.7),
                        recorded_by: r.8,
                    });
                }
                Ok(out)
            }

            async fn vendor_visits(&mut self, vendor_id: &str) -> StoreResult<Vec<VendorVisitRecord>> {
                let rows = sqlx::query_as::<$db, (String, String, String, String, String, i64, String)>(
                    "SELECT id, vendor_id, visited_on, visitor, findings, recorded_at, recorded_by FROM vendor_visits \
                     WHERE vendor_id = $1 ORDER BY visited_on DESC",
                )
                .bind(vendor_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows
                    .into_iter()
                    .map(|r| VendorVisitRecord {
                        id: r.0,
                        vendor_id: r.1,
                        visited_on: r.2,
                        visitor: r.3,
                        findings: r.4,
                        recorded_at: UnixMillis(r.5),
                        recorded_by: r.6,
                    })
                    .collect())
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

            async fn asset_page(&mut self, q: &AssetListQuery) -> StoreResult<AssetPage> {
                /// Binds `value` as the next parameter; returns its placeholder.
                fn param(binds: &mut Vec<String>, value: &str) -> String {
                    binds.push(value.to_owned());
                    format!("${}", binds.len())
                }
                let mut binds: Vec<String> = Vec::new();
                let mut conditions: Vec<String> = Vec::new();
                if !q.include_retired {
                    conditions.push("retired_at IS NULL".into());
                }
                for (column, value) in
                    [("kind", &q.kind), ("confidentiality", &q.confidentiality), ("source", &q.source)]
                {
                    if let Some(v) = value {
                        conditions.push(format!("{column} = {}", param(&mut binds, v)));
                    }
                }
                match &q.owner {
                    Some(AssetOwnerFilter::User(id)) => {
                        conditions.push(format!("owner_id = {}", param(&mut binds, id)))
                    }
                    Some(AssetOwnerFilter::Nobody) => conditions.push("owner_id IS NULL".into()),
                    None => {}
                }
                if let Some(text) = q.text.as_deref().filter(|t| !t.is_empty()) {
                    // A substring, letters in lower case; `%`, `_` and `\` stand for themselves.
                    let mut pattern = String::from("%");
                    for c in text.to_lowercase().chars() {
                        if matches!(c, '%' | '_' | '\\') {
                            pattern.push('\\');
                        }
                        pattern.push(c);
                    }
                    pattern.push('%');
                    let p = param(&mut binds, &pattern);
                    conditions.push(format!(
                        "(LOWER(name) LIKE {p} ESCAPE '\\' OR LOWER(location) LIKE {p} ESCAPE '\\')"
                    ));
                }
                if let (true, Some(day)) = (q.overdue_only, &q.overdue_before) {
                    conditions.push(format!("retired_at IS NULL AND review_on < {}", param(&mut binds, day)));
                }
                let filter =
                    if conditions.is_empty() { String::new() } else { format!("WHERE {} ", conditions.join(" AND ")) };
                let order = match q.sort {
                    AssetSort::Name => "name, id",
                    AssetSort::Kind => "kind, name, id",
                    AssetSort::ReviewOn => "CASE WHEN review_on IS NULL THEN 1 ELSE 0 END, review_on, name, id",
                };
                let page_sql = format!(
                    "SELECT {ASSET_COLUMNS} FROM assets {filter}ORDER BY {order} LIMIT ${} OFFSET ${}",
                    binds.len() + 1,
                    binds.len() + 2
                );
                let mut page = sqlx::query_as::<$db, AssetRow>(&page_sql);
                for b in &binds {
                    page = page.bind(b);
                }
                let rows =
                    page.bind(q.limit).bind(q.offset).fetch_all(self.handle.conn()).await.map_err(db_err)?;
                let mut count_binds = binds.clone();
                let overdue = match &q.overdue_before {
                    Some(day) => format!(
                        "CAST(COALESCE(SUM(CASE WHEN retired_at IS NULL AND review_on < {} THEN 1 ELSE 0 END), 0) \
                         AS BIGINT)",
                        param(&mut count_binds, day)
                    ),
                    None => "CAST(0 AS BIGINT)".into(),
                };
                let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT), {overdue} FROM assets {filter}");
                let mut count = sqlx::query_as::<$db, (i64, i64)>(&count_sql);
                for b in &count_binds {
                    count = count.bind(b);
                }
                let (total, overdue) = count.fetch_one(self.handle.conn()).await.map_err(db_err)?;
                Ok(AssetPage { assets: rows.into_iter().map(asset_of).collect(), total, overdue })
            }

            async fn legal_requirements(&mut self, include_retired: bool) -> StoreResult<Vec<LegalRecord>> {
                let filter = if include_retired { "" } else { "WHERE retired_at IS NULL " };
                let rows = sqlx::query_as::<$db, LegalRow>(&format!(
                    "SELECT {LEGAL_COLUMNS} FROM legal_requirements {filter}ORDER BY kind, title, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(legal_of).collect())
            }

            async fn legal_requirement(&mut self, id: &str) -> StoreResult<Option<LegalRecord>> {
                let row = sqlx::query_as::<$db, LegalRow>(&format!(
                    "SELECT {LEGAL_COLUMNS} FROM legal_requirements WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(legal_of))
            }

            async fn legal_history(&mut self, id: &str) -> StoreResult<Vec<LegalRecord>> {
                let rows = sqlx::query_as::<$db, LegalRow>(&format!(
                    "SELECT {LEGAL_COLUMNS} FROM legal_requirement_versions WHERE id = $1 ORDER BY version DESC"
                ))
                .bind(id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(legal_of).collect())
            }

            async fn vendor_files(&mut self, vendor_id: &str) -> StoreResult<Vec<VendorFileRecord>> {
                let rows = sqlx::query_as::<$db, VendorFileRow>(&format!(
                    "SELECT {VENDOR_FILE_COLUMNS} FROM vendor_files WHERE vendor_id = $1 ORDER BY uploaded_at DESC, id"
                ))
                .bind(vendor_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                rows.into_iter().map(vendor_file_of).collect()
            }

            async fn vendor_file(
                &mut self,
                vendor_id: &str,
                id: &str,
            ) -> StoreResult<Option<(VendorFileRecord, VendorFileSealed)>> {
                let row = sqlx::query_as::<$db, VendorFileRow>(&format!(
                    "SELECT {VENDOR_FILE_COLUMNS} FROM vendor_files WHERE vendor_id = $1 AND id = $2"
                ))
                .bind(vendor_id)
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                let Some(row) = row else { return Ok(None) };
                let sealed = sqlx::query_as::<$db, (Vec<u8>, Vec<u8>)>(
                    "SELECT wrapped_key, content FROM vendor_files WHERE id = $1",
                )
                .bind(id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(Some((vendor_file_of(row)?, VendorFileSealed { wrapped_key: sealed.0, content: sealed.1 })))
            }

            async fn vendor_files_to_rewrap(
                &mut self,
                version: u32,
                limit: i64,
            ) -> StoreResult<Vec<(String, Vec<u8>)>> {
                sqlx::query_as::<$db, (String, Vec<u8>)>(
                    "SELECT id, wrapped_key FROM vendor_files WHERE kek_version < $1 ORDER BY id LIMIT $2",
                )
                .bind(i64::from(version))
                .bind(limit)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)
            }

            async fn count_vendor_files_to_rewrap(&mut self, version: u32) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM vendor_files WHERE kek_version < $1")
                    .bind(i64::from(version))
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn count_vendor_files(&mut self) -> StoreResult<i64> {
                sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM vendor_files")
                    .fetch_one(self.handle.conn())
                    .await
                    .map_err(db_err)
            }

            async fn disposals(&mut self) -> StoreResult<Vec<DisposalRecord>> {
                let rows = sqlx::query_as::<$db, DisposalRow>(&format!(
                    "SELECT {DISPOSAL_COLUMNS} FROM disposals ORDER BY disposed_on DESC, recorded_at DESC, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(disposal_of).collect())
            }

            async fn policies(&mut self) -> StoreResult<Vec<PolicyRecord>> {
                let rows = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM policies p ORDER BY kind, title, id"
                ))
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(policy_of).collect())
            }

            async fn policy(&mut self, id: &str) -> StoreResult<Option<PolicyRecord>> {
                let row = sqlx::query_as::<$db, PolicyRow>(&format!(
                    "SELECT {POLICY_COLUMNS} FROM policies p WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(row.map(policy_of))
            }

            async fn policy_versions(&mut self, policy_id: &str) -> StoreResult<Vec<PolicyVersionRecord>> {
                let rows = sqlx::query_as::<$db, PolicyVersionRow>(&format!(
                    "SELECT {POLICY_VERSION_COLUMNS} FROM policy_versions WHERE policy_id = $1 ORDER BY version DESC"
                ))
                .bind(policy_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(policy_version_of).collect())
            }

            async fn current_policy_acknowledgements(&mut self) -> StoreResult<Vec<PolicyAckRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, i64)>(
                    "SELECT a.policy_id, a.version, a.user_id, a.acknowledged_at FROM policy_acknowledgements a \
                     JOIN (SELECT policy_id, MAX(version) AS version FROM policy_versions \
                           WHERE published_at IS NOT NULL GROUP BY policy_id) c \
                     ON a.policy_id = c.policy_id AND a.version = c.version",
                )
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(policy_ack_of).collect())
            }

            async fn policy_acknowledgements(
                &mut self,
                policy_id: Option<&str>,
                user_id: Option<&str>,
            ) -> StoreResult<Vec<PolicyAckRecord>> {
                let rows = sqlx::query_as::<$db, (String, i64, String, i64)>(
                    "SELECT policy_id, version, user_id, acknowledged_at FROM policy_acknowledgements \
                     WHERE ($1 IS NULL OR policy_id = $1) AND ($2 IS NULL OR user_id = $2) \
                     ORDER BY acknowledged_at DESC, policy_id, version DESC, user_id",
                )
                .bind(policy_id)
                .bind(user_id)
                .fetch_all(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(policy_ack_of).collect())
            }

            async fn all_user_clients(&mut self) -> StoreResult<Vec<(String, String)>> {
                sqlx::query_as::<$db, (String, String)>("SELECT user_id, client_id FROM user_clients")
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

            async fn insert_risk_assessment(&mut self, a: &RiskAssessmentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO risk_assessments (id, name, appetite, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&a.id)
                .bind(&a.name)
                .bind(a.appetite)
                .bind(a.created_at.0)
                .bind(&a.created_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                let m = &a.matrix;
                let grades = m
                    .probability
                    .iter()
                    .enumerate()
                    .map(|(i, g)| ("probability", i, &g.en, &g.ja, None))
                    .chain(m.impact.iter().enumerate().map(|(i, g)| ("impact", i, &g.en, &g.ja, None)))
                    .chain(m.levels.iter().enumerate().map(|(i, l)| ("level", i, &l.en, &l.ja, Some(&l.color))));
                for (axis, position, en, ja, color) in grades {
                    sqlx::query::<$db>(
                        "INSERT INTO risk_matrix_grades (assessment_id, axis, position, name_en, name_ja, color) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&a.id)
                    .bind(axis)
                    .bind(position as i64)
                    .bind(en)
                    .bind(ja)
                    .bind(color)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                for (p, row) in m.grid.iter().enumerate() {
                    for (i, level) in row.iter().enumerate() {
                        sqlx::query::<$db>(
                            "INSERT INTO risk_matrix_cells (assessment_id, probability, impact, level) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&a.id)
                        .bind(p as i64)
                        .bind(i as i64)
                        .bind(i64::from(*level))
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                    }
                }
                Ok(())
            }

            async fn put_risk(&mut self, r: &RiskRecord) -> StoreResult<(i64, i64)> {
                let existing = sqlx::query_as::<$db, (i64, i64)>("SELECT number, version FROM risks WHERE id = $1")
                    .bind(&r.id)
                    .fetch_optional(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                let (number, version) = match existing {
                    Some((number, version)) => (number, version + 1),
                    // An import keeps the number the risk had where it was exported.
                    None if r.number > 0 => (r.number, 1),
                    None => {
                        // Holds the assessment's row until the commit, so two replicas adding a
                        // risk at once take numbers one after the other (SQLite has one writer).
                        sqlx::query::<$db>("UPDATE risk_assessments SET name = name WHERE id = $1")
                            .bind(&r.assessment_id)
                            .execute(self.handle.conn())
                            .await
                            .map_err(db_err)?;
                        let next = sqlx::query_scalar::<$db, i64>(
                            "SELECT COALESCE(MAX(number), 0) + 1 FROM risks WHERE assessment_id = $1",
                        )
                        .bind(&r.assessment_id)
                        .fetch_one(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                        (next, 1)
                    }
                };
                let residual = r.residual;
                let values = "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20";
                let statements = [
                    format!(
                        "INSERT INTO risks ({RISK_COLUMNS}) VALUES {values}) ON CONFLICT (id) DO UPDATE SET \
                         version = $4, title = $5, threat = $6, vulnerability = $7, inherent_probability = $8, \
                         inherent_impact = $9, inherent_level = $10, residual_probability = $11, residual_impact = $12, \
                         residual_level = $13, treatment = $14, owner_id = $15, due_on = $16, review_on = $17, \
                         notes = $18, changed_at = $19, changed_by = $20"
                    ),
                    format!(
                        "INSERT INTO risk_versions ({RISK_COLUMNS}, asset_ids, control_urns) VALUES {values}, $21, $22)"
                    ),
                ];
                for (n, sql) in statements.iter().enumerate() {
                    let q = sqlx::query::<$db>(sql)
                        .bind(&r.id)
                        .bind(&r.assessment_id)
                        .bind(number)
                        .bind(version)
                        .bind(&r.title)
                        .bind(&r.threat)
                        .bind(&r.vulnerability)
                        .bind(r.inherent.probability)
                        .bind(r.inherent.impact)
                        .bind(r.inherent.level)
                        .bind(residual.map(|x| x.probability))
                        .bind(residual.map(|x| x.impact))
                        .bind(residual.map(|x| x.level))
                        .bind(&r.treatment)
                        .bind(&r.owner_id)
                        .bind(&r.due_on)
                        .bind(&r.review_on)
                        .bind(&r.notes)
                        .bind(r.changed_at.0)
                        .bind(&r.changed_by);
                    // The version row also keeps the links as they were.
                    let q = if n == 1 { q.bind(r.asset_ids.join(",")).bind(r.control_urns.join(",")) } else { q };
                    q.execute(self.handle.conn()).await.map_err(db_err)?;
                }
                for table in ["risk_assets", "risk_controls"] {
                    sqlx::query::<$db>(&format!("DELETE FROM {table} WHERE risk_id = $1"))
                        .bind(&r.id)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                for asset in &r.asset_ids {
                    sqlx::query::<$db>("INSERT INTO risk_assets (risk_id, asset_id) VALUES ($1, $2)")
                        .bind(&r.id)
                        .bind(asset)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                for urn in &r.control_urns {
                    sqlx::query::<$db>("INSERT INTO risk_controls (risk_id, control_urn) VALUES ($1, $2)")
                        .bind(&r.id)
                        .bind(urn)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok((number, version))
            }

            async fn put_vendor(&mut self, v: &VendorRecord) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM vendor_versions WHERE id = $1",
                )
                .bind(&v.id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                let values = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11";
                let statements = [
                    format!(
                        "INSERT INTO vendors ({VENDOR_COLUMNS}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET \
                         version = $2, name = $3, parent_id = $4, data_handled = $5, contact = $6, review_on = $7, \
                         notes = $8, retired_at = $9, changed_at = $10, changed_by = $11"
                    ),
                    format!("INSERT INTO vendor_versions ({VENDOR_COLUMNS}, client_ids) VALUES ({values}, $12)"),
                ];
                for (n, sql) in statements.iter().enumerate() {
                    let q = sqlx::query::<$db>(sql)
                        .bind(&v.id)
                        .bind(version)
                        .bind(&v.name)
                        .bind(&v.parent_id)
                        .bind(&v.data_handled)
                        .bind(&v.contact)
                        .bind(&v.review_on)
                        .bind(&v.notes)
                        .bind(v.retired_at.map(|t| t.0))
                        .bind(v.changed_at.0)
                        .bind(&v.changed_by);
                    let q = if n == 1 { q.bind(v.client_ids.join(",")) } else { q };
                    q.execute(self.handle.conn()).await.map_err(db_err)?;
                }
                sqlx::query::<$db>("DELETE FROM vendor_clients WHERE vendor_id = $1")
                    .bind(&v.id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                for client in &v.client_ids {
                    sqlx::query::<$db>("INSERT INTO vendor_clients (vendor_id, client_id) VALUES ($1, $2)")
                        .bind(&v.id)
                        .bind(client)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(version)
            }

            async fn insert_certificate(&mut self, c: &CertificateRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO certificates (id, vendor_id, scheme, number, issuer, first_obtained_on, issued_on, \
                     expires_on, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&c.id)
                .bind(&c.vendor_id)
                .bind(&c.scheme)
                .bind(&c.number)
                .bind(&c.issuer)
                .bind(&c.first_obtained_on)
                .bind(&c.issued_on)
                .bind(&c.expires_on)
                .bind(c.recorded_at.0)
                .bind(&c.recorded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_vendor_assessment(&mut self, a: &VendorAssessmentRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO vendor_assessments (id, vendor_id, assessed_on, total, tier, next_on, notes, recorded_at, \
                     recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&a.id)
                .bind(&a.vendor_id)
                .bind(&a.assessed_on)
                .bind(a.total)
                .bind(&a.tier)
                .bind(&a.next_on)
                .bind(&a.notes)
                .bind(a.recorded_at.0)
                .bind(&a.recorded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                for (criterion, score) in &a.scores {
                    sqlx::query::<$db>(
                        "INSERT INTO vendor_assessment_scores (assessment_id, criterion, score) VALUES ($1, $2, $3)",
                    )
                    .bind(&a.id)
                    .bind(criterion)
                    .bind(score)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                }
                Ok(())
            }

            async fn insert_vendor_visit(&mut self, v: &VendorVisitRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO vendor_visits (id, vendor_id, visited_on, visitor, findings, recorded_at, recorded_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&v.id)
                .bind(&v.vendor_id)
                .bind(&v.visited_on)
                .bind(&v.visitor)
                .bind(&v.findings)
                .bind(v.recorded_at.0)
                .bind(&v.recorded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
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

            async fn put_legal_requirement(&mut self, l: &LegalRecord) -> StoreResult<i64> {
                let version = sqlx::query_scalar::<$db, i64>(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM legal_requirement_versions WHERE id = $1",
                )
                .bind(&l.id)
                .fetch_one(self.handle.conn())
                .await
                .map_err(db_err)?;
                let values = "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13";
                let statements = [
                    format!(
                        "INSERT INTO legal_requirements ({LEGAL_COLUMNS}) VALUES ({values}) ON CONFLICT (id) DO \
                         UPDATE SET version = $2, kind = $3, title = $4, reference = $5, obligations = $6, \
                         client_id = $7, owner_id = $8, review_on = $9, notes = $10, retired_at = $11, \
                         changed_at = $12, changed_by = $13"
                    ),
                    format!("INSERT INTO legal_requirement_versions ({LEGAL_COLUMNS}) VALUES ({values})"),
                ];
                for sql in &statements {
                    sqlx::query::<$db>(sql)
                        .bind(&l.id)
                        .bind(version)
                        .bind(&l.kind)
                        .bind(&l.title)
                        .bind(&l.reference)
                        .bind(&l.obligations)
                        .bind(&l.client_id)
                        .bind(&l.owner_id)
                        .bind(&l.review_on)
                        .bind(&l.notes)
                        .bind(l.retired_at.map(|t| t.0))
                        .bind(l.changed_at.0)
                        .bind(&l.changed_by)
                        .execute(self.handle.conn())
                        .await
                        .map_err(db_err)?;
                }
                Ok(version)
            }

            async fn insert_vendor_file(&mut self, f: &VendorFileRecord, sealed: &VendorFileSealed) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO vendor_files (id, vendor_id, name, media_type, size, sha256, wrapped_key, kek_version, \
                     content, note, visit_id, uploaded_at, uploaded_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&f.id)
                .bind(&f.vendor_id)
                .bind(&f.name)
                .bind(&f.media_type)
                .bind(f.size)
                .bind(&f.sha256)
                .bind(&sealed.wrapped_key)
                .bind(i64::from(f.kek_version))
                .bind(&sealed.content)
                .bind(&f.note)
                .bind(&f.visit_id)
                .bind(f.uploaded_at.0)
                .bind(&f.uploaded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_disposal(&mut self, d: &DisposalRecord) -> StoreResult<()> {
                sqlx::query::<$db>(&format!(
                    "INSERT INTO disposals ({DISPOSAL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(&d.id)
                .bind(&d.kind)
                .bind(&d.method)
                .bind(&d.description)
                .bind(&d.serial)
                .bind(d.quantity)
                .bind(&d.disposed_on)
                .bind(&d.witness_id)
                .bind(&d.company)
                .bind(&d.certificate)
                .bind(&d.notes)
                .bind(&d.asset_id)
                .bind(&d.device_id)
                .bind(d.recorded_at.0)
                .bind(&d.recorded_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn insert_policy(&mut self, p: &PolicyRecord) -> StoreResult<()> {
                sqlx::query::<$db>(
                    "INSERT INTO policies (id, kind, title, scope_roles, scope_sites, scope_clients, created_at, created_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&p.id)
                .bind(&p.kind)
                .bind(&p.title)
                .bind(&p.scope_roles)
                .bind(&p.scope_sites)
                .bind(&p.scope_clients)
                .bind(p.created_at.0)
                .bind(&p.created_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn put_policy_draft(&mut self, d: &PolicyVersionRecord) -> StoreResult<()> {
                sqlx::query::<$db>("DELETE FROM policy_versions WHERE policy_id = $1 AND published_at IS NULL")
                    .bind(&d.policy_id)
                    .execute(self.handle.conn())
                    .await
                    .map_err(db_err)?;
                sqlx::query::<$db>(&format!(
                    "INSERT INTO policy_versions ({POLICY_VERSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)"
                ))
                .bind(&d.policy_id)
                .bind(d.version)
                .bind(&d.body)
                .bind(&d.note)
                .bind(d.drafted_at.0)
                .bind(&d.drafted_by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(())
            }

            async fn publish_policy_version(
                &mut self,
                policy_id: &str,
                version: i64,
                at: UnixMillis,
                by: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE policy_versions SET published_at = $3, published_by = $4 \
                     WHERE policy_id = $1 AND version = $2 AND published_at IS NULL",
                )
                .bind(policy_id)
                .bind(version)
                .bind(at.0)
                .bind(by)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_policy_acknowledgement(&mut self, a: &PolicyAckRecord) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "INSERT INTO policy_acknowledgements (policy_id, version, user_id, acknowledged_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (policy_id, version, user_id) DO NOTHING",
                )
                .bind(&a.policy_id)
                .bind(a.version)
                .bind(&a.user_id)
                .bind(a.acknowledged_at.0)
                .execute(self.handle.conn())
                .await
                .map_err(db_err)?;
                Ok(done.rows_affected() == 1)
            }

            async fn rewrap_vendor_file(&mut self, id: &str, old: &[u8], new: &[u8], version: u32) -> StoreResult<bool> {
                let done = sqlx::query::<$db>(
                    "UPDATE vendor_files SET wrapped_key = $3, kek_version = $4 WHERE id = $1 AND wrapped_key = $2",
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
        }

        // Policies with acknowledgements (issue 18, item 1).
        const POLICY_COLUMNS: &str = "id, kind, title, scope_roles, scope_sites, scope_clients, created_at, created_by, \
             (SELECT MAX(version) FROM policy_versions v WHERE v.policy_id = p.id AND v.published_at IS NOT NULL) AS published_version, \
             (SELECT MAX(version) FROM policy_versions v WHERE v.policy_id = p.id AND v.published_at IS NULL) AS draft_version";
        const POLICY_VERSION_COLUMNS: &str =
            "policy_id, version, body, note, drafted_at, drafted_by, published_at, published_by";

        #[derive(sqlx::FromRow)]
        struct PolicyRow {
            id: String,
            kind: String,
            title: String,
            scope_roles: String,
            scope_sites: String,
            scope_clients: String,
            created_at: i64,
            created_by: String,
            published_version: Option<i64>,
            draft_version: Option<i64>,
        }

        fn policy_of(r: PolicyRow) -> PolicyRecord {
            PolicyRecord {
                id: r.id,
                kind: r.kind,
                title: r.title,
                scope_roles: r.scope_roles,
                scope_sites: r.scope_sites,
                scope_clients: r.scope_clients,
                created_at: UnixMillis(r.created_at),
                created_by: r.created_by,
                published_version: r.published_version,
                draft_version: r.draft_version,
            }
        }

        #[derive(sqlx::FromRow)]
        struct PolicyVersionRow {
            policy_id: String,
            version: i64,
            body: String,
            note: String,
            drafted_at: i64,
            drafted_by: String,
            published_at: Option<i64>,
            published_by: Option<String>,
        }

        fn policy_version_of(r: PolicyVersionRow) -> PolicyVersionRecord {
            PolicyVersionRecord {
                policy_id: r.policy_id,
                version: r.version,
                body: r.body,
                note: r.note,
                drafted_at: UnixMillis(r.drafted_at),
                drafted_by: r.drafted_by,
                published_at: r.published_at.map(UnixMillis),
                published_by: r.published_by,
            }
        }

        fn policy_ack_of((policy_id, version, user_id, at): (String, i64, String, i64)) -> PolicyAckRecord {
            PolicyAckRecord { policy_id, version, user_id, acknowledged_at: UnixMillis(at) }
        }

        // The disposal register (LEAK-3).
        const DISPOSAL_COLUMNS: &str = "id, kind, method, description, serial, quantity, disposed_on, witness_id, \
                                        company, certificate, notes, asset_id, device_id, recorded_at, recorded_by";

        #[derive(sqlx::FromRow)]
        struct DisposalRow {
            id: String,
            kind: String,
            method: String,
            description: String,
            serial: String,
            quantity: Option<i64>,
            disposed_on: String,
            witness_id: String,
            company: String,
            certificate: String,
            notes: String,
            asset_id: Option<String>,
            device_id: Option<String>,
            recorded_at: i64,
            recorded_by: String,
        }

        fn disposal_of(r: DisposalRow) -> DisposalRecord {
            DisposalRecord {
                id: r.id,
                kind: r.kind,
                method: r.method,
                description: r.description,
                serial: r.serial,
                quantity: r.quantity,
                disposed_on: r.disposed_on,
                witness_id: r.witness_id,
                company: r.company,
                certificate: r.certificate,
                notes: r.notes,
                asset_id: r.asset_id,
                device_id: r.device_id,
                recorded_at: UnixMillis(r.recorded_at),
                recorded_by: r.recorded_by,
            }
        }

        // The legal register (ISMS-4).
        const LEGAL_COLUMNS: &str = "id, version, kind, title, reference, obligations, client_id, owner_id, \
                                     review_on, notes, retired_at, changed_at, changed_by";

        #[derive(sqlx::FromRow)]
        struct LegalRow {
            id: String,
            version: i64,
            kind: String,
            title: String,
            reference: String,
            obligations: String,
            client_id: Option<String>,
            owner_id: Option<String>,
            review_on: Option<String>,
            notes: String,
            retired_at: Option<i64>,
            changed_at: i64,
            changed_by: String,
        }

        fn legal_of(r: LegalRow) -> LegalRecord {
            LegalRecord {
                id: r.id,
                version: r.version,
                kind: r.kind,
                title: r.title,
                reference: r.reference,
                obligations: r.obligations,
                client_id: r.client_id,
                owner_id: r.owner_id,
                review_on: r.review_on,
                notes: r.notes,
                retired_at: r.retired_at.map(UnixMillis),
                changed_at: UnixMillis(r.changed_at),
                changed_by: r.changed_by,
            }
        }
        const VENDOR_FILE_COLUMNS: &str = "id, vendor_id, name, media_type, size, sha256, kek_version, note, visit_id, \
                                           uploaded_at, uploaded_by";

        #[derive(sqlx::FromRow)]
        struct VendorFileRow {
            id: String,
            vendor_id: String,
            name: String,
            media_type: String,
            size: i64,
            sha256: String,
            kek_version: i64,
            note: String,
            visit_id: Option<String>,
            uploaded_at: i64,
            uploaded_by: String,
        }

        fn vendor_file_of(r: VendorFileRow) -> StoreResult<VendorFileRecord> {
            Ok(VendorFileRecord {
                kek_version: u32::try_from(r.kek_version)
                    .map_err(|_| mamori_store::StoreError::Corrupt("a vendor file's key version".into()))?,
                id: r.id,
                vendor_id: r.vendor_id,
                name: r.name,
                media_type: r.media_type,
                size: r.size,
                sha256: r.sha256,
                note: r.note,
                visit_id: r.visit_id,
                uploaded_at: UnixMillis(r.uploaded_at),
                uploaded_by: r.uploaded_by,
            })
        }
    };
}

pub(crate) use isms_queries;
