//! Terminators: jumps, branches (a branch around a block that only computes
//! runs that block unconditionally, keeping each register's old value unless the
//! condition holds), switches, and the exits that leave a command, a sub-flow
//! call, a return or a hang-up pending in the context.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self as cir, BlockArg, InstBuilder};
use cranelift_frontend::Switch;

use super::{Kind, STATUS_OK, Translator, trusted};
use crate::ir::{BinOp, CmpKind, Cond, Function, Inst, Reg, Term};
use crate::jit::helpers::Helper;

impl Translator<'_, '_> {
    /// Jumps to IR block `blk`.
    pub(super) fn jump(&mut self, blk: u32) {
        let t = self.target(blk);
        self.b.ins().jump(t, &[]);
    }

    /// The block for IR block `blk`, or (unverified IR only) a cold block raising
    /// the interpreter's missing-block error.
    pub(super) fn target(&mut self, blk: u32) -> cir::Block {
        if let Some(t) = self.blocks.get(blk as usize) {
            return *t;
        }
        match self.missing {
            Some(m) => m,
            None => {
                let m = self.b.create_block();
                self.b.set_cold_block(m);
                self.missing = Some(m);
                m
            }
        }
    }

    pub(super) fn term(&mut self, term: &Term) {
        match term {
            Term::Jump(t) => self.jump(*t),
            Term::Branch {
                cond,
                then,
                otherwise,
            } => {
                if then == otherwise {
                    self.jump(*then);
                    return;
                }
                if !self.checked && std::env::var("DL_NOSPEC").is_err() {
                    // `a and b`, `a or b`, `c ? x : y` with a cheap, pure side: run
                    // the side unconditionally and pick its results with selects
                    // (no branch to mispredict on random data).
                    if self.speculable(*then, *otherwise) {
                        self.speculate(*cond, *then, true);
                        self.jump(*otherwise);
                        return;
                    }
                    if self.speculable(*otherwise, *then) {
                        self.speculate(*cond, *otherwise, false);
                        self.jump(*then);
                        return;
                    }
                }
                let c = self.get_i(*cond);
                let t = self.target(*then);
                let o = self.target(*otherwise);
                self.b.ins().brif(c, t, &[], o, &[]);
            }
            Term::Switch {
                value,
                cases,
                default,
            } => {
                let v = self.get_i(*value);
                let mut sw = Switch::new();
                let mut seen = std::collections::HashSet::new();
                let mut entries = Vec::new();
                for (c, t) in cases {
                    // The interpreter takes the first matching case.
                    if seen.insert(*c) {
                        entries.push((*c, *t));
                    }
                }
                for (c, t) in entries {
                    let blk = self.target(t);
                    sw.set_entry(u128::from(c as u64), blk);
                }
                let d = self.target(*default);
                sw.emit(&mut self.b, v, d);
            }
            Term::Suspend {
                template,
                args,
                resume,
            } => self.stop_with_args(Helper::Suspend, *template, args, *resume),
            Term::CallFlow { flow, args, resume } => {
                self.stop_with_args(Helper::CallFlow, *flow, args, *resume)
            }
            Term::Return(v) => match self.kind {
                Kind::Flow => {
                    let ctx = self.ctx;
                    let has = self.iconst32(u32::from(v.is_some()));
                    let x = match v {
                        Some(r) => self.get_i(*r),
                        None => self.iconst64(0),
                    };
                    self.call(Helper::Return, &[ctx, has, x]);
                    self.exit(STATUS_OK);
                }
                Kind::Predicate => {
                    let x = match v {
                        Some(r) => self.get_i(*r),
                        None => self.iconst64(0),
                    };
                    self.store_budget();
                    self.b.ins().return_(&[x]);
                }
                Kind::Batch => {
                    let x = match v {
                        Some(r) => self.get_i(*r),
                        None => self.iconst64(0),
                    };
                    if let Some(l) = self.batch {
                        // out[i] = x; on to record i + 1.
                        let offset = self.b.ins().ishl_imm_u(l.index, 3);
                        let at = self.b.ins().iadd(l.out, offset);
                        self.b.ins().store(trusted(), x, at, 0);
                        let next = self.b.ins().iadd_imm_s(l.index, 1);
                        self.b.ins().jump(l.head, &[BlockArg::Value(next)]);
                    }
                }
            },
            Term::Hangup => {
                if self.kind == Kind::Flow {
                    let ctx = self.ctx;
                    self.call(Helper::Hangup, &[ctx]);
                }
                self.exit(STATUS_OK);
            }
            Term::Fail { message, loc } => {
                self.fail_bytes(message.as_ptr(), message.len(), *loc);
            }
        }
    }

    /// Whether IR block `side` only computes (pure, cheap instructions that cannot
    /// fail) and then jumps to `join`, so that it can run unconditionally.
    pub(super) fn speculable(&self, side: u32, join: u32) -> bool {
        let Some(b) = self.body.blocks.get(side as usize) else {
            return false;
        };
        if b.term != Term::Jump(join) || b.insts.len() > 8 || join as usize >= self.blocks.len() {
            return false;
        }
        b.insts.iter().all(|i| match i {
            Inst::Const { .. }
            | Inst::Copy { .. }
            | Inst::Env { .. }
            | Inst::Unary { .. }
            | Inst::Builtin { .. }
            | Inst::Input { .. } => true,
            Inst::Load { .. } => self.kind == Kind::Flow,
            Inst::Binary { op, .. } => !matches!(op, BinOp::DivF | BinOp::DivIF | BinOp::DivII),
            Inst::Cmp { kind, cond, .. } => {
                *kind != CmpKind::Text || matches!(cond, Cond::Eq | Cond::Ne)
            }
            Inst::Call { func, args, .. } => {
                !args.is_empty()
                    && matches!(
                        func,
                        Function::Known
                            | Function::Abs
                            | Function::Round
                            | Function::Minutes
                            | Function::Seconds
                            | Function::Hours
                    )
            }
            _ => false,
        })
    }

    /// Runs IR block `side` (see [`Self::speculable`]) unconditionally: every
    /// register it writes keeps its old value unless `cond` is non-zero
    /// (`when_true`) or zero (otherwise), and the budget counts the block only then.
    pub(super) fn speculate(&mut self, cond: Reg, side: u32, when_true: bool) {
        let c = self.get_i(cond);
        let b = &self.body.blocks[side as usize];
        let mut written: Vec<Reg> = Vec::new();
        for i in &b.insts {
            let dst = match i {
                Inst::Const { dst, .. }
                | Inst::Copy { dst, .. }
                | Inst::Env { dst, .. }
                | Inst::Load { dst, .. }
                | Inst::Unary { dst, .. }
                | Inst::Builtin { dst, .. }
                | Inst::Input { dst, .. }
                | Inst::Binary { dst, .. }
                | Inst::Cmp { dst, .. }
                | Inst::Call { dst, .. } => *dst,
                _ => continue,
            };
            if (dst as usize) < self.vars.len() && !written.contains(&dst) {
                written.push(dst);
            }
        }
        let olds: Vec<cir::Value> = written
            .iter()
            .map(|r| self.b.use_var(self.vars[*r as usize]))
            .collect();
        for i in &b.insts {
            self.inst(i);
        }
        for (r, old) in written.iter().zip(olds) {
            let var = self.vars[*r as usize];
            let new = self.b.use_var(var);
            let v = if when_true {
                self.b.ins().select(c, new, old)
            } else {
                self.b.ins().select(c, old, new)
            };
            self.b.def_var(var, v);
        }
        let cc = if when_true {
            IntCC::NotEqual
        } else {
            IntCC::Equal
        };
        let entered = self.b.ins().icmp_imm_s(cc, c, 0);
        let entered = self.bool_to_i64(entered);
        let left = self.b.use_var(self.budget);
        let left = self.b.ins().isub(left, entered);
        self.b.def_var(self.budget, left);
    }

    /// A suspension or sub-flow call: the interpreter's pending command (flows), or a
    /// plain `0` (predicates, where the interpreter drops the pending command).
    pub(super) fn stop_with_args(&mut self, h: Helper, what: u32, args: &[Reg], resume: u32) {
        if self.kind == Kind::Flow {
            let (addr, len) = self.pass_args(args);
            let ctx = self.ctx;
            let w = self.iconst32(what);
            let r = self.iconst32(resume);
            self.call(h, &[ctx, w, addr, len, r]);
        }
        self.exit(STATUS_OK);
    }
}
