//! The web console: server-rendered pages in Japanese and English, no inline script (strict CSP).
//! Every form posts with a CSRF token ([`Form`] checks it) and answers with a page or a redirect.
//! Later features slot into the navigation through [`NAV`].

mod access_reviews;
mod admin;
pub(crate) mod alerts;
mod approvals;
mod audit;
mod auth;
mod checks;
mod customers;
mod device_policy;
mod devices;
mod exports;
mod floor;
mod home;
mod import;
pub(crate) mod incidents;
pub(crate) mod isms;
mod isms_continuity;
mod isms_disposals;
mod isms_internal_audits;
mod isms_legal;
mod isms_registers;
mod isms_transfer;
mod isms_vendor_files;
mod labels;
mod mail;
mod mail_files;
mod notifications;
mod policies;
mod privileged;
mod profile;
mod roster;
mod signals;
mod take_outs;
mod training;
mod workspace;

use crate::AppState;
use crate::i18n::{Tr, negotiate};
use crate::middleware::PreSessionCsrf;
use crate::routes::Routes;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use mamori_core::{CoreError, Credential, Principal};
use mamori_domain::Permission;
use mamori_domain::authz::Access;

pub fn routes(r: Routes) -> Routes {
    use Access::*;
    let r = r
        .add(Method::GET, "/static/mamori.css", Public, stylesheet)
        .add(Method::GET, "/static/mamori.svg", Public, icon)
        .add(Method::GET, "/", Public, auth::home)
        .add(Method::GET, "/signin", Public, auth::signin_page)
        .add(Method::POST, "/signin", Public, auth::signin)
        .add(Method::GET, "/signin/totp", PendingSecondFactor, auth::totp_page)
        .add(Method::POST, "/signin/totp", PendingSecondFactor, auth::totp)
        .add(Method::POST, "/signout", AnySession, auth::signout)
        .add(Method::GET, "/setup", Public, auth::setup_page)
        .add(Method::POST, "/setup", Public, auth::setup)
        .add(Method::GET, "/invite", Public, auth::invite_page)
        .add(Method::POST, "/invite", Public, auth::accept_invite)
        .add(Method::GET, "/enrol-totp", EnrolmentAllowed, auth::enrol_page)
        .add(Method::POST, "/enrol-totp", EnrolmentAllowed, auth::enrol)
        .add(Method::GET, "/dashboard", SignedIn, home::home);
    let r = access_reviews::routes(r);
    let r = profile::routes(r);
    let r = mail_files::routes(r);
    let r = audit::routes(r);
    let r = workspace::routes(r);
    let r = devices::routes(r);
    let r = device_policy::routes(r);
    let r = signals::routes(r);
    let r = alerts::routes(r);
    let r = incidents::routes(r);
    let r = isms::routes(r);
    let r = isms_registers::routes(r);
    let r = isms_legal::routes(r);
    let r = isms_disposals::routes(r);
    let r = isms_continuity::routes(r);
    let r = checks::routes(r);
    let r = isms_internal_audits::routes(r);
    let r = policies::routes(r);
    let r = training::routes(r);
    let r = isms_transfer::routes(r);
    let r = isms_vendor_files::routes(r);
    let r = floor::routes(r);
    let r = approvals::routes(r);
    let r = exports::routes(r);
    let r = take_outs::routes(r);
    let r = mail::routes(r);
    let r = notifications::routes(r);
    let r = privileged::routes(r);
    let r = roster::routes(r);
    let r = customers::routes(r);
    let r = import::routes(r);
    admin::routes(r)
}

/// `?done=key` after a redirect: which notice to show.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// Where a navigation entry sits: the day's work, oversight, administration — in that order,
/// set apart — or one's own pages, beside one's name. Grouped so an admin's menu fits one line
/// at 1366 px (issue 14, item 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavGroup {
    Work,
    Oversight,
    Admin,
    Own,
}

/// One navigation entry: shown to whoever may open it.
pub struct NavEntry {
    pub href: &'static str,
    pub label: &'static str,
    pub needs: Option<Permission>,
    pub group: NavGroup,
}

const fn entry(
    href: &'static str,
    label: &'static str,
    needs: Option<Permission>,
    group: NavGroup,
) -> NavEntry {
    NavEntry { href, label, needs, group }
}

/// The console's navigation, in order. A feature adds its pages here.
pub const NAV: &[NavEntry] = {
    use NavGroup::*;
    use Permission::*;
    &[
        entry("/dashboard", "nav.dashboard", None, Work),
        entry("/workspace", "nav.workspace", Some(CustomersRead), Work),
        entry("/floor", "nav.floor", Some(DevicesRead), Work),
        entry("/signals", "nav.signals", Some(DevicesRead), Work),
        entry("/alerts", "nav.alerts", Some(AlertsRead), Work),
        entry("/incidents", "nav.incidents", Some(IncidentsRead), Work),
        entry("/devices", "nav.devices", Some(DevicesRead), Work),
        entry("/approvals", "nav.approvals", None, Work),
        entry("/mail", "nav.mail", None, Work),
        entry("/audit", "nav.audit", Some(AuditRead), Oversight),
        entry("/isms", "isms.nav", Some(IsmsRead), Oversight),
        entry("/access-reviews", "nav.access_reviews", Some(AccessReviewsRead), Oversight),
        entry("/admin/users", "nav.users", Some(UsersRead), Admin),
        entry("/admin/org", "nav.org", Some(OrgRead), Admin),
        entry("/admin/tokens", "nav.tokens", Some(TokensManage), Admin),
        entry("/admin/vault-policy", "nav.vault_policy", Some(CustomersManage), Admin),
        entry("/admin/settings", "nav.settings", Some(SettingsManage), Admin),
        entry("/policies", "nav.policies", Some(PoliciesRead), Own),
        entry("/training", "nav.training", Some(TrainingTake), Own),
        entry("/checks", "nav.checks", Some(ChecksDo), Own),
        entry("/my-pc", "nav.my_pc", None, Own),
        entry("/profile", "nav.profile", None, Own),
    ]
};

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
    /// The first of its group after another: drawn set apart.
    pub group_start: bool,
}

/// What every page shows around its content.
pub struct Chrome {
    pub tr: Tr,
    pub title: &'static str,
    /// The signed-in user's display name; none on sign-in pages.
    pub user: Option<String>,
    pub nav: Vec<NavItem>,
    /// One's own pages (my PC, account), beside one's name.
    pub own: Vec<NavItem>,
    pub csrf: String,
    pub notice: Option<String>,
    pub error: Option<String>,
}

impl Chrome {
    pub fn new(
        tr: Tr,
        title: &'static str,
        principal: Option<&Principal>,
        csrf: String,
        current: &str,
    ) -> Self {
        let full = principal.filter(|p| {
            !p.must_enrol_totp && !matches!(p.via, Credential::Session { awaiting_second_factor: true, .. })
        });
        let shown: Vec<&NavEntry> = match full {
            Some(p) => NAV.iter().filter(|e| e.needs.is_none_or(|perm| p.can(perm))).collect(),
            None => Vec::new(),
        };
        let items = |own: bool| {
            let mut last = None;
            shown
                .iter()
                .filter(|e| (e.group == NavGroup::Own) == own)
                .map(|e| {
                    let group_start = last.is_some_and(|g| g != e.group);
                    last = Some(e.group);
                    NavItem { href: e.href, label: e.label, active: current.starts_with(e.href), group_start }
                })
                .collect::<Vec<_>>()
        };
        let (nav, own) = (items(false), items(true));
        Chrome {
            tr,
            title,
            user: principal.map(|p| p.user.display_name.clone()),
            nav,
            own,
            csrf,
            notice: None,
            error: None,
        }
    }

    pub fn error(mut self, e: Option<String>) -> Self {
        self.error = e;
        self
    }

    /// A notice chosen by key from `?done=` (never free text from the URL).
    pub fn notice_key(mut self, key: Option<&str>) -> Self {
        self.notice = key.and_then(|k| self.tr.get(&format!("done.{k}"))).map(str::to_owned);
        self
    }
}

/// A risky action's confirmation step (issue 14, item 7): GET shows what will happen to whom,
/// with 実行 and キャンセル; the form POSTs to the action itself, with the session's CSRF token
/// like every other form. No script, so it works under the console's CSP.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
    /// "本当に DEMO-PC-07（山田 花子）をロックしますか？"
    pub question: String,
    /// What follows, a sentence a line.
    pub effects: Vec<String>,
    /// Where the form POSTs.
    pub action: String,
    /// Hidden fields the action takes (besides the CSRF token).
    pub fields: Vec<(String, String)>,
    /// The message to show is typed here (a `message` command).
    pub ask_message: bool,
    /// Where キャンセル goes back to.
    pub cancel: String,
    /// The button is red: the action cannot be taken back.
    pub danger: bool,
}

/// "DEMO-PC-07（山田 花子）": a PC and the person it belongs to, or the PC alone.
pub fn pc_of(tr: Tr, hostname: &str, person: Option<&str>) -> String {
    match person {
        Some(name) => tr.t("confirm.pc_of").replace("{pc}", hostname).replace("{user}", name),
        None => hostname.to_owned(),
    }
}

/// The language for this request and user.
pub fn tr_for(headers: &HeaderMap, principal: Option<&Principal>) -> Tr {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Tr(negotiate(principal.and_then(|p| p.user.language.as_deref()), accept))
}

/// The CSRF token forms on this page carry: the session's once signed in, else the cookie's.
pub fn csrf_for(principal: Option<&Principal>, pre: Option<&PreSessionCsrf>) -> String {
    match principal.map(|p| &p.via) {
        Some(Credential::Session { csrf_token, .. }) => csrf_token.clone(),
        _ => pre.map(|c| c.0.clone()).unwrap_or_default(),
    }
}

/// Renders a template, or a plain error if the template fails (it should not).
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "page could not be rendered").into_response()
        }
    }
}

/// A service error as a sentence in the page's language.
/// How a live part of a page follows changes ([`live_stream`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Liveness {
    /// The longest it goes without a fresh rendering (changes through another replica).
    pub refresh: std::time::Duration,
    /// Changes arriving together wait this long to make one rendering.
    pub settle: std::time::Duration,
}

/// The approvals inbox and the alerts list: every change at once, at least every 15 s.
pub(crate) const LIVE_LISTS: Liveness =
    Liveness { refresh: std::time::Duration::from_secs(15), settle: std::time::Duration::ZERO };

/// A live part of a page as server-sent events (`live`, read by `live.js`): rendered at once,
/// then after each change signalled on `changes` and at least every `refresh`. A stream ends
/// after a minute and the browser comes back half a second later through the session check, so
/// a revoked session stops seeing it; a rendering that fails ends it too (the reconnection then
/// meets the error itself).
pub(crate) fn live_stream<F, Fut>(
    changes: tokio::sync::watch::Receiver<u64>,
    how: Liveness,
    render: F,
) -> Response
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<String>> + Send,
{
    use axum::response::sse::{Event, KeepAlive, Sse};
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let events = futures_util::stream::unfold(
        (changes, render, true),
        move |(mut changes, mut render, first)| async move {
            if !first {
                let wake = tokio::time::timeout(how.refresh, changes.changed());
                match tokio::time::timeout_at(until, wake).await {
                    Err(_) | Ok(Ok(Err(_))) => return None,
                    Ok(_) => tokio::time::sleep(how.settle).await,
                }
                changes.borrow_and_update();
            }
            let html = render().await?;
            let event =
                Event::default().event("live").retry(std::time::Duration::from_millis(500)).data(html);
            Some((Ok::<_, std::convert::Infallible>(event), (changes, render, false)))
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

pub fn error_text(tr: Tr, e: &CoreError) -> String {
    if let CoreError::Store(_) | CoreError::Internal(_) = e {
        tracing::error!(error = %e, "console request failed");
    }
    // A four-eyes refusal in words of its own (one's own request, no step-up, a used grant …).
    if let CoreError::ApprovalRefused { reason, .. } = e
        && let Some(text) = tr.get(&format!("approval_refused.{reason}"))
    {
        return text.to_owned();
    }
    match tr.get(&format!("error.{}", e.code())) {
        Some(s) => s.to_owned(),
        None => e.to_string(),
    }
}

/// A posted form, its CSRF token checked. Fields are read by name; repeated names (check boxes)
/// with [`Form::all`].
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn text(&self, name: &str) -> &str {
        self.pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        Some(self.text(name).trim()).filter(|s| !s.is_empty()).map(str::to_owned)
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let principal = req.extensions().get::<Principal>().cloned();
        let pre = req.extensions().get::<PreSessionCsrf>().cloned();
        let ctx = req.extensions().get::<mamori_audit::RequestContext>().cloned().unwrap_or_default();
        let (method, matched) =
            (req.method().clone(), req.extensions().get::<axum::extract::MatchedPath>().cloned());
        let tr = tr_for(req.headers(), principal.as_ref());
        let expected = csrf_for(principal.as_ref(), pre.as_ref());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| message_page(tr, e.status(), "error.form_unreadable"))?;
        let pairs: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let form = Form { pairs };
        let posted =
            Posted { principal: principal.as_ref(), ctx: &ctx, method: &method, matched: matched.as_ref() };
        check_csrf(state, tr, &posted, &expected, form.text("_csrf")).await?;
        Ok(form)
    }
}

/// Who posted a form, and where: what a CSRF refusal records.
pub struct Posted<'a> {
    pub principal: Option<&'a Principal>,
    pub ctx: &'a mamori_audit::RequestContext,
    pub method: &'a Method,
    pub matched: Option<&'a axum::extract::MatchedPath>,
}

/// The one CSRF check of posted forms ([`Form`], and the import's file upload): the token sent
/// must be the one expected, compared in constant time; a refusal is recorded and answered with
/// a page.
pub async fn check_csrf(
    state: &AppState,
    tr: Tr,
    posted: &Posted<'_>,
    expected: &str,
    sent: &str,
) -> Result<(), Response> {
    let matches = bool::from(subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), expected.as_bytes()));
    if expected.is_empty() || !matches {
        let actor = posted.principal.map_or(mamori_audit::Actor::Anonymous, Principal::actor);
        let refusal = crate::routes::route_refusal(actor, posted.method, posted.matched, "csrf");
        state.core.audit.record_denied(posted.ctx, refusal).await;
        return Err(message_page(tr, StatusCode::FORBIDDEN, "error.csrf"));
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    c: Chrome,
    message: String,
}

/// A page that only says something (errors, refusals).
pub fn message_page(tr: Tr, status: StatusCode, key: &'static str) -> Response {
    let c = Chrome::new(tr, "message.title", None, String::new(), "");
    let page = MessagePage { message: tr.t(key).to_owned(), c };
    (status, render(&page)).into_response()
}

/// A page that says a sentence already in the page's language.
pub fn message_page_text(tr: Tr, status: StatusCode, message: String) -> Response {
    let c = Chrome::new(tr, "message.title", None, String::new(), "");
    (status, render(&MessagePage { c, message })).into_response()
}

/// A file over the console import's limit, before it is read: the limit and what to do.
pub fn import_too_large_page(headers: &HeaderMap) -> Response {
    import::too_large_page(tr_for(headers, None))
}

pub fn forbidden_page(headers: &HeaderMap) -> Response {
    message_page(tr_for(headers, None), StatusCode::FORBIDDEN, "error.forbidden_page")
}

pub fn internal_error_page(headers: &HeaderMap) -> Response {
    message_page(tr_for(headers, None), StatusCode::INTERNAL_SERVER_ERROR, "error.internal_page")
}

pub fn not_found_page(req: &Request) -> Response {
    message_page(tr_for(req.headers(), None), StatusCode::NOT_FOUND, "error.not_found_page")
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
        .into_response()
}

async fn stylesheet() -> Response {
    static_file("text/css; charset=utf-8", include_str!("../../static/mamori.css"))
}

async fn icon() -> Response {
    static_file("image/svg+xml", include_str!("../../static/mamori.svg"))
}

/// Unix milliseconds as the site's local time (Asia/Tokyo, UTC+9, no daylight saving).
pub fn local_time(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else { return String::new() };
    let offset = time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC);
    t.to_offset(offset)
        .format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"))
        .unwrap_or_default()
}
