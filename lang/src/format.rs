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

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::literal::{clock_to_string, duration_to_string};
use crate::syntax::{IdGen, RESERVED_WORDS, parse_module};

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

// ------------------------------------------------------------------ comments

/// A `#` comment found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// From the `#` to the end of the line (line break excluded).
    pub span: Span,
    /// The comment as written, from `#`, without trailing white space.
    pub text: String,
    /// True when only white space precedes it on its line.
    pub own_line: bool,
    /// For a comment after code: the end of the last code before it on the line.
    pub code_end: u32,
    /// True when the line above it is blank.
    pub blank_before: bool,
}

/// Finds every comment of `text`, in order. A `#` inside a text literal is text; a
/// `#` that is a DTMF key (in a menu choice, a queue key or an option value, or
/// followed by `->`, `|`, `,` or `)`) is a key; every other `#` starts a comment.
/// `module` must be the module parsed from `text`: its key spans are used.
pub fn comments(module: &Module, text: &str) -> Vec<Comment> {
    let mut keys = Vec::new();
    collect_key_spans(module, &mut keys);
    keys.sort_unstable();
    let b = text.as_bytes();
    let mut out = Vec::new();
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Text,
        Interp,
    }
    let mut stack = vec![Mode::Code];
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match stack.last().unwrap_or(&Mode::Code) {
            Mode::Text => match c {
                b'\\' => i += 2,
                b'"' => {
                    stack.pop();
                    i += 1;
                }
                b'{' => {
                    stack.push(Mode::Interp);
                    i += 1;
                }
                b'\n' => {
                    stack.pop();
                    i += 1;
                }
                _ => i += 1,
            },
            mode => {
                let in_interp = *mode == Mode::Interp;
                match c {
                    b'"' => {
                        stack.push(Mode::Text);
                        i += 1;
                    }
                    b'}' if in_interp => {
                        stack.pop();
                        i += 1;
                    }
                    b'#' if in_key(&keys, i) || key_follows(&b[i + 1..]) => i += 1,
                    b'#' => {
                        let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                        let line_start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                        let before = &text[line_start..i];
                        let own_line = is_blank(before);
                        let code_end = line_start + before.trim_end_matches(is_ws).len();
                        let body = text[i..end].trim_end_matches(is_ws);
                        out.push(Comment {
                            span: Span::new(module.file, i, i + body.len()),
                            text: body.to_string(),
                            own_line,
                            code_end: code_end as u32,
                            blank_before: own_line && prev_line_blank(text, line_start),
                        });
                        i = end;
                    }
                    _ => i += 1,
                }
            }
        }
    }
    out
}

/// Moves `pos` (a span's end) back over the white space and comments before it.
/// `comments` are those of `src`, in order.
pub(crate) fn trim_trivia_end(src: &str, comments: &[Comment], pos: u32) -> u32 {
    let mut p = (pos as usize).min(src.len());
    loop {
        p = src[..p].trim_end_matches(is_ws).len();
        match comments.binary_search_by_key(&(p as u32), |c| c.span.end) {
            Ok(i) => p = comments[i].span.start as usize,
            Err(_) => return p as u32,
        }
    }
}

fn is_ws(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

fn is_blank(s: &str) -> bool {
    s.chars().all(is_ws)
}

/// True when the line before the one starting at `line_start` is blank.
fn prev_line_blank(text: &str, line_start: usize) -> bool {
    if line_start == 0 {
        return false;
    }
    let prev_end = line_start - 1;
    let prev_start = text[..prev_end].rfind('\n').map_or(0, |n| n + 1);
    is_blank(&text[prev_start..prev_end])
}

fn in_key(keys: &[(u32, u32)], i: usize) -> bool {
    let i = i as u32;
    let n = keys.partition_point(|k| k.0 <= i);
    n > 0 && keys[n - 1].1 > i
}

/// The grammar's rule for a `#` (see [`crate::syntax::hash_is_key`]).
fn key_follows(rest: &[u8]) -> bool {
    crate::syntax::hash_is_key(&String::from_utf8_lossy(rest))
}

fn collect_key_spans(module: &Module, out: &mut Vec<(u32, u32)>) {
    fn opts(o: &[Opt], out: &mut Vec<(u32, u32)>) {
        for o in o {
            if let Some(OptValue::Key(_, s)) = &o.value {
                out.push((s.start, s.end));
            }
        }
    }
    fn block(b: &Block, out: &mut Vec<(u32, u32)>) {
        for s in &b.stmts {
            stmt(s, out);
        }
    }
    fn handlers(h: &[InputHandler], out: &mut Vec<(u32, u32)>) {
        for h in h {
            block(&h.action, out);
        }
    }
    fn stmt(s: &Stmt, out: &mut Vec<(u32, u32)>) {
        match &s.kind {
            StmtKind::Play { options, .. } => opts(options, out),
            StmtKind::Say(say) => opts(&say.options, out),
            StmtKind::Menu(m) => {
                opts(&m.options, out);
                for p in &m.prompts {
                    stmt(p, out);
                }
                for c in &m.choices {
                    for p in &c.patterns {
                        if let ChoicePattern::Keys(_, sp) = p {
                            out.push((sp.start, sp.end));
                        }
                    }
                    block(&c.action, out);
                }
                handlers(&m.handlers, out);
            }
            StmtKind::Collect { collect, .. } => {
                opts(&collect.options, out);
                for p in &collect.prompts {
                    stmt(p, out);
                }
                handlers(&collect.handlers, out);
            }
            StmtKind::Lookup { lookup, .. } => {
                opts(&lookup.options, out);
                if let Some(b) = &lookup.otherwise {
                    block(b, out);
                }
            }
            StmtKind::Record { options, .. } => opts(options, out),
            StmtKind::If {
                then, otherwise, ..
            } => {
                block(then, out);
                if let Some(b) = otherwise {
                    block(b, out);
                }
            }
            StmtKind::Match { arms, .. } => {
                for a in arms {
                    block(&a.action, out);
                }
            }
            StmtKind::Transfer {
                options, otherwise, ..
            } => {
                opts(options, out);
                if let Some(b) = otherwise {
                    block(b, out);
                }
            }
            StmtKind::OnError(b) | StmtKind::Block(b) => block(b, out),
            _ => {}
        }
    }
    for item in &module.items {
        match item {
            Item::Flow(f) => block(&f.body, out),
            Item::Queue(q) => {
                opts(&q.agent_policy, out);
                for (_, s, _) in &q.keys {
                    out.push((s.start, s.end));
                }
            }
            Item::Campaign(c) => {
                if let Some(m) = &c.mode {
                    opts(&m.options, out);
                }
            }
            Item::List(l) => {
                for c in &l.categories {
                    opts(&c.options, out);
                }
            }
            _ => {}
        }
    }
}

// ------------------------------------------------------------------ repeated clauses

// ------------------------------------------------------------------ literals

/// A number without trailing zeros (`1.50` → `1.5`, `3.0` → `3`).
pub fn number_to_string(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        // A literal too long for a number reads as infinity; print one that reads
        // back the same rather than change the value.
        format!("1{}", "0".repeat(400))
    }
}

/// A fraction as a percentage without trailing zeros (0.8 → `80%`), the shortest
/// decimal that reads back as the same fraction.
pub fn percent_to_string(fraction: f64) -> String {
    let hundred = fraction * 100.0;
    for digits in 0..=17 {
        let s = format!("{hundred:.digits$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.parse::<f64>().map(|v| v / 100.0) == Ok(fraction) {
            return format!("{s}%");
        }
    }
    format!("{}%", number_to_string(hundred))
}

fn time_range_to_string(r: &TimeRange) -> String {
    format!("{}-{}", clock_to_string(r.from), clock_to_string(r.to))
}

fn date_to_string(d: chrono::NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A text literal with its quotes, escapes (`\"`, `\\`, `\{`, `\n`, `\t`) and
/// interpolations printed back.
pub fn text_to_string(t: &Text) -> String {
    let mut out = String::from("\"");
    for part in &t.parts {
        match part {
            TextPart::Lit(s) => {
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '{' => out.push_str("\\{"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        c => out.push(c),
                    }
                }
            }
            TextPart::Expr(e) => {
                out.push('{');
                out.push_str(&expr_to_string(e));
                out.push('}');
            }
        }
    }
    out.push('"');
    out
}

const PREC_COND: u8 = 0;
const PREC_NOT: u8 = 3;
const PREC_CMP: u8 = 4;
const PREC_ADD: u8 = 5;
const PREC_NEG: u8 = 7;
const PREC_POSTFIX: u8 = 8;
const PREC_PRIMARY: u8 = 9;

fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Cond(..) => PREC_COND,
        ExprKind::Binary(op, ..) => op.precedence(),
        ExprKind::Unary(UnaryOp::Not, _) => PREC_NOT,
        ExprKind::In { .. } => PREC_CMP,
        ExprKind::Unary(UnaryOp::Neg, _) => PREC_NEG,
        ExprKind::Field(..) => PREC_POSTFIX,
        _ => PREC_PRIMARY,
    }
}

/// An expression in canonical form, with the fewest parentheses its meaning needs.
pub fn expr_to_string(e: &Expr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, PREC_COND);
    out
}

fn write_expr(out: &mut String, e: &Expr, min: u8) {
    if prec(e) < min {
        out.push('(');
        write_expr(out, e, PREC_COND);
        out.push(')');
        return;
    }
    match &e.kind {
        ExprKind::Number(v) => out.push_str(&number_to_string(*v)),
        ExprKind::Percent(v) => out.push_str(&percent_to_string(*v)),
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::Duration(ms) => out.push_str(&duration_to_string(*ms)),
        ExprKind::Clock(s) => out.push_str(&clock_to_string(*s)),
        ExprKind::Date(d) => out.push_str(&date_to_string(*d)),
        ExprKind::Text(t) => out.push_str(&text_to_string(t)),
        ExprKind::Name(i) => out.push_str(&i.name),
        ExprKind::Data(i) => {
            out.push_str("data.");
            out.push_str(&i.name);
        }
        ExprKind::Field(base, f) => {
            write_expr(out, base, PREC_POSTFIX);
            out.push('.');
            out.push_str(&f.name);
        }
        ExprKind::Call(f, args) => {
            out.push_str(&f.name);
            out.push('(');
            write_list(out, args);
            out.push(')');
        }
        ExprKind::List(items) => {
            out.push('[');
            write_list(out, items);
            out.push(']');
        }
        ExprKind::Unary(UnaryOp::Neg, x) => {
            out.push('-');
            write_expr(out, x, PREC_NEG);
        }
        ExprKind::Unary(UnaryOp::Not, x) => {
            out.push_str("not ");
            write_expr(out, x, PREC_NOT);
        }
        ExprKind::Binary(op, l, r) => {
            let p = op.precedence();
            let (lmin, rmin) = if p == PREC_CMP {
                (PREC_ADD, PREC_ADD)
            } else {
                (p, p + 1)
            };
            write_expr(out, l, lmin);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            write_expr(out, r, rmin);
        }
        ExprKind::In {
            value,
            target,
            negated,
        } => {
            write_expr(out, value, PREC_ADD);
            out.push_str(if *negated { " not in " } else { " in " });
            match target {
                InTarget::List { list, category } => {
                    out.push_str(&list.name);
                    if let Some(c) = category {
                        out.push('.');
                        out.push_str(&c.name);
                    }
                }
                InTarget::Values(items, _) => {
                    out.push('[');
                    write_list(out, items);
                    out.push(']');
                }
            }
        }
        ExprKind::Cond(c, a, b) => {
            write_expr(out, c, PREC_COND + 1);
            out.push_str(" ? ");
            write_expr(out, a, PREC_COND);
            out.push_str(" : ");
            write_expr(out, b, PREC_COND);
        }
    }
}

fn write_list(out: &mut String, items: &[Expr]) {
    for (i, a) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, a, PREC_COND);
    }
}

/// True when the expression's text ends with a bare name, so that a `(` right after
/// it would read as a function call (`say x (speech)` is the call `x(speech)`).
fn ends_with_name(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Name(_) => true,
        ExprKind::Binary(_, _, r) | ExprKind::Unary(_, r) | ExprKind::Cond(_, _, r) => {
            ends_with_name(r)
        }
        _ => false,
    }
}

/// True when options could also be read as the arguments of a call: each is one
/// word without a value that is not a word of the language (`(speech, beep)`).
fn options_look_like_args(options: &[Opt]) -> bool {
    !options.is_empty()
        && options.iter().all(|o| {
            o.value.is_none() && !o.name.contains(' ') && !RESERVED_WORDS.contains(&o.name.as_str())
        })
}

/// An expression that is followed by options or by another expression: wrapped in
/// parentheses when the next text would otherwise continue it.
fn expr_before(e: &Expr, next_starts_with_paren: bool) -> String {
    if next_starts_with_paren && ends_with_name(e) {
        format!("({})", expr_to_string(e))
    } else {
        expr_to_string(e)
    }
}

fn type_to_string(t: &TypeExpr) -> String {
    match t {
        TypeExpr::Named(i) => i.name.clone(),
        TypeExpr::Enum(items, _) => format!(
            "enum({})",
            items
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn typed_fields(fields: &[TypedField]) -> String {
    fields
        .iter()
        .map(|f| format!("{}: {}", f.name.name, type_to_string(&f.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn idents(items: &[Ident]) -> String {
    items
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn dest_to_string(d: &Destination) -> String {
    match d {
        Destination::Queue(i) => format!("queue {}", i.name),
        Destination::Flow(i) => format!("flow {}", i.name),
        Destination::Agent(e) => format!("agent {}", expr_to_string(e)),
        Destination::Number(e) => format!("number {}", expr_to_string(e)),
        Destination::Callback(_) => "callback".to_string(),
        Destination::Hangup(_) => "hangup".to_string(),
    }
}

/// A destination followed by options: an agent or number expression ending in a
/// name gets parentheses so the options do not read as call arguments.
fn dest_before_options(d: &Destination) -> String {
    match d {
        Destination::Agent(e) => format!("agent {}", expr_before(e, true)),
        Destination::Number(e) => format!("number {}", expr_before(e, true)),
        d => dest_to_string(d),
    }
}

fn say_kind_word(k: SayKind) -> &'static str {
    match k {
        SayKind::Plain => "",
        SayKind::Money => "money ",
        SayKind::Digits => "digits ",
        SayKind::Number => "number ",
        SayKind::Date => "date ",
        SayKind::Time => "time ",
    }
}

fn say_items(items: &[SayItem], options_follow: bool) -> String {
    let n = items.len();
    items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let e = if i + 1 == n {
                expr_before(&it.value, options_follow)
            } else {
                expr_to_string(&it.value)
            };
            format!("{}{e}", say_kind_word(it.kind))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn weekday(d: u8) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .get(d as usize)
        .copied()
        .unwrap_or("sun")
}

fn days_to_string(days: &[DayRange]) -> String {
    if let [d] = days
        && d.from == 0
        && d.to == 6
    {
        return "daily".to_string();
    }
    days.iter()
        .map(|d| {
            if d.from == d.to {
                weekday(d.from).to_string()
            } else {
                format!("{}-{}", weekday(d.from), weekday(d.to))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn periods_to_string(periods: &[TimeRange], none_word: &str) -> String {
    if periods.is_empty() {
        return none_word.to_string();
    }
    periods
        .iter()
        .map(time_range_to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn date_spans_to_string(dates: &[DateSpan]) -> String {
    dates
        .iter()
        .map(|d| {
            if d.from == d.to {
                date_to_string(d.from)
            } else {
                format!("{}..{}", date_to_string(d.from), date_to_string(d.to))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `no input`, `no match 2`, `no input final`.
pub(crate) fn handler_head(h: &InputHandler) -> String {
    let event = match h.event {
        InputEvent::NoInput => "no input",
        InputEvent::NoMatch => "no match",
    };
    match h.count {
        HandlerCount::Any => event.to_string(),
        HandlerCount::Nth(n) => format!("{event} {n}"),
        HandlerCount::Final => format!("{event} final"),
    }
}

fn choice_head(c: &MenuChoice) -> String {
    c.patterns
        .iter()
        .map(|p| match p {
            ChoicePattern::Keys(k, _) => k.clone(),
            ChoicePattern::Phrase(t) => text_to_string(t),
        })
        .collect::<Vec<_>>()
        .join(" | ")
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

// ------------------------------------------------------------------ the printer

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

    // -------------------------------------------------------------- declarations

    fn module(&mut self, m: &'a Module) {
        let mut prev_multi = false;
        for (i, item) in m.items.iter().enumerate() {
            let first = self.lines.len();
            self.item(item);
            if self.lines.len() == first {
                continue;
            }
            let multi = self.lines.len() - first > 1;
            let lo = self.lines[first].lo;
            self.lines[first].blank = self.blank_before(lo);
            self.lines[first].sep = i > 0 && (multi || prev_multi);
            prev_multi = multi;
        }
    }

    fn label(label: &Option<Text>) -> String {
        label
            .as_ref()
            .map(|t| format!(" {}", text_to_string(t)))
            .unwrap_or_default()
    }

    fn item(&mut self, item: &'a Item) {
        match item {
            Item::Import(d) => {
                let path = &self.src[d.path_span.range()];
                self.push(format!("import {path}"), d.span.start, d.span.end);
            }
            Item::Const(d) => {
                let t = format!("const {} = {}", d.name.name, expr_to_string(&d.value));
                self.push(t, d.span.start, d.span.end);
            }
            Item::Languages(d) => {
                let t = format!("languages {}", idents(&d.languages));
                self.push(t, d.span.start, d.span.end);
            }
            Item::CallData(d) => {
                let open = self.find(d.span.start, b'{');
                let close = d.span.end - 1;
                self.braced(
                    "calldata".into(),
                    d.span.start,
                    open,
                    close,
                    d.fields.is_empty(),
                    |p| {
                        let parts = d
                            .fields
                            .iter()
                            .map(|f| {
                                let mut t = format!("{}: {}", f.name.name, type_to_string(&f.ty));
                                let mut hi = f.ty.span().end;
                                if let Some(e) = &f.default {
                                    t.push_str(&format!(" = {}", expr_to_string(e)));
                                    hi = e.span.end;
                                }
                                (f.name.span.start, Part::Line(t, f.name.span.start, hi))
                            })
                            .collect();
                        p.parts(parts);
                    },
                );
            }
            Item::Skill(d) => {
                let mut t = format!("skill {}", idents(&d.names));
                if let Some((a, b, _)) = d.levels {
                    t.push_str(&format!(" levels {a}..{b}"));
                }
                self.push(t, d.span.start, d.span.end);
            }
            Item::Department(d) => {
                let t = format!("department {}{}", d.name.name, Self::label(&d.label));
                self.push(t, d.span.start, d.span.end);
            }
            Item::Agent(d) => {
                let skills = d
                    .skills
                    .iter()
                    .map(|s| match s.level {
                        Some((l, _)) => format!("{} {}", s.skill.name, number_to_string(l)),
                        None => s.skill.name.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let body = if skills.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ skills {skills} }}")
                };
                let t = format!(
                    "agent {}{} {body}",
                    text_to_string(&d.id),
                    Self::label(&d.label)
                );
                self.push(t, d.span.start, d.span.end);
            }
            Item::List(d) => self.list(d),
            Item::Calendar(d) => self.calendar(d),
            Item::Service(d) => self.service(d),
            Item::Flow(d) => self.flow(d),
            Item::Queue(d) => self.queue(d),
            Item::Campaign(d) => self.campaign(d),
            Item::Workorder(d) => self.workorder(d),
        }
    }

    /// The end of a header made of a name and an optional label.
    fn header_end(name: &Ident, label: &Option<Text>) -> u32 {
        label.as_ref().map_or(name.span.end, |l| l.span.end)
    }

    fn list(&mut self, d: &'a ListDecl) {
        let header = format!("list {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let empty = d.entries.is_empty() && d.categories.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            let mut parts = Vec::new();
            for c in &d.categories {
                parts.push((c.span.start, Part::Category(c)));
            }
            // Entries between two categories print as one filled run.
            let mut runs: Vec<(u32, Vec<&Text>)> = Vec::new();
            for e in &d.entries {
                let after_category = d
                    .categories
                    .iter()
                    .filter(|c| c.span.start < e.span.start)
                    .count();
                match runs.last_mut() {
                    Some((_, run))
                        if d.categories
                            .iter()
                            .filter(|c| run[0].span.start > c.span.start)
                            .count()
                            == after_category
                            && !p.blank_before(e.span.start) =>
                    {
                        run.push(e)
                    }
                    _ => runs.push((e.span.start, vec![e])),
                }
            }
            for (pos, run) in runs {
                parts.push((pos, Part::Entries(run)));
            }
            p.parts(parts);
        });
    }

    fn category(&mut self, c: &'a ListCategory) {
        let mut header = format!("category {}{}", c.name.name, Self::label(&c.label));
        let mut end = Self::header_end(&c.name, &c.label);
        if !c.options.is_empty() {
            header.push(' ');
            header.push_str(&options_to_string(&c.options));
            end = c.options.last().map_or(end, |o| o.span.end);
        }
        let open = self.find(end, b'{');
        self.braced(
            header,
            c.span.start,
            open,
            c.span.end - 1,
            c.entries.is_empty(),
            |p| {
                let entries: Vec<&Text> = c.entries.iter().collect();
                if !entries.is_empty() {
                    p.parts(vec![(entries[0].span.start, Part::Entries(entries))]);
                }
            },
        );
    }

    fn calendar(&mut self, d: &'a CalendarDecl) {
        let header = format!("calendar {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let mut parts = Vec::new();
        if let Some(tz) = &d.timezone {
            let lo = self.back_over(tz.span.start, &["timezone"]);
            let t = format!("timezone {}", text_to_string(tz));
            parts.push((lo, Part::Line(t, lo, tz.span.end)));
        }
        for h in &d.hours {
            let t = format!(
                "hours {} {}",
                days_to_string(&h.days),
                periods_to_string(&h.periods, "closed")
            );
            parts.push((h.span.start, Part::Line(t, h.span.start, h.span.end)));
        }
        for (word, days) in [("holiday", &d.holidays), ("workday", &d.workdays)] {
            for s in days {
                let mut t = format!("{word} {}{}", date_spans_to_string(&s.dates), {
                    Self::label(&s.label)
                });
                if let Some(h) = &s.hours {
                    t.push_str(&format!(" hours {}", periods_to_string(h, "closed")));
                }
                parts.push((s.span.start, Part::Line(t, s.span.start, s.span.end)));
            }
        }
        let empty = parts.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    fn service(&mut self, d: &'a ServiceDecl) {
        let header = format!("service {}{}", d.name.name, Self::label(&d.label));
        let open = self.find(Self::header_end(&d.name, &d.label), b'{');
        let mut parts = Vec::new();
        if let Some(u) = &d.url {
            let lo = self.back_over(u.span.start, &["url"]);
            parts.push((
                lo,
                Part::Line(format!("url {}", text_to_string(u)), lo, u.span.end),
            ));
        }
        if let Some(t) = &d.timeout {
            let lo = self.back_over(t.span.start, &["timeout"]);
            let s = format!("timeout {}", self.duration_lit(t));
            parts.push((lo, Part::Line(s, lo, t.span.end)));
        }
        for o in &d.operations {
            parts.push((o.span.start, Part::Operation(o)));
        }
        let empty = parts.is_empty();
        self.braced(header, d.span.start, open, d.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    fn operation(&mut self, o: &'a ServiceOperation) {
        let method = match o.method {
            HttpMethod::Get => "get",
            HttpMethod::Post => "post",
        };
        let header = format!(
            "{method} {} {} ({}) ->",
            o.name.name,
            text_to_string(&o.path),
            typed_fields(&o.params)
        );
        let after = o.params.last().map_or(o.path.span.end, |f| f.ty.span().end);
        let open = self.find(self.find(after, b'>'), b'{');
        self.braced(
            header,
            o.span.start,
            open,
            o.span.end - 1,
            o.fields.is_empty(),
            |p| p.fill_fields(&o.fields),
        );
    }

    /// A duration literal; a bare number (no unit) is printed back as a bare number.
    fn duration_lit(&self, d: &DurationLit) -> String {
        if !d.unitless {
            return duration_to_string(d.millis);
        }
        let written = self.src.get(d.span.range()).unwrap_or("").trim();
        match written.parse::<f64>() {
            Ok(v) if (v * 1000.0) as i64 == d.millis => number_to_string(v),
            _ => written.to_string(),
        }
    }

    fn flow(&mut self, f: &'a FlowDecl) {
        let mut header = format!("flow {}", f.name.name);
        if !f.params.is_empty() {
            header.push_str(&format!("({})", typed_fields(&f.params)));
        }
        if let Some(r) = &f.returns {
            header.push_str(&format!(" -> {}", type_to_string(r)));
        }
        header.push_str(&Self::label(&f.label));
        if !f.numbers.is_empty() {
            let n = f
                .numbers
                .iter()
                .map(text_to_string)
                .collect::<Vec<_>>()
                .join(", ");
            header.push_str(&format!(" on {n}"));
        }
        self.block_after(header, f.span.start, &f.body);
    }

    /// `header {` statements `}` for a block whose braces are in the source.
    fn block_after(&mut self, header: String, lo: u32, b: &'a Block) {
        self.braced(
            header,
            lo,
            b.span.start,
            b.span.end.saturating_sub(1),
            b.stmts.is_empty(),
            |p| p.stmts(&b.stmts),
        );
    }

    fn stmts(&mut self, stmts: &'a [Stmt]) {
        let parts = stmts
            .iter()
            .map(|s| (s.span.start, Part::Stmt(s)))
            .collect();
        self.parts(parts);
    }

    fn queue(&mut self, q: &'a QueueDecl) {
        let header = format!("queue {}{}", q.name.name, Self::label(&q.label));
        let open = self.find(Self::header_end(&q.name, &q.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        let mut add = |lo: u32, text: String, hi: u32| parts.push((lo, Part::Line(text, lo, hi)));
        if let Some(first) = q.skills.first() {
            let lo = self.back_over(first.skill.span.start, &["skills"]);
            let s = q
                .skills
                .iter()
                .map(|s| match s.min_level {
                    Some((l, _)) => format!("{} >= {}", s.skill.name, number_to_string(l)),
                    None => s.skill.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let hi = q.skills.last().map_or(0, |s| {
                s.min_level.map_or(s.skill.span.end, |(_, sp)| sp.end)
            });
            add(lo, format!("skills {s}"), hi);
        }
        if let Some(s) = &q.strategy {
            let lo = self.back_over(s.span.start, &["strategy"]);
            add(lo, format!("strategy {}", s.name), s.span.end);
        }
        if let Some(e) = &q.priority {
            let lo = self.back_over(e.span.start, &["priority"]);
            add(lo, format!("priority {}", expr_to_string(e)), e.span.end);
        }
        if let Some(e) = &q.music {
            let lo = self.back_over(e.span.start, &["music"]);
            add(lo, format!("music {}", expr_to_string(e)), e.span.end);
        }
        for a in &q.announcements {
            let what = match &a.what {
                AnnounceWhat::Position => "position".to_string(),
                AnnounceWhat::Wait => "wait".to_string(),
                AnnounceWhat::Prompt(e) => expr_to_string(e),
            };
            let mut t = format!("announce {what} every {}", self.duration_lit(&a.every));
            if let Some(w) = &a.when {
                t.push_str(&format!(" when {}", expr_to_string(w)));
            }
            add(a.span.start, t, a.span.end);
        }
        if let Some((d, dest, span)) = &q.max_wait {
            let t = format!(
                "max wait {} -> {}",
                self.duration_lit(d),
                dest_to_string(dest)
            );
            add(span.start, t, span.end);
        }
        for o in &q.overflows {
            let dir = match o.direction {
                OverflowDirection::Up => "up",
                OverflowDirection::Down => "down",
            };
            let t = format!(
                "overflow {dir} to {} when {}",
                o.target.name,
                expr_to_string(&o.when)
            );
            add(o.span.start, t, o.span.end);
        }
        for (k, span, dest) in &q.keys {
            let lo = self.back_over(span.start, &["key"]);
            add(
                lo,
                format!("key {k} -> {}", dest_to_string(dest)),
                dest.span().end,
            );
        }
        if let Some(n) = &q.no_answer {
            let action = match n.action {
                NoAnswerAction::RequeueFirst => "requeue first",
                NoAnswerAction::Requeue => "requeue",
                NoAnswerAction::NextAgent => "next agent",
            };
            let t = format!("no answer {} -> {action}", self.duration_lit(&n.timeout));
            add(n.span.start, t, n.span.end);
        }
        if let Some(first) = q.agent_policy.first() {
            let lo = self.back_over(first.span.start, &["agent", "policy", "("]);
            let hi = q.agent_policy.last().map_or(0, |o| o.span.end);
            let t = format!("agent policy {}", options_to_string(&q.agent_policy));
            add(lo, t, hi);
        }
        if let Some(d) = &q.wrap_up {
            let lo = self.back_over(d.span.start, &["wrap", "up"]);
            add(lo, format!("wrap up {}", self.duration_lit(d)), d.span.end);
        }
        if let Some((cal, dest, span)) = &q.hours {
            let t = format!("hours {} closed -> {}", cal.name, dest_to_string(dest));
            add(span.start, t, span.end);
        }
        if let Some((pct, d, span)) = &q.service_level {
            let t = format!(
                "service level {} within {}",
                percent_to_string(*pct),
                self.duration_lit(d)
            );
            add(span.start, t, span.end);
        }
        let empty = parts.is_empty();
        self.braced(header, q.span.start, open, q.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    fn campaign(&mut self, c: &'a CampaignDecl) {
        let header = format!("campaign {}{}", c.name.name, Self::label(&c.label));
        let open = self.find(Self::header_end(&c.name, &c.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        let mut add = |lo: u32, text: String, hi: u32| parts.push((lo, Part::Line(text, lo, hi)));
        for f in &c.filters {
            let lo = self.back_over(f.span.start, &["filter"]);
            add(lo, format!("filter {}", expr_to_string(f)), f.span.end);
        }
        if let Some(m) = &c.mode {
            let mut t = format!("mode {}", m.mode.name);
            if !m.options.is_empty() {
                t.push(' ');
                t.push_str(&options_to_string(&m.options));
            }
            if let Some(d) = &m.dest {
                t.push_str(&format!(" -> {}", dest_to_string(d)));
            }
            add(m.span.start, t, m.span.end);
        }
        if let Some(cal) = &c.calendar {
            let lo = self.back_over(cal.span.start, &["calendar"]);
            add(lo, format!("calendar {}", cal.name), cal.span.end);
        }
        for w in &c.windows {
            let day = match w.day_type {
                DayType::Workday => "workday",
                DayType::Weekend => "weekend",
                DayType::Holiday => "holiday",
            };
            let t = format!("window {day} {}", periods_to_string(&w.periods, "none"));
            add(w.span.start, t, w.span.end);
        }
        for r in &c.retries {
            let outcome = match r.outcome {
                Outcome::Busy => "busy",
                Outcome::NoAnswer => "no answer",
                Outcome::Fax => "fax",
                Outcome::Invalid => "invalid",
                Outcome::Machine => "machine",
                Outcome::Rejected => "rejected",
            };
            let rule = match &r.every {
                Some((d, max)) => format!("every {} max {max}", self.duration_lit(d)),
                None => "never".to_string(),
            };
            add(r.span.start, format!("retry {outcome} {rule}"), r.span.end);
        }
        if let Some(t) = &c.trunk {
            let lo = self.back_over(t.span.start, &["trunk"]);
            add(lo, format!("trunk {}", text_to_string(t)), t.span.end);
        }
        if let Some(t) = &c.caller_id {
            let lo = self.back_over(t.span.start, &["caller", "id"]);
            add(lo, format!("caller id {}", text_to_string(t)), t.span.end);
        }
        if let Some(m) = &c.media {
            let lo = self.back_over(m.span.start, &["media"]);
            add(lo, format!("media {}", m.name), m.span.end);
        }
        if let Some((e, within, span)) = &c.dropped {
            let mut t = format!("dropped -> play {}", expr_to_string(e));
            if let Some(w) = within {
                t.push_str(&format!(" within {}", self.duration_lit(w)));
            }
            add(span.start, t, span.end);
        }
        for (rule, reason, span) in &c.allows {
            let t = format!("allow {} {}", rule.name, text_to_string(reason));
            add(span.start, t, span.end);
        }
        if let Some(t) = &c.timezone {
            let lo = self.back_over(t.span.start, &["timezone"]);
            add(lo, format!("timezone {}", text_to_string(t)), t.span.end);
        }
        if let Some(l) = &c.list {
            parts.push((l.span.start, Part::CampaignList(l)));
        }
        let empty = parts.is_empty();
        self.braced(header, c.span.start, open, c.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    fn campaign_list(&mut self, l: &'a CampaignList) {
        let header = format!("list {} from {}", l.name.name, text_to_string(&l.source));
        let open = self.find(l.source.span.end, b'{');
        self.braced(
            header,
            l.span.start,
            open,
            l.span.end - 1,
            l.fields.is_empty(),
            |p| {
                let parts = l
                    .fields
                    .iter()
                    .map(|(f, col)| {
                        let t = format!(
                            "{}: {} <- {}",
                            f.name.name,
                            type_to_string(&f.ty),
                            text_to_string(col)
                        );
                        let lo = f.name.span.start;
                        (lo, Part::Line(t, lo, col.span.end))
                    })
                    .collect();
                p.parts(parts);
            },
        );
    }

    fn workorder(&mut self, w: &'a WorkorderDecl) {
        let header = format!("workorder {}{}", w.name.name, Self::label(&w.label));
        let open = self.find(Self::header_end(&w.name, &w.label), b'{');
        let mut parts: Vec<(u32, Part)> = Vec::new();
        if let Some(cal) = &w.calendar {
            let lo = self.back_over(cal.span.start, &["calendar"]);
            let t = format!("calendar {}", cal.name);
            parts.push((lo, Part::Line(t, lo, cal.span.end)));
        }
        for f in &w.fields {
            let mut t = format!("field {}: {}", f.name.name, type_to_string(&f.ty));
            if f.required {
                t.push_str(" required");
            }
            if f.sensitive {
                t.push_str(" sensitive");
            }
            parts.push((f.span.start, Part::Line(t, f.span.start, f.span.end)));
        }
        for s in &w.states {
            parts.push((s.span.start, Part::State(s)));
        }
        for t in &w.transitions {
            let mut s = format!(
                "transition {}: {} -> {} by {}",
                t.name.name,
                t.from.name,
                t.to.name,
                idents(&t.roles)
            );
            if let Some(k) = t.kind {
                s.push_str(match k {
                    TransitionKind::Forward => " forward",
                    TransitionKind::Return => " return",
                    TransitionKind::Reply => " reply",
                    TransitionKind::Close => " close",
                    TransitionKind::Reopen => " reopen",
                });
            }
            if let Some(g) = &t.guard {
                s.push_str(&format!(" when {}", expr_to_string(g)));
            }
            parts.push((t.span.start, Part::Line(s, t.span.start, t.span.end)));
        }
        if let Some(first) = w.links.first() {
            let lo = self.back_over(first.span.start, &["links"]);
            let hi = w.links.last().map_or(0, |l| l.span.end);
            parts.push((
                lo,
                Part::Line(format!("links {}", idents(&w.links)), lo, hi),
            ));
        }
        let empty = parts.is_empty();
        self.braced(header, w.span.start, open, w.span.end - 1, empty, |p| {
            p.parts(parts)
        });
    }

    fn state(&mut self, s: &'a WorkorderState) {
        let mut header = format!("state {}{}", s.name.name, Self::label(&s.label));
        let mut end = Self::header_end(&s.name, &s.label);
        if s.initial {
            header.push_str(" initial");
        }
        if s.is_final {
            header.push_str(" final");
        }
        if let Some(l) = &s.limit {
            let clock = if l.business { "business" } else { "wall" };
            header.push_str(&format!(
                " limit {} {clock}",
                self.duration_lit(&l.duration)
            ));
            end = l.duration.span.end;
        }
        let mut parts: Vec<(u32, Part)> = Vec::new();
        for r in &s.reminders {
            let when = match &r.when {
                RemindWhen::Before(d) => format!("{} before", self.duration_lit(d)),
                RemindWhen::AtLimit => "at limit".to_string(),
                RemindWhen::Fraction(f, _) => format!("{} of limit", percent_to_string(*f)),
            };
            let t = format!("remind {when} -> {}", idents(&r.to));
            parts.push((r.span.start, Part::Line(t, r.span.start, r.span.end)));
        }
        for e in &s.escalations {
            let after = e
                .after
                .as_ref()
                .map(|d| format!(" {} after", self.duration_lit(d)))
                .unwrap_or_default();
            let t = format!("escalate{after} -> {}", idents(&e.to));
            parts.push((e.span.start, Part::Line(t, e.span.start, e.span.end)));
        }
        let state_end = self.trim_end(s.span.end);
        let has_braces = self.src.as_bytes().get(state_end as usize - 1) == Some(&b'}');
        if parts.is_empty() && !(has_braces && self.has_comment_in(end, state_end)) {
            self.push(header, s.span.start, state_end);
            return;
        }
        let open = self.find(end, b'{');
        self.open(format!("{header} {{"), s.span.start, open);
        self.parts(parts);
        self.close(state_end - 1);
    }

    // -------------------------------------------------------------- statements

    /// `head -> action`: the statement on the same line when the action is a single
    /// statement with no comment around it, else a `{ ... }` body.
    fn action(&mut self, head: String, lo: u32, action: &'a Block) -> Tail {
        let braces_in_source = self.src.as_bytes().get(action.span.start as usize) == Some(&b'{');
        let action_end = self.trim_end(action.span.end);
        let inner_comments = self.has_comment_in(action.span.start, action_end);
        if let [s] = action.stmts.as_slice()
            && !matches!(s.kind, StmtKind::Block(_))
            && !self.has_comment_in(action.span.start, s.span.start)
            && !self.has_comment_in(self.trim_end(s.span.end), action_end)
        {
            let first = self.lines.len();
            let tail = self.stmt(s);
            let single = self.lines.len() == first + 1;
            let line = &mut self.lines[first];
            line.text = format!("{head} -> {}", line.text);
            line.lo = lo;
            if single {
                line.hi = line.hi.max(action_end);
            }
            return tail;
        }
        if action.stmts.is_empty() && !inner_comments {
            self.push(format!("{head} -> {{}}"), lo, action_end);
            return Tail::Closed;
        }
        if braces_in_source {
            self.open(format!("{head} -> {{"), lo, action.span.start);
            self.stmts(&action.stmts);
            self.close(action_end.saturating_sub(1));
        } else {
            // Written without braces in the source: the braces are new.
            let i = self.push(format!("{head} -> {{"), lo, action.span.start);
            self.lines[i].opens = true;
            self.indent += 1;
            self.stmts(&action.stmts);
            self.indent = self.indent.saturating_sub(1);
            let end = action_end;
            let i = self.push("}".to_string(), end, end);
            self.lines[i].closes = true;
        }
        Tail::Closed
    }

    fn stmt(&mut self, s: &'a Stmt) -> Tail {
        let lo = s.span.start;
        let hi = s.span.end;
        match &s.kind {
            StmtKind::Play { prompts, options } => {
                let n = prompts.len();
                let items = prompts
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        if i + 1 == n {
                            expr_before(e, options_look_like_args(options))
                        } else {
                            expr_to_string(e)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                self.push(format!("play {items}{}", opts_suffix(options)), lo, hi);
                if options.is_empty() {
                    Tail::Open
                } else {
                    Tail::Closed
                }
            }
            StmtKind::Say(say) => self.say(say, lo, hi),
            StmtKind::Menu(m) => {
                self.menu(m);
                Tail::Closed
            }
            StmtKind::Collect { target, collect } => {
                let header = format!("{} = collect{}", target.name, opts_suffix(&collect.options));
                let empty = collect.prompts.is_empty()
                    && collect.handlers.is_empty()
                    && collect.valid.is_empty();
                let collect_end = self.trim_end(collect.span.end);
                let close = collect_end.saturating_sub(1);
                let has_body = self.src.as_bytes().get(close as usize) == Some(&b'}');
                let after = collect
                    .options
                    .last()
                    .map_or(collect.span.start + "collect".len() as u32, |o| o.span.end);
                if empty && !(has_body && self.has_comment_in(after, collect_end)) {
                    self.push(header, lo, hi);
                    return Tail::OptBody;
                }
                let open = self.find(after, b'{');
                self.open(format!("{header} {{"), lo, open);
                let mut parts: Vec<(u32, Part)> = Vec::new();
                for p in &collect.prompts {
                    parts.push((p.span.start, Part::Stmt(p)));
                }
                for h in &collect.handlers {
                    parts.push((h.span.start, Part::Handler(h)));
                }
                for v in &collect.valid {
                    parts.push((v.span.start, Part::Valid(v)));
                }
                self.parts(parts);
                self.close(close);
                Tail::Closed
            }
            StmtKind::Lookup { target, lookup } => {
                let args = lookup
                    .args
                    .iter()
                    .map(expr_to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let header = format!(
                    "{} = lookup {}.{}({args}){}",
                    target.name,
                    lookup.service.name,
                    lookup.operation.name,
                    opts_suffix(&lookup.options)
                );
                match &lookup.otherwise {
                    Some(b) => {
                        self.block_after(format!("{header} else"), lo, b);
                        Tail::Closed
                    }
                    None => {
                        self.push(header, lo, hi);
                        if lookup.options.is_empty() {
                            Tail::Open
                        } else {
                            Tail::Closed
                        }
                    }
                }
            }
            StmtKind::Record { target, options } => {
                self.push(
                    format!("{} = record{}", target.name, opts_suffix(options)),
                    lo,
                    hi,
                );
                if options.is_empty() {
                    Tail::Open
                } else {
                    Tail::Closed
                }
            }
            StmtKind::CreateWorkorder {
                target,
                kind,
                fields,
            } => {
                let header = format!("{} = create workorder {}", target.name, kind.name);
                let open = self.find(kind.span.end, b'{');
                self.braced(header, lo, open, hi - 1, fields.is_empty(), |p| {
                    let parts = fields
                        .iter()
                        .map(|f| {
                            let t = format!("{}: {},", f.name.name, expr_to_string(&f.value));
                            let lo = f.name.span.start;
                            (lo, Part::Line(t, lo, f.value.span.end))
                        })
                        .collect();
                    p.parts(parts);
                });
                Tail::Closed
            }
            StmtKind::Call { target, flow, args } => {
                let args = args
                    .iter()
                    .map(expr_to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                let t = match target {
                    Some(t) => format!("{} = call {}({args})", t.name, flow.name),
                    None => format!("call {}({args})", flow.name),
                };
                self.push(t, lo, hi);
                Tail::Closed
            }
            StmtKind::Assign { target, value } => {
                self.push(
                    format!("{} = {}", target.name, expr_to_string(value)),
                    lo,
                    hi,
                );
                Tail::Open
            }
            StmtKind::SetData { field, value } => {
                self.push(
                    format!("data.{} = {}", field.name, expr_to_string(value)),
                    lo,
                    hi,
                );
                Tail::Open
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.if_chain(format!("if {}", expr_to_string(cond)), lo, then, otherwise);
                Tail::Closed
            }
            StmtKind::Match { scrutinee, arms } => {
                let open = self.find(scrutinee.span.end, b'{');
                let header = format!("match {}", expr_to_string(scrutinee));
                self.braced(header, lo, open, hi - 1, arms.is_empty(), |p| {
                    let mut prev: Option<(usize, Tail)> = None;
                    for a in arms {
                        let head = if a.patterns.is_empty() {
                            "else".to_string()
                        } else {
                            a.patterns
                                .iter()
                                .map(expr_to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        };
                        let first = p.lines.len();
                        let tail = p.action(head, a.span.start, &a.action);
                        p.lines[first].blank = p.blank_before(a.span.start);
                        if let Some((last, t)) = prev
                            && needs_semicolon(t, &p.lines[first].text)
                        {
                            p.lines[last].text.push(';');
                        }
                        prev = Some((p.lines.len() - 1, tail));
                    }
                });
                Tail::Closed
            }
            StmtKind::Label(l) => {
                self.push(format!("{}:", l.name), lo, hi);
                Tail::Closed
            }
            StmtKind::Goto(l) => {
                self.push(format!("goto {}", l.name), lo, hi);
                Tail::Closed
            }
            StmtKind::Repeat => {
                self.push("repeat".into(), lo, hi);
                Tail::Closed
            }
            StmtKind::Return(None) => {
                self.push("return".into(), lo, hi);
                Tail::BareReturn
            }
            StmtKind::Return(Some(e)) => {
                self.push(format!("return {}", expr_to_string(e)), lo, hi);
                Tail::Open
            }
            StmtKind::Notify {
                channel,
                to,
                subject,
                body,
            } => {
                let ch = match channel {
                    NotifyChannel::Sms => "sms",
                    NotifyChannel::Email => "email",
                };
                let body_s = juxtaposed(body);
                let paren = body_s.starts_with('(');
                let t = match subject {
                    Some(sub) => format!(
                        "notify {ch} to {} subject {} {body_s}",
                        expr_to_string(to),
                        expr_before(sub, paren)
                    ),
                    None => format!("notify {ch} to {} {body_s}", expr_before(to, paren)),
                };
                self.push(t, lo, hi);
                Tail::Open
            }
            StmtKind::Transfer {
                dest,
                options,
                otherwise,
            } => {
                let d = if options_look_like_args(options) {
                    dest_before_options(dest)
                } else {
                    dest_to_string(dest)
                };
                let header = format!("transfer {d}{}", opts_suffix(options));
                match otherwise {
                    Some(b) => {
                        self.block_after(format!("{header} else"), lo, b);
                        Tail::Closed
                    }
                    None => {
                        self.push(header, lo, hi);
                        if options.is_empty() {
                            Tail::Open
                        } else {
                            Tail::Closed
                        }
                    }
                }
            }
            StmtKind::Hangup => {
                self.push("hangup".into(), lo, hi);
                Tail::Closed
            }
            StmtKind::Pause(e) => {
                self.push(format!("pause {}", expr_to_string(e)), lo, hi);
                Tail::Open
            }
            StmtKind::Language(l) => {
                self.push(format!("language {}", l.name), lo, hi);
                Tail::Closed
            }
            StmtKind::OnError(b) => {
                self.block_after("on error".into(), lo, b);
                Tail::Closed
            }
            StmtKind::Block(b) => {
                let close = b.span.end.saturating_sub(1);
                if b.stmts.is_empty() && !self.has_comment_in(b.span.start, b.span.end) {
                    self.push("{}".into(), lo, hi);
                } else {
                    self.open("{".into(), lo, b.span.start);
                    self.stmts(&b.stmts);
                    self.close(close);
                }
                Tail::Closed
            }
        }
    }

    fn say(&mut self, say: &'a Say, lo: u32, hi: u32) -> Tail {
        let opts = opts_suffix(&say.options);
        match &say.content {
            SayContent::Items(items) => {
                let t = format!(
                    "say {}{opts}",
                    say_items(items, options_look_like_args(&say.options))
                );
                self.push(t, lo, hi);
                if say.options.is_empty() {
                    Tail::Open
                } else {
                    Tail::Closed
                }
            }
            SayContent::Translations(tr) => {
                let open = self.find(lo + "say".len() as u32, b'{');
                let last_end = tr
                    .last()
                    .and_then(|(l, items)| {
                        items.last().map(|i| i.value.span.end).or(Some(l.span.end))
                    })
                    .unwrap_or(open);
                let close = self.find(last_end, b'}');
                self.open("say {".into(), lo, open);
                let parts = tr
                    .iter()
                    .map(|(lang, items)| {
                        let t = format!("{} {}", lang.name, say_items(items, false));
                        let end = items.last().map_or(lang.span.end, |i| i.value.span.end);
                        (lang.span.start, Part::Line(t, lang.span.start, end))
                    })
                    .collect();
                self.parts(parts);
                self.indent = self.indent.saturating_sub(1);
                let i = self.push(format!("}}{opts}"), close, hi.max(close + 1));
                self.lines[i].closes = true;
                Tail::Closed
            }
        }
    }

    fn menu(&mut self, m: &'a Menu) {
        let header = format!("menu {}{}", m.name.name, opts_suffix(&m.options));
        let after = m.options.last().map_or(m.name.span.end, |o| o.span.end);
        let open = self.find(after, b'{');
        let empty = m.prompts.is_empty() && m.choices.is_empty() && m.handlers.is_empty();
        self.braced(header, m.span.start, open, m.span.end - 1, empty, |p| {
            let mut parts: Vec<(u32, Part)> = Vec::new();
            for s in &m.prompts {
                parts.push((s.span.start, Part::Stmt(s)));
            }
            for c in &m.choices {
                parts.push((c.span.start, Part::Choice(c)));
            }
            for h in &m.handlers {
                parts.push((h.span.start, Part::Handler(h)));
            }
            p.parts(parts);
        });
    }

    /// `if c {` ... `} else if c {` ... `} else {` ... `}`.
    fn if_chain(&mut self, header: String, lo: u32, then: &'a Block, otherwise: &'a Option<Block>) {
        let Some(other) = otherwise else {
            self.block_after(header, lo, then);
            return;
        };
        self.open(format!("{header} {{"), lo, then.span.start);
        self.stmts(&then.stmts);
        let then_close = then.span.end.saturating_sub(1);
        // `else if` when the else block is one `if` and holds no comment of its own.
        if let [inner] = other.stmts.as_slice()
            && let StmtKind::If {
                cond,
                then: t2,
                otherwise: o2,
            } = &inner.kind
            && !self.has_comment_in(other.span.start, inner.span.start)
            && !self.has_comment_in(self.trim_end(inner.span.end), self.trim_end(other.span.end))
        {
            let text = format!("}} else if {}", expr_to_string(cond));
            self.else_chain(text, then_close, t2, o2);
            return;
        }
        self.close_open("} else {".into(), then_close, other.span.start);
        self.stmts(&other.stmts);
        self.close(other.span.end.saturating_sub(1));
    }

    fn else_chain(&mut self, text: String, lo: u32, then: &'a Block, otherwise: &'a Option<Block>) {
        self.close_open(format!("{text} {{"), lo, then.span.start);
        self.stmts(&then.stmts);
        let then_close = then.span.end.saturating_sub(1);
        match otherwise {
            None => self.close(then_close),
            Some(other) => {
                if let [inner] = other.stmts.as_slice()
                    && let StmtKind::If {
                        cond,
                        then: t2,
                        otherwise: o2,
                    } = &inner.kind
                    && !self.has_comment_in(other.span.start, inner.span.start)
                    && !self.has_comment_in(
                        self.trim_end(inner.span.end),
                        self.trim_end(other.span.end),
                    )
                {
                    let text = format!("}} else if {}", expr_to_string(cond));
                    self.else_chain(text, then_close, t2, o2);
                    return;
                }
                self.close_open("} else {".into(), then_close, other.span.start);
                self.stmts(&other.stmts);
                self.close(other.span.end.saturating_sub(1));
            }
        }
    }
}

/// An expression placed right after another one (a notify body): a leading `-`
/// would read as subtraction, so such an expression is wrapped in parentheses.
fn juxtaposed(e: &Expr) -> String {
    let s = expr_to_string(e);
    if s.starts_with('-') {
        format!("({s})")
    } else {
        s
    }
}

fn opt_value_to_string(v: &OptValue) -> String {
    match v {
        OptValue::Number(n, _) => number_to_string(*n),
        OptValue::Percent(p, _) => percent_to_string(*p),
        OptValue::Duration(d) => {
            if d.unitless {
                number_to_string(d.millis as f64 / 1000.0)
            } else {
                duration_to_string(d.millis)
            }
        }
        OptValue::Clock(c, _) => clock_to_string(*c),
        OptValue::TimeRange(r) => time_range_to_string(r),
        OptValue::Date(d, _) => date_to_string(*d),
        OptValue::Range(a, b, _) => format!("{}..{}", number_to_string(*a), number_to_string(*b)),
        OptValue::Text(t) => text_to_string(t),
        OptValue::Key(k, _) => k.to_string(),
    }
}

/// `(name value, name value)`.
pub fn options_to_string(options: &[Opt]) -> String {
    let inner = options
        .iter()
        .map(|o| match &o.value {
            Some(v) => format!("{} {}", o.name, opt_value_to_string(v)),
            None => o.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("({inner})")
}

fn opts_suffix(options: &[Opt]) -> String {
    if options.is_empty() {
        String::new()
    } else {
        format!(" {}", options_to_string(options))
    }
}

// ------------------------------------------------------------------ assembling

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
