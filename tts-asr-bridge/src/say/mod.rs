//! Readers that turn values into speakable text (REQUIREMENTS F5).
//!
//! A flow reads results aloud: a balance, a due date, an order number. These
//! functions spell such values out in words, so the TTS engine never has to
//! guess how to read "10010" or "2026年" (espeak-ng reads the first as "ten
//! thousand ten" in Chinese as "十千十", the year as a cardinal number).
//!
//! | value | Chinese ([`Lang::Zh`]) | English ([`Lang::En`]) |
//! |---|---|---|
//! | [`number`] `123` | 一百二十三 | one hundred twenty-three |
//! | [`decimal`] `"3.05"` | 三点零五 | three point zero five |
//! | [`money`] `12345` fen (yuan) | 一百二十三元四角五分 | one hundred twenty-three yuan and forty-five fen |
//! | [`money`] `12345` cents (dollars) | 一百二十三美元四十五美分 | one hundred twenty-three dollars and forty-five cents |
//! | [`date`] 2026-03-05 | 二零二六年三月五日 | March fifth, twenty twenty-six |
//! | [`time`] 14:05 | 十四点零五分 | two oh five PM |
//! | [`digits`] `"10086"` | 一零零八六 (or 幺零零八六 with [`digits_yao`]) | one zero zero eight six |
//!
//! Money is in minor units (fen, cents) so no floating point is involved.
//! Chinese readings use 二 except where speech demands 两 (hours: 两点).

mod en;
mod zh;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::voice::Lang;

/// The currency of a money amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    /// Renminbi: 元, 角, 分 (English: yuan, jiao, fen).
    #[default]
    Yuan,
    /// US dollars and cents (Chinese: 美元, 美分).
    Dollar,
}

/// A whole number in words.
pub fn number(lang: Lang, n: i64) -> String {
    match lang {
        Lang::Zh => zh::number(n),
        Lang::En => en::number(n),
    }
}

/// A decimal number written with a `.` (such as `-3.05`) in words; the
/// fraction is read digit by digit.
pub fn decimal(lang: Lang, text: &str) -> Result<String> {
    let bad = || Error::InvalidText(format!("`{text}` is not a decimal number"));
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (body.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let int: i64 = int.parse().map_err(|_| bad())?;
    let mut out = match lang {
        Lang::Zh => zh::number(int),
        Lang::En => en::number(int),
    };
    if !frac.is_empty() {
        match lang {
            Lang::Zh => {
                out.push('点');
                out.push_str(&zh::digits(frac, false));
            }
            Lang::En => {
                out.push_str(" point ");
                out.push_str(&en::digits(frac));
            }
        }
    }
    if negative && body.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out = match lang {
            Lang::Zh => format!("负{out}"),
            Lang::En => format!("minus {out}"),
        };
    }
    Ok(out)
}

/// A money amount given in minor units (fen or cents): `12345` is 123.45.
pub fn money(lang: Lang, currency: Currency, minor_units: i64) -> String {
    match lang {
        Lang::Zh => zh::money(currency, minor_units),
        Lang::En => en::money(currency, minor_units),
    }
}

/// A calendar date in words: 二零二六年三月五日, March fifth, twenty twenty-six.
pub fn date(lang: Lang, date: NaiveDate) -> String {
    match lang {
        Lang::Zh => zh::date(date.year(), date.month(), date.day()),
        Lang::En => en::date(date.year(), date.month(), date.day()),
    }
}

/// A date and a time of day, as one appointment is said: 二零二六年十二月七日
/// 十四点三十分; December seventh, twenty twenty-six at two thirty PM.
pub fn datetime(lang: Lang, at: NaiveDateTime) -> String {
    match lang {
        Lang::Zh => format!("{}{}", date(lang, at.date()), time(lang, at.time())),
        Lang::En => format!("{} at {}", date(lang, at.date()), time(lang, at.time())),
    }
}

/// A time of day; seconds are read only when not zero.
pub fn time(lang: Lang, time: NaiveTime) -> String {
    match lang {
        Lang::Zh => zh::time(time.hour(), time.minute(), time.second()),
        Lang::En => en::time(time.hour(), time.minute(), time.second()),
    }
}

/// A digit string read digit by digit (phone, account and order numbers).
///
/// `*` and `#` are read as keys (星号/井号, star/pound); spaces and dashes
/// become a short pause; other characters are dropped.
pub fn digits(lang: Lang, text: &str) -> String {
    match lang {
        Lang::Zh => zh::digits(text, false),
        Lang::En => en::digits(text),
    }
}

/// Chinese digits with 幺 for 1, as operators read phone numbers (幺零零八六).
pub fn digits_yao(text: &str) -> String {
    zh::digits(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_times_read_as_one_appointment() {
        let at = NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        assert_eq!(datetime(Lang::Zh, at), "二零二六年十二月七日十四点三十分");
        assert_eq!(
            datetime(Lang::En, at),
            "December seventh, twenty twenty-six at two thirty PM"
        );
    }

    #[test]
    fn public_readers() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        let t = NaiveTime::from_hms_opt(14, 5, 0).unwrap();
        let table = [
            (number(Lang::Zh, 123), "一百二十三"),
            (number(Lang::En, 123), "one hundred twenty-three"),
            (
                money(Lang::Zh, Currency::Yuan, 12345),
                "一百二十三元四角五分",
            ),
            (
                money(Lang::En, Currency::Dollar, 12345),
                "one hundred twenty-three dollars and forty-five cents",
            ),
            (date(Lang::Zh, d), "二零二六年三月五日"),
            (date(Lang::En, d), "March fifth, twenty twenty-six"),
            (time(Lang::Zh, t), "十四点零五分"),
            (time(Lang::En, t), "two oh five PM"),
            (digits(Lang::Zh, "10086"), "一零零八六"),
            (digits_yao("10086"), "幺零零八六"),
            (digits(Lang::En, "123"), "one two three"),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn decimals() {
        let cases = [
            ("3.05", "三点零五", "three point zero five"),
            ("-12.5", "负十二点五", "minus twelve point five"),
            ("0.125", "零点一二五", "zero point one two five"),
            ("42", "四十二", "forty-two"),
            ("-0.0", "零点零", "zero point zero"),
        ];
        for (text, zh, en) in cases {
            assert_eq!(decimal(Lang::Zh, text).unwrap(), zh, "{text}");
            assert_eq!(decimal(Lang::En, text).unwrap(), en, "{text}");
        }
        for bad in [
            "",
            "-",
            ".5",
            "5.",
            "1.2.3",
            "1,5",
            "a",
            "99999999999999999999",
        ] {
            assert!(decimal(Lang::En, bad).is_err(), "{bad}");
        }
    }
}
