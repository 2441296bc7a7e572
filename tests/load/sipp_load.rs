//! Load benchmark of `dialect run` with SIPp on loopback: the IVR call at rising
//! call rates, and held calls with audio both ways. Starts the release `dialect`
//! binary as a child process on its own ports and data folder, runs each step
//! twice, and reports SIPp's successful/failed calls, the runtime's own CPU per
//! call (from /proc), its memory per active call, the share of RTP packets sent
//! on time (±2 ms, from the runtime's metrics) and that no call is left over.
//!
//! ```sh
//! cargo build --release -p dialect -p dialect-e2e
//! target/release/sipp-load ivr 200,400,700 10      # rates (calls/s), seconds per step
//! target/release/sipp-load held 1000,2000 30       # held calls, seconds held
//! ```
//!
//! `DIALECT_BIN=path/to/dialect` runs another build instead (to compare two
//! builds in alternation on a noisy machine).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "process.rs"]
mod process;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SIP_PORT: u16 = 5190;
const HTTP_PORT: u16 = 8190;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The runtime under test.
struct Server {
    child: Child,
    data: PathBuf,
}

impl Server {
    fn start(project: &Path) -> Server {
        let data = std::env::temp_dir().join(format!("dialect-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let config = data.join("dialect.yaml");
        std::fs::write(
            &config,
            format!(
                "sip: {{ listen: 127.0.0.1:{SIP_PORT}, tcp: false }}\n\
                 http: {{ listen: 127.0.0.1:{HTTP_PORT} }}\n\
                 rtp: {{ ports: 20000-45999, inband_dtmf: never }}\n\
                 data_dir: {}\n\
                 project: {}\n\
                 limits: {{ max_calls: 20000, calls_per_second: 5000 }}\n\
                 logging: {{ level: error }}\n\
                 speech: {{ asr: \"off\" }}\n\
                 services: {{ crm: \"http://127.0.0.1:9/crm\", billing: \"http://127.0.0.1:9/billing\" }}\n",
                data.display(),
                project.display()
            ),
        )
        .unwrap();
        let bin = std::env::var_os("DIALECT_BIN")
            .map_or_else(|| repo().join("target/release/dialect"), PathBuf::from);
        let child = Command::new(&bin)
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (cargo build --release -p dialect)",
                    bin.display()
                )
            });
        let s = Server { child, data };
        let deadline = Instant::now() + Duration::from_secs(120);
        while http_get("/api/v1/health").is_none_or(|(code, _)| code != 200) {
            assert!(Instant::now() < deadline, "the server did not get ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        s
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds of the server so far.
    fn cpu_seconds(&self) -> f64 {
        process::cpu_seconds(self.pid())
    }

    /// Resident memory in bytes.
    fn rss(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// A bare HTTP/1.1 GET to the server's API: status and body.
fn http_get(path: &str) -> Option<(u16, String)> {
    use std::io::Read as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", HTTP_PORT)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

fn metric(name: &str) -> f64 {
    http_get("/metrics")
        .and_then(|(_, body)| {
            body.lines()
                .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// What SIPp reported for one step.
struct SippResult {
    successful: u64,
    failed: u64,
}

/// Where SIPp's scenario copies and statistics go for this run.
fn sipp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("dialect-load-sipp-{}", std::process::id()))
}

/// Runs SIPp with `scenario` and extra arguments for at most `timeout` (its own
/// `-timeout`, and a kill 30 s after that should SIPp itself hang); reads the
/// final counts from its statistics file.
fn run_sipp(
    scenario: &str,
    keys: &[(&str, String)],
    extra: &[String],
    timeout: Duration,
) -> SippResult {
    let mut text = std::fs::read_to_string(repo().join("tests/sipp").join(scenario)).unwrap();
    for (k, v) in keys {
        text = text.replace(&format!("=\"[{k}]"), &format!("=\"{v}"));
    }
    let dir = sipp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let sf = dir.join(scenario);
    std::fs::write(&sf, text).unwrap();
    let stats = dir.join("stats.csv");
    let _ = std::fs::remove_file(&stats);
    let mut cmd = Command::new("sipp");
    cmd.arg(format!("127.0.0.1:{SIP_PORT}"))
        .arg("-sf")
        .arg(&sf)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", "5199"])
        .args(["-nostdin", "-trace_stat", "-fd", "1", "-stf"])
        .arg(&stats)
        .args(["-recv_timeout", "30000", "-max_socket", "50000"])
        .args(["-key", "caller", "13912345678"])
        .args(extra)
        .args(["-timeout", &format!("{}s", timeout.as_secs())])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("sipp runs (install sip-tester)");
    let kill_at = Instant::now() + timeout + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("sipp's status") {
            break status;
        }
        if Instant::now() > kill_at {
            eprintln!("sipp did not end {timeout:?} after it started: killed");
            let _ = child.kill();
            break child.wait().expect("sipp's status");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (successful, failed) = process::sipp_totals(&stats);
    let r = SippResult { successful, failed };
    if !status.success() && r.successful + r.failed == 0 {
        eprintln!("sipp exited with {status} and no statistics");
    }
    r
}

/// Samples the server's RSS and active calls while `f` runs.
fn sampled<T>(server: &Server, f: impl FnOnce() -> T) -> (T, u64, f64) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pid = server.pid();
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut peak_rss, mut peak_active) = (0u64, 0f64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let rss = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                    .unwrap_or(0)
                    * 1024;
                peak_rss = peak_rss.max(rss);
                let active = metric("dialect_calls_active");
                if active.is_finite() {
                    peak_active = peak_active.max(active);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            (peak_rss, peak_active)
        })
    };
    let out = f();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (rss, active) = sampler.join().unwrap();
    (out, rss, active)
}

/// The machine's CPU time so far from /proc/stat, in clock ticks: (all, stolen
/// by the hypervisor).
fn machine_cpu_times() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    (fields.iter().sum(), fields.get(7).copied().unwrap_or(0))
}

/// Waits until no call is active; the number left after 30 s.
fn leftover() -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = metric("dialect_calls_active");
        if a == 0.0 || Instant::now() > deadline {
            return a;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct Row {
    step: String,
    run: u32,
    calls: u64,
    ok_pct: f64,
    cpu_ms_per_call: f64,
    cpu_pct: f64,
    kib_per_call: f64,
    peak_active: f64,
    on_time_pct: f64,
    /// Media clock wake-ups more than 1 ms late, and grid milliseconds whose
    /// work took more than 1 ms, during the step (per mille of wake-ups).
    late_wakes_permille: f64,
    long_visits_permille: f64,
    /// Time the hypervisor ran something else instead of this machine's CPUs
    /// during the step, as a share of all CPU time (a virtual machine's own
    /// late wake-ups follow from it, whatever runs inside).
    steal_pct: f64,
    left: f64,
    /// Calls the runtime refused with 503 (any limit, measured load included).
    refused: u64,
    /// Of those, refused because the node was overloaded.
    refused_overload: u64,
    /// Calls that failed without a 503: timed out or broken off.
    failed_otherwise: u64,
}

fn step(server: &Server, name: String, run: u32, go: impl FnOnce() -> SippResult) -> Row {
    let idle_rss = server.rss();
    let cpu0 = server.cpu_seconds();
    let ticks0 = metric("dialect_rtp_ticks_total");
    // Off time: more than 2 ms from the deadline either way, or not sent at all.
    // (Builds before the clock's lead counted late ticks only, under another
    // name; reading both lets `DIALECT_BIN` compare with them.)
    let off_time = || {
        let off = metric("dialect_rtp_off_time_ticks_total");
        let off = if off.is_nan() {
            metric("dialect_rtp_late_ticks_total")
        } else {
            off
        };
        off + metric("dialect_rtp_skipped_ticks_total")
    };
    let late0 = off_time();
    let clock = || {
        [
            metric("dialect_media_clock_wakes_total"),
            metric("dialect_media_clock_late_wakes_total"),
            metric("dialect_media_clock_long_visits_total"),
        ]
    };
    let clock0 = clock();
    let cpu_times0 = machine_cpu_times();
    let refused0 = metric("dialect_calls_refused_total");
    let overload0 = metric("dialect_calls_refused_overload_total");
    let t0 = Instant::now();
    let (r, peak_rss, peak_active) = sampled(server, go);
    let left = leftover();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let ticks = metric("dialect_rtp_ticks_total") - ticks0;
    let late = off_time() - late0;
    let calls = r.successful + r.failed;
    let clock1 = clock();
    let wakes = (clock1[0] - clock0[0]).max(1.0);
    let cpu_times1 = machine_cpu_times();
    let all = (cpu_times1.0 - cpu_times0.0).max(1) as f64;
    let steal_pct = 100.0 * (cpu_times1.1 - cpu_times0.1) as f64 / all;
    let count = |now: f64, before: f64| {
        if now.is_nan() || before.is_nan() {
            0
        } else {
            (now - before).max(0.0) as u64
        }
    };
    let refused = count(metric("dialect_calls_refused_total"), refused0);
    let refused_overload = count(metric("dialect_calls_refused_overload_total"), overload0);
    Row {
        step: name,
        run,
        calls,
        ok_pct: 100.0 * r.successful as f64 / calls.max(1) as f64,
        cpu_ms_per_call: 1000.0 * cpu / calls.max(1) as f64,
        cpu_pct: 100.0 * cpu / wall,
        kib_per_call: peak_rss.saturating_sub(idle_rss) as f64 / 1024.0 / peak_active.max(1.0),
        peak_active,
        on_time_pct: 100.0 * (1.0 - late / ticks.max(1.0)),
        late_wakes_permille: 1000.0 * (clock1[1] - clock0[1]) / wakes,
        long_visits_permille: 1000.0 * (clock1[2] - clock0[2]) / wakes,
        steal_pct,
        left,
        refused,
        refused_overload,
        failed_otherwise: r.failed.saturating_sub(refused),
    }
}

fn print(rows: &[Row]) {
    println!(
        "| step | run | calls | successful | refused 503 (for load) | admitted that completed | failed without 503 | runtime CPU ms/call | runtime CPU % | KiB per active call | peak active | RTP on time | clock wakes > 1 ms late | clock ms > 1 ms of work | CPU stolen by the host | left over |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.2} % | {} ({}) | {:.2} % | {} | {:.2} | {:.0} % | {:.1} | {:.0} | {:.3} % | {:.2} ‰ | {:.2} ‰ | {:.1} % | {} |",
            r.step,
            r.run,
            r.calls,
            r.ok_pct,
            r.refused,
            r.refused_overload,
            100.0 * (r.ok_pct / 100.0 * r.calls as f64)
                / (r.calls.saturating_sub(r.refused)).max(1) as f64,
            r.failed_otherwise,
            r.cpu_ms_per_call,
            r.cpu_pct,
            r.kib_per_call,
            r.peak_active,
            r.on_time_pct,
            r.late_wakes_permille,
            r.long_visits_permille,
            r.steal_pct,
            r.left
        );
    }
}

/// A project: the hotline plus a flow on 20000 that keeps callers on hold music.
fn project() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dialect-load-project-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_tree(&repo().join("flows/hotline"), &dir);
    std::fs::write(
        dir.join("held.flow"),
        "# Keeps the caller on hold music until they hang up (load benchmark).\n\
         flow held \"保持\" on \"20000\" {\n  again:\n  play \"hold_music.wav\"\n  goto again\n}\n",
    )
    .unwrap();
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, target).unwrap();
        }
    }
}

/// Ten seconds of a 440 Hz tone, headerless A-law, for SIPp's rtp_stream.
fn alaw_file() -> PathBuf {
    use dialect_media::g711::Law;
    let pcm: Vec<i16> = (0..80_000)
        .map(|i| (4000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin()) as i16)
        .collect();
    let mut bytes = vec![0u8; pcm.len()];
    Law::Alaw.encode(&pcm, &mut bytes);
    let path = std::env::temp_dir().join(format!("dialect-load-{}.alaw", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn list(arg: Option<&String>, default: &str) -> Vec<u64> {
    arg.map_or(default, |s| s.as_str())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("ivr", |s| s.as_str());
    let project = project();
    let server = Server::start(&project);
    let mut rows = Vec::new();
    match mode {
        "ivr" => {
            let rates = list(args.get(2), "200,400,700");
            let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
            let pcap = "/usr/share/sip-tester/dtmf_2833_1.pcap".to_string();
            for rate in rates {
                for run in 1..=2 {
                    let calls = rate * seconds;
                    let extra: Vec<String> = [
                        "-s",
                        "10000",
                        "-r",
                        &rate.to_string(),
                        "-m",
                        &calls.to_string(),
                        "-l",
                        &(rate * 10).to_string(),
                        "-mp",
                        "50000",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                    let row = step(&server, format!("IVR {rate} calls/s"), run, || {
                        let timeout = Duration::from_secs(seconds + 60);
                        run_sipp("bench_ivr.xml", &[("pcap", pcap.clone())], &extra, timeout)
                    });
                    print(std::slice::from_ref(&row));
                    rows.push(row);
                }
            }
        }
        "held" => {
            let counts = list(args.get(2), "1000,2000");
            let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(30);
            let alaw = alaw_file();
            for held in counts {
                for run in 1..=2 {
                    let rate = 200.min(held);
                    let extra: Vec<String> = [
                        "-s",
                        "20000",
                        "-r",
                        &rate.to_string(),
                        "-m",
                        &held.to_string(),
                        "-l",
                        &held.to_string(),
                        "-d",
                        &(seconds * 1000).to_string(),
                        "-mp",
                        "50000",
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                    let row = step(&server, format!("{held} held calls"), run, || {
                        run_sipp(
                            "bench_held.xml",
                            &[("alaw", alaw.display().to_string())],
                            &extra,
                            Duration::from_secs(seconds + held / rate + 60),
                        )
                    });
                    print(std::slice::from_ref(&row));
                    rows.push(row);
                }
            }
        }
        other => panic!("unknown mode {other}: use ivr or held"),
    }
    println!();
    print(&rows);
    let _ = std::fs::remove_dir_all(&project);
    let _ = std::fs::remove_dir_all(sipp_dir());
}
