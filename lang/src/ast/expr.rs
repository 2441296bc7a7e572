//! Expressions and the literals they are made of: texts with interpolations,
//! durations, and the operators with their precedence.

use serde::{Deserialize, Serialize};

use super::span::*;

/// A duration literal, in milliseconds; `unitless` marks a bare number where a duration belongs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DurationLit {
    /// Milliseconds.
    pub millis: i64,
    /// True when written without a unit (an error the checker reports).
    pub unitless: bool,
    /// The literal, unit included; the checker's "needs a unit" points here.
    pub span: Span,
}

/// A text literal, possibly with `{expr}` interpolations.
#[derive(Debug, Clone, Serialize)]
pub struct Text {
    /// Literal chunks and interpolated expressions, in order.
    pub parts: Vec<TextPart>,
    /// The whole literal including quotes.
    pub span: Span,
}

impl Text {
    /// The text when it has no interpolation.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                TextPart::Lit(s) => out.push_str(s),
                TextPart::Expr(_) => return None,
            }
        }
        Some(out)
    }

    /// The literal chunks joined, with interpolations left out (for labels and messages).
    pub fn plain_lossy(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if let TextPart::Lit(s) = p {
                out.push_str(s)
            }
        }
        out
    }
}

/// A piece of a text literal.
#[derive(Debug, Clone, Serialize)]
pub enum TextPart {
    /// Literal characters (escapes resolved).
    Lit(String),
    /// `{expr}`
    Expr(Expr),
}

/// An expression.
#[derive(Debug, Clone, Serialize)]
pub struct Expr {
    /// Project-wide id, for the checker's type table.
    pub id: ExprId,
    /// What it is.
    pub kind: ExprKind,
    /// From its first to its last character; type errors underline this.
    pub span: Span,
}

/// The forms of expressions.
#[derive(Debug, Clone, Serialize)]
pub enum ExprKind {
    /// `12`, `3.5`
    Number(f64),
    /// `80%` (stored as a fraction)
    Percent(f64),
    /// `true` / `false`
    Bool(bool),
    /// `5s`, `1h30m` (milliseconds)
    Duration(i64),
    /// `08:30` (seconds after midnight)
    Clock(u32),
    /// `2026-10-01`
    Date(chrono::NaiveDate),
    /// `2026-12-07 14:30` or `2026-12-07T14:30:00`
    DateTime(chrono::NaiveDateTime),
    /// `"text {x}"`
    Text(Text),
    /// A variable, constant, parameter or built-in name.
    Name(Ident),
    /// `data.field`
    Data(Ident),
    /// `record.field`
    Field(Box<Expr>, Ident),
    /// `f(a, b)`
    Call(Ident, Vec<Expr>),
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `-x`, `not x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, `a == b` ...
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `x in list`, `x not in [..]`
    In {
        /// The value looked for.
        value: Box<Expr>,
        /// The list.
        target: InTarget,
        /// True for `not in`.
        negated: bool,
    },
    /// `c ? a : b`
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// The right side of `in`.
#[derive(Debug, Clone, Serialize)]
pub enum InTarget {
    /// A declared list, or one of its categories.
    List {
        /// List name.
        list: Ident,
        /// Category, if given.
        category: Option<Ident>,
    },
    /// `[a, b, c]`
    Values(Vec<Expr>, Span),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `not x`
    Not,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }

    /// Binding strength: higher binds tighter.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => 4,
            BinaryOp::Add | BinaryOp::Sub => 5,
            BinaryOp::Mul | BinaryOp::Div => 6,
        }
    }
}
