//! The calls a flow's diagram saw: figures counted at run time by the steps'
//! places in the flow text (line and column, what the runtime's flow
//! statistics name steps by) laid onto the diagram's nodes and edges.
//!
//! The runtime counts only the steps that wait for the outside world
//! (prompts, menus, collects, lookups, transfers, `hangup`...), and calls going
//! straight from one such step to the next. [`FlowGraph::apply_traffic`] finds
//! each step's node (the smallest node whose source holds the step's place:
//! grouped prompts are one node) and each observed step-to-step as the
//! shortest path of diagram edges between the two nodes through nodes that
//! do not wait (decisions, `on error`), and counts the calls on every edge of
//! that path. Nodes that do not wait count the passes of the edges into them.
//! Labels get the figures (`▸ 120 calls · ✕ 4 hung up`, an edge's count after
//! its keys), and the renderers draw edges wider by their share of the
//! busiest one, nodes no call reached faded, and nodes where callers hung up
//! in red.

use std::collections::VecDeque;

use super::{FlowGraph, NodeKind};

/// Calls that reached a step, by the step's place in the flow text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepCount {
    /// 1-based line of the step's statement.
    pub line: u32,
    /// 1-based column (in characters) where the statement starts.
    pub col: u32,
    /// Calls that reached the step.
    pub calls: u64,
    /// Callers who hung up there.
    pub hangups: u64,
}

/// Calls that went straight from one step to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepEdge {
    /// The step left, by (line, column); `None` for the flow's start.
    pub from: Option<(u32, u32)>,
    /// The step reached; `None` for the flow's end (it fell off its last
    /// statement).
    pub to: Option<(u32, u32)>,
    /// How many times.
    pub count: u64,
}

/// Where a step of a counted call was, seen from the flow drawn, for calls
/// that cross into the flows it calls or, in a sub-flow's diagram, come from
/// and go back to its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepPlace {
    /// The flow's start.
    Start,
    /// The flow's end (it fell off its last statement).
    End,
    /// A step of the flow drawn, by 1-based line and column.
    At(u32, u32),
    /// A step inside the flow of this name, which the flow drawn calls
    /// (directly, or through the flows that one calls): the call's node.
    InCall(String),
    /// For a sub-flow's diagram, a step of the flow that called it: where
    /// calls come into the sub-flow from (its start) and go back to (its
    /// `return` or end).
    Outside,
}

/// Calls that went straight from one step to the next, wherever the steps
/// were ([`FlowGraph::apply_traffic_across`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowEdge {
    /// The step left.
    pub from: StepPlace,
    /// The step reached.
    pub to: StepPlace,
    /// How many times.
    pub count: u64,
}

/// What the runtime saw of one flow over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Steps reached.
    pub steps: Vec<StepCount>,
    /// Step to step.
    pub edges: Vec<StepEdge>,
}

/// The figures of one node of the diagram.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeTraffic {
    /// Calls that reached it (for a node that does not wait, the passes of
    /// the edges into it).
    pub calls: u64,
    /// Callers who hung up there.
    pub hangups: u64,
}

/// Figures per node and edge, in the order of [`FlowGraph::nodes`] and
/// [`FlowGraph::edges`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    /// One per node.
    pub nodes: Vec<NodeTraffic>,
    /// Calls along each edge.
    pub edges: Vec<u64>,
}

impl Traffic {
    /// The most calls along any edge (at least 1, to divide by).
    pub fn busiest_edge(&self) -> u64 {
        self.edges.iter().copied().max().unwrap_or(0).max(1)
    }

    /// The stroke width of edge `e`: 1.3 for none, up to 7 for the busiest.
    pub fn edge_width(&self, e: usize) -> f64 {
        let n = self.edges.get(e).copied().unwrap_or(0);
        if n == 0 {
            1.3
        } else {
            1.8 + 5.2 * n as f64 / self.busiest_edge() as f64
        }
    }
}

/// The byte offset of 1-based `line` and character column `col` in `source`.
pub fn offset_of(source: &str, line: u32, col: u32) -> Option<usize> {
    let mut start = 0usize;
    for _ in 1..line {
        start += source[start..].find('\n')? + 1;
    }
    let rest = &source[start..];
    let end = rest.find('\n').unwrap_or(rest.len());
    let skip = (col as usize).checked_sub(1)?;
    match rest[..end].char_indices().nth(skip) {
        Some((i, _)) => Some(start + i),
        None if rest[..end].chars().count() == skip => Some(start + end),
        None => None,
    }
}

impl FlowGraph {
    /// The node a runtime step at byte `offset` of the flow's text belongs to:
    /// the smallest node whose source holds it.
    pub fn node_at(&self, offset: usize) -> Option<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !matches!(n.kind, NodeKind::Start | NodeKind::End))
            .filter(|(_, n)| {
                let (s, e) = (n.span.start as usize, n.span.end as usize);
                s <= offset && (offset < e || offset == s)
            })
            .min_by_key(|(_, n)| n.span.end - n.span.start)
            .map(|(i, _)| i)
    }

    /// The node of the flow's own end, if the flow can fall off its end.
    fn end_node(&self) -> Option<usize> {
        self.nodes
            .iter()
            .rposition(|n| n.kind == NodeKind::End && n.span.start == n.span.end)
    }

    /// Whether the runtime passes the node without waiting (so no step of
    /// its own is counted there). A `call` is no step either, but calls pass
    /// it only through its sub-flow's steps, so no path goes through it.
    fn silent(&self, v: usize) -> bool {
        matches!(
            self.nodes[v].kind,
            NodeKind::Decision | NodeKind::ErrorHandler | NodeKind::Start
        )
    }

    /// The edges of the shortest path from `a` to `b` through silent nodes.
    fn path(&self, a: usize, b: usize) -> Option<Vec<usize>> {
        let mut came: Vec<Option<usize>> = vec![None; self.nodes.len()];
        let mut queue = VecDeque::new();
        for (ei, e) in self.edges.iter().enumerate() {
            if e.from == a {
                queue.push_back(ei);
            }
        }
        let mut seen_edge = vec![false; self.edges.len()];
        let mut prev_edge: Vec<Option<usize>> = vec![None; self.edges.len()];
        while let Some(ei) = queue.pop_front() {
            if seen_edge[ei] {
                continue;
            }
            seen_edge[ei] = true;
            let to = self.edges[ei].to;
            if to == b {
                let mut path = vec![ei];
                let mut at = ei;
                while let Some(p) = prev_edge[at] {
                    path.push(p);
                    at = p;
                }
                path.reverse();
                return Some(path);
            }
            if !self.silent(to) || came[to].is_some() {
                continue;
            }
            came[to] = Some(ei);
            for (next, e) in self.edges.iter().enumerate() {
                if e.from == to && !seen_edge[next] {
                    prev_edge[next] = Some(ei);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// Lays `observed` onto the diagram (see the module's documentation);
    /// `source` is the text of the flow's file, as given to
    /// [`FlowGraph::build`]. Steps and edges that fall on no node (a sub-flow's
    /// steps, a flow text changed since) are left out: to draw calls that go
    /// through sub-flows, use [`FlowGraph::apply_traffic_across`].
    pub fn apply_traffic(&mut self, source: &str, observed: &Observed) {
        let place = |at: Option<(u32, u32)>, none: StepPlace| match at {
            Some((line, col)) => StepPlace::At(line, col),
            None => none,
        };
        let edges: Vec<FlowEdge> = observed
            .edges
            .iter()
            .map(|e| FlowEdge {
                from: place(e.from, StepPlace::Start),
                to: place(e.to, StepPlace::End),
                count: e.count,
            })
            .collect();
        self.apply_traffic_across(source, &observed.steps, &edges);
    }

    /// The nodes a sub-flow's calls leave it by: its `return`s and its end.
    fn exits(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::Return | NodeKind::End))
            .map(|(i, _)| i)
    }

    /// Lays the counted steps and step-to-step edges onto the diagram, the
    /// edges' places given wherever they were ([`StepPlace`]): an edge into a
    /// flow this one calls ends at the call's node, one out of it starts
    /// there, and in a sub-flow's diagram an edge from its caller starts at
    /// its start and one back to the caller ends at a `return` or its end
    /// (the first reachable). Where a flow is called from several nodes, the
    /// edge goes through the first that joins it to its other end.
    pub fn apply_traffic_across(&mut self, source: &str, steps: &[StepCount], edges: &[FlowEdge]) {
        let mut t = Traffic {
            nodes: vec![NodeTraffic::default(); self.nodes.len()],
            edges: vec![0; self.edges.len()],
        };
        let node_of = |g: &FlowGraph, line: u32, col: u32| {
            offset_of(source, line, col).and_then(|o| g.node_at(o))
        };
        for s in steps {
            if let Some(v) = node_of(self, s.line, s.col) {
                // Grouped prompts: a call that heard the group heard its first.
                t.nodes[v].calls = t.nodes[v].calls.max(s.calls);
                t.nodes[v].hangups += s.hangups;
            }
        }
        for e in edges {
            match (&e.from, &e.to) {
                // Inside a flow called: its own diagram counts it.
                (StepPlace::InCall(a), StepPlace::InCall(b)) if a == b => continue,
                // In the caller, around the sub-flow drawn.
                (StepPlace::Outside, StepPlace::Outside) => continue,
                _ => {}
            }
            let starts: Vec<usize> = match &e.from {
                StepPlace::Start | StepPlace::Outside => vec![0],
                StepPlace::End => Vec::new(),
                StepPlace::At(line, col) => node_of(self, *line, *col).into_iter().collect(),
                StepPlace::InCall(f) => self.calls_of(f).collect(),
            };
            let ends: Vec<usize> = match &e.to {
                StepPlace::End => self.end_node().into_iter().collect(),
                StepPlace::Outside => self.exits().collect(),
                StepPlace::Start => Vec::new(),
                StepPlace::At(line, col) => node_of(self, *line, *col).into_iter().collect(),
                StepPlace::InCall(f) => self.calls_of(f).collect(),
            };
            let found = starts
                .iter()
                .flat_map(|&a| ends.iter().map(move |&b| (a, b)))
                .find_map(|(a, b)| self.path(a, b));
            if let Some(path) = found {
                for ei in path {
                    t.edges[ei] += e.count;
                }
            }
        }
        for (v, n) in self.nodes.iter().enumerate() {
            let into: u64 = (0..self.edges.len())
                .filter(|&ei| self.edges[ei].to == v)
                .map(|ei| t.edges[ei])
                .sum();
            match n.kind {
                NodeKind::Start => {
                    t.nodes[v].calls = (0..self.edges.len())
                        .filter(|&ei| self.edges[ei].from == v)
                        .map(|ei| t.edges[ei])
                        .sum();
                }
                NodeKind::End | NodeKind::Return | NodeKind::SubFlow => t.nodes[v].calls = into,
                _ if self.silent(v) => t.nodes[v].calls = into,
                _ => {}
            }
        }
        for (v, n) in self.nodes.iter_mut().enumerate() {
            let NodeTraffic { calls, hangups } = t.nodes[v];
            let mut line = format!("▸ {calls} {}", if calls == 1 { "call" } else { "calls" });
            if hangups > 0 {
                let share = if calls > 0 {
                    format!(" ({:.0}%)", hangups as f64 * 100.0 / calls as f64)
                } else {
                    String::new()
                };
                line.push_str(&format!(" · ✕ {hangups} hung up{share}"));
            }
            n.label.push('\n');
            n.label.push_str(&line);
        }
        for (ei, e) in self.edges.iter_mut().enumerate() {
            let n = t.edges[ei];
            if n == 0 {
                continue;
            }
            e.label = Some(match e.label.take() {
                Some(l) => format!("{l} · {n}"),
                None => n.to_string(),
            });
        }
        self.traffic = Some(t);
    }

    /// Whether node `v` is to be drawn as reached by no call (when figures
    /// are laid on).
    pub(super) fn unreached(&self, v: usize) -> bool {
        self.traffic
            .as_ref()
            .is_some_and(|t| t.nodes.get(v).is_some_and(|n| n.calls == 0))
    }

    /// Callers who hung up at node `v`, when figures are laid on.
    pub(super) fn hangups_at(&self, v: usize) -> u64 {
        self.traffic
            .as_ref()
            .and_then(|t| t.nodes.get(v))
            .map_or(0, |n| n.hangups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_count_columns_in_characters() {
        let text = "ab\n中文x\n";
        assert_eq!(offset_of(text, 1, 1), Some(0));
        assert_eq!(offset_of(text, 2, 1), Some(3));
        assert_eq!(
            offset_of(text, 2, 3),
            Some(9),
            "after two 3-byte characters"
        );
        assert_eq!(offset_of(text, 2, 4), Some(10), "the end of the line");
        assert_eq!(offset_of(text, 2, 9), None);
        assert_eq!(offset_of(text, 9, 1), None);
    }
}
