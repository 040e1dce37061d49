//! Documents Mamori hands out. The printed customer sheet (issue 15, item 2) — a PDF,
//! A4 portrait, in Japanese or English, whose every page carries a diagonal watermark and a
//! footer naming who printed it, when (JST), under which request, for which client company.
//! The export archive (item 3): an AES-256 encrypted ZIP written as a stream
//! ([`ExportArchive`]). And the table report (issue 17, item 4: the Statement of
//! Applicability as PDF) — a PDF, A4 landscape, of rows under column headings
//! ([`table_report_pdf`]).
//!
//! This crate knows nothing of HTTP, SQL or approvals: the caller checks the grant, gathers
//! the values the user may see, formats the time, and audits the print; this crate only lays
//! the document out and renders it ([`customer_sheet_pdf`], [`table_report_pdf`]).
//!
//! - **Font.** IPAexGothic (`fonts/ipaexg.ttf`, IPA Font License v1.0, its text beside it) is
//!   compiled into the binary, so printing needs no file outside the binary and no download.
//!   The PDF embeds only the glyphs a document uses (subset by [`krilla`]), so it stays small.
//!   Characters the font lacks (emoji, a few rare kanji) print as an empty box.
//! - **Words.** The few fixed words on a document (the footer's labels, 社外秘, 備考 …) live
//!   here, in Japanese and English ([`Language`]); everything else comes from the caller.
//! - **Table report.** A title, subtitle lines (the caller's: what, as of when, by whom) and a
//!   table whose columns share the page's width as the caller says ([`Column::share`]). The
//!   heading row opens the table on every page; cells wrap (Japanese between characters,
//!   English at spaces, as on the sheet); a row moves whole to the next page when it does not
//!   fit, and only a row taller than a page is cut. Every page carries a small 社外秘 /
//!   CONFIDENTIAL stamp in the top right corner — no diagonal watermark, as a report names no
//!   customer — and a footer with the generation time and "page / pages".
//! - **Limits.** Input past the limits below, an empty title or an empty watermark field is
//!   refused with a [`DocumentError`]; so is a table report without columns, with a column
//!   too narrow for a few characters ([`MIN_COLUMN_WIDTH`]) or a row whose cells do not match
//!   the columns. Nothing here panics.

mod archive;
mod layout;
pub mod mail;
mod render;
mod report;
mod text;
mod words;

pub use archive::ExportArchive;
pub use mamori_domain::identity::Language;

/// The embedded font's licence (IPA Font License Agreement v1.0, Japanese and English), which
/// must go with any copy of a binary that holds the font.
pub const FONT_LICENSE: &str = include_str!("../fonts/IPA_Font_License_Agreement_v1.0.txt");

/// Most rows a sheet may have.
pub const MAX_ROWS: usize = 10_000;
/// Most notes a sheet may have.
pub const MAX_NOTES: usize = 1_000;
/// Most characters in one value or one note.
pub const MAX_VALUE_CHARS: usize = 10_000;
/// Most characters in the title, a label, or one watermark field.
pub const MAX_SHORT_CHARS: usize = 200;
/// Most characters in a whole sheet (title, labels, values and notes).
pub const MAX_TOTAL_CHARS: usize = 500_000;
/// Most pages a sheet or a table report may take.
pub const MAX_PAGES: usize = 500;
/// Most rows a table report may have.
pub const MAX_REPORT_ROWS: usize = 5_000;
/// Most columns a table report may have.
pub const MAX_COLUMNS: usize = 16;
/// Most subtitle lines a table report may have.
pub const MAX_SUBTITLE_LINES: usize = 10;
/// The narrowest a table report's column may be, in points (room for a few characters).
pub const MIN_COLUMN_WIDTH: f32 = report::MIN_COLUMN_W;

/// Who printed, when, under which request, for which client company: drawn diagonally across
/// every page and repeated in every page's footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watermark {
    /// The requester's sign-in name (or display name), as the caller wants it shown.
    pub user: String,
    /// The time of printing, already formatted in JST by the caller, e.g. `2026-11-29 11:05 JST`.
    pub time_jst: String,
    /// The approval request's id.
    pub request_id: String,
    /// The client company the customer belongs to.
    pub client: String,
}

/// What a printed customer sheet holds: a title, `(label, value)` rows in order, and notes
/// (for instance a call's notes). Values and notes may be long and hold line breaks; they wrap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    pub title: String,
    /// `(label, value)`, printed in this order.
    pub rows: Vec<(String, String)>,
    pub notes: Vec<String>,
}

/// One column of a [`TableReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its heading, repeated on every page; wraps to at most three lines.
    pub heading: String,
    /// Its share of the table's width, against the other columns' shares: columns of shares
    /// 1, 3 and 2 take a sixth, a half and a third of the width.
    pub share: u16,
}

/// What a table report holds: a title, a few subtitle lines under it (for instance the
/// catalog, "as of" a time in JST, who exported it), the columns and the rows, each row one
/// cell per column. Cells may be long and hold line breaks; they wrap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableReport {
    pub title: String,
    pub subtitle_lines: Vec<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    /// When it was made, already formatted in JST by the caller (e.g. `2026-11-29 11:05 JST`),
    /// shown in every page's footer; may be empty.
    pub generated_jst: String,
}

/// Why a document was not rendered. Every variant but [`DocumentError::Font`] and
/// [`DocumentError::Pdf`] is the caller's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the sheet's title is empty")]
    EmptyTitle,
    #[error("the watermark's {0} is empty")]
    EmptyWatermark(&'static str),
    #[error("{what} has {count} characters; at most {limit} are allowed")]
    TooLong { what: &'static str, count: usize, limit: usize },
    #[error("the sheet has {count} {what}; at most {limit} are allowed")]
    TooMany { what: &'static str, count: usize, limit: usize },
    #[error("the table report has no columns")]
    NoColumns,
    #[error("column {column} would be {width:.0} points wide; at least {min:.0} are needed")]
    ColumnTooNarrow { column: usize, width: u32, min: u32 },
    #[error("row {row} has {cells} cells but the table has {columns} columns")]
    CellCount { row: usize, cells: usize, columns: usize },
    #[error("the sheet would take more than {limit} pages")]
    TooManyPages { limit: usize },
    #[error("the embedded font could not be read")]
    Font,
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    #[error("the archive could not be written: {0}")]
    Archive(String),
}

/// Renders a customer sheet as a PDF (A4 portrait). Every page carries the diagonal watermark
/// and the footer (`mark`), and "page / pages"; the fixed words are in `lang`.
pub fn customer_sheet_pdf(sheet: &Sheet, mark: &Watermark, lang: Language) -> Result<Vec<u8>, DocumentError> {
    check(sheet, mark)?;
    let fonts = text::fonts()?;
    let words = words::Words::of(lang);
    let laid = layout::lay_out(fonts, sheet, mark, &words)?;
    render::render(fonts, &laid, &sheet.title, lang)
}

/// Renders a table report as a PDF (A4 landscape): the heading row on every page, the
/// 社外秘 / CONFIDENTIAL stamp and a footer with the generation time and "page / pages"; the
/// fixed words are in `lang`.
pub fn table_report_pdf(report: &TableReport, lang: Language) -> Result<Vec<u8>, DocumentError> {
    check_report(report)?;
    let fonts = text::fonts()?;
    let words = words::Words::of(lang);
    let laid = report::lay_out(fonts, report, &words)?;
    render::render(fonts, &laid, &report.title, lang)
}

fn check_report(report: &TableReport) -> Result<(), DocumentError> {
    at_most("the title", &report.title, MAX_SHORT_CHARS)?;
    if text::one_line(&report.title).is_empty() {
        return Err(DocumentError::EmptyTitle);
    }
    many("subtitle lines", report.subtitle_lines.len(), MAX_SUBTITLE_LINES)?;
    many("columns", report.columns.len(), MAX_COLUMNS)?;
    many("rows", report.rows.len(), MAX_REPORT_ROWS)?;
    if report.columns.is_empty() {
        return Err(DocumentError::NoColumns);
    }
    let mut total = report.title.chars().count();
    total += at_most("the generation time", &report.generated_jst, MAX_SHORT_CHARS)?;
    for line in &report.subtitle_lines {
        total += at_most("a subtitle line", line, MAX_SHORT_CHARS)?;
    }
    for column in &report.columns {
        total += at_most("a heading", &column.heading, MAX_SHORT_CHARS)?;
    }
    for (column, width) in report::widths(report).into_iter().enumerate() {
        if width < MIN_COLUMN_WIDTH {
            let (width, min) = (width.round() as u32, MIN_COLUMN_WIDTH.ceil() as u32);
            return Err(DocumentError::ColumnTooNarrow { column: column + 1, width, min });
        }
    }
    for (row, cells) in report.rows.iter().enumerate() {
        if cells.len() != report.columns.len() {
            return Err(DocumentError::CellCount {
                row: row + 1,
                cells: cells.len(),
                columns: report.columns.len(),
            });
        }
        for cell in cells {
            total += at_most("a cell", cell, MAX_VALUE_CHARS)?;
        }
        // Stop early on a table far past the limit.
        if total > MAX_TOTAL_CHARS {
            break;
        }
    }
    if total > MAX_TOTAL_CHARS {
        return Err(DocumentError::TooLong {
            what: "the table report",
            count: total,
            limit: MAX_TOTAL_CHARS,
        });
    }
    Ok(())
}

fn check(sheet: &Sheet, mark: &Watermark) -> Result<(), DocumentError> {
    // Blank is judged as printed: control characters are dropped, line breaks become spaces.
    at_most("the title", &sheet.title, MAX_SHORT_CHARS)?;
    if text::one_line(&sheet.title).is_empty() {
        return Err(DocumentError::EmptyTitle);
    }
    let fields = [
        ("user", "the watermark's user", &mark.user),
        ("time", "the watermark's time", &mark.time_jst),
        ("request id", "the watermark's request id", &mark.request_id),
        ("client", "the watermark's client", &mark.client),
    ];
    for (field, what, value) in fields {
        at_most(what, value, MAX_SHORT_CHARS)?;
        if text::one_line(value).is_empty() {
            return Err(DocumentError::EmptyWatermark(field));
        }
    }
    many("rows", sheet.rows.len(), MAX_ROWS)?;
    many("notes", sheet.notes.len(), MAX_NOTES)?;
    let mut total = sheet.title.chars().count();
    for (label, value) in &sheet.rows {
        total += at_most("a label", label, MAX_SHORT_CHARS)?;
        total += at_most("a value", value, MAX_VALUE_CHARS)?;
    }
    for note in &sheet.notes {
        total += at_most("a note", note, MAX_VALUE_CHARS)?;
    }
    if total > MAX_TOTAL_CHARS {
        return Err(DocumentError::TooLong { what: "the sheet", count: total, limit: MAX_TOTAL_CHARS });
    }
    Ok(())
}

/// The number of characters in `value`, or an error past `limit`.
fn at_most(what: &'static str, value: &str, limit: usize) -> Result<usize, DocumentError> {
    let count = value.chars().count();
    match count > limit {
        true => Err(DocumentError::TooLong { what, count, limit }),
        false => Ok(count),
    }
}

fn many(what: &'static str, count: usize, limit: usize) -> Result<(), DocumentError> {
    match count > limit {
        true => Err(DocumentError::TooMany { what, count, limit }),
        false => Ok(()),
    }
}
