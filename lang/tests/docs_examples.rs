//! Keeps the language reference (`docs/language.md`) true as the language evolves.
//!
//! Every fenced code block marked ```` ```flow ```` in the reference is checked:
//! - it must parse without syntax errors;
//! - when its first line is `# complete`, the whole checker must accept it with no
//!   error and no warning (these are the examples analysts copy);
//! - when its first line is `# error: CODE` (or `# warning: CODE`), the checker must
//!   report that code, and no error with another code. Several such lines may stand
//!   at the top of one block.
//!
//! A block need not be a whole file: it may be the statements of a flow, or the
//! clauses of a queue, a campaign or a workorder. Such a piece is checked inside
//! the first of `flow example { ... }`, `queue example { ... }`,
//! `campaign example { ... }` and `workorder example { ... }` in which it parses
//! (statements inside a flow when it parses nowhere).
//!
//! The reference must also name every diagnostic code the golden tests produce,
//! every option of every construct, and every strategy, mode, rule, role, built-in
//! name, function, type and reserved word, so that a new one cannot be added to the
//! language without being documented.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dialect_lang::Severity;
use dialect_lang::ast::FileId;
use dialect_lang::check::{PromptIndex, check_project, parse_project};
use dialect_lang::diagnostic::render_all;
use dialect_lang::syntax::{IdGen, RESERVED_WORDS, parse_module};

/// What a block's first lines say the checker must find.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Only parsing is checked (the block refers to things declared elsewhere).
    Parse,
    /// The whole checker finds nothing.
    Complete,
    /// The checker reports these codes.
    Codes {
        errors: BTreeSet<String>,
        warnings: BTreeSet<String>,
    },
}

/// One ```flow block of the reference.
#[derive(Debug)]
struct Example {
    /// Line of the opening fence in the reference (1-based).
    line: usize,
    /// The block's text, as checked (wrapped in a flow when it is a piece of one).
    text: String,
    expect: Expect,
}

fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md")
}

fn reference() -> String {
    std::fs::read_to_string(reference_path()).expect("docs/language.md exists")
}

/// Reads the expectation lines at the top of a block.
fn expectation(body: &str) -> Expect {
    let mut errors = BTreeSet::new();
    let mut warnings = BTreeSet::new();
    let mut complete = false;
    for line in body.lines() {
        let line = line.trim();
        if line == "# complete" {
            complete = true;
        } else if let Some(code) = line.strip_prefix("# error:") {
            errors.insert(code.trim().to_string());
        } else if let Some(code) = line.strip_prefix("# warning:") {
            warnings.insert(code.trim().to_string());
        } else {
            break;
        }
    }
    assert!(
        !(complete && (!errors.is_empty() || !warnings.is_empty())),
        "a block is either `# complete` or expects diagnostics, not both:\n{body}"
    );
    if complete {
        Expect::Complete
    } else if errors.is_empty() && warnings.is_empty() {
        Expect::Parse
    } else {
        Expect::Codes { errors, warnings }
    }
}

/// Declarations a piece of a file may belong to, tried in order.
const CONTAINERS: [&str; 4] = ["flow", "queue", "campaign", "workorder"];

/// Whether the text reads as a file: the grammar accepts it (a literal such as
/// `10min`, or full-width punctuation, is reported while parsing but read).
fn parses(text: &str) -> bool {
    let (_, diags) = parse_module(FileId(0), text, &mut IdGen::default());
    !diags
        .iter()
        .any(|d| matches!(d.code, "syntax" | "reserved-word" | "too-complex"))
}

/// The block as a file: itself when it is one, else wrapped in the first
/// declaration it parses in (a flow when none).
fn as_file(body: &str) -> String {
    let whole = format!("{body}\n");
    if parses(&whole) {
        return whole;
    }
    let wrap = |kind: &str| format!("{kind} example {{\n{body}\n}}\n");
    CONTAINERS
        .iter()
        .map(|k| wrap(k))
        .find(|t| parses(t))
        .unwrap_or_else(|| wrap("flow"))
}

fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for (i, line) in doc.lines().enumerate() {
        match &mut open {
            None => {
                if line.trim_end() == "```flow" {
                    open = Some((i + 1, Vec::new()));
                }
            }
            Some((start, lines)) => {
                if line.trim_end() == "```" {
                    let body = lines.join("\n");
                    let expect = expectation(&body);
                    out.push(Example {
                        line: *start,
                        text: as_file(&body),
                        expect,
                    });
                    open = None;
                } else {
                    lines.push(line);
                }
            }
        }
    }
    assert!(
        open.is_none(),
        "the ```flow block opened at line {} is never closed",
        open.map(|o| o.0).unwrap_or(0)
    );
    out
}

/// Checks one block; returns a description of what is wrong with it.
fn check_example(ex: &Example) -> Option<String> {
    let name = format!("docs/language.md (example at line {})", ex.line);
    if !matches!(ex.expect, Expect::Codes { .. }) {
        let (_, diags) = parse_module(FileId(0), &ex.text, &mut IdGen::default());
        let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            let msgs: Vec<String> = errors
                .iter()
                .map(|d| format!("{}: {}", d.code, d.message))
                .collect();
            return Some(format!(
                "{name}: the block does not parse:\n  {}\n{}",
                msgs.join("\n  "),
                ex.text
            ));
        }
    }
    if ex.expect == Expect::Parse {
        return None;
    }
    let project = parse_project(
        PathBuf::from("docs"),
        vec![(PathBuf::from(&name), ex.text.clone().into_bytes())],
        PromptIndex::Unchecked,
        false,
    );
    let checked = check_project(project);
    let rendered = render_all(&checked.diagnostics, &checked.project.sources);
    let codes = |sev: Severity| -> BTreeSet<String> {
        checked
            .diagnostics
            .iter()
            .filter(|d| d.severity == sev)
            .map(|d| d.code.to_string())
            .collect()
    };
    let found_errors = codes(Severity::Error);
    let found_warnings = codes(Severity::Warning);
    match &ex.expect {
        Expect::Parse => None,
        Expect::Complete => (!checked.diagnostics.is_empty())
            .then(|| format!("{name}: `# complete` but the checker reports:\n{rendered}")),
        Expect::Codes { errors, warnings } => {
            let mut problems = Vec::new();
            if &found_errors != errors {
                problems.push(format!(
                    "expected the error codes {errors:?}, found {found_errors:?}"
                ));
            }
            if !warnings.is_subset(&found_warnings) {
                problems.push(format!(
                    "expected the warning codes {warnings:?}, found {found_warnings:?}"
                ));
            }
            (!problems.is_empty()).then(|| format!("{name}: {}\n{rendered}", problems.join("; ")))
        }
    }
}

#[test]
fn every_flow_example_is_right() {
    let doc = reference();
    let all = examples(&doc);
    let complete = all.iter().filter(|e| e.expect == Expect::Complete).count();
    let with_codes = all
        .iter()
        .filter(|e| matches!(e.expect, Expect::Codes { .. }))
        .count();
    assert!(
        all.len() >= 60 && complete >= 10 && with_codes >= 10,
        "expected many examples, found {} ({complete} complete, {with_codes} with diagnostics)",
        all.len()
    );
    let failures: Vec<String> = all.iter().filter_map(check_example).collect();
    assert!(
        failures.is_empty(),
        "{} of {} examples in docs/language.md are wrong:\n\n{}",
        failures.len(),
        all.len(),
        failures.join("\n\n")
    );
}

/// The examples of this test's own rules: a wrong block must be caught.
#[test]
fn wrong_examples_are_caught() {
    let doc = "```flow\n# complete\nflow f on \"1\" {\n  transfer queue nowhere\n}\n```\n\
               ```flow\nplay \"a.wav\" (\n```\n\
               ```flow\n# error: unknown-queue\ntransfer queue general\n```\n\
               ```flow\n# error: unknown-flow\ntransfer queue general\n```\n\
               ```flow\nstrategy longest_idle\nwrap up 20s\n```\n";
    let all = examples(doc);
    assert_eq!(all.len(), 5);
    assert!(
        check_example(&all[0]).is_some(),
        "complete block with an error"
    );
    assert!(
        check_example(&all[1]).is_some(),
        "block with a syntax error"
    );
    assert!(
        check_example(&all[2]).is_none(),
        "error block that is right"
    );
    assert!(
        check_example(&all[3]).is_some(),
        "error block with the wrong code"
    );
    assert!(
        all[2].text.starts_with("flow example {"),
        "statements: a flow"
    );
    assert!(
        all[4].text.starts_with("queue example {"),
        "queue rules: a queue"
    );
    assert!(
        check_example(&all[4]).is_none(),
        "a piece of a queue parses"
    );
}

/// The names the reference does not mention in backquotes (`name`).
fn missing(doc: &str, names: impl IntoIterator<Item = String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect()
}

#[test]
fn every_golden_diagnostic_code_is_documented() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/snapshots");
    let mut codes = BTreeSet::new();
    for e in std::fs::read_dir(dir).expect("golden snapshots").flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for line in text.lines() {
            for prefix in ["error[", "warning["] {
                if let Some(rest) = line.strip_prefix(prefix)
                    && let Some(end) = rest.find(']')
                {
                    codes.insert(rest[..end].to_string());
                }
            }
        }
    }
    assert!(codes.len() >= 30, "found only {} codes", codes.len());
    let gaps = missing(&reference(), codes);
    assert!(
        gaps.is_empty(),
        "docs/language.md does not mention these diagnostic codes: {gaps:?}"
    );
}

#[test]
fn every_option_is_documented() {
    use dialect_lang::options::*;
    let tables = [
        MENU,
        COLLECT,
        PLAY,
        SAY,
        RECORD,
        LOOKUP,
        TRANSFER,
        LIST_CATEGORY,
        AGENT_POLICY,
        CAMPAIGN_MODE,
    ];
    let names = tables
        .iter()
        .flat_map(|t| t.iter())
        .map(|o| o.name.to_string());
    let gaps = missing(&reference(), names);
    assert!(
        gaps.is_empty(),
        "docs/language.md does not mention these options: {gaps:?}"
    );
}

#[test]
fn every_word_of_the_language_is_documented() {
    use dialect_lang::check::{ALLOWABLE_RULES, MODES, ROLES, STRATEGIES};
    use dialect_lang::types::{Builtin, Function, Type};
    let mut names: Vec<String> = Vec::new();
    names.extend(STRATEGIES.iter().map(|s| s.to_string()));
    names.extend(MODES.iter().map(|s| s.to_string()));
    names.extend(ALLOWABLE_RULES.iter().map(|s| s.to_string()));
    names.extend(ROLES.iter().map(|s| s.to_string()));
    names.extend(Builtin::ALL.iter().map(|b| b.name().to_string()));
    names.extend(Type::NAMES.iter().map(|s| s.to_string()));
    names.extend(RESERVED_WORDS.iter().map(|s| s.to_string()));
    let doc = reference();
    let mut gaps = missing(&doc, names);
    // Functions are written with their arguments: `weekday(date)`.
    gaps.extend(
        Function::ALL
            .iter()
            .map(|f| format!("`{}(", f.name()))
            .filter(|f| !doc.contains(f.as_str())),
    );
    assert!(
        gaps.is_empty(),
        "docs/language.md does not mention these words: {gaps:?}"
    );
}
