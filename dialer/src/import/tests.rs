//! Whole imports: files in each format and encoding, every reason a row is
//! rejected with its row number, merging of duplicates, files refused whole.

use std::collections::BTreeMap;
use std::io::Cursor;

use chrono::NaiveDate;
use dialect_compiler::value::Value;
use dialect_lang::types::Type;
use dialect_numbers::NumberRules;
use rust_xlsxwriter::{ExcelDateTime, Format as CellFormat, Workbook};

use super::*;

/// The payment_reminder campaign's list, as `campaigns.flow` maps it.
fn arrears_fields() -> Vec<(String, Type, String)> {
    [
        ("phone", Type::Text, "手机号码"),
        ("name", Type::Text, "客户姓名"),
        ("amount", Type::Number, "欠费金额"),
        ("due", Type::Date, "缴费截止日"),
        ("status", Type::Text, "号码状态"),
        ("refused_reminders", Type::Bool, "拒绝提醒"),
    ]
    .into_iter()
    .map(|(n, t, c)| (n.to_string(), t, c.to_string()))
    .collect()
}

fn importer() -> Importer {
    Importer::new(&arrears_fields(), None, NumberRules::default())
        .unwrap_or_else(|e| panic!("importer: {e}"))
}

const HEADER: &str = "手机号码,客户姓名,欠费金额,缴费截止日,号码状态,拒绝提醒\n";

/// A store that keeps targets by number and runs the campaign's first two
/// filters the way the runtime's compiled predicates would.
#[derive(Default)]
struct Store {
    targets: BTreeMap<String, ImportedRow>,
    withdrawn: Vec<(String, u64)>,
    progress: Vec<Progress>,
    calls: usize,
}

impl ImportSink for Store {
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        if !matches!(values[2], Value::Number(n) if n >= 10.0) {
            return Err("amount >= 10".into());
        }
        if values[5] == Value::Bool(true) {
            return Err("not refused_reminders".into());
        }
        Ok(())
    }

    fn target(&mut self, row: ImportedRow) -> Result<(), String> {
        self.calls += 1;
        let existed = self
            .targets
            .insert(row.phone.clone(), row.clone())
            .is_some();
        assert_eq!(existed, row.replaces, "replaces tells the truth");
        Ok(())
    }

    fn withdraw(&mut self, phone: &str, row: u64) -> Result<(), String> {
        self.calls += 1;
        assert!(
            self.targets.remove(phone).is_some(),
            "withdrawn target existed"
        );
        self.withdrawn.push((phone.to_string(), row));
        Ok(())
    }

    fn progress(&mut self, progress: Progress) {
        self.progress.push(progress);
    }
}

fn import_text(bytes: &[u8]) -> (Result<ImportReport, ImportError>, Store) {
    let mut store = Store::default();
    let result = importer().import_csv(bytes, &mut store);
    (result, store)
}

fn ok(result: Result<ImportReport, ImportError>) -> ImportReport {
    result.unwrap_or_else(|e| panic!("import failed: {e}"))
}

fn date(y: i32, m: u32, d: u32) -> Value {
    Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default())
}

/// Every data row is counted exactly once.
fn assert_balanced(report: &ImportReport) {
    assert_eq!(
        report.rows,
        report.imported + report.duplicates + report.filtered_total() + report.rejected_total,
        "{report:?}"
    );
    assert_eq!(report.targets, report.imported - report.withdrawn);
}

#[test]
fn a_clean_file_is_typed_field_by_field() {
    let text = format!(
        "{HEADER}+86 138 0013 8000,张三,\"1,234.50\",2026-12-07,正常,否\n\
         0086-139-0013-9000,李四,¥88,2026/12/08,正常,N\n\
         138-0013-7000,王五,12.5元,2026年12月9日,正常,0\n"
    );
    let (result, store) = import_text(text.as_bytes());
    let report = ok(result);
    assert_eq!(report.rows, 3);
    assert_eq!(report.imported, 3);
    assert_eq!(report.targets, 3);
    assert_eq!(report.format, Some(Format::Csv));
    assert_eq!(report.encoding.as_deref(), Some("UTF-8"));
    assert_eq!(report.delimiter, Some(','));
    assert_balanced(&report);
    let first = &store.targets["13800138000"];
    assert_eq!(first.row, 2);
    assert_eq!(
        first.values,
        vec![
            Value::Text("13800138000".into()),
            Value::Text("张三".into()),
            Value::Number(1234.5),
            date(2026, 12, 7),
            Value::Text("正常".into()),
            Value::Bool(false),
        ]
    );
    assert_eq!(store.targets["13900139000"].values[3], date(2026, 12, 8));
    assert_eq!(store.targets["13800137000"].values[2], Value::Number(12.5));
    assert_eq!(store.progress.last().map(|p| p.rows), Some(3));
}

#[test]
fn every_reason_of_rejection_names_its_row() {
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice("13800138000,张三,50,2026-12-07,正常,否\n".as_bytes()); // row 2 ok
    bytes.extend_from_slice(",李四,50,2026-12-07,正常,否\n".as_bytes()); // 3 missing phone
    bytes.extend_from_slice("1380013abc,王五,50,2026-12-07,正常,否\n".as_bytes()); // 4 bad number
    bytes.extend_from_slice("13800138001,赵六,50,07/12/2026,正常,否\n".as_bytes()); // 5 bad date
    bytes.extend_from_slice("13800138002,钱七,50,,正常,否\n".as_bytes()); // 6 missing date
    bytes.extend_from_slice("13800138003,孙八,五十,2026-12-07,正常,否\n".as_bytes()); // 7 bad amount
    bytes.extend_from_slice("13800138004,周九,50,2026-12-07,正常,也许\n".as_bytes()); // 8 bad bool
    bytes.extend_from_slice("13800138005,吴十,50,2026-12-07\n".as_bytes()); // 9 cell count
    bytes.extend_from_slice(b"13800138006,\xFF\xFE,50,2026-12-07,\xE6\xAD,no\n"); // 10 encoding
    bytes.extend_from_slice("1380013800,郑一,x,2026-13-01,正常,否\n".as_bytes()); // 11 several
    bytes.extend_from_slice("13800138007,E,50,2026-12-07,正常,否,,\n".as_bytes()); // 12 ok: blank extras
    bytes.extend_from_slice("13800138008 转 123,王二,50,2026-12-07,正常,否\n".as_bytes()); // 13 extension
    let (result, store) = import_text(&bytes);
    let report = ok(result);
    assert_balanced(&report);
    assert_eq!(report.rows, 12);
    assert_eq!(report.imported, 2, "{report:#?}");
    let reasons: Vec<(u64, &str)> = report
        .rejected
        .iter()
        .map(|r| (r.row, r.reason.as_str()))
        .collect();
    let expect = |row: u64, needle: &str| {
        assert!(
            reasons
                .iter()
                .any(|(r, why)| *r == row && why.contains(needle)),
            "row {row} should say {needle:?}: {reasons:#?}"
        );
    };
    expect(3, "missing phone in column \"手机号码\"");
    expect(4, "unparsable number \"1380013abc\" in column \"手机号码\"");
    expect(5, "unparsable date \"07/12/2026\" in column \"缴费截止日\"");
    expect(6, "missing date in column \"缴费截止日\"");
    expect(7, "unparsable number \"五十\" in column \"欠费金额\"");
    expect(8, "unparsable yes/no value \"也许\" in column \"拒绝提醒\"");
    expect(9, "wrong number of cells: 4 where the header has 6");
    expect(10, "bad encoding in column \"客户姓名\"");
    expect(11, "unparsable number \"x\"");
    expect(11, "unparsable date \"2026-13-01\"");
    expect(13, "extension");
    assert_eq!(report.rejected_total, 10);
    assert!(store.targets.contains_key("13800138007"));
    // 1380013800 is ten digits: accepted as a number (not a mobile), the
    // row fails on its other cells only.
    assert!(
        !reasons
            .iter()
            .any(|(r, why)| *r == 11 && why.contains("手机号码"))
    );
}

#[test]
fn a_gbk_export_is_read_as_gb18030() {
    let text = format!(
        "{HEADER}13800138000,张三,50,2026-12-07,正常,否\n13800138001,欧阳娜娜,60,2026-12-07,正常,是\n"
    );
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let (result, store) = import_text(&gbk);
    let report = ok(result);
    assert_eq!(report.encoding.as_deref(), Some("gb18030"));
    assert_eq!(report.imported, 1);
    assert_eq!(report.filtered.get("not refused_reminders"), Some(&1));
    assert_eq!(
        store.targets["13800138000"].values[1],
        Value::Text("张三".into())
    );
}

#[test]
fn gbk_after_an_ascii_header_is_still_detected() {
    let fields = vec![
        ("phone".to_string(), Type::Text, "phone".to_string()),
        ("name".to_string(), Type::Text, "name".to_string()),
    ];
    let importer =
        Importer::new(&fields, None, NumberRules::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut text = String::from("phone,name\n");
    for i in 0..3000 {
        text.push_str(&format!("1380000{i:04},x\n"));
    }
    text.push_str("13900000000,张三\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let mut store = Store::default();
    struct NoFilter<'a>(&'a mut Store);
    impl ImportSink for NoFilter<'_> {
        fn target(&mut self, row: ImportedRow) -> Result<(), String> {
            self.0.target(row)
        }
        fn withdraw(&mut self, phone: &str, row: u64) -> Result<(), String> {
            self.0.withdraw(phone, row)
        }
    }
    let report = ok(importer.import_csv(&gbk[..], &mut NoFilter(&mut store)));
    assert_eq!(report.imported, 3001);
    assert_eq!(report.encoding.as_deref(), Some("gb18030"));
    assert_eq!(
        store.targets["13900000000"].values[1],
        Value::Text("张三".into())
    );
}

#[test]
fn an_explicit_encoding_and_a_charset_are_honoured() {
    let text = format!("{HEADER}13800138000,张三,50,2026-12-07,正常,否\n");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let explicit = importer().with_encoding("GBK");
    let Some(explicit) = explicit else {
        panic!("GBK is a known label")
    };
    let mut store = Store::default();
    let report = ok(explicit.import_csv(&gbk[..], &mut store));
    assert_eq!(report.imported, 1);
    let mut store = Store::default();
    let report = ok(importer().import(
        Cursor::new(gbk.to_vec()),
        Some("text/csv; charset=gbk"),
        None,
        &mut store,
    ));
    assert_eq!(report.encoding.as_deref(), Some("GBK"));
    assert!(importer().with_encoding("klingon").is_none());
}

#[test]
fn semicolons_tabs_pipes_and_a_byte_order_mark() {
    let row = "13800138000;张三;50;2026-12-07;正常;否\n";
    for delimiter in [';', '\t', '|'] {
        let text = format!("{HEADER}{row}")
            .replace(',', &delimiter.to_string())
            .replace(';', &delimiter.to_string());
        let (result, store) = import_text(text.as_bytes());
        let report = ok(result);
        assert_eq!(report.delimiter, Some(delimiter));
        assert_eq!(report.imported, 1, "{delimiter:?}: {report:?}");
        assert_eq!(store.targets["13800138000"].values[2], Value::Number(50.0));
    }
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(format!("{HEADER}13800138000,张三,50,2026-12-07,正常,否\n").as_bytes());
    let (result, _) = import_text(&bom);
    assert_eq!(ok(result).imported, 1);
    let sep = format!(
        "sep=;\n{}13800138000;张三;50;2026-12-07;正常;否\n",
        HEADER.replace(',', ";")
    );
    let (result, store) = import_text(sep.as_bytes());
    let report = ok(result);
    assert_eq!(report.delimiter, Some(';'));
    assert_eq!(
        store.targets["13800138000"].row, 2,
        "the sep= line is no row"
    );
}

#[test]
fn quoted_line_breaks_and_blank_lines_number_rows_as_a_spreadsheet_does() {
    let text = format!(
        "{HEADER}13800138000,\"张\n三\",50,2026-12-07,正常,否\n\
         \n\
         13800138001,\"李\r\n\r\n四\",50,2026-12-07,正常,否\n\
         13800138002,王五,50,bad,正常,否\n\
         ,,,,,\n\
         13800138003,\"赵\"\"六\"\"\",50,2026-12-07,正常,否\n"
    );
    let (result, store) = import_text(text.as_bytes());
    let report = ok(result);
    assert_eq!(store.targets["13800138000"].row, 2);
    assert_eq!(
        store.targets["13800138000"].values[1],
        Value::Text("张\n三".into())
    );
    // Row 3 is the blank line; the record with two line breaks is row 4.
    assert_eq!(store.targets["13800138001"].row, 4);
    assert_eq!(report.rejected[0].row, 5);
    assert_eq!(store.targets["13800138003"].row, 7);
    assert_eq!(
        store.targets["13800138003"].values[1],
        Value::Text("赵\"六\"".into())
    );
    assert_eq!(report.empty_rows, 2);
    assert_eq!(report.rows, 4);
    assert_balanced(&report);
}

#[test]
fn duplicates_merge_and_the_last_row_wins() {
    let text = format!(
        "{HEADER}+86 138 0013 8000,张三,50,2026-12-07,正常,否\n\
         13800138001,李四,50,2026-12-07,正常,否\n\
         0086-138-0013-8000,张三丰,70,2026-12-08,正常,否\n\
         138-0013-8001,李四,50,2026-12-07,正常,是\n\
         13800138001,李四,55,2026-12-07,正常,否\n\
         13800138002,王五,5,2026-12-07,正常,否\n"
    );
    let (result, store) = import_text(text.as_bytes());
    let report = ok(result);
    assert_balanced(&report);
    assert_eq!(report.rows, 6);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.withdrawn, 1);
    assert_eq!(report.imported, 3);
    assert_eq!(report.targets, 2);
    assert_eq!(report.filtered.get("not refused_reminders"), Some(&1));
    assert_eq!(report.filtered.get("amount >= 10"), Some(&1));
    let merged = &store.targets["13800138000"];
    assert_eq!(merged.row, 4);
    assert!(merged.replaces);
    assert_eq!(merged.values[1], Value::Text("张三丰".into()));
    assert_eq!(store.withdrawn, vec![("13800138001".to_string(), 5)]);
    assert_eq!(store.targets["13800138001"].row, 6);
    assert!(!store.targets["13800138001"].replaces);
    assert_eq!(store.targets.len() as u64, report.targets);
}

#[test]
fn a_missing_column_refuses_the_file_before_any_row() {
    let text = "手机号码,客户姓名,欠费金额,号码状态\n13800138000,张三,50,正常\n";
    let (result, store) = import_text(text.as_bytes());
    match result {
        Err(ImportError::MissingColumns { missing, found }) => {
            assert_eq!(
                missing,
                vec!["缴费截止日".to_string(), "拒绝提醒".to_string()]
            );
            assert_eq!(found.len(), 4);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(store.calls, 0);
    let twice = format!("{}手机号码\n", HEADER.trim_end().to_owned() + ",");
    let (result, store) = import_text(twice.as_bytes());
    assert!(
        matches!(&result, Err(ImportError::AmbiguousColumn { first, second, .. }) if first == "A" && second == "G"),
        "{result:?}"
    );
    assert_eq!(store.calls, 0);
    let (result, _) = import_text(b"");
    assert!(matches!(result, Err(ImportError::Empty)));
    let (result, _) = import_text(b"\x00\x01\x02\x03binary");
    assert!(matches!(result, Err(ImportError::NotText)), "{result:?}");
}

#[test]
fn header_names_match_across_case_width_and_spacing() {
    let fields = vec![
        ("phone".to_string(), Type::Text, "Phone Number".to_string()),
        ("name".to_string(), Type::Text, "客户姓名".to_string()),
    ];
    let importer =
        Importer::new(&fields, None, NumberRules::default()).unwrap_or_else(|e| panic!("{e}"));
    let text = "\u{3000}ＰＨＯＮＥ  number ,客户姓名\u{3000}\n13800138000,张三\n";
    let mut store = Store::default();
    struct Plain<'a>(&'a mut Store);
    impl ImportSink for Plain<'_> {
        fn target(&mut self, row: ImportedRow) -> Result<(), String> {
            self.0.target(row)
        }
        fn withdraw(&mut self, phone: &str, row: u64) -> Result<(), String> {
            self.0.withdraw(phone, row)
        }
    }
    let report = ok(importer.import_csv(text.as_bytes(), &mut Plain(&mut store)));
    assert_eq!(report.imported, 1);
}

#[test]
fn the_phone_field_is_found_or_the_campaign_refused() {
    let fields = |pairs: &[(&str, Type)]| -> Vec<(String, Type, String)> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), *t, n.to_string()))
            .collect()
    };
    let rules = NumberRules::default;
    let by_name = Importer::new(
        &fields(&[("name", Type::Text), ("phone", Type::Text)]),
        None,
        rules(),
    );
    assert_eq!(by_name.map(|i| i.phone_index()).ok(), Some(1));
    let by_word = Importer::new(
        &fields(&[
            ("name", Type::Text),
            ("amount", Type::Number),
            ("mobile_no", Type::Text),
        ]),
        None,
        rules(),
    );
    assert_eq!(
        by_word.map(|i| i.phone_field().to_string()).ok(),
        Some("mobile_no".into())
    );
    let numeric_number = Importer::new(&fields(&[("number", Type::Number)]), None, rules());
    assert!(matches!(numeric_number, Err(ImportError::NoPhoneField)));
    let named = Importer::new(
        &fields(&[("a", Type::Text), ("b", Type::Text)]),
        Some("b"),
        rules(),
    );
    assert_eq!(named.map(|i| i.phone_index()).ok(), Some(1));
    let wrong = Importer::new(&fields(&[("a", Type::Text)]), Some("c"), rules());
    assert!(matches!(wrong, Err(ImportError::BadPhoneField(_))));
    let list = Importer::new(
        &fields(&[("phone", Type::Text), ("x", Type::List)]),
        None,
        rules(),
    );
    assert!(matches!(list, Err(ImportError::UnsupportedType { .. })));
}

#[test]
fn a_broken_file_gives_a_bounded_report() {
    let mut text = HEADER.to_string();
    for _ in 0..(REJECTED_LISTED + 500) {
        text.push_str(",,50,2026-12-07,正常,否\n");
    }
    let (result, store) = import_text(text.as_bytes());
    let report = ok(result);
    assert_eq!(report.rejected.len(), REJECTED_LISTED);
    assert_eq!(report.rejected_total, REJECTED_LISTED as u64 + 500);
    assert_eq!(store.calls, 0);
    assert!(store.progress.len() > 1 || report.rows < 8192);
}

/// One row of the retention list: phone, name, plan, expiry date (year,
/// month, day; none leaves the cell empty), monthly spend, refused offers.
type ExpiringRow<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<(u16, u8, u8)>,
    f64,
    &'a str,
);

/// An xlsx workbook of the retention campaign's columns.
fn expiring_xlsx(rows: &[ExpiringRow<'_>]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date_format = CellFormat::new().set_num_format("yyyy-mm-dd");
    let headers = [
        "联系电话",
        "客户姓名",
        "套餐",
        "到期日",
        "月消费",
        "拒绝营销",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string(0, c as u16, *h)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (i, (phone, name, plan, expires, value, refused)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        let written = (|| -> Result<(), rust_xlsxwriter::XlsxError> {
            if let Ok(n) = phone.parse::<f64>() {
                sheet.write_number(r, 0, n)?;
            } else {
                sheet.write_string(r, 0, *phone)?;
            }
            sheet.write_string(r, 1, *name)?;
            sheet.write_string(r, 2, *plan)?;
            if let Some((y, m, d)) = expires {
                let when = ExcelDateTime::from_ymd(*y, *m, *d)?;
                sheet.write_datetime_with_format(r, 3, &when, &date_format)?;
            }
            // Money written as text, as many exports do.
            sheet.write_string(r, 4, format!("{value:.2}"))?;
            sheet.write_string(r, 5, *refused)?;
            Ok(())
        })();
        written.unwrap_or_else(|e| panic!("{e}"));
    }
    workbook.save_to_buffer().unwrap_or_else(|e| panic!("{e}"))
}

fn retention_importer() -> Importer {
    let fields: Vec<(String, Type, String)> = [
        ("phone", Type::Text, "联系电话"),
        ("name", Type::Text, "客户姓名"),
        ("plan", Type::Text, "套餐"),
        ("expires", Type::Date, "到期日"),
        ("value", Type::Number, "月消费"),
        ("refused_offers", Type::Bool, "拒绝营销"),
    ]
    .into_iter()
    .map(|(n, t, c)| (n.to_string(), t, c.to_string()))
    .collect();
    Importer::new(&fields, None, NumberRules::default()).unwrap_or_else(|e| panic!("{e}"))
}

/// Keeps every row, filters nothing.
#[derive(Default)]
struct KeepAll(Vec<ImportedRow>);

impl ImportSink for KeepAll {
    fn target(&mut self, row: ImportedRow) -> Result<(), String> {
        self.0.push(row);
        Ok(())
    }
    fn withdraw(&mut self, _: &str, _: u64) -> Result<(), String> {
        Err("nothing is filtered here".into())
    }
}

#[test]
fn xlsx_with_date_cells_and_numbers_in_text_cells() {
    let bytes = expiring_xlsx(&[
        (
            "13800138000",
            "张三",
            "宽带100M",
            Some((2026, 12, 7)),
            88.0,
            "否",
        ),
        (
            "+86 139 0013 9000",
            "李四",
            "宽带500M",
            Some((2027, 1, 15)),
            129.5,
            "Y",
        ),
        ("138-0013-7000", "王五", "宽带1000M", None, 199.0, "N"),
    ]);
    let mut sink = KeepAll::default();
    let report = ok(retention_importer().import(Cursor::new(bytes), None, None, &mut sink));
    assert_eq!(report.format, Some(Format::Xlsx));
    assert_eq!(report.sheet.as_deref(), Some("Sheet1"));
    assert_eq!(report.imported, 2);
    assert_eq!(
        report.rejected,
        vec![Rejection {
            row: 4,
            reason: "missing date in column \"到期日\"".into()
        }]
    );
    assert_eq!(
        sink.0[0].values,
        vec![
            Value::Text("13800138000".into()),
            Value::Text("张三".into()),
            Value::Text("宽带100M".into()),
            date(2026, 12, 7),
            Value::Number(88.0),
            Value::Bool(false),
        ]
    );
    assert_eq!(sink.0[1].phone, "13900139000");
    assert_eq!(sink.0[1].values[3], date(2027, 1, 15));
    assert_eq!(sink.0[1].values[4], Value::Number(129.5));
    assert_eq!(sink.0[1].row, 3);
}

#[test]
fn a_workbook_labelled_csv_is_read_as_a_workbook_and_a_stream_says_so() {
    let bytes = expiring_xlsx(&[(
        "13800138000",
        "张三",
        "宽带",
        Some((2026, 12, 7)),
        60.0,
        "否",
    )]);
    let mut sink = KeepAll::default();
    let report = ok(retention_importer().import(
        Cursor::new(bytes.clone()),
        Some("text/csv"),
        Some(Path::new("list.csv")),
        &mut sink,
    ));
    assert_eq!(report.format, Some(Format::Xlsx));
    let refused = retention_importer().import_csv(&bytes[..], &mut KeepAll::default());
    assert!(matches!(
        refused,
        Err(ImportError::WorkbookAsText(Format::Xlsx))
    ));
}

#[test]
fn a_truncated_or_encrypted_workbook_is_refused_whole() {
    let bytes = expiring_xlsx(&[(
        "13800138000",
        "张三",
        "宽带",
        Some((2026, 12, 7)),
        60.0,
        "否",
    )]);
    for cut in [bytes.len() / 2, bytes.len() - 10, 100] {
        let mut sink = KeepAll::default();
        let result = retention_importer().import_as(
            Cursor::new(bytes[..cut].to_vec()),
            Format::Xlsx,
            &mut sink,
        );
        assert!(
            matches!(
                result,
                Err(ImportError::Unreadable {
                    format: Format::Xlsx,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(sink.0.is_empty());
    }
    let mut ole = format::OLE_MAGIC.to_vec();
    ole.resize(1024, 0);
    ole.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
    ole.resize(4096, 0);
    let result = retention_importer().import(Cursor::new(ole), None, None, &mut KeepAll::default());
    assert!(matches!(result, Err(ImportError::Encrypted)), "{result:?}");
    let mut not_xls = format::OLE_MAGIC.to_vec();
    not_xls.resize(4096, 7);
    let result =
        retention_importer().import(Cursor::new(not_xls), None, None, &mut KeepAll::default());
    assert!(
        matches!(
            result,
            Err(ImportError::Unreadable {
                format: Format::Xls,
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_workbook_sheet_can_be_named() {
    let bytes = expiring_xlsx(&[(
        "13800138000",
        "张三",
        "宽带",
        Some((2026, 12, 7)),
        60.0,
        "否",
    )]);
    let result = retention_importer().with_sheet("名单").import_as(
        Cursor::new(bytes.clone()),
        Format::Xlsx,
        &mut KeepAll::default(),
    );
    assert!(
        matches!(&result, Err(ImportError::NoSuchSheet { sheets, .. }) if sheets == &vec!["Sheet1".to_string()]),
        "{result:?}"
    );
    let report = ok(retention_importer().with_sheet("Sheet1").import_as(
        Cursor::new(bytes),
        Format::Xlsx,
        &mut KeepAll::default(),
    ));
    assert_eq!(report.imported, 1);
}

#[test]
fn the_report_is_json_with_the_documented_keys() {
    let text = format!("{HEADER}13800138000,张三,50,2026-12-07,正常,否\n,x,1,2026-12-07,正常,否\n");
    let (result, _) = import_text(text.as_bytes());
    let json = serde_json::to_value(ok(result)).unwrap_or_default();
    for key in [
        "rows",
        "imported",
        "duplicates",
        "rejected",
        "filtered",
        "rejected_total",
        "targets",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["rejected"][0]["row"], 3);
    assert_eq!(json["format"], "csv");
}

#[test]
fn crlf_files_and_blank_lines_before_the_header_keep_row_numbers() {
    let text = format!(
        "\r\n{}13800138000,\"张\r\n三\",50,2026-12-07,正常,否\r\n\r\n13800138001,李四,50,bad,正常,否\r\n",
        HEADER.replace('\n', "\r\n")
    );
    let (result, store) = import_text(text.as_bytes());
    let report = ok(result);
    assert_eq!(store.targets["13800138000"].row, 3);
    assert_eq!(report.rejected[0].row, 5);
    assert_eq!(report.empty_rows, 2);
}

#[test]
fn the_hotline_sample_lists_import_without_a_rejected_row() {
    let lists = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline/lists");
    let mut store = Store::default();
    let report = ok(importer().import_path(&lists.join("arrears.csv"), &mut store));
    assert_eq!(report.rejected_total, 0, "{:?}", report.rejected);
    assert!(
        report.imported > 20 && report.filtered_total() > 0,
        "{report:?}"
    );
    assert_balanced(&report);
    let report =
        ok(retention_importer().import_path(&lists.join("expiring.xlsx"), &mut KeepAll::default()));
    assert_eq!(report.rejected_total, 0, "{:?}", report.rejected);
    assert_eq!(report.sheet.as_deref(), Some("到期客户"));
    assert_eq!(report.imported, 30);
}

#[test]
fn a_time_zone_column_gives_each_callee_their_zone() {
    let mut fields = arrears_fields();
    fields.push(("timezone".into(), Type::Text, "时区".into()));
    let importer = Importer::new(&fields, None, NumberRules::default()).unwrap();
    let text = format!(
        "{}时区\n\
         13800138000,张三,50,2026-12-07,正常,否,Asia/Urumqi\n\
         13900139000,李四,50,2026-12-07,正常,否,\n\
         13700137000,王五,50,2026-12-07,正常,否,UTC+8\n",
        HEADER.trim_end_matches('\n').to_string() + ","
    );
    let mut store = Store::default();
    let report = importer
        .import(
            Cursor::new(text.into_bytes()),
            Some("text/csv"),
            None,
            &mut store,
        )
        .unwrap();
    assert_eq!(report.imported, 2, "{report:?}");
    assert_eq!(
        store.targets["13800138000"].timezone.as_deref(),
        Some("Asia/Urumqi")
    );
    assert_eq!(
        store.targets["13900139000"].timezone, None,
        "blank: the default zone"
    );
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert_eq!(report.rejected[0].row, 4);
    assert!(
        report.rejected[0]
            .reason
            .contains("unknown time zone \"UTC+8\" in column \"时区\""),
        "{}",
        report.rejected[0].reason
    );
}

/// The same list as an Excel 97-2003 workbook and as OpenDocument, written by
/// `scripts/list-fixtures.py`: typed cells, text cells, and rows to reject.
#[test]
fn legacy_xls_and_ods_workbooks_are_read_cell_by_cell() {
    let files: [(&[u8], Format); 2] = [
        (
            include_bytes!("../../tests/fixtures/arrears.xls"),
            Format::Xls,
        ),
        (
            include_bytes!("../../tests/fixtures/arrears.ods"),
            Format::Ods,
        ),
    ];
    for (bytes, format) in files {
        let mut store = Store::default();
        let report = importer()
            .import(Cursor::new(bytes.to_vec()), None, None, &mut store)
            .unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(report.format, Some(format));
        assert_eq!(
            (report.rows, report.imported),
            (5, 2),
            "{format:?}: {report:?}"
        );
        assert_balanced(&report);
        let rejected: Vec<u64> = report.rejected.iter().map(|r| r.row).collect();
        assert_eq!(rejected, vec![4, 5], "{format:?}: {report:?}");
        assert!(report.rejected[0].reason.contains("手机号码"), "{report:?}");
        assert!(report.rejected[1].reason.contains("欠费金额"), "{report:?}");
        assert_eq!(report.filtered.get("amount >= 10"), Some(&1), "{report:?}");
        let zhang = &store.targets["13800138000"].values;
        assert_eq!(zhang[1], Value::Text("张三".into()));
        assert_eq!(zhang[2], Value::Number(1234.5));
        assert_eq!(zhang[3], date(2026, 12, 7), "{format:?}: a date cell");
        assert_eq!(zhang[5], Value::Bool(false));
        let li = &store.targets["13900139000"].values;
        assert_eq!(li[3], date(2026, 12, 8), "{format:?}: a date as text");
        assert_eq!(li[5], Value::Bool(false));
    }
}
