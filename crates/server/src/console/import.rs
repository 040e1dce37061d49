//! The customer CSV import for security admins (issue 14, item 9a; TW-5): a file uploaded
//! (multipart), its client company and encoding chosen; a dry run that lists the problems in
//! words — line, field, what is wrong — and writes nothing; then the import, all or nothing,
//! with how many were imported.
//!
//! The file is held in memory for the one request, up to [`crate::problem::CONSOLE_IMPORT_LIMIT`],
//! and checked and imported inline: a file of that size takes some seconds, so the page answers
//! when it is done with the count (see docs/design-notes.md). Larger files go through
//! `mamori customers import` or the API, which stream. Nothing of the file is kept after the
//! request: a dry run's file is chosen again for the import.

use super::workspace::field_label;
use super::{Chrome, Posted, check_csrf, csrf_for, message_page, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{CONSOLE_IMPORT_LIMIT, CONSOLE_IMPORT_PATH};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{MatchedPath, Multipart, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use mamori_core::Principal;
use mamori_core::vault::import::{CsvEncoding, ImportError, ImportProblem, ProblemKind};
use mamori_domain::Permission::CustomersManage;
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::customer::CustomerField;
use mamori_domain::identity::OrgKind;

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, CONSOLE_IMPORT_PATH, Needs(CustomersManage), import_page).add(
        Method::POST,
        CONSOLE_IMPORT_PATH,
        Needs(CustomersManage),
        upload.layer(axum::extract::DefaultBodyLimit::max(CONSOLE_IMPORT_LIMIT)),
    )
}

/// What a run came to.
pub enum Outcome {
    /// A dry run found nothing wrong in this many rows.
    Checked(u64),
    /// Imported, this many.
    Imported(u64),
    /// Refused: the problems listed (in words) and how many there were in all; `dry` when it
    /// was a dry run.
    Refused { problems: Vec<String>, total: u64, dry: bool },
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    c: Chrome,
    /// (id, name, selected)
    clients: Vec<(String, String, bool)>,
    encoding: String,
    /// (column name, its label)
    columns: Vec<(&'static str, String)>,
    limit_mib: usize,
    outcome: Option<Outcome>,
    /// An import under way: the page is sent in parts, its progress as it goes (see
    /// [`stream_import`]).
    running: bool,
}

/// A run's outcome alone, sent at the end of a streamed import.
#[derive(Template)]
#[template(path = "import_outcome.html")]
struct OutcomePart {
    tr: Tr,
    o: Outcome,
}

async fn page(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    client_id: &str,
    encoding: &str,
    outcome: Option<Outcome>,
    error: Option<String>,
) -> Response {
    let status = match (&error, &outcome) {
        (Some(_), _) | (_, Some(Outcome::Refused { .. })) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    (status, render(&import_page_of(state, tr, p, client_id, encoding, outcome, error).await)).into_response()
}

async fn import_page_of(
    state: &AppState,
    tr: Tr,
    p: &Principal,
    client_id: &str,
    encoding: &str,
    outcome: Option<Outcome>,
    error: Option<String>,
) -> ImportPage {
    let clients = state.core.identity.list_org(OrgKind::Client).await.unwrap_or_default();
    let c = Chrome::new(tr, "import.title", Some(p), csrf_for(Some(p), None), super::customers::CURRENT)
        .error(error);
    ImportPage {
        c,
        clients: clients.into_iter().map(|u| (u.id.clone(), u.name, u.id == client_id)).collect(),
        encoding: encoding.to_owned(),
        columns: CustomerField::ALL.iter().map(|f| (f.as_str(), field_label(tr, *f))).collect(),
        limit_mib: CONSOLE_IMPORT_LIMIT / (1024 * 1024),
        outcome,
        running: false,
    }
}

async fn import_page(State(state): State<AppState>, headers: HeaderMap, Caller(p): Caller) -> Response {
    let tr = tr_for(&headers, Some(&p));
    page(&state, tr, &p, "", "utf-8", None, None).await
}

/// A problem in words: "3行目（電話番号）: 電話番号の形式ではありません…".
pub fn problem_text(tr: Tr, p: &ImportProblem) -> String {
    let field = p.column.as_deref().and_then(CustomerField::parse);
    let mut place = tr.t("import.line").replace("{n}", &p.line.to_string());
    match (field, &p.kind, p.column.as_deref()) {
        (Some(f), _, _) => place.push_str(&tr.t("import.in_field").replace("{field}", &field_label(tr, f))),
        (None, ProblemKind::UnknownColumn | ProblemKind::SecurityCodeColumn, Some(c)) => {
            place.push_str(&tr.t("import.in_column").replace("{column}", c))
        }
        _ => {}
    }
    let what = match p.kind {
        ProblemKind::Value(code) => {
            let specific = p.column.as_deref().and_then(|c| tr.get(&format!("import_problem.{code}_{c}")));
            specific
                .or_else(|| tr.get(&format!("import_problem.{code}")))
                .or_else(|| tr.get(&format!("error.{code}")))
                .unwrap_or(p.message.as_str())
                .to_owned()
        }
        ProblemKind::Cells { expected, found } => tr
            .t("import_problem.cells")
            .replace("{expected}", &expected.to_string())
            .replace("{found}", &found.to_string()),
        ProblemKind::UnknownColumn => tr.t("import_problem.unknown_column").to_owned(),
        ProblemKind::SecurityCodeColumn => tr.t("import_problem.security_code_column").to_owned(),
        ProblemKind::NoHeader => tr.t("import_problem.no_header").to_owned(),
        ProblemKind::NotUtf8 => tr.t("import_problem.not_utf8").to_owned(),
        ProblemKind::NotShiftJis => tr.t("import_problem.not_shift_jis").to_owned(),
        ProblemKind::RowTooLong => tr.t("import_problem.row_too_long").to_owned(),
        ProblemKind::NoRows => tr.t("import_problem.no_rows").to_owned(),
        ProblemKind::Unreadable => tr.t("import_problem.unreadable").to_owned(),
    };
    format!("{place}: {what}")
}

/// The upload as sent: its small fields and the file.
#[derive(Default)]
struct Upload {
    csrf: String,
    client_id: String,
    encoding: String,
    mode: String,
    file: Vec<u8>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, StatusCode> {
    let mut up = Upload::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            while let Some(chunk) = field.chunk().await.map_err(|e| e.status())? {
                up.file.extend_from_slice(&chunk);
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        match name.as_str() {
            "_csrf" => up.csrf = text,
            "client_id" => up.client_id = text,
            "encoding" => up.encoding = text,
            "mode" => up.mode = text,
            _ => {}
        }
    }
    Ok(up)
}

async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Ctx(ctx): Ctx,
    Caller(p): Caller,
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
        Err(StatusCode::PAYLOAD_TOO_LARGE) => return too_large_page(tr),
        // A body that is not a readable multipart form has no token to check: refused as one
        // without the right token (a form posted from elsewhere).
        Err(_) => {
            let refused = check_csrf(&state, tr, &posted, &expected, "").await.err();
            return refused
                .unwrap_or_else(|| message_page(tr, StatusCode::BAD_REQUEST, "error.form_unreadable"));
        }
    };
    if let Err(refused) = check_csrf(&state, tr, &posted, &expected, &up.csrf).await {
        return refused;
    }
    let Some(encoding) = CsvEncoding::parse(&up.encoding) else {
        let error = tr.t("import.encoding_unknown").to_owned();
        return page(&state, tr, &p, &up.client_id, "utf-8", None, Some(error)).await;
    };
    let again = |outcome, error| page(&state, tr, &p, &up.client_id, &up.encoding, outcome, error);
    if up.file.is_empty() {
        return again(None, Some(tr.t("import.no_file").to_owned())).await;
    }
    let dry = up.mode != "import";
    // The rules (who may import, for which client company) are core's, checked before the
    // file is read; a dry run writes nothing, not even an audit entry, and reads no customer.
    if let Err(e) = state.core.vault.may_import(&p, &up.client_id, &ctx).await {
        return again(None, Some(super::error_text(tr, &e))).await;
    }
    if !dry {
        let mut shown = import_page_of(&state, tr, &p, &up.client_id, &up.encoding, None, None).await;
        shown.running = true;
        return stream_import(&state, tr, shown, p.clone(), up.client_id, up.file, encoding, ctx);
    }
    let core = state.core.clone();
    let (client_id, file, who) = (up.client_id.clone(), up.file, p.clone());
    let runtime = tokio::runtime::Handle::current();
    // Checking and sealing are CPU work: off the threads that answer live lookups.
    let ran = tokio::task::spawn_blocking(move || {
        if dry {
            core.vault
                .check_customers_csv(&client_id, &file[..], encoding, &mut |_, _| {})
                .map(Outcome::Checked)
        } else {
            let mut progress = |_| {};
            let run =
                core.vault.import_customers_csv(&who, &client_id, &file[..], encoding, &mut progress, &ctx);
            runtime.block_on(run).map(Outcome::Imported)
        }
    })
    .await;
    let outcome = match ran {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(ImportError::Refused(r))) => Outcome::Refused {
            total: r.total,
            problems: r.problems.iter().map(|x| problem_text(tr, x)).collect(),
            dry,
        },
        Ok(Err(ImportError::Core(e))) => return again(None, Some(super::error_text(tr, &e))).await,
        Err(e) => {
            tracing::error!(error = %e, "import task failed");
            return again(None, Some(tr.t("error.internal").to_owned())).await;
        }
    };
    again(Some(outcome), None).await
}

/// The import itself, which takes seconds for a large file (about 11,000 rows a second): the
/// page is sent at once with the form, then a line of progress as rows are read (the latest
/// shown, the rest hidden by the stylesheet), then the outcome — so the admin sees it working
/// without a script and without the file being kept anywhere between requests.
#[allow(clippy::too_many_arguments)]
fn stream_import(
    state: &AppState,
    tr: Tr,
    page: ImportPage,
    who: Principal,
    client_id: String,
    file: Vec<u8>,
    encoding: CsvEncoding,
    ctx: mamori_audit::RequestContext,
) -> Response {
    let html = match page.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            return message_page(tr, StatusCode::INTERNAL_SERVER_ERROR, "error.internal_page");
        }
    };
    let (head, tail) = match html.split_once("<!--progress-->") {
        Some((head, tail)) => (head.to_owned(), tail.to_owned()),
        None => (html, String::new()),
    };
    let (parts, received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let core = state.core.clone();
    let runtime = tokio::runtime::Handle::current();
    // Checking and sealing are CPU work: off the threads that answer live lookups.
    tokio::task::spawn_blocking(move || {
        let mut last = std::time::Instant::now();
        let mut progress = |rows: u64| {
            if last.elapsed() >= std::time::Duration::from_millis(250) {
                last = std::time::Instant::now();
                let text = tr.t("import.progress").replace("{rows}", &rows.to_string());
                let _ = parts.send(Line { class: "import-progress", text }.render().unwrap_or_default());
            }
        };
        let run = core.vault.import_customers_csv(&who, &client_id, &file[..], encoding, &mut progress, &ctx);
        let outcome = match runtime.block_on(run) {
            Ok(n) => Outcome::Imported(n),
            Err(ImportError::Refused(r)) => Outcome::Refused {
                total: r.total,
                problems: r.problems.iter().map(|x| problem_text(tr, x)).collect(),
                dry: false,
            },
            Err(ImportError::Core(e)) => {
                let text = super::error_text(tr, &e);
                let _ = parts.send(Line { class: "error", text }.render().unwrap_or_default());
                return;
            }
        };
        let _ = parts.send((OutcomePart { tr, o: outcome }).render().unwrap_or_default());
    });
    let body = futures_util::stream::once(async move { head })
        .chain(futures_util::stream::unfold(
            received,
            |mut r| async move { r.recv().await.map(|part| (part, r)) },
        ))
        .chain(futures_util::stream::once(async move { tail }))
        .map(|part| Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(part)));
    ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], axum::body::Body::from_stream(body))
        .into_response()
}

/// One line of a streamed import: its progress, or what stopped it.
#[derive(Template)]
#[template(source = "<p class=\"{{ class }}\">{{ text }}</p>\n", ext = "html")]
struct Line<'a> {
    class: &'a str,
    text: String,
}

/// A file over the limit, in words: what the limit is and what to do.
pub fn too_large_page(tr: Tr) -> Response {
    let text = tr.t("import.too_large").replace("{mib}", &(CONSOLE_IMPORT_LIMIT / (1024 * 1024)).to_string());
    super::message_page_text(tr, StatusCode::PAYLOAD_TOO_LARGE, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_domain::identity::Language;
    use mamori_proto::ErrorCode;

    fn problem(line: u64, column: Option<&str>, kind: ProblemKind) -> ImportProblem {
        ImportProblem { line, column: column.map(str::to_owned), message: "english".into(), kind }
    }

    #[test]
    fn problems_read_as_words() {
        let (ja, en) = (Tr(Language::Ja), Tr(Language::En));
        let phone = problem(3, Some("phones"), ProblemKind::Value(ErrorCode::InvalidValue));
        assert_eq!(
            problem_text(ja, &phone),
            "3行目（電話番号）: 電話番号の形式ではありません。0から始まる10〜11桁、または+と国番号から書いてください。"
        );
        assert!(problem_text(en, &phone).starts_with("Line 3 (Phone numbers): not a phone number"));
        let cells = problem(5, None, ProblemKind::Cells { expected: 4, found: 3 });
        assert_eq!(
            problem_text(ja, &cells),
            "5行目: 列の数がヘッダーと違います（ヘッダーは4列、この行は3列）。"
        );
        let column = problem(1, Some("cvv"), ProblemKind::SecurityCodeColumn);
        assert!(problem_text(ja, &column).starts_with("1行目（列「cvv」）: "));
        for kind in [
            ProblemKind::UnknownColumn,
            ProblemKind::NoHeader,
            ProblemKind::NotUtf8,
            ProblemKind::NotShiftJis,
            ProblemKind::RowTooLong,
            ProblemKind::NoRows,
            ProblemKind::Unreadable,
            ProblemKind::Value(ErrorCode::Required),
            ProblemKind::Value(ErrorCode::TooLong),
            ProblemKind::Value(ErrorCode::UnknownField),
            ProblemKind::Value(ErrorCode::CardSecurityCodeRefused),
        ] {
            assert!(!problem_text(ja, &problem(2, None, kind)).contains("english"), "{kind:?} has words");
        }
    }
}
