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

use std::collections::HashMap;
use std::mem::offset_of;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::Ieee64;
use cranelift_codegen::ir::{
    self as cir, BlockArg, FuncRef, InstBuilder, JumpTableData, MemFlagsData, StackSlot,
    StackSlotData, StackSlotKind, types,
};
use cranelift_frontend::{FunctionBuilder, Switch, Variable};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Module};

use super::helpers::Helper;
use super::lists::FastList;
use crate::ctx::{ExecCtx, InputRegs};
use crate::ir::{
    BinOp, Body, Builtin, CmpKind, Cond, Const, Function, InputField, Inst, LocId, Reg, Term, Type,
    UnOp,
};

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

    // ---- plumbing ----------------------------------------------------------

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

    // ---- instructions ------------------------------------------------------

    fn inst(&mut self, inst: &Inst) {
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

    fn binary(&mut self, op: BinOp, a: Reg, b: Reg, loc: LocId) -> cir::Value {
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
                    // Handled above.
                    _ => self.iconst64(0),
                }
            }
        }
    }

    fn cmp(&mut self, cond: Cond, kind: CmpKind, a: Reg, b: Reg) -> cir::Value {
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
    fn function(&mut self, func: Function, args: &[Reg], loc: LocId) -> cir::Value {
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

    // ---- terminators -------------------------------------------------------

    /// Jumps to IR block `blk`.
    fn jump(&mut self, blk: u32) {
        let t = self.target(blk);
        self.b.ins().jump(t, &[]);
    }

    /// The block for IR block `blk`, or (unverified IR only) a cold block raising
    /// the interpreter's missing-block error.
    fn target(&mut self, blk: u32) -> cir::Block {
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

    fn term(&mut self, term: &Term) {
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
    fn speculable(&self, side: u32, join: u32) -> bool {
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
    fn speculate(&mut self, cond: Reg, side: u32, when_true: bool) {
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
    fn stop_with_args(&mut self, h: Helper, what: u32, args: &[Reg], resume: u32) {
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
