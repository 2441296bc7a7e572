//! ACD benchmarks (`cargo bench -p dialect-runtime --bench acd`):
//!
//! 1. routing decisions in the ACD core with a large backlog: 50 queues over 10
//!    skills, 2,000 agents with three skills each, 10,000 waiting calls. A
//!    decision is an agent becoming ready (the core picks the best waiting call
//!    of the agent's queues and offers it); each is timed alone, and after it the
//!    call is answered and ended, the agent parked again and a new call enqueued,
//!    so the backlog stays at 10,000. Arrivals (a call enqueued while no agent is
//!    free) are timed too. Reports p50, p99 and max per decision.
//! 2. events per second through the ACD actor (`AcdHandle`, tokio, sled store
//!    for records): concurrent simulated call tasks each enqueue a call, wait for
//!    the offer, report it answered, wait for the bridge and end the call (three
//!    inputs and about ten effects per call), against 200 ready agents.
//!
//! Options: `--waiting N` (default 10,000), `--agents N` (2,000), `--decisions N`
//! (20,000), `--actor-calls N` (50,000), `--clients N` (64). Run as a test
//! (`cargo test --bench acd`) it uses small sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialect_compiler::value::Value;
use dialect_compiler::{Engine, Program};
use dialect_runtime::acd::actor::ProgramSource;
use dialect_runtime::acd::{
    AcdConfig, AcdCore, AcdHandle, AcdToCall, AgentCommand, AgentDef, Effect, Input, OfferResult,
    QueuedCall,
};
use dialect_runtime::store::{SharedStore, SledStore};

const QUEUES: usize = 50;
const SKILLS: usize = 10;
const STRATEGIES: [&str; 4] = [
    "longest_idle",
    "fewest_calls",
    "least_talk_time",
    "highest_skill",
];

/// 50 queues: queue i needs skill s(i mod 10), with a strategy from the list and a
/// priority from the call data (VIP level).
fn program() -> Program {
    let mut src = String::from("calldata {\n  level: number = 0\n}\n\nskill ");
    let skills: Vec<String> = (0..SKILLS).map(|s| format!("s{s}")).collect();
    src.push_str(&skills.join(", "));
    src.push_str(" levels 1..5\n\n");
    for q in 0..QUEUES {
        let _ = write!(
            src,
            "queue q{q} \"Queue {q}\" {{\n  skills s{} >= 1\n  strategy {}\n  priority data.level * 10\n}}\n\n",
            q % SKILLS,
            STRATEGIES[q % STRATEGIES.len()]
        );
    }
    let dir = std::env::temp_dir().join(format!("dialect-acd-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acd.flow"), src).unwrap();
    let (_, ir) = dialect_compiler::compile_paths(std::slice::from_ref(&dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Program::new(ir, Engine::Native).unwrap()
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Agent i has three different skills at levels 1..5.
fn agents(n: usize, rng: &mut Rng) -> Vec<AgentDef> {
    (0..n)
        .map(|i| {
            let first = rng.below(SKILLS);
            let skills: Vec<(String, u32)> = (0..3)
                .map(|k| {
                    (
                        format!("s{}", (first + k * 3) % SKILLS),
                        1 + rng.below(5) as u32,
                    )
                })
                .collect();
            AgentDef {
                id: format!("a{i}"),
                name: String::new(),
                skills,
                auto_answer: false,
            }
        })
        .collect()
}

fn call(id: u64, rng: &mut Rng, now: i64) -> QueuedCall {
    let mut qc = QueuedCall::new(id, &format!("q{}", rng.below(QUEUES)), "13800000000", now);
    qc.data = vec![("level".into(), Value::Number(rng.below(4) as f64))];
    qc
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(what: &str, mut v: Vec<Duration>) {
    v.sort();
    let mean = v.iter().sum::<Duration>().as_secs_f64() / v.len().max(1) as f64;
    println!(
        "{what}: n={} mean={:.1} us p50={:.1} us p99={:.1} us max={:.1} us",
        v.len(),
        mean * 1e6,
        percentile(&v, 0.5).as_secs_f64() * 1e6,
        percentile(&v, 0.99).as_secs_f64() * 1e6,
        percentile(&v, 1.0).as_secs_f64() * 1e6,
    );
}

/// Part 1: routing decisions in the core with `waiting` calls queued.
fn decisions(n_agents: usize, waiting: usize, n_decisions: usize) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now: i64 = 1_700_000_000_000;
    let defs = agents(n_agents, &mut rng);
    let ids: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
    let mut core = AcdCore::new(AcdConfig::default(), program(), defs, now);
    let mut out = Vec::new();
    // Every agent signed in, not ready: calls pile up.
    for id in &ids {
        core.command(now, id, AgentCommand::SignIn, id, &mut out)
            .unwrap();
    }
    out.clear();
    let started = Instant::now();
    let mut next_id: u64 = 1;
    let mut arrivals = Vec::with_capacity(waiting);
    for _ in 0..waiting {
        now += 1;
        let qc = call(next_id, &mut rng, now);
        next_id += 1;
        let t = Instant::now();
        core.handle(now, Input::Enqueue(qc), &mut out);
        arrivals.push(t.elapsed());
        out.clear();
    }
    println!(
        "backlog: {} calls enqueued over {QUEUES} queues in {:.2} s ({} agents signed in, not ready)",
        core.waiting_calls(),
        started.elapsed().as_secs_f64(),
        n_agents
    );
    report("arrival (enqueue, no agent free)", arrivals);

    let mut decided = Vec::with_capacity(n_decisions);
    let mut offered = 0usize;
    for _ in 0..n_decisions {
        now += 10;
        let agent = &ids[rng.below(ids.len())];
        let t = Instant::now();
        core.command(now, agent, AgentCommand::Ready, agent, &mut out)
            .unwrap();
        decided.push(t.elapsed());
        let offer = out.iter().find_map(|e| match e {
            Effect::ToCall(c, AcdToCall::Offer { .. }) => Some(*c),
            _ => None,
        });
        out.clear();
        // Answer and end the call, park the agent again, and keep the backlog.
        if let Some(c) = offer {
            offered += 1;
            core.handle(
                now,
                Input::OfferResult {
                    call: c,
                    agent: agent.clone(),
                    result: OfferResult::Answered,
                },
                &mut out,
            );
            let _ = core.command(
                now,
                agent,
                AgentCommand::NotReady {
                    reason: String::new(),
                },
                agent,
                &mut out,
            );
            core.handle(
                now + 5,
                Input::CallEnded {
                    call: c,
                    talk_ms: Some(5),
                },
                &mut out,
            );
            let qc = call(next_id, &mut rng, now);
            next_id += 1;
            core.handle(now + 5, Input::Enqueue(qc), &mut out);
        } else {
            let _ = core.command(
                now,
                agent,
                AgentCommand::NotReady {
                    reason: String::new(),
                },
                agent,
                &mut out,
            );
        }
        out.clear();
    }
    assert!(
        offered > n_decisions / 2,
        "most decisions found a call: {offered}"
    );
    println!(
        "decisions: {offered} of {n_decisions} found a call; waiting at the end: {}",
        core.waiting_calls()
    );
    report("routing decision (agent ready -> offer)", decided);
}

/// Part 2: inputs per second through the actor.
async fn actor(n_agents: usize, calls: usize, clients: usize) {
    let dir = std::env::temp_dir().join(format!("dialect-acd-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (acd, _dials) = AcdHandle::spawn(
        AcdConfig::default(),
        ProgramSource::Fixed(program()),
        &[],
        store,
        None,
        shutdown.clone(),
    );
    let mut rng = Rng(42);
    for d in agents(n_agents, &mut rng) {
        let id = d.id.clone();
        acd.upsert_agent(d, None).await.unwrap().unwrap();
        for op in [AgentCommand::SignIn, AgentCommand::Ready] {
            acd.command(&id, op, &id).await.unwrap().unwrap();
        }
    }
    let per_client = calls / clients;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let acd = acd.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(c as u64 * 7919 + 1);
            let mut done = 0usize;
            for i in 0..per_client {
                let id = (c * per_client + i + 1) as u64;
                let (tx, mut rx) = tokio::sync::mpsc::channel(64);
                acd.enqueue(call(id, &mut rng, dialect_runtime::now_ms()), tx)
                    .await
                    .unwrap();
                // Bounded: every message is answered; the ACD offers when an agent is free.
                let mut agent = None;
                while let Ok(Some(m)) =
                    tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
                {
                    match m {
                        AcdToCall::Offer { agent: a, .. } => {
                            acd.offer_result(id, &a, OfferResult::Answered)
                                .await
                                .unwrap();
                            agent = Some(a);
                        }
                        AcdToCall::Bridge { .. } => {
                            acd.call_ended(id, Some(1)).await.unwrap();
                            done += 1;
                            break;
                        }
                        _ => {}
                    }
                }
                assert!(agent.is_some(), "call {id} was offered");
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "actor: {done} calls by {clients} clients against {n_agents} agents in {secs:.2} s: \
         {:.0} calls/s, {:.0} inputs/s (enqueue, offer result, call ended)",
        done as f64 / secs,
        3.0 * done as f64 / secs
    );
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test` runs benches with --test (or without --bench): keep it short.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = |n: usize| if full { n } else { (n / 20).max(50) };
    let waiting = arg("--waiting", scale(10_000));
    let n_agents = arg("--agents", scale(2_000));
    let n_decisions = arg("--decisions", scale(20_000));
    decisions(n_agents, waiting, n_decisions);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(actor(
        arg("--actor-agents", 200),
        arg("--actor-calls", scale(50_000)),
        arg("--clients", 64),
    ));
}
