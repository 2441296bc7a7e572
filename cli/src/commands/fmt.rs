//! `dialect fmt`: rewrite files in the canonical layout, or check that they are.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use dialect_lang::diagnostic::render;
use dialect_lang::source::SourceMap;

/// Formats every `.flow` file under `paths`; with `check`, only reports files that
/// are not formatted. Exit code 1 when a file needs formatting (`--check`) or has
/// syntax errors. With `fix`, the mechanical fixes of the parser (full-width
/// punctuation, near-miss units) are applied first, and written back even when
/// other errors keep the file from being formatted.
pub(crate) fn run(paths: &[PathBuf], check: bool, fix: bool) -> Result<ExitCode> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    };
    let mut files = Vec::new();
    for p in &paths {
        collect(p, &mut files).with_context(|| format!("cannot read {}", p.display()))?;
    }
    files.sort();
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    let mut changed = 0;
    for f in &files {
        let original =
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let mut sources = SourceMap::new();
        let (text, fixes) = if fix {
            dialect_lang::format::fix_source(dialect_lang::ast::FileId(0), &original)
        } else {
            (original.clone(), 0)
        };
        let id = sources.add(f.clone(), text.clone());
        if fixes > 0 {
            changed += 1;
            std::fs::write(f, &text).with_context(|| format!("cannot write {}", f.display()))?;
            writeln!(
                out,
                "fixed {} ({fixes} fix{})",
                f.display(),
                if fixes == 1 { "" } else { "es" }
            )?;
        }
        match dialect_lang::format::format_source(id, &text) {
            Ok(formatted) if formatted == text => {}
            Ok(formatted) => {
                changed += 1;
                if check {
                    writeln!(out, "would reformat {}", f.display())?;
                    failed = true;
                } else {
                    std::fs::write(f, formatted)
                        .with_context(|| format!("cannot write {}", f.display()))?;
                    writeln!(out, "formatted {}", f.display())?;
                }
            }
            Err(diags) => {
                failed = true;
                for d in &diags {
                    writeln!(out, "{}", render(d, &sources))?;
                }
                writeln!(
                    out,
                    "not formatted {}: fix the errors above first",
                    f.display()
                )?;
            }
        }
    }
    if changed == 0 && !failed {
        writeln!(
            out,
            "{} file{} already formatted",
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        )?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if std::fs::metadata(p)?.is_dir() {
        for e in std::fs::read_dir(p)? {
            let path = e?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "prompts" {
                    collect(&path, out)?;
                }
            } else if path.extension().is_some_and(|x| x == "flow") {
                out.push(path);
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}
