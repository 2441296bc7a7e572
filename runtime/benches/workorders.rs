//! Workorder benchmarks (`cargo bench -p dialect-runtime --bench workorders`):
//!
//! 1. durable transitions per second through the engine (no HTTP) and over the
//!    HTTP API (axum + reqwest on loopback, same machine), on sled with group
//!    commit: every change is acknowledged only after the flush; the engine
//!    also on PostgreSQL when built with `--features test-postgres` (a
//!    throwaway cluster on a unix socket, fsync on), with the ratio to sled;
//! 2. with N open orders (default 1,000,000; 10,000 when run by `cargo test`),
//!    written straight into the store in the engine's layout: memory of the
//!    in-memory indexes, restart time (load and re-arm every timer), the
//!    overdue-by-department query and the W5 counts.
//!
//! Options: `--orders N` (open orders for part 2), `--clients N` (concurrent
//! clients in part 1, default 64), `--skip-throughput`,
//! `--skip-million`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use dialect_runtime::auth::{User, Users};
use dialect_runtime::config::ApiUser;
use dialect_runtime::deploy::ProgramSlot;
use dialect_runtime::store::{Batch, SharedStore, SledStore, Store};
use dialect_runtime::time::PausableClock;
use dialect_runtime::workorder::model::*;
use dialect_runtime::workorder::{
    CreateRequest, Query, TransitionRequest, WorkorderHandle, lifecycle,
};

/// The allocator of the `dialect` binary, so that the figures are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn program() -> Arc<ProgramSlot> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
    let bytes = dialect_runtime::deploy::compile_project(&dir).unwrap();
    Arc::new(ProgramSlot::new(&bytes, dialect_compiler::Engine::Native, BTreeMap::new()).unwrap())
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dialect-wo-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

fn user(name: &str, role: &str, dept: Option<&str>) -> User {
    User {
        name: name.into(),
        role: role.parse().expect("a role"),
        department: dept.map(String::from),
    }
}

fn complaint() -> CreateRequest {
    let f = serde_json::json!({
        "phone": "13800138000", "customer": "C1", "category": "network",
        "description": "benchmark", "id_number": "110101199001011234"
    });
    CreateRequest {
        kind: "complaint".into(),
        fields: f.as_object().unwrap().clone(),
        ..CreateRequest::default()
    }
}

/// The complaint lifecycle's steps: (transition, by handler?, body).
fn steps() -> Vec<(TransitionRequest, bool)> {
    let mut d = TransitionRequest {
        transition: "dispatch".into(),
        ..Default::default()
    };
    d.department = Some("network_ops".into());
    let a = TransitionRequest {
        transition: "accept".into(),
        ..Default::default()
    };
    let mut r = TransitionRequest {
        transition: "reply".into(),
        ..Default::default()
    };
    r.fields.insert("resolution".into(), "fixed".into());
    let c = TransitionRequest {
        transition: "close".into(),
        ..Default::default()
    };
    vec![(d, false), (a, true), (r, true), (c, false)]
}

static CONCURRENCY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(64);

fn clients() -> usize {
    CONCURRENCY.load(std::sync::atomic::Ordering::Relaxed)
}
const ORDERS_PER_TASK: usize = 40;

/// Durable changes per second through the engine on `store`; `label` names
/// the store in the output.
async fn engine_throughput(program: Arc<ProgramSlot>, store: SharedStore, label: &str) -> f64 {
    let concurrency = clients();
    let (wo, _) = WorkorderHandle::start(store, program, PausableClock::system())
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..concurrency {
        let wo = wo.clone();
        tasks.push(tokio::spawn(async move {
            let agent = user(&format!("a{i}"), "agent", None);
            let ops = user(&format!("h{i}"), "handler", Some("network_ops"));
            let mut n = 0usize;
            for _ in 0..ORDERS_PER_TASK {
                let o = wo.create(complaint(), &agent).await.unwrap();
                for (t, by_handler) in steps() {
                    let u = if by_handler { &ops } else { &agent };
                    wo.transition(&o.number, t, u).await.unwrap();
                    n += 1;
                }
            }
            n
        }));
    }
    let mut transitions = 0;
    for t in tasks {
        transitions += t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let creates = concurrency * ORDERS_PER_TASK;
    let changes = (creates + transitions) as f64 / secs;
    println!(
        "engine (no HTTP) on {label}, {concurrency} concurrent clients: {creates} creates + {transitions} transitions in {secs:.2} s = {changes:.0} durable changes/s ({:.0} transitions/s of the mix)",
        transitions as f64 / secs
    );
    wo.stop().await;
    changes
}

/// The engine on sled, then (built with `--features test-postgres`) on a
/// throwaway PostgreSQL on a unix socket with fsync on, and the ratio.
async fn engine_on_both_stores(program: Arc<ProgramSlot>) {
    let sled: SharedStore = Arc::new(SledStore::open(&temp("engine")).unwrap());
    let on_sled = engine_throughput(program.clone(), sled, "sled").await;
    #[cfg(feature = "test-postgres")]
    {
        let url = dialect_runtime::store::test_postgres::shared()
            .and_then(|c| c.create_database("workorder_bench"))
            .unwrap();
        let target = dialect_runtime::store::PgTarget::parse(&url).unwrap();
        let pg: SharedStore = Arc::new(
            tokio::task::spawn_blocking(move || {
                dialect_runtime::store::PgStore::open(&target).unwrap()
            })
            .await
            .unwrap(),
        );
        let on_pg = engine_throughput(program, pg, "PostgreSQL (unix socket, fsync on)").await;
        println!(
            "PostgreSQL / sled: {:.2} of sled's durable changes per second",
            on_pg / on_sled
        );
    }
    #[cfg(not(feature = "test-postgres"))]
    {
        let _ = (program, on_sled);
        println!("(PostgreSQL skipped: build with --features test-postgres)");
    }
}

async fn api_throughput(program: Arc<ProgramSlot>) {
    let concurrency = clients();
    let store: SharedStore = Arc::new(SledStore::open(&temp("api")).unwrap());
    let (wo, _) = WorkorderHandle::start(store.clone(), program.clone(), PausableClock::system())
        .await
        .unwrap();
    let users = vec![
        ApiUser {
            name: "agent1".into(),
            token: "tok-agent".into(),
            password: None,
            role: dialect_runtime::config::Role::Agent,
            department: None,
            email: None,
            phone: None,
        },
        ApiUser {
            name: "ops1".into(),
            token: "tok-ops".into(),
            password: None,
            role: dialect_runtime::config::Role::Handler,
            department: Some("network_ops".into()),
            email: None,
            phone: None,
        },
    ];
    let (acd, _dials) = dialect_runtime::acd::AcdHandle::spawn(
        dialect_acd::AcdConfig::default(),
        dialect_runtime::acd::ProgramSource::Slot(program.clone()),
        &[],
        store.clone(),
        None,
        tokio_util::sync::CancellationToken::new(),
    );
    let state = dialect_runtime::api::AppState {
        store: store.clone(),
        users: Arc::new(Users::new(&users)),
        program: program.clone(),
        ready: Arc::new(AtomicBool::new(true)),
        stats: Arc::new(dialect_runtime::stats::Stats::default()),
        outbound: dialect_runtime::outbound::OutboundPolicy::new(
            &dialect_runtime::config::Config::default(),
            Vec::new(),
            store.clone(),
            Arc::new(dialect_runtime::stats::Stats::default()),
        ),
        workorders: wo.clone(),
        acd,
        call_events: Default::default(),
        access: Arc::new(dialect_runtime::api::access::Access::new(
            &[],
            b"bench summary key".to_vec(),
            std::env::temp_dir().join(format!("dialect-bench-uploads-{}", std::process::id())),
            64 << 20,
        )),
        dialer: dialect_runtime::dialer::DialerHandle::idle(
            store.clone(),
            program.clone(),
            Arc::new(dialect_runtime::config::Config::default()),
        ),
        event_feed: Default::default(),
        cluster: None,
    };
    let app = dialect_runtime::api::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let body = serde_json::json!({"kind": "complaint", "fields": {
        "phone": "13800138000", "customer": "C1", "category": "network",
        "description": "benchmark", "id_number": "110101199001011234"}});
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let base = base.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            for _ in 0..ORDERS_PER_TASK {
                let r = http
                    .post(format!("{base}/workorders"))
                    .bearer_auth("tok-agent")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let o: serde_json::Value = r.json().await.unwrap();
                let number = o["number"].as_str().unwrap().to_string();
                for (t, token, extra) in [
                    (
                        "dispatch",
                        "tok-agent",
                        serde_json::json!({"department": "network_ops"}),
                    ),
                    ("accept", "tok-ops", serde_json::json!({})),
                    (
                        "reply",
                        "tok-ops",
                        serde_json::json!({"fields": {"resolution": "fixed"}}),
                    ),
                    ("close", "tok-agent", serde_json::json!({})),
                ] {
                    let mut b = extra;
                    b["transition"] = t.into();
                    let r = http
                        .post(format!("{base}/workorders/{number}/transitions"))
                        .bearer_auth(token)
                        .json(&b)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    n += 1;
                }
            }
            n
        }));
    }
    let mut transitions = 0;
    for t in tasks {
        transitions += t.await.unwrap();
    }
    let secs = t0.elapsed().as_secs_f64();
    let creates = concurrency * ORDERS_PER_TASK;
    println!(
        "HTTP API, {concurrency} concurrent clients (client on the same 2 cores): {creates} creates + {transitions} transitions in {secs:.2} s = {:.0} durable changes/s ({:.0} transitions/s of the mix)",
        (creates + transitions) as f64 / secs,
        transitions as f64 / secs
    );
    wo.stop().await;
}

/// Writes `n` open complaint orders in the engine's layout (order, creation
/// history entry, indexes, open record), spread over the last 10 days and the
/// four departments; about a third are past their limit.
fn generate(store: &dyn Store, program: &ProgramSlot, n: usize, now: i64) {
    let deployed = program.current();
    let ir = lifecycle::lifecycle(&deployed.program, "complaint").unwrap();
    let depts = [
        "billing_center",
        "network_ops",
        "service_quality",
        "customer_care",
    ];
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut fields = BTreeMap::new();
    for (k, v) in complaint().fields {
        fields.insert(k, v);
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut batch = Batch::new();
    for i in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let created = now - (seed % (10 * 86_400_000)) as i64;
        let (state, dept) = match i % 3 {
            0 => ("new", None),
            1 => ("dispatched", Some(depts[i % 4].to_string())),
            _ => ("processing", Some(depts[(i / 3) % 4].to_string())),
        };
        let _ = lifecycle::state(ir, state).unwrap();
        // Deadlines from 2 days ago to 4 days ahead.
        let deadline = now - 2 * 86_400_000 + ((seed >> 20) % (6 * 86_400_000)) as i64;
        let fired = deadline <= now;
        let o = Workorder {
            number: lifecycle::order_number(date, i as u64 + 1),
            kind: "complaint".into(),
            state: state.into(),
            fields: fields.clone(),
            customer_id: format!("C{}", i % 100_000),
            event_id: None,
            contact_id: None,
            department: dept.clone(),
            handler: None,
            dispatcher: dept.as_ref().map(|_| "agent1".to_string()),
            created_by: "agent1".into(),
            created_ms: created,
            updated_ms: created,
            state_entered_ms: created,
            dispatched_ms: dept.as_ref().map(|_| created),
            closed_ms: None,
            deadline_ms: Some(deadline),
            timers: vec![Timer {
                due_ms: deadline,
                action: "escalate".into(),
                to: vec!["supervisor".into()],
                fired,
                limit: None,
            }],
            feedback: None,
            links: Vec::new(),
            assignments: Vec::new(),
            entered_ms: Default::default(),
            version: 1,
        };
        let h = HistoryEntry {
            version: 1,
            at_ms: created,
            user: "agent1".into(),
            role: "agent".into(),
            action: "create".into(),
            transition: None,
            from: None,
            to: Some(state.into()),
            department: dept,
            handler: None,
            fields: BTreeMap::new(),
            comment: None,
        };
        batch.put_json(ORDERS, o.number.as_bytes().to_vec(), &o);
        batch.put_json(HISTORY, history_key(&o.number, 1), &h);
        for (t, k) in index_entries(&o) {
            batch.put(t, k, Vec::new());
        }
        batch.put(
            OPEN,
            o.number.as_bytes().to_vec(),
            postcard::to_allocvec(&OpenRecord::of(&o)).unwrap(),
        );
        if batch.len() >= 8_000 {
            store
                .apply(std::mem::replace(&mut batch, Batch::new()))
                .unwrap();
        }
    }
    store.apply(batch).unwrap();
    store.sync().unwrap();
}

async fn million(program: Arc<ProgramSlot>, n: usize) {
    let dir = temp("million");
    let now = dialect_runtime::time::now_ms();
    {
        let store = SledStore::open(&dir).unwrap();
        let t0 = Instant::now();
        generate(&store, &program, n, now);
        println!(
            "generated {n} open orders in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }
    // A fresh process view: reopen the store, then start the engine (load + re-arm).
    let rss0 = rss_mb();
    let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
    let t0 = Instant::now();
    let (wo, report) = WorkorderHandle::start(store, program, PausableClock::starting_at(now))
        .await
        .unwrap();
    let start_s = t0.elapsed().as_secs_f64();
    let rss1 = rss_mb();
    println!(
        "restart with {} open orders: {:.2} s to load and re-arm {} timers ({} due at once); in-memory indexes ~{:.0} MB; process RSS {:.0} MB -> {:.0} MB (+{:.0} MB, sled cache included)",
        report.open_orders,
        start_s,
        report.timers,
        report.due_now,
        report.index_bytes as f64 / 1e6,
        rss0,
        rss1,
        rss1 - rss0
    );
    for dept in ["network_ops", "customer_care"] {
        let mut best = f64::MAX;
        let mut total = 0;
        for _ in 0..5 {
            let t = Instant::now();
            let page = wo
                .query(Query {
                    overdue: true,
                    department: Some(dept.into()),
                    limit: 50,
                    ..Query::default()
                })
                .await
                .unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1000.0);
            total = page.total.unwrap_or(0);
            assert_eq!(page.items.len(), 50.min(total));
        }
        println!(
            "overdue orders of {dept}: {total} match, first page of 50 in {best:.1} ms (best of 5)"
        );
    }
    let t = Instant::now();
    let c = wo.counts().await.unwrap();
    println!(
        "W5 counts (open by state and department, overdue by department): {} open, {} overdue in {:.1} ms",
        c.total_open,
        c.total_overdue,
        t.elapsed().as_secs_f64() * 1000.0
    );
    wo.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let orders = args
        .iter()
        .position(|a| a == "--orders")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        // `cargo bench` passes --bench; under `cargo test` the benchmark only
        // checks that it runs, on a small store.
        .unwrap_or(if args.iter().any(|a| a == "--bench") {
            1_000_000
        } else {
            10_000
        });
    if let Some(c) = args
        .iter()
        .position(|a| a == "--clients")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
    {
        CONCURRENCY.store(c, std::sync::atomic::Ordering::Relaxed);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let program = program();
    rt.block_on(async {
        if !args.iter().any(|a| a == "--skip-throughput") {
            engine_on_both_stores(program.clone()).await;
            api_throughput(program.clone()).await;
        }
        if !args.iter().any(|a| a == "--skip-million") {
            million(program, orders).await;
        }
    });
}
