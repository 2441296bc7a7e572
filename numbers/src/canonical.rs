//! One canonical form for a telephone number, however it was written.
//!
//! The canonical form is what a caller in the home country dials: national
//! numbers with the trunk prefix where one is dialled (`01065529988`), mobile
//! numbers without (`13800138000`), short codes as they are (`110`, `95588`),
//! and numbers abroad as the international prefix, country code and number
//! (`00442079460000`). Separators people type (spaces, dashes, dots,
//! parentheses, full-width digits from a Chinese input method) are dropped; a
//! home-country code in any of its written forms (`+86`, `0086`, and `86` before
//! a mobile number) is removed.

use serde::Deserialize;

/// The numbering plan of the home country: what the canonical form is relative
/// to. The defaults are China's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumberRules {
    /// The home country's calling code (`86`).
    pub country_code: String,
    /// What callers dial before a country code (`00`).
    pub international_prefix: String,
    /// What callers dial before an area code inside the country (`0`).
    pub trunk_prefix: String,
    /// First digits of national numbers that are dialled without the trunk
    /// prefix (Chinese mobile numbers start with `1`).
    pub direct_prefixes: Vec<String>,
    /// The length of those numbers (`11`), so that a spreadsheet's
    /// `8613800138000` is known for `+86 138…` and not taken for a local number.
    pub direct_length: usize,
}

impl Default for NumberRules {
    fn default() -> NumberRules {
        NumberRules {
            country_code: "86".into(),
            international_prefix: "00".into(),
            trunk_prefix: "0".into(),
            direct_prefixes: vec!["1".into()],
            direct_length: 11,
        }
    }
}

/// Why a text is not a number that can be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but separators.
    #[error("the number is empty")]
    Empty,
    /// Longer than any number in any numbering plan.
    #[error("`{0}` is too long to be a telephone number")]
    TooLong(String),
    /// A letter or sign that no number holds.
    #[error("`{text}` is not a telephone number: `{found}` cannot be dialled")]
    NotANumber {
        /// The text as given.
        text: String,
        /// The first character that cannot be dialled.
        found: char,
    },
    /// An extension (`转123`, `ext. 123`): the platform dials the number, not
    /// what an operator would be asked for after it answers.
    #[error("`{0}` has an extension, which cannot be dialled; give the number alone")]
    Extension(String),
}

/// The longest text read as a number (E.164 allows 15 digits; prefixes and
/// separators need the rest).
const MAX_TEXT: usize = 40;

/// `raw` in canonical form under `rules`.
pub fn canonical(raw: &str, rules: &NumberRules) -> Result<String, NumberError> {
    let text = raw.trim();
    if text.chars().count() > MAX_TEXT {
        return Err(NumberError::TooLong(text.chars().take(MAX_TEXT).collect()));
    }
    let lower = text.to_lowercase();
    if lower.contains('转') || lower.contains("ext") || lower.contains(";ext=") {
        return Err(NumberError::Extension(text.into()));
    }
    let mut plus = false;
    let mut digits = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '＋' => '+',
            '＊' => '*',
            '＃' => '#',
            other => other,
        };
        match c {
            '0'..='9' | '*' | '#' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            ' ' | '\u{a0}' | '\u{3000}' | '-' | '－' | '.' | '(' | ')' | '（' | '）' | '/' => {}
            found => {
                return Err(NumberError::NotANumber {
                    text: text.into(),
                    found,
                });
            }
        }
    }
    if digits.is_empty() {
        return Err(NumberError::Empty);
    }
    let cc = rules.country_code.as_str();
    let intl = rules.international_prefix.as_str();
    if plus {
        return Ok(match digits.strip_prefix(cc) {
            Some(national) if !cc.is_empty() => national_form(national, rules)?,
            _ => format!("{intl}{digits}"),
        });
    }
    if !intl.is_empty() && digits.len() > intl.len() && digits.starts_with(intl) {
        let rest = &digits[intl.len()..];
        return Ok(match rest.strip_prefix(cc) {
            Some(national) if !cc.is_empty() => national_form(national, rules)?,
            _ => digits,
        });
    }
    if !cc.is_empty()
        && let Some(rest) = digits.strip_prefix(cc)
        && rules.direct_length > 0
        && is_direct(rest, rules)
    {
        return Ok(rest.to_string());
    }
    Ok(digits)
}

/// Whether a national number is dialled without the trunk prefix: it starts
/// like one and has its length (Beijing's area code 10 starts with 1 too).
fn is_direct(national: &str, rules: &NumberRules) -> bool {
    (rules.direct_length == 0 || national.len() == rules.direct_length)
        && rules
            .direct_prefixes
            .iter()
            .any(|p| !p.is_empty() && national.starts_with(p.as_str()))
}

/// A national significant number (after the country code) as dialled at home.
fn national_form(national: &str, rules: &NumberRules) -> Result<String, NumberError> {
    let tp = rules.trunk_prefix.as_str();
    Ok(if national.is_empty() {
        return Err(NumberError::Empty);
    } else if is_direct(national, rules) || tp.is_empty() || national.starts_with(tp) {
        // `+86 010 …` is written wrongly but often; keep one trunk prefix.
        national.to_string()
    } else {
        format!("{tp}{national}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<String, NumberError> {
        canonical(s, &NumberRules::default())
    }

    #[test]
    fn every_written_form_of_a_mobile_number_is_one_number() {
        for s in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+86 138 0013 8000",
            "+8613800138000",
            "0086 13800138000",
            "8613800138000",
            "１３８００１３８０００",
            "＋86 138-0013-8000",
        ] {
            assert_eq!(c(s).as_deref(), Ok("13800138000"), "{s}");
        }
    }

    #[test]
    fn landlines_keep_or_gain_their_trunk_prefix() {
        for s in [
            "01065529988",
            "010-6552 9988",
            "(010) 65529988",
            "+86 10 6552 9988",
            "0086-10-65529988",
            "+86 010 65529988",
        ] {
            assert_eq!(c(s).as_deref(), Ok("01065529988"), "{s}");
        }
        assert_eq!(
            c("65529988").as_deref(),
            Ok("65529988"),
            "a local number stays local"
        );
        assert_eq!(c("110").as_deref(), Ok("110"));
        assert_eq!(c("95588").as_deref(), Ok("95588"));
        assert_eq!(c("*86#").as_deref(), Ok("*86#"));
    }

    #[test]
    fn numbers_abroad_take_the_international_prefix() {
        assert_eq!(c("+44 20 7946 0000").as_deref(), Ok("00442079460000"));
        assert_eq!(c("0044 20 7946 0000").as_deref(), Ok("00442079460000"));
        assert_eq!(c("+882 16 9999999").as_deref(), Ok("00882169999999"));
        assert_eq!(c("00882169999999").as_deref(), Ok("00882169999999"));
    }

    #[test]
    fn what_cannot_be_dialled_says_why() {
        assert_eq!(c("  "), Err(NumberError::Empty));
        assert_eq!(c("- ()"), Err(NumberError::Empty));
        assert!(matches!(
            c("138x0013"),
            Err(NumberError::NotANumber { found: 'x', .. })
        ));
        assert!(matches!(
            c("sip:100@a"),
            Err(NumberError::NotANumber { found: 's', .. })
        ));
        assert!(matches!(
            c("010-65529988转123"),
            Err(NumberError::Extension(_))
        ));
        assert!(matches!(
            c("010-65529988 ext 5"),
            Err(NumberError::Extension(_))
        ));
        assert!(matches!(
            c("1+1"),
            Err(NumberError::NotANumber { found: '+', .. })
        ));
        assert!(matches!(c(&"1".repeat(41)), Err(NumberError::TooLong(_))));
    }

    #[test]
    fn other_countries_rules_apply() {
        let uk = NumberRules {
            country_code: "44".into(),
            international_prefix: "00".into(),
            trunk_prefix: "0".into(),
            direct_prefixes: vec![],
            direct_length: 0,
        };
        assert_eq!(
            canonical("+44 20 7946 0000", &uk).as_deref(),
            Ok("02079460000")
        );
        assert_eq!(
            canonical("+86 138 0013 8000", &uk).as_deref(),
            Ok("008613800138000")
        );
    }

    proptest::proptest! {
        #[test]
        fn canonical_is_idempotent_and_never_panics(s in "[ +0-9()\\-]{0,30}") {
            if let Ok(once) = c(&s) {
                proptest::prop_assert_eq!(c(&once), Ok(once.clone()));
            }
        }
    }
}
