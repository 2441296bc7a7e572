//! Steps through the hotline's main menu: the caller presses `*` (repeat) again
//! and again, so every step runs the menu's blocks and builds the menu command.
//! Measures whole `FlowInstance::step_at` calls, native code against the
//! interpreter.
//!
//! `cargo bench -p dialect-compiler --bench flow_step`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dialect_compiler::{CallInfo, Command, Engine, FlowInstance, Input, Program, compile_paths};

const NOON: i64 = 1_790_042_400_000; // 2026-09-21 10:00 Shanghai

fn at_main_menu(p: &Program) -> (FlowInstance, u32) {
    let flow = p.flow_for_number("10000").unwrap();
    let mut f = p
        .start(
            flow,
            CallInfo {
                caller: "13912345678".into(),
                called: "10000".into(),
                trunk: "local".into(),
                args: vec![],
            },
        )
        .unwrap();
    f.step_at(Input::Start, NOON); // lookup crm.customer
    f.step_at(Input::Failed("timeout".into()), NOON); // language menu
    let c = f.step_at(Input::Choice(0), NOON);
    let Command::Menu { name, keys, .. } = c else {
        panic!("{c:?}")
    };
    assert_eq!(name, "main");
    let star = keys
        .iter()
        .position(|k| k.iter().any(|k| k == "*"))
        .unwrap() as u32;
    (f, star)
}

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let (_, ir) = compile_paths(&[root]).unwrap();
    let mut g = c.benchmark_group("flow_step");
    g.throughput(Throughput::Elements(1));
    for (id, engine) in [("native", Engine::Native), ("interpreter", Engine::Interp)] {
        let p = Program::new(ir.clone(), engine).unwrap();
        let (mut f, star) = at_main_menu(&p);
        for _ in 0..1000 {
            let c = f.step_at(Input::Choice(star), NOON);
            assert!(
                matches!(&c, Command::Menu { name, .. } if name == "main"),
                "{c:?}"
            );
        }
        g.bench_function(id, |b| {
            b.iter(|| black_box(f.step_at(Input::Choice(star), NOON)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
