//! The Dialect compiler: turns a checked project into something the runtime can
//! execute fast and safely.
//!
//! A checked project (`dialect_lang::Checked`) is lowered to the [`ir`]: flows
//! become state machines with explicit suspension points, and queue priorities,
//! conditions, campaign filters and workorder guards become pure functions. The IR
//! is checked by the [`verify`] pass, runs on the reference [`interp`]reter, and is
//! compiled to native code by the Cranelift back-end ([`jit`]); both back-ends
//! sit behind one [`Backend`](exec::Backend) trait and must agree. A [`bundle`] is
//! the unit of deployment.
//!
//! # Layout
//! - [`ir`]: the IR types.
//! - [`lower`]: AST + model → IR.
//! - [`verify`]: the IR verifier.
//! - [`interp`]: the reference interpreter.
//! - [`ctx`]: the execution context and the operations both back-ends share.
//! - [`value`]: value representations, texts, records, lists.
//! - [`calendar`]: calendars as pure functions.
//! - [`exec`]: commands, inputs, flow instances, predicates, programs.
//! - [`bundle`]: the bundle file format.
//! - [`irtext`]: the readable text form of the IR.
//! - [`script`]: scripted calls for `dialect run-flow` and `dialect test`.

pub mod bundle;
pub mod calendar;
pub mod ctx;
pub mod exec;
pub mod interp;
pub mod ir;
pub mod irtext;
pub mod jit;
pub mod lower;
pub mod script;
pub mod value;
pub mod verify;

pub use exec::{BatchError, CallInfo, Command, Engine, Evaluator, FlowInstance, Input, Program};
pub use lower::{compile_paths, lower};

/// Why a program could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The project could not be read.
    #[error("{0}")]
    Load(String),
    /// The project has errors (the checker's diagnostics).
    #[error("the project has {0} error(s); run `dialect check` to see them")]
    Check(usize),
    /// The IR failed verification (a compiler bug).
    #[error("the compiled program is inconsistent (compiler bug):\n{0}")]
    Verify(String),
    /// Cranelift could not compile the program.
    #[error("native compilation failed: {0}")]
    Jit(String),
}
