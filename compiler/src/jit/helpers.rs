//! The helper ABI: the `extern "C"` functions native code calls for everything
//! that is not plain arithmetic on registers.
//!
//! Each helper is a thin wrapper over one operation of [`crate::ctx::ExecCtx`], so
//! native code and the interpreter compute the same thing by construction.
//!
//! # Conventions
//! - The first argument is always the `*mut ExecCtx` the native function was called
//!   with; it is never null and is exclusively borrowed for the duration of the call.
//! - Values are passed and returned as `u64` raw register values (numbers as their
//!   `f64` bits). Indices (fields, lists, templates, flows, resume ids, locations)
//!   are `u32`. An optional category is `u32` with `0` meaning "none" and `c + 1`
//!   meaning category `c`.
//! - A variable number of values is passed as a pointer to an array of `u64` in the
//!   caller's stack frame and its length.
//! - **Fallible helpers** ([`dl_field`], [`dl_item`], [`dl_call`]) write their result through an
//!   `out: *mut u64` pointer and return a `u32` status: `0` when all went well, `1`
//!   when they raised a run-time error into `ctx.error`. The caller must then stop
//!   (store the step budget back and return). All other helpers cannot fail.
//! - **Stopping helpers** ([`dl_suspend`], [`dl_call_flow`], [`dl_return`],
//!   [`dl_hangup`], [`dl_fail`], [`dl_fail_division`], [`dl_budget_spent`]) set
//!   `ctx.pending` or `ctx.error`; the caller returns right after them.
//! - The step budget is not read or written by any helper: native code keeps it in a
//!   register and writes it back to `ctx.budget` before it returns.
//! - A helper never unwinds into native code: a panic inside one becomes a run-time
//!   error (`internal error: ...`) and, for value helpers, a `0` result.
//!
//! | helper | arguments after `ctx` | returns |
//! |---|---|---|
//! | `dl_load_data` | field | value |
//! | `dl_store_data` | field, value | — |
//! | `dl_field` | record, field, loc, out | status (fallible) |
//! | `dl_item_count` | list | count (as `i64`) |
//! | `dl_item` | list, index, loc, out | status (fallible) |
//! | `dl_concat` | a, b | text |
//! | `dl_format` | template, args, len | text |
//! | `dl_text_cmp` | a, b | -1, 0 or 1 (as `i64`) |
//! | `dl_in_list` | value, fast list (or null), list, category+1 | 0/1 |
//! | `dl_call` | function index in `Function::ALL`, args, len, loc, out | status (fallible) |
//! | `dl_suspend` | template, args, len, resume | — (stops) |
//! | `dl_call_flow` | flow, args, len, resume | — (stops) |
//! | `dl_return` | has value (0/1), value | — (stops) |
//! | `dl_hangup` | — | — (stops) |
//! | `dl_fail` | message pointer, message length, loc | — (stops) |
//! | `dl_fail_division` | which (0 = by zero, 1 = by a zero duration), loc | — (stops) |
//! | `dl_budget_spent` | loc | — (stops) |

#![allow(unsafe_code)]

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::CallConv;

use super::lists::FastList;
use crate::calendar::local_in;
use crate::ctx::{ExecCtx, Pending};
use crate::ir::{Function, LocId, Sym};

/// The Rust side of `*mut ExecCtx` as native code passes it.
type Ctx = *mut ExecCtx;

/// Runs `f` on the context, turning a panic into a run-time error.
///
/// SAFETY (for callers): `ctx` must be the non-null, exclusively borrowed context
/// pointer native code was called with.
unsafe fn with_ctx<R>(ctx: Ctx, fallback: R, f: impl FnOnce(&mut ExecCtx) -> R) -> R {
    // SAFETY: native code only ever passes the context pointer it received from
    // `Native::run_flow` / `Native::eval_predicate`, which come from a `&mut ExecCtx`
    // held for the whole call; nothing else touches the context meanwhile.
    let ctx = unsafe { &mut *ctx };
    match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
        Ok(v) => v,
        Err(_) => {
            ctx.fail("internal error in a native helper", 0);
            fallback
        }
    }
}

/// Builds a slice from a pointer and a length passed by native code.
///
/// SAFETY (for callers): `ptr` must point to `len` initialised `u64`s (native code
/// passes a stack slot at least that large) that stay valid for the call.
unsafe fn args<'a>(ptr: *const u64, len: u32) -> &'a [u64] {
    if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: see the function's contract; the stack slot is 8-byte aligned.
        unsafe { std::slice::from_raw_parts(ptr, len as usize) }
    }
}

/// Writes a fallible helper's result and returns its status.
///
/// SAFETY (for callers): `out` must point to a writable `u64` (a stack slot).
unsafe fn finish(ctx: Ctx, out: *mut u64, v: u64) -> u32 {
    // SAFETY: `out` is a stack slot of the calling native frame.
    unsafe { out.write(v) };
    // SAFETY: as in `with_ctx`; the previous borrow has ended.
    u32::from(unsafe { (*ctx).error.is_some() })
}

/// `data.field`.
pub(crate) extern "C" fn dl_load_data(ctx: Ctx, field: u32) -> u64 {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, 0, |c| c.load_data(field)) }
}

/// `data.field = value`.
pub(crate) extern "C" fn dl_store_data(ctx: Ctx, field: u32, value: u64) {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, (), |c| c.store_data(field, value)) }
}

/// `record.field` (fallible: a missing record or field raises an error).
pub(crate) extern "C" fn dl_field(
    ctx: Ctx,
    record: u64,
    field: u32,
    loc: u32,
    out: *mut u64,
) -> u32 {
    // SAFETY: `ctx` and `out` come from native code (see the module conventions).
    unsafe {
        let v = with_ctx(ctx, 0, |c| c.field(record, field, loc as LocId));
        finish(ctx, out, v)
    }
}

/// The number of records of a list.
pub(crate) extern "C" fn dl_item_count(ctx: Ctx, list: u64) -> u64 {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, 0, |c| c.item_count(list)) }
}

/// Record `index` of a list (fallible: an index outside the list raises an error).
pub(crate) extern "C" fn dl_item(ctx: Ctx, list: u64, index: u64, loc: u32, out: *mut u64) -> u32 {
    // SAFETY: `ctx` and `out` come from native code (see the module conventions).
    unsafe {
        let v = with_ctx(ctx, 0, |c| c.item(list, index, loc as LocId));
        finish(ctx, out, v)
    }
}

/// `a + b` for texts.
pub(crate) extern "C" fn dl_concat(ctx: Ctx, a: u64, b: u64) -> u64 {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, 0, |c| c.concat(a, b)) }
}

/// Text interpolation.
pub(crate) extern "C" fn dl_format(ctx: Ctx, template: u32, ptr: *const u64, len: u32) -> u64 {
    // SAFETY: `ctx` and the argument array come from native code.
    unsafe {
        let a = args(ptr, len);
        with_ctx(ctx, 0, |c| c.format(template, a))
    }
}

/// Orders two texts: -1, 0 or 1.
pub(crate) extern "C" fn dl_text_cmp(ctx: Ctx, a: u64, b: u64) -> i64 {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, 0, |c| c.text_cmp(a, b)) }
}

thread_local! {
    /// The last (time zone, instant) → seconds after local midnight computed on this
    /// thread: list membership over many records at one instant converts it once.
    static TIME_OF_DAY: Cell<Option<(chrono_tz::Tz, i64, u32)>> = const { Cell::new(None) };
}

/// Seconds after local midnight at `now_ms` in `tz`, cached per thread.
fn time_of_day(tz: chrono_tz::Tz, now_ms: i64) -> u32 {
    TIME_OF_DAY.with(|c| match c.get() {
        Some((t, n, s)) if t == tz && n == now_ms => s,
        _ => {
            let s = local_in(tz, now_ms).1;
            c.set(Some((tz, now_ms, s)));
            s
        }
    })
}

/// `value in list[.category]`: the same answer as [`ExecCtx::in_list`]. Which parts
/// of the list hold a text does not change, so it is remembered per symbol in the
/// context's texts (`Texts::memo`, table = list index): filters applied again to
/// the same records skip the lookup. `fast` is the list's [`FastList`] (null for
/// none: the general path). The clock is converted to local time only when a
/// category with a daily window decides the answer.
pub(crate) extern "C" fn dl_in_list(
    ctx: Ctx,
    value: u64,
    fast: *const FastList,
    list: u32,
    category: u32,
) -> u64 {
    // SAFETY: `fast` is null or points into the `Native`'s boxed list table, which
    // lives (unmoved, unchanged) as long as the code that passes it can run.
    let fast = unsafe { fast.as_ref() };
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe {
        with_ctx(ctx, 0, |c| {
            let Some(l) = c.shared.lists.get(list as usize) else {
                return 0;
            };
            let category = category.checked_sub(1);
            let sym = value as Sym;
            let (tz, now_ms) = (c.shared.tz, c.now_ms);
            let now = || time_of_day(tz, now_ms);
            match fast {
                Some(f) if f.rememberable() && (sym as usize) < c.texts.len() => {
                    let mut parts = c.texts.memo.get(list as usize, sym);
                    if parts == 0 {
                        parts = f.parts(l, c.texts.get(sym));
                        c.texts.memo.set(list as usize, sym, parts);
                    }
                    // What native code needs to answer inline the next time.
                    if !matches!(c.texts.memo.stamped(list as usize), Some((s, _)) if s == now_ms) {
                        let active = f.active_parts(now);
                        c.texts.memo.stamp(list as usize, now_ms, active);
                    }
                    u64::from(f.answer(parts, category, now))
                }
                Some(f) => u64::from(f.contains(l, c.texts.get(sym), category, now())),
                None => u64::from(l.contains(c.texts.get(sym), category, now())),
            }
        })
    }
}

/// A built-in function by its index in [`Function::ALL`] (fallible).
pub(crate) extern "C" fn dl_call(
    ctx: Ctx,
    func: u32,
    ptr: *const u64,
    len: u32,
    loc: u32,
    out: *mut u64,
) -> u32 {
    // SAFETY: `ctx`, the argument array and `out` come from native code.
    unsafe {
        let a = args(ptr, len);
        let v = with_ctx(ctx, 0, |c| match Function::ALL.get(func as usize) {
            Some(f) => c.call(*f, a, loc as LocId),
            None => {
                c.fail("internal error: unknown function", loc as LocId);
                0
            }
        });
        finish(ctx, out, v)
    }
}

/// Stops at a suspension.
pub(crate) extern "C" fn dl_suspend(
    ctx: Ctx,
    template: u32,
    ptr: *const u64,
    len: u32,
    resume: u32,
) {
    // SAFETY: `ctx` and the argument array come from native code.
    unsafe {
        let a = args(ptr, len);
        with_ctx(ctx, (), |c| {
            c.pending = Some(Pending::Suspend(template, a.to_vec(), resume))
        })
    }
}

/// Stops at a sub-flow call.
pub(crate) extern "C" fn dl_call_flow(ctx: Ctx, flow: u32, ptr: *const u64, len: u32, resume: u32) {
    // SAFETY: `ctx` and the argument array come from native code.
    unsafe {
        let a = args(ptr, len);
        with_ctx(ctx, (), |c| {
            c.pending = Some(Pending::Call(flow, a.to_vec(), resume))
        })
    }
}

/// Stops at a return.
pub(crate) extern "C" fn dl_return(ctx: Ctx, has_value: u32, value: u64) {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe {
        with_ctx(ctx, (), |c| {
            c.pending = Some(Pending::Return((has_value != 0).then_some(value)))
        })
    }
}

/// Stops at a hang-up.
pub(crate) extern "C" fn dl_hangup(ctx: Ctx) {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, (), |c| c.pending = Some(Pending::Hangup)) }
}

/// Raises the error of a `Term::Fail`; the message is UTF-8 owned by the program's IR.
pub(crate) extern "C" fn dl_fail(ctx: Ctx, msg: *const u8, len: usize, loc: u32) {
    // SAFETY: `msg`/`len` are the address and length of a `String` inside the
    // program's IR, which the `Native` keeps alive (`Arc<Shared>`) as long as its
    // code can run; it is never mutated.
    let bytes = unsafe { std::slice::from_raw_parts(msg, len) };
    let text = String::from_utf8_lossy(bytes).into_owned();
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, (), |c| c.fail(text, loc as LocId)) }
}

/// Raises a division error: `which` 0 = "division by zero", 1 = "division by a zero duration".
pub(crate) extern "C" fn dl_fail_division(ctx: Ctx, which: u32, loc: u32) {
    let msg = if which == 0 {
        "division by zero"
    } else {
        "division by a zero duration"
    };
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe { with_ctx(ctx, (), |c| c.fail(msg, loc as LocId)) }
}

/// Raises the runaway-loop error; native code has already decremented `budget`
/// below zero (and stores it back itself).
pub(crate) extern "C" fn dl_budget_spent(ctx: Ctx, loc: u32) {
    // SAFETY: `ctx` comes from native code (see the module conventions).
    unsafe {
        with_ctx(ctx, (), |c| {
            // `ExecCtx::tick` decrements first; native code already did, so give one
            // back and let `tick` raise the same error with the same message.
            c.budget += 1;
            let ok = c.tick(loc as LocId);
            debug_assert!(!ok);
        })
    }
}

/// The helpers native code may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Helper {
    LoadData,
    StoreData,
    Field,
    ItemCount,
    Item,
    Concat,
    Format,
    TextCmp,
    InList,
    Call,
    Suspend,
    CallFlow,
    Return,
    Hangup,
    Fail,
    FailDivision,
    BudgetSpent,
}

/// The argument and result kinds of the helper signatures.
#[derive(Clone, Copy)]
enum K {
    /// A pointer (the context, arrays, `out`).
    P,
    /// `u32`.
    W,
    /// `u64` / `i64`.
    Q,
}

impl Helper {
    /// Every helper, in declaration order.
    pub(crate) const ALL: [Helper; 17] = [
        Helper::LoadData,
        Helper::StoreData,
        Helper::Field,
        Helper::ItemCount,
        Helper::Item,
        Helper::Concat,
        Helper::Format,
        Helper::TextCmp,
        Helper::InList,
        Helper::Call,
        Helper::Suspend,
        Helper::CallFlow,
        Helper::Return,
        Helper::Hangup,
        Helper::Fail,
        Helper::FailDivision,
        Helper::BudgetSpent,
    ];

    /// The symbol name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Helper::LoadData => "dl_load_data",
            Helper::StoreData => "dl_store_data",
            Helper::Field => "dl_field",
            Helper::ItemCount => "dl_item_count",
            Helper::Item => "dl_item",
            Helper::Concat => "dl_concat",
            Helper::Format => "dl_format",
            Helper::TextCmp => "dl_text_cmp",
            Helper::InList => "dl_in_list",
            Helper::Call => "dl_call",
            Helper::Suspend => "dl_suspend",
            Helper::CallFlow => "dl_call_flow",
            Helper::Return => "dl_return",
            Helper::Hangup => "dl_hangup",
            Helper::Fail => "dl_fail",
            Helper::FailDivision => "dl_fail_division",
            Helper::BudgetSpent => "dl_budget_spent",
        }
    }

    /// The address of the Rust function.
    pub(crate) fn address(self) -> *const u8 {
        match self {
            Helper::LoadData => dl_load_data as *const u8,
            Helper::StoreData => dl_store_data as *const u8,
            Helper::Field => dl_field as *const u8,
            Helper::ItemCount => dl_item_count as *const u8,
            Helper::Item => dl_item as *const u8,
            Helper::Concat => dl_concat as *const u8,
            Helper::Format => dl_format as *const u8,
            Helper::TextCmp => dl_text_cmp as *const u8,
            Helper::InList => dl_in_list as *const u8,
            Helper::Call => dl_call as *const u8,
            Helper::Suspend => dl_suspend as *const u8,
            Helper::CallFlow => dl_call_flow as *const u8,
            Helper::Return => dl_return as *const u8,
            Helper::Hangup => dl_hangup as *const u8,
            Helper::Fail => dl_fail as *const u8,
            Helper::FailDivision => dl_fail_division as *const u8,
            Helper::BudgetSpent => dl_budget_spent as *const u8,
        }
    }

    /// Parameter and result kinds (the first parameter, the context, included).
    fn shape(self) -> (&'static [K], Option<K>) {
        use K::*;
        match self {
            Helper::LoadData => (&[P, W], Some(Q)),
            Helper::StoreData => (&[P, W, Q], None),
            Helper::Field => (&[P, Q, W, W, P], Some(W)),
            Helper::ItemCount => (&[P, Q], Some(Q)),
            Helper::Item => (&[P, Q, Q, W, P], Some(W)),
            Helper::Concat => (&[P, Q, Q], Some(Q)),
            Helper::Format => (&[P, W, P, W], Some(Q)),
            Helper::TextCmp => (&[P, Q, Q], Some(Q)),
            Helper::InList => (&[P, Q, P, W, W], Some(Q)),
            Helper::Call => (&[P, W, P, W, W, P], Some(W)),
            Helper::Suspend | Helper::CallFlow => (&[P, W, P, W, W], None),
            Helper::Return => (&[P, W, Q], None),
            Helper::Hangup => (&[P], None),
            Helper::Fail => (&[P, P, P, W], None),
            Helper::FailDivision => (&[P, W, W], None),
            Helper::BudgetSpent => (&[P, W], None),
        }
    }

    /// The Cranelift signature of the helper for a target.
    pub(crate) fn signature(self, call_conv: CallConv, ptr: types::Type) -> Signature {
        let ty = |k: K| match k {
            K::P => ptr,
            K::W => types::I32,
            K::Q => types::I64,
        };
        let (params, ret) = self.shape();
        let mut sig = Signature::new(call_conv);
        sig.params
            .extend(params.iter().map(|k| AbiParam::new(ty(*k))));
        if let Some(r) = ret {
            sig.returns.push(AbiParam::new(ty(r)));
        }
        sig
    }
}
