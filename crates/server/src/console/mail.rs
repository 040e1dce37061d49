//! Outgoing mail in the console (issue 15, item 5 — 誤送信防止): the sender's list of what went
//! through the relay, the check page of a held mail (every recipient with its domain marked
//! internal or external, external addresses in To/Cc warned of, attachments, what looks like
//! customer data, the text), its confirm — open only after the self-check delay — and cancel;
//! the mail password on the profile page; and the security admin's rules.

use super::{Chrome, Form, csrf_for, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_core::Principal;
use mamori_core::outgoing_mail::MailView;
use mamori_domain::Permission;
use mamori_domain::authz::Access::{Permission as Needs, SignedIn};
use mamori_domain::mail::{Header, MailPolicy};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/mail", SignedIn, list_page)
        .add(Method::GET, "/mail/{id}", SignedIn, check_page)
        .add(Method::POST, "/mail/{id}/confirm", SignedIn, confirm)
        .add(Method::POST, "/mail/{id}/cancel", SignedIn, cancel)
        .add(Method::POST, "/profile/mail-password", SignedIn, new_password)
        .add(Method::GET, "/admin/mail-policy", Needs(Permission::SettingsManage), policy_page)
        .add(Method::POST, "/admin/mail-policy", Needs(Permission::SettingsManage), save_policy)
}

/// One recipient as the check page shows it.
pub struct RecipientRow {
    /// The part before the domain (`yamada@`) and the domain, drawn apart so the domain stands out.
    pub local: String,
    pub domain: String,
    pub external: bool,
    /// `To`, `Cc`, `Bcc`.
    pub header: &'static str,
    /// External and in To or Cc: everyone sees the address.
    pub visible_external: bool,
}

/// A mail as a row or a page.
pub struct MailRow {
    pub id: String,
    pub subject: String,
    /// `held`, `awaiting_approval`, `released`, `sent`, `cancelled`, `returned`.
    pub state: String,
    pub state_label: String,
    pub reason: String,
    pub created: String,
    pub recipients: Vec<RecipientRow>,
    pub external_count: usize,
    pub attachments: Vec<(String, String)>,
    /// "顧客の電話番号: 1件" lines.
    pub findings: Vec<String>,
    pub needs_approval: bool,
    pub text: String,
    pub sender: String,
    pub approval_id: String,
    pub approval_state: String,
    /// Seconds until the sender may confirm (0: now).
    pub wait_secs: i64,
}

fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{} KB", b.div_ceil(1 << 10)),
        b => format!("{b} B"),
    }
}

fn mail_row(tr: Tr, v: &MailView, now: mamori_domain::UnixMillis) -> MailRow {
    let m = &v.mail;
    let count = |key: &str, n: usize| (n > 0).then(|| format!("{}: {n}", tr.t(key)));
    let mut findings: Vec<String> = [
        count("mail.found_attachments", v.findings.attachments),
        count("mail.found_card_numbers", v.findings.card_numbers),
        count("mail.found_customer_phones", v.findings.customer_phones),
        count("mail.found_customer_emails", v.findings.customer_emails),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !v.findings.clients.is_empty() {
        let names: Vec<String> = v
            .findings
            .clients
            .iter()
            .map(|c| v.client_names.get(c).cloned().unwrap_or_else(|| c.clone()))
            .collect();
        findings.push(format!(
            "{}: {}",
            tr.t("mail.found_clients"),
            names.join(tr.t("common.list_separator"))
        ));
    }
    MailRow {
        id: m.id.clone(),
        subject: v.summary.subject.clone(),
        state: m.state.clone(),
        state_label: tr.t(&format!("mail.state_{}", m.state)).to_owned(),
        reason: m.reason.as_deref().map(|r| tr.t(&format!("mail.reason_{r}")).to_owned()).unwrap_or_default(),
        created: local_time(m.created_at.0),
        external_count: v.recipients.iter().filter(|r| r.external).count(),
        recipients: v
            .recipients
            .iter()
            .map(|r| RecipientRow {
                local: r.address.strip_suffix(&r.domain).unwrap_or(&r.address).to_owned(),
                domain: r.domain.clone(),
                external: r.external,
                header: match r.header {
                    Header::To => "To",
                    Header::Cc => "Cc",
                    Header::Bcc => "Bcc",
                },
                visible_external: r.visible_external(),
            })
            .collect(),
        attachments: v.summary.attachments.iter().map(|a| (a.name.clone(), size_text(a.size))).collect(),
        needs_approval: v.findings.customer_data(),
        findings,
        text: v.summary.text.clone(),
        sender: v.sender.clone(),
        approval_id: m.approval_id.clone().unwrap_or_default(),
        approval_state: v
            .approval
            .as_ref()
            .map(|a| tr.t(&format!("approvals.state_{}", a.state.as_str())).to_owned())
            .unwrap_or_default(),
        wait_secs: ((m.confirm_after.0 - now.0).max(0) + 999) / 1000,
    }
}

#[derive(Template)]
#[template(path = "mail_list.html")]
struct ListPage {
    c: Chrome,
    mails: Vec<MailRow>,
    has_password: bool,
}

async fn list_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    axum::extract::Query(done): axum::extract::Query<super::DoneQuery>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let now = state.core.now();
    let mut mails: Vec<MailRow> = match state.core.my_outgoing_mail(&p).await {
        Ok(views) => views.iter().map(|v| mail_row(tr, v, now)).collect(),
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    // What waits for the sender comes first.
    mails.sort_by_key(|m| m.state != "held");
    let page = ListPage {
        c: Chrome::new(tr, "mail.title", Some(&p), csrf_for(Some(&p), None), "/mail")
            .notice_key(done.done.as_deref()),
        mails,
        has_password: state.core.has_mail_password(&p).await.unwrap_or(false),
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "mail_check.html")]
struct CheckPage {
    c: Chrome,
    m: MailRow,
    /// The viewer sent it (only they confirm or cancel).
    own: bool,
    /// Its attachments will leave as links that work this many hours (the rules say so).
    links_hours: Option<u32>,
}

async fn check_view(state: &AppState, tr: Tr, p: &Principal, id: &str, error: Option<String>) -> Response {
    let ctx = Default::default();
    let view = match state.core.outgoing_mail(p, id, &ctx).await {
        Ok(v) => v,
        Err(e) => return super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    };
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    let policy = state.core.mail_policy().await.unwrap_or_default();
    let links_hours =
        (policy.attachment_links && !view.summary.attachments.is_empty()).then_some(policy.link_hours);
    let page = CheckPage {
        links_hours,
        c: Chrome::new(tr, "mail.check_title", Some(p), csrf_for(Some(p), None), "/mail").error(error),
        own: view.mail.sender_id == p.user.id,
        m: mail_row(tr, &view, state.core.now()),
    };
    (status, render(&page)).into_response()
}

async fn check_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Response {
    check_view(&state, tr_for(&headers, Some(&p)), &p, &id, None).await
}

async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.confirm_mail(&p, &id, &ctx).await {
        Ok(m) if m.state == "awaiting_approval" => Redirect::to("/mail?done=mail_asked").into_response(),
        Ok(_) => Redirect::to("/mail?done=mail_released").into_response(),
        Err(e) => check_view(&state, tr, &p, &id, Some(error_text(tr, &e))).await,
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
    match state.core.cancel_mail(&p, &id, &ctx).await {
        Ok(()) => Redirect::to("/mail?done=mail_cancelled").into_response(),
        Err(e) => check_view(&state, tr, &p, &id, Some(error_text(tr, &e))).await,
    }
}

#[derive(Template)]
#[template(path = "mail_password.html")]
struct PasswordPage {
    c: Chrome,
    password: String,
    username: String,
    /// host:port of the relay, or empty when none is configured.
    relay: String,
    starttls: bool,
}

async fn new_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    _form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    match state.core.new_mail_password(&p, &ctx).await {
        Ok(password) => {
            let relay = state
                .config
                .mail
                .as_ref()
                .map(|m| format!("{}:{}", m.hostname, m.listen.port()))
                .unwrap_or_default();
            let page = PasswordPage {
                c: Chrome::new(tr, "mail.password_title", Some(&p), csrf_for(Some(&p), None), "/profile"),
                password,
                username: p.user.username.clone(),
                relay,
                starttls: state.config.tls.is_some(),
            };
            // Shown once: never kept by a cache.
            ([(axum::http::header::CACHE_CONTROL, "no-store")], render(&page)).into_response()
        }
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}

#[derive(Template)]
#[template(path = "mail_policy.html")]
struct PolicyPage {
    c: Chrome,
    internal_domains: String,
    delay: u32,
    hold_hours: u32,
    attachment_links: bool,
    link_hours: u32,
    /// (client id, name, its allowed domains one per line)
    clients: Vec<(String, String, String)>,
}

async fn policy_view(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    shown: Option<MailPolicy>,
    done: Option<&str>,
    error: Option<(StatusCode, String)>,
) -> Response {
    let policy = match shown {
        Some(p) => p,
        None => state.core.mail_policy().await.unwrap_or_default(),
    };
    let units =
        state.core.identity.list_org(mamori_domain::identity::OrgKind::Client).await.unwrap_or_default();
    let clients = units
        .into_iter()
        .map(|u| {
            let domains = policy.client_domains.get(&u.id).map(|d| d.join("\n")).unwrap_or_default();
            (u.id, u.name, domains)
        })
        .collect();
    let (status, error) = match error {
        Some((s, e)) => (s, Some(e)),
        None => (StatusCode::OK, None),
    };
    let page = PolicyPage {
        c: Chrome::new(tr, "mail.policy_title", Some(p), csrf_for(Some(p), None), "/admin/settings")
            .notice_key(done)
            .error(error),
        internal_domains: policy.internal_domains.join("\n"),
        delay: policy.self_check_delay_secs,
        hold_hours: policy.hold_hours,
        attachment_links: policy.attachment_links,
        link_hours: policy.link_hours,
        clients,
    };
    (status, render(&page)).into_response()
}

async fn policy_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    axum::extract::Query(done): axum::extract::Query<super::DoneQuery>,
) -> Response {
    policy_view(&state, tr_for(&headers, Some(&p)), &p, None, done.done.as_deref(), None).await
}

/// The rules in a line, for the request a second security admin decides.
pub fn policy_summary(tr: Tr, p: &MailPolicy, client_name: impl Fn(&str) -> String) -> String {
    let mut parts = vec![
        format!("{}: {}", tr.t("mail.internal_domains_short"), p.internal_domains.join(", ")),
        format!("{}: {}", tr.t("mail.delay"), p.self_check_delay_secs),
        format!("{}: {}", tr.t("mail.hold_hours"), p.hold_hours),
    ];
    if p.attachment_links {
        parts.push(format!("{}: {}", tr.t("mail.attachment_links_short"), tr.t("common.yes")));
        parts.push(format!("{}: {}", tr.t("mail.link_hours_short"), p.link_hours));
    }
    for (client, domains) in &p.client_domains {
        let name = Some(client_name(client)).filter(|n| !n.is_empty()).unwrap_or_else(|| client.clone());
        parts.push(format!("{name}: {}", domains.join(", ")));
    }
    parts.join(tr.t("common.list_separator"))
}

fn lines(text: &str) -> Vec<String> {
    text.split(['\n', ',', ' ']).map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

async fn save_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let number = |name: &str| form.text(name).trim().parse::<u32>();
    let link_hours = match form.text("link_hours").trim() {
        "" => Ok(72),
        _ => number("link_hours"),
    };
    let (Ok(delay), Ok(hold_hours), Ok(link_hours)) =
        (number("self_check_delay_secs"), number("hold_hours"), link_hours)
    else {
        let e = (StatusCode::UNPROCESSABLE_ENTITY, tr.t("mail.policy_numbers").to_owned());
        return policy_view(&state, tr, &p, None, None, Some(e)).await;
    };
    let client_domains = form
        .all("client")
        .into_iter()
        .filter_map(|id| {
            let domains = lines(form.text(&format!("domains_{id}")));
            (!domains.is_empty()).then_some((id, domains))
        })
        .collect();
    let policy = MailPolicy {
        internal_domains: lines(form.text("internal_domains")),
        self_check_delay_secs: delay,
        hold_hours,
        client_domains,
        attachment_links: form.text("attachment_links") == "on",
        link_hours,
    };
    match state.core.set_mail_policy(&p, policy.clone(), &ctx).await {
        Ok(_) => Redirect::to("/admin/mail-policy?done=mail_policy_saved").into_response(),
        // A second security admin approves the change first (a privileged action).
        Err(mamori_core::CoreError::ApprovalRequired) => {
            let action = mamori_domain::approval::PrivilegedAction::SetMailPolicy { policy };
            super::privileged::ask(&state, tr, &p, &action, form.text("reason"), &ctx).await
        }
        Err(e) => {
            let refused = (crate::problem::status_of(&e), error_text(tr, &e));
            policy_view(&state, tr, &p, Some(policy), None, Some(refused)).await
        }
    }
}
