//! A campaign filter of 14 conditions (texts, numbers, dates, list membership),
//! compiled from Dialect source, applied to 1,000,000 generated list records on the
//! native code and on the interpreter (the whole list in one `eval_batch` call;
//! `native_per_record` calls `eval_bool` once per record; `native_first_pass`
//! filters with nothing remembered from earlier passes).
//!
//! `cargo bench -p dialect-compiler --bench predicate_filter`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialect_compiler::ir::{Builtin, EnvVar, Type};
use dialect_compiler::value::date_to_days;
use dialect_compiler::{Engine, Evaluator, Program};

#[path = "../tests/common/mod.rs"]
mod common;

/// The campaign: 14 conditions over the record's fields, `attempts` and two lists.
const SOURCE: &str = r#"
calendar cn {
  timezone "Asia/Shanghai"
  hours mon-fri 08:30-17:30
  holiday 2026-10-01..2026-10-07 "国庆节"
}

list do_not_call "免打扰" {
  "13700000009", "13700000010", "0898*"
}

list blacklist "黑名单" {
  category harassment { "13800000001", "13800000002" }
  category night_spam (active 22:00-07:00) { "0755*" }
}

flow remind(phone: text, name: text, amount: number) {
  say "尊敬的", name, "您好，您的话费已欠费", money amount
  hangup
}

campaign reminder {
  list arrears from "arrears.csv" {
    phone: text <- "phone"
    name: text <- "name"
    amount: number <- "amount"
    score: number <- "score"
    due: date <- "due"
    last_paid: date <- "last_paid"
    status: text <- "status"
    region: text <- "region"
    refused: bool <- "refused"
  }
  filter amount >= 10 and amount < 100000
  filter status != "停机" and status != "传真" and status != "空号"
  filter not refused and attempts < 3
  filter region == "north" or region == "east" or region == "south"
  filter due >= 2026-01-01 and due - last_paid >= 30d
  filter score * 2 + amount / 100 > 5
  filter phone not in do_not_call and phone not in blacklist
  mode ivr -> flow remind
  calendar cn
  window workday 09:00-12:00, 14:00-20:30
  window weekend none
  window holiday none
}
"#;

const RECORDS: usize = 1_000_000;

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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn program(engine: Engine) -> Program {
    common::program_from_source("bench.flow", SOURCE, engine)
}

/// The environments of `RECORDS` generated records, flat, in the predicate's
/// layout (texts interned in `ev`).
fn records(p: &Program, ev: &mut Evaluator, pred: u32) -> (usize, Vec<u64>) {
    let ir = p.ir();
    let c = &ir.campaigns[0];
    let vars = &ir.predicates[pred as usize].vars;
    let day = |y, m, d| date_to_days(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()) as u64;
    let statuses = ["正常", "正常", "正常", "正常", "停机", "传真"];
    let regions = ["north", "east", "south", "west"];
    let status_syms: Vec<u64> = statuses.iter().map(|s| ev.intern(s)).collect();
    let region_syms: Vec<u64> = regions.iter().map(|s| ev.intern(s)).collect();
    let name = ev.intern("张三");
    let mut rng = Rng(42);
    let mut env = Vec::with_capacity(RECORDS * vars.len());
    for i in 0..RECORDS {
        let phone = match i % 100 {
            0 => "13700000009".to_string(),
            1 => format!("0755{:07}", i),
            _ => format!("139{:08}", i),
        };
        let phone = ev.intern(&phone);
        for (var, ty) in vars {
            let v = match var {
                EnvVar::Builtin(Builtin::Attempts) => (rng.below(4) as f64).to_bits(),
                EnvVar::Field(f) => match (c.fields[*f as usize].0.as_str(), ty) {
                    ("phone", _) => phone,
                    ("name", _) => name,
                    ("amount", _) => (rng.below(20_000) as f64 / 10.0).to_bits(),
                    ("score", _) => (rng.below(100) as f64 / 10.0).to_bits(),
                    ("due", _) => day(2026, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32),
                    ("last_paid", _) => day(2025, 1 + rng.below(12) as u32, 1),
                    ("status", _) => status_syms[rng.below(6) as usize],
                    ("region", _) => region_syms[rng.below(4) as usize],
                    ("refused", Type::Bool) => u64::from(rng.below(10) == 0),
                    (other, _) => panic!("unexpected field {other}"),
                },
                other => panic!("unexpected input {other:?}"),
            };
            env.push(v);
        }
    }
    (vars.len(), env)
}

fn bench(c: &mut Criterion) {
    let native = program(Engine::Native);
    let interp = program(Engine::Interp);
    let pred = native.ir().campaigns[0].filter.expect("a filter");
    let now = 1_790_042_400_000; // 2026-09-21 10:00 Shanghai
    let mut ev_n = native.evaluator();
    let mut ev_i = interp.evaluator();
    ev_n.set_now(now);
    ev_i.set_now(now);
    let (width, env) = records(&native, &mut ev_n, pred);
    let (_, env_i) = records(&interp, &mut ev_i, pred);
    assert_eq!(env, env_i, "both evaluators intern the same texts");
    drop(env_i);

    // Both engines select the same records.
    let select = |ev: &mut Evaluator| -> usize {
        env.chunks_exact(width)
            .filter(|r| ev.eval_bool(pred, r).unwrap())
            .count()
    };
    let selected = select(&mut ev_n);
    assert_eq!(selected, select(&mut ev_i));
    println!(
        "predicate_filter: {} of {RECORDS} records selected, {} inputs each",
        selected, width
    );

    // The whole list in one call, as the dialer filters a list.
    let mut out = Vec::with_capacity(RECORDS);
    let mut batch = |ev: &mut Evaluator| -> usize {
        out.clear();
        ev.eval_batch(pred, &env, width, &mut out).unwrap();
        out.iter().filter(|v| **v != 0).count()
    };
    assert_eq!(batch(&mut ev_n), selected);
    assert_eq!(batch(&mut ev_i), selected);

    let mut g = c.benchmark_group("predicate_filter");
    g.sample_size(10);
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("native", |b| b.iter(|| black_box(batch(&mut ev_n))));
    g.bench_function("interpreter", |b| b.iter(|| black_box(batch(&mut ev_i))));
    // The first pass over a list: nothing remembered yet.
    g.bench_function("native_first_pass", |b| {
        b.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            for _ in 0..iters {
                ev_n.forget_remembered();
                let start = std::time::Instant::now();
                black_box(batch(&mut ev_n));
                spent += start.elapsed();
            }
            spent
        })
    });
    // One `eval_bool` call per record, for comparison.
    g.bench_function("native_per_record", |b| {
        b.iter(|| black_box(select(&mut ev_n)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
