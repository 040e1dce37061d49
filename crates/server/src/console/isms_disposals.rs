//! The disposal register's page (issue 18, item 7; LEAK-3): `/isms/disposals` lists each PC,
//! disk, medium and batch of paper disposed of — the latest first, kinds and methods in words,
//! people, assets and PCs by name — with the revoked PCs still awaiting theirs, and a form to
//! record one for `isms.manage`. Records are never edited: a correction is a new record.

use super::isms::{actor_name, jst_minute, refused_page};
use super::isms_registers::{SubTab, code_label, owners, sub_tabs, today};
use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::isms::disposals::DisposalView;
use mamori_core::{CoreError, Principal};
use mamori_domain::Permission::{IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::isms::disposal::{DisposalInput, DisposalKind, DisposalMethod};
use std::collections::HashMap;

/// Where the navigation's ISMS entry points (as on every ISMS page).
const NAV_HREF: &str = "/isms/soa";

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/isms/disposals", Needs(IsmsRead), disposals_page).add(
        Method::POST,
        "/isms/disposals",
        Needs(IsmsManage),
        record_disposal,
    )
}

/// A refusal of the form in words: the field's own sentence when the catalogue has one.
fn form_error(tr: Tr, e: &CoreError) -> String {
    match e {
        CoreError::Invalid { field, .. } => tr
            .get(&format!("isms_disposals.invalid_{field}"))
            .map_or_else(|| error_text(tr, e), str::to_owned),
        _ => error_text(tr, e),
    }
}

/// One record as the list shows it.
pub struct DisposalRow {
    pub disposed_on: String,
    pub kind: String,
    pub method: String,
    pub description: String,
    pub serial: String,
    pub quantity: String,
    pub witness: String,
    pub company: String,
    pub certificate: String,
    /// The asset and the PC it disposed of, by name.
    pub asset: String,
    pub device: String,
    pub notes: String,
    pub recorded: String,
    pub recorded_by: String,
}

fn disposal_row(tr: Tr, v: &DisposalView, names: &HashMap<String, String>) -> DisposalRow {
    let r = &v.record;
    DisposalRow {
        disposed_on: r.disposed_on.clone(),
        kind: code_label(tr, "disposal_kind", &r.kind),
        method: code_label(tr, "disposal_method", &r.method),
        description: r.description.clone(),
        serial: r.serial.clone(),
        quantity: r.quantity.map(|q| q.to_string()).unwrap_or_default(),
        witness: v.witness.clone().unwrap_or_else(|| r.witness_id.clone()),
        company: r.company.clone(),
        certificate: r.certificate.clone(),
        asset: v.asset.clone().unwrap_or_default(),
        device: v.device.clone().unwrap_or_default(),
        notes: r.notes.clone(),
        recorded: jst_minute(r.recorded_at.0),
        recorded_by: v.recorder.clone().unwrap_or_else(|| actor_name(tr, &r.recorded_by, names)),
    }
}

/// What the form holds, as typed (kept when it is refused).
#[derive(Debug, Default)]
pub struct DisposalForm {
    pub kind: String,
    pub method: String,
    pub description: String,
    pub serial: String,
    pub quantity: String,
    pub disposed_on: String,
    pub witness_id: String,
    pub company: String,
    pub certificate: String,
    pub notes: String,
    pub asset_id: String,
    pub device_id: String,
}

impl DisposalForm {
    fn of(form: &Form) -> DisposalForm {
        DisposalForm {
            kind: form.text("kind").trim().to_owned(),
            method: form.text("method").trim().to_owned(),
            description: form.text("description").to_owned(),
            serial: form.text("serial").to_owned(),
            quantity: form.text("quantity").trim().to_owned(),
            disposed_on: form.text("disposed_on").trim().to_owned(),
            witness_id: form.text("witness_id").trim().to_owned(),
            company: form.text("company").to_owned(),
            certificate: form.text("certificate").to_owned(),
            notes: form.text("notes").to_owned(),
            asset_id: form.text("asset_id").trim().to_owned(),
            device_id: form.text("device_id").trim().to_owned(),
        }
    }

    /// The record as typed, or the catalogue key of what cannot even be read.
    fn input(&self) -> Result<DisposalInput, &'static str> {
        let quantity = match self.quantity.as_str() {
            "" => None,
            q => Some(q.parse::<i64>().map_err(|_| "isms_disposals.invalid_quantity")?),
        };
        Ok(DisposalInput {
            kind: DisposalKind::parse(&self.kind).ok_or("isms_disposals.invalid_kind")?,
            method: DisposalMethod::parse(&self.method).ok_or("isms_disposals.invalid_method")?,
            description: self.description.clone(),
            serial: self.serial.clone(),
            quantity,
            disposed_on: self.disposed_on.clone(),
            witness_id: self.witness_id.clone(),
            company: self.company.clone(),
            certificate: self.certificate.clone(),
            notes: self.notes.clone(),
            asset_id: Some(self.asset_id.clone()).filter(|a| !a.is_empty()),
            device_id: Some(self.device_id.clone()).filter(|d| !d.is_empty()),
        })
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct DisposalsQuery {
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "isms_disposals.html")]
struct DisposalsPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    rows: Vec<DisposalRow>,
    /// Revoked ledger PCs whose disposal is not recorded, by host name.
    awaiting: Vec<String>,
    can_manage: bool,
    form: DisposalForm,
    form_error: Option<String>,
    kind_options: Vec<(&'static str, String)>,
    method_options: Vec<(&'static str, String)>,
    /// Active users other than the one recording (the witness).
    witnesses: Vec<(String, String)>,
    assets: Vec<(String, String)>,
    devices: Vec<(String, String)>,
    today: String,
}

async fn disposals_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DisposalsQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    disposals_view(&state, tr, &p, &ctx, q.saved.as_deref() == Some("1"), None, None).await
}

#[allow(clippy::too_many_arguments)]
async fn disposals_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    saved: bool,
    typed: Option<DisposalForm>,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let register = match state.core.isms.disposals(p, ctx).await {
        Ok(r) => r,
        Err(e) => return refused_page(tr, &e),
    };
    let names = HashMap::new();
    let rows = register.disposals.iter().map(|v| disposal_row(tr, v, &names)).collect();
    let can_manage = p.can(IsmsManage);
    let (status, form_error) = match refused {
        Some((status, text)) => (status, Some(text)),
        None => (StatusCode::OK, None),
    };
    let today = today();
    let form = typed.unwrap_or_else(|| DisposalForm {
        kind: DisposalKind::Pc.as_str().to_owned(),
        method: DisposalMethod::PhysicalDestruction.as_str().to_owned(),
        disposed_on: today.clone(),
        ..Default::default()
    });
    let mut c = Chrome::new(tr, "isms_disposals.title", Some(p), csrf_for(Some(p), None), NAV_HREF);
    if saved {
        c.notice = Some(tr.t("isms_disposals.saved").to_owned());
    }
    let witnesses = if can_manage {
        owners(state, p, ctx).await.into_iter().filter(|(id, _)| *id != p.user.id).collect()
    } else {
        Vec::new()
    };
    let page = DisposalsPage {
        c,
        tabs: sub_tabs(tr, "/isms/disposals"),
        rows,
        awaiting: register.revoked_not_disposed.iter().map(|(_, host)| host.clone()).collect(),
        can_manage,
        form,
        form_error,
        kind_options: DisposalKind::ALL
            .iter()
            .map(|k| (k.as_str(), code_label(tr, "disposal_kind", k.as_str())))
            .collect(),
        method_options: DisposalMethod::ALL
            .iter()
            .map(|m| (m.as_str(), code_label(tr, "disposal_method", m.as_str())))
            .collect(),
        witnesses,
        assets: register.disposable_assets,
        devices: register.revoked_not_disposed,
        today,
    };
    (status, render(&page)).into_response()
}

async fn record_disposal(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let typed = DisposalForm::of(&form);
    let input = match typed.input() {
        Ok(i) => i,
        Err(key) => {
            let refused = Some((StatusCode::UNPROCESSABLE_ENTITY, tr.t(key).to_owned()));
            return disposals_view(&state, tr, &p, &ctx, false, Some(typed), refused).await;
        }
    };
    match state.core.isms.record_disposal(&p, input, &ctx).await {
        Ok(_) => Redirect::to("/isms/disposals?saved=1").into_response(),
        Err(e @ CoreError::Forbidden(_)) => refused_page(tr, &e),
        Err(e) => {
            let refused = Some((crate::problem::status_of(&e), form_error(tr, &e)));
            disposals_view(&state, tr, &p, &ctx, false, Some(typed), refused).await
        }
    }
}
