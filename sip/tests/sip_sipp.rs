//! End-to-end tests of the SIP endpoint against real SIPp (`/usr/bin/sipp`) on
//! 127.0.0.1, over UDP and TCP: a small UAS built on the endpoint answers calls,
//! takes CANCEL, hangs up itself, and a registrar takes authenticated REGISTERs.

// Helpers outside #[test] functions unwrap too: this is a test harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dialect_sip::auth::Ha1;
use dialect_sip::endpoint::{DialogEvent, IncomingRequest};
use dialect_sip::registrar::{Registrar, RegistrarConfig, RegistrationEvent, UnregisterReason};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};
use dialect_sip::{EndpointConfig, SipEndpoint};
use rsip::Method;
use tokio_util::sync::CancellationToken;

fn sipp_available() -> bool {
    std::path::Path::new("/usr/bin/sipp").exists()
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/sipp")
        .join(name)
}

/// A port that was free a moment ago (for SIPp's own socket).
fn free_port(tcp: bool) -> u16 {
    if tcp {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// What the test UAS saw, for the assertions.
#[derive(Default, Debug)]
struct Seen {
    answered: usize,
    acked: usize,
    bye_received: usize,
    bye_sent_ok: usize,
    cancelled: usize,
    codecs: Vec<(u8, Option<u8>)>,
}

/// The test UAS: the Request-URI user picks the behaviour (`cancel` rings until
/// cancelled, `byeus` hangs up after the ACK, anything else waits for the BYE).
async fn uas(
    endpoint: SipEndpoint,
    mut incoming: tokio::sync::mpsc::Receiver<IncomingRequest>,
    seen: Arc<Mutex<Seen>>,
) {
    while let Some(req) = incoming.recv().await {
        if req.method() != Method::Invite {
            req.reply(405);
            continue;
        }
        let endpoint = endpoint.clone();
        let seen = seen.clone();
        tokio::spawn(async move {
            let user = req.request.uri.user().unwrap_or("").to_string();
            let uas = endpoint.accept_invite(req).unwrap();
            uas.progress(180, None);
            let ring = if user == "cancel" {
                Duration::from_secs(20)
            } else {
                Duration::from_millis(50)
            };
            tokio::select! {
                _ = uas.cancelled() => {
                    seen.lock().unwrap().cancelled += 1;
                    return;
                }
                _ = tokio::time::sleep(ring) => {}
            }
            let offer = SessionDescription::parse(&uas.request().body).unwrap();
            let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 40_000);
            let (answer, negotiated) = match sdp::answer(&offer, &local) {
                Ok(a) => a,
                Err(_) => return uas.reject(488),
            };
            let (mut dialog, mut events) = uas.answer(answer.to_bytes()).unwrap();
            {
                let mut s = seen.lock().unwrap();
                s.answered += 1;
                s.codecs
                    .push((negotiated.payload_type, negotiated.telephone_event));
            }
            while let Some(ev) = events.recv().await {
                match ev {
                    DialogEvent::Ack(_) => {
                        seen.lock().unwrap().acked += 1;
                        if user == "byeus" {
                            let resp = endpoint.bye(&mut dialog).await.unwrap();
                            if resp.status_code.code() == 200 {
                                seen.lock().unwrap().bye_sent_ok += 1;
                            }
                            return;
                        }
                    }
                    DialogEvent::Request(r) if r.method() == Method::Bye => {
                        r.reply(200);
                        seen.lock().unwrap().bye_received += 1;
                        return;
                    }
                    DialogEvent::Request(r) => r.reply(200),
                    DialogEvent::AckTimeout => {
                        let _ = endpoint.bye(&mut dialog).await;
                        return;
                    }
                }
            }
        });
    }
}

async fn start_uas(tcp: bool) -> (SipEndpoint, SocketAddr, Arc<Mutex<Seen>>, CancellationToken) {
    let shutdown = CancellationToken::new();
    let config = EndpointConfig {
        udp: (!tcp).then(|| "127.0.0.1:0".parse().unwrap()),
        tcp: tcp.then(|| "127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    let (endpoint, incoming) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    let addr = if tcp {
        endpoint.tcp_addr()
    } else {
        endpoint.udp_addr()
    }
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    tokio::spawn(uas(endpoint.clone(), incoming, seen.clone()));
    (endpoint, addr, seen, shutdown)
}

/// Runs SIPp to completion (bounded) and returns its exit code and output.
async fn run_sipp(args: &[String]) -> (i32, String) {
    let dir = tempdir();
    let mut cmd = tokio::process::Command::new("/usr/bin/sipp");
    cmd.args(args)
        .arg("-nostdin")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("sipp starts");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("sipp finishes within 60 s")
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).to_string();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(log) = std::fs::read_to_string(entry.path()) {
            text.push_str(&format!("\n--- {}\n{log}", entry.path().display()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.code().unwrap_or(-1), text)
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dialect-sipp-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn sipp_args(
    target: SocketAddr,
    tcp: bool,
    calls: u32,
    service: &str,
    scenario_arg: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = scenario_arg.iter().map(|s| s.to_string()).collect();
    args.extend([
        target.to_string(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        free_port(tcp).to_string(),
        "-mp".into(),
        free_port(false).to_string(),
        "-s".into(),
        service.into(),
        "-m".into(),
        calls.to_string(),
        "-r".into(),
        "5".into(),
        "-d".into(),
        "200".into(),
        "-timeout".into(),
        "30s".into(),
        "-timeout_error".into(),
        "-recv_timeout".into(),
        "10000".into(),
        "-trace_err".into(),
    ]);
    if tcp {
        args.push("-t".into());
        args.push("t1".into());
    }
    args
}

async fn wait_for(seen: &Arc<Mutex<Seen>>, check: impl Fn(&Seen) -> bool) {
    for _ in 0..100 {
        if check(&seen.lock().unwrap()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn basic_uac(tcp: bool) {
    let (endpoint, addr, seen, shutdown) = start_uas(tcp).await;
    let args = sipp_args(addr, tcp, 3, "ivr", &["-sn", "uac"]);
    let (code, out) = run_sipp(&args).await;
    assert_eq!(code, 0, "sipp failed:\n{out}");
    wait_for(&seen, |s| s.bye_received == 3).await;
    let s = seen.lock().unwrap();
    assert_eq!((s.answered, s.acked, s.bye_received), (3, 3, 3), "{s:?}");
    assert!(s.codecs.iter().all(|c| *c == (0, None)), "{s:?}");
    assert!(endpoint.counters().received >= 9);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_over_udp() {
    if !sipp_available() {
        eprintln!("sipp not installed; skipping");
        return;
    }
    basic_uac(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_calls_over_tcp() {
    if !sipp_available() {
        eprintln!("sipp not installed; skipping");
        return;
    }
    basic_uac(true).await;
}

async fn cancel_while_ringing(tcp: bool) {
    let (_endpoint, addr, seen, shutdown) = start_uas(tcp).await;
    let sf = scenario("uac_cancel.xml");
    let args = sipp_args(addr, tcp, 2, "cancel", &["-sf", sf.to_str().unwrap()]);
    let (code, out) = run_sipp(&args).await;
    assert_eq!(code, 0, "sipp failed:\n{out}");
    wait_for(&seen, |s| s.cancelled == 2).await;
    let s = seen.lock().unwrap();
    assert_eq!((s.cancelled, s.answered), (2, 0), "{s:?}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_over_udp() {
    if !sipp_available() {
        return;
    }
    cancel_while_ringing(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_over_tcp() {
    if !sipp_available() {
        return;
    }
    cancel_while_ringing(true).await;
}

async fn bye_from_our_side(tcp: bool) {
    let (_endpoint, addr, seen, shutdown) = start_uas(tcp).await;
    let sf = scenario("uac_bye_from_server.xml");
    let args = sipp_args(addr, tcp, 2, "byeus", &["-sf", sf.to_str().unwrap()]);
    let (code, out) = run_sipp(&args).await;
    assert_eq!(code, 0, "sipp failed:\n{out}");
    wait_for(&seen, |s| s.bye_sent_ok == 2).await;
    let s = seen.lock().unwrap();
    assert_eq!((s.answered, s.acked, s.bye_sent_ok), (2, 2, 2), "{s:?}");
    // The offer put telephone-event on 96: the answer echoed it.
    assert!(s.codecs.iter().all(|c| *c == (0, Some(96))), "{s:?}");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_bye_from_server_over_udp() {
    if !sipp_available() {
        return;
    }
    bye_from_our_side(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_bye_from_server_over_tcp() {
    if !sipp_available() {
        return;
    }
    bye_from_our_side(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_register_with_digest_auth() {
    if !sipp_available() {
        return;
    }
    let shutdown = CancellationToken::new();
    let config = EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    let (endpoint, mut incoming) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    let registrar = Registrar::new(
        RegistrarConfig::default(),
        Arc::new(|user: &str| {
            (user == "1001").then(|| Ha1::from_password("1001", "dialect", "agentpw"))
        }),
        shutdown.clone(),
    );
    let mut events = registrar.subscribe();
    let reg = registrar.clone();
    tokio::spawn(async move {
        while let Some(req) = incoming.recv().await {
            if req.method() == Method::Register {
                reg.handle(&req);
            } else {
                req.reply(405);
            }
        }
    });
    let sf = scenario("register_auth.xml");
    let addr = endpoint.udp_addr().unwrap();
    let mut args = sipp_args(addr, false, 1, "1001", &["-sf", sf.to_str().unwrap()]);
    args.extend(["-au".into(), "1001".into(), "-ap".into(), "agentpw".into()]);
    let (code, out) = run_sipp(&args).await;
    assert_eq!(code, 0, "sipp failed:\n{out}");
    let first = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&first, RegistrationEvent::Registered { aor, .. } if aor == "1001"),
        "{first:?}"
    );
    let second = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&second, RegistrationEvent::Unregistered { aor, reason: UnregisterReason::Removed, .. } if aor == "1001"),
        "{second:?}"
    );
    assert!(registrar.lookup("1001").is_empty());

    // A wrong password is refused: SIPp sees 403 where it expects 200 and fails.
    let mut bad = sipp_args(addr, false, 1, "1001", &["-sf", sf.to_str().unwrap()]);
    bad.extend(["-au".into(), "1001".into(), "-ap".into(), "wrong".into()]);
    let (code, _) = run_sipp(&bad).await;
    assert_ne!(code, 0);
    assert!(registrar.lookup("1001").is_empty());
    shutdown.cancel();
}
