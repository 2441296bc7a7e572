//! One diagnostic type for the whole language: severity, a stable code, a
//! plain-words message, the span it is about, secondary labels and hints; rendered
//! like a compiler's messages (source line, underline) or as JSON for editors.

use std::fmt::Write as _;

use serde::Serialize;

use crate::ast::Span;
use crate::source::{SourceMap, char_width, str_width};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something the analyst may want to look at; the project still runs.
    Warning,
    /// The project cannot be compiled until it is fixed.
    Error,
}

/// A secondary place the diagnostic points at.
///
/// It is drawn like the main span, with `message` beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct Label {
    pub span: Span,
    /// What about it.
    pub message: String,
}

/// One replacement in the source: the text under `span` becomes `replacement`
/// (an empty span inserts, an empty replacement deletes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// The text replaced.
    pub span: Span,
    /// What it is replaced with.
    pub replacement: String,
}

/// A fix that certainly does what the analyst meant, as edits a tool can apply
/// without asking: `dialect fmt --fix` applies it, and an editor can offer
/// it as a quick fix. Only mechanical corrections get one (a
/// full-width comma, a unit such as `10min`), never a guess between names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// What the fix does, for a menu entry ("type `,` instead of `，`").
    pub title: String,
    /// The edits, in source order, none overlapping.
    pub edits: Vec<Edit>,
}

/// A problem found in the source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable kebab-case code (`unknown-queue`), for documentation and tests.
    pub code: &'static str,
    /// The message, in plain words.
    pub message: String,
    /// The text it is about.
    pub span: Span,
    /// What to say under the underline.
    pub label: Option<String>,
    /// Other related places.
    pub labels: Vec<Label>,
    /// Suggestions and reasons (`did you mean ...?`, why a rule exists).
    pub hints: Vec<String>,
    /// A correction that can be applied mechanically, when there is one.
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// An error about `span`.
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            labels: Vec::new(),
            hints: Vec::new(),
            fix: None,
        }
    }

    /// A warning about `span`.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    /// Adds the text under the underline.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn with_hint_opt(self, hint: Option<String>) -> Diagnostic {
        match hint {
            Some(h) => self.with_hint(h),
            None => self,
        }
    }

    /// Adds the mechanical fix.
    pub fn with_fix(mut self, title: impl Into<String>, edits: Vec<Edit>) -> Diagnostic {
        self.fix = Some(Fix {
            title: title.into(),
            edits,
        });
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Renders diagnostics as text, the way a compiler prints them.
pub fn render(diag: &Diagnostic, sources: &SourceMap) -> String {
    let mut out = String::new();
    let sev = match diag.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{sev}[{}]: {}", diag.code, diag.message);
    let Some(file) = sources.get(diag.span.file) else {
        for h in &diag.hints {
            let _ = writeln!(out, "  = hint: {h}");
        }
        return out;
    };
    let (line, col) = file.line_col(diag.span.start as usize);
    let mut snippets: Vec<(Span, Option<&str>, char)> =
        vec![(diag.span, diag.label.as_deref(), '^')];
    for l in &diag.labels {
        snippets.push((l.span, Some(l.message.as_str()), '-'));
    }
    let max_line = snippets
        .iter()
        .filter_map(|(s, _, _)| sources.get(s.file).map(|f| f.line_col(s.start as usize).0))
        .max()
        .unwrap_or(line);
    let gutter = max_line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad}--> {}:{line}:{col}", file.path.display());
    let mut last_file = diag.span.file;
    for (span, text, mark) in snippets {
        let Some(f) = sources.get(span.file) else {
            continue;
        };
        if span.file != last_file {
            let (l, c) = f.line_col(span.start as usize);
            let _ = writeln!(out, "{pad}::: {}:{l}:{c}", f.path.display());
            last_file = span.file;
        }
        let (l, c) = f.line_col(span.start as usize);
        let src = f.line_text(l);
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{l:>gutter$} | {}", src.replace('\t', "    "));
        let before: String = src.chars().take(c - 1).collect();
        let (end_line, end_col) = f.line_col(span.end as usize);
        let under: String = if end_line == l {
            src.chars()
                .skip(c - 1)
                .take(end_col.saturating_sub(c))
                .collect()
        } else {
            src.chars().skip(c - 1).collect()
        };
        let width = str_width(&under).max(1);
        let indent: usize = before.chars().map(char_width).sum();
        let marks: String = std::iter::repeat_n(mark, width).collect();
        match text {
            Some(t) => {
                let _ = writeln!(out, "{pad} | {}{marks} {t}", " ".repeat(indent));
            }
            None => {
                let _ = writeln!(out, "{pad} | {}{marks}", " ".repeat(indent));
            }
        }
    }
    for h in &diag.hints {
        let _ = writeln!(out, "{pad} = hint: {h}");
    }
    out
}

/// Renders a list of diagnostics followed by a one-line summary.
pub fn render_all(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&render(d, sources));
        out.push('\n');
    }
    out
}

/// A diagnostic in the JSON form editors and CI read.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic {
    /// "error" or "warning".
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// The message, as the text rendering shows it.
    pub message: String,
    /// File path.
    pub file: String,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column (characters) of the end.
    pub end_column: usize,
    /// Text under the underline.
    pub label: Option<String>,
    /// Secondary places as `file:line:col` with their messages.
    pub related: Vec<JsonRelated>,
    /// Suggestions for a fix, in order (`did you mean ...`).
    pub hints: Vec<String>,
    /// The mechanical fix, when there is one.
    pub fix: Option<JsonFix>,
}

/// A fix in JSON form: positions as in [`JsonDiagnostic`], end exclusive.
#[derive(Debug, Clone, Serialize)]
pub struct JsonFix {
    /// What the fix does.
    pub title: String,
    /// The edits, in source order.
    pub edits: Vec<JsonEdit>,
}

/// One edit of a [`JsonFix`].
#[derive(Debug, Clone, Serialize)]
pub struct JsonEdit {
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column (characters) just past the end.
    pub end_column: usize,
    /// The new text.
    pub replacement: String,
}

/// A secondary place in JSON form.
#[derive(Debug, Clone, Serialize)]
pub struct JsonRelated {
    /// File path.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What about it.
    pub message: String,
}

/// Converts a diagnostic to its JSON form.
pub fn to_json(diag: &Diagnostic, sources: &SourceMap) -> JsonDiagnostic {
    let (file, (line, column), (end_line, end_column)) = match sources.get(diag.span.file) {
        Some(f) => (
            f.path.display().to_string(),
            f.line_col(diag.span.start as usize),
            f.line_col(diag.span.end as usize),
        ),
        None => (String::new(), (0, 0), (0, 0)),
    };
    JsonDiagnostic {
        severity: diag.severity,
        code: diag.code,
        message: diag.message.clone(),
        file,
        line,
        column,
        end_line,
        end_column,
        label: diag.label.clone(),
        related: diag
            .labels
            .iter()
            .filter_map(|l| {
                let f = sources.get(l.span.file)?;
                let (line, column) = f.line_col(l.span.start as usize);
                Some(JsonRelated {
                    file: f.path.display().to_string(),
                    line,
                    column,
                    message: l.message.clone(),
                })
            })
            .collect(),
        hints: diag.hints.clone(),
        fix: diag.fix.as_ref().and_then(|fix| {
            let f = sources.get(diag.span.file)?;
            Some(JsonFix {
                title: fix.title.clone(),
                edits: fix
                    .edits
                    .iter()
                    .map(|e| {
                        let (line, column) = f.line_col(e.span.start as usize);
                        let (end_line, end_column) = f.line_col(e.span.end as usize);
                        JsonEdit {
                            line,
                            column,
                            end_line,
                            end_column,
                            replacement: e.replacement.clone(),
                        }
                    })
                    .collect(),
            })
        }),
    }
}

/// Applies the fixes of `diags` that are about `file` to its `text`: what
/// `dialect fmt --fix` writes back. Edits that overlap one applied before are
/// skipped. Returns the new text and how many fixes were applied.
pub fn apply_fixes(text: &str, file: crate::ast::FileId, diags: &[Diagnostic]) -> (String, usize) {
    let mut edits: Vec<(&Edit, usize)> = Vec::new();
    for (i, d) in diags.iter().enumerate() {
        if let Some(fix) = &d.fix {
            edits.extend(
                fix.edits
                    .iter()
                    .filter(|e| e.span.file == file)
                    .map(|e| (e, i)),
            );
        }
    }
    edits.sort_by_key(|(e, _)| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    let mut applied = std::collections::BTreeSet::new();
    for (e, i) in edits {
        let (start, end) = (e.span.start as usize, e.span.end as usize);
        if start < at
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&e.replacement);
        at = end;
        applied.insert(i);
    }
    out.push_str(&text[at..]);
    (out, applied.len())
}

/// The closest candidate to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let n = name.chars().count();
    let limit = (n / 3).clamp(1, 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let d = edit_distance(name, c);
        let lower_match = c.to_lowercase() == name.to_lowercase();
        if (d <= limit || lower_match) && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc))
        {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("biling", ["billing", "general", "fault"]),
            Some("billing".to_string())
        );
        assert_eq!(did_you_mean("xyz", ["billing", "general"]), None);
        assert_eq!(edit_distance("账单查询", "账单查讯"), 1);
    }
}
