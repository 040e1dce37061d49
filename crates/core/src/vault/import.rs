//! Importing customers from CSV (issue 4): UTF-8 or Shift_JIS (what Japanese clients send),
//! read as a stream, every row checked, and all or nothing — one bad row refuses the whole file,
//! and every problem is reported with its line and column. Values are sealed as they are read;
//! no plaintext is written anywhere.

use crate::vault::NewCustomer;
use crate::{CoreError, Principal, Vault};
use encoding_rs::{DecoderResult, SHIFT_JIS};
use mamori_audit::RequestContext;
use mamori_domain::Permission;
use mamori_domain::customer::{CustomerField, refuse_security_code};
use mamori_proto::ErrorCode;
use std::io::{BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    Utf8,
    ShiftJis,
}

impl CsvEncoding {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "utf8" => Some(CsvEncoding::Utf8),
            "shiftjis" | "sjis" | "cp932" | "windows31j" => Some(CsvEncoding::ShiftJis),
            _ => None,
        }
    }
}

/// One thing wrong with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// 1-based line of the file.
    pub line: u64,
    /// The column's header, when the problem is in one.
    pub column: Option<String>,
    pub message: String,
    /// What kind of problem, for a page that says it in its own language.
    pub kind: ProblemKind,
}

/// The kinds of problem a file can have (the console words each; `message` says it in English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A value its field refuses; the code says why (`invalid_value`, `required`, `too_long`,
    /// `unknown_field`, `card_security_code_refused`), the column which field.
    Value(ErrorCode),
    /// A header cell that names no customer field.
    UnknownColumn,
    /// A header cell naming a card security code, which is never stored.
    SecurityCodeColumn,
    /// Line 1 names no customer field: the header is missing.
    NoHeader,
    /// A row with another number of cells than the header has.
    Cells {
        expected: u64,
        found: u64,
    },
    NotUtf8,
    NotShiftJis,
    /// A row over 1 MiB (a quote left open); the file was read no further.
    RowTooLong,
    NoRows,
    /// Anything else the reader reported.
    Unreadable,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// A refused file: nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The first problems found, in the file's order: at most `import.max_listed_problems`
    /// (default [`DEFAULT_MAX_LISTED_PROBLEMS`]).
    pub problems: Vec<ImportProblem>,
    /// How many problems were found in all, listed or not.
    pub total: u64,
}

impl Refusal {
    /// Problems found beyond those listed.
    pub fn unlisted(&self) -> u64 {
        self.total.saturating_sub(self.problems.len() as u64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Nothing was imported; the first problems are listed, all are counted.
    #[error("the file was refused, nothing was imported: {} problem(s), the first: {}", .0.total, .0.problems.first().map(ToString::to_string).unwrap_or_default())]
    Refused(Refusal),
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// How many problems a refusal lists unless `import.max_listed_problems` says otherwise. A file
/// in the wrong encoding or with the wrong separator has a problem on every line: listing them
/// all would make an answer larger than the file.
pub const DEFAULT_MAX_LISTED_PROBLEMS: usize = 1_000;

/// Rows sealed and written at a time, inside the import's one transaction.
const CHUNK_ROWS: usize = 4_000;

/// No row is longer: ten fields of at most 10,000 bytes each, with room for quoting. A longer
/// one (an unclosed quote makes the rest of the file one row) is refused before it is held.
const MAX_ROW_BYTES: u64 = 1024 * 1024;

/// The problems of one file: the first `max` kept, every one counted.
struct Problems {
    refusal: Refusal,
    max: usize,
}

impl Problems {
    fn new(max: usize) -> Self {
        Problems { refusal: Refusal { problems: Vec::new(), total: 0 }, max }
    }

    fn push(&mut self, p: ImportProblem) {
        self.refusal.total += 1;
        if self.refusal.problems.len() < self.max {
            self.refusal.problems.push(p);
        }
    }

    fn any(&self) -> bool {
        self.refusal.total > 0
    }

    fn total(&self) -> u64 {
        self.refusal.total
    }

    fn refused(self) -> ImportError {
        ImportError::Refused(self.refusal)
    }
}

/// Turns Shift_JIS bytes into UTF-8 as they are read, refusing bytes that are not Shift_JIS
/// (instead of replacing them) and saying on which line.
struct ShiftJisReader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    out_pos: usize,
    line: u64,
    done: bool,
}

impl<R: Read> ShiftJisReader<R> {
    fn new(inner: R) -> Self {
        ShiftJisReader {
            inner,
            decoder: SHIFT_JIS.new_decoder_without_bom_handling(),
            input: vec![0; 64 * 1024],
            output: Vec::with_capacity(128 * 1024),
            out_pos: 0,
            line: 1,
            done: false,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let n = self.inner.read(&mut self.input)?;
        let last = n == 0;
        let src = &self.input[..n];
        self.output.clear();
        self.output
            .resize(self.decoder.max_utf8_buffer_length_without_replacement(n).unwrap_or(n * 3 + 16), 0);
        let (result, read, written) =
            self.decoder.decode_to_utf8_without_replacement(src, &mut self.output, last);
        if let DecoderResult::Malformed(_, _) = result {
            let line = self.line + src[..read].iter().filter(|b| **b == b'\n').count() as u64;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line {line}: not valid Shift_JIS"),
            ));
        }
        self.line += src.iter().filter(|b| **b == b'\n').count() as u64;
        self.output.truncate(written);
        self.out_pos = 0;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for ShiftJisReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_pos >= self.output.len() {
            if self.done {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.output.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Reports per this many rows.
const PROGRESS_EVERY: u64 = 1_000;

fn problem(line: u64, column: Option<&str>, kind: ProblemKind, message: impl Into<String>) -> ImportProblem {
    ImportProblem { line, column: column.map(str::to_owned), message: message.into(), kind }
}

/// Stops a row from growing past [`MAX_ROW_BYTES`]: counts the bytes handed to the CSV reader
/// since the last row ended (the reader resets the count) and fails beyond the limit.
struct RowGuard<R> {
    inner: R,
    since_row: u64,
}

impl<R: Read> Read for RowGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_row > MAX_ROW_BYTES {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, ROW_TOO_LONG));
        }
        let n = self.inner.read(buf)?;
        self.since_row += n as u64;
        Ok(n)
    }
}

const ROW_TOO_LONG: &str = "a row longer than 1 MiB (is a quote left open?); the file was read no further";

/// What the next record of the file was.
enum Next {
    /// A row to check (its line, its cells by column).
    Customer(u64, NewCustomer),
    /// A broken row, already counted among the problems.
    Problem,
    /// The end of the file, or of what could be read of it.
    End,
}

/// A CSV file of customers read one row at a time: only the current row is held.
struct CsvRows<'a> {
    csv: csv::Reader<RowGuard<Box<dyn Read + 'a>>>,
    client_id: String,
    columns: Vec<String>,
    record: csv::StringRecord,
    /// Records read, broken ones included.
    read: u64,
    done: bool,
    problems: Problems,
}

impl<'a> CsvRows<'a> {
    /// Opens the file and checks its header; a bad header refuses the file at once. Of the
    /// problems, the first `max_listed` are kept.
    fn open(
        input: impl Read + 'a,
        encoding: CsvEncoding,
        client_id: &str,
        max_listed: usize,
    ) -> Result<Self, ImportError> {
        let mut problems = Problems::new(max_listed);
        let mut buffered = BufReader::with_capacity(64 * 1024, input);
        // A UTF-8 byte-order mark (spreadsheets write one) is not part of the first header.
        if encoding == CsvEncoding::Utf8 {
            match buffered.fill_buf() {
                Ok(b) if b.starts_with(b"\xEF\xBB\xBF") => buffered.consume(3),
                Ok(_) => {}
                Err(e) => {
                    problems.push(problem(
                        1,
                        None,
                        ProblemKind::Unreadable,
                        format!("cannot read the file: {e}"),
                    ));
                    return Err(problems.refused());
                }
            }
        }
        let source: Box<dyn Read + 'a> = match encoding {
            CsvEncoding::Utf8 => Box::new(buffered),
            CsvEncoding::ShiftJis => Box::new(ShiftJisReader::new(buffered)),
        };
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(RowGuard { inner: source, since_row: 0 });
        let headers = match csv.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                let line = csv.position().line();
                problems.push(csv_problem(e, line));
                return Err(problems.refused());
            }
        };
        // A line 1 that names no field at all is a first customer, not a header (the header was
        // left out): its cells are values, and are not repeated in the problems.
        let is_header = headers.iter().any(|h| CustomerField::parse(h.trim()).is_some());
        let mut columns = Vec::with_capacity(headers.len());
        for h in headers.iter() {
            let name = h.trim();
            if let Err(e) = refuse_security_code(name) {
                problems.push(problem(1, Some(name), ProblemKind::SecurityCodeColumn, e.to_string()));
            } else if is_header && CustomerField::parse(name).is_none() {
                problems.push(problem(
                    1,
                    Some(name),
                    ProblemKind::UnknownColumn,
                    "not a customer field; see docs/vault.md for the names",
                ));
            }
            columns.push(name.to_owned());
        }
        if !is_header {
            problems.push(problem(
                1,
                None,
                ProblemKind::NoHeader,
                "not a header: no cell names a customer field (line 1 must name the columns; see docs/vault.md)",
            ));
        }
        if problems.any() {
            return Err(problems.refused());
        }
        Ok(CsvRows {
            csv,
            client_id: client_id.to_owned(),
            columns,
            record: csv::StringRecord::new(),
            read: 0,
            done: false,
            problems,
        })
    }

    /// Reads the next row; a broken one (wrong number of cells, bad bytes) goes into the
    /// problems and reading goes on where the reader can.
    fn next(&mut self) -> Next {
        if self.done {
            return Next::End;
        }
        self.csv.get_mut().since_row = 0;
        match self.csv.read_record(&mut self.record) {
            Ok(false) => {
                self.done = true;
                Next::End
            }
            Ok(true) => {
                self.read += 1;
                let line = self.record.position().map_or(self.read + 1, csv::Position::line);
                let new = NewCustomer {
                    client_id: self.client_id.clone(),
                    fields: self.columns.iter().cloned().zip(self.record.iter().map(str::to_owned)).collect(),
                };
                Next::Customer(line, new)
            }
            Err(e) => {
                self.read += 1;
                // A read error ends the file: the reader cannot find the next row after it.
                let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                let line = self.csv.position().line();
                self.problems.push(csv_problem(e, line));
                self.done = fatal;
                Next::Problem
            }
        }
    }
}

impl Vault {
    /// Whether `principal` may import customers for this client company (which must exist):
    /// asked before a file is read (the console's dry run), so that a file is never checked
    /// for someone who could not import it. A refusal is recorded; nothing else is.
    pub async fn may_import(
        &self,
        principal: &Principal,
        client_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::CustomersManage, &mamori_audit::actions::CUSTOMER_IMPORT, ctx)
            .await?;
        crate::check_id(client_id, "client company")?;
        match self.base.store.read().await?.org_unit(client_id).await? {
            Some(unit) if unit.kind == mamori_store::OrgKind::Client => Ok(()),
            _ => Err(CoreError::NotFound { what: "client company" }),
        }
    }

    /// Checks a CSV file of customers of one client company as [`Vault::import_customers_csv`]
    /// does, without sealing or writing anything: every row is read once and dropped, and of the
    /// problems only the first `import.max_listed_problems` are kept, so memory stays the same
    /// whatever the file. `progress` is told the rows read and the problems found so far, every
    /// 1,000 rows and as soon as the first problem is found. Returns the number of rows.
    pub fn check_customers_csv(
        &self,
        client_id: &str,
        input: impl Read,
        encoding: CsvEncoding,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<u64, ImportError> {
        let mut rows =
            CsvRows::open(input, encoding, client_id, self.base.policies.import_max_listed_problems)?;
        let mut customers = 0u64;
        loop {
            let before = rows.problems.total();
            match rows.next() {
                Next::End => break,
                Next::Problem => {}
                Next::Customer(line, new) => {
                    customers += 1;
                    match self.check_customer(&new) {
                        Ok(()) => {}
                        Err(CoreError::Invalid { field, code, message }) => {
                            rows.problems.push(problem(line, Some(field), ProblemKind::Value(code), message))
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            if rows.read.is_multiple_of(PROGRESS_EVERY) || (before == 0 && rows.problems.any()) {
                progress(rows.read, rows.problems.total());
            }
        }
        progress(rows.read, rows.problems.total());
        if rows.problems.any() {
            return Err(rows.problems.refused());
        }
        if customers == 0 {
            return Err(no_rows());
        }
        Ok(customers)
    }

    /// Imports a CSV file of customers of one client company. Line 1 names the columns (the
    /// customer field names: `name_kanji`, `phones`, …); every further line is a customer.
    /// All or nothing: the records are sealed and written a chunk at a time inside one
    /// transaction, which is rolled back at the first problem; the rest of the file is then
    /// only checked, the first `import.max_listed_problems` problems kept and all counted.
    /// `progress` is told how many rows have been read. Returns how many were imported.
    pub async fn import_customers_csv(
        &self,
        principal: &Principal,
        client_id: &str,
        input: impl Read,
        encoding: CsvEncoding,
        progress: &mut dyn FnMut(u64),
        ctx: &RequestContext,
    ) -> Result<u64, ImportError> {
        self.base
            .permitted(principal, Permission::CustomersManage, &mamori_audit::actions::CUSTOMER_IMPORT, ctx)
            .await?;
        let mut rows =
            CsvRows::open(input, encoding, client_id, self.base.policies.import_max_listed_problems)?;
        let now = self.base.now();
        let mut sealed = Vec::with_capacity(CHUNK_ROWS);
        let mut import = None;
        loop {
            let checked = match rows.next() {
                Next::End => break,
                Next::Problem => Ok(()),
                // Once refused, only look for more problems.
                Next::Customer(line, new) if rows.problems.any() => {
                    self.check_customer(&new).map_err(|e| (line, e))
                }
                Next::Customer(line, new) => {
                    self.seal_customer(&new, now).map(|s| sealed.push(s)).map_err(|e| (line, e))
                }
            };
            match checked {
                Ok(()) => {}
                Err((line, CoreError::Invalid { field, code, message })) => {
                    rows.problems.push(problem(line, Some(field), ProblemKind::Value(code), message))
                }
                Err((_, e)) => return Err(e.into()),
            }
            if rows.problems.any() {
                // Nothing of a refused file is kept: what was written is rolled back.
                import = None;
                sealed.clear();
            } else if sealed.len() >= CHUNK_ROWS {
                let tx = match import.as_mut() {
                    Some(tx) => tx,
                    None => import.insert(self.begin_import(client_id).await?),
                };
                tx.insert(&mut sealed).await?;
            }
            if rows.read.is_multiple_of(PROGRESS_EVERY) {
                progress(rows.read);
            }
        }
        progress(rows.read);
        if rows.problems.any() {
            return Err(rows.problems.refused());
        }
        let mut tx = match import {
            Some(tx) => tx,
            None if sealed.is_empty() => return Err(no_rows()),
            None => self.begin_import(client_id).await?,
        };
        tx.insert(&mut sealed).await?;
        Ok(self.finish_import(tx, principal, ctx).await?)
    }
}

fn no_rows() -> ImportError {
    ImportError::Refused(Refusal {
        problems: vec![problem(2, None, ProblemKind::NoRows, "the file has no customer rows")],
        total: 1,
    })
}

/// A problem the CSV reader found; `line` is where it was when the error came without one.
fn csv_problem(e: csv::Error, line: u64) -> ImportProblem {
    let line = e.position().map_or(line, csv::Position::line);
    let (kind, message) = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            (ProblemKind::NotUtf8, "not valid UTF-8 (if the file is Shift_JIS, say so)".to_owned())
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => (
            ProblemKind::Cells { expected: *expected_len, found: *len },
            format!("{len} columns where the header has {expected_len}"),
        ),
        csv::ErrorKind::Io(io) if io.to_string() == ROW_TOO_LONG => (ProblemKind::RowTooLong, io.to_string()),
        csv::ErrorKind::Io(io) => (ProblemKind::Unreadable, io.to_string()),
        _ => (ProblemKind::Unreadable, e.to_string()),
    };
    // The Shift_JIS reader names its own line.
    match message.strip_prefix("line ").and_then(|m| m.split_once(':')) {
        Some((n, rest)) if n.parse::<u64>().is_ok() => {
            problem(n.parse().unwrap_or(line), None, ProblemKind::NotShiftJis, rest.trim().to_owned())
        }
        _ => problem(line, None, kind, message),
    }
}
