//! Delimited text (CSV and its cousins) read as a stream: the encoding
//! decoded on the fly, the delimiter found in the header line, quoted fields
//! (with delimiters, doubled quotes and line breaks inside), and row numbers
//! counted as a spreadsheet shows them.
//!
//! Row numbers: a spreadsheet shows one row per record, however many line
//! breaks its quoted cells hold, and one (empty) row per blank line. The
//! header is row 1 (an Excel `sep=;` line before it is not shown, and not
//! counted).

use std::io::{BufRead, BufReader, Cursor, Read};

use super::decode::DecodingReader;
use super::format::{Format, looks_like_text};
use super::report::{ImportError, ImportReport};
use super::rows::{RowCells, RowEngine, header_names, map_columns};
use super::{ImportSink, Importer, Progress};

/// The CSV reader over the header line read ahead and the rest of the text.
type CsvReader<R> = csv::Reader<std::io::Chain<Cursor<Vec<u8>>, BufReader<DecodingReader<R>>>>;

/// The longest header line looked at to find the delimiter.
const HEADER_LINE_LIMIT: u64 = 1 << 20;
/// Delimiters recognised, in order of preference when counts tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Imports delimited text from `reader`.
pub(crate) fn import_csv<R: Read, S: ImportSink>(
    importer: &Importer,
    reader: R,
    sink: &mut S,
) -> Result<ImportReport, ImportError> {
    let io_error = |e: std::io::Error| ImportError::Unreadable {
        format: Format::Csv,
        reason: e.to_string(),
    };
    let decoded = DecodingReader::new(reader, importer.encoding).map_err(io_error)?;
    if let Some(workbook) = Format::sniff(decoded.head()) {
        return Err(ImportError::WorkbookAsText(workbook));
    }
    if !looks_like_text(decoded.head()) {
        return Err(ImportError::NotText);
    }
    let mut buffered = BufReader::with_capacity(64 * 1024, decoded);
    // The lines before the header (blank lines, an Excel `sep=;` line) are
    // read here; the header line stays in `prefix` for the CSV reader.
    let mut prefix = Vec::new();
    let mut delimiter = None;
    let mut lines_before_header = 0u64;
    loop {
        prefix.clear();
        (&mut buffered)
            .take(HEADER_LINE_LIMIT)
            .read_until(b'\n', &mut prefix)
            .map_err(io_error)?;
        if prefix.contains(&0) {
            return Err(ImportError::NotText);
        }
        if prefix.is_empty() {
            return Err(ImportError::Empty);
        }
        if let Some(sep) = excel_separator_line(&prefix) {
            delimiter = Some(sep);
        } else if prefix.iter().all(u8::is_ascii_whitespace) {
            lines_before_header += 1;
        } else {
            break;
        }
    }
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(&prefix));
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(Cursor::new(prefix).chain(buffered));
    let consumed = |csv: &CsvReader<R>| csv.get_ref().get_ref().1.get_ref().consumed();

    let mut record = csv::StringRecord::new();
    let mut header_row = lines_before_header;
    loop {
        header_row += 1;
        match csv.read_record(&mut record) {
            Ok(false) => return Err(ImportError::Empty),
            Ok(true) => {
                if header_names(RowCells::Text(&record))
                    .iter()
                    .any(|n| !n.is_empty())
                {
                    break;
                }
            }
            Err(e) => return Err(io_error(std::io::Error::other(e.to_string()))),
        }
    }
    let mut lines = LineCounter {
        end_line: csv.position().line(),
        row: header_row,
    };
    let names = header_names(RowCells::Text(&record));
    let columns = map_columns(importer, &names, 0)?;
    let encoding = csv.get_ref().get_ref().1.get_ref().encoding();
    let report = ImportReport {
        format: Some(Format::Csv),
        encoding: Some(encoding.map_or("UTF-8", |e| e.name()).to_string()),
        delimiter: Some(char::from(delimiter)),
        ..ImportReport::default()
    };
    let mut engine = RowEngine::new(importer, columns, names.len(), true, report, sink);
    engine.empty_rows(header_row - 1);
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let (row, blank) = lines.next(&record, csv.position().line());
                engine.empty_rows(blank);
                engine.row(row, RowCells::Text(&record))?;
                let bytes = consumed(&csv);
                engine.maybe_progress(|rows| Progress {
                    rows,
                    bytes,
                    rows_total: None,
                });
            }
            Err(e) => {
                return Err(ImportError::Read {
                    after_row: engine.last_row,
                    reason: e.to_string(),
                });
            }
        }
    }
    // The encoding may have been decided after the header (an ASCII header).
    if let Some(encoding) = csv.get_ref().get_ref().1.get_ref().encoding() {
        engine.report.encoding = Some(encoding.name().to_string());
    }
    let rows = engine.report.rows;
    let bytes = consumed(&csv);
    Ok(engine.finish(Progress {
        rows,
        bytes,
        rows_total: Some(rows),
    }))
}

/// The delimiter an Excel `sep=;` first line names.
fn excel_separator_line(line: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(line)
        .ok()?
        .trim_end_matches(['\r', '\n']);
    let rest = text.strip_prefix("sep=")?;
    match rest.as_bytes() {
        [d] if d.is_ascii_punctuation() || *d == b'\t' => Some(*d),
        _ => None,
    }
}

/// The delimiter that occurs most often outside quotes in the header line;
/// a comma when none occurs (a file of one column).
pub(crate) fn sniff_delimiter(line: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(i) = DELIMITERS.iter().position(|&d| d == b) {
            counts[i] += 1;
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// Turns the CSV reader's line counts into spreadsheet rows. After each
/// record the reader says on which line it is; the lines a record consumed
/// beyond its own (one, plus the line breaks inside its quoted cells) were
/// blank lines before it. (With CRLF endings the reader counts each record's
/// final line break when reading the next record; the sum is the same.)
struct LineCounter {
    /// The reader's line after the previous record.
    end_line: u64,
    /// The spreadsheet row of the previous record.
    row: u64,
}

impl LineCounter {
    /// The row of `record` and the blank lines before it, given the reader's
    /// line after it.
    fn next(&mut self, record: &csv::StringRecord, end_line: u64) -> (u64, u64) {
        let consumed = end_line.saturating_sub(self.end_line);
        let own = 1 + record.as_slice().bytes().filter(|&b| b == b'\n').count() as u64;
        let blank = consumed.saturating_sub(own);
        self.end_line = end_line;
        self.row += blank + 1;
        (self.row, blank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_is_the_commonest_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a|b|c\n"), b'|');
        assert_eq!(sniff_delimiter(b"\"x,y,z\";b;c\n"), b';');
        assert_eq!(sniff_delimiter("手机号码\n".as_bytes()), b',');
    }

    #[test]
    fn excel_separator_hint() {
        assert_eq!(excel_separator_line(b"sep=;\r\n"), Some(b';'));
        assert_eq!(excel_separator_line(b"sep=\t\n"), Some(b'\t'));
        assert_eq!(excel_separator_line(b"sep=;;\n"), None);
        assert_eq!(excel_separator_line(b"phone,name\n"), None);
    }
}
