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
//! Three renderers, one file each: [`FlowGraph::to_dot`] (Graphviz, `dot`),
//! [`FlowGraph::to_mermaid`] (`flowchart TD`, `mermaid`) and [`FlowGraph::to_svg`]
//! (`svg`), which lays the graph out itself: longest-path layers from the start,
//! barycenter sweeps to reduce crossings, edge labels on their own rows, loops
//! drawn as curves on the right side. This file builds the graph from the flow and
//! holds what the renderers share (colours per kind, which edges close loops).
//!
//! `traffic.rs` lays the calls counted at run time onto the diagram
//! ([`FlowGraph::apply_traffic`], for `dialect graph --stats`): figures in the
//! labels, edges as wide as their traffic, nodes where callers hung up in red.
//! The flows a flow calls can be drawn inside it ([`FlowGraph::attach_subflow`]),
//! each with the figures of the calls that came through the caller
//! ([`FlowGraph::apply_traffic_across`]).
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

mod dot;
mod mermaid;
mod svg;
#[cfg(test)]
mod tests;
mod traffic;

pub use traffic::{
    FlowEdge, NodeTraffic, Observed, StepCount, StepEdge, StepPlace, Traffic, offset_of,
};

use std::collections::HashMap;
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
    /// The edges; those between the same two nodes for the same reason are
    /// merged into one, with their labels joined.
    pub edges: Vec<Edge>,
    /// Calls counted at run time, once [`FlowGraph::apply_traffic`] laid them on.
    pub traffic: Option<Traffic>,
    /// The `call` statements: which node calls which flow, in the order of
    /// the flow text.
    pub calls: Vec<FlowCall>,
    /// The diagrams of flows this one calls, drawn inside it
    /// ([`FlowGraph::attach_subflow`]).
    pub subflows: Vec<FlowGraph>,
}

/// A `call` statement of a flow: its node and the flow it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowCall {
    /// The [`NodeKind::SubFlow`] node.
    pub node: usize,
    /// The name of the flow called.
    pub flow: String,
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
            calls: Vec::new(),
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
            traffic: None,
            calls: b.calls,
            subflows: Vec::new(),
        }
    }

    /// Draws `sub`, the diagram of a flow this one calls, inside this one: a
    /// cluster linked from every node that calls it (DOT and Mermaid
    /// subgraphs; in SVG a framed box beside the flow). Its figures, when
    /// laid on, are those of the calls that came through this flow (the
    /// steps of a sub-flow count under the flow that called it). A flow this
    /// one does not call, or one already drawn, is left out; returns whether
    /// `sub` was drawn.
    pub fn attach_subflow(&mut self, sub: FlowGraph) -> bool {
        let called = self.calls.iter().any(|c| c.flow == sub.name);
        if !called || self.subflows.iter().any(|s| s.name == sub.name) {
            return false;
        }
        self.subflows.push(sub);
        true
    }

    /// The nodes that call `flow`.
    pub fn calls_of<'a>(&'a self, flow: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.calls
            .iter()
            .filter(move |c| c.flow == flow)
            .map(|c| c.node)
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
    /// The `call` statements met.
    calls: Vec<FlowCall>,
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
            StmtKind::LookupWorkorder {
                target,
                kind,
                number,
                otherwise,
                ..
            } => {
                let head = format!(
                    "{} = lookup workorder {}({})",
                    target.name,
                    kind.name,
                    self.text(number.span)
                );
                let id = self.node(NodeKind::Lookup, wrap(&head, WRAP), s.span, preds);
                match otherwise {
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
            StmtKind::TransitionWorkorder {
                order,
                to,
                otherwise,
                ..
            } => {
                let lines = vec![
                    format!("transition workorder {}", self.text(order.span)),
                    format!("→ {}", to.name),
                ];
                let id = self.node(NodeKind::Workorder, lines, s.span, preds);
                match otherwise {
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
            StmtKind::Call { flow, .. } => {
                let id = self.node(
                    NodeKind::SubFlow,
                    wrap(&self.text(s.span), WRAP),
                    s.span,
                    preds,
                );
                self.calls.push(FlowCall {
                    node: id,
                    flow: flow.name.clone(),
                });
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
            StmtKind::ForEach {
                var, list, body, ..
            } => {
                let head = format!("for each {} in {}", var.name, list.name);
                let id = self.node(NodeKind::Decision, wrap(&head, WRAP), s.span, preds);
                let ends = self.stmts(&body.stmts, vec![(id, Some("each".to_string()))]);
                for (from, label) in ends {
                    self.edge(from, id, label, EdgeKind::Repeat);
                }
                vec![(id, Some("done".to_string()))]
            }
        }
    }
}

/// The stroke of a node where callers hung up.
const HANGUP_STROKE: &str = "#d93025";

/// The colour of edges that carried calls.
const TRAFFIC_STROKE: &str = "#1a73e8";

/// The frame of a sub-flow drawn inside its caller, and the links to it.
const SUBFLOW_STROKE: &str = "#5f6368";

impl FlowGraph {
    /// The title of this flow drawn as a sub-flow: its name and, when
    /// figures are laid on, the calls that came into it through the caller.
    fn cluster_title(&self) -> String {
        match &self.traffic {
            Some(t) => {
                let calls = t.nodes.first().map_or(0, |n| n.calls);
                let word = if calls == 1 { "call" } else { "calls" };
                format!("sub-flow {} · ▸ {calls} {word} from here", self.name)
            }
            None => format!("sub-flow {}", self.name),
        }
    }
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
