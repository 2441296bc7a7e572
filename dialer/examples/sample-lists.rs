//! Writes the hotline project's sample campaign lists, then imports them with
//! the campaigns' field mappings to show they read cleanly:
//!
//! - `flows/hotline/lists/arrears.csv` for `payment_reminder`
//!   (手机号码 客户姓名 欠费金额 缴费截止日 号码状态 拒绝提醒), UTF-8;
//! - `flows/hotline/lists/expiring.xlsx` for `retention`
//!   (联系电话 客户姓名 套餐 到期日 月消费 拒绝营销), with date cells.
//!
//! Numbers come in the mixed forms real exports hold (`+86 138 0013 8000`,
//! `0086-…`, `138-0013-8000`, number cells). The lists are made from fixed
//! tables, so running it again writes the same files:
//! `cargo run -p dialect-dialer --example sample-lists [-- OUT_DIR]`.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a generator run by hand"
)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use dialect_dialer::import::{ImportSink, ImportedRow, Importer};
use dialect_lang::types::Type;
use dialect_numbers::NumberRules;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

const SURNAMES: [&str; 16] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "晓东", "海燕",
];
const PLANS: [&str; 4] = ["宽带100M", "宽带300M", "宽带500M+IPTV", "融合套餐199"];

/// The `i`th sample number, written in one of the forms exports mix.
fn phone(i: usize) -> String {
    let prefixes = ["138", "139", "150", "186", "177", "133", "199", "158"];
    let p = prefixes[i % prefixes.len()];
    let mid = 1000 + (i * 379) % 9000;
    let end = 1000 + (i * 7919) % 9000;
    match i % 5 {
        0 => format!("{p}{mid}{end}"),
        1 => format!("+86 {p} {mid} {end}"),
        2 => format!("0086-{p}-{mid}-{end}"),
        3 => format!("{p}-{mid}-{end}"),
        _ => format!("{p} {mid} {end}"),
    }
}

fn name(i: usize) -> String {
    format!(
        "{}{}",
        SURNAMES[(i * 7) % SURNAMES.len()],
        GIVEN[(i * 5) % GIVEN.len()]
    )
}

fn write_arrears(path: &Path) -> std::io::Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        "手机号码,客户姓名,欠费金额,缴费截止日,号码状态,拒绝提醒"
    )?;
    for i in 0..36 {
        let amount = match i % 6 {
            0 => "1,280.50".to_string(),
            1 => "8.00".to_string(),
            _ => format!("{}.{:02}", 20 + (i * 37) % 400, (i * 13) % 100),
        };
        let day = 1 + (i * 3) % 28;
        let due = match i % 3 {
            0 => format!("2026-12-{day:02}"),
            1 => format!("2026/12/{day:02}"),
            _ => format!("2026年12月{day}日"),
        };
        let status = match i % 12 {
            5 => "停机",
            11 => "传真",
            _ => "正常",
        };
        let refused = if i % 9 == 4 { "是" } else { "否" };
        let amount = if amount.contains(',') {
            format!("\"{amount}\"")
        } else {
            amount
        };
        writeln!(
            out,
            "{},{},{amount},{due},{status},{refused}",
            phone(i),
            name(i)
        )?;
    }
    out.flush()
}

fn write_expiring(path: &Path) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut workbook = Workbook::new();
    // A fixed creation time, so that the file is the same on every run.
    let created = ExcelDateTime::from_ymd(2026, 12, 1)?;
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let sheet = workbook.add_worksheet();
    sheet.set_name("到期客户")?;
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (c, h) in [
        "联系电话",
        "客户姓名",
        "套餐",
        "到期日",
        "月消费",
        "拒绝营销",
    ]
    .iter()
    .enumerate()
    {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for i in 0..30 {
        let row = i as u32 + 1;
        let number = phone(i + 100);
        // Every third number is a number cell, as when a sheet was typed in.
        if i % 3 == 0 {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            sheet.write_number(row, 0, digits.parse::<f64>().unwrap_or_default())?;
        } else {
            sheet.write_string(row, 0, &number)?;
        }
        sheet.write_string(row, 1, name(i + 3))?;
        sheet.write_string(row, 2, PLANS[i % PLANS.len()])?;
        let when = ExcelDateTime::from_ymd(2027, 1 + (i % 3) as u8, 1 + ((i * 5) % 28) as u8)?;
        sheet.write_datetime_with_format(row, 3, &when, &date)?;
        let spend = [49.0, 99.0, 129.0, 199.0, 299.0][i % 5];
        // Some amounts are text cells, as exports often write them.
        if i % 4 == 1 {
            sheet.write_string(row, 4, format!("{spend:.2}"))?;
        } else {
            sheet.write_number(row, 4, spend)?;
        }
        sheet.write_string(row, 5, if i % 7 == 3 { "是" } else { "否" })?;
    }
    sheet.autofit();
    workbook.save(path)
}

fn mapping(pairs: &[(&str, Type, &str)]) -> Vec<(String, Type, String)> {
    pairs
        .iter()
        .map(|(n, t, c)| (n.to_string(), *t, c.to_string()))
        .collect()
}

/// Counts what an import would store.
struct Count(u64);

impl ImportSink for Count {
    fn target(&mut self, _: ImportedRow) -> Result<(), String> {
        self.0 += 1;
        Ok(())
    }
    fn withdraw(&mut self, _: &str, _: u64) -> Result<(), String> {
        Ok(())
    }
}

fn main() {
    let out: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
            workspace
                .unwrap_or(Path::new("."))
                .join("flows/hotline/lists")
        });
    std::fs::create_dir_all(&out).expect("create the lists folder");
    let arrears = out.join("arrears.csv");
    let expiring = out.join("expiring.xlsx");
    write_arrears(&arrears).expect("write arrears.csv");
    write_expiring(&expiring).expect("write expiring.xlsx");

    let payment_reminder = mapping(&[
        ("phone", Type::Text, "手机号码"),
        ("name", Type::Text, "客户姓名"),
        ("amount", Type::Number, "欠费金额"),
        ("due", Type::Date, "缴费截止日"),
        ("status", Type::Text, "号码状态"),
        ("refused_reminders", Type::Bool, "拒绝提醒"),
    ]);
    let retention = mapping(&[
        ("phone", Type::Text, "联系电话"),
        ("name", Type::Text, "客户姓名"),
        ("plan", Type::Text, "套餐"),
        ("expires", Type::Date, "到期日"),
        ("value", Type::Number, "月消费"),
        ("refused_offers", Type::Bool, "拒绝营销"),
    ]);
    for (path, fields) in [(&arrears, payment_reminder), (&expiring, retention)] {
        let importer = Importer::new(&fields, None, NumberRules::default()).expect("mapping");
        let mut count = Count(0);
        let report = importer.import_path(path, &mut count).expect("import");
        assert_eq!(
            report.rejected_total,
            0,
            "{}: {:?}",
            path.display(),
            report.rejected
        );
        println!(
            "{}: {}",
            path.display(),
            serde_json::to_string(&report).expect("report as JSON")
        );
    }
}
