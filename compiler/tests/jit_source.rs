//! Generated Dialect programs on both back-ends: a proptest writes small flows as
//! source text (typed expressions of every kind, assignments, `if`/`else`, `say`
//! with interpolation, `pause`, menus with handlers, call data), checks and lowers
//! them with the real front end, then drives each call on the interpreter and the
//! native code in lockstep and compares every command, variable and call-data
//! field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use dialect_compiler::value::Value;
use dialect_compiler::{CallInfo, Command, Engine, Input, Program, lower};
use proptest::prelude::*;

/// Reads choices from a proptest-made vector; 0 once it runs out, so shrinking the
/// vector shrinks the program.
struct Choices<'a> {
    v: &'a [u32],
    i: usize,
}

impl Choices<'_> {
    fn next(&mut self, n: usize) -> usize {
        let c = self.v.get(self.i).copied().unwrap_or(0) as usize;
        self.i += 1;
        if n == 0 { 0 } else { c % n }
    }

    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        xs[self.next(xs.len())]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    Num,
    Text,
    Bool,
    Dur,
    Date,
    Time,
}

const TYPES: [T; 6] = [T::Num, T::Text, T::Bool, T::Dur, T::Date, T::Time];

/// Writes one flow.
struct Writer<'a, 'b> {
    ch: &'a mut Choices<'b>,
    vars: Vec<(String, T)>,
    out: String,
    menus: usize,
    names: usize,
    budget: usize,
}

const PRELUDE: &str = r#"
service svc {
  url "http://127.0.0.1:9"
  get info "/i/{phone}" (phone: text) -> {
    n: number, m: number, t: text, u: text, d: date, b: bool, w: duration, at: time
  }
}

list bl {
  category night (active 22:00-07:00) { "0755*" }
  category vip { "13600000001", "+8613900000000" }
  "13800000001"
}

calldata {
  level: number = 1
  note: text = "none"
  flag: bool = false
  spent: duration = 0s
}
"#;

impl Writer<'_, '_> {
    fn line(&mut self, indent: usize, s: &str) {
        for _ in 0..indent {
            self.out.push_str("  ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn var_of(&mut self, t: T) -> Option<String> {
        let vs: Vec<&String> = self
            .vars
            .iter()
            .filter(|(_, vt)| *vt == t)
            .map(|(n, _)| n)
            .collect();
        if vs.is_empty() {
            None
        } else {
            Some(vs[self.ch.next(vs.len())].clone())
        }
    }

    fn leaf(&mut self, t: T) -> String {
        if self.ch.next(3) != 0
            && let Some(v) = self.var_of(t)
        {
            return v;
        }
        match t {
            T::Num => self
                .ch
                .pick(&["0", "1", "2.5", "100", "0.5", "3", "7", "80%", "(-1)"])
                .into(),
            T::Text => self
                .ch
                .pick(&[
                    "\"\"",
                    "\"a\"",
                    "\"b\"",
                    "\"中文\"",
                    "\"13800000001\"",
                    "\"0755123\"",
                    "caller",
                    "data.note",
                    "\"12.5\"",
                ])
                .into(),
            T::Bool => self.ch.pick(&["true", "false", "data.flag"]).into(),
            T::Dur => self
                .ch
                .pick(&["0s", "30s", "1h30m", "500ms", "2d", "data.spent", "1m"])
                .into(),
            T::Date => self
                .ch
                .pick(&["2026-10-01", "2026-02-28", "1999-12-31"])
                .into(),
            T::Time => self.ch.pick(&["08:30", "00:00", "23:59", "12:00"]).into(),
        }
    }

    fn expr(&mut self, t: T, depth: usize) -> String {
        if depth == 0 || self.budget == 0 {
            return self.leaf(t);
        }
        self.budget -= 1;
        let d = depth - 1;
        let k = self.ch.next(10);
        if k == 9 {
            let c = self.expr(T::Bool, d);
            let a = self.expr(t, d);
            let b = self.expr(t, d);
            return format!("({c} ? {a} : {b})");
        }
        match t {
            T::Num => match k {
                1 => {
                    let op = self.ch.pick(&["+", "-", "*", "/"]);
                    let (a, b) = (self.expr(T::Num, d), self.expr(T::Num, d));
                    format!("({a} {op} {b})")
                }
                2 => format!("(-{})", self.expr(T::Num, d)),
                3 => {
                    let f = self.ch.pick(&["round", "abs"]);
                    format!("{f}({})", self.expr(T::Num, d))
                }
                4 => {
                    let f = self.ch.pick(&["len", "to_number"]);
                    format!("{f}({})", self.expr(T::Text, d))
                }
                5 => {
                    let f = self.ch.pick(&["minutes", "seconds", "hours"]);
                    format!("{f}({})", self.expr(T::Dur, d))
                }
                6 => {
                    let f = self.ch.pick(&["days_until", "weekday"]);
                    format!("{f}({})", self.expr(T::Date, d))
                }
                7 => format!("({} / {})", self.expr(T::Dur, d), self.expr(T::Dur, d)),
                8 => {
                    let f = self.ch.pick(&["min", "max"]);
                    format!("{f}({}, {})", self.expr(T::Num, d), self.expr(T::Num, d))
                }
                _ => self.leaf(t),
            },
            T::Dur => match k {
                1 => {
                    let op = self.ch.pick(&["+", "-"]);
                    format!("({} {op} {})", self.expr(T::Dur, d), self.expr(T::Dur, d))
                }
                2 => format!("({} * {})", self.expr(T::Dur, d), self.expr(T::Num, d)),
                3 => format!("({} * {})", self.expr(T::Num, d), self.expr(T::Dur, d)),
                4 => format!("({} / {})", self.expr(T::Dur, d), self.expr(T::Num, d)),
                5 => format!("({} - {})", self.expr(T::Date, d), self.expr(T::Date, d)),
                6 => format!("({} - {})", self.expr(T::Time, d), self.expr(T::Time, d)),
                7 => {
                    let f = self.ch.pick(&["min", "max"]);
                    format!("{f}({}, {})", self.expr(T::Dur, d), self.expr(T::Dur, d))
                }
                _ => self.leaf(t),
            },
            T::Date | T::Time => match k {
                1 | 2 => {
                    let op = self.ch.pick(&["+", "-"]);
                    format!("({} {op} {})", self.expr(t, d), self.expr(T::Dur, d))
                }
                3 => if t == T::Date { "today()" } else { "now()" }.into(),
                4 => {
                    let f = self.ch.pick(&["min", "max"]);
                    format!("{f}({}, {})", self.expr(t, d), self.expr(t, d))
                }
                _ => self.leaf(t),
            },
            T::Text => match k {
                1 => format!("({} + {})", self.expr(T::Text, d), self.expr(T::Text, d)),
                2 => format!("to_text({})", self.expr(T::Num, d)),
                3 => format!(
                    "last_digits({}, {})",
                    self.expr(T::Text, d),
                    self.expr(T::Num, d)
                ),
                4 => {
                    let (ta, tb) = (TYPES[self.ch.next(6)], TYPES[self.ch.next(6)]);
                    let a = self.expr(ta, d);
                    let b = self.expr(tb, d);
                    format!("\"<{{{a}}}|{{{b}}}>\"")
                }
                _ => self.leaf(t),
            },
            T::Bool => match k {
                1..=3 => {
                    let ct = [T::Num, T::Num, T::Text, T::Dur, T::Date, T::Time, T::Bool]
                        [self.ch.next(7)];
                    let ops: &[&str] = if ct == T::Bool {
                        &["==", "!="]
                    } else {
                        &["==", "!=", "<", "<=", ">", ">="]
                    };
                    let op = self.ch.pick(ops);
                    format!("({} {op} {})", self.expr(ct, d), self.expr(ct, d))
                }
                4 => {
                    let op = self.ch.pick(&["and", "or"]);
                    format!("({} {op} {})", self.expr(T::Bool, d), self.expr(T::Bool, d))
                }
                5 => format!("(not {})", self.expr(T::Bool, d)),
                6 => {
                    let f = self.ch.pick(&["contains", "starts_with", "ends_with"]);
                    format!("{f}({}, {})", self.expr(T::Text, d), self.expr(T::Text, d))
                }
                7 => {
                    let list =
                        self.ch
                            .pick(&["bl", "bl.night", "bl.vip", "[\"a\", \"13800000001\"]"]);
                    let neg = self.ch.pick(&["in", "not in"]);
                    format!("({} {neg} {list})", self.expr(T::Text, d))
                }
                8 => format!("({} in [1, 2.5, 100])", self.expr(T::Num, d)),
                _ => self.leaf(t),
            },
        }
    }

    fn assign(&mut self, indent: usize) {
        // A new variable, or an existing one with a value of its type.
        if self.vars.is_empty() || self.ch.next(3) == 0 {
            let t = TYPES[self.ch.next(6)];
            let e = self.expr(t, 3);
            let name = format!("v{}", self.names);
            self.names += 1;
            self.line(indent, &format!("{name} = {e}"));
            if indent == 1 {
                self.vars.push((name, t));
            }
        } else {
            let (name, t) = self.vars[self.ch.next(self.vars.len())].clone();
            let e = self.expr(t, 3);
            self.line(indent, &format!("{name} = {e}"));
        }
    }

    fn say(&mut self, indent: usize) {
        let kinds: [(&str, T); 7] = [
            ("", T::Text),
            ("", T::Num),
            ("number ", T::Num),
            ("money ", T::Num),
            ("date ", T::Date),
            ("time ", T::Time),
            ("digits ", T::Text),
        ];
        let (word, t) = kinds[self.ch.next(kinds.len())];
        let e = self.expr(t, 2);
        let other = TYPES[self.ch.next(6)];
        let f = self.expr(other, 2);
        self.line(indent, &format!("say \"v={{{f}}}\", {word}{e}"));
    }

    fn stmt(&mut self, indent: usize, depth: usize) {
        match self.ch.next(10) {
            0..=3 => self.assign(indent),
            4 | 5 => self.say(indent),
            6 if depth > 0 => {
                let c = self.expr(T::Bool, 3);
                self.line(indent, &format!("if {c} {{"));
                for _ in 0..1 + self.ch.next(3) {
                    self.stmt(indent + 1, depth - 1);
                }
                if self.ch.next(2) == 0 {
                    self.line(indent, "} else {");
                    for _ in 0..1 + self.ch.next(2) {
                        self.stmt(indent + 1, depth - 1);
                    }
                }
                self.line(indent, "}");
            }
            7 if depth > 0 && self.menus < 3 => {
                let name = format!("m{}", self.menus);
                self.menus += 1;
                let retries = 1 + self.ch.next(3);
                self.line(indent, &format!("menu {name} (retries {retries}) {{"));
                self.line(indent + 1, "play \"menu.wav\"");
                for key in 1..=1 + self.ch.next(3) {
                    self.line(indent + 1, &format!("{key} -> {{"));
                    self.stmt(indent + 2, 0);
                    self.line(indent + 1, "}");
                }
                self.line(indent + 1, "no input -> play \"no_input.wav\"");
                self.line(indent + 1, "no input final -> {");
                self.stmt(indent + 2, 0);
                self.line(indent + 1, "}");
                self.line(indent + 1, "no match final -> hangup");
                self.line(indent, "}");
            }
            8 => {
                let f = self.ch.pick(&["level", "note", "flag", "spent"]);
                let t = match f {
                    "level" => T::Num,
                    "note" => T::Text,
                    "flag" => T::Bool,
                    _ => T::Dur,
                };
                let e = self.expr(t, 3);
                self.line(indent, &format!("data.{f} = {e}"));
            }
            _ => {
                let e = self.expr(T::Dur, 2);
                self.line(indent, &format!("pause {e}"));
            }
        }
    }
}

fn program(choices: &[u32]) -> String {
    let mut ch = Choices { v: choices, i: 0 };
    let mut w = Writer {
        ch: &mut ch,
        vars: vec![
            ("n0".into(), T::Num),
            ("m0".into(), T::Num),
            ("t0".into(), T::Text),
            ("u0".into(), T::Text),
            ("d0".into(), T::Date),
            ("b0".into(), T::Bool),
            ("w0".into(), T::Dur),
            ("c0".into(), T::Time),
        ],
        out: String::new(),
        menus: 0,
        names: 0,
        budget: 60,
    };
    w.out.push_str(PRELUDE);
    w.out.push_str("flow main on \"100\" {\n");
    w.line(1, "r = lookup svc.info(caller) else {");
    w.line(2, "say \"no answer\"");
    w.line(2, "hangup");
    w.line(1, "}");
    for (v, f) in [
        ("n0", "n"),
        ("m0", "m"),
        ("t0", "t"),
        ("u0", "u"),
        ("d0", "d"),
        ("b0", "b"),
        ("w0", "w"),
        ("c0", "at"),
    ] {
        w.line(1, &format!("{v} = r.{f}"));
    }
    let n = 3 + w.ch.next(8);
    for _ in 0..n {
        w.stmt(1, 2);
    }
    w.line(1, "say \"end\", t0");
    w.out.push_str("}\n");
    w.out
}

/// A small deterministic generator for the caller's answers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn record(rng: &mut Rng) -> Input {
    let nums = [0.0, 1.0, -2.5, 1e9, 0.5, 3.0, f64::NAN];
    let texts = ["", "a", "13800000001", "075512", "中文", "99"];
    Input::Record(vec![
        ("n".into(), Value::Number(nums[rng.below(nums.len())])),
        ("m".into(), Value::Number(nums[rng.below(nums.len())])),
        (
            "t".into(),
            Value::Text(texts[rng.below(texts.len())].into()),
        ),
        (
            "u".into(),
            Value::Text(texts[rng.below(texts.len())].into()),
        ),
        (
            "d".into(),
            Value::Date(NaiveDate::from_ymd_opt(2026, 1 + rng.below(12) as u32, 5).unwrap()),
        ),
        ("b".into(), Value::Bool(rng.below(2) == 0)),
        (
            "w".into(),
            Value::Duration([0, 1000, -60_000, 86_400_000][rng.below(4)]),
        ),
        ("at".into(), Value::Time([0, 3600, 86_399][rng.below(3)])),
    ])
}

fn drive(interp: &Program, native: &Program, caller: &str, now: i64, seed: u64) -> usize {
    let call = CallInfo {
        caller: caller.into(),
        called: "100".into(),
        ..CallInfo::default()
    };
    let mut a = interp.start("main", call.clone()).unwrap();
    let mut b = native.start("main", call).unwrap();
    let mut rng = Rng(seed);
    let mut input = Input::Start;
    for step in 0..200 {
        let ca = a.step_at(input.clone(), now);
        let cb = b.step_at(input.clone(), now);
        assert_eq!(format!("{ca:?}"), format!("{cb:?}"), "step {step}");
        assert_eq!(
            format!("{:?} {:?} {}", a.variables(), a.data(), a.location()),
            format!("{:?} {:?} {}", b.variables(), b.data(), b.location()),
            "step {step}"
        );
        input = match &ca {
            Command::Lookup { .. } if rng.below(5) == 0 => Input::Failed("timeout".into()),
            Command::Lookup { .. } => record(&mut rng),
            Command::Menu { keys, .. } => match rng.below(5) {
                0 => Input::NoInput,
                1 => Input::NoMatch,
                _ => Input::Choice(rng.below(keys.len()) as u32),
            },
            Command::Hangup | Command::Finished | Command::Failed { .. } => return step,
            _ => Input::Done,
        };
    }
    200
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, .. ProptestConfig::default() })]

    #[test]
    fn generated_flows_agree(
        choices in proptest::collection::vec(any::<u32>(), 0..300),
        seeds in proptest::collection::vec(any::<u64>(), 1..4),
        now in 1_700_000_000_000i64..1_900_000_000_000,
    ) {
        let text = program(&choices);
        let checked = dialect_lang::check_text("gen.flow", text.as_bytes());
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{d:?}"))
            .collect();
        prop_assert!(errors.is_empty(), "the generated program does not check:\n{text}\n{errors:#?}");
        let ir = lower(&checked).unwrap();
        let interp = Program::new(ir.clone(), Engine::Interp).unwrap();
        let native = Program::new(ir, Engine::Native).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            let caller = ["13912345678", "13800000001", "075512345", "13600000001"][i % 4];
            drive(&interp, &native, caller, now, *seed);
        }
    }
}
