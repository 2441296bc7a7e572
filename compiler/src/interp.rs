//! The reference interpreter: [`run`] runs IR blocks directly, and [`Interpreter`]
//! offers it as a [`Backend`]. It is the baseline the native code is measured
//! against and the oracle the native code must agree with.

use std::sync::Arc;

use crate::backend::{Backend, Engine};
use crate::ctx::{ExecCtx, Pending, Shared, div_duration, mul_duration};
use crate::ir::*;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The interpreter as a back-end.
pub struct Interpreter {
    shared: Arc<Shared>,
}

impl Interpreter {
    /// An interpreter over a program.
    pub fn new(shared: Arc<Shared>) -> Interpreter {
        Interpreter { shared }
    }
}

impl Backend for Interpreter {
    fn run_flow(&self, flow: FlowId, ctx: &mut ExecCtx, slots: &mut [u64], start: BlockId) {
        match self.shared.ir.flows.get(flow as usize) {
            Some(f) => run(&f.body, ctx, slots, &[], start),
            None => ctx.fail("internal error: no such flow", 0),
        }
    }

    fn eval_predicate(&self, pred: PredId, ctx: &mut ExecCtx, env: &[u64]) -> u64 {
        let Some(p) = self.shared.ir.predicates.get(pred as usize) else {
            ctx.fail("internal error: no such predicate", 0);
            return 0;
        };
        ctx.pending = None;
        run(&p.body, ctx, &mut [], env, p.body.entry);
        match ctx.pending.take() {
            Some(Pending::Return(Some(v))) => v,
            _ => 0,
        }
    }

    fn engine(&self) -> Engine {
        Engine::Interp
    }
}

/// Runs `body` from block `start` until it suspends, returns, hangs up or fails.
/// Slots are the flow's variables (empty for predicates); `env` the predicate's
/// inputs (empty for flows). What it stopped on is left in `ctx.pending` or
/// `ctx.error`.
pub fn run(body: &Body, ctx: &mut ExecCtx, slots: &mut [u64], env: &[u64], start: BlockId) {
    let mut regs = vec![0u64; body.regs.len()];
    let mut block = start;
    loop {
        let Some(b) = body.blocks.get(block as usize) else {
            ctx.fail("internal error: jump to a missing block", 0);
            return;
        };
        if !ctx.tick(b.loc) {
            return;
        }
        for inst in &b.insts {
            exec(inst, ctx, &mut regs, slots, env);
            if ctx.error.is_some() {
                return;
            }
        }
        let r = |x: &Reg| regs.get(*x as usize).copied().unwrap_or(0);
        block = match &b.term {
            Term::Jump(t) => *t,
            Term::Branch {
                cond,
                then,
                otherwise,
            } => {
                if r(cond) != 0 {
                    *then
                } else {
                    *otherwise
                }
            }
            Term::Switch {
                value,
                cases,
                default,
            } => {
                let v = r(value) as i64;
                cases
                    .iter()
                    .find(|(c, _)| *c == v)
                    .map(|(_, t)| *t)
                    .unwrap_or(*default)
            }
            Term::Suspend {
                template,
                args,
                resume,
            } => {
                ctx.pending = Some(Pending::Suspend(
                    *template,
                    args.iter().map(r).collect(),
                    *resume,
                ));
                return;
            }
            Term::CallFlow { flow, args, resume } => {
                ctx.pending = Some(Pending::Call(*flow, args.iter().map(r).collect(), *resume));
                return;
            }
            Term::Return(v) => {
                ctx.pending = Some(Pending::Return(v.as_ref().map(r)));
                return;
            }
            Term::Hangup => {
                ctx.pending = Some(Pending::Hangup);
                return;
            }
            Term::Fail { message, loc } => {
                ctx.fail(message.clone(), *loc);
                return;
            }
        };
    }
}

fn exec(inst: &Inst, ctx: &mut ExecCtx, regs: &mut [u64], slots: &mut [u64], env: &[u64]) {
    let get = |regs: &[u64], x: Reg| regs.get(x as usize).copied().unwrap_or(0);
    let f = |v: u64| f64::from_bits(v);
    let set = |regs: &mut [u64], x: Reg, v: u64| {
        if let Some(slot) = regs.get_mut(x as usize) {
            *slot = v;
        }
    };
    match inst {
        Inst::Const { dst, value } => {
            let v = match value {
                Const::Num(n) => n.to_bits(),
                Const::Int(i) => *i as u64,
                Const::Text(s) => u64::from(*s),
            };
            set(regs, *dst, v);
        }
        Inst::Copy { dst, src } => set(regs, *dst, get(regs, *src)),
        Inst::Load { dst, slot } => {
            set(regs, *dst, slots.get(*slot as usize).copied().unwrap_or(0))
        }
        Inst::Store { slot, src } => {
            let v = get(regs, *src);
            if let Some(s) = slots.get_mut(*slot as usize) {
                *s = v;
            }
        }
        Inst::LoadData { dst, field } => set(regs, *dst, ctx.load_data(*field)),
        Inst::StoreData { field, src } => ctx.store_data(*field, get(regs, *src)),
        Inst::Builtin { dst, which } => set(regs, *dst, ctx.builtin(*which)),
        Inst::Env { dst, index } => set(regs, *dst, env.get(*index as usize).copied().unwrap_or(0)),
        Inst::ItemCount { dst, list } => set(regs, *dst, ctx.item_count(get(regs, *list))),
        Inst::Item {
            dst,
            list,
            index,
            loc,
        } => {
            let v = ctx.item(get(regs, *list), get(regs, *index), *loc);
            set(regs, *dst, v);
        }
        Inst::Field {
            dst,
            record,
            field,
            loc,
        } => {
            let v = ctx.field(get(regs, *record), *field, *loc);
            set(regs, *dst, v);
        }
        Inst::Unary { dst, op, src } => {
            let a = get(regs, *src);
            let v = match op {
                UnOp::NegF => (-f(a)).to_bits(),
                UnOp::NegI => (a as i64).wrapping_neg() as u64,
                UnOp::Not => u64::from(a == 0),
            };
            set(regs, *dst, v);
        }
        Inst::Binary { dst, op, a, b, loc } => {
            let (x, y) = (get(regs, *a), get(regs, *b));
            let (xi, yi) = (x as i64, y as i64);
            let v = match op {
                BinOp::AddF => (f(x) + f(y)).to_bits(),
                BinOp::SubF => (f(x) - f(y)).to_bits(),
                BinOp::MulF => (f(x) * f(y)).to_bits(),
                BinOp::DivF => {
                    if f(y) == 0.0 {
                        ctx.fail("division by zero", *loc);
                        return;
                    }
                    (f(x) / f(y)).to_bits()
                }
                BinOp::AddI => xi.wrapping_add(yi) as u64,
                BinOp::SubI => xi.wrapping_sub(yi) as u64,
                BinOp::MulIF => mul_duration(xi, f(y)) as u64,
                BinOp::DivIF => {
                    if f(y) == 0.0 {
                        ctx.fail("division by zero", *loc);
                        return;
                    }
                    div_duration(xi, f(y)) as u64
                }
                BinOp::DivII => {
                    if yi == 0 {
                        ctx.fail("division by a zero duration", *loc);
                        return;
                    }
                    (xi as f64 / yi as f64).to_bits()
                }
                BinOp::DateAddMs => xi.wrapping_add(yi.div_euclid(DAY_MS)) as u64,
                BinOp::DateSubMs => xi.wrapping_sub(yi.div_euclid(DAY_MS)) as u64,
                BinOp::DateDiff => xi.wrapping_sub(yi).wrapping_mul(DAY_MS) as u64,
                BinOp::TimeAddMs => {
                    (xi.wrapping_add(yi.div_euclid(1000))).rem_euclid(86_400) as u64
                }
                BinOp::TimeSubMs => {
                    (xi.wrapping_sub(yi.div_euclid(1000))).rem_euclid(86_400) as u64
                }
                BinOp::TimeDiff => xi.wrapping_sub(yi).wrapping_mul(1000) as u64,
                BinOp::DateAtTime => {
                    xi.wrapping_mul(DAY_MS).wrapping_add(yi.wrapping_mul(1000)) as u64
                }
                BinOp::And => u64::from(x != 0 && y != 0),
                BinOp::Or => u64::from(x != 0 || y != 0),
            };
            set(regs, *dst, v);
        }
        Inst::Cmp {
            dst,
            cond,
            kind,
            a,
            b,
        } => {
            let (x, y) = (get(regs, *a), get(regs, *b));
            let ord: Option<std::cmp::Ordering> = match kind {
                CmpKind::Num => f(x).partial_cmp(&f(y)),
                CmpKind::Int => Some((x as i64).cmp(&(y as i64))),
                CmpKind::Text => match cond {
                    Cond::Eq | Cond::Ne => Some(if x == y {
                        std::cmp::Ordering::Equal
                    } else {
                        std::cmp::Ordering::Less
                    }),
                    _ => Some(ctx.text_cmp(x, y).cmp(&0)),
                },
            };
            let v = match (cond, ord) {
                (Cond::Ne, None) => true,
                (_, None) => false,
                (Cond::Eq, Some(o)) => o.is_eq(),
                (Cond::Ne, Some(o)) => o.is_ne(),
                (Cond::Lt, Some(o)) => o.is_lt(),
                (Cond::Le, Some(o)) => o.is_le(),
                (Cond::Gt, Some(o)) => o.is_gt(),
                (Cond::Ge, Some(o)) => o.is_ge(),
            };
            set(regs, *dst, u64::from(v));
        }
        Inst::Concat { dst, a, b } => {
            let v = ctx.concat(get(regs, *a), get(regs, *b));
            set(regs, *dst, v);
        }
        Inst::Format {
            dst,
            template,
            args,
        } => {
            let vals: Vec<u64> = args.iter().map(|a| get(regs, *a)).collect();
            let v = ctx.format(*template, &vals);
            set(regs, *dst, v);
        }
        Inst::InList {
            dst,
            value,
            list,
            category,
        } => {
            let v = ctx.in_list(get(regs, *value), *list, *category);
            set(regs, *dst, v);
        }
        Inst::Call {
            dst,
            func,
            args,
            loc,
        } => {
            let vals: Vec<u64> = args.iter().map(|a| get(regs, *a)).collect();
            let v = ctx.call(*func, &vals, *loc);
            set(regs, *dst, v);
        }
        Inst::Input { dst, what } => set(regs, *dst, ctx.input(*what)),
        Inst::SetLanguage { language } => ctx.language = *language,
    }
}
