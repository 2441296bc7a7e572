//! Attacks on the authentication of agent phones, made from the network against
//! the real runtime on loopback: a captured `Authorization` header replayed to
//! take over or remove a registration, online password guessing, and reading
//! phone passwords out of the data folder. Each test is the attack; it passes
//! when the attack fails. (A REFER without the agent's credentials is in
//! `acd.rs`, beside the REFER that has them.)
//!
//! Loopback has many addresses: the attacker speaks from 127.0.0.1 like the
//! server, the agent's phone from 127.0.0.2 when the two must be told apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use dialect_e2e::{TestServer, test_sip_port};
use dialect_runtime::config::AgentConfig;
use dialect_sip::auth::{Challenge, Credentials, DigestClient};
use tokio::net::UdpSocket;

const AGENT: &str = "7001";
const PASSWORD: &str = "Blue-pigeon-42";
/// How long any one answer may take.
const LIMIT: Duration = Duration::from_secs(5);

async fn server() -> TestServer {
    TestServer::start(|c| {
        c.agents.push(AgentConfig {
            id: AGENT.into(),
            name: "Agent".into(),
            password: PASSWORD.into(),
            skills: [("general".to_string(), 3)].into_iter().collect(),
            auto_answer: false,
            dial_plan: None,
        });
    })
    .await
}

/// A SIP user agent on a UDP port of its own, sending REGISTERs for `AGENT`.
struct Phone {
    sock: UdpSocket,
    server: SocketAddr,
    call_id: String,
    cseq: u32,
}

impl Phone {
    async fn bind(server: SocketAddr, ip: [u8; 4]) -> Phone {
        let mut sock = None;
        for _ in 0..20 {
            if let Ok(s) = UdpSocket::bind((IpAddr::from(ip), test_sip_port())).await {
                sock = Some(s);
                break;
            }
        }
        let sock = sock.expect("a free UDP port");
        let call_id = format!("reg-{}@test", sock.local_addr().unwrap());
        Phone {
            sock,
            server,
            call_id,
            cseq: 0,
        }
    }

    fn contact(&self) -> String {
        format!("<sip:{AGENT}@{}>", self.sock.local_addr().unwrap())
    }

    fn uri(&self) -> String {
        format!("sip:{}", self.server)
    }

    /// Sends a REGISTER and returns the answer's text.
    async fn send(&mut self, contact: &str, expires: u32, auth: Option<&str>) -> String {
        self.cseq += 1;
        let local = self.sock.local_addr().unwrap();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let msg = format!(
            "REGISTER {} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{}-{}\r\n\
             From: <sip:{AGENT}@127.0.0.1>;tag=t{}\r\nTo: <sip:{AGENT}@127.0.0.1>\r\n\
             Call-ID: {}\r\nCSeq: {} REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n\
             Max-Forwards: 70\r\n{auth}Content-Length: 0\r\n\r\n",
            self.uri(),
            local.port(),
            self.cseq,
            local.port(),
            self.call_id,
            self.cseq
        );
        self.sock
            .send_to(msg.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 8192];
        let (n, _) = tokio::time::timeout(LIMIT, self.sock.recv_from(&mut buf))
            .await
            .expect("an answer in time")
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// Registers with `password`, answering the challenge; returns the final
    /// answer and the `Authorization` value sent.
    async fn register(&mut self, password: &str, contact: &str, expires: u32) -> (String, String) {
        let first = self.send(contact, expires, None).await;
        assert!(first.starts_with("SIP/2.0 401"), "{first}");
        let auth = answer(&first, password, &self.uri());
        (self.send(contact, expires, Some(&auth)).await, auth)
    }
}

/// The `Authorization` value answering the 401 `response` with `password`.
fn answer(response: &str, password: &str, uri: &str) -> String {
    let challenge = header(response, "WWW-Authenticate").expect("a challenge");
    let challenge = Challenge::parse(&challenge).expect("a digest challenge");
    DigestClient::new(Credentials {
        username: AGENT.into(),
        password: password.into(),
    })
    .authorize(&challenge, "REGISTER", uri)
}

fn header(response: &str, name: &str) -> Option<String> {
    response.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

async fn registered(s: &TestServer) -> bool {
    s.get(&format!("/api/v1/agents/{AGENT}")).await["registered"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_register_takes_over_nothing_and_removes_nothing() {
    let s = server().await;
    let mut phone = Phone::bind(s.sip, [127, 0, 0, 1]).await;
    let contact = phone.contact();
    let (ok, captured) = phone.register(PASSWORD, &contact, 300).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(registered(&s).await);

    // The attacker replays the captured header from another port, with a new
    // Call-ID and its own contact: no binding.
    let mut attacker = Phone::bind(s.sip, [127, 0, 0, 1]).await;
    let own = attacker.contact();
    let r = attacker.send(&own, 300, Some(&captured)).await;
    assert!(!r.starts_with("SIP/2.0 2"), "replay accepted: {r}");
    // Nor may it remove the agent's bindings.
    let r = attacker.send("*", 0, Some(&captured)).await;
    assert!(
        !r.starts_with("SIP/2.0 2"),
        "replayed removal accepted: {r}"
    );
    // Even from the phone's own port the header is spent.
    let r = phone.send("*", 0, Some(&captured)).await;
    assert!(
        !r.starts_with("SIP/2.0 2"),
        "replay from the phone's port: {r}"
    );
    assert!(
        registered(&s).await,
        "the agent's phone is still registered"
    );
    assert!(
        s.metric_labelled(
            "dialect_sip_auth_failures_total",
            "reason=\"nonce_out_of_scope\""
        )
        .await
            >= 2.0
    );
    assert_eq!(
        s.metric_labelled("dialect_sip_auth_failures_total", "reason=\"replayed\"")
            .await,
        1.0
    );

    // The phone itself goes on refreshing and may unregister.
    let (ok, _) = phone.register(PASSWORD, &contact, 300).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let (ok, _) = phone.register(PASSWORD, "*", 0).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(!registered(&s).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_a_phone_password_locks_the_guesser_out_and_not_the_phone() {
    let s = server().await;
    let mut guesser = Phone::bind(s.sip, [127, 0, 0, 1]).await;
    let contact = guesser.contact();
    let mut wrong = 0;
    let mut locked = None;
    for i in 0..50 {
        let first = guesser.send(&contact, 300, None).await;
        if first.starts_with("SIP/2.0 403") {
            locked = Some(first);
            break;
        }
        assert!(first.starts_with("SIP/2.0 401"), "{first}");
        let auth = answer(&first, &format!("Guess-{i:05}"), &guesser.uri());
        let r = guesser.send(&contact, 300, Some(&auth)).await;
        assert!(r.starts_with("SIP/2.0 403"), "{r}");
        if header(&r, "Retry-After").is_some() {
            locked = Some(r);
            break;
        }
        wrong += 1;
    }
    assert_eq!(wrong, 5, "five guesses, then nothing");
    let locked = locked.expect("locked out");
    let retry: u64 = header(&locked, "Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{locked}");

    // The right password from the locked address is not even challenged.
    let r = guesser.send(&contact, 300, None).await;
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
    assert!(header(&r, "Retry-After").is_some(), "{r}");

    // The agent's phone, at its own address, registers as usual.
    let mut phone = Phone::bind(s.sip, [127, 0, 0, 2]).await;
    let contact = phone.contact();
    let (ok, _) = phone.register(PASSWORD, &contact, 300).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");

    let failures = |reason: &'static str| {
        let s = &s;
        async move {
            s.metric_labelled(
                "dialect_sip_auth_failures_total",
                &format!("reason=\"{reason}\""),
            )
            .await
        }
    };
    assert_eq!(failures("wrong_password").await, 5.0);
    assert!(failures("locked_out").await >= 2.0);
    assert_eq!(
        s.metric_labelled("dialect_sip_auth_lockouts_total", "kind=\"source\"")
            .await,
        1.0
    );
    assert!(s.metric("dialect_sip_auth_success_total").await >= 1.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_is_private_and_holds_no_phone_password() {
    let s = server().await;
    // An agent added over the API, with its phone password.
    let added = "Green-finch-77";
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/agents", s.http))
        .bearer_auth(&s.token)
        .json(&serde_json::json!({"id": "7002", "name": "Added", "password": added}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    // Its phone registers with it: the server keeps what it needs.
    let mut phone = Phone::bind(s.sip, [127, 0, 0, 1]).await;
    let first = phone.send("<sip:7002@127.0.0.1:5999>", 300, None).await;
    assert!(first.starts_with("SIP/2.0 401"), "{first}");

    let mut files = 0;
    let mut stack = vec![s.data.clone()];
    while let Some(path) = stack.pop() {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
            let bytes = std::fs::read(&path).unwrap();
            for secret in [added, PASSWORD] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds a phone password",
                    path.display()
                );
            }
            files += 1;
        }
    }
    assert!(files > 0, "the store wrote its files");
    s.stop().await;
}
