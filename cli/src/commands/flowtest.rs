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
    // A file holds a list of calls, or one call; the error is the one of the
    // form the file has (an unknown key in a single call, not "expected a list").
    let is_list = matches!(
        serde_yaml::from_str::<serde_yaml::Value>(&text),
        Ok(serde_yaml::Value::Sequence(_))
    );
    let parsed = if is_list {
        serde_yaml::from_str::<Vec<CallScript>>(&text)
    } else {
        serde_yaml::from_str::<CallScript>(&text).map(|one| vec![one])
    };
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => bail!("{}: {e}", path.display()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts(text: &str) -> Result<Vec<CallScript>> {
        let dir = std::env::temp_dir().join(format!("dialect-flowtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("t{}.test.yaml", text.len()));
        std::fs::write(&path, text)?;
        let r = read_scripts(&path);
        let _ = std::fs::remove_file(&path);
        r
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it() {
        let err = scripts("- name: x\n  flow: main\n  att: 2026-09-21 10:00\n  steps: [hangup]\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `att`"), "{err}");
        let err = scripts("name: x\nflow: main\ntime: 2026-09-21 10:00\nsteps: [hangup]\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unknown field `time`"), "{err}");
    }

    #[test]
    fn one_call_or_a_list() -> Result<()> {
        assert_eq!(scripts("flow: main\nsteps: [hangup]\n")?.len(), 1);
        assert_eq!(
            scripts("- flow: main\n  steps: [hangup]\n- flow: main\n  steps: [end]\n")?.len(),
            2
        );
        Ok(())
    }
}
