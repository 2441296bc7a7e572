//! Statistics per flow benchmark (`cargo bench -p dialect-runtime --bench
//! flowstats`): what counting costs a call, beside what the call task already
//! spends on its contact record.
//!
//! - `call_tally`: one hotline-like call counted as it goes (a prompt, a
//!   lookup, the language menu, the main menu asked three times, a sub-menu,
//!   a transfer: 9 steps, 12 visits) and turned into its `FlowStats` at the
//!   end; this is all the call task does for the statistics, besides one
//!   `try_send`.
//! - `contact_json`: the same call's contact record with its 12 trail
//!   entries encoded as JSON, which every call task already does when it
//!   ends (the reference the tally is compared with, in the same run).
//! - `hour_add`: the writer adding one call into its flow's hour (40 steps,
//!   80 edges), off the call path.
//! - `writer_to_sled`: calls through the sink and the writer into sled, end
//!   to end (calls per second the writer keeps up with).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_runtime::contacts::{ContactRecord, TrailEntry};
use dialect_runtime::flowstats::{
    FlowStats, FlowStatsSink, FlowTally, HOUR_MS, Outcome, StepKind, report,
};
use dialect_runtime::store::{SharedStore, SledStore};

/// The steps of the counted call: (place, trail name, kind).
const STEPS: &[(&str, &str, StepKind)] = &[
    ("main.flow:16:3", "play", StepKind::Prompt),
    ("main.flow:20:3", "lookup crm.customer", StepKind::Lookup),
    ("main.flow:36:3", "language_choice", StepKind::Menu),
    ("main.flow:44:3", "main", StepKind::Menu),
    ("main.flow:44:3", "main", StepKind::Menu),
    ("main.flow:58:5", "play", StepKind::Prompt),
    ("main.flow:44:3", "main", StepKind::Menu),
    ("fee.flow:12:3", "fee_menu", StepKind::Menu),
    ("fee.flow:13:5", "say", StepKind::Prompt),
    ("fee.flow:20:5", "collect account", StepKind::Collect),
    ("fee.flow:22:5", "lookup billing.balance", StepKind::Lookup),
    (
        "fee.flow:30:7",
        "transfer queue billing",
        StepKind::Transfer,
    ),
];

fn one_call(t0: i64) -> FlowStats {
    let mut t = FlowTally::start("hotline", t0);
    for (i, (id, name, kind)) in STEPS.iter().enumerate() {
        t.enter(id, name, *kind, t0 + 1_000 * i as i64);
        if i == 4 {
            t.no_input(true);
        }
        if i == 6 {
            t.no_match(false);
        }
    }
    t.handed(Outcome::ToAgents);
    t.finish(Outcome::HungUp, t0 + 60_000)
}

fn contact() -> ContactRecord {
    ContactRecord {
        id: 123_456,
        channel: "voice".into(),
        direction: "inbound".into(),
        caller: "13912345678".into(),
        called: "10000".into(),
        flow: "hotline".into(),
        trail: STEPS
            .iter()
            .enumerate()
            .map(|(i, (_, name, _))| TrailEntry {
                at_ms: 1_765_000_000_000 + i as i64 * 1_000,
                node: name.to_string(),
                detail: "play main_menu.wav (interrupted)".into(),
            })
            .collect(),
        ..ContactRecord::default()
    }
}

/// An hour of a flow with 40 steps and 80 edges.
fn busy_hour() -> FlowStats {
    let mut hour = FlowStats::default();
    for k in 0..40 {
        let mut t = FlowTally::start("hotline", 0);
        t.enter(&format!("main.flow:{k}:3"), "say", StepKind::Prompt, 0);
        t.enter(
            &format!("main.flow:{}:3", k + 1),
            "menu",
            StepKind::Menu,
            10,
        );
        t.enter(
            &format!("main.flow:{}:3", (k + 7) % 40),
            "menu",
            StepKind::Menu,
            20,
        );
        hour.add(&t.finish(Outcome::SelfService, 30));
    }
    hour.add(&one_call(0));
    hour
}

fn bench(c: &mut Criterion) {
    c.bench_function("call_tally", |b| {
        b.iter(|| black_box(one_call(black_box(0))))
    });
    let record = contact();
    c.bench_function("contact_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&record)).unwrap()))
    });
    let call = one_call(0);
    let mut hour = busy_hour();
    c.bench_function("hour_add", |b| b.iter(|| hour.add(black_box(&call))));
}

/// Calls per second the writer stores into sled (not a criterion
/// measurement: the writer batches whatever is queued).
fn writer_to_sled(calls: usize) {
    let dir = std::env::temp_dir().join(format!("dialect-flowstats-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sink = FlowStatsSink::spawn(store.clone(), String::new());
        let started = Instant::now();
        for i in 0..calls {
            // Calls spread over four hours; the sink never waits, so
            // pace the producer to the queue's room.
            let at = (i % 4) as i64 * HOUR_MS;
            sink.record(at, one_call(at));
            if i % 2_000 == 1_999 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        loop {
            let r = report(&*store, Some("hotline"), 0, 4 * HOUR_MS).unwrap();
            let counted = r.flows.first().map_or(0, |f| f.calls) as usize;
            if counted + sink.dropped() as usize >= calls {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "writer_to_sled: {calls} calls stored in {secs:.2} s ({:.0} calls/s), {} dropped",
                    calls as f64 / secs,
                    sink.dropped()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

fn writer(_: &mut Criterion) {
    let quick = std::env::args().any(|a| a == "--test" || a == "--list");
    writer_to_sled(if quick { 1_000 } else { 100_000 });
}

criterion_group!(benches, bench, writer);
criterion_main!(benches);
