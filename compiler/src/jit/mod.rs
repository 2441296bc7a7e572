//! The Cranelift back-end: one native `step` function per flow and one native
//! function per predicate, calling the shared operations of [`crate::ctx`] through a
//! small `extern "C"` helper ABI. All `unsafe` of the compiler lives here.

use std::sync::Arc;

use crate::ctx::{ExecCtx, Shared};
use crate::exec::{Backend, Engine};
use crate::ir::{BlockId, FlowId, PredId};

/// Native code for a whole program.
pub struct Native {
    shared: Arc<Shared>,
}

impl Native {
    /// Compiles every flow and predicate of the program.
    pub fn compile(shared: Arc<Shared>) -> Result<Native, crate::CompileError> {
        let _ = &shared;
        Err(crate::CompileError::Jit(
            "the native back-end is being built".into(),
        ))
    }
}

impl Backend for Native {
    fn run_flow(&self, flow: FlowId, ctx: &mut ExecCtx, slots: &mut [u64], start: BlockId) {
        let _ = (&self.shared, flow, slots, start);
        ctx.fail("native code unavailable", 0);
    }

    fn eval_predicate(&self, pred: PredId, ctx: &mut ExecCtx, env: &[u64]) -> u64 {
        let _ = (pred, env);
        ctx.fail("native code unavailable", 0);
        0
    }

    fn engine(&self) -> Engine {
        Engine::Native
    }
}
