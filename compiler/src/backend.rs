//! The seam between running a program and the code that runs it: the [`Backend`]
//! trait, which the reference interpreter ([`crate::interp`]) and the native code
//! ([`crate::jit`]) both implement, and the [`Engine`] that names them. The
//! runtime API in [`crate::exec`] holds a `dyn Backend` and never needs to know
//! which one it has.

use serde::{Deserialize, Serialize};

use crate::ctx::{ExecCtx, STEP_BUDGET};
use crate::ir::{BlockId, FlowId, PredId};

/// Which back-end runs the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Cranelift native code (the default).
    #[default]
    Native,
    /// The reference interpreter (for debugging and differential tests).
    Interp,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Engine, String> {
        match s {
            "native" | "jit" => Ok(Engine::Native),
            "interp" | "interpreter" => Ok(Engine::Interp),
            other => Err(format!("`{other}` is not an engine; use native or interp")),
        }
    }
}

/// Runs IR code. Both back-ends implement it and must agree on every program.
pub trait Backend: Send + Sync {
    /// Runs flow `flow` from block `start` until it stops (see [`crate::interp::run`]).
    fn run_flow(&self, flow: FlowId, ctx: &mut ExecCtx, slots: &mut [u64], start: BlockId);
    /// Evaluates predicate `pred` over `env`; the result is left as a raw value
    /// (errors in `ctx.error`).
    fn eval_predicate(&self, pred: PredId, ctx: &mut ExecCtx, env: &[u64]) -> u64;
    /// Evaluates `pred` over records laid out back to back (`width` values
    /// each), pushing one raw result per record to `out`; stops at the first
    /// record that fails (its error left in `ctx.error`). Returns how many
    /// records were evaluated without error.
    fn eval_predicate_batch(
        &self,
        pred: PredId,
        ctx: &mut ExecCtx,
        records: &[u64],
        width: usize,
        out: &mut Vec<u64>,
    ) -> usize {
        self.eval_one_by_one(pred, ctx, records, width, out)
    }
    /// [`Backend::eval_predicate_batch`] as one [`Backend::eval_predicate`]
    /// call per record (each with a full step budget): what a back-end without
    /// a batch loop of its own does, and where one with a loop falls back when
    /// the loop cannot run.
    fn eval_one_by_one(
        &self,
        pred: PredId,
        ctx: &mut ExecCtx,
        records: &[u64],
        width: usize,
        out: &mut Vec<u64>,
    ) -> usize {
        for (i, record) in records.chunks_exact(width.max(1)).enumerate() {
            ctx.budget = STEP_BUDGET;
            let v = self.eval_predicate(pred, ctx, record);
            if ctx.error.is_some() {
                return i;
            }
            out.push(v);
        }
        records.len() / width.max(1)
    }
    /// Which engine this is.
    fn engine(&self) -> Engine;
}
