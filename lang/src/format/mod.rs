//! `dialect fmt`: prints a file in the one canonical layout.
//!
//! The layout is fixed: two spaces of indentation, one statement or clause per
//! line, single spaces around operators and `->`, options as `(retries 3, timeout
//! 5s)`, the fewest parentheses the operator precedence allows, texts re-escaped,
//! durations as `1m30s`, numbers and percentages without trailing zeros. Clauses
//! keep the order they were written in, and blank lines between statements or
//! declarations are kept (several become one).
//!
//! The printer works from the [`ast`](crate::ast), which holds no comments, so
//! comments are found in the source text ([`comments`]) and put back: a comment on
//! its own line goes before the next node that starts after it, at that node's
//! indentation; a comment after code stays at the end of the line that prints that
//! code. No comment is lost or duplicated.
//!
//! # Use
//! ```
//! use dialect_lang::ast::FileId;
//! use dialect_lang::format::format_source;
//!
//! let text = "flow f{play   \"a.wav\"  # hello\n}";
//! let out = format_source(FileId(0), text).unwrap();
//! assert_eq!(out, "flow f {\n  play \"a.wav\" # hello\n}\n");
//! ```
//! A file with syntax errors is not formatted: [`format_source`] returns the
//! diagnostics instead (the `FileId` given is the one they point into). A file that
//! repeats a clause that may appear once (two `strategy` lines in a queue) is
//! refused too, because the syntax tree keeps only the last one and printing it
//! would silently drop the other.
//!
//! This file holds the entry points, the `Printer` (lines with the source range
//! each prints, bodies opened and closed, parts printed in source order) and the
//! assembly of lines and comments into the output. Beside it: `comments` (finding
//! the comments in the text) and `expr` (the pieces printed inside a line:
//! literals, expressions, types, destinations, options); and the `Printer`'s
//! methods for `decls` (top-level declarations) and `flow` (statements).

mod comments;
mod decls;
mod expr;
mod flow;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::syntax::{IdGen, RESERVED_WORDS, parse_module};
use comments::{is_blank, is_ws, prev_line_blank};
use expr::{choice_head, type_to_string};

pub(crate) use comments::trim_trivia_end;
pub use comments::{Comment, comments};
pub(crate) use expr::handler_head;
pub use expr::{
    expr_to_string, number_to_string, options_to_string, percent_to_string, text_to_string,
};

/// Formats one file. Returns the canonical text, or the diagnostics that stop it
/// from being formatted (syntax errors, malformed literals, repeated clauses).
/// Spans in the diagnostics point into `file`.
pub fn format_source(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let mut ids = IdGen::default();
    let (module, diags) = parse_module(file, text, &mut ids);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(format_module(&module, text))
}

/// Applies the mechanical fixes the parser offers for `text` (full-width
/// punctuation, a unit such as `10min`) until none is left: what
/// `dialect fmt --fix` does before formatting. Returns the new text and how
/// many fixes were applied. A fix can reveal another (a line whose first
/// mistake hid the second), hence the few passes.
pub fn fix_source(file: FileId, text: &str) -> (String, usize) {
    let mut text = text.to_string();
    let mut total = 0;
    for _ in 0..8 {
        let mut ids = IdGen::default();
        let (_, diags) = parse_module(file, &text, &mut ids);
        let (fixed, n) = crate::diagnostic::apply_fixes(&text, file, &diags);
        if n == 0 || fixed == text {
            break;
        }
        total += n;
        text = fixed;
    }
    (text, total)
}

/// Prints a module parsed from `text` (without errors) in the canonical layout,
/// with the comments of `text` put back.
pub fn format_module(module: &Module, text: &str) -> String {
    let comments = comments(module, text);
    let mut p = Printer {
        src: text,
        comments: &comments,
        lines: Vec::new(),
        indent: 0,
    };
    p.module(module);
    assemble(&p.lines, &comments)
}

/// How a printed statement ends, which decides whether the next one on its own
/// line could be read as its continuation and needs a `;` between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Ends with `}` or a word that nothing can extend.
    Closed,
    /// Ends with an expression or where options may follow.
    Open,
    /// Ends where a `{ ... }` body or options may follow (`x = collect`).
    OptBody,
    /// A bare `return`, which takes any expression that follows as its value.
    BareReturn,
}

/// True when `next` (a printed line) starts with something an expression can start with.
fn starts_expression(next: &str) -> bool {
    let Some(c) = next.chars().next() else {
        return false;
    };
    if c.is_ascii_digit() || matches!(c, '"' | '(' | '[' | '-') {
        return true;
    }
    if !(c.is_alphabetic() || c == '_') {
        return false;
    }
    let word: String = next
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if matches!(word.as_str(), "data" | "true" | "false" | "not") {
        return true;
    }
    if RESERVED_WORDS.contains(&word.as_str()) {
        return false;
    }
    let rest = next[word.len()..].trim_start_matches([' ', '\t']);
    !(word == "no" && (rest.starts_with("input") || rest.starts_with("match")))
}

fn needs_semicolon(tail: Tail, next: &str) -> bool {
    let c = next.chars().next().unwrap_or(' ');
    match tail {
        Tail::Closed => false,
        Tail::Open => matches!(c, '-' | '+' | '*' | '/' | '('),
        Tail::OptBody => matches!(c, '-' | '+' | '*' | '/' | '(' | '{'),
        Tail::BareReturn => starts_expression(next),
    }
}

#[derive(Debug, Clone)]
struct Line {
    indent: usize,
    text: String,
    /// Start of the source this line prints.
    lo: u32,
    /// End of the source this line prints.
    hi: u32,
    /// Ends with `{` that opens a body printed below.
    opens: bool,
    /// Starts with the `}` that closes a body.
    closes: bool,
    /// The source had a blank line before this node.
    blank: bool,
    /// A blank line always separates this line (with its comments) from the previous.
    sep: bool,
}

struct Printer<'a> {
    src: &'a str,
    comments: &'a [Comment],
    lines: Vec<Line>,
    indent: usize,
}

/// One part of a declaration or body, to be printed in source order.
enum Part<'a> {
    Line(String, u32, u32),
    Stmt(&'a Stmt),
    Choice(&'a MenuChoice),
    Handler(&'a InputHandler),
    Valid(&'a Expr),
    Entries(Vec<&'a Text>),
    Category(&'a ListCategory),
    Operation(&'a ServiceOperation),
    CampaignList(&'a CampaignList),
    State(&'a WorkorderState),
}

impl<'a> Printer<'a> {
    fn push(&mut self, text: String, lo: u32, hi: u32) -> usize {
        let hi = self.trim_end(hi).max(lo);
        self.lines.push(Line {
            indent: self.indent,
            text,
            lo,
            hi,
            opens: false,
            closes: false,
            blank: false,
            sep: false,
        });
        self.lines.len() - 1
    }

    /// A line ending with `{` (which is at `brace` in the source); indents what follows.
    fn open(&mut self, text: String, lo: u32, brace: u32) {
        let i = self.push(text, lo, brace + 1);
        self.lines[i].opens = true;
        self.indent += 1;
    }

    /// The `}` at `brace` in the source.
    fn close(&mut self, brace: u32) {
        self.indent = self.indent.saturating_sub(1);
        let i = self.push("}".to_string(), brace, brace + 1);
        self.lines[i].closes = true;
    }

    /// `} else {` and the like: closes one body and opens the next.
    fn close_open(&mut self, text: String, lo: u32, brace: u32) {
        self.indent = self.indent.saturating_sub(1);
        let i = self.push(text, lo, brace + 1);
        self.lines[i].closes = true;
        self.lines[i].opens = true;
        self.indent += 1;
    }

    /// True when a comment starts inside `lo..hi`.
    fn has_comment_in(&self, lo: u32, hi: u32) -> bool {
        let n = self.comments.partition_point(|c| c.span.start <= lo);
        self.comments.get(n).is_some_and(|c| c.span.start < hi)
    }

    /// Moves a span's end back over white space and comments. Spans of nodes that end
    /// with an optional part run on over the white space and comments after them
    /// (the parser skips them while looking for the optional part).
    fn trim_end(&self, pos: u32) -> u32 {
        trim_trivia_end(self.src, self.comments, pos)
    }

    /// The first `ch` at or after `from` outside comments (texts are never in between).
    fn find(&self, from: u32, ch: u8) -> u32 {
        let b = self.src.as_bytes();
        let mut i = from as usize;
        while i < b.len() {
            if b[i] == b'#' {
                if let Some(c) = self.comments.iter().find(|c| c.span.start as usize == i) {
                    i = c.span.end as usize;
                    continue;
                }
            } else if b[i] == ch {
                return i as u32;
            }
            i += 1;
        }
        from
    }

    /// Where a clause starts whose first node is at `pos`, given the words written before it.
    fn back_over(&self, pos: u32, words: &[&str]) -> u32 {
        let mut p = pos as usize;
        for w in words.iter().rev() {
            let before = self.src[..p].trim_end_matches(is_ws);
            if before.ends_with(w) {
                p = before.len() - w.len();
            } else {
                break;
            }
        }
        p as u32
    }

    fn blank_before(&self, pos: u32) -> bool {
        let pos = (pos as usize).min(self.src.len());
        let line_start = self.src[..pos].rfind('\n').map_or(0, |n| n + 1);
        is_blank(&self.src[line_start..pos]) && prev_line_blank(self.src, line_start)
    }

    /// Prints `header {` body `}`, or `header {}` when the body is empty and holds
    /// no comment. `open`/`close` are the braces' source offsets.
    fn braced(
        &mut self,
        header: String,
        lo: u32,
        open: u32,
        close: u32,
        empty: bool,
        body: impl FnOnce(&mut Self),
    ) {
        if empty && !self.has_comment_in(open, close) {
            self.push(format!("{header} {{}}"), lo, close + 1);
            return;
        }
        self.open(format!("{header} {{"), lo, open);
        body(self);
        self.close(close);
    }

    /// Prints parts in source order, each a sibling (blank lines before it kept).
    fn parts(&mut self, mut parts: Vec<(u32, Part<'a>)>) {
        parts.sort_by_key(|(pos, _)| *pos);
        let mut prev: Option<(usize, Tail)> = None;
        for (_, part) in parts {
            let first = self.lines.len();
            let tail = self.part(part);
            if self.lines.len() == first {
                continue;
            }
            let lo = self.lines[first].lo;
            self.lines[first].blank = self.blank_before(lo);
            if let Some((last, t)) = prev
                && needs_semicolon(t, &self.lines[first].text)
            {
                self.lines[last].text.push(';');
            }
            prev = Some((self.lines.len() - 1, tail));
        }
    }

    fn part(&mut self, part: Part<'a>) -> Tail {
        match part {
            Part::Line(text, lo, hi) => {
                self.push(text, lo, hi);
                Tail::Closed
            }
            Part::Stmt(s) => self.stmt(s),
            Part::Choice(c) => self.action(choice_head(c), c.span.start, &c.action),
            Part::Handler(h) => self.action(handler_head(h), h.span.start, &h.action),
            Part::Valid(e) => {
                let lo = self.back_over(e.span.start, &["valid", "when"]);
                self.push(format!("valid when {}", expr_to_string(e)), lo, e.span.end);
                Tail::Open
            }
            Part::Entries(entries) => {
                self.fill(&entries);
                Tail::Closed
            }
            Part::Category(c) => {
                self.category(c);
                Tail::Closed
            }
            Part::Operation(o) => {
                self.operation(o);
                Tail::Closed
            }
            Part::CampaignList(l) => {
                self.campaign_list(l);
                Tail::Closed
            }
            Part::State(s) => {
                self.state(s);
                Tail::Closed
            }
        }
    }

    /// Texts separated by commas, as many on a line as fit in 80 columns.
    fn fill(&mut self, entries: &[&Text]) {
        let width = 80usize.saturating_sub(self.indent * 2);
        let mut line = String::new();
        let mut lo = 0;
        let mut hi = 0;
        for (i, t) in entries.iter().enumerate() {
            let s = text_to_string(t);
            let sep = if i + 1 < entries.len() { "," } else { "" };
            if !line.is_empty()
                && crate::source::str_width(&line) + 1 + crate::source::str_width(&s) + sep.len()
                    > width
            {
                self.push(std::mem::take(&mut line), lo, hi);
            }
            if line.is_empty() {
                lo = t.span.start;
            } else {
                line.push(' ');
            }
            line.push_str(&s);
            line.push_str(sep);
            hi = t.span.end;
        }
        if !line.is_empty() {
            self.push(line, lo, hi);
        }
    }

    fn fill_fields(&mut self, fields: &[TypedField]) {
        let width = 80usize.saturating_sub(self.indent * 2);
        let mut line = String::new();
        let mut lo = 0;
        let mut hi = 0;
        for (i, f) in fields.iter().enumerate() {
            let s = format!("{}: {}", f.name.name, type_to_string(&f.ty));
            let sep = if i + 1 < fields.len() { "," } else { "" };
            if !line.is_empty()
                && crate::source::str_width(&line) + 1 + crate::source::str_width(&s) + sep.len()
                    > width
            {
                self.push(std::mem::take(&mut line), lo, hi);
            }
            if line.is_empty() {
                lo = f.name.span.start;
            } else {
                line.push(' ');
            }
            line.push_str(&s);
            line.push_str(sep);
            hi = f.ty.span().end;
        }
        if !line.is_empty() {
            self.push(line, lo, hi);
        }
    }
}

/// Joins the printed lines and puts the comments back.
fn assemble(lines: &[Line], comments: &[Comment]) -> String {
    let mut before: Vec<Vec<usize>> = vec![Vec::new(); lines.len() + 1];
    let mut trailing: Vec<Option<usize>> = vec![None; lines.len()];
    for (ci, c) in comments.iter().enumerate() {
        if c.own_line {
            let i = lines
                .iter()
                .position(|l| l.hi > c.span.start)
                .unwrap_or(lines.len());
            before[i].push(ci);
        } else {
            match lines.iter().rposition(|l| l.lo < c.code_end) {
                Some(i) if trailing[i].is_none() => trailing[i] = Some(ci),
                Some(i) => before[i].push(ci),
                None => before[0].push(ci),
            }
        }
    }
    #[derive(PartialEq)]
    enum Last {
        Start,
        Blank,
        Opener,
        Other,
    }
    let mut out = String::new();
    let mut last = Last::Start;
    let blank = |out: &mut String, last: &mut Last| {
        if *last == Last::Other {
            out.push('\n');
            *last = Last::Blank;
        }
    };
    for (i, group) in before.iter_mut().enumerate() {
        group.sort_by_key(|&c| comments[c].span.start);
        let line = lines.get(i);
        let comment_indent = match line {
            Some(l) if l.closes => l.indent + 1,
            Some(l) => l.indent,
            None => 0,
        };
        if line.is_some_and(|l| l.sep) {
            blank(&mut out, &mut last);
        }
        for &c in group.iter() {
            let c = &comments[c];
            if c.blank_before {
                blank(&mut out, &mut last);
            }
            out.push_str(&"  ".repeat(comment_indent));
            out.push_str(&c.text);
            out.push('\n');
            last = Last::Other;
        }
        if let Some(l) = line {
            if l.blank {
                blank(&mut out, &mut last);
            }
            out.push_str(&"  ".repeat(l.indent));
            out.push_str(&l.text);
            if let Some(t) = trailing[i] {
                out.push(' ');
                out.push_str(&comments[t].text);
            }
            out.push('\n');
            last = if l.opens { Last::Opener } else { Last::Other };
        }
    }
    out
}
