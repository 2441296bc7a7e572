//! English readings (American): one hundred twenty-three, March fifth.

use super::Currency;

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [&str; 7] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A whole number: 123 → one hundred twenty-three (no "and").
pub(super) fn number(n: i64) -> String {
    if n < 0 {
        format!("minus {}", unsigned(n.unsigned_abs()))
    } else {
        unsigned(n.unsigned_abs())
    }
}

fn unsigned(mut n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut groups = Vec::new();
    let mut scale = 0;
    while n > 0 {
        let group = (n % 1000) as usize;
        if group > 0 {
            let mut words = below_thousand(group);
            if scale > 0 {
                words.push(' ');
                words.push_str(SCALES[scale]);
            }
            groups.push(words);
        }
        n /= 1000;
        scale += 1;
    }
    groups.reverse();
    groups.join(" ")
}

/// 1..=999.
fn below_thousand(n: usize) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let mut out = String::new();
    if hundreds > 0 {
        out.push_str(ONES[hundreds]);
        out.push_str(" hundred");
    }
    if rest > 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&below_hundred(rest));
    }
    out
}

/// 0..=99: seven, forty-two.
fn below_hundred(n: usize) -> String {
    if n < 20 {
        ONES[n].to_owned()
    } else if n.is_multiple_of(10) {
        TENS[n / 10].to_owned()
    } else {
        format!("{}-{}", TENS[n / 10], ONES[n % 10])
    }
}

/// 1 → first, 22 → twenty-second, 30 → thirtieth.
fn ordinal(n: u64) -> String {
    let cardinal = unsigned(n);
    let split = cardinal.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = cardinal.split_at(split);
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", unsigned(n), if n == 1 { one } else { many })
}

/// Dollars and cents, or yuan and fen, in words: "twelve dollars and fifty
/// cents", "twelve yuan and fifty fen" (yuan and fen do not take a plural `s`;
/// the jiao, ten fen, is not named in English).
pub(super) fn money(currency: Currency, minor: i64) -> String {
    let sign = if minor < 0 { "minus " } else { "" };
    let minor = minor.unsigned_abs();
    let (major, cents) = (minor / 100, minor % 100);
    let body = match currency {
        Currency::Dollar => match (major, cents) {
            (0, 0) => "zero dollars".to_owned(),
            (d, 0) => plural(d, "dollar", "dollars"),
            (0, c) => plural(c, "cent", "cents"),
            (d, c) => format!(
                "{} and {}",
                plural(d, "dollar", "dollars"),
                plural(c, "cent", "cents")
            ),
        },
        Currency::Yuan => match (major, cents) {
            (0, 0) => "zero yuan".to_owned(),
            (y, 0) => format!("{} yuan", unsigned(y)),
            (0, f) => format!("{} fen", unsigned(f)),
            (y, f) => format!("{} yuan and {} fen", unsigned(y), unsigned(f)),
        },
    };
    format!("{sign}{body}")
}

/// March fifth, twenty twenty-six.
pub(super) fn date(year: i32, month: u32, day: u32) -> String {
    let month = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("");
    format!("{month} {}, {}", ordinal(u64::from(day)), year_words(year))
}

/// Years as people say them: nineteen ninety-nine, two thousand five,
/// twenty twenty-six, nineteen oh five, nineteen hundred.
fn year_words(year: i32) -> String {
    if year < 0 {
        return format!("{} BC", year_words(-year));
    }
    let y = year.unsigned_abs();
    let (hi, lo) = (u64::from(y / 100), u64::from(y % 100));
    if !(1000..=9999).contains(&y) || (2000..=2009).contains(&y) || (hi % 10 == 0 && lo == 0) {
        unsigned(u64::from(y))
    } else if lo == 0 {
        format!("{} hundred", unsigned(hi))
    } else if lo < 10 {
        format!("{} oh {}", unsigned(hi), unsigned(lo))
    } else {
        format!("{} {}", unsigned(hi), unsigned(lo))
    }
}

/// Two oh five PM, twelve AM, nine thirty AM.
pub(super) fn time(hour: u32, minute: u32, second: u32) -> String {
    let hour12 = match hour % 12 {
        0 => 12,
        h => h,
    };
    let half = if hour < 12 { "AM" } else { "PM" };
    let mut out = unsigned(u64::from(hour12));
    match minute {
        0 => {}
        1..=9 => {
            out.push_str(" oh ");
            out.push_str(ONES[minute as usize]);
        }
        _ => {
            out.push(' ');
            out.push_str(&unsigned(u64::from(minute)));
        }
    }
    out.push(' ');
    out.push_str(half);
    if second > 0 {
        out.push_str(" and ");
        out.push_str(&plural(u64::from(second), "second", "seconds"));
    }
    out
}

/// One word per digit; `*`/`#` are star/pound; ` `/`-` become a comma pause.
pub(super) fn digits(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let word = match c {
            '0'..='9' => ONES[(c as u8 - b'0') as usize],
            '*' => "star",
            '#' => "pound",
            ' ' | '-' => {
                if !out.is_empty() && !out.ends_with(',') {
                    out.push(',');
                }
                continue;
            }
            _ => continue,
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.ends_with(',') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let cases: &[(i64, &str)] = &[
            (0, "zero"),
            (7, "seven"),
            (13, "thirteen"),
            (20, "twenty"),
            (42, "forty-two"),
            (100, "one hundred"),
            (123, "one hundred twenty-three"),
            (1000, "one thousand"),
            (1005, "one thousand five"),
            (10010, "ten thousand ten"),
            (1_000_000, "one million"),
            (2_000_300_040, "two billion three hundred thousand forty"),
            (-8, "minus eight"),
            (
                i64::MAX,
                "nine quintillion two hundred twenty-three quadrillion three hundred seventy-two \
                 trillion thirty-six billion eight hundred fifty-four million seven hundred \
                 seventy-five thousand eight hundred seven",
            ),
        ];
        for &(n, want) in cases {
            assert_eq!(number(n), want, "{n}");
        }
    }

    #[test]
    fn money_in_dollars_and_yuan() {
        let cases: &[(i64, &str)] = &[
            (
                12345,
                "one hundred twenty-three dollars and forty-five cents",
            ),
            (100, "one dollar"),
            (101, "one dollar and one cent"),
            (45, "forty-five cents"),
            (0, "zero dollars"),
            (-500, "minus five dollars"),
        ];
        for &(m, want) in cases {
            assert_eq!(money(Currency::Dollar, m), want, "{m}");
        }
        let yuan: &[(i64, &str)] = &[
            (12345, "one hundred twenty-three yuan and forty-five fen"),
            (1250, "twelve yuan and fifty fen"),
            (1205, "twelve yuan and five fen"),
            (300, "three yuan"),
            (100, "one yuan"),
            (1, "one fen"),
            (45, "forty-five fen"),
            (0, "zero yuan"),
            (-250, "minus two yuan and fifty fen"),
            (1_000_000, "ten thousand yuan"),
        ];
        for &(m, want) in yuan {
            assert_eq!(money(Currency::Yuan, m), want, "{m}");
        }
    }

    #[test]
    fn dates() {
        let cases = [
            ((2026, 3, 5), "March fifth, twenty twenty-six"),
            ((2000, 1, 1), "January first, two thousand"),
            ((2005, 2, 22), "February twenty-second, two thousand five"),
            (
                (1999, 12, 31),
                "December thirty-first, nineteen ninety-nine",
            ),
            ((1905, 7, 30), "July thirtieth, nineteen oh five"),
            ((1900, 8, 12), "August twelfth, nineteen hundred"),
            ((2010, 9, 3), "September third, twenty ten"),
        ];
        for ((y, m, d), want) in cases {
            assert_eq!(date(y, m, d), want);
        }
    }

    #[test]
    fn times() {
        let cases = [
            ((14, 5, 0), "two oh five PM"),
            ((14, 0, 0), "two PM"),
            ((0, 0, 0), "twelve AM"),
            ((12, 0, 0), "twelve PM"),
            ((9, 30, 0), "nine thirty AM"),
            ((23, 59, 1), "eleven fifty-nine PM and one second"),
        ];
        for ((h, m, s), want) in cases {
            assert_eq!(time(h, m, s), want);
        }
    }

    #[test]
    fn digit_strings() {
        assert_eq!(digits("123"), "one two three");
        assert_eq!(digits("555-0100"), "five five five, zero one zero zero");
        assert_eq!(digits("*72#"), "star seven two pound");
        assert_eq!(digits("x"), "");
    }
}
