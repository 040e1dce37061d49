//! Who is told of alerts and incidents by e-mail (issue 16, item 6): the form on the settings
//! page, saved at `/admin/mail-routing`.

use super::{Form, error_text, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::routes::Routes;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_domain::Permission::SettingsManage;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::detect::Severity;
use mamori_domain::identity::OrgKind;
use mamori_domain::notify::{ClientRoute, MailRouting};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::POST, "/admin/mail-routing", Needs(SettingsManage), save_mail_routing)
}

/// A client company's row of the form.
pub struct ClientRouteRow {
    pub id: String,
    pub name: String,
    /// A severity's name, or empty: no route.
    pub from: String,
    pub addresses: String,
}

/// The routing as the settings page shows it.
pub struct RoutingView {
    pub security_team_from: String,
    pub supervisors_from: String,
    pub incidents: bool,
    pub clients: Vec<ClientRouteRow>,
    /// (value, label) of each severity, most severe first.
    pub severities: Vec<(&'static str, &'static str)>,
}

pub async fn routing_view(state: &AppState, tr: Tr) -> RoutingView {
    let routing = state.core.mail_routing().await.unwrap_or_default();
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    let name = |s: Option<Severity>| s.map_or(String::new(), |s| s.as_str().to_owned());
    RoutingView {
        security_team_from: name(routing.security_team_from),
        supervisors_from: name(routing.supervisors_from),
        incidents: routing.incidents_to_security_team,
        clients: clients
            .into_iter()
            .map(|c| {
                let route = routing.clients.get(&c.id);
                ClientRouteRow {
                    from: name(route.map(|r| r.from)),
                    addresses: route.map(|r| r.addresses.join(", ")).unwrap_or_default(),
                    id: c.id,
                    name: c.name,
                }
            })
            .collect(),
        severities: Severity::ALL
            .into_iter()
            .map(|s| {
                (s.as_str(), tr.get(&format!("audit_value.severity.{}", s.as_str())).unwrap_or(s.as_str()))
            })
            .collect(),
    }
}

/// A severity chosen in the form; empty is none, anything else is refused.
fn severity(form: &Form, field: &str) -> Result<Option<Severity>, ()> {
    match form.text(field).trim() {
        "" => Ok(None),
        s => Severity::parse(s).map(Some).ok_or(()),
    }
}

async fn save_mail_routing(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    form: Form,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let refused = || {
        super::message_page_text(
            tr,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            tr.t("settings.mail_routing_invalid").to_owned(),
        )
    };
    let (Ok(security_team_from), Ok(supervisors_from)) =
        (severity(&form, "security_team_from"), severity(&form, "supervisors_from"))
    else {
        return refused();
    };
    let mut routing = MailRouting {
        security_team_from,
        supervisors_from,
        incidents_to_security_team: form.text("incidents_to_security_team") == "on",
        clients: Default::default(),
    };
    for id in form.all("client_ids") {
        let Ok(from) = severity(&form, &format!("client_from_{id}")) else { return refused() };
        let addresses: Vec<String> = form
            .text(&format!("client_addresses_{id}"))
            .split([',', ' ', '\n', '\r', '、'])
            .filter(|a| !a.trim().is_empty())
            .map(|a| a.trim().to_owned())
            .collect();
        if let Some(from) = from.filter(|_| !addresses.is_empty()) {
            routing.clients.insert(id, ClientRoute { from, addresses });
        }
    }
    match state.core.set_mail_routing(&p, routing, &ctx).await {
        Ok(_) => Redirect::to("/admin/settings?done=mail_routing_saved").into_response(),
        Err(e) => super::message_page_text(tr, crate::problem::status_of(&e), error_text(tr, &e)),
    }
}
