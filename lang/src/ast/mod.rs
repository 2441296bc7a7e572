//! The owned syntax tree of a Dialect file.
//!
//! Every node carries a [`Span`] into its source file, so the checker, the
//! compiler's source map and the formatter can point back at the text. Pest pairs
//! never leave the `syntax` module: this tree is what the rest of the project sees.
//!
//! The types are spread by part of the language and all re-exported here:
//! `span` (files, spans, identifiers), `expr` (expressions and literals), `decls`
//! (resource declarations and options), `flow` (flows and statements) and
//! `center` (queues, campaigns, workorders). Each file uses only the ones before
//! it in that list.

mod center;
mod decls;
mod expr;
mod flow;
mod span;

use serde::Serialize;

pub use center::*;
pub use decls::*;
pub use expr::*;
pub use flow::*;
pub use span::*;

/// One parsed `.flow` file.
#[derive(Debug, Clone, Serialize)]
pub struct Module {
    /// The file this module was parsed from.
    pub file: FileId,
    /// Top-level declarations in source order.
    pub items: Vec<Item>,
    /// Text left out after syntax errors (a statement, clause or field that did
    /// not parse, or a whole declaration): the checker keeps quiet about what
    /// these would have declared, and about warnings in their declarations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recovered: Vec<Span>,
}

/// A top-level declaration.
#[derive(Debug, Clone, Serialize)]
pub enum Item {
    /// `import "other.flow"`
    Import(Import),
    /// `const name = expr`
    Const(ConstDecl),
    /// `languages zh, en`
    Languages(LanguagesDecl),
    /// `calldata { field: type = default }`
    CallData(CallDataDecl),
    /// `skill billing, fault levels 1..5`
    Skill(SkillDecl),
    /// `department network_ops "网络维护中心"`
    Department(DepartmentDecl),
    /// `role dispatcher "派单员"`
    Role(RoleDecl),
    /// `agent "1001" "王芳" { skills billing 3 }`
    Agent(AgentDecl),
    /// `list blacklist { category harassment { "..." } }`
    List(ListDecl),
    /// `calendar cn_2026 { ... }`
    Calendar(CalendarDecl),
    /// `service crm { url "..." get customer "/c/{phone}" (phone: text) -> {...} }`
    Service(ServiceDecl),
    /// `flow hotline on "10000" { ... }`
    Flow(FlowDecl),
    /// `queue billing { ... }`
    Queue(QueueDecl),
    /// `campaign reminder { ... }`
    Campaign(CampaignDecl),
    /// `workorder complaint { ... }`
    Workorder(WorkorderDecl),
}

impl Item {
    /// The declared name and a word for the kind of declaration, for symbol tables.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Import(_) | Item::Languages(_) | Item::CallData(_) | Item::Skill(_) => None,
            Item::Const(d) => Some(&d.name),
            Item::Department(d) => Some(&d.name),
            Item::Role(d) => Some(&d.name),
            Item::Agent(_) => None,
            Item::List(d) => Some(&d.name),
            Item::Calendar(d) => Some(&d.name),
            Item::Service(d) => Some(&d.name),
            Item::Flow(d) => Some(&d.name),
            Item::Queue(d) => Some(&d.name),
            Item::Campaign(d) => Some(&d.name),
            Item::Workorder(d) => Some(&d.name),
        }
    }

    /// The span of the whole declaration.
    pub fn span(&self) -> Span {
        match self {
            Item::Import(d) => d.span,
            Item::Const(d) => d.span,
            Item::Languages(d) => d.span,
            Item::CallData(d) => d.span,
            Item::Skill(d) => d.span,
            Item::Department(d) => d.span,
            Item::Role(d) => d.span,
            Item::Agent(d) => d.span,
            Item::List(d) => d.span,
            Item::Calendar(d) => d.span,
            Item::Service(d) => d.span,
            Item::Flow(d) => d.span,
            Item::Queue(d) => d.span,
            Item::Campaign(d) => d.span,
            Item::Workorder(d) => d.span,
        }
    }
}
