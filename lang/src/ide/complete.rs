//! Completion: what may be written at the cursor. The line being typed rarely
//! parses, so the context comes from the text: the words before the cursor on
//! its line (`transfer queue `, `goto `, `data.`, an open option list) and the
//! declaration the line is in (the last line above that starts a declaration at
//! the left margin). The names offered come from the last check of the project.

use crate::ast::FileId;
use crate::check::{ALLOWABLE_RULES, MODES, ROLES, STRATEGIES};
use crate::options::{self, OptSpec};
use crate::types::{Builtin, Function, Type};

use super::hover::{builtin_doc, function_signature};
use super::{Analysis, SymbolKind};

/// What a completion item is, for the editor's icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    /// A declared name.
    Symbol(SymbolKind),
    /// A word of the language: a statement, a clause, a rule word.
    Keyword,
    /// An option in parentheses.
    Option,
    /// A built-in name (`caller`).
    Builtin,
    /// A built-in function (`is_open`).
    Function,
    /// One of a fixed set of words: a strategy, a dialing mode, a role.
    Value,
}

/// One thing that may be written at the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The text inserted (and shown).
    pub label: String,
    /// What it is.
    pub kind: CompletionKind,
    /// One line about it (a type, a signature, what an option does).
    pub detail: String,
}

/// The declaration the cursor is in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    Top,
    Flow(String),
    Queue,
    Campaign(String),
    Workorder(String),
    Calendar,
    Service,
    List,
    Other,
}

/// Completed at the start of a line outside any declaration.
const DECLARATIONS: &[&str] = crate::syntax::TOP_LEVEL_KEYWORDS;

const STATEMENTS: &[&str] = &[
    "play",
    "say",
    "menu",
    "if",
    "match",
    "goto",
    "repeat",
    "return",
    "notify",
    "transfer",
    "hangup",
    "pause",
    "language",
    "call",
    "for each",
    "on error",
    "no input",
    "no match",
    "valid when",
    "data",
];

const QUEUE_CLAUSES: &[&str] = &[
    "skills",
    "strategy",
    "priority",
    "music",
    "announce",
    "max wait",
    "overflow",
    "key",
    "no answer",
    "agent policy",
    "wrap up",
    "hours",
    "service level",
];

const CAMPAIGN_CLAUSES: &[&str] = &[
    "list",
    "filter",
    "mode",
    "calendar",
    "window",
    "retry",
    "trunk",
    "caller id",
    "media",
    "dropped",
    "allow",
    "timezone",
    "max attempts",
    "max attempts per day",
    "disposition",
    "script",
    "machine detection",
];

const WORKORDER_CLAUSES: &[&str] = &[
    "calendar",
    "field",
    "state",
    "transition",
    "links",
    "remind",
    "escalate",
];

const DESTINATIONS: &[&str] = &["queue", "flow", "agent", "number", "callback", "hangup"];

impl Analysis {
    /// What may be written at `offset` in `file`.
    pub fn completions(&self, file: FileId, offset: usize) -> Vec<Completion> {
        let text = self.text(file);
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let prefix = &text[line_start..offset];
        let word_start = prefix
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || c == '_')
            .last()
            .map_or(prefix.len(), |(i, _)| i);
        let before_word = &prefix[..word_start];
        let place = enclosing(text, line_start, prefix);
        let mut out = Vec::new();

        if let Some(obj_end) = before_word.strip_suffix('.') {
            self.after_dot(obj_end, &place, &mut out);
            return out;
        }
        if let Some(table) = option_table(before_word) {
            for o in table {
                out.push(option(o));
            }
            return out;
        }
        let before = before_word.trim_end();
        let words: Vec<&str> = before.split_whitespace().collect();
        let last = words.last().copied().unwrap_or("");
        let prev = if words.len() >= 2 {
            words[words.len() - 2]
        } else {
            ""
        };
        let line = before.trim_start();
        let flow = match &place {
            Place::Flow(f) => Some(f.as_str()),
            _ => None,
        };

        match (last, &place) {
            ("queue", p) if *p != Place::Top => self.symbols_of(SymbolKind::Queue, None, &mut out),
            ("to", Place::Queue) if prev == "up" || prev == "down" => {
                self.symbols_of(SymbolKind::Queue, None, &mut out)
            }
            ("flow" | "call", p) if *p != Place::Top => {
                self.symbols_of(SymbolKind::Flow, None, &mut out)
            }
            ("goto", _) => self.symbols_of(SymbolKind::Label, flow, &mut out),
            ("in", _) => self.symbols_of(SymbolKind::List, None, &mut out),
            ("lookup", _) => self.symbols_of(SymbolKind::Service, None, &mut out),
            ("workorder", _) if prev == "create" => {
                self.symbols_of(SymbolKind::Workorder, None, &mut out)
            }
            ("calendar", Place::Campaign(_) | Place::Workorder(_)) | ("hours", Place::Queue) => {
                self.symbols_of(SymbolKind::Calendar, None, &mut out)
            }
            ("strategy", _) => words_of(STRATEGIES, &mut out),
            ("mode", Place::Campaign(_)) => words_of(MODES, &mut out),
            ("allow", Place::Campaign(_)) => words_of(ALLOWABLE_RULES, &mut out),
            ("language", _) => {
                let langs: Vec<&str> = self
                    .checked
                    .model
                    .languages
                    .iter()
                    .map(String::as_str)
                    .collect();
                words_of(&langs, &mut out);
            }
            ("transfer", _) => keywords(DESTINATIONS, &mut out),
            ("->", Place::Queue | Place::Campaign(_)) => keywords(DESTINATIONS, &mut out),
            ("no", Place::Queue) => keywords(&["answer"], &mut out),
            ("no", _) => keywords(&["input", "match"], &mut out),
            ("max", Place::Queue) => keywords(&["wait"], &mut out),
            ("valid", _) => keywords(&["when"], &mut out),
            ("retry", Place::Campaign(_)) => keywords(
                &["busy", "no answer", "fax", "invalid", "machine", "rejected"],
                &mut out,
            ),
            ("window", Place::Campaign(_)) => {
                keywords(&["workday", "weekend", "holiday"], &mut out)
            }
            (_, Place::Workorder(w)) if line.starts_with("transition") => {
                if last.ends_with(':') || last == "->" {
                    self.symbols_of(SymbolKind::State, Some(w), &mut out);
                } else if words.contains(&"by") {
                    self.roles(&mut out);
                }
            }
            (_, Place::Workorder(_))
                if (line.starts_with("remind")
                    || line.starts_with("escalate")
                    || words.contains(&"remind")
                    || words.contains(&"escalate"))
                    && (last == "->" || last.ends_with(',')) =>
            {
                self.roles(&mut out)
            }
            ("assign", Place::Workorder(_)) if line.starts_with("on") => self.roles(&mut out),
            ("attach", Place::Flow(f)) if line.starts_with("notify") => {
                self.recordings(f, &mut out)
            }
            (_, _) if line.starts_with("skills") => {
                self.symbols_of(SymbolKind::Skill, None, &mut out)
            }
            _ if before.is_empty() || before.ends_with(['{', ';']) || last == "->" => {
                match &place {
                    Place::Top => keywords(DECLARATIONS, &mut out),
                    Place::Flow(f) => {
                        keywords(STATEMENTS, &mut out);
                        self.symbols_of(SymbolKind::Variable, Some(f), &mut out);
                    }
                    Place::Queue => keywords(QUEUE_CLAUSES, &mut out),
                    Place::Campaign(_) => keywords(CAMPAIGN_CLAUSES, &mut out),
                    Place::Workorder(_) => keywords(WORKORDER_CLAUSES, &mut out),
                    Place::Calendar => {
                        keywords(&["timezone", "hours", "holiday", "workday"], &mut out)
                    }
                    Place::Service => keywords(
                        &[
                            "url",
                            "timeout",
                            "not found -> answer",
                            "not found -> else",
                            "get",
                            "post",
                        ],
                        &mut out,
                    ),
                    Place::List => keywords(&["category"], &mut out),
                    Place::Other => {}
                }
            }
            _ => self.values(&place, &mut out),
        }
        out
    }

    /// Names after `name.`: call-data fields, list categories, service
    /// operations, fields of a looked-up record.
    fn after_dot(&self, before_dot: &str, place: &Place, out: &mut Vec<Completion>) {
        let obj_start = before_dot
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || c == '_')
            .last()
            .map_or(before_dot.len(), |(i, _)| i);
        let obj = &before_dot[obj_start..];
        let ahead = before_dot[..obj_start].trim_end();
        if obj == "data" {
            return self.symbols_of(SymbolKind::CallData, None, out);
        }
        if ahead.ends_with("lookup") {
            return self.symbols_of(SymbolKind::Operation, Some(obj), out);
        }
        if self.checked.model.lists.contains_key(obj) {
            return self.symbols_of(SymbolKind::Category, Some(obj), out);
        }
        if let Place::Flow(f) = place
            && let Some(info) = self.checked.model.flows.get(f)
            && let Some(Type::Record(r)) = info.locals.get(obj)
            && let Some(rec) = self.checked.model.records.get(r.0 as usize)
        {
            let owner = rec.name.clone();
            self.symbols_of(SymbolKind::RecordField, Some(&owner), out);
        }
    }

    /// Values in an expression: the variables of the flow, constants, built-in
    /// names and functions, call data.
    fn values(&self, place: &Place, out: &mut Vec<Completion>) {
        match place {
            Place::Flow(f) => self.symbols_of(SymbolKind::Variable, Some(f), out),
            Place::Campaign(c) => self.symbols_of(SymbolKind::CampaignField, Some(c), out),
            Place::Workorder(w) => self.symbols_of(SymbolKind::WorkorderField, Some(w), out),
            _ => {}
        }
        self.symbols_of(SymbolKind::Constant, None, out);
        for b in Builtin::ALL {
            out.push(Completion {
                label: b.name().to_string(),
                kind: CompletionKind::Builtin,
                detail: builtin_doc(*b).to_string(),
            });
        }
        for f in Function::ALL {
            out.push(Completion {
                label: f.name().to_string(),
                kind: CompletionKind::Function,
                detail: function_signature(*f).to_string(),
            });
        }
        keywords(&["data", "true", "false", "and", "or", "not", "in"], out);
    }

    /// Roles (built in and the project's `role` declarations) and
    /// departments, who workorder transitions and reminders name.
    fn roles(&self, out: &mut Vec<Completion>) {
        words_of(ROLES, out);
        self.symbols_of(SymbolKind::Role, None, out);
        self.symbols_of(SymbolKind::Department, None, out);
    }

    /// The flow's variables that hold a recording: what `attach` takes.
    fn recordings(&self, flow: &str, out: &mut Vec<Completion>) {
        let Some(info) = self.checked.model.flows.get(flow) else {
            return;
        };
        for (name, ty) in &info.locals {
            if *ty == crate::types::Type::Recording {
                out.push(Completion {
                    label: name.clone(),
                    kind: CompletionKind::Symbol(SymbolKind::Variable),
                    detail: format!("{name}: recording (variable of {flow})"),
                });
            }
        }
    }

    fn symbols_of(&self, kind: SymbolKind, owner: Option<&str>, out: &mut Vec<Completion>) {
        let mut seen = std::collections::HashSet::new();
        for s in &self.symbols {
            if s.kind == kind
                && (owner.is_none() || s.owner.as_deref() == owner)
                && seen.insert(s.name.as_str())
            {
                out.push(Completion {
                    label: s.name.clone(),
                    kind: CompletionKind::Symbol(kind),
                    detail: s.detail.clone(),
                });
            }
        }
    }
}

fn keywords(words: &[&str], out: &mut Vec<Completion>) {
    out.extend(words.iter().map(|w| Completion {
        label: (*w).to_string(),
        kind: CompletionKind::Keyword,
        detail: String::new(),
    }));
}

fn words_of(words: &[&str], out: &mut Vec<Completion>) {
    out.extend(words.iter().map(|w| Completion {
        label: (*w).to_string(),
        kind: CompletionKind::Value,
        detail: String::new(),
    }));
}

fn option(o: &OptSpec) -> Completion {
    Completion {
        label: o.name.to_string(),
        kind: CompletionKind::Option,
        detail: format!("{}: {}", o.kind.describe(), o.doc),
    }
}

/// The options that may be written at the end of `before`, when it ends inside
/// an option list where an option's name goes (after `(` or `,`).
fn option_table(before: &str) -> Option<&'static [OptSpec]> {
    let open = before.rfind('(')?;
    if before[open..].contains(')') {
        return None;
    }
    let inside = &before[open + 1..];
    let at_name = inside
        .rfind(',')
        .map_or(inside, |c| &inside[c + 1..])
        .trim()
        .is_empty();
    if !at_name {
        return None;
    }
    let head = before[..open].trim_end();
    if head.ends_with(|c: char| c.is_alphanumeric() || c == '_')
        && !before[..open].ends_with(char::is_whitespace)
    {
        // `len(`: a function call, not options.
        return None;
    }
    let line = head.trim_start();
    let first = line.split_whitespace().next().unwrap_or("");
    let words: Vec<&str> = line.split_whitespace().collect();
    Some(match first {
        "menu" => options::MENU,
        "play" => options::PLAY,
        "say" => options::SAY,
        "transfer" => options::TRANSFER,
        "category" => options::LIST_CATEGORY,
        "mode" => options::CAMPAIGN_MODE,
        "agent" if words.get(1) == Some(&"policy") => options::AGENT_POLICY,
        _ if line.ends_with("collect") => options::COLLECT,
        _ if line.ends_with("record") => options::RECORD,
        _ if line.contains("lookup") && line.ends_with(')') => options::LOOKUP,
        _ => return None,
    })
}

/// The declaration the line starting at `line_start` is in: the nearest line
/// above it that starts at the left margin with a declaration keyword, unless
/// a closing `}` at the left margin comes first. A line typed at the left
/// margin itself is a new declaration.
fn enclosing(text: &str, line_start: usize, prefix: &str) -> Place {
    if !prefix.starts_with(char::is_whitespace) && !prefix.contains(['{', '(', '=']) {
        let first = prefix.split_whitespace().next().unwrap_or("");
        if prefix.is_empty()
            || !prefix.contains(char::is_whitespace)
            || DECLARATIONS.contains(&first)
        {
            return Place::Top;
        }
    }
    for line in text[..line_start].lines().rev() {
        if line.starts_with('}') {
            return Place::Top;
        }
        if line.starts_with(char::is_whitespace) || line.starts_with('#') || line.is_empty() {
            continue;
        }
        let mut w = line.split(|c: char| c.is_whitespace() || c == '(' || c == '{');
        let kw = w.next().unwrap_or("");
        let name = w.find(|s| !s.is_empty()).unwrap_or("").to_string();
        return match kw {
            "flow" => Place::Flow(name),
            "queue" => Place::Queue,
            "campaign" => Place::Campaign(name),
            "workorder" => Place::Workorder(name),
            "calendar" => Place::Calendar,
            "service" => Place::Service,
            "list" => Place::List,
            _ => Place::Other,
        };
    }
    Place::Top
}
