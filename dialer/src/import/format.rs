//! Which kind of file a list is: from the `Content-Type` an upload declares,
//! from the file name, and from the first bytes, which decide when they are
//! clear (uploads are often labelled `application/octet-stream`, and a workbook
//! renamed to `.csv` is still a workbook).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The kinds of list file the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text: comma, semicolon, tab or `|`, in UTF-8, UTF-16 (with its
    /// byte-order mark) or GB18030/GBK.
    Csv,
    /// An Office Open XML workbook (Excel 2007 and later); read as a stream.
    Xlsx,
    /// A binary Excel 97–2003 workbook (at most 65,536 rows by its format).
    Xls,
    /// An OpenDocument spreadsheet (LibreOffice, WPS).
    Ods,
}

impl Format {
    /// The format a MIME type names, parameters (`; charset=gbk`) ignored.
    /// `text/plain` and the other names under which browsers upload CSV count
    /// as CSV; `application/octet-stream` names no format.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match essence.as_str() {
            "text/csv"
            | "text/plain"
            | "text/tab-separated-values"
            | "application/csv"
            | "text/x-csv"
            | "application/x-csv"
            | "text/comma-separated-values" => Format::Csv,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Format::Xlsx,
            "application/vnd.ms-excel" | "application/msexcel" | "application/x-msexcel" => {
                Format::Xls
            }
            "application/vnd.oasis.opendocument.spreadsheet" => Format::Ods,
            _ => return None,
        })
    }

    /// The charset parameter of a `Content-Type`, if it names one
    /// (`text/csv; charset=GBK` gives `GBK`).
    pub fn charset_of_content_type(content_type: &str) -> Option<&str> {
        content_type.split(';').skip(1).find_map(|param| {
            let (key, value) = param.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| value.trim().trim_matches('"'))
        })
    }

    /// The format a file name's extension names (`.csv`, `.txt`, `.tsv`,
    /// `.xlsx`, `.xlsm`, `.xls`, `.ods`), in any letter case.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "txt" | "tsv" | "tab" => Format::Csv,
            "xlsx" | "xlsm" => Format::Xlsx,
            "xls" => Format::Xls,
            "ods" => Format::Ods,
            _ => return None,
        })
    }

    /// What the first bytes of a file say, when they say something: a ZIP
    /// container holding an OpenDocument spreadsheet's `mimetype` entry is
    /// ODS, another ZIP is taken for xlsx, an OLE compound file for xls (an
    /// encrypted xlsx is one too; opening it says so). Text says nothing.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        if head.starts_with(ZIP_MAGIC) {
            let ods = head
                .windows(ODS_MIMETYPE.len())
                .take(128)
                .any(|w| w == ODS_MIMETYPE);
            return Some(if ods { Format::Ods } else { Format::Xlsx });
        }
        if head.starts_with(OLE_MAGIC) {
            return Some(Format::Xls);
        }
        None
    }

    /// The format to read: the first bytes when they are decisive, else the
    /// declared content type, else the file name, else CSV when the head looks
    /// like text. `None` when nothing names a format the importer reads.
    pub fn resolve(content_type: Option<&str>, path: Option<&Path>, head: &[u8]) -> Option<Format> {
        Format::sniff(head)
            .or_else(|| content_type.and_then(Format::from_content_type))
            .or_else(|| path.and_then(Format::from_path))
            .or_else(|| looks_like_text(head).then_some(Format::Csv))
    }

    /// Whether the format is a workbook (read with random access).
    pub fn is_spreadsheet(self) -> bool {
        !matches!(self, Format::Csv)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
        })
    }
}

/// A ZIP local file header (xlsx, ods).
pub(crate) const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
/// An OLE2 compound document (xls, and encrypted Office files).
pub(crate) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// The first entry of every ODS file, stored uncompressed.
const ODS_MIMETYPE: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

/// Text has no NUL bytes, except UTF-16, which starts with its byte-order mark.
pub(crate) fn looks_like_text(head: &[u8]) -> bool {
    head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") || !head.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_formats() {
        assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
        assert_eq!(
            Format::from_content_type("Text/CSV; charset=GBK"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::charset_of_content_type("text/csv; charset=\"GBK\""),
            Some("GBK")
        );
        assert_eq!(Format::charset_of_content_type("text/csv"), None);
        assert_eq!(
            Format::from_content_type(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            ),
            Some(Format::Xlsx)
        );
        assert_eq!(
            Format::from_content_type("application/vnd.ms-excel"),
            Some(Format::Xls)
        );
        assert_eq!(
            Format::from_content_type("application/vnd.oasis.opendocument.spreadsheet"),
            Some(Format::Ods)
        );
        assert_eq!(Format::from_content_type("application/octet-stream"), None);
        assert_eq!(Format::from_content_type("image/png"), None);
    }

    #[test]
    fn paths_name_formats() {
        assert_eq!(
            Format::from_path(Path::new("lists/a.CSV")),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_path(Path::new("a.tsv")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.xlsx")), Some(Format::Xlsx));
        assert_eq!(Format::from_path(Path::new("c.xls")), Some(Format::Xls));
        assert_eq!(Format::from_path(Path::new("d.ods")), Some(Format::Ods));
        assert_eq!(Format::from_path(Path::new("e.pdf")), None);
        assert_eq!(Format::from_path(Path::new("noext")), None);
    }

    #[test]
    fn first_bytes_decide_over_names() {
        let mut ods = b"PK\x03\x04".to_vec();
        ods.extend_from_slice(&[0; 26]);
        ods.extend_from_slice(b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet");
        assert_eq!(Format::sniff(&ods), Some(Format::Ods));
        assert_eq!(Format::sniff(b"PK\x03\x04\x14\x00"), Some(Format::Xlsx));
        assert_eq!(Format::sniff(OLE_MAGIC), Some(Format::Xls));
        assert_eq!(Format::sniff("手机号码,姓名".as_bytes()), None);
        assert_eq!(
            Format::resolve(Some("text/csv"), None, b"PK\x03\x04\x14\x00"),
            Some(Format::Xlsx)
        );
        assert_eq!(
            Format::resolve(None, Some(Path::new("x.bin")), b"a,b\n1,2\n"),
            Some(Format::Csv)
        );
        assert_eq!(Format::resolve(None, None, b"\x00\x01\x02binary"), None);
    }
}
