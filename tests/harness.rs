//! The end-to-end test harness: starts the real runtime in-process on loopback
//! ports (fresh data folder, the reference project, a mock CRM and billing service),
//! runs SIPp scenarios from `tests/sipp/` against it with time limits, and reads
//! the results back through the HTTP API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "browser.rs"]
pub mod browser;

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
    /// Its RTP port range (first and last port).
    pub rtp_ports: (u16, u16),
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
        // An admin of the tests' own: without api_users the runtime would make
        // one and keep its token in the data folder.
        let token = format!("e2e-admin-{}", dialect_runtime::auth::random_secret(12));
        c.api_users = vec![dialect_runtime::config::ApiUser {
            name: "admin".into(),
            token: token.clone(),
            password: None,
            role: dialect_runtime::config::Role::Admin,
            department: None,
            email: None,
            phone: None,
        }];
        adjust(&mut c);
        let rtp_ports = (c.rtp.ports.first, c.rtp.ports.last);
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
            rtp_ports,
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
    // [local] is the loopback address SIPp calls from (a trunk's, say).
    let local = keys
        .iter()
        .find(|(k, _)| *k == "local")
        .map(|(_, v)| *v)
        .unwrap_or("127.0.0.1");
    let mut cmd = Command::new("sipp");
    cmd.arg(target.to_string())
        .arg("-sf")
        .arg(&copy)
        .args(["-i", local, "-mi", local])
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
    // [asserted] is the caller's P-Asserted-Identity in scenarios that send one.
    let mut all: Vec<(&str, &str)> = vec![("caller", "13912345678"), ("asserted", "13912345678")];
    for (k, v) in keys {
        all.retain(|(x, _)| x != k);
        all.push((k, v));
    }
    for (k, v) in all
        .into_iter()
        .filter(|(k, _)| !["service", "hold", "local"].contains(k))
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

/// How a [`FakeCarrier`] answers the INVITEs it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierAnswer {
    /// 486 Busy Here at once.
    Busy,
    /// 180 Ringing, and nothing more until the caller cancels.
    Ring,
    /// 503 Service Unavailable at once (a failing carrier).
    Unavailable,
}

/// A carrier behind a trunk that counts the calls the runtime places through it:
/// a UDP SIP peer on `addr` that records each INVITE's Request-URI user (once per
/// Call-ID) and answers as told. It never answers a call, so no media flows.
pub struct FakeCarrier {
    /// Where it listens (the trunk's host).
    pub addr: SocketAddr,
    dialled: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeCarrier {
    /// A carrier on `ip` (a loopback address such as 127.0.0.2) and a test port.
    pub fn start(ip: &str, answer: CarrierAnswer) -> FakeCarrier {
        let sock = (0..20)
            .find_map(|_| std::net::UdpSocket::bind((ip, test_sip_port())).ok())
            .expect("a free UDP port for the carrier");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let dialled = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (d, st) = (dialled.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut seen = std::collections::HashSet::new();
            let mut buf = [0u8; 8192];
            // Bounded: the test stops it, or it ends after five minutes.
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            while !st.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]).to_string();
                let first = text.lines().next().unwrap_or("").to_string();
                let method = first.split(' ').next().unwrap_or("");
                let header = |name: &str| {
                    text.lines()
                        .filter(|l| {
                            l.to_ascii_lowercase()
                                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
                        })
                        .collect::<Vec<_>>()
                        .join("\r\n")
                };
                let reply = |code: &str, to_tag: bool| {
                    let to = header("To");
                    let to = if to_tag && !to.contains("tag=") {
                        format!("{to};tag=carrier")
                    } else {
                        to
                    };
                    format!(
                        "SIP/2.0 {code}\r\n{}\r\n{}\r\n{to}\r\n{}\r\n{}\r\nContent-Length: 0\r\n\r\n",
                        header("Via"),
                        header("From"),
                        header("Call-ID"),
                        header("CSeq")
                    )
                };
                match method {
                    "INVITE" => {
                        if seen.insert(header("Call-ID")) {
                            let uri = first.split(' ').nth(1).unwrap_or("");
                            let user = uri
                                .trim_start_matches("sip:")
                                .split(['@', ';'])
                                .next()
                                .unwrap_or("")
                                .to_string();
                            d.lock().unwrap().push(user);
                        }
                        let answer = match answer {
                            CarrierAnswer::Busy => reply("486 Busy Here", true),
                            CarrierAnswer::Unavailable => reply("503 Service Unavailable", true),
                            CarrierAnswer::Ring => reply("180 Ringing", true),
                        };
                        let _ = sock.send_to(answer.as_bytes(), from);
                    }
                    "CANCEL" => {
                        let _ = sock.send_to(reply("200 OK", true).as_bytes(), from);
                        let terminated =
                            reply("487 Request Terminated", true).replace(" CANCEL", " INVITE");
                        let _ = sock.send_to(terminated.as_bytes(), from);
                    }
                    "ACK" | "" => {}
                    _ if method.starts_with("SIP/") => {}
                    _ => {
                        let _ = sock.send_to(reply("200 OK", true).as_bytes(), from);
                    }
                }
            }
        });
        FakeCarrier {
            addr,
            dialled,
            stop,
            thread: Some(thread),
        }
    }

    /// The numbers dialled so far, one per call, in order.
    pub fn dialled(&self) -> Vec<String> {
        self.dialled.lock().unwrap().clone()
    }

    /// A trunk to this carrier in configuration form (`extra` adds YAML keys).
    pub fn trunk(&self, name: &str, extra: &str) -> dialect_runtime::config::TrunkConfig {
        serde_yaml::from_str(&format!(
            "name: {name}\nhost: \"{}\"\ncaller_id: \"10000\"\n{extra}",
            self.addr
        ))
        .expect("a trunk configuration")
    }
}

impl Drop for FakeCarrier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What an attacker spraying RTP at a server's port range sends.
#[derive(Debug, Clone, Copy)]
pub enum Spray {
    /// RFC 4733 events (payload type 101) for this key: each port gets whole
    /// key presses, start, updates and end.
    Key(u8),
    /// PCMU audio (payload type 0), loud noise.
    Audio,
}

/// What a spraying attacker got back.
#[derive(Debug, Default)]
pub struct SprayReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams the server sent back to the attacker's socket.
    pub received: u64,
}

/// An attacker who knows a server's RTP port range (but not which port a call
/// has) and sends `what` to every even port in `ports`, one packet per port
/// every 10 ms, until `stop` is set or `limit` passes; counts what comes back.
pub fn spray_rtp(
    ports: (u16, u16),
    what: Spray,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    limit: Duration,
) -> std::thread::JoinHandle<SprayReport> {
    let sock = (0..50)
        .find_map(|_| std::net::UdpSocket::bind(("127.0.0.1", sipp_media_port())).ok())
        .expect("a free UDP port for the attacker");
    sock.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut report = SprayReport::default();
        let deadline = std::time::Instant::now() + limit;
        let mut buf = [0u8; 2048];
        let mut round: u32 = 0;
        let mut pkt = [0u8; 172];
        pkt[0] = 0x80;
        pkt[8..12].copy_from_slice(&0x0bad_cafe_u32.to_be_bytes());
        while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            let len = match what {
                Spray::Key(key) => {
                    // A key press every 8 rounds: 5 updates, then 3 end packets.
                    let step = round % 8;
                    let event_ts = (round / 8) * 1600;
                    pkt[1] = 101 | if step == 0 { 0x80 } else { 0 };
                    pkt[4..8].copy_from_slice(&event_ts.to_be_bytes());
                    pkt[12] = key;
                    pkt[13] = if step >= 5 { 0x80 | 10 } else { 10 };
                    let duration = (step.min(5) as u16 + 1) * 160;
                    pkt[14..16].copy_from_slice(&duration.to_be_bytes());
                    16
                }
                Spray::Audio => {
                    pkt[1] = 0;
                    pkt[4..8].copy_from_slice(&(round * 160).to_be_bytes());
                    for (i, b) in pkt[12..].iter_mut().enumerate() {
                        *b = if (i + round as usize).is_multiple_of(2) {
                            0x80
                        } else {
                            0x00
                        };
                    }
                    172
                }
            };
            pkt[2..4].copy_from_slice(&(round as u16).to_be_bytes());
            let mut port = ports.0 + (ports.0 & 1);
            while port <= ports.1 {
                if sock.send_to(&pkt[..len], ("127.0.0.1", port)).is_ok() {
                    report.sent += 1;
                }
                port += 2;
            }
            while sock.recv_from(&mut buf).is_ok() {
                report.received += 1;
            }
            round += 1;
            std::thread::sleep(Duration::from_millis(10));
        }
        while sock.recv_from(&mut buf).is_ok() {
            report.received += 1;
        }
        report
    })
}

/// A carrier trunk whose far end is a SIPp "customer" (`uas_customer.xml`) on a
/// loopback port of its own: answers one call, talks `talk_ms`, hangs up. Returns the
/// trunk's configuration and the port SIPp must listen on.
pub fn customer_trunk() -> (dialect_runtime::config::TrunkConfig, u16) {
    let port = test_sip_port();
    let trunk = serde_yaml::from_str(&format!(
        "name: carrier\nhost: 127.0.0.1:{port}\ncaller_id: \"10000\"\n"
    ))
    .unwrap();
    (trunk, port)
}

/// Starts the customer's SIPp on `port`: it answers one call, talks `talk_ms`
/// and hangs up.
pub fn customer(port: u16, talk_ms: u32) -> std::process::Child {
    customer_as("uas_customer.xml", port, talk_ms)
}

/// Starts a far end of the trunk on `port` that follows SIPp `file` (talking
/// `talk_ms` where it talks).
pub fn customer_as(file: &str, port: u16, talk_ms: u32) -> std::process::Child {
    customer_at(&scenario(file), port, talk_ms)
}

/// Starts a far end of the trunk on `port` that follows the SIPp scenario at
/// `path` (talking `talk_ms` where it talks).
pub fn customer_at(path: &std::path::Path, port: u16, talk_ms: u32) -> std::process::Child {
    Command::new("sipp")
        .arg("-sf")
        .arg(path)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &sipp_media_port().to_string()])
        .args(["-d", &talk_ms.to_string()])
        .args(["-m", "1", "-timeout", "60s", "-timeout_error", "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts a far end of the trunk on `port` that answers one call and plays
/// the RTP packets of `pcap` into it (see [`write_rtp_pcap`]), then waits for
/// the server to hang up.
pub fn customer_playing(port: u16, pcap: &std::path::Path) -> std::process::Child {
    Command::new("sipp")
        .arg("-sf")
        .arg(scenario("uas_customer_audio.xml"))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &sipp_media_port().to_string()])
        .arg("-key")
        .arg("pcap")
        .arg(pcap)
        .args(["-m", "1", "-timeout", "60s", "-timeout_error", "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes a prompt file: a sine tone of `hz` at amplitude `level`, `ms` long,
/// 8 kHz mono 16-bit, so that tests can tell by frequency which prompt a
/// caller heard.
pub fn write_tone_wav(path: &std::path::Path, hz: f64, level: f64, ms: u32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..ms * 8 {
        let t = f64::from(i) / 8000.0;
        w.write_sample(((2.0 * std::f64::consts::PI * hz * t).sin() * level) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// Writes `pcm` (8 kHz) as a capture of µ-law RTP packets, one every 20 ms,
/// which SIPp's `play_pcap_audio` sends into a call with the same pacing.
pub fn write_rtp_pcap(path: &std::path::Path, pcm: &[i16]) {
    use dialect_media::g711::Law;
    let mut out = Vec::with_capacity(24 + pcm.len() / 160 * 230);
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for (i, frame) in pcm.chunks_exact(160).enumerate() {
        let mut rtp = vec![0x80u8, 0];
        rtp.extend_from_slice(&(i as u16).to_be_bytes());
        rtp.extend_from_slice(&((i as u32) * 160).to_be_bytes());
        rtp.extend_from_slice(&0x0d1a_1ec7u32.to_be_bytes());
        let mut payload = [0u8; 160];
        Law::Ulaw.encode(frame, &mut payload);
        rtp.extend_from_slice(&payload);
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut packet = vec![0u8; 12];
        packet.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum = ip
            .chunks_exact(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let folded = (sum & 0xffff) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!(folded as u16)).to_be_bytes());
        packet.extend_from_slice(&ip);
        packet.extend_from_slice(&6000u16.to_be_bytes());
        packet.extend_from_slice(&6002u16.to_be_bytes());
        packet.extend_from_slice(&(udp_len as u16).to_be_bytes());
        packet.extend_from_slice(&0u16.to_be_bytes());
        packet.extend_from_slice(&rtp);
        let at_us = i as u64 * 20_000;
        out.extend_from_slice(&((at_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&(packet.len() as u32).to_le_bytes());
        out.extend_from_slice(&packet);
    }
    std::fs::write(path, out).unwrap();
}

/// A zone in which it is now early afternoon, so the test's call windows
/// (and the legal 08:00–21:00) are open whatever the hour the tests run at.
pub fn afternoon_zone() -> String {
    let hour = chrono::Utc::now().format("%H").to_string();
    let hour: i32 = hour.parse().unwrap_or(0);
    // Etc/GMT-N is N hours ahead of UTC (the sign is POSIX's).
    let ahead = 13 - hour;
    if ahead >= 0 {
        format!("Etc/GMT-{ahead}")
    } else {
        format!("Etc/GMT+{}", -ahead)
    }
}

/// A project with one IVR campaign with the rules `rules` (retries, machine
/// detection); its flow asks the callee to press 1.
pub fn campaign_project(rules: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dialect-dialer-project-{}-{}",
        std::process::id(),
        dialect_runtime::auth::random_secret(6)
    ));
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(
        dir.join("lists/reminder.csv"),
        "手机号码,客户姓名,欠费金额\n13800000001,张三,50\n",
    )
    .unwrap();
    let zone = afternoon_zone();
    let text = format!(
        r#"
calendar everyday {{
  timezone "{zone}"
  hours mon-sun 08:00-21:00
}}

list do_not_call "免打扰" {{
  "13700000009"
}}

campaign reminder "欠费提醒" {{
  list arrears from "lists/reminder.csv" {{
    phone: text <- "手机号码"
    name: text <- "客户姓名"
    amount: number <- "欠费金额"
  }}
  filter amount >= 10
  filter phone not in do_not_call
  mode ivr -> flow reminder_call
  calendar everyday
  window workday 08:00-21:00
  window weekend 08:00-21:00
  window holiday 08:00-21:00
  {rules}
  max attempts 5
  trunk "carrier"
  caller id "10000"
}}

flow reminder_call(name: text, amount: number) "欠费提醒外呼" {{
  menu confirm (retries 1, timeout 8s) {{
    say {{ zh "您好", name, "，确认请按1。" }}
    1 -> {{
      say {{ zh "谢谢", name, "，已确认。" }}
      hangup
    }}
    no input final -> hangup
  }}
  hangup
}}

flow main "入口" on "10000" {{
  hangup
}}
"#
    );
    std::fs::write(dir.join("main.flow"), text).unwrap();
    dir
}

/// Starts `dialect run --config CONFIG` from the binary at `bin` (the tests of
/// the command give `env!("CARGO_BIN_EXE_dialect")`), its output discarded:
/// the crash tests kill and restart it.
pub fn start_dialect(bin: &str, config: &std::path::Path) -> std::process::Child {
    Command::new(bin)
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dialect run starts")
}

/// Waits until the server at `base` (`http://…/api/v1`) answers its health
/// check; fails the test if `child` exits first or a minute passes.
pub async fn wait_ready(http: &reqwest::Client, base: &str, child: &mut std::process::Child) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("dialect run exited: {status}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// REGISTERs `user` with digest auth from a socket on a port of its own (where
/// the phone then listens); returns the socket, still bound.
pub fn register(server: std::net::SocketAddr, user: &str, password: &str) -> std::net::UdpSocket {
    let sock = (0..20)
        .find_map(|_| std::net::UdpSocket::bind(("127.0.0.1", test_sip_port())).ok())
        .expect("a free UDP port");
    let port = sock.local_addr().unwrap().port();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let uri = format!("sip:{server}");
    let req = |cseq: u32, auth: Option<String>| {
        format!(
            "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-reg{cseq}\r\nFrom: <sip:{user}@127.0.0.1>;tag=reg1\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: reg-{port}@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\nExpires: 300\r\nMax-Forwards: 70\r\n{}Content-Length: 0\r\n\r\n",
            auth.map(|a| format!("Authorization: {a}\r\n"))
                .unwrap_or_default()
        )
    };
    let mut buf = [0u8; 4096];
    sock.send_to(req(1, None).as_bytes(), server).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 401"), "{text}");
    let header = text
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate:"))
        .unwrap()
        .trim()
        .to_string();
    let challenge = dialect_sip::auth::Challenge::parse(&header).unwrap();
    let mut client = dialect_sip::auth::DigestClient::new(dialect_sip::auth::Credentials {
        username: user.into(),
        password: password.into(),
    });
    let auth = client.authorize(&challenge, "REGISTER", &uri);
    sock.send_to(req(2, Some(auth)).as_bytes(), server).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 200"), "{text}");
    sock
}

/// REGISTERs `user` from the port a SIPp phone will listen on; returns the port.
pub fn register_port(server: std::net::SocketAddr, user: &str, password: &str) -> u16 {
    register(server, user, password)
        .local_addr()
        .unwrap()
        .port()
}
