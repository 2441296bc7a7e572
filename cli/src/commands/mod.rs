//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod fmt;
pub(crate) mod graph;
