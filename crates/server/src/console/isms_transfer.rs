//! The registers' import and export page (`/isms/registers`; issue 17, item 9): the whole
//! workbook (XLSX) or one register (CSV) to download, and a file to upload — checked first (a
//! dry run that writes nothing and says what would change), then imported, all or nothing. A
//! refused file lists each problem by sheet, row and column. Like the customer import, nothing
//! of the file is kept between requests: the file is chosen again for the import.

use super::isms_registers::{SubTab, sub_tabs};
use super::{Chrome, Posted, check_csrf, csrf_for, error_text, render, tr_for};
use crate::AppState;
use crate::i18n::Tr;
use crate::middleware::{Caller, Ctx};
use crate::problem::{CONSOLE_REGISTERS_IMPORT_PATH, REGISTERS_IMPORT_LIMIT};
use crate::routes::Routes;
use askama::Template;
use axum::extract::{MatchedPath, Multipart, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mamori_core::Principal;
use mamori_core::isms::transfer::ImportReport;
use mamori_domain::Permission::{IsmsManage, IsmsRead};
use mamori_domain::authz::Access::Permission as Needs;
use mamori_domain::isms::transfer::{Register, Workbook};

pub fn routes(r: Routes) -> Routes {
    r.add(Method::GET, CONSOLE_REGISTERS_IMPORT_PATH, Needs(IsmsRead), page).add(
        Method::POST,
        CONSOLE_REGISTERS_IMPORT_PATH,
        Needs(IsmsManage),
        upload.layer(axum::extract::DefaultBodyLimit::max(REGISTERS_IMPORT_LIMIT)),
    )
}

/// A register as the page lists it.
struct RegisterRow {
    code: &'static str,
    name: String,
}

/// What an upload came to.
enum Outcome {
    /// Per register: (name, created, changed, unchanged); `applied` when written.
    Counted { sheets: Vec<(String, usize, usize, usize)>, applied: bool },
    /// Refused: each problem in words, and how many there were.
    Refused { problems: Vec<String>, total: usize },
}

#[derive(Template)]
#[template(path = "isms_transfer.html")]
struct TransferPage {
    c: Chrome,
    tabs: Vec<SubTab>,
    registers: Vec<RegisterRow>,
    can_import: bool,
    limit_mib: usize,
    outcome: Option<Outcome>,
}

fn register_name(tr: Tr, r: Register) -> String {
    tr.t(&format!("isms_transfer.register_{}", r.as_str())).to_owned()
}

fn page_of(tr: Tr, p: &Principal, outcome: Option<Outcome>, error: Option<String>) -> TransferPage {
    let c =
        Chrome::new(tr, "isms_transfer.title", Some(p), csrf_for(Some(p), None), "/isms/soa").error(error);
    TransferPage {
        c,
        tabs: sub_tabs(tr, CONSOLE_REGISTERS_IMPORT_PATH),
        registers: Register::ALL
            .iter()
            .map(|r| RegisterRow { code: r.as_str(), name: register_name(tr, *r) })
            .collect(),
        can_import: p.can(IsmsManage),
        limit_mib: REGISTERS_IMPORT_LIMIT / (1024 * 1024),
        outcome,
    }
}

fn answer(tr: Tr, p: &Principal, outcome: Option<Outcome>, error: Option<String>) -> Response {
    let status = match (&error, &outcome) {
        (Some(_), _) | (_, Some(Outcome::Refused { .. })) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    (status, render(&page_of(tr, p, outcome, error))).into_response()
}

async fn page(headers: HeaderMap, Caller(p): Caller) -> Response {
    answer(tr_for(&headers, Some(&p)), &p, None, None)
}

/// A problem in words: "資産 シート 3 行目 F 列（confidentiality）: one of: …".
fn problem_text(tr: Tr, e: &mamori_domain::isms::transfer::RowError) -> String {
    let sheet = Register::parse(&e.sheet).map_or_else(|| e.sheet.clone(), |r| register_name(tr, r));
    let mut place =
        tr.t("isms_transfer.place_row").replace("{sheet}", &sheet).replace("{row}", &e.row.to_string());
    if let Some((letter, name)) = &e.column {
        place.push_str(
            &tr.t("isms_transfer.place_column").replace("{letter}", letter).replace("{name}", name),
        );
    }
    format!("{place}: {}", e.message)
}

fn outcome_of(tr: Tr, report: ImportReport) -> Outcome {
    if !report.errors.is_empty() {
        return Outcome::Refused {
            total: report.errors.len(),
            problems: report.errors.iter().take(200).map(|e| problem_text(tr, e)).collect(),
        };
    }
    Outcome::Counted {
        applied: report.applied,
        sheets: report
            .sheets
            .into_iter()
            .map(|(r, c)| (register_name(tr, r), c.created, c.changed, c.unchanged))
            .collect(),
    }
}

/// The upload: its token, the register a CSV file holds, dry run or import, the file.
#[derive(Default)]
struct Upload {
    csrf: String,
    register: String,
    mode: String,
    name: String,
    file: Vec<u8>,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, StatusCode> {
    let mut up = Upload::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.status())? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            up.name = field.file_name().unwrap_or_default().to_lowercase();
            while let Some(chunk) = field.chunk().await.map_err(|e| e.status())? {
                up.file.extend_from_slice(&chunk);
            }
            continue;
        }
        let text = field.text().await.map_err(|e| e.status())?;
        match name.as_str() {
            "_csrf" => up.csrf = text,
            "register" => up.register = text,
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
    let posted = Posted { principal: Some(&p), ctx: &ctx, method: &Method::POST, matched: matched.as_ref() };
    let expected = csrf_for(Some(&p), None);
    let up = match multipart {
        Ok(m) => read_upload(m).await,
        Err(e) => Err(e.status()),
    };
    let up = match up {
        Ok(up) => up,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            let text =
                tr.t("isms_transfer.too_large").replace("{mib}", &(REGISTERS_IMPORT_LIMIT >> 20).to_string());
            return answer(tr, &p, None, Some(text));
        }
        Err(_) => {
            let refused = check_csrf(&state, tr, &posted, &expected, "").await.err();
            return refused.unwrap_or_else(|| {
                super::message_page(tr, StatusCode::BAD_REQUEST, "error.form_unreadable")
            });
        }
    };
    if let Err(refused) = check_csrf(&state, tr, &posted, &expected, &up.csrf).await {
        return refused;
    }
    if up.file.is_empty() {
        return answer(tr, &p, None, Some(tr.t("isms_transfer.no_file").to_owned()));
    }
    // A CSV file is one register (chosen in the form); anything else is read as a workbook.
    let csv = up.name.ends_with(".csv");
    let (workbook, format): (Result<Workbook, String>, &str) = if csv {
        match Register::parse(&up.register) {
            Some(r) => (crate::workbook::read_csv(&up.file, r), "csv"),
            None => return answer(tr, &p, None, Some(tr.t("isms_transfer.csv_register").to_owned())),
        }
    } else {
        let file = up.file;
        let read = tokio::task::spawn_blocking(move || crate::workbook::read_xlsx(&file)).await;
        (read.unwrap_or_else(|e| Err(e.to_string())), "xlsx")
    };
    let workbook = match workbook {
        Ok(w) => w,
        Err(why) => {
            return answer(tr, &p, None, Some(format!("{}: {why}", tr.t("isms_transfer.unreadable"))));
        }
    };
    let dry = up.mode != "import";
    match state.core.isms.import_registers(&p, &workbook, format, dry, &ctx).await {
        Ok(report) => answer(tr, &p, Some(outcome_of(tr, report)), None),
        Err(e) => answer(tr, &p, None, Some(error_text(tr, &e))),
    }
}
