//! List import (requirement O1): a campaign's list file, CSV or a workbook,
//! read as a stream into typed targets, with a report of every row.
//!
//! A campaign maps the list's columns to typed fields (`phone: text <-
//! "手机号码"`). [`Importer::new`] takes that mapping; an import then reads a
//! file row by row and hands each typed row to an [`ImportSink`], which runs
//! the campaign's filters (compiled predicates, which the runtime evaluates)
//! and stores the targets. Nothing reaches the sink before the header has been
//! checked against the mapping, so a file that cannot be read at all is
//! refused whole with an [`ImportError`]; afterwards every row ends in exactly
//! one count of the [`ImportReport`]: imported, duplicate (merged, the last row
//! wins), filtered (per filter) or rejected (with its row number and why).
//!
//! Memory is bounded by the widest row, not by the file: CSV is decoded and
//! parsed as it is read, xlsx is read cell by cell. The importer keeps only the
//! numbers it has seen (packed into 8 bytes each), to merge duplicates.
//!
//! # Layout
//! - [`format`]: [`Format`], chosen from a content type, a path or the first bytes.
//! - `decode`: the encoding of delimited text (UTF-8, UTF-16, GB18030/GBK).
//! - `delimited`: CSV and its cousins, as a stream; row numbering.
//! - `sheet`: xlsx (streamed), xls and ods, through `calamine`.
//! - `cells`: one cell to a typed value: number, yes/no, date spellings.
//! - `rows`: the header mapped to fields; each row typed, filtered, merged.
//! - [`report`]: [`ImportReport`], [`Rejection`], [`ImportError`].

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use dialect_compiler::value::Value;
use dialect_lang::types::Type;
use dialect_numbers::NumberRules;
use encoding_rs::Encoding;

mod cells;
mod decode;
mod delimited;
pub mod format;
pub mod report;
mod rows;
mod sheet;
#[cfg(test)]
mod tests;

pub use format::Format;
pub use report::{ImportError, ImportReport, REJECTED_LISTED, Rejection};

/// One field of the campaign's list, as the importer reads it.
#[derive(Debug, Clone)]
struct Field {
    /// The header name in the file, as the campaign writes it.
    column: String,
    /// The same, in the form header names are compared in.
    column_key: String,
    ty: Type,
}

/// Reads list files for one campaign's field mapping. Cheap to keep; one
/// importer serves any number of imports, one at a time or in parallel.
#[derive(Debug, Clone)]
pub struct Importer {
    fields: Vec<Field>,
    names: Vec<String>,
    /// The index of the phone field in `fields`.
    phone: usize,
    /// The index of the field holding the callee's time zone, if the list has one.
    timezone: Option<usize>,
    rules: NumberRules,
    /// The encoding of text without a byte-order mark; detected when `None`.
    encoding: Option<&'static Encoding>,
    /// The worksheet to read; the first when `None`.
    sheet: Option<String>,
}

/// A typed row on its way to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRow {
    /// The row number as a spreadsheet shows it (header = 1), for messages.
    pub row: u64,
    /// The number in canonical form (see `dialect_numbers::canonical`): the
    /// key under which the target is stored and do-not-call lists are matched.
    pub phone: String,
    /// The fields' values in the campaign's order, the phone field holding
    /// the canonical number.
    pub values: Vec<Value>,
    /// Whether an earlier row of the file made a target of the same number,
    /// which this row replaces (the last row wins): the sink overwrites that
    /// target's fields.
    pub replaces: bool,
    /// The callee's IANA time zone, when the list has a time-zone field and
    /// the row fills it: the call windows are then read in that zone.
    pub timezone: Option<String>,
}

/// How far an import has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Data rows read so far.
    pub rows: u64,
    /// Bytes of the file read so far (CSV; 0 for workbooks, which are read by
    /// parts rather than front to back).
    pub bytes: u64,
    /// The rows the sheet says it has (workbooks; at the end, all rows read).
    pub rows_total: Option<u64>,
}

/// Where imported rows go: the runtime stores targets (staged, so that an
/// import that stops midway can be discarded) and evaluates the campaign's
/// filters.
pub trait ImportSink {
    /// Checks a typed row against the campaign's filters (the values in the
    /// campaign's field order): `Err` with the text of the first filter that
    /// leaves it out, which the report counts under that text.
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        let _ = values;
        Ok(())
    }

    /// Stores a target, or, when [`ImportedRow::replaces`] is true, overwrites
    /// the fields of the target with the same number. `Err` stops the import.
    fn target(&mut self, row: ImportedRow) -> Result<(), String>;

    /// Takes back the target stored for `phone`: a later row of the same
    /// number (`row`) was filtered out, and the last row wins.
    fn withdraw(&mut self, phone: &str, row: u64) -> Result<(), String>;

    /// Told every few thousand rows and once at the end.
    fn progress(&mut self, progress: Progress) {
        let _ = progress;
    }
}

/// Words in a field name that mark it as the number to dial, when no field is
/// called `phone`.
const PHONE_WORDS: [&str; 7] = ["phone", "mobile", "tel", "number", "手机", "电话", "号码"];

/// Names of a text field that gives each callee's time zone (an IANA name such
/// as Asia/Urumqi), for lists whose callees live in several zones.
pub const TIMEZONE_FIELDS: [&str; 4] = ["timezone", "time_zone", "tz", "时区"];

impl Importer {
    /// An importer for a campaign's fields (name, type, column header), as
    /// `CampaignIr::fields` holds them. The phone field is `phone_field` when
    /// given; otherwise the field named `phone`, else the first text field
    /// whose name contains phone, mobile, tel or number. `rules` bring numbers
    /// to canonical form.
    pub fn new(
        fields: &[(String, Type, String)],
        phone_field: Option<&str>,
        rules: NumberRules,
    ) -> Result<Importer, ImportError> {
        for (name, ty, _) in fields {
            if matches!(ty, Type::Record(_) | Type::List | Type::Void | Type::Error) {
                return Err(ImportError::UnsupportedType {
                    field: name.clone(),
                    ty: ty.to_string(),
                });
            }
        }
        let phone = match phone_field {
            Some(wanted) => fields
                .iter()
                .position(|(name, ty, _)| name == wanted && *ty == Type::Text)
                .ok_or_else(|| ImportError::BadPhoneField(wanted.to_string()))?,
            None => fields
                .iter()
                .position(|(name, ty, _)| *ty == Type::Text && name.eq_ignore_ascii_case("phone"))
                .or_else(|| {
                    fields.iter().position(|(name, ty, _)| {
                        let lower = name.to_lowercase();
                        *ty == Type::Text && PHONE_WORDS.iter().any(|w| lower.contains(w))
                    })
                })
                .ok_or(ImportError::NoPhoneField)?,
        };
        let timezone = fields.iter().position(|(name, ty, _)| {
            *ty == Type::Text && TIMEZONE_FIELDS.iter().any(|w| name.eq_ignore_ascii_case(w))
        });
        Ok(Importer {
            fields: fields
                .iter()
                .map(|(_, ty, column)| Field {
                    column: column.clone(),
                    column_key: cells::header_key(column),
                    ty: *ty,
                })
                .collect(),
            names: fields.iter().map(|(name, _, _)| name.clone()).collect(),
            phone,
            timezone,
            rules,
            encoding: None,
            sheet: None,
        })
    }

    /// Reads text without a byte-order mark in the encoding `label` names
    /// (`utf-8`, `gbk`, `gb18030`, `gb2312`, `utf-16le`, … as the WHATWG
    /// Encoding Standard lists them) instead of detecting it. `None` when the
    /// label names no encoding.
    pub fn with_encoding(mut self, label: &str) -> Option<Importer> {
        self.encoding = Some(Encoding::for_label(label.trim().as_bytes())?);
        Some(self)
    }

    /// Reads the worksheet called `sheet` instead of the first.
    pub fn with_sheet(mut self, sheet: impl Into<String>) -> Importer {
        self.sheet = Some(sheet.into());
        self
    }

    /// The name of the field dialled.
    pub fn phone_field(&self) -> &str {
        self.names.get(self.phone).map_or("", String::as_str)
    }

    /// The position of the phone field among the values of an [`ImportedRow`].
    pub fn phone_index(&self) -> usize {
        self.phone
    }

    /// Imports delimited text from a stream (an HTTP body, a pipe): the only
    /// format that needs no random access.
    pub fn import_csv<R: Read, S: ImportSink>(
        &self,
        reader: R,
        sink: &mut S,
    ) -> Result<ImportReport, ImportError> {
        delimited::import_csv(self, reader, sink)
    }

    /// Imports a file in `format`; workbooks need random access (a file, or
    /// the bytes of an upload in a `Cursor`).
    pub fn import_as<R: Read + Seek, S: ImportSink>(
        &self,
        reader: R,
        format: Format,
        sink: &mut S,
    ) -> Result<ImportReport, ImportError> {
        sheet::import_workbook(self, reader, format, sink)
    }

    /// Imports a file whose format is decided by its first bytes, else by the
    /// declared `content_type` (an upload's `Content-Type`), else by `path`'s
    /// extension. A `charset` in the content type names the text's encoding
    /// unless [`Importer::with_encoding`] did.
    pub fn import<R: Read + Seek, S: ImportSink>(
        &self,
        mut reader: R,
        content_type: Option<&str>,
        path: Option<&Path>,
        sink: &mut S,
    ) -> Result<ImportReport, ImportError> {
        let mut head = [0u8; 512];
        let mut filled = 0;
        let unreadable = |e: std::io::Error| ImportError::Unreadable {
            format: Format::Csv,
            reason: e.to_string(),
        };
        while filled < head.len() {
            let n = reader.read(&mut head[filled..]).map_err(unreadable)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        reader.rewind().map_err(unreadable)?;
        let format = Format::resolve(content_type, path, &head[..filled])
            .ok_or(ImportError::UnknownFormat)?;
        let charset = content_type.and_then(Format::charset_of_content_type);
        match (format, charset, self.encoding) {
            (Format::Csv, Some(label), None) => match self.clone().with_encoding(label) {
                Some(importer) => importer.import_as(reader, format, sink),
                None => self.import_as(reader, format, sink),
            },
            _ => self.import_as(reader, format, sink),
        }
    }

    /// Imports the file at `path` (format by content, then extension).
    pub fn import_path<S: ImportSink>(
        &self,
        path: &Path,
        sink: &mut S,
    ) -> Result<ImportReport, ImportError> {
        let file = File::open(path).map_err(|e| ImportError::Unreadable {
            format: Format::from_path(path).unwrap_or(Format::Csv),
            reason: format!("{}: {e}", path.display()),
        })?;
        self.import(BufReader::new(file), None, Some(path), sink)
    }
}
