//! The registers' workbook as files (issue 17, item 9): XLSX read with calamine and written with
//! rust_xlsxwriter, and CSV (one register per file, UTF-8 with a byte-order mark). The meaning of
//! the cells is the core's (`mamori_core::isms::transfer`); this only moves text in and out.
//!
//! - Every cell is written as text, so a spreadsheet program keeps `0012`, `2026-04-01` and
//!   `=x` as they are (an XLSX string cell is never a formula).
//! - A CSV cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first)
//!   is written with a leading `'`, which the CSV reader takes off again.
//! - An XLSX file is a ZIP: its parts' declared sizes are checked before anything is inflated,
//!   so a small file cannot unpack into gigabytes.

use mamori_domain::isms::transfer::{Register, Sheet, Workbook, column_letter};
use std::io::Cursor;

/// Most bytes the parts of an XLSX file may inflate to.
const MAX_INFLATED: u64 = 512 * 1024 * 1024;

/// Reads an XLSX workbook: every sheet, every cell as text.
pub fn read_xlsx(bytes: &[u8]) -> Result<Workbook, String> {
    use calamine::{Data, Reader, Xlsx};
    check_zip(bytes)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("the file is not an XLSX workbook ({e}); save it as Excel Workbook (.xlsx)"))?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(|e| format!("sheet {name} cannot be read: {e}"))?;
        // Rows and columns before the used range's start are empty.
        let (top, left) = range.start().map_or((0, 0), |(r, c)| (r as usize, c as usize));
        let mut rows: Vec<Vec<String>> = vec![Vec::new(); top];
        for (r, cells) in range.rows().enumerate() {
            let mut row = vec![String::new(); left];
            for (c, cell) in cells.iter().enumerate() {
                let text = match cell {
                    Data::Empty => String::new(),
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    Data::Bool(b) => b.to_string(),
                    Data::DateTime(d) => excel_date(d.as_f64()).ok_or_else(|| {
                        format!(
                            "sheet {name}, row {}, column {}: a date outside the years 2000 to 2200",
                            top + r + 1,
                            column_letter(left + c)
                        )
                    })?,
                    Data::Error(e) => {
                        return Err(format!(
                            "sheet {name}, row {}, column {}: the cell holds the spreadsheet error {e}; put a value in it",
                            top + r + 1,
                            column_letter(left + c)
                        ));
                    }
                };
                row.push(text);
            }
            rows.push(row);
        }
        sheets.push(Sheet { name, rows });
    }
    Ok(Workbook { sheets })
}

/// A date a spreadsheet program made of a typed date: Excel's serial day (1900 system) as
/// `YYYY-MM-DD`.
fn excel_date(serial: f64) -> Option<String> {
    let epoch = time::Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    let date = epoch.checked_add(time::Duration::days(serial.floor() as i64))?;
    (2000..=2200)
        .contains(&date.year())
        .then(|| format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()))
}

/// Refuses a ZIP whose parts would inflate past [`MAX_INFLATED`] (or that is no ZIP).
fn check_zip(bytes: &[u8]) -> Result<(), String> {
    let not_xlsx = |e: zip::result::ZipError| {
        format!("the file is not an XLSX workbook ({e}); save it as Excel Workbook (.xlsx)")
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_xlsx)?;
    let mut total = 0u64;
    for i in 0..archive.len() {
        total = total.saturating_add(archive.by_index_raw(i).map_err(not_xlsx)?.size());
    }
    if total > MAX_INFLATED {
        return Err(format!(
            "the workbook unpacks to {total} bytes; at most {MAX_INFLATED} are read: split it into several files"
        ));
    }
    Ok(())
}

/// Reads one register's CSV file (UTF-8, a byte-order mark allowed).
pub fn read_csv(bytes: &[u8], register: Register) -> Result<Workbook, String> {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|_| "the CSV file is not UTF-8; save it as CSV UTF-8".to_owned())?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: the CSV cannot be read: {e}", i + 1))?;
        rows.push(record.iter().map(|c| unguard(c).to_owned()).collect());
    }
    Ok(Workbook { sheets: vec![Sheet { name: register.as_str().to_owned(), rows }] })
}

/// A cell written with a leading `'` so a spreadsheet does not run it, read back as it was.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest,
        _ => cell,
    }
}

/// One sheet as CSV: UTF-8 with a byte-order mark (spreadsheet programs then read the
/// Japanese), formula-like cells guarded.
pub fn write_csv(sheet: &Sheet) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    for row in &sheet.rows {
        w.write_record(row.iter().map(|c| crate::api::audit::csv_cell(c))).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

/// The workbook as XLSX: a sheet per register, every cell text, the column names bold with a
/// filter, the first row frozen.
pub fn write_xlsx(workbook: &Workbook) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook as Xlsx};
    let fail = |e: rust_xlsxwriter::XlsxError| e.to_string();
    let mut book = Xlsx::new();
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    for sheet in &workbook.sheets {
        let ws = book.add_worksheet();
        ws.set_name(&sheet.name).map_err(fail)?;
        let columns = sheet.rows.first().map_or(0, Vec::len);
        for (r, row) in sheet.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match r {
                    0 => ws.write_string_with_format(r, c, cell, &bold),
                    _ if cell.is_empty() => continue,
                    _ => ws.write_string_with_format(r, c, cell, &text),
                }
                .map_err(fail)?;
            }
        }
        for c in 0..columns {
            let width = sheet.rows.iter().take(200).filter_map(|r| r.get(c)).map(|v| display_width(v)).max();
            ws.set_column_width(c as u16, width.unwrap_or(8).clamp(8, 60) as f64).map_err(fail)?;
        }
        if columns > 0 {
            ws.set_freeze_panes(1, 0).map_err(fail)?;
            ws.autofilter(0, 0, sheet.rows.len().saturating_sub(1).max(1) as u32, columns as u16 - 1)
                .map_err(fail)?;
        }
    }
    book.save_to_buffer().map_err(fail)
}

/// About how many narrow characters wide the longest line of a cell is (Japanese counts two).
fn display_width(value: &str) -> usize {
    value.lines().map(|l| l.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()).max().unwrap_or(0) + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Workbook {
        let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        Workbook {
            sheets: vec![
                Sheet {
                    name: "assets".into(),
                    rows: vec![
                        row(&["id", "name", "notes"]),
                        row(&["1", "顧客データ", "=HYPERLINK(\"x\")\n二行目"]),
                        row(&["", "0012", ""]),
                    ],
                },
                Sheet { name: "vendors".into(), rows: vec![row(&["id"])] },
            ],
        }
    }

    #[test]
    fn xlsx_round_trips_every_cell_as_text() {
        let bytes = write_xlsx(&book()).unwrap();
        let back = read_xlsx(&bytes).unwrap();
        assert_eq!(back.sheets.len(), 2);
        assert_eq!(back.sheets[0].name, "assets");
        assert_eq!(back.sheets[0].rows[1], book().sheets[0].rows[1]);
        assert_eq!(back.sheets[0].rows[2][1], "0012", "a number-like text stays text");
        assert_eq!(back.sheets[1].rows, vec![vec!["id".to_owned()]]);
    }

    #[test]
    fn csv_round_trips_and_guards_formulas() {
        let sheet = &book().sheets[0];
        let bytes = write_csv(sheet).unwrap();
        assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
        assert!(String::from_utf8_lossy(&bytes).contains("'=HYPERLINK"));
        let back = read_csv(&bytes, Register::Assets).unwrap();
        assert_eq!(back.sheets[0].rows, sheet.rows);
        assert!(read_csv(&[0xff, 0xfe, 0x00], Register::Assets).unwrap_err().contains("UTF-8"));
    }

    /// A fuzz-style run over what an import reads from outside: a real workbook with bytes
    /// flipped, cut short or spliced, and random CSV, gives a workbook or an error — never a
    /// panic.
    #[test]
    fn mangled_files_never_panic() {
        let good = write_xlsx(&book()).unwrap();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400 {
            let mut bytes = good.clone();
            match round % 3 {
                0 => {
                    for _ in 0..1 + next() % 8 {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = (next() & 0xff) as u8;
                    }
                }
                1 => bytes.truncate((next() as usize) % bytes.len()),
                _ => {
                    let at = (next() as usize) % bytes.len();
                    let junk: Vec<u8> = (0..next() % 64).map(|_| (next() & 0xff) as u8).collect();
                    bytes.splice(at..at, junk);
                }
            }
            let _ = read_xlsx(&bytes);
            let csv: Vec<u8> = (0..next() % 300)
                .map(|_| b"a,\"\n\r'=\xef\xbb\xbf\xe3\x81\x82"[(next() % 13) as usize])
                .collect();
            let _ = read_csv(&csv, Register::Risks);
        }
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(read_xlsx(b"id,name\n").unwrap_err().contains("not an XLSX"));
        assert!(read_xlsx(&[]).unwrap_err().contains("not an XLSX"));
        assert_eq!(excel_date(46023.0).as_deref(), Some("2026-01-01"));
        assert_eq!(excel_date(1.0), None);
    }
}
