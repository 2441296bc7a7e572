//! Dialer benchmark (`cargo bench -p dialect-dialer --bench dialer`).
//!
//! Part 1, the pacer's cost per tick: `Pacer::lines_to_dial` on snapshots of a
//! 20-agent campaign (the exact risk computation) and of a 500-agent campaign
//! with 400 lines ringing (the normal approximation), for each mode, each tick
//! timed alone; p50, p99 and max.
//!
//! Part 2, the simulator's goal: the hotline's `retention` campaign with
//! `flows/hotline/campaign-traffic.yaml` over `--seeds N` seeds (default 20):
//! talk-minutes per agent-hour, abandon rate and the highest one-hour window per
//! mode, mean, lowest and highest over the seeds.
//!
//! Options: `--ticks N` (default 20,000), `--seeds N` (20), `--traffic FILE`
//! (another traffic file for part 2, to see what limits the goal). Run as a test
//! (`cargo test --bench dialer`) it uses small sizes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;
use std::time::Instant;

use dialect_compiler::calendar::Calendar;
use dialect_dialer::pacing::{PaceEvent, PaceSnapshot, Pacer, PacingConfig, PacingMode};
use dialect_dialer::simulate::{self, Traffic};

/// The traffic file of part 2: `--traffic FILE`, or the repository's example.
fn traffic_path() -> PathBuf {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--traffic")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| hotline().join("campaign-traffic.yaml"))
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator, so runs compare.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: i64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as i64).rem_euclid(below.max(1))
    }
}

fn trained(config: PacingConfig) -> Pacer {
    let mut p = Pacer::new(config);
    for i in 0..2_000i64 {
        let t = i * 500;
        match i % 10 {
            0..=2 => p.observe(
                t,
                PaceEvent::Answered {
                    live: true,
                    delay_ms: 5_000 + (i % 9) * 1_000,
                },
            ),
            3 | 4 => p.observe(
                t,
                PaceEvent::Answered {
                    live: false,
                    delay_ms: 13_000,
                },
            ),
            _ => p.observe(t, PaceEvent::Unanswered { after_ms: 30_000 }),
        }
        if i % 3 == 0 {
            p.observe(
                t,
                PaceEvent::TalkEnded {
                    talk_ms: 30_000 + (i % 60) * 5_000,
                },
            );
            p.observe(t, PaceEvent::WrapUpEnded { wrap_ms: 30_000 });
            p.observe(
                t,
                if i % 40 == 0 {
                    PaceEvent::Abandoned
                } else {
                    PaceEvent::Connected
                },
            );
        }
    }
    p
}

fn snapshot(rng: &mut Lcg, now: i64, agents: u32, ringing: usize, s: &mut PaceSnapshot) {
    s.clear();
    s.now_ms = now;
    let ready = rng.next(3) as u32;
    let wrapping = (agents / 7).min(agents - ready);
    s.ready_agents = ready;
    for _ in 0..wrapping {
        s.wrapping_up.push(rng.next(30_000));
    }
    for _ in 0..agents - ready - wrapping {
        s.talking.push(rng.next(600_000));
    }
    for _ in 0..ringing {
        s.ringing.push(rng.next(30_000));
    }
    s.channels_free = 10_000;
}

fn per_tick(mode: PacingMode, agents: u32, ringing: usize, ticks: usize) {
    let campaign = retention().0;
    let mut pacer = trained(PacingConfig::for_campaign(&campaign, mode));
    let mut rng = Lcg(7);
    let mut s = PaceSnapshot::default();
    let mut times = Vec::with_capacity(ticks);
    let mut lines = 0u64;
    for i in 0..ticks {
        snapshot(
            &mut rng,
            1_000_000 + i as i64 * 500,
            agents,
            ringing,
            &mut s,
        );
        let started = Instant::now();
        lines += u64::from(pacer.lines_to_dial(&s));
        times.push(started.elapsed().as_nanos() as u64);
    }
    times.sort_unstable();
    let q = |f: f64| times[((times.len() - 1) as f64 * f) as usize] as f64 / 1_000.0;
    println!(
        "{:<12} {agents:>4} agents {ringing:>4} ringing: p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>7.1} µs  ({} lines over {ticks} ticks)",
        mode.name(),
        q(0.5),
        q(0.99),
        q(1.0),
        lines
    );
}

fn hotline() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline")
}

fn retention() -> (dialect_compiler::ir::CampaignIr, Option<Calendar>) {
    let (_, ir) = dialect_compiler::compile_paths(&[hotline()]).expect("the hotline compiles");
    let c = ir
        .campaigns
        .iter()
        .find(|c| c.name == "retention")
        .expect("retention")
        .clone();
    let cal = c
        .calendar
        .and_then(|i| ir.calendars.get(i as usize))
        .map(Calendar::new);
    (c, cal)
}

/// One seed's figures of a mode: talk minutes per agent-hour, abandon %,
/// highest window %, idle %.
type Figures = (f64, f64, f64, f64);

fn goal(seeds: u64) {
    let (campaign, calendar) = retention();
    let text = std::fs::read_to_string(traffic_path()).expect("traffic file");
    let base = Traffic::parse(&text).expect("traffic");
    let mut rows: Vec<(String, Vec<Figures>)> = Vec::new();
    let started = Instant::now();
    for seed in 1..=seeds {
        let mut t = base.clone();
        t.seed = seed;
        let r = simulate::run(&campaign, calendar.clone(), &t).expect("simulation");
        for (name, m) in &r.modes {
            let entry = match rows.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e,
                None => {
                    rows.push((name.clone(), Vec::new()));
                    rows.last_mut().expect("just pushed")
                }
            };
            entry.1.push((
                m.talk_minutes_per_agent_hour,
                m.abandon_rate * 100.0,
                m.max_window_abandon_rate * 100.0,
                m.agent_idle_share * 100.0,
            ));
        }
    }
    println!(
        "\n{seeds} seeds of 5 h, 20 agents ({:.1} s): mean [lowest, highest]",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<12} {:>26} {:>26} {:>26} {:>26}",
        "mode", "talk min/agent-hour", "abandon %", "highest 1 h window %", "idle %"
    );
    for (name, v) in rows {
        let col = |f: fn(&Figures) -> f64| {
            let xs: Vec<f64> = v.iter().map(f).collect();
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            let lo = xs.iter().copied().fold(f64::MAX, f64::min);
            let hi = xs.iter().copied().fold(f64::MIN, f64::max);
            format!("{mean:.2} [{lo:.2}, {hi:.2}]")
        };
        println!(
            "{name:<12} {:>26} {:>26} {:>26} {:>26}",
            col(|x| x.0),
            col(|x| x.1),
            col(|x| x.2),
            col(|x| x.3)
        );
    }
}

fn main() {
    // `cargo test` runs benches with --test (or without --bench): keep it short.
    let full = std::env::args().any(|a| a == "--bench");
    let ticks = arg("--ticks", if full { 20_000 } else { 200 });
    let seeds = arg("--seeds", if full { 20 } else { 1 }) as u64;
    for mode in [
        PacingMode::Progressive,
        PacingMode::Predictive,
        PacingMode::Adapt,
    ] {
        per_tick(mode, 20, 6, ticks);
    }
    per_tick(PacingMode::Predictive, 500, 400, ticks);
    per_tick(PacingMode::Predictive, 60, 80, ticks);
    goal(seeds);
}
