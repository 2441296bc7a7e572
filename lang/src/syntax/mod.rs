//! Parsing: the pest grammar (`dialect.pest`) and the conversion of its pairs into
//! the owned [`ast`](crate::ast). Pest never leaks out of this module: syntax errors
//! become [`Diagnostic`]s that name what was expected in an analyst's words, and a
//! file with several broken declarations reports each of them.
//!
//! This file holds the entry point ([`parse_module`]), the limits that keep deep
//! input from exhausting the stack, the recovery that parses each top-level
//! declaration on its own after an error, and the `Builder` that walks the pairs.
//! Beside it:
//! - `grammar`: the generated pest parser and the words of the language.
//! - `errors`: pest errors and repeated clauses turned into analysts' words.
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

use pest::Parser as _;
use pest::iterators::Pair;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use errors::{duplicate_clause, single_clause, syntax_error};
use grammar::{DialectParser, Rule};

pub use grammar::{RESERVED_WORDS, TOP_LEVEL_KEYWORDS};

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
pub fn parse_module(file: FileId, text: &str, ids: &mut IdGen) -> (Module, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut items = Vec::new();
    if let Some(d) = too_complex(file, text) {
        return (Module { file, items }, vec![d]);
    }
    match DialectParser::parse(Rule::file, text) {
        Ok(mut pairs) => {
            let mut b = Builder {
                file,
                offset: 0,
                ids,
                diags: &mut diags,
            };
            if let Some(f) = pairs.next() {
                b.items(f, &mut items);
            }
        }
        Err(_) => {
            // Parse each top-level declaration on its own so that every broken one is reported.
            let starts = declaration_starts(text);
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(text.len());
                let chunk = &text[start..end];
                match DialectParser::parse(Rule::file, chunk) {
                    Ok(mut pairs) => {
                        let mut b = Builder {
                            file,
                            offset: start,
                            ids,
                            diags: &mut diags,
                        };
                        if let Some(f) = pairs.next() {
                            b.items(f, &mut items);
                        }
                    }
                    Err(e) => diags.push(syntax_error(file, start, chunk, text.len(), &e)),
                }
            }
        }
    }
    (Module { file, items }, diags)
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

/// Turns the pairs of one parsed chunk of a file into AST nodes. `offset` is where
/// the chunk starts in the file (after a syntax error each declaration is parsed
/// on its own), so spans point into the whole file; problems with literals go to
/// `diags` and the node gets a stand-in value.
struct Builder<'a> {
    file: FileId,
    offset: usize,
    ids: &'a mut IdGen,
    diags: &'a mut Vec<Diagnostic>,
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
            self.offset + s.start(),
            self.offset + s.start() + len,
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
