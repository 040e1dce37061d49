//! Importing customers from CSV (issue 4): UTF-8 or Shift_JIS (what Japanese clients send),
//! read as a stream, every row checked, and all or nothing — one bad row refuses the whole file,
//! and every problem is reported with its line and column. Values are sealed as they are read;
//! no plaintext is written anywhere.

use crate::vault::NewCustomer;
use crate::{Core, CoreError, Principal};
use encoding_rs::{DecoderResult, SHIFT_JIS};
use mamori_audit::RequestContext;
use mamori_domain::customer::{CustomerField, refuse_security_code};
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
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Nothing was imported; every problem found is listed.
    #[error("the file was refused, nothing was imported: {} problem(s), the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Refused(Vec<ImportProblem>),
    #[error(transparent)]
    Core(#[from] CoreError),
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

fn problem(line: u64, column: Option<&str>, message: impl Into<String>) -> ImportProblem {
    ImportProblem { line, column: column.map(str::to_owned), message: message.into() }
}

impl Core {
    /// Imports a CSV file of customers of one client company. Line 1 names the columns (the
    /// customer field names: `name_kanji`, `phones`, …); every further line is a customer.
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
        let mut buffered = BufReader::with_capacity(64 * 1024, input);
        // A UTF-8 byte-order mark (spreadsheets write one) is not part of the first header.
        if encoding == CsvEncoding::Utf8
            && buffered.fill_buf().map_err(io_problem)?.starts_with(b"\xEF\xBB\xBF")
        {
            buffered.consume(3);
        }
        let source: Box<dyn Read> = match encoding {
            CsvEncoding::Utf8 => Box::new(buffered),
            CsvEncoding::ShiftJis => Box::new(ShiftJisReader::new(buffered)),
        };
        let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(source);
        let headers = csv.headers().map_err(ImportError::from)?.clone();
        let mut problems = Vec::new();
        let mut columns = Vec::with_capacity(headers.len());
        for h in headers.iter() {
            let name = h.trim();
            if let Err(e) = refuse_security_code(name) {
                problems.push(problem(1, Some(name), e.to_string()));
            } else if CustomerField::parse(name).is_none() {
                problems.push(problem(
                    1,
                    Some(name),
                    "not a customer field; see docs/vault.md for the names",
                ));
            }
            columns.push(name.to_owned());
        }
        if !problems.is_empty() {
            return Err(ImportError::Refused(problems));
        }
        let now = self.now();
        let mut sealed = Vec::new();
        let mut rows = 0u64;
        let mut record = csv::StringRecord::new();
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    // A broken row (wrong number of fields, bad bytes): noted, and reading goes on
                    // where the reader can.
                    let fatal = matches!(e.kind(), csv::ErrorKind::Io(_));
                    problems.push(csv_problem(e));
                    if fatal {
                        break;
                    }
                    continue;
                }
            }
            rows += 1;
            let line = record.position().map_or(rows + 1, |p| p.line());
            let new = NewCustomer {
                client_id: client_id.to_owned(),
                fields: columns.iter().cloned().zip(record.iter().map(str::to_owned)).collect(),
            };
            match self.seal_customer(&new, now) {
                Ok(s) if problems.is_empty() => sealed.push(s),
                Ok(_) => {} // already refused: only look for more problems
                Err(CoreError::Invalid { field, message, .. }) => {
                    problems.push(problem(line, Some(field), message));
                    sealed.clear();
                }
                Err(e) => return Err(e.into()),
            }
            if rows.is_multiple_of(PROGRESS_EVERY) {
                progress(rows);
            }
        }
        progress(rows);
        if !problems.is_empty() {
            return Err(ImportError::Refused(problems));
        }
        if sealed.is_empty() {
            return Err(ImportError::Refused(vec![problem(2, None, "the file has no customer rows")]));
        }
        self.insert_sealed(principal, &sealed, true, ctx).await?;
        Ok(rows)
    }
}

fn io_problem(e: std::io::Error) -> ImportError {
    ImportError::Refused(vec![problem(1, None, format!("cannot read the file: {e}"))])
}

fn csv_problem(e: csv::Error) -> ImportProblem {
    let line = e.position().map_or(1, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8 (if the file is Shift_JIS, say so)".to_owned(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} columns where the header has {expected_len}")
        }
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    };
    // The Shift_JIS reader names its own line.
    match message.strip_prefix("line ").and_then(|m| m.split_once(':')) {
        Some((n, rest)) if n.parse::<u64>().is_ok() => {
            problem(n.parse().unwrap_or(line), None, rest.trim().to_owned())
        }
        _ => problem(line, None, message),
    }
}

impl From<csv::Error> for ImportError {
    fn from(e: csv::Error) -> Self {
        ImportError::Refused(vec![csv_problem(e)])
    }
}
