//! The steps with several outcomes: menus, digit collection and lookups. Each
//! keeps its attempt counter in a hidden slot and picks, at compile time, the
//! no-input / no-match / failure handler for every attempt.

use dialect_lang::ast::*;
use dialect_lang::options;
use dialect_lang::types::{Function, Type};

use super::body::Fb;
use super::{DEFAULT_DIGIT_TIMEOUT_MS, DEFAULT_RETRIES, DEFAULT_TIMEOUT_MS, Lowerer};
use crate::ir::*;

impl<'a> Lowerer<'a> {
    pub(super) fn input_options(&self, o: &[Opt]) -> InputOptions {
        InputOptions {
            timeout_ms: options::duration_ms(o, "timeout").unwrap_or(DEFAULT_TIMEOUT_MS),
            digit_timeout_ms: options::duration_ms(o, "digit timeout")
                .unwrap_or(DEFAULT_DIGIT_TIMEOUT_MS),
            retries: options::number(o, "retries")
                .map(|n| n as u32)
                .unwrap_or(DEFAULT_RETRIES)
                .max(1),
            barge_in: !options::flag(o, "no barge in"),
            speech: options::flag(o, "speech"),
            confidence: options::number(o, "confidence").unwrap_or(0.5),
        }
    }

    /// The shared tail of menus and collects: `no input` / `no match` handling with
    /// the attempt counter, handler choice per attempt, final handlers.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn failure_paths(
        &mut self,
        fb: &mut Fb,
        handlers: &[InputHandler],
        attempt_slot: SlotId,
        retries: u32,
        prompt_block: BlockId,
        after: BlockId,
        noinput: BlockId,
        nomatch: BlockId,
    ) {
        let loc = fb.cur_loc;
        // The retry block: attempt += 1, ask again.
        let retry = fb.block(loc);
        fb.cur = retry;
        let a = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: a,
            slot: attempt_slot,
        });
        let one = fb.int(1);
        let a2 = fb.reg(Type::Duration);
        fb.emit(Inst::Binary {
            dst: a2,
            op: BinOp::AddI,
            a,
            b: one,
            loc,
        });
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: a2,
        });
        fb.term(Term::Jump(prompt_block));
        for (event, entry) in [
            (InputEvent::NoInput, noinput),
            (InputEvent::NoMatch, nomatch),
        ] {
            fb.cur = entry;
            let a = fb.reg(Type::Duration);
            fb.emit(Inst::Load {
                dst: a,
                slot: attempt_slot,
            });
            let mut cases = Vec::new();
            for k in 1..retries {
                let handler = handlers
                    .iter()
                    .filter(|h| h.event == event)
                    .filter_map(|h| match h.count {
                        HandlerCount::Nth(n) if n <= k => Some((n, h)),
                        HandlerCount::Any => Some((0, h)),
                        _ => None,
                    })
                    .max_by_key(|(n, _)| *n)
                    .map(|(_, h)| h);
                let b = fb.block(loc);
                cases.push((i64::from(k), b));
                let saved = fb.cur;
                fb.cur = b;
                if let Some(h) = handler {
                    fb.repeat.push(retry);
                    self.block(fb, &h.action);
                    fb.repeat.pop();
                }
                fb.term(Term::Jump(retry));
                fb.cur = saved;
            }
            let final_block = fb.block(loc);
            let cur = fb.cur as usize;
            fb.body.blocks[cur].term = Term::Switch {
                value: a,
                cases,
                default: final_block,
            };
            fb.terminated[cur] = true;
            fb.cur = final_block;
            if let Some(h) = handlers
                .iter()
                .find(|h| h.event == event && h.count == HandlerCount::Final)
            {
                fb.repeat.push(retry);
                self.block(fb, &h.action);
                fb.repeat.pop();
            }
            fb.term(Term::Jump(after));
        }
    }

    pub(super) fn menu(&mut self, fb: &mut Fb, m: &Menu, span: Span) {
        let loc = self.loc(span);
        let opts = self.input_options(&m.options);
        let attempt_slot = fb.hidden_slot("attempt", Type::Duration);
        let one = fb.int(1);
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: one,
        });
        let prompt_block = fb.block(loc);
        fb.switch_to(prompt_block);
        let mut args = Vec::new();
        let prompts = self.prompts(fb, &m.prompts, &mut args);
        let at = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: at,
            slot: attempt_slot,
        });
        args.push(at);
        let attempt = Operand::Arg((args.len() - 1) as u32, Type::Duration);
        let keys = m
            .choices
            .iter()
            .map(|c| {
                c.patterns
                    .iter()
                    .filter_map(|p| match p {
                        ChoicePattern::Keys(k, _) => Some(k.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let phrases: Vec<Vec<String>> = m
            .choices
            .iter()
            .map(|c| {
                c.patterns
                    .iter()
                    .filter_map(|p| match p {
                        ChoicePattern::Phrase(t) => Some(t.plain_lossy()),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let speech = opts.speech || phrases.iter().any(|p| !p.is_empty());
        let kind = TemplateKind::Menu {
            name: m.name.name.clone(),
            prompts,
            keys,
            phrases,
            options: InputOptions {
                speech,
                ..opts.clone()
            },
            attempt,
        };
        self.suspend(fb, m.name.name.clone(), span, kind, args);
        let k = self.input_kind(fb);
        let (choice, noinput, nomatch, after) =
            (fb.block(loc), fb.block(loc), fb.block(loc), fb.block(loc));
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: k,
            cases: vec![
                (InputKind::Choice as i64, choice),
                (InputKind::NoInput as i64, noinput),
            ],
            default: nomatch,
        };
        fb.terminated[cur] = true;
        fb.cur = choice;
        let idx = fb.reg(Type::Duration);
        fb.emit(Inst::Input {
            dst: idx,
            what: InputField::Choice,
        });
        let mut cases = Vec::new();
        let mut bodies = Vec::new();
        for (i, _) in m.choices.iter().enumerate() {
            let b = fb.block(loc);
            cases.push((i as i64, b));
            bodies.push(b);
        }
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: idx,
            cases,
            default: nomatch,
        };
        fb.terminated[cur] = true;
        for (c, b) in m.choices.iter().zip(bodies) {
            fb.cur = b;
            fb.repeat.push(prompt_block);
            self.block(fb, &c.action);
            fb.repeat.pop();
            fb.term(Term::Jump(after));
        }
        self.failure_paths(
            fb,
            &m.handlers,
            attempt_slot,
            opts.retries,
            prompt_block,
            after,
            noinput,
            nomatch,
        );
        fb.cur = after;
    }

    pub(super) fn collect(&mut self, fb: &mut Fb, target: &Ident, c: &Collect, span: Span) {
        let loc = self.loc(span);
        let opts = self.input_options(&c.options);
        let min = options::number(&c.options, "min").unwrap_or(1.0) as u32;
        let max = options::number(&c.options, "max").unwrap_or(16.0) as u32;
        let attempt_slot = fb.hidden_slot("attempt", Type::Duration);
        let one = fb.int(1);
        fb.emit(Inst::Store {
            slot: attempt_slot,
            src: one,
        });
        let prompt_block = fb.block(loc);
        fb.switch_to(prompt_block);
        let mut args = Vec::new();
        let prompts = self.prompts(fb, &c.prompts, &mut args);
        let at = fb.reg(Type::Duration);
        fb.emit(Inst::Load {
            dst: at,
            slot: attempt_slot,
        });
        args.push(at);
        let kind = TemplateKind::Collect {
            name: target.name.clone(),
            prompts,
            min,
            max,
            terminator: options::key(&c.options, "terminator"),
            options: opts.clone(),
            mask: options::flag(&c.options, "mask"),
            attempt: Operand::Arg((args.len() - 1) as u32, Type::Duration),
        };
        self.suspend(fb, format!("collect {target}"), span, kind, args);
        let k = self.input_kind(fb);
        let (digits, noinput, nomatch, after) =
            (fb.block(loc), fb.block(loc), fb.block(loc), fb.block(loc));
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Switch {
            value: k,
            cases: vec![
                (InputKind::Digits as i64, digits),
                (InputKind::NoInput as i64, noinput),
            ],
            default: nomatch,
        };
        fb.terminated[cur] = true;
        fb.cur = digits;
        let d = fb.reg(Type::Text);
        fb.emit(Inst::Input {
            dst: d,
            what: InputField::Text,
        });
        let slot = fb.slot(&target.name, Type::Text);
        fb.emit(Inst::Store { slot, src: d });
        // Length within min..max, then every `valid when`.
        let len = fb.reg(Type::Number);
        fb.emit(Inst::Call {
            dst: len,
            func: Function::Len,
            args: vec![d],
            loc,
        });
        let lo = fb.konst(Type::Number, Const::Num(f64::from(min)));
        let hi = fb.konst(Type::Number, Const::Num(f64::from(max)));
        let (c1, c2) = (fb.reg(Type::Bool), fb.reg(Type::Bool));
        fb.emit(Inst::Cmp {
            dst: c1,
            cond: Cond::Ge,
            kind: CmpKind::Num,
            a: len,
            b: lo,
        });
        let next = fb.block(loc);
        self.branch(fb, c1, next, nomatch);
        fb.cur = next;
        fb.emit(Inst::Cmp {
            dst: c2,
            cond: Cond::Le,
            kind: CmpKind::Num,
            a: len,
            b: hi,
        });
        let next = fb.block(loc);
        self.branch(fb, c2, next, nomatch);
        fb.cur = next;
        for v in &c.valid {
            let r = self.expr(fb, v);
            let next = fb.block(loc);
            self.branch(fb, r, next, nomatch);
            fb.cur = next;
        }
        fb.term(Term::Jump(after));
        self.failure_paths(
            fb,
            &c.handlers,
            attempt_slot,
            opts.retries,
            prompt_block,
            after,
            noinput,
            nomatch,
        );
        fb.cur = after;
    }

    pub(super) fn lookup(&mut self, fb: &mut Fb, target: &Ident, l: &Lookup, span: Span) {
        let loc = self.loc(span);
        let Some(si) = self
            .ir
            .services
            .iter()
            .position(|s| s.name == l.service.name)
        else {
            return;
        };
        let Some(oi) = self.ir.services[si]
            .operations
            .iter()
            .position(|o| o.name == l.operation.name)
        else {
            return;
        };
        let op = &self.ir.services[si].operations[oi];
        let answer = if op.list {
            Type::RecordList(op.record)
        } else {
            Type::Record(op.record)
        };
        let timeout_ms =
            options::duration_ms(&l.options, "timeout").unwrap_or(self.ir.services[si].timeout_ms);
        let args: Vec<Reg> = l.args.iter().map(|a| self.expr(fb, a)).collect();
        self.suspend(
            fb,
            format!("lookup {}.{}", l.service, l.operation),
            span,
            TemplateKind::Lookup {
                service: si as u32,
                operation: oi as u32,
                timeout_ms,
            },
            args,
        );
        self.store_answer(fb, target, answer, l.otherwise.as_ref(), loc);
    }

    /// After a suspension a record answers (a service lookup, a workorder
    /// lookup): the record into `target`'s variable, or an empty value and
    /// the `otherwise` block when none came (nothing found, a failure).
    pub(super) fn store_answer(
        &mut self,
        fb: &mut Fb,
        target: &Ident,
        answer: Type,
        otherwise: Option<&Block>,
        loc: LocId,
    ) {
        let slot = fb.slot(&target.name, answer);
        let (ok, failed, join) = (fb.block(loc), fb.block(loc), fb.block(loc));
        let c = self.input_is(fb, InputKind::Record);
        self.branch(fb, c, ok, failed);
        fb.cur = ok;
        let r = fb.reg(answer);
        fb.emit(Inst::Input {
            dst: r,
            what: InputField::Record,
        });
        fb.emit(Inst::Store { slot, src: r });
        fb.term(Term::Jump(join));
        fb.cur = failed;
        let none = fb.konst(answer, Const::Int(0));
        fb.emit(Inst::Store { slot, src: none });
        if let Some(b) = otherwise {
            self.block(fb, b);
        }
        fb.switch_to(join);
    }
}
