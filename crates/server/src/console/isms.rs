//! The ISMS registers in the console (issue 17; ISMS-1…4, ISMS-7, ISMS-9): the Statement of
//! Applicability of each catalog (Annex A, the telework measures, the leak countermeasures) with
//! the live evidence beside every control — problems first —, a control's page where a security
//! admin decides its line (every decision a new version, the earlier ones kept and shown), and
//! the live evidence Mamori measures of itself, grouped by area, each with the data behind it.
//! Auditors read all of it, also as it stood at a date (`?at=YYYY-MM-DD`).
//!
//! Every code a page shows — evidence kind, area and status, implementation state, applicability
//! — is worded through the catalogue; a test keeps each one labelled in both languages.

use super::isms_registers::{SubTab, sub_tabs};
use super::{Chrome, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::{CatalogRecord, ControlRecord, EvidenceItem, SoaEntryRecord, SoaLine};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{
    AlertsRead, AuditRead, DevicesRead, IncidentsRead, IsmsManage, IsmsRead, UsersRead,
};
use mamori_domain::UnixMillis;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::{Language, UserStatus};
use mamori_domain::isms::evidence::{ANNEX_A_CONTROL_PREFIX, EvidenceArea, EvidenceKind, EvidenceStatus};
use mamori_domain::isms::{Implementation, SoaDecision};
use mamori_proto::ErrorCode;
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms/soa", Needs(IsmsRead), soa_page)
        .add(Method::GET, "/isms/controls/{urn}", Needs(IsmsRead), control_page)
        .add(Method::POST, "/isms/controls/{urn}", Needs(IsmsManage), decide)
        .add(Method::GET, "/isms/evidence", Needs(IsmsRead), evidence_page)
        .add(Method::POST, "/isms/evidence/check", Needs(IsmsManage), check_now)
}

/// Where the navigation's ISMS entry points; every ISMS page marks it as the current one.
const NAV_HREF: &str = "/isms/soa";
/// The built-in Annex A catalog, the SoA shown first.
const ANNEX_A: &str = "urn:mamori:catalog:iso27001-2022";
/// The built-in catalogs, in the order their tabs are shown; imported ones follow.
const TAB_ORDER: [&str; 3] = [ANNEX_A, "urn:mamori:catalog:telework", "urn:mamori:catalog:leak"];
/// The areas of the evidence page, in order.
const AREAS: [EvidenceArea; 7] = [
    EvidenceArea::Logging,
    EvidenceArea::AccessControl,
    EvidenceArea::Cryptography,
    EvidenceArea::Endpoint,
    EvidenceArea::IncidentManagement,
    EvidenceArea::People,
    EvidenceArea::Governance,
];
const DAY_MS: i64 = 86_400_000;
const JST_MS: i64 = 9 * 3_600_000;

// ---------------------------------------------------------------------------------------------
// Codes in words.

pub(super) fn label(tr: Tr, key: String, code: &str) -> String {
    tr.get(&key).map_or_else(|| code.to_owned(), str::to_owned)
}

fn area_code(area: EvidenceArea) -> &'static str {
    match area {
        EvidenceArea::Logging => "logging",
        EvidenceArea::AccessControl => "access_control",
        EvidenceArea::Cryptography => "cryptography",
        EvidenceArea::Endpoint => "endpoint",
        EvidenceArea::IncidentManagement => "incident_management",
        EvidenceArea::People => "people",
        EvidenceArea::Governance => "governance",
    }
}

/// "監査ログの検証" for `audit_log_verified`.
pub(crate) fn kind_label(tr: Tr, kind: EvidenceKind) -> String {
    label(tr, format!("evidence_kind.{}", kind.as_str()), kind.as_str())
}

/// 不合格 / 要注意 / 合格 / 対象なし.
pub(crate) fn status_label(tr: Tr, status: EvidenceStatus) -> String {
    label(tr, format!("evidence_status.{}", status.as_str()), status.as_str())
}

/// The tag's look: red for failing, amber for a warning, green for passing.
fn status_class(status: EvidenceStatus) -> &'static str {
    match status {
        EvidenceStatus::Fail => "warn",
        EvidenceStatus::Warn => "state-idle",
        EvidenceStatus::Pass => "ok",
        EvidenceStatus::NotApplicable => "state-offline",
    }
}

/// 未着手 / 計画済み / 一部実施 / 実施済み.
pub(crate) fn implementation_label(tr: Tr, code: &str) -> String {
    label(tr, format!("soa_implementation.{code}"), code)
}

fn implementation_class(code: &str) -> &'static str {
    match Implementation::parse(code) {
        Some(Implementation::Implemented) => "ok",
        Some(Implementation::Partial | Implementation::Planned) => "state-idle",
        _ => "state-offline",
    }
}

/// 適用 / 除外 / 未決定, and its code for the page's markup.
pub(crate) fn applicability(tr: Tr, entry: Option<&SoaEntryRecord>) -> (&'static str, String) {
    let code = match entry {
        Some(e) if e.applicable => "applicable",
        Some(_) => "excluded",
        None => "undecided",
    };
    (code, tr.t(&format!("isms.{code}")).to_owned())
}

fn applicability_class(code: &str) -> &'static str {
    match code {
        "applicable" => "ok",
        "excluded" => "state-offline",
        _ => "state-idle",
    }
}

/// A control's (or catalog's) name in the page's language.
pub(crate) fn name_in(tr: Tr, name: &str, name_ja: Option<&String>) -> String {
    match (tr.0, name_ja) {
        (Language::Ja, Some(ja)) if !ja.trim().is_empty() => ja.clone(),
        _ => name.to_owned(),
    }
}

pub(crate) fn catalog_name(tr: Tr, c: &CatalogRecord) -> String {
    name_in(tr, &c.name, c.name_ja.as_ref())
}

/// 1,234.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2026-11-29 10:15 JST`.
pub(crate) fn jst_minute(ms: i64) -> String {
    let t = local_time(ms);
    if t.is_empty() {
        return t;
    }
    format!("{} JST", t.chars().take(16).collect::<String>())
}

/// `2026-11-29`, the day in Japan.
#[cfg(test)]
fn jst_day(ms: i64) -> String {
    local_time(ms).chars().take(10).collect()
}

/// `YYYY-MM-DD` → the last millisecond of that day in Japan: the registers as they stood at
/// the end of it.
fn end_of_day(text: &str) -> Option<UnixMillis> {
    let text = text.trim();
    if !mamori_domain::isms::is_date(text) {
        return None;
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, format).ok()?;
    let start = date.midnight().assume_utc().unix_timestamp() * 1000 - JST_MS;
    Some(UnixMillis(start + DAY_MS - 1))
}

/// A path segment: a urn's characters as they are, anything else percent-encoded.
pub(super) fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query value, form-encoded.
pub(super) fn query_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

pub(super) fn control_href(urn: &str) -> String {
    format!("/isms/controls/{}", segment(urn))
}

fn soa_href(catalog_urn: &str) -> String {
    format!("/isms/soa?catalog={}", query_value(catalog_urn))
}

/// The Annex A control page of a ref id (`A.8.15`).
fn annex_a_href(ref_id: &str) -> String {
    control_href(&format!("{ANNEX_A_CONTROL_PREFIX}{}", ref_id.to_lowercase()))
}

/// The figure of a measurement in words: "5 件中 4 件", "4 of 5 accounts", "12 日".
pub(crate) fn figure(tr: Tr, item: &EvidenceItem) -> String {
    let kind = item.kind.as_str();
    if item.status == EvidenceStatus::NotApplicable {
        return tr
            .get(&format!("evidence_value.na_{kind}"))
            .unwrap_or_else(|| tr.t("evidence_value.na"))
            .to_owned();
    }
    let text = tr.get(&format!("evidence_value.{kind}"));
    let number = |s: &str| s.trim().parse::<u64>().ok();
    let filled = match item.kind {
        EvidenceKind::AuditLogVerified => match number(&item.value) {
            Some(n) => text.map(|t| t.replace("{n}", &thousands(n))),
            None => Some(tr.t("evidence_value.verification_failed").replace("{text}", &item.value)),
        },
        EvidenceKind::PrivilegedSecondFactor
        | EvidenceKind::VaultKeyCurrent
        | EvidenceKind::CompliantDevices
        | EvidenceKind::PolicyAcknowledgements
        | EvidenceKind::TrainingCompletion => {
            match item.value.split_once('/').map(|(a, b)| (number(a), number(b))) {
                Some((Some(part), Some(whole))) => {
                    text.map(|t| t.replace("{part}", &thousands(part)).replace("{whole}", &thousands(whole)))
                }
                _ => None,
            }
        }
        EvidenceKind::OpenIncidents | EvidenceKind::OpenHighAlerts | EvidenceKind::OpenFindings => {
            match item.value.split_once('/').map(|(a, b)| (number(a), number(b))) {
                Some((Some(open), Some(overdue))) => text
                    .map(|t| t.replace("{open}", &thousands(open)).replace("{overdue}", &thousands(overdue))),
                _ => None,
            }
        }
        _ => number(&item.value).and_then(|n| text.map(|t| t.replace("{n}", &thousands(n)))),
    };
    filled.unwrap_or_else(|| item.value.clone())
}

/// Where the data behind a measurement is read, and what the link says; none when the
/// principal may not open it.
fn data_link(tr: Tr, p: &Principal, kind: EvidenceKind) -> Option<(String, String)> {
    use EvidenceKind::*;
    let (href, needs, key) = match kind {
        AuditLogVerified => ("/audit#audit-key", AuditRead, "isms.data_audit_verify"),
        AuditForwardingLag => ("/audit", AuditRead, "isms.data_audit"),
        PrivilegedSecondFactor | DormantAccounts => ("/admin/users", UsersRead, "isms.data_users"),
        LastAccessReview => ("/access-reviews", IsmsRead, "isms.data_access_reviews"),
        VaultKeyCurrent | KeyRotationAge => {
            ("/audit?action=keys.rotate", AuditRead, "isms.data_key_rotations")
        }
        CompliantDevices | AntivirusSignatureAge => ("/devices", DevicesRead, "isms.data_devices"),
        UsbWithoutTakeOut => ("/alerts?days=30", AlertsRead, "isms.data_usb_alerts"),
        DevicesNotDisposed => ("/isms/disposals", IsmsRead, "isms.data_disposals"),
        OpenIncidents | TimeToContain => ("/incidents", IncidentsRead, "isms.data_incidents"),
        OpenHighAlerts => ("/alerts", AlertsRead, "isms.data_alerts"),
        PolicyAcknowledgements => ("/isms/policies", IsmsRead, "isms.data_policies"),
        TrainingCompletion => ("/isms/training", IsmsRead, "isms.data_training"),
        OpenFindings => ("/isms/audits", IsmsRead, "isms.data_audits"),
        OverdueChecks => ("/isms/checks", IsmsRead, "isms.data_checks"),
    };
    p.can(needs).then(|| (href.to_owned(), tr.t(key).to_owned()))
}

/// A core refusal of a decision in words: each field of the form its own sentence.
fn decision_error(tr: Tr, e: &CoreError) -> String {
    let key = match e {
        CoreError::Invalid { field: "justification", code: ErrorCode::Required, .. } => {
            "isms.invalid_justification_required"
        }
        CoreError::Invalid { field: "justification", .. } => "isms.invalid_justification",
        CoreError::Invalid { field: "owner_id", .. } => "isms.invalid_owner",
        CoreError::Invalid { field: "review_on", .. } => "isms.invalid_review_on",
        _ => return error_text(tr, e),
    };
    tr.t(key).to_owned()
}

pub(super) fn refused_page(tr: Tr, e: &CoreError) -> Response {
    super::message_page_text(tr, crate::problem::status_of(e), error_text(tr, e))
}

/// A person (`user:<id>`, `system`) as a name.
pub(super) fn actor_name(tr: Tr, actor: &str, names: &HashMap<String, String>) -> String {
    match names.get(actor) {
        Some(name) => name.clone(),
        None if actor == "system" => tr.t("alerts.by_mamori").to_owned(),
        None => tr.t("alerts.someone").to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Evidence as pages show it.

/// One evidence result as a badge (the SoA) or a line (a control's page, the evidence page).
pub struct EvidenceView {
    pub kind: &'static str,
    pub label: String,
    pub status: &'static str,
    pub status_label: String,
    pub class: &'static str,
    pub figure: String,
    /// "計測 2026-11-29 10:15 JST".
    pub measured_note: String,
    pub since: String,
    pub measured: String,
    /// Its line on the evidence page (as of the same date).
    pub href: String,
    /// Failing or warning.
    pub problem: bool,
}

fn evidence_view(tr: Tr, item: &EvidenceItem, at: Option<&str>) -> EvidenceView {
    let kind = item.kind.as_str();
    let page = match at {
        Some(day) => format!("/isms/evidence?at={}", query_value(day)),
        None => "/isms/evidence".to_owned(),
    };
    EvidenceView {
        kind,
        label: kind_label(tr, item.kind),
        status: item.status.as_str(),
        status_label: status_label(tr, item.status),
        class: status_class(item.status),
        figure: figure(tr, item),
        measured_note: tr.t("isms.measured_at").replace("{time}", &jst_minute(item.checked_at.0)),
        since: jst_minute(item.computed_at.0),
        measured: jst_minute(item.checked_at.0),
        href: format!("{page}#evidence-{kind}"),
        problem: matches!(item.status, EvidenceStatus::Fail | EvidenceStatus::Warn),
    }
}

/// A line of the evidence page, or of a control's evidence table.
pub struct EvidenceLine {
    pub kind: &'static str,
    pub label: String,
    /// What is measured and what passes.
    pub rule: String,
    /// None: not measured (by that date).
    pub result: Option<EvidenceView>,
    /// (href, text) of the Annex A controls it supports.
    pub controls: Vec<(String, String)>,
    /// (href, text) of the data behind it.
    pub data: Option<(String, String)>,
}

fn evidence_line(
    tr: Tr,
    p: &Principal,
    kind: EvidenceKind,
    item: Option<&EvidenceItem>,
    at: Option<&str>,
    annex_a: &HashMap<String, String>,
) -> EvidenceLine {
    EvidenceLine {
        kind: kind.as_str(),
        label: kind_label(tr, kind),
        rule: label(tr, format!("evidence_rule.{}", kind.as_str()), ""),
        result: item.map(|i| evidence_view(tr, i, at)),
        controls: kind
            .controls()
            .iter()
            .map(|r| {
                let text = match annex_a.get(*r) {
                    Some(name) => format!("{r} {name}"),
                    None => (*r).to_owned(),
                };
                (annex_a_href(r), text)
            })
            .collect(),
        data: data_link(tr, p, kind),
    }
}

// ---------------------------------------------------------------------------------------------
// The Statement of Applicability.

#[derive(Debug, Default, serde::Deserialize)]
struct SoaQuery {
    catalog: Option<String>,
    at: Option<String>,
    problems: Option<String>,
}

/// One line of the SoA table: a theme (a heading) or a control.
pub struct SoaRow {
    pub theme: bool,
    pub href: String,
    pub ref_id: String,
    pub name: String,
    pub applicable: &'static str,
    pub applicable_label: String,
    pub applicable_class: &'static str,
    /// Empty while undecided, or for a control that does not apply.
    pub implementation: String,
    pub implementation_label: String,
    pub implementation_class: &'static str,
    pub owner: String,
    pub review_on: String,
    pub evidence: Vec<EvidenceView>,
    pub problem: bool,
}

/// The summary above the table.
pub struct SoaSummary {
    pub controls: usize,
    pub applicable: usize,
    pub excluded: usize,
    pub implemented: usize,
    pub undecided: usize,
    pub problems: usize,
}

/// (href, name, current) of a catalog tab.
pub struct Tab {
    pub href: String,
    pub name: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "isms_soa.html")]
struct SoaPage {
    c: Chrome,
    sections: Vec<SubTab>,
    tabs: Vec<Tab>,
    catalog_urn: String,
    catalog_name: String,
    summary: SoaSummary,
    /// Controls whose live evidence fails or warns.
    problems: Vec<SoaRow>,
    rows: Vec<SoaRow>,
    only_problems: bool,
    /// The date asked (`YYYY-MM-DD`), empty for now.
    at: String,
    /// "2026-11-20 の終わりの時点の表示です…" in a past view.
    past_note: String,
    /// Links keeping the catalog and the date: all lines, problems only.
    all_href: String,
    problems_href: String,
    /// The same catalog as it stands now.
    now_href: String,
    /// The export's query (`catalog=…&at=…`, form-encoded) for `/api/v1/isms/soa/export`.
    export_query: String,
}

fn soa_row(tr: Tr, line: &SoaLine, at: Option<&str>) -> SoaRow {
    let c = &line.control;
    let entry = line.entry.as_ref();
    let (applicable, applicable_label) = applicability(tr, entry);
    let implementation = entry.filter(|e| e.applicable).map(|e| e.implementation.clone()).unwrap_or_default();
    let problem = matches!(line.evidence_status(), Some(EvidenceStatus::Fail | EvidenceStatus::Warn));
    SoaRow {
        theme: !c.assessable,
        href: control_href(&c.urn),
        ref_id: c.ref_id.clone(),
        name: name_in(tr, &c.name, c.name_ja.as_ref()),
        applicable,
        applicable_label,
        applicable_class: applicability_class(applicable),
        implementation_label: if implementation.is_empty() {
            String::new()
        } else {
            implementation_label(tr, &implementation)
        },
        implementation_class: implementation_class(&implementation),
        implementation,
        owner: line.owner.clone().unwrap_or_default(),
        review_on: entry.and_then(|e| e.review_on.clone()).unwrap_or_default(),
        evidence: line.evidence.iter().map(|i| evidence_view(tr, i, at)).collect(),
        problem,
    }
}

fn summary_of(lines: &[SoaLine]) -> SoaSummary {
    let controls: Vec<&SoaLine> = lines.iter().filter(|l| l.control.assessable).collect();
    let applicable = controls.iter().filter(|l| l.entry.as_ref().is_some_and(|e| e.applicable)).count();
    let excluded = controls.iter().filter(|l| l.entry.as_ref().is_some_and(|e| !e.applicable)).count();
    let implemented = controls
        .iter()
        .filter(|l| {
            l.entry
                .as_ref()
                .is_some_and(|e| e.applicable && e.implementation == Implementation::Implemented.as_str())
        })
        .count();
    let problems = controls
        .iter()
        .filter(|l| matches!(l.evidence_status(), Some(EvidenceStatus::Fail | EvidenceStatus::Warn)))
        .count();
    SoaSummary {
        controls: controls.len(),
        applicable,
        excluded,
        implemented,
        undecided: controls.iter().filter(|l| l.entry.is_none()).count(),
        problems,
    }
}

/// Catalogs in the order of their tabs: the built-in ones first, then the imported ones.
fn ordered(mut catalogs: Vec<CatalogRecord>) -> Vec<CatalogRecord> {
    catalogs.sort_by_key(|c| TAB_ORDER.iter().position(|u| *u == c.urn).unwrap_or(TAB_ORDER.len()));
    catalogs
}

/// `?at=` read: (the day as typed, the instant), or a refusal in words.
fn read_at(tr: Tr, at: Option<&str>) -> Result<Option<(String, UnixMillis)>, String> {
    match at.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(day) => match end_of_day(day) {
            Some(t) => Ok(Some((day.to_owned(), t))),
            None => Err(tr.t("isms.invalid_at").to_owned()),
        },
    }
}

async fn soa_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<SoaQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (at, error) = match read_at(tr, q.at.as_deref()) {
        Ok(at) => (at, None),
        Err(e) => (None, Some(e)),
    };
    let chosen = q.catalog.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or(ANNEX_A);
    let soa = match state.core.isms.soa(&p, Some(chosen), at.as_ref().map(|(_, t)| *t), &ctx).await {
        Ok(soa) => soa,
        // Annex A is built in; a catalog named in the URL may not be installed.
        Err(CoreError::NotFound { .. }) if q.catalog.is_none() => {
            match state.core.isms.soa(&p, None, at.as_ref().map(|(_, t)| *t), &ctx).await {
                Ok(soa) => soa,
                Err(e) => return refused_page(tr, &e),
            }
        }
        Err(e) => return refused_page(tr, &e),
    };
    let day = at.as_ref().map(|(d, _)| d.as_str());
    let only_problems = q.problems.as_deref() == Some("1");
    let all_rows: Vec<SoaRow> = soa.lines.iter().map(|l| soa_row(tr, l, day)).collect();
    let problems: Vec<SoaRow> = soa
        .lines
        .iter()
        .filter(|l| l.control.assessable)
        .map(|l| soa_row(tr, l, day))
        .filter(|r| r.problem)
        .collect();
    let rows = if only_problems {
        // The failing controls under their themes; a theme with none of them is left out.
        let mut kept: Vec<SoaRow> = Vec::new();
        let mut theme: Option<SoaRow> = None;
        for r in all_rows {
            if r.theme {
                theme = Some(r);
            } else if r.problem {
                if let Some(t) = theme.take() {
                    kept.push(t);
                }
                kept.push(r);
            }
        }
        kept
    } else {
        all_rows
    };
    let with_at = |base: String| match day {
        Some(d) => format!("{base}&at={}", query_value(d)),
        None => base,
    };
    let urn = soa.catalog.urn.clone();
    let page = SoaPage {
        c: Chrome::new(tr, "isms.soa_title", Some(&p), csrf_for(Some(&p), None), NAV_HREF).error(error),
        sections: sub_tabs(tr, "/isms/soa"),
        tabs: ordered(soa.catalogs.clone())
            .iter()
            .map(|c| Tab {
                href: with_at(soa_href(&c.urn)),
                name: catalog_name(tr, c),
                current: c.urn == urn,
            })
            .collect(),
        catalog_name: catalog_name(tr, &soa.catalog),
        summary: summary_of(&soa.lines),
        problems,
        rows,
        only_problems,
        at: day.unwrap_or_default().to_owned(),
        past_note: day.map(|d| tr.t("isms.past_note").replace("{day}", d)).unwrap_or_default(),
        all_href: with_at(soa_href(&urn)),
        problems_href: with_at(format!("{}&problems=1", soa_href(&urn))),
        now_href: soa_href(&urn),
        export_query: match &at {
            Some((_, t)) => format!("catalog={}&at={}", query_value(&urn), t.0),
            None => format!("catalog={}", query_value(&urn)),
        },
        catalog_urn: urn,
    };
    let status = if page.c.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    (status, render(&page)).into_response()
}

// ---------------------------------------------------------------------------------------------
// One control.

#[derive(Debug, Default, serde::Deserialize)]
struct ControlQuery {
    /// The version just saved (only a number is read from the URL).
    saved: Option<String>,
}

/// The decision form's values: the line in force, or what was typed and refused.
#[derive(Default)]
pub struct DecisionForm {
    /// `yes`, `no`, or empty while undecided.
    pub applicable: String,
    pub justification: String,
    pub implementation: String,
    pub owner_id: String,
    pub review_on: String,
}

/// The line in force, in words.
pub struct CurrentLine {
    pub version: i64,
    pub applicable: &'static str,
    pub applicable_label: String,
    pub applicable_class: &'static str,
    pub implementation_label: String,
    pub implementation_class: &'static str,
    pub owner: String,
    pub review_on: String,
    pub justification: String,
    pub changed: String,
    pub changed_by: String,
}

/// One version of the line.
pub struct HistoryRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub applicable_label: String,
    pub implementation_label: String,
    pub owner: String,
    pub review_on: String,
    pub justification: String,
}

#[derive(Template)]
#[template(path = "isms_control.html")]
struct ControlPage {
    c: Chrome,
    /// The SoA's tab is current: a control is a line of it.
    sections: Vec<SubTab>,
    /// (href, name) of the risks it treats and of the assets they threaten.
    risks: Vec<(String, String)>,
    assets: Vec<(String, String)>,
    action: String,
    ref_id: String,
    name: String,
    /// The name in the other language, when the catalog has one: (text, language code).
    other_name: Option<(String, &'static str)>,
    description: String,
    catalog_name: String,
    catalog_href: String,
    /// (href, "A.8 技術的管理策") of the theme it belongs to.
    parent: Option<(String, String)>,
    assessable: bool,
    current: Option<CurrentLine>,
    /// (href, "TW-10 ログの取得", catalog name) of the controls it maps to or that map to it.
    mapped: Vec<(String, String, String)>,
    evidence: Vec<EvidenceLine>,
    can_manage: bool,
    form: DecisionForm,
    /// (code, label)
    implementations: Vec<(&'static str, String)>,
    /// (id, display name) of active users.
    owners: Vec<(String, String)>,
    form_error: Option<String>,
    history: Vec<HistoryRow>,
}

fn other_name(tr: Tr, c: &ControlRecord) -> Option<(String, &'static str)> {
    let ja = c.name_ja.as_ref().filter(|n| !n.trim().is_empty())?;
    match tr.0 {
        Language::Ja => Some((c.name.clone(), "en")),
        Language::En => Some((ja.clone(), "ja")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn control_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    urn: &str,
    saved: Option<i64>,
    typed: Option<DecisionForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let d = match state.core.isms.control(p, urn, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let control = &d.line.control;
    // Names of the catalogs and of the theme, from the SoA of its catalog.
    let soa = state.core.isms.soa(p, Some(&control.catalog_urn), None, ctx).await.ok();
    let catalogs: HashMap<String, String> = soa
        .as_ref()
        .map(|s| s.catalogs.iter().map(|c| (c.urn.clone(), catalog_name(tr, c))).collect())
        .unwrap_or_default();
    let parent = control.parent_urn.as_ref().and_then(|parent| {
        let theme = soa.as_ref()?.lines.iter().find(|l| &l.control.urn == parent)?;
        let c = &theme.control;
        Some((control_href(&c.urn), format!("{} {}", c.ref_id, name_in(tr, &c.name, c.name_ja.as_ref()))))
    });
    let annex_a = annex_a_names(state, tr, p, ctx).await;
    let mut evidence_kinds: Vec<EvidenceKind> = d.line.evidence.iter().map(|e| e.kind).collect();
    evidence_kinds.dedup();
    let evidence = evidence_kinds
        .iter()
        .map(|k| {
            let item = d.line.evidence.iter().find(|e| e.kind == *k);
            evidence_line(tr, p, *k, item, None, &annex_a)
        })
        .collect();
    let name_of = |id: &Option<String>| -> String {
        id.as_ref()
            .map(|o| d.names.get(o).cloned().unwrap_or_else(|| tr.t("alerts.someone").to_owned()))
            .unwrap_or_default()
    };
    let current = d.line.entry.as_ref().map(|e| {
        let (code, text) = applicability(tr, Some(e));
        CurrentLine {
            version: e.version,
            applicable: code,
            applicable_label: text,
            applicable_class: applicability_class(code),
            implementation_label: if e.applicable {
                implementation_label(tr, &e.implementation)
            } else {
                String::new()
            },
            implementation_class: implementation_class(&e.implementation),
            owner: name_of(&e.owner_id),
            review_on: e.review_on.clone().unwrap_or_default(),
            justification: e.justification.clone(),
            changed: jst_minute(e.changed_at.0),
            changed_by: actor_name(tr, &e.changed_by, &d.names),
        }
    });
    let mut history: Vec<&SoaEntryRecord> = d.history.iter().collect();
    history.sort_by_key(|e| std::cmp::Reverse(e.version));
    let history = history
        .into_iter()
        .map(|e| HistoryRow {
            version: e.version,
            when: jst_minute(e.changed_at.0),
            who: actor_name(tr, &e.changed_by, &d.names),
            applicable_label: applicability(tr, Some(e)).1,
            implementation_label: if e.applicable {
                implementation_label(tr, &e.implementation)
            } else {
                String::new()
            },
            owner: name_of(&e.owner_id),
            review_on: e.review_on.clone().unwrap_or_default(),
            justification: e.justification.clone(),
        })
        .collect();
    let can_manage = p.can(IsmsManage) && control.assessable;
    let owners = if can_manage && p.can(UsersRead) {
        let mut users: Vec<(String, String)> = state
            .core
            .identity
            .list_users(p, ctx)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|u| u.status == UserStatus::Active)
            .map(|u| (u.id, u.display_name))
            .collect();
        users.sort_by(|a, b| a.1.cmp(&b.1));
        users
    } else {
        Vec::new()
    };
    let form = typed.unwrap_or_else(|| match &d.line.entry {
        Some(e) => DecisionForm {
            applicable: if e.applicable { "yes" } else { "no" }.to_owned(),
            justification: e.justification.clone(),
            implementation: e.implementation.clone(),
            owner_id: e.owner_id.clone().unwrap_or_default(),
            review_on: e.review_on.clone().unwrap_or_default(),
        },
        None => DecisionForm {
            implementation: Implementation::NotStarted.as_str().to_owned(),
            ..Default::default()
        },
    });
    let (status, form_error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let mut c = Chrome::new(tr, "isms.control_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if let Some(v) = saved {
        c.notice = Some(tr.t("isms.saved").replace("{version}", &v.to_string()));
    }
    let page = ControlPage {
        c,
        sections: sub_tabs(tr, "/isms/soa"),
        risks: d.line.risks.iter().map(|(id, name)| (format!("/isms/risks/{id}"), name.clone())).collect(),
        assets: d.line.assets.iter().map(|(id, name)| (format!("/isms/assets/{id}"), name.clone())).collect(),
        action: control_href(&control.urn),
        ref_id: control.ref_id.clone(),
        name: name_in(tr, &control.name, control.name_ja.as_ref()),
        other_name: other_name(tr, control),
        description: match tr.0 {
            Language::Ja => control.description_ja.clone().or_else(|| control.description.clone()),
            Language::En => control.description.clone(),
        }
        .unwrap_or_default(),
        catalog_name: catalog_name(tr, &d.catalog),
        catalog_href: soa_href(&d.catalog.urn),
        parent,
        assessable: control.assessable,
        current,
        mapped: d
            .line
            .mapped
            .iter()
            .map(|m| {
                let catalog = m
                    .urn
                    .rsplit_once(':')
                    .map(|(prefix, _)| prefix.replacen(":control:", ":catalog:", 1))
                    .and_then(|c| catalogs.get(&c).cloned())
                    .unwrap_or_default();
                (
                    control_href(&m.urn),
                    format!("{} {}", m.ref_id, name_in(tr, &m.name, m.name_ja.as_ref())),
                    catalog,
                )
            })
            .collect(),
        evidence,
        can_manage,
        form,
        implementations: Implementation::ALL
            .iter()
            .map(|i| (i.as_str(), implementation_label(tr, i.as_str())))
            .collect(),
        owners,
        form_error,
        history,
    };
    (status, render(&page)).into_response()
}

/// Names of the Annex A controls by ref id (`A.8.15` → "ログ取得"), for the evidence's links.
async fn annex_a_names(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
) -> HashMap<String, String> {
    match state.core.isms.soa(p, Some(ANNEX_A), None, ctx).await {
        Ok(soa) => soa
            .lines
            .iter()
            .map(|l| (l.control.ref_id.clone(), name_in(tr, &l.control.name, l.control.name_ja.as_ref())))
            .collect(),
        Err(_) => HashMap::new(),
    }
}

async fn control_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(urn): Path<String>,
    Query(q): Query<ControlQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let saved = q.saved.and_then(|v| v.trim().parse::<i64>().ok());
    control_view(&state, tr, &p, &ctx, &urn, saved, None, None).await
}

/// Decides the control's line: a new version.
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(urn): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = DecisionForm {
        applicable: form.text("applicable").to_owned(),
        justification: form.text("justification").to_owned(),
        implementation: form.text("implementation").to_owned(),
        owner_id: form.text("owner_id").trim().to_owned(),
        review_on: form.text("review_on").trim().to_owned(),
    };
    let refuse = |key: &str| Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned()));
    let applicable = match typed.applicable.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            let refused = refuse("isms.choose_applicable");
            return control_view(&state, tr, &p, &ctx, &urn, None, Some(typed), refused).await;
        }
    };
    let implementation = match (applicable, Implementation::parse(&typed.implementation)) {
        (_, Some(i)) => i,
        // A control left out is not put into practice; what the select says does not matter.
        (false, None) => Implementation::NotStarted,
        (true, None) => {
            let refused = refuse("isms.choose_implementation");
            return control_view(&state, tr, &p, &ctx, &urn, None, Some(typed), refused).await;
        }
    };
    let decision = SoaDecision {
        applicable,
        justification: typed.justification.clone(),
        implementation,
        owner_id: Some(typed.owner_id.clone()).filter(|o| !o.is_empty()),
        review_on: Some(typed.review_on.clone()).filter(|d| !d.is_empty()),
    };
    match state.core.isms.decide(&p, &urn, decision, &ctx).await {
        Ok(version) => Redirect::to(&format!("{}?saved={version}", control_href(&urn))).into_response(),
        Err(e @ (CoreError::NotFound { .. } | CoreError::Forbidden(_))) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), decision_error(tr, &e)));
            control_view(&state, tr, &p, &ctx, &urn, None, Some(typed), refused).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The live evidence.

#[derive(Debug, Default, serde::Deserialize)]
struct EvidenceQuery {
    at: Option<String>,
    /// `1` after "measure now".
    measured: Option<String>,
}

/// An area's heading and its lines.
pub struct AreaSection {
    pub code: &'static str,
    pub label: String,
    pub lines: Vec<EvidenceLine>,
}

#[derive(Template)]
#[template(path = "isms_evidence.html")]
struct EvidencePage {
    c: Chrome,
    sections: Vec<SubTab>,
    areas: Vec<AreaSection>,
    /// (status code, label, class, count) of the results.
    counts: Vec<(&'static str, String, &'static str, usize)>,
    at: String,
    past_note: String,
    can_manage: bool,
}

async fn evidence_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<EvidenceQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let (at, error) = match read_at(tr, q.at.as_deref()) {
        Ok(at) => (at, None),
        Err(e) => (None, Some(e)),
    };
    let items = match state.core.isms.evidence(&p, at.as_ref().map(|(_, t)| *t), &ctx).await {
        Ok(items) => items,
        Err(e) => return refused_page(tr, &e),
    };
    let annex_a = annex_a_names(&state, tr, &p, &ctx).await;
    let day = at.as_ref().map(|(d, _)| d.as_str());
    let areas = AREAS
        .iter()
        .map(|area| AreaSection {
            code: area_code(*area),
            label: label(tr, format!("evidence_area.{}", area_code(*area)), area_code(*area)),
            lines: EvidenceKind::ALL
                .iter()
                .filter(|k| k.area() == *area)
                .map(|k| evidence_line(tr, &p, *k, items.iter().find(|i| i.kind == *k), day, &annex_a))
                .collect(),
        })
        .collect();
    let counts =
        [EvidenceStatus::Fail, EvidenceStatus::Warn, EvidenceStatus::Pass, EvidenceStatus::NotApplicable]
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    status_label(tr, *s),
                    status_class(*s),
                    items.iter().filter(|i| i.status == *s).count(),
                )
            })
            .collect();
    let mut c =
        Chrome::new(tr, "isms.evidence_title", Some(&p), csrf_for(Some(&p), None), NAV_HREF).error(error);
    if q.measured.as_deref() == Some("1") {
        c.notice = Some(tr.t("isms.measured_now").to_owned());
    }
    let status = if c.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = EvidencePage {
        c,
        sections: sub_tabs(tr, "/isms/evidence"),
        areas,
        counts,
        at: day.unwrap_or_default().to_owned(),
        past_note: day.map(|d| tr.t("isms.past_note_evidence").replace("{day}", d)).unwrap_or_default(),
        can_manage: p.can(IsmsManage),
    };
    (status, render(&page)).into_response()
}

/// Takes every measurement now ("今すぐ計測").
async fn check_now(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.check_evidence_now(&p, &ctx).await {
        Ok(_) => Redirect::to("/isms/evidence?measured=1").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalogue;

    /// Every code these pages show has its label in both languages.
    #[test]
    fn every_code_has_a_label() {
        for lang in [Language::Ja, Language::En] {
            let cat = catalogue(lang);
            let mut keys: Vec<String> = Vec::new();
            for kind in EvidenceKind::ALL {
                keys.push(format!("evidence_kind.{}", kind.as_str()));
                keys.push(format!("evidence_rule.{}", kind.as_str()));
                keys.push(format!("evidence_value.{}", kind.as_str()));
            }
            keys.extend(AREAS.iter().map(|a| format!("evidence_area.{}", area_code(*a))));
            keys.extend(
                [
                    EvidenceStatus::Fail,
                    EvidenceStatus::Warn,
                    EvidenceStatus::Pass,
                    EvidenceStatus::NotApplicable,
                ]
                .iter()
                .map(|s| format!("evidence_status.{}", s.as_str())),
            );
            keys.extend(Implementation::ALL.iter().map(|i| format!("soa_implementation.{}", i.as_str())));
            keys.extend(["applicable", "excluded", "undecided"].map(|c| format!("isms.{c}")));
            keys.extend(
                [
                    "isms.nav",
                    "evidence_value.na",
                    "evidence_value.verification_failed",
                    "isms.measured_at",
                    "isms.past_note",
                    "isms.past_note_evidence",
                    "isms.saved",
                    "isms.measured_now",
                    "isms.invalid_at",
                    "isms.choose_applicable",
                    "isms.choose_implementation",
                    "isms.invalid_justification_required",
                    "isms.invalid_justification",
                    "isms.invalid_owner",
                    "isms.invalid_review_on",
                    "isms.data_audit_verify",
                    "isms.data_audit",
                    "isms.data_users",
                    "isms.data_key_rotations",
                    "isms.data_devices",
                    "isms.data_usb_alerts",
                    "isms.data_incidents",
                    "isms.data_alerts",
                ]
                .map(String::from),
            );
            let missing: Vec<&String> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    #[test]
    fn figures_read_as_words() {
        let item = |kind, status, value: &str| EvidenceItem {
            kind,
            status,
            value: value.into(),
            computed_at: UnixMillis(0),
            checked_at: UnixMillis(0),
        };
        let ja = Tr(Language::Ja);
        let en = Tr(Language::En);
        let share = item(EvidenceKind::PrivilegedSecondFactor, EvidenceStatus::Fail, "4/5");
        assert_eq!(figure(ja, &share), "5 件中 4 件");
        assert_eq!(figure(en, &share), "4 of 5 accounts");
        let verified = item(EvidenceKind::AuditLogVerified, EvidenceStatus::Pass, "12345");
        assert!(figure(ja, &verified).contains("12,345"), "{}", figure(ja, &verified));
        let lag = item(EvidenceKind::AuditForwardingLag, EvidenceStatus::NotApplicable, "");
        assert!(!figure(ja, &lag).is_empty());
        let open = item(EvidenceKind::OpenIncidents, EvidenceStatus::Warn, "2/0");
        assert!(figure(en, &open).contains('2'), "{}", figure(en, &open));
    }

    #[test]
    fn days_and_paths() {
        let end = end_of_day("2026-11-29").unwrap();
        assert_eq!(jst_day(end.0), "2026-11-29");
        assert_eq!(jst_day(end.0 + 1), "2026-11-30");
        assert!(end_of_day("2026-11-31").is_none() && end_of_day("yesterday").is_none());
        assert_eq!(
            control_href("urn:mamori:control:iso27001-2022:a.8.15"),
            "/isms/controls/urn:mamori:control:iso27001-2022:a.8.15"
        );
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(annex_a_href("A.8.15"), "/isms/controls/urn:mamori:control:iso27001-2022:a.8.15");
    }
}
