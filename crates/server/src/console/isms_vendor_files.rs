//! A vendor's evidence files on its page (issue 17, item 5): the list (name, size, who, when)
//! with download links to the API's route (it takes the console's session), and for
//! `isms.manage` an upload form — a multipart POST, its CSRF token checked like the customers'
//! import. Sealing and checks are `mamori_core::isms::vendor_files`'.

use super::isms::{actor_name, segment};
use super::{Posted, check_csrf, csrf_for, message_page, message_page_text, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{CONSOLE_VENDOR_FILE_LIMIT, status_of};
use crate::routes::Routes;
use axum::extract::{MatchedPath, Multipart, Path, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use mamori_audit::RequestContext;
use mamori_core::Principal;
use mamori_core::isms::vendor_files::NewVendorFile;
use mamori_domain::Permission::IsmsManage;
use mamori_domain::authz::Access::Permission as Needs;
use std::collections::HashMap;

pub fn routes(r: Routes) -> Routes {
    r.add(
        Method::POST,
        "/isms/vendors/{id}/files",
        Needs(IsmsManage),
        upload.layer(axum::extract::DefaultBodyLimit::max(CONSOLE_VENDOR_FILE_LIMIT)),
    )
}

/// One file as the vendor's page lists it.
pub struct FileRow {
    pub name: String,
    pub media_type: String,
    pub size: String,
    pub who: String,
    pub when: String,
    pub note: String,
    pub href: String,
}

fn size_text(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A vendor's files for its page (none when they cannot be read).
pub(super) async fn file_rows(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    ctx: &RequestContext,
    vendor_id: &str,
) -> Vec<FileRow> {
    let files = state.core.isms.vendor_files(p, vendor_id, ctx).await.unwrap_or_default();
    let names: HashMap<String, String> = files
        .iter()
        .filter_map(|f| Some((f.record.uploaded_by.clone(), f.uploaded_by_name.clone()?)))
        .collect();
    files
        .into_iter()
        .map(|f| {
            let r = f.record;
            FileRow {
                href: format!("/api/v1/isms/vendors/{}/files/{}", segment(&r.vendor_id), segment(&r.id)),
                size: size_text(r.size),
                who: actor_name(tr, &r.uploaded_by, &names),
                when: super::isms::jst_minute(r.uploaded_at.0),
                name: r.name,
                media_type: r.media_type,
                note: r.note,
            }
        })
        .collect()
}

/// The upload as sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    note: String,
    file_name: String,
    media_type: String,
    file: Vec<u8>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, StatusCode> {
    let mut up = Upload::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            up.file_name = field.file_name().unwrap_or_default().to_owned();
            up.media_type = field.content_type().unwrap_or_default().to_owned();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.status())? {
                up.file.extend_from_slice(&chunk);
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        match name.as_str() {
            "_csrf" => up.csrf = text,
            "note" => up.note = text,
            _ => {}
        }
    }
    Ok(up)
}

/// The media type of a file a browser sent as `application/octet-stream` (or without one),
/// from its name's extension; the core checks it against the content either way.
fn media_type_by_name(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "txt" => "text/plain",
        "csv" => "text/csv",
        _ => return None,
    })
}

async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
    Path(id): Path<String>,
    matched: Option<MatchedPath>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let tr = tr_for(&headers, Some(&p));
    let up = match multipart {
        Ok(m) => read_upload(m).await,
        Err(e) => Err(e.status()),
    };
    let posted = Posted { principal: Some(&p), ctx: &ctx, method: &Method::POST, matched: matched.as_ref() };
    let expected = csrf_for(Some(&p), None);
    let up = match up {
        Ok(up) => up,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return message_page_text(
                tr,
                StatusCode::PAYLOAD_TOO_LARGE,
                tr.t("vendor_files.too_large").to_owned(),
            );
        }
        // Not a readable multipart form: no token to check, refused as one without it.
        Err(_) => {
            let refused = check_csrf(&state, tr, &posted, &expected, "").await.err();
            return refused
                .unwrap_or_else(|| message_page(tr, StatusCode::BAD_REQUEST, "error.form_unreadable"));
        }
    };
    if let Err(refused) = check_csrf(&state, tr, &posted, &expected, &up.csrf).await {
        return refused;
    }
    let claimed = up.media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let media_type = if claimed.is_empty() || claimed == "application/octet-stream" {
        media_type_by_name(&up.file_name).unwrap_or("application/octet-stream").to_owned()
    } else {
        claimed
    };
    let file = NewVendorFile {
        name: up.file_name,
        media_type,
        content: up.file,
        note: Some(up.note),
        visit_id: None,
    };
    match state.core.isms.attach_vendor_file(&p, &id, file, &ctx).await {
        Ok(_) => {
            Redirect::to(&format!("/isms/vendors/{}?saved=1#vendor-files", segment(&id))).into_response()
        }
        Err(e) => message_page_text(tr, status_of(&e), super::error_text(tr, &e)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_words() {
        assert_eq!(super::size_text(512), "512 B");
        assert_eq!(super::size_text(2048), "2.0 KiB");
        assert_eq!(super::size_text(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(super::media_type_by_name("scan.JPG"), Some("image/jpeg"));
    }
}
