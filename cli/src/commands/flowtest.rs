//! `dialect run-flow` and `dialect test`: scripted calls without telephony.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_compiler::script::{CallScript, run_script};
use dialect_compiler::{Engine, Program};

/// A program from a bundle file or a project folder.
pub(crate) fn load_program(source: &Path, engine: Engine) -> Result<Option<Program>> {
    if source.is_file() && source.extension().is_some_and(|x| x == "dlb") {
        let bytes =
            std::fs::read(source).with_context(|| format!("cannot read {}", source.display()))?;
        let (_, program) =
            dialect_compiler::bundle::load(&bytes, engine).map_err(anyhow::Error::msg)?;
        return Ok(Some(program));
    }
    let Some(ir) = super::compile::check_and_lower(source)? else {
        return Ok(None);
    };
    Ok(Some(Program::new(ir, engine)?))
}

fn read_scripts(path: &Path) -> Result<Vec<CallScript>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A file holds a list of calls, or one call.
    match serde_yaml::from_str::<Vec<CallScript>>(&text) {
        Ok(v) => Ok(v),
        Err(list_err) => match serde_yaml::from_str::<CallScript>(&text) {
            Ok(one) => Ok(vec![one]),
            Err(_) => bail!("{}: {list_err}", path.display()),
        },
    }
}

/// `dialect run-flow SOURCE FLOW --script FILE`: runs the script(s) and prints every command.
pub(crate) fn run_flow(
    source: &Path,
    flow: &str,
    script: &Path,
    engine: Engine,
) -> Result<ExitCode> {
    let Some(program) = load_program(source, engine)? else {
        return Ok(ExitCode::from(1));
    };
    let mut ok = true;
    for mut s in read_scripts(script)? {
        s.flow = Some(flow.to_string());
        let r = run_script(&program, &s);
        if !s.name.is_empty() {
            println!("== {}", s.name);
        }
        for line in &r.transcript {
            println!("  {line}");
        }
        if let Some(f) = &r.failure {
            println!("  FAILED: {f}");
            ok = false;
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn test_files(project: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dir = project.join("tests");
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".test.yaml") || name.ends_with(".test.yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `dialect test PROJECT`: runs every `tests/*.test.yaml` of the project.
pub(crate) fn test(project: &Path, engine: Engine, verbose: bool) -> Result<ExitCode> {
    let Some(program) = load_program(project, engine)? else {
        return Ok(ExitCode::from(1));
    };
    let files = test_files(project);
    if files.is_empty() {
        println!(
            "no flow tests in {}/tests (files named *.test.yaml)",
            project.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (mut passed, mut failed) = (0, 0);
    for f in files {
        for s in read_scripts(&f)? {
            let r = run_script(&program, &s);
            let name = if s.name.is_empty() {
                "(unnamed)"
            } else {
                s.name.as_str()
            };
            match &r.failure {
                None => {
                    passed += 1;
                    println!("ok      {}: {name}", f.display());
                    if verbose {
                        for line in &r.transcript {
                            println!("          {line}");
                        }
                    }
                }
                Some(why) => {
                    failed += 1;
                    println!("FAILED  {}: {name}", f.display());
                    for line in &r.transcript {
                        println!("          {line}");
                    }
                    println!("        {why}");
                }
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
