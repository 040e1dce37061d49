//! The device rules in the console (issue 5; TW-6, TW-7, MON-2, MON-3): each site's posture
//! policy and approved networks, and the keystroke rate per role above which a minute is
//! signalled. Anyone who reads devices sees them; security admins change them. The same rules
//! are in the API (`/api/v1/sites/{id}/device-policy`, `/api/v1/devices/keystroke-limits`).

use super::{Chrome, DoneQuery, Form, csrf_for, render, tr_for};
use crate::AppState;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_domain::Permission::{DevicesManage, DevicesRead};
use mamori_domain::Role;
use mamori_domain::activity::KeystrokeLimits;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::identity::OrgKind;
use mamori_domain::posture::PosturePolicy;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, "/devices/policy", Needs(DevicesRead), policy_page)
        .add(Method::POST, "/devices/policy/{id}", Needs(DevicesManage), save_site_policy)
        .add(Method::POST, "/devices/keystroke-limits", Needs(DevicesManage), save_keystroke_limits)
}

/// A site's policy as the form shows it: every list one item a line.
pub struct SitePolicyView {
    pub id: String,
    pub name: String,
    pub min_windows: String,
    pub min_linux: String,
    pub max_av_age_days: String,
    pub max_screen_lock_secs: String,
    pub require_disk_encryption: bool,
    pub software_allowlist: String,
    pub approved_networks: String,
}

fn view(id: String, name: String, p: &PosturePolicy) -> SitePolicyView {
    let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    SitePolicyView {
        id,
        name,
        min_windows: p.min_os_build.get("windows").cloned().unwrap_or_default(),
        min_linux: p.min_os_build.get("linux").cloned().unwrap_or_default(),
        max_av_age_days: number(p.max_av_age_days),
        max_screen_lock_secs: number(p.max_screen_lock_secs),
        require_disk_encryption: p.require_disk_encryption,
        software_allowlist: p.software_allowlist.as_deref().unwrap_or_default().join("\n"),
        approved_networks: p.approved_networks.join("\n"),
    }
}

#[derive(Template)]
#[template(path = "device_policy.html")]
struct PolicyPage {
    c: Chrome,
    sites: Vec<SitePolicyView>,
    /// (role, its label key, its limit)
    limits: Vec<(&'static str, String, String)>,
    can_manage: bool,
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    p: &Principal,
    ctx: &RequestContext,
    done: Option<&str>,
    error: Option<String>,
) -> Response {
    let tr = tr_for(headers, Some(p));
    let mut sites = Vec::new();
    let mut unreadable = Vec::new();
    for site in state.core.identity.list_org(OrgKind::Site).await.unwrap_or_default() {
        let policy = match state.core.devices.site_device_policy(p, &site.id, ctx).await {
            Ok(policy) => policy,
            Err(_) => {
                // Its PCs fail `policy_unreadable` until it is saved again; say so first.
                unreadable.push(site.name.clone());
                PosturePolicy::default()
            }
        };
        sites.push(view(site.id, site.name, &policy));
    }
    let error = match (error, unreadable.is_empty()) {
        (Some(e), _) => Some(e),
        (None, false) => Some(format!("{} {}", tr.t("devpolicy.unreadable"), unreadable.join("、"))),
        (None, true) => None,
    };
    let limits = state.core.devices.keystroke_limits(p, ctx).await.unwrap_or_default();
    let limits = Role::ALL
        .iter()
        .map(|r| {
            let limit = limits.per_role.get(r).map(|l| l.to_string()).unwrap_or_default();
            (r.as_str(), format!("role.{}", r.as_str()), limit)
        })
        .collect();
    let c = Chrome::new(tr, "devpolicy.title", Some(p), csrf_for(Some(p), None), "/devices")
        .notice_key(done)
        .error(error);
    render(&PolicyPage { c, sites, limits, can_manage: p.can(DevicesManage) })
}

async fn policy_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Caller(p): Caller,
    Ctx(ctx): Ctx,
    Query(q): Query<DoneQuery>,
) -> Response {
    page(&state, &headers, &p, &ctx, q.done.as_deref(), None).await
}

/// A number field: empty is "no rule"; anything else must be a whole number.
fn number(form: &Form, name: &str) -> Result<Option<u32>, String> {
    match form.optional(name) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("`{v}` is not a whole number ({name})")),
    }
}

/// Lines of a text area, trimmed, empty ones dropped.
fn lines(form: &Form, name: &str) -> Vec<String> {
    form.text(name).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

fn policy_from(form: &Form) -> Result<PosturePolicy, String> {
    let mut min_os_build = std::collections::BTreeMap::new();
    for (family, field) in [("windows", "min_windows"), ("linux", "min_linux")] {
        if let Some(build) = form.optional(field) {
            min_os_build.insert(family.to_owned(), build);
        }
    }
    let allowlist = lines(form, "software_allowlist");
    Ok(PosturePolicy {
        min_os_build,
        max_av_age_days: number(form, "max_av_age_days")?,
        max_screen_lock_secs: number(form, "max_screen_lock_secs")?,
        require_disk_encryption: form.text("require_disk_encryption") == "on",
        software_allowlist: (!allowlist.is_empty()).then_some(allowlist),
        approved_networks: lines(form, "approved_networks"),
        unreadable: false,
    })
}

/// The limits a minute per role; an empty field is no limit for that role.
fn limits_from(form: &Form) -> Result<KeystrokeLimits, String> {
    let mut per_role = std::collections::BTreeMap::new();
    for role in Role::ALL {
        if let Some(limit) = number(form, &format!("limit.{}", role.as_str()))? {
            per_role.insert(role, limit);
        }
    }
    Ok(KeystrokeLimits { per_role })
}

/// Back to the page: with the notice when saved, else with why not (422), nothing changed.
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    p: &Principal,
    ctx: &RequestContext,
    saved: Result<(), String>,
    done: &str,
) -> Response {
    match saved {
        Ok(()) => Redirect::to(&format!("/devices/policy?done={done}")).into_response(),
        Err(why) => {
            let mut r = page(state, headers, p, ctx, None, Some(why)).await;
            *r.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    }
}

async fn save_site_policy(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    // Checked here too, so the page can say exactly which value is wrong.
    let checked = policy_from(&form)
        .and_then(|policy| policy.checked().map_err(|e| e.to_string()))
        .map_err(|why| format!("{}: {why}", tr.t("devpolicy.invalid")));
    let saved = match checked {
        Ok(policy) => state
            .core
            .devices
            .set_site_device_policy(&p, &id, policy, &ctx)
            .await
            .map_err(|e| super::error_text(tr, &e)),
        Err(why) => Err(why),
    };
    answer(&state, &headers, &p, &ctx, saved, "device_policy_saved").await
}

async fn save_keystroke_limits(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let saved = match limits_from(&form) {
        Err(why) => Err(format!("{}: {why}", tr.t("devpolicy.invalid"))),
        Ok(limits) => state
            .core
            .devices
            .set_keystroke_limits(&p, limits, &ctx)
            .await
            .map_err(|e| super::error_text(tr, &e)),
    };
    answer(&state, &headers, &p, &ctx, saved, "keystroke_limits_saved").await
}
