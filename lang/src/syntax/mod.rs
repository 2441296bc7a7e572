//! Parsing: the pest grammar (`dialect.pest`) and the conversion of its pairs into
//! the owned [`ast`](crate::ast). Pest never leaks out of this module: syntax errors
//! become [`Diagnostic`]s that name what was expected in an analyst's words, and a
//! file with several broken declarations reports each of them.
//!
//! This file holds the entry point ([`parse_module`]), the limits that keep deep
//! input from exhausting the stack, the recovery that parses each top-level
//! declaration on its own after an error (closing braces left open, leaving out
//! the statement, clause or field that does not parse), and the `Builder` that
//! walks the pairs. Beside it:
//! - `grammar`: the generated pest parser and the words of the language.
//! - `errors`: pest errors and repeated clauses turned into analysts' words.
//! - `repair`: the lexical repairs made before parsing (full-width punctuation,
//!   texts without their closing quote) and the search for unclosed braces.
//!
//! and the `Builder`'s methods, spread by role:
//! - `literals`: numbers, durations, clock times, dates, texts, types, options.
//! - `expr`: expressions, with operator precedence and the nesting limits.
//! - `decls`: top-level declarations (calendar, service, queue, campaign,
//!   workorder and the one-line ones).
//! - `flow`: flows and their statements, menus, handlers and destinations.

mod decls;
mod errors;
mod expr;
mod flow;
mod grammar;
mod literals;
mod repair;

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use errors::{duplicate_clause, single_clause, syntax_error};
use grammar::{DialectParser, Rule};
use repair::OffsetMap;

pub use grammar::{RESERVED_WORDS, TOP_LEVEL_KEYWORDS};
pub use repair::full_width;

/// Hands out project-wide expression ids.
#[derive(Debug, Default)]
pub struct IdGen {
    next: u32,
}

impl IdGen {
    /// A fresh id.
    pub fn next_id(&mut self) -> ExprId {
        let id = ExprId(self.next);
        self.next += 1;
        id
    }

    /// How many ids were handed out.
    pub fn count(&self) -> u32 {
        self.next
    }
}

/// Parses one file. Returns the module (with every declaration that parsed) and the
/// syntax and literal errors found.
///
/// A file that does not parse is parsed again declaration by declaration; a
/// declaration with a `{` never closed gets its `}` where the indentation says,
/// and a statement, clause or field that still does not parse is left out (and
/// reported), so that the names declared around a mistake still exist.
pub fn parse_module(file: FileId, text: &str, ids: &mut IdGen) -> (Module, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut items = Vec::new();
    let mut recovered = Vec::new();
    if let Some(d) = too_complex(file, text) {
        return (
            Module {
                file,
                items,
                recovered: vec![Span::new(file, 0, text.len())],
            },
            vec![d],
        );
    }
    let rep = repair::repair(file, text);
    diags.extend(rep.diags);
    let whole = Positions {
        file_map: &rep.map,
        base: 0,
        local: OffsetMap::default(),
    };
    if let Ok(mut pairs) = DialectParser::parse(Rule::file, &rep.text) {
        let mut b = Builder {
            file,
            pos: &whole,
            ids,
            diags: &mut diags,
            recovered: &mut recovered,
        };
        if let Some(f) = pairs.next() {
            b.items(f, &mut items);
        }
    } else {
        let starts = declaration_starts(&rep.text);
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(rep.text.len());
            let chunk = Chunk {
                file,
                text: &rep.text[start..end],
                base: start,
                file_map: &rep.map,
                last: end == rep.text.len(),
            };
            chunk.parse(ids, &mut items, &mut diags, &mut recovered);
        }
    }
    (
        Module {
            file,
            items,
            recovered,
        },
        diags,
    )
}

/// Most statements, clauses or fields left out of one declaration before the
/// rest of it is given up.
const MAX_RECOVERIES: usize = 24;

/// Where the parser's offsets point in the file: the chunk's own insertions
/// (`local`), its place in the repaired text (`base`), the lexical repairs
/// (`file_map`).
struct Positions<'a> {
    file_map: &'a OffsetMap,
    base: usize,
    local: OffsetMap,
}

impl Positions<'_> {
    fn orig(&self, p: usize) -> usize {
        self.file_map.orig(self.base + self.local.orig(p))
    }
}

/// One top-level declaration's text, parsed on its own after the file failed.
struct Chunk<'a> {
    file: FileId,
    text: &'a str,
    base: usize,
    file_map: &'a OffsetMap,
    /// The chunk ends the file (so its end is the file's end).
    last: bool,
}

impl Chunk<'_> {
    fn parse(
        &self,
        ids: &mut IdGen,
        items: &mut Vec<Item>,
        diags: &mut Vec<Diagnostic>,
        recovered: &mut Vec<Span>,
    ) {
        // Braces that are never closed: reported, and closed where they belong.
        let unclosed = repair::unclosed_braces(self.text);
        let (mut text, local) = {
            let plain = Positions {
                file_map: self.file_map,
                base: self.base,
                local: OffsetMap::default(),
            };
            for u in &unclosed {
                diags.push(unclosed_diag(self.file, &plain, u));
                // The declaration's statements may now be in the wrong block:
                // its warnings wait until the brace is closed.
                for &b in &u.braces {
                    recovered.push(Span::new(self.file, plain.orig(b), plain.orig(b) + 1));
                }
            }
            let at: Vec<usize> = unclosed
                .iter()
                .flat_map(|u| std::iter::repeat_n(u.close_at, u.braces.len()))
                .collect();
            repair::insert_at(self.text, &at, "}")
        };
        let pos = Positions {
            file_map: self.file_map,
            base: self.base,
            local,
        };
        let eof = self.last;
        let mut reported: Option<usize> = None;
        for round in 0..=MAX_RECOVERIES {
            let err = match DialectParser::parse(Rule::file, &text) {
                Ok(mut pairs) => {
                    let mut b = Builder {
                        file: self.file,
                        pos: &pos,
                        ids,
                        diags,
                        recovered,
                    };
                    if let Some(f) = pairs.next() {
                        b.items(f, items);
                    }
                    return;
                }
                Err(e) => e,
            };
            let at = error_pos(&err);
            if reported != Some(at) {
                // Parsed again, tracking the literals each rule expected (`:`,
                // `->`), for a message that names them.
                let detailed = with_error_detail(|| DialectParser::parse(Rule::file, &text).err());
                let err = detailed.as_ref().unwrap_or(&err);
                diags.push(syntax_error(self.file, &text, &pos, eof, err));
                reported = Some(at);
            }
            if round == MAX_RECOVERIES {
                break;
            }
            match recovery_region(&text, at) {
                Some(r) => {
                    recovered.push(Span::new(self.file, pos.orig(r.start), pos.orig(r.end)));
                    text = blank(&text, r);
                }
                None => break,
            }
        }
        // Nothing left that parses: the whole declaration is left out.
        recovered.push(Span::new(self.file, pos.orig(0), pos.orig(text.len())));
    }
}

/// Runs `f` with pest tracking the literals each rule expected. Tracking makes
/// parsing about twice as slow, so it is on only to word an error; the flag is
/// global to pest, so it stays on while any thread needs it.
fn with_error_detail<T>(f: impl FnOnce() -> T) -> T {
    static USERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
    let enter = |delta: isize| {
        let mut n = USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n = n.saturating_add_signed(delta);
        pest::set_error_detail(*n > 0);
    };
    enter(1);
    let r = f();
    enter(-1);
    r
}

fn error_pos(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

/// The part of `text` to leave out so that parsing gets past an error at `at`:
/// the options in parentheses the error is in, when leaving them out is enough;
/// otherwise the statement, clause or field it is in (with any block it opens),
/// or, on the first line of a declaration, the rest of that line up to its `{`
/// (the rest of the line for a declaration of one line).
fn recovery_region(text: &str, at: usize) -> Option<std::ops::Range<usize>> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
    let first_line = text[..line_start].trim().is_empty();
    let mut candidates = Vec::new();
    let mut rest_of_line = None;
    if let Some(r) = paren_region(text, line_start, at) {
        candidates.push(r);
    }
    if first_line {
        let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        match text[at..line_end].rfind('{') {
            Some(brace) => candidates.push(at..at + brace),
            None if !text[line_start..at].contains('{') => rest_of_line = Some(at..line_end),
            None => {}
        }
    }
    let stmt = statement_region(text, line_start, at);
    for r in candidates {
        if r.is_empty() {
            continue;
        }
        let trial = blank(text, r.clone());
        match DialectParser::parse(Rule::file, &trial) {
            Ok(_) => return Some(r),
            Err(e) if error_pos(&e) > r.end => return Some(r),
            Err(_) => {}
        }
    }
    // A one-line declaration (`role auditor "稽核" extra`): when what comes
    // before the error is a whole declaration, it is kept, so that its name
    // still exists for the declarations that use it.
    if let Some(r) = rest_of_line
        && !r.is_empty()
        && DialectParser::parse(Rule::file, &blank(text, r.clone())).is_ok()
    {
        return Some(r);
    }
    let whole_file = stmt.start == 0 && stmt.end >= text.trim_end().len();
    (!stmt.is_empty() && !whole_file).then_some(stmt)
}

/// The `( ... )` on the line of `at` that is still open at `at`.
fn paren_region(text: &str, line_start: usize, at: usize) -> Option<std::ops::Range<usize>> {
    let mut open = Vec::new();
    let mut in_text = false;
    for (i, c) in text[line_start..at].char_indices() {
        let i = i + line_start;
        match c {
            '"' => in_text = !in_text,
            '(' if !in_text => open.push(i),
            ')' if !in_text => {
                open.pop();
            }
            _ => {}
        }
    }
    let start = *open.last()?;
    let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
    let mut depth = 0;
    let mut in_text = false;
    for (i, c) in text[start..line_end].char_indices() {
        match c {
            '"' => in_text = !in_text,
            '(' if !in_text => depth += 1,
            ')' if !in_text => {
                depth -= 1;
                if depth == 0 {
                    return Some(start..start + i + 1);
                }
            }
            _ => {}
        }
    }
    Some(start..line_end)
}

/// The statement, clause or field holding `at`: from the start of its line (or
/// the last `{`, `}` or `;` before it on the line) to the end of the line (or the
/// next `;`, or the `}` that closes the block it is in), taking in whole any
/// block it opens.
fn statement_region(text: &str, line_start: usize, at: usize) -> std::ops::Range<usize> {
    let mut start = line_start;
    let mut in_text = false;
    for (i, c) in text[line_start..at].char_indices() {
        match c {
            '"' => in_text = !in_text,
            '{' | '}' | ';' if !in_text => start = line_start + i + 1,
            _ => {}
        }
    }
    while text[start..].starts_with([' ', '\t']) {
        start += 1;
    }
    let start = start.min(at);
    let mut depth = 0usize;
    let mut in_text = false;
    let mut chars = text[start..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let i = start + i;
        if in_text {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' | '\n' => in_text = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_text = true,
            '#' if !hash_is_key(&text[i + 1..]) => {
                while chars.peek().is_some_and(|(_, n)| *n != '\n') {
                    chars.next();
                }
            }
            '{' => depth += 1,
            '}' => {
                if depth == 0 {
                    return start..i;
                }
                depth -= 1;
            }
            ';' if depth == 0 => return start..i + 1,
            '\n' if depth == 0 && i >= at => return start..i,
            _ => {}
        }
    }
    start..text.len()
}

/// `text` with `r` replaced by spaces (line breaks kept, so lines stay lines).
fn blank(text: &str, r: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..r.start]);
    for c in text[r.clone()].chars() {
        if c == '\n' || c == '\r' {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[r.end..]);
    out
}

/// The message for braces never closed: at the innermost, the others beside it.
fn unclosed_diag(file: FileId, pos: &Positions<'_>, u: &repair::Unclosed) -> Diagnostic {
    let inner = u.braces.first().copied().unwrap_or(0);
    let at = pos.orig(inner);
    let mut d = Diagnostic::error(
        "syntax",
        Span::new(file, at, at + 1),
        "this `{` is never closed; a `}` is missing",
    )
    .with_label("opened here")
    .with_hint("add the `}` where the block ends (the lines after it are indented less)");
    for &b in &u.braces[1..] {
        let at = pos.orig(b);
        d = d.with_secondary(Span::new(file, at, at + 1), "this `{` is not closed either");
    }
    d
}

/// Deepest nesting of brackets, blocks and text interpolations a file may have.
pub const MAX_NESTING: usize = 48;
/// Most `else if` a file may have (each one nests a level deeper).
pub const MAX_ELSE_IF: usize = 300;
/// Most operands one chain of operators may have (`a + b + c ...`).
pub const MAX_OPERANDS: usize = 256;
/// Most prefix operators in a row (`not not x`).
pub const MAX_PREFIX: usize = 8;

/// Rejects inputs nested so deeply that parsing or checking them would exhaust the
/// stack: bracket depth (outside texts and comments) and `else if` chains.
fn too_complex(file: FileId, text: &str) -> Option<Diagnostic> {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        Text,
    }
    let bytes = text.as_bytes();
    let mut stack: Vec<Mode> = vec![Mode::Code];
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let top = stack.last().unwrap_or(&Mode::Code);
        if *top == Mode::Text {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'{' => stack.push(Mode::Code),
                b'\n' => {
                    stack.pop();
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => stack.push(Mode::Text),
                b'(' | b'[' | b'{' => stack.push(Mode::Code),
                b')' | b']' | b'}' if stack.len() > 1 => {
                    stack.pop();
                }
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => {}
            }
        }
        if stack.len() > MAX_NESTING {
            return Some(
                Diagnostic::error(
                    "too-complex",
                    Span::new(file, i, i + 1),
                    format!("this is nested more than {MAX_NESTING} levels deep"),
                )
                .with_hint("split the flow into sub-flows, or the expression into named steps"),
            );
        }
        i += 1;
    }
    let else_ifs = text
        .match_indices("else")
        .filter(|(at, _)| text[at + 4..].trim_start().starts_with("if"));
    if let Some((at, _)) = else_ifs.clone().nth(MAX_ELSE_IF) {
        return Some(
            Diagnostic::error(
                "too-complex",
                Span::new(file, at, at + 4),
                format!("this file has more than {MAX_ELSE_IF} `else if`"),
            )
            .with_hint("use `match` for long lists of cases"),
        );
    }
    None
}

/// Byte offsets where top-level declarations start (line starts at column 1 with a
/// declaration keyword), always including 0.
fn declaration_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 {
            let word: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if TOP_LEVEL_KEYWORDS.contains(&word.as_str()) && looks_like_declaration(&word, line) {
                starts.push(offset);
            }
        }
        offset += line.len();
    }
    starts
}

/// Whether a line starting with a top-level keyword starts a declaration rather than
/// a clause that happens to begin at column 1 (`calendar cn` inside a campaign,
/// `agent policy (...)` inside a queue).
fn looks_like_declaration(word: &str, line: &str) -> bool {
    let rest = line[word.len()..].trim_start();
    match word {
        "agent" => rest.starts_with('"'),
        "calendar" | "list" | "flow" | "queue" | "campaign" | "workorder" | "service" => {
            line.contains('{') || word == "flow" && rest.contains('(')
        }
        _ => true,
    }
}

/// Turns the pairs of one parsed chunk of a file into AST nodes. `pos` maps the
/// parsed text's offsets to the file's (after a syntax error each declaration is
/// parsed on its own, and repairs may have changed lengths), so spans point into
/// the whole file; problems with literals go to `diags` and the node gets a
/// stand-in value.
struct Builder<'a> {
    file: FileId,
    pos: &'a Positions<'a>,
    ids: &'a mut IdGen,
    diags: &'a mut Vec<Diagnostic>,
    /// Text read only to stand in for what a reported error left unreadable.
    recovered: &'a mut Vec<Span>,
}

/// A pair of this grammar: what every `Builder` method takes.
type P<'i> = Pair<'i, Rule>;

/// The first child of a pair.
fn first<'i>(p: &P<'i>) -> Option<P<'i>> {
    p.clone().into_inner().next()
}

impl Builder<'_> {
    /// The span of a pair, without the white space and comments pest lets a rule
    /// swallow when it ends in an optional part that did not match.
    fn span(&self, p: &P<'_>) -> Span {
        let s = p.as_span();
        // A key token is exactly its text: its `#` is a key, never a trailing comment.
        let len = match p.as_rule() {
            Rule::choice_key | Rule::key_literal => s.as_str().len(),
            _ => trimmed_len(s.as_str()),
        };
        Span::new(
            self.file,
            self.pos.orig(s.start()),
            self.pos.orig(s.start() + len),
        )
    }

    fn ident(&self, p: P<'_>) -> Ident {
        // `name`, `list_ref` etc. wrap an ident: descend to the innermost text.
        let span = self.span(&p);
        Ident {
            name: p.as_str().trim().to_string(),
            span,
        }
    }

    fn error(&mut self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, span, msg));
    }

    fn items(&mut self, file: P<'_>, out: &mut Vec<Item>) {
        for p in file.into_inner() {
            self.repeated_clauses(&p);
            if let Some(item) = self.item(p) {
                out.push(item);
            }
        }
    }

    /// Reports a clause written twice where only one is allowed (the tree keeps
    /// only the last one, so the first would be silently ignored).
    fn repeated_clauses(&mut self, decl: &P<'_>) {
        let container = decl.as_rule();
        let kind = match container {
            Rule::queue_decl => "queue",
            Rule::campaign_decl => "campaign",
            Rule::workorder_decl => "workorder",
            Rule::calendar_decl => "calendar",
            Rule::service_decl => "service",
            _ => return,
        };
        let mut seen: Vec<(Rule, Span)> = Vec::new();
        for clause in decl.clone().into_inner() {
            let Some(word) = single_clause(container, clause.as_rule()) else {
                continue;
            };
            let span = self.span(&clause);
            match seen.iter().find(|(r, _)| *r == clause.as_rule()) {
                Some((_, first)) => self.diags.push(duplicate_clause(kind, word, span, *first)),
                None => seen.push((clause.as_rule(), span)),
            }
        }
    }
}

/// Length of `s` without trailing white space and trailing `#` comments.
fn trimmed_len(s: &str) -> usize {
    let mut end = s.len();
    loop {
        let t = s[..end].trim_end_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
        end = t.len();
        let line_start = t.rfind('\n').map_or(0, |i| i + 1);
        match comment_start(&t[line_start..]) {
            Some(at) => end = line_start + at,
            None => return end,
        }
    }
}

/// The grammar's rule for a `#` (given the text after it): it is a DTMF key, not a
/// comment, when DTMF keys and spaces lead to `->`, `|`, `,` or `)`.
pub fn hash_is_key(rest: &str) -> bool {
    let rest =
        rest.trim_start_matches(|c: char| c.is_ascii_digit() || matches!(c, 'A'..='D' | '*' | '#'));
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.starts_with("->")
        || rest.starts_with('|')
        || rest.starts_with(',')
        || rest.starts_with(')')
}

/// Where a `#` comment starts in one line, if it has one: a `#` outside text that
/// is not the DTMF key (followed by `->`, `|`, `,` or `)`).
fn comment_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut in_text = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if in_text => i += 1,
            b'"' => in_text = !in_text,
            b'#' if !in_text && !hash_is_key(&line[i + 1..]) => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}
