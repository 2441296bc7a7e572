//! Load benchmark of the wallboards' event stream: `dialect run` as a child
//! process with a generated project of 50 queues and 2,000 agents, N pages
//! following `GET /api/v1/acd/events` (WebSocket clients in this process) and
//! a supervisor's script changing agents' states at a fixed rate (each change
//! is one ACD event every page receives). Reports the runtime's own CPU share
//! (from /proc) while the events flow, and how long an event takes from the
//! ACD's timestamp to each page (p50, p95, p99, max).
//!
//! ```sh
//! cargo build --release -p dialect -p dialect-e2e
//! target/release/wallboard-load 500 100 20     # pages, events/s, seconds
//! target/release/wallboard-load browser 100 20 # the wallboard page in Chromium
//! ```
//!
//! With `browser`, the one page is the wallboard itself in headless Chromium
//! (chromedriver, as the browser tests use it), signed in as the supervisor:
//! a watcher in the page notes when each agent's state badge changes and the
//! frame showing it is painted, and the delay is from the ACD's timestamp of
//! the event to then.
//!
//! `DIALECT_BIN=path/to/dialect` runs another build instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "process.rs"]
#[allow(
    dead_code,
    reason = "the SIPp statistics reader serves the call benchmarks"
)]
mod process;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const HTTP_PORT: u16 = 8191;
const SIP_PORT: u16 = 5191;
const TOKEN: &str = "wallboard-load-3f8a91c2d7e4b6051a";
const PASSWORD: &str = "wallboard-load-Board-pass";
const QUEUES: usize = 50;
const AGENTS: usize = 2_000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A project of `QUEUES` queues every agent may take.
fn write_project(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = String::from("skill general levels 1..5\n\n");
    for q in 0..QUEUES {
        text.push_str(&format!(
            "queue q{q:02} \"Queue {q}\" {{\n  skills general >= 1\n  strategy longest_idle\n  priority 0\n}}\n\n"
        ));
    }
    text.push_str("flow main on \"5000\" {\n  transfer queue q00\n}\n");
    std::fs::write(dir.join("center.flow"), text).unwrap();
}

struct Server {
    child: Child,
    data: PathBuf,
}

impl Server {
    fn start() -> Server {
        let data = std::env::temp_dir().join(format!("dialect-wallboard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let project = data.join("project");
        write_project(&project);
        let mut agents = String::new();
        for a in 0..AGENTS {
            agents.push_str(&format!(
                "  - {{ id: \"a{a:04}\", name: \"Agent {a}\", password: \"blue-pigeon-{a:04}-x\", skills: {{ general: 1 }} }}\n"
            ));
        }
        let config = data.join("dialect.yaml");
        std::fs::write(
            &config,
            format!(
                "sip: {{ listen: 127.0.0.1:{SIP_PORT}, tcp: false }}\n\
                 http: {{ listen: 127.0.0.1:{HTTP_PORT}, max_connections: 4000, max_connections_per_source: 4000 }}\n\
                 data_dir: {}\n\
                 project: {}\n\
                 logging: {{ level: error }}\n\
                 speech: {{ asr: \"off\" }}\n\
                 api_users:\n  - {{ name: boss, token: \"{TOKEN}\", password: \"{hash}\", role: supervisor }}\n\
                 agents:\n{agents}",
                data.display(),
                project.display(),
                hash = dialect_runtime::login::hash_password(PASSWORD).unwrap(),
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
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Server { child, data }
    }

    /// User + system CPU seconds of the server so far.
    fn cpu_seconds(&self) -> f64 {
        process::cpu_seconds(self.child.id())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Waits until the server answers its health check.
async fn ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let ok = http
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "the server did not get ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The supervisor's script: agents made ready and not ready in turn, `rate`
/// a second for `seconds`. Returns the number of changes asked for.
async fn change_agents(http: &reqwest::Client, base: &str, rate: u64, seconds: u64) -> u64 {
    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut sent = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        interval.tick().await;
        let agent = sent as usize % AGENTS;
        let op = if (sent as usize / AGENTS).is_multiple_of(2) {
            "force_ready"
        } else {
            "force_not_ready"
        };
        let http = http.clone();
        let url = format!("{base}/api/v1/agents/a{agent:04}/{op}");
        tokio::spawn(async move {
            let _ = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({ "reason": "load" }))
                .send()
                .await;
        });
        sent += 1;
    }
    sent
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("browser") {
        let rate: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100);
        let seconds: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(20);
        return in_browser(rate, seconds).await;
    }
    let pages: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(500);
    let rate: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100);
    let seconds: u64 = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(20);
    let server = Server::start();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{HTTP_PORT}");
    ready(&http, &base).await;
    // The pages: each keeps the delay of every agent-state event it receives.
    let measuring = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..pages {
        let mut req = format!("ws://127.0.0.1:{HTTP_PORT}/api/v1/acd/events")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let measuring = measuring.clone();
        let received = received.clone();
        tasks.push(tokio::spawn(async move {
            let mut delays = Vec::new();
            while let Some(Ok(m)) = ws.next().await {
                let Ok(text) = m.to_text() else { continue };
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
                    continue;
                };
                if let Some(at) = v["at_ms"].as_i64() {
                    delays.push(now_ms() - at);
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
            delays
        }));
    }
    // The supervisor's script: agents made ready and not ready in turn.
    measuring.store(true, Ordering::Relaxed);
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let sent = change_agents(&http, &base, rate, seconds).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = server.cpu_seconds() - cpu_before;
    let wall = started.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    drop(server);
    let mut delays = Vec::new();
    for t in tasks {
        if let Ok(d) = tokio::time::timeout(Duration::from_secs(5), t).await {
            delays.extend(d.unwrap_or_default());
        }
    }
    delays.sort_unstable();
    println!(
        "{pages} pages, {rate} state changes/s for {seconds} s: {sent} changes, {} events delivered ({:.1} per page per change)",
        received.load(Ordering::Relaxed),
        received.load(Ordering::Relaxed) as f64 / (pages.max(1) as f64 * sent.max(1) as f64),
    );
    println!(
        "runtime CPU: {:.1} % of one core; event to page: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
        cpu / wall * 100.0,
        percentile(&delays, 0.5),
        percentile(&delays, 0.95),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0),
    );
}

/// Notes, in the page, each change of an agent's state badge as `[agent,
/// state, epoch ms]`, stamped once the frame that shows it has been painted
/// (the next animation frame, then the task after it).
const WATCH_BADGES: &str = r#"
window.__seen = [];
let waiting = [];
new MutationObserver((changes) => {
  for (const m of changes) {
    const state = m.target.dataset.state;
    if (m.oldValue === state) continue;
    const row = m.target.closest("tr[data-agent]");
    if (row) waiting.push([row.dataset.agent, state]);
  }
  if (waiting.length === 0) return;
  const batch = waiting;
  waiting = [];
  requestAnimationFrame(() => setTimeout(() => {
    const at = Date.now();
    for (const [agent, state] of batch) window.__seen.push([agent, state, at]);
  }, 0));
}).observe(document.getElementById("agents"), {
  subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ["data-state"],
});
"#;

/// The wallboard in Chromium: from each agent-state event's ACD timestamp to
/// the page's badge showing the new state.
async fn in_browser(rate: u64, seconds: u64) {
    use dialect_e2e::browser;
    let server = Server::start();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{HTTP_PORT}");
    ready(&http, &base).await;
    let driver = browser::chromedriver().await;
    let page = browser::browser(&driver).await;
    page.goto(&format!("{base}/wallboard")).await.unwrap();
    browser::sign_in_page(&page, "boss", PASSWORD).await;
    // Every agent's row is drawn before the clock starts.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = page
            .execute(
                "return document.querySelectorAll('#agents tr[data-agent]').length",
                vec![],
            )
            .await
            .unwrap();
        if rows.as_u64() == Some(AGENTS as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the wallboard drew {rows} agents of {AGENTS}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    page.execute(WATCH_BADGES, vec![]).await.unwrap();
    // The events as the ACD stamped them, from a stream of this process.
    let mut req = format!("ws://127.0.0.1:{HTTP_PORT}/api/v1/acd/events")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let stamps = tokio::spawn(async move {
        let mut stamps = std::collections::HashMap::new();
        while let Some(Ok(m)) = ws.next().await {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(m.to_text().unwrap_or("")) else {
                continue;
            };
            if v["event"] == "agent_state"
                && let (Some(agent), Some(state), Some(at)) = (
                    v["agent"].as_str(),
                    v["state"].as_str(),
                    v["at_ms"].as_i64(),
                )
            {
                stamps.insert((agent.to_string(), state.to_string()), at);
            }
        }
        stamps
    });
    let sent = change_agents(&http, &base, rate, seconds).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = page.execute("return window.__seen", vec![]).await.unwrap();
    drop(server);
    let stamps = tokio::time::timeout(Duration::from_secs(5), stamps)
        .await
        .unwrap()
        .unwrap();
    let mut delays: Vec<i64> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            let key = (s[0].as_str()?.to_string(), s[1].as_str()?.to_string());
            Some(s[2].as_i64()? - stamps.get(&key)?)
        })
        .collect();
    delays.sort_unstable();
    println!(
        "the wallboard in Chromium, {AGENTS} agents in {QUEUES} queues, {rate} state changes/s for {seconds} s: \
         {sent} changes, {} stamped, {} shown",
        stamps.len(),
        delays.len()
    );
    println!(
        "event to page: p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
        percentile(&delays, 0.5),
        percentile(&delays, 0.95),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(0),
    );
}
