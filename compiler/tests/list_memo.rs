//! List membership that native code answers inline from the evaluator's memo of
//! earlier answers: the same evaluator asked again and again, at instants inside
//! and outside a category's daily window, for texts seen before and new ones, one
//! record at a time and in batches, must answer exactly as the interpreter does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_compiler::ir::EnvVar;
use dialect_compiler::value::Value;
use dialect_compiler::{Engine, Evaluator, Program};

mod common;

const SOURCE: &str = r#"
calendar cal {
  timezone "Asia/Shanghai"
  hours mon-fri 08:30-17:30
}

list bl {
  category night (active 22:00-07:00) { "0755*" }
  category vip { "13600000001", "+8613900000000" }
  "13800000001"
}

list dnc { "13700000009", "0898*" }

flow greet(phone: text) {
  hangup
}

campaign all_parts {
  list people from "people.csv" {
    phone: text <- "phone"
    x: number <- "x"
  }
  filter x > 0
  filter phone not in bl and phone not in dnc
  mode ivr -> flow greet
  calendar cal
  window workday 09:00-17:00
}

campaign by_category {
  list people from "people.csv" {
    phone: text <- "phone"
  }
  filter phone in bl.night or phone in bl.vip
  mode ivr -> flow greet
  calendar cal
  window workday 09:00-17:00
}
"#;

fn program(engine: Engine) -> Program {
    common::program_from_source("memo.flow", SOURCE, engine)
}

/// The numbers asked about: listed ones of every part, unlisted ones, and odd ones.
fn numbers() -> Vec<String> {
    let mut n: Vec<String> = [
        "13800000001",
        "075512345",
        "0755",
        "13600000001",
        "+13600000001",
        "8613900000000",
        "13700000009",
        "08981234567",
        "",
        " 13800000001 ",
        "中文",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    n.extend((0..300).map(|i| format!("139{i:08}")));
    n.extend((0..50).map(|i| format!("0755{i:07}")));
    n
}

/// The environment of one record for campaign `c`'s filter.
fn env(p: &Program, ev: &mut Evaluator, c: usize, phone: &str, x: f64) -> Vec<u64> {
    let pred = p.ir().campaigns[c].filter.expect("a filter");
    let fields = p.ir().campaigns[c].fields.clone();
    ev.env(pred, |var| match var {
        EnvVar::Field(i) => match fields[*i as usize].0.as_str() {
            "phone" => Some(Value::Text(phone.into())),
            "x" => Some(Value::Number(x)),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn remembered_answers_follow_the_time_of_day_on_both_engines() {
    let native = program(Engine::Native);
    let interp = program(Engine::Interp);
    let noon = 1_789_876_800_000i64; // 2026-09-20 12:00 in Shanghai
    let night = noon + 11 * 3_600_000; // 23:00
    let numbers = numbers();
    for c in 0..2 {
        let pred = native.ir().campaigns[c].filter.unwrap();
        let mut ev_n = native.evaluator();
        let mut ev_i = interp.evaluator();
        let mut selected = [0usize; 2];
        // Repeated instants make the second pass of each answer from the memo.
        for (round, now) in [noon, noon, night, night, noon, night + 1]
            .iter()
            .enumerate()
        {
            ev_n.set_now(*now);
            ev_i.set_now(*now);
            let mut batch_n = Vec::new();
            let mut batch_i = Vec::new();
            for (k, number) in numbers.iter().enumerate() {
                let x = if k % 7 == 0 { 0.0 } else { 1.0 };
                let en = env(&native, &mut ev_n, c, number, x);
                let ei = env(&interp, &mut ev_i, c, number, x);
                let a = ev_n.eval_bool(pred, &en).unwrap();
                let b = ev_i.eval_bool(pred, &ei).unwrap();
                assert_eq!(a, b, "campaign {c}, round {round}, {number:?}");
                // Asked again right away: now surely from the memo.
                assert_eq!(ev_n.eval_bool(pred, &en).unwrap(), a, "{number:?} again");
                batch_n.extend(en);
                batch_i.extend(ei);
                selected[usize::from(*now >= night)] += usize::from(a);
            }
            let width = batch_n.len() / numbers.len();
            let (mut out_n, mut out_i) = (Vec::new(), Vec::new());
            ev_n.eval_batch(pred, &batch_n, width, &mut out_n).unwrap();
            ev_i.eval_batch(pred, &batch_i, width, &mut out_i).unwrap();
            assert_eq!(out_n, out_i, "campaign {c}, round {round}: batch");
            // Records wider than the filter's inputs (other columns of the list).
            let wide: Vec<u64> = batch_n
                .chunks(width)
                .flat_map(|r| r.iter().copied().chain([u64::MAX, 7]))
                .collect();
            let mut out_w = Vec::new();
            ev_n.eval_batch(pred, &wide, width + 2, &mut out_w).unwrap();
            assert_eq!(out_w, out_i, "campaign {c}, round {round}: wide batch");
        }
        // The window matters: the night category answers differently by day and
        // by night, so the same texts are selected a different number of times.
        assert_ne!(
            selected[0] / 3,
            selected[1] / 3,
            "campaign {c}: {selected:?}"
        );
    }
}
