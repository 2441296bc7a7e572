//! Quick fixes for the checker's diagnostics: take the "did you mean" name a
//! hint suggests, and turn full-width punctuation typed with a Chinese input
//! method (`：`, `，`, `（`, `－＞`, the ideographic space...) into the ASCII the
//! language reads. Full-width characters inside texts and comments are Chinese
//! punctuation, meant as written, and are left alone.

use crate::ast::{FileId, Span};

use super::Analysis;

/// One fix an editor can offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// What it does, in the analyst's words.
    pub title: String,
    /// The replacements, each a span and its new text, none overlapping.
    pub edits: Vec<(Span, String)>,
    /// The diagnostic it fixes (an index into the checked diagnostics).
    pub diagnostic: Option<usize>,
    /// True when it is the obvious fix (an editor may apply it on its own).
    pub preferred: bool,
}

/// A full-width character and the ASCII the language means by it.
fn ascii_of(c: char) -> Option<char> {
    Some(match c {
        '：' => ':',
        '，' => ',',
        '；' => ';',
        '（' => '(',
        '）' => ')',
        '｛' => '{',
        '｝' => '}',
        '“' | '”' => '"',
        '‘' | '’' => '\'',
        '－' => '-',
        '＞' => '>',
        '＝' => '=',
        '\u{3000}' => ' ',
        _ => return None,
    })
}

/// Every full-width punctuation character of `text` that stands where code is
/// (not inside a text in quotes nor in a comment), with its ASCII replacement.
/// Chinese quotes `“...”` written where a text belongs open and close a text.
pub fn full_width_fixes(file: FileId, text: &str) -> Vec<(Span, char)> {
    #[derive(PartialEq, Clone, Copy)]
    enum Mode {
        Code,
        /// In a text; `true` when it was opened with a Chinese quote.
        Text(bool),
        Interp,
    }
    let mut out = Vec::new();
    let mut stack = vec![Mode::Code];
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let mode = *stack.last().unwrap_or(&Mode::Code);
        match mode {
            Mode::Text(chinese) => match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    stack.pop();
                }
                '”' if chinese => {
                    out.push((Span::new(file, i, i + c.len_utf8()), '"'));
                    stack.pop();
                }
                '{' => stack.push(Mode::Interp),
                '\n' => {
                    stack.pop();
                }
                _ => {}
            },
            Mode::Code | Mode::Interp => match c {
                '"' => stack.push(Mode::Text(false)),
                '“' | '”' => {
                    out.push((Span::new(file, i, i + c.len_utf8()), '"'));
                    stack.push(Mode::Text(true));
                }
                '}' | '｝' if mode == Mode::Interp => {
                    if c == '｝' {
                        out.push((Span::new(file, i, i + c.len_utf8()), '}'));
                    }
                    stack.pop();
                }
                '#' if !is_key(&text[i + 1..]) => {
                    // A comment: skip to the end of the line.
                    while chars.peek().is_some_and(|&(_, c)| c != '\n') {
                        chars.next();
                    }
                }
                _ => {
                    if let Some(a) = ascii_of(c) {
                        out.push((Span::new(file, i, i + c.len_utf8()), a));
                    }
                }
            },
        }
    }
    out
}

/// Whether a `#` followed by `rest` is a phone key rather than a comment: keys
/// and then `->`, `|`, `,` or `)` (or their full-width forms).
fn is_key(rest: &str) -> bool {
    let rest =
        rest.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'));
    let rest = rest.trim_start_matches([' ', '\t', '\u{3000}']);
    ["->", "|", ",", ")", "－＞", "-＞", "－>", "，", "）"]
        .iter()
        .any(|p| rest.starts_with(p))
        || rest.is_empty()
}

/// The name a "did you mean" hint suggests, as it should replace `current`
/// (the text the diagnostic points at).
fn suggestion(hint: &str, current: &str) -> Option<String> {
    let rest = hint.strip_prefix("did you mean ")?;
    let (open, close) = match rest.chars().next()? {
        '`' => ('`', '`'),
        '"' => ('"', '"'),
        _ => return None,
    };
    let inner = rest.strip_prefix(open)?;
    let inner = &inner[..inner.rfind(close)?];
    if inner.is_empty() {
        return None;
    }
    let mut name = inner.to_string();
    // The hint may say how the name is used (`data.level`, `{phone}`) where the
    // diagnostic points at the name alone.
    if let Some(field) = name.strip_prefix("data.")
        && !current.starts_with("data.")
    {
        name = field.to_string();
    }
    if name.starts_with('{') && name.ends_with('}') && !current.starts_with('{') {
        name = name[1..name.len() - 1].to_string();
    }
    if open == '"' || current.starts_with('"') {
        name = format!("\"{}\"", name.trim_matches('"'));
    }
    (name != current).then_some(name)
}

impl Analysis {
    /// The fixes for the part of `file` from `start` to `end` (byte offsets):
    /// the suggestions of the diagnostics there, each full-width character
    /// there, and one fix for all full-width characters of the file.
    pub fn fixes(&self, file: FileId, start: usize, end: usize) -> Vec<Fix> {
        let text = self.text(file);
        let mut out = Vec::new();
        let overlaps =
            |s: Span| s.file == file && s.start as usize <= end && start <= s.end as usize;
        for (i, d) in self.checked.diagnostics.iter().enumerate() {
            if !overlaps(d.span) {
                continue;
            }
            let current = text.get(d.span.range()).unwrap_or("");
            for h in &d.hints {
                if let Some(name) = suggestion(h, current) {
                    out.push(Fix {
                        title: format!("Change to {name}"),
                        edits: vec![(d.span, name)],
                        diagnostic: Some(i),
                        preferred: true,
                    });
                }
            }
        }
        let wide = full_width_fixes(file, text);
        let line_of = |o: usize| self.position(file, o).line;
        let (first_line, last_line) = (line_of(start), line_of(end));
        for (span, ascii) in &wide {
            let line = line_of(span.start as usize);
            if line < first_line || line > last_line {
                continue;
            }
            let wide_char = text.get(span.range()).unwrap_or("");
            let diagnostic = self
                .checked
                .diagnostics
                .iter()
                .position(|d| d.span.file == file && line_of(d.span.start as usize) == line);
            out.push(Fix {
                title: format!("Replace the full-width `{wide_char}` with `{ascii}`"),
                edits: vec![(*span, ascii.to_string())],
                diagnostic,
                preferred: true,
            });
        }
        if wide.len() > 1 {
            out.push(Fix {
                title: format!(
                    "Replace all {} full-width punctuation characters in this file",
                    wide.len()
                ),
                edits: wide.iter().map(|(s, a)| (*s, a.to_string())).collect(),
                diagnostic: None,
                preferred: false,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_outside_texts_and_comments_only() {
        let text = "flow f（）on “100” {\n  x ＝ 1；# 注释：不改\n  say \"您好，欢迎\"\n  1 －＞ hangup\n}\n";
        let fixes = full_width_fixes(FileId(0), text);
        let fixed: String = {
            let mut s = text.to_string();
            for (span, a) in fixes.iter().rev() {
                s.replace_range(span.range(), &a.to_string());
            }
            s
        };
        assert_eq!(
            fixed,
            "flow f()on \"100\" {\n  x = 1;# 注释：不改\n  say \"您好，欢迎\"\n  1 -> hangup\n}\n"
        );
    }

    #[test]
    fn a_hash_key_is_not_a_comment() {
        let text = "  # －＞ hangup\n  # 说明：x\n";
        let fixes = full_width_fixes(FileId(0), text);
        assert_eq!(fixes.len(), 2, "{fixes:?}");
    }

    #[test]
    fn suggestions_fit_the_text_they_replace() {
        assert_eq!(
            suggestion("did you mean `billing`?", "biling").as_deref(),
            Some("billing")
        );
        assert_eq!(
            suggestion("did you mean `data.level`?", "levle").as_deref(),
            Some("level")
        );
        assert_eq!(
            suggestion("did you mean \"1001\"?", "\"1010\"").as_deref(),
            Some("\"1001\"")
        );
        assert_eq!(
            suggestion("did you mean `{phone}`?", "phnoe").as_deref(),
            Some("phone")
        );
        assert_eq!(suggestion("add a unit", "5"), None);
    }
}
