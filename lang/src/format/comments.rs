//! Comments, which the syntax tree does not hold: found in the source text
//! (a `#` outside texts that is not the DTMF key) with what the printer needs to
//! put each one back (own line or after code, blank line before it).

use crate::ast::*;

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

pub(super) fn is_ws(c: char) -> bool {
    c.is_whitespace() || c == '\u{FEFF}'
}

pub(super) fn is_blank(s: &str) -> bool {
    s.chars().all(is_ws)
}

/// True when the line before the one starting at `line_start` is blank.
pub(super) fn prev_line_blank(text: &str, line_start: usize) -> bool {
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
            StmtKind::ForEach { options, body, .. } => {
                opts(options, out);
                block(body, out);
            }
            _ => {}
        }
    }
    for item in &module.items {
        match item {
            Item::Flow(f) => block(&f.body, out),
            Item::Queue(q) => {
                opts(&q.agent_policy, out);
                for k in &q.keys {
                    out.push((k.key_span.start, k.key_span.end));
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
