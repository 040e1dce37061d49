//! Import and export of the registers (issue 17, item 9): the shape of the workbook — one
//! sheet per register, its columns in order — and the reading of a sheet's cells with errors
//! that name the place (`sheet assets, row 5, column D (confidentiality): …`). Pure: the file
//! formats (CSV, XLSX) are read and written at the edge; the meaning of each row is the
//! core's.
//!
//! Conventions of every sheet: the first row holds the column names (English snake case,
//! exactly as exported); lists in a cell are one item per line; yes/no cells hold `true` or
//! `false`; dates are `YYYY-MM-DD`; people are named by their sign-in names, client companies
//! by their names, everything else by its id. Computed columns (levels, totals, names shown for
//! the reader) are written on export and ignored on import.

use std::collections::HashMap;

/// One sheet: its name and its rows, the first holding the column names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

/// The registers as a workbook, in [`Register::ALL`] order on export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workbook {
    pub sheets: Vec<Sheet>,
}

impl Workbook {
    pub fn sheet(&self, register: Register) -> Option<&Sheet> {
        self.sheets.iter().find(|s| s.name == register.as_str())
    }
}

/// Most data rows one sheet may hold on import (the benchmark's register has 10,000 assets).
pub const MAX_ROWS: usize = 50_000;
/// Most characters one cell may hold on import.
pub const MAX_CELL_CHARS: usize = 10_000;

/// A register that is exported and imported as one sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Register {
    Assets,
    RiskAssessments,
    Risks,
    Soa,
    Vendors,
    Certificates,
    VendorAssessments,
    VendorVisits,
    Legal,
}

impl Register {
    /// In the order they are imported: what a row names comes before it.
    pub const ALL: [Register; 9] = [
        Register::Assets,
        Register::RiskAssessments,
        Register::Risks,
        Register::Soa,
        Register::Vendors,
        Register::Certificates,
        Register::VendorAssessments,
        Register::VendorVisits,
        Register::Legal,
    ];

    /// The sheet's name (and the CSV export's `register=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Register::Assets => "assets",
            Register::RiskAssessments => "risk_assessments",
            Register::Risks => "risks",
            Register::Soa => "soa",
            Register::Vendors => "vendors",
            Register::Certificates => "certificates",
            Register::VendorAssessments => "vendor_assessments",
            Register::VendorVisits => "vendor_visits",
            Register::Legal => "legal",
        }
    }

    pub fn parse(s: &str) -> Option<Register> {
        Register::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The columns, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Register::Assets => &[
                "id",
                "kind",
                "name",
                "owner",
                "location",
                "confidentiality",
                "integrity",
                "availability",
                "allowed",
                "review_on",
                "notes",
                "source",
                "follows",
                "retired",
            ],
            Register::RiskAssessments => &["id", "name", "appetite", "matrix"],
            Register::Risks => &[
                "id",
                "assessment",
                "number",
                "title",
                "threat",
                "vulnerability",
                "assets",
                "inherent_probability",
                "inherent_impact",
                "inherent_level",
                "residual_probability",
                "residual_impact",
                "residual_level",
                "treatment",
                "controls",
                "owner",
                "due_on",
                "review_on",
                "notes",
            ],
            Register::Soa => &[
                "catalog",
                "ref_id",
                "urn",
                "name",
                "applicable",
                "justification",
                "implementation",
                "owner",
                "review_on",
            ],
            Register::Vendors => &[
                "id",
                "name",
                "parent",
                "clients",
                "data_handled",
                "contact",
                "review_on",
                "notes",
                "retired",
            ],
            Register::Certificates => &[
                "id",
                "holder",
                "scheme",
                "number",
                "issuer",
                "first_obtained_on",
                "issued_on",
                "expires_on",
            ],
            Register::VendorAssessments => &[
                "id",
                "vendor",
                "assessed_on",
                "security_policy",
                "certifications",
                "track_record",
                "specialisation",
                "responsiveness",
                "subcontractor_checks",
                "regular_employees",
                "supervisor_ratio",
                "nda",
                "shared_manual",
                "total",
                "tier",
                "next_on",
                "notes",
            ],
            Register::VendorVisits => &["id", "vendor", "visited_on", "visitor", "findings"],
            Register::Legal => &[
                "id",
                "kind",
                "title",
                "reference",
                "obligations",
                "client",
                "owner",
                "review_on",
                "notes",
                "retired",
            ],
        }
    }

    /// Columns written for the reader and ignored on import.
    pub fn computed(self) -> &'static [&'static str] {
        match self {
            Register::Risks => &["inherent_level", "residual_level"],
            Register::Soa => &["catalog", "ref_id", "name"],
            Register::VendorAssessments => &["total", "tier", "next_on"],
            _ => &[],
        }
    }

    /// The column that names a row (its key), for the report.
    pub fn key(self) -> &'static str {
        match self {
            Register::Soa => "urn",
            _ => "id",
        }
    }
}

/// Where an import went wrong and what to do: sheet, spreadsheet row (the column names are
/// row 1), column (letter and name) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub sheet: String,
    pub row: usize,
    /// `("D", "confidentiality")`.
    pub column: Option<(String, String)>,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sheet {}, row {}", self.sheet, self.row)?;
        if let Some((letter, name)) = &self.column {
            write!(f, ", column {letter} ({name})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The spreadsheet letter of a column counted from 0: 0 → A, 25 → Z, 26 → AA.
pub fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + rem as u8));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// A sheet being read: which column holds what.
#[derive(Debug)]
pub struct SheetReader<'a> {
    pub register: Register,
    sheet: &'a Sheet,
    at: HashMap<&'static str, usize>,
}

/// One data row being read.
#[derive(Debug, Clone, Copy)]
pub struct RowReader<'a> {
    reader: &'a SheetReader<'a>,
    /// The spreadsheet's row number (data starts at 2).
    pub number: usize,
    cells: &'a [String],
}

impl<'a> SheetReader<'a> {
    /// Checks the column names: every column of the register present once, nothing else;
    /// the number of rows and the size of cells within bounds.
    pub fn new(register: Register, sheet: &'a Sheet) -> Result<SheetReader<'a>, Vec<RowError>> {
        let error = |row: usize, column: Option<(String, String)>, message: String| RowError {
            sheet: sheet.name.clone(),
            row,
            column,
            message,
        };
        let Some(headings) = sheet.rows.first() else {
            return Err(vec![error(1, None, "the sheet is empty: its first row names the columns".into())]);
        };
        let mut errors = Vec::new();
        let mut at = HashMap::new();
        for (i, heading) in headings.iter().enumerate() {
            let heading = heading.trim();
            let place = Some((column_letter(i), heading.to_owned()));
            match register.columns().iter().find(|c| **c == heading) {
                _ if heading.is_empty() => {}
                Some(c) if at.insert(*c, i).is_some() => {
                    errors.push(error(1, place, "this column appears twice".into()))
                }
                Some(_) => {}
                None => errors.push(error(
                    1,
                    place,
                    format!(
                        "no such column in {}; the columns are: {}",
                        register.as_str(),
                        register.columns().join(", ")
                    ),
                )),
            }
        }
        for c in register.columns() {
            if !at.contains_key(c) && !register.computed().contains(c) {
                errors.push(error(1, None, format!("the column {c} is missing")));
            }
        }
        if sheet.rows.len() - 1 > MAX_ROWS {
            errors.push(error(1, None, format!("at most {MAX_ROWS} rows can be imported at once")));
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            for (i, cell) in row.iter().enumerate() {
                if cell.chars().count() > MAX_CELL_CHARS {
                    let name = headings.get(i).cloned().unwrap_or_default();
                    errors.push(error(
                        r + 1,
                        Some((column_letter(i), name)),
                        format!("at most {MAX_CELL_CHARS} characters"),
                    ));
                }
            }
        }
        if errors.is_empty() { Ok(SheetReader { register, sheet, at }) } else { Err(errors) }
    }

    /// The data rows, skipping rows whose cells are all blank.
    pub fn rows(&'a self) -> impl Iterator<Item = RowReader<'a>> + 'a {
        self.sheet
            .rows
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
            .map(move |(i, cells)| RowReader { reader: self, number: i + 1, cells })
    }
}

impl<'a> RowReader<'a> {
    /// The trimmed cell of a column (empty when the row is short or the column is computed
    /// and absent).
    pub fn get(&self, column: &'static str) -> &'a str {
        self.reader.at.get(column).and_then(|i| self.cells.get(*i)).map_or("", |c| c.trim())
    }

    /// The cell's non-empty value, if any.
    pub fn optional(&self, column: &'static str) -> Option<String> {
        Some(self.get(column).to_owned()).filter(|v| !v.is_empty())
    }

    /// The cell's lines, trimmed, blank ones dropped.
    pub fn list(&self, column: &'static str) -> Vec<String> {
        self.get(column).lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
    }

    /// An error at this row, in `column` when named (a field name of an input is mapped to
    /// its column: `owner_id` → `owner`).
    pub fn error(&self, column: Option<&str>, message: impl Into<String>) -> RowError {
        let column = column.map(|c| match c {
            "owner_id" => "owner",
            "parent_id" => "parent",
            "client_ids" => "clients",
            "client_id" => "client",
            "asset_ids" => "assets",
            "control_urns" => "controls",
            other => other,
        });
        let place = column.map(|c| {
            let letter = self.reader.at.get(c).map_or_else(|| "?".to_owned(), |i| column_letter(*i));
            (letter, c.to_owned())
        });
        RowError {
            sheet: self.reader.sheet.name.clone(),
            row: self.number,
            column: place,
            message: message.into(),
        }
    }

    /// A `true`/`false` cell (also `yes`/`no`, `1`/`0`); empty is none.
    pub fn flag(&self, column: &'static str) -> Result<Option<bool>, RowError> {
        match self.get(column).to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "yes" | "1" => Ok(Some(true)),
            "false" | "no" | "0" => Ok(Some(false)),
            _ => Err(self.error(Some(column), "true or false")),
        }
    }

    /// A whole number from `min` to `max`; empty is none.
    pub fn number(&self, column: &'static str, min: i64, max: i64) -> Result<Option<i64>, RowError> {
        let cell = self.get(column);
        if cell.is_empty() {
            return Ok(None);
        }
        // Spreadsheets hand numbers back as `3.0`.
        let value = cell.strip_suffix(".0").unwrap_or(cell).parse::<i64>().ok();
        value
            .filter(|v| (min..=max).contains(v))
            .map(Some)
            .ok_or_else(|| self.error(Some(column), format!("a whole number from {min} to {max}")))
    }

    /// A required cell.
    pub fn required(&self, column: &'static str) -> Result<&'a str, RowError> {
        match self.get(column) {
            "" => Err(self.error(Some(column), "required")),
            v => Ok(v),
        }
    }

    /// A coded value (`kind`, `treatment`…): one of `allowed`.
    pub fn code<T: Copy>(
        &self,
        column: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<T, RowError> {
        let cell = self.required(column)?;
        parse(cell).ok_or_else(|| self.error(Some(column), format!("one of: {}", allowed.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(rows: &[&[&str]]) -> Sheet {
        Sheet {
            name: "vendor_visits".into(),
            rows: rows.iter().map(|r| r.iter().map(|c| (*c).to_owned()).collect()).collect(),
        }
    }

    #[test]
    fn columns_are_lettered_as_spreadsheets_do() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn headings_are_checked() {
        let s = sheet(&[&["id", "vendor", "visited_on", "visitor", "findings", "visiter", "id"]]);
        let errors = SheetReader::new(Register::VendorVisits, &s).unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            text[0].starts_with("sheet vendor_visits, row 1, column F (visiter): no such column"),
            "{text:?}"
        );
        assert_eq!(text[1], "sheet vendor_visits, row 1, column G (id): this column appears twice");
        let s = sheet(&[&["id", "vendor"]]);
        let errors = SheetReader::new(Register::VendorVisits, &s).unwrap_err();
        assert_eq!(errors.len(), 3, "visited_on, visitor and findings are missing");
        assert!(SheetReader::new(Register::VendorVisits, &sheet(&[])).is_err());
    }

    #[test]
    fn cells_are_read_with_their_place() {
        let s = sheet(&[
            &["vendor", "id", "visited_on", "visitor", "findings"],
            &["v1", "x", "2026-01-01", "", "a\n\n b "],
            &["", " ", "", "", ""],
            &["v2", "y", "3.0", "z"],
        ]);
        let reader = SheetReader::new(Register::VendorVisits, &s).unwrap();
        let rows: Vec<RowReader> = reader.rows().collect();
        assert_eq!(rows.len(), 2, "a blank row is skipped");
        assert_eq!(rows[0].get("id"), "x");
        assert_eq!(rows[0].list("findings"), ["a", "b"]);
        assert_eq!(
            rows[0].required("visitor").unwrap_err().to_string(),
            "sheet vendor_visits, row 2, column D (visitor): required"
        );
        assert_eq!(rows[1].number, 4);
        assert_eq!(rows[1].get("findings"), "", "a short row reads as empty cells");
        assert_eq!(rows[1].number("visited_on", 1, 5).unwrap(), Some(3));
        assert!(rows[1].number("visitor", 1, 5).is_err());
        assert_eq!(rows[0].error(Some("owner_id"), "x").column, Some(("?".into(), "owner".into())));
    }
}
