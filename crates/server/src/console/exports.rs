//! Customer exports in the console (issue 15, item 3): the request form (one client company,
//! fields, registration days, a reason); once approved, the download page that shows the
//! archive's password — once, never mailed — and the download itself, which uses the grant.

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
use mamori_core::export::{ExportSpec, ExportTicket};
use mamori_domain::Permission::CustomersRead;
use mamori_domain::authz::Access::{Permission as Needs, SignedIn};
use mamori_domain::customer::CustomerField;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/exports/new", Needs(CustomersRead), new_page)
        .add(Method::POST, "/exports", Needs(CustomersRead), request_export)
        .add(Method::POST, "/approvals/{id}/export", SignedIn, ready_page)
        .add(Method::POST, "/approvals/{id}/export/download", SignedIn, download)
}

#[derive(Template)]
#[template(path = "export_new.html")]
struct NewPage {
    c: Chrome,
    /// (id, name, chosen)
    clients: Vec<(String, String, bool)>,
    /// (code, label, chosen)
    fields: Vec<(&'static str, String, bool)>,
    registered_from: String,
    registered_to: String,
    reason: String,
}

async fn new_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    sent: Option<&Form>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let fields = match state.core.exportable_fields(p).await {
        Ok(f) => f,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let text = |name: &str| sent.map(|f| f.text(name).to_owned()).unwrap_or_default();
    let chosen_fields = sent.map(|f| f.all("fields")).unwrap_or_default();
    let clients = super::workspace::client_names(state, p).await;
    let only_one = clients.len() == 1;
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = NewPage {
        c: Chrome::new(tr, "export.title", Some(p), csrf_for(Some(p), None), "/approvals").error(error),
        clients: clients
            .into_iter()
            .map(|(id, name)| {
                let on = only_one || text("client_id") == id;
                (id, name, on)
            })
            .collect(),
        fields: fields
            .into_iter()
            .map(|f| {
                (
                    f.as_str(),
                    super::workspace::field_label(tr, f),
                    chosen_fields.iter().any(|c| c == f.as_str()),
                )
            })
            .collect(),
        registered_from: text("registered_from"),
        registered_to: text("registered_to"),
        reason: text("reason"),
    };
    (status, render(&page)).into_response()
}

async fn new_page(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    new_view(&state, tr_for(&headers, Some(&p)), &p, None, None).await
}

async fn request_export(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let fields: Option<Vec<CustomerField>> =
        form.all("fields").iter().map(|f| CustomerField::parse(f)).collect();
    let Some(fields) = fields else {
        let bad = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("export.choose_fields").to_owned());
        return new_view(&state, tr, &p, Some(&form), Some(bad)).await;
    };
    let spec = ExportSpec {
        client_id: form.text("client_id").to_owned(),
        fields,
        registered_from: form.optional("registered_from"),
        registered_to: form.optional("registered_to"),
    };
    match state.core.request_export(&p, &spec, form.text("reason"), &ctx).await {
        Ok(_) => Redirect::to("/approvals?done=export_requested").into_response(),
        Err(e) => {
            let refused = (crate::problem::status_of(&e), error_text(tr, &e));
            new_view(&state, tr, &p, Some(&form), Some(refused)).await
        }
    }
}

#[derive(Template)]
#[template(path = "export_ready.html")]
struct ReadyPage {
    c: Chrome,
    approval_id: String,
    ticket: ExportTicket,
}

/// The password, shown here once, and the button that downloads the archive (and uses the
/// grant). Posted, so the password never sits in a URL or the browser's history.
async fn ready_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.prepare_export(&p, &id, &ctx).await {
        Ok(ticket) => {
            let c = Chrome::new(tr, "export.ready_title", Some(&p), csrf_for(Some(&p), None), "/approvals");
            let page = ReadyPage { c, approval_id: id, ticket };
            // The password must not be kept by a cache or shown by the back button.
            ([(axum::http::header::CACHE_CONTROL, "no-store")], render(&page)).into_response()
        }
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let header = |f: CustomerField| super::workspace::field_label(tr, f);
    match state.core.export_customers(&p, &id, form.text("ticket"), &header, &ctx).await {
        Ok(stream) => crate::api::approvals::zip_response(stream),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
