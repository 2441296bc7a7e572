//! No input may panic the parser or the checker: thousands of mutated copies of the
//! reference flows (tokens deleted, duplicated and swapped, truncation, random bytes,
//! invalid UTF-8) go through `check_text`; none may panic, and every rejected file
//! must get an error located inside the file. Deeply nested and very long inputs
//! must be rejected cleanly too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use dialect_lang::check_text;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn reference_files() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("flows/hotline exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Byte ranges of tokens: runs of word characters, quoted texts, or single symbols.
fn tokens(src: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == b'"' {
            i += 1;
            while i < src.len() && src[i] != b'"' && src[i] != b'\n' {
                i += 1;
            }
            i = (i + 1).min(src.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < src.len()
                && (src[i].is_ascii_alphanumeric() || src[i] == b'_' || src[i] >= 0x80)
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push((start, i));
    }
    out
}

fn mutate(src: &[u8], rng: &mut Rng) -> Vec<u8> {
    let toks = tokens(src);
    let mut out = src.to_vec();
    if toks.len() < 2 {
        return out;
    }
    match rng.below(7) {
        0 => {
            let (a, b) = toks[rng.below(toks.len())];
            out.drain(a..b);
        }
        1 => {
            let (a, b) = toks[rng.below(toks.len())];
            let t = src[a..b].to_vec();
            out.splice(b..b, [b" ".as_slice(), &t].concat());
        }
        2 => {
            let i = rng.below(toks.len() - 1);
            let (a1, b1) = toks[i];
            let (a2, b2) = toks[i + 1];
            let mut v = src[..a1].to_vec();
            v.extend_from_slice(&src[a2..b2]);
            v.extend_from_slice(&src[b1..a2]);
            v.extend_from_slice(&src[a1..b1]);
            v.extend_from_slice(&src[b2..]);
            out = v;
        }
        3 => out.truncate(rng.below(src.len())),
        4 => {
            let at = rng.below(src.len());
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            out.splice(at..at, bytes);
        }
        5 => {
            let at = rng.below(src.len());
            out.splice(at..at, [0xC3u8, 0x28, 0xFF].iter().copied());
        }
        _ => {
            // Replace a token with a token from elsewhere in the file.
            let (a, b) = toks[rng.below(toks.len())];
            let (c, d) = toks[rng.below(toks.len())];
            out.splice(a..b, src[c..d].iter().copied());
        }
    }
    out
}

fn assert_located(name: &str, bytes: &[u8]) -> dialect_lang::Checked {
    let result = std::panic::catch_unwind(|| check_text(name, bytes));
    let checked = match result {
        Ok(c) => c,
        Err(_) => panic!(
            "the checker panicked on a mutation of {name}:\n{}",
            String::from_utf8_lossy(bytes)
        ),
    };
    let len = checked.project.sources.files()[0].text.len() as u32;
    let errors: Vec<_> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    for d in &checked.diagnostics {
        assert!(
            d.span.start <= d.span.end && d.span.end <= len,
            "span out of the file: {d:?}"
        );
        assert!(!d.message.is_empty());
    }
    if !errors.is_empty() {
        assert!(errors.iter().all(|d| d.span.file.0 == 0));
    }
    checked
}

#[test]
fn mutated_reference_flows_never_panic() {
    let files = reference_files();
    assert!(!files.is_empty());
    let mut rng = Rng(0x5EED_D1A1_EC70_0001);
    let mut rejected = 0;
    let mut total = 0;
    for round in 0..350 {
        for (name, src) in &files {
            let mut m = mutate(src, &mut rng);
            if round % 3 == 0 {
                m = mutate(&m, &mut rng);
            }
            let c = assert_located(name, &m);
            if c.has_errors() {
                rejected += 1;
            }
            total += 1;
        }
    }
    assert!(total >= 3000, "only {total} mutations");
    // Most single-file checks fail (other files' names are missing), so this also
    // exercises the error paths heavily.
    assert!(
        rejected > total / 2,
        "only {rejected} of {total} mutations were rejected"
    );
}

#[test]
fn deep_nesting_is_rejected_without_crashing() {
    let deep_parens = format!("const x = {}1{}", "(".repeat(5000), ")".repeat(5000));
    let deep_blocks = format!(
        "flow f {{ {} hangup {} }}",
        "{".repeat(5000),
        "}".repeat(5000)
    );
    let long_sum = format!("const x = 1{}", " + 1".repeat(50_000));
    let many_nots = format!("const x = {}true", "not ".repeat(50_000));
    let else_ifs = format!(
        "flow f {{ if caller == \"1\" {{ hangup }} {} }}",
        "else if caller == \"2\" { hangup } ".repeat(3000)
    );
    for src in [deep_parens, deep_blocks, long_sum, many_nots, else_ifs] {
        let c = check_text("deep.flow", src.as_bytes());
        assert!(c.has_errors(), "a pathological input must be rejected");
    }
}

#[test]
fn invalid_utf8_gets_a_located_error() {
    let c = check_text(
        "bad.flow",
        b"flow main on \"100\" {\n  say \"\xFF\xFE\"\n}\n",
    );
    let d = c
        .diagnostics
        .iter()
        .find(|d| d.code == "invalid-utf8")
        .expect("an invalid-utf8 error");
    let (line, _) = c.project.sources.files()[0].line_col(d.span.start as usize);
    assert_eq!(line, 2);
}
