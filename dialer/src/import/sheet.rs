//! Workbooks: xlsx read cell by cell as a stream (only the shared-string table
//! is held whole, as the format requires), xls and ods read one worksheet at a
//! time through `calamine` (an xls sheet has at most 65,536 rows by its format;
//! an ods sheet is held whole while it is read, so very long lists are better
//! sent as xlsx or CSV). The first worksheet is read unless one is named; the
//! header is its first row with a filled cell; rows are numbered as the
//! spreadsheet numbers them.

use std::io::{Read, Seek, SeekFrom};

use calamine::{Data, Ods, OdsError, Range, Reader, Xls, XlsError, Xlsx, XlsxError};

use super::format::Format;
use super::report::{ImportError, ImportReport};
use super::rows::{RowCells, RowEngine, header_names, map_columns};
use super::{ImportSink, Importer, Progress};

/// Imports the chosen worksheet of a workbook in `format`.
pub(crate) fn import_workbook<R: Read + Seek, S: ImportSink>(
    importer: &Importer,
    mut reader: R,
    format: Format,
    sink: &mut S,
) -> Result<ImportReport, ImportError> {
    if is_encrypted_office_file(&mut reader).map_err(|e| unreadable(format, e))? {
        return Err(ImportError::Encrypted);
    }
    match format {
        Format::Csv => super::delimited::import_csv(importer, reader, sink),
        Format::Xlsx => import_xlsx(importer, reader, sink),
        Format::Xls => {
            let mut workbook = Xls::new(reader).map_err(xls_error)?;
            let sheet = choose_sheet(importer, workbook.sheet_names())?;
            let range = workbook.worksheet_range(&sheet).map_err(xls_error)?;
            import_range(importer, &range, format, sheet, sink)
        }
        Format::Ods => {
            let mut workbook: Ods<R> = Ods::new(reader).map_err(ods_error)?;
            let sheet = choose_sheet(importer, workbook.sheet_names())?;
            let range = workbook.worksheet_range(&sheet).map_err(ods_error)?;
            import_range(importer, &range, format, sheet, sink)
        }
    }
}

fn unreadable(format: Format, reason: impl ToString) -> ImportError {
    ImportError::Unreadable {
        format,
        reason: reason.to_string(),
    }
}

fn xlsx_error(e: XlsxError) -> ImportError {
    match e {
        XlsxError::Password => ImportError::Encrypted,
        other => unreadable(Format::Xlsx, other),
    }
}

fn xls_error(e: XlsError) -> ImportError {
    match e {
        XlsError::Password => ImportError::Encrypted,
        other => unreadable(Format::Xls, other),
    }
}

fn ods_error(e: OdsError) -> ImportError {
    match e {
        OdsError::Password => ImportError::Encrypted,
        other => unreadable(Format::Ods, other),
    }
}

/// The sheet named in the importer's options, or the first.
fn choose_sheet(importer: &Importer, sheets: Vec<String>) -> Result<String, ImportError> {
    match &importer.sheet {
        Some(wanted) => sheets
            .iter()
            .find(|s| s.trim() == wanted.trim())
            .cloned()
            .ok_or_else(|| ImportError::NoSuchSheet {
                wanted: wanted.clone(),
                sheets: sheets.clone(),
            }),
        None => sheets.into_iter().next().ok_or(ImportError::NoSheet),
    }
}

/// An encrypted Office file (any of xlsx, xls, ods saved with a password by
/// Excel) is an OLE container holding an `EncryptedPackage` stream; its name
/// is in the container's directory, written in UTF-16. Looks for it and
/// rewinds.
fn is_encrypted_office_file<R: Read + Seek>(reader: &mut R) -> std::io::Result<bool> {
    reader.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 8];
    let mut filled = 0;
    while filled < magic.len() {
        let n = reader.read(&mut magic[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let mut found = false;
    if magic == *super::format::OLE_MAGIC {
        let needle: Vec<u8> = "EncryptedPackage"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut window = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            window.extend_from_slice(&chunk[..n]);
            if window.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found = true;
                break;
            }
            let keep = window.len().saturating_sub(needle.len());
            window.drain(..keep);
        }
    }
    reader.seek(SeekFrom::Start(0))?;
    Ok(found)
}

/// Streams the chosen sheet of an xlsx workbook, one row at a time.
fn import_xlsx<R: Read + Seek, S: ImportSink>(
    importer: &Importer,
    reader: R,
    sink: &mut S,
) -> Result<ImportReport, ImportError> {
    let mut workbook = Xlsx::new(reader).map_err(xlsx_error)?;
    let sheet = choose_sheet(importer, workbook.sheet_names())?;
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(xlsx_error)?;
    let rows_total = u64::from(cells.dimensions().end.0) + 1;
    let mut stream = SheetRows::new(importer, Format::Xlsx, sheet, rows_total, sink);
    // Cells arrive row by row; a row is handled when the next one starts.
    let mut row_cells: Vec<Data> = Vec::new();
    let mut row_index: Option<u32> = None;
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => return Err(stream.failed(xlsx_error(e))),
        };
        let (r, c) = cell.get_position();
        if row_index != Some(r) {
            if let Some(previous) = row_index {
                stream.row(previous, &row_cells, 0)?;
                row_cells.clear();
            }
            row_index = Some(r);
        }
        let c = c as usize;
        if !stream.wants_column(c) {
            continue;
        }
        if row_cells.len() <= c {
            row_cells.resize(c + 1, Data::Empty);
        }
        row_cells[c] = Data::from(cell.get_value().clone());
    }
    if let Some(previous) = row_index {
        stream.row(previous, &row_cells, 0)?;
    }
    stream.finish()
}

/// Imports a worksheet read whole (xls, ods).
fn import_range<S: ImportSink>(
    importer: &Importer,
    range: &Range<Data>,
    format: Format,
    sheet: String,
    sink: &mut S,
) -> Result<ImportReport, ImportError> {
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let rows_total = range.height() as u64;
    let mut stream = SheetRows::new(importer, format, sheet, rows_total, sink);
    for (i, cells) in range.rows().enumerate() {
        let index = first_row.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
        stream.row(index, cells, first_column as usize)?;
    }
    stream.finish()
}

/// The rows of one worksheet, whatever reads them: the header found, then
/// every row handed to the [`RowEngine`].
struct SheetRows<'a, S: ImportSink> {
    importer: &'a Importer,
    format: Format,
    sheet: String,
    rows_total: u64,
    /// Held until the header is mapped, then given to the engine.
    sink: Option<&'a mut S>,
    engine: Option<RowEngine<'a, S>>,
    /// The header's first and one-past-last columns (absolute).
    columns: (usize, usize),
}

impl<'a, S: ImportSink> SheetRows<'a, S> {
    fn new(
        importer: &'a Importer,
        format: Format,
        sheet: String,
        rows_total: u64,
        sink: &'a mut S,
    ) -> Self {
        SheetRows {
            importer,
            format,
            sheet,
            rows_total,
            sink: Some(sink),
            engine: None,
            columns: (0, usize::MAX),
        }
    }

    /// Whether a cell in column `c` can matter: until the header is known
    /// all can; after it, cells right of its last column belong to no field.
    fn wants_column(&self, c: usize) -> bool {
        self.engine.is_none() || c < self.columns.1
    }

    /// Handles the row at 0-based `index` whose `cells` start at column
    /// `offset`.
    fn row(&mut self, index: u32, cells: &[Data], offset: usize) -> Result<(), ImportError> {
        let row = u64::from(index) + 1;
        let Some(engine) = self.engine.as_mut() else {
            let Some(start) = cells.iter().position(|c| !matches!(c, Data::Empty)) else {
                return Ok(());
            };
            let header = &cells[start..];
            let names = header_names(RowCells::Sheet(header));
            let columns = map_columns(self.importer, &names, offset + start)?;
            self.columns = (offset + start, offset + start + names.len());
            let report = ImportReport {
                format: Some(self.format),
                sheet: Some(self.sheet.clone()),
                empty_rows: row - 1,
                ..ImportReport::default()
            };
            if let Some(sink) = self.sink.take() {
                let mut engine =
                    RowEngine::new(self.importer, columns, names.len(), false, report, sink);
                engine.last_row = row;
                self.engine = Some(engine);
            }
            return Ok(());
        };
        engine.empty_rows(row.saturating_sub(engine.last_row + 1));
        let from = self.columns.0.saturating_sub(offset).min(cells.len());
        let to = self.columns.1.saturating_sub(offset).min(cells.len());
        engine.row(row, RowCells::Sheet(&cells[from..to]))?;
        let rows_total = self.rows_total;
        engine.maybe_progress(|rows| Progress {
            rows,
            bytes: 0,
            rows_total: Some(rows_total),
        });
        Ok(())
    }

    /// The error to give when reading stops: as it is before the header
    /// (nothing reached the sink), as a stop after a row once rows did.
    fn failed(&self, error: ImportError) -> ImportError {
        match &self.engine {
            None => error,
            Some(engine) => ImportError::Read {
                after_row: engine.last_row,
                reason: error.to_string(),
            },
        }
    }

    fn finish(self) -> Result<ImportReport, ImportError> {
        let Some(engine) = self.engine else {
            return Err(ImportError::Empty);
        };
        let rows = engine.report.rows;
        Ok(engine.finish(Progress {
            rows,
            bytes: 0,
            rows_total: Some(rows),
        }))
    }
}
