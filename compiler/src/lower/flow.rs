//! Flows as state machines: statements, blocks and labels, the suspensions that
//! hand a command to the runtime and the resume blocks that read its answer, and
//! the prompts (`play`, `say`) those commands carry.

use dialect_lang::ast::{self, *};
use dialect_lang::options;
use dialect_lang::types::Type;

use super::Lowerer;
use super::body::{Ctx, Fb, prune, zero_reg};
use super::expr::cmp_kind;
use crate::ir::*;

impl<'a> Lowerer<'a> {
    pub(super) fn flow(&mut self, d: &FlowDecl) -> FlowIr {
        let loc = self.loc(d.span);
        let mut fb = Fb::new(Ctx::Flow, loc);
        let info = &self.model.flows[&d.name.name];
        for (n, t) in &info.params {
            fb.slot(n, *t);
        }
        for (n, t) in &info.locals {
            fb.slot(n, *t);
        }
        // Labels anywhere in the flow can be jumped to from anywhere in it.
        collect_labels(&d.body, &mut |l: &Ident| {
            let b = fb.block(loc);
            fb.labels.insert(l.name.clone(), b);
        });
        let mut on_error = None;
        for s in &d.body.stmts {
            if let StmtKind::OnError(b) = &s.kind {
                let saved = fb.cur;
                let h = fb.block(self.loc(s.span));
                fb.cur = h;
                self.block(&mut fb, b);
                fb.term(Term::Hangup);
                fb.cur = saved;
                on_error = Some(h);
            }
        }
        self.block(&mut fb, &d.body);
        // Falling off the end: a sub-flow returns its type's zero, a call flow ends.
        if info.returns == Type::Void {
            fb.term(Term::Return(None));
        } else {
            let z = zero_reg(&mut fb, info.returns);
            fb.term(Term::Return(Some(z)));
        }
        let mut body = fb.body;
        let mut resumes = fb.resumes;
        let mut roots: Vec<&mut BlockId> = resumes.iter_mut().collect();
        if let Some(h) = on_error.as_mut() {
            roots.push(h);
        }
        prune(&mut body, roots);
        FlowIr {
            name: d.name.name.clone(),
            params: info.params.clone(),
            returns: info.returns,
            slots: fb.slots,
            body,
            resumes,
            on_error,
        }
    }

    pub(super) fn block(&mut self, fb: &mut Fb, b: &ast::Block) {
        for s in &b.stmts {
            self.stmt(fb, s);
        }
    }

    pub(super) fn suspend(
        &mut self,
        fb: &mut Fb,
        node: String,
        span: Span,
        kind: TemplateKind,
        args: Vec<Reg>,
    ) -> BlockId {
        let loc = self.loc(span);
        let template = self.ir.templates.len() as TemplateId;
        self.ir.templates.push(CommandTemplate { node, loc, kind });
        let (resume, rb) = fb.resume_point(loc);
        fb.term(Term::Suspend {
            template,
            args,
            resume,
        });
        fb.cur = rb;
        rb
    }

    pub(super) fn input_kind(&mut self, fb: &mut Fb) -> Reg {
        let r = fb.reg(Type::Duration);
        fb.emit(Inst::Input {
            dst: r,
            what: InputField::Kind,
        });
        r
    }

    /// Whether the input a resumed suspension got is of `kind`, as a boolean
    /// register to branch on.
    pub(super) fn input_is(&mut self, fb: &mut Fb, kind: InputKind) -> Reg {
        let k = self.input_kind(fb);
        let want = fb.int(kind as i64);
        let c = fb.reg(Type::Bool);
        fb.emit(Inst::Cmp {
            dst: c,
            cond: Cond::Eq,
            kind: CmpKind::Int,
            a: k,
            b: want,
        });
        c
    }

    pub(super) fn stmt(&mut self, fb: &mut Fb, s: &Stmt) {
        let loc = self.loc(s.span);
        fb.cur_loc = loc;
        match &s.kind {
            StmtKind::Play {
                prompts,
                options: o,
            } => {
                let mut args = Vec::new();
                let p = self.play_prompt(fb, prompts, o, &mut args);
                let node = format!(
                    "play {}",
                    prompts
                        .first()
                        .map(|e| self.snippet(e.span))
                        .unwrap_or_default()
                );
                self.suspend(fb, node, s.span, TemplateKind::Prompt(p), args);
            }
            StmtKind::Say(say) => {
                let mut args = Vec::new();
                let p = self.say_prompt(fb, say, &mut args);
                self.suspend(fb, "say".into(), s.span, TemplateKind::Prompt(p), args);
            }
            StmtKind::Menu(m) => self.menu(fb, m, s.span),
            StmtKind::Collect { target, collect } => self.collect(fb, target, collect, s.span),
            StmtKind::Lookup { target, lookup } => self.lookup(fb, target, lookup, s.span),
            StmtKind::Record { target, options: o } => {
                let kind = TemplateKind::Record {
                    max_ms: options::duration_ms(o, "max").unwrap_or(60_000),
                    silence_ms: options::duration_ms(o, "silence").unwrap_or(5000),
                    terminator: options::key(o, "terminator"),
                    beep: options::flag(o, "beep"),
                };
                self.suspend(fb, format!("record {target}"), s.span, kind, Vec::new());
                let slot = fb.slot(&target.name, Type::Recording);
                let (ok, failed, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
                let c = self.input_is(fb, InputKind::Recording);
                self.branch(fb, c, ok, failed);
                fb.cur = ok;
                let t = fb.reg(Type::Recording);
                fb.emit(Inst::Input {
                    dst: t,
                    what: InputField::Text,
                });
                fb.emit(Inst::Store { slot, src: t });
                fb.term(Term::Jump(join));
                fb.cur = failed;
                let empty = self.intern("");
                let e = fb.konst(Type::Recording, Const::Text(empty));
                fb.emit(Inst::Store { slot, src: e });
                fb.switch_to(join);
            }
            StmtKind::CreateWorkorder {
                target,
                kind,
                fields,
            } => {
                let Some(wi) = self.ir.workorders.iter().position(|w| w.name == kind.name) else {
                    return;
                };
                let mut args = Vec::new();
                let mut names = Vec::new();
                for f in fields {
                    let r = self.expr(fb, &f.value);
                    args.push(r);
                    names.push(f.name.name.clone());
                }
                self.suspend(
                    fb,
                    format!("create workorder {kind}"),
                    s.span,
                    TemplateKind::CreateWorkorder {
                        workorder: wi as u32,
                        fields: names,
                    },
                    args,
                );
                let (ok, failed) = (fb.block(loc), fb.block(loc));
                let c = self.input_is(fb, InputKind::Created);
                self.branch(fb, c, ok, failed);
                fb.cur = failed;
                fb.term(Term::Fail {
                    message: format!("the {kind} workorder could not be created"),
                    loc,
                });
                fb.cur = ok;
                let t = fb.reg(Type::Text);
                fb.emit(Inst::Input {
                    dst: t,
                    what: InputField::Text,
                });
                let slot = fb.slot(&target.name, Type::Text);
                fb.emit(Inst::Store { slot, src: t });
            }
            StmtKind::LookupWorkorder {
                target,
                kind,
                number,
                otherwise,
                span,
            } => {
                let Some(wi) = self.ir.workorders.iter().position(|w| w.name == kind.name) else {
                    return;
                };
                let Some(&rid) = self.model.workorder_records.get(&kind.name) else {
                    return;
                };
                let answer = Type::Record(rid);
                let n = self.expr(fb, number);
                self.suspend(
                    fb,
                    format!("lookup workorder {kind}"),
                    *span,
                    TemplateKind::LookupWorkorder {
                        workorder: wi as u32,
                        record: rid,
                    },
                    vec![n],
                );
                self.store_answer(fb, target, answer, otherwise.as_ref(), loc);
            }
            StmtKind::TransitionWorkorder {
                order,
                to,
                comment,
                otherwise,
            } => {
                let mut args = Vec::new();
                let order = self.operand(fb, order, &mut args);
                let comment = comment.as_ref().map(|c| self.operand(fb, c, &mut args));
                self.suspend(
                    fb,
                    format!("transition workorder to {to}"),
                    s.span,
                    TemplateKind::TransitionWorkorder {
                        order,
                        to: to.name.clone(),
                        comment,
                    },
                    args,
                );
                let (failed, join) = (fb.block(loc), fb.block(loc));
                let c = self.input_is(fb, InputKind::Failed);
                self.branch(fb, c, failed, join);
                fb.cur = failed;
                if let Some(b) = otherwise {
                    self.block(fb, b);
                }
                fb.switch_to(join);
            }
            StmtKind::Call { target, flow, args } => {
                let Some(fid) = self.ir.flow_id(&flow.name) else {
                    return;
                };
                let regs: Vec<Reg> = args.iter().map(|a| self.expr(fb, a)).collect();
                let (resume, rb) = fb.resume_point(loc);
                fb.term(Term::CallFlow {
                    flow: fid,
                    args: regs,
                    resume,
                });
                fb.cur = rb;
                if let Some(t) = target {
                    let rty = self.ir.flows[fid as usize].returns;
                    let r = fb.reg(rty);
                    fb.emit(Inst::Input {
                        dst: r,
                        what: InputField::Returned,
                    });
                    let slot = fb.slot(&t.name, rty);
                    fb.emit(Inst::Store { slot, src: r });
                }
            }
            StmtKind::Assign { target, value } => {
                let ty = self.ty(value);
                let r = self.expr(fb, value);
                let slot = fb.slot(&target.name, ty);
                fb.emit(Inst::Store { slot, src: r });
            }
            StmtKind::SetData { field, value } => {
                let Some((idx, _)) = self.model.calldata_field(&field.name) else {
                    return;
                };
                let r = self.expr(fb, value);
                fb.emit(Inst::StoreData {
                    field: idx as u32,
                    src: r,
                });
            }
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.expr(fb, cond);
                let (t, o, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
                self.branch(fb, c, t, o);
                fb.cur = t;
                self.block(fb, then);
                fb.term(Term::Jump(join));
                fb.cur = o;
                if let Some(b) = otherwise {
                    self.block(fb, b);
                }
                fb.switch_to(join);
            }
            StmtKind::Match { scrutinee, arms } => {
                let st = self.ty(scrutinee);
                let v = self.expr(fb, scrutinee);
                let join = fb.block(loc);
                for arm in arms {
                    let body = fb.block(loc);
                    if arm.patterns.is_empty() {
                        fb.switch_to(body);
                        self.block(fb, &arm.action);
                        fb.term(Term::Jump(join));
                        break;
                    }
                    let next = fb.block(loc);
                    for (i, p) in arm.patterns.iter().enumerate() {
                        let x = self.expr(fb, p);
                        let c = fb.reg(Type::Bool);
                        fb.emit(Inst::Cmp {
                            dst: c,
                            cond: Cond::Eq,
                            kind: cmp_kind(st),
                            a: v,
                            b: x,
                        });
                        let other = if i + 1 == arm.patterns.len() {
                            next
                        } else {
                            fb.block(loc)
                        };
                        self.branch(fb, c, body, other);
                        fb.cur = other;
                    }
                    let after = fb.cur;
                    fb.cur = body;
                    self.block(fb, &arm.action);
                    fb.term(Term::Jump(join));
                    fb.cur = after;
                }
                fb.switch_to(join);
            }
            StmtKind::Label(l) => {
                if let Some(&b) = fb.labels.get(&l.name) {
                    fb.switch_to(b);
                }
            }
            StmtKind::Goto(l) => {
                if let Some(&b) = fb.labels.get(&l.name) {
                    fb.term(Term::Jump(b));
                }
            }
            StmtKind::Repeat => {
                if let Some(&b) = fb.repeat.last() {
                    fb.term(Term::Jump(b));
                }
            }
            StmtKind::Return(v) => {
                let r = v.as_ref().map(|e| self.expr(fb, e));
                fb.term(Term::Return(r));
            }
            StmtKind::Notify {
                channel,
                to,
                subject,
                body,
                attach,
            } => {
                let mut args = Vec::new();
                let to = self.operand(fb, to, &mut args);
                let subject = subject.as_ref().map(|s| self.operand(fb, s, &mut args));
                let body = self.operand(fb, body, &mut args);
                let attachment = attach.as_ref().map(|a| self.operand(fb, a, &mut args));
                let node = match channel {
                    NotifyChannel::Sms => "notify sms",
                    NotifyChannel::Email => "notify email",
                };
                self.suspend(
                    fb,
                    node.into(),
                    s.span,
                    TemplateKind::Notify {
                        channel: *channel,
                        to,
                        subject,
                        body,
                        attachment,
                    },
                    args,
                );
            }
            StmtKind::Transfer {
                dest,
                options: o,
                otherwise,
            } => {
                let mut args = Vec::new();
                let (dest, node) = match dest {
                    Destination::Queue(q) => (
                        TransferDest::Queue(q.name.clone()),
                        format!("transfer queue {q}"),
                    ),
                    Destination::Flow(f) => (
                        TransferDest::Flow(f.name.clone()),
                        format!("transfer flow {f}"),
                    ),
                    Destination::Agent(e) => {
                        let op = self.operand(fb, e, &mut args);
                        (TransferDest::Agent(op), "transfer agent".to_string())
                    }
                    Destination::Number(e) => {
                        let op = self.operand(fb, e, &mut args);
                        (TransferDest::Number(op), "transfer number".to_string())
                    }
                    Destination::Callback(_) | Destination::Hangup(_) => {
                        fb.term(Term::Hangup);
                        return;
                    }
                };
                let kind = TemplateKind::Transfer {
                    dest,
                    timeout_ms: options::duration_ms(o, "timeout"),
                    via: options::text(o, "via"),
                    caller_id: options::text(o, "caller id"),
                    priority: options::number(o, "priority"),
                    has_fallback: otherwise.is_some(),
                };
                self.suspend(fb, node.clone(), s.span, kind, args);
                // Resumed only when the transfer failed (or the runtime says it is done).
                let (failed, done) = (fb.block(loc), fb.block(loc));
                let c = self.input_is(fb, InputKind::Failed);
                self.branch(fb, c, failed, done);
                fb.cur = done;
                fb.term(Term::Hangup);
                fb.cur = failed;
                match otherwise {
                    Some(b) => self.block(fb, b),
                    None => fb.term(Term::Fail {
                        message: format!("{node} failed"),
                        loc,
                    }),
                }
            }
            StmtKind::Hangup => fb.term(Term::Hangup),
            StmtKind::Pause(e) => {
                let r = self.expr(fb, e);
                self.suspend(fb, "pause".into(), s.span, TemplateKind::Pause, vec![r]);
            }
            StmtKind::Language(l) => {
                if let Some(i) = self.ir.languages.iter().position(|x| *x == l.name) {
                    fb.emit(Inst::SetLanguage { language: i as u32 });
                }
            }
            StmtKind::OnError(_) => {}
            StmtKind::Block(b) => self.block(fb, b),
            StmtKind::ForEach {
                var,
                list,
                options: o,
                body,
            } => self.for_each(fb, var, list, o, body, s.span),
        }
    }

    /// `for each var in list (max N) { body }`: a counted loop over the list's
    /// records, never more than N times (the bound the checker allows), so a
    /// loop cannot run without end whatever the service answers.
    fn for_each(
        &mut self,
        fb: &mut Fb,
        var: &Ident,
        list: &Ident,
        o: &[Opt],
        body: &ast::Block,
        span: Span,
    ) {
        let loc = self.loc(span);
        let Some(list_ty @ Type::RecordList(rid)) = fb.slot_type(&list.name) else {
            return;
        };
        let bound = options::number(o, "max")
            .map(|n| n as i64)
            .unwrap_or(i64::from(options::FOR_EACH_DEFAULT_MAX));
        let list_slot = fb.slot(&list.name, list_ty);
        let var_slot = fb.slot(&var.name, Type::Record(rid));
        let index_slot = fb.hidden_slot("each", Type::Duration);
        let count_slot = fb.hidden_slot("count", Type::Duration);
        let l = fb.reg(list_ty);
        fb.emit(Inst::Load {
            dst: l,
            slot: list_slot,
        });
        let n = fb.reg(Type::Duration);
        fb.emit(Inst::ItemCount { dst: n, list: l });
        // count = min(count, bound)
        let max = fb.int(bound);
        let over = fb.reg(Type::Bool);
        fb.emit(Inst::Cmp {
            dst: over,
            cond: Cond::Gt,
            kind: CmpKind::Int,
            a: n,
            b: max,
        });
        let (clamp, counted) = (fb.block(loc), fb.block(loc));
        fb.emit(Inst::Store {
            slot: count_slot,
            src: n,
        });
        self.branch(fb, over, clamp, counted);
        fb.cur = clamp;
        fb.emit(Inst::Store {
            slot: count_slot,
            src: max,
        });
        fb.switch_to(counted);
        let zero = fb.int(0);
        fb.emit(Inst::Store {
            slot: index_slot,
            src: zero,
        });
        let (head, each, done) = (fb.block(loc), fb.block(loc), fb.block(loc));
        fb.switch_to(head);
        let i = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: i,
            slot: index_slot,
        });
        let c = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: c,
            slot: count_slot,
        });
        let more = fb.reg(Type::Bool);
        fb.emit(Inst::Cmp {
            dst: more,
            cond: Cond::Lt,
            kind: CmpKind::Int,
            a: i,
            b: c,
        });
        self.branch(fb, more, each, done);
        fb.cur = each;
        let l = fb.reg(list_ty);
        fb.emit(Inst::Load {
            dst: l,
            slot: list_slot,
        });
        let record = fb.reg(Type::Record(rid));
        fb.emit(Inst::Item {
            dst: record,
            list: l,
            index: i,
            loc,
        });
        fb.emit(Inst::Store {
            slot: var_slot,
            src: record,
        });
        let one = fb.int(1);
        let next = fb.reg(Type::Duration);
        fb.emit(Inst::Binary {
            dst: next,
            op: BinOp::AddI,
            a: i,
            b: one,
            loc,
        });
        fb.emit(Inst::Store {
            slot: index_slot,
            src: next,
        });
        self.block(fb, body);
        fb.cur_loc = loc;
        fb.term(Term::Jump(head));
        fb.cur = done;
    }

    pub(super) fn snippet(&self, span: Span) -> String {
        self.checked
            .project
            .sources
            .get(span.file)
            .map(|f| f.slice(span).to_string())
            .unwrap_or_default()
    }

    pub(super) fn play_prompt(
        &mut self,
        fb: &mut Fb,
        prompts: &[Expr],
        o: &[Opt],
        args: &mut Vec<Reg>,
    ) -> PromptIr {
        let files = prompts.iter().map(|p| self.operand(fb, p, args)).collect();
        PromptIr::Play {
            files,
            barge_in: barge(o),
        }
    }

    pub(super) fn say_prompt(&mut self, fb: &mut Fb, say: &Say, args: &mut Vec<Reg>) -> PromptIr {
        let mut translations = Vec::new();
        match &say.content {
            SayContent::Items(items) => {
                let v = self.speech(fb, items, args);
                translations.push((None, v));
            }
            SayContent::Translations(tr) => {
                for (lang, items) in tr {
                    let v = self.speech(fb, items, args);
                    translations.push((Some(lang.name.clone()), v));
                }
            }
        }
        PromptIr::Say {
            translations,
            voice: options::text(&say.options, "voice"),
            rate: options::number(&say.options, "rate").map(|n| n as u32),
            barge_in: barge(&say.options),
        }
    }

    pub(super) fn speech(
        &mut self,
        fb: &mut Fb,
        items: &[SayItem],
        args: &mut Vec<Reg>,
    ) -> Vec<SpeechIr> {
        items
            .iter()
            .map(|it| SpeechIr {
                kind: it.kind,
                value: self.operand(fb, &it.value, args),
            })
            .collect()
    }

    pub(super) fn prompts(
        &mut self,
        fb: &mut Fb,
        stmts: &[Stmt],
        args: &mut Vec<Reg>,
    ) -> Vec<PromptIr> {
        let mut out = Vec::new();
        for s in stmts {
            match &s.kind {
                StmtKind::Play {
                    prompts,
                    options: o,
                } => out.push(self.play_prompt(fb, prompts, o, args)),
                StmtKind::Say(say) => out.push(self.say_prompt(fb, say, args)),
                _ => {}
            }
        }
        out
    }
}

fn barge(o: &[Opt]) -> Option<bool> {
    if options::flag(o, "barge in") {
        Some(true)
    } else if options::flag(o, "no barge in") {
        Some(false)
    } else {
        None
    }
}

fn collect_labels(b: &ast::Block, f: &mut impl FnMut(&Ident)) {
    for s in &b.stmts {
        match &s.kind {
            StmtKind::Label(l) => f(l),
            StmtKind::If {
                then, otherwise, ..
            } => {
                collect_labels(then, f);
                if let Some(o) = otherwise {
                    collect_labels(o, f);
                }
            }
            StmtKind::Match { arms, .. } => {
                for a in arms {
                    collect_labels(&a.action, f);
                }
            }
            StmtKind::Menu(m) => {
                for c in &m.choices {
                    collect_labels(&c.action, f);
                }
                for h in &m.handlers {
                    collect_labels(&h.action, f);
                }
            }
            StmtKind::Collect { collect, .. } => {
                for h in &collect.handlers {
                    collect_labels(&h.action, f);
                }
            }
            StmtKind::Lookup { lookup, .. } => {
                if let Some(b) = &lookup.otherwise {
                    collect_labels(b, f);
                }
            }
            StmtKind::Transfer {
                otherwise: Some(b), ..
            }
            | StmtKind::Block(b) => collect_labels(b, f),
            StmtKind::ForEach { body, .. } => collect_labels(body, f),
            _ => {}
        }
    }
}
