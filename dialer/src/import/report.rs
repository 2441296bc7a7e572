//! What an import answers: the report of every row, and the reasons a file is
//! refused whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::format::Format;

/// The account of one import, served as JSON to the operator who sent the file.
/// Every data row is in exactly one of four counts:
/// `rows = imported + duplicates + filtered (all filters) + rejected_total`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The format read.
    pub format: Option<Format>,
    /// The text encoding read (`UTF-8`, `gb18030`, `UTF-16LE`), for CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// The delimiter found in the header line, for CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// The worksheet read, for workbooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// Data rows read (the header and empty rows not counted).
    pub rows: u64,
    /// Rows that made a new target.
    pub imported: u64,
    /// Rows whose number an earlier row of the file already had: they replaced
    /// that row's fields (the last row wins).
    pub duplicates: u64,
    /// Targets taken back because a later row of the same number was
    /// filtered out (its data, the latest, says not to call).
    pub withdrawn: u64,
    /// Distinct numbers the file leaves as targets: `imported - withdrawn`.
    pub targets: u64,
    /// Rows with no cell filled, which a spreadsheet shows as blank lines.
    pub empty_rows: u64,
    /// Rows refused, with the reason; the first [`REJECTED_LISTED`] in full.
    pub rejected: Vec<Rejection>,
    /// All rows refused, including those past the listed ones.
    pub rejected_total: u64,
    /// Rows left out by each filter, by the filter's text.
    pub filtered: BTreeMap<String, u64>,
}

/// How many rejected rows a report lists one by one, so that a broken file
/// still gives a report of bounded size; the rest are counted.
pub const REJECTED_LISTED: usize = 1000;

/// One refused row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The row number as a spreadsheet shows it: the header is row 1.
    pub row: u64,
    /// Why, in plain words; several problems of one row are joined by `; `.
    pub reason: String,
}

impl ImportReport {
    /// Rows left out by all filters together.
    pub fn filtered_total(&self) -> u64 {
        self.filtered.values().sum()
    }

    pub(crate) fn reject(&mut self, row: u64, reason: String) {
        self.rejected_total += 1;
        if self.rejected.len() < REJECTED_LISTED {
            self.rejected.push(Rejection { row, reason });
        }
    }
}

/// Why a whole file is refused, or why an import stopped. Errors before the
/// first row reaches the sink (all but [`ImportError::Read`] after the header
/// and [`ImportError::Sink`]) leave nothing behind; the others stop midway and
/// the caller discards what it staged.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The campaign declares no field to dial.
    #[error(
        "the list has no phone field: name a field `phone`, or give a text field whose name says phone, mobile, tel or number"
    )]
    NoPhoneField,
    /// The named phone field is not among the campaign's fields, or not text.
    #[error("the phone field `{0}` is not a text field of the list")]
    BadPhoneField(String),
    /// A field's declared type cannot come from a list file.
    #[error("the field `{field}` holds {ty}, which a list file cannot give")]
    UnsupportedType {
        /// The field.
        field: String,
        /// Its type, in words (`a record`).
        ty: String,
    },
    /// Nothing says what kind of file this is.
    #[error("this file is not a list the importer reads (CSV, xlsx, xls or ods)")]
    UnknownFormat,
    /// The file has no header row.
    #[error("the file is empty: there is no header row")]
    Empty,
    /// Columns the campaign maps are not in the header.
    #[error(
        "the header has no column {}; it has {}",
        quoted(missing),
        quoted(found)
    )]
    MissingColumns {
        /// The mapped column names that were not found.
        missing: Vec<String>,
        /// The header's names, to compare with.
        found: Vec<String>,
    },
    /// A mapped column name appears twice in the header.
    #[error("the column \"{column}\" appears twice in the header (columns {first} and {second})")]
    AmbiguousColumn {
        /// The column name.
        column: String,
        /// Spreadsheet letters of the two places.
        first: String,
        /// The second place.
        second: String,
    },
    /// A workbook given as CSV through a stream that cannot be rewound.
    #[error("this is an {0} workbook, not CSV text; send it as {0}")]
    WorkbookAsText(Format),
    /// Not text, and not a workbook either.
    #[error("this file is not text: it holds NUL bytes and no UTF-16 byte-order mark")]
    NotText,
    /// A password-protected workbook.
    #[error("the workbook is encrypted (password protected); save it without a password")]
    Encrypted,
    /// The named worksheet does not exist.
    #[error("the workbook has no sheet \"{wanted}\"; it has {}", quoted(sheets))]
    NoSuchSheet {
        /// The sheet asked for.
        wanted: String,
        /// The sheets there are.
        sheets: Vec<String>,
    },
    /// The workbook has no sheet at all.
    #[error("the workbook has no worksheet")]
    NoSheet,
    /// The workbook container or its parts cannot be read (truncated,
    /// corrupt, not really that format).
    #[error("the {format} file cannot be read: {reason}")]
    Unreadable {
        /// The format it was read as.
        format: Format,
        /// What the reader said.
        reason: String,
    },
    /// Reading stopped partway (an IO error or a corrupt part after the
    /// header): rows up to `after_row` reached the sink.
    #[error("reading stopped after row {after_row}: {reason}")]
    Read {
        /// The last row number read.
        after_row: u64,
        /// What went wrong.
        reason: String,
    },
    /// The sink refused a row; the import stopped there.
    #[error("storing row {row} failed: {reason}")]
    Sink {
        /// The row being stored.
        row: u64,
        /// What the sink said.
        reason: String,
    },
}

/// Names in quotes, comma separated, for messages.
fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A column index (0-based) as a spreadsheet names it: `A`, `Z`, `AA`.
pub(crate) fn column_letters(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_as_spreadsheets_show_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn rejected_rows_are_listed_up_to_the_cap_then_counted() {
        let mut report = ImportReport::default();
        for row in 0..(REJECTED_LISTED as u64 + 5) {
            report.reject(row + 2, "missing phone".into());
        }
        assert_eq!(report.rejected.len(), REJECTED_LISTED);
        assert_eq!(report.rejected_total, REJECTED_LISTED as u64 + 5);
    }

    #[test]
    fn missing_columns_are_named() {
        let e = ImportError::MissingColumns {
            missing: vec!["欠费金额".into()],
            found: vec!["手机号码".into(), "客户姓名".into()],
        };
        assert_eq!(
            e.to_string(),
            "the header has no column \"欠费金额\"; it has \"手机号码\", \"客户姓名\""
        );
    }
}
