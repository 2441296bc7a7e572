//! The end-to-end test harness: starts the real runtime in-process on loopback
//! ports (fresh data folder, the reference project, a mock CRM and billing service),
//! runs SIPp scenarios from `tests/sipp/` against it with time limits, and reads
//! the results back through the HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use dialect_runtime::config::{Config, PortRange};
use tokio_util::sync::CancellationToken;

/// Each test server gets its own RTP port range.
static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A SIPp scenario file.
pub fn scenario(name: &str) -> PathBuf {
    repo().join("tests/sipp").join(name)
}

/// A UDP port free a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// The tests hand out these ports themselves, all below the OS's ephemeral ports
// (from 32768), so a port handed out here is free unless this process still uses
// it (test binaries run one after the other):
// - 10000–19999: SIPp media, 4 ports per run;
// - 20000–20999: SIP ports of test servers, SIPp instances, test phones and trunks;
// - 21000–32499: the runtime's RTP ports, 500 per test server.

/// A media port for one SIPp run, different for every run of this test process
/// (SIPp uses the port and the three after it).
pub fn sipp_media_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    10_000 + (n % 2_500) * 4
}

/// A SIP port for one test server, SIPp instance, test phone or trunk, different for
/// every call of this test process (up to a thousand).
pub fn test_sip_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    20_000 + NEXT.fetch_add(1, Ordering::Relaxed) % 1_000
}

/// A running runtime.
pub struct TestServer {
    /// SIP (UDP).
    pub sip: SocketAddr,
    /// HTTP API.
    pub http: SocketAddr,
    /// The admin token.
    pub token: String,
    /// Its data folder.
    pub data: PathBuf,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A mock of the CRM and billing services the hotline looks up.
pub async fn mock_services() -> SocketAddr {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/crm/customers/by-phone/{phone}",
            get(|axum::extract::Path(phone): axum::extract::Path<String>| async move {
                let vip = phone.starts_with("139");
                axum::Json(serde_json::json!({
                    "id": format!("C-{phone}"), "name": "张三", "level": if vip { 3 } else { 1 },
                    "status": "normal", "vip": vip
                }))
            }),
        )
        .route(
            "/crm/customers/verify",
            post(|| async { axum::Json(serde_json::json!({ "ok": true, "attempts_left": 3 })) }),
        )
        .route(
            "/billing/balance/{account}",
            get(|| async {
                axum::Json(serde_json::json!({
                    "balance": 58.5, "due_date": "2026-12-15", "overdue": false, "last_payment": 100
                }))
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    addr
}

impl TestServer {
    /// Starts the runtime with the hotline, changed by `adjust`.
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let services = mock_services().await;
        let n = NEXT_RANGE.fetch_add(1, Ordering::SeqCst);
        let data = std::env::temp_dir().join(format!(
            "dialect-e2e-{}-{n}-{}",
            std::process::id(),
            free_udp_port()
        ));
        let mut c = Config::default();
        c.sip.listen = SocketAddr::from(([127, 0, 0, 1], test_sip_port()));
        c.sip.tcp = false;
        c.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let first = 21_000 + (n % 23) * 500;
        c.rtp.ports = PortRange {
            first,
            last: first + 498,
        };
        c.data_dir = data.clone();
        c.project = Some(repo().join("flows/hotline"));
        c.speech.asr = "off".into();
        c.engine = std::env::var("DIALECT_TEST_ENGINE")
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or_default();
        c.services
            .insert("crm".into(), format!("http://{services}/crm"));
        c.services
            .insert("billing".into(), format!("http://{services}/billing"));
        c.limits.shutdown_grace = dialect_runtime::config::Duration(Duration::from_secs(5));
        adjust(&mut c);
        let token = c.api_users[0].token.clone();
        let shutdown = CancellationToken::new();
        let server = dialect_runtime::server::start(c, shutdown.clone())
            .await
            .expect("the runtime starts");
        let sip = server.listening.sip_udp.expect("SIP over UDP");
        let http = server.listening.http;
        let task = tokio::spawn(server.serve());
        TestServer {
            sip,
            http,
            token,
            data,
            shutdown,
            task: Some(task),
        }
    }

    /// GET an API path as the admin; the JSON answer.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        reqwest::Client::new()
            .get(format!("http://{}{path}", self.http))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every contact record, newest first.
    pub async fn contacts(&self) -> Vec<serde_json::Value> {
        self.get("/api/v1/contacts")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Places one call with the SIPp scenario `file` and `keys` within `seconds`,
    /// checks SIPp saw it through, and returns the contact records once it is saved.
    pub async fn one_call(
        &self,
        file: &'static str,
        keys: Vec<(&'static str, String)>,
        seconds: u64,
    ) -> Vec<serde_json::Value> {
        let run = sipp_async(file, self.sip, 1, 1, keys, seconds).await;
        assert_eq!(run.code, 0, "{}", run.output);
        self.wait_contacts(1).await
    }

    /// Waits until `n` contact records exist (calls end asynchronously).
    pub async fn wait_contacts(&self, n: usize) -> Vec<serde_json::Value> {
        for _ in 0..100 {
            let c = self.contacts().await;
            if c.len() >= n {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.contacts().await
    }

    /// A Prometheus metric's value.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// A labelled Prometheus metric's value (`labels` as written between the
    /// braces, e.g. `reason="wrong_password"`).
    pub async fn metric_labelled(&self, name: &str, labels: &str) -> f64 {
        self.metric(&format!("{name}{{{labels}}}")).await
    }

    /// Stops the server and removes its data.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
        }
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// What a SIPp run ended with.
#[derive(Debug)]
pub struct SippRun {
    /// Exit code: 0 when every call succeeded.
    pub code: i32,
    /// Its standard error and output, for failure messages.
    pub output: String,
}

/// Runs a SIPp scenario against `target` (blocking; call from `spawn_blocking`),
/// `calls` calls, `limit` at once, within `seconds`.
pub fn sipp(
    file: &str,
    target: SocketAddr,
    calls: u32,
    limit: u32,
    keys: &[(&str, &str)],
    seconds: u64,
) -> SippRun {
    // SIPp substitutes keys in messages only; attributes such as rtp_stream's file
    // get theirs here, in a copy of the scenario.
    let mut text = std::fs::read_to_string(scenario(file)).expect("the scenario exists");
    for (k, v) in keys {
        text = text.replace(&format!("=\"[{k}]"), &format!("=\"{v}"));
    }
    let copy = std::env::temp_dir().join(format!(
        "dialect-sipp-{}-{}-{file}",
        std::process::id(),
        free_udp_port()
    ));
    std::fs::write(&copy, text).unwrap();
    let mut cmd = Command::new("sipp");
    cmd.arg(target.to_string())
        .arg("-sf")
        .arg(&copy)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &test_sip_port().to_string()])
        .args(["-mp", &sipp_media_port().to_string()])
        .args([
            "-m",
            &calls.to_string(),
            "-l",
            &limit.to_string(),
            "-r",
            &limit.max(1).to_string(),
        ])
        .args(["-timeout", &format!("{seconds}s"), "-timeout_error"])
        .args(["-recv_timeout", "20000"])
        .args(["-nostdin", "-trace_err", "-error_file", "/dev/stderr"]);
    // [service] is the dialled number (SIPp's -s); keys given win over the defaults.
    let service = keys
        .iter()
        .find(|(k, _)| *k == "service")
        .map(|(_, v)| *v)
        .unwrap_or("10000");
    cmd.args(["-s", service]);
    // SIPp does not substitute keys in <pause>: [hold] becomes the default pause (-d).
    if let Some((_, hold)) = keys.iter().find(|(k, _)| *k == "hold") {
        cmd.args(["-d", hold]);
    }
    let mut all: Vec<(&str, &str)> = vec![("caller", "13912345678")];
    for (k, v) in keys {
        all.retain(|(x, _)| x != k);
        all.push((k, v));
    }
    for (k, v) in all
        .into_iter()
        .filter(|(k, _)| *k != "service" && *k != "hold")
    {
        cmd.args(["-key", k, v]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = cmd.output().expect("sipp runs (install sip-tester)");
    let _ = std::fs::remove_file(&copy);
    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    output.push_str(&stdout[stdout.len().saturating_sub(3000)..]);
    SippRun {
        code: out.status.code().unwrap_or(-1),
        output,
    }
}

/// Runs SIPp off the async runtime.
pub async fn sipp_async(
    file: &'static str,
    target: SocketAddr,
    calls: u32,
    limit: u32,
    keys: Vec<(&'static str, String)>,
    seconds: u64,
) -> SippRun {
    tokio::task::spawn_blocking(move || {
        let k: Vec<(&str, &str)> = keys.iter().map(|(a, b)| (*a, b.as_str())).collect();
        sipp(file, target, calls, limit, &k, seconds)
    })
    .await
    .unwrap()
}

/// The nodes of a contact's trail, with their details.
pub fn trail(contact: &serde_json::Value) -> Vec<(String, String)> {
    contact["trail"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["node"].as_str().unwrap_or("").to_string(),
                        t["detail"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes a raw mu-law file with DTMF tones for `digits` (for SIPp's `rtp_stream`).
pub fn dtmf_ulaw_file(digits: &str) -> PathBuf {
    use dialect_media::g711::Law;
    let mut pcm: Vec<i16> = vec![0; 8000];
    for c in digits.chars() {
        let key = dialect_media::dtmf::DtmfKey::from_char(c).expect("a DTMF key");
        let (lo, hi) = key.frequencies();
        for i in 0..960 {
            let t = i as f32 / 8000.0;
            let v = 6000.0 * (2.0 * std::f32::consts::PI * lo * t).sin()
                + 6000.0 * (2.0 * std::f32::consts::PI * hi * t).sin();
            pcm.push(v as i16);
        }
        pcm.extend(std::iter::repeat_n(0, 800));
    }
    pcm.extend(std::iter::repeat_n(0, 8000));
    let mut bytes = vec![0u8; pcm.len()];
    Law::Ulaw.encode(&pcm, &mut bytes);
    let path =
        std::env::temp_dir().join(format!("dialect-dtmf-{digits}-{}.ulaw", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}
