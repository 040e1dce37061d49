//! The OpenAPI document, served at `/api/v1/openapi.json`. Each operation's description names the
//! access it needs, taken from the route table, and a test checks that the document and the
//! table list the same routes.

use crate::api;
use axum::http::header;
use axum::response::IntoResponse;
use mamori_proto as proto;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mamori API", description = "Security platform for contact centers. Errors are RFC 9457 problem documents."),
    paths(
        api::healthz, api::readyz, api::me,
        api::list_users, api::invite_user, api::get_user, api::update_user,
        api::disable_user, api::enable_user, api::unlock_user, api::reset_totp, api::reinvite_user,
        api::end_user_sessions,
        api::list_sites, api::create_site, api::list_teams, api::create_team, api::list_clients, api::create_client,
        api::list_tokens, api::create_token, api::revoke_token,
        api::audit::search, api::audit::export, api::audit::checkpoint, api::audit::entry_proof, api::audit::consistency,
        api::customers::create, api::customers::lookup, api::customers::reveal, api::customers::call_started, api::customers::call_ended,
        api::customers::import, api::customers::add_note, api::customers::correct, api::customers::disclose, api::customers::erase,
        api::customers::get_policy, api::customers::put_policy,
        api::devices::enrol, api::devices::inventory, api::devices::heartbeat,
        api::devices::create_enrolment, api::devices::list, api::devices::detail, api::devices::revoke,
        api::devices::poll, api::devices::command_result, api::devices::issue_command, api::devices::list_commands,
        api::devices::events, api::devices::list_events,
        api::devices::get_site_policy, api::devices::put_site_policy, api::devices::put_user_networks,
        api::devices::list_activity, api::devices::get_keystroke_limits, api::devices::put_keystroke_limits,
        api::devices::get_user_shifts, api::devices::put_user_shifts,
        api::security_events, api::get_settings, api::put_settings,
    ),
    components(schemas(proto::Problem)),
    modifiers(&Security),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("mmr_…").build(),
            ),
        );
        let table = crate::routes::all_routes().into_parts().1;
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                if let Some(access) = table.access(&method, path) {
                    let note = format!("Requires: {access}.");
                    op.description = Some(match op.description.take() {
                        Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                        _ => note,
                    });
                }
            }
        }
    }
}

/// The operations of a path item with their methods.
pub fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> Vec<(axum::http::Method, &mut utoipa::openapi::path::Operation)> {
    use axum::http::Method;
    [
        (Method::GET, item.get.as_mut()),
        (Method::POST, item.post.as_mut()),
        (Method::PUT, item.put.as_mut()),
        (Method::PATCH, item.patch.as_mut()),
        (Method::DELETE, item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|o| (m, o)))
    .collect()
}

/// The document as JSON.
pub fn json() -> String {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default()).clone()
}

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}
