//! The grammar's side of parsing: the parser pest generates from
//! `dialect.pest` and the words of the language. The generated parser and its
//! `Rule` are private to `syntax`; the word lists are public (the formatter and
//! the docs tests use them).

mod generated {
    //! The parser pest generates from `dialect.pest`.
    #![allow(missing_docs, unreachable_pub)]

    #[derive(pest_derive::Parser)]
    #[grammar = "dialect.pest"]
    pub struct DialectParser;
}

pub(super) use generated::{DialectParser, Rule};

/// Words that start a top-level declaration; a line starting with one at column 1
/// is where parsing resumes after a syntax error.
pub const TOP_LEVEL_KEYWORDS: &[&str] = &[
    "import",
    "const",
    "languages",
    "calldata",
    "skill",
    "department",
    "agent",
    "list",
    "calendar",
    "service",
    "flow",
    "queue",
    "campaign",
    "workorder",
    "role",
];

/// Words of the language that cannot be used as names.
pub const RESERVED_WORDS: &[&str] = &[
    "flow",
    "queue",
    "campaign",
    "workorder",
    "calendar",
    "list",
    "service",
    "skill",
    "agent",
    "department",
    "import",
    "const",
    "calldata",
    "languages",
    "play",
    "say",
    "menu",
    "collect",
    "if",
    "else",
    "match",
    "goto",
    "repeat",
    "return",
    "lookup",
    "record",
    "create",
    "notify",
    "transfer",
    "hangup",
    "pause",
    "language",
    "true",
    "false",
    "and",
    "or",
    "not",
    "in",
    "call",
    "data",
    "on",
    "money",
    "digits",
    "number",
    "date",
    "time",
    "none",
];
