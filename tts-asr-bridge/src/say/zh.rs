//! Chinese readings: 一百二十三, 一百二十三元四角五分, 二零二六年三月五日.

use super::Currency;

const DIGIT: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A whole number: 10 → 十, 110 → 一百一十, 10010 → 一万零一十.
pub(super) fn number(n: i64) -> String {
    let mut out = String::new();
    if n < 0 {
        out.push('负');
    }
    out.push_str(&unsigned(n.unsigned_abs(), true));
    out
}

/// `leading`: this is the start of the whole number, where 10..19 read
/// 十, 十一… rather than 一十, 一十一….
fn unsigned(n: u64, leading: bool) -> String {
    const WAN: u64 = 10_000;
    const YI: u64 = 100_000_000;
    if n >= YI {
        let (hi, lo) = (n / YI, n % YI);
        let mut out = unsigned(hi, leading);
        out.push('亿');
        if lo > 0 {
            if lo < YI / 10 {
                out.push('零');
            }
            out.push_str(&unsigned(lo, false));
        }
        out
    } else if n >= WAN {
        let (hi, lo) = (n / WAN, n % WAN);
        let mut out = section(hi as u16, leading);
        out.push('万');
        if lo > 0 {
            if lo < WAN / 10 {
                out.push('零');
            }
            out.push_str(&section(lo as u16, false));
        }
        out
    } else if n == 0 {
        "零".to_owned()
    } else {
        section(n as u16, leading)
    }
}

/// 1..=9999 with 千百十 and a single 零 for each run of inner zeros.
fn section(n: u16, leading: bool) -> String {
    const UNIT: [&str; 4] = ["千", "百", "十", ""];
    let digits = [n / 1000, n / 100 % 10, n / 10 % 10, n % 10];
    let mut out = String::new();
    let mut started = false;
    let mut zero = false;
    for (i, &d) in digits.iter().enumerate() {
        if d == 0 {
            zero |= started;
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        if !(i == 2 && d == 1 && !started && leading) {
            out.push(DIGIT[usize::from(d)]);
        }
        out.push_str(UNIT[i]);
        started = true;
    }
    out
}

/// Money: 一百二十三元四角五分, 一百二十三元整, 一百二十三元零五分.
pub(super) fn money(currency: Currency, minor: i64) -> String {
    let mut out = String::new();
    if minor < 0 {
        out.push('负');
    }
    let minor = minor.unsigned_abs();
    let (major, cents) = (minor / 100, minor % 100);
    match currency {
        Currency::Yuan => {
            let (jiao, fen) = ((cents / 10) as usize, (cents % 10) as usize);
            if major > 0 || cents == 0 {
                out.push_str(&unsigned(major, true));
                out.push('元');
            }
            if cents == 0 {
                if major > 0 {
                    out.push('整');
                }
                return out;
            }
            if jiao > 0 {
                out.push(DIGIT[jiao]);
                out.push('角');
            }
            if fen > 0 {
                if jiao == 0 && major > 0 {
                    out.push('零');
                }
                out.push(DIGIT[fen]);
                out.push('分');
            }
        }
        Currency::Dollar => {
            if major > 0 || cents == 0 {
                out.push_str(&unsigned(major, true));
                out.push_str("美元");
            }
            if cents > 0 {
                out.push_str(&unsigned(cents, true));
                out.push_str("美分");
            }
        }
    }
    out
}

/// 二零二六年三月五日: the year digit by digit, month and day as numbers.
pub(super) fn date(year: i32, month: u32, day: u32) -> String {
    let mut out = String::new();
    if year < 0 {
        out.push_str("公元前");
    }
    out.push_str(&digits(&year.unsigned_abs().to_string(), false));
    out.push('年');
    out.push_str(&unsigned(u64::from(month), true));
    out.push('月');
    out.push_str(&unsigned(u64::from(day), true));
    out.push('日');
    out
}

/// 十四点零五分, 两点整, 九点三十分十秒 (24-hour clock).
pub(super) fn time(hour: u32, minute: u32, second: u32) -> String {
    let mut out = if hour == 2 {
        "两".to_owned()
    } else {
        unsigned(u64::from(hour), true)
    };
    out.push('点');
    if minute == 0 && second == 0 {
        out.push('整');
        return out;
    }
    if minute == 0 {
        out.push('零');
    } else if minute < 10 {
        out.push('零');
        out.push(DIGIT[minute as usize]);
    } else {
        out.push_str(&unsigned(u64::from(minute), true));
    }
    out.push('分');
    if second > 0 {
        out.push_str(&unsigned(u64::from(second), true));
        out.push('秒');
    }
    out
}

/// Digit by digit; 幺 for 1 when `yao`. `*`/`#` are keys, ` `/`-` a pause.
pub(super) fn digits(text: &str, yao: bool) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '1' if yao => out.push('幺'),
            '0'..='9' => out.push(DIGIT[(c as u8 - b'0') as usize]),
            '*' => out.push_str("星号"),
            '#' => out.push_str("井号"),
            ' ' | '-' if !out.is_empty() && !out.ends_with('，') => out.push('，'),
            _ => {}
        }
    }
    if out.ends_with('，') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // Grouped by 万 (four digits), as a Chinese reader counts.
    #[allow(clippy::inconsistent_digit_grouping)]
    fn numbers() {
        let cases: &[(i64, &str)] = &[
            (0, "零"),
            (1, "一"),
            (10, "十"),
            (11, "十一"),
            (20, "二十"),
            (99, "九十九"),
            (100, "一百"),
            (101, "一百零一"),
            (110, "一百一十"),
            (123, "一百二十三"),
            (1001, "一千零一"),
            (1010, "一千零一十"),
            (1100, "一千一百"),
            (10000, "一万"),
            (10010, "一万零一十"),
            (10086, "一万零八十六"),
            (100010, "十万零一十"),
            (120000, "十二万"),
            (1000000, "一百万"),
            (20_0000_0000, "二十亿"),
            (1_0000_0001, "一亿零一"),
            (1_0100_0000, "一亿零一百万"),
            (1_1000_0000, "一亿一千万"),
            (12345_0000_0000, "一万二千三百四十五亿"),
            (-15, "负十五"),
            (
                i64::MIN,
                "负九百二十二亿三千三百七十二万零三百六十八亿五千四百七十七万五千八百零八",
            ),
        ];
        for &(n, want) in cases {
            assert_eq!(number(n), want, "{n}");
        }
    }

    #[test]
    fn money_in_yuan() {
        let cases: &[(i64, &str)] = &[
            (12345, "一百二十三元四角五分"),
            (12300, "一百二十三元整"),
            (12305, "一百二十三元零五分"),
            (12340, "一百二十三元四角"),
            (45, "四角五分"),
            (5, "五分"),
            (0, "零元"),
            (100, "一元整"),
            (1_000_000, "一万元整"),
            (-250, "负二元五角"),
        ];
        for &(m, want) in cases {
            assert_eq!(money(Currency::Yuan, m), want, "{m}");
        }
        assert_eq!(money(Currency::Dollar, 12345), "一百二十三美元四十五美分");
        assert_eq!(money(Currency::Dollar, 5), "五美分");
        assert_eq!(money(Currency::Dollar, 0), "零美元");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date(2026, 3, 5), "二零二六年三月五日");
        assert_eq!(date(2000, 12, 31), "二零零零年十二月三十一日");
        assert_eq!(date(1999, 10, 1), "一九九九年十月一日");
        assert_eq!(time(14, 5, 0), "十四点零五分");
        assert_eq!(time(14, 0, 0), "十四点整");
        assert_eq!(time(2, 0, 0), "两点整");
        assert_eq!(time(0, 30, 0), "零点三十分");
        assert_eq!(time(9, 30, 10), "九点三十分十秒");
        assert_eq!(time(12, 0, 8), "十二点零分八秒");
    }

    #[test]
    fn digit_strings() {
        assert_eq!(digits("10086", false), "一零零八六");
        assert_eq!(digits("10086", true), "幺零零八六");
        assert_eq!(digits("138-0013 8000", true), "幺三八，零零幺三，八零零零");
        assert_eq!(digits("*99#", false), "星号九九井号");
        assert_eq!(digits(" -12- ", false), "一二");
        assert_eq!(digits("abc", false), "");
    }
}
