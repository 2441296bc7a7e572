//! `dialect graph`: draw one flow as SVG, Graphviz DOT or Mermaid.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_lang::ast::Item;
use dialect_lang::diagnostic::did_you_mean;
use dialect_lang::graph::{GraphFormat, flow_graph};

/// Finds `flow` in the project at `project`, renders it and writes it to `output`
/// (or standard output).
pub(crate) fn run(
    project: &Path,
    flow: &str,
    format: GraphFormat,
    output: Option<&PathBuf>,
) -> Result<ExitCode> {
    let p = dialect_lang::load_project(&[project.to_path_buf()])?;
    let mut all = Vec::new();
    for module in &p.modules {
        for item in &module.items {
            if let Item::Flow(f) = item {
                all.push(f.name.name.clone());
                if f.name.name == flow {
                    let text = &p
                        .sources
                        .get(module.file)
                        .map(|s| s.text.clone())
                        .unwrap_or_default();
                    let graph = flow_graph(module, flow, text).map_err(anyhow::Error::msg)?;
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
