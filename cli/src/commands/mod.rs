//! One module per subcommand.

pub(crate) mod amd;
pub(crate) mod call;
pub(crate) mod campaign;
pub(crate) mod check;
pub(crate) mod compile;
pub(crate) mod flowtest;
pub(crate) mod fmt;
pub(crate) mod graph;
pub(crate) mod lsp;
pub(crate) mod passwd;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod simulate;
