//! Mermaid output (`flowchart TD`), for wikis and documents that render
//! Mermaid: labels escaped the way Mermaid wants, colours as class definitions,
//! sub-flows as `subgraph`s.

use std::fmt::Write as _;

use super::{EdgeKind, FlowGraph, HANGUP_STROKE, NodeKind, TRAFFIC_STROKE, colours};

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

/// What the classes and link styles at the end of a Mermaid chart need to
/// know of every node and link written, sub-flows' included.
/// A node's id, kind, and whether callers hung up there or no call reached it.
type WrittenNode = (String, NodeKind, bool, bool);

#[derive(Default)]
struct Written {
    /// Each node's id, kind, and whether callers hung up there or no call
    /// reached it.
    nodes: Vec<WrittenNode>,
    /// Each link in the order written (Mermaid numbers them so): its width
    /// when it carried calls.
    links: Vec<Option<f64>>,
}

impl FlowGraph {
    /// The graph as a Mermaid `flowchart TD`.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let mut written = Written::default();
        self.mermaid_items("", "  ", &mut out, &mut written);
        let mut kinds: Vec<NodeKind> = Vec::new();
        for (_, k, _, _) in &written.nodes {
            if !kinds.contains(k) {
                kinds.push(*k);
            }
        }
        for k in kinds {
            let (fill, stroke) = colours(k);
            let ids = written
                .nodes
                .iter()
                .filter(|n| n.1 == k)
                .map(|n| n.0.as_str())
                .collect::<Vec<_>>()
                .join(",");
            // Prefixed: `end` is a word of Mermaid's own.
            let class = format!("k_{}", k.word().replace('-', "_"));
            let _ = writeln!(out, "  classDef {class} fill:{fill},stroke:{stroke}");
            let _ = writeln!(out, "  class {ids} {class}");
        }
        for (li, width) in written.links.iter().enumerate() {
            if let Some(w) = width {
                let _ = writeln!(
                    out,
                    "  linkStyle {li} stroke:{TRAFFIC_STROKE},stroke-width:{w:.1}px"
                );
            }
        }
        let marked = |pick: &dyn Fn(&WrittenNode) -> bool| {
            written
                .nodes
                .iter()
                .filter(|n| pick(n))
                .map(|n| n.0.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        let hung = marked(&|n| n.2);
        if !hung.is_empty() {
            let _ = writeln!(
                out,
                "  classDef hung_up stroke:{HANGUP_STROKE},stroke-width:3px\n  class {hung} hung_up"
            );
        }
        let unreached = marked(&|n| n.3);
        if !unreached.is_empty() {
            let _ = writeln!(
                out,
                "  classDef unreached opacity:0.45\n  class {unreached} unreached"
            );
        }
        out
    }

    /// The nodes and links, ids prefixed with `prefix`, and each sub-flow as
    /// a `subgraph` linked from its calls.
    fn mermaid_items(&self, prefix: &str, indent: &str, out: &mut String, written: &mut Written) {
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
            let _ = writeln!(out, "{indent}{prefix}n{i}{shape}");
            written.nodes.push((
                format!("{prefix}n{i}"),
                n.kind,
                self.hangups_at(i) > 0,
                self.unreached(i),
            ));
        }
        for (ei, e) in self.edges.iter().enumerate() {
            let arrow = if e.kind == EdgeKind::Next {
                "-->"
            } else {
                "-.->"
            };
            match &e.label {
                Some(l) => {
                    let _ = writeln!(
                        out,
                        "{indent}{prefix}n{} {arrow}|\"{}\"| {prefix}n{}",
                        e.from,
                        mermaid_escape(l),
                        e.to
                    );
                }
                None => {
                    let _ = writeln!(out, "{indent}{prefix}n{} {arrow} {prefix}n{}", e.from, e.to);
                }
            }
            written.links.push(
                self.traffic
                    .as_ref()
                    .filter(|t| t.edges.get(ei).is_some_and(|&c| c > 0))
                    .map(|t| t.edge_width(ei)),
            );
        }
        for (k, sub) in self.subflows.iter().enumerate() {
            let inner = format!("{prefix}s{k}");
            let _ = writeln!(
                out,
                "{indent}subgraph {inner} [\"{}\"]",
                mermaid_escape(&sub.cluster_title())
            );
            sub.mermaid_items(&format!("{inner}_"), &format!("{indent}  "), out, written);
            let _ = writeln!(out, "{indent}end");
            for call in self.calls_of(&sub.name) {
                let _ = writeln!(out, "{indent}{prefix}n{call} -.-> {inner}_n0");
                written.links.push(None);
            }
        }
    }
}
