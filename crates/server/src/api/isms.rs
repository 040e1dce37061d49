//! `/api/v1/isms` (issue 17): control catalogs (built in, and imported as YAML), the Statement
//! of Applicability with its live evidence, a control's line and its history, decisions.

use super::ApiResult;
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiJson, ApiQuery, IdPath};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use mamori_core::isms::{CatalogRecord, EvidenceItem, SoaEntryRecord, SoaLine};
use mamori_domain::UnixMillis;
use mamori_domain::isms::SoaDecision;
use mamori_domain::isms::asset::AssetInput;
use mamori_domain::isms::risk::RiskInput;
use mamori_domain::isms::vendor::{AssessmentInput, CertificateInput, VendorInput, VisitInput};
use mamori_proto::{self as proto, ErrorCode};
use std::collections::HashMap;

/// A control's urn in the path; anything else names no control.
pub struct UrnPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UrnPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = || ApiError::new(ErrorCode::NotFound, "no control has this urn");
        let axum::extract::Path(urn) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        if !urn.starts_with("urn:") || urn.len() > 200 {
            return Err(not_found());
        }
        Ok(UrnPath(urn))
    }
}

pub(crate) fn catalog_json(c: CatalogRecord) -> proto::CatalogView {
    proto::CatalogView {
        urn: c.urn,
        ref_id: c.ref_id,
        name: c.name,
        name_ja: c.name_ja,
        version: c.version,
        provider: c.provider,
        built_in: c.built_in,
        imported_at: c.imported_at.0,
    }
}

pub(crate) fn evidence_json(e: EvidenceItem) -> proto::EvidenceView {
    proto::EvidenceView {
        kind: e.kind.as_str().to_owned(),
        area: serde_json::to_value(e.kind.area())
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        status: e.status.as_str().to_owned(),
        value: e.value,
        computed_at: e.computed_at.0,
        checked_at: e.checked_at.0,
        controls: e.kind.controls().iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn entry_json(e: SoaEntryRecord, names: &HashMap<String, String>) -> proto::SoaEntryView {
    proto::SoaEntryView {
        owner_name: e.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        version: e.version,
        applicable: e.applicable,
        justification: e.justification,
        implementation: e.implementation,
        owner_id: e.owner_id,
        review_on: e.review_on,
        changed_at: e.changed_at.0,
        changed_by: e.changed_by,
    }
}

fn line_json(l: SoaLine) -> proto::SoaLineView {
    let evidence_status = l.evidence_status().map(|s| s.as_str().to_owned());
    let names: HashMap<String, String> = match (&l.entry, &l.owner) {
        (Some(SoaEntryRecord { owner_id: Some(id), .. }), Some(name)) => [(id.clone(), name.clone())].into(),
        _ => HashMap::new(),
    };
    let c = l.control;
    proto::SoaLineView {
        control: proto::ControlView {
            urn: c.urn,
            catalog_urn: c.catalog_urn,
            parent_urn: c.parent_urn,
            ref_id: c.ref_id,
            name: c.name,
            name_ja: c.name_ja,
            description: c.description,
            description_ja: c.description_ja,
            assessable: c.assessable,
        },
        entry: l.entry.map(|e| entry_json(e, &names)),
        evidence: l.evidence.into_iter().map(evidence_json).collect(),
        evidence_status,
        mapped: l.mapped.into_iter().map(|m| m.urn).collect(),
        risks: l.risks.into_iter().map(|(id, name)| proto::SoaLinkView { id, name }).collect(),
        assets: l.assets.into_iter().map(|(id, name)| proto::SoaLinkView { id, name }).collect(),
    }
}

#[utoipa::path(get, path = "/api/v1/isms/catalogs", tag = "isms",
    responses((status = 200, body = Vec<proto::CatalogView>)))]
pub async fn list_catalogs(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<proto::CatalogView>>> {
    let catalogs = state.core.isms.catalogs(&p, &ctx).await?;
    Ok(Json(catalogs.into_iter().map(catalog_json).collect()))
}

/// Imports a catalog file (YAML: Mamori's format or a CISO Assistant library); all or nothing.
#[utoipa::path(post, path = "/api/v1/isms/catalogs", tag = "isms", params(proto::CatalogImportQuery),
    request_body(content = String, content_type = "application/yaml"),
    responses((status = 200, body = proto::CatalogImportView), (status = 415, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn import_catalog(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::CatalogImportQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<proto::CatalogImportView>> {
    let is_yaml = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| ["application/yaml", "application/x-yaml", "text/yaml"].contains(&v.trim()));
    if !is_yaml {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the catalog file as the body with `Content-Type: application/yaml`",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(ErrorCode::InvalidCatalog, "the file is not UTF-8 text").field("file"))?;
    let dry_run = q.dry_run.unwrap_or(false);
    let s = state.core.isms.import_catalog(&p, text, dry_run, &ctx).await?;
    Ok(Json(proto::CatalogImportView {
        urn: s.urn,
        name: s.name,
        version: s.version,
        controls: s.controls,
        assessable: s.assessable,
        mappings: s.mappings,
        replaced: s.replaced,
        dry_run,
    }))
}

#[utoipa::path(get, path = "/api/v1/isms/soa", tag = "isms", params(proto::SoaQuery),
    responses((status = 200, body = proto::SoaView), (status = 404, body = proto::Problem)))]
pub async fn get_soa(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::SoaQuery>,
) -> ApiResult<Json<proto::SoaView>> {
    let soa = state.core.isms.soa(&p, q.catalog.as_deref(), q.at.map(UnixMillis), &ctx).await?;
    Ok(Json(proto::SoaView {
        catalog: catalog_json(soa.catalog),
        at: soa.at.map(|t| t.0),
        lines: soa.lines.into_iter().map(line_json).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/isms/controls/{urn}", tag = "isms",
    responses((status = 200, body = proto::ControlDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_control(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    UrnPath(urn): UrnPath,
) -> ApiResult<Json<proto::ControlDetailView>> {
    let d = state.core.isms.control(&p, &urn, &ctx).await?;
    let history = d.history.into_iter().map(|e| entry_json(e, &d.names)).collect();
    Ok(Json(proto::ControlDetailView { line: line_json(d.line), history }))
}

/// Decides a control's line (a new version; the earlier ones stay).
#[utoipa::path(put, path = "/api/v1/isms/controls/{urn}/soa", tag = "isms", request_body = SoaDecision,
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn decide_control(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    UrnPath(urn): UrnPath,
    ApiJson(decision): ApiJson<SoaDecision>,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.decide(&p, &urn, decision, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

#[utoipa::path(get, path = "/api/v1/isms/evidence", tag = "isms", params(proto::EvidenceQuery),
    responses((status = 200, body = Vec<proto::EvidenceView>)))]
pub async fn list_evidence(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::EvidenceQuery>,
) -> ApiResult<Json<Vec<proto::EvidenceView>>> {
    let items = state.core.isms.evidence(&p, q.at.map(UnixMillis), &ctx).await?;
    Ok(Json(items.into_iter().map(evidence_json).collect()))
}

/// Takes every measurement now (the full log verification included).
#[utoipa::path(post, path = "/api/v1/isms/evidence/check", tag = "isms",
    responses((status = 200, body = Vec<proto::EvidenceView>)))]
pub async fn check_evidence(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<proto::EvidenceView>>> {
    let items = state.core.check_evidence_now(&p, &ctx).await?;
    Ok(Json(items.into_iter().map(evidence_json).collect()))
}

fn asset_json(
    a: mamori_core::isms::assets::AssetRecord,
    names: &HashMap<String, String>,
) -> proto::AssetView {
    proto::AssetView {
        owner_name: a.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        id: a.id,
        version: a.version,
        kind: a.kind,
        name: a.name,
        owner_id: a.owner_id,
        location: a.location,
        confidentiality: a.confidentiality,
        integrity: a.integrity,
        availability: a.availability,
        allowed: a.allowed,
        review_on: a.review_on,
        notes: a.notes,
        source: a.source,
        source_id: a.source_id,
        retired_at: a.retired_at.map(|t| t.0),
        changed_at: a.changed_at.0,
        changed_by: a.changed_by,
        revoked_not_disposed: false,
    }
}

/// A page of the asset register: filtered, sorted and paged in the store (`limit` 1–500,
/// default 100), with the number of assets the query matches in all.
#[utoipa::path(get, path = "/api/v1/isms/assets", tag = "isms", params(proto::AssetListQuery),
    responses((status = 200, body = proto::AssetPage), (status = 400, body = proto::Problem)))]
pub async fn list_assets(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AssetListQuery>,
) -> ApiResult<Json<proto::AssetPage>> {
    use mamori_core::isms::assets::{ASSET_PAGE_DEFAULT, AssetListQuery, AssetOwnerFilter, AssetSort};
    let owner =
        q.owner.map(|o| if o == "none" { AssetOwnerFilter::Nobody } else { AssetOwnerFilter::User(o) });
    let query = AssetListQuery {
        kind: q.kind.map(|k| k.as_str().to_owned()),
        confidentiality: q.confidentiality.map(|c| c.as_str().to_owned()),
        source: q.source.map(|s| s.as_str().to_owned()),
        owner,
        text: q.q,
        include_retired: q.include_retired.unwrap_or(false),
        overdue_before: None,
        overdue_only: q.overdue.unwrap_or(false),
        sort: match q.sort.unwrap_or_default() {
            proto::AssetSortKey::Name => AssetSort::Name,
            proto::AssetSortKey::Kind => AssetSort::Kind,
            proto::AssetSortKey::ReviewOn => AssetSort::ReviewOn,
        },
        offset: q.offset.unwrap_or(0),
        limit: q.limit.unwrap_or(ASSET_PAGE_DEFAULT),
    };
    let page = state.core.isms.asset_page(&p, query, &ctx).await?;
    let shown = i64::try_from(page.assets.len()).unwrap_or(i64::MAX);
    let next = page.offset.saturating_add(shown);
    Ok(Json(proto::AssetPage {
        total: page.total,
        overdue: page.overdue,
        offset: page.offset,
        limit: page.limit,
        next_offset: (shown > 0 && next < page.total).then_some(next),
        assets: page
            .assets
            .into_iter()
            .map(|a| {
                let names = match (&a.record.owner_id, a.owner) {
                    (Some(id), Some(name)) => [(id.clone(), name)].into(),
                    _ => HashMap::new(),
                };
                proto::AssetView {
                    revoked_not_disposed: a.revoked_not_disposed,
                    ..asset_json(a.record, &names)
                }
            })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/isms/assets", tag = "isms", request_body = AssetInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_asset(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<AssetInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_asset(&p, input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

#[utoipa::path(get, path = "/api/v1/isms/assets/{id}", tag = "isms",
    responses((status = 200, body = proto::AssetDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_asset(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::AssetDetailView>> {
    let d = state.core.isms.asset(&p, &id, &ctx).await?;
    Ok(Json(proto::AssetDetailView {
        asset: proto::AssetView {
            revoked_not_disposed: d.asset.revoked_not_disposed,
            ..asset_json(d.asset.record, &d.names)
        },
        history: d.history.into_iter().map(|a| asset_json(a, &d.names)).collect(),
    }))
}

/// Changes an asset (a new version). For an asset that follows a ledger PC or a client
/// company, the kind, name and place stay its source's.
#[utoipa::path(put, path = "/api/v1/isms/assets/{id}", tag = "isms", request_body = AssetInput,
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn update_asset(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<AssetInput>,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.update_asset(&p, &id, input, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

/// Retires an asset a person registered.
#[utoipa::path(post, path = "/api/v1/isms/assets/{id}/retire", tag = "isms",
    responses((status = 204), (status = 404, body = proto::Problem), (status = 409, body = proto::Problem)))]
pub async fn retire_asset(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<axum::http::StatusCode> {
    state.core.isms.retire_asset(&p, &id, &ctx).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

fn assessment_json(a: mamori_core::isms::risks::RiskAssessmentRecord) -> proto::RiskAssessmentView {
    proto::RiskAssessmentView {
        id: a.id,
        name: a.name,
        appetite: a.appetite,
        matrix: a.matrix,
        created_at: a.created_at.0,
    }
}

fn risk_json(
    r: mamori_core::isms::risks::RiskRecord,
    appetite: i64,
    names: &HashMap<String, String>,
) -> proto::RiskView {
    let rated = |x: mamori_core::isms::risks::RatedRecord| proto::RatedView {
        probability: x.probability,
        impact: x.impact,
        level: x.level,
    };
    proto::RiskView {
        above_appetite: mamori_core::isms::risks::current_level(&r) >= appetite,
        owner_name: r.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
        id: r.id,
        assessment_id: r.assessment_id,
        number: r.number,
        version: r.version,
        title: r.title,
        threat: r.threat,
        vulnerability: r.vulnerability,
        inherent: rated(r.inherent),
        residual: r.residual.map(rated),
        treatment: r.treatment,
        owner_id: r.owner_id,
        due_on: r.due_on,
        review_on: r.review_on,
        notes: r.notes,
        asset_ids: r.asset_ids,
        control_urns: r.control_urns,
        changed_at: r.changed_at.0,
        changed_by: r.changed_by,
    }
}

#[utoipa::path(get, path = "/api/v1/isms/risk-assessments", tag = "isms",
    responses((status = 200, body = Vec<proto::RiskAssessmentView>)))]
pub async fn list_risk_assessments(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<proto::RiskAssessmentView>>> {
    let register = state.core.isms.risks(&p, None, &ctx).await?;
    Ok(Json(register.assessments.into_iter().map(assessment_json).collect()))
}

/// Starts a risk assessment with its matrix (frozen from then on).
#[utoipa::path(post, path = "/api/v1/isms/risk-assessments", tag = "isms", request_body = proto::NewRiskAssessment,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_risk_assessment(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(body): ApiJson<proto::NewRiskAssessment>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_risk_assessment(&p, &body.name, body.matrix, body.appetite, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

#[utoipa::path(get, path = "/api/v1/isms/risks", tag = "isms", params(proto::RiskQuery),
    responses((status = 200, body = proto::RiskRegisterView), (status = 404, body = proto::Problem)))]
pub async fn list_risks(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::RiskQuery>,
) -> ApiResult<Json<proto::RiskRegisterView>> {
    let r = state.core.isms.risks(&p, q.assessment.as_deref(), &ctx).await?;
    let appetite = r.assessment.appetite;
    Ok(Json(proto::RiskRegisterView {
        risks: r
            .risks
            .into_iter()
            .map(|v| {
                let names = match (&v.record.owner_id, v.owner) {
                    (Some(id), Some(name)) => [(id.clone(), name)].into(),
                    _ => HashMap::new(),
                };
                risk_json(v.record, appetite, &names)
            })
            .collect(),
        assessment: assessment_json(r.assessment),
        inherent_heat: r.inherent_heat,
        residual_heat: r.residual_heat,
    }))
}

#[utoipa::path(post, path = "/api/v1/isms/risks", tag = "isms", params(proto::RiskQuery), request_body = RiskInput,
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn create_risk(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::RiskQuery>,
    ApiJson(input): ApiJson<RiskInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_risk(&p, q.assessment.as_deref(), input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

#[utoipa::path(get, path = "/api/v1/isms/risks/{id}", tag = "isms",
    responses((status = 200, body = proto::RiskDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_risk(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::RiskDetailView>> {
    let d = state.core.isms.risk(&p, &id, &ctx).await?;
    let appetite = d.assessment.appetite;
    Ok(Json(proto::RiskDetailView {
        risk: risk_json(d.risk.record, appetite, &d.names),
        history: d.history.into_iter().map(|r| risk_json(r, appetite, &d.names)).collect(),
    }))
}

/// Changes a risk (a new version, rated on its assessment's matrix).
#[utoipa::path(put, path = "/api/v1/isms/risks/{id}", tag = "isms", request_body = RiskInput,
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn update_risk(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<RiskInput>,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.update_risk(&p, &id, input, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

fn certificate_json(c: mamori_core::isms::vendors::WatchedCertificate) -> proto::CertificateView {
    let r = c.record;
    proto::CertificateView {
        id: r.id,
        vendor_id: r.vendor_id,
        holder: c.holder,
        scheme: r.scheme,
        number: r.number,
        issuer: r.issuer,
        first_obtained_on: r.first_obtained_on,
        issued_on: r.issued_on,
        expires_on: r.expires_on,
        held_years: c.held_years,
        renewed: c.renewed,
        notices: c.notices,
    }
}

fn vendor_assessment_json(
    a: mamori_core::isms::vendors::VendorAssessmentRecord,
) -> proto::VendorAssessmentView {
    proto::VendorAssessmentView {
        id: a.id,
        assessed_on: a.assessed_on,
        scores: a.scores.into_iter().collect(),
        total: a.total,
        tier: a.tier,
        next_on: a.next_on,
        notes: a.notes,
        recorded_by: a.recorded_by,
    }
}

fn vendor_record_json(v: mamori_core::isms::vendors::VendorRecord) -> proto::VendorView {
    proto::VendorView {
        id: v.id,
        version: v.version,
        name: v.name,
        parent_id: v.parent_id,
        parent_name: None,
        client_ids: v.client_ids,
        client_names: Vec::new(),
        data_handled: v.data_handled,
        contact: v.contact,
        review_on: v.review_on,
        notes: v.notes,
        retired_at: v.retired_at.map(|t| t.0),
        latest_assessment: None,
        certificates: Vec::new(),
        changed_at: v.changed_at.0,
        changed_by: v.changed_by,
    }
}

fn vendor_json(v: mamori_core::isms::vendors::VendorView) -> proto::VendorView {
    proto::VendorView {
        parent_name: v.parent,
        client_names: v.clients,
        latest_assessment: v.latest_assessment.map(vendor_assessment_json),
        certificates: v.certificates.into_iter().map(certificate_json).collect(),
        ..vendor_record_json(v.record)
    }
}

#[utoipa::path(get, path = "/api/v1/isms/vendors", tag = "isms", params(proto::AssetQuery),
    responses((status = 200, body = Vec<proto::VendorView>)))]
pub async fn list_vendors(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::AssetQuery>,
) -> ApiResult<Json<Vec<proto::VendorView>>> {
    let vendors = state.core.isms.vendors(&p, q.include_retired.unwrap_or(false), &ctx).await?;
    Ok(Json(vendors.into_iter().map(vendor_json).collect()))
}

#[utoipa::path(post, path = "/api/v1/isms/vendors", tag = "isms", request_body = VendorInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn create_vendor(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.create_vendor(&p, input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

#[utoipa::path(get, path = "/api/v1/isms/vendors/{id}", tag = "isms",
    responses((status = 200, body = proto::VendorDetailView), (status = 404, body = proto::Problem)))]
pub async fn get_vendor(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::VendorDetailView>> {
    let d = state.core.isms.vendor(&p, &id, &ctx).await?;
    Ok(Json(proto::VendorDetailView {
        vendor: vendor_json(d.vendor),
        history: d.history.into_iter().map(vendor_record_json).collect(),
        assessments: d.assessments.into_iter().map(vendor_assessment_json).collect(),
        visits: d
            .visits
            .into_iter()
            .map(|v| proto::VendorVisitView {
                id: v.id,
                visited_on: v.visited_on,
                visitor: v.visitor,
                findings: v.findings,
            })
            .collect(),
        subcontractors: d.subcontractors,
    }))
}

#[utoipa::path(put, path = "/api/v1/isms/vendors/{id}", tag = "isms", request_body = VendorInput,
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn update_vendor(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<VendorInput>,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.update_vendor(&p, &id, input, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

#[utoipa::path(post, path = "/api/v1/isms/vendors/{id}/retire", tag = "isms",
    responses((status = 200, body = proto::SoaDecided), (status = 404, body = proto::Problem)))]
pub async fn retire_vendor(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
) -> ApiResult<Json<proto::SoaDecided>> {
    let version = state.core.isms.retire_vendor(&p, &id, &ctx).await?;
    Ok(Json(proto::SoaDecided { version }))
}

/// Records an assessment: the total, the tier and the next date follow from the scores.
#[utoipa::path(post, path = "/api/v1/isms/vendors/{id}/assessments", tag = "isms", request_body = AssessmentInput,
    responses((status = 201, body = proto::VendorAssessmentView), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn assess_vendor(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<AssessmentInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::VendorAssessmentView>)> {
    let a = state.core.isms.assess_vendor(&p, &id, input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(vendor_assessment_json(a))))
}

#[utoipa::path(post, path = "/api/v1/isms/vendors/{id}/visits", tag = "isms", request_body = VisitInput,
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn record_vendor_visit(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<VisitInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.record_vendor_visit(&p, &id, input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

#[utoipa::path(post, path = "/api/v1/isms/vendors/{id}/certificates", tag = "isms", request_body = CertificateInput,
    responses((status = 201, body = proto::Created), (status = 404, body = proto::Problem),
        (status = 422, body = proto::Problem)))]
pub async fn record_vendor_certificate(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    IdPath(id): IdPath,
    ApiJson(input): ApiJson<CertificateInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.record_certificate(&p, Some(&id), input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

/// Every certificate — the centre's own and its vendors' — with what to act on.
#[utoipa::path(get, path = "/api/v1/isms/certificates", tag = "isms",
    responses((status = 200, body = Vec<proto::CertificateView>)))]
pub async fn list_certificates(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<Vec<proto::CertificateView>>> {
    let certificates = state.core.isms.certificates(&p, &ctx).await?;
    Ok(Json(certificates.into_iter().map(certificate_json).collect()))
}

/// Records one of the centre's own certificates (or its renewal).
#[utoipa::path(post, path = "/api/v1/isms/certificates", tag = "isms", request_body = CertificateInput,
    responses((status = 201, body = proto::Created), (status = 422, body = proto::Problem)))]
pub async fn record_certificate(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiJson(input): ApiJson<CertificateInput>,
) -> ApiResult<(axum::http::StatusCode, Json<proto::Created>)> {
    let id = state.core.isms.record_certificate(&p, None, input, &ctx).await?;
    Ok((axum::http::StatusCode::CREATED, Json(proto::Created { id })))
}

/// The security admin's dashboard.
#[utoipa::path(get, path = "/api/v1/isms/dashboard", tag = "isms",
    responses((status = 200, body = proto::IsmsDashboardView)))]
pub async fn get_dashboard(
    State(state): State<AppState>,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> ApiResult<Json<proto::IsmsDashboardView>> {
    let d = state.core.isms.dashboard(&p, &ctx).await?;
    Ok(Json(proto::IsmsDashboardView {
        controls_applicable: d.controls.0,
        controls_implemented: d.controls.1,
        controls_undecided: d.controls.2,
        controls_total: d.controls.3,
        failing_controls: d
            .failing_controls
            .into_iter()
            .map(|c| proto::FailingControlView {
                urn: c.urn,
                ref_id: c.ref_id,
                name: c.name,
                name_ja: c.name_ja,
                status: c.status.as_str().to_owned(),
                kinds: c.kinds,
            })
            .collect(),
        risks_above_appetite: d
            .risks_above_appetite
            .into_iter()
            .map(|(id, name, level_en, level_ja, color)| proto::RiskAboveAppetiteView {
                id,
                name,
                level_en,
                level_ja,
                color,
            })
            .collect(),
        reviews: d
            .reviews
            .into_iter()
            .map(|r| proto::DueReviewView {
                of: r.of.as_str().to_owned(),
                id: r.id,
                name: r.name,
                due_on: r.due_on,
                days_left: r.days_left,
            })
            .collect(),
        certificates: d.certificates.into_iter().map(certificate_json).collect(),
        open_alerts: d.open_alerts,
        open_high_alerts: d.open_high_alerts,
        open_incidents: d.open_incidents,
    }))
}
