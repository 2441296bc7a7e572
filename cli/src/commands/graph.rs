//! `dialect graph`: draw one flow as SVG, Graphviz DOT or Mermaid; with
//! `--stats FROM..TO --server URL`, coloured by the calls a running server
//! counted over that period (see `dialect_lang::graph::Observed`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_lang::ast::Item;
use dialect_lang::diagnostic::did_you_mean;
use dialect_lang::graph::{GraphFormat, Observed, StepCount, StepEdge, flow_graph};
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

/// Finds `flow` in the project at `project`, renders it (with the figures of
/// `stats`, when given) and writes it to `output` (or standard output).
pub(crate) fn run(
    project: &Path,
    flow: &str,
    format: GraphFormat,
    output: Option<&PathBuf>,
    stats: Option<StatsSource>,
) -> Result<ExitCode> {
    let p = dialect_lang::load_project(&[project.to_path_buf()])?;
    let mut all = Vec::new();
    for module in &p.modules {
        for item in &module.items {
            if let Item::Flow(f) = item {
                all.push(f.name.name.clone());
                if f.name.name == flow {
                    let source = p.sources.get(module.file);
                    let text = source.map(|s| s.text.clone()).unwrap_or_default();
                    let mut graph = flow_graph(module, flow, &text).map_err(anyhow::Error::msg)?;
                    if let Some(s) = stats {
                        let (from, to) = parse_range(&s.period)?;
                        let (report, _) = fetch(&s.server, s.token, Some(flow), from, to)?;
                        let empty = FlowStats::default();
                        let figures = report
                            .flows
                            .iter()
                            .find(|f| f.flow == flow)
                            .unwrap_or(&empty);
                        let path = source.map(|s| s.path.clone()).unwrap_or_default();
                        graph.apply_traffic(&text, &observed(figures, &path));
                    }
                    let rendered = graph.render(format);
                    match output {
                        Some(path) => std::fs::write(path, rendered)
                            .with_context(|| format!("cannot write {}", path.display()))?,
                        None => print!("{rendered}"),
                    }
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
    }
    let hint = did_you_mean(flow, all.iter().map(String::as_str))
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    bail!(
        "there is no flow called `{flow}` in {}{hint}",
        project.display()
    )
}

/// The figures of steps in the file at `path` (the server names a step by its
/// file relative to the project, its line and its column), as the diagram
/// takes them.
pub(crate) fn observed(stats: &FlowStats, path: &Path) -> Observed {
    let place = |id: &str| -> Option<Option<(u32, u32)>> {
        match id {
            flowstats::START | flowstats::END => Some(None),
            _ => {
                let (file, line, col) = step_place(id)?;
                path.ends_with(file).then_some(Some((line, col)))
            }
        }
    };
    let steps = stats
        .nodes
        .iter()
        .filter_map(|n| {
            let (line, col) = place(&n.id)??;
            Some(StepCount {
                line,
                col,
                calls: n.calls,
                hangups: n.hangups,
            })
        })
        .collect();
    let edges = stats
        .edges
        .iter()
        .filter(|e| e.to != flowstats::START && e.from != flowstats::END)
        .filter_map(|e| {
            Some(StepEdge {
                from: place(&e.from)?,
                to: place(&e.to)?,
                count: e.count,
            })
        })
        .collect();
    Observed { steps, edges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialect_runtime::flowstats::{EdgeStats, NodeStats};

    #[test]
    fn steps_of_other_files_are_left_out() {
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
        let stats = FlowStats {
            nodes: vec![
                node("main.flow:3:5", 10, 0),
                node("main.flow:4:5", 10, 2),
                node("other.flow:1:1", 4, 0),
                node("end", 3, 0),
            ],
            edges: vec![
                edge("start", "main.flow:3:5", 10),
                edge("main.flow:3:5", "main.flow:4:5", 10),
                edge("main.flow:4:5", "other.flow:1:1", 4),
                edge("main.flow:4:5", "end", 3),
            ],
            ..FlowStats::default()
        };
        let o = observed(&stats, Path::new("/p/hotline/main.flow"));
        assert_eq!(o.steps.len(), 2, "{o:?}");
        assert_eq!(o.steps[1].hangups, 2);
        assert_eq!(
            o.edges,
            vec![
                StepEdge {
                    from: None,
                    to: Some((3, 5)),
                    count: 10
                },
                StepEdge {
                    from: Some((3, 5)),
                    to: Some((4, 5)),
                    count: 10
                },
                StepEdge {
                    from: Some((4, 5)),
                    to: None,
                    count: 3
                },
            ]
        );
    }
}
