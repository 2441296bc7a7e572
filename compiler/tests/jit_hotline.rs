//! The reference project (`flows/hotline`) on both back-ends: the scripted flow
//! tests give the same transcripts, and a seeded exploration drives every flow
//! through key presses, silences, wrong keys, digit entries, lookup answers and
//! failures, recordings, workorder creation and failed transfers, at several times
//! of day, comparing every command, the IVR node, the source location, the flow's
//! variables, the call data and the language after every step. The campaign
//! filters, queue priorities and other predicates are compared on generated
//! environments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::NaiveDate;
use dialect_compiler::ir::{EnvVar, ProgramIr, Type};
use dialect_compiler::script::{CallScript, run_script};
use dialect_compiler::value::Value;
use dialect_compiler::{CallInfo, Command, Engine, FlowInstance, Input, Program, compile_paths};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline")
}

fn hotline_ir() -> ProgramIr {
    compile_paths(&[root()]).expect("the hotline compiles").1
}

fn both() -> (Program, Program) {
    let ir = hotline_ir();
    (
        Program::new(ir.clone(), Engine::Interp).unwrap(),
        Program::new(ir, Engine::Native).unwrap(),
    )
}

#[test]
fn the_hotline_flow_tests_give_the_same_transcripts() {
    let (interp, native) = both();
    let text = std::fs::read_to_string(root().join("tests/main.test.yaml")).unwrap();
    let scripts: Vec<CallScript> = serde_yaml::from_str(&text).unwrap();
    assert!(scripts.len() >= 5);
    for s in &scripts {
        let a = run_script(&interp, s);
        let b = run_script(&native, s);
        assert_eq!(a, b, "script `{}`", s.name);
        assert!(
            b.passed(),
            "script `{}` fails natively: {:?}",
            s.name,
            b.failure
        );
    }
}

/// A small deterministic generator (splitmix64).
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

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn value(rng: &mut Rng, ty: Type) -> Value {
    match ty {
        Type::Number => Value::Number([0.0, 1.0, 2.0, 5.0, 58.5, -1.0, 100.0, 0.5][rng.below(8)]),
        Type::Text | Type::Recording => Value::Text(
            [
                "", "C001", "normal", "停机", "张三", "12345678", "done", "open",
            ][rng.below(8)]
            .to_string(),
        ),
        Type::Bool => Value::Bool(rng.chance(50)),
        Type::Duration => Value::Duration([0, 1000, 90_000, -5][rng.below(4)]),
        Type::Time => Value::Time([0, 8 * 3600, 12 * 3600 + 60, 23 * 3600][rng.below(4)]),
        Type::Date => Value::Date(
            NaiveDate::from_ymd_opt(2026, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)
                .unwrap(),
        ),
        _ => Value::Text(String::new()),
    }
}

fn digits(rng: &mut Rng, min: u32, max: u32) -> String {
    let len = match rng.below(5) {
        0 => 0,
        1 => min.saturating_sub(1),
        2 => max + 1,
        _ => min + rng.below((max - min + 1) as usize) as u32,
    };
    (0..len)
        .map(|_| char::from(b'0' + rng.below(10) as u8))
        .collect()
}

/// The caller's (or the outside world's) answer to a command; `None` ends the call
/// (a transfer that succeeded).
fn answer(rng: &mut Rng, ir: &ProgramIr, c: &Command) -> Option<Input> {
    Some(match c {
        Command::Menu { keys, .. } => match rng.below(10) {
            0 | 1 => Input::NoInput,
            2 => Input::NoMatch,
            _ => Input::Choice(rng.below(keys.len()) as u32),
        },
        Command::Collect { min, max, .. } => match rng.below(6) {
            0 => Input::NoInput,
            1 => Input::NoMatch,
            _ => Input::Digits(digits(rng, *min, *max)),
        },
        Command::Lookup {
            service, operation, ..
        } => {
            if rng.chance(25) {
                return Some(Input::Failed("timeout".into()));
            }
            let svc = ir.services.iter().find(|s| &s.name == service).unwrap();
            let op = svc
                .operations
                .iter()
                .find(|o| &o.name == operation)
                .unwrap();
            let rt = &ir.records[op.record.0 as usize];
            let mut fields = vec![];
            for (n, t) in &rt.fields {
                if !rng.chance(10) {
                    fields.push((n.clone(), value(rng, *t)));
                }
            }
            Input::Record(fields)
        }
        Command::Record { .. } => match rng.below(4) {
            0 => Input::Failed("hung up".into()),
            _ => Input::Recording(format!("rec-{}", rng.below(100))),
        },
        Command::CreateWorkorder { .. } => match rng.below(4) {
            0 => Input::Failed("store unavailable".into()),
            _ => Input::Created(format!("WO{:010}", rng.below(1_000_000))),
        },
        Command::Notify { .. } => match rng.below(5) {
            0 => Input::Failed("gateway".into()),
            _ => Input::Done,
        },
        Command::LookupWorkorder { number, .. } => match rng.below(4) {
            0 => Input::Failed("there is no such workorder".into()),
            n => Input::Record(vec![
                ("number".into(), Value::Text(number.clone())),
                (
                    "state".into(),
                    Value::Text(["repaired", "closed", "repairing"][n - 1].into()),
                ),
                ("phone".into(), Value::Text("13800000001".into())),
            ]),
        },
        Command::TransitionWorkorder { .. } => match rng.below(3) {
            0 => Input::Failed("the order moved on".into()),
            _ => Input::Done,
        },
        Command::Transfer { .. } => {
            if rng.chance(50) {
                return None;
            }
            Input::Failed("busy".into())
        }
        Command::Play { .. } | Command::Pause { .. } => Input::Done,
        Command::Hangup | Command::Finished | Command::Failed { .. } => return None,
    })
}

fn state(f: &FlowInstance) -> String {
    format!(
        "node={} at={} lang={} done={} vars={:?} data={:?}",
        f.node(),
        f.location(),
        f.language(),
        f.is_done(),
        f.variables(),
        f.data()
    )
}

/// Runs one call on both programs in lockstep; returns the commands seen.
fn explore(
    interp: &Program,
    native: &Program,
    flow: &str,
    caller: &str,
    now: i64,
    seed: u64,
) -> Vec<String> {
    let ir = interp.ir();
    let fl = &ir.flows[ir.flow_id(flow).unwrap() as usize];
    let mut rng = Rng(seed);
    let args: Vec<(String, Value)> = fl
        .params
        .iter()
        .map(|(n, t)| (n.clone(), value(&mut rng, *t)))
        .collect();
    let call = CallInfo {
        caller: caller.into(),
        called: "10000".into(),
        trunk: ["local", "long_distance", ""][rng.below(3)].into(),
        args,
    };
    let mut a = interp.start(flow, call.clone()).unwrap();
    let mut b = native.start(flow, call).unwrap();
    let mut input = Input::Start;
    let mut seen = vec![];
    for step in 0..300 {
        let ca = a.step_at(input.clone(), now);
        let cb = b.step_at(input.clone(), now);
        assert_eq!(
            format!("{ca:?}"),
            format!("{cb:?}"),
            "flow {flow}, seed {seed}, step {step}: commands differ"
        );
        assert_eq!(
            state(&a),
            state(&b),
            "flow {flow}, seed {seed}, step {step}"
        );
        seen.push(format!("{flow}:{}:{}", command_kind(&ca), a.node()));
        match answer(&mut rng, ir, &ca) {
            Some(i) => input = i,
            None => break,
        }
    }
    seen
}

fn command_kind(c: &Command) -> &'static str {
    match c {
        Command::Play { .. } => "play",
        Command::Menu { .. } => "menu",
        Command::Collect { .. } => "collect",
        Command::Lookup { .. } => "lookup",
        Command::Record { .. } => "record",
        Command::CreateWorkorder { .. } => "workorder",
        Command::LookupWorkorder { .. } => "lookup workorder",
        Command::TransitionWorkorder { .. } => "transition workorder",
        Command::Notify { .. } => "notify",
        Command::Transfer { .. } => "transfer",
        Command::Pause { .. } => "pause",
        Command::Hangup => "hangup",
        Command::Finished => "finished",
        Command::Failed { .. } => "failed",
    }
}

#[test]
fn every_hotline_flow_agrees_on_explored_calls() {
    let (interp, native) = both();
    // 2026-09-21 (Monday) 10:00 and 23:00, 2026-10-01 (holiday) 10:00, Shanghai time.
    let times = [1_790_042_400_000i64, 1_790_089_200_000, 1_790_906_400_000];
    let callers = [
        "13912345678",
        "13800000001",
        "13600000001",
        "075512345678",
        "",
    ];
    let mut seen = BTreeSet::new();
    let flows: Vec<String> = interp.ir().flows.iter().map(|f| f.name.clone()).collect();
    assert!(flows.len() >= 10, "{flows:?}");
    for (fi, flow) in flows.iter().enumerate() {
        let calls = if flow == "hotline" { 240 } else { 60 };
        for seed in 0..calls {
            let now = times[seed % times.len()];
            let caller = callers[(seed / 3) % callers.len()];
            let s = explore(
                &interp,
                &native,
                flow,
                caller,
                now,
                (fi * 10_000 + seed) as u64,
            );
            seen.extend(s);
        }
    }
    // The exploration reached every kind of command, in every flow.
    let kinds: BTreeSet<&str> = seen.iter().map(|s| s.split(':').nth(1).unwrap()).collect();
    for k in [
        "play",
        "menu",
        "collect",
        "lookup",
        "record",
        "workorder",
        "notify",
        "transfer",
        "hangup",
        "finished",
    ] {
        assert!(kinds.contains(k), "no `{k}` in {kinds:?}");
    }
    for flow in &flows {
        assert!(
            seen.iter().any(|s| s.starts_with(&format!("{flow}:"))),
            "{flow} never ran"
        );
    }
    assert!(seen.len() > 60, "{} distinct steps", seen.len());
}

#[test]
fn hotline_predicates_agree_on_generated_environments() {
    let (interp, native) = both();
    let ir = interp.ir().clone();
    assert!(!ir.predicates.is_empty());
    let mut ei = interp.evaluator();
    let mut en = native.evaluator();
    let mut rng = Rng(7);
    let mut answers = BTreeSet::new();
    for now in [1_790_042_400_000i64, 1_790_089_200_000, 1_790_906_400_000] {
        ei.set_now(now);
        en.set_now(now);
        for (pi, p) in ir.predicates.iter().enumerate() {
            for _ in 0..300 {
                let vals: Vec<Value> = p
                    .vars
                    .iter()
                    .map(|(var, t)| match (var, t) {
                        (EnvVar::Builtin(_), Type::Duration) => {
                            Value::Duration(rng.below(600_000) as i64)
                        }
                        (_, Type::Text) if rng.chance(40) => Value::Text(
                            ["13800000001", "13600000001", "0755123", "停机", "传真"][rng.below(5)]
                                .into(),
                        ),
                        (_, t) => value(&mut rng, *t),
                    })
                    .collect();
                let env_i: Vec<u64> = p
                    .vars
                    .iter()
                    .zip(&vals)
                    .map(|((_, t), v)| ei.raw(v, *t).unwrap_or(0))
                    .collect();
                let env_n: Vec<u64> = p
                    .vars
                    .iter()
                    .zip(&vals)
                    .map(|((_, t), v)| en.raw(v, *t).unwrap_or(0))
                    .collect();
                let a = ei.eval_raw(pi as u32, &env_i);
                let b = en.eval_raw(pi as u32, &env_n);
                assert_eq!(a, b, "predicate {pi} ({:?}) on {vals:?}", p.kind);
                answers.insert((pi, format!("{a:?}")));
            }
        }
    }
    // Filters and conditions came out both ways.
    assert!(answers.len() > ir.predicates.len(), "{answers:?}");
}
