//! Instructions: constants, loads and stores, arithmetic with the same rounding
//! and division checks as the interpreter, comparisons (text equality as a
//! symbol compare), list membership, and calls to the runtime helpers for the
//! rest.

use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{self as cir, InstBuilder, types};

use super::{DAY_MS, Kind, Translator, trusted};
use crate::ctx::{ExecCtx, InputRegs};
use crate::ir::{
    BinOp, Builtin, CmpKind, Cond, Const, Function, InputField, Inst, LocId, Reg, UnOp,
};
use crate::jit::helpers::Helper;

impl Translator<'_, '_> {
    pub(super) fn inst(&mut self, inst: &Inst) {
        match inst {
            Inst::Const { dst, value } => {
                let v = match value {
                    Const::Num(n) => self.b.ins().f64const(Ieee64::with_bits(n.to_bits())),
                    Const::Int(i) => self.iconst64(*i),
                    Const::Text(s) => self.iconst64(i64::from(*s)),
                };
                self.def(*dst, v);
            }
            Inst::Copy { dst, src } => {
                let v = if self.var_types.get(*src as usize) == Some(&types::F64) {
                    self.get_f(*src)
                } else {
                    self.get_i(*src)
                };
                self.def(*dst, v);
            }
            Inst::Load { dst, slot } => {
                let ty = self
                    .var_types
                    .get(*dst as usize)
                    .copied()
                    .unwrap_or(types::I64);
                let v = match self.kind {
                    Kind::Flow => {
                        let mem = self.mem;
                        self.b
                            .ins()
                            .load(ty, trusted(), mem, (*slot as i64 * 8) as i32)
                    }
                    Kind::Predicate | Kind::Batch => self.iconst64(0),
                };
                self.def(*dst, v);
            }
            Inst::Store { slot, src } => {
                if self.kind == Kind::Flow {
                    let v = self.get_i(*src);
                    let mem = self.mem;
                    self.b
                        .ins()
                        .store(trusted(), v, mem, (*slot as i64 * 8) as i32);
                }
            }
            Inst::LoadData { dst, field } => {
                let ctx = self.ctx;
                let f = self.iconst32(*field);
                let v = self.call1(Helper::LoadData, &[ctx, f]);
                self.def(*dst, v);
            }
            Inst::StoreData { field, src } => {
                let ctx = self.ctx;
                let f = self.iconst32(*field);
                let v = self.get_i(*src);
                self.call(Helper::StoreData, &[ctx, f, v]);
            }
            Inst::Builtin { dst, which } => {
                let off = match which {
                    Builtin::Caller => Some(offset_of!(ExecCtx, caller)),
                    Builtin::Called => Some(offset_of!(ExecCtx, called)),
                    Builtin::Trunk => Some(offset_of!(ExecCtx, trunk)),
                    _ => None,
                };
                let v = match off {
                    Some(off) => {
                        let ctx = self.ctx;
                        self.b.ins().uload32(trusted(), ctx, off as i32)
                    }
                    None => self.iconst64(0),
                };
                self.def(*dst, v);
            }
            Inst::Env { dst, index } => {
                let ty = self
                    .var_types
                    .get(*dst as usize)
                    .copied()
                    .unwrap_or(types::I64);
                let v = match self.kind {
                    Kind::Predicate | Kind::Batch => {
                        let mem = self.mem;
                        self.b.ins().load(
                            ty,
                            trusted().with_readonly(),
                            mem,
                            (*index as i64 * 8) as i32,
                        )
                    }
                    Kind::Flow => self.iconst64(0),
                };
                self.def(*dst, v);
            }
            Inst::ItemCount { dst, list } => {
                let ctx = self.ctx;
                let l = self.get_i(*list);
                let v = self.call1(Helper::ItemCount, &[ctx, l]);
                self.def(*dst, v);
            }
            Inst::Item {
                dst,
                list,
                index,
                loc,
            } => {
                let ctx = self.ctx;
                let l = self.get_i(*list);
                let i = self.get_i(*index);
                let at = self.iconst32(*loc);
                let out = self.out_addr();
                let failed = self.call1(Helper::Item, &[ctx, l, i, at, out]);
                self.check_status(failed);
                let v = self.load_out();
                self.def(*dst, v);
            }
            Inst::Field {
                dst,
                record,
                field,
                loc,
            } => {
                let ctx = self.ctx;
                let rec = self.get_i(*record);
                let f = self.iconst32(*field);
                let l = self.iconst32(*loc);
                let out = self.out_addr();
                let failed = self.call1(Helper::Field, &[ctx, rec, f, l, out]);
                self.check_status(failed);
                let v = self.load_out();
                self.def(*dst, v);
            }
            Inst::Unary { dst, op, src } => {
                let v = match op {
                    UnOp::NegF => {
                        let x = self.get_f(*src);
                        self.b.ins().fneg(x)
                    }
                    UnOp::NegI => {
                        let x = self.get_i(*src);
                        self.b.ins().ineg(x)
                    }
                    UnOp::Not => {
                        let x = self.get_i(*src);
                        let c = self.b.ins().icmp_imm_s(IntCC::Equal, x, 0);
                        self.bool_to_i64(c)
                    }
                };
                self.def(*dst, v);
            }
            Inst::Binary { dst, op, a, b, loc } => {
                let v = self.binary(*op, *a, *b, *loc);
                self.def(*dst, v);
            }
            Inst::Cmp {
                dst,
                cond,
                kind,
                a,
                b,
            } => {
                let v = self.cmp(*cond, *kind, *a, *b);
                self.def(*dst, v);
            }
            Inst::Concat { dst, a, b } => {
                let ctx = self.ctx;
                let x = self.get_i(*a);
                let y = self.get_i(*b);
                let v = self.call1(Helper::Concat, &[ctx, x, y]);
                self.def(*dst, v);
            }
            Inst::Format {
                dst,
                template,
                args,
            } => {
                let (addr, len) = self.pass_args(args);
                let ctx = self.ctx;
                let t = self.iconst32(*template);
                let v = self.call1(Helper::Format, &[ctx, t, addr, len]);
                self.def(*dst, v);
            }
            Inst::InList {
                dst,
                value,
                list,
                category,
            } => {
                let v = self.in_list(*value, *list, *category);
                self.def(*dst, v);
            }
            Inst::Call {
                dst,
                func,
                args,
                loc,
            } => {
                let v = self.function(*func, args, *loc);
                self.def(*dst, v);
            }
            Inst::Input { dst, what } => {
                let field = match what {
                    InputField::Kind => offset_of!(InputRegs, kind),
                    InputField::Choice => offset_of!(InputRegs, choice),
                    InputField::Text => offset_of!(InputRegs, text),
                    InputField::Record => offset_of!(InputRegs, record),
                    InputField::Returned => offset_of!(InputRegs, returned),
                };
                let off = offset_of!(ExecCtx, input) + field;
                let ctx = self.ctx;
                let v = self.b.ins().load(types::I64, trusted(), ctx, off as i32);
                self.def(*dst, v);
            }
            Inst::SetLanguage { language } => {
                let ctx = self.ctx;
                let l = self.iconst32(*language);
                self.b
                    .ins()
                    .store(trusted(), l, ctx, offset_of!(ExecCtx, language) as i32);
            }
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, a: Reg, b: Reg, loc: LocId) -> cir::Value {
        match op {
            BinOp::AddF | BinOp::SubF | BinOp::MulF | BinOp::DivF => {
                let x = self.get_f(a);
                let y = self.get_f(b);
                match op {
                    BinOp::AddF => self.b.ins().fadd(x, y),
                    BinOp::SubF => self.b.ins().fsub(x, y),
                    BinOp::MulF => self.b.ins().fmul(x, y),
                    _ => {
                        if !self.nonzero_constant(y) {
                            let zero = self.b.ins().f64const(Ieee64::with_bits(0));
                            let z = self.b.ins().fcmp(FloatCC::Equal, y, zero);
                            self.guard_division(z, 0, loc);
                        }
                        self.b.ins().fdiv(x, y)
                    }
                }
            }
            BinOp::MulIF | BinOp::DivIF => {
                let x = self.get_i(a);
                let y = self.get_f(b);
                let xf = self.b.ins().fcvt_from_sint(types::F64, x);
                let r = if op == BinOp::MulIF {
                    self.b.ins().fmul(xf, y)
                } else {
                    let zero = self.b.ins().f64const(Ieee64::with_bits(0));
                    let z = self.b.ins().fcmp(FloatCC::Equal, y, zero);
                    self.guard_division(z, 0, loc);
                    self.b.ins().fdiv(xf, y)
                };
                self.b.ins().fcvt_to_sint_sat(types::I64, r)
            }
            BinOp::DivII => {
                let x = self.get_i(a);
                let y = self.get_i(b);
                let z = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                self.guard_division(z, 1, loc);
                let xf = self.b.ins().fcvt_from_sint(types::F64, x);
                let yf = self.b.ins().fcvt_from_sint(types::F64, y);
                self.b.ins().fdiv(xf, yf)
            }
            BinOp::And | BinOp::Or => {
                let x = self.get_i(a);
                let y = self.get_i(b);
                if self.zero_or_one.contains(&x) && self.zero_or_one.contains(&y) {
                    // Both are 0 or 1 already: one bitwise instruction.
                    let v = if op == BinOp::And {
                        self.b.ins().band(x, y)
                    } else {
                        self.b.ins().bor(x, y)
                    };
                    self.zero_or_one.insert(v);
                    return v;
                }
                let x = self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0);
                let y = self.b.ins().icmp_imm_s(IntCC::NotEqual, y, 0);
                let c = if op == BinOp::And {
                    self.b.ins().band(x, y)
                } else {
                    self.b.ins().bor(x, y)
                };
                self.bool_to_i64(c)
            }
            _ => {
                let x = self.get_i(a);
                let y = self.get_i(b);
                match op {
                    BinOp::AddI => self.b.ins().iadd(x, y),
                    BinOp::SubI => self.b.ins().isub(x, y),
                    BinOp::DateAddMs => {
                        let d = self.div_euclid(y, DAY_MS);
                        self.b.ins().iadd(x, d)
                    }
                    BinOp::DateSubMs => {
                        let d = self.div_euclid(y, DAY_MS);
                        self.b.ins().isub(x, d)
                    }
                    BinOp::DateDiff => {
                        let d = self.b.ins().isub(x, y);
                        self.b.ins().imul_imm_s(d, DAY_MS)
                    }
                    BinOp::TimeAddMs | BinOp::TimeSubMs => {
                        let s = self.div_euclid(y, 1000);
                        let t = if op == BinOp::TimeAddMs {
                            self.b.ins().iadd(x, s)
                        } else {
                            self.b.ins().isub(x, s)
                        };
                        self.rem_euclid(t, 86_400)
                    }
                    BinOp::TimeDiff => {
                        let d = self.b.ins().isub(x, y);
                        self.b.ins().imul_imm_s(d, 1000)
                    }
                    BinOp::DateAtTime => {
                        let days = self.b.ins().imul_imm_s(x, DAY_MS);
                        let ms = self.b.ins().imul_imm_s(y, 1000);
                        self.b.ins().iadd(days, ms)
                    }
                    // Handled above.
                    _ => self.iconst64(0),
                }
            }
        }
    }

    pub(super) fn cmp(&mut self, cond: Cond, kind: CmpKind, a: Reg, b: Reg) -> cir::Value {
        let icc = |cond: Cond| match cond {
            Cond::Eq => IntCC::Equal,
            Cond::Ne => IntCC::NotEqual,
            Cond::Lt => IntCC::SignedLessThan,
            Cond::Le => IntCC::SignedLessThanOrEqual,
            Cond::Gt => IntCC::SignedGreaterThan,
            Cond::Ge => IntCC::SignedGreaterThanOrEqual,
        };
        let c = match kind {
            CmpKind::Num => {
                let x = self.get_f(a);
                let y = self.get_f(b);
                let fcc = match cond {
                    Cond::Eq => FloatCC::Equal,
                    Cond::Ne => FloatCC::NotEqual,
                    Cond::Lt => FloatCC::LessThan,
                    Cond::Le => FloatCC::LessThanOrEqual,
                    Cond::Gt => FloatCC::GreaterThan,
                    Cond::Ge => FloatCC::GreaterThanOrEqual,
                };
                self.b.ins().fcmp(fcc, x, y)
            }
            CmpKind::Int => {
                let x = self.get_i(a);
                let y = self.get_i(b);
                self.b.ins().icmp(icc(cond), x, y)
            }
            CmpKind::Text => {
                let x = self.get_i(a);
                let y = self.get_i(b);
                match cond {
                    // Symbols are interned: equal texts have equal symbols.
                    Cond::Eq | Cond::Ne => self.b.ins().icmp(icc(cond), x, y),
                    _ => {
                        let ctx = self.ctx;
                        let o = self.call1(Helper::TextCmp, &[ctx, x, y]);
                        self.b.ins().icmp_imm_s(icc(cond), o, 0)
                    }
                }
            }
        };
        self.bool_to_i64(c)
    }

    /// A built-in function: pure arithmetic ones inline, the rest through `dl_call`.
    pub(super) fn function(&mut self, func: Function, args: &[Reg], loc: LocId) -> cir::Value {
        let arg = |i: usize| args.get(i).copied();
        match (func, arg(0)) {
            (Function::Known, Some(r)) => {
                let x = self.get_i(r);
                let c = self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0);
                return self.bool_to_i64(c);
            }
            (Function::Abs, Some(r)) => {
                let x = self.get_f(r);
                return self.b.ins().fabs(x);
            }
            (Function::Round, Some(r)) => {
                // Rust's `round`: half away from zero. `x - trunc(x)` is exact.
                let x = self.get_f(r);
                let t = self.b.ins().trunc(x);
                let frac = self.b.ins().fsub(x, t);
                let frac = self.b.ins().fabs(frac);
                let half = self.b.ins().f64const(0.5);
                let up = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, frac, half);
                let one = self.b.ins().f64const(1.0);
                let step = self.b.ins().fcopysign(one, x);
                let away = self.b.ins().fadd(t, step);
                return self.b.ins().select(up, away, t);
            }
            (Function::Minutes | Function::Seconds | Function::Hours, Some(r)) => {
                let d = match func {
                    Function::Minutes => 60_000.0,
                    Function::Seconds => 1000.0,
                    _ => 3_600_000.0,
                };
                let x = self.get_i(r);
                let xf = self.b.ins().fcvt_from_sint(types::F64, x);
                let dv = self.b.ins().f64const(d);
                return self.b.ins().fdiv(xf, dv);
            }
            _ => {}
        }
        let index = Function::ALL
            .iter()
            .position(|f| *f == func)
            .unwrap_or(usize::MAX) as u32;
        let (addr, len) = self.pass_args(args);
        let ctx = self.ctx;
        let f = self.iconst32(index);
        let l = self.iconst32(loc);
        let out = self.out_addr();
        let failed = self.call1(Helper::Call, &[ctx, f, addr, len, l, out]);
        self.check_status(failed);
        self.load_out()
    }
}
