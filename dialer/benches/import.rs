//! How fast list import runs on lists of the size operators load: 1,000,000
//! CSV rows and 100,000 xlsx rows of the payment_reminder campaign's columns,
//! typed, filtered by a closure that does what the campaign's compiled filters
//! do (amount, status, refusal, a do-not-call set, days until the due date),
//! and stored by appending each target to a file, as a cheap store would.
//!
//! `cargo bench -p dialect-dialer --bench import` generates the files once
//! (in the system's temporary folder) and imports both; `-- csv` or `-- xlsx`
//! imports one, so that `/usr/bin/time -v` can give the peak memory of an
//! import on its own (run once first so the files exist); `unfiltered` lets
//! every row through the filters, so that every number is remembered.

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark")]

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use dialect_compiler::value::Value;
use dialect_dialer::import::{ImportSink, ImportedRow, Importer, Progress};
use dialect_lang::types::Type;
use dialect_numbers::NumberRules;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CSV_ROWS: usize = 1_000_000;
const XLSX_ROWS: usize = 100_000;

const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "艳",
];
const STATUSES: [&str; 4] = ["正常", "正常", "停机", "传真"];

fn fields() -> Vec<(String, Type, String)> {
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

/// A number written the way exports mix them.
fn phone_text(n: u64, style: u32) -> String {
    let d = format!("1{:010}", 3_000_000_000 + n);
    match style % 5 {
        0 => d,
        1 => format!("+86 {} {} {}", &d[..3], &d[3..7], &d[7..]),
        2 => format!("0086-{d}"),
        3 => format!("{}-{}-{}", &d[..3], &d[3..7], &d[7..]),
        _ => format!("86{d}"),
    }
}

struct Row {
    phone: String,
    name: String,
    amount: f64,
    due: NaiveDate,
    status: &'static str,
    refused: bool,
}

fn rows(count: usize, seed: u64) -> impl Iterator<Item = Row> {
    let mut rng = StdRng::seed_from_u64(seed);
    let start = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    (0..count).map(move |i| {
        // About 1 % of rows repeat an earlier number.
        let n = if i > 100 && rng.random_ratio(1, 100) {
            rng.random_range(0..i as u64)
        } else {
            i as u64
        };
        Row {
            phone: phone_text(n, rng.random()),
            name: format!(
                "{}{}",
                SURNAMES[rng.random_range(0..SURNAMES.len())],
                GIVEN[rng.random_range(0..GIVEN.len())]
            ),
            amount: f64::from(rng.random_range(0..50_000u32)) / 100.0,
            due: start + chrono::Duration::days(rng.random_range(0..30)),
            status: STATUSES[rng.random_range(0..STATUSES.len())],
            refused: rng.random_ratio(1, 20),
        }
    })
}

fn generate_csv(path: &Path) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    writeln!(
        out,
        "手机号码,客户姓名,欠费金额,缴费截止日,号码状态,拒绝提醒"
    )
    .unwrap();
    for (i, r) in rows(CSV_ROWS, 1).enumerate() {
        // One row in a thousand is broken, as real exports have some.
        let due = if i % 1000 == 999 {
            "31/12/2026".to_string()
        } else {
            r.due.format("%Y-%m-%d").to_string()
        };
        let amount = if r.amount >= 1000.0 {
            format!(
                "\"{},{:06.2}\"",
                (r.amount / 1000.0) as u64,
                r.amount % 1000.0
            )
        } else {
            format!("{:.2}", r.amount)
        };
        let refused = if r.refused { "是" } else { "否" };
        writeln!(
            out,
            "{},{},{amount},{due},{},{refused}",
            r.phone, r.name, r.status
        )
        .unwrap();
    }
    out.flush().unwrap();
}

fn generate_xlsx(path: &Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in [
        "手机号码",
        "客户姓名",
        "欠费金额",
        "缴费截止日",
        "号码状态",
        "拒绝提醒",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (i, r) in rows(XLSX_ROWS, 2).enumerate() {
        let row = i as u32 + 1;
        // Half the numbers as number cells, half as text in mixed forms.
        if i % 2 == 0 {
            let digits: String = r.phone.chars().filter(char::is_ascii_digit).collect();
            sheet
                .write_number(row, 0, digits.parse::<f64>().unwrap())
                .unwrap();
        } else {
            sheet.write_string(row, 0, &r.phone).unwrap();
        }
        sheet.write_string(row, 1, &r.name).unwrap();
        sheet.write_number(row, 2, r.amount).unwrap();
        let when = ExcelDateTime::parse_from_str(&r.due.format("%Y-%m-%d").to_string()).unwrap();
        sheet
            .write_datetime_with_format(row, 3, &when, &date)
            .unwrap();
        sheet.write_string(row, 4, r.status).unwrap();
        sheet
            .write_string(row, 5, if r.refused { "是" } else { "否" })
            .unwrap();
    }
    workbook.save(path).unwrap();
}

/// Filters as the campaign writes them, and an append-only file as the store.
struct BenchStore {
    out: BufWriter<File>,
    do_not_call: HashSet<String>,
    today: NaiveDate,
    stored: u64,
    last_progress: Option<Progress>,
    /// Lets every row through, to measure the importer's memory when every
    /// number of the file becomes a target.
    unfiltered: bool,
}

impl ImportSink for BenchStore {
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        if self.unfiltered {
            return Ok(());
        }
        let (
            Value::Text(phone),
            Value::Number(amount),
            Value::Date(due),
            Value::Text(status),
            Value::Bool(refused),
        ) = (&values[0], &values[2], &values[3], &values[4], &values[5])
        else {
            return Err("types".into());
        };
        if !(*amount >= 10.0 && status != "停机" && status != "传真") {
            return Err("amount >= 10 and status != \"停机\" and status != \"传真\"".into());
        }
        if *refused {
            return Err("not refused_reminders and attempts < 3".into());
        }
        if self.do_not_call.contains(phone) {
            return Err("phone not in do_not_call and phone not in blacklist".into());
        }
        if (*due - self.today).num_days() > 7 {
            return Err("days_until(due) <= 7".into());
        }
        Ok(())
    }

    fn target(&mut self, row: ImportedRow) -> Result<(), String> {
        self.stored += 1;
        serde_json::to_writer(&mut self.out, &(&row.phone, &row.values))
            .map_err(|e| e.to_string())?;
        self.out.write_all(b"\n").map_err(|e| e.to_string())
    }

    fn withdraw(&mut self, phone: &str, _row: u64) -> Result<(), String> {
        writeln!(self.out, "-{phone}").map_err(|e| e.to_string())
    }

    fn progress(&mut self, progress: Progress) {
        self.last_progress = Some(progress);
    }
}

fn store(dir: &Path, unfiltered: bool) -> BenchStore {
    BenchStore {
        out: BufWriter::new(File::create(dir.join("stored.jsonl")).unwrap()),
        do_not_call: (0..10_000u64).map(|n| phone_text(n * 97, 0)).collect(),
        today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        stored: 0,
        last_progress: None,
        unfiltered,
    }
}

fn run(kind: &str, dir: &Path, file: &Path, unfiltered: bool) {
    let importer = Importer::new(&fields(), None, NumberRules::default()).unwrap();
    let mut sink = store(dir, unfiltered);
    let started = Instant::now();
    let report = importer.import_path(file, &mut sink).unwrap();
    let elapsed = started.elapsed();
    sink.out.flush().unwrap();
    println!(
        "{kind}: {} rows in {:.2} s ({:.0} rows/s): imported {}, duplicates {}, withdrawn {}, filtered {}, rejected {}; stored {}",
        report.rows,
        elapsed.as_secs_f64(),
        report.rows as f64 / elapsed.as_secs_f64(),
        report.imported,
        report.duplicates,
        report.withdrawn,
        report.filtered_total(),
        report.rejected_total,
        sink.stored
    );
    assert_eq!(
        report.rows,
        report.imported + report.duplicates + report.filtered_total() + report.rejected_total
    );
    assert!(sink.last_progress.is_some());
}

fn main() {
    let unfiltered = std::env::args().any(|a| a == "unfiltered");
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a == "csv" || a == "xlsx")
        .collect();
    let dir: PathBuf = std::env::temp_dir().join("dialect-import-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("arrears-1m.csv");
    let xlsx = dir.join("arrears-100k.xlsx");
    if !csv.exists() {
        let t = Instant::now();
        generate_csv(&csv);
        println!(
            "generated {} in {:.1} s",
            csv.display(),
            t.elapsed().as_secs_f64()
        );
    }
    if !xlsx.exists() {
        let t = Instant::now();
        generate_xlsx(&xlsx);
        println!(
            "generated {} in {:.1} s",
            xlsx.display(),
            t.elapsed().as_secs_f64()
        );
    }
    if which.is_empty() || which.iter().any(|w| w == "csv") {
        run("csv", &dir, &csv, unfiltered);
    }
    if which.is_empty() || which.iter().any(|w| w == "xlsx") {
        run("xlsx", &dir, &xlsx, unfiltered);
    }
}
