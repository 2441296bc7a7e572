//! ACD actor benchmark (`cargo bench -p dialect-runtime --bench acd_actor`):
//! events per second through the ACD actor (`AcdHandle`, tokio, sled store for
//! records): concurrent simulated call tasks each enqueue a call, wait for the
//! offer, report it answered, wait for the bridge and end the call (three inputs
//! and about ten effects per call), against 200 ready agents. The core's routing
//! decisions are measured by `acd/benches/acd.rs`.
//!
//! Options: `--actor-agents N` (200), `--actor-calls N` (50,000), `--clients N`
//! (64). Run as a test (`cargo test --bench acd_actor`) it uses small sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../acd/benches/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use dialect_acd::{AcdConfig, AcdToCall, AgentCommand, OfferResult};
use dialect_runtime::acd::{AcdHandle, ProgramSource};
use dialect_runtime::store::{SharedStore, SledStore};

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
                acd.enqueue(call(id, &mut rng, dialect_runtime::time::now_ms()), tx)
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

fn main() {
    // `cargo test` runs benches with --test (or without --bench): keep it short.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = |n: usize| if full { n } else { (n / 20).max(50) };
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
