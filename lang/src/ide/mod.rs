//! What an editor asks about a project while the analyst types: where a name is
//! declared and used, what it is (hover), what may be written here
//! (completion), how to rename it everywhere, and the quick fixes for the
//! checker's diagnostics. It is built from the checker's own results (a
//! [`Checked`] project: ASTs with spans, the [`Model`](crate::Model), the
//! diagnostics), so an editor and `dialect check` never disagree; the language
//! server (`dialect lsp`) only translates these answers into the protocol.
//!
//! Everything here is in byte offsets into the project's files, like spans;
//! [`LineIndex`] converts them to and from the line and UTF-16 column editors
//! count in.
//!
//! # Layout
//! - `mod.rs`: [`Analysis`], symbols and their occurrences, definition,
//!   references, document outline.
//! - `position`: [`LineIndex`], byte offsets ↔ line and UTF-16 column.
//! - `index`: building the symbol index from the ASTs and the model.
//! - `hover`: what a name is, with the comment written above its declaration.
//! - `complete`: completion of names, clause keywords, options and rule words,
//!   from the text before the cursor (which may not parse yet).
//! - `rename`: renaming a symbol in every file, refusing names that would not
//!   parse or would clash.
//! - `fixes`: quick fixes: the checker's "did you mean" suggestions, and
//!   full-width punctuation typed with a Chinese input method.

mod complete;
mod fixes;
mod hover;
mod index;
mod position;
mod rename;

use std::path::Path;

use crate::ast::{FileId, Span};
use crate::check::Checked;

pub use complete::{Completion, CompletionKind};
pub use fixes::{Fix, full_width_fixes};
pub use hover::Hover;
pub use position::{LineCol, LineIndex};
pub use rename::RenameError;

/// What kind of declaration a symbol is. Each kind has its own names: a queue
/// and a flow may both be called `billing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SymbolKind {
    /// `flow name ...`
    Flow,
    /// `queue name ...`
    Queue,
    /// `label:` in a flow (owned by the flow).
    Label,
    /// `menu name` in a flow (owned by the flow); named in the IVR trail.
    Menu,
    /// A variable or parameter of a flow (owned by the flow).
    Variable,
    /// `const name = ...`
    Constant,
    /// `list name { ... }`
    List,
    /// `category name` of a list (owned by the list).
    Category,
    /// `service name { ... }`
    Service,
    /// An operation of a service (owned by the service).
    Operation,
    /// A field of a service operation's answer (owned by `service.operation`).
    RecordField,
    /// `calendar name { ... }`
    Calendar,
    /// A field of the `calldata` block, read as `data.name`.
    CallData,
    /// `workorder name { ... }`
    Workorder,
    /// `field name: type` of a workorder (owned by the workorder).
    WorkorderField,
    /// `state name` of a workorder (owned by the workorder).
    State,
    /// `transition name:` of a workorder (owned by the workorder).
    Transition,
    /// `campaign name { ... }`
    Campaign,
    /// A field of a campaign's list (owned by the campaign).
    CampaignField,
    /// A skill of `skill a, b`.
    Skill,
    /// `department name`
    Department,
    /// `role name`: a project role, named in `by` lists, reminder and
    /// escalation targets and `assign` triggers.
    Role,
}

impl SymbolKind {
    /// The word analysts use for it, in messages.
    pub fn word(self) -> &'static str {
        match self {
            SymbolKind::Flow => "flow",
            SymbolKind::Queue => "queue",
            SymbolKind::Label => "label",
            SymbolKind::Menu => "menu",
            SymbolKind::Variable => "variable",
            SymbolKind::Constant => "constant",
            SymbolKind::List => "list",
            SymbolKind::Category => "list category",
            SymbolKind::Service => "service",
            SymbolKind::Operation => "service operation",
            SymbolKind::RecordField => "field",
            SymbolKind::Calendar => "calendar",
            SymbolKind::CallData => "call-data field",
            SymbolKind::Workorder => "workorder type",
            SymbolKind::WorkorderField => "workorder field",
            SymbolKind::State => "state",
            SymbolKind::Transition => "transition",
            SymbolKind::Campaign => "campaign",
            SymbolKind::CampaignField => "list field",
            SymbolKind::Skill => "skill",
            SymbolKind::Department => "department",
            SymbolKind::Role => "role",
        }
    }
}

/// Index of a [`Symbol`] in [`Analysis::symbols`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymbolId(pub u32);

/// A declaration: what it is, where its name is written, what it owns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    /// What kind of declaration.
    pub kind: SymbolKind,
    /// The name as written.
    pub name: String,
    /// Where the name is written in the declaration: go-to-definition lands here.
    pub decl: Span,
    /// The whole declaration; the comment above its first line documents it.
    pub span: Span,
    /// The flow, list, service, workorder or campaign the name belongs to, for
    /// names that are only unique inside one.
    pub owner: Option<String>,
    /// One line saying what it is (`queue general "综合服务"`, `level: number`).
    pub detail: String,
}

/// One place a symbol's name is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// The name's text.
    pub span: Span,
    /// What it names.
    pub symbol: SymbolId,
    /// True at the declaration itself.
    pub is_decl: bool,
}

/// A checked project with its symbol index: what every editor request is
/// answered from. Building it costs one walk over the ASTs, so a server builds
/// a new one after each re-check.
#[derive(Debug)]
pub struct Analysis {
    /// The checked project (sources, ASTs, diagnostics, model).
    pub checked: Checked,
    /// Every declaration.
    pub symbols: Vec<Symbol>,
    /// Every name written that refers to a declaration, sorted by file and place.
    occurrences: Vec<Occurrence>,
    comments: Vec<index::FileComments>,
    lines: Vec<LineIndex>,
}

impl Analysis {
    /// Indexes a checked project.
    pub fn new(checked: Checked) -> Analysis {
        let (symbols, mut occurrences, comments) = {
            let mut b = index::Builder::new(&checked);
            b.declarations(&checked.project.modules);
            b.uses(&checked.project.modules);
            (b.symbols, b.occurrences, b.comments)
        };
        occurrences.sort_by_key(|o| (o.span.file, o.span.start, o.span.end));
        occurrences.dedup_by_key(|o| o.span);
        let lines = checked
            .project
            .sources
            .files()
            .iter()
            .map(|f| LineIndex::new(&f.text))
            .collect();
        Analysis {
            checked,
            symbols,
            occurrences,
            comments,
            lines,
        }
    }

    /// The file loaded from `path`.
    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.checked.project.sources.find(path)
    }

    /// The text of a file (empty for an unknown id).
    pub fn text(&self, file: FileId) -> &str {
        self.checked
            .project
            .sources
            .get(file)
            .map(|f| f.text.as_str())
            .unwrap_or("")
    }

    /// The path a file was loaded from.
    pub fn path(&self, file: FileId) -> Option<&Path> {
        self.checked
            .project
            .sources
            .get(file)
            .map(|f| f.path.as_path())
    }

    /// The line and UTF-16 column of a byte offset in a file.
    pub fn position(&self, file: FileId, offset: usize) -> LineCol {
        match self.lines.get(file.0 as usize) {
            Some(l) => l.position(self.text(file), offset),
            None => LineCol::default(),
        }
    }

    /// The byte offset of a line and UTF-16 column in a file.
    pub fn offset(&self, file: FileId, pos: LineCol) -> usize {
        match self.lines.get(file.0 as usize) {
            Some(l) => l.offset(self.text(file), pos),
            None => 0,
        }
    }

    /// The start and end positions of a span.
    pub fn range(&self, span: Span) -> (LineCol, LineCol) {
        (
            self.position(span.file, span.start as usize),
            self.position(span.file, span.end as usize),
        )
    }

    /// A symbol by id.
    pub fn symbol(&self, id: SymbolId) -> &Symbol {
        &self.symbols[id.0 as usize]
    }

    /// The name written at `offset` (the cursor may stand just after it) and the
    /// symbol it refers to.
    pub fn occurrence_at(&self, file: FileId, offset: usize) -> Option<Occurrence> {
        let offset = offset as u32;
        let i = self
            .occurrences
            .partition_point(|o| (o.span.file, o.span.end) < (file, offset));
        self.occurrences[i..]
            .iter()
            .take_while(|o| o.span.file == file && o.span.start <= offset)
            .find(|o| o.span.start <= offset && offset <= o.span.end)
            .copied()
    }

    /// Where the name at `offset` is declared.
    pub fn definition(&self, file: FileId, offset: usize) -> Option<Span> {
        self.occurrence_at(file, offset)
            .map(|o| self.symbol(o.symbol).decl)
    }

    /// Every place the symbol is written, the declaration first when asked for.
    pub fn references(&self, symbol: SymbolId, include_declaration: bool) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        if include_declaration {
            out.push(self.symbol(symbol).decl);
        }
        out.extend(
            self.occurrences
                .iter()
                .filter(|o| o.symbol == symbol && !o.is_decl)
                .map(|o| o.span),
        );
        out
    }

    /// The declarations of one file in source order, for an outline.
    pub fn file_symbols(&self, file: FileId) -> Vec<&Symbol> {
        let mut out: Vec<&Symbol> = self
            .symbols
            .iter()
            .filter(|s| s.decl.file == file)
            .collect();
        out.sort_by_key(|s| s.span.start);
        out
    }
}

#[cfg(test)]
mod tests;
