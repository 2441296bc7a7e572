//! Tests of `dialect fmt`: the formatted text parses to the same tree, formatting
//! twice changes nothing, every comment survives exactly once, layout changes in
//! the input do not change the output, and parentheses are the fewest needed.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use dialect_lang::ast::{FileId, Module};
use dialect_lang::format::{self, comments, format_source};
use dialect_lang::literal;
use dialect_lang::syntax::{IdGen, parse_module};
use proptest::prelude::*;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn flow_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the folder exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            (name.unwrap_or_default(), text)
        })
        .collect();
    out.sort();
    out
}

/// The reference project.
fn reference_files() -> Vec<(String, String)> {
    let files = flow_files(&repo_root().join("flows/hotline"));
    assert!(files.len() >= 10, "the reference project is missing");
    files
}

/// The inputs written for these tests (`tests/format/*.flow`).
fn test_inputs() -> Vec<(String, String)> {
    flow_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format"))
}

/// The checker's golden files that parse (their diagnostics come from checking).
fn golden_inputs() -> Vec<(String, String)> {
    flow_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"))
        .into_iter()
        .filter(|(_, text)| {
            parse_module(FileId(0), text, &mut IdGen::default())
                .1
                .is_empty()
        })
        .collect()
}

fn all_inputs() -> Vec<(String, String)> {
    let mut v = reference_files();
    v.extend(test_inputs());
    let golden = golden_inputs();
    assert!(
        golden.len() >= 40,
        "only {} golden files parse",
        golden.len()
    );
    v.extend(golden);
    v
}

fn parse(text: &str) -> Module {
    let (m, diags) = parse_module(FileId(0), text, &mut IdGen::default());
    assert!(diags.is_empty(), "parse errors: {diags:#?}\n----\n{text}");
    m
}

fn fmt(name: &str, text: &str) -> String {
    format_source(FileId(0), text)
        .unwrap_or_else(|d| panic!("{name} was not formatted: {d:#?}\n----\n{text}"))
}

/// The tree as JSON without spans and expression ids, for comparing two parses.
fn normalized(m: &Module) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let is_span = map.len() == 3
                    && map.contains_key("file")
                    && map.contains_key("start")
                    && map.contains_key("end");
                if is_span {
                    *v = Value::Null;
                    return;
                }
                map.retain(|k, _| k != "span" && k != "id" && !k.ends_with("_span"));
                for x in map.values_mut() {
                    strip(x);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(m).expect("the tree serializes");
    strip(&mut v);
    v
}

fn assert_same_tree(name: &str, original: &str, formatted: &str) {
    let a = normalized(&parse(original));
    let b = normalized(&parse(formatted));
    if a != b {
        let a = serde_json::to_string_pretty(&a).unwrap_or_default();
        let b = serde_json::to_string_pretty(&b).unwrap_or_default();
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        let show = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(8))
                .take(16)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{name}: the formatted text parses to another tree\n--- original\n{}\n--- formatted\n{}\n----\n{formatted}",
            show(&a),
            show(&b)
        );
    }
}

fn comment_texts(text: &str) -> Vec<String> {
    let mut v: Vec<String> = comments(&parse(text), text)
        .into_iter()
        .map(|c| c.text)
        .collect();
    v.sort();
    v
}

#[test]
fn formatting_keeps_the_tree_of_every_file() {
    for (name, text) in all_inputs() {
        let out = fmt(&name, &text);
        assert_same_tree(&name, &text, &out);
    }
}

#[test]
fn formatting_twice_changes_nothing() {
    for (name, text) in all_inputs() {
        let once = fmt(&name, &text);
        let twice = fmt(&name, &once);
        assert_eq!(once, twice, "{name}: not idempotent");
    }
}

#[test]
fn every_comment_survives_exactly_once() {
    for (name, text) in all_inputs() {
        let before = comment_texts(&text);
        let out = fmt(&name, &text);
        let after = comment_texts(&out);
        assert_eq!(before, after, "{name}: comments lost or duplicated\n{out}");
    }
}

#[test]
fn reference_files_have_comments_to_keep() {
    // The comment test above is only worth something if there are comments.
    let n: usize = reference_files()
        .iter()
        .map(|(_, t)| comment_texts(t).len())
        .sum();
    assert!(n >= 20, "only {n} comments in the reference project");
}

#[test]
fn messy_file_snapshot() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format/messy.flow"),
    )
    .unwrap();
    insta::assert_snapshot!("messy", fmt("messy.flow", &text));
}

#[test]
fn comments_snapshot() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format/comments.flow"),
    )
    .unwrap();
    insta::assert_snapshot!("comments", fmt("comments.flow", &text));
}

#[test]
fn ambiguous_neighbours_snapshot() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/format/ambiguous.flow"),
    )
    .unwrap();
    insta::assert_snapshot!("ambiguous", fmt("ambiguous.flow", &text));
}

#[test]
fn main_flow_snapshot() {
    let text = std::fs::read_to_string(repo_root().join("flows/hotline/main.flow")).unwrap();
    insta::assert_snapshot!("hotline_main", fmt("main.flow", &text));
}

#[test]
fn literals_print_canonically() {
    assert_eq!(literal::duration_to_string(90_000), "1m30s");
    assert_eq!(literal::duration_to_string(1_500), "1500ms");
    assert_eq!(literal::duration_to_string(3_600_000), "1h");
    assert_eq!(literal::duration_to_string(5_400_000), "1h30m");
    assert_eq!(literal::duration_to_string(86_400_000 + 3_600_000), "1d1h");
    assert_eq!(literal::duration_to_string(0), "0s");
    assert_eq!(format::percent_to_string(0.8), "80%");
    assert_eq!(format::percent_to_string(0.07), "7%");
    assert_eq!(format::percent_to_string(0.125), "12.5%");
    assert_eq!(format::percent_to_string(0.001), "0.1%");
    assert_eq!(format::number_to_string(1.0), "1");
    assert_eq!(format::number_to_string(2.50), "2.5");
    assert_eq!(literal::clock_to_string(8 * 3600 + 5 * 60), "08:05");
}

#[test]
fn small_inputs_format_as_expected() {
    let cases = [
        ("const  x=((1+2))*3", "const x = (1 + 2) * 3\n"),
        ("const x = 1 - (2 - 3)", "const x = 1 - (2 - 3)\n"),
        ("const x = (1 - 2) - 3", "const x = 1 - 2 - 3\n"),
        ("const x = -(a.b)", "const x = -a.b\n"),
        ("const x = (-a).b", "const x = (-a).b\n"),
        ("const x = not (a and b)", "const x = not (a and b)\n"),
        ("const x = (not a) and b", "const x = not a and b\n"),
        (
            "const x = (a ? b : c) ? d : e",
            "const x = (a ? b : c) ? d : e\n",
        ),
        (
            "const x = a ? b : (c ? d : e)",
            "const x = a ? b : c ? d : e\n",
        ),
        ("const x = (a == b) == c", "const x = (a == b) == c\n"),
        ("const x = (a + b) in [1, 2]", "const x = a + b in [1, 2]\n"),
        ("const x = (a in l) == true", "const x = (a in l) == true\n"),
        (
            "const x = \"a\\\"b\\\\c\\{d}\\ne\"",
            "const x = \"a\\\"b\\\\c\\{d}\\ne\"\n",
        ),
        ("const x = 120s", "const x = 2m\n"),
        ("const x = 1.50", "const x = 1.5\n"),
        ("const x = 50.0%", "const x = 50%\n"),
        ("const x = 007", "const x = 7\n"),
        (
            "const  a=1\n\n\n\nconst b=2",
            "const a = 1\n\nconst b = 2\n",
        ),
        (
            "flow f{play   \"a.wav\"  # hello\n}",
            "flow f {\n  play \"a.wav\" # hello\n}\n",
        ),
        (
            "const x = 2026-12-07T14:30:00",
            "const x = 2026-12-07 14:30\n",
        ),
        (
            "const x = 2026-12-07 9:05:30",
            "const x = 2026-12-07 09:05:30\n",
        ),
        (
            "flow f{for   each b in bs (max 3){say b.m}}",
            "flow f {\n  for each b in bs (max 3) {\n    say b.m\n  }\n}\n",
        ),
        (
            "service s{url \"http://x\" not found->answer get o \"/o\" () -> list   of {a: text}}",
            "service s {\n  url \"http://x\"\n  not found -> answer\n  get o \"/o\" () -> list of {\n    a: text\n  }\n}\n",
        ),
        (
            "queue q{key 1->callback offer \"o.wav\" every 60s when waited>2m}",
            "queue q {\n  key 1 -> callback offer \"o.wav\" every 1m when waited > 2m\n}\n",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(fmt(input, input), want, "input: {input}");
    }
}

#[test]
fn numbers_too_long_are_refused_not_rounded() {
    let text = format!("const x = {}\n", "9".repeat(400));
    let err = format_source(FileId(0), &text).unwrap_err();
    assert!(err.iter().any(|d| d.code == "malformed-number"));
}

#[test]
fn syntax_errors_are_returned_not_formatted() {
    let err = format_source(FileId(3), "flow f { play }").unwrap_err();
    assert!(err.iter().any(|d| d.code == "syntax"));
    assert!(err.iter().all(|d| d.span.file == FileId(3)));
    let err = format_source(FileId(0), "calendar c { hours mon 25:00-26:00 }").unwrap_err();
    assert!(err.iter().any(|d| d.code == "malformed-time"));
}

#[test]
fn repeated_clauses_are_refused_rather_than_dropped() {
    let text = "queue q {\n  strategy a\n  strategy b\n}\n";
    let err = format_source(FileId(0), text).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].code, "duplicate-clause");
    assert_eq!(
        &text[err[0].span.start as usize..err[0].span.end as usize],
        "strategy b"
    );
    let ok = "queue q {\n  skills a\n  skills b\n}\n";
    assert!(format_source(FileId(0), ok).is_ok());
}

#[test]
fn hash_keys_are_not_comments() {
    let text = "flow f {\n  menu m {\n    # -> hangup\n    1# -> hangup\n    #2 a comment\n  }\n  x = collect (terminator #)\n}\n";
    let found = comment_texts(text);
    assert_eq!(found, vec!["#2 a comment".to_string()]);
    let out = fmt("keys", text);
    assert!(out.contains("    # -> hangup\n"), "{out}");
    assert!(out.contains("    1# -> hangup\n"), "{out}");
    assert!(out.contains("(terminator #)"), "{out}");
    assert_eq!(comment_texts(&out), found);
}

// ------------------------------------------------------------------ expressions

/// Expressions written with a parenthesis around every operand.
fn arb_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just("data.level".to_string()),
        (0u32..100).prop_map(|n| n.to_string()),
        Just("2.5".to_string()),
        Just("30s".to_string()),
        Just("80%".to_string()),
        Just("true".to_string()),
        Just("\"t{a}\"".to_string()),
        Just("08:30".to_string()),
    ];
    leaf.prop_recursive(5, 40, 3, |inner| {
        let ops = prop_oneof![
            Just("or"),
            Just("and"),
            Just("=="),
            Just("!="),
            Just("<"),
            Just("<="),
            Just(">"),
            Just(">="),
            Just("+"),
            Just("-"),
            Just("*"),
            Just("/"),
        ];
        prop_oneof![
            (inner.clone(), ops, inner.clone()).prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            inner.clone().prop_map(|x| format!("-({x})")),
            inner.clone().prop_map(|x| format!("not ({x})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c}) ? ({a}) : ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(x, y)| format!("({x}) in [({y}), 1]")),
            inner
                .clone()
                .prop_map(|x| format!("({x}) not in blacklist.cat")),
            inner.clone().prop_map(|x| format!("({x}).field")),
            (inner.clone(), inner).prop_map(|(x, y)| format!("f(({x}), ({y}))")),
        ]
    })
}

/// Positions of grouping parentheses (not call parentheses, not inside texts).
fn grouping_parens(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut stack = Vec::new();
    let mut pairs = Vec::new();
    let mut in_text = false;
    for i in 0..b.len() {
        match b[i] {
            b'"' => in_text = !in_text,
            b'(' if !in_text => {
                let call = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
                stack.push((i, call));
            }
            b')' if !in_text => {
                if let Some((open, call)) = stack.pop()
                    && !call
                {
                    pairs.push((open, i));
                }
            }
            _ => {}
        }
    }
    pairs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The printed expression means the same, and no pair of its parentheses can go.
    #[test]
    fn expressions_keep_meaning_with_fewest_parentheses(e in arb_expr()) {
        let src = format!("const k = {e}\n");
        let out = fmt("expr", &src);
        let tree = normalized(&parse(&src));
        prop_assert_eq!(&tree, &normalized(&parse(&out)), "{}", out);
        for (open, close) in grouping_parens(&out) {
            let mut fewer = out.clone();
            fewer.replace_range(close..close + 1, "");
            fewer.replace_range(open..open + 1, "");
            let (m, diags) = parse_module(FileId(0), &fewer, &mut IdGen::default());
            prop_assert!(
                !diags.is_empty() || normalized(&m) != tree,
                "the parentheses at {} in `{}` are not needed", open, out
            );
        }
    }
}

// ------------------------------------------------------------------ layout changes

/// A tiny deterministic random generator for the layout mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn blanks(&mut self, max: u64) -> String {
        (0..=self.below(max))
            .map(|_| if self.below(4) == 0 { '\t' } else { ' ' })
            .collect()
    }
}

/// Word pairs that the grammar reads as one token with exactly one space (or only
/// spaces) between them.
const GLUED: &[(&str, &str)] = &[
    ("no", "input"),
    ("no", "match"),
    ("no", "answer"),
    ("requeue", "first"),
    ("next", "agent"),
    ("not", "in"),
];

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The text with the white space between tokens changed at random: runs widened
/// with spaces and tabs, removed where the tokens stay apart, lines split and joined,
/// indentation changed. Texts, comments and blank lines are left alone.
fn mutate(text: &str, seed: u64) -> String {
    let module = parse(text);
    let comment_spans: Vec<(usize, usize)> = comments(&module, text)
        .iter()
        .map(|c| (c.span.start as usize, c.span.end as usize))
        .collect();
    let b = text.as_bytes();
    // Which bytes are code (not in a text or a comment).
    let mut code = vec![true; b.len()];
    for &(s, e) in &comment_spans {
        code[s..e].iter_mut().for_each(|c| *c = false);
    }
    let mut i = 0;
    while i < b.len() {
        if code[i] && b[i] == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            code[start..=i.min(b.len() - 1)]
                .iter_mut()
                .for_each(|c| *c = false);
        }
        i += 1;
    }
    let is_comment_start = |p: usize| comment_spans.iter().any(|&(s, _)| s == p);
    let is_comment_end = |p: usize| comment_spans.iter().any(|&(_, e)| e == p);
    let word_before = |p: usize| {
        let s = &text[..p];
        let start = s
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |n| n + s[n..].chars().next().map_or(1, char::len_utf8));
        &text[start..p]
    };
    let word_after = |p: usize| {
        let s = &text[p..];
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    let mut rng = Rng(seed | 1);
    let mut out = String::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        let ws = |c: u8| c == b' ' || c == b'\t' || c == b'\n' || c == b'\r';
        if !(code[i] && ws(b[i])) {
            if code[i] {
                match b[i] {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    _ => {}
                }
            }
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let start = i;
        while i < b.len() && code[i] && ws(b[i]) {
            i += 1;
        }
        let run = &text[start..i];
        if start == 0 || i == b.len() {
            out.push_str(run);
            continue;
        }
        let (a, z) = (b[start - 1], b[i]);
        let newlines = run.matches('\n').count();
        let words = is_word(a) && is_word(z);
        // A returned value stays on the `return` line (the grammar requires it).
        let glued = (words && (depth > 0 || GLUED.contains(&(word_before(start), word_after(i)))))
            || word_before(start) == "return";
        let after_comment = is_comment_end(start);
        let before_comment = is_comment_start(i);
        let after_key = a == b'#';
        let digit_joint = (a.is_ascii_digit() && matches!(z, b':' | b'-' | b'.'))
            || (z.is_ascii_digit() && matches!(a, b':' | b'-' | b'.'));
        let removable = !words && !digit_joint && !before_comment && !after_key;
        if glued || (before_comment && newlines == 0) {
            out.push_str(run);
            continue;
        }
        if newlines >= 2 {
            // A blank line: keep it blank (maybe blanker), change the indentation.
            out.push_str(&rng.blanks(2));
            out.push_str(&"\n".repeat(newlines + rng.below(2) as usize));
            out.push_str(&rng.blanks(6));
            continue;
        }
        if newlines == 1 {
            match rng.below(4) {
                0 if !after_comment && !before_comment => {
                    out.push_str(if removable && rng.below(2) == 0 {
                        ""
                    } else {
                        " "
                    })
                }
                1 => {
                    if !after_comment {
                        out.push_str(&rng.blanks(3));
                    }
                    out.push('\n');
                    out.push_str(&rng.blanks(8));
                }
                _ => out.push_str(run),
            }
            continue;
        }
        match rng.below(5) {
            0 => out.push_str(&rng.blanks(3)),
            1 if removable => {}
            2 if !after_key => {
                out.push('\n');
                out.push_str(&rng.blanks(8));
            }
            _ => out.push_str(run),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// However the white space of a reference file is changed, it formats the same.
    #[test]
    fn layout_changes_do_not_change_the_output(seed in any::<u64>()) {
        for (name, text) in reference_files() {
            let want = fmt(&name, &text);
            let mutated = mutate(&text, seed);
            let got = format_source(FileId(0), &mutated);
            prop_assert!(got.is_ok(), "{} no longer parses after mutation:\n{}", name, mutated);
            let got = got.unwrap();
            prop_assert_eq!(&got, &want, "{} mutated:\n{}", name, mutated);
        }
    }
}

#[test]
fn mutation_really_changes_the_text() {
    let (_, text) = &reference_files()[0];
    let changed = (0..8).filter(|s| mutate(text, *s + 1) != *text).count();
    assert!(changed >= 7);
}

/// Lines of reference files deleted, repeated and swapped at random: whatever still
/// parses must format to the same tree, twice the same, with every comment.
#[test]
fn edited_files_that_parse_format_faithfully() {
    let files = reference_files();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tried = 0;
    for round in 0..200 {
        let (name, text) = &files[round % files.len()];
        let mut lines: Vec<&str> = text.lines().collect();
        for _ in 0..1 + rng.below(3) {
            let n = lines.len() as u64;
            let i = rng.below(n) as usize;
            match rng.below(3) {
                0 => {
                    lines.remove(i);
                }
                1 => lines.insert(i, lines[i]),
                _ => {
                    let j = (i + 1).min(lines.len() - 1);
                    lines.swap(i, j);
                }
            }
        }
        let edited = lines.join("\n");
        let (_, diags) = parse_module(FileId(0), &edited, &mut IdGen::default());
        if !diags.is_empty() {
            continue;
        }
        tried += 1;
        let out = fmt(name, &edited);
        assert_same_tree(name, &edited, &out);
        assert_eq!(
            fmt(name, &out),
            out,
            "{name}: not idempotent after editing:\n{edited}"
        );
        assert_eq!(
            comment_texts(&edited),
            comment_texts(&out),
            "{name}:\n{edited}"
        );
    }
    assert!(tried >= 50, "only {tried} edited files parsed");
    eprintln!("{tried} edited files parsed and were formatted");
}

#[test]
fn line_endings_and_empty_files() {
    let (_, text) = &reference_files()[4];
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(fmt("crlf", &crlf), fmt("lf", text));
    assert_eq!(fmt("empty", ""), "");
    assert_eq!(fmt("blank", "\n\n  \n"), "");
    assert_eq!(
        fmt("only comments", "  # one\n\n\n# two   \n"),
        "# one\n\n# two\n"
    );
}

/// `dialect fmt --fix`: full-width punctuation and near-miss units become what
/// the checker asks for, in one run, and the result formats without errors.
#[test]
fn fix_replaces_full_width_punctuation_and_near_miss_units() {
    let text = "skill billing\nqueue billing {\n  skills billing\n  max wait 10min -> hangup\n}\nflow main on \"100\" {\n  menu main (retries 3，timeout 5s) {\n    play \"menu.wav\"\n    1 -> transfer queue billing\n    no input final -> hangup\n    no match final -> hangup\n  }\n}\n";
    let (fixed, n) = format::fix_source(FileId(0), text);
    assert_eq!(n, 2, "{fixed}");
    assert!(fixed.contains("max wait 10m -> hangup"), "{fixed}");
    assert!(fixed.contains("(retries 3,timeout 5s)"), "{fixed}");
    let formatted = format_source(FileId(0), &fixed).expect("no errors left");
    assert!(formatted.contains("(retries 3, timeout 5s)"), "{formatted}");
    // Text in quotes is left alone.
    let quoted = "flow main on \"100\" {\n  say \"您好，欢迎\"\n  hangup\n}\n";
    assert_eq!(
        format::fix_source(FileId(0), quoted),
        (quoted.to_string(), 0)
    );
}
