//! Business continuity's page (issue 18, item 6; ISMS-5): `/isms/continuity` lists the plans
//! per scenario — overdue drills first — with their steps, owner and contact tree, and the
//! drills held; for `isms.manage`, a form to make or change a plan, one to record a drill, and
//! a confirmed retirement. The contact tree is typed as indented lines, the way a phone tree
//! is written on paper: `役割: 名前, 電話番号`, two spaces deeper for each level called by the
//! line above.

use super::isms::{jst_minute, refused_page, segment};
use super::isms_registers::{SubTab, code_label, confirm_page, owners, sub_tabs, today};
use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::continuity::{PlanView, contacts_of};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::isms::continuity::{Contact, DrillInput, DrillResult, PlanInput, Scenario};

/// Where the navigation's ISMS entry points (as on every ISMS page).
const NAV_HREF: &str = "/isms/soa";

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms/continuity", Needs(IsmsRead), continuity_page)
        .add(Method::POST, "/isms/continuity", Needs(IsmsManage), save_plan)
        .add(Method::POST, "/isms/continuity/drills", Needs(IsmsManage), record_drill)
        .add(Method::GET, "/isms/continuity/{id}/retire", Needs(IsmsManage), confirm_retire)
        .add(Method::POST, "/isms/continuity/{id}/retire", Needs(IsmsManage), retire_plan)
}

/// A refusal of a form in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => tr
            .get(&format!("isms_continuity.invalid_{}", field.replace('.', "_")))
            .map_or_else(|| error_text(tr, e), str::to_owned),
        _ => error_text(tr, e),
    }
}

/// The contact tree as typed: one person a line, `role: name, phone`, each level two spaces
/// (or one full-width space) deeper than the line that calls them.
pub fn parse_contacts(text: &str) -> Result<Vec<Contact>, usize> {
    let mut contacts: Vec<Contact> = Vec::new();
    // The depth of each contact, to find whom a deeper line is called by.
    let mut depths: Vec<usize> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let indent: usize =
            line.chars().take_while(|c| c.is_whitespace()).map(|c| if c == '\u{3000}' { 2 } else { 1 }).sum();
        let depth = indent / 2;
        let body = line.trim();
        let (role, rest) = body.split_once([':', '：']).ok_or(n + 1)?;
        let (name, phone) = rest.split_once([',', '、', '，']).unwrap_or((rest, ""));
        let called_by = if depth == 0 {
            None
        } else {
            // The nearest line above one level shallower.
            Some(depths.iter().rposition(|d| *d + 1 == depth).ok_or(n + 1)?)
        };
        if depth > 0 && contacts.is_empty() {
            return Err(n + 1);
        }
        depths.push(depth);
        contacts.push(Contact {
            user_id: None,
            name: name.trim().to_owned(),
            role: role.trim().to_owned(),
            phone: phone.trim().to_owned(),
            called_by,
        });
    }
    Ok(contacts)
}

/// A stored tree back as the lines the form shows.
fn contacts_text(plan: &mamori_core::isms::continuity::ContinuityPlanRecord) -> String {
    let contacts = contacts_of(plan);
    let mut depths: Vec<usize> = Vec::new();
    let mut out = String::new();
    for c in &contacts {
        let depth = c.called_by.and_then(|p| depths.get(p)).map_or(0, |d| d + 1);
        depths.push(depth);
        out.push_str(&"  ".repeat(depth));
        out.push_str(&format!("{}: {}", c.role, c.name));
        if !c.phone.is_empty() {
            out.push_str(&format!(", {}", c.phone));
        }
        out.push('\n');
    }
    out
}

/// One plan as its card shows it.
pub struct PlanCard {
    pub id: String,
    pub title: String,
    pub scenario: String,
    pub owner: String,
    pub every: String,
    pub last_drill: String,
    pub next_drill: String,
    pub due: String,
    pub overdue: bool,
    pub steps: String,
    /// (indent class, role, name, phone, called by)
    pub contacts: Vec<(String, String, String, String, String)>,
    pub retire_href: String,
    pub edit_href: String,
}

fn plan_card(tr: Tr, v: &PlanView) -> PlanCard {
    let r = &v.record;
    let names: Vec<String> = v.contacts.iter().map(|c| c.name.clone()).collect();
    PlanCard {
        id: r.id.clone(),
        title: r.title.clone(),
        scenario: code_label(tr, "continuity_scenario", &r.scenario),
        owner: v.owner.clone().unwrap_or_else(|| tr.t("alerts.someone").to_owned()),
        every: tr.t("isms_continuity.every_months").replace("{n}", &r.drill_every_months.to_string()),
        last_drill: v.last_drill.clone().unwrap_or_else(|| tr.t("isms_continuity.never_drilled").to_owned()),
        next_drill: v.next_drill_on.clone(),
        due: super::isms_registers::days_text(tr, v.days_left),
        overdue: v.days_left < 0,
        steps: r.steps.clone(),
        contacts: v
            .contacts
            .iter()
            .map(|c| {
                let caller = c.called_by.and_then(|i| names.get(i)).cloned().unwrap_or_default();
                (format!("depth-{}", c.depth.min(4)), c.role.clone(), c.name.clone(), c.phone.clone(), caller)
            })
            .collect(),
        retire_href: format!("/isms/continuity/{}/retire", segment(&r.id)),
        edit_href: format!("/isms/continuity?edit={}#plan-form", segment(&r.id)),
    }
}

/// One drill as the list shows it.
pub struct DrillRow {
    pub held_on: String,
    pub plan: String,
    pub result: String,
    pub result_class: &'static str,
    pub participants: String,
    pub findings: String,
    pub actions: String,
    pub recorded: String,
}

/// The plan form as typed (kept when it is refused).
#[derive(Debug, Default)]
pub struct PlanForm {
    /// Empty for a new plan.
    pub id: String,
    pub scenario: String,
    pub title: String,
    pub steps: String,
    pub owner_id: String,
    pub contacts: String,
    pub every: String,
}

/// The drill form as typed.
#[derive(Debug, Default)]
pub struct DrillForm {
    pub plan_id: String,
    pub held_on: String,
    pub participants: Vec<String>,
    pub result: String,
    pub findings: String,
    pub actions: String,
}

#[derive(Debug, Default, serde::Deserialize)]
struct ContinuityQuery {
    saved: Option<String>,
    edit: Option<String>,
}

#[derive(Template)]
#[template(path = "isms_continuity.html")]
struct ContinuityPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    plans: Vec<PlanCard>,
    overdue: Vec<(String, String, String)>,
    drills: Vec<DrillRow>,
    can_manage: bool,
    plan_form: PlanForm,
    plan_error: Option<String>,
    drill_form: DrillForm,
    drill_error: Option<String>,
    scenario_options: Vec<(&'static str, String)>,
    result_options: Vec<(&'static str, String)>,
    people: Vec<(String, String)>,
    plan_options: Vec<(String, String)>,
    today: String,
}

async fn continuity_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<ContinuityQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let view = View { saved: q.saved.as_deref(), edit: q.edit.as_deref(), ..Default::default() };
    continuity_view(&state, tr, &p, &ctx, view).await
}

/// What the page shows besides the register: a notice, a plan to edit, forms refused.
#[derive(Default)]
struct View<'a> {
    saved: Option<&'a str>,
    edit: Option<&'a str>,
    plan: Option<(PlanForm, StatusCode, String)>,
    drill: Option<(DrillForm, StatusCode, String)>,
}

async fn continuity_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    view: View<'_>,
) -> Response {
    let register = match state.core.isms.continuity(p, ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let can_manage = p.can(IsmsManage);
    let mut status = StatusCode::OK;
    let (plan_form, plan_error) = match view.plan {
        Some((form, s, e)) => {
            status = s;
            (form, Some(e))
        }
        None => {
            let editing = view.edit.and_then(|id| register.plans.iter().find(|v| v.record.id == id));
            let form = match editing {
                Some(v) => PlanForm {
                    id: v.record.id.clone(),
                    scenario: v.record.scenario.clone(),
                    title: v.record.title.clone(),
                    steps: v.record.steps.clone(),
                    owner_id: v.record.owner_id.clone(),
                    contacts: contacts_text(&v.record),
                    every: v.record.drill_every_months.to_string(),
                },
                None => PlanForm { every: "6".into(), owner_id: p.user.id.clone(), ..Default::default() },
            };
            (form, None)
        }
    };
    let today = today();
    let (drill_form, drill_error) = match view.drill {
        Some((form, s, e)) => {
            status = s;
            (form, Some(e))
        }
        None => (DrillForm { held_on: today.clone(), result: "achieved".into(), ..Default::default() }, None),
    };
    let mut c = Chrome::new(tr, "isms_continuity.title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if let Some(what) = view.saved {
        c.notice = tr.get(&format!("isms_continuity.saved_{what}")).map(str::to_owned);
    }
    let plans: Vec<PlanCard> = register.plans.iter().map(|v| plan_card(tr, v)).collect();
    let overdue =
        plans.iter().filter(|c| c.overdue).map(|c| (c.id.clone(), c.title.clone(), c.due.clone())).collect();
    let drills = register
        .drills
        .iter()
        .map(|d| DrillRow {
            held_on: d.record.held_on.clone(),
            plan: d.plan.clone(),
            result: code_label(tr, "drill_result", &d.record.result),
            result_class: match d.record.result.as_str() {
                "achieved" => "state-working",
                "partly" => "state-idle",
                _ => "warn",
            },
            participants: d.participants.join(tr.t("common.list_separator")),
            findings: d.record.findings.clone(),
            actions: d.record.actions.clone(),
            recorded: jst_minute(d.record.recorded_at.0),
        })
        .collect();
    let page = ContinuityPage {
        c,
        tabs: sub_tabs(tr, "/isms/continuity"),
        plan_options: register.plans.iter().map(|v| (v.record.id.clone(), v.record.title.clone())).collect(),
        plans,
        overdue,
        drills,
        can_manage,
        plan_form,
        plan_error,
        drill_form,
        drill_error,
        scenario_options: Scenario::ALL
            .iter()
            .map(|s| (s.as_str(), code_label(tr, "continuity_scenario", s.as_str())))
            .collect(),
        result_options: DrillResult::ALL
            .iter()
            .map(|r| (r.as_str(), code_label(tr, "drill_result", r.as_str())))
            .collect(),
        people: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
        today,
    };
    (status, render(&page)).into_response()
}

async fn save_plan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = PlanForm {
        id: form.text("id").trim().to_owned(),
        scenario: form.text("scenario").trim().to_owned(),
        title: form.text("title").to_owned(),
        steps: form.text("steps").to_owned(),
        owner_id: form.text("owner_id").trim().to_owned(),
        contacts: form.text("contacts").to_owned(),
        every: form.text("every").trim().to_owned(),
    };
    let refuse = |typed: PlanForm, status: StatusCode, text: String| View {
        plan: Some((typed, status, text)),
        ..Default::default()
    };
    let input = (|| {
        let contacts = parse_contacts(&typed.contacts)
            .map_err(|line| tr.t("isms_continuity.invalid_contact_line").replace("{n}", &line.to_string()))?;
        Ok::<_, String>(PlanInput {
            scenario: Scenario::parse(&typed.scenario)
                .ok_or_else(|| tr.t("isms_continuity.invalid_scenario").to_owned())?,
            title: typed.title.clone(),
            steps: typed.steps.clone(),
            owner_id: typed.owner_id.clone(),
            contacts,
            drill_every_months: typed
                .every
                .parse()
                .map_err(|_| tr.t("isms_continuity.invalid_drill_every_months").to_owned())?,
        })
    })();
    let input = match input {
        Ok(i) => i,
        Err(text) => {
            let view = refuse(typed, StatusCode::UNPROCESSABLE_ENTITY, text);
            return continuity_view(&state, tr, &p, &ctx, view).await;
        }
    };
    let id = Some(typed.id.as_str()).filter(|i| !i.is_empty());
    match state.core.isms.save_continuity_plan(&p, id, input, &ctx).await {
        Ok(id) => Redirect::to(&format!("/isms/continuity?saved=plan#plan-{}", segment(&id))).into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let view = refuse(typed, crate::problem::status_of(&e), form_error(tr, &e));
            continuity_view(&state, tr, &p, &ctx, view).await
        }
    }
}

async fn record_drill(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = DrillForm {
        plan_id: form.text("plan_id").trim().to_owned(),
        held_on: form.text("held_on").trim().to_owned(),
        participants: form.all("participants"),
        result: form.text("result").trim().to_owned(),
        findings: form.text("findings").to_owned(),
        actions: form.text("actions").to_owned(),
    };
    let Some(result) = DrillResult::parse(&typed.result) else {
        let view = View {
            drill: Some((
                typed,
                StatusCode::UNPROCESSABLE_ENTITY,
                tr.t("isms_continuity.invalid_result").to_owned(),
            )),
            ..Default::default()
        };
        return continuity_view(&state, tr, &p, &ctx, view).await;
    };
    let input = DrillInput {
        plan_id: typed.plan_id.clone(),
        held_on: typed.held_on.clone(),
        participants: typed.participants.clone(),
        result,
        findings: typed.findings.clone(),
        actions: typed.actions.clone(),
    };
    match state.core.isms.record_drill(&p, input, &ctx).await {
        Ok(_) => Redirect::to("/isms/continuity?saved=drill#drills").into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let view = View {
                drill: Some((typed, crate::problem::status_of(&e), form_error(tr, &e))),
                ..Default::default()
            };
            continuity_view(&state, tr, &p, &ctx, view).await
        }
    }
}

/// "Are you sure?" before a plan is retired.
async fn confirm_retire(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let register = match state.core.isms.continuity(&p, &ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let Some(plan) = register.plans.iter().find(|v| v.record.id == id) else {
        return refused_page(tr, &CoreError::NotFound { what: "continuity plan" });
    };
    confirm_page(
        tr,
        &p,
        tr.t("isms_continuity.retire_question").replace("{title}", &plan.record.title),
        vec![tr.t("isms_continuity.retire_effect").to_owned()],
        format!("/isms/continuity/{}", segment(&id)),
    )
}

async fn retire_plan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.retire_continuity_plan(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/isms/continuity?saved=retired").into_response(),
        Err(e) => refused_page(tr, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_tree_is_read_from_indented_lines() {
        let text = "責任者: センター長 山田, 090-1111-2222\n  連絡係：SV 加藤、090-3333-4444\n    A班: 佐藤\n\u{3000}ビル管理: 丸の内管理, 03-1234-5678\n";
        let c = parse_contacts(text).unwrap();
        let shape: Vec<(&str, &str, &str, Option<usize>)> =
            c.iter().map(|c| (c.role.as_str(), c.name.as_str(), c.phone.as_str(), c.called_by)).collect();
        assert_eq!(
            shape,
            [
                ("責任者", "センター長 山田", "090-1111-2222", None),
                ("連絡係", "SV 加藤", "090-3333-4444", Some(0)),
                ("A班", "佐藤", "", Some(1)),
                ("ビル管理", "丸の内管理", "03-1234-5678", Some(0)),
            ]
        );
        assert_eq!(parse_contacts("責任者 山田"), Err(1), "no role");
        assert_eq!(parse_contacts("a: b\n      c: d"), Err(2), "two levels deeper at once");
        assert_eq!(parse_contacts("  a: b"), Err(1), "the top is not indented");
        let record = mamori_core::isms::continuity::ContinuityPlanRecord {
            id: "p".into(),
            version: 1,
            scenario: "earthquake".into(),
            title: "t".into(),
            steps: "s".into(),
            owner_id: "o".into(),
            contacts: serde_json::to_string(&c).unwrap(),
            drill_every_months: 6,
            created_on: "2026-11-29".into(),
            retired_at: None,
            changed_at: mamori_domain::UnixMillis(0),
            changed_by: "user:o".into(),
        };
        assert_eq!(parse_contacts(&contacts_text(&record)).unwrap(), c, "round trip");
    }
}
