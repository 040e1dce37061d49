//! The approvals inbox (issue 15, item 8): what waits for the viewer's decision — with everything
//! needed to decide: who asks, what exactly, why, until when — and the viewer's own requests.
//! A decision asks for the TOTP code on the spot (step-up); the requester can withdraw theirs.

use super::{Chrome, DoneQuery, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::approvals::ApprovalView;
use mamori_domain::authz::Access::SignedIn;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/approvals", SignedIn, inbox_page)
        .add(Method::GET, "/approvals/stream", SignedIn, inbox_stream)
        .add(Method::POST, "/approvals/{id}/decide", SignedIn, decide)
        .add(Method::POST, "/approvals/{id}/cancel", SignedIn, cancel)
        .add(Method::POST, "/approvals/{id}/print", SignedIn, print)
}

/// A request as a person reads it.
pub struct RequestRow {
    pub id: String,
    /// The kind's code (`print`…), for what its grant allows here.
    pub kind_code: &'static str,
    pub kind: String,
    /// `pending`, `granted`… for the tag's class.
    pub state: &'static str,
    pub state_label: String,
    pub requester: String,
    pub reason: String,
    /// What is asked, as label: value lines.
    pub content: Vec<String>,
    pub created: String,
    pub decide_by: String,
    pub grant_until: String,
    /// "承認 — 佐藤 SV (sv.a): 確認済み"
    pub decisions: Vec<String>,
    pub approvals_needed: u8,
    /// A take-out past its return date and not returned.
    pub overdue: bool,
    /// A granted key rotation or retirement: the command to run on the server (else empty).
    pub key_command: String,
    /// A held mail's id: its check page shows what the mail says (else empty).
    pub mail_id: String,
}

/// What a request is of comes first (the document, the item, the action), then whose and which,
/// then how many and until when.
const CONTENT_ORDER: [&str; 21] = [
    "action",
    "rules",
    "document",
    "item",
    "kind",
    "client",
    "customer",
    "device",
    "usb_serial",
    "paper",
    "user",
    "roles",
    "field",
    "fields",
    "reason_code",
    "customers",
    "registered_from",
    "registered_to",
    "registered_before",
    "policy",
    "until",
];

fn row(tr: Tr, v: &ApprovalView, now: mamori_domain::UnixMillis) -> RequestRow {
    let r = &v.request;
    let name = |id: &str| v.names.get(id).cloned().unwrap_or_default();
    let content = match serde_json::from_str::<serde_json::Value>(&r.content) {
        Ok(serde_json::Value::Object(map)) => {
            // A mail's id and its message's digest mean nothing to a person: the mail's page shows it.
            let mut entries: Vec<_> =
                map.iter().filter(|(k, _)| *k != "mail" && *k != "message_digest").collect();
            entries.sort_by_key(|(k, _)| {
                CONTENT_ORDER.iter().position(|o| o == k).unwrap_or(CONTENT_ORDER.len())
            });
            entries
                .into_iter()
                .map(|(k, value)| {
                    let label = tr.get(&format!("approval_content.{k}")).unwrap_or(k.as_str());
                    // A coded value in words: a document's kind, a customer field's name.
                    let word = |s: &str| {
                        [
                            format!("approval_value.{k}.{s}"),
                            format!("customer_field.{s}"),
                            format!("reason.{s}"),
                            format!("role.{s}"),
                            format!("audit_value.kind.{s}"),
                        ]
                        .iter()
                        .find_map(|key| tr.get(key))
                        .map_or_else(|| s.to_owned(), str::to_owned)
                    };
                    let value = match value {
                        // A record's id means nothing to a person: its first digits tell one apart.
                        serde_json::Value::String(s) if k == "customer" && s.len() == 36 => {
                            format!("{}…", &s[..8])
                        }
                        // A client company by name.
                        serde_json::Value::String(s) if v.names.contains_key(s) => name(s),
                        serde_json::Value::String(s) => word(s),
                        // An instant ("registered before …") in Japan time.
                        serde_json::Value::Number(n) if k == "registered_before" || k == "until" => {
                            n.as_i64().map(local_time).unwrap_or_default()
                        }
                        // A privileged rule change: the rules in words.
                        rules @ serde_json::Value::Object(_) if k == "rules" => {
                            serde_json::from_value::<
                                std::collections::BTreeMap<
                                    mamori_domain::detect::RuleId,
                                    mamori_domain::detect::RuleSettings,
                                >,
                            >(rules.clone())
                            .map(|rules| super::alerts::rules_summary(tr, &rules))
                            .unwrap_or_default()
                        }
                        // A privileged policy change: the policy in words.
                        policy @ serde_json::Value::Object(_) if k == "policy" => {
                            match serde_json::from_value::<mamori_domain::approval::ApprovalPolicy>(
                                policy.clone(),
                            ) {
                                Ok(p) => super::privileged::policy_summary(tr, &p),
                                Err(_) => {
                                    serde_json::from_value::<mamori_domain::mail::MailPolicy>(policy.clone())
                                        .map(|p| super::mail::policy_summary(tr, &p, |id| name(id)))
                                        .unwrap_or_default()
                                }
                            }
                        }
                        serde_json::Value::Array(items) => items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), word))
                            .collect::<Vec<_>>()
                            .join(tr.t("common.list_separator")),
                        other => other.to_string(),
                    };
                    format!("{label}: {value}")
                })
                .collect()
        }
        _ => Vec::new(),
    };
    RequestRow {
        id: r.id.clone(),
        kind_code: r.kind.as_str(),
        kind: tr.t(&format!("audit_value.kind.{}", r.kind.as_str())).to_owned(),
        state: r.state.as_str(),
        state_label: tr.t(&format!("approvals.state_{}", r.state.as_str())).to_owned(),
        requester: name(&r.requester_id),
        reason: r.reason.clone(),
        content,
        created: local_time(r.created_at.0),
        decide_by: local_time(r.decide_by.0),
        grant_until: r.grant_expires_at.map(|t| local_time(t.0)).unwrap_or_default(),
        decisions: v
            .decisions
            .iter()
            .map(|d| {
                let what = tr.t(if d.approve { "approvals.approved_by" } else { "approvals.denied_by" });
                let mut line = format!("{what}: {}", name(&d.decider_id));
                if !d.comment.is_empty() {
                    line.push_str(&format!("「{}」", d.comment));
                }
                line
            })
            .collect(),
        approvals_needed: v.policy.approvals,
        mail_id: serde_json::from_str::<serde_json::Value>(&r.content)
            .ok()
            .filter(|_| r.kind == mamori_domain::approval::ApprovalKind::Mail)
            .and_then(|c| c.get("mail").and_then(serde_json::Value::as_str).map(str::to_owned))
            .unwrap_or_default(),
        key_command: match serde_json::from_str::<mamori_domain::approval::PrivilegedAction>(&r.content) {
            Ok(mamori_domain::approval::PrivilegedAction::RotateVaultKeys) => {
                format!("mamori keys rotate --approval {}", r.id)
            }
            Ok(mamori_domain::approval::PrivilegedAction::RetireVaultKeys) => {
                format!("mamori keys retire --approval {}", r.id)
            }
            _ => String::new(),
        },
        overdue: r.kind == mamori_domain::approval::ApprovalKind::TakeOut
            && matches!(
                r.state,
                mamori_domain::approval::ApprovalState::Granted
                    | mamori_domain::approval::ApprovalState::Expired
            )
            && r.grant_expires_at.is_some_and(|t| t < now),
    }
}

fn refusal(tr: Tr, e: &mamori_core::CoreError) -> (axum::http::StatusCode, String) {
    (crate::problem::status_of(e), error_text(tr, e))
}

/// The part of the inbox the stream sends again when a request changes.
#[derive(Template)]
#[template(path = "approvals_live.html")]
struct InboxLive {
    tr: Tr,
    csrf: String,
    to_decide: Vec<RequestRow>,
    mine: Vec<RequestRow>,
    /// Take-outs out now (or overdue) whose return the viewer records.
    out: Vec<RequestRow>,
    /// The viewer holds a role that decides requests (the section is shown even when empty).
    decides: bool,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct InboxPage {
    c: Chrome,
    /// The live part, rendered ([`InboxLive`]).
    live: String,
    /// The viewer may ask for a customer export.
    can_export: bool,
}

async fn live_part(
    state: &AppState,
    tr: Tr,
    p: &mamori_core::Principal,
) -> Result<InboxLive, mamori_core::CoreError> {
    let inbox = state.core.approvals.inbox(p).await?;
    let out = state.core.take_outs_to_return(p).await?;
    let now = state.core.now();
    let decides = p.user.roles.iter().any(|r| {
        mamori_domain::approval::ApprovalKind::ALL
            .iter()
            .any(|k| k.default_policy().approver_roles.contains(r))
    });
    Ok(InboxLive {
        tr,
        csrf: csrf_for(Some(p), None),
        decides: decides || !inbox.to_decide.is_empty(),
        to_decide: inbox.to_decide.iter().map(|v| row(tr, v, now)).collect(),
        mine: inbox.mine.iter().map(|v| row(tr, v, now)).collect(),
        out: out.iter().map(|v| row(tr, v, now)).collect(),
    })
}

/// The inbox's live part as server-sent events: at once, then after each change (and at least
/// every 15 s, for changes through another replica); a stream ends after a minute and the
/// browser comes back through the session check.
async fn inbox_stream(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    let tr = tr_for(&headers, Some(&p));
    super::live_stream(state.core.approvals.watch(), super::LIVE_LISTS, move || {
        let (state, p) = (state.clone(), p.clone());
        async move { live_part(&state, tr, &p).await.ok()?.render().ok() }
    })
}

/// The inbox, with a notice after a redirect, or a refusal in words with its status.
async fn inbox_view(
    state: &AppState,
    tr: Tr,
    p: &mamori_core::Principal,
    done: Option<&str>,
    error: Option<(axum::http::StatusCode, String)>,
) -> Response {
    let live = match live_part(state, tr, p).await.map(|l| l.render()) {
        Ok(Ok(html)) => html,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "template failed");
            return super::message_page(
                tr,
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "error.internal_page",
            );
        }
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let (status, error) = match error {
        Some((status, text)) => (status, Some(text)),
        None => (axum::http::StatusCode::OK, None),
    };
    let c = Chrome::new(tr, "approvals.title", Some(p), csrf_for(Some(p), None), "/approvals")
        .notice_key(done)
        .error(error);
    let page = InboxPage { c, live, can_export: p.can(mamori_domain::Permission::CustomersRead) };
    (status, render(&page)).into_response()
}

async fn inbox_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Query(q): Query<DoneQuery>,
) -> Response {
    inbox_view(&state, tr_for(&headers, Some(&p)), &p, q.done.as_deref(), None).await
}

/// Approve or deny, after the TOTP code given in the same form (a step-up on the spot).
async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let approve = match form.text("decision") {
        "approve" => true,
        "deny" => false,
        _ => {
            let choose = (axum::http::StatusCode::UNPROCESSABLE_ENTITY, tr.t("approvals.choose").to_owned());
            return inbox_view(&state, tr, &p, None, Some(choose)).await;
        }
    };
    let step_up =
        match state.core.identity.step_up(&p, form.text("code"), &format!("approval:{id}"), &ctx).await {
            Ok(s) => s,
            Err(e) => return inbox_view(&state, tr, &p, None, Some(refusal(tr, &e))).await,
        };
    match state.core.approvals.decide(&p, &id, approve, Some(&step_up), form.text("comment"), &ctx).await {
        Ok(_) if approve => Redirect::to("/approvals?done=approval_approved").into_response(),
        Ok(_) => Redirect::to("/approvals?done=approval_denied").into_response(),
        Err(e) => inbox_view(&state, tr, &p, None, Some(refusal(tr, &e))).await,
    }
}

async fn cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.approvals.cancel(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/approvals?done=approval_cancelled").into_response(),
        Err(e) => inbox_view(&state, tr, &p, None, Some(refusal(tr, &e))).await,
    }
}

/// The approved print, once: the PDF (a download), or the refusal in words.
async fn print(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    use axum::http::header;
    let tr = tr_for(&headers, Some(&p));
    let field = |f: mamori_domain::customer::CustomerField| super::workspace::field_label(tr, f);
    let words = mamori_core::print::SheetWords { title: tr.t("print.title"), field: &field };
    match state.core.print_customer_sheet(&p, &id, tr.0, &words, &ctx).await {
        Ok(pdf) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (header::CONTENT_DISPOSITION, format!("attachment; filename=\"mamori-sheet-{id}.pdf\"")),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => inbox_view(&state, tr, &p, None, Some(refusal(tr, &e))).await,
    }
}
