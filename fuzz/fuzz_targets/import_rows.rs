//! Fuzzes list import: bytes as CSV text in any encoding (the importer
//! detects UTF-8, UTF-16 by its mark, or GB18030) and as a workbook (xlsx, xls,
//! ods by their first bytes). Nothing may panic, and a report that comes back
//! must count every data row exactly once.
#![no_main]

use std::io::Cursor;

use dialect_compiler::value::Value;
use dialect_dialer::import::{ImportSink, ImportedRow, Importer};
use dialect_lang::types::Type;
use dialect_numbers::NumberRules;
use libfuzzer_sys::fuzz_target;

/// Filters rows by their amount and keeps a count, as a store would.
struct Count {
    stored: u64,
    withdrawn: u64,
}

impl ImportSink for Count {
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        match values.get(2) {
            Some(Value::Number(n)) if *n < 10.0 => Err("amount >= 10".into()),
            _ => Ok(()),
        }
    }
    fn target(&mut self, row: ImportedRow) -> Result<(), String> {
        assert!(!row.phone.is_empty(), "a target has a number");
        self.stored += 1;
        Ok(())
    }
    fn withdraw(&mut self, _: &str, _: u64) -> Result<(), String> {
        self.withdrawn += 1;
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let fields: Vec<(String, Type, String)> = [
        ("phone", Type::Text, "手机号码"),
        ("name", Type::Text, "name"),
        ("amount", Type::Number, "amount"),
        ("due", Type::Date, "due"),
        ("refused", Type::Bool, "refused"),
        ("at", Type::Time, "at"),
        ("wait", Type::Duration, "wait"),
    ]
    .into_iter()
    .map(|(n, t, c)| (n.to_string(), t, c.to_string()))
    .collect();
    let Ok(importer) = Importer::new(&fields, None, NumberRules::default()) else {
        return;
    };
    let (mode, body) = data.split_first().unwrap_or((&0, data));
    let mut sink = Count {
        stored: 0,
        withdrawn: 0,
    };
    let result = match mode % 3 {
        0 => importer.import_csv(body, &mut sink),
        1 => importer.import(Cursor::new(body), None, None, &mut sink),
        _ => match importer.clone().with_encoding("gbk") {
            Some(gbk) => gbk.import_csv(body, &mut sink),
            None => return,
        },
    };
    if let Ok(report) = result {
        assert_eq!(
            report.rows,
            report.imported + report.duplicates + report.filtered_total() + report.rejected_total
        );
        assert_eq!(sink.stored, report.imported + report.duplicates);
        assert_eq!(sink.withdrawn, report.withdrawn);
    }
});
