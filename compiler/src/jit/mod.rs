//! The Cranelift back-end: one native `step` function per flow and one native
//! function per predicate, calling the shared operations of [`crate::ctx`] through a
//! small `extern "C"` helper ABI ([`helpers`]). All `unsafe` of the compiler lives
//! here.
//!
//! # Use
//! Nothing outside the compiler needs this module directly:
//! `Program::new(ir, Engine::Native)` compiles the program with
//! [`Native::compile`] and runs every flow step and predicate through it; the
//! results are the interpreter's, bit for bit (the differential tests in
//! `compiler/tests/jit_diff.rs` hold both back-ends to that).
//!
//! # What is generated
//! - Per flow, `step(ctx: *mut ExecCtx, slots: *mut u64, start: u32) -> u32`: a
//!   `br_table` on `start` enters the block to run (the flow's entry or a resume
//!   point), then the code runs to a terminator exactly like
//!   [`crate::interp::run`]: suspensions, sub-flow calls, returns and hang-ups set
//!   `ctx.pending` through helpers, errors set `ctx.error`. It returns 0 after a
//!   pending command and 1 after an error (informational; the context says it all).
//! - Per predicate, `eval(ctx: *mut ExecCtx, env: *const u64) -> u64`: the raw
//!   result (0 after an error). Environment reads are plain loads, and numbers,
//!   integers, booleans, text equality (symbol compare) and comparisons need no
//!   helper call.
//! - Every block entry counts one tick of the step budget inline; a helper is
//!   called only when it runs out, so runaway loops stop exactly where the
//!   interpreter stops them.
//!
//! # Campaign filters over whole lists
//! A campaign filter is a predicate over one record of a call list; the dialer
//! applies it to the whole list with `Evaluator::eval_batch`. Three things make
//! that fast in native code:
//!
//! - **Conditions without branches.** Conditions that cannot fail or have effects
//!   (reads, comparisons, arithmetic that cannot divide by zero, list membership)
//!   are evaluated eagerly and combined with plain `and`/`or` instructions instead
//!   of short-circuit branches, whose outcome varies from record to record; a
//!   filter made only of such conditions has no data-dependent branch at all.
//! - **List membership from a memo.** Which parts of a list (its own entries, each
//!   category) hold a number never changes, so the answer is remembered per text
//!   symbol in the evaluator (`value::SymbolMemo`). Native code reads that table
//!   inline, masked with the parts active at the current instant (categories with a
//!   daily window), and calls the `dl_in_list` helper only for a number it has not
//!   seen or a new instant.
//! - **One native loop per filter.** Besides the single-record function, each
//!   campaign filter is compiled into a loop over the records (`Kind::Batch`): no
//!   call, prologue or budget store per record; it stops at the first record whose
//!   evaluation fails and reports its index, as the interpreter does.
//!
//! The interpreter gives the same answers (differential tests in
//! `compiler/tests/`); `docs/benchmarks.md` has the numbers.
//!
//! The translation is in [`translate`]; Cranelift's verifier runs on every function
//! in debug builds (and so in tests).

#![allow(unsafe_code)]

pub mod helpers;
mod lists;
mod translate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cranelift_codegen::ir::{AbiParam, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, verify_function};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};

use crate::backend::{Backend, Engine};
use crate::ctx::{ExecCtx, STEP_BUDGET, Shared};
use crate::error::{CompileError, JitError};
use crate::ir::{BlockId, Body, FlowId, PredId};
use helpers::Helper;
use translate::{Kind, Translator};

/// A flow's native `step`.
type StepFn = unsafe extern "C" fn(*mut ExecCtx, *mut u64, u32) -> u32;
/// A predicate's native `eval`.
type EvalFn = unsafe extern "C" fn(*mut ExecCtx, *const u64) -> u64;

/// A predicate's native loop over many records (see [`Kind::Batch`]).
type BatchFn = unsafe extern "C" fn(*mut ExecCtx, *const u64, u64, u64, *mut u64) -> u64;

/// A compiled function and what it needs to run natively.
#[derive(Clone, Copy)]
struct Compiled<F> {
    f: F,
    /// The budget a run needs: `i64::MIN` when every block entry checks the budget
    /// itself; for a body without cycles, whose code only counts the blocks it
    /// enters, its block count (the most a run can enter). Runs with less budget
    /// left go to the interpreter, which stops them at exactly the same block.
    min_budget: i64,
    /// Slots (flows) or environment entries (predicates) the code reads.
    inputs: usize,
}

/// Native code for a whole program.
///
/// The machine code lives in a `JITModule` owned by this value and freed when it is
/// dropped; the function pointers are only reachable through `&self`, so they never
/// outlive it. The program's IR (kept through `shared`) holds the texts the code
/// refers to by address (error messages).
pub struct Native {
    shared: Arc<Shared>,
    flows: Vec<Compiled<StepFn>>,
    predicates: Vec<Compiled<EvalFn>>,
    /// Per predicate, its loop over many records (campaign filters, which the
    /// dialer applies to whole lists); same budget and inputs as `predicates`.
    batches: Vec<Option<BatchFn>>,
    /// The lists prepared for membership tests; the code holds their addresses, so
    /// they are boxed and never change.
    _lists: Box<[lists::FastList]>,
    /// Owns the executable memory. Only touched again by `Drop`; the mutex makes the
    /// whole value `Sync` without an `unsafe impl`.
    module: Mutex<Option<JITModule>>,
}

impl std::fmt::Debug for Native {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Native")
            .field("flows", &self.flows.len())
            .field("predicates", &self.predicates.len())
            .finish()
    }
}

/// Shared state while compiling one program.
struct Compiler {
    module: JITModule,
    helpers: HashMap<Helper, FuncId>,
    fctx: FunctionBuilderContext,
    cctx: Context,
}

/// A Cranelift error met while compiling `function`.
fn jit_err(function: &str, source: impl Into<JitError>) -> CompileError {
    CompileError::Jit {
        function: function.to_string(),
        source: Box::new(source.into()),
    }
}

/// What the errors met while setting up the code generator are reported against.
const SETUP: &str = "the code generator";

/// A code generator setting Cranelift refused.
fn setting_err(setting: &'static str) -> impl FnOnce(settings::SetError) -> CompileError {
    move |source| jit_err(SETUP, JitError::Setting { setting, source })
}

impl Compiler {
    fn new() -> Result<Compiler, CompileError> {
        let mut flags = settings::builder();
        flags
            .set("opt_level", "speed")
            .map_err(setting_err("opt_level"))?;
        flags
            .set("use_colocated_libcalls", "false")
            .map_err(setting_err("use_colocated_libcalls"))?;
        flags
            .set("is_pic", "false")
            .map_err(setting_err("is_pic"))?;
        let isa = cranelift_native::builder()
            .map_err(|e| jit_err(SETUP, JitError::Host(e)))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| jit_err(SETUP, e))?;
        let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
        for h in Helper::ALL {
            jb.symbol(h.name(), h.address());
        }
        let mut module = JITModule::new(jb);
        let call_conv = module.isa().default_call_conv();
        let ptr = module.target_config().pointer_type();
        let mut helpers = HashMap::new();
        for h in Helper::ALL {
            let sig = h.signature(call_conv, ptr);
            let id = module
                .declare_function(h.name(), Linkage::Import, &sig)
                .map_err(|e| jit_err(h.name(), e))?;
            helpers.insert(h, id);
        }
        let cctx = module.make_context();
        Ok(Compiler {
            module,
            helpers,
            fctx: FunctionBuilderContext::new(),
            cctx,
        })
    }

    /// Translates and defines one function; returns its id.
    fn function(
        &mut self,
        lists: &[lists::FastList],
        name: &str,
        body: &Body,
        kind: Kind,
        checked: bool,
    ) -> Result<FuncId, CompileError> {
        let ptr = self.module.target_config().pointer_type();
        let call_conv = self.module.isa().default_call_conv();
        self.module.clear_context(&mut self.cctx);
        let sig = &mut self.cctx.func.signature;
        sig.call_conv = call_conv;
        sig.params.push(AbiParam::new(ptr));
        sig.params.push(AbiParam::new(ptr));
        match kind {
            Kind::Flow => {
                sig.params.push(AbiParam::new(types::I32));
                sig.returns.push(AbiParam::new(types::I32));
            }
            Kind::Predicate => sig.returns.push(AbiParam::new(types::I64)),
            Kind::Batch => {
                sig.params.push(AbiParam::new(types::I64));
                sig.params.push(AbiParam::new(types::I64));
                sig.params.push(AbiParam::new(ptr));
                sig.returns.push(AbiParam::new(types::I64));
            }
        }
        let builder = FunctionBuilder::new(&mut self.cctx.func, &mut self.fctx);
        Translator::new(
            builder,
            &mut self.module,
            &self.helpers,
            lists,
            body,
            kind,
            checked,
        )
        .translate();

        if cfg!(debug_assertions)
            && let Err(errors) = verify_function(&self.cctx.func, self.module.isa())
        {
            let listing = cranelift_codegen::print_errors::pretty_verifier_error(
                &self.cctx.func,
                None,
                errors.clone(),
            );
            return Err(jit_err(name, JitError::Invalid { listing, errors }));
        }

        let sig = self.cctx.func.signature.clone();
        let id = self
            .module
            .declare_function(name, Linkage::Local, &sig)
            .map_err(|e| jit_err(name, e))?;
        if std::env::var("DL_DISASM").is_ok() {
            self.cctx.set_disasm(true);
        }
        self.module
            .define_function(id, &mut self.cctx)
            .map_err(|e| jit_err(name, e))?;
        if std::env::var("DL_DISASM").is_ok()
            && let Some(d) = self.cctx.compiled_code().and_then(|c| c.vcode.clone())
        {
            eprintln!("== {name}\n{d}");
        }
        Ok(id)
    }
}

impl Native {
    /// Compiles every flow and predicate of the program.
    pub fn compile(shared: Arc<Shared>) -> Result<Native, CompileError> {
        // The generated code trusts slot, environment and register indices; only
        // verified IR may reach it.
        crate::verify::verify(&shared.ir).map_err(CompileError::Verify)?;
        let fast_lists: Box<[lists::FastList]> =
            shared.ir.lists.iter().map(lists::FastList::new).collect();
        let mut c = Compiler::new()?;
        let budget_rule =
            |body: &Body| translate::is_acyclic(body).then_some(body.blocks.len() as i64);
        let mut flow_ids = Vec::with_capacity(shared.ir.flows.len());
        for (i, f) in shared.ir.flows.iter().enumerate() {
            let rule = budget_rule(&f.body);
            let id = c.function(
                &fast_lists,
                &format!("flow{i}"),
                &f.body,
                Kind::Flow,
                rule.is_none(),
            )?;
            flow_ids.push((id, rule));
        }
        let mut pred_ids = Vec::with_capacity(shared.ir.predicates.len());
        for (i, p) in shared.ir.predicates.iter().enumerate() {
            let rule = budget_rule(&p.body);
            let id = c.function(
                &fast_lists,
                &format!("pred{i}"),
                &p.body,
                Kind::Predicate,
                rule.is_none(),
            )?;
            pred_ids.push((id, rule));
        }
        // Campaign filters also get a loop over many records.
        let mut batch_ids = Vec::new();
        for campaign in &shared.ir.campaigns {
            let Some(pred) = campaign.filter else {
                continue;
            };
            let Some(p) = shared.ir.predicates.get(pred as usize) else {
                continue;
            };
            let id = c.function(
                &fast_lists,
                &format!("batch{pred}"),
                &p.body,
                Kind::Batch,
                budget_rule(&p.body).is_none(),
            )?;
            batch_ids.push((pred as usize, id));
        }
        c.module
            .finalize_definitions()
            .map_err(|e| jit_err("the program", e))?;
        let flows: Vec<(StepFn, Option<i64>)> = flow_ids
            .iter()
            .map(|(id, rule)| {
                let p = c.module.get_finalized_function(*id);
                // SAFETY: `p` is the finalized, executable code of a function defined
                // above with exactly `StepFn`'s signature (ctx pointer, slots pointer,
                // i32 start; i32 result) in the platform's default calling convention,
                // which is `extern "C"`.
                let f = unsafe { std::mem::transmute::<*const u8, StepFn>(p) };
                (f, *rule)
            })
            .collect();
        let predicates: Vec<(EvalFn, Option<i64>)> = pred_ids
            .iter()
            .map(|(id, rule)| {
                let p = c.module.get_finalized_function(*id);
                // SAFETY: as above, with `EvalFn`'s signature (ctx pointer, env
                // pointer; i64 result).
                let f = unsafe { std::mem::transmute::<*const u8, EvalFn>(p) };
                (f, *rule)
            })
            .collect();
        let flows = flows
            .into_iter()
            .zip(&shared.ir.flows)
            .map(|((f, rule), fl)| Compiled {
                f,
                min_budget: rule.unwrap_or(i64::MIN),
                inputs: fl.slots.len(),
            })
            .collect();
        let predicates = predicates
            .into_iter()
            .zip(&shared.ir.predicates)
            .map(|((f, rule), p)| Compiled {
                f,
                min_budget: rule.unwrap_or(i64::MIN),
                inputs: p.vars.len(),
            })
            .collect();
        let mut batches: Vec<Option<BatchFn>> = vec![None; shared.ir.predicates.len()];
        for (pred, id) in batch_ids {
            let p = c.module.get_finalized_function(id);
            // SAFETY: as above, with `BatchFn`'s signature (ctx pointer, records
            // pointer, i64 count, i64 stride, out pointer; i64 result).
            batches[pred] = Some(unsafe { std::mem::transmute::<*const u8, BatchFn>(p) });
        }
        Ok(Native {
            shared,
            flows,
            predicates,
            batches,
            _lists: fast_lists,
            module: Mutex::new(Some(c.module)),
        })
    }

    /// The Cranelift IR of every function of a program, as text (`flow0`, `pred3`,
    /// ...), for inspection and snapshot tests.
    pub fn clif(shared: &Shared) -> Result<Vec<(String, String)>, CompileError> {
        crate::verify::verify(&shared.ir).map_err(CompileError::Verify)?;
        let fast_lists: Vec<lists::FastList> =
            shared.ir.lists.iter().map(lists::FastList::new).collect();
        let mut c = Compiler::new()?;
        let mut out = Vec::new();
        let bodies = shared
            .ir
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("flow{i}"), &f.body, Kind::Flow))
            .chain(
                shared
                    .ir
                    .predicates
                    .iter()
                    .enumerate()
                    .map(|(i, p)| (format!("pred{i}"), &p.body, Kind::Predicate)),
            );
        for (name, body, kind) in bodies {
            let checked = !translate::is_acyclic(body);
            c.function(&fast_lists, &name, body, kind, checked)?;
            out.push((name, c.cctx.func.display().to_string()));
        }
        Ok(out)
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        let module = match self.module.get_mut() {
            Ok(m) => m.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(m) = module {
            // SAFETY: the function pointers into this memory are fields of `self`,
            // which is being dropped; no call can be running (calls borrow `self`).
            unsafe { m.free_memory() };
        }
    }
}

impl Native {
    /// The compiled predicate `pred` when native code may run it directly over
    /// `len` environment entries with `ctx`: it exists, reads no entry past
    /// `len`, has the budget it needs, no command is pending, and `ctx` is of
    /// this program (whose lists the code knows).
    #[inline]
    fn direct(&self, pred: PredId, ctx: &ExecCtx, len: usize) -> Option<&Compiled<EvalFn>> {
        self.predicates.get(pred as usize).filter(|c| {
            len >= c.inputs
                && ctx.budget >= c.min_budget
                && ctx.pending.is_none()
                && Arc::ptr_eq(&ctx.shared, &self.shared)
        })
    }

    /// The cases `eval_predicate` leaves to a slower path: a stale pending
    /// command, too little budget, a context of another program, a short
    /// environment, a predicate that does not exist.
    #[cold]
    fn eval_predicate_slow(&self, pred: PredId, ctx: &mut ExecCtx, env: &[u64]) -> u64 {
        let (Some(c), Some(p)) = (
            self.predicates.get(pred as usize),
            self.shared.ir.predicates.get(pred as usize),
        ) else {
            ctx.fail("internal error: no such predicate", 0);
            return 0;
        };
        ctx.pending = None;
        if ctx.budget < c.min_budget || !Arc::ptr_eq(&ctx.shared, &self.shared) {
            // Too little budget left for code that does not check it, or a context
            // of another program (whose lists the code does not know).
            crate::interp::run(&p.body, ctx, &mut [], env, p.body.entry);
            return match ctx.pending.take() {
                Some(crate::ctx::Pending::Return(Some(v))) => v,
                _ => 0,
            };
        }
        // A short environment: missing entries read as 0, as in the interpreter.
        let mut buf = env.to_vec();
        buf.resize(buf.len().max(c.inputs), 0);
        // SAFETY: `c.f` was compiled from this predicate's verified body, which only
        // reads environment entries below `c.inputs`; `buf` holds at least that
        // many. `ctx` is exclusively borrowed for the call.
        unsafe { (c.f)(ctx, buf.as_ptr()) }
    }

    /// The cases `run_flow` leaves to a slower path (see `eval_predicate_slow`).
    #[cold]
    fn run_flow_slow(&self, flow: FlowId, ctx: &mut ExecCtx, slots: &mut [u64], start: BlockId) {
        let (Some(c), Some(f)) = (
            self.flows.get(flow as usize),
            self.shared.ir.flows.get(flow as usize),
        ) else {
            ctx.fail("internal error: no such flow", 0);
            return;
        };
        if ctx.budget < c.min_budget || !Arc::ptr_eq(&ctx.shared, &self.shared) {
            crate::interp::run(&f.body, ctx, slots, &[], start);
            return;
        }
        // Too few slots (not something `FlowInstance` does): the missing ones read
        // as 0 and are dropped afterwards.
        let mut buf = slots.to_vec();
        buf.resize(buf.len().max(c.inputs), 0);
        // SAFETY: `c.f` was compiled from this flow's verified body, which only
        // accesses slots below `c.inputs`; `buf` holds at least that many and, like
        // `ctx`, is exclusively borrowed for the call.
        unsafe { (c.f)(ctx, buf.as_mut_ptr(), start) };
        let n = slots.len();
        slots.copy_from_slice(&buf[..n]);
    }
}

impl Backend for Native {
    fn run_flow(&self, flow: FlowId, ctx: &mut ExecCtx, slots: &mut [u64], start: BlockId) {
        if let Some(c) = self.flows.get(flow as usize)
            && slots.len() >= c.inputs
            && ctx.budget >= c.min_budget
            && Arc::ptr_eq(&ctx.shared, &self.shared)
        {
            // SAFETY: `c.f` was compiled from this flow's verified body, which only
            // accesses slots below `c.inputs`; `slots` holds at least that many and,
            // like `ctx` (of this program), is exclusively borrowed for the call.
            unsafe { (c.f)(ctx, slots.as_mut_ptr(), start) };
            return;
        }
        self.run_flow_slow(flow, ctx, slots, start);
    }

    fn eval_predicate(&self, pred: PredId, ctx: &mut ExecCtx, env: &[u64]) -> u64 {
        if let Some(c) = self.direct(pred, ctx, env.len()) {
            // SAFETY: `c.f` was compiled from this predicate's verified body, which
            // only reads environment entries below `c.inputs`; `env` holds at least
            // that many. `ctx` (of this program) is exclusively borrowed for the call.
            return unsafe { (c.f)(ctx, env.as_ptr()) };
        }
        self.eval_predicate_slow(pred, ctx, env)
    }

    fn eval_predicate_batch(
        &self,
        pred: PredId,
        ctx: &mut ExecCtx,
        records: &[u64],
        width: usize,
        out: &mut Vec<u64>,
    ) -> usize {
        ctx.budget = STEP_BUDGET;
        let fast = match self.direct(pred, ctx, width) {
            Some(c) if width > 0 => c,
            // The checks fail for the whole batch: one record at a time.
            _ => return self.eval_one_by_one(pred, ctx, records, width, out),
        };
        let count = records.len() / width;
        out.reserve(count);
        if let Some(Some(batch)) = self.batches.get(pred as usize) {
            let start = out.len();
            // SAFETY: `batch` was compiled from this predicate's verified body
            // (the same code as `fast.f`, in a loop): for each of the `count`
            // records, `width` >= `fast.inputs` entries apart in `records`, it
            // reads only entries below `fast.inputs` and writes one value to
            // `out[start + i]`, within the capacity reserved above; it returns
            // how many records it finished (all, or the index of the one that
            // failed), whose values are then initialised. `ctx` (of this
            // program, with the budget each record needs) is exclusively
            // borrowed for the call.
            unsafe {
                let done = batch(
                    ctx,
                    records.as_ptr(),
                    count as u64,
                    (width * std::mem::size_of::<u64>()) as u64,
                    out.as_mut_ptr().add(start),
                ) as usize;
                let done = done.min(count);
                out.set_len(start + done);
                return done;
            }
        }
        for (i, record) in records.chunks_exact(width).enumerate() {
            ctx.budget = STEP_BUDGET;
            // SAFETY: as in `eval_predicate`: the code only reads entries below
            // `fast.inputs` <= `width` of `record`, and `ctx` (of this program,
            // with the budget the code needs) is exclusively borrowed.
            let v = unsafe { (fast.f)(ctx, record.as_ptr()) };
            if ctx.error.is_some() {
                return i;
            }
            out.push(v);
        }
        records.len() / width
    }

    fn engine(&self) -> Engine {
        Engine::Native
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctx::Pending;
    use crate::ir::*;

    fn block(insts: Vec<Inst>, term: Term) -> BlockIr {
        BlockIr {
            insts,
            term,
            loc: 0,
        }
    }

    fn program() -> ProgramIr {
        let mut ir = ProgramIr {
            texts: vec!["".into(), "a".into()],
            ..ProgramIr::default()
        };
        // (x + 1.5) * 2 > 7 over env[0]
        ir.predicates.push(PredicateIr {
            kind: PredKind::Const("t".into()),
            vars: vec![(EnvVar::Field(0), Type::Number)],
            result: Type::Bool,
            body: Body {
                regs: vec![Type::Number, Type::Number, Type::Number, Type::Bool],
                blocks: vec![block(
                    vec![
                        Inst::Env { dst: 0, index: 0 },
                        Inst::Const {
                            dst: 1,
                            value: Const::Num(1.5),
                        },
                        Inst::Binary {
                            dst: 2,
                            op: BinOp::AddF,
                            a: 0,
                            b: 1,
                            loc: 0,
                        },
                        Inst::Binary {
                            dst: 2,
                            op: BinOp::AddF,
                            a: 2,
                            b: 2,
                            loc: 0,
                        },
                        Inst::Const {
                            dst: 1,
                            value: Const::Num(7.0),
                        },
                        Inst::Cmp {
                            dst: 3,
                            cond: Cond::Gt,
                            kind: CmpKind::Num,
                            a: 2,
                            b: 1,
                        },
                    ],
                    Term::Return(Some(3)),
                )],
                entry: 0,
            },
        });
        // slot0 += 1 forever
        ir.flows.push(FlowIr {
            name: "spin".into(),
            params: vec![],
            returns: Type::Void,
            slots: vec![("n".into(), Type::Duration)],
            body: Body {
                regs: vec![Type::Duration, Type::Duration],
                blocks: vec![
                    block(
                        vec![
                            Inst::Load { dst: 0, slot: 0 },
                            Inst::Const {
                                dst: 1,
                                value: Const::Int(1),
                            },
                            Inst::Binary {
                                dst: 0,
                                op: BinOp::AddI,
                                a: 0,
                                b: 1,
                                loc: 0,
                            },
                            Inst::Store { slot: 0, src: 0 },
                        ],
                        Term::Jump(0),
                    ),
                    block(vec![], Term::Return(None)),
                ],
                entry: 0,
            },
            resumes: vec![],
            on_error: None,
        });
        ir
    }

    #[test]
    fn predicates_and_budget_work() {
        let shared = Arc::new(Shared::new(program()));
        let native = Native::compile(shared.clone()).unwrap();
        let mut ctx = ExecCtx::new(shared.clone());
        assert_eq!(native.eval_predicate(0, &mut ctx, &[3.0f64.to_bits()]), 1);
        assert_eq!(native.eval_predicate(0, &mut ctx, &[1.0f64.to_bits()]), 0);
        assert_eq!(native.eval_predicate(0, &mut ctx, &[]), 0);

        let mut slots = vec![0u64];
        ctx.budget = 10;
        native.run_flow(0, &mut ctx, &mut slots, 0);
        assert_eq!(slots[0], 10);
        assert_eq!(ctx.budget, -1);
        assert!(ctx.error.as_ref().unwrap().message.contains("loop"));

        ctx.error = None;
        ctx.budget = 10;
        native.run_flow(0, &mut ctx, &mut slots, 1);
        assert_eq!(ctx.pending, Some(Pending::Return(None)));
        assert_eq!(ctx.budget, 9);
        native.run_flow(0, &mut ctx, &mut slots, 7);
        assert!(ctx.error.unwrap().message.contains("missing block"));
    }

    #[test]
    fn native_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Native>();
    }
}
