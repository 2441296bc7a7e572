//! The Dialect language: what business analysts write.
//!
//! Text goes in, a checked project comes out: `syntax` parses each `.flow` file
//! with the pest grammar into the owned [`ast`], `check` resolves names across all
//! files of a project and types every expression, and reports every problem as a
//! [`Diagnostic`]. `format` prints the one canonical layout and `graph` draws a
//! flow for analysts. Nothing here does IO beyond reading the project's files.
//!
//! # Layout
//! - [`announce`]: the numbered prompts of queue position and wait announcements.
//! - [`ast`]: the syntax tree, with a span on every node (`ast/`: spans,
//!   expressions, resource declarations, flows, queues/campaigns/workorders).
//! - [`syntax`]: the pest grammar (`dialect.pest`) and pairs → AST (`syntax/`:
//!   grammar and keywords, error wording, literals, expressions, declarations,
//!   flows).
//! - [`literal`]: duration and clock literals, read and written (shared with
//!   the compiler and runtime).
//! - [`source`]: files, `line:col` positions, display widths.
//! - [`diagnostic`]: the diagnostic type, text and JSON rendering, "did you mean".
//! - [`check`]: project loading, name resolution, typing, whole-program rules
//!   (`check/`: expressions, flows, menus and collects, declarations, rules).
//! - [`types`]: value types, built-in names and functions.
//! - [`options`]: the options each construct takes, and typed accessors.
//! - [`format`](mod@format): `dialect fmt`, the canonical layout, comments kept (`format/`:
//!   comments, in-line pieces, declarations, statements).
//! - [`graph`]: `dialect graph`, a flow as a diagram (`graph/`: DOT, Mermaid,
//!   SVG with its own layout).
//! - [`ide`]: what editors ask while the analyst types (`ide/`: symbol index,
//!   definitions and references, hover, completion, rename, quick fixes, UTF-16
//!   positions), for `dialect lsp`.

pub mod announce;
pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod format;
pub mod graph;
pub mod ide;
pub mod literal;
pub mod options;
pub mod source;
pub mod syntax;
pub mod types;

pub use check::{Checked, LoadError, Model, Project, check_project, check_text, load_project};
pub use diagnostic::{Diagnostic, Severity};
