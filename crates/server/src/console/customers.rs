//! The security admin's customer pages (issue 14, item 9; APPI arts. 33–35; ISMS-3, ISMS-4): the
//! data-subject requests — find the person's records by what they gave (phone, e-mail, or name
//! with birth date), then a disclosure report, a correction or an erasure, each naming the
//! request it answers — and the CSV import (`import.rs` beside this).
//!
//! Everything is POSTed but the pages that only ask (the correction form, the erasure's
//! confirmation), which carry the customer's id and the request's reference: neither is
//! personal data. The rules, the authorization and the audit entries are core's.

use super::workspace::{class_key, field_label, shown_in_full};
use super::{Chrome, ConfirmPage, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::Principal;
use mamori_core::vault::LookupKey;
use mamori_core::vault::subject::check_request_ref;
use mamori_domain::Permission::CustomersManage;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::customer::CustomerField;
use mamori_domain::identity::OrgKind;
use std::collections::BTreeMap;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/admin/customers", Needs(CustomersManage), customers_page)
        .add(Method::POST, "/admin/customers/find", Needs(CustomersManage), find)
        .add(Method::POST, "/admin/customers/{id}/disclosure", Needs(CustomersManage), disclose)
        .add(Method::GET, "/admin/customers/{id}/correct", Needs(CustomersManage), correct_page)
        .add(Method::POST, "/admin/customers/{id}/correct", Needs(CustomersManage), correct)
        .add(Method::GET, "/admin/customers/{id}/erase", Needs(CustomersManage), confirm_erase)
        .add(Method::POST, "/admin/customers/{id}/erase", Needs(CustomersManage), erase)
}

/// Where the customer pages sit in the navigation: beside the field policy.
pub const CURRENT: &str = "/admin/vault-policy";

/// `?request_ref=` on the pages that only ask.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RefQuery {
    #[serde(default)]
    pub request_ref: String,
}

/// The search for a request's records, as the form holds it.
#[derive(Default)]
pub struct FindForm {
    pub request_ref: String,
    pub by: String,
    pub value: String,
    pub birth_date: String,
}

pub struct MatchView {
    pub id: String,
    pub client: String,
    pub created: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    c: Chrome,
    form: FindForm,
    /// None before a search.
    matches: Option<Vec<MatchView>>,
    /// `request_ref=…`, URL-encoded, for the links of the found records.
    ref_query: String,
}

async fn client_names(state: &AppState) -> BTreeMap<String, String> {
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    clients.into_iter().map(|c| (c.id, c.name)).collect()
}

fn ref_query(request_ref: &str) -> String {
    form_urlencoded::Serializer::new(String::new()).append_pair("request_ref", request_ref.trim()).finish()
}

async fn customers_page(
    State(_state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let c = Chrome::new(tr, "customers.title", Some(&p), csrf_for(Some(&p), None), CURRENT)
        .notice_key(q.done.as_deref());
    render(&CustomersPage { c, form: FindForm::default(), matches: None, ref_query: String::new() })
}

async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let asked = FindForm {
        request_ref: form.text("request_ref").to_owned(),
        by: form.text("by").to_owned(),
        value: form.text("value").to_owned(),
        birth_date: form.text("birth_date").to_owned(),
    };
    let key = match asked.by.as_str() {
        "email" => LookupKey::Email(asked.value.clone()),
        "name_birth" => {
            LookupKey::NameBirth { name: asked.value.clone(), birth_date: asked.birth_date.clone() }
        }
        _ => LookupKey::Phone(asked.value.clone()),
    };
    let found = state.core.vault.find_for_request(&p, &key, &asked.request_ref, &ctx).await;
    let clients = client_names(&state).await;
    let (matches, error) = match found {
        Ok(list) => (
            Some(
                list.into_iter()
                    .map(|m| MatchView {
                        client: clients.get(&m.client_id).cloned().unwrap_or(m.client_id),
                        id: m.id,
                        created: local_time(m.created_at.0),
                        updated: local_time(m.updated_at.0),
                    })
                    .collect(),
            ),
            None,
        ),
        Err(e) => (None, Some(error_text(tr, &e))),
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let c = Chrome::new(tr, "customers.title", Some(&p), csrf_for(Some(&p), None), CURRENT).error(error);
    let ref_query = ref_query(&asked.request_ref);
    (status, render(&CustomersPage { c, form: asked, matches, ref_query })).into_response()
}

pub struct DisclosedView {
    pub label: String,
    pub class: &'static str,
    pub value: String,
}

pub struct AccessView {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    /// "label: value" lines.
    pub details: Vec<String>,
}

#[derive(Template)]
#[template(path = "disclosure.html")]
struct DisclosurePage {
    c: Chrome,
    request_ref: String,
    ref_query: String,
    id: String,
    client: String,
    created: String,
    updated: String,
    fields: Vec<DisclosedView>,
    accesses: Vec<AccessView>,
}

async fn disclose(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let request_ref = form.text("request_ref").trim().to_owned();
    let d = match state.core.vault.disclose_customer(&p, &id, &request_ref, &ctx).await {
        Ok(d) => d,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let names = state.core.audit.names(&p, &ctx).await.unwrap_or_default();
    let clients = client_names(&state).await;
    let c = Chrome::new(tr, "customers.disclosure_title", Some(&p), csrf_for(Some(&p), None), CURRENT);
    let page = DisclosurePage {
        c,
        ref_query: ref_query(&request_ref),
        request_ref,
        client: clients.get(&d.client_id).cloned().unwrap_or(d.client_id),
        id: d.id,
        created: local_time(d.created_at.0),
        updated: local_time(d.updated_at.0),
        fields: d
            .fields
            .into_iter()
            .map(|(field, class, value)| DisclosedView {
                label: field_label(tr, field),
                class: class_key(class),
                value: shown_in_full(field, &value),
            })
            .collect(),
        accesses: d
            .accesses
            .into_iter()
            .map(|e| AccessView {
                time: local_time(e.time.0),
                actor: names.get(&e.actor).cloned().unwrap_or(e.actor),
                action: tr.get(&format!("audit_action.{}", e.action)).map_or(e.action.clone(), str::to_owned),
                outcome: tr.t(&format!("audit_outcome.{}", e.outcome.as_str())).to_owned(),
                details: e
                    .details
                    .iter()
                    // The text's length and the confidential subset of the fields add nothing
                    // for the person the report is for.
                    .filter(|(k, v)| {
                        !v.is_empty() && !["reason_text_chars", "confidential"].contains(&k.as_str())
                    })
                    .map(|(k, v)| access_detail(tr, k, v))
                    .collect(),
            })
            .collect(),
    };
    render(&page)
}

/// A detail of an access entry as the person it is about reads it: as the audit page words it,
/// and the reason's text (opened for the report) under its own word.
fn access_detail(tr: Tr, key: &str, value: &str) -> String {
    let label = match key {
        "reason_text" => tr.t("customers.reason_text"),
        _ => tr.get(&format!("audit_detail.{key}")).unwrap_or(key),
    };
    format!("{label}: {}", super::audit::detail_value(tr, key, value))
}

pub struct CorrectionRow {
    pub name: &'static str,
    pub label: String,
    /// What was typed, when the form comes back refused.
    pub value: String,
    pub remove: bool,
}

#[derive(Template)]
#[template(path = "correct.html")]
struct CorrectPage {
    c: Chrome,
    id: String,
    request_ref: String,
    rows: Vec<CorrectionRow>,
}

fn correct_view(
    tr: Tr,
    p: &Principal,
    id: &str,
    request_ref: &str,
    form: Option<&Form>,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let removed = form.map(|f| f.all("remove")).unwrap_or_default();
    let rows = CustomerField::ALL
        .iter()
        .map(|f| CorrectionRow {
            name: f.as_str(),
            label: field_label(tr, *f),
            value: form.map(|x| x.text(&format!("value.{}", f.as_str())).to_owned()).unwrap_or_default(),
            remove: removed.iter().any(|r| r == f.as_str()),
        })
        .collect();
    let c =
        Chrome::new(tr, "customers.correct_title", Some(p), csrf_for(Some(p), None), CURRENT).error(error);
    let page = CorrectPage { c, id: id.to_owned(), request_ref: request_ref.trim().to_owned(), rows };
    (status, render(&page)).into_response()
}

/// Pages that only ask still need the request they answer: refused before anything is shown.
fn ref_refused(tr: Tr, request_ref: &str) -> Option<Response> {
    check_request_ref(request_ref)
        .err()
        .map(|_| super::message_page(tr, StatusCode::UNPROCESSABLE_ENTITY, "customers.ref_missing"))
}

async fn correct_page(
    headers: HeaderMap,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<RefQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if let Some(refused) = ref_refused(tr, &q.request_ref) {
        return refused;
    }
    correct_view(tr, &p, &id, &q.request_ref, None, None)
}

async fn correct(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let request_ref = form.text("request_ref").to_owned();
    // A value typed is the new value; a field ticked "remove" is removed; the rest stay.
    let mut changes = BTreeMap::new();
    for f in CustomerField::ALL {
        if let Some(v) = form.optional(&format!("value.{}", f.as_str())) {
            changes.insert(f.as_str().to_owned(), v);
        }
    }
    for f in form.all("remove") {
        changes.insert(f, String::new());
    }
    match state.core.vault.correct_customer(&p, &id, &request_ref, &changes, &ctx).await {
        Ok(()) => Redirect::to("/admin/customers?done=customer_corrected").into_response(),
        Err(e) => correct_view(tr, &p, &id, &request_ref, Some(&form), Some(error_text(tr, &e))),
    }
}

/// The erasure's confirmation: what is destroyed, for which request, and that it cannot be
/// taken back.
async fn confirm_erase(
    headers: HeaderMap,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<RefQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    if let Some(refused) = ref_refused(tr, &q.request_ref) {
        return refused;
    }
    let c = Chrome::new(tr, "confirm.title", Some(&p), csrf_for(Some(&p), None), CURRENT);
    render(&ConfirmPage {
        c,
        question: tr
            .t("customers.erase_question")
            .replace("{id}", &id)
            .replace("{ref}", q.request_ref.trim()),
        effects: vec![tr.t("customers.erase_effect").to_owned(), tr.t("customers.erase_backups").to_owned()],
        action: format!("/admin/customers/{id}/erase"),
        fields: vec![("request_ref".to_owned(), q.request_ref.trim().to_owned())],
        ask_message: false,
        cancel: "/admin/customers".to_owned(),
        danger: true,
    })
}

async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.vault.erase_customer(&p, &id, form.text("request_ref"), &ctx).await {
        Ok(()) => Redirect::to("/admin/customers?done=customer_erased").into_response(),
        // With a second security admin in place, an erasure is asked for (issue 15, item 7).
        Err(mamori_core::CoreError::ApprovalRequired) => {
            let action = mamori_domain::approval::PrivilegedAction::EraseCustomer {
                customer: id.clone(),
                request_ref: form.text("request_ref").to_owned(),
            };
            let reason = format!("{} {}", tr.t("privileged.erase_reason"), form.text("request_ref"));
            super::privileged::ask(&state, tr, &p, &action, &reason, &ctx).await
        }
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
