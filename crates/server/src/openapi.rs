//! The OpenAPI document, served at `/api/v1/openapi.json`. Its operations are those of the route
//! table, each as its handler's `#[utoipa::path]` attribute describes it (see `routes.rs`), and
//! each operation's description names the access it needs, taken from the table.
//!
//! What every route answers whatever its handler does — the guard's 401 and 403, the extractors'
//! 400, 404, 413, 415 and 422, the store's 503 — is added here from the route table and the
//! operation's own inputs, so no attribute can forget it; the attributes list only what their
//! handler adds (a 409 for a taken name, a 404 for an id in the body, …).

use axum::http::{Method, header};
use axum::response::IntoResponse;
use mamori_domain::authz::Access;
use mamori_proto as proto;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, Object, ObjectBuilder, Ref, RefOr, Required, Response, Type};

#[derive(OpenApi)]
#[openapi(
    info(title = "Mamori API", description = "Security platform for contact centers. Errors are RFC 9457 problem documents (`application/problem+json`)."),
    components(schemas(proto::Problem, proto::ExportFormat)),
    modifiers(&Truth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// The security scheme of API tokens (and the console's session cookie).
pub const BEARER: &str = "bearer";
/// The security scheme of enrolled agents: a signature per request in `Authorization`.
pub const DEVICE_SIGNATURE: &str = "device_signature";
/// The media type of every error.
pub const PROBLEM_JSON: &str = "application/problem+json";

struct Truth;

impl utoipa::Modify for Truth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("mmr_…")
                    .description(Some("An API token, `Authorization: Bearer mmr_…`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            DEVICE_SIGNATURE,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An enrolled agent's Ed25519 signature over the request (method, path with query, \
                 device id, time, nonce, SHA-256 of the body): `Authorization: MamoriDevice \
                 id=<device id>,ts=<unix ms>,nonce=<32 hex>,sig=<base64>`. See docs/devices.md.",
            ))),
        );
        let (table, described) = crate::routes::all_routes().into_described();
        doc.paths.merge(described.paths);
        components.schemas.extend(described.schemas);
        for (path, item) in doc.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                let Some(access) = table.access(&method, path) else { continue };
                let note = format!("Requires: {access}.");
                op.description = Some(match op.description.take() {
                    Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
                    _ => note,
                });
                match access {
                    Access::Public => op.security = Some(Vec::new()),
                    Access::Device => {
                        op.security =
                            Some(vec![SecurityRequirement::new(DEVICE_SIGNATURE, Vec::<String>::new())])
                    }
                    _ => {}
                }
                declare_path_parameters(path, op);
                for status in common_answers(access, &method, op) {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(status).into());
                }
                errors_are_problems(op);
            }
        }
    }
}

/// The errors an operation can answer before or around its handler: the guard's, the store's
/// and its extractors'.
fn common_answers(access: Access, method: &Method, op: &Operation) -> Vec<u16> {
    let mut out = match access {
        Access::Public => vec![],
        // A bad, replayed or unknown signature; the device is looked up in the store.
        Access::Device => vec![401, 503],
        Access::AnySession if crate::routes::is_safe(method) => vec![401, 503],
        // Not signed in; without the permission, TOTP not enrolled, or no CSRF token with a
        // cookie. Resolving the caller reads the store.
        _ => vec![401, 403, 503],
    };
    let params = op.parameters.as_deref().unwrap_or_default();
    if params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
        // An unknown parameter or a value of the wrong type (`ApiQuery`).
        out.push(400);
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        // An id that names no record (`IdPath`, `IndexPath`).
        out.push(404);
    }
    if let Some(body) = &op.request_body {
        // Over the size limit; not the media type the operation takes.
        out.extend([413, 415]);
        if body.content.contains_key("application/json") {
            // Not JSON; an unknown field or a value of the wrong type (`ApiJson`).
            out.extend([400, 422]);
        }
    }
    out
}

/// Declares the parameters of the path template (`{id}`, `{index}`) the attribute left out.
fn declare_path_parameters(path: &str, op: &mut Operation) {
    for name in template_parameters(path) {
        let params = op.parameters.get_or_insert_with(Vec::new);
        if params.iter().any(|p| p.name == name && p.parameter_in == ParameterIn::Path) {
            continue;
        }
        let (schema, description): (Object, &str) = if name == "index" {
            (
                ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).build(),
                "An entry's index in the audit log, from 0.",
            )
        } else {
            (
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .build(),
                "The record's id, a UUID; anything else names no record (404).",
            )
        };
        let mut p = Parameter::new(name);
        p.parameter_in = ParameterIn::Path;
        p.required = Required::True;
        p.description = Some(description.to_owned());
        p.schema = Some(RefOr::T(schema.into()));
        params.push(p);
    }
}

/// The names in a path template's braces, in order.
pub fn template_parameters(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect()
}

/// A problem document answer.
fn problem(status: u16) -> Response {
    let mut r = Response::new(describe(status));
    r.content.insert(PROBLEM_JSON.to_owned(), Content::new(Some(Ref::from_schema_name("Problem"))));
    r
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => "The body is not JSON, or a query parameter is unknown or of the wrong type.",
        401 => "No valid credential, or a session that still owes its second factor.",
        403 => {
            "The credential lacks the permission, TOTP enrolment is due, a rule forbids it, or a cookie-authenticated change came without its CSRF token."
        }
        404 => "No such record.",
        409 => "It conflicts with what exists (a name is taken, it is done already).",
        410 => "The link or token is used, expired or unknown.",
        413 => "The body is over the size limit.",
        415 => "The body is not of the media type the operation takes.",
        422 => "A value is unknown, of the wrong type, or breaks a rule; `field` names it.",
        429 => "Too many attempts from this address; wait a minute.",
        503 => "The database did not answer; try again.",
        _ => "An error.",
    }
}

/// Errors are sent as `application/problem+json`: an attribute's `body = Problem` says
/// `application/json`, which is not what goes over the wire. Answers the attribute left
/// undescribed get a description.
fn errors_are_problems(op: &mut Operation) {
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        let code: u16 = status.parse().unwrap_or_default();
        if code < 400 {
            if response.description.is_empty() {
                let reason = axum::http::StatusCode::from_u16(code).ok().and_then(|s| s.canonical_reason());
                response.description = reason.unwrap_or_default().to_owned();
            }
            continue;
        }
        if let Some(content) = response.content.shift_remove("application/json") {
            response.content.insert(PROBLEM_JSON.to_owned(), content);
        }
        if response.description.is_empty() {
            response.description = describe(code).to_owned();
        }
    }
}

/// The operations of a path item with their methods.
pub fn operations(item: &mut utoipa::openapi::PathItem) -> Vec<(Method, &mut Operation)> {
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
