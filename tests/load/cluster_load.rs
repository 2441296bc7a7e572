//! Load benchmark of the cluster of `scripts/cluster.sh`: IVR calls through
//! Kamailio to one, two and three runtimes on this machine, and the time
//! Kamailio takes to stop sending calls to a runtime killed with SIGKILL.
//!
//! For each cluster size it starts the cluster (release `dialect`), offers
//! `RATE` IVR calls a second for `SECONDS` through Kamailio, and reports the
//! calls that succeeded, each runtime's share and CPU seconds per call (from
//! /proc), and Kamailio's CPU per call (all its processes). On one machine
//! the runtimes share its cores, so the sum of CPU per call says what the
//! cluster would need on separate machines. Then, with three runtimes, it
//! kills one and reads Kamailio's dispatcher state every 10 ms until the
//! runtime is marked inactive; and it kills the runtime running the workorder
//! engine, then the one running the ACD, and reads the survivors' health
//! every 20 ms until one runs it (the take-over time, with the default lease
//! of 5 s and with 2 s).
//!
//! ```sh
//! cargo build --release -p dialect -p dialect-e2e
//! target/release/cluster-load 100 20      # calls/s, seconds per cluster size
//! target/release/cluster-load takeover    # only the take-over times
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FRONT: &str = "127.0.0.1:5290";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("dialect-cluster-load-{}", std::process::id()))
}

fn script(nodes: u32, arg: &str) {
    script_with(nodes, arg, "5s");
}

fn script_with(nodes: u32, arg: &str, lease: &str) {
    let bin = std::env::var("DIALECT_BIN")
        .unwrap_or_else(|_| repo().join("target/release/dialect").display().to_string());
    let out = Command::new(repo().join("scripts/cluster.sh"))
        .arg(arg)
        .env("DIALECT_CLUSTER_DIR", dir())
        .env("DIALECT_FRONT", FRONT)
        .env("DIALECT_NODES", nodes.to_string())
        .env("DIALECT_BIN", bin)
        .env("DIALECT_LEASE", lease)
        .output()
        .expect("scripts/cluster.sh runs");
    assert!(
        out.status.success(),
        "cluster.sh {arg}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pid(node: u32) -> u32 {
    std::fs::read_to_string(dir().join(format!("node{node}/dialect.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Kamailio's processes (it forks workers, timers and the prober).
fn kamailio_pids() -> Vec<u32> {
    let out = Command::new("pgrep")
        .args(["-f", "deploy/kamailio/kamailio.cfg"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

fn calls_total(node: u32) -> f64 {
    let out = Command::new("curl")
        .args(["-sf", "-m", "2"])
        .arg(format!("http://127.0.0.1{node}:8080/metrics"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("dialect_calls_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// SIPp's successful and failed calls of `calls` offered at `rate` a second.
fn offer(calls: u32, rate: u32) -> (u64, u64) {
    let scenario = std::fs::read_to_string(repo().join("tests/sipp/cluster_ivr.xml"))
        .unwrap()
        .replace("[pcap]", "/usr/share/sip-tester/dtmf_2833_1.pcap");
    let file = dir().join("cluster_ivr.xml");
    std::fs::write(&file, scenario).unwrap();
    let stats = dir().join("stat.csv");
    let _ = std::fs::remove_file(&stats);
    Command::new("sipp")
        .arg(FRONT)
        .arg("-sf")
        .arg(&file)
        .args(["-s", "10000", "-key", "caller", "13912345678"])
        .args(["-i", "127.0.0.1", "-p", "5291", "-mp", "16200"])
        .args(["-m", &calls.to_string(), "-r", &rate.to_string()])
        .args(["-l", &(rate * 10).to_string()])
        .args(["-timeout", &format!("{}s", calls / rate.max(1) + 60)])
        .args(["-nostdin", "-trace_stat", "-stf"])
        .arg(&stats)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    process::sipp_totals(&stats)
}

fn measure(nodes: u32, rate: u32, seconds: u32) {
    script(nodes, "start");
    let calls = rate * seconds;
    let pids: Vec<u32> = (1..=nodes).map(pid).collect();
    let kam = kamailio_pids();
    let cpu_before: Vec<f64> = pids.iter().map(|p| process::cpu_seconds(*p)).collect();
    let kam_before: f64 = kam.iter().map(|p| process::cpu_seconds(*p)).sum();
    let calls_before: Vec<f64> = (1..=nodes).map(calls_total).collect();
    let started = Instant::now();
    let (ok, failed) = offer(calls, rate);
    let took = started.elapsed().as_secs_f64();
    let shares: Vec<f64> = (1..=nodes)
        .map(|n| calls_total(n) - calls_before[n as usize - 1])
        .collect();
    let cpu: Vec<f64> = pids
        .iter()
        .zip(&cpu_before)
        .map(|(p, b)| process::cpu_seconds(*p) - b)
        .collect();
    let kam_cpu: f64 = kam.iter().map(|p| process::cpu_seconds(*p)).sum::<f64>() - kam_before;
    let per_call: Vec<String> = cpu
        .iter()
        .zip(&shares)
        .map(|(c, s)| format!("{:.2}", if *s > 0.0 { c / s * 1000.0 } else { 0.0 }))
        .collect();
    println!(
        "{nodes} runtime(s): {ok} of {calls} calls succeeded ({failed} failed) in {took:.0} s; \
         calls per runtime {shares:?}; runtime CPU ms per call {per_call:?}; \
         Kamailio CPU ms per call {:.3}",
        kam_cpu / (ok.max(1) as f64) * 1000.0
    );
    script(nodes, "stop");
}

/// Milliseconds from a SIGKILL of node 2 until Kamailio marks it inactive.
fn detection(rate: u32) -> f64 {
    script(3, "start");
    let ctl = format!("unix:{}", dir().join("kamailio.ctl").display());
    let inactive = || {
        let out = Command::new("kamcmd")
            .args(["-s", &ctl, "dispatcher.list"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        // Each destination: URI then FLAGS (AP active, IP inactive probing...).
        let mut lines = text.lines().skip_while(|l| !l.contains("127.0.0.12:5060"));
        lines
            .find(|l| l.trim_start().starts_with("FLAGS"))
            .is_some_and(|l| l.contains('I'))
    };
    // Some calls in flight, as under load.
    let load = std::thread::spawn(move || offer(rate * 5, rate));
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    Command::new("kill")
        .args(["-KILL", &pid(2).to_string()])
        .status()
        .unwrap();
    while !inactive() && killed.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let ms = killed.elapsed().as_secs_f64() * 1000.0;
    let _ = load.join();
    script(3, "stop");
    ms
}

/// The runtimes (1 to 3) running `service` now, by their health answers.
fn running(service: &str) -> Vec<u32> {
    (1..=3)
        .filter(|n| {
            let out = Command::new("curl")
                .args(["-sf", "-m", "1"])
                .arg(format!("http://127.0.0.1{n}:8080/api/v1/health"))
                .output();
            out.is_ok_and(|o| {
                serde_json::from_slice::<serde_json::Value>(&o.stdout).is_ok_and(|h| {
                    h["cluster"]["runs"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|s| s == service))
                })
            })
        })
        .collect()
}

/// Milliseconds from a SIGKILL of the runtime running `service` (the
/// workorder engine, the ACD) until another runs it.
fn takeover(lease: &str, service: &str) -> f64 {
    script_with(3, "start", lease);
    let mut holder = running(service);
    for _ in 0..200 {
        if !holder.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        holder = running(service);
    }
    let dead = holder[0];
    let killed = Instant::now();
    Command::new("kill")
        .args(["-KILL", &pid(dead).to_string()])
        .status()
        .unwrap();
    while killed.elapsed() < Duration::from_secs(60) {
        if running(service).iter().any(|&n| n != dead) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ms = killed.elapsed().as_secs_f64() * 1000.0;
    script_with(3, "stop", lease);
    ms
}

/// Three take-overs of each service with each lease length, printed.
fn report_takeovers() {
    for (service, what) in [("workorders", "workorder engine"), ("acd", "ACD")] {
        for lease in ["5s", "2s"] {
            let times: Vec<f64> = (0..3).map(|_| takeover(lease, service)).collect();
            println!(
                "{what} running on a survivor {:?} ms after its runtime was killed (3 runs; lease {lease})",
                times.iter().map(|t| t.round()).collect::<Vec<_>>()
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "takeover") {
        report_takeovers();
        let _ = std::fs::remove_dir_all(dir());
        return;
    }
    let rate: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let seconds: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(20);
    for nodes in 1..=3 {
        measure(nodes, rate, seconds);
    }
    let times: Vec<f64> = (0..3).map(|_| detection(rate.min(50))).collect();
    println!(
        "dead runtime marked inactive after {:?} ms (3 runs; probes every 1 s)",
        times.iter().map(|t| t.round()).collect::<Vec<_>>()
    );
    report_takeovers();
    let _ = std::fs::remove_dir_all(dir());
}
