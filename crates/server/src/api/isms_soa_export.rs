//! `GET /api/v1/isms/soa/export` (issue 17, item 4): the Statement of Applicability as CSV (every
//! field, for spreadsheets) or as PDF (the printed SoA, in the caller's language, the Japanese
//! font embedded — `mamori_documents::table_report_pdf`). The PDF's words come from the console's
//! catalogue and its helpers, so the printed SoA says what the SoA page says.

use super::ApiResult;
use crate::AppState;
use crate::console::isms::{applicability, catalog_name, figure, implementation_label, kind_label, name_in};
use crate::console::isms::{jst_minute, status_label};
use crate::console::tr_for;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{ApiError, ApiQuery};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use mamori_core::Principal;
use mamori_core::isms::Soa;
use mamori_documents::{Column, TableReport};
use mamori_domain::UnixMillis;
use mamori_proto::{self as proto, ErrorCode};
use std::collections::HashMap;

/// The SoA as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the Japanese) or
/// as PDF (A4 landscape, in the caller's language): one row per assessable control with its
/// decision and evidence — the CSV also with its mappings, risks and the assets they threaten.
#[utoipa::path(get, path = "/api/v1/isms/soa/export", tag = "isms", params(proto::SoaExportQuery),
    responses(
        (status = 200, description = "The SoA as CSV (`format=csv`, the default) or as PDF (`format=pdf`).",
            content(("text/csv"), ("application/pdf"))),
        (status = 404, body = proto::Problem)))]
pub async fn export_soa(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    ApiQuery(q): ApiQuery<proto::SoaExportQuery>,
) -> ApiResult<Response> {
    let soa = state.core.isms.soa(&p, q.catalog.as_deref(), q.at.map(UnixMillis), &ctx).await?;
    let name = soa.catalog.ref_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>();
    let (body, content_type, extension) = match q.format {
        proto::SoaExportFormat::Csv => (to_csv(soa)?, "text/csv; charset=utf-8", "csv"),
        proto::SoaExportFormat::Pdf => {
            let tr = tr_for(&headers, Some(&p));
            let report = report(tr, &soa, &p, state.core.now());
            let pdf = tokio::task::spawn_blocking(move || mamori_documents::table_report_pdf(&report, tr.0))
                .await
                .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
                .map_err(|e| {
                    ApiError::new(ErrorCode::Internal, format!("the SoA could not be rendered: {e}"))
                })?;
            (pdf, "application/pdf", "pdf")
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"mamori-soa-{name}.{extension}\"")),
        ],
        body,
    )
        .into_response())
}

fn to_csv(soa: Soa) -> ApiResult<Vec<u8>> {
    let refs: HashMap<String, String> =
        soa.lines.iter().map(|l| (l.control.urn.clone(), l.control.ref_id.clone())).collect();
    let fail = |e: csv::Error| ApiError::new(ErrorCode::Internal, e.to_string());
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    w.write_record([
        "catalog",
        "ref_id",
        "name",
        "name_ja",
        "applicable",
        "justification",
        "implementation",
        "owner",
        "review_on",
        "version",
        "changed_at",
        "evidence",
        "mapped",
        "risks",
        "assets",
    ])
    .map_err(fail)?;
    for line in soa.lines.into_iter().filter(|l| l.control.assessable) {
        let e = line.entry.as_ref();
        let evidence: Vec<String> = line
            .evidence
            .iter()
            .map(|x| format!("{}={} ({})", x.kind.as_str(), x.status.as_str(), x.value))
            .collect();
        let mapped: Vec<String> = line
            .mapped
            .iter()
            .map(|m| refs.get(&m.urn).cloned().unwrap_or_else(|| m.ref_id.clone()))
            .collect();
        let risks: Vec<&str> = line.risks.iter().map(|r| r.1.as_str()).collect();
        let assets: Vec<&str> = line.assets.iter().map(|a| a.1.as_str()).collect();
        let row = [
            soa.catalog.ref_id.clone(),
            line.control.ref_id.clone(),
            line.control.name.clone(),
            line.control.name_ja.clone().unwrap_or_default(),
            e.map(|e| e.applicable.to_string()).unwrap_or_default(),
            e.map(|e| e.justification.clone()).unwrap_or_default(),
            e.map(|e| e.implementation.clone()).unwrap_or_default(),
            line.owner.clone().unwrap_or_default(),
            e.and_then(|e| e.review_on.clone()).unwrap_or_default(),
            e.map(|e| e.version.to_string()).unwrap_or_default(),
            e.map(|e| e.changed_at.rfc3339()).unwrap_or_default(),
            evidence.join("; "),
            mapped.join(" "),
            risks.join("; "),
            assets.join("; "),
        ];
        w.write_record(row.iter().map(|v| super::audit::csv_cell(v))).map_err(fail)?;
    }
    w.into_inner().map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// The printed SoA: the catalog, as of when and who exported it above; one row per assessable
/// control — ref id, name in the reader's language, applicability, justification,
/// implementation, owner, review date, and each live evidence as "kind: status (figure)".
fn report(tr: Tr, soa: &Soa, p: &Principal, now: UnixMillis) -> TableReport {
    let heading = |key: &str, share: u16| Column { heading: tr.t(key).to_owned(), share };
    let columns = vec![
        heading("isms.ref_id", 6),
        heading("isms.control", 17),
        heading("isms.applicability", 8),
        heading("isms.justification", 19),
        heading("isms.implementation", 10),
        heading("isms.owner", 11),
        heading("isms.review_on", 9),
        heading("isms.evidence", 20),
    ];
    let rows = soa
        .lines
        .iter()
        .filter(|l| l.control.assessable)
        .map(|line| {
            let c = &line.control;
            let entry = line.entry.as_ref();
            let applies = entry.is_some_and(|e| e.applicable);
            let evidence: Vec<String> = line
                .evidence
                .iter()
                .map(|i| {
                    format!("{}: {} ({})", kind_label(tr, i.kind), status_label(tr, i.status), figure(tr, i))
                })
                .collect();
            vec![
                c.ref_id.clone(),
                name_in(tr, &c.name, c.name_ja.as_ref()),
                applicability(tr, entry).1,
                entry.map(|e| e.justification.clone()).unwrap_or_default(),
                entry
                    .filter(|_| applies)
                    .map(|e| implementation_label(tr, &e.implementation))
                    .unwrap_or_default(),
                line.owner.clone().unwrap_or_default(),
                entry.and_then(|e| e.review_on.clone()).unwrap_or_default(),
                evidence.join("\n"),
            ]
        })
        .collect();
    let field = |key: &str, value: &str| format!("{}: {value}", tr.t(key));
    TableReport {
        title: tr.t("isms.soa_title").to_owned(),
        subtitle_lines: vec![
            field("isms.catalog", &catalog_name(tr, &soa.catalog)),
            tr.t("isms.export_as_of").replace("{time}", &jst_minute(soa.at.unwrap_or(now).0)),
            tr.t("isms.exported_by")
                .replace("{who}", &format!("{} ({})", p.user.display_name, p.user.username)),
        ],
        columns,
        rows,
        generated_jst: jst_minute(now.0),
    }
}
