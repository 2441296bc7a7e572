//! The Dialect language server (crate `dialect-lsp`): `dialect lsp` speaks the
//! Language Server Protocol over standard input and output, so any editor gets
//! the checker's diagnostics as the analyst types, go to definition, find
//! references, hover, completion, rename, formatting and quick fixes.
//!
//! The answers come from `dialect_lang::ide`, built on the same checker as
//! `dialect check`; this crate is the protocol around it: framing with size
//! limits, projects and open documents, and the translation between byte
//! spans and the protocol's UTF-16 positions. It uses rust-analyzer's
//! `lsp-types` for the messages' shapes and `lsp-server` for the JSON-RPC
//! envelope, but frames the stream itself so that every read is bounded.
//!
//! # Layout
//! - [`transport`]: `Content-Length` framing, bounded.
//! - [`workspace`]: project folders, open documents overriding files, edits.
//! - [`convert`]: URIs and paths, spans and ranges, diagnostics, kinds.
//! - [`server`]: the loop and the request handlers.

pub mod convert;
pub mod server;
pub mod transport;
pub mod workspace;

pub use server::{Ending, Server, run};
pub use workspace::MAX_DOCUMENT;
