//! Hover: what the name under the cursor is (its kind, type or signature, its
//! label) and the comment written above its declaration, which is where
//! analysts explain a queue or a flow.

use crate::ast::{FileId, Span};
use crate::types::{Builtin, Function};

use super::{Analysis, SymbolId};

/// What to show for the text under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hover {
    /// The text the hover is about.
    pub span: Span,
    /// Markdown: a code line saying what it is, then its documentation.
    pub markdown: String,
}

impl Analysis {
    /// The hover for `offset` in `file`: a declared name, a built-in name or a
    /// built-in function.
    pub fn hover(&self, file: FileId, offset: usize) -> Option<Hover> {
        if let Some(o) = self.occurrence_at(file, offset) {
            return Some(Hover {
                span: o.span,
                markdown: self.describe(o.symbol),
            });
        }
        let (span, word) = word_at(self.text(file), offset)?;
        let span = Span::new(file, span.0, span.1);
        let text = self.text(file);
        let called = text[span.end as usize..].starts_with('(');
        if called && let Some(f) = Function::from_name(word) {
            return Some(Hover {
                span,
                markdown: format!(
                    "```dialect\n{}\n```\n\n{}",
                    function_signature(f),
                    function_doc(f)
                ),
            });
        }
        let b = Builtin::from_name(word)?;
        Some(Hover {
            span,
            markdown: format!(
                "```dialect\n{}: {}\n```\n\n{}",
                b.name(),
                super::index::type_name(&self.checked.model, b.ty()),
                builtin_doc(b)
            ),
        })
    }

    /// Markdown for a symbol: what it is, then its documentation comment.
    pub fn describe(&self, id: SymbolId) -> String {
        let s = self.symbol(id);
        let mut md = format!("```dialect\n{}\n```", s.detail);
        let doc = self.doc_comment(id);
        if !doc.is_empty() {
            md.push_str("\n\n");
            md.push_str(&doc);
        }
        md
    }

    /// The comment lines directly above a declaration, and the comment after
    /// code on its first line, joined as a paragraph.
    pub fn doc_comment(&self, id: SymbolId) -> String {
        let s = self.symbol(id);
        let Some(comments) = self.comments.get(s.span.file.0 as usize) else {
            return String::new();
        };
        let line = self.position(s.span.file, s.span.start as usize).line as usize;
        let mut above = Vec::new();
        let mut l = line;
        while l > 0 {
            l -= 1;
            match comments.own_line.get(&l) {
                Some(c) => above.push(c.as_str()),
                None => break,
            }
        }
        above.reverse();
        let mut lines: Vec<&str> = above;
        let name_line = self.position(s.decl.file, s.decl.start as usize).line as usize;
        if let Some(c) = comments.trailing.get(&name_line) {
            lines.push(c);
        }
        lines.join("\n")
    }
}

/// The identifier around `offset` (the cursor may stand just after it).
pub(super) fn word_at(text: &str, offset: usize) -> Option<((usize, usize), &str)> {
    let offset = offset.min(text.len());
    if !text.is_char_boundary(offset) {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_word(c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|&(_, c)| !is_word(c))
        .map_or(text.len(), |(i, _)| offset + i);
    (start < end).then(|| ((start, end), &text[start..end]))
}

/// How a built-in function is called.
pub(super) fn function_signature(f: Function) -> &'static str {
    match f {
        Function::Now => "now() -> time",
        Function::Today => "today() -> date",
        Function::Weekday => "weekday(date) -> number",
        Function::IsOpen => "is_open(calendar) -> bool",
        Function::IsWorkday => "is_workday(calendar) -> bool",
        Function::Known => "known(record) -> bool",
        Function::Len => "len(text) -> number",
        Function::Minutes => "minutes(duration) -> number",
        Function::Seconds => "seconds(duration) -> number",
        Function::Hours => "hours(duration) -> number",
        Function::DaysUntil => "days_until(date) -> number",
        Function::Round => "round(number) -> number",
        Function::Abs => "abs(number) -> number",
        Function::Min => "min(a, b)",
        Function::Max => "max(a, b)",
        Function::ToNumber => "to_number(text) -> number",
        Function::ToText => "to_text(number) -> text",
        Function::Contains => "contains(text, part) -> bool",
        Function::StartsWith => "starts_with(text, prefix) -> bool",
        Function::EndsWith => "ends_with(text, suffix) -> bool",
        Function::LastDigits => "last_digits(text, n) -> text",
        Function::Count => "count(list) -> number",
    }
}

fn function_doc(f: Function) -> &'static str {
    match f {
        Function::Now => "The current clock time in the project's time zone.",
        Function::Today => "The current date.",
        Function::Weekday => "The day of the week of a date: 1 is Monday, 7 is Sunday.",
        Function::IsOpen => "Whether the calendar is open now.",
        Function::IsWorkday => "Whether today is a working day in the calendar.",
        Function::Known => {
            "Whether a lookup answered with a record (false after its `else`, or when the service found nothing)."
        }
        Function::Len => "The number of characters of a text.",
        Function::Minutes => "A duration in minutes, with fractions.",
        Function::Seconds => "A duration in seconds.",
        Function::Hours => "A duration in hours, with fractions.",
        Function::DaysUntil => "Days from today to the date (negative when it is past).",
        Function::Round => "The nearest whole number.",
        Function::Abs => "The number without its sign.",
        Function::Min => "The smaller of two numbers, durations or dates.",
        Function::Max => "The larger of two numbers, durations or dates.",
        Function::ToNumber => "The number written in a text, 0 when there is none.",
        Function::ToText => "A number as text.",
        Function::Contains => "Whether the text contains the part.",
        Function::StartsWith => "Whether the text starts with the prefix.",
        Function::EndsWith => "Whether the text ends with the suffix.",
        Function::LastDigits => "The last n characters, to read back the tail of a card number.",
        Function::Count => "How many records a lookup's list holds (0 when nothing was found).",
    }
}

/// What a built-in name holds, and where it can be used.
pub(super) fn builtin_doc(b: Builtin) -> &'static str {
    match b {
        Builtin::Caller => "The calling number.",
        Builtin::Called => "The dialled number.",
        Builtin::Trunk => "The trunk group the call came in on.",
        Builtin::Waited => "Queue rules: how long this call has waited.",
        Builtin::Position => "Queue rules: this call's position in the queue (1 is next).",
        Builtin::EstimatedWait => "Queue rules: the estimated wait of this call.",
        Builtin::Waiting => "Queue rules: calls waiting in the queue.",
        Builtin::IdleAgents => "Queue rules: agents of the queue who are ready and idle.",
        Builtin::ServiceLevel => {
            "Queue rules: the share of recent calls answered within the service-level time."
        }
        Builtin::LongestWait => "Queue rules: the longest wait of a call in the queue.",
        Builtin::Attempts => "Campaign filters: dial attempts already made for this record.",
        Builtin::LastOutcome => {
            "Campaign filters: the outcome of the last attempt (\"\" when there was none)."
        }
        Builtin::AttemptsToday => {
            "Campaign filters: dial attempts made for this record today, in the callee's local day."
        }
        Builtin::SinceLastAttempt => {
            "Campaign filters: the time since the last attempt (very long when there was none)."
        }
        Builtin::Age => "Workorder guards: the time since the order was created.",
    }
}
