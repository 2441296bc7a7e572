//! Compiling the reference project (`flows/hotline`): loading, checking and
//! lowering the source, and JIT-compiling every flow and predicate with Cranelift.
//!
//! `cargo bench -p dialect-compiler --bench jit_compile`

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_compiler::ctx::Shared;
use dialect_compiler::jit::Native;
use dialect_compiler::{Engine, Program, compile_paths};

fn bench(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let (_, ir) = compile_paths(std::slice::from_ref(&root)).unwrap();
    println!(
        "jit_compile: {} flows, {} predicates, {} blocks",
        ir.flows.len(),
        ir.predicates.len(),
        ir.flows.iter().map(|f| f.body.blocks.len()).sum::<usize>()
            + ir.predicates
                .iter()
                .map(|p| p.body.blocks.len())
                .sum::<usize>()
    );
    let mut g = c.benchmark_group("jit_compile");
    g.sample_size(20);
    g.bench_function("load_and_jit", |b| {
        b.iter(|| {
            let (_, ir) = compile_paths(std::slice::from_ref(&root)).unwrap();
            black_box(Program::new(ir, Engine::Native).unwrap())
        })
    });
    g.bench_function("load", |b| {
        b.iter(|| black_box(compile_paths(std::slice::from_ref(&root)).unwrap()))
    });
    let shared = Arc::new(Shared::new(ir));
    g.bench_function("jit", |b| {
        b.iter(|| black_box(Native::compile(shared.clone()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
