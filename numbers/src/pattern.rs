//! Dial-plan patterns, in the notation telephony operators already write
//! (Asterisk's extension patterns):
//!
//! | written | matches |
//! |---|---|
//! | `0`–`9`, `*`, `#` | that character |
//! | `X` | any digit |
//! | `Z` | a digit 1–9 |
//! | `N` | a digit 2–9 |
//! | `[1-5,8]` | one digit of the set (ranges and single digits) |
//! | `.` | one or more characters, at the end only |
//! | `!` | zero or more characters, at the end only |
//!
//! A pattern matches a whole canonical number (see [`crate::canonical`]):
//! `1[3-9]XXXXXXXXX` is a Chinese mobile number, `0ZXXXXXXX.` a number with an
//! area code, `00.` any number abroad. A leading `_` (as in Asterisk) and
//! spaces are ignored; `x`, `z`, `n` may be lower case.

use std::fmt;

/// One position of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    /// A literal character (`0`–`9`, `*`, `#`).
    Char(u8),
    /// A digit whose bit is set (bit `d` for digit `d`).
    Digits(u16),
    /// One or more characters; always last.
    OneOrMore,
    /// Zero or more characters; always last.
    ZeroOrMore,
}

/// A parsed dial-plan pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    elements: Vec<Element>,
}

/// Why a pattern could not be read; `at` is the character position (from 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// An empty pattern would match nothing (or everything, by mistake).
    #[error("the pattern is empty")]
    Empty,
    /// A character with no meaning in a pattern.
    #[error(
        "`{found}` (at {at}) has no meaning in a dial pattern; use digits, * # X Z N [..] . or !"
    )]
    Unexpected {
        /// The character.
        found: char,
        /// Its position: index of the character in the pattern, from 0.
        at: usize,
    },
    /// `.` or `!` before the end.
    #[error("`{found}` (at {at}) must end the pattern: it matches the rest of the number")]
    WildcardNotLast {
        /// `.` or `!`.
        found: char,
        /// Its position: index of the character in the pattern, from 0.
        at: usize,
    },
    /// A `[` without its `]`, an empty set, or a range written backwards.
    #[error("the set starting at {at} is not closed or is empty; write it as [1-5,8]")]
    BadSet {
        /// Where the set starts.
        at: usize,
    },
    /// Longer than any number could be.
    #[error("the pattern is longer than {0} characters")]
    TooLong(usize),
}

/// The longest pattern read.
const MAX_PATTERN: usize = 64;

const ALL_DIGITS: u16 = 0b11_1111_1111;

impl Pattern {
    /// Reads a pattern.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > MAX_PATTERN {
            return Err(PatternError::TooLong(MAX_PATTERN));
        }
        let mut elements = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let element = match c {
                ' ' => {
                    i += 1;
                    continue;
                }
                '_' if elements.is_empty() => {
                    i += 1;
                    continue;
                }
                '0'..='9' | '*' | '#' => Element::Char(c as u8),
                'X' | 'x' => Element::Digits(ALL_DIGITS),
                'Z' | 'z' => Element::Digits(ALL_DIGITS & !1),
                'N' | 'n' => Element::Digits(ALL_DIGITS & !0b11),
                '.' | '!' => {
                    if chars[i + 1..].iter().any(|c| *c != ' ') {
                        return Err(PatternError::WildcardNotLast { found: c, at: i });
                    }
                    if c == '.' {
                        Element::OneOrMore
                    } else {
                        Element::ZeroOrMore
                    }
                }
                '[' => {
                    let (set, end) = parse_set(&chars, i)?;
                    i = end;
                    Element::Digits(set)
                }
                found => return Err(PatternError::Unexpected { found, at: i }),
            };
            elements.push(element);
            i += 1;
        }
        if elements.is_empty() {
            return Err(PatternError::Empty);
        }
        Ok(Pattern {
            text: text.trim().to_string(),
            elements,
        })
    }

    /// Whether the whole of `number` matches.
    pub fn matches(&self, number: &str) -> bool {
        let bytes = number.as_bytes();
        let mut pos = 0;
        for element in &self.elements {
            match *element {
                Element::OneOrMore => return pos < bytes.len(),
                Element::ZeroOrMore => return true,
                Element::Char(c) => {
                    if bytes.get(pos) != Some(&c) {
                        return false;
                    }
                }
                Element::Digits(set) => match bytes.get(pos) {
                    Some(b @ b'0'..=b'9') if set & (1 << (b - b'0')) != 0 => {}
                    _ => return false,
                },
            }
            pos += 1;
        }
        pos == bytes.len()
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A `[…]` set starting at `start`; returns the digits and the index of `]`.
fn parse_set(chars: &[char], start: usize) -> Result<(u16, usize), PatternError> {
    let bad = PatternError::BadSet { at: start };
    let mut set = 0u16;
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            ']' => return if set == 0 { Err(bad) } else { Ok((set, i)) },
            ',' | ' ' => {}
            c @ '0'..='9' => {
                let from = c as u8 - b'0';
                if chars.get(i + 1) == Some(&'-') {
                    let to = match chars.get(i + 2) {
                        Some(t @ '0'..='9') => *t as u8 - b'0',
                        _ => return Err(bad),
                    };
                    if to < from {
                        return Err(bad);
                    }
                    for d in from..=to {
                        set |= 1 << d;
                    }
                    i += 2;
                } else {
                    set |= 1 << from;
                }
            }
            _ => return Err(bad),
        }
        i += 1;
    }
    Err(bad)
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Pattern, PatternError> {
        Pattern::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let text = String::deserialize(d)?;
        Pattern::parse(&text).map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).unwrap()
    }

    #[test]
    fn mobile_landline_and_international_patterns() {
        let mobile = p("1[3-9]XXXXXXXXX");
        assert!(mobile.matches("13800138000"));
        assert!(
            !mobile.matches("12800138000"),
            "1 then 2 is not a mobile number"
        );
        assert!(!mobile.matches("1380013800"), "one digit short");
        assert!(!mobile.matches("138001380001"), "one digit long");
        let area = p("0ZXXXXXXX.");
        assert!(area.matches("01065529988"));
        assert!(area.matches("075512345678"));
        assert!(!area.matches("00442079460000"), "Z is not 0");
        let abroad = p("00.");
        assert!(abroad.matches("00442079460000"));
        assert!(!abroad.matches("00"), ". needs at least one more");
        assert!(p("00!").matches("00"));
        assert!(p("_NXXXXXXX").matches("65529988"));
        assert!(!p("NXXXXXXX").matches("15529988"));
        assert!(p("[1,3,5-6]").matches("5"));
        assert!(!p("[1,3,5-6]").matches("4"));
        assert!(p("*86#").matches("*86#"));
        assert!(p("1 2 x").matches("129"));
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        assert_eq!(Pattern::parse(""), Err(PatternError::Empty));
        assert_eq!(Pattern::parse("_"), Err(PatternError::Empty));
        assert_eq!(
            Pattern::parse("1.3"),
            Err(PatternError::WildcardNotLast { found: '.', at: 1 })
        );
        assert_eq!(
            Pattern::parse("1A"),
            Err(PatternError::Unexpected { found: 'A', at: 1 })
        );
        assert_eq!(Pattern::parse("1[3-"), Err(PatternError::BadSet { at: 1 }));
        assert_eq!(Pattern::parse("1[]"), Err(PatternError::BadSet { at: 1 }));
        assert_eq!(
            Pattern::parse("1[5-3]"),
            Err(PatternError::BadSet { at: 1 })
        );
        assert!(matches!(
            Pattern::parse(&"X".repeat(65)),
            Err(PatternError::TooLong(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn parsing_and_matching_never_panic(pat in "[0-9XZNxzn\\[\\],\\-.!_ *#A]{0,20}", num in "[0-9*#+]{0,20}") {
            if let Ok(pattern) = Pattern::parse(&pat) {
                let _ = pattern.matches(&num);
            }
        }

        #[test]
        fn a_number_matches_itself(num in "[0-9*#]{1,20}") {
            proptest::prop_assert!(p(&num).matches(&num));
        }
    }
}
