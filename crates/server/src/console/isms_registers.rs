//! The ISMS registers beside the SoA (issue 17; ISMS-1, 2, 4, 9, VEND-1…6): the security
//! admin's morning page (`/isms`) — problems first —, the risk register with its heat maps drawn
//! on the server as inline SVG, the information assets, and the vendors with their chain and
//! certificates. Every code is worded through the catalogue in both languages; people are shown
//! by name, times in JST.

use super::isms::{actor_name, control_href, jst_minute, label, name_in, query_value, refused_page, segment};
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
use mamori_core::isms::assets::{AssetListQuery, AssetOwnerFilter, AssetSort};
use mamori_core::isms::dashboard::ReviewOf;
use mamori_core::isms::risks::{RatedRecord, RiskAssessmentRecord, RiskRecord};
use mamori_core::isms::vendors::WatchedCertificate;
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{AlertsRead, IncidentsRead, IsmsManage, IsmsRead, UsersRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::{Language, UserStatus};
use mamori_domain::isms::asset::{
    AssetInput, AssetKind, AssetSource, Availability, Confidentiality, Integrity,
};
use mamori_domain::isms::evidence::EvidenceStatus;
use mamori_domain::isms::risk::{Rating, RiskInput, RiskMatrix, Treatment};
use mamori_domain::isms::vendor::{
    AssessmentInput, CertificateInput, CertificateNotice, Criterion, Scheme, VendorInput, VisitInput,
};
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms", Needs(IsmsRead), dashboard_page)
        .add(Method::GET, "/isms/risks", Needs(IsmsRead), risks_page)
        .add(Method::POST, "/isms/risks", Needs(IsmsManage), create_risk)
        .add(Method::GET, "/isms/risks/{id}", Needs(IsmsRead), risk_page)
        .add(Method::POST, "/isms/risks/{id}", Needs(IsmsManage), update_risk)
        .add(Method::GET, "/isms/assets", Needs(IsmsRead), assets_page)
        .add(Method::POST, "/isms/assets", Needs(IsmsManage), create_asset)
        .add(Method::GET, "/isms/assets/{id}", Needs(IsmsRead), asset_page)
        .add(Method::POST, "/isms/assets/{id}", Needs(IsmsManage), update_asset)
        .add(Method::GET, "/isms/assets/{id}/retire", Needs(IsmsManage), confirm_retire_asset)
        .add(Method::POST, "/isms/assets/{id}/retire", Needs(IsmsManage), retire_asset)
        .add(Method::GET, "/isms/vendors", Needs(IsmsRead), vendors_page)
        .add(Method::POST, "/isms/vendors", Needs(IsmsManage), create_vendor)
        .add(Method::POST, "/isms/certificates", Needs(IsmsManage), record_own_certificate)
        .add(Method::GET, "/isms/vendors/{id}", Needs(IsmsRead), vendor_page)
        .add(Method::POST, "/isms/vendors/{id}", Needs(IsmsManage), update_vendor)
        .add(Method::GET, "/isms/vendors/{id}/retire", Needs(IsmsManage), confirm_retire_vendor)
        .add(Method::POST, "/isms/vendors/{id}/retire", Needs(IsmsManage), retire_vendor)
        .add(Method::POST, "/isms/vendors/{id}/certificates", Needs(IsmsManage), record_vendor_certificate)
        .add(Method::POST, "/isms/vendors/{id}/assessments", Needs(IsmsManage), assess_vendor)
        .add(Method::POST, "/isms/vendors/{id}/visits", Needs(IsmsManage), record_vendor_visit)
}

/// Where the navigation's ISMS entry points; every ISMS page marks it as the current one.
const NAV_HREF: &str = "/isms/soa";
const ANNEX_A_CONTROL_PREFIX: &str = "urn:mamori:control:iso27001-2022:";

// ---------------------------------------------------------------------------------------------
// Codes in words.

pub(super) fn code_label(tr: Tr, section: &str, code: &str) -> String {
    label(tr, format!("{section}.{code}"), code)
}

/// A grade or level's name in the page's language.
fn in_lang(tr: Tr, en: &str, ja: &str) -> String {
    match tr.0 {
        Language::Ja => ja.to_owned(),
        Language::En => en.to_owned(),
    }
}

/// Today in Japan, `YYYY-MM-DD`.
pub(super) fn today() -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    local_time(now).chars().take(10).collect()
}

/// A refusal of a form in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => tr
            .get(&format!("isms_registers.invalid_{field}"))
            .map_or_else(|| error_text(tr, e), str::to_owned),
        _ => error_text(tr, e),
    }
}

/// Black or white text, whichever reads on the colour.
fn ink_on(color: &str) -> &'static str {
    let hex = color.trim_start_matches('#');
    let channel = |i: usize| u32::from_str_radix(hex.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    let luma = 299 * channel(0) + 587 * channel(2) + 114 * channel(4);
    if luma > 150_000 { "#1a1a1a" } else { "#ffffff" }
}

/// One link of the ISMS pages' sub-navigation.
pub struct SubTab {
    pub href: &'static str,
    pub name: String,
    pub current: bool,
}

/// ダッシュボード / 適用宣言書 / 証跡 / 資産 / リスク / 委託先.
pub(super) fn sub_tabs(tr: Tr, current: &str) -> Vec<SubTab> {
    [
        ("/isms", "isms_registers.tab_dashboard"),
        ("/isms/soa", "isms_registers.tab_soa"),
        ("/isms/evidence", "isms_registers.tab_evidence"),
        ("/isms/assets", "isms_registers.tab_assets"),
        ("/isms/risks", "isms_registers.tab_risks"),
        ("/isms/vendors", "isms_registers.tab_vendors"),
        ("/isms/legal", "isms_registers.tab_legal"),
        ("/isms/policies", "isms_registers.tab_policies"),
        ("/isms/training", "isms_registers.tab_training"),
        ("/isms/disposals", "isms_registers.tab_disposals"),
        ("/isms/audits", "isms_registers.tab_audits"),
        ("/isms/continuity", "isms_registers.tab_continuity"),
        ("/isms/checks", "isms_registers.tab_checks"),
        ("/isms/registers", "isms_registers.tab_transfer"),
    ]
    .into_iter()
    .map(|(href, key)| SubTab { href, name: tr.t(key).to_owned(), current: href == current })
    .collect()
}

/// "あと 12 日" / "3 日超過" / "今日".
pub(super) fn days_text(tr: Tr, days_left: i64) -> String {
    match days_left {
        0 => tr.t("isms_registers.due_today").to_owned(),
        d if d < 0 => tr.t("isms_registers.overdue_days").replace("{n}", &(-d).to_string()),
        d => tr.t("isms_registers.due_in_days").replace("{n}", &d.to_string()),
    }
}

/// A review date as a list shows it: the date, and whether it has passed.
fn review_overdue(review_on: Option<&String>, today: &str) -> bool {
    review_on.is_some_and(|d| d.as_str() < today)
}

/// Active users as (id, name), for owner selects.
pub(super) async fn owners(state: &AppState, p: &Principal, ctx: &RequestContext) -> Vec<(String, String)> {
    if !p.can(UsersRead) {
        return Vec::new();
    }
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
}

// ---------------------------------------------------------------------------------------------
// Certificates in words.

fn notice_text(tr: Tr, n: CertificateNotice) -> String {
    let t = |key: &str| tr.t(&format!("certificate_notice.{key}")).to_owned();
    match n {
        CertificateNotice::Expired { days_ago } => t("expired").replace("{n}", &days_ago.to_string()),
        CertificateNotice::ExpiresSoon { days: 0 } => t("expires_today"),
        CertificateNotice::ExpiresSoon { days } | CertificateNotice::ExpiresWithin90 { days } => {
            t("expires_in").replace("{n}", &days.to_string())
        }
        CertificateNotice::RenewalWindowOpen { closes_in_days } => {
            t("renewal_window_open").replace("{n}", &closes_in_days.to_string())
        }
        CertificateNotice::RenewalWindowMissed => t("renewal_window_missed"),
        CertificateNotice::SurveillanceDue { year, days } => {
            t("surveillance_due").replace("{year}", &year.to_string()).replace("{n}", &days.to_string())
        }
    }
}

/// A certificate as the dashboard and the vendors' pages show it.
pub struct CertificateRow {
    pub holder: String,
    /// The vendor's page, or the centre's certificates.
    pub href: String,
    pub own: bool,
    pub scheme: String,
    pub number: String,
    pub issuer: String,
    pub issued_on: String,
    pub expires_on: String,
    pub held: String,
    /// (text, urgent)
    pub notices: Vec<(String, bool)>,
    pub urgent: bool,
}

fn certificate_row(tr: Tr, c: &WatchedCertificate) -> CertificateRow {
    let own = c.record.vendor_id.is_none();
    CertificateRow {
        holder: if own { tr.t("isms_registers.own_centre").to_owned() } else { c.holder.clone() },
        href: match &c.record.vendor_id {
            Some(v) => format!("/isms/vendors/{}", segment(v)),
            None => "/isms/vendors#certificates".to_owned(),
        },
        own,
        scheme: code_label(tr, "certificate_scheme", &c.record.scheme),
        number: c.record.number.clone(),
        issuer: c.record.issuer.clone(),
        issued_on: c.record.issued_on.clone(),
        expires_on: c.record.expires_on.clone(),
        held: tr.t("isms_registers.held_years").replace("{n}", &c.held_years.to_string()),
        notices: c.notices.iter().map(|n| (notice_text(tr, *n), n.urgent())).collect(),
        urgent: c.notices.iter().any(|n| n.urgent()),
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard.

pub struct FailingRow {
    pub href: String,
    pub ref_id: String,
    pub name: String,
    pub status_label: String,
    pub status_class: &'static str,
    /// (kind code, label) of the items not passing.
    pub kinds: Vec<(String, String)>,
}

pub struct RiskLine {
    pub href: String,
    pub name: String,
    pub level: String,
    pub color: String,
}

pub struct ReviewRow {
    pub of: &'static str,
    pub of_label: String,
    pub href: String,
    pub name: String,
    pub due_on: String,
    pub when: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "isms_dashboard.html")]
struct DashboardPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    failing: Vec<FailingRow>,
    risks: Vec<RiskLine>,
    reviews: Vec<ReviewRow>,
    overdue: usize,
    certificates: Vec<CertificateRow>,
    applicable: usize,
    implemented: usize,
    undecided: usize,
    controls: usize,
    open_alerts: usize,
    open_high_alerts: usize,
    open_incidents: usize,
    alerts_href: Option<&'static str>,
    incidents_href: Option<&'static str>,
    /// The people controls' measurements (issue 18, item 9).
    people: Vec<PeopleTile>,
}

/// One people control's measurement on the dashboard.
pub struct PeopleTile {
    pub label: String,
    pub figure: String,
    pub status: String,
    pub status_class: &'static str,
    pub raised: bool,
}

fn review_href(of: ReviewOf, id: &str) -> String {
    match of {
        ReviewOf::Asset => format!("/isms/assets/{}", segment(id)),
        ReviewOf::Risk => format!("/isms/risks/{}", segment(id)),
        ReviewOf::Control => control_href(id),
        ReviewOf::Vendor | ReviewOf::VendorAssessment => format!("/isms/vendors/{}", segment(id)),
        ReviewOf::Legal => format!("/isms/legal/{}", segment(id)),
        ReviewOf::Drill => format!("/isms/continuity#plan-{}", segment(id)),
        ReviewOf::Finding => format!("/isms/audits#finding-{}", segment(id)),
        ReviewOf::Check => format!("/isms/checks#checklist-{}", segment(id)),
    }
}

async fn dashboard_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let d = match state.core.isms.dashboard(&p, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    // Controls by their name in the page's language (the dashboard names them in Japanese).
    let control_names: HashMap<String, String> =
        if tr.0 == Language::En && d.reviews.iter().any(|r| r.of == ReviewOf::Control) {
            match state.core.isms.soa(&p, None, None, &ctx).await {
                Ok(soa) => soa
                    .lines
                    .iter()
                    .map(|l| (l.control.urn.clone(), format!("{} {}", l.control.ref_id, l.control.name)))
                    .collect(),
                Err(_) => HashMap::new(),
            }
        } else {
            HashMap::new()
        };
    let failing = d
        .failing_controls
        .iter()
        .map(|f| FailingRow {
            href: control_href(&f.urn),
            ref_id: f.ref_id.clone(),
            name: name_in(tr, &f.name, f.name_ja.as_ref()),
            status_label: code_label(tr, "evidence_status", f.status.as_str()),
            status_class: if f.status == EvidenceStatus::Fail { "warn" } else { "state-idle" },
            kinds: f.kinds.iter().map(|k| (k.clone(), code_label(tr, "evidence_kind", k))).collect(),
        })
        .collect();
    let risks = d
        .risks_above_appetite
        .iter()
        .map(|(id, name, en, ja, color)| RiskLine {
            href: format!("/isms/risks/{}", segment(id)),
            name: name.clone(),
            level: in_lang(tr, en, ja),
            color: color.clone(),
        })
        .collect();
    let reviews: Vec<ReviewRow> = d
        .reviews
        .iter()
        .map(|r| ReviewRow {
            of: r.of.as_str(),
            of_label: code_label(tr, "review_of", r.of.as_str()),
            href: review_href(r.of, &r.id),
            name: control_names.get(&r.id).cloned().unwrap_or_else(|| r.name.clone()),
            due_on: r.due_on.clone(),
            when: days_text(tr, r.days_left),
            overdue: r.days_left < 0,
        })
        .collect();
    let page = DashboardPage {
        c: Chrome::new(tr, "isms_registers.dashboard_title", Some(&p), csrf_for(Some(&p), None), NAV_HREF),
        tabs: sub_tabs(tr, "/isms"),
        failing,
        risks,
        overdue: reviews.iter().filter(|r| r.overdue).count(),
        reviews,
        certificates: d.certificates.iter().map(|c| certificate_row(tr, c)).collect(),
        applicable: d.controls.0,
        implemented: d.controls.1,
        undecided: d.controls.2,
        controls: d.controls.3,
        open_alerts: d.open_alerts,
        open_high_alerts: d.open_high_alerts,
        open_incidents: d.open_incidents,
        alerts_href: p.can(AlertsRead).then_some("/alerts"),
        incidents_href: p.can(IncidentsRead).then_some("/incidents"),
        people: d
            .people
            .iter()
            .map(|e| PeopleTile {
                label: super::isms::kind_label(tr, e.kind),
                figure: super::isms::figure(tr, e),
                status: super::isms::status_label(tr, e.status),
                status_class: match e.status {
                    EvidenceStatus::Fail => "warn",
                    EvidenceStatus::Warn => "state-idle",
                    EvidenceStatus::Pass => "state-working",
                    EvidenceStatus::NotApplicable => "",
                },
                raised: matches!(e.status, EvidenceStatus::Fail | EvidenceStatus::Warn),
            })
            .collect(),
    };
    render(&page)
}

// ---------------------------------------------------------------------------------------------
// Risks.

/// One cell of a heat map.
pub struct HeatCell {
    pub x: usize,
    pub y: usize,
    pub fill: String,
    pub ink: &'static str,
    pub count: usize,
    /// "起こりやすい × 大: 高い, 3 件".
    pub title: String,
}

/// A heat map drawn as inline SVG.
pub struct HeatMap {
    pub id: &'static str,
    pub title: String,
    pub width: usize,
    pub height: usize,
    pub cells: Vec<HeatCell>,
    /// (y of the text, label) of the probability grades, high at the top.
    pub rows: Vec<(usize, String)>,
    /// (x of the text, label) of the impact grades.
    pub cols: Vec<(usize, String)>,
    pub cell_w: usize,
    pub cell_h: usize,
    /// Where the axis titles sit.
    pub x_axis: (usize, usize),
    pub y_axis: (usize, usize),
    /// Where the grade labels sit: x of the row labels' right end, y of the column labels.
    pub label_x: usize,
    pub cols_y: usize,
    pub total: usize,
}

const LEFT: usize = 120;
const TOP: usize = 8;
const CELL_W: usize = 72;
const CELL_H: usize = 44;

fn heat_map(tr: Tr, id: &'static str, title: String, matrix: &RiskMatrix, heat: &[Vec<usize>]) -> HeatMap {
    let (rows, cols) = (matrix.probability.len(), matrix.impact.len());
    let mut cells = Vec::new();
    for (r, row) in (0..rows).rev().enumerate() {
        for col in 0..cols {
            let count = heat.get(row).and_then(|x| x.get(col)).copied().unwrap_or(0);
            let level = matrix.level(row as u8, col as u8).unwrap_or(0);
            let l = &matrix.levels[usize::from(level).min(matrix.levels.len() - 1)];
            let (p, i) = (&matrix.probability[row], &matrix.impact[col]);
            cells.push(HeatCell {
                x: LEFT + col * CELL_W,
                y: TOP + r * CELL_H,
                fill: l.color.clone(),
                ink: ink_on(&l.color),
                count,
                title: tr
                    .t("isms_registers.heat_cell")
                    .replace("{probability}", &in_lang(tr, &p.en, &p.ja))
                    .replace("{impact}", &in_lang(tr, &i.en, &i.ja))
                    .replace("{level}", &in_lang(tr, &l.en, &l.ja))
                    .replace("{n}", &count.to_string()),
            });
        }
    }
    let grid_bottom = TOP + rows * CELL_H;
    HeatMap {
        id,
        title,
        width: LEFT + cols * CELL_W + 8,
        height: grid_bottom + 48,
        total: cells.iter().map(|c| c.count).sum(),
        cells,
        rows: (0..rows)
            .rev()
            .enumerate()
            .map(|(r, row)| {
                let g = &matrix.probability[row];
                (TOP + r * CELL_H + CELL_H / 2 + 4, in_lang(tr, &g.en, &g.ja))
            })
            .collect(),
        cols: (0..cols)
            .map(|col| {
                let g = &matrix.impact[col];
                (LEFT + col * CELL_W + CELL_W / 2, in_lang(tr, &g.en, &g.ja))
            })
            .collect(),
        cell_w: CELL_W,
        cell_h: CELL_H,
        x_axis: (LEFT + cols * CELL_W / 2, grid_bottom + 40),
        y_axis: (14, TOP + rows * CELL_H / 2),
        label_x: LEFT - 6,
        cols_y: grid_bottom + 16,
    }
}

/// A level as a coloured tag.
pub struct LevelTag {
    pub level: i64,
    pub name: String,
    pub color: String,
}

fn level_tag(tr: Tr, matrix: &RiskMatrix, level: i64) -> LevelTag {
    let l = matrix.levels.get(usize::try_from(level).unwrap_or(0)).unwrap_or(&matrix.levels[0]);
    LevelTag { level, name: in_lang(tr, &l.en, &l.ja), color: l.color.clone() }
}

/// "起こりやすい × 大".
fn rating_text(tr: Tr, matrix: &RiskMatrix, r: &RatedRecord) -> String {
    let grade = |grades: &[mamori_domain::isms::risk::Grade], i: i64| {
        grades.get(usize::try_from(i).unwrap_or(0)).map(|g| in_lang(tr, &g.en, &g.ja)).unwrap_or_default()
    };
    tr.t("isms_registers.rating")
        .replace("{probability}", &grade(&matrix.probability, r.probability))
        .replace("{impact}", &grade(&matrix.impact, r.impact))
}

pub struct RiskRow {
    pub href: String,
    pub number: String,
    pub title: String,
    pub inherent: LevelTag,
    pub residual: Option<LevelTag>,
    pub treatment: String,
    pub owner: String,
    pub due_on: String,
    pub review_on: String,
    pub review_overdue: bool,
    pub above: bool,
}

fn risk_row(
    tr: Tr,
    matrix: &RiskMatrix,
    r: &RiskRecord,
    owner: Option<&String>,
    above: bool,
    today: &str,
) -> RiskRow {
    RiskRow {
        href: format!("/isms/risks/{}", segment(&r.id)),
        number: format!("R-{}", r.number),
        title: r.title.clone(),
        inherent: level_tag(tr, matrix, r.inherent.level),
        residual: r.residual.map(|x| level_tag(tr, matrix, x.level)),
        treatment: code_label(tr, "risk_treatment", &r.treatment),
        owner: owner.cloned().unwrap_or_default(),
        due_on: r.due_on.clone().unwrap_or_default(),
        review_on: r.review_on.clone().unwrap_or_default(),
        review_overdue: review_overdue(r.review_on.as_ref(), today),
        above,
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct RisksQuery {
    assessment: Option<String>,
    sort: Option<String>,
    above: Option<String>,
    treatment: Option<String>,
}

/// What the risk form holds: empty, or what was typed and refused.
#[derive(Default)]
pub struct RiskForm {
    pub title: String,
    pub threat: String,
    pub vulnerability: String,
    pub inherent_probability: String,
    pub inherent_impact: String,
    pub residual_probability: String,
    pub residual_impact: String,
    pub treatment: String,
    pub controls: String,
    pub owner_id: String,
    pub due_on: String,
    pub review_on: String,
    pub notes: String,
    pub asset_ids: Vec<String>,
}

impl RiskForm {
    fn of(form: &Form) -> RiskForm {
        RiskForm {
            title: form.text("title").to_owned(),
            threat: form.text("threat").to_owned(),
            vulnerability: form.text("vulnerability").to_owned(),
            inherent_probability: form.text("inherent_probability").to_owned(),
            inherent_impact: form.text("inherent_impact").to_owned(),
            residual_probability: form.text("residual_probability").to_owned(),
            residual_impact: form.text("residual_impact").to_owned(),
            treatment: form.text("treatment").to_owned(),
            controls: form.text("controls").to_owned(),
            owner_id: form.text("owner_id").trim().to_owned(),
            due_on: form.text("due_on").trim().to_owned(),
            review_on: form.text("review_on").trim().to_owned(),
            notes: form.text("notes").to_owned(),
            asset_ids: form.all("asset_ids").into_iter().filter(|a| !a.trim().is_empty()).collect(),
        }
    }

    /// The risk as typed, or the catalogue key of what is wrong with the ratings.
    fn input(&self) -> Result<RiskInput, &'static str> {
        let grade = |s: &str| s.trim().parse::<u8>().ok();
        let inherent = grade(&self.inherent_probability)
            .zip(grade(&self.inherent_impact))
            .map(|(probability, impact)| Rating { probability, impact })
            .ok_or("isms_registers.invalid_inherent")?;
        let residual = match (self.residual_probability.trim(), self.residual_impact.trim()) {
            ("", "") => None,
            (a, b) => Some(
                grade(a)
                    .zip(grade(b))
                    .map(|(probability, impact)| Rating { probability, impact })
                    .ok_or("isms_registers.invalid_residual")?,
            ),
        };
        let treatment = Treatment::parse(&self.treatment).ok_or("isms_registers.invalid_treatment")?;
        Ok(RiskInput {
            title: self.title.clone(),
            threat: self.threat.clone(),
            vulnerability: self.vulnerability.clone(),
            asset_ids: self.asset_ids.clone(),
            inherent,
            residual,
            treatment,
            control_urns: control_urns(&self.controls),
            owner_id: Some(self.owner_id.clone()).filter(|o| !o.is_empty()),
            due_on: Some(self.due_on.clone()).filter(|d| !d.is_empty()),
            review_on: Some(self.review_on.clone()).filter(|d| !d.is_empty()),
            notes: self.notes.clone(),
        })
    }
}

/// A link that changes one thing of the list: (href, text, current).
pub struct Choice {
    pub href: String,
    pub text: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "isms_risks.html")]
struct RisksPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    /// (id, name, current) of the assessments, when there are several.
    assessments: Vec<(String, String, bool)>,
    assessment_id: String,
    assessment_name: String,
    appetite: LevelTag,
    maps: Vec<HeatMap>,
    legend: Vec<LevelTag>,
    rows: Vec<RiskRow>,
    total: usize,
    sorts: Vec<Choice>,
    treatments: Vec<Choice>,
    above: Choice,
    can_manage: bool,
    form: RiskForm,
    form_error: Option<String>,
    probabilities: Vec<(String, String)>,
    impacts: Vec<(String, String)>,
    treatment_options: Vec<(&'static str, String)>,
    owners: Vec<(String, String)>,
}

async fn risks_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<RisksQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    risks_view(&state, tr, &p, &ctx, q, None, None).await
}

async fn risks_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    q: RisksQuery,
    typed: Option<RiskForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let chosen = q.assessment.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let register = match state.core.isms.risks(p, chosen, ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let a: &RiskAssessmentRecord = &register.assessment;
    let m = &a.matrix;
    let today = today();
    let sort = ["number", "due"].into_iter().find(|s| q.sort.as_deref() == Some(*s)).unwrap_or("level");
    let above_only = q.above.as_deref() == Some("1");
    let treatment = q.treatment.as_deref().and_then(Treatment::parse);
    let mut risks: Vec<_> = register
        .risks
        .iter()
        .filter(|r| !above_only || r.above_appetite)
        .filter(|r| treatment.is_none_or(|t| r.record.treatment == t.as_str()))
        .collect();
    match sort {
        "number" => risks.sort_by_key(|r| r.record.number),
        "due" => risks.sort_by(|x, y| {
            let key = |r: &&mamori_core::isms::risks::RiskView| {
                (r.record.due_on.is_none(), r.record.due_on.clone(), r.record.number)
            };
            key(x).cmp(&key(y))
        }),
        _ => risks.sort_by_key(|r| {
            (std::cmp::Reverse(mamori_core::isms::risks::current_level(&r.record)), r.record.number)
        }),
    }
    let rows: Vec<RiskRow> = risks
        .iter()
        .map(|r| risk_row(tr, m, &r.record, r.owner.as_ref(), r.above_appetite, &today))
        .collect();
    // Links keep the assessment and the other choices.
    let href = |sort: &str, above: bool, treatment: Option<&str>| {
        let mut parts = Vec::new();
        if let Some(id) = chosen {
            parts.push(format!("assessment={}", query_value(id)));
        }
        if sort != "level" {
            parts.push(format!("sort={sort}"));
        }
        if above {
            parts.push("above=1".to_owned());
        }
        if let Some(t) = treatment {
            parts.push(format!("treatment={t}"));
        }
        if parts.is_empty() { "/isms/risks".to_owned() } else { format!("/isms/risks?{}", parts.join("&")) }
    };
    let t_code = treatment.map(Treatment::as_str);
    let sorts = ["level", "number", "due"]
        .into_iter()
        .map(|s| Choice {
            href: href(s, above_only, t_code),
            text: tr.t(&format!("isms_registers.sort_{s}")).to_owned(),
            current: s == sort,
        })
        .collect();
    let mut treatments = vec![Choice {
        href: href(sort, above_only, None),
        text: tr.t("isms_registers.all_treatments").to_owned(),
        current: treatment.is_none(),
    }];
    treatments.extend(Treatment::ALL.iter().map(|t| Choice {
        href: href(sort, above_only, Some(t.as_str())),
        text: code_label(tr, "risk_treatment", t.as_str()),
        current: treatment == Some(*t),
    }));
    let above = Choice {
        href: href(sort, !above_only, t_code),
        text: tr
            .t(if above_only { "isms_registers.show_all_risks" } else { "isms_registers.only_above" })
            .to_owned(),
        current: above_only,
    };
    let maps = vec![
        heat_map(
            tr,
            "heat-inherent",
            tr.t("isms_registers.inherent_map").to_owned(),
            m,
            &register.inherent_heat,
        ),
        heat_map(
            tr,
            "heat-residual",
            tr.t("isms_registers.residual_map").to_owned(),
            m,
            &register.residual_heat,
        ),
    ];
    let can_manage = p.can(IsmsManage);
    let (status, form_error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let grades = |g: &[mamori_domain::isms::risk::Grade]| -> Vec<(String, String)> {
        g.iter().enumerate().map(|(i, g)| (i.to_string(), in_lang(tr, &g.en, &g.ja))).collect()
    };
    let page = RisksPage {
        c: Chrome::new(tr, "isms_registers.risks_title", Some(p), csrf_for(Some(p), None), NAV_HREF),
        tabs: sub_tabs(tr, "/isms/risks"),
        assessments: if register.assessments.len() > 1 {
            register.assessments.iter().map(|x| (x.id.clone(), x.name.clone(), x.id == a.id)).collect()
        } else {
            Vec::new()
        },
        assessment_id: a.id.clone(),
        assessment_name: a.name.clone(),
        appetite: level_tag(tr, m, a.appetite),
        maps,
        legend: (0..m.levels.len() as i64).map(|l| level_tag(tr, m, l)).collect(),
        total: register.risks.len(),
        rows,
        sorts,
        treatments,
        above,
        can_manage,
        form: typed.unwrap_or_else(|| RiskForm {
            treatment: Treatment::Undecided.as_str().to_owned(),
            ..Default::default()
        }),
        form_error,
        probabilities: grades(&m.probability),
        impacts: grades(&m.impact),
        treatment_options: Treatment::ALL
            .iter()
            .map(|t| (t.as_str(), code_label(tr, "risk_treatment", t.as_str())))
            .collect(),
        owners: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
    };
    (status, render(&page)).into_response()
}

/// `A.8.12, a.5.7` → the Annex A urns; a urn as it is.
fn control_urns(text: &str) -> Vec<String> {
    text.split([',', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.starts_with("urn:") {
                s.to_lowercase()
            } else {
                format!("{ANNEX_A_CONTROL_PREFIX}{}", s.to_lowercase())
            }
        })
        .collect()
}

async fn create_risk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = RiskForm::of(&form);
    let assessment = Some(form.text("assessment").trim().to_owned()).filter(|s| !s.is_empty());
    let q = RisksQuery { assessment: assessment.clone(), ..Default::default() };
    let input = match typed.input() {
        Ok(input) => input,
        Err(key) => {
            let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned()));
            return risks_view(&state, tr, &p, &ctx, q, Some(typed), refused).await;
        }
    };
    match state.core.isms.create_risk(&p, assessment.as_deref(), input, &ctx).await {
        Ok(id) => saved_redirect("risks", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            risks_view(&state, tr, &p, &ctx, q, Some(typed), refused).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

pub struct RiskHistoryRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub title: String,
    pub inherent: LevelTag,
    pub residual: Option<LevelTag>,
    pub treatment: String,
}

#[derive(Template)]
#[template(path = "isms_risk.html")]
struct RiskPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    row: RiskRow,
    assessment_name: String,
    threat: String,
    vulnerability: String,
    notes: String,
    inherent_rating: String,
    residual_rating: String,
    /// (href, name)
    assets: Vec<(String, String)>,
    controls: Vec<(String, String)>,
    history: Vec<RiskHistoryRow>,
    version: i64,
    changed: String,
    changed_by: String,
    can_manage: bool,
    action: String,
    form: RiskForm,
    form_error: Option<String>,
    form_open: bool,
    probabilities: Vec<(String, String)>,
    impacts: Vec<(String, String)>,
    treatment_options: Vec<(&'static str, String)>,
    owners: Vec<(String, String)>,
    /// The linked assets (id, name): unticked, a link is dropped.
    asset_choices: Vec<(String, String)>,
}

async fn risk_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    risk_view(&state, tr, &p, &ctx, &id, q.saved.as_deref() == Some("1"), None, None).await
}

/// An Annex A urn as its number (`A.8.12`); another catalog's urn as it is.
fn control_text(urn: &str) -> String {
    match urn.strip_prefix(ANNEX_A_CONTROL_PREFIX) {
        Some(id) => id.to_uppercase(),
        None => urn.to_owned(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn risk_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    saved: bool,
    typed: Option<RiskForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let d = match state.core.isms.risk(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let m = &d.assessment.matrix;
    let r = &d.risk.record;
    let today = today();
    // Controls by their name in the page's language.
    let control_names: HashMap<String, String> = if tr.0 == Language::En && !r.control_urns.is_empty() {
        let mut names = HashMap::new();
        if let Ok(soa) = state.core.isms.soa(p, None, None, ctx).await {
            for l in soa.lines {
                names.insert(l.control.urn.clone(), format!("{} {}", l.control.ref_id, l.control.name));
            }
        }
        names
    } else {
        HashMap::new()
    };
    let mut c = Chrome::new(tr, "isms_registers.risk_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if saved {
        c.notice = Some(tr.t("isms_registers.saved").to_owned());
    }
    let can_manage = p.can(IsmsManage);
    let (status, form_error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let form_open = form_error.is_some();
    let form = typed.unwrap_or_else(|| RiskForm {
        title: r.title.clone(),
        threat: r.threat.clone(),
        vulnerability: r.vulnerability.clone(),
        inherent_probability: r.inherent.probability.to_string(),
        inherent_impact: r.inherent.impact.to_string(),
        residual_probability: r.residual.map(|x| x.probability.to_string()).unwrap_or_default(),
        residual_impact: r.residual.map(|x| x.impact.to_string()).unwrap_or_default(),
        treatment: r.treatment.clone(),
        controls: r.control_urns.iter().map(|u| control_text(u)).collect::<Vec<_>>().join(", "),
        owner_id: r.owner_id.clone().unwrap_or_default(),
        due_on: r.due_on.clone().unwrap_or_default(),
        review_on: r.review_on.clone().unwrap_or_default(),
        notes: r.notes.clone(),
        asset_ids: r.asset_ids.clone(),
    });
    let grades = |g: &[mamori_domain::isms::risk::Grade]| -> Vec<(String, String)> {
        g.iter().enumerate().map(|(i, g)| (i.to_string(), in_lang(tr, &g.en, &g.ja))).collect()
    };
    let mut history: Vec<&RiskRecord> = d.history.iter().collect();
    history.sort_by_key(|h| std::cmp::Reverse(h.version));
    let page = RiskPage {
        c,
        tabs: sub_tabs(tr, "/isms/risks"),
        row: risk_row(tr, m, r, d.risk.owner.as_ref(), d.risk.above_appetite, &today),
        assessment_name: d.assessment.name.clone(),
        threat: r.threat.clone(),
        vulnerability: r.vulnerability.clone(),
        notes: r.notes.clone(),
        inherent_rating: rating_text(tr, m, &r.inherent),
        residual_rating: r.residual.map(|x| rating_text(tr, m, &x)).unwrap_or_default(),
        assets: r
            .asset_ids
            .iter()
            .map(|a| {
                let name =
                    d.names.get(a).cloned().unwrap_or_else(|| tr.t("isms_registers.unknown").to_owned());
                (format!("/isms/assets/{}", segment(a)), name)
            })
            .collect(),
        controls: r
            .control_urns
            .iter()
            .map(|u| {
                let name = control_names
                    .get(u)
                    .or_else(|| d.names.get(u))
                    .cloned()
                    .unwrap_or_else(|| u.rsplit(':').next().unwrap_or(u).to_uppercase());
                (control_href(u), name)
            })
            .collect(),
        history: history
            .into_iter()
            .map(|h| RiskHistoryRow {
                version: h.version,
                when: jst_minute(h.changed_at.0),
                who: actor_name(tr, &h.changed_by, &d.names),
                title: h.title.clone(),
                inherent: level_tag(tr, m, h.inherent.level),
                residual: h.residual.map(|x| level_tag(tr, m, x.level)),
                treatment: code_label(tr, "risk_treatment", &h.treatment),
            })
            .collect(),
        version: r.version,
        changed: jst_minute(r.changed_at.0),
        changed_by: actor_name(tr, &r.changed_by, &d.names),
        can_manage,
        action: format!("/isms/risks/{}", segment(&r.id)),
        form,
        form_error,
        form_open,
        probabilities: grades(&m.probability),
        impacts: grades(&m.impact),
        treatment_options: Treatment::ALL
            .iter()
            .map(|t| (t.as_str(), code_label(tr, "risk_treatment", t.as_str())))
            .collect(),
        owners: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
        asset_choices: r
            .asset_ids
            .iter()
            .map(|a| {
                let name =
                    d.names.get(a).cloned().unwrap_or_else(|| tr.t("isms_registers.unknown").to_owned());
                (a.clone(), name)
            })
            .collect(),
    };
    (status, render(&page)).into_response()
}

async fn update_risk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = RiskForm::of(&form);
    let input = match typed.input() {
        Ok(input) => input,
        Err(key) => {
            let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned()));
            return risk_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await;
        }
    };
    match state.core.isms.update_risk(&p, &id, input, &ctx).await {
        Ok(_) => saved_redirect("risks", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            risk_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Assets.

pub struct AssetRow {
    pub href: String,
    pub kind: String,
    pub name: String,
    pub owner: String,
    pub location: String,
    pub confidentiality: String,
    pub integrity: String,
    pub availability: String,
    /// Allowed / not allowed, for software and cloud services.
    pub allowed: Option<(String, bool)>,
    pub source: String,
    pub review_on: String,
    pub review_overdue: bool,
    pub retired: bool,
    /// A revoked ledger PC whose disposal is not recorded yet (LEAK-3).
    pub revoked_not_disposed: bool,
}

fn asset_row(
    tr: Tr,
    a: &mamori_core::isms::assets::AssetRecord,
    owner: Option<&String>,
    today: &str,
) -> AssetRow {
    AssetRow {
        href: format!("/isms/assets/{}", segment(&a.id)),
        kind: code_label(tr, "asset_kind", &a.kind),
        name: a.name.clone(),
        owner: owner.cloned().unwrap_or_default(),
        location: a.location.clone(),
        confidentiality: code_label(tr, "confidentiality", &a.confidentiality),
        integrity: code_label(tr, "integrity", &a.integrity),
        availability: code_label(tr, "availability", &a.availability),
        allowed: a.allowed.map(|ok| {
            (tr.t(if ok { "isms_registers.allowed" } else { "isms_registers.not_allowed" }).to_owned(), ok)
        }),
        source: code_label(tr, "asset_source", &a.source),
        review_on: a.review_on.clone().unwrap_or_default(),
        review_overdue: a.retired_at.is_none() && review_overdue(a.review_on.as_ref(), today),
        retired: a.retired_at.is_some(),
        revoked_not_disposed: false,
    }
}

/// The asset list's GET form: every value as typed; one that means nothing is taken as unset.
#[derive(Debug, Default, serde::Deserialize)]
struct AssetsQuery {
    kind: Option<String>,
    confidentiality: Option<String>,
    source: Option<String>,
    owner: Option<String>,
    q: Option<String>,
    overdue: Option<String>,
    include_retired: Option<String>,
    sort: Option<String>,
    offset: Option<String>,
}

/// Assets on one page of the console's list.
const ASSET_PAGE: i64 = 100;

/// The asset list's filters, read leniently from the form.
#[derive(Debug, Default, Clone)]
struct AssetFilters {
    kind: Option<AssetKind>,
    confidentiality: Option<Confidentiality>,
    source: Option<AssetSource>,
    /// A user's id, or `none`.
    owner: Option<String>,
    q: String,
    overdue: bool,
    include_retired: bool,
    sort: AssetSort,
}

impl AssetFilters {
    fn of(q: &AssetsQuery) -> AssetFilters {
        fn set(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        AssetFilters {
            kind: set(&q.kind).and_then(AssetKind::parse),
            confidentiality: set(&q.confidentiality).and_then(Confidentiality::parse),
            source: set(&q.source).and_then(AssetSource::parse),
            owner: set(&q.owner)
                .filter(|o| *o == "none" || uuid::Uuid::parse_str(o).is_ok())
                .map(str::to_owned),
            q: set(&q.q)
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(mamori_core::isms::assets::ASSET_SEARCH_MAX)
                .collect::<String>()
                .trim()
                .to_owned(),
            overdue: set(&q.overdue) == Some("1"),
            include_retired: set(&q.include_retired) == Some("1"),
            sort: match set(&q.sort) {
                Some("kind") => AssetSort::Kind,
                Some("review_on") => AssetSort::ReviewOn,
                _ => AssetSort::Name,
            },
        }
    }

    fn sort_code(&self) -> &'static str {
        match self.sort {
            AssetSort::Name => "name",
            AssetSort::Kind => "kind",
            AssetSort::ReviewOn => "review_on",
        }
    }

    /// The list with these filters from `offset`; only what is set is in the link.
    fn href(&self, offset: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("kind", self.kind.map(AssetKind::as_str)),
            ("confidentiality", self.confidentiality.map(Confidentiality::as_str)),
            ("source", self.source.map(AssetSource::as_str)),
            ("owner", self.owner.as_deref()),
            ("q", Some(self.q.as_str()).filter(|q| !q.is_empty())),
            ("overdue", self.overdue.then_some("1")),
            ("include_retired", self.include_retired.then_some("1")),
            ("sort", Some(self.sort_code()).filter(|s| *s != "name")),
        ] {
            if let Some(v) = value {
                query.append_pair(key, v);
            }
        }
        if offset > 0 {
            query.append_pair("offset", &offset.to_string());
        }
        let query = query.finish();
        if query.is_empty() { "/isms/assets".to_owned() } else { format!("/isms/assets?{query}") }
    }

    fn store_query(&self, offset: i64) -> AssetListQuery {
        AssetListQuery {
            kind: self.kind.map(|k| k.as_str().to_owned()),
            confidentiality: self.confidentiality.map(|c| c.as_str().to_owned()),
            source: self.source.map(|s| s.as_str().to_owned()),
            owner: self.owner.as_ref().map(|o| {
                if o == "none" { AssetOwnerFilter::Nobody } else { AssetOwnerFilter::User(o.clone()) }
            }),
            text: Some(self.q.clone()).filter(|q| !q.is_empty()),
            include_retired: self.include_retired,
            overdue_before: None,
            overdue_only: self.overdue,
            sort: self.sort,
            offset,
            limit: ASSET_PAGE,
        }
    }
}

/// 10020 → "10,020".
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[derive(Default)]
pub struct AssetForm {
    pub kind: String,
    pub name: String,
    pub owner_id: String,
    pub location: String,
    pub confidentiality: String,
    pub integrity: String,
    pub availability: String,
    pub allowed: String,
    pub review_on: String,
    pub notes: String,
}

impl AssetForm {
    fn of(form: &Form) -> AssetForm {
        AssetForm {
            kind: form.text("kind").to_owned(),
            name: form.text("name").to_owned(),
            owner_id: form.text("owner_id").trim().to_owned(),
            location: form.text("location").to_owned(),
            confidentiality: form.text("confidentiality").to_owned(),
            integrity: form.text("integrity").to_owned(),
            availability: form.text("availability").to_owned(),
            allowed: form.text("allowed").to_owned(),
            review_on: form.text("review_on").trim().to_owned(),
            notes: form.text("notes").to_owned(),
        }
    }

    /// The asset as typed; none when a kind or grade is not one of the lists'.
    fn input(&self) -> Option<AssetInput> {
        let kind = AssetKind::parse(&self.kind)?;
        let confidentiality = Confidentiality::parse(&self.confidentiality)?;
        let integrity = Integrity::parse(&self.integrity)?;
        let availability = Availability::parse(&self.availability)?;
        let listed = matches!(kind, AssetKind::Software | AssetKind::CloudService);
        let allowed = match (listed, self.allowed.as_str()) {
            (true, "yes") => Some(true),
            (true, "no") => Some(false),
            _ => None,
        };
        Some(AssetInput {
            kind,
            name: self.name.clone(),
            owner_id: Some(self.owner_id.clone()).filter(|o| !o.is_empty()),
            location: self.location.clone(),
            confidentiality,
            integrity,
            availability,
            allowed,
            review_on: Some(self.review_on.clone()).filter(|d| !d.is_empty()),
            notes: self.notes.clone(),
        })
    }
}

#[derive(Template)]
#[template(path = "isms_assets.html")]
struct AssetsPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    rows: Vec<AssetRow>,
    /// The filters as the form shows them (codes; empty when unset).
    f_kind: String,
    f_confidentiality: String,
    f_source: String,
    f_owner: String,
    f_q: String,
    f_overdue: bool,
    include_retired: bool,
    f_sort: &'static str,
    filtered: bool,
    source_options: Vec<(&'static str, String)>,
    sort_options: Vec<(&'static str, String)>,
    /// "1–100 of 10,020", when the page shows any.
    range: Option<String>,
    prev_href: Option<String>,
    next_href: Option<String>,
    overdue: i64,
    overdue_href: String,
    can_manage: bool,
    form: AssetForm,
    form_error: Option<String>,
    kind_options: Vec<(&'static str, String)>,
    confidentiality_options: Vec<(&'static str, String)>,
    integrity_options: Vec<(&'static str, String)>,
    availability_options: Vec<(&'static str, String)>,
    /// Active users, for the owner filter (when the reader may list users).
    owner_choices: Vec<(String, String)>,
    /// The same, for the new asset's form (when the reader may change assets).
    owners: Vec<(String, String)>,
}

async fn assets_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<AssetsQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    assets_view(&state, tr, &p, &ctx, q, None, None).await
}

fn options<T: Copy>(
    tr: Tr,
    section: &str,
    all: &[T],
    code: impl Fn(T) -> &'static str,
) -> Vec<(&'static str, String)> {
    all.iter().map(|x| (code(*x), code_label(tr, section, code(*x)))).collect()
}

async fn assets_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    q: AssetsQuery,
    typed: Option<AssetForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let filters = AssetFilters::of(&q);
    let offset = q.offset.as_deref().and_then(|o| o.trim().parse::<i64>().ok()).unwrap_or(0).max(0);
    let page = match state.core.isms.asset_page(p, filters.store_query(offset), ctx).await {
        Ok(page) => page,
        Err(e) => return refused_page(tr, &e),
    };
    let today = today();
    let rows: Vec<AssetRow> = page
        .assets
        .iter()
        .map(|a| AssetRow {
            revoked_not_disposed: a.revoked_not_disposed,
            ..asset_row(tr, &a.record, a.owner.as_ref(), &today)
        })
        .collect();
    let shown = i64::try_from(rows.len()).unwrap_or(0);
    let range = (shown > 0).then(|| {
        tr.t("isms_registers.asset_range")
            .replace("{from}", &grouped(offset + 1))
            .replace("{to}", &grouped(offset + shown))
            .replace("{total}", &grouped(page.total))
    });
    // Past the end (an old link): back to the last page.
    let last = (page.total - 1).max(0) / ASSET_PAGE * ASSET_PAGE;
    let prev_href = (offset > 0).then(|| filters.href((offset - ASSET_PAGE).clamp(0, last)));
    let next_href = (shown > 0 && offset + shown < page.total).then(|| filters.href(offset + shown));
    let can_manage = p.can(IsmsManage);
    let (status, form_error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let owner_choices = owners(state, p, ctx).await;
    let overdue_href = AssetFilters { overdue: true, ..filters.clone() }.href(0);
    let page = AssetsPage {
        c: Chrome::new(tr, "isms_registers.assets_title", Some(p), csrf_for(Some(p), None), NAV_HREF),
        tabs: sub_tabs(tr, "/isms/assets"),
        rows,
        f_kind: filters.kind.map(AssetKind::as_str).unwrap_or_default().to_owned(),
        f_confidentiality: filters
            .confidentiality
            .map(Confidentiality::as_str)
            .unwrap_or_default()
            .to_owned(),
        f_source: filters.source.map(AssetSource::as_str).unwrap_or_default().to_owned(),
        f_owner: filters.owner.clone().unwrap_or_default(),
        f_q: filters.q.clone(),
        f_overdue: filters.overdue,
        include_retired: filters.include_retired,
        f_sort: filters.sort_code(),
        filtered: filters.href(0) != "/isms/assets",
        source_options: options(tr, "asset_source", AssetSource::ALL, AssetSource::as_str),
        sort_options: vec![
            ("name", tr.t("isms_registers.asset_sort_name").to_owned()),
            ("kind", tr.t("isms_registers.asset_sort_kind").to_owned()),
            ("review_on", tr.t("isms_registers.asset_sort_review").to_owned()),
        ],
        range,
        prev_href,
        next_href,
        overdue: page.overdue,
        overdue_href,
        can_manage,
        form: typed.unwrap_or_default(),
        form_error,
        kind_options: options(tr, "asset_kind", AssetKind::ALL, AssetKind::as_str),
        confidentiality_options: options(
            tr,
            "confidentiality",
            Confidentiality::ALL,
            Confidentiality::as_str,
        ),
        integrity_options: options(tr, "integrity", Integrity::ALL, Integrity::as_str),
        availability_options: options(tr, "availability", Availability::ALL, Availability::as_str),
        owners: if can_manage { owner_choices.clone() } else { Vec::new() },
        owner_choices,
    };
    (status, render(&page)).into_response()
}

async fn create_asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = AssetForm::of(&form);
    let Some(input) = typed.input() else {
        let refused =
            Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_registers.invalid_grades").to_owned()));
        return assets_view(&state, tr, &p, &ctx, AssetsQuery::default(), Some(typed), refused).await;
    };
    match state.core.isms.create_asset(&p, input, &ctx).await {
        Ok(id) => saved_redirect("assets", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            assets_view(&state, tr, &p, &ctx, AssetsQuery::default(), Some(typed), refused).await
        }
    }
}

pub struct AssetHistoryRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub row: AssetRow,
}

#[derive(Template)]
#[template(path = "isms_asset.html")]
struct AssetPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    row: AssetRow,
    notes: String,
    /// Where a followed asset's data comes from: (href, text).
    source_link: Option<(String, String)>,
    version: i64,
    changed: String,
    changed_by: String,
    history: Vec<AssetHistoryRow>,
    /// The forms: for `isms.manage`, on an asset in force.
    can_manage: bool,
    /// It follows the device ledger or a client company: only the register's fields change.
    followed: bool,
    /// Equipment (a ledger PC or a registered machine) retires with its disposal record.
    needs_disposal: bool,
    action: String,
    retire_href: String,
    form: AssetForm,
    form_error: Option<String>,
    form_open: bool,
    kind_options: Vec<(&'static str, String)>,
    confidentiality_options: Vec<(&'static str, String)>,
    integrity_options: Vec<(&'static str, String)>,
    availability_options: Vec<(&'static str, String)>,
    owners: Vec<(String, String)>,
}

async fn asset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    asset_view(&state, tr, &p, &ctx, &id, q.saved.as_deref() == Some("1"), None, None).await
}

#[allow(clippy::too_many_arguments)]
async fn asset_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    saved: bool,
    typed: Option<AssetForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let d = match state.core.isms.asset(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let today = today();
    let a = &d.asset.record;
    let mut c = Chrome::new(tr, "isms_registers.asset_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if saved {
        c.notice = Some(tr.t("isms_registers.saved").to_owned());
    }
    let can_manage = p.can(IsmsManage) && a.retired_at.is_none();
    let (status, form_error) = match refused {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let form = typed.unwrap_or_else(|| AssetForm {
        kind: a.kind.clone(),
        name: a.name.clone(),
        owner_id: a.owner_id.clone().unwrap_or_default(),
        location: a.location.clone(),
        confidentiality: a.confidentiality.clone(),
        integrity: a.integrity.clone(),
        availability: a.availability.clone(),
        allowed: match a.allowed {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => String::new(),
        },
        review_on: a.review_on.clone().unwrap_or_default(),
        notes: a.notes.clone(),
    });
    let source_link = match (a.source.as_str(), &a.source_id) {
        ("device", Some(device)) if p.can(mamori_domain::Permission::DevicesRead) => {
            Some((format!("/devices/{}", segment(device)), tr.t("isms_registers.open_device").to_owned()))
        }
        _ => None,
    };
    let mut history: Vec<_> = d.history.iter().collect();
    history.sort_by_key(|h| std::cmp::Reverse(h.version));
    let page = AssetPage {
        c,
        tabs: sub_tabs(tr, "/isms/assets"),
        row: AssetRow {
            revoked_not_disposed: d.asset.revoked_not_disposed,
            ..asset_row(tr, a, d.asset.owner.as_ref(), &today)
        },
        needs_disposal: a.kind == AssetKind::Equipment.as_str(),
        notes: a.notes.clone(),
        source_link,
        version: a.version,
        changed: jst_minute(a.changed_at.0),
        changed_by: actor_name(tr, &a.changed_by, &d.names),
        history: history
            .into_iter()
            .map(|h| AssetHistoryRow {
                version: h.version,
                when: jst_minute(h.changed_at.0),
                who: actor_name(tr, &h.changed_by, &d.names),
                row: asset_row(tr, h, h.owner_id.as_ref().and_then(|o| d.names.get(o)), &today),
            })
            .collect(),
        can_manage,
        followed: a.source != AssetSource::Manual.as_str(),
        action: format!("/isms/assets/{}", segment(&a.id)),
        retire_href: format!("/isms/assets/{}/retire", segment(&a.id)),
        form_open: form_error.is_some(),
        form,
        form_error,
        kind_options: options(tr, "asset_kind", AssetKind::ALL, AssetKind::as_str),
        confidentiality_options: options(
            tr,
            "confidentiality",
            Confidentiality::ALL,
            Confidentiality::as_str,
        ),
        integrity_options: options(tr, "integrity", Integrity::ALL, Integrity::as_str),
        availability_options: options(tr, "availability", Availability::ALL, Availability::as_str),
        owners: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
    };
    (status, render(&page)).into_response()
}

async fn update_asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let current = match state.core.isms.asset(&p, &id, &ctx).await {
        Ok(d) => d.asset.record,
        Err(e) => return refused_page(tr, &e),
    };
    let mut typed = AssetForm::of(&form);
    if current.source != AssetSource::Manual.as_str() {
        // A followed asset's kind, name and place are its source's.
        typed.kind.clone_from(&current.kind);
        typed.name.clone_from(&current.name);
        typed.location.clone_from(&current.location);
    }
    let Some(input) = typed.input() else {
        let refused =
            Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_registers.invalid_grades").to_owned()));
        return asset_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await;
    };
    match state.core.isms.update_asset(&p, &id, input, &ctx).await {
        Ok(_) => saved_redirect("assets", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            asset_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await
        }
    }
}

/// "Are you sure?" before an asset is retired.
async fn confirm_retire_asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let d = match state.core.isms.asset(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let a = &d.asset.record;
    if a.retired_at.is_some() {
        return refused_page(tr, &CoreError::NotFound { what: "asset" });
    }
    if a.source != AssetSource::Manual.as_str() {
        let text = tr.t("isms_registers.retire_followed").to_owned();
        return super::message_page_text(tr, StatusCode::CONFLICT, text);
    }
    if a.kind == AssetKind::Equipment.as_str() {
        let text = tr.t("isms_registers.equipment_needs_disposal").to_owned();
        return super::message_page_text(tr, StatusCode::CONFLICT, text);
    }
    confirm_page(
        tr,
        &p,
        tr.t("isms_registers.retire_asset_question").replace("{name}", &a.name),
        vec![tr.t("isms_registers.retire_asset_effect").to_owned()],
        format!("/isms/assets/{}", segment(&a.id)),
    )
}

async fn retire_asset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.retire_asset(&p, &id, &ctx).await {
        Ok(()) => saved_redirect("assets", &id),
        Err(e) => refused_page(tr, &e),
    }
}

/// The confirmation page of a retirement: the question, what follows, and where the form posts
/// (`{href}/retire`) and where "cancel" goes back to (`href`).
pub(super) fn confirm_page(
    tr: Tr,
    p: &Principal,
    question: String,
    effects: Vec<String>,
    href: String,
) -> Response {
    render(&super::ConfirmPage {
        c: Chrome::new(tr, "confirm.title", Some(p), csrf_for(Some(p), None), NAV_HREF),
        question,
        effects,
        action: format!("{href}/retire"),
        fields: Vec::new(),
        ask_message: false,
        cancel: href,
        danger: true,
    })
}

// ---------------------------------------------------------------------------------------------
// Vendors and certificates.

pub struct TierTag {
    pub label: String,
    pub class: &'static str,
}

fn tier_tag(tr: Tr, tier: &str) -> TierTag {
    TierTag {
        label: code_label(tr, "vendor_tier", tier),
        class: match tier {
            "low" => "ok",
            "medium" => "state-idle",
            _ => "warn",
        },
    }
}

pub struct VendorRow {
    pub href: String,
    pub name: String,
    /// Subcontractors sit under their outsourcer.
    pub depth: usize,
    pub parent: String,
    pub clients: Vec<String>,
    pub data_handled: String,
    pub tier: Option<TierTag>,
    pub total: String,
    pub next_on: String,
    pub next_overdue: bool,
    pub certificates: Vec<CertificateRow>,
    pub retired: bool,
}

fn vendor_row(tr: Tr, v: &mamori_core::isms::vendors::VendorView, depth: usize, today: &str) -> VendorRow {
    VendorRow {
        href: format!("/isms/vendors/{}", segment(&v.record.id)),
        name: v.record.name.clone(),
        depth,
        parent: v.parent.clone().unwrap_or_default(),
        clients: v.clients.clone(),
        data_handled: v.record.data_handled.clone(),
        tier: v.latest_assessment.as_ref().map(|a| tier_tag(tr, &a.tier)),
        total: v
            .latest_assessment
            .as_ref()
            .map(|a| tr.t("isms_registers.score_total").replace("{n}", &a.total.to_string()))
            .unwrap_or_default(),
        next_on: v.latest_assessment.as_ref().map(|a| a.next_on.clone()).unwrap_or_default(),
        next_overdue: v.latest_assessment.as_ref().is_some_and(|a| a.next_on.as_str() < today),
        certificates: v.certificates.iter().filter(|c| !c.renewed).map(|c| certificate_row(tr, c)).collect(),
        retired: v.record.retired_at.is_some(),
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct VendorsQuery {
    include_retired: Option<String>,
    saved: Option<String>,
}

/// A vendor as typed in its form (kept when it is refused).
#[derive(Debug, Default, Clone)]
pub struct VendorForm {
    pub name: String,
    pub parent_id: String,
    pub client_ids: Vec<String>,
    pub data_handled: String,
    pub contact: String,
    pub review_on: String,
    pub notes: String,
}

impl VendorForm {
    fn of(form: &Form) -> VendorForm {
        VendorForm {
            name: form.text("name").to_owned(),
            parent_id: form.text("parent_id").trim().to_owned(),
            client_ids: form.all("client_ids").into_iter().filter(|c| !c.trim().is_empty()).collect(),
            data_handled: form.text("data_handled").to_owned(),
            contact: form.text("contact").to_owned(),
            review_on: form.text("review_on").trim().to_owned(),
            notes: form.text("notes").to_owned(),
        }
    }

    fn input(&self) -> VendorInput {
        VendorInput {
            name: self.name.clone(),
            parent_id: Some(self.parent_id.clone()).filter(|p| !p.is_empty()),
            client_ids: self.client_ids.clone(),
            data_handled: self.data_handled.clone(),
            contact: self.contact.clone(),
            review_on: Some(self.review_on.clone()).filter(|d| !d.is_empty()),
            notes: self.notes.clone(),
        }
    }
}

/// A certificate as typed.
#[derive(Debug, Default, Clone)]
pub struct CertificateForm {
    pub scheme: String,
    pub number: String,
    pub issuer: String,
    pub first_obtained_on: String,
    pub issued_on: String,
    pub expires_on: String,
}

impl CertificateForm {
    fn of(form: &Form) -> CertificateForm {
        CertificateForm {
            scheme: form.text("scheme").trim().to_owned(),
            number: form.text("number").to_owned(),
            issuer: form.text("issuer").to_owned(),
            first_obtained_on: form.text("first_obtained_on").trim().to_owned(),
            issued_on: form.text("issued_on").trim().to_owned(),
            expires_on: form.text("expires_on").trim().to_owned(),
        }
    }

    fn input(&self) -> Option<CertificateInput> {
        Some(CertificateInput {
            scheme: Scheme::parse(&self.scheme)?,
            number: self.number.clone(),
            issuer: self.issuer.clone(),
            first_obtained_on: self.first_obtained_on.clone(),
            issued_on: self.issued_on.clone(),
            expires_on: self.expires_on.clone(),
        })
    }
}

/// A form refused: which one (to open it again), its status and the reason in words.
pub struct Refusal {
    pub form: &'static str,
    pub status: StatusCode,
    pub text: String,
}

/// After a change: back to the record's page, which says it was saved.
pub(super) fn saved_redirect(register: &str, id: &str) -> Response {
    Redirect::to(&format!("/isms/{register}/{}?saved=1", segment(id))).into_response()
}

fn refusal(tr: Tr, form: &'static str, e: &CoreError) -> Refusal {
    Refusal { form, status: crate::problem::status_of(e), text: form_error(tr, e) }
}

fn refusal_key(tr: Tr, form: &'static str, key: &str) -> Refusal {
    Refusal { form, status: StatusCode::UNPROCESSABLE_ENTITY, text: tr.t(key).to_owned() }
}

fn scheme_options(tr: Tr) -> Vec<(&'static str, String)> {
    Scheme::ALL.iter().map(|s| (s.as_str(), code_label(tr, "certificate_scheme", s.as_str()))).collect()
}

/// Client companies (id, name) by name, for the vendor forms' checkboxes.
async fn client_choices(state: &AppState) -> Vec<(String, String)> {
    let mut clients: Vec<(String, String)> = state
        .core
        .identity
        .list_org(mamori_domain::identity::OrgKind::Client)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    clients.sort_by(|a, b| a.1.cmp(&b.1));
    clients
}

#[derive(Template)]
#[template(path = "isms_vendors.html")]
struct VendorsPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    rows: Vec<VendorRow>,
    include_retired: bool,
    certificates: Vec<CertificateRow>,
    can_manage: bool,
    /// The form refused, open again with its reason: `vendor` or `certificate`.
    open: &'static str,
    form_error: Option<String>,
    vendor_form: VendorForm,
    certificate_form: CertificateForm,
    /// Vendors in force (id, name), as outsourcers.
    parents: Vec<(String, String)>,
    clients: Vec<(String, String)>,
    scheme_options: Vec<(&'static str, String)>,
}

async fn vendors_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<VendorsQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let include_retired = q.include_retired.as_deref() == Some("1");
    let saved = q.saved.as_deref() == Some("1");
    vendors_view(&state, tr, &p, &ctx, include_retired, saved, None, None, None).await
}

#[allow(clippy::too_many_arguments)]
async fn vendors_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    include_retired: bool,
    saved: bool,
    vendor_form: Option<VendorForm>,
    certificate_form: Option<CertificateForm>,
    refused: Option<Refusal>,
) -> Response {
    let vendors = match state.core.isms.vendors(p, include_retired, ctx).await {
        Ok(v) => v,
        Err(e) => return refused_page(tr, &e),
    };
    let certificates = match state.core.isms.certificates(p, ctx).await {
        Ok(c) => c,
        Err(e) => return refused_page(tr, &e),
    };
    let today = today();
    // The chain: each outsourcer, then its subcontractors indented under it.
    let ids: Vec<&str> = vendors.iter().map(|v| v.record.id.as_str()).collect();
    let mut rows = Vec::new();
    fn walk(
        tr: Tr,
        all: &[mamori_core::isms::vendors::VendorView],
        parent: Option<&str>,
        depth: usize,
        today: &str,
        rows: &mut Vec<VendorRow>,
    ) {
        if depth > 5 {
            return;
        }
        for v in all.iter().filter(|v| v.record.parent_id.as_deref() == parent) {
            rows.push(vendor_row(tr, v, depth, today));
            walk(tr, all, Some(&v.record.id), depth + 1, today, rows);
        }
    }
    // Roots: no parent, or a parent not in the list.
    for v in vendors.iter().filter(|v| v.record.parent_id.as_deref().is_none_or(|p| !ids.contains(&p))) {
        rows.push(vendor_row(tr, v, 0, &today));
        walk(tr, &vendors, Some(&v.record.id), 1, &today, &mut rows);
    }
    let mut certificates: Vec<CertificateRow> =
        certificates.iter().filter(|c| !c.renewed).map(|c| certificate_row(tr, c)).collect();
    certificates.sort_by(|a, b| (!a.own, &a.expires_on).cmp(&(!b.own, &b.expires_on)));
    let can_manage = p.can(IsmsManage);
    let mut parents: Vec<(String, String)> = vendors
        .iter()
        .filter(|v| v.record.retired_at.is_none())
        .map(|v| (v.record.id.clone(), v.record.name.clone()))
        .collect();
    parents.sort_by(|a, b| a.1.cmp(&b.1));
    let mut c = Chrome::new(tr, "isms_registers.vendors_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if saved {
        c.notice = Some(tr.t("isms_registers.saved").to_owned());
    }
    let (status, open, form_error) = match refused {
        Some(r) => (r.status, r.form, Some(r.text)),
        None => (StatusCode::OK, "", None),
    };
    let page = VendorsPage {
        c,
        tabs: sub_tabs(tr, "/isms/vendors"),
        rows,
        include_retired,
        certificates,
        can_manage,
        open,
        form_error,
        vendor_form: vendor_form.unwrap_or_default(),
        certificate_form: certificate_form.unwrap_or_default(),
        parents: if can_manage { parents } else { Vec::new() },
        clients: if can_manage { client_choices(state).await } else { Vec::new() },
        scheme_options: scheme_options(tr),
    };
    (status, render(&page)).into_response()
}

async fn create_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = VendorForm::of(&form);
    match state.core.isms.create_vendor(&p, typed.input(), &ctx).await {
        Ok(id) => saved_redirect("vendors", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some(refusal(tr, "vendor", &e));
            vendors_view(&state, tr, &p, &ctx, false, false, Some(typed), None, refused).await
        }
    }
}

/// The centre's own certificate, recorded where the certificates are listed.
async fn record_own_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = CertificateForm::of(&form);
    let Some(input) = typed.input() else {
        let refused = Some(refusal_key(tr, "certificate", "isms_registers.invalid_scheme"));
        return vendors_view(&state, tr, &p, &ctx, false, false, None, Some(typed), refused).await;
    };
    match state.core.isms.record_certificate(&p, None, input, &ctx).await {
        Ok(_) => Redirect::to("/isms/vendors?saved=1#certificates").into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some(refusal(tr, "certificate", &e));
            vendors_view(&state, tr, &p, &ctx, false, false, None, Some(typed), refused).await
        }
    }
}

pub struct AssessmentRow {
    pub assessed_on: String,
    pub total: String,
    pub tier: TierTag,
    pub next_on: String,
    /// (criterion label, score)
    pub scores: Vec<(String, i64)>,
    pub notes: String,
    pub recorded: String,
}

pub struct VisitRow {
    pub visited_on: String,
    pub visitor: String,
    pub findings: String,
}

pub struct VendorHistoryRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub name: String,
    pub data_handled: String,
    pub review_on: String,
}

/// An assessment as typed: the date, each criterion's score (code, label, value) and notes.
#[derive(Debug, Default)]
pub struct AssessmentForm {
    pub assessed_on: String,
    pub scores: Vec<(&'static str, String, String)>,
    pub notes: String,
}

impl AssessmentForm {
    fn blank(tr: Tr) -> AssessmentForm {
        AssessmentForm {
            assessed_on: today(),
            scores: Criterion::ALL
                .iter()
                .map(|c| (c.as_str(), code_label(tr, "vendor_criterion", c.as_str()), String::new()))
                .collect(),
            notes: String::new(),
        }
    }

    fn of(tr: Tr, form: &Form) -> AssessmentForm {
        AssessmentForm {
            assessed_on: form.text("assessed_on").trim().to_owned(),
            scores: Criterion::ALL
                .iter()
                .map(|c| {
                    let value = form.text(&format!("score.{}", c.as_str())).trim().to_owned();
                    (c.as_str(), code_label(tr, "vendor_criterion", c.as_str()), value)
                })
                .collect(),
            notes: form.text("notes").to_owned(),
        }
    }

    /// The assessment; none when a criterion has no score from 1 to 5.
    fn input(&self) -> Option<AssessmentInput> {
        let mut scores = std::collections::BTreeMap::new();
        for (code, _, value) in &self.scores {
            let score = value.parse::<u8>().ok().filter(|s| (1..=5).contains(s))?;
            scores.insert(Criterion::parse(code)?, score);
        }
        Some(AssessmentInput { assessed_on: self.assessed_on.clone(), scores, notes: self.notes.clone() })
    }
}

/// A site visit as typed.
#[derive(Debug, Default)]
pub struct VisitForm {
    pub visited_on: String,
    pub visitor: String,
    pub findings: String,
}

/// What the vendor page's forms hold: what was typed in the refused one, the rest as they start.
#[derive(Default)]
struct VendorTyped {
    vendor: Option<VendorForm>,
    certificate: Option<CertificateForm>,
    assessment: Option<AssessmentForm>,
    visit: Option<VisitForm>,
    refused: Option<Refusal>,
    saved: bool,
}

#[derive(Template)]
#[template(path = "isms_vendor.html")]
struct VendorPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    row: VendorRow,
    parent_href: String,
    contact: String,
    notes: String,
    review_on: String,
    subcontractors: Vec<(String, String)>,
    assessments: Vec<AssessmentRow>,
    visits: Vec<VisitRow>,
    files: Vec<super::isms_vendor_files::FileRow>,
    history: Vec<VendorHistoryRow>,
    /// The forms: for `isms.manage`, on a vendor in force.
    can_manage: bool,
    base_href: String,
    /// The form refused, open again: `edit`, `certificate`, `assessment` or `visit`.
    open: &'static str,
    form_error: Option<String>,
    vendor_form: VendorForm,
    certificate_form: CertificateForm,
    assessment_form: AssessmentForm,
    visit_form: VisitForm,
    parents: Vec<(String, String)>,
    clients: Vec<(String, String)>,
    scheme_options: Vec<(&'static str, String)>,
    /// (value, label) of the scores 1–5.
    score_options: Vec<(String, String)>,
}

async fn vendor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = VendorTyped { saved: q.saved.as_deref() == Some("1"), ..Default::default() };
    vendor_view(&state, tr, &p, &ctx, &id, typed).await
}

async fn vendor_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    typed: VendorTyped,
) -> Response {
    let d = match state.core.isms.vendor(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let names: HashMap<String, String> = if p.can(UsersRead) {
        state
            .core
            .identity
            .list_users(p, ctx)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|u| (format!("user:{}", u.id), u.display_name))
            .collect()
    } else {
        HashMap::new()
    };
    let today = today();
    let v = &d.vendor.record;
    let mut history: Vec<_> = d.history.iter().collect();
    history.sort_by_key(|h| std::cmp::Reverse(h.version));
    let can_manage = p.can(IsmsManage) && v.retired_at.is_none();
    let mut c = Chrome::new(tr, "isms_registers.vendor_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if typed.saved {
        c.notice = Some(tr.t("isms_registers.saved").to_owned());
    }
    let (status, open, form_error) = match typed.refused {
        Some(r) => (r.status, r.form, Some(r.text)),
        None => (StatusCode::OK, "", None),
    };
    // Outsourcers to choose from: vendors in force, neither this one nor any under it.
    let parents = if can_manage {
        match state.core.isms.vendors(p, false, ctx).await {
            Ok(all) => {
                let mut below: Vec<String> = vec![v.id.clone()];
                let mut grew = true;
                while grew {
                    grew = false;
                    for x in &all {
                        let under = x.record.parent_id.as_ref().is_some_and(|p| below.contains(p));
                        if under && !below.contains(&x.record.id) {
                            below.push(x.record.id.clone());
                            grew = true;
                        }
                    }
                }
                let mut parents: Vec<(String, String)> = all
                    .iter()
                    .filter(|x| !below.contains(&x.record.id))
                    .map(|x| (x.record.id.clone(), x.record.name.clone()))
                    .collect();
                parents.sort_by(|a, b| a.1.cmp(&b.1));
                parents
            }
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let vendor_form = typed.vendor.unwrap_or_else(|| VendorForm {
        name: v.name.clone(),
        parent_id: v.parent_id.clone().unwrap_or_default(),
        client_ids: v.client_ids.clone(),
        data_handled: v.data_handled.clone(),
        contact: v.contact.clone(),
        review_on: v.review_on.clone().unwrap_or_default(),
        notes: v.notes.clone(),
    });
    let page = VendorPage {
        c,
        tabs: sub_tabs(tr, "/isms/vendors"),
        row: vendor_row(tr, &d.vendor, 0, &today),
        parent_href: v
            .parent_id
            .as_ref()
            .map(|x| format!("/isms/vendors/{}", segment(x)))
            .unwrap_or_default(),
        contact: v.contact.clone(),
        notes: v.notes.clone(),
        review_on: v.review_on.clone().unwrap_or_default(),
        subcontractors: d
            .subcontractors
            .iter()
            .map(|(id, name)| (format!("/isms/vendors/{}", segment(id)), name.clone()))
            .collect(),
        assessments: d
            .assessments
            .iter()
            .map(|a| AssessmentRow {
                assessed_on: a.assessed_on.clone(),
                total: tr.t("isms_registers.score_total").replace("{n}", &a.total.to_string()),
                tier: tier_tag(tr, &a.tier),
                next_on: a.next_on.clone(),
                scores: Criterion::ALL
                    .iter()
                    .filter_map(|c| {
                        let s = a.scores.iter().find(|(k, _)| k == c.as_str())?.1;
                        Some((code_label(tr, "vendor_criterion", c.as_str()), s))
                    })
                    .collect(),
                notes: a.notes.clone(),
                recorded: tr
                    .t("isms_registers.recorded_by")
                    .replace("{time}", &jst_minute(a.recorded_at.0))
                    .replace("{who}", &actor_name(tr, &a.recorded_by, &names)),
            })
            .collect(),
        visits: d
            .visits
            .iter()
            .map(|x| VisitRow {
                visited_on: x.visited_on.clone(),
                visitor: x.visitor.clone(),
                findings: x.findings.clone(),
            })
            .collect(),
        files: super::isms_vendor_files::file_rows(state, tr, p, ctx, id).await,
        history: history
            .into_iter()
            .map(|h| VendorHistoryRow {
                version: h.version,
                when: jst_minute(h.changed_at.0),
                who: actor_name(tr, &h.changed_by, &names),
                name: h.name.clone(),
                data_handled: h.data_handled.clone(),
                review_on: h.review_on.clone().unwrap_or_default(),
            })
            .collect(),
        can_manage,
        base_href: format!("/isms/vendors/{}", segment(&v.id)),
        open,
        form_error,
        vendor_form,
        certificate_form: typed.certificate.unwrap_or_default(),
        assessment_form: typed.assessment.unwrap_or_else(|| AssessmentForm::blank(tr)),
        visit_form: typed
            .visit
            .unwrap_or_else(|| VisitForm { visited_on: today.clone(), ..Default::default() }),
        parents,
        clients: if can_manage { client_choices(state).await } else { Vec::new() },
        scheme_options: scheme_options(tr),
        score_options: (1..=5)
            .map(|n: u8| (n.to_string(), tr.t(&format!("isms_registers.score_{n}")).to_owned()))
            .collect(),
    };
    (status, render(&page)).into_response()
}

async fn update_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = VendorForm::of(&form);
    match state.core.isms.update_vendor(&p, &id, typed.input(), &ctx).await {
        Ok(_) => saved_redirect("vendors", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some(refusal(tr, "edit", &e));
            vendor_view(
                &state,
                tr,
                &p,
                &ctx,
                &id,
                VendorTyped { vendor: Some(typed), refused, ..Default::default() },
            )
            .await
        }
    }
}

/// "Are you sure?" before a vendor is retired.
async fn confirm_retire_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let d = match state.core.isms.vendor(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let v = &d.vendor.record;
    if v.retired_at.is_some() {
        return refused_page(tr, &CoreError::NotFound { what: "vendor" });
    }
    let mut effects = vec![tr.t("isms_registers.retire_vendor_effect").to_owned()];
    if !d.subcontractors.is_empty() {
        let names: Vec<&str> = d.subcontractors.iter().map(|(_, n)| n.as_str()).collect();
        effects
            .push(tr.t("isms_registers.retire_vendor_subcontractors").replace("{names}", &names.join("、")));
    }
    confirm_page(
        tr,
        &p,
        tr.t("isms_registers.retire_vendor_question").replace("{name}", &v.name),
        effects,
        format!("/isms/vendors/{}", segment(&v.id)),
    )
}

async fn retire_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.retire_vendor(&p, &id, &ctx).await {
        Ok(_) => saved_redirect("vendors", &id),
        Err(e) => refused_page(tr, &e),
    }
}

async fn record_vendor_certificate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = CertificateForm::of(&form);
    let refused = match typed.input() {
        None => refusal_key(tr, "certificate", "isms_registers.invalid_scheme"),
        Some(input) => match state.core.isms.record_certificate(&p, Some(&id), input, &ctx).await {
            Ok(_) => {
                return saved_redirect("vendors", &id);
            }
            Err(e @ CoreError::Forbidden(_)) => return refused_page(tr, &e),
            Err(e) => refusal(tr, "certificate", &e),
        },
    };
    let typed = VendorTyped { certificate: Some(typed), refused: Some(refused), ..Default::default() };
    vendor_view(&state, tr, &p, &ctx, &id, typed).await
}

async fn assess_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = AssessmentForm::of(tr, &form);
    let refused = match typed.input() {
        None => refusal_key(tr, "assessment", "isms_registers.invalid_scores"),
        Some(input) => match state.core.isms.assess_vendor(&p, &id, input, &ctx).await {
            Ok(_) => {
                return saved_redirect("vendors", &id);
            }
            Err(e @ CoreError::Forbidden(_)) => return refused_page(tr, &e),
            Err(e) => refusal(tr, "assessment", &e),
        },
    };
    let typed = VendorTyped { assessment: Some(typed), refused: Some(refused), ..Default::default() };
    vendor_view(&state, tr, &p, &ctx, &id, typed).await
}

async fn record_vendor_visit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = VisitForm {
        visited_on: form.text("visited_on").trim().to_owned(),
        visitor: form.text("visitor").to_owned(),
        findings: form.text("findings").to_owned(),
    };
    let input = VisitInput {
        visited_on: typed.visited_on.clone(),
        visitor: typed.visitor.clone(),
        findings: typed.findings.clone(),
    };
    match state.core.isms.record_vendor_visit(&p, &id, input, &ctx).await {
        Ok(_) => saved_redirect("vendors", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some(refusal(tr, "visit", &e));
            vendor_view(
                &state,
                tr,
                &p,
                &ctx,
                &id,
                VendorTyped { visit: Some(typed), refused, ..Default::default() },
            )
            .await
        }
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
            keys.extend(AssetKind::ALL.iter().map(|k| format!("asset_kind.{}", k.as_str())));
            keys.extend(Confidentiality::ALL.iter().map(|k| format!("confidentiality.{}", k.as_str())));
            keys.extend(Integrity::ALL.iter().map(|k| format!("integrity.{}", k.as_str())));
            keys.extend(Availability::ALL.iter().map(|k| format!("availability.{}", k.as_str())));
            keys.extend(
                mamori_domain::isms::asset::AssetSource::ALL
                    .iter()
                    .map(|k| format!("asset_source.{}", k.as_str())),
            );
            keys.extend(Treatment::ALL.iter().map(|t| format!("risk_treatment.{}", t.as_str())));
            keys.extend(Criterion::ALL.iter().map(|c| format!("vendor_criterion.{}", c.as_str())));
            keys.extend(["low", "medium", "high"].map(|t| format!("vendor_tier.{t}")));
            keys.extend(
                mamori_domain::isms::vendor::Scheme::ALL
                    .iter()
                    .map(|s| format!("certificate_scheme.{}", s.as_str())),
            );
            keys.extend(
                [
                    ReviewOf::Asset,
                    ReviewOf::Risk,
                    ReviewOf::Control,
                    ReviewOf::Vendor,
                    ReviewOf::VendorAssessment,
                    ReviewOf::Legal,
                    ReviewOf::Drill,
                    ReviewOf::Finding,
                    ReviewOf::Check,
                ]
                .iter()
                .map(|r| format!("review_of.{}", r.as_str())),
            );
            keys.extend(
                [
                    "expired",
                    "expires_today",
                    "expires_in",
                    "renewal_window_open",
                    "renewal_window_missed",
                    "surveillance_due",
                ]
                .map(|k| format!("certificate_notice.{k}")),
            );
            keys.extend(["level", "number", "due"].map(|s| format!("isms_registers.sort_{s}")));
            // Every field the vendor forms can be refused on, in words.
            keys.extend(
                [
                    "name",
                    "parent_id",
                    "client_ids",
                    "data_handled",
                    "contact",
                    "review_on",
                    "notes",
                    "scheme",
                    "number",
                    "issuer",
                    "first_obtained_on",
                    "issued_on",
                    "expires_on",
                    "assessed_on",
                    "scores",
                    "visited_on",
                    "visitor",
                    "findings",
                ]
                .map(|f| format!("isms_registers.invalid_{f}")),
            );
            keys.extend((1..=5).map(|n| format!("isms_registers.score_{n}")));
            let missing: Vec<&String> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    #[test]
    fn notices_read_as_words() {
        let ja = Tr(Language::Ja);
        assert_eq!(notice_text(ja, CertificateNotice::ExpiresSoon { days: 20 }), "あと20日で期限切れ");
        assert_eq!(notice_text(ja, CertificateNotice::RenewalWindowMissed), "更新申請期間を過ぎています");
    }

    #[test]
    fn heat_map_has_every_cell() {
        let m = RiskMatrix::iso27005_5x5();
        let mut heat = vec![vec![0; 5]; 5];
        heat[4][4] = 3;
        heat[0][1] = 2;
        let map = heat_map(Tr(Language::En), "h", String::new(), &m, &heat);
        assert_eq!(map.cells.len(), 25);
        assert_eq!(map.total, 5);
        // High probability at the top: the first row is "Almost certain".
        assert_eq!(map.rows[0].1, "Almost certain");
        assert_eq!(map.cells[4].count, 3);
        assert_eq!(ink_on("#c62828"), "#ffffff");
        assert_eq!(ink_on("#fbc02d"), "#1a1a1a");
    }

    #[test]
    fn control_ids_become_urns() {
        assert_eq!(
            control_urns("A.8.12, a.5.7"),
            vec!["urn:mamori:control:iso27001-2022:a.8.12", "urn:mamori:control:iso27001-2022:a.5.7"]
        );
    }
}
