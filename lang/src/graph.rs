//! `dialect graph`: one flow drawn as a diagram an analyst can read.
//!
//! [`flow_graph`] turns a flow of a parsed module into a small [`FlowGraph`]: nodes
//! for prompts (consecutive `play`/`say` grouped into one), menus, collect and record
//! steps, decisions (`if` and `match`), lookups, sub-flow calls, workorder creation,
//! notifications, transfers, and the ends of the flow (hang-up, return); edges
//! labelled with the menu keys and phrases, the no-input / no-match handlers, `yes`
//! / `no`, match values, `ok` / `else / failure`. `goto` and `repeat` are edges back
//! to their label or menu, and a retry handler (a `no input` that is not `final`)
//! leads back to its menu. Assignments draw nothing. Labels are the source text,
//! taken through the spans.
//!
//! Three renderers: [`FlowGraph::to_dot`] (Graphviz), [`FlowGraph::to_mermaid`]
//! (`flowchart TD`) and [`FlowGraph::to_svg`], which lays the graph out itself:
//! longest-path layers from the start, barycenter sweeps to reduce crossings, edge
//! labels on their own rows, loops drawn as curves on the right side.
//!
//! # Use
//! ```
//! use dialect_lang::ast::FileId;
//! use dialect_lang::graph::flow_graph;
//! use dialect_lang::syntax::{IdGen, parse_module};
//!
//! let text = "flow f { menu m { 1 -> hangup\n 2 -> repeat } }";
//! let (module, _) = parse_module(FileId(0), text, &mut IdGen::default());
//! let g = flow_graph(&module, "f", text).unwrap();
//! assert!(g.to_mermaid().starts_with("flowchart TD"));
//! assert!(g.to_svg().starts_with("<svg"));
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::str::FromStr;

use crate::ast::*;
use crate::diagnostic::did_you_mean;
use crate::format::{Comment, comments, handler_head, trim_trivia_end};
use crate::source::str_width;

/// What a node stands for; it decides the node's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// Where the flow starts (its name and label).
    Start,
    /// Where the `on error` handler starts.
    ErrorHandler,
    /// One or more consecutive `play` / `say` statements.
    Prompt,
    /// A menu with its prompts.
    Menu,
    /// `x = collect`.
    Collect,
    /// `x = record`.
    Record,
    /// `if` or `match`.
    Decision,
    /// `x = lookup service.operation(...)`.
    Lookup,
    /// `call flow(...)`.
    SubFlow,
    /// `create workorder`.
    Workorder,
    /// `notify sms` / `notify email`.
    Notify,
    /// `transfer` to a queue, an agent, a flow or a number.
    Transfer,
    /// Small steps: `language`, `pause`.
    Step,
    /// `hangup`.
    Hangup,
    /// `return`.
    Return,
    /// The end of the flow's statements.
    End,
}

impl NodeKind {
    /// A word for the kind, used as a CSS class and in tests.
    pub fn word(self) -> &'static str {
        match self {
            NodeKind::Start => "start",
            NodeKind::ErrorHandler => "error-handler",
            NodeKind::Prompt => "prompt",
            NodeKind::Menu => "menu",
            NodeKind::Collect => "collect",
            NodeKind::Record => "record",
            NodeKind::Decision => "decision",
            NodeKind::Lookup => "lookup",
            NodeKind::SubFlow => "subflow",
            NodeKind::Workorder => "workorder",
            NodeKind::Notify => "notify",
            NodeKind::Transfer => "transfer",
            NodeKind::Step => "step",
            NodeKind::Hangup => "hangup",
            NodeKind::Return => "return",
            NodeKind::End => "end",
        }
    }

    fn terminal(self) -> bool {
        matches!(
            self,
            NodeKind::Start
                | NodeKind::ErrorHandler
                | NodeKind::Hangup
                | NodeKind::Return
                | NodeKind::End
        )
    }
}

/// A node: a step of the flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// The text shown, lines separated by `\n` (already wrapped).
    pub label: String,
    /// The source it was drawn from (for grouped prompts, from the first to the last).
    pub span: Span,
}

/// Why an edge exists; jumps are drawn dashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EdgeKind {
    /// The flow goes on.
    Next,
    /// `goto label`.
    Goto,
    /// `repeat`: back to the menu or collect step.
    Repeat,
    /// After a retry handler (`no input` that is not `final`), the menu asks again.
    Retry,
}

/// An edge between two nodes (indices into [`FlowGraph::nodes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// From this node.
    pub from: usize,
    /// To this node.
    pub to: usize,
    /// The keys, phrases, handler or condition outcome that take this edge.
    pub label: Option<String>,
    /// Why the edge exists.
    pub kind: EdgeKind,
}

/// One flow as nodes and edges. Node 0 is the start.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowGraph {
    /// The flow's name.
    pub name: String,
    /// The nodes; node 0 is the start.
    pub nodes: Vec<Node>,
    /// The edges.
    pub edges: Vec<Edge>,
}

/// The output formats of `dialect graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// SVG drawn by [`FlowGraph::to_svg`].
    Svg,
    /// Graphviz DOT.
    Dot,
    /// Mermaid `flowchart`.
    Mermaid,
}

impl FromStr for GraphFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "svg" => Ok(GraphFormat::Svg),
            "dot" => Ok(GraphFormat::Dot),
            "mermaid" | "mmd" => Ok(GraphFormat::Mermaid),
            other => Err(format!(
                "`{other}` is not a diagram format; use svg, dot or mermaid"
            )),
        }
    }
}

/// Builds the diagram of flow `flow_name` of `module`, which was parsed from `source`.
/// The error says, in words, that there is no such flow (with a suggestion).
pub fn flow_graph(module: &Module, flow_name: &str, source: &str) -> Result<FlowGraph, String> {
    let flows: Vec<&FlowDecl> = module
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Flow(f) => Some(f),
            _ => None,
        })
        .collect();
    match flows.iter().find(|f| f.name.name == flow_name) {
        Some(f) => Ok(FlowGraph::build(f, module, source)),
        None => {
            let mut msg = format!("there is no flow called `{flow_name}` in this file");
            if let Some(s) = did_you_mean(flow_name, flows.iter().map(|f| f.name.as_str())) {
                msg.push_str(&format!("; did you mean `{s}`?"));
            }
            Err(msg)
        }
    }
}

impl FlowGraph {
    /// Builds the diagram of `flow`, a flow of `module` parsed from `source`.
    pub fn build(flow: &FlowDecl, module: &Module, source: &str) -> FlowGraph {
        let mut b = Builder {
            src: source,
            comments: comments(module, source),
            nodes: Vec::new(),
            edges: Vec::new(),
            pending_labels: Vec::new(),
            labels: HashMap::new(),
            gotos: Vec::new(),
            inputs: Vec::new(),
            last_prompt: None,
        };
        let mut start = vec![flow.name.name.clone()];
        if let Some(l) = &flow.label {
            start.extend(wrap(&l.plain_lossy(), WRAP));
        }
        let s = b.node(NodeKind::Start, start, flow.name.span, Vec::new());
        let exits = b.stmts(&flow.body.stmts, vec![(s, None)]);
        if !exits.is_empty() || !b.pending_labels.is_empty() {
            let close = Span::new(
                flow.span.file,
                flow.span.end as usize,
                flow.span.end as usize,
            );
            b.node(NodeKind::End, vec!["end".into()], close, exits);
        }
        for (preds, label) in std::mem::take(&mut b.gotos) {
            if let Some(&to) = b.labels.get(&label) {
                for (from, l) in preds {
                    b.edge(from, to, l, EdgeKind::Goto);
                }
            }
        }
        FlowGraph {
            name: flow.name.name.clone(),
            nodes: b.nodes,
            edges: merge_parallel(b.edges),
        }
    }

    /// Edges that close a loop (a `goto` or `repeat` back up, a retry): the SVG draws
    /// them as curves on the right side.
    pub fn back_edges(&self) -> Vec<usize> {
        let (back, _) = classify(self);
        (0..self.edges.len()).filter(|&e| back[e]).collect()
    }

    /// Renders in `format`.
    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Svg => self.to_svg(),
            GraphFormat::Dot => self.to_dot(),
            GraphFormat::Mermaid => self.to_mermaid(),
        }
    }
}

/// Merges edges between the same two nodes for the same reason into one, with the
/// labels joined (`1, 2, 3` when three keys lead to the same step).
fn merge_parallel(edges: Vec<Edge>) -> Vec<Edge> {
    let mut out: Vec<Edge> = Vec::new();
    for e in edges {
        match out
            .iter_mut()
            .find(|o| o.from == e.from && o.to == e.to && o.kind == e.kind)
        {
            Some(o) => match (&mut o.label, e.label) {
                (Some(a), Some(b)) => {
                    if !a.split(", ").any(|x| x == b) {
                        a.push_str(", ");
                        a.push_str(&b);
                    }
                }
                (None, None) => {}
                (_, label) => out.push(Edge { label, ..e }),
            },
            None => out.push(e),
        }
    }
    out
}

// ------------------------------------------------------------------ building

/// Display columns at which labels are wrapped.
const WRAP: usize = 44;

/// Where the flow comes from before a node: the node and the label of the edge.
type Pred = (usize, Option<String>);

struct Builder<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Labels written just before the next node.
    pending_labels: Vec<String>,
    labels: HashMap<String, usize>,
    /// `goto`s, resolved at the end (a label may come later).
    gotos: Vec<(Vec<Pred>, String)>,
    /// The menus and collect steps enclosing the current statement, for `repeat`.
    inputs: Vec<usize>,
    /// The prompt node the next `play`/`say` may join.
    last_prompt: Option<usize>,
}

/// Splits a line into lines of at most `width` display columns, at a space when
/// there is one in the second half of the line.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = crate::source::char_width(c);
        if w + cw > width && !line.is_empty() {
            match line
                .rfind(' ')
                .filter(|&i| str_width(&line[..i]) > width / 2)
            {
                Some(i) => {
                    let rest = line[i + 1..].to_string();
                    line.truncate(i);
                    out.push(std::mem::take(&mut line));
                    line = rest;
                }
                None => out.push(std::mem::take(&mut line)),
            }
            w = str_width(&line);
        }
        line.push(c);
        w += cw;
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

impl Builder<'_> {
    /// The source text of `start..end` on one line: trailing comments and white
    /// space left out, comments inside removed, line breaks made single spaces.
    fn text_range(&self, start: u32, end: u32) -> String {
        let end = trim_trivia_end(self.src, &self.comments, end).max(start);
        let mut out = String::new();
        let mut i = start as usize;
        let end = (end as usize).min(self.src.len());
        for c in self
            .comments
            .iter()
            .filter(|c| c.span.start >= start && c.span.end <= end as u32)
        {
            out.push_str(&self.src[i..c.span.start as usize]);
            i = c.span.end as usize;
        }
        out.push_str(&self.src[i.min(end)..end]);
        // Line breaks (with the indentation around them) become one space.
        let mut clean = String::new();
        let mut rest = out.trim();
        while let Some(i) = rest.find(['\n', '\r']) {
            clean.push_str(rest[..i].trim_end());
            clean.push(' ');
            rest = rest[i..].trim_start();
        }
        clean.push_str(rest);
        clean
    }

    fn text(&self, span: Span) -> String {
        self.text_range(span.start, span.end)
    }

    fn node(&mut self, kind: NodeKind, lines: Vec<String>, span: Span, preds: Vec<Pred>) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node {
            kind,
            label: lines.join("\n"),
            span,
        });
        for (from, label) in preds {
            self.edge(from, id, label, EdgeKind::Next);
        }
        for l in self.pending_labels.drain(..) {
            self.labels.insert(l, id);
        }
        self.last_prompt = None;
        id
    }

    fn edge(&mut self, from: usize, to: usize, label: Option<String>, kind: EdgeKind) {
        self.edges.push(Edge {
            from,
            to,
            label,
            kind,
        });
    }

    fn stmts(&mut self, stmts: &[Stmt], mut preds: Vec<Pred>) -> Vec<Pred> {
        for s in stmts {
            preds = self.stmt(s, preds);
        }
        preds
    }

    /// The lines a `play` or `say` shows.
    fn prompt_lines(&self, s: &Stmt) -> Vec<String> {
        match &s.kind {
            StmtKind::Say(Say {
                content: SayContent::Translations(tr),
                ..
            }) => tr
                .iter()
                .flat_map(|(lang, items)| {
                    let end = items.last().map_or(lang.span.end, |i| i.value.span.end);
                    let start = items.first().map_or(lang.span.end, |i| i.value.span.start);
                    let start = self.item_start(start, lang.span.end);
                    wrap(
                        &format!("{}: {}", lang.name, self.text_range(start, end)),
                        WRAP,
                    )
                })
                .collect(),
            _ => wrap(&self.text(s.span), WRAP),
        }
    }

    /// Where a say item starts, its kind word (`money`) included.
    fn item_start(&self, value_start: u32, lang_end: u32) -> u32 {
        let between = &self.src[lang_end as usize..value_start as usize];
        let skipped = between.len() - between.trim_start().len();
        lang_end + skipped as u32
    }

    fn input_handlers(&mut self, id: usize, handlers: &[InputHandler], exits: &mut Vec<Pred>) {
        for h in handlers {
            let out = self.stmts(&h.action.stmts, vec![(id, Some(handler_head(h)))]);
            if h.count == HandlerCount::Final {
                exits.extend(out);
            } else {
                for (from, label) in out {
                    self.edge(from, id, label, EdgeKind::Retry);
                }
            }
        }
    }

    fn stmt(&mut self, s: &Stmt, preds: Vec<Pred>) -> Vec<Pred> {
        match &s.kind {
            StmtKind::Play { .. } | StmtKind::Say(_) => {
                let lines = self.prompt_lines(s);
                if let (Some(p), [(from, None)]) = (self.last_prompt, preds.as_slice())
                    && *from == p
                    && self.pending_labels.is_empty()
                {
                    let node = &mut self.nodes[p];
                    node.label.push('\n');
                    node.label.push_str(&lines.join("\n"));
                    node.span = node.span.to(s.span);
                    return preds;
                }
                let id = self.node(NodeKind::Prompt, lines, s.span, preds);
                self.last_prompt = Some(id);
                vec![(id, None)]
            }
            StmtKind::Menu(m) => {
                let mut lines = vec![format!("menu {}", m.name.name)];
                for p in &m.prompts {
                    lines.extend(self.prompt_lines(p));
                }
                let id = self.node(NodeKind::Menu, lines, m.span, preds);
                self.inputs.push(id);
                let mut exits = Vec::new();
                for c in &m.choices {
                    let keys = c
                        .patterns
                        .iter()
                        .map(|p| self.text(p.span()))
                        .collect::<Vec<_>>()
                        .join(" | ");
                    exits.extend(self.stmts(&c.action.stmts, vec![(id, Some(keys))]));
                }
                self.input_handlers(id, &m.handlers, &mut exits);
                // Without a `final` handler the flow goes on once the retries are used up.
                let finals = [InputEvent::NoInput, InputEvent::NoMatch].map(|ev| {
                    m.handlers
                        .iter()
                        .any(|h| h.event == ev && h.count == HandlerCount::Final)
                });
                if finals.contains(&false) {
                    exits.push((id, Some("retries used up".to_string())));
                }
                self.inputs.pop();
                exits
            }
            StmtKind::Collect { target, collect } => {
                let mut head = format!("{} = collect", target.name);
                if let (Some(a), Some(b)) = (collect.options.first(), collect.options.last()) {
                    head.push_str(&format!(" ({})", self.text_range(a.span.start, b.span.end)));
                }
                let mut lines = wrap(&head, WRAP);
                for p in &collect.prompts {
                    lines.extend(self.prompt_lines(p));
                }
                for v in &collect.valid {
                    lines.extend(wrap(&format!("valid when {}", self.text(v.span)), WRAP));
                }
                let id = self.node(NodeKind::Collect, lines, s.span, preds);
                self.inputs.push(id);
                let mut exits = vec![(id, None)];
                self.input_handlers(id, &collect.handlers, &mut exits);
                self.inputs.pop();
                exits
            }
            StmtKind::Record { .. } => {
                let id = self.node(
                    NodeKind::Record,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                vec![(id, None)]
            }
            StmtKind::Lookup { target, lookup } => {
                let args = lookup
                    .args
                    .iter()
                    .map(|a| self.text(a.span))
                    .collect::<Vec<_>>()
                    .join(", ");
                let head = format!(
                    "{} = lookup {}.{}({args})",
                    target.name, lookup.service.name, lookup.operation.name
                );
                let id = self.node(NodeKind::Lookup, wrap(&head, WRAP), s.span, preds);
                match &lookup.otherwise {
                    Some(b) => {
                        let mut exits = vec![(id, Some("ok".to_string()))];
                        exits.extend(
                            self.stmts(&b.stmts, vec![(id, Some("else / failure".to_string()))]),
                        );
                        exits
                    }
                    None => vec![(id, None)],
                }
            }
            StmtKind::CreateWorkorder { target, kind, .. } => {
                let lines = vec![
                    format!("create workorder {}", kind.name),
                    format!("→ {}", target.name),
                ];
                let id = self.node(NodeKind::Workorder, lines, s.span, preds);
                vec![(id, None)]
            }
            StmtKind::Call { .. } => {
                let id = self.node(
                    NodeKind::SubFlow,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                vec![(id, None)]
            }
            StmtKind::Assign { .. } | StmtKind::SetData { .. } => preds,
            StmtKind::If {
                cond,
                then,
                otherwise,
            } => {
                let lines = wrap(&self.text(cond.span), WRAP);
                let id = self.node(NodeKind::Decision, lines, s.span, preds);
                let mut exits = self.stmts(&then.stmts, vec![(id, Some("yes".to_string()))]);
                match otherwise {
                    Some(b) => {
                        exits.extend(self.stmts(&b.stmts, vec![(id, Some("no".to_string()))]))
                    }
                    None => exits.push((id, Some("no".to_string()))),
                }
                exits
            }
            StmtKind::Match { scrutinee, arms } => {
                let lines = wrap(&format!("match {}", self.text(scrutinee.span)), WRAP);
                let id = self.node(NodeKind::Decision, lines, s.span, preds);
                let mut exits = Vec::new();
                for a in arms {
                    let label = if a.patterns.is_empty() {
                        "else".to_string()
                    } else {
                        a.patterns
                            .iter()
                            .map(|p| self.text(p.span))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    exits.extend(self.stmts(&a.action.stmts, vec![(id, Some(label))]));
                }
                if !arms.iter().any(|a| a.patterns.is_empty()) {
                    exits.push((id, Some("other".to_string())));
                }
                exits
            }
            StmtKind::Label(l) => {
                self.pending_labels.push(l.name.clone());
                preds
            }
            StmtKind::Goto(l) => {
                self.gotos.push((preds, l.name.clone()));
                Vec::new()
            }
            StmtKind::Repeat => {
                if let Some(&to) = self.inputs.last() {
                    for (from, label) in preds {
                        self.edge(from, to, label, EdgeKind::Repeat);
                    }
                }
                Vec::new()
            }
            StmtKind::Return(_) => {
                self.node(
                    NodeKind::Return,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                Vec::new()
            }
            StmtKind::Notify { .. } => {
                let id = self.node(
                    NodeKind::Notify,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                vec![(id, None)]
            }
            StmtKind::Transfer {
                dest, otherwise, ..
            } => {
                let d = match dest {
                    Destination::Queue(i) => format!("queue {}", i.name),
                    Destination::Flow(i) => format!("flow {}", i.name),
                    Destination::Agent(e) => format!("agent {}", self.text(e.span)),
                    Destination::Number(e) => format!("number {}", self.text(e.span)),
                    Destination::Callback(_) => "callback".to_string(),
                    Destination::Hangup(_) => "hangup".to_string(),
                };
                let lines = wrap(&format!("transfer {d}"), WRAP);
                let id = self.node(NodeKind::Transfer, lines, s.span, preds);
                match otherwise {
                    Some(b) => self.stmts(&b.stmts, vec![(id, Some("else / failure".to_string()))]),
                    None => Vec::new(),
                }
            }
            StmtKind::Hangup => {
                self.node(NodeKind::Hangup, vec!["hang up".into()], s.span, preds);
                Vec::new()
            }
            StmtKind::Pause(_) | StmtKind::Language(_) => {
                let id = self.node(
                    NodeKind::Step,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                vec![(id, None)]
            }
            StmtKind::OnError(b) => {
                let labels = std::mem::take(&mut self.pending_labels);
                let saved_prompt = self.last_prompt;
                let h = self.node(
                    NodeKind::ErrorHandler,
                    vec!["on error".into()],
                    s.span,
                    Vec::new(),
                );
                let exits = self.stmts(&b.stmts, vec![(h, None)]);
                if !exits.is_empty() {
                    self.node(NodeKind::End, vec!["end".into()], s.span, exits);
                }
                self.pending_labels = labels;
                self.last_prompt = saved_prompt;
                preds
            }
            StmtKind::Block(b) => self.stmts(&b.stmts, preds),
        }
    }
}

// ------------------------------------------------------------------ DOT and Mermaid

fn dot_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            '&' => out.push_str("#38;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push_str("<br/>"),
            c => out.push(c),
        }
    }
    out
}

/// Fill and stroke colours per kind.
fn colours(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Start => ("#e8f0fe", "#3367d6"),
        NodeKind::ErrorHandler => ("#fdecea", "#d93025"),
        NodeKind::Prompt => ("#eef6ff", "#5b8def"),
        NodeKind::Menu => ("#fff7e0", "#d29b00"),
        NodeKind::Collect | NodeKind::Record => ("#eaf7ee", "#3aa35c"),
        NodeKind::Decision => ("#fff0e6", "#e67e22"),
        NodeKind::Lookup => ("#f3ecfb", "#8e5bd6"),
        NodeKind::SubFlow => ("#f1f3f4", "#5f6368"),
        NodeKind::Workorder | NodeKind::Notify => ("#e6f7f7", "#1a9c9c"),
        NodeKind::Transfer => ("#fdecea", "#d93025"),
        NodeKind::Step => ("#ffffff", "#9aa0a6"),
        NodeKind::Hangup | NodeKind::Return | NodeKind::End => ("#f1f3f4", "#3c4043"),
    }
}

impl FlowGraph {
    /// The graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&self.name));
        out.push_str("  graph [rankdir=TB, nodesep=0.4, ranksep=0.45, fontname=\"sans-serif\"];\n");
        out.push_str("  node [fontname=\"sans-serif\", fontsize=11, style=filled];\n");
        out.push_str("  edge [fontname=\"sans-serif\", fontsize=10, color=\"#5f6368\"];\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let shape = match n.kind {
                NodeKind::Decision => "shape=diamond",
                NodeKind::Transfer => "shape=parallelogram",
                NodeKind::Lookup => "shape=hexagon",
                NodeKind::SubFlow => "shape=component",
                NodeKind::Workorder => "shape=tab",
                NodeKind::Notify => "shape=note",
                k if k.terminal() => "shape=box, style=\"rounded,filled,bold\"",
                _ => "shape=box, style=\"rounded,filled\"",
            };
            let (fill, stroke) = colours(n.kind);
            let _ = writeln!(
                out,
                "  n{i} [label=\"{}\", {shape}, fillcolor=\"{fill}\", color=\"{stroke}\"];",
                dot_escape(&n.label)
            );
        }
        for e in &self.edges {
            let mut attrs = Vec::new();
            if let Some(l) = &e.label {
                attrs.push(format!("label=\"{}\"", dot_escape(l)));
            }
            if e.kind != EdgeKind::Next {
                attrs.push("style=dashed".to_string());
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", attrs.join(", "))
            };
            let _ = writeln!(out, "  n{} -> n{}{attrs};", e.from, e.to);
        }
        out.push_str("}\n");
        out
    }

    /// The graph as a Mermaid `flowchart TD`.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let l = mermaid_escape(&n.label);
            let shape = match n.kind {
                NodeKind::Decision => format!("{{\"{l}\"}}"),
                NodeKind::Transfer => format!("[/\"{l}\"/]"),
                NodeKind::Lookup => format!("{{{{\"{l}\"}}}}"),
                NodeKind::SubFlow => format!("[[\"{l}\"]]"),
                k if k.terminal() => format!("([\"{l}\"])"),
                _ => format!("(\"{l}\")"),
            };
            let _ = writeln!(out, "  n{i}{shape}");
        }
        for e in &self.edges {
            let arrow = if e.kind == EdgeKind::Next {
                "-->"
            } else {
                "-.->"
            };
            match &e.label {
                Some(l) => {
                    let _ = writeln!(
                        out,
                        "  n{} {arrow}|\"{}\"| n{}",
                        e.from,
                        mermaid_escape(l),
                        e.to
                    );
                }
                None => {
                    let _ = writeln!(out, "  n{} {arrow} n{}", e.from, e.to);
                }
            }
        }
        let mut kinds: Vec<NodeKind> = Vec::new();
        for n in &self.nodes {
            if !kinds.contains(&n.kind) {
                kinds.push(n.kind);
            }
        }
        for k in kinds {
            let (fill, stroke) = colours(k);
            let ids = self
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.kind == k)
                .map(|(i, _)| format!("n{i}"))
                .collect::<Vec<_>>()
                .join(",");
            // Prefixed: `end` is a word of Mermaid's own.
            let class = format!("k_{}", k.word().replace('-', "_"));
            let _ = writeln!(out, "  classDef {class} fill:{fill},stroke:{stroke}");
            let _ = writeln!(out, "  class {ids} {class}");
        }
        out
    }
}

// ------------------------------------------------------------------ layout

const FONT: f64 = 13.0;
const CHAR_W: f64 = 7.2;
const LINE_H: f64 = 17.0;
const PAD_X: f64 = 14.0;
const PAD_Y: f64 = 9.0;
const LABEL_FONT: f64 = 11.5;
const LABEL_CHAR_W: f64 = 6.5;
const LABEL_LINE_H: f64 = 15.0;
const RANK_GAP: f64 = 16.0;
const NODE_GAP: f64 = 28.0;
const DUMMY_GAP: f64 = 10.0;
const MARGIN: f64 = 20.0;

fn text_width(s: &str, char_w: f64) -> f64 {
    s.lines().map(str_width).max().unwrap_or(0) as f64 * char_w
}

fn node_size(n: &Node) -> (f64, f64) {
    let lines = n.label.lines().count().max(1) as f64;
    let tw = text_width(&n.label, CHAR_W);
    let th = lines * LINE_H;
    let (w, h) = match n.kind {
        NodeKind::Decision => {
            let h = th + 2.0 * PAD_Y + 14.0;
            (tw / (1.0 - th / h) + 2.0 * PAD_X, h)
        }
        NodeKind::Transfer => (tw + 2.0 * PAD_X + 24.0, th + 2.0 * PAD_Y),
        NodeKind::Lookup => (tw + 2.0 * PAD_X + 20.0, th + 2.0 * PAD_Y),
        NodeKind::SubFlow => (tw + 2.0 * PAD_X + 16.0, th + 2.0 * PAD_Y),
        k if k.terminal() => {
            let h = th + 2.0 * PAD_Y;
            (tw + 2.0 * PAD_X + h / 2.0, h)
        }
        _ => (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y),
    };
    (w.max(48.0), h)
}

/// Finds the edges that close loops (depth-first from the start, then from the
/// error handler and any node not reached) and the order nodes were reached in.
fn classify(g: &FlowGraph) -> (Vec<bool>, Vec<usize>) {
    let n = g.nodes.len();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in g.edges.iter().enumerate() {
        out[e.from].push(i);
    }
    let mut state = vec![0u8; n];
    let mut back = vec![false; g.edges.len()];
    let mut order = Vec::new();
    let has_incoming: Vec<bool> = (0..n)
        .map(|v| g.edges.iter().any(|e| e.to == v && e.from != v))
        .collect();
    let mut roots: Vec<usize> = (0..n).filter(|&v| v == 0 || !has_incoming[v]).collect();
    roots.extend(0..n);
    for r in roots {
        if state[r] != 0 {
            continue;
        }
        // Iterative depth-first search: (node, next edge index).
        let mut stack = vec![(r, 0usize)];
        state[r] = 1;
        order.push(r);
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if *k < out[v].len() {
                let e = out[v][*k];
                *k += 1;
                let w = g.edges[e].to;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        order.push(w);
                        stack.push((w, 0));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    (back, order)
}

#[derive(Debug, Clone)]
struct Vtx {
    /// The node drawn here, or `None` for a point an edge passes through.
    node: Option<usize>,
    w: f64,
    h: f64,
    rank: usize,
    x: f64,
    y: f64,
}

struct Layout {
    vtx: Vec<Vtx>,
    /// Top and bottom of each rank's row.
    rows: Vec<(f64, f64)>,
    /// For each forward edge: the vertices it passes, source first.
    paths: Vec<(usize, Vec<usize>)>,
    back: Vec<usize>,
}

/// Isotonic regression (pool adjacent violators): the non-decreasing sequence
/// closest to `t` in the least-squares sense.
fn isotonic(t: &[f64]) -> Vec<f64> {
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for &v in t {
        blocks.push((v, 1));
        while blocks.len() >= 2 {
            let (s2, n2) = blocks[blocks.len() - 1];
            let (s1, n1) = blocks[blocks.len() - 2];
            if s1 / n1 as f64 > s2 / n2 as f64 {
                blocks.pop();
                blocks.pop();
                blocks.push((s1 + s2, n1 + n2));
            } else {
                break;
            }
        }
    }
    blocks
        .into_iter()
        .flat_map(|(s, n)| std::iter::repeat_n(s / n as f64, n))
        .collect()
}

fn layout(g: &FlowGraph) -> Layout {
    let (back, order) = classify(g);
    let n = g.nodes.len();
    // Longest-path layers over the edges that do not close loops.
    let mut indeg = vec![0usize; n];
    for (i, e) in g.edges.iter().enumerate() {
        if !back[i] {
            indeg[e.to] += 1;
        }
    }
    let mut layer = vec![0usize; n];
    let mut ready: Vec<usize> = order.iter().copied().filter(|&v| indeg[v] == 0).collect();
    ready.reverse();
    while let Some(v) = ready.pop() {
        for (i, e) in g.edges.iter().enumerate() {
            if back[i] || e.from != v {
                continue;
            }
            layer[e.to] = layer[e.to].max(layer[v] + 1);
            indeg[e.to] -= 1;
            if indeg[e.to] == 0 {
                ready.push(e.to);
            }
        }
    }
    let mut vtx: Vec<Vtx> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (w, h) = node_size(node);
            Vtx {
                node: Some(i),
                w,
                h,
                rank: 2 * layer[i],
                x: 0.0,
                y: 0.0,
            }
        })
        .collect();
    let mut key: Vec<f64> = vec![0.0; n];
    for (k, &v) in order.iter().enumerate() {
        key[v] = k as f64;
    }
    let mut up: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut down: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut paths = Vec::new();
    let mut back_edges = Vec::new();
    for (i, e) in g.edges.iter().enumerate() {
        if back[i] {
            back_edges.push(i);
            continue;
        }
        let mut path = vec![e.from];
        let mut prev = e.from;
        for r in vtx[e.from].rank + 1..vtx[e.to].rank {
            let label = if r == vtx[e.from].rank + 1 {
                e.label.clone()
            } else {
                None
            };
            let (w, h) = match &label {
                Some(l) => (
                    text_width(l, LABEL_CHAR_W) + 10.0,
                    l.lines().count() as f64 * LABEL_LINE_H + 4.0,
                ),
                None => (8.0, 0.0),
            };
            let d = vtx.len();
            vtx.push(Vtx {
                node: None,
                w,
                h,
                rank: r,
                x: 0.0,
                y: 0.0,
            });
            key.push(key[e.from] + 0.001 * (i + 1) as f64);
            up.push(vec![prev]);
            down.push(Vec::new());
            down[prev].push(d);
            path.push(d);
            prev = d;
        }
        down[prev].push(e.to);
        up[e.to].push(prev);
        path.push(e.to);
        paths.push((i, path));
    }
    let max_rank = vtx.iter().map(|v| v.rank).max().unwrap_or(0);
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); max_rank + 1];
    for (i, v) in vtx.iter().enumerate() {
        ranks[v.rank].push(i);
    }
    for r in &mut ranks {
        r.sort_by(|a, b| key[*a].total_cmp(&key[*b]));
    }
    order_ranks(&mut ranks, &up, &down, vtx.len());
    place_x(&mut vtx, &ranks, &up, &down);
    // Rows: node ranks as tall as their tallest node, label ranks as their tallest label.
    let mut y = MARGIN;
    let mut rows = Vec::new();
    for r in &ranks {
        let h = r.iter().map(|&v| vtx[v].h).fold(0.0, f64::max);
        for &v in r {
            vtx[v].y = y + h / 2.0;
        }
        rows.push((y, y + h));
        y += h + RANK_GAP;
    }
    Layout {
        vtx,
        rows,
        paths,
        back: back_edges,
    }
}

fn crossings(ranks: &[Vec<usize>], down: &[Vec<usize>], pos: &[usize]) -> usize {
    let mut total = 0;
    for r in ranks {
        let mut segs: Vec<(usize, usize)> = Vec::new();
        for &v in r {
            for &w in &down[v] {
                segs.push((pos[v], pos[w]));
            }
        }
        for i in 0..segs.len() {
            for j in i + 1..segs.len() {
                let (a, b) = (segs[i], segs[j]);
                if (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1) {
                    total += 1;
                }
            }
        }
    }
    total
}

/// Barycenter sweeps down and up; keeps the order with the fewest crossings.
fn order_ranks(ranks: &mut [Vec<usize>], up: &[Vec<usize>], down: &[Vec<usize>], n: usize) {
    let mut pos = vec![0usize; n];
    let set_pos = |ranks: &[Vec<usize>], pos: &mut Vec<usize>| {
        for r in ranks {
            for (i, &v) in r.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    set_pos(ranks, &mut pos);
    let mut best = ranks.to_vec();
    let mut best_c = crossings(ranks, down, &pos);
    for it in 0..12 {
        let downward = it % 2 == 0;
        let idx: Vec<usize> = if downward {
            (1..ranks.len()).collect()
        } else {
            (0..ranks.len().saturating_sub(1)).rev().collect()
        };
        for r in idx {
            let adj = if downward { up } else { down };
            let mut keyed: Vec<(f64, usize)> = ranks[r]
                .iter()
                .map(|&v| {
                    let nb = &adj[v];
                    let k = if nb.is_empty() {
                        pos[v] as f64
                    } else {
                        nb.iter().map(|&w| pos[w] as f64).sum::<f64>() / nb.len() as f64
                    };
                    (k, v)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            ranks[r] = keyed.into_iter().map(|(_, v)| v).collect();
            for (i, &v) in ranks[r].iter().enumerate() {
                pos[v] = i;
            }
        }
        let c = crossings(ranks, down, &pos);
        if c < best_c {
            best_c = c;
            best = ranks.to_vec();
        }
    }
    ranks.clone_from_slice(&best);
}

/// Horizontal positions: each vertex pulled towards the mean of its neighbours,
/// keeping the order of its rank and the gaps (least squares, by isotonic regression).
fn place_x(vtx: &mut [Vtx], ranks: &[Vec<usize>], up: &[Vec<usize>], down: &[Vec<usize>]) {
    let sep = |vtx: &[Vtx], a: usize, b: usize| {
        let gap = match (vtx[a].node.is_some(), vtx[b].node.is_some()) {
            (true, true) => NODE_GAP,
            (false, false) => DUMMY_GAP,
            _ => NODE_GAP / 2.0 + 4.0,
        };
        (vtx[a].w + vtx[b].w) / 2.0 + gap
    };
    let place = |vtx: &mut [Vtx], r: &[usize], desired: &[f64]| {
        let mut c = vec![0.0; r.len()];
        for i in 1..r.len() {
            c[i] = c[i - 1] + sep(vtx, r[i - 1], r[i]);
        }
        let t: Vec<f64> = desired.iter().zip(&c).map(|(d, c)| d - c).collect();
        let y = isotonic(&t);
        for (i, &v) in r.iter().enumerate() {
            vtx[v].x = y[i] + c[i];
        }
    };
    for r in ranks {
        place(vtx, r, &vec![0.0; r.len()]);
    }
    for it in 0..24 {
        let both = it >= 20;
        let downward = it % 2 == 0;
        let idx: Vec<usize> = if downward {
            (0..ranks.len()).collect()
        } else {
            (0..ranks.len()).rev().collect()
        };
        for ri in idx {
            let r = &ranks[ri];
            let desired: Vec<f64> = r
                .iter()
                .map(|&v| {
                    let mut nb: Vec<usize> = Vec::new();
                    if downward || both {
                        nb.extend(&up[v]);
                    }
                    if !downward || both {
                        nb.extend(&down[v]);
                    }
                    // A long edge runs straight: its points follow each other only.
                    if vtx[v].node.is_none() && nb.iter().any(|&w| vtx[w].node.is_none()) {
                        nb.retain(|&w| vtx[w].node.is_none());
                    }
                    if nb.is_empty() {
                        vtx[v].x
                    } else {
                        nb.iter().map(|&w| vtx[w].x).sum::<f64>() / nb.len() as f64
                    }
                })
                .collect();
            place(vtx, r, &desired);
        }
    }
    let min = vtx
        .iter()
        .map(|v| v.x - v.w / 2.0)
        .fold(f64::INFINITY, f64::min);
    if min.is_finite() {
        for v in vtx.iter_mut() {
            v.x += MARGIN - min;
        }
    }
}

// ------------------------------------------------------------------ SVG

fn xml_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A `<text>` of several lines centred on `(x, y)`.
fn svg_text(
    out: &mut String,
    x: f64,
    y: f64,
    text: &str,
    size: f64,
    line_h: f64,
    bold_first: bool,
) {
    let lines: Vec<&str> = text.lines().collect();
    let top = y - (lines.len() as f64 - 1.0) * line_h / 2.0 + size * 0.35;
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{top:.1}\" text-anchor=\"middle\" font-size=\"{size}\">"
    );
    for (i, l) in lines.iter().enumerate() {
        let dy = if i == 0 { 0.0 } else { line_h };
        let weight = if i == 0 && bold_first {
            " font-weight=\"bold\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tspan x=\"{x:.1}\" dy=\"{dy:.1}\"{weight}>{}</tspan>",
            xml_escape(l)
        );
    }
    out.push_str("</text>");
}

fn edge_label(out: &mut String, x: f64, y: f64, label: &str) {
    let w = text_width(label, LABEL_CHAR_W) + 8.0;
    let h = label.lines().count() as f64 * LABEL_LINE_H + 2.0;
    let _ = write!(
        out,
        "<g class=\"edge-label\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.92\"/>",
        x - w / 2.0,
        y - h / 2.0
    );
    svg_text(out, x, y, label, LABEL_FONT, LABEL_LINE_H, false);
    out.push_str("</g>\n");
}

fn node_shape(out: &mut String, v: &Vtx, kind: NodeKind) {
    let (fill, stroke) = colours(kind);
    let (x, y, w, h) = (v.x, v.y, v.w, v.h);
    let (l, t, r, b) = (x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0);
    let style = format!("fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.4\"");
    match kind {
        NodeKind::Decision => {
            let _ = write!(
                out,
                "<polygon points=\"{x:.1},{t:.1} {r:.1},{y:.1} {x:.1},{b:.1} {l:.1},{y:.1}\" {style}/>"
            );
        }
        NodeKind::Transfer => {
            let s = 12.0;
            let _ = write!(
                out,
                "<polygon points=\"{:.1},{t:.1} {r:.1},{t:.1} {:.1},{b:.1} {l:.1},{b:.1}\" {style}/>",
                l + s,
                r - s
            );
        }
        NodeKind::Lookup => {
            let s = 10.0;
            let _ = write!(
                out,
                "<polygon points=\"{:.1},{t:.1} {:.1},{t:.1} {r:.1},{y:.1} {:.1},{b:.1} {:.1},{b:.1} {l:.1},{y:.1}\" {style}/>",
                l + s,
                r - s,
                r - s,
                l + s
            );
        }
        NodeKind::SubFlow => {
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" {style}/>\
                 <line x1=\"{:.1}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"{stroke}\"/>\
                 <line x1=\"{:.1}\" y1=\"{t:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"{stroke}\"/>",
                l + 7.0,
                l + 7.0,
                r - 7.0,
                r - 7.0
            );
        }
        NodeKind::Workorder | NodeKind::Notify => {
            let f = 9.0;
            let _ = write!(
                out,
                "<polygon points=\"{l:.1},{t:.1} {:.1},{t:.1} {r:.1},{:.1} {r:.1},{b:.1} {l:.1},{b:.1}\" {style}/>",
                r - f,
                t + f
            );
        }
        k if k.terminal() => {
            let width = if matches!(k, NodeKind::Start | NodeKind::ErrorHandler) {
                1.4
            } else {
                2.2
            };
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"{:.1}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/>",
                h / 2.0
            );
        }
        _ => {
            let _ = write!(
                out,
                "<rect x=\"{l:.1}\" y=\"{t:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"7\" {style}/>"
            );
        }
    }
}

impl FlowGraph {
    /// The graph drawn as SVG, laid out here with no external program.
    pub fn to_svg(&self) -> String {
        let lay = layout(self);
        let vtx = &lay.vtx;
        let mut edges_svg = String::new();
        let mut labels_svg = String::new();
        // Ports: edges leave a node's bottom and enter its top spread out in the
        // order of where they go, so they do not start on top of each other.
        let mut out_port: HashMap<(usize, usize), f64> = HashMap::new();
        let mut in_port: HashMap<(usize, usize), f64> = HashMap::new();
        for (side, map) in [(0, &mut out_port), (1, &mut in_port)] {
            let mut per_node: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
            for (pi, (_, path)) in lay.paths.iter().enumerate() {
                let (node, other) = if side == 0 {
                    (path[0], path[1])
                } else {
                    (path[path.len() - 1], path[path.len() - 2])
                };
                per_node.entry(node).or_default().push((vtx[other].x, pi));
            }
            for (node, mut list) in per_node {
                list.sort_by(|a, b| a.0.total_cmp(&b.0));
                let v = &vtx[node];
                let diamond = v
                    .node
                    .is_some_and(|i| self.nodes[i].kind == NodeKind::Decision);
                let k = list.len() as f64;
                let step = if diamond {
                    0.0
                } else {
                    (v.w * 0.6 / k).min(14.0)
                };
                for (j, (_, pi)) in list.into_iter().enumerate() {
                    map.insert((node, pi), v.x + (j as f64 - (k - 1.0) / 2.0) * step);
                }
            }
        }
        for (pi, (ei, path)) in lay.paths.iter().enumerate() {
            let e = &self.edges[*ei];
            let first = &vtx[path[0]];
            let last = &vtx[path[path.len() - 1]];
            let mut pts: Vec<(f64, f64)> = vec![(
                out_port.get(&(path[0], pi)).copied().unwrap_or(first.x),
                first.y + first.h / 2.0,
            )];
            for &d in &path[1..path.len() - 1] {
                pts.push((vtx[d].x, vtx[d].y));
            }
            pts.push((
                in_port
                    .get(&(path[path.len() - 1], pi))
                    .copied()
                    .unwrap_or(last.x),
                last.y - last.h / 2.0,
            ));
            let mut d = format!("M{:.1},{:.1}", pts[0].0, pts[0].1);
            for w in pts.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                let dy = (y1 - y0) / 2.0;
                let _ = write!(
                    d,
                    " C{x0:.1},{:.1} {x1:.1},{:.1} {x1:.1},{y1:.1}",
                    y0 + dy,
                    y1 - dy
                );
            }
            let (class, dash, marker) = edge_style(e.kind);
            let _ = writeln!(
                edges_svg,
                "<path class=\"{class}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.3\"{dash} marker-end=\"url(#{marker})\"/>",
                edge_colour(e.kind)
            );
            if let Some(l) = &e.label
                && let Some(&lv) = path.get(1)
            {
                edge_label(&mut labels_svg, vtx[lv].x, vtx[lv].y, l);
            }
        }
        // Loops go round on the right: down into the gap below their source, right
        // past every node of the rows they span, up into the gap above their target,
        // and down into it. Each gets its own lane, so they never cross a node.
        let mut lanes: Vec<(usize, usize, usize)> = Vec::new();
        let mut from_count: HashMap<usize, usize> = HashMap::new();
        let mut to_count: HashMap<usize, usize> = HashMap::new();
        let mut below_count: HashMap<usize, usize> = HashMap::new();
        let mut above_count: HashMap<usize, usize> = HashMap::new();
        let mut right_extent: f64 = vtx.iter().map(|v| v.x + v.w / 2.0).fold(0.0, f64::max);
        let mut bottom_extent: f64 = lay.rows.last().map_or(0.0, |r| r.1);
        let mut back = lay.back.clone();
        back.sort_by_key(|&e| {
            let e = &self.edges[e];
            vtx[e.from].rank.abs_diff(vtx[e.to].rank)
        });
        let is_diamond = |v: usize| {
            vtx[v]
                .node
                .is_some_and(|i| self.nodes[i].kind == NodeKind::Decision)
        };
        let next = |map: &mut HashMap<usize, usize>, key: usize| {
            let k = map.entry(key).or_insert(0);
            *k += 1;
            (*k - 1) as f64
        };
        for ei in back {
            let e = &self.edges[ei];
            let (s, t) = (&vtx[e.from], &vtx[e.to]);
            let (lo, hi) = (t.rank.min(s.rank), s.rank.max(t.rank));
            let lane = (0..)
                .find(|&l| {
                    !lanes
                        .iter()
                        .any(|&(a, b, used)| used == l && a <= hi + 1 && lo <= b + 1)
                })
                .unwrap_or(0);
            lanes.push((lo, hi, lane));
            let base = vtx
                .iter()
                .filter(|v| v.rank + 1 >= lo && v.rank <= hi + 1)
                .map(|v| v.x + v.w / 2.0)
                .fold(0.0, f64::max);
            let x_out = base + 20.0 + 16.0 * lane as f64;
            let sx = if is_diamond(e.from) {
                s.x
            } else {
                s.x + (s.w / 2.0 - 12.0 - 7.0 * next(&mut from_count, e.from)).max(0.0)
            };
            let tx = if is_diamond(e.to) {
                t.x
            } else {
                t.x + (t.w / 2.0 - 12.0 - 7.0 * next(&mut to_count, e.to)).max(0.0)
            };
            let y1 = lay.rows[s.rank].1 + 5.0 + 4.0 * next(&mut below_count, s.rank);
            let y2 = lay.rows[t.rank].0 - 5.0 - 4.0 * next(&mut above_count, t.rank);
            let pts = [
                (sx, s.y + s.h / 2.0),
                (sx, y1),
                (x_out, y1),
                (x_out, y2),
                (tx, y2),
                (tx, t.y - t.h / 2.0),
            ];
            let d = rounded_path(&pts, 9.0);
            let (class, dash, marker) = edge_style(e.kind);
            let _ = writeln!(
                edges_svg,
                "<path class=\"back {class}\" d=\"{d}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.3\"{dash} marker-end=\"url(#{marker})\"/>",
                edge_colour(e.kind)
            );
            let label_w = e
                .label
                .as_ref()
                .map_or(0.0, |l| text_width(l, LABEL_CHAR_W) + 8.0);
            if let Some(l) = &e.label {
                edge_label(&mut labels_svg, x_out, (y1 + y2) / 2.0, l);
            }
            right_extent = right_extent.max(x_out + label_w / 2.0 + 2.0);
            bottom_extent = bottom_extent.max(y1);
        }
        let width = right_extent + MARGIN;
        let height = bottom_extent + MARGIN;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"'Helvetica Neue', Arial, 'PingFang SC', 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif\" font-size=\"{FONT}\" fill=\"#202124\">"
        );
        let _ = writeln!(out, "<title>flow {}</title>", xml_escape(&self.name));
        out.push_str(
            "<defs>\
             <marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5f6368\"/></marker>\
             <marker id=\"arrow-jump\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#8e5bd6\"/></marker>\
             </defs>\n",
        );
        out.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        out.push_str("<g class=\"edges\">\n");
        out.push_str(&edges_svg);
        out.push_str("</g>\n<g class=\"edge-labels\">\n");
        out.push_str(&labels_svg);
        out.push_str("</g>\n<g class=\"nodes\">\n");
        for v in vtx {
            let Some(i) = v.node else { continue };
            let node = &self.nodes[i];
            let _ = write!(out, "<g class=\"node {}\" id=\"n{i}\">", node.kind.word());
            node_shape(&mut out, v, node.kind);
            svg_text(
                &mut out,
                v.x,
                v.y,
                &node.label,
                FONT,
                LINE_H,
                node.kind == NodeKind::Menu,
            );
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n</svg>\n");
        out
    }
}

/// The colour of an edge: jumps in the purple of their arrows.
fn edge_colour(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Next => "#5f6368",
        _ => "#8e5bd6",
    }
}

/// A path through `pts` (horizontal and vertical runs) with rounded corners.
fn rounded_path(pts: &[(f64, f64)], radius: f64) -> String {
    let mut d = String::new();
    let Some(&(x0, y0)) = pts.first() else {
        return d;
    };
    let _ = write!(d, "M{x0:.1},{y0:.1}");
    for i in 1..pts.len() {
        let (x, y) = pts[i];
        if i + 1 == pts.len() {
            let _ = write!(d, " L{x:.1},{y:.1}");
            break;
        }
        let (px, py) = pts[i - 1];
        let (nx, ny) = pts[i + 1];
        let d1 = ((x - px).powi(2) + (y - py).powi(2)).sqrt();
        let d2 = ((nx - x).powi(2) + (ny - y).powi(2)).sqrt();
        let r = radius.min(d1 / 2.0).min(d2 / 2.0);
        if r <= 0.01 {
            let _ = write!(d, " L{x:.1},{y:.1}");
            continue;
        }
        let (ax, ay) = (x - (x - px) / d1 * r, y - (y - py) / d1 * r);
        let (bx, by) = (x + (nx - x) / d2 * r, y + (ny - y) / d2 * r);
        let _ = write!(d, " L{ax:.1},{ay:.1} Q{x:.1},{y:.1} {bx:.1},{by:.1}");
    }
    d
}

/// CSS class, dash attribute and arrow marker of an edge.
fn edge_style(kind: EdgeKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        EdgeKind::Next => ("edge", "", "arrow"),
        EdgeKind::Goto => ("edge goto", " stroke-dasharray=\"5 4\"", "arrow-jump"),
        EdgeKind::Repeat => ("edge repeat", " stroke-dasharray=\"5 4\"", "arrow-jump"),
        EdgeKind::Retry => ("edge retry", " stroke-dasharray=\"2 3\"", "arrow-jump"),
    }
}
