//! Expressions: typed registers for every operator, `and`/`or`/`?:` as branches
//! (runs of cheap list tests evaluated eagerly), names read from slots, call data,
//! builtins or the predicate's environment, texts with interpolations, calls.

use dialect_lang::ast::*;
use dialect_lang::check::NameRef;
use dialect_lang::types::{Builtin, Function, Type};

use super::Lowerer;
use super::body::{Ctx, Fb};
use crate::ir::*;
use crate::value::{date_to_days, datetime_to_ms};

impl<'a> Lowerer<'a> {
    pub(super) fn expr(&mut self, fb: &mut Fb, e: &Expr) -> Reg {
        let ty = self.ty(e);
        match &e.kind {
            ExprKind::Number(n) | ExprKind::Percent(n) => fb.konst(Type::Number, Const::Num(*n)),
            ExprKind::Bool(b) => fb.konst(Type::Bool, Const::Int(i64::from(*b))),
            ExprKind::Duration(ms) => fb.konst(Type::Duration, Const::Int(*ms)),
            ExprKind::Clock(s) => fb.konst(Type::Time, Const::Int(i64::from(*s))),
            ExprKind::Date(d) => fb.konst(Type::Date, Const::Int(date_to_days(*d))),
            ExprKind::DateTime(d) => fb.konst(Type::DateTime, Const::Int(datetime_to_ms(*d))),
            ExprKind::Text(t) => self.text(fb, t),
            ExprKind::Name(n) => self.name(fb, e, n, ty),
            ExprKind::Data(f) => {
                let Some((idx, fty)) = self.model.calldata_field(&f.name) else {
                    return fb.int(0);
                };
                let r = fb.reg(fty);
                match fb.ctx {
                    Ctx::Flow => fb.emit(Inst::LoadData {
                        dst: r,
                        field: idx as u32,
                    }),
                    Ctx::Pred => {
                        let i = fb.env_index(EnvVar::Data(idx as u32), fty);
                        fb.emit(Inst::Env { dst: r, index: i });
                    }
                }
                r
            }
            ExprKind::Field(base, f) => {
                let rec = self.expr(fb, base);
                let Type::Record(rid) = self.ty(base) else {
                    return fb.int(0);
                };
                let idx = self.model.records[rid.0 as usize]
                    .field(&f.name)
                    .map(|(i, _)| i)
                    .unwrap_or(0);
                let r = fb.reg(ty);
                let loc = self.loc(f.span);
                fb.emit(Inst::Field {
                    dst: r,
                    record: rec,
                    field: idx as u32,
                    loc,
                });
                r
            }
            ExprKind::Call(f, args) => self.call(fb, e, f, args, ty),
            ExprKind::List(_) => fb.int(0),
            ExprKind::Unary(op, x) => {
                let xt = self.ty(x);
                let a = self.expr(fb, x);
                let r = fb.reg(ty);
                let op = match (op, xt) {
                    (UnaryOp::Neg, Type::Number) => UnOp::NegF,
                    (UnaryOp::Neg, _) => UnOp::NegI,
                    (UnaryOp::Not, _) => UnOp::Not,
                };
                fb.emit(Inst::Unary { dst: r, op, src: a });
                r
            }
            ExprKind::Binary(op, a, b) => self.binary(fb, e, *op, a, b, ty),
            ExprKind::In {
                value,
                target,
                negated,
            } => {
                let r = match target {
                    InTarget::List { list, category } => {
                        let v = self.expr(fb, value);
                        let Some((li, l)) = self.list_index(&list.name) else {
                            return fb.int(0);
                        };
                        let cat = category.as_ref().and_then(|c| {
                            l.categories
                                .iter()
                                .position(|x| x.name == c.name)
                                .map(|i| i as u32)
                        });
                        let r = fb.reg(Type::Bool);
                        fb.emit(Inst::InList {
                            dst: r,
                            value: v,
                            list: li,
                            category: cat,
                        });
                        r
                    }
                    InTarget::Values(items, _) => {
                        let v = self.expr(fb, value);
                        let vt = self.ty(value);
                        let result = fb.reg(Type::Bool);
                        let zero = fb.int(0);
                        fb.emit(Inst::Copy {
                            dst: result,
                            src: zero,
                        });
                        let done = fb.block(fb.cur_loc);
                        for it in items {
                            let x = self.expr(fb, it);
                            let c = fb.reg(Type::Bool);
                            fb.emit(Inst::Cmp {
                                dst: c,
                                cond: Cond::Eq,
                                kind: cmp_kind(vt),
                                a: v,
                                b: x,
                            });
                            let yes = fb.block(fb.cur_loc);
                            let next = fb.block(fb.cur_loc);
                            let cur = fb.cur;
                            fb.body.blocks[cur as usize].term = Term::Branch {
                                cond: c,
                                then: yes,
                                otherwise: next,
                            };
                            fb.terminated[cur as usize] = true;
                            fb.cur = yes;
                            let one = fb.int(1);
                            fb.emit(Inst::Copy {
                                dst: result,
                                src: one,
                            });
                            fb.term(Term::Jump(done));
                            fb.cur = next;
                        }
                        fb.switch_to(done);
                        result
                    }
                };
                if *negated {
                    let n = fb.reg(Type::Bool);
                    fb.emit(Inst::Unary {
                        dst: n,
                        op: UnOp::Not,
                        src: r,
                    });
                    n
                } else {
                    r
                }
            }
            ExprKind::Cond(c, a, b) => {
                let cond = self.expr(fb, c);
                let result = fb.reg(ty);
                let (then, other, join) = (
                    fb.block(fb.cur_loc),
                    fb.block(fb.cur_loc),
                    fb.block(fb.cur_loc),
                );
                self.branch(fb, cond, then, other);
                fb.cur = then;
                let x = self.expr(fb, a);
                fb.emit(Inst::Copy {
                    dst: result,
                    src: x,
                });
                fb.term(Term::Jump(join));
                fb.cur = other;
                let y = self.expr(fb, b);
                fb.emit(Inst::Copy {
                    dst: result,
                    src: y,
                });
                fb.switch_to(join);
                result
            }
        }
    }

    pub(super) fn branch(&mut self, fb: &mut Fb, cond: Reg, then: BlockId, otherwise: BlockId) {
        let cur = fb.cur as usize;
        fb.body.blocks[cur].term = Term::Branch {
            cond,
            then,
            otherwise,
        };
        fb.terminated[cur] = true;
    }

    pub(super) fn text(&mut self, fb: &mut Fb, t: &Text) -> Reg {
        if let Some(s) = t.as_plain() {
            let sym = self.intern(&s);
            return fb.konst(Type::Text, Const::Text(sym));
        }
        let mut parts = Vec::new();
        let mut args = Vec::new();
        for p in &t.parts {
            match p {
                TextPart::Lit(s) => parts.push(FormatPart::Lit(s.clone())),
                TextPart::Expr(x) => {
                    let xt = self.ty(x);
                    let r = self.expr(fb, x);
                    parts.push(FormatPart::Arg(args.len() as u32, xt));
                    args.push(r);
                }
            }
        }
        let template = self.ir.formats.len() as u32;
        self.ir.formats.push(FormatTemplate { parts });
        let r = fb.reg(Type::Text);
        fb.emit(Inst::Format {
            dst: r,
            template,
            args,
        });
        r
    }

    pub(super) fn name(&mut self, fb: &mut Fb, e: &Expr, n: &Ident, ty: Type) -> Reg {
        match self.model.names.get(&e.id).copied() {
            Some(NameRef::Local) => {
                let s = fb.slot(&n.name, ty);
                let r = fb.reg(ty);
                fb.emit(Inst::Load { dst: r, slot: s });
                r
            }
            Some(NameRef::Const) => {
                let Some((r, _)) = self.model.consts.get(&n.name) else {
                    return fb.int(0);
                };
                match self.item(*r) {
                    Item::Const(c) => self.expr(fb, &c.value),
                    _ => fb.int(0),
                }
            }
            Some(NameRef::Builtin(b)) => {
                let r = fb.reg(b.ty());
                match (fb.ctx, b) {
                    (Ctx::Flow, Builtin::Caller | Builtin::Called | Builtin::Trunk) => {
                        fb.emit(Inst::Builtin { dst: r, which: b })
                    }
                    _ => {
                        let i = fb.env_index(EnvVar::Builtin(b), b.ty());
                        fb.emit(Inst::Env { dst: r, index: i });
                    }
                }
                r
            }
            Some(NameRef::Field) => {
                let idx = fb.fields.iter().position(|f| *f == n.name).unwrap_or(0) as u32;
                let r = fb.reg(ty);
                let i = fb.env_index(EnvVar::Field(idx), ty);
                fb.emit(Inst::Env { dst: r, index: i });
                r
            }
            Some(NameRef::Calendar) => {
                let idx = self.calendar_index(&n.name).unwrap_or(0);
                fb.int(i64::from(idx))
            }
            None => fb.int(0),
        }
    }

    pub(super) fn call(
        &mut self,
        fb: &mut Fb,
        e: &Expr,
        f: &Ident,
        args: &[Expr],
        ty: Type,
    ) -> Reg {
        let Some(func) = Function::from_name(&f.name) else {
            return fb.int(0);
        };
        if matches!(func, Function::Min | Function::Max) && args.len() == 2 {
            let at = self.ty(&args[0]);
            let a = self.expr(fb, &args[0]);
            let b = self.expr(fb, &args[1]);
            let c = fb.reg(Type::Bool);
            fb.emit(Inst::Cmp {
                dst: c,
                cond: if func == Function::Min {
                    Cond::Le
                } else {
                    Cond::Ge
                },
                kind: cmp_kind(at),
                a,
                b,
            });
            let r = fb.reg(at);
            let (x, y, join) = (
                fb.block(fb.cur_loc),
                fb.block(fb.cur_loc),
                fb.block(fb.cur_loc),
            );
            self.branch(fb, c, x, y);
            fb.cur = x;
            fb.emit(Inst::Copy { dst: r, src: a });
            fb.term(Term::Jump(join));
            fb.cur = y;
            fb.emit(Inst::Copy { dst: r, src: b });
            fb.switch_to(join);
            return r;
        }
        let regs: Vec<Reg> = args.iter().map(|a| self.expr(fb, a)).collect();
        let r = fb.reg(if func.result() == Type::Number {
            Type::Number
        } else {
            ty
        });
        let loc = self.loc(e.span);
        fb.emit(Inst::Call {
            dst: r,
            func,
            args: regs,
            loc,
        });
        r
    }

    /// Whether evaluating `e` is cheap and cannot fail or have effects
    /// (constants, reads, comparisons without text ordering, arithmetic that
    /// cannot divide by zero), so it may run even where `and`/`or` would
    /// skip it: the condition then needs no branch.
    pub(super) fn cheap(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Number(_)
            | ExprKind::Percent(_)
            | ExprKind::Bool(_)
            | ExprKind::Duration(_)
            | ExprKind::Clock(_)
            | ExprKind::Date(_)
            | ExprKind::DateTime(_)
            | ExprKind::Data(_) => true,
            ExprKind::Text(t) => t.as_plain().is_some(),
            ExprKind::Name(_) => match self.model.names.get(&e.id).copied() {
                Some(NameRef::Local | NameRef::Builtin(_) | NameRef::Field) => true,
                Some(NameRef::Const) => false,
                _ => false,
            },
            ExprKind::Unary(_, x) => self.cheap(x),
            // List membership cannot fail (a table lookup, remembered per text).
            ExprKind::In {
                value,
                target: InTarget::List { .. },
                ..
            } => self.cheap(value),
            ExprKind::Binary(op, a, b) => {
                let operands = self.cheap(a) && self.cheap(b);
                match op {
                    BinaryOp::And | BinaryOp::Or => operands,
                    BinaryOp::Eq | BinaryOp::Ne => operands,
                    BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                        operands && self.ty(a) != Type::Text
                    }
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => {
                        operands && self.ty(a) != Type::Text
                    }
                    BinaryOp::Div => {
                        operands
                            && matches!(&b.kind, ExprKind::Number(n) | ExprKind::Percent(n) if *n != 0.0)
                    }
                }
            }
            _ => false,
        }
    }

    /// A run of cheap filters, all evaluated and combined with `And`. Those
    /// that test list membership come first: their table lookups may call a
    /// helper (the first time a text is seen), and native code then keeps
    /// nothing else alive across the call.
    pub(super) fn run_of_filters(&mut self, fb: &mut Fb, run: &[&Expr], loc: LocId) -> Reg {
        let (lists, rest): (Vec<&Expr>, Vec<&Expr>) =
            run.iter().partition(|f| tests_list_membership(f));
        let mut acc: Option<Reg> = None;
        for f in lists.into_iter().chain(rest) {
            let r = self.expr(fb, f);
            acc = Some(match acc {
                Some(a) => Self::eager(fb, BinOp::And, a, r, loc),
                None => r,
            });
        }
        acc.unwrap_or_else(|| fb.int(1))
    }

    /// Both boolean values combined without a branch.
    pub(super) fn eager(fb: &mut Fb, op: BinOp, a: Reg, b: Reg, loc: LocId) -> Reg {
        let r = fb.reg(Type::Bool);
        fb.emit(Inst::Binary {
            dst: r,
            op,
            a,
            b,
            loc,
        });
        r
    }

    pub(super) fn binary(
        &mut self,
        fb: &mut Fb,
        e: &Expr,
        op: BinaryOp,
        a: &Expr,
        b: &Expr,
        ty: Type,
    ) -> Reg {
        if matches!(op, BinaryOp::And | BinaryOp::Or) && self.cheap(b) {
            let x = self.expr(fb, a);
            let y = self.expr(fb, b);
            let bop = if op == BinaryOp::And {
                BinOp::And
            } else {
                BinOp::Or
            };
            return Self::eager(fb, bop, x, y, self.loc(e.span));
        }
        if matches!(op, BinaryOp::And | BinaryOp::Or) {
            let result = fb.reg(Type::Bool);
            let x = self.expr(fb, a);
            fb.emit(Inst::Copy {
                dst: result,
                src: x,
            });
            let (rhs, join) = (fb.block(fb.cur_loc), fb.block(fb.cur_loc));
            if op == BinaryOp::And {
                self.branch(fb, x, rhs, join);
            } else {
                self.branch(fb, x, join, rhs);
            }
            fb.cur = rhs;
            let y = self.expr(fb, b);
            fb.emit(Inst::Copy {
                dst: result,
                src: y,
            });
            fb.switch_to(join);
            return result;
        }
        let (ta, tb) = (self.ty(a), self.ty(b));
        let x = self.expr(fb, a);
        let y = self.expr(fb, b);
        let loc = self.loc(e.span);
        let cond = match op {
            BinaryOp::Eq => Some(Cond::Eq),
            BinaryOp::Ne => Some(Cond::Ne),
            BinaryOp::Lt => Some(Cond::Lt),
            BinaryOp::Le => Some(Cond::Le),
            BinaryOp::Gt => Some(Cond::Gt),
            BinaryOp::Ge => Some(Cond::Ge),
            _ => None,
        };
        if let Some(cond) = cond {
            let r = fb.reg(Type::Bool);
            fb.emit(Inst::Cmp {
                dst: r,
                cond,
                kind: cmp_kind(ta),
                a: x,
                b: y,
            });
            return r;
        }
        use Type::*;
        let (bop, swap) = match (op, ta, tb) {
            (BinaryOp::Add, Text, Text) => {
                let r = fb.reg(Text);
                fb.emit(Inst::Concat { dst: r, a: x, b: y });
                return r;
            }
            (BinaryOp::Add, Number, Number) => (BinOp::AddF, false),
            (BinaryOp::Add, Duration, Duration) => (BinOp::AddI, false),
            (BinaryOp::Add, Date, Duration) => (BinOp::DateAddMs, false),
            (BinaryOp::Add, Duration, Date) => (BinOp::DateAddMs, true),
            (BinaryOp::Add, Time, Duration) => (BinOp::TimeAddMs, false),
            (BinaryOp::Add, Duration, Time) => (BinOp::TimeAddMs, true),
            (BinaryOp::Add, DateTime, Duration) => (BinOp::AddI, false),
            (BinaryOp::Add, Duration, DateTime) => (BinOp::AddI, true),
            (BinaryOp::Add, Date, Time) => (BinOp::DateAtTime, false),
            (BinaryOp::Add, Time, Date) => (BinOp::DateAtTime, true),
            (BinaryOp::Sub, DateTime, Duration) => (BinOp::SubI, false),
            (BinaryOp::Sub, DateTime, DateTime) => (BinOp::SubI, false),
            (BinaryOp::Sub, Number, Number) => (BinOp::SubF, false),
            (BinaryOp::Sub, Duration, Duration) => (BinOp::SubI, false),
            (BinaryOp::Sub, Date, Duration) => (BinOp::DateSubMs, false),
            (BinaryOp::Sub, Date, Date) => (BinOp::DateDiff, false),
            (BinaryOp::Sub, Time, Time) => (BinOp::TimeDiff, false),
            (BinaryOp::Sub, Time, Duration) => (BinOp::TimeSubMs, false),
            (BinaryOp::Mul, Number, Number) => (BinOp::MulF, false),
            (BinaryOp::Mul, Duration, Number) => (BinOp::MulIF, false),
            (BinaryOp::Mul, Number, Duration) => (BinOp::MulIF, true),
            (BinaryOp::Div, Number, Number) => (BinOp::DivF, false),
            (BinaryOp::Div, Duration, Number) => (BinOp::DivIF, false),
            (BinaryOp::Div, Duration, Duration) => (BinOp::DivII, false),
            _ => return fb.int(0),
        };
        let r = fb.reg(ty);
        let (a, b) = if swap { (y, x) } else { (x, y) };
        fb.emit(Inst::Binary {
            dst: r,
            op: bop,
            a,
            b,
            loc,
        });
        r
    }

    /// An operand for a command: a constant text, or a new argument register.
    pub(super) fn operand(&mut self, fb: &mut Fb, e: &Expr, args: &mut Vec<Reg>) -> Operand {
        if let ExprKind::Text(t) = &e.kind
            && let Some(s) = t.as_plain()
        {
            return Operand::Text(self.intern(&s));
        }
        let ty = self.ty(e);
        let r = self.expr(fb, e);
        args.push(r);
        Operand::Arg((args.len() - 1) as u32, ty)
    }
}

/// Whether `e` tests list membership anywhere (`x in some_list`).
fn tests_list_membership(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::In {
            target: InTarget::List { .. },
            ..
        } => true,
        ExprKind::In { value, .. } => tests_list_membership(value),
        ExprKind::Unary(_, x) => tests_list_membership(x),
        ExprKind::Binary(_, a, b) => tests_list_membership(a) || tests_list_membership(b),
        _ => false,
    }
}

pub(super) fn cmp_kind(t: Type) -> CmpKind {
    match t {
        Type::Number => CmpKind::Num,
        Type::Text | Type::Recording => CmpKind::Text,
        _ => CmpKind::Int,
    }
}
