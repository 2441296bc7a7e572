//! How fast `dialect check` is: the reference hotline project, and a generated
//! project of 1,000 flows (about 110,000 lines) using the hotline's declarations.
//! Each iteration reads the files from disk, parses and checks them, as the CLI does.
//!
//! `cargo bench -p dialect-lang --bench check`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_lang::{Severity, check_project, load_project};

fn hotline() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline")
}

/// One generated flow of about 110 lines: a blacklist check, a digit collection,
/// a lookup, and six blocks of condition, spoken money and menu.
fn generated_flow(out: &mut String, n: usize) {
    let _ = writeln!(out, "# Generated flow {n}.");
    let _ = writeln!(out, "flow generated_{n} \"生成流程 {n}\" {{");
    out.push_str(
        r#"  data.intent = "billing"
  if caller in blacklist.harassment {
    play "blocked.wav"
    hangup
  }
  account = collect (min 8, max 12, terminator #, timeout 6s, digit timeout 3s, retries 3) {
    play "enter_account.wav"
    no input -> play "no_input.wav"
    no match -> play "account_invalid.wav"
    no input final -> transfer queue billing
    no match final -> transfer queue billing
  }
  data.account = account
  bill = lookup billing.balance(account) (timeout 3s) else {
    play "system_busy.wav"
    transfer queue billing
  }
"#,
    );
    for j in 0..6 {
        let _ = write!(
            out,
            r#"  if bill.balance > {limit} and not bill.overdue {{
    say {{
      zh "您的账户余额为", money bill.balance
      en "Your balance is", money bill.balance
    }}
  }} else {{
    play "fee_menu.wav"
  }}
  menu choice_{j} (retries 2, timeout 5s) {{
    play "fee_menu.wav"
    1 -> repeat
    9 -> transfer queue billing
    0 -> hangup
    no input final -> transfer queue general
    no match final -> transfer queue general
  }}
"#,
            limit = j * 10
        );
    }
    out.push_str("}\n\n");
}

/// The hotline project plus `flows` generated flows, ten per file, in a new folder.
fn generated_project(flows: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dialect-check-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    for entry in std::fs::read_dir(hotline()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "flow") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    copy_tree(&hotline().join("prompts"), &dir.join("prompts"));
    for file in 0..flows.div_ceil(10) {
        let mut text = String::new();
        for n in file * 10..((file + 1) * 10).min(flows) {
            generated_flow(&mut text, n);
        }
        std::fs::write(dir.join(format!("generated_{file:03}.flow")), text).unwrap();
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, target).unwrap();
        }
    }
}

fn check_dir(dir: &Path) -> usize {
    let project = load_project(&[dir.to_path_buf()]).unwrap();
    let checked = check_project(project);
    checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
}

/// Fails with the first problems when the project does not check clean.
fn assert_clean(dir: &Path) {
    let checked = check_project(load_project(&[dir.to_path_buf()]).unwrap());
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .take(3)
        .map(|d| format!("{:?}", d.message))
        .collect();
    assert!(
        errors.is_empty(),
        "{} does not check clean: {errors:?}",
        dir.display()
    );
}

fn lines_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "flow").then(|| std::fs::read_to_string(p).ok())?
        })
        .map(|t| t.lines().count())
        .sum()
}

fn bench(c: &mut Criterion) {
    let reference = hotline();
    assert_clean(&reference);
    let generated = generated_project(1000);
    assert_clean(&generated);
    eprintln!("generated project: {} lines", lines_in(&generated));

    let mut g = c.benchmark_group("check");
    g.sample_size(10);
    g.bench_function("reference_project", |b| b.iter(|| check_dir(&reference)));
    g.bench_function("generated_1000_flows", |b| b.iter(|| check_dir(&generated)));
    g.finish();
    let _ = std::fs::remove_dir_all(&generated);
}

criterion_group!(benches, bench);
criterion_main!(benches);
