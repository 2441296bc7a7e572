//! `dialect compile`, `dialect inspect`: build a bundle and look inside one.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use dialect_compiler::bundle::{self, BundleData};
use dialect_compiler::{CompileError, lower};
use dialect_lang::diagnostic::render;

/// Checks and lowers the project, printing diagnostics; `None` when it has errors.
pub(crate) fn check_and_lower(project: &Path) -> Result<Option<dialect_compiler::ir::ProgramIr>> {
    let p = dialect_lang::load_project(&[project.to_path_buf()])?;
    let checked = dialect_lang::check_project(p);
    let mut err = std::io::stderr().lock();
    for d in &checked.diagnostics {
        writeln!(err, "{}", render(d, &checked.project.sources))?;
    }
    match lower(&checked) {
        Ok(ir) => Ok(Some(ir)),
        Err(CompileError::Check(n)) => {
            writeln!(
                err,
                "not compiled: {n} error{}",
                if n == 1 { "" } else { "s" }
            )?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// `dialect compile PROJECT -o FILE`.
pub(crate) fn run(project: &Path, output: Option<&PathBuf>) -> Result<ExitCode> {
    let Some(ir) = check_and_lower(project)? else {
        return Ok(ExitCode::from(1));
    };
    let data = bundle::build(project, ir).context("cannot read the prompt files")?;
    let out = output
        .cloned()
        .unwrap_or_else(|| PathBuf::from(format!("{}.dlb", data.project)));
    let bytes = data.to_bytes();
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote {} ({} bytes): {} flows, {} queues, {} campaigns, {} workorder types, {} prompts",
        out.display(),
        bytes.len(),
        data.ir.flows.len(),
        data.ir.queues.len(),
        data.ir.campaigns.len(),
        data.ir.workorders.len(),
        data.prompts.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `dialect inspect BUNDLE [--ir]`.
pub(crate) fn inspect(path: &Path, show_ir: bool) -> Result<ExitCode> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let data = match BundleData::from_bytes(&bytes) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    let mut out = std::io::stdout().lock();
    let ir = &data.ir;
    writeln!(out, "bundle       {}", path.display())?;
    writeln!(
        out,
        "format       version {}",
        dialect_compiler::ir::FORMAT_VERSION
    )?;
    writeln!(
        out,
        "checksum     crc32 {:08x}",
        BundleData::checksum(&bytes).unwrap_or(0)
    )?;
    writeln!(out, "size         {} bytes", bytes.len())?;
    writeln!(out, "project      {}", data.project)?;
    writeln!(
        out,
        "built        {} by dialect {}",
        data.built_at, data.compiler_version
    )?;
    writeln!(out, "languages    {}", ir.languages.join(", "))?;
    writeln!(out, "\nflows ({})", ir.flows.len())?;
    for f in &ir.flows {
        let numbers: Vec<&str> = ir
            .numbers
            .iter()
            .filter(|(_, id)| ir.flows.get(*id as usize).is_some_and(|x| x.name == f.name))
            .map(|(n, _)| n.as_str())
            .collect();
        let params = f
            .params
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            out,
            "  {:<24} ({params}){}  {} blocks, {} slots, {} suspensions",
            f.name,
            if numbers.is_empty() {
                String::new()
            } else {
                format!(" on {}", numbers.join(", "))
            },
            f.body.blocks.len(),
            f.slots.len(),
            f.resumes.len()
        )?;
    }
    writeln!(
        out,
        "\nqueues ({}): {}",
        ir.queues.len(),
        ir.queues
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "campaigns ({}): {}",
        ir.campaigns.len(),
        ir.campaigns
            .iter()
            .map(|c| format!("{} ({})", c.name, c.mode))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "workorders ({}): {}",
        ir.workorders.len(),
        ir.workorders
            .iter()
            .map(|w| format!("{} ({} states)", w.name, w.states.len()))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "calendars ({}): {}",
        ir.calendars.len(),
        ir.calendars
            .iter()
            .map(|c| format!("{} [{}]", c.name, c.timezone))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "lists ({}): {}",
        ir.lists.len(),
        ir.lists
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(
        out,
        "services ({}): {}",
        ir.services.len(),
        ir.services
            .iter()
            .map(|s| format!("{} {}", s.name, s.url))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out, "predicates   {}", ir.predicates.len())?;
    writeln!(out, "\nprompts ({})", data.prompts.len())?;
    for p in &data.prompts {
        writeln!(
            out,
            "  {:<36} {:>7} ms  sha256 {}",
            p.path,
            p.duration_ms,
            &p.sha256[..16.min(p.sha256.len())]
        )?;
    }
    if show_ir {
        for f in &ir.flows {
            writeln!(out, "\n{}", dialect_compiler::irtext::flow_text(ir, f))?;
        }
        for p in &ir.predicates {
            writeln!(out, "{}", dialect_compiler::irtext::predicate_text(ir, p))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
