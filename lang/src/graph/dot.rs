//! Graphviz DOT output: one statement per node and edge, shapes and colours by
//! kind, sub-flows as clusters, for analysts who lay diagrams out with Graphviz.

use std::fmt::Write as _;

use super::{
    EdgeKind, FlowGraph, HANGUP_STROKE, NodeKind, SUBFLOW_STROKE, TRAFFIC_STROKE, colours,
};

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

impl FlowGraph {
    /// The graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&self.name));
        out.push_str("  graph [rankdir=TB, nodesep=0.4, ranksep=0.45, fontname=\"sans-serif\"];\n");
        out.push_str("  node [fontname=\"sans-serif\", fontsize=11, style=filled];\n");
        out.push_str("  edge [fontname=\"sans-serif\", fontsize=10, color=\"#5f6368\"];\n");
        self.dot_items("", "  ", &mut out);
        out.push_str("}\n");
        out
    }

    /// The nodes and edges, their ids prefixed with `prefix`, and each
    /// sub-flow as a cluster (`subgraph cluster_…`) linked from its calls.
    fn dot_items(&self, prefix: &str, indent: &str, out: &mut String) {
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
            let (fill, mut stroke) = colours(n.kind);
            let mut extra = String::new();
            if self.hangups_at(i) > 0 {
                stroke = HANGUP_STROKE;
                extra.push_str(", penwidth=3");
            } else if self.unreached(i) {
                extra.push_str(", fontcolor=\"#9aa0a6\"");
            }
            let _ = writeln!(
                out,
                "{indent}{prefix}n{i} [label=\"{}\", {shape}, fillcolor=\"{fill}\", color=\"{stroke}\"{extra}];",
                dot_escape(&n.label)
            );
        }
        for (ei, e) in self.edges.iter().enumerate() {
            let mut attrs = Vec::new();
            if let Some(t) = &self.traffic
                && t.edges.get(ei).is_some_and(|&c| c > 0)
            {
                attrs.push(format!(
                    "penwidth={:.1}, color=\"{TRAFFIC_STROKE}\"",
                    t.edge_width(ei)
                ));
            }
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
            let _ = writeln!(
                out,
                "{indent}{prefix}n{} -> {prefix}n{}{attrs};",
                e.from, e.to
            );
        }
        for (k, sub) in self.subflows.iter().enumerate() {
            let inner = format!("{prefix}s{k}_");
            let _ = writeln!(out, "{indent}subgraph cluster_{inner} {{");
            let _ = writeln!(
                out,
                "{indent}  label=\"{}\"; style=\"rounded,dashed\"; color=\"{SUBFLOW_STROKE}\"; fontname=\"sans-serif\"; fontsize=11;",
                dot_escape(&sub.cluster_title())
            );
            sub.dot_items(&inner, &format!("{indent}  "), out);
            let _ = writeln!(out, "{indent}}}");
            for call in self.calls_of(&sub.name) {
                let _ = writeln!(
                    out,
                    "{indent}{prefix}n{call} -> {inner}n0 [style=dashed, color=\"{SUBFLOW_STROKE}\"];"
                );
            }
        }
    }
}
