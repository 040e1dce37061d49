//! Take-outs in the console (issue 15, item 4 — 持ち出し申請): the request form (a PC, a USB stick
//! by serial, or a paper file; why; until when) and the supervisor's "返却を記録" on the approvals
//! page, which closes a take-out.

use super::{Chrome, Form, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::Principal;
use mamori_core::take_out::{TakeOutItem, TakeOutRequest};
use mamori_domain::authz::Access::SignedIn;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/take-outs/new", SignedIn, new_page)
        .add(Method::POST, "/take-outs", SignedIn, request_take_out)
        .add(Method::POST, "/approvals/{id}/return", SignedIn, record_return)
}

#[derive(Template)]
#[template(path = "take_out_new.html")]
struct NewPage {
    c: Chrome,
    /// `device`, `usb` or `paper`.
    item: String,
    /// (id, hostname, chosen)
    devices: Vec<(String, String, bool)>,
    usb_serial: String,
    paper: String,
    until: String,
    reason: String,
}

async fn new_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    sent: Option<&Form>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let text = |name: &str| sent.map(|f| f.text(name).to_owned()).unwrap_or_default();
    let devices = state.core.take_out_devices(p).await.unwrap_or_default();
    let only_one = devices.len() == 1;
    let item = match text("item").as_str() {
        "usb" => "usb",
        "paper" => "paper",
        _ => "device",
    };
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = NewPage {
        c: Chrome::new(tr, "take_out.title", Some(p), csrf_for(Some(p), None), "/approvals").error(error),
        item: item.to_owned(),
        devices: devices
            .into_iter()
            .map(|d| {
                let on = only_one || text("device_id") == d.id;
                (d.id, d.hostname, on)
            })
            .collect(),
        usb_serial: text("usb_serial"),
        paper: text("paper"),
        until: text("until"),
        reason: text("reason"),
    };
    (status, render(&page)).into_response()
}

async fn new_page(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    new_view(&state, tr_for(&headers, Some(&p)), &p, None, None).await
}

async fn request_take_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let item = match form.text("item") {
        "usb" => TakeOutItem::Usb(form.text("usb_serial").to_owned()),
        "paper" => TakeOutItem::Paper(form.text("paper").to_owned()),
        _ => TakeOutItem::Device(form.text("device_id").to_owned()),
    };
    let asked =
        TakeOutRequest { item, until: form.text("until").to_owned(), reason: form.text("reason").to_owned() };
    match state.core.request_take_out(&p, &asked, &ctx).await {
        Ok(_) => Redirect::to("/approvals?done=take_out_requested").into_response(),
        Err(e) => {
            let refused = (crate::problem::status_of(&e), error_text(tr, &e));
            new_view(&state, tr, &p, Some(&form), Some(refused)).await
        }
    }
}

async fn record_return(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.record_return(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/approvals?done=take_out_returned").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
