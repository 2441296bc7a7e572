//! Lexical repairs made before the grammar sees a file, so that the everyday
//! slips of typing cost one message each instead of a cascade.
//!
//! Three slips are found by one scan over the text (aware of texts, their
//! `{...}` insertions and comments) and repaired in the copy the parser reads:
//!
//! - full-width punctuation typed with a Chinese input method (`：，；（）｛｝“”`
//!   and the rest of [`full_width`]) outside texts and comments: replaced by the
//!   ASCII character, reported once per line with a [`Fix`](crate::diagnostic::Fix);
//!   the ideographic space is white space and only gets a warning;
//! - a text without its closing `"`: closed at the end of its line (or at a
//!   full-width `”` on that line, which is then what is reported);
//! - a `{` that is never closed: found by the parse recovery (`mod.rs`) with
//!   [`unclosed_braces`], reported at the brace, closed where the indentation
//!   says the block ends.
//!
//! The repaired copy may differ in length from the file; an [`OffsetMap`] turns
//! its byte offsets back into the file's, so every span still points at what the
//! analyst wrote.

use crate::ast::{FileId, Span};
use crate::diagnostic::{Diagnostic, Edit};

/// Turns byte offsets in a repaired text back into offsets in the original.
#[derive(Debug, Clone, Default)]
pub(super) struct OffsetMap {
    /// `(repaired offset, delta)`: from this offset on, original = repaired + delta.
    points: Vec<(usize, isize)>,
}

impl OffsetMap {
    /// The original offset of a repaired one.
    pub(super) fn orig(&self, pos: usize) -> usize {
        let i = self.points.partition_point(|(p, _)| *p <= pos);
        let delta = if i == 0 { 0 } else { self.points[i - 1].1 };
        (pos as isize + delta).max(0) as usize
    }

    fn delta(&self) -> isize {
        self.points.last().map_or(0, |p| p.1)
    }
}

/// `text` with `what` inserted at each of `at` (offsets into `text`, sorted),
/// and the map back to `text`'s offsets.
pub(super) fn insert_at(text: &str, at: &[usize], what: &'static str) -> (String, OffsetMap) {
    let mut out = String::with_capacity(text.len() + at.len() * what.len());
    let mut map = OffsetMap::default();
    let mut from = 0;
    for &p in at {
        let p = p.clamp(from, text.len());
        out.push_str(&text[from..p]);
        out.push_str(what);
        from = p;
        let delta = map.delta() - what.len() as isize;
        map.points.push((out.len(), delta));
    }
    out.push_str(&text[from..]);
    (out, map)
}

/// A file as the parser reads it.
#[derive(Debug)]
pub(super) struct Repaired {
    /// The text with the repairs made.
    pub(super) text: String,
    /// Offsets of `text` back to the file's.
    pub(super) map: OffsetMap,
    /// What was repaired, in the file's offsets.
    pub(super) diags: Vec<Diagnostic>,
}

/// One replacement in the original text.
struct Change {
    start: usize,
    end: usize,
    with: &'static str,
}

/// The ASCII character a full-width (or Chinese input method) punctuation mark
/// stands for, and a name for messages.
pub fn full_width(c: char) -> Option<(&'static str, &'static str)> {
    Some(match c {
        '：' => (":", "colon"),
        '，' | '、' => (",", "comma"),
        '；' => (";", "semicolon"),
        '（' | '）' => (if c == '（' { "(" } else { ")" }, "parenthesis"),
        '｛' | '｝' => (if c == '｛' { "{" } else { "}" }, "brace"),
        '［' | '【' => ("[", "bracket"),
        '］' | '】' => ("]", "bracket"),
        '“' | '”' | '‘' | '’' | '＂' => ("\"", "quote"),
        '－' | '—' => ("-", "minus"),
        '＞' | '》' => (">", "greater-than sign"),
        '＜' | '《' => ("<", "less-than sign"),
        '＝' => ("=", "equals sign"),
        '！' => ("!", "exclamation mark"),
        '＋' => ("+", "plus"),
        '＊' => ("*", "star"),
        '＃' => ("#", "hash"),
        '｜' => ("|", "bar"),
        '．' => (".", "full stop"),
        _ => return None,
    })
}

/// The ideographic (full-width) space.
const IDEOGRAPHIC_SPACE: char = '\u{3000}';

/// Scans `text` and makes the lexical repairs.
pub(super) fn repair(file: FileId, text: &str) -> Repaired {
    let mut changes: Vec<Change> = Vec::new();
    let mut diags = Vec::new();
    // Full-width marks found, as (start, end, char); grouped by line at the end.
    let mut marks: Vec<(usize, usize, char)> = Vec::new();
    let mut spaces: Vec<(usize, usize)> = Vec::new();
    scan(
        text,
        &mut changes,
        &mut marks,
        &mut spaces,
        file,
        &mut diags,
    );
    report_full_width(file, text, &marks, &mut diags);
    report_spaces(file, text, &spaces, &mut diags);
    changes.sort_by_key(|c| c.start);
    let mut out = String::with_capacity(text.len());
    let mut map = OffsetMap::default();
    let mut at = 0;
    for c in changes {
        if c.start < at {
            continue;
        }
        out.push_str(&text[at..c.start]);
        out.push_str(c.with);
        at = c.end;
        let delta = map.delta() + (c.end - c.start) as isize - c.with.len() as isize;
        map.points.push((out.len(), delta));
    }
    out.push_str(&text[at..]);
    Repaired {
        text: out,
        map,
        diags,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Code,
    /// Inside a text opened by `"` (or by a full-width quote, which a full-width
    /// quote may close too).
    Text {
        full_width: bool,
    },
}

fn scan(
    text: &str,
    changes: &mut Vec<Change>,
    marks: &mut Vec<(usize, usize, char)>,
    spaces: &mut Vec<(usize, usize)>,
    file: FileId,
    diags: &mut Vec<Diagnostic>,
) {
    let mut stack = vec![Mode::Code];
    // Where the current text opened, and how many changes and marks there were then.
    let mut text_start: Option<(usize, usize, usize)> = None;
    // The last full-width quote seen in the current text.
    let mut last_quote: Option<(usize, char)> = None;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let next = i + c.len_utf8();
        let mode = *stack.last().unwrap_or(&Mode::Code);
        match mode {
            Mode::Text { full_width: fw } => match c {
                '\\' => {
                    if let Some(n) = text[next..].chars().next()
                        && n != '\n'
                    {
                        i = next + n.len_utf8();
                        continue;
                    }
                }
                '"' => {
                    stack.pop();
                    text_start = None;
                }
                '”' | '’' if fw => {
                    changes.push(Change {
                        start: i,
                        end: next,
                        with: "\"",
                    });
                    marks.push((i, next, c));
                    stack.pop();
                    text_start = None;
                }
                '”' | '’' | '“' => last_quote = Some((i, c)),
                '{' => stack.push(Mode::Code),
                '\n' | '\r' => {
                    // The text runs to the end of its line without being closed.
                    stack.pop();
                    let Some((open, n_changes, n_marks)) = text_start.take() else {
                        i = next;
                        continue;
                    };
                    if let Some((q, qc)) = last_quote.take() {
                        // A full-width quote on the line was meant to close it:
                        // that is the slip, and scanning resumes after it.
                        changes.truncate(n_changes);
                        marks.truncate(n_marks);
                        let end = q + qc.len_utf8();
                        changes.push(Change {
                            start: q,
                            end,
                            with: "\"",
                        });
                        marks.push((q, end, qc));
                        i = end;
                        continue;
                    }
                    changes.push(Change {
                        start: i,
                        end: i,
                        with: "\"",
                    });
                    diags.push(unterminated(file, open, i));
                }
                _ => {}
            },
            Mode::Code => match c {
                '"' => {
                    stack.push(Mode::Text { full_width: false });
                    text_start = Some((i, changes.len(), marks.len()));
                    last_quote = None;
                }
                '#' if !super::hash_is_key(&text[next..]) => {
                    i = text[i..].find('\n').map_or(text.len(), |n| i + n);
                    continue;
                }
                '{' => stack.push(Mode::Code),
                '}' => {
                    if stack.len() > 1 {
                        stack.pop();
                    }
                }
                IDEOGRAPHIC_SPACE => {
                    changes.push(Change {
                        start: i,
                        end: next,
                        with: " ",
                    });
                    spaces.push((i, next));
                }
                _ => {
                    if let Some((ascii, _)) = full_width(c) {
                        changes.push(Change {
                            start: i,
                            end: next,
                            with: ascii,
                        });
                        marks.push((i, next, c));
                        match c {
                            '“' | '”' | '‘' | '’' | '＂' => {
                                stack.push(Mode::Text { full_width: true });
                                text_start = Some((i, changes.len(), marks.len()));
                                last_quote = None;
                            }
                            '｛' => stack.push(Mode::Code),
                            '｝' if stack.len() > 1 => {
                                stack.pop();
                            }
                            _ => {}
                        }
                    }
                }
            },
        }
        i = next;
    }
    // A text still open at the end of the file.
    if let (Some((open, _, _)), Some(Mode::Text { .. })) = (text_start, stack.last()) {
        changes.push(Change {
            start: text.len(),
            end: text.len(),
            with: "\"",
        });
        diags.push(unterminated(file, open, text.len()));
    }
}

fn unterminated(file: FileId, open: usize, line_end: usize) -> Diagnostic {
    Diagnostic::error(
        "syntax",
        Span::new(file, open, open + 1),
        "this text has no closing `\"`",
    )
    .with_label("the text starts here")
    .with_hint(
        "a text is written on one line: end it with `\"` (write \\n for a line break inside it)",
    )
    .with_fix(
        "close the text at the end of the line",
        vec![Edit {
            span: Span::new(file, line_end, line_end),
            replacement: "\"".into(),
        }],
    )
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|b| *b == b'\n').count()
}

/// One message per line with full-width punctuation, with the fix for all of it.
fn report_full_width(
    file: FileId,
    text: &str,
    marks: &[(usize, usize, char)],
    diags: &mut Vec<Diagnostic>,
) {
    let mut marks = marks.to_vec();
    marks.sort();
    let mut i = 0;
    while i < marks.len() {
        let line = line_of(text, marks[i].0);
        let mut j = i;
        while j < marks.len() && line_of(text, marks[j].0) == line {
            j += 1;
        }
        diags.push(full_width_diag(file, &marks[i..j]));
        i = j;
    }
}

fn full_width_diag(file: FileId, marks: &[(usize, usize, char)]) -> Diagnostic {
    // Runs of adjacent marks (`－＞`) read as one.
    let mut runs: Vec<(usize, usize, String, String)> = Vec::new();
    for &(s, e, c) in marks {
        let ascii = full_width(c).map_or("", |(a, _)| a);
        match runs.last_mut() {
            Some(r) if r.1 == s => {
                r.1 = e;
                r.2.push(c);
                r.3.push_str(ascii);
            }
            _ => runs.push((s, e, c.to_string(), ascii.to_string())),
        }
    }
    let mut distinct: Vec<(&str, &str)> = Vec::new();
    for r in &runs {
        if !distinct.iter().any(|(w, _)| *w == r.2) {
            distinct.push((&r.2, &r.3));
        }
    }
    let names: Vec<&str> = distinct
        .iter()
        .map(|(w, a)| {
            if *a == "->" {
                "arrow"
            } else {
                w.chars()
                    .next()
                    .and_then(full_width)
                    .map_or("punctuation", |(_, n)| n)
            }
        })
        .collect();
    let quoted = |xs: Vec<&str>| -> String {
        let q: Vec<String> = xs.iter().map(|x| format!("`{x}`")).collect();
        match q.len() {
            0 | 1 => q.concat(),
            n => format!("{} and {}", q[..n - 1].join(", "), q[n - 1]),
        }
    };
    let written = quoted(distinct.iter().map(|(w, _)| *w).collect());
    let mut ascii: Vec<&str> = Vec::new();
    for (_, a) in &distinct {
        if !ascii.contains(a) {
            ascii.push(a);
        }
    }
    let typed = quoted(ascii.clone());
    let same_kind = names.windows(2).all(|w| w[0] == w[1]);
    let message = if distinct.len() == 1 {
        format!(
            "{written} is a full-width {}; type {typed} instead",
            names[0]
        )
    } else if same_kind {
        let plural = match names[0] {
            "parenthesis" => "parentheses".to_string(),
            n => format!("{n}s"),
        };
        format!("{written} are full-width {plural}; type {typed} instead")
    } else {
        format!("{written} are full-width punctuation; type {typed} instead")
    };
    let first = &runs[0];
    let mut d = Diagnostic::error("full-width", Span::new(file, first.0, first.1), message)
        .with_label("typed with a Chinese input method")
        .with_hint("switch the input method to English punctuation for code (texts in quotes may hold any character), or run `dialect fmt --fix`");
    for r in &runs[1..] {
        d = d.with_secondary(Span::new(file, r.0, r.1), "here too");
    }
    let edits = marks
        .iter()
        .map(|&(s, e, c)| Edit {
            span: Span::new(file, s, e),
            replacement: full_width(c).map_or("", |(a, _)| a).to_string(),
        })
        .collect();
    d.with_fix(format!("type {typed} instead of {written}"), edits)
}

/// A warning per line with ideographic spaces: they are white space, but a
/// search for `no input` does not find `no　input`.
fn report_spaces(file: FileId, text: &str, spaces: &[(usize, usize)], diags: &mut Vec<Diagnostic>) {
    let mut i = 0;
    while i < spaces.len() {
        let line = line_of(text, spaces[i].0);
        let mut j = i;
        while j < spaces.len() && line_of(text, spaces[j].0) == line {
            j += 1;
        }
        let edits = spaces[i..j]
            .iter()
            .map(|&(s, e)| Edit {
                span: Span::new(file, s, e),
                replacement: " ".into(),
            })
            .collect();
        diags.push(
            Diagnostic::warning(
                "full-width",
                Span::new(file, spaces[i].0, spaces[i].1),
                "this is a full-width space; type a normal space instead",
            )
            .with_label("typed with a Chinese input method")
            .with_hint("it counts as white space, but `dialect fmt --fix` replaces it")
            .with_fix("type normal spaces", edits),
        );
        i = j;
    }
}

/// `{` that no `}` closes, and where their `}` belong.
#[derive(Debug, Clone)]
pub(super) struct Unclosed {
    /// The braces, innermost first.
    pub(super) braces: Vec<usize>,
    /// Where to put the missing `}` so the rest of the text parses.
    pub(super) close_at: usize,
}

/// The `{` of one declaration's text (already repaired) that are never closed.
///
/// A `}` that starts a line closes the `{` whose line has the same
/// indentation when there is one: the `{` opened since then, deeper, are the
/// unclosed ones, and their `}` belong just before it. Braces still open at the
/// end belong at the end. When indentation does not explain the count, the
/// innermost braces still open at the end are the ones reported.
pub(super) fn unclosed_braces(text: &str) -> Vec<Unclosed> {
    let mut out: Vec<Unclosed> = Vec::new();
    // (offset of `{`, indentation of its line; `None` for a text's insertion)
    let mut open: Vec<(usize, Option<usize>)> = Vec::new();
    let mut plain: Vec<usize> = Vec::new();
    let mut in_text = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_text {
            match b {
                b'\\' => i += 1,
                b'"' | b'\n' => in_text = false,
                b'{' => {
                    in_text = false;
                    open.push((i, None));
                    plain.push(i);
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_text = true,
            b'#' if !super::hash_is_key(&text[i + 1..]) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' => {
                open.push((i, Some(indent_of(text, i))));
                plain.push(i);
            }
            b'}' => {
                plain.pop();
                if open.last().is_some_and(|(_, ind)| ind.is_none()) {
                    open.pop();
                    in_text = true;
                } else {
                    let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                    let ind = i - line_start;
                    let starts_line = text[line_start..i].trim().is_empty();
                    if starts_line
                        && open
                            .last()
                            .is_some_and(|(_, oi)| oi.is_some_and(|oi| oi > ind))
                        && open.iter().any(|(_, oi)| *oi == Some(ind))
                    {
                        let mut braces = Vec::new();
                        while open.last().is_some_and(|(_, oi)| *oi != Some(ind)) {
                            if let Some((at, _)) = open.pop() {
                                braces.push(at);
                            }
                        }
                        out.push(Unclosed {
                            braces,
                            close_at: line_start,
                        });
                    }
                    open.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    let left: Vec<usize> = open.iter().rev().map(|(at, _)| *at).collect();
    if !left.is_empty() {
        out.push(Unclosed {
            braces: left,
            close_at: text.len(),
        });
    }
    let found: usize = out.iter().map(|u| u.braces.len()).sum();
    if found != plain.len() {
        // Indentation does not tell: the braces a plain count leaves open.
        out.clear();
        if !plain.is_empty() {
            out.push(Unclosed {
                braces: plain.into_iter().rev().collect(),
                close_at: text.len(),
            });
        }
    }
    out
}

/// The indentation (in bytes of white space) of the line holding `at`.
fn indent_of(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    text[line_start..]
        .bytes()
        .take_while(|b| *b == b' ' || *b == b'\t')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_back_across_replacements_and_insertions() {
        let r = repair(FileId(0), "a：b\n\"x\ny");
        assert_eq!(r.text, "a:b\n\"x\"\ny");
        assert_eq!(r.map.orig(0), 0);
        assert_eq!(r.map.orig(2), 4); // `b`
        assert_eq!(r.map.orig(5), 7); // `x`
        assert_eq!(r.map.orig(6), 8); // the inserted quote: where the line ended
        assert_eq!(r.map.orig(8), 9); // `y`
        assert_eq!(r.diags.len(), 2);
    }

    #[test]
    fn texts_and_comments_keep_their_full_width_characters() {
        let src = "say \"您好，欢迎（1）\" # 注释：全角\n";
        let r = repair(FileId(0), src);
        assert_eq!(r.text, src);
        assert!(r.diags.is_empty());
    }

    #[test]
    fn a_full_width_closing_quote_closes_the_text() {
        let r = repair(FileId(0), "say \"您好”\nhangup");
        assert_eq!(r.text, "say \"您好\"\nhangup");
        assert_eq!(r.diags.len(), 1);
        assert_eq!(r.diags[0].code, "full-width");
    }

    #[test]
    fn unclosed_brace_found_by_indentation() {
        let src = "flow a {\n  if x {\n    hangup\n  play \"a\"\n}\n";
        let u = unclosed_braces(src);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].braces, vec![src.find("x {").unwrap_or(0) + 2]);
        assert_eq!(u[0].close_at, src.rfind('}').unwrap_or(0));
        // Balanced text, however it is indented, has none.
        assert!(unclosed_braces("flow a {\n  if x {\n hangup\n}\n  }\n").is_empty());
        // Two still open at the end: innermost first.
        let u = unclosed_braces("flow a {\n  if x {\n    hangup\n");
        assert_eq!(u[0].braces, vec![16, 7]);
    }
}
