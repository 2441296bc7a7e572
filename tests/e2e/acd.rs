//! A call transferred to a queue reaches an agent's registered phone (SIPp as
//! the agent's phone, another SIPp as the caller), with digest-authenticated
//! REGISTER, the agent signed in over the CTI API, and the contact record
//! showing queue, wait, agent and talk time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use dialect_e2e::{TestServer, free_udp_port, scenario, sipp_async};
use dialect_runtime::config::{AgentConfig, ApiUser};
use dialect_runtime::sip::auth::{Challenge, Credentials, DigestClient};

const PROJECT: &str = r#"
skill general levels 1..5

queue support "Support" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 15s -> requeue first
}

flow entry "Entry" on "5000" {
  transfer queue support
}

queue short "Short" {
  skills general >= 1
  strategy longest_idle
  priority 0
  max wait 2s -> flow after_wait
}

flow waiting "Waiting" on "5001" {
  transfer queue short
}

flow after_wait "After the wait" {
  hangup
}

queue keyed "Keyed" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 1 -> flow pressed
}

flow keys "Keys" on "5002" {
  transfer queue keyed
}

flow pressed "Pressed" {
  pause 10s
  hangup
}

flow referred "Referred" on "5003" {
  pause 10s
  hangup
}
"#;

fn project() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-e2e-acd-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acd.flow"), PROJECT).unwrap();
    dir
}

/// REGISTERs `user` from a free port (where the phone will then listen) with
/// digest auth; returns the port.
fn register(server: std::net::SocketAddr, user: &str, password: &str) -> u16 {
    // Other tests take ports too: try another one if this one was taken meanwhile.
    let (sock, port) = (0..20)
        .find_map(|_| {
            let port = free_udp_port();
            std::net::UdpSocket::bind(("127.0.0.1", port))
                .ok()
                .map(|s| (s, port))
        })
        .expect("a free UDP port");
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
    let challenge = Challenge::parse(&header).unwrap();
    let mut client = DigestClient::new(Credentials {
        username: user.into(),
        password: password.into(),
    });
    let auth = client.authorize(&challenge, "REGISTER", &uri);
    sock.send_to(req(2, Some(auth)).as_bytes(), server).unwrap();
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(text.starts_with("SIP/2.0 200"), "{text}");
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_call_is_connected_to_the_registered_agent() {
    let (s, agent_phone, dir) = staffed("uas_agent.xml", &[]).await;

    // The caller dials 5000, is queued, connected, and hangs up after 6 s.
    let caller = sipp_async(
        "uac_queue.xml",
        s.sip,
        1,
        1,
        vec![("service", "5000".into())],
        40,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;

    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["queue"], "support", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 1000, "{c}");
    assert!(c["waited_ms"].as_i64().is_some(), "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_wait_sends_the_caller_to_its_destination() {
    let dir = project();
    let project = dir.clone();
    let s = TestServer::start(move |c| c.project = Some(project)).await;
    // Nobody staffs the queue: after 2 s the call goes to `after_wait`, which hangs up.
    let started = std::time::Instant::now();
    let caller = sipp_async(
        "uac_bye_from_server.xml",
        s.sip,
        1,
        1,
        vec![("service", "5001".into())],
        30,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    assert!(started.elapsed() >= Duration::from_secs(2));
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["queue"], "short", "{c}");
    assert!(c["agent"].is_null(), "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail
            .iter()
            .any(|(_, d)| d.contains("MaxWait") && d.contains("after_wait")),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_key_takes_the_caller_out_of_the_queue() {
    let dir = project();
    let project = dir.clone();
    let s = TestServer::start(move |c| c.project = Some(project)).await;
    // The caller presses 1 (RFC 4733) while waiting; the queue's `key 1` rule applies.
    let caller = sipp_async(
        "uac_keys_2833.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5002".into()),
            ("pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap".into()),
        ],
        30,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["queue"], "keyed", "{c}");
    assert_eq!(c["flow"], "pressed", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail
            .iter()
            .any(|(_, d)| d.contains("CancelKey") && d.contains("pressed")),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_hangs_up_from_the_desktop() {
    let (s, agent_phone, dir) = staffed("uas_agent.xml", &[]).await;
    let http = reqwest::Client::new();
    let base = format!("http://{}/api/v1/agents/7001", s.http);
    // The caller waits for the server's BYE.
    let sip = s.sip;
    let caller = tokio::spawn(sipp_async(
        "uac_bye_from_server.xml",
        sip,
        1,
        1,
        vec![("service", "5000".into())],
        40,
    ));
    // Once talking, the agent hangs up from the desktop.
    let mut talking = false;
    for _ in 0..200 {
        let v: serde_json::Value = http
            .get(&base)
            .bearer_auth("t-7001")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["state"] == "talking" {
            talking = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(talking, "the agent got the call");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = http
        .post(format!("{base}/hang_up"))
        .bearer_auth("t-7001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    assert_eq!(c["end"], "hung up from the agent desktop", "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server on the test project with agent 7001: its phone registered with digest
/// authentication and answering as SIPp `phone` (with `keys`), the agent signed in
/// over the CTI API and ready. Returns the server, the phone and the project folder.
async fn staffed(
    phone: &str,
    keys: &[(&str, &str)],
) -> (TestServer, std::process::Child, std::path::PathBuf) {
    let dir = project();
    let project = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project);
        c.agents.push(AgentConfig {
            id: "7001".into(),
            name: "Agent".into(),
            password: "pw7001".into(),
            skills: [("general".to_string(), 3)].into_iter().collect(),
            auto_answer: false,
        });
        c.api_users.push(ApiUser {
            name: "7001".into(),
            token: "t-7001".into(),
            role: "agent".into(),
            department: None,
        });
    })
    .await;

    // The agent's phone registers, then SIPp answers on that port.
    let sip = s.sip;
    let port = tokio::task::spawn_blocking(move || register(sip, "7001", "pw7001"))
        .await
        .unwrap();
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(scenario(phone))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &(42_000 + (free_udp_port() % 5_000) * 2).to_string()])
        .args(["-m", "1", "-timeout", "40s", "-timeout_error", "-nostdin"]);
    for (k, v) in keys {
        cmd.args(["-key", k, v]);
    }
    let agent_phone = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The agent signs in and is ready.
    let http = reqwest::Client::new();
    for op in ["sign_in", "ready"] {
        let r = http
            .post(format!("http://{}/api/v1/agents/7001/{op}", s.http))
            .bearer_auth("t-7001")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{op}: {:?}", r.text().await);
    }
    (s, agent_phone, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_blind_transfers_the_caller_with_refer() {
    let (s, agent_phone, dir) = staffed("uas_agent_refer.xml", &[("refer_to", "5003")]).await;
    // The caller dials 5000, reaches the agent, is sent to 5003 by REFER, and
    // hangs up after 6 s in the flow answering 5003.
    let caller = sipp_async(
        "uac_queue.xml",
        s.sip,
        1,
        1,
        vec![("service", "5000".into())],
        40,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    assert_eq!(
        c["flow"], "referred",
        "the caller went on in 5003's flow: {c}"
    );
    assert_eq!(c["end"], "hangup by caller", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail.iter().any(|(_, d)| d == "blind transfer to 5003"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for the agent phone's SIPp to end and checks it went through its scenario.
async fn phone_done(agent_phone: std::process::Child) {
    let phone = tokio::task::spawn_blocking(move || agent_phone.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        phone.status.success(),
        "agent phone: {}{}",
        String::from_utf8_lossy(&phone.stdout),
        String::from_utf8_lossy(&phone.stderr)
    );
}
