//! Recognition grammars: menu phrases or digit strings, and their JSGF form.
//!
//! A [`Grammar`] is what a flow's spoken menu or number collection allows.
//! [`Compiled`] is its engine-ready form: the words to check against the
//! dictionary, the JSGF text for pocketsphinx, and the table that maps a
//! recognized word sequence back to the flow's choice key.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The most digits a digits grammar may ask for.
pub const MAX_DIGITS: u8 = 32;

/// What the caller may say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Grammar {
    /// A spoken menu: each phrase selects a choice; several phrases may
    /// select the same choice (synonyms).
    Phrases {
        /// The phrases, in the flow's order.
        phrases: Vec<Phrase>,
    },
    /// A number said digit by digit ("one two three four" → `1234`).
    Digits {
        /// Fewest digits accepted.
        min: u8,
        /// Most digits accepted (at most [`MAX_DIGITS`]).
        max: u8,
    },
}

/// One spoken menu phrase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phrase {
    /// The words, as written in the flow (case and punctuation do not matter).
    pub text: String,
    /// The key the flow branches on when this phrase is heard.
    pub choice: String,
}

impl Phrase {
    /// A phrase selecting `choice`.
    pub fn new(text: impl Into<String>, choice: impl Into<String>) -> Self {
        Phrase {
            text: text.into(),
            choice: choice.into(),
        }
    }
}

impl Grammar {
    /// A menu grammar from `(phrase, choice)` pairs.
    pub fn phrases<P: Into<String>, C: Into<String>>(
        pairs: impl IntoIterator<Item = (P, C)>,
    ) -> Self {
        Grammar::Phrases {
            phrases: pairs.into_iter().map(|(p, c)| Phrase::new(p, c)).collect(),
        }
    }

    /// A digits grammar of `min..=max` digits.
    pub fn digits(min: u8, max: u8) -> Self {
        Grammar::Digits { min, max }
    }

    /// Checks the grammar's shape and prepares it for an engine.
    pub fn compile(&self) -> Result<Compiled> {
        Compiled::new(self)
    }
}

/// The spoken words of the digits 0-9 (`oh` is also zero).
const DIGIT_WORDS: [(&str, char); 11] = [
    ("zero", '0'),
    ("oh", '0'),
    ("one", '1'),
    ("two", '2'),
    ("three", '3'),
    ("four", '4'),
    ("five", '5'),
    ("six", '6'),
    ("seven", '7'),
    ("eight", '8'),
    ("nine", '9'),
];

/// Splits text into the lower-case words a dictionary lists: letters, digits
/// and apostrophes; everything else separates words.
pub fn normalize_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A grammar ready for a decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The JSGF text (public rule `<choice>`).
    pub jsgf: String,
    /// Every distinct word with the phrase it first appears in, for the
    /// dictionary check.
    pub words: Vec<(String, String)>,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Normalized phrase ("fault report") → choice.
    Phrases(HashMap<String, String>),
    Digits {
        min: usize,
        max: usize,
    },
}

impl Compiled {
    fn new(grammar: &Grammar) -> Result<Self> {
        let mut jsgf = String::from("#JSGF V1.0;\ngrammar dialect;\n");
        let mut words: Vec<(String, String)> = Vec::new();
        let kind = match grammar {
            Grammar::Phrases { phrases } => {
                if phrases.is_empty() {
                    return Err(Error::Grammar(
                        "a menu grammar needs at least one phrase".into(),
                    ));
                }
                let mut table = HashMap::new();
                let mut alternatives = Vec::new();
                for phrase in phrases {
                    let normalized = normalize_words(&phrase.text);
                    if normalized.is_empty() {
                        return Err(Error::Grammar(format!(
                            "the phrase `{}` (choice `{}`) has no words",
                            phrase.text, phrase.choice
                        )));
                    }
                    for w in &normalized {
                        if !words.iter().any(|(known, _)| known == w) {
                            words.push((w.clone(), phrase.text.clone()));
                        }
                    }
                    let key = normalized.join(" ");
                    match table.get(&key) {
                        Some(existing) if existing != &phrase.choice => {
                            return Err(Error::Grammar(format!(
                                "the phrase `{}` selects both `{existing}` and `{}`",
                                phrase.text, phrase.choice
                            )));
                        }
                        Some(_) => {}
                        None => {
                            table.insert(key.clone(), phrase.choice.clone());
                            alternatives.push(key);
                        }
                    }
                }
                let _ = writeln!(jsgf, "public <choice> = {};", alternatives.join(" | "));
                Kind::Phrases(table)
            }
            &Grammar::Digits { min, max } => {
                if min == 0 || min > max || max > MAX_DIGITS {
                    return Err(Error::Grammar(format!(
                        "a digits grammar needs 1 <= min <= max <= {MAX_DIGITS}, got {min}..{max}"
                    )));
                }
                let names: Vec<&str> = DIGIT_WORDS.iter().map(|(w, _)| *w).collect();
                for w in &names {
                    words.push(((*w).to_owned(), "digits".to_owned()));
                }
                let _ = writeln!(jsgf, "<digit> = {};", names.join(" | "));
                let mut rule = vec!["<digit>"; usize::from(min)].join(" ");
                // Nested optionals: one path per length, no ambiguity.
                let optional = usize::from(max - min);
                rule.push_str(&" [<digit>".repeat(optional));
                rule.push_str(&"]".repeat(optional));
                let _ = writeln!(jsgf, "public <choice> = {rule};");
                Kind::Digits {
                    min: usize::from(min),
                    max: usize::from(max),
                }
            }
        };
        Ok(Compiled { jsgf, words, kind })
    }

    /// The choice for a recognized word sequence, or `None` if the words are
    /// not a sentence of this grammar (for digits: the digit string).
    pub fn choice_for(&self, hypothesis: &str) -> Option<String> {
        let words = normalize_words(hypothesis);
        match &self.kind {
            Kind::Phrases(table) => table.get(&words.join(" ")).cloned(),
            Kind::Digits { min, max } => {
                let digits: Option<String> = words
                    .iter()
                    .map(|w| {
                        DIGIT_WORDS
                            .iter()
                            .find(|(name, _)| name == w)
                            .map(|(_, d)| *d)
                    })
                    .collect();
                digits.filter(|d| (*min..=*max).contains(&d.len()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_grammar_to_jsgf() {
        let g = Grammar::phrases([
            ("Billing", "bill"),
            ("fault report", "fault"),
            ("Report a fault!", "fault"),
            ("complaint", "complaint"),
            ("billing", "bill"),
        ]);
        let c = g.compile().unwrap();
        assert_eq!(
            c.jsgf,
            "#JSGF V1.0;\ngrammar dialect;\npublic <choice> = billing | fault report | report a fault | complaint;\n"
        );
        let words: Vec<&str> = c.words.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(words, ["billing", "fault", "report", "a", "complaint"]);
        assert_eq!(c.choice_for("report a fault").as_deref(), Some("fault"));
        assert_eq!(c.choice_for("billing").as_deref(), Some("bill"));
        assert_eq!(c.choice_for("agent"), None);
    }

    #[test]
    fn digits_grammar_to_jsgf() {
        let c = Grammar::digits(2, 4).compile().unwrap();
        assert!(
            c.jsgf
                .ends_with("public <choice> = <digit> <digit> [<digit> [<digit>]];\n"),
            "{}",
            c.jsgf
        );
        assert_eq!(c.choice_for("one two three four").as_deref(), Some("1234"));
        assert_eq!(c.choice_for("oh nine").as_deref(), Some("09"));
        assert_eq!(c.choice_for("one"), None, "too short");
        assert_eq!(c.choice_for("one two three four five"), None, "too long");
        assert_eq!(c.choice_for("one potato"), None);
    }

    #[test]
    fn bad_grammars() {
        for g in [
            Grammar::Phrases { phrases: vec![] },
            Grammar::phrases([("?!", "x")]),
            Grammar::phrases([("agent", "a"), ("Agent.", "b")]),
            Grammar::digits(0, 3),
            Grammar::digits(4, 3),
            Grammar::digits(1, MAX_DIGITS + 1),
        ] {
            assert!(matches!(g.compile(), Err(Error::Grammar(_))), "{g:?}");
        }
    }

    #[test]
    fn normalizing() {
        assert_eq!(
            normalize_words("  Don't <b>STOP</b>; now|please "),
            ["don't", "b", "stop", "b", "now", "please"]
        );
        assert_eq!(normalize_words("'quoted'"), ["quoted"]);
    }

    #[test]
    fn grammar_json_shape() {
        let g = Grammar::phrases([("agent", "0")]);
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"phrases","phrases":[{"text":"agent","choice":"0"}]}"#
        );
        let d: Grammar = serde_json::from_str(r#"{"kind":"digits","min":4,"max":8}"#).unwrap();
        assert_eq!(d, Grammar::digits(4, 8));
    }
}
