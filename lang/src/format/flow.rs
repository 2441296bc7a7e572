//! Printing statements: actions after `->` on one line when they fit and carry
//! no comment, `say` with its options, menus, and `if` / `else if` chains.

use super::expr::*;
use super::{Part, Printer, Tail, needs_semicolon};
use crate::ast::*;

impl<'a> Printer<'a> {
    /// `head -> action`: the statement on the same line when the action is a single
    /// statement with no comment around it, else a `{ ... }` body.
    pub(super) fn action(&mut self, head: String, lo: u32, action: &'a Block) -> Tail {
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

    pub(super) fn stmt(&mut self, s: &'a Stmt) -> Tail {
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
            StmtKind::LookupWorkorder {
                target,
                kind,
                number,
                otherwise,
                ..
            } => {
                let header = format!(
                    "{} = lookup workorder {}({})",
                    target.name,
                    kind.name,
                    expr_to_string(number)
                );
                match otherwise {
                    Some(b) => {
                        self.block_after(format!("{header} else"), lo, b);
                        Tail::Closed
                    }
                    None => {
                        self.push(header, lo, hi);
                        Tail::Closed
                    }
                }
            }
            StmtKind::TransitionWorkorder {
                order,
                to,
                comment,
                otherwise,
            } => {
                let mut header = format!(
                    "transition workorder {} to {}",
                    expr_to_string(order),
                    to.name
                );
                if let Some(c) = comment {
                    header.push_str(&format!(" comment {}", expr_to_string(c)));
                }
                match otherwise {
                    Some(b) => {
                        self.block_after(format!("{header} else"), lo, b);
                        Tail::Closed
                    }
                    None => {
                        self.push(header, lo, hi);
                        if comment.is_some() {
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
                attach,
            } => {
                let ch = match channel {
                    NotifyChannel::Sms => "sms",
                    NotifyChannel::Email => "email",
                };
                let body_s = juxtaposed(body);
                let paren = body_s.starts_with('(');
                let mut t = match subject {
                    Some(sub) => format!(
                        "notify {ch} to {} subject {} {body_s}",
                        expr_to_string(to),
                        expr_before(sub, paren)
                    ),
                    None => format!("notify {ch} to {} {body_s}", expr_before(to, paren)),
                };
                if let Some(a) = attach {
                    t.push_str(" attach ");
                    t.push_str(&expr_to_string(a));
                }
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
            StmtKind::ForEach {
                var,
                list,
                options,
                body,
            } => {
                let header = format!(
                    "for each {} in {}{}",
                    var.name,
                    list.name,
                    opts_suffix(options)
                );
                self.block_after(header, lo, body);
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

    pub(super) fn say(&mut self, say: &'a Say, lo: u32, hi: u32) -> Tail {
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

    pub(super) fn menu(&mut self, m: &'a Menu) {
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
    pub(super) fn if_chain(
        &mut self,
        header: String,
        lo: u32,
        then: &'a Block,
        otherwise: &'a Option<Block>,
    ) {
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

    pub(super) fn else_chain(
        &mut self,
        text: String,
        lo: u32,
        then: &'a Block,
        otherwise: &'a Option<Block>,
    ) {
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
