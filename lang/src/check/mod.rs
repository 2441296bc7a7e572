//! The checker: loads a project (a folder of `.flow` files and what they import),
//! resolves names across all files, gives every expression a type, and reports
//! every problem it finds in one run, each with a place and a suggestion.
//!
//! The result is a [`Checked`] project: the sources, the ASTs, the diagnostics and
//! the [`Model`] (symbol tables, expression types, what each name refers to) that
//! the compiler lowers from.
//!
//! # How a project is checked
//! `dialect_lang::check` loads every `.flow` file of a project folder and what they
//! import, parses each with pest into an owned AST (pest pairs never leave
//! `syntax/`), then:
//!
//! 1. collects every top-level name (flows, queues, lists, calendars, services,
//!    workorder types, skills, departments, agents, constants, call data);
//! 2. types constants, then every declaration other than flows (queues, campaigns,
//!    workorders, calendars, lists, services, agents);
//! 3. checks each flow: variables are typed by their first assignment, every
//!    expression gets a type, every name a meaning (`Model::names`), and the control
//!    flow is walked for unreachable statements and flows that never end;
//! 4. applies the whole-program rules: overflow cycles, queue timing, skills that no
//!    agent holds, calling hours, abandon-rate caps, dropped-call messages.
//!
//! Every problem is collected; nothing stops at the first. The result (`Checked`)
//! holds the sources, the ASTs, the diagnostics and the `Model` the compiler lowers
//! from.
//!
//! # Layout
//! - `mod.rs`: loading, the model, the driver and top-level symbol tables.
//! - `expr`: expression typing.
//! - `flow`: flows (statements, lookups, transfers, control flow, reachability).
//! - `input`: menus and digit collection, with their handlers per attempt.
//! - `decls`: queues, campaigns, workorders, calendars, lists, services, agents.
//! - `rules`: the whole-program rules across flows, queues, agents and campaigns.
//!
//! Why this file stays long: the model the other files check against (every
//! declaration's symbols and types, gathered in one pass) and the driver that
//! runs the checks in order are one piece; the checks themselves are in the
//! files above.

mod decls;
mod expr;
mod flow;
pub(crate) use flow::walk_stmts;
mod input;
pub mod orders;
mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ast::*;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::source::SourceMap;
use crate::syntax::{IdGen, parse_module};
use crate::types::{Builtin, RecordId, Type};

/// Where a declaration is: module index and item index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ItemRef {
    /// Index into [`Project::modules`].
    pub module: usize,
    /// Index into that module's items.
    pub item: usize,
}

/// Which prompt files exist under the project's `prompts/` folder.
#[derive(Debug, Clone)]
pub enum PromptIndex {
    /// The relative paths (with `/` separators) of every file under `prompts/`.
    Files(BTreeSet<String>),
    /// Do not check prompt files (text checked without a project folder).
    Unchecked,
}

impl PromptIndex {
    /// Indexes `dir` recursively; a missing folder is an empty index.
    pub fn from_dir(dir: &Path) -> PromptIndex {
        let mut files = BTreeSet::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(dir) {
                    files.insert(
                        rel.components()
                            .map(|c| c.as_os_str().to_string_lossy())
                            .collect::<Vec<_>>()
                            .join("/"),
                    );
                }
            }
        }
        PromptIndex::Files(files)
    }

    /// Whether `name` exists for `language` (`prompts/<language>/name`) or for all
    /// languages (`prompts/name`).
    pub fn has(&self, name: &str, language: Option<&str>) -> bool {
        match self {
            PromptIndex::Unchecked => true,
            PromptIndex::Files(f) => {
                f.contains(name) || language.is_some_and(|l| f.contains(&format!("{l}/{name}")))
            }
        }
    }

    /// Every known prompt name, for suggestions.
    pub fn names(&self) -> Vec<String> {
        match self {
            PromptIndex::Unchecked => Vec::new(),
            PromptIndex::Files(f) => f
                .iter()
                .map(|p| p.rsplit('/').next().unwrap_or(p).to_string())
                .collect(),
        }
    }
}

/// A loaded project: every file and its syntax tree.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project folder (prompt paths are relative to `root/prompts`).
    pub root: PathBuf,
    /// All files.
    pub sources: SourceMap,
    /// One module per file, same order as `sources`.
    pub modules: Vec<Module>,
    /// Syntax errors found while parsing.
    pub syntax_diagnostics: Vec<Diagnostic>,
    /// Prompt files available.
    pub prompts: PromptIndex,
    /// How many expression ids were handed out.
    pub expr_count: u32,
}

impl Project {
    /// The declaration an [`ItemRef`] points at.
    pub fn item(&self, r: ItemRef) -> &Item {
        &self.modules[r.module].items[r.item]
    }
}

/// A problem reading the project from disk (not a problem in the flows themselves).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path given on the command line could not be read, and the reason the
    /// operating system gave.
    #[error("cannot read {path}: {reason}")]
    #[allow(missing_docs)]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    /// A folder with no `.flow` files.
    #[error("there are no .flow files in {0}")]
    Empty(PathBuf),
}

/// Reads a project: for each path, a `.flow` file or every `.flow` file under a
/// folder; then every file they import. The project root is the first folder given
/// (or the folder of the first file).
pub fn load_project(paths: &[PathBuf]) -> Result<Project, LoadError> {
    let mut files = Vec::new();
    let mut root = None;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| LoadError::Read {
            path: p.clone(),
            reason: e,
        })?;
        if meta.is_dir() {
            root.get_or_insert_with(|| p.clone());
            let mut found = Vec::new();
            collect_flow_files(p, &mut found);
            if found.is_empty() {
                return Err(LoadError::Empty(p.clone()));
            }
            found.sort();
            files.extend(found);
        } else {
            root.get_or_insert_with(|| {
                p.parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            });
            files.push(p.clone());
        }
    }
    let root = root.unwrap_or_else(|| PathBuf::from("."));
    let mut texts = Vec::new();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|e| LoadError::Read {
            path: f.clone(),
            reason: e,
        })?;
        texts.push((f, bytes));
    }
    let prompts = PromptIndex::from_dir(&root.join("prompts"));
    Ok(parse_project(root, texts, prompts, true))
}

/// The `.flow` files of a project folder, sorted, as [`load_project`] finds
/// them (folders starting with a dot, `target` and `prompts` are skipped): for
/// tools that read the files themselves, such as the language server.
pub fn project_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    collect_flow_files(dir, &mut found);
    found.sort();
    found
}

fn collect_flow_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.starts_with('.') && name != "target" && name != "prompts" {
                collect_flow_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "flow") {
            out.push(p);
        }
    }
}

/// Parses files given as bytes (invalid UTF-8 is reported and replaced), following
/// imports on disk when `follow_imports` is set.
pub fn parse_project(
    root: PathBuf,
    files: Vec<(PathBuf, Vec<u8>)>,
    prompts: PromptIndex,
    follow_imports: bool,
) -> Project {
    let mut sources = SourceMap::new();
    let mut modules = Vec::new();
    let mut diags = Vec::new();
    let mut ids = IdGen::default();
    let mut queue: Vec<(PathBuf, Option<Vec<u8>>, Option<Span>)> =
        files.into_iter().map(|(p, b)| (p, Some(b), None)).collect();
    queue.reverse();
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some((path, bytes, import_span)) = queue.pop() {
        let key = normalize(&path);
        if !seen.insert(key) {
            continue;
        }
        let bytes = match bytes {
            Some(b) => b,
            None => match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    if let Some(span) = import_span {
                        diags.push(
                            Diagnostic::error(
                                "unknown-import",
                                span,
                                format!("I cannot read the imported file {}: {e}", path.display()),
                            )
                            .with_hint("import paths are relative to the file that imports them"),
                        );
                    }
                    continue;
                }
            },
        };
        let (text, bad_utf8) = match String::from_utf8(bytes) {
            Ok(t) => (t, None),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
            }
        };
        let id = sources.add(path.clone(), text);
        let text = &sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
        if let Some(at) = bad_utf8 {
            diags.push(
                Diagnostic::error(
                    "invalid-utf8",
                    Span::new(id, at, at + 1),
                    "this file is not valid UTF-8 text",
                )
                .with_hint(
                    "save the file as UTF-8 (most editors offer it under \"Save with encoding\")",
                ),
            );
        }
        let (module, mut d) = parse_module(id, text, &mut ids);
        diags.append(&mut d);
        if follow_imports {
            for item in &module.items {
                if let Item::Import(imp) = item {
                    let base = path.parent().unwrap_or(Path::new("."));
                    queue.push((base.join(&imp.path), None, Some(imp.path_span)));
                }
            }
        }
        modules.push(module);
    }
    Project {
        root,
        sources,
        modules,
        syntax_diagnostics: diags,
        prompts,
        expr_count: ids.count(),
    }
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// A record type: the answer of one service operation.
#[derive(Debug, Clone, Serialize)]
pub struct RecordType {
    /// `service.operation`
    pub name: String,
    /// Fields in declaration order.
    pub fields: Vec<(String, Type)>,
}

impl RecordType {
    /// A field's index and type.
    pub fn field(&self, name: &str) -> Option<(usize, Type)> {
        self.fields
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (i, self.fields[i].1))
    }
}

/// What a name in an expression refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NameRef {
    /// A variable or parameter of the enclosing flow.
    Local,
    /// A named constant.
    Const,
    /// A built-in name (`caller`, `waited`, ...).
    Builtin(Builtin),
    /// A field of the record being filtered (campaign) or guarded (workorder).
    Field,
    /// A calendar (argument of `is_open`).
    Calendar,
}

/// A flow's signature and variables.
#[derive(Debug, Clone, Serialize)]
pub struct FlowInfo {
    /// Where it is declared.
    pub item: ItemRef,
    /// Parameters in order.
    pub params: Vec<(String, Type)>,
    /// Return type (`Void` when none).
    pub returns: Type,
    /// Every variable (including parameters) and its type.
    pub locals: BTreeMap<String, Type>,
}

/// A service operation's signature.
#[derive(Debug, Clone, Serialize)]
pub struct OperationInfo {
    /// Where the service declaring it is, for messages that point at it.
    pub service: ItemRef,
    /// Index of the operation in the service.
    pub index: usize,
    /// Parameter types.
    pub params: Vec<(String, Type)>,
    /// The answer's record type.
    pub record: RecordId,
    /// The operation answers a list of such records (`-> list of { ... }`).
    pub list: bool,
}

impl OperationInfo {
    /// The type of the lookup's variable: the record, or the list of records.
    pub fn answer_type(&self) -> Type {
        if self.list {
            Type::RecordList(self.record)
        } else {
            Type::Record(self.record)
        }
    }
}

/// A field of a workorder type.
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderFieldInfo {
    /// Field name.
    pub name: String,
    /// Value type.
    pub ty: Type,
    /// Declared type name (`phone`, `customer`, `enum`...).
    pub kind: String,
    /// Allowed values of an enum field.
    pub values: Vec<String>,
    /// Must be given at creation.
    pub required: bool,
    /// Masked for roles that may not see it.
    pub sensitive: bool,
}

/// Symbol tables and types of a checked project.
///
/// A table named after a kind of declaration maps each name to where it is
/// declared (an [`ItemRef`]) and, where it holds more, what the checker worked
/// out about it.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(missing_docs)]
pub struct Model {
    /// The type of every expression.
    pub types: HashMap<ExprId, Type>,
    /// What every name expression refers to.
    pub names: HashMap<ExprId, NameRef>,
    /// Record types, indexed by [`RecordId`].
    pub records: Vec<RecordType>,
    /// Constants and their types.
    pub consts: BTreeMap<String, (ItemRef, Type)>,
    pub flows: BTreeMap<String, FlowInfo>,
    pub queues: BTreeMap<String, ItemRef>,
    /// Campaigns and the fields of their records.
    pub campaigns: BTreeMap<String, (ItemRef, Vec<(String, Type)>)>,
    /// Workorder types and their fields.
    pub workorders: BTreeMap<String, (ItemRef, Vec<WorkorderFieldInfo>)>,
    pub calendars: BTreeMap<String, ItemRef>,
    /// Lists and their categories.
    pub lists: BTreeMap<String, (ItemRef, Vec<String>)>,
    pub services: BTreeMap<String, ItemRef>,
    /// Service operations by `(service, operation)`.
    pub operations: BTreeMap<(String, String), OperationInfo>,
    /// Call-data fields, their types and defaults.
    pub calldata: Vec<(String, Type)>,
    /// Where the call data is declared.
    pub calldata_item: Option<ItemRef>,
    /// Languages, the default first.
    pub languages: Vec<String>,
    /// Skills and their level range.
    pub skills: BTreeMap<String, (u32, u32)>,
    pub departments: BTreeMap<String, ItemRef>,
    /// Roles declared with `role NAME` (beside the built-in [`ROLES`] and [`IVR_ROLE`]).
    pub roles: BTreeMap<String, ItemRef>,
    /// The record type of `lookup workorder KIND(...)` per workorder type, made
    /// when a flow first looks up an order of that type.
    pub workorder_records: BTreeMap<String, RecordId>,
    /// Agents by id.
    pub agents: BTreeMap<String, ItemRef>,
    /// Dialled numbers and the flow that answers each.
    pub numbers: BTreeMap<String, String>,
}

impl Model {
    /// The type the checker gave an expression.
    pub fn type_of(&self, e: &Expr) -> Type {
        self.types.get(&e.id).copied().unwrap_or(Type::Error)
    }

    /// A call-data field's index and type.
    pub fn calldata_field(&self, name: &str) -> Option<(usize, Type)> {
        self.calldata
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (i, self.calldata[i].1))
    }
}

/// Roles known to the platform (API users have one of these).
pub const ROLES: &[&str] = &[
    "agent",
    "supervisor",
    "quality_inspector",
    "analyst",
    "admin",
    "handler",
];

/// The role flows act as when they move orders (`transition workorder ...`): a
/// transition a flow may take names it in its `by` list.
pub const IVR_ROLE: &str = "ivr";

/// Agent-selection strategies a queue may name (REQUIREMENTS Q3).
pub const STRATEGIES: &[&str] = &[
    "first_idle",
    "longest_idle",
    "fewest_calls",
    "least_talk_time",
    "highest_skill",
    "lowest_skill",
    "round_robin",
    "ring_all",
];

/// Dialing modes a campaign may name (REQUIREMENTS O3).
pub const MODES: &[&str] = &["manual", "preview", "progressive", "predictive", "ivr"];

/// Rules a campaign may waive with `allow RULE "reason"`.
pub const ALLOWABLE_RULES: &[&str] = &["abandon_rate", "call_window", "dropped_message"];

/// The result of checking: the project, every diagnostic, and the model.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The project as loaded.
    pub project: Project,
    /// Every problem, errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// Symbols and types (complete only when there is no error).
    pub model: Model,
}

impl Checked {
    /// True when there is at least one error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Number of errors and of warnings.
    pub fn counts(&self) -> (usize, usize) {
        let e = self.diagnostics.iter().filter(|d| d.is_error()).count();
        (e, self.diagnostics.len() - e)
    }
}

/// Checks a loaded project.
pub fn check_project(project: Project) -> Checked {
    let mut cx = Checker::new(&project);
    cx.run();
    let mut diagnostics = project.syntax_diagnostics.clone();
    quiet_after_recovery(&project, &mut cx.diags);
    diagnostics.append(&mut cx.diags);
    diagnostics.sort_by(|a, b| {
        (a.span.file, a.span.start, a.span.end).cmp(&(b.span.file, b.span.start, b.span.end))
    });
    diagnostics.dedup();
    let model = cx.model;
    Checked {
        project,
        diagnostics,
        model,
    }
}

/// Codes that say something is missing or unknown: after a syntax error they
/// may be about text the parser left out, so inside a declaration with a syntax
/// error (or naming a word of the text left out) they wait until it is fixed.
const MISSING_CODES: &[&str] = &[
    "menu-no-choice",
    "missing-field",
    "queue-no-skill",
    "no-initial-state",
    "no-final-state",
    "unreachable-state",
    "dead-end-state",
    "campaign-no-list",
    "campaign-no-phone",
    "campaign-no-mode",
    "campaign-no-destination",
    "campaign-no-window",
    "campaign-no-calendar",
    "dropped-message",
    "abandon-cap",
    "wrong-arguments",
    "bad-reminder",
    "no-calendar",
    "flow-needs-arguments",
];

/// Codes for a name that does not exist.
const UNKNOWN_NAME_CODES: &[&str] = &[
    "unknown-name",
    "unknown-queue",
    "unknown-flow",
    "unknown-label",
    "unknown-list",
    "unknown-calendar",
    "unknown-service",
    "unknown-workorder",
    "unknown-skill",
    "unknown-state",
    "unknown-field",
    "unknown-agent",
];

/// Drops the checker's follow-up messages about text a syntax error made the
/// parser leave out: one mistake, one message. Warnings and "something is
/// missing" errors inside a declaration with a syntax error wait until it is
/// fixed; "unknown name" errors are dropped when the name is a word of the text
/// left out (a queue whose declaration did not parse is not reported unknown at
/// every transfer to it).
fn quiet_after_recovery(project: &Project, diags: &mut Vec<Diagnostic>) {
    let left_out: Vec<Span> = project
        .modules
        .iter()
        .flat_map(|m| m.recovered.iter().copied())
        .collect();
    if left_out.is_empty() {
        return;
    }
    let overlaps =
        |a: Span, b: Span| a.file == b.file && a.start < b.end.max(b.start + 1) && b.start < a.end;
    let mut broken: Vec<Span> = left_out.clone();
    for m in &project.modules {
        for item in &m.items {
            let s = item.span();
            if left_out.iter().any(|r| overlaps(*r, s)) {
                broken.push(s);
            }
        }
    }
    let mut words: BTreeSet<&str> = BTreeSet::new();
    for s in &left_out {
        if let Some(f) = project.sources.get(s.file) {
            words.extend(
                f.slice(*s)
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty()),
            );
        }
    }
    let inside = |d: &Diagnostic| {
        broken
            .iter()
            .any(|b| b.file == d.span.file && b.start <= d.span.start && d.span.end <= b.end)
    };
    diags.retain(|d| {
        if UNKNOWN_NAME_CODES.contains(&d.code) {
            let name = project
                .sources
                .get(d.span.file)
                .map(|f| f.slice(d.span))
                .unwrap_or_default();
            if words.contains(name) {
                return false;
            }
        }
        let within_left_out = left_out
            .iter()
            .any(|r| r.file == d.span.file && r.start <= d.span.start && d.span.end <= r.end);
        !within_left_out && !(inside(d) && (!d.is_error() || MISSING_CODES.contains(&d.code)))
    });
}

/// Checks one text as a project of its own (no imports followed, prompt files not
/// checked): what the fuzzer and editors without a folder use.
pub fn check_text(path: &str, text: &[u8]) -> Checked {
    let project = parse_project(
        PathBuf::from("."),
        vec![(PathBuf::from(path), text.to_vec())],
        PromptIndex::Unchecked,
        false,
    );
    check_project(project)
}

/// The checker's working state.
pub(crate) struct Checker<'p> {
    pub(crate) project: &'p Project,
    pub(crate) model: Model,
    pub(crate) diags: Vec<Diagnostic>,
    /// First declaration of each name per namespace, for duplicate reports.
    declared: HashMap<(&'static str, String), Span>,
    /// Constants being resolved (1) or resolved (2), for cycle detection.
    const_state: HashMap<String, u8>,
}

impl<'p> Checker<'p> {
    fn new(project: &'p Project) -> Checker<'p> {
        Checker {
            project,
            model: Model::default(),
            diags: Vec::new(),
            declared: HashMap::new(),
            const_state: HashMap::new(),
        }
    }

    pub(crate) fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Every item with its reference.
    pub(crate) fn items(&self) -> impl Iterator<Item = (ItemRef, &'p Item)> + use<'p> {
        let project: &'p Project = self.project;
        project.modules.iter().enumerate().flat_map(|(m, module)| {
            module
                .items
                .iter()
                .enumerate()
                .map(move |(i, item)| (ItemRef { module: m, item: i }, item))
        })
    }

    /// The source text under a span.
    pub(crate) fn snippet(&self, span: Span) -> String {
        self.project
            .sources
            .get(span.file)
            .map(|f| f.slice(span).to_string())
            .unwrap_or_default()
    }

    /// Records a declaration; reports a duplicate when the name is taken in `namespace`.
    pub(crate) fn declare(&mut self, namespace: &'static str, name: &Ident) -> bool {
        let key = (namespace, name.name.clone());
        if let Some(&first) = self.declared.get(&key) {
            self.err(
                Diagnostic::error(
                    "duplicate",
                    name.span,
                    format!("there are two {namespace}s called `{}`", name.name),
                )
                .with_label("second definition")
                .with_secondary(first, "first defined here")
                .with_hint("rename one of them, or remove the copy"),
            );
            false
        } else {
            self.declared.insert(key, name.span);
            true
        }
    }

    /// Reports an unknown name with a suggestion from `candidates`.
    pub(crate) fn unknown<'a>(
        &mut self,
        what: &str,
        name: &Ident,
        candidates: impl IntoIterator<Item = &'a str>,
    ) {
        let code: &'static str = match what {
            "queue" => "unknown-queue",
            "flow" => "unknown-flow",
            "label" => "unknown-label",
            "list" => "unknown-list",
            "calendar" => "unknown-calendar",
            "service" => "unknown-service",
            "workorder type" => "unknown-workorder",
            "skill" => "unknown-skill",
            "state" => "unknown-state",
            "field" => "unknown-field",
            _ => "unknown-name",
        };
        let hint = did_you_mean(&name.name, candidates).map(|s| format!("did you mean `{s}`?"));
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        self.err(
            Diagnostic::error(
                code,
                name.span,
                format!("there is no {what} called `{}`", name.name),
            )
            .with_label(format!("not {article} {what} in this project"))
            .with_hint_opt(hint),
        );
    }

    fn run(&mut self) {
        self.collect_symbols();
        self.check_consts();
        self.check_decls();
        self.check_flows();
        self.check_rules();
    }

    /// First pass: every top-level name, so later passes can resolve across files.
    fn collect_symbols(&mut self) {
        let mut languages_seen: Option<Span> = None;
        for (r, item) in self.items() {
            match item {
                Item::Import(_) => {}
                Item::Const(d) => {
                    if self.declare("constant", &d.name) {
                        self.model
                            .consts
                            .insert(d.name.name.clone(), (r, Type::Error));
                    }
                }
                Item::Languages(d) => {
                    if let Some(first) = languages_seen {
                        self.err(
                            Diagnostic::error(
                                "duplicate",
                                d.span,
                                "the languages are declared twice",
                            )
                            .with_secondary(first, "first declared here")
                            .with_hint("keep one `languages` line for the whole project"),
                        );
                        continue;
                    }
                    languages_seen = Some(d.span);
                    for l in &d.languages {
                        if self.model.languages.contains(&l.name) {
                            self.err(Diagnostic::error(
                                "duplicate",
                                l.span,
                                format!("the language `{}` is listed twice", l.name),
                            ));
                        } else if !is_language_code(&l.name) {
                            self.err(
                                Diagnostic::error(
                                    "unknown-language",
                                    l.span,
                                    format!("`{}` is not a language code", l.name),
                                )
                                .with_hint(
                                    "use two- or three-letter codes such as zh, en, yue (Cantonese)",
                                ),
                            );
                        } else {
                            self.model.languages.push(l.name.clone());
                        }
                    }
                }
                Item::CallData(d) => {
                    if let Some(prev) = self.model.calldata_item {
                        let first = self.project.item(prev).span();
                        self.err(
                            Diagnostic::error(
                                "duplicate",
                                d.span,
                                "the call data is declared twice",
                            )
                            .with_secondary(first, "first declared here")
                            .with_hint("declare all call-data fields in one `calldata` block"),
                        );
                        continue;
                    }
                    self.model.calldata_item = Some(r);
                    let mut seen = HashMap::new();
                    for f in &d.fields {
                        if let Some(&first) = seen.get(&f.name.name) {
                            self.err(
                                Diagnostic::error(
                                    "duplicate",
                                    f.name.span,
                                    format!("the call-data field `{}` is declared twice", f.name),
                                )
                                .with_secondary(first, "first declared here"),
                            );
                            continue;
                        }
                        seen.insert(f.name.name.clone(), f.name.span);
                        let ty = self.type_expr_scalar(&f.ty);
                        self.model.calldata.push((f.name.name.clone(), ty));
                    }
                }
                Item::Skill(d) => {
                    let (lo, hi) = match d.levels {
                        Some((a, b, span)) => {
                            if a > b || a == 0 {
                                self.err(
                                    Diagnostic::error(
                                        "bad-level",
                                        span,
                                        format!("the level range {a}..{b} is empty or starts at 0"),
                                    )
                                    .with_hint(
                                        "write the lowest level first, starting at 1: levels 1..5",
                                    ),
                                );
                            }
                            (a, b)
                        }
                        None => (1, 5),
                    };
                    for n in &d.names {
                        if self.declare("skill", n) {
                            self.model.skills.insert(n.name.clone(), (lo, hi));
                        }
                    }
                }
                Item::Department(d) => {
                    if self.declare("department", &d.name) {
                        self.model.departments.insert(d.name.name.clone(), r);
                    }
                }
                Item::Role(d) => self.declare_role(d, r),
                Item::Agent(d) => {
                    let id = d.id.plain_lossy();
                    let ident = Ident {
                        name: id.clone(),
                        span: d.id.span,
                    };
                    if self.declare("agent", &ident) {
                        self.model.agents.insert(id, r);
                    }
                }
                Item::List(d) => {
                    if self.declare("list", &d.name) {
                        let cats = d.categories.iter().map(|c| c.name.name.clone()).collect();
                        self.model.lists.insert(d.name.name.clone(), (r, cats));
                    }
                }
                Item::Calendar(d) => {
                    if self.declare("calendar", &d.name) {
                        self.model.calendars.insert(d.name.name.clone(), r);
                    }
                }
                Item::Service(d) => {
                    if self.declare("service", &d.name) {
                        self.model.services.insert(d.name.name.clone(), r);
                        self.collect_operations(r, d);
                    }
                }
                Item::Flow(d) => {
                    if self.declare("flow", &d.name) {
                        let params = d
                            .params
                            .iter()
                            .map(|p| (p.name.name.clone(), self.type_expr_scalar(&p.ty)))
                            .collect::<Vec<_>>();
                        let returns = match &d.returns {
                            Some(t) => self.type_expr_scalar(t),
                            None => Type::Void,
                        };
                        let locals = params.iter().cloned().collect();
                        self.model.flows.insert(
                            d.name.name.clone(),
                            FlowInfo {
                                item: r,
                                params,
                                returns,
                                locals,
                            },
                        );
                    }
                }
                Item::Queue(d) => {
                    if self.declare("queue", &d.name) {
                        self.model.queues.insert(d.name.name.clone(), r);
                    }
                }
                Item::Campaign(d) => {
                    if self.declare("campaign", &d.name) {
                        self.model
                            .campaigns
                            .insert(d.name.name.clone(), (r, Vec::new()));
                    }
                }
                Item::Workorder(d) => {
                    if self.declare("workorder type", &d.name) {
                        self.model
                            .workorders
                            .insert(d.name.name.clone(), (r, Vec::new()));
                    }
                }
            }
        }
        if self.model.languages.is_empty() {
            self.model.languages.push("zh".to_string());
        }
    }

    fn collect_operations(&mut self, r: ItemRef, d: &ServiceDecl) {
        let mut seen: HashMap<String, Span> = HashMap::new();
        for (index, op) in d.operations.iter().enumerate() {
            if let Some(&first) = seen.get(&op.name.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        op.name.span,
                        format!(
                            "the service `{}` has two operations called `{}`",
                            d.name, op.name
                        ),
                    )
                    .with_secondary(first, "first defined here"),
                );
                continue;
            }
            seen.insert(op.name.name.clone(), op.name.span);
            let params: Vec<(String, Type)> = op
                .params
                .iter()
                .map(|p| (p.name.name.clone(), self.type_expr_scalar(&p.ty)))
                .collect();
            let mut fields = Vec::new();
            let mut fseen: HashMap<String, Span> = HashMap::new();
            for f in &op.fields {
                if let Some(&first) = fseen.get(&f.name.name) {
                    self.err(
                        Diagnostic::error(
                            "duplicate",
                            f.name.span,
                            format!("the field `{}` is declared twice", f.name),
                        )
                        .with_secondary(first, "first declared here"),
                    );
                    continue;
                }
                fseen.insert(f.name.name.clone(), f.name.span);
                fields.push((f.name.name.clone(), self.type_expr_scalar(&f.ty)));
            }
            let record = RecordId(self.model.records.len() as u32);
            self.model.records.push(RecordType {
                name: format!("{}.{}", d.name, op.name),
                fields,
            });
            self.model.operations.insert(
                (d.name.name.clone(), op.name.name.clone()),
                OperationInfo {
                    service: r,
                    index,
                    params,
                    record,
                    list: op.list,
                },
            );
        }
    }

    /// The type a declaration names; enums are texts. Reports unknown type names.
    pub(crate) fn type_expr_scalar(&mut self, t: &TypeExpr) -> Type {
        match t {
            TypeExpr::Enum(..) => Type::Text,
            TypeExpr::Named(n) => match Type::from_name(&n.name) {
                Some(t) => t,
                None => {
                    let hint = did_you_mean(&n.name, Type::NAMES.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"));
                    self.err(
                        Diagnostic::error(
                            "unknown-type",
                            n.span,
                            format!("there is no type called `{}`", n.name),
                        )
                        .with_label("not a type")
                        .with_hint_opt(hint)
                        .with_hint(
                            "types are text, number, bool, duration, time, date, phone, customer, recording, or enum(a, b, ...)",
                        ),
                    );
                    Type::Error
                }
            },
        }
    }

    fn check_consts(&mut self) {
        // Constants may refer to earlier and later constants; resolve on demand with
        // cycle detection.
        let names: Vec<String> = self.model.consts.keys().cloned().collect();
        for n in names {
            self.const_type(&n);
        }
    }

    /// Top-level names of a kind, for "did you mean".
    pub(crate) fn names_of(&self, kind: &str) -> Vec<String> {
        match kind {
            "queue" => self.model.queues.keys().cloned().collect(),
            "flow" => self.model.flows.keys().cloned().collect(),
            "list" => self.model.lists.keys().cloned().collect(),
            "calendar" => self.model.calendars.keys().cloned().collect(),
            "service" => self.model.services.keys().cloned().collect(),
            "workorder type" => self.model.workorders.keys().cloned().collect(),
            "skill" => self.model.skills.keys().cloned().collect(),
            "department" => self.model.departments.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Resolves a queue reference, reporting it when unknown.
    pub(crate) fn resolve_queue(&mut self, name: &Ident) -> bool {
        if self.model.queues.contains_key(&name.name) {
            return true;
        }
        let c = self.names_of("queue");
        self.unknown("queue", name, c.iter().map(String::as_str));
        false
    }

    /// Resolves a calendar reference, reporting it when unknown.
    pub(crate) fn resolve_calendar(&mut self, name: &Ident) -> bool {
        if self.model.calendars.contains_key(&name.name) {
            return true;
        }
        let c = self.names_of("calendar");
        self.unknown("calendar", name, c.iter().map(String::as_str));
        false
    }

    /// Resolves a flow reference for a transfer (the flow must take no parameters).
    pub(crate) fn resolve_flow_destination(&mut self, name: &Ident) -> bool {
        let Some(info) = self.model.flows.get(&name.name) else {
            let c = self.names_of("flow");
            self.unknown("flow", name, c.iter().map(String::as_str));
            return false;
        };
        if !info.params.is_empty() {
            let n = info.params.len();
            self.err(
                Diagnostic::error(
                    "flow-needs-arguments",
                    name.span,
                    format!(
                        "the flow `{}` takes {n} argument{} and cannot be a destination",
                        name,
                        if n == 1 { "" } else { "s" }
                    ),
                )
                .with_hint(format!("use `call {name}(...)` inside a flow instead")),
            );
        }
        true
    }

    /// Checks a duration literal: it must have a unit.
    pub(crate) fn check_duration(&mut self, d: &DurationLit, what: &str) {
        if d.unitless {
            self.err(
                Diagnostic::error(
                    "missing-unit",
                    d.span,
                    format!("{what} needs a unit"),
                )
                .with_label("a number without a unit")
                .with_hint(format!(
                    "write the unit after the number: {}s for seconds, {}m for minutes, {}h for hours",
                    self.snippet(d.span),
                    self.snippet(d.span),
                    self.snippet(d.span)
                )),
            );
        }
    }

    /// Checks options against a table: unknown names, value kinds, ranges, repeats.
    pub(crate) fn check_options(
        &mut self,
        opts: &[Opt],
        table: &[crate::options::OptSpec],
        what: &str,
    ) {
        use crate::options::OptKind;
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for o in opts {
            let Some(spec) = table.iter().find(|s| s.name == o.name) else {
                let hint = did_you_mean(&o.name, table.iter().map(|s| s.name))
                    .map(|s| format!("did you mean `{s}`?"));
                let all = table.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
                self.err(
                    Diagnostic::error(
                        "unknown-option",
                        o.name_span,
                        format!("`{}` is not an option of {what}", o.name),
                    )
                    .with_label("unknown option")
                    .with_hint_opt(hint)
                    .with_hint(format!("the options of {what} are: {all}")),
                );
                continue;
            };
            if let Some(&first) = seen.get(spec.name) {
                self.err(
                    Diagnostic::error(
                        "duplicate",
                        o.name_span,
                        format!("the option `{}` is given twice", o.name),
                    )
                    .with_secondary(first, "first given here"),
                );
                continue;
            }
            seen.insert(spec.name, o.name_span);
            let ok = match (&spec.kind, &o.value) {
                (OptKind::Flag, None) => true,
                (OptKind::Number { min, max, whole }, Some(OptValue::Number(n, s))) => {
                    if *n < *min || *n > *max || (*whole && n.fract() != 0.0) {
                        self.err(
                            Diagnostic::error(
                                "option-out-of-range",
                                *s,
                                format!(
                                    "`{}` must be {} from {min} to {max}",
                                    o.name,
                                    if *whole { "a whole number" } else { "a number" }
                                ),
                            )
                            .with_hint(spec.doc),
                        );
                    }
                    true
                }
                (OptKind::Duration, Some(OptValue::Duration(d))) => {
                    if d.millis <= 0 {
                        self.err(Diagnostic::error(
                            "option-out-of-range",
                            d.span,
                            format!("`{}` must be longer than zero", o.name),
                        ));
                    }
                    true
                }
                (OptKind::Duration, Some(OptValue::Number(_, s))) => {
                    let d = DurationLit {
                        millis: 0,
                        unitless: true,
                        span: *s,
                    };
                    self.check_duration(&d, &format!("the option `{}`", o.name));
                    true
                }
                (OptKind::Percent, Some(OptValue::Percent(..))) => true,
                (OptKind::Text, Some(OptValue::Text(_))) => true,
                (OptKind::Key, Some(OptValue::Key(..))) => true,
                (OptKind::Key, Some(OptValue::Number(n, s))) => {
                    if !(0.0..=9.0).contains(n) || n.fract() != 0.0 {
                        self.err(
                            Diagnostic::error(
                                "not-a-key",
                                *s,
                                format!("`{}` is not a DTMF key", self.snippet(*s)),
                            )
                            .with_hint("keys are 0-9, *, # and A-D"),
                        );
                    }
                    true
                }
                (OptKind::Key, Some(OptValue::Text(t))) => {
                    let k = t.plain_lossy();
                    if k.chars().count() != 1 || !k.chars().all(is_dtmf_key) {
                        self.err(
                            Diagnostic::error(
                                "not-a-key",
                                t.span,
                                format!("`{k}` is not a DTMF key"),
                            )
                            .with_hint("keys are 0-9, *, # and A-D"),
                        );
                    }
                    true
                }
                (OptKind::Range, Some(OptValue::Range(a, b, s))) => {
                    if a > b {
                        self.err(Diagnostic::error(
                            "option-out-of-range",
                            *s,
                            "this range ends below where it starts",
                        ));
                    }
                    true
                }
                (OptKind::TimeRange, Some(OptValue::TimeRange(_))) => true,
                _ => false,
            };
            if !ok {
                let span = o.value.as_ref().map(OptValue::span).unwrap_or(o.span);
                self.err(
                    Diagnostic::error(
                        "option-value",
                        span,
                        format!("the option `{}` takes {}", o.name, spec.kind.describe()),
                    )
                    .with_hint(spec.doc),
                );
            }
        }
    }
}

/// True for the 16 DTMF keys.
pub fn is_dtmf_key(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D')
}

fn is_language_code(s: &str) -> bool {
    (2..=3).contains(&s.len()) && s.chars().all(|c| c.is_ascii_lowercase())
        || s.contains('-')
            && s.len() <= 10
            && s.chars().all(|c| c.is_ascii_alphabetic() || c == '-')
}

/// The options of a campaign's mode.
pub(crate) fn options_of_mode(m: &CampaignMode) -> &[Opt] {
    &m.options
}
