//! ACD core benchmark (`cargo bench -p dialect-acd --bench acd`): routing
//! decisions in the ACD core with a large backlog: 50 queues over 10 skills,
//! 2,000 agents with three skills each, 10,000 waiting calls. A decision is an
//! agent becoming ready (the core picks the best waiting call of the agent's
//! queues and offers it); each is timed alone, and after it the call is answered
//! and ended, the agent parked again and a new call enqueued, so the backlog
//! stays at 10,000. Arrivals (a call enqueued while no agent is free) are timed
//! too. Reports p50, p99 and max per decision. The actor's throughput is
//! measured by `runtime/benches/acd_actor.rs`.
//!
//! Options: `--waiting N` (default 10,000), `--agents N` (2,000), `--decisions N`
//! (20,000). Run as a test (`cargo test --bench acd`) it uses small sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::Instant;

use common::*;
use dialect_acd::{AcdConfig, AcdCore, AcdToCall, AgentCommand, Effect, Input, OfferResult};

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

fn main() {
    // `cargo test` runs benches with --test (or without --bench): keep it short.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = |n: usize| if full { n } else { (n / 20).max(50) };
    let waiting = arg("--waiting", scale(10_000));
    let n_agents = arg("--agents", scale(2_000));
    let n_decisions = arg("--decisions", scale(20_000));
    decisions(n_agents, waiting, n_decisions);
}
