//! `/mail-files/{token}` (issue 15, item 5): where an external recipient downloads an attachment
//! that left as a one-time link. No sign-in — the recipient is outside the center; the link's
//! token is what authorises. GET shows the file and never takes a download (mail security
//! gateways open the links of the mail they pass); the page's button POSTs to the same path,
//! which takes one download and hands the file out. An unknown, expired or used-up link gets
//! one and the same page (404), so a guess learns nothing. The recipient's language is not
//! known: the page speaks the browser's, with its sentences in the other language beneath.

use super::{Chrome, error_text, local_time, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::Ctx;
use crate::routes::Routes;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mamori_core::CoreError;
use mamori_domain::authz::Access::Public;
use mamori_domain::identity::Language;

pub fn routes(r: Routes) -> Routes {
    // The POST is public and carries no CSRF token, deliberately: it has no ambient authority to
    // abuse (no cookie is read; the secret is the token in the path, which a forging site would
    // need to know already), and the recipient's browser has no session with us to protect. So
    // the handler takes no `Form` — the console's CSRF check lives in that extractor.
    r.add(Method::GET, "/mail-files/{token}", Public, file_page).add(
        Method::POST,
        "/mail-files/{token}",
        Public,
        download,
    )
}

#[derive(Template)]
#[template(path = "mail_file.html")]
struct FilePage {
    c: Chrome,
    /// The other of Japanese and English.
    other: Tr,
    token: String,
    name: String,
    size: String,
    expires: String,
    left: i64,
}

fn size_text(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{} KB", (b + 1023) / 1024),
        b => format!("{b} B"),
    }
}

/// The other of Japanese and English.
fn other_language(tr: Tr) -> Tr {
    Tr(match tr.0 {
        Language::Ja => Language::En,
        Language::En => Language::Ja,
    })
}

/// The one answer to a link that cannot be used, whatever the reason, in both languages.
fn gone(tr: Tr) -> Response {
    let text = format!("{}\n{}", tr.t("mail_files.gone"), other_language(tr).t("mail_files.gone"));
    super::message_page_text(tr, StatusCode::NOT_FOUND, text)
}

fn refused(tr: Tr, e: &CoreError) -> Response {
    match e {
        CoreError::NotFound { .. } => gone(tr),
        other => super::message_page_text(tr, crate::problem::status_of(other), error_text(tr, other)),
    }
}

async fn file_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let tr = tr_for(&headers, None);
    // A path that is not even text is refused like an unknown link (and recorded as one).
    let token = token.map(|Path(t)| t).unwrap_or_default();
    match state.core.mail_file(&token, &ctx).await {
        Ok(f) => {
            let page = FilePage {
                c: Chrome::new(tr, "mail_files.title", None, String::new(), ""),
                other: other_language(tr),
                name: f.name,
                size: size_text(f.size),
                expires: format!("{} JST", local_time(f.expires_at.0)),
                left: f.downloads_left,
                token,
            };
            render(&page)
        }
        Err(e) => refused(tr, &e),
    }
}

async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let tr = tr_for(&headers, None);
    let token = token.map(|Path(t)| t).unwrap_or_default();
    let file = match state.core.download_mail_file(&token, &ctx).await {
        Ok(f) => f,
        Err(e) => return refused(tr, &e),
    };
    let mut resp = file.bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(served_type(&file.content_type)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&crate::download::content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// The type the sender's mail program gave, when it is one a browser does not run or render
/// as a page of ours; anything else is served as bytes.
fn served_type(recorded: &str) -> &'static str {
    const HARMLESS: &[&str] = &[
        "application/pdf",
        "application/zip",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "image/png",
        "image/jpeg",
        "image/gif",
        "text/csv",
        "text/plain",
    ];
    HARMLESS
        .iter()
        .copied()
        .find(|t| t.eq_ignore_ascii_case(recorded.trim()))
        .unwrap_or("application/octet-stream")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_types_are_served_as_recorded() {
        assert_eq!(served_type("application/pdf"), "application/pdf");
        assert_eq!(served_type("text/html"), "application/octet-stream");
        assert_eq!(served_type("image/svg+xml"), "application/octet-stream");
        assert_eq!(served_type("text/plain\r\nX-Evil: 1"), "application/octet-stream");
    }
}
