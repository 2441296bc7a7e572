//! Flows: their parameters and body, statements, menus with their choices and
//! no-input / no-match handlers, digit collection, lookups and destinations.

use super::{Builder, P, Rule, first};
use crate::ast::*;

impl Builder<'_> {
    pub(super) fn flow(&mut self, p: P<'_>) -> Option<FlowDecl> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut params = Vec::new();
        let mut returns = None;
        let mut label = None;
        let mut numbers = Vec::new();
        let mut body = None;
        for c in it {
            match c.as_rule() {
                Rule::flow_params => {
                    for f in c.into_inner() {
                        params.extend(self.typed_field(f));
                    }
                }
                Rule::flow_returns => returns = first(&c).map(|t| self.type_expr(t)),
                Rule::label_text => label = first(&c).map(|t| self.text(t)),
                Rule::flow_numbers => numbers = c.into_inner().map(|t| self.text(t)).collect(),
                Rule::block => body = Some(self.block(c)),
                _ => {}
            }
        }
        Some(FlowDecl {
            name,
            params,
            returns,
            label,
            numbers,
            body: body?,
            span,
        })
    }

    pub(super) fn block(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let stmts = p.into_inner().filter_map(|s| self.stmt(s)).collect();
        Block { stmts, span }
    }

    /// An action after `->`: a block, or one statement wrapped in a block.
    pub(super) fn action(&mut self, p: P<'_>) -> Block {
        let span = self.span(&p);
        let Some(inner) = first(&p) else {
            return Block {
                stmts: Vec::new(),
                span,
            };
        };
        if inner.as_rule() == Rule::block {
            self.block(inner)
        } else {
            Block {
                stmts: self.stmt(inner).into_iter().collect(),
                span,
            }
        }
    }

    pub(super) fn stmt(&mut self, p: P<'_>) -> Option<Stmt> {
        let span = self.span(&p);
        let kind = match p.as_rule() {
            Rule::on_error => StmtKind::OnError(self.block(first(&p)?)),
            Rule::play_stmt => {
                let mut prompts = Vec::new();
                let mut options = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        _ => prompts.push(self.expr(c)),
                    }
                }
                StmtKind::Play { prompts, options }
            }
            Rule::say_stmt => {
                let mut content = SayContent::Items(Vec::new());
                let mut options = Vec::new();
                for c in p.into_inner() {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        Rule::say_items => content = SayContent::Items(self.say_items(c)),
                        Rule::say_translations => {
                            let mut tr = Vec::new();
                            for t in c.into_inner() {
                                let mut ti = t.into_inner();
                                let lang = self.ident(ti.next()?);
                                let items = self.say_items(ti.next()?);
                                tr.push((lang, items));
                            }
                            content = SayContent::Translations(tr);
                        }
                        _ => {}
                    }
                }
                StmtKind::Say(Say { content, options })
            }
            Rule::menu_stmt => StmtKind::Menu(self.menu(p)?),
            Rule::assign_stmt => {
                let mut it = p.into_inner();
                let target = self.ident(it.next()?);
                let v = it.next()?;
                match v.as_rule() {
                    Rule::collect_expr => StmtKind::Collect {
                        target,
                        collect: self.collect(v),
                    },
                    Rule::wo_lookup_expr => {
                        let span = self.span(&v);
                        let mut ci = v.into_inner();
                        let kind = self.ident(ci.next()?);
                        let number = self.expr(ci.next()?);
                        let otherwise = ci.next().and_then(|e| first(&e)).map(|b| self.block(b));
                        StmtKind::LookupWorkorder {
                            target,
                            kind,
                            number,
                            otherwise,
                            span,
                        }
                    }
                    Rule::lookup_expr => StmtKind::Lookup {
                        target,
                        lookup: self.lookup(v)?,
                    },
                    Rule::record_expr => StmtKind::Record {
                        target,
                        options: first(&v).map(|o| self.options(o)).unwrap_or_default(),
                    },
                    Rule::create_expr => {
                        let mut ci = v.into_inner();
                        let kind = self.ident(ci.next()?);
                        let mut fields = Vec::new();
                        for f in ci {
                            let mut fi = f.into_inner();
                            let name = self.ident(fi.next()?);
                            let value = self.expr(fi.next()?);
                            fields.push(FieldInit { name, value });
                        }
                        StmtKind::CreateWorkorder {
                            target,
                            kind,
                            fields,
                        }
                    }
                    Rule::call_expr => {
                        let (flow, args) = self.call_expr(v)?;
                        StmtKind::Call {
                            target: Some(target),
                            flow,
                            args,
                        }
                    }
                    _ => StmtKind::Assign {
                        target,
                        value: self.expr(v),
                    },
                }
            }
            Rule::call_stmt => {
                let (flow, args) = self.call_expr(first(&p)?)?;
                StmtKind::Call {
                    target: None,
                    flow,
                    args,
                }
            }
            Rule::data_assign => {
                let mut it = p.into_inner();
                let field = self.ident(it.next()?);
                let value = self.expr(it.next()?);
                StmtKind::SetData { field, value }
            }
            Rule::label_stmt => StmtKind::Label(self.ident(first(&p)?)),
            Rule::if_stmt => {
                let mut it = p.into_inner();
                let cond = self.expr(it.next()?);
                let then = self.block(it.next()?);
                let otherwise = it.next().and_then(|e| match e.as_rule() {
                    Rule::if_stmt => {
                        let es = self.span(&e);
                        let s = self.stmt(e)?;
                        Some(Block {
                            stmts: vec![s],
                            span: es,
                        })
                    }
                    _ => Some(self.block(e)),
                });
                StmtKind::If {
                    cond,
                    then,
                    otherwise,
                }
            }
            Rule::match_stmt => {
                let mut it = p.into_inner();
                let scrutinee = self.expr(it.next()?);
                let mut arms = Vec::new();
                for a in it {
                    let aspan = self.span(&a);
                    let mut patterns = Vec::new();
                    let mut action = None;
                    for x in a.into_inner() {
                        match x.as_rule() {
                            Rule::match_else => {}
                            Rule::action => action = Some(self.action(x)),
                            _ => patterns.push(self.expr(x)),
                        }
                    }
                    arms.push(MatchArm {
                        patterns,
                        action: action?,
                        span: aspan,
                    });
                }
                StmtKind::Match { scrutinee, arms }
            }
            Rule::goto_stmt => StmtKind::Goto(self.ident(first(&p)?)),
            Rule::repeat_stmt => StmtKind::Repeat,
            Rule::return_stmt => StmtKind::Return(first(&p).map(|e| self.expr(e))),
            Rule::hangup_stmt => StmtKind::Hangup,
            Rule::pause_stmt => StmtKind::Pause(self.expr(first(&p)?)),
            Rule::language_stmt => StmtKind::Language(self.ident(first(&p)?)),
            Rule::wo_transition_stmt => {
                let mut it = p.into_inner();
                let order = self.expr(it.next()?);
                let to = self.ident(it.next()?);
                let mut comment = None;
                let mut otherwise = None;
                for c in it {
                    match c.as_rule() {
                        Rule::wo_comment => comment = first(&c).map(|e| self.expr(e)),
                        _ => otherwise = first(&c).map(|b| self.block(b)),
                    }
                }
                StmtKind::TransitionWorkorder {
                    order,
                    to,
                    comment,
                    otherwise,
                }
            }
            Rule::notify_stmt => {
                let mut it = p.into_inner();
                let channel = if it.next()?.as_str() == "sms" {
                    NotifyChannel::Sms
                } else {
                    NotifyChannel::Email
                };
                let to = self.expr(it.next()?);
                let mut subject = None;
                let mut body = None;
                let mut attach = None;
                for c in it {
                    match c.as_rule() {
                        Rule::notify_subject => subject = first(&c).map(|e| self.expr(e)),
                        Rule::notify_attach => {
                            attach = c
                                .into_inner()
                                .find(|x| x.as_rule() == Rule::expr)
                                .map(|e| self.expr(e));
                        }
                        _ => body = Some(self.expr(c)),
                    }
                }
                StmtKind::Notify {
                    channel,
                    to,
                    subject,
                    body: body?,
                    attach,
                }
            }
            Rule::transfer_stmt => {
                let mut it = p.into_inner();
                let dest = self.destination(it.next()?)?;
                let mut options = Vec::new();
                let mut otherwise = None;
                for c in it {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        Rule::transfer_else => otherwise = first(&c).map(|b| self.block(b)),
                        _ => {}
                    }
                }
                StmtKind::Transfer {
                    dest,
                    options,
                    otherwise,
                }
            }
            Rule::block_stmt => StmtKind::Block(self.block(first(&p)?)),
            Rule::for_stmt => {
                let mut it = p
                    .into_inner()
                    .filter(|c| !matches!(c.as_rule(), Rule::for_each | Rule::op_in));
                let var = self.ident(it.next()?);
                let list = self.ident(it.next()?);
                let mut options = Vec::new();
                let mut body = None;
                for c in it {
                    match c.as_rule() {
                        Rule::options => options = self.options(c),
                        _ => body = Some(self.block(c)),
                    }
                }
                StmtKind::ForEach {
                    var,
                    list,
                    options,
                    body: body?,
                }
            }
            _ => return None,
        };
        Some(Stmt { kind, span })
    }

    pub(super) fn say_items(&mut self, p: P<'_>) -> Vec<SayItem> {
        let mut out = Vec::new();
        for item in p.into_inner() {
            let mut kind = SayKind::Plain;
            let mut value = None;
            for c in item.into_inner() {
                match c.as_rule() {
                    Rule::say_kind => {
                        kind = match c.as_str() {
                            "money" => SayKind::Money,
                            "digits" => SayKind::Digits,
                            "number" => SayKind::Number,
                            "date" => SayKind::Date,
                            _ => SayKind::Time,
                        }
                    }
                    _ => value = Some(self.expr(c)),
                }
            }
            if let Some(value) = value {
                out.push(SayItem { kind, value });
            }
        }
        out
    }

    pub(super) fn call_expr(&mut self, p: P<'_>) -> Option<(Ident, Vec<Expr>)> {
        let mut it = p.into_inner();
        let flow = self.ident(it.next()?);
        let args = it.map(|a| self.expr(a)).collect();
        Some((flow, args))
    }

    pub(super) fn handler(&mut self, p: P<'_>) -> Option<InputHandler> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let kind = it.next()?;
        let event = if kind.as_str().ends_with("input") {
            InputEvent::NoInput
        } else {
            InputEvent::NoMatch
        };
        let mut count = HandlerCount::Any;
        let mut action = None;
        for c in it {
            match c.as_rule() {
                Rule::handler_count => {
                    let inner = first(&c)?;
                    count = match inner.as_rule() {
                        Rule::handler_final => HandlerCount::Final,
                        Rule::ordinal => HandlerCount::Nth(match inner.as_str() {
                            "first" => 1,
                            "second" => 2,
                            _ => 3,
                        }),
                        _ => {
                            let n = self.whole_number(inner);
                            HandlerCount::Nth(n)
                        }
                    };
                }
                Rule::action => action = Some(self.action(c)),
                _ => {}
            }
        }
        Some(InputHandler {
            event,
            count,
            action: action?,
            span,
        })
    }

    pub(super) fn menu(&mut self, p: P<'_>) -> Option<Menu> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let name = self.ident(it.next()?);
        let mut menu = Menu {
            name,
            options: Vec::new(),
            prompts: Vec::new(),
            choices: Vec::new(),
            handlers: Vec::new(),
            span,
        };
        for c in it {
            match c.as_rule() {
                Rule::options => menu.options = self.options(c),
                Rule::input_handler => menu.handlers.extend(self.handler(c)),
                Rule::play_stmt | Rule::say_stmt => menu.prompts.extend(self.stmt(c)),
                Rule::menu_choice => {
                    let cspan = self.span(&c);
                    let mut patterns = Vec::new();
                    let mut action = None;
                    for x in c.into_inner() {
                        match x.as_rule() {
                            Rule::choice_pattern => {
                                let inner = first(&x)?;
                                patterns.push(match inner.as_rule() {
                                    Rule::text => ChoicePattern::Phrase(self.text(inner)),
                                    _ => {
                                        let s = self.span(&inner);
                                        ChoicePattern::Keys(inner.as_str().to_string(), s)
                                    }
                                });
                            }
                            Rule::action => action = Some(self.action(x)),
                            _ => {}
                        }
                    }
                    menu.choices.push(MenuChoice {
                        patterns,
                        action: action?,
                        span: cspan,
                    });
                }
                _ => {}
            }
        }
        Some(menu)
    }

    pub(super) fn collect(&mut self, p: P<'_>) -> Collect {
        let span = self.span(&p);
        let mut c = Collect {
            options: Vec::new(),
            prompts: Vec::new(),
            handlers: Vec::new(),
            valid: Vec::new(),
            span,
        };
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::options => c.options = self.options(x),
                Rule::input_handler => c.handlers.extend(self.handler(x)),
                Rule::valid_clause => {
                    if let Some(e) = first(&x) {
                        c.valid.push(self.expr(e));
                    }
                }
                Rule::play_stmt | Rule::say_stmt => c.prompts.extend(self.stmt(x)),
                _ => {}
            }
        }
        c
    }

    pub(super) fn lookup(&mut self, p: P<'_>) -> Option<Lookup> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let service = self.ident(it.next()?);
        let operation = self.ident(it.next()?);
        let mut args = Vec::new();
        let mut options = Vec::new();
        let mut otherwise = None;
        for c in it {
            match c.as_rule() {
                Rule::options => options = self.options(c),
                Rule::lookup_else => otherwise = first(&c).map(|b| self.block(b)),
                _ => args.push(self.expr(c)),
            }
        }
        Some(Lookup {
            service,
            operation,
            args,
            options,
            otherwise,
            span,
        })
    }

    pub(super) fn destination(&mut self, p: P<'_>) -> Option<Destination> {
        let d = first(&p)?;
        let span = self.span(&d);
        Some(match d.as_rule() {
            Rule::dest_queue => Destination::Queue(self.ident(first(&d)?)),
            Rule::dest_flow => Destination::Flow(self.ident(first(&d)?)),
            Rule::dest_agent => Destination::Agent(self.expr(first(&d)?)),
            Rule::dest_number => Destination::Number(self.expr(first(&d)?)),
            Rule::dest_callback => Destination::Callback(span),
            _ => Destination::Hangup(span),
        })
    }
}
