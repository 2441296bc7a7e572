//! The part of an import that is the same for every format: the header mapped
//! to the campaign's fields, each row typed, checked, filtered and merged with
//! earlier rows of the same number, and every outcome counted in the report.

use calamine::Data;
use dialect_compiler::value::Value;
use dialect_lang::types::Type;
use rustc_hash::{FxHashMap, FxHashSet};

use super::cells::{CellProblem, RawCell, header_key, read_cell, trim_cell};
use super::report::{ImportError, ImportReport, column_letters};
use super::{ImportSink, ImportedRow, Importer, Progress};

/// The cells of one row, as a format's reader holds them.
#[derive(Clone, Copy)]
pub(crate) enum RowCells<'r> {
    /// Fields of a delimited text record.
    Text(&'r csv::StringRecord),
    /// Cells of a worksheet row, by column from the header's first column.
    Sheet(&'r [Data]),
}

impl<'r> RowCells<'r> {
    fn len(self) -> usize {
        match self {
            RowCells::Text(r) => r.len(),
            RowCells::Sheet(cells) => cells.len(),
        }
    }

    fn get(self, index: usize) -> RawCell<'r> {
        match self {
            RowCells::Text(r) => RawCell::Text(r.get(index).unwrap_or("")),
            RowCells::Sheet(cells) => RawCell::Sheet(cells.get(index).unwrap_or(&Data::Empty)),
        }
    }

    /// Whether a cell holds nothing but blanks.
    fn blank_at(self, index: usize) -> bool {
        match self.get(index) {
            RawCell::Text(t) => trim_cell(t).is_empty(),
            RawCell::Sheet(Data::Empty) => true,
            RawCell::Sheet(Data::String(s)) => trim_cell(s).is_empty(),
            RawCell::Sheet(_) => false,
        }
    }

    fn all_blank(self) -> bool {
        (0..self.len()).all(|i| self.blank_at(i))
    }
}

/// A header's names as text, for matching and for messages.
pub(crate) fn header_names(cells: RowCells<'_>) -> Vec<String> {
    (0..cells.len())
        .map(|i| match cells.get(i) {
            RawCell::Text(t) => trim_cell(t).to_string(),
            RawCell::Sheet(Data::String(s)) => trim_cell(s).to_string(),
            RawCell::Sheet(Data::Empty) => String::new(),
            RawCell::Sheet(other) => other.to_string(),
        })
        .collect()
}

/// Where each field's column is, by the header's names.
pub(crate) fn map_columns(
    importer: &Importer,
    names: &[String],
    first_column: usize,
) -> Result<Vec<usize>, ImportError> {
    let keys: Vec<String> = names.iter().map(|n| header_key(n)).collect();
    let mut columns = Vec::with_capacity(importer.fields.len());
    let mut missing = Vec::new();
    for field in &importer.fields {
        let mut found = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == field.column_key);
        match (found.next(), found.next()) {
            (Some((first, _)), Some((second, _))) => {
                return Err(ImportError::AmbiguousColumn {
                    column: field.column.clone(),
                    first: column_letters(first_column + first),
                    second: column_letters(first_column + second),
                });
            }
            (Some((index, _)), None) => columns.push(index),
            (None, _) => missing.push(field.column.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(ImportError::MissingColumns {
            missing,
            found: names.iter().filter(|n| !n.is_empty()).cloned().collect(),
        });
    }
    Ok(columns)
}

/// Marks a packed key whose number is a target now (not withdrawn by a later
/// filtered row); packed numbers stay below 2·10^18, so the top bit is free.
const ACTIVE: u64 = 1 << 63;

/// What the file said so far about a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// No earlier row passed the filters with it.
    New,
    /// An earlier row made it a target.
    Target,
    /// An earlier row made it a target and a later one withdrew it.
    Withdrawn,
}

/// The numbers seen so far in this file, so that a later row of the same
/// number merges with the earlier one. Digits-only numbers of up to 18 digits
/// (all real ones) are packed into a `u64`, `1` followed by the digits so that
/// leading zeros count, with the top bit saying whether the number is a
/// target now: 8 bytes a number (9 in the hash table; a million numbers take
/// some 19 MB, twice that for a moment while the table grows). Other numbers
/// (`*`, `#`, very long) are kept as text.
#[derive(Default)]
pub(crate) struct PhoneKeys {
    packed: FxHashSet<u64>,
    other: FxHashMap<String, bool>,
}

impl PhoneKeys {
    fn pack(phone: &str) -> Option<u64> {
        if phone.is_empty() || phone.len() > 18 || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut key: u64 = 1;
        for b in phone.bytes() {
            key = key * 10 + u64::from(b - b'0');
        }
        Some(key)
    }

    pub(crate) fn seen(&self, phone: &str) -> Seen {
        let active = match PhoneKeys::pack(phone) {
            Some(key) if self.packed.contains(&(key | ACTIVE)) => Some(true),
            Some(key) => self.packed.contains(&key).then_some(false),
            None => self.other.get(phone).copied(),
        };
        match active {
            None => Seen::New,
            Some(true) => Seen::Target,
            Some(false) => Seen::Withdrawn,
        }
    }

    /// Records whether `phone` is a target now.
    pub(crate) fn set(&mut self, phone: &str, target: bool) {
        match PhoneKeys::pack(phone) {
            Some(key) => {
                let (old, new) = if target {
                    (key, key | ACTIVE)
                } else {
                    (key | ACTIVE, key)
                };
                self.packed.remove(&old);
                self.packed.insert(new);
            }
            None => {
                self.other.insert(phone.to_string(), target);
            }
        }
    }
}

/// Rows between two progress reports.
const PROGRESS_EVERY: u64 = 8192;

/// One import in progress: the mapping, the numbers seen and the report.
pub(crate) struct RowEngine<'a, S: ImportSink> {
    importer: &'a Importer,
    columns: Vec<usize>,
    header_len: usize,
    /// Whether rows must have as many cells as the header (delimited text,
    /// where a missing or extra delimiter shifts every later cell).
    strict_width: bool,
    keys: PhoneKeys,
    pub(crate) report: ImportReport,
    sink: &'a mut S,
    problems: Vec<String>,
    /// The spreadsheet row of the last row handled.
    pub(crate) last_row: u64,
}

impl<'a, S: ImportSink> RowEngine<'a, S> {
    pub(crate) fn new(
        importer: &'a Importer,
        columns: Vec<usize>,
        header_len: usize,
        strict_width: bool,
        report: ImportReport,
        sink: &'a mut S,
    ) -> Self {
        RowEngine {
            importer,
            columns,
            header_len,
            strict_width,
            keys: PhoneKeys::default(),
            report,
            sink,
            problems: Vec::new(),
            last_row: 1,
        }
    }

    /// Counts rows the spreadsheet would show empty (blank lines, rows with
    /// no cell).
    pub(crate) fn empty_rows(&mut self, count: u64) {
        self.report.empty_rows += count;
    }

    /// Tells the sink how far the import is, every few thousand rows.
    pub(crate) fn maybe_progress(&mut self, progress: impl FnOnce(u64) -> Progress) {
        if self.report.rows.is_multiple_of(PROGRESS_EVERY) && self.report.rows > 0 {
            self.sink.progress(progress(self.report.rows));
        }
    }

    /// The report, after a last progress call.
    pub(crate) fn finish(mut self, progress: Progress) -> ImportReport {
        self.sink.progress(progress);
        self.report.targets = self.report.imported.saturating_sub(self.report.withdrawn);
        self.report
    }

    /// Handles one data row at spreadsheet row `row`.
    pub(crate) fn row(&mut self, row: u64, cells: RowCells<'_>) -> Result<(), ImportError> {
        self.last_row = row;
        if cells.all_blank() {
            self.report.empty_rows += 1;
            return Ok(());
        }
        self.report.rows += 1;
        self.problems.clear();
        if self.strict_width && cells.len() != self.header_len {
            let extra_blank = cells.len() > self.header_len
                && (self.header_len..cells.len()).all(|i| cells.blank_at(i));
            if !extra_blank {
                self.report.reject(
                    row,
                    format!(
                        "wrong number of cells: {} where the header has {}",
                        cells.len(),
                        self.header_len
                    ),
                );
                return Ok(());
            }
        }
        let fields = &self.importer.fields;
        let mut values = Vec::with_capacity(fields.len());
        let mut phone = String::new();
        for (index, (field, &column)) in fields.iter().zip(&self.columns).enumerate() {
            let cell = cells.get(column);
            if let RawCell::Text(t) = cell
                && t.contains('\u{fffd}')
            {
                self.problems.push(format!(
                    "bad encoding in column \"{}\": bytes that are not valid text in {}",
                    field.column,
                    self.report
                        .encoding
                        .as_deref()
                        .unwrap_or("the file's encoding")
                ));
                values.push(Value::Text(String::new()));
                continue;
            }
            if index == self.importer.phone {
                match read_phone(cell, &field.column, self.importer) {
                    Ok(canonical) => {
                        phone.clone_from(&canonical);
                        values.push(Value::Text(canonical));
                    }
                    Err(problem) => {
                        self.problems.push(problem);
                        values.push(Value::Text(String::new()));
                    }
                }
                continue;
            }
            match read_cell(cell, field.ty) {
                Ok(value) => values.push(value),
                Err(problem) => {
                    self.problems
                        .push(describe(&problem, field.ty, &field.column));
                    values.push(Value::Text(String::new()));
                }
            }
        }
        let timezone = match self.importer.timezone.and_then(|i| values.get(i)) {
            Some(Value::Text(zone)) if !zone.trim().is_empty() => {
                match zone.trim().parse::<chrono_tz::Tz>() {
                    Ok(tz) => Some(tz.name().to_string()),
                    Err(_) => {
                        let column = self
                            .importer
                            .timezone
                            .and_then(|i| fields.get(i))
                            .map_or("", |f| f.column.as_str());
                        self.problems.push(format!(
                            "unknown time zone \"{}\" in column \"{column}\": write an IANA name such as Asia/Shanghai",
                            zone.trim()
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        if !self.problems.is_empty() {
            let reason = self.problems.join("; ");
            self.report.reject(row, reason);
            return Ok(());
        }
        if let Err(filter) = self.sink.filter(&values) {
            *self.report.filtered.entry(filter).or_insert(0) += 1;
            if self.keys.seen(&phone) == Seen::Target {
                self.keys.set(&phone, false);
                self.report.withdrawn += 1;
                self.sink
                    .withdraw(&phone, row)
                    .map_err(|reason| ImportError::Sink { row, reason })?;
            }
            return Ok(());
        }
        let replaces = self.keys.seen(&phone) == Seen::Target;
        if !replaces {
            self.keys.set(&phone, true);
        }
        if replaces {
            self.report.duplicates += 1;
        } else {
            self.report.imported += 1;
        }
        self.sink
            .target(ImportedRow {
                row,
                phone,
                values,
                replaces,
                timezone,
            })
            .map_err(|reason| ImportError::Sink { row, reason })
    }
}

/// The canonical number in the phone cell, or why there is none.
fn read_phone(cell: RawCell<'_>, column: &str, importer: &Importer) -> Result<String, String> {
    let text = match read_cell(cell, Type::Text) {
        Ok(Value::Text(t)) => t,
        Ok(other) => other.to_text(),
        Err(CellProblem::SheetError(e)) => {
            return Err(format!(
                "missing phone in column \"{column}\": the cell holds the spreadsheet error {e}"
            ));
        }
        Err(_) => String::new(),
    };
    if text.is_empty() {
        return Err(format!("missing phone in column \"{column}\""));
    }
    dialect_numbers::canonical(&text, &importer.rules)
        .map_err(|e| format!("unparsable number \"{text}\" in column \"{column}\": {e}"))
}

/// A cell's problem in words, with its column.
fn describe(problem: &CellProblem, ty: Type, column: &str) -> String {
    let what = match ty {
        Type::Number => "number",
        Type::Bool => "yes/no value",
        Type::Date => "date",
        Type::Time => "clock time",
        Type::Duration => "duration",
        _ => "text",
    };
    match problem {
        CellProblem::Missing => format!("missing {what} in column \"{column}\""),
        CellProblem::Unparsable(text) => {
            let hint = match ty {
                Type::Date => " (write the year first: 2026-12-07)",
                Type::Bool => " (write 是/否, Y/N, yes/no, true/false or 1/0)",
                _ => "",
            };
            format!("unparsable {what} \"{text}\" in column \"{column}\"{hint}")
        }
        CellProblem::SheetError(e) => {
            format!("the cell in column \"{column}\" holds the spreadsheet error {e}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_keep_leading_zeros_apart() {
        let a = PhoneKeys::pack("01065529988");
        let b = PhoneKeys::pack("1065529988");
        assert!(a.is_some() && b.is_some());
        assert_ne!(a, b);
        assert_eq!(
            PhoneKeys::pack("13800138000"),
            PhoneKeys::pack("13800138000")
        );
        assert_eq!(PhoneKeys::pack("*123#"), None);
        assert_eq!(PhoneKeys::pack("0044207946000012345"), None);
        assert!(PhoneKeys::pack("999999999999999999").is_some());
    }

    #[test]
    fn numbers_go_from_new_to_target_to_withdrawn() {
        let mut keys = PhoneKeys::default();
        for phone in ["13800138000", "*123#"] {
            assert_eq!(keys.seen(phone), Seen::New);
            keys.set(phone, true);
            assert_eq!(keys.seen(phone), Seen::Target);
            keys.set(phone, false);
            assert_eq!(keys.seen(phone), Seen::Withdrawn);
            keys.set(phone, true);
            assert_eq!(keys.seen(phone), Seen::Target);
        }
        assert_eq!(keys.seen("*124#"), Seen::New);
        assert_eq!(keys.seen("013800138000"), Seen::New);
    }
}
