//! How one cell becomes a typed [`Value`]: the spellings people and exports use
//! for numbers, yes/no, dates, clock times and durations, and how a header name
//! is compared with the campaign's column names.
//!
//! A cell arrives either as text (a CSV field, a text cell of a spreadsheet) or
//! as a spreadsheet value (a number, a date cell, a boolean). Both go through
//! [`read_cell`]; the result is the value or the reason, in words an operator
//! understands, why the cell cannot be read.

use calamine::{Data, ExcelDateTime};
use chrono::NaiveDate;
use dialect_compiler::value::Value;
use dialect_lang::types::Type;

/// A cell before typing, borrowed from the row being read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RawCell<'a> {
    /// A field of a delimited text file, or a text cell.
    Text(&'a str),
    /// A cell of a workbook, with the type the spreadsheet gave it.
    Sheet(&'a Data),
}

/// Why a cell cannot be read as its field's type; the caller adds the column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CellProblem {
    /// Nothing in a cell whose type has no neutral default (dates, times,
    /// durations).
    Missing,
    /// Something that is not a spelling of the type; the text is quoted back.
    Unparsable(String),
    /// A spreadsheet error value such as `#N/A` or `#REF!`.
    SheetError(String),
}

/// Characters trimmed around cells and header names: ASCII white space, the
/// no-break space, the ideographic (full-width) space and a stray byte-order
/// mark.
pub(crate) fn is_blank_char(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}' || c == '\u{200b}'
}

/// A cell's text without surrounding blanks.
pub(crate) fn trim_cell(s: &str) -> &str {
    s.trim_matches(is_blank_char)
}

/// Full-width ASCII forms (`１２３`, `ＡＢＣ`, `：`) as their ASCII letters, so
/// text typed with a Chinese input method reads like text typed without one.
fn half_width(c: char) -> char {
    match c {
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        '\u{3000}' => ' ',
        other => other,
    }
}

/// The form in which a header name is compared with a campaign's column name:
/// trimmed, inner runs of blanks made one space, full-width ASCII made
/// half-width, Latin letters in lower case. Chinese text is compared as it is.
pub(crate) fn header_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in trim_cell(name).chars().map(half_width) {
        if is_blank_char(c) {
            pending_space = true;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Reads `cell` as a value of `ty`. Empty cells give the type's default where
/// it has a neutral one (empty text, 0, no) and [`CellProblem::Missing`] where
/// it has not (a date, a clock time, a duration): no date is a safe guess.
pub(crate) fn read_cell(cell: RawCell<'_>, ty: Type) -> Result<Value, CellProblem> {
    match cell {
        RawCell::Text(text) => read_text(trim_cell(text), ty),
        RawCell::Sheet(data) => read_sheet_cell(data, ty),
    }
}

/// A value from a cell written as text.
fn read_text(text: &str, ty: Type) -> Result<Value, CellProblem> {
    if text.is_empty() {
        return empty_value(ty);
    }
    let unparsable = || CellProblem::Unparsable(text.to_string());
    match ty {
        Type::Number => parse_number(text).map(Value::Number).ok_or_else(unparsable),
        Type::Bool => parse_bool(text).map(Value::Bool).ok_or_else(unparsable),
        Type::Date => parse_date(text).map(Value::Date).ok_or_else(unparsable),
        Type::DateTime => parse_datetime(text)
            .map(Value::DateTime)
            .ok_or_else(unparsable),
        Type::Time => parse_time(text).map(Value::Time).ok_or_else(unparsable),
        Type::Duration => parse_duration(text)
            .map(Value::Duration)
            .ok_or_else(unparsable),
        _ => Ok(Value::Text(text.to_string())),
    }
}

/// The value of an empty cell, or why there is none.
fn empty_value(ty: Type) -> Result<Value, CellProblem> {
    match ty {
        Type::Number => Ok(Value::Number(0.0)),
        Type::Bool => Ok(Value::Bool(false)),
        Type::Date | Type::DateTime | Type::Time | Type::Duration => Err(CellProblem::Missing),
        _ => Ok(Value::Text(String::new())),
    }
}

/// A value from a typed spreadsheet cell.
fn read_sheet_cell(data: &Data, ty: Type) -> Result<Value, CellProblem> {
    let number = match data {
        Data::Empty => return empty_value(ty),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
            return read_text(trim_cell(s), ty);
        }
        Data::Error(e) => return Err(CellProblem::SheetError(e.to_string())),
        Data::Bool(b) => {
            return match ty {
                Type::Bool => Ok(Value::Bool(*b)),
                Type::Number => Ok(Value::Number(if *b { 1.0 } else { 0.0 })),
                Type::Date | Type::DateTime | Type::Time | Type::Duration => {
                    Err(CellProblem::Unparsable(b.to_string()))
                }
                _ => Ok(Value::Text(b.to_string())),
            };
        }
        Data::DateTime(dt) => return read_sheet_datetime(dt, ty),
        Data::Int(i) => *i as f64,
        Data::Float(f) => *f,
    };
    let shown = number_text(number);
    match ty {
        Type::Number => Ok(Value::Number(number)),
        Type::Bool if number == 1.0 => Ok(Value::Bool(true)),
        Type::Bool if number == 0.0 => Ok(Value::Bool(false)),
        // A date typed as 20261207 without a date format stays a number.
        Type::Date => date_from_digits(&shown)
            .map(Value::Date)
            .ok_or(CellProblem::Unparsable(shown)),
        // A bare number in a duration column counts seconds.
        Type::Duration if number.is_finite() && number >= 0.0 => {
            Ok(Value::Duration((number * 1000.0).round() as i64))
        }
        Type::Bool | Type::Time | Type::Duration | Type::DateTime => {
            Err(CellProblem::Unparsable(shown))
        }
        _ => Ok(Value::Text(shown)),
    }
}

/// A date, time or duration cell of a workbook.
fn read_sheet_datetime(dt: &ExcelDateTime, ty: Type) -> Result<Value, CellProblem> {
    let serial = dt.as_f64();
    let day_fraction = serial - serial.floor();
    let seconds_of_day = ((day_fraction * 86_400.0).round() as u32).min(86_399);
    let date = || {
        let (y, m, d, ..) = dt.to_ymd_hms_milli();
        NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
    };
    let shown = || match date() {
        Some(d) if !dt.is_duration() => d.format("%Y-%m-%d").to_string(),
        _ => number_text(serial),
    };
    match ty {
        Type::Date if dt.is_datetime() => date()
            .map(Value::Date)
            .ok_or_else(|| CellProblem::Unparsable(shown())),
        Type::DateTime if dt.is_datetime() => date()
            .and_then(|d| {
                d.and_hms_opt(
                    seconds_of_day / 3600,
                    seconds_of_day / 60 % 60,
                    seconds_of_day % 60,
                )
            })
            .map(Value::DateTime)
            .ok_or_else(|| CellProblem::Unparsable(shown())),
        Type::Time if serial < 1.0 || dt.is_datetime() => Ok(Value::Time(seconds_of_day)),
        Type::Duration => Ok(Value::Duration((serial * 86_400_000.0).round() as i64)),
        Type::Number => Ok(Value::Number(serial)),
        Type::Date | Type::DateTime | Type::Time | Type::Bool => {
            Err(CellProblem::Unparsable(shown()))
        }
        _ => Ok(Value::Text(shown())),
    }
}

/// A date and time as lists write one: `2026-12-07 14:30`, ISO 8601
/// (`2026-12-07T14:30:05+08:00`, the clock time as written), the same with
/// slashes (`2026/12/07 14:30`), or a date alone (its midnight).
pub(crate) fn parse_datetime(text: &str) -> Option<chrono::NaiveDateTime> {
    let text = text.trim();
    dialect_lang::literal::parse_datetime(text)
        .or_else(|| dialect_lang::literal::parse_datetime(&text.replacen('/', "-", 2)))
        .or_else(|| parse_date(text).and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// A number as a person would write it back: integers without a decimal point
/// (a phone number stored as a number cell reads `13800138000`, not
/// `1.38e10`), others in the shortest exact form.
pub(crate) fn number_text(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Currency marks that may stand before or after an amount.
const CURRENCY_MARKS: [&str; 10] = ["¥", "￥", "$", "€", "£", "RMB", "CNY", "USD", "元", "圆"];

/// Reads an amount: `1234.5`, `1,234.50`, `-12`, `¥12.5`, `12.5元`, `RMB 12.5`,
/// `15%` (the fraction 0.15, as the language holds percentages), full-width
/// digits. A comma is a thousands separator only between groups of three
/// digits: `1,5` is refused rather than guessed to be 1.5 or 15.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let normal: String = text.chars().map(half_width).collect();
    let mut s = normal.trim_matches(is_blank_char);
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-').or_else(|| s.strip_prefix('−')) {
        negative = true;
        s = rest.trim_start_matches(is_blank_char);
    }
    for mark in CURRENCY_MARKS {
        if let Some(rest) = s.strip_prefix(mark) {
            s = rest.trim_start_matches(is_blank_char);
            break;
        }
        if let Some(rest) = s.strip_suffix(mark) {
            s = rest.trim_end_matches(is_blank_char);
            break;
        }
    }
    if !negative && let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    }
    let mut scale = 1.0;
    if let Some(rest) = s.strip_suffix('%') {
        scale = 0.01;
        s = rest.trim_end_matches(is_blank_char);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (int_part, rest) = match s.find(['.', 'e', 'E']) {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    if int_part.is_empty() && !rest.starts_with('.') {
        return None;
    }
    let digits = strip_grouping(int_part)?;
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    let value: f64 = format!("{digits}{rest}").parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let value = value * scale;
    Some(if negative { -value } else { value })
}

/// The digits of an integer part written with or without thousands commas.
fn strip_grouping(int_part: &str) -> Option<String> {
    if !int_part.contains(',') {
        return int_part
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| int_part.to_string());
    }
    let groups: Vec<&str> = int_part.split(',').collect();
    let first_ok = groups
        .first()
        .is_some_and(|g| (1..=3).contains(&g.len()) && g.chars().all(|c| c.is_ascii_digit()));
    let rest_ok = groups[1..]
        .iter()
        .all(|g| g.len() == 3 && g.chars().all(|c| c.is_ascii_digit()));
    (first_ok && rest_ok).then(|| groups.concat())
}

/// Reads yes/no as people write it in such files: 是/否, 对/错, 真/假, 有/无,
/// Y/N, yes/no, true/false, T/F, 1/0, ✓/✗, √/×, in any letter case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let normal: String = text.chars().map(half_width).collect();
    let lower = normal.trim_matches(is_blank_char).to_lowercase();
    match lower.as_str() {
        "是" | "是的" | "对" | "真" | "有" | "y" | "yes" | "true" | "t" | "1" | "✓" | "✔" | "√"
        | "on" => Some(true),
        "否" | "不是" | "错" | "假" | "无" | "没有" | "n" | "no" | "false" | "f" | "0" | "✗"
        | "✘" | "×" | "off" => Some(false),
        _ => None,
    }
}

/// Reads a calendar date written year first: `2026-12-07`, `2026/12/07`,
/// `2026.12.07`, `2026-12-7`, `20261207`, `2026年12月7日`, also with a time of
/// day after it (`2026-12-07 00:00:00`, `2026-12-07T08:00`), which is dropped.
/// Day-first and month-first forms (`07/12/2026`) are refused: which one a file
/// means cannot be told from one cell.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let normal: String = text.chars().map(half_width).collect();
    let s = normal.trim_matches(is_blank_char);
    let date_part = s.split([' ', 'T']).next().unwrap_or(s);
    if let Some(d) = date_from_digits(date_part) {
        return Some(d);
    }
    let mut parts = [0u32; 3];
    let mut count = 0;
    let mut current = String::new();
    let mut separators = String::new();
    for c in date_part.chars() {
        if c.is_ascii_digit() {
            current.push(c);
        } else if matches!(c, '-' | '/' | '.' | '年' | '月' | '日') {
            separators.push(c);
            if current.is_empty() {
                return None;
            }
            if count == 3 {
                return None;
            }
            parts[count] = current.parse().ok()?;
            count += 1;
            current.clear();
        } else {
            return None;
        }
    }
    if !current.is_empty() {
        if count == 3 {
            return None;
        }
        parts[count] = current.parse().ok()?;
        count += 1;
    }
    let year_first = date_part.find(|c: char| !c.is_ascii_digit()) == Some(4);
    let chinese = separators.starts_with("年月");
    let uniform = {
        let mut seps = separators.chars();
        let first = seps.next();
        chinese || (separators.len() == 2 && seps.all(|c| Some(c) == first))
    };
    if count != 3 || !year_first || !uniform {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(parts[0]).ok()?, parts[1], parts[2])
}

/// `20261207` as a date.
fn date_from_digits(s: &str) -> Option<NaiveDate> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = s.get(0..4)?.parse().ok()?;
    let month = s.get(4..6)?.parse().ok()?;
    let day = s.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Reads a clock time as seconds after midnight: `08:30`, `8:30:15`,
/// `8点30分`, `8点`.
pub(crate) fn parse_time(text: &str) -> Option<u32> {
    let normal: String = text.chars().map(half_width).collect();
    let s = normal.trim_matches(is_blank_char);
    let (h, m, sec) = if let Some((h, rest)) = s.split_once('点') {
        let m = rest.trim_end_matches('分');
        (h, if m.is_empty() { "0" } else { m }, "0")
    } else {
        let mut it = s.split(':');
        let h = it.next()?;
        let m = it.next()?;
        let sec = it.next().unwrap_or("0");
        if it.next().is_some() {
            return None;
        }
        (h, m, sec)
    };
    let field = |t: &str| -> Option<u32> {
        (!t.is_empty() && t.len() <= 2 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (h, m, sec) = (field(h)?, field(m)?, field(sec)?);
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

/// Reads a length of time in milliseconds: the language's spelling (`90s`,
/// `1h30m`, `500ms`), a clock-like `01:30:00` or `1:30` (hours and minutes),
/// or a bare number of seconds (`90`, `1.5`).
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    let normal: String = text.chars().map(half_width).collect();
    let s = normal.trim_matches(is_blank_char);
    if let Some(ms) = dialect_lang::literal::parse_duration(s) {
        return Some(ms);
    }
    if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() > 3 || parts.iter().any(|p| p.is_empty() || p.len() > 9) {
            return None;
        }
        let mut total: i64 = 0;
        let mut units = [3_600_000i64, 60_000, 1000].into_iter();
        for part in parts {
            let n: i64 = part.parse().ok()?;
            total = total.checked_add(n.checked_mul(units.next()?)?)?;
        }
        return Some(total);
    }
    let seconds: f64 = s.parse().ok()?;
    (0.0..1e12)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn numbers_in_the_forms_exports_write() {
        assert_eq!(parse_number("1234.5"), Some(1234.5));
        assert_eq!(parse_number("1,234.50"), Some(1234.5));
        assert_eq!(parse_number("12,345,678"), Some(12_345_678.0));
        assert_eq!(parse_number("-12"), Some(-12.0));
        assert_eq!(parse_number("¥12.5"), Some(12.5));
        assert_eq!(parse_number("￥ 1,200"), Some(1200.0));
        assert_eq!(parse_number("-¥3"), Some(-3.0));
        assert_eq!(parse_number("12.5元"), Some(12.5));
        assert_eq!(parse_number("RMB 88"), Some(88.0));
        assert_eq!(parse_number("15%"), Some(0.15));
        assert_eq!(parse_number("１２３"), Some(123.0));
        assert_eq!(parse_number(".5"), Some(0.5));
        assert_eq!(parse_number("1.5E+3"), Some(1500.0));
        assert_eq!(parse_number("+7"), Some(7.0));
        for bad in [
            "1,5", "12,34", "abc", "1.2.3", "inf", "NaN", "", "¥", "1 234", "--1",
        ] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn yes_and_no_as_people_write_them() {
        for yes in [
            "是", "对", "Y", "y", "YES", "yes", "True", "true", "1", "√", "Ｙ",
        ] {
            assert_eq!(parse_bool(yes), Some(true), "{yes}");
        }
        for no in ["否", "错", "N", "no", "FALSE", "false", "0", "×", "不是"] {
            assert_eq!(parse_bool(no), Some(false), "{no}");
        }
        for unsure in ["maybe", "2", "是否", "yesno"] {
            assert_eq!(parse_bool(unsure), None, "{unsure}");
        }
    }

    #[test]
    fn dates_year_first_in_every_separator() {
        let want = date(2026, 12, 7);
        for text in [
            "2026-12-07",
            "2026/12/07",
            "2026.12.07",
            "2026-12-7",
            "20261207",
            "2026年12月7日",
            "2026年12月07",
            "2026-12-07 00:00:00",
            "2026-12-07T08:30:00",
            "２０２６－１２－０７",
        ] {
            assert_eq!(parse_date(text), Some(want), "{text}");
        }
        for bad in [
            "07/12/2026",
            "12/07/2026",
            "2026-13-01",
            "2026-02-30",
            "2026-12",
            "2026-12/07",
            "20261307",
            "tomorrow",
            "2026-12-07-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("08:30"), Some(8 * 3600 + 1800));
        assert_eq!(parse_time("8:30:15"), Some(8 * 3600 + 1815));
        assert_eq!(parse_time("8点30分"), Some(8 * 3600 + 1800));
        assert_eq!(parse_time("20点"), Some(20 * 3600));
        assert_eq!(parse_time("25:00"), None);
        assert_eq!(parse_time("8:60"), None);
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("01:30:00"), Some(5_400_000));
        assert_eq!(parse_duration("45"), Some(45_000));
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(parse_duration("soon"), None);
    }

    #[test]
    fn empty_cells_take_a_default_only_where_one_is_neutral() {
        let empty = RawCell::Text("  \u{3000} ");
        assert_eq!(read_cell(empty, Type::Text), Ok(Value::Text(String::new())));
        assert_eq!(read_cell(empty, Type::Number), Ok(Value::Number(0.0)));
        assert_eq!(read_cell(empty, Type::Bool), Ok(Value::Bool(false)));
        assert_eq!(read_cell(empty, Type::Date), Err(CellProblem::Missing));
        assert_eq!(read_cell(empty, Type::Time), Err(CellProblem::Missing));
        assert_eq!(
            read_cell(RawCell::Sheet(&Data::Empty), Type::Date),
            Err(CellProblem::Missing)
        );
    }

    #[test]
    fn spreadsheet_cells_by_their_own_type() {
        let serial = Data::DateTime(ExcelDateTime::new(
            46363.0,
            calamine::ExcelDateTimeType::DateTime,
            false,
        ));
        assert_eq!(
            read_cell(RawCell::Sheet(&serial), Type::Date),
            Ok(Value::Date(date(2026, 12, 7)))
        );
        assert_eq!(
            read_cell(RawCell::Sheet(&serial), Type::Text),
            Ok(Value::Text("2026-12-07".into()))
        );
        let phone = Data::Float(13_800_138_000.0);
        assert_eq!(
            read_cell(RawCell::Sheet(&phone), Type::Text),
            Ok(Value::Text("13800138000".into()))
        );
        let text_number = Data::String("1,200.50".into());
        assert_eq!(
            read_cell(RawCell::Sheet(&text_number), Type::Number),
            Ok(Value::Number(1200.5))
        );
        assert_eq!(
            read_cell(RawCell::Sheet(&Data::Int(20_261_207)), Type::Date),
            Ok(Value::Date(date(2026, 12, 7)))
        );
        assert_eq!(
            read_cell(RawCell::Sheet(&Data::Int(1)), Type::Bool),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            read_cell(RawCell::Sheet(&Data::Int(46363)), Type::Date),
            Err(CellProblem::Unparsable("46363".into()))
        );
        let error = Data::Error(calamine::CellErrorType::NA);
        assert!(matches!(
            read_cell(RawCell::Sheet(&error), Type::Number),
            Err(CellProblem::SheetError(_))
        ));
        let half_day = Data::DateTime(ExcelDateTime::new(
            0.5,
            calamine::ExcelDateTimeType::DateTime,
            false,
        ));
        assert_eq!(
            read_cell(RawCell::Sheet(&half_day), Type::Time),
            Ok(Value::Time(12 * 3600))
        );
    }

    #[test]
    fn header_names_compare_without_case_width_or_spacing() {
        assert_eq!(header_key("  手机号码\u{3000}"), "手机号码");
        assert_eq!(header_key("Phone  Number"), "phone number");
        assert_eq!(header_key("ＰＨＯＮＥ"), "phone");
        assert_eq!(header_key("\u{feff}客户 姓名"), "客户 姓名");
    }

    #[test]
    fn dates_with_times_are_read_from_text_and_from_date_time_cells() {
        let at = |y, mo, d, h, mi| {
            Value::DateTime(
                NaiveDate::from_ymd_opt(y, mo, d)
                    .and_then(|x| x.and_hms_opt(h, mi, 0))
                    .unwrap(),
            )
        };
        for text in [
            "2026-12-07 14:30",
            "2026-12-07T14:30:00+08:00",
            "2026/12/07 14:30",
        ] {
            assert_eq!(
                read_cell(RawCell::Text(text), Type::DateTime),
                Ok(at(2026, 12, 7, 14, 30)),
                "{text}"
            );
        }
        assert_eq!(
            read_cell(RawCell::Text("2026-12-07"), Type::DateTime),
            Ok(at(2026, 12, 7, 0, 0))
        );
        assert!(read_cell(RawCell::Text("下午两点"), Type::DateTime).is_err());
        // 2026-12-07 14:30 as a workbook's serial number.
        let serial = Data::DateTime(ExcelDateTime::new(
            46_363.0 + (14.0 * 60.0 + 30.0) / 1_440.0,
            calamine::ExcelDateTimeType::DateTime,
            false,
        ));
        assert_eq!(
            read_cell(RawCell::Sheet(&serial), Type::DateTime),
            Ok(at(2026, 12, 7, 14, 30))
        );
    }
}
