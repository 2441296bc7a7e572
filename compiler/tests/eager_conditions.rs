//! Conditions combined without branches: cheap `and`/`or` operands and runs of
//! cheap campaign filters are evaluated eagerly, which must never change an
//! answer or raise an error the short-circuit form would have skipped.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_compiler::ir::{BinOp, EnvVar, Inst};
use dialect_compiler::value::Value;
use dialect_compiler::{BatchError, Engine, Program};

mod common;

const SOURCE: &str = r#"
calendar cal {
  timezone "Asia/Shanghai"
  hours mon-fri 08:30-17:30
}

flow greet(phone: text) {
  hangup
}

campaign c {
  list people from "people.csv" {
    phone: text <- "phone"
    x: number <- "x"
    y: number <- "y"
    status: text <- "status"
  }
  filter x > 1 and y < 2 or status == "vip"
  filter x == 0 or 100 / x > 1
  filter status != "gone"
  mode ivr -> flow greet
  calendar cal
  window workday 09:00-17:00
}

campaign d {
  list people from "people.csv" {
    phone: text <- "phone"
    x: number <- "x"
  }
  filter 100 / x > 1
  mode ivr -> flow greet
  calendar cal
  window workday 09:00-17:00
}
"#;

fn program(engine: Engine) -> Program {
    common::program_from_source("eager.flow", SOURCE, engine)
}

/// The filter's answer for one record on one engine.
fn select(p: &Program, x: f64, y: f64, status: &str) -> bool {
    let pred = p.ir().campaigns[0].filter.expect("a filter");
    let fields = p.ir().campaigns[0].fields.clone();
    let mut ev = p.evaluator();
    let env = ev.env(pred, |var| match var {
        EnvVar::Field(i) => match fields[*i as usize].0.as_str() {
            "x" => Some(Value::Number(x)),
            "y" => Some(Value::Number(y)),
            "status" => Some(Value::Text(status.into())),
            _ => Some(Value::Text("".into())),
        },
        _ => None,
    });
    ev.eval_bool(pred, &env).expect("no run-time error")
}

#[test]
fn cheap_conditions_are_combined_without_branches() {
    let p = program(Engine::Interp);
    let pred = p.ir().campaigns[0].filter.unwrap();
    let body = &p.ir().predicates[pred as usize].body;
    let insts = || body.blocks.iter().flat_map(|b| b.insts.iter());
    let eager = |op| {
        insts()
            .filter(|i| matches!(i, Inst::Binary { op: o, .. } if *o == op))
            .count()
    };
    // `x > 1 and y < 2` and `... or status == "vip"` run eagerly; the second
    // filter divides by `x`, so its `or` keeps the short circuit and it ends
    // the first run of cheap filters (the third starts another).
    assert_eq!(eager(BinOp::And), 1, "{body:#?}");
    assert_eq!(eager(BinOp::Or), 1, "{body:#?}");
}

#[test]
fn both_engines_give_the_short_circuit_answers() {
    let interp = program(Engine::Interp);
    let native = program(Engine::Native);
    for x in [0.0, 1.0, 2.0, 50.0, 200.0] {
        for y in [0.0, 1.0, 3.0] {
            for status in ["vip", "gone", "ok"] {
                let first = x > 1.0 && y < 2.0 || status == "vip";
                // `100 / x` is never evaluated when x is 0: no division error.
                let second = x == 0.0 || 100.0 / x > 1.0;
                let want = first && second && status != "gone";
                assert_eq!(select(&interp, x, y, status), want, "{x} {y} {status}");
                assert_eq!(select(&native, x, y, status), want, "{x} {y} {status}");
            }
        }
    }
}

#[test]
fn batches_match_single_evaluations_and_stop_at_the_failing_record() {
    for engine in [Engine::Interp, Engine::Native] {
        let p = program(engine);
        let c = &p.ir().campaigns[1];
        let pred = c.filter.unwrap();
        let fields = c.fields.clone();
        let mut ev = p.evaluator();
        let xs = [50.0, 200.0, 0.5, 0.0, 10.0];
        let mut records = Vec::new();
        for x in xs {
            let phone = Value::Text("13800000000".into());
            records.extend(ev.env(pred, |var| match var {
                EnvVar::Field(i) if fields[*i as usize].0 == "x" => Some(Value::Number(x)),
                _ => Some(phone.clone()),
            }));
        }
        let width = records.len() / xs.len();
        let mut out = Vec::new();
        let err = ev.eval_batch(pred, &records, width, &mut out).unwrap_err();
        // Records 0..3 are evaluated, then x = 0 divides by zero.
        assert_eq!(out, [1, 0, 1], "{engine:?}");
        assert!(
            matches!(&err, BatchError { record: 3, message, location }
                if message.contains("division by zero") && location.starts_with("eager.flow:")),
            "{engine:?}: {err:?}"
        );
        // The caller goes on after the failing record.
        out.clear();
        ev.eval_batch(pred, &records[4 * width..], width, &mut out)
            .unwrap();
        assert_eq!(out, [1]);
        for (i, record) in records.chunks(width).enumerate() {
            let single = ev.eval_bool(pred, record);
            assert_eq!(single.is_err(), i == 3, "{engine:?} record {i}");
        }
    }
}
