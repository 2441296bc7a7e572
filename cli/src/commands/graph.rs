//! `dialect graph`: draw one flow as SVG, Graphviz DOT or Mermaid; with
//! `--stats FROM..TO --server URL`, coloured by the calls a running server
//! counted over that period (see `dialect_lang::graph::StepPlace`), the flows
//! it calls drawn inside it with the figures of the calls that came through
//! it (a sub-flow's steps count under the flow that called it).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_lang::ast::{Item, Module};
use dialect_lang::diagnostic::did_you_mean;
use dialect_lang::graph::{
    FlowEdge, FlowGraph, GraphFormat, StepCount, StepPlace, flow_graph, offset_of,
};
use dialect_runtime::flowstats::{self, FlowStats};

use super::report::{fetch, parse_range, step_place};

/// Where `--stats` reads its figures.
pub(crate) struct StatsSource {
    /// `FROM..TO`.
    pub(crate) period: String,
    /// The server's HTTP address.
    pub(crate) server: String,
    /// An API token of a report reader.
    pub(crate) token: Option<String>,
}

/// Sub-flows drawn inside their caller at most this deep (the flow drawn is
/// the first level).
const MAX_DEPTH: usize = 4;

/// Finds `flow` in the project at `project`, renders it (with the figures of
/// `stats`, when given: then the flows it calls are drawn inside it, with the
/// figures of the calls that came through it) and writes it to `output` (or
/// standard output).
pub(crate) fn run(
    project: &Path,
    flow: &str,
    format: GraphFormat,
    output: Option<&PathBuf>,
    stats: Option<StatsSource>,
) -> Result<ExitCode> {
    let p = dialect_lang::load_project(&[project.to_path_buf()])?;
    let flows = FlowIndex::of(&p);
    let Some(place) = flows.find(flow) else {
        let hint = did_you_mean(flow, flows.flows.iter().map(|f| f.name.as_str()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        bail!(
            "there is no flow called `{flow}` in {}{hint}",
            project.display()
        )
    };
    let mut graph = flow_graph(place.module, flow, place.text).map_err(anyhow::Error::msg)?;
    if let Some(s) = stats {
        let (from, to) = parse_range(&s.period)?;
        let (report, _) = fetch(&s.server, s.token, Some(flow), from, to)?;
        let empty = FlowStats::default();
        let figures = report
            .flows
            .iter()
            .find(|f| f.flow == flow)
            .unwrap_or(&empty);
        let (steps, edges) = flows.observed(figures, &graph, false);
        graph.apply_traffic_across(place.text, &steps, &edges);
        flows.draw_subflows(&mut graph, Some(figures), &mut vec![flow.to_string()]);
    }
    let rendered = graph.render(format);
    match output {
        Some(path) => std::fs::write(path, rendered)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{rendered}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// One flow of the project: where its text is and what it calls.
struct FlowPlace<'a> {
    name: String,
    module: &'a Module,
    path: &'a Path,
    text: &'a str,
    /// Its declaration's bytes in `text`.
    span: std::ops::Range<usize>,
    /// The flows its `call` statements run.
    calls: Vec<String>,
}

/// Every flow of a project, to find which flow a counted step is in.
struct FlowIndex<'a> {
    flows: Vec<FlowPlace<'a>>,
}

impl<'a> FlowIndex<'a> {
    fn of(p: &'a dialect_lang::check::Project) -> FlowIndex<'a> {
        let mut flows = Vec::new();
        for module in &p.modules {
            let Some(source) = p.sources.get(module.file) else {
                continue;
            };
            for item in &module.items {
                if let Item::Flow(f) = item {
                    let calls = flow_graph(module, &f.name.name, &source.text)
                        .map(|g| g.calls.into_iter().map(|c| c.flow).collect())
                        .unwrap_or_default();
                    flows.push(FlowPlace {
                        name: f.name.name.clone(),
                        module,
                        path: &source.path,
                        text: &source.text,
                        span: f.span.start as usize..f.span.end as usize,
                        calls,
                    });
                }
            }
        }
        FlowIndex { flows }
    }

    fn find(&self, name: &str) -> Option<&FlowPlace<'a>> {
        self.flows.iter().find(|f| f.name == name)
    }

    /// The flow a step named `file:line:col` by the server is in, and its
    /// line and column.
    fn step(&self, id: &str) -> Option<(&FlowPlace<'a>, u32, u32)> {
        let (file, line, col) = step_place(id)?;
        self.flows
            .iter()
            .filter(|f| f.path.ends_with(file))
            .find(|f| offset_of(f.text, line, col).is_some_and(|o| f.span.contains(&o)))
            .map(|f| (f, line, col))
    }

    /// Whether `to` runs when `from` runs: itself, or called by it, directly
    /// or through other flows.
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = vec![from.to_string()];
        let mut next = 0;
        while let Some(name) = seen.get(next).cloned() {
            if name == to {
                return true;
            }
            if let Some(f) = self.find(&name) {
                for c in &f.calls {
                    if !seen.contains(c) {
                        seen.push(c.clone());
                    }
                }
            }
            next += 1;
        }
        false
    }

    /// Where step `id` is seen from `graph` (drawn as a sub-flow when
    /// `called`); `None` for a step it cannot place.
    fn place(&self, id: &str, graph: &FlowGraph, called: bool) -> Option<StepPlace> {
        match id {
            flowstats::START if called => Some(StepPlace::Outside),
            flowstats::END if called => Some(StepPlace::Outside),
            flowstats::START => Some(StepPlace::Start),
            flowstats::END => Some(StepPlace::End),
            _ => {
                let (f, line, col) = self.step(id)?;
                if f.name == graph.name {
                    return Some(StepPlace::At(line, col));
                }
                let via = graph
                    .calls
                    .iter()
                    .find(|c| self.reaches(&c.flow, &f.name))
                    .map(|c| StepPlace::InCall(c.flow.clone()));
                via.or(called.then_some(StepPlace::Outside))
            }
        }
    }

    /// The figures of the caller's `stats` as `graph` takes them: its own
    /// steps, and edges between steps wherever they are.
    fn observed(
        &self,
        stats: &FlowStats,
        graph: &FlowGraph,
        called: bool,
    ) -> (Vec<StepCount>, Vec<FlowEdge>) {
        let steps = stats
            .nodes
            .iter()
            .filter_map(|n| match self.place(&n.id, graph, called)? {
                StepPlace::At(line, col) => Some(StepCount {
                    line,
                    col,
                    calls: n.calls,
                    hangups: n.hangups,
                }),
                _ => None,
            })
            .collect();
        let edges = stats
            .edges
            .iter()
            .filter_map(|e| {
                Some(FlowEdge {
                    from: self.place(&e.from, graph, called)?,
                    to: self.place(&e.to, graph, called)?,
                    count: e.count,
                })
            })
            .collect();
        (steps, edges)
    }

    /// Draws the flows `graph` calls inside it, with the caller's figures
    /// (the steps of a sub-flow count under the flow that called it), and
    /// theirs inside them; `chain` holds the flows drawn around, so that a
    /// flow that calls itself is drawn once.
    fn draw_subflows(
        &self,
        graph: &mut FlowGraph,
        stats: Option<&FlowStats>,
        chain: &mut Vec<String>,
    ) {
        if chain.len() >= MAX_DEPTH {
            return;
        }
        let mut callees: Vec<String> = Vec::new();
        for c in &graph.calls {
            if !callees.contains(&c.flow) && !chain.contains(&c.flow) {
                callees.push(c.flow.clone());
            }
        }
        for callee in callees {
            let Some(place) = self.find(&callee) else {
                continue;
            };
            let Ok(mut sub) = flow_graph(place.module, &callee, place.text) else {
                continue;
            };
            if let Some(stats) = stats {
                let (steps, edges) = self.observed(stats, &sub, true);
                sub.apply_traffic_across(place.text, &steps, &edges);
            }
            chain.push(callee);
            self.draw_subflows(&mut sub, stats, chain);
            chain.pop();
            graph.attach_subflow(sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialect_runtime::flowstats::{EdgeStats, NodeStats};

    /// A project of two files: `main` calls `check` (in `sub.flow`), which
    /// calls `again`; `other` is called by nobody.
    fn project(test: &str) -> (PathBuf, dialect_lang::check::Project) {
        let dir = std::env::temp_dir().join(format!("dialect-graph-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("main.flow"),
            "flow main on \"100\" {\n  play \"a.wav\"\n  call check()\n  play \"b.wav\"\n}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("sub.flow"),
            "flow check {\n  play \"c.wav\"\n  call again()\n}\nflow again {\n  play \"d.wav\"\n}\nflow other {\n  play \"e.wav\"\n}\n",
        )
        .unwrap();
        let p = dialect_lang::load_project(std::slice::from_ref(&dir)).unwrap();
        (dir, p)
    }

    #[test]
    fn steps_are_placed_in_the_flow_drawn_its_calls_or_its_caller() {
        let (dir, p) = project("places");
        let flows = FlowIndex::of(&p);
        let main = flows.find("main").unwrap();
        let graph = flow_graph(main.module, "main", main.text).unwrap();
        let check = flows.find("check").unwrap();
        let sub = flow_graph(check.module, "check", check.text).unwrap();
        // As `main` sees them.
        assert_eq!(
            flows.place("main.flow:2:3", &graph, false),
            Some(StepPlace::At(2, 3))
        );
        assert_eq!(
            flows.place("sub.flow:2:3", &graph, false),
            Some(StepPlace::InCall("check".into()))
        );
        assert_eq!(
            flows.place("sub.flow:6:3", &graph, false),
            Some(StepPlace::InCall("check".into())),
            "`again` runs through `check`"
        );
        assert_eq!(
            flows.place("sub.flow:9:3", &graph, false),
            None,
            "nobody calls `other`"
        );
        assert_eq!(flows.place("nosuch.flow:1:1", &graph, false), None);
        assert_eq!(flows.place("start", &graph, false), Some(StepPlace::Start));
        // As `check`, drawn inside `main`, sees them.
        assert_eq!(
            flows.place("main.flow:2:3", &sub, true),
            Some(StepPlace::Outside)
        );
        assert_eq!(
            flows.place("sub.flow:2:3", &sub, true),
            Some(StepPlace::At(2, 3))
        );
        assert_eq!(
            flows.place("sub.flow:6:3", &sub, true),
            Some(StepPlace::InCall("again".into()))
        );
        assert_eq!(flows.place("end", &sub, true), Some(StepPlace::Outside));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_sub_flow_is_drawn_inside_its_caller_with_the_calls_through_it() {
        let (dir, p) = project("drawn");
        let flows = FlowIndex::of(&p);
        let node = |id: &str, calls, hangups| NodeStats {
            id: id.into(),
            calls,
            hangups,
            ..NodeStats::default()
        };
        let edge = |from: &str, to: &str, count| EdgeStats {
            from: from.into(),
            to: to.into(),
            count,
        };
        // 10 calls: all hear a.wav and c.wav, 2 hang up there, 8 hear d.wav
        // and then b.wav.
        let stats = FlowStats {
            flow: "main".into(),
            nodes: vec![
                node("main.flow:2:3", 10, 0),
                node("sub.flow:2:3", 10, 2),
                node("sub.flow:6:3", 8, 0),
                node("main.flow:4:3", 8, 0),
                node("end", 8, 0),
            ],
            edges: vec![
                edge("start", "main.flow:2:3", 10),
                edge("main.flow:2:3", "sub.flow:2:3", 10),
                edge("sub.flow:2:3", "sub.flow:6:3", 8),
                edge("sub.flow:6:3", "main.flow:4:3", 8),
                edge("main.flow:4:3", "end", 8),
            ],
            ..FlowStats::default()
        };
        let main = flows.find("main").unwrap();
        let mut graph = flow_graph(main.module, "main", main.text).unwrap();
        let (steps, edges) = flows.observed(&stats, &graph, false);
        graph.apply_traffic_across(main.text, &steps, &edges);
        flows.draw_subflows(&mut graph, Some(&stats), &mut vec!["main".into()]);
        assert_eq!(graph.subflows.len(), 1);
        let check = &graph.subflows[0];
        assert_eq!(check.name, "check");
        assert_eq!(check.subflows[0].name, "again");
        let t = check.traffic.as_ref().unwrap();
        assert_eq!(t.nodes[0].calls, 10, "10 calls came into `check`");
        let dot = graph.to_dot();
        assert!(dot.contains("subgraph cluster_s0_ {"), "{dot}");
        assert!(
            dot.contains("sub-flow check · ▸ 10 calls from here"),
            "{dot}"
        );
        assert!(dot.contains("subgraph cluster_s0_s0_ {"), "{dot}");
        assert!(
            dot.contains("sub-flow again · ▸ 8 calls from here"),
            "{dot}"
        );
        assert!(dot.contains("✕ 2 hung up (20%)"), "{dot}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
