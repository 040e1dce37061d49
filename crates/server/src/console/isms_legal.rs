//! The legal register's pages (issue 17, item 6; ISMS-4): `/isms/legal` lists the laws,
//! guidelines, contracts and certification rules the centre complies with — overdue reviews
//! first — with a form to register one for `isms.manage`; `/isms/legal/{id}` shows one with
//! every version. Kinds are worded in both languages, people and client companies by name.

use super::isms::{actor_name, jst_minute, refused_page, segment};
use super::isms_registers::{SubTab, code_label, confirm_page, owners, saved_redirect, sub_tabs, today};
use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::legal::{LegalRecord, LegalView};
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_domain::isms::legal::{LegalInput, LegalKind};
use std::collections::HashMap;

/// Where the navigation's ISMS entry points (as on every ISMS page).
const NAV_HREF: &str = "/isms/soa";

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms/legal", Needs(IsmsRead), legal_page)
        .add(Method::POST, "/isms/legal", Needs(IsmsManage), create_legal)
        .add(Method::GET, "/isms/legal/{id}", Needs(IsmsRead), requirement_page)
        .add(Method::POST, "/isms/legal/{id}", Needs(IsmsManage), update_legal)
        .add(Method::GET, "/isms/legal/{id}/retire", Needs(IsmsManage), confirm_retire_legal)
        .add(Method::POST, "/isms/legal/{id}/retire", Needs(IsmsManage), retire_legal)
}

/// A refusal of the form in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => tr
            .get(&format!("isms_legal.invalid_{field}"))
            .or_else(|| tr.get(&format!("isms_registers.invalid_{field}")))
            .map_or_else(|| error_text(tr, e), str::to_owned),
        _ => error_text(tr, e),
    }
}

/// One requirement as the list and the detail page show it.
pub struct LegalRow {
    pub href: String,
    pub kind: String,
    pub title: String,
    pub reference: String,
    pub obligations: String,
    pub client: String,
    pub owner: String,
    pub review_on: String,
    pub review_overdue: bool,
    pub retired: bool,
}

fn legal_row(
    tr: Tr,
    r: &LegalRecord,
    owner: Option<&String>,
    client: Option<&String>,
    today: &str,
) -> LegalRow {
    LegalRow {
        href: format!("/isms/legal/{}", segment(&r.id)),
        kind: code_label(tr, "legal_kind", &r.kind),
        title: r.title.clone(),
        reference: r.reference.clone(),
        obligations: r.obligations.clone(),
        client: client.cloned().unwrap_or_default(),
        owner: owner.cloned().unwrap_or_default(),
        review_on: r.review_on.clone().unwrap_or_default(),
        review_overdue: r.retired_at.is_none() && r.review_on.as_ref().is_some_and(|d| d.as_str() < today),
        retired: r.retired_at.is_some(),
    }
}

/// What the form holds, as typed (kept when it is refused).
#[derive(Debug, Default)]
pub struct LegalForm {
    pub kind: String,
    pub title: String,
    pub reference: String,
    pub obligations: String,
    pub client_id: String,
    pub owner_id: String,
    pub review_on: String,
    pub notes: String,
}

impl LegalForm {
    fn of(form: &Form) -> LegalForm {
        LegalForm {
            kind: form.text("kind").trim().to_owned(),
            title: form.text("title").to_owned(),
            reference: form.text("reference").to_owned(),
            obligations: form.text("obligations").to_owned(),
            client_id: form.text("client_id").trim().to_owned(),
            owner_id: form.text("owner_id").trim().to_owned(),
            review_on: form.text("review_on").trim().to_owned(),
            notes: form.text("notes").to_owned(),
        }
    }

    /// The requirement as typed; none when the kind is not one of the list's.
    fn input(&self) -> Option<LegalInput> {
        Some(LegalInput {
            kind: LegalKind::parse(&self.kind)?,
            title: self.title.clone(),
            reference: self.reference.clone(),
            obligations: self.obligations.clone(),
            client_id: Some(self.client_id.clone()).filter(|c| !c.is_empty()),
            owner_id: Some(self.owner_id.clone()).filter(|o| !o.is_empty()),
            review_on: Some(self.review_on.clone()).filter(|d| !d.is_empty()),
            notes: self.notes.clone(),
        })
    }
}

/// Client companies (id, name) by name.
async fn client_choices(state: &AppState) -> Vec<(String, String)> {
    let mut clients: Vec<(String, String)> = state
        .core
        .identity
        .list_org(OrgKind::Client)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    clients.sort_by(|a, b| a.1.cmp(&b.1));
    clients
}

fn kind_options(tr: Tr) -> Vec<(&'static str, String)> {
    LegalKind::ALL.iter().map(|k| (k.as_str(), code_label(tr, "legal_kind", k.as_str()))).collect()
}

#[derive(Debug, Default, serde::Deserialize)]
struct LegalQuery {
    include_retired: Option<String>,
}

#[derive(Template)]
#[template(path = "isms_legal.html")]
struct LegalPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    rows: Vec<LegalRow>,
    overdue: usize,
    include_retired: bool,
    can_manage: bool,
    form: LegalForm,
    form_error: Option<String>,
    kind_options: Vec<(&'static str, String)>,
    clients: Vec<(String, String)>,
    owners: Vec<(String, String)>,
}

async fn legal_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<LegalQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let include_retired = q.include_retired.as_deref() == Some("1");
    legal_view(&state, tr, &p, &ctx, include_retired, None, None).await
}

async fn legal_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    include_retired: bool,
    typed: Option<LegalForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let register = match state.core.isms.legal_register(p, include_retired, ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let today = today();
    let mut rows: Vec<LegalRow> = register
        .iter()
        .map(|v: &LegalView| legal_row(tr, &v.record, v.owner.as_ref(), v.client.as_ref(), &today))
        .collect();
    // Problems first: overdue reviews, the longest overdue at the top; the rest as the register
    // keeps them (by kind and title), retired ones last.
    rows.sort_by(|a, b| {
        let key = |r: &LegalRow| {
            (!r.review_overdue, r.retired, if r.review_overdue { r.review_on.clone() } else { String::new() })
        };
        key(a).cmp(&key(b))
    });
    let can_manage = p.can(IsmsManage);
    let (status, form_error) = match refused {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    let form =
        typed.unwrap_or_else(|| LegalForm { kind: LegalKind::Law.as_str().to_owned(), ..Default::default() });
    let page = LegalPage {
        c: Chrome::new(tr, "isms_legal.title", Some(p), csrf_for(Some(p), None), NAV_HREF),
        tabs: sub_tabs(tr, "/isms/legal"),
        overdue: rows.iter().filter(|r| r.review_overdue).count(),
        rows,
        include_retired,
        can_manage,
        form,
        form_error,
        kind_options: kind_options(tr),
        clients: if can_manage { client_choices(state).await } else { Vec::new() },
        owners: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
    };
    (status, render(&page)).into_response()
}

async fn create_legal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = LegalForm::of(&form);
    let Some(input) = typed.input() else {
        let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_legal.invalid_kind").to_owned()));
        return legal_view(&state, tr, &p, &ctx, false, Some(typed), refused).await;
    };
    match state.core.isms.create_legal(&p, input, &ctx).await {
        Ok(id) => saved_redirect("legal", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            legal_view(&state, tr, &p, &ctx, false, Some(typed), refused).await
        }
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

pub struct LegalHistoryRow {
    pub version: i64,
    pub when: String,
    pub who: String,
    pub row: LegalRow,
}

#[derive(Template)]
#[template(path = "isms_legal_item.html")]
struct RequirementPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    row: LegalRow,
    notes: String,
    version: i64,
    changed: String,
    changed_by: String,
    history: Vec<LegalHistoryRow>,
    /// The forms: for `isms.manage`, on a requirement in force.
    can_manage: bool,
    action: String,
    retire_href: String,
    form: LegalForm,
    form_error: Option<String>,
    form_open: bool,
    kind_options: Vec<(&'static str, String)>,
    clients: Vec<(String, String)>,
    owners: Vec<(String, String)>,
}

async fn requirement_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    requirement_view(&state, tr, &p, &ctx, &id, q.saved.as_deref() == Some("1"), None, None).await
}

#[allow(clippy::too_many_arguments)]
async fn requirement_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    id: &str,
    saved: bool,
    typed: Option<LegalForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let d = match state.core.isms.legal_requirement(p, id, ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let today = today();
    let r = &d.requirement.record;
    let mut c = Chrome::new(tr, "isms_legal.item_title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if saved {
        c.notice = Some(tr.t("isms_registers.saved").to_owned());
    }
    let can_manage = p.can(IsmsManage) && r.retired_at.is_none();
    let (status, form_error) = match refused {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    let form = typed.unwrap_or_else(|| LegalForm {
        kind: r.kind.clone(),
        title: r.title.clone(),
        reference: r.reference.clone(),
        obligations: r.obligations.clone(),
        client_id: r.client_id.clone().unwrap_or_default(),
        owner_id: r.owner_id.clone().unwrap_or_default(),
        review_on: r.review_on.clone().unwrap_or_default(),
        notes: r.notes.clone(),
    });
    let name = |id: Option<&String>, names: &HashMap<String, String>| id.and_then(|i| names.get(i)).cloned();
    let page = RequirementPage {
        c,
        tabs: sub_tabs(tr, "/isms/legal"),
        row: legal_row(tr, r, d.requirement.owner.as_ref(), d.requirement.client.as_ref(), &today),
        notes: r.notes.clone(),
        version: r.version,
        changed: jst_minute(r.changed_at.0),
        changed_by: actor_name(tr, &r.changed_by, &d.names),
        history: d
            .history
            .iter()
            .map(|h| LegalHistoryRow {
                version: h.version,
                when: jst_minute(h.changed_at.0),
                who: actor_name(tr, &h.changed_by, &d.names),
                row: legal_row(
                    tr,
                    h,
                    name(h.owner_id.as_ref(), &d.names).as_ref(),
                    name(h.client_id.as_ref(), &d.names).as_ref(),
                    &today,
                ),
            })
            .collect(),
        can_manage,
        action: format!("/isms/legal/{}", segment(&r.id)),
        retire_href: format!("/isms/legal/{}/retire", segment(&r.id)),
        form_open: form_error.is_some(),
        form,
        form_error,
        kind_options: kind_options(tr),
        clients: if can_manage { client_choices(state).await } else { Vec::new() },
        owners: if can_manage { owners(state, p, ctx).await } else { Vec::new() },
    };
    (status, render(&page)).into_response()
}

async fn update_legal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = LegalForm::of(&form);
    let Some(input) = typed.input() else {
        let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t("isms_legal.invalid_kind").to_owned()));
        return requirement_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await;
    };
    match state.core.isms.update_legal(&p, &id, input, &ctx).await {
        Ok(_) => saved_redirect("legal", &id),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            requirement_view(&state, tr, &p, &ctx, &id, false, Some(typed), refused).await
        }
    }
}

/// "Are you sure?" before a requirement is retired.
async fn confirm_retire_legal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let d = match state.core.isms.legal_requirement(&p, &id, &ctx).await {
        Ok(d) => d,
        Err(e) => return refused_page(tr, &e),
    };
    let r = &d.requirement.record;
    if r.retired_at.is_some() {
        return refused_page(tr, &CoreError::NotFound { what: "legal requirement" });
    }
    confirm_page(
        tr,
        &p,
        tr.t("isms_legal.retire_question").replace("{title}", &r.title),
        vec![tr.t("isms_legal.retire_effect").to_owned()],
        format!("/isms/legal/{}", segment(&r.id)),
    )
}

async fn retire_legal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.isms.retire_legal(&p, &id, &ctx).await {
        Ok(_) => saved_redirect("legal", &id),
        Err(e) => refused_page(tr, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::catalogue;
    use mamori_domain::identity::Language;

    /// Every kind and every refusal the form can meet has its words in both languages.
    #[test]
    fn every_kind_has_a_label() {
        for lang in [Language::Ja, Language::En] {
            let cat = catalogue(lang);
            let mut keys: Vec<String> =
                LegalKind::ALL.iter().map(|k| format!("legal_kind.{}", k.as_str())).collect();
            keys.extend(
                ["isms_registers.tab_legal", "review_of.legal", "isms_legal.title", "isms_legal.item_title"]
                    .map(String::from),
            );
            keys.extend(
                ["kind", "reference", "obligations", "client_id"].map(|f| format!("isms_legal.invalid_{f}")),
            );
            keys.extend(
                ["title", "owner_id", "review_on", "notes"].map(|f| format!("isms_registers.invalid_{f}")),
            );
            let missing: Vec<&String> = keys.iter().filter(|k| !cat.contains_key(*k)).collect();
            assert!(missing.is_empty(), "without a label in {}: {missing:?}", lang.as_str());
        }
    }

    #[test]
    fn an_overdue_review_is_marked() {
        let record = LegalRecord {
            id: "9f0c1e9a-6a53-4d1e-9a53-2f0f7d1c0001".into(),
            version: 2,
            kind: "contract".into(),
            title: "通販A社 業務委託契約".into(),
            reference: "契約番号 2024-017".into(),
            obligations: "再委託の事前承認".into(),
            client_id: Some("c".into()),
            owner_id: None,
            review_on: Some("2026-01-31".into()),
            notes: String::new(),
            retired_at: None,
            changed_at: mamori_domain::UnixMillis(0),
            changed_by: "system".into(),
        };
        let client = "通販A社".to_owned();
        let row = legal_row(Tr(Language::Ja), &record, None, Some(&client), "2026-02-01");
        assert!(row.review_overdue && !row.retired);
        assert_eq!((row.kind.as_str(), row.client.as_str()), ("契約", "通販A社"));
        assert!(!legal_row(Tr(Language::En), &record, None, None, "2026-01-31").review_overdue, "due today");
    }
}
