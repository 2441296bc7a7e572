//! Mermaid output (`flowchart TD`), for wikis and documents that render
//! Mermaid: labels escaped the way Mermaid wants, colours as class definitions.

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

impl FlowGraph {
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
        if let Some(t) = &self.traffic {
            for (ei, &calls) in t.edges.iter().enumerate() {
                if calls > 0 {
                    let _ = writeln!(
                        out,
                        "  linkStyle {ei} stroke:{TRAFFIC_STROKE},stroke-width:{:.1}px",
                        t.edge_width(ei)
                    );
                }
            }
            let marked = |pick: &dyn Fn(usize) -> bool| {
                (0..self.nodes.len())
                    .filter(|&i| pick(i))
                    .map(|i| format!("n{i}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let hung = marked(&|i| self.hangups_at(i) > 0);
            if !hung.is_empty() {
                let _ = writeln!(
                    out,
                    "  classDef hung_up stroke:{HANGUP_STROKE},stroke-width:3px\n  class {hung} hung_up"
                );
            }
            let unreached = marked(&|i| self.unreached(i));
            if !unreached.is_empty() {
                let _ = writeln!(
                    out,
                    "  classDef unreached opacity:0.45\n  class {unreached} unreached"
                );
            }
        }
        out
    }
}
