//! The Dialect language: what business analysts write.
//!
//! Text goes in, a checked project comes out: `syntax` parses each `.flow` file
//! with the pest grammar into the owned [`ast`], `check` resolves names across all
//! files of a project and types every expression, and reports every problem as a
//! [`Diagnostic`]. `format` prints the one canonical layout and `graph` draws a
//! flow for analysts. Nothing here does IO beyond reading the project's files.
//!
//! # Layout
//! - [`ast`]: the syntax tree, with a span on every node.
//! - [`syntax`]: the pest grammar (`dialect.pest`) and pairs → AST.
//! - [`source`]: files, `line:col` positions, display widths.
//! - [`diagnostic`]: the diagnostic type, text and JSON rendering, "did you mean".

pub mod ast;
pub mod diagnostic;
pub mod source;
pub mod syntax;

pub use diagnostic::{Diagnostic, Severity};
