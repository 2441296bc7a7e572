//! `dialect check`: load a project, check it, print the diagnostics.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use dialect_lang::diagnostic::{render, to_json};

use crate::OutputFormat;

/// Loads and checks the project at `paths`; prints diagnostics; returns the exit code.
pub(crate) fn run(
    paths: &[PathBuf],
    format: OutputFormat,
    deny_warnings: bool,
) -> Result<ExitCode> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let project = dialect_lang::load_project(&paths)?;
    let checked = dialect_lang::check_project(project);
    let sources = &checked.project.sources;
    let (errors, warnings) = checked.counts();
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            let diags: Vec<_> = checked
                .diagnostics
                .iter()
                .map(|d| to_json(d, sources))
                .collect();
            let doc = serde_json::json!({
                "files": sources.files().len(),
                "errors": errors,
                "warnings": warnings,
                "diagnostics": diags,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        OutputFormat::Text => {
            for d in &checked.diagnostics {
                writeln!(out, "{}", render(d, sources))?;
            }
            let files = sources.files().len();
            if errors == 0 && warnings == 0 {
                writeln!(out, "checked {files} file{}: no problems", plural(files))?;
            } else {
                writeln!(
                    out,
                    "checked {files} file{}: {errors} error{}, {warnings} warning{}",
                    plural(files),
                    plural(errors),
                    plural(warnings)
                )?;
            }
        }
    }
    Ok(if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
