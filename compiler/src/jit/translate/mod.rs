//! IR body → Cranelift IR, one [`Translator`] per function.
//!
//! Registers are Cranelift `Variable`s (`f64` for numbers, `i64` for everything
//! else), zero at the start of every run like the interpreter's register file. A
//! flow's `step(ctx, slots, start) -> status` enters through a `br_table` on
//! `start`; a predicate's `eval(ctx, env) -> value` starts at its entry block.
//! Every block entry decrements the step budget, which lives in a variable and is
//! written back to `ctx.budget` at every exit; only when it goes negative is a
//! helper called. Slots and environment entries are plain loads and stores, and so
//! are the context fields read inline (caller/called/trunk, the resume input, the
//! language); everything else calls the helpers of [`super::helpers`].
//!
//! This file sets a function up, walks its blocks and holds the plumbing
//! (registers, helper calls, the budget, failures, list membership); the
//! [`Translator`]'s methods for instructions are in `inst` and for terminators in
//! `term`.

mod inst;
mod term;

use std::collections::HashMap;
use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{
    self as cir, BlockArg, FuncRef, InstBuilder, JumpTableData, MemFlagsData, StackSlot,
    StackSlotData, StackSlotKind, types,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::helpers::Helper;
use super::lists::FastList;
use crate::ctx::ExecCtx;
use crate::ir::{Body, Inst, LocId, Reg, Term, Type};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// What kind of function is being built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A flow's `step(ctx, slots, start) -> status`.
    Flow,
    /// A predicate's `eval(ctx, env) -> value`.
    Predicate,
    /// A predicate over many records: `batch(ctx, records, count, stride, out)
    /// -> records done`. Each record's environment starts `stride` bytes after
    /// the previous one; its value goes to `out[i]`. A run stops at the first
    /// record whose evaluation fails (the error is in the context) and returns
    /// its index; else it returns `count`.
    Batch,
}

/// Status a flow step returns: stopped on a pending command.
const STATUS_OK: i64 = 0;
/// Status a flow step returns: stopped on an error in `ctx.error`.
const STATUS_ERROR: i64 = 1;

/// Whether no block of `body` can reach itself again: then no run enters more
/// blocks than the body has, and the per-block budget check can be left out when
/// the caller makes sure the budget covers that many (see `Native`).
pub(crate) fn is_acyclic(body: &Body) -> bool {
    let succ = |b: usize| -> Vec<usize> {
        match body.blocks.get(b).map(|b| &b.term) {
            Some(Term::Jump(t)) => vec![*t as usize],
            Some(Term::Branch {
                then, otherwise, ..
            }) => vec![*then as usize, *otherwise as usize],
            Some(Term::Switch { cases, default, .. }) => cases
                .iter()
                .map(|(_, t)| *t as usize)
                .chain([*default as usize])
                .collect(),
            _ => vec![],
        }
    };
    // 0 = unseen, 1 = on the DFS stack, 2 = done.
    let n = body.blocks.len();
    let mut state = vec![0u8; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, succ(root), 0usize)];
        state[root] = 1;
        while let Some((b, next, i)) = stack.last_mut() {
            if let Some(&t) = next.get(*i) {
                *i += 1;
                match state.get(t) {
                    Some(1) => return false,
                    Some(0) => {
                        state[t] = 1;
                        let s = succ(t);
                        stack.push((t, s, 0));
                    }
                    _ => {}
                }
            } else {
                state[*b] = 2;
                stack.pop();
            }
        }
    }
    true
}

/// Builds one function.
pub(crate) struct Translator<'a, 'b> {
    b: FunctionBuilder<'b>,
    module: &'a mut JITModule,
    helper_ids: &'a HashMap<Helper, FuncId>,
    helper_refs: HashMap<Helper, FuncRef>,
    /// The program's lists prepared for membership tests (their addresses are baked
    /// into the code).
    lists: &'a [FastList],
    body: &'a Body,
    kind: Kind,
    /// Whether every block entry checks the budget (see [`is_acyclic`]).
    checked: bool,
    ptr: cir::Type,
    ctx: cir::Value,
    /// The slots pointer (flows) or the environment pointer (predicates).
    mem: cir::Value,
    vars: Vec<Variable>,
    var_types: Vec<cir::Type>,
    budget: Variable,
    blocks: Vec<cir::Block>,
    exit_error: cir::Block,
    spent: cir::Block,
    /// Raises the missing-block error (only for unverified IR).
    missing: Option<cir::Block>,
    args_slot: StackSlot,
    out_slot: StackSlot,
    /// The record loop of a [`Kind::Batch`] function.
    batch: Option<RecordLoop>,
    /// Values known to be 0 or 1 (comparison results and their `and`/`or`), which
    /// combine with plain bitwise instructions.
    zero_or_one: std::collections::HashSet<cir::Value>,
}

/// The loop of a [`Kind::Batch`] function around the predicate's body.
#[derive(Clone, Copy)]
struct RecordLoop {
    /// Loop head, with the record index as its parameter.
    head: cir::Block,
    /// The index of the record being evaluated (the head's parameter).
    index: cir::Value,
    /// Where the values go.
    out: cir::Value,
}

/// Register class of a type.
fn clif_type(t: Type) -> cir::Type {
    if t == Type::Number {
        types::F64
    } else {
        types::I64
    }
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// The largest number of argument values any instruction or terminator of `body`
/// passes to a helper through the argument array.
fn max_args(body: &Body) -> usize {
    let mut n = 0;
    for b in &body.blocks {
        for i in &b.insts {
            match i {
                Inst::Format { args, .. } | Inst::Call { args, .. } => n = n.max(args.len()),
                _ => {}
            }
        }
        match &b.term {
            Term::Suspend { args, .. } | Term::CallFlow { args, .. } => n = n.max(args.len()),
            _ => {}
        }
    }
    n
}

impl<'a, 'b> Translator<'a, 'b> {
    /// Sets up the builder over `func` (whose signature is already set).
    pub(crate) fn new(
        mut b: FunctionBuilder<'b>,
        module: &'a mut JITModule,
        helper_ids: &'a HashMap<Helper, FuncId>,
        lists: &'a [FastList],
        body: &'a Body,
        kind: Kind,
        checked: bool,
    ) -> Self {
        let ptr = module.target_config().pointer_type();
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let ctx = params[0];
        let mem = params[1];

        let mut vars = Vec::with_capacity(body.regs.len());
        let mut var_types = Vec::with_capacity(body.regs.len());
        for t in &body.regs {
            let ty = clif_type(*t);
            let v = b.declare_var(ty);
            let zero = if ty == types::F64 {
                b.ins().f64const(Ieee64::with_bits(0))
            } else {
                b.ins().iconst(types::I64, 0)
            };
            b.def_var(v, zero);
            vars.push(v);
            var_types.push(ty);
        }
        let budget = b.declare_var(types::I64);
        let initial = b.ins().load(
            types::I64,
            trusted(),
            ctx,
            offset_of!(ExecCtx, budget) as i32,
        );
        b.def_var(budget, initial);

        let blocks: Vec<cir::Block> = body.blocks.iter().map(|_| b.create_block()).collect();
        let exit_error = b.create_block();
        b.set_cold_block(exit_error);
        let spent = b.create_block();
        b.append_block_param(spent, types::I32);
        b.set_cold_block(spent);

        let n = max_args(body).max(1) as u32;
        let args_slot =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, n * 8, 3));
        let out_slot =
            b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));

        let mut t = Translator {
            b,
            module,
            helper_ids,
            helper_refs: HashMap::new(),
            lists,
            body,
            kind,
            checked,
            ptr,
            ctx,
            mem,
            vars,
            var_types,
            budget,
            blocks,
            exit_error,
            spent,
            missing: None,
            args_slot,
            out_slot,
            batch: None,
            zero_or_one: std::collections::HashSet::new(),
        };

        match kind {
            Kind::Flow => {
                let start = params[2];
                let bad = t.b.create_block();
                t.b.set_cold_block(bad);
                let calls: Vec<_> = t
                    .blocks
                    .iter()
                    .map(|blk| t.b.func.dfg.block_call(*blk, &[]))
                    .collect();
                let default = t.b.func.dfg.block_call(bad, &[]);
                let jt = t.b.create_jump_table(JumpTableData::new(default, &calls));
                t.b.ins().br_table(start, jt);
                t.b.switch_to_block(bad);
                t.fail_message("internal error: jump to a missing block", 0);
            }
            Kind::Predicate => t.jump(body.entry),
            Kind::Batch => {
                let (records, count, stride, out) = (params[1], params[2], params[3], params[4]);
                let head = t.b.create_block();
                let index = t.b.append_block_param(head, types::I64);
                let record = t.b.create_block();
                let done = t.b.create_block();
                let zero = t.iconst64(0);
                t.b.ins().jump(head, &[BlockArg::Value(zero)]);

                t.b.switch_to_block(head);
                let more = t.b.ins().icmp(IntCC::UnsignedLessThan, index, count);
                t.b.ins().brif(more, record, &[], done, &[]);

                t.b.switch_to_block(done);
                t.b.ins().return_(&[index]);

                // Each record starts as a single evaluation does: registers zero,
                // the budget the caller set, the environment at this record.
                t.b.switch_to_block(record);
                let offset = t.b.ins().imul(index, stride);
                t.mem = t.b.ins().iadd(records, offset);
                for (v, ty) in t.vars.clone().into_iter().zip(t.var_types.clone()) {
                    let zero = if ty == types::F64 {
                        t.b.ins().f64const(Ieee64::with_bits(0))
                    } else {
                        t.iconst64(0)
                    };
                    t.b.def_var(v, zero);
                }
                t.b.def_var(t.budget, initial);
                t.batch = Some(RecordLoop { head, index, out });
                t.jump(body.entry);
            }
        }
        t
    }

    /// Translates every block and finishes the function.
    pub(crate) fn translate(mut self) {
        for (i, blk) in self.body.blocks.iter().enumerate() {
            self.b.switch_to_block(self.blocks[i]);
            self.tick(blk.loc);
            for inst in &blk.insts {
                self.inst(inst);
            }
            self.term(&blk.term);
        }

        self.b.switch_to_block(self.exit_error);
        self.exit(STATUS_ERROR);

        if let Some(m) = self.missing {
            self.b.switch_to_block(m);
            self.fail_message("internal error: jump to a missing block", 0);
        }

        self.b.switch_to_block(self.spent);
        let loc = self.b.block_params(self.spent)[0];
        self.store_budget();
        let ctx = self.ctx;
        self.call(Helper::BudgetSpent, &[ctx, loc]);
        self.ret(STATUS_ERROR);

        self.b.seal_all_blocks();
        let config = self.module.target_config();
        self.b.finalize(config);
    }

    fn helper(&mut self, h: Helper) -> FuncRef {
        if let Some(r) = self.helper_refs.get(&h) {
            return *r;
        }
        let id = self.helper_ids[&h];
        let r = self.module.declare_func_in_func(id, self.b.func);
        self.helper_refs.insert(h, r);
        r
    }

    fn call(&mut self, h: Helper, args: &[cir::Value]) {
        let f = self.helper(h);
        self.b.ins().call(f, args);
    }

    /// Calls a helper that returns one value.
    fn call1(&mut self, h: Helper, args: &[cir::Value]) -> cir::Value {
        let f = self.helper(h);
        let inst = self.b.ins().call(f, args);
        self.b.inst_results(inst)[0]
    }

    fn iconst32(&mut self, v: u32) -> cir::Value {
        self.b.ins().iconst(types::I32, i64::from(v))
    }

    fn iconst64(&mut self, v: i64) -> cir::Value {
        self.b.ins().iconst(types::I64, v)
    }

    /// Register `r` as an `i64` (raw bits of a number).
    fn get_i(&mut self, r: Reg) -> cir::Value {
        match self.vars.get(r as usize) {
            Some(v) => {
                let v = *v;
                let x = self.b.use_var(v);
                if self.var_types[r as usize] == types::F64 {
                    self.b.ins().bitcast(types::I64, MemFlagsData::new(), x)
                } else {
                    x
                }
            }
            None => self.iconst64(0),
        }
    }

    /// Register `r` as an `f64`.
    fn get_f(&mut self, r: Reg) -> cir::Value {
        match self.vars.get(r as usize) {
            Some(v) => {
                let v = *v;
                let x = self.b.use_var(v);
                if self.var_types[r as usize] == types::I64 {
                    self.b.ins().bitcast(types::F64, MemFlagsData::new(), x)
                } else {
                    x
                }
            }
            None => self.b.ins().f64const(Ieee64::with_bits(0)),
        }
    }

    /// Sets register `r` (converting the bits to its class).
    fn def(&mut self, r: Reg, x: cir::Value) {
        let Some(v) = self.vars.get(r as usize).copied() else {
            return;
        };
        let want = self.var_types[r as usize];
        let have = self.b.func.dfg.value_type(x);
        let x = if have == want {
            x
        } else {
            self.b.ins().bitcast(want, MemFlagsData::new(), x)
        };
        self.b.def_var(v, x);
    }

    fn bool_to_i64(&mut self, c: cir::Value) -> cir::Value {
        let v = self.b.ins().uextend(types::I64, c);
        self.zero_or_one.insert(v);
        v
    }

    fn store_budget(&mut self) {
        let v = self.b.use_var(self.budget);
        let ctx = self.ctx;
        self.b
            .ins()
            .store(trusted(), v, ctx, offset_of!(ExecCtx, budget) as i32);
    }

    /// Returns the status (flows) or `0` (predicates) without touching the budget.
    fn ret(&mut self, status: i64) {
        match self.kind {
            Kind::Flow => {
                let s = self.b.ins().iconst(types::I32, status);
                self.b.ins().return_(&[s]);
            }
            Kind::Predicate => {
                let z = self.iconst64(0);
                self.b.ins().return_(&[z]);
            }
            // The index of the record that stopped the run.
            Kind::Batch => {
                let i = self.batch.map_or_else(|| self.iconst64(0), |l| l.index);
                self.b.ins().return_(&[i]);
            }
        }
    }

    /// Writes the budget back and returns.
    fn exit(&mut self, status: i64) {
        self.store_budget();
        self.ret(status);
    }

    /// Raises a fixed error message (a `'static` text) and returns.
    fn fail_message(&mut self, msg: &'static str, loc: LocId) {
        self.fail_bytes(msg.as_ptr(), msg.len(), loc);
    }

    /// Raises an error whose UTF-8 message lives at `ptr` for as long as the code can
    /// run, and returns.
    fn fail_bytes(&mut self, ptr: *const u8, len: usize, loc: LocId) {
        let ctx = self.ctx;
        let p = self.b.ins().iconst(self.ptr, ptr as i64);
        let l = self.b.ins().iconst(self.ptr, len as i64);
        let loc = self.iconst32(loc);
        self.call(Helper::Fail, &[ctx, p, l, loc]);
        self.exit(STATUS_ERROR);
    }

    /// Continues in a fresh block when `failed` is zero, else leaves through the
    /// error exit.
    fn check_status(&mut self, failed: cir::Value) {
        let cont = self.b.create_block();
        let exit = self.exit_error;
        self.b.ins().brif(failed, exit, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Stores register values into the argument array; returns its address and length.
    fn pass_args(&mut self, regs: &[Reg]) -> (cir::Value, cir::Value) {
        for (i, r) in regs.iter().enumerate() {
            let v = self.get_i(*r);
            let slot = self.args_slot;
            self.b.ins().stack_store(self.ptr, v, slot, (i * 8) as i32);
        }
        let addr = self.b.ins().stack_addr(self.ptr, self.args_slot, 0);
        let len = self.iconst32(regs.len() as u32);
        (addr, len)
    }

    fn out_addr(&mut self) -> cir::Value {
        self.b.ins().stack_addr(self.ptr, self.out_slot, 0)
    }

    fn load_out(&mut self) -> cir::Value {
        self.b
            .ins()
            .stack_load(self.ptr, types::I64, self.out_slot, 0)
    }

    fn tick(&mut self, loc: LocId) {
        let v = self.b.use_var(self.budget);
        let v = self.b.ins().iadd_imm_s(v, -1);
        self.b.def_var(self.budget, v);
        if !self.checked {
            return;
        }
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, v, 0);
        let cont = self.b.create_block();
        let loc = self.iconst32(loc);
        let spent = self.spent;
        self.b
            .ins()
            .brif(neg, spent, &[BlockArg::Value(loc)], cont, &[]);
        self.b.switch_to_block(cont);
    }

    /// Whether `v` is a number constant other than zero (a division by it needs
    /// no guard).
    fn nonzero_constant(&self, v: cir::Value) -> bool {
        let cir::ValueDef::Result(inst, _) = self.b.func.dfg.value_def(v) else {
            return false;
        };
        match self.b.func.dfg.insts[inst] {
            cir::InstructionData::UnaryIeee64 {
                opcode: cir::Opcode::F64const,
                imm,
            } => f64::from_bits(imm.bits()) != 0.0,
            _ => false,
        }
    }

    /// A guarded division: leaves through a cold block raising the error when
    /// `is_zero` is set.
    fn guard_division(&mut self, is_zero: cir::Value, which: u32, loc: LocId) {
        let fail = self.b.create_block();
        self.b.set_cold_block(fail);
        let cont = self.b.create_block();
        self.b.ins().brif(is_zero, fail, &[], cont, &[]);
        self.b.switch_to_block(fail);
        let ctx = self.ctx;
        let w = self.iconst32(which);
        let l = self.iconst32(loc);
        self.call(Helper::FailDivision, &[ctx, w, l]);
        let exit = self.exit_error;
        self.b.ins().jump(exit, &[]);
        self.b.switch_to_block(cont);
    }

    /// `value in list[.category]`. For a list whose answers are remembered per
    /// text (see [`FastList::parts`]), the remembered parts are read inline from the
    /// context's memo table and masked with the parts active now (kept in the
    /// table's [`crate::value::MemoView`] with the instant they were computed for);
    /// the helper runs only when the text is not remembered yet or the instant
    /// changed, and remembers both.
    fn in_list(&mut self, value: Reg, list: u32, category: Option<u32>) -> cir::Value {
        let ctx = self.ctx;
        let x = self.get_i(value);
        let fast = self.lists.get(list as usize);
        let call_helper = |t: &mut Self| {
            let fast = fast.map_or(std::ptr::null(), |f| f as *const FastList);
            let fast = t.b.ins().iconst(t.ptr, fast as i64);
            let l = t.iconst32(list);
            let c = t.iconst32(category.map_or(0, |c| c.wrapping_add(1)));
            t.call1(Helper::InList, &[ctx, x, fast, l, c])
        };
        let Some(mask) = fast.and_then(|f| f.inline_mask(category)) else {
            return call_helper(self);
        };
        let views_addr = offset_of!(ExecCtx, texts.memo.views_addr);
        let views_len = offset_of!(ExecCtx, texts.memo.views_len);
        let view_size = std::mem::size_of::<crate::value::MemoView>() as i64;
        let view = |field: usize| (list as i64 * view_size) as i32 + field as i32;
        use crate::value::MemoView as V;

        let has_view = self.b.create_block();
        let has_entry = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let join = self.b.create_block();
        let result = self.b.append_block_param(join, types::I64);

        // Is there a view for this list?
        let n = self
            .b
            .ins()
            .load(types::I64, trusted(), ctx, views_len as i32);
        let listed = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThan, n, i64::from(list));
        self.b.ins().brif(listed, has_view, &[], slow, &[]);

        // Is the text in its table, and the active parts computed for now?
        self.b.switch_to_block(has_view);
        let views = self
            .b
            .ins()
            .load(types::I64, trusted(), ctx, views_addr as i32);
        let len = self
            .b
            .ins()
            .load(types::I64, trusted(), views, view(offset_of!(V, len)));
        let stamp = self
            .b
            .ins()
            .load(types::I64, trusted(), views, view(offset_of!(V, stamp)));
        let now = self.b.ins().load(
            types::I64,
            trusted(),
            ctx,
            offset_of!(ExecCtx, now_ms) as i32,
        );
        let in_table = self.b.ins().icmp(IntCC::UnsignedLessThan, x, len);
        let current = self.b.ins().icmp(IntCC::Equal, stamp, now);
        let ok = self.b.ins().band(in_table, current);
        self.b.ins().brif(ok, has_entry, &[], slow, &[]);

        // The remembered parts, if any, masked with the active ones.
        self.b.switch_to_block(has_entry);
        let addr = self
            .b
            .ins()
            .load(types::I64, trusted(), views, view(offset_of!(V, addr)));
        let word = self
            .b
            .ins()
            .uload32(trusted(), views, view(offset_of!(V, word)));
        let offset = self.b.ins().ishl_imm_u(x, 2);
        let entry = self.b.ins().iadd(addr, offset);
        let parts = self.b.ins().uload32(trusted(), entry, 0);
        let known = self
            .b
            .ins()
            .band_imm_u(parts, i64::from(super::lists::KNOWN));
        let active = self.b.ins().band(parts, word);
        let hit = self.b.ins().band_imm_u(active, i64::from(mask));
        let answer = self.b.ins().icmp_imm_u(IntCC::NotEqual, hit, 0);
        let answer = self.bool_to_i64(answer);
        self.b
            .ins()
            .brif(known, join, &[BlockArg::Value(answer)], slow, &[]);

        self.b.switch_to_block(slow);
        let v = call_helper(self);
        self.b.ins().jump(join, &[BlockArg::Value(v)]);

        self.b.switch_to_block(join);
        // Both the inline answer and the helper's are 0 or 1.
        self.zero_or_one.insert(result);
        result
    }

    /// `x.div_euclid(d)` for a positive constant `d`.
    fn div_euclid(&mut self, x: cir::Value, d: i64) -> cir::Value {
        let dv = self.iconst64(d);
        let q = self.b.ins().sdiv(x, dv);
        let r = self.b.ins().srem(x, dv);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, 0);
        let adj = self.bool_to_i64(neg);
        self.b.ins().isub(q, adj)
    }

    /// `x.rem_euclid(d)` for a positive constant `d`.
    fn rem_euclid(&mut self, x: cir::Value, d: i64) -> cir::Value {
        let dv = self.iconst64(d);
        let r = self.b.ins().srem(x, dv);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, 0);
        let up = self.b.ins().iadd_imm_s(r, d);
        self.b.ins().select(neg, up, r)
    }
}
