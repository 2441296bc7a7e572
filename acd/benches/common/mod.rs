//! What the ACD benchmarks share: the 50-queue program, a deterministic
//! generator, the agents and calls, percentiles and the argument reader. The
//! core benchmark (`acd/benches/acd.rs`) and the actor benchmark
//! (`runtime/benches/acd_actor.rs`) include this module.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::time::Duration;

use dialect_acd::{AgentDef, QueuedCall};
use dialect_compiler::value::Value;
use dialect_compiler::{Engine, Program};

pub(crate) const QUEUES: usize = 50;
pub(crate) const SKILLS: usize = 10;
const STRATEGIES: [&str; 4] = [
    "longest_idle",
    "fewest_calls",
    "least_talk_time",
    "highest_skill",
];

/// 50 queues: queue i needs skill s(i mod 10), with a strategy from the list and a
/// priority from the call data (VIP level).
pub(crate) fn program() -> Program {
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
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Agent i has three different skills at levels 1..5.
pub(crate) fn agents(n: usize, rng: &mut Rng) -> Vec<AgentDef> {
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

pub(crate) fn call(id: u64, rng: &mut Rng, now: i64) -> QueuedCall {
    let mut qc = QueuedCall::new(id, &format!("q{}", rng.below(QUEUES)), "13800000000", now);
    qc.data = vec![("level".into(), Value::Number(rng.below(4) as f64))];
    qc
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn report(what: &str, mut v: Vec<Duration>) {
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

pub(crate) fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
