//! The Dialect compiler: turns a checked project into something the runtime can
//! execute fast and safely.
//!
//! A checked project (`dialect_lang::Checked`) is lowered to the [`ir`]: flows
//! become state machines with explicit suspension points, and queue priorities,
//! conditions, campaign filters and workorder guards become pure functions. The IR
//! is checked by the [`verify`] pass, runs on the reference [`interp`]reter, and is
//! compiled to native code by the Cranelift back-end ([`jit`]); both back-ends
//! sit behind one [`Backend`] trait and must agree. A [`bundle`] is the unit of
//! deployment.
//!
//! Modules depend one way: `ir`, `value` and `calendar` at the bottom; `ctx` (the
//! state both back-ends share) on them; `backend` on `ctx`; `interp` on
//! `backend`; `jit` on `backend` and on `interp` (it hands a run with too little
//! step budget left to the interpreter); `exec` (what the runtime calls) on both
//! back-ends; `bundle` and `script` on `exec`. `lower` and `verify` need only the
//! `ir`.
//!
//! # Layout
//! - [`ir`]: the IR types.
//! - [`lower`](mod@lower): AST + model → IR (`lower/`: declarations, expressions, flows,
//!   menus and collects, queues/campaigns/workorders).
//! - [`verify`]: the IR verifier and its [`VerifyError`](verify::VerifyError).
//! - [`backend`]: the [`Backend`] trait both back-ends implement, and [`Engine`].
//! - [`interp`]: the reference interpreter.
//! - [`jit`]: the Cranelift back-end (`jit/`: translation, runtime helpers, lists
//!   prepared for membership tests); all the compiler's `unsafe` is there.
//! - [`ctx`]: the execution context and the operations both back-ends share.
//! - [`value`]: value representations, texts, records, lists.
//! - [`calendar`]: calendars as pure functions.
//! - [`exec`]: commands, inputs, flow instances, predicates, programs.
//! - [`error`]: [`CompileError`] and Cranelift's [`JitError`](error::JitError).
//! - [`bundle`]: the bundle file format.
//! - [`irtext`]: the readable text form of the IR.
//! - [`script`]: scripted calls for `dialect run-flow` and `dialect test`.

pub mod backend;
pub mod bundle;
pub mod calendar;
pub mod ctx;
pub mod error;
pub mod exec;
pub mod interp;
pub mod ir;
pub mod irtext;
pub mod jit;
pub mod lower;
pub mod script;
pub mod value;
pub mod verify;

pub use backend::{Backend, Engine};
pub use error::CompileError;
pub use exec::{BatchError, CallInfo, Command, Evaluator, FlowInstance, Input, Program};
pub use lower::{compile_paths, lower};
