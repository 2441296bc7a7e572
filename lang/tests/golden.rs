//! Golden script tests: every `.flow` file in `tests/golden/` is checked as a
//! project of its own, and the diagnostics must equal the `# error: L:C message`
//! and `# warning: L:C message` lines at the end of the file. `BLESS=1` rewrites
//! those lines. The rendered diagnostics are also snapshot-tested (insta).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dialect_lang::Severity;
use dialect_lang::check::{PromptIndex, check_project, parse_project};
use dialect_lang::diagnostic::render_all;

const EXPECT_PREFIXES: [&str; 2] = ["# error: ", "# warning: "];

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/golden exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
}

fn split_expectations(text: &str) -> (String, Vec<String>) {
    let mut body = Vec::new();
    let mut expected = Vec::new();
    for line in text.lines() {
        if EXPECT_PREFIXES.iter().any(|p| line.starts_with(p)) {
            expected.push(line.to_string());
        } else {
            body.push(line);
        }
    }
    let mut body = body.join("\n");
    while body.ends_with('\n') {
        body.pop();
    }
    (body, expected)
}

#[test]
fn golden_diagnostics() {
    let bless = std::env::var_os("BLESS").is_some();
    // The prompts every golden project has: a few files, and the position
    // announcements (but not the wait ones, which `announce_wait_prompts.flow`
    // finds missing).
    let prompts = PromptIndex::Files(
        ["welcome.wav", "menu.wav", "hold.wav", "zh/only_chinese.wav"]
            .iter()
            .map(|s| s.to_string())
            .chain(dialect_lang::announce::position_prompts())
            .collect(),
    );
    let mut codes = BTreeSet::new();
    let mut failures = Vec::new();
    let files = golden_files();
    assert!(
        files.len() >= 30,
        "expected at least 30 golden files, found {}",
        files.len()
    );
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let (body, expected) = split_expectations(&text);
        let display = PathBuf::from(format!("golden/{name}.flow"));
        let project = parse_project(
            PathBuf::from("golden"),
            vec![(display, body.clone().into_bytes())],
            prompts.clone(),
            false,
        );
        let checked = check_project(project);
        let sources = &checked.project.sources;
        let file = sources.files().first().unwrap();
        let actual: Vec<String> = checked
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = file.line_col(d.span.start as usize);
                let sev = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                format!("# {sev}: {l}:{c} {}", d.message)
            })
            .collect();
        for d in &checked.diagnostics {
            codes.insert(d.code);
        }
        if bless {
            let mut out = body.clone();
            out.push_str("\n\n");
            for a in &actual {
                out.push_str(a);
                out.push('\n');
            }
            std::fs::write(&path, out).unwrap();
        } else if actual != expected {
            failures.push(format!(
                "{name}.flow\n  expected:\n    {}\n  actual:\n    {}",
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
        if actual.is_empty() {
            failures.push(format!(
                "{name}.flow produces no diagnostic; every golden file tests one"
            ));
        }
        let rendered = render_all(&checked.diagnostics, sources);
        insta::with_settings!({ snapshot_path => "golden/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(name, rendered);
        });
    }
    assert!(
        failures.is_empty(),
        "diagnostics differ (BLESS=1 to accept):\n{}",
        failures.join("\n")
    );
    let error_codes = codes.len();
    assert!(
        error_codes >= 30,
        "golden files cover only {error_codes} diagnostic codes: {codes:?}"
    );
}
