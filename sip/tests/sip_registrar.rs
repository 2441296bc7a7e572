//! The registrar over a real UDP socket: challenge, bindings with expiry from the
//! contact parameter or the Expires header, 423, events when bindings expire.

// Helpers outside #[test] functions unwrap too: this is a test harness.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use dialect_sip::auth::{Challenge, Credentials, DigestClient, Ha1};
use dialect_sip::registrar::{Registrar, RegistrarConfig, RegistrationEvent, UnregisterReason};
use dialect_sip::{EndpointConfig, SipEndpoint};
use rsip::Method;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(10);

/// Every request gets its own branch, even when a test replays an old CSeq.
fn rand_branch() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

struct Phone {
    sock: UdpSocket,
    to: std::net::SocketAddr,
    cseq: u32,
    digest: DigestClient,
}

impl Phone {
    async fn send(&mut self, contact: &str, expires: Option<u32>, auth: Option<String>) -> String {
        self.cseq += 1;
        let port = self.sock.local_addr().unwrap().port();
        let expires = expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        let auth = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let msg = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{}x{}\r\n\
From: <sip:2002@127.0.0.1>;tag=p1\r\nTo: <sip:2002@127.0.0.1>\r\nCall-ID: phone-2002\r\nCSeq: {} REGISTER\r\n\
Contact: {contact}\r\n{expires}{auth}Content-Length: 0\r\n\r\n",
            self.cseq,
            rand_branch(),
            self.cseq
        );
        self.sock.send_to(msg.as_bytes(), self.to).await.unwrap();
        let mut buf = vec![0u8; 8192];
        let (n, _) = tokio::time::timeout(LIMIT, self.sock.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&buf[..n]).to_string()
    }

    /// Sends, answers the challenge, returns the final response.
    async fn register(&mut self, contact: &str, expires: Option<u32>) -> String {
        let first = self.send(contact, expires, None).await;
        assert!(first.starts_with("SIP/2.0 401"), "{first}");
        let value = first
            .lines()
            .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
            .unwrap()
            .to_string();
        let challenge = Challenge::parse(&value).unwrap();
        let auth = self
            .digest
            .authorize(&challenge, "REGISTER", "sip:127.0.0.1");
        self.send(contact, expires, Some(auth)).await
    }
}

#[tokio::test]
async fn bindings_are_added_refused_removed_and_expire_on_time() {
    let shutdown = CancellationToken::new();
    let config = EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    let (ep, mut incoming) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    let registrar = Registrar::new(
        RegistrarConfig {
            min_expires: 1,
            ..RegistrarConfig::default()
        },
        Arc::new(|u: &str| (u == "2002").then(|| Ha1::from_password("2002", "dialect", "pw"))),
        shutdown.clone(),
    );
    let mut events = registrar.subscribe();
    let reg = registrar.clone();
    tokio::spawn(async move {
        while let Some(req) = incoming.recv().await {
            if req.method() == Method::Register {
                reg.handle(&req);
            }
        }
    });
    let mut phone = Phone {
        sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        to: ep.udp_addr().unwrap(),
        cseq: 0,
        digest: DigestClient::new(Credentials {
            username: "2002".into(),
            password: "pw".into(),
        }),
    };

    // Long-lived binding from the Expires header, short one from the contact param.
    let ok = phone.register("<sip:2002@10.1.1.1>", Some(600)).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    assert!(ok.contains("<sip:2002@10.1.1.1>;expires=600"), "{ok}");
    let ok = phone.register("<sip:2002@10.1.1.2>;expires=1", None).await;
    assert!(ok.contains("<sip:2002@10.1.1.2>;expires=1"), "{ok}");
    assert_eq!(registrar.lookup("2002").len(), 2);
    for expected in ["sip:2002@10.1.1.1", "sip:2002@10.1.1.2"] {
        let e = tokio::time::timeout(LIMIT, events.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            e,
            RegistrationEvent::Registered {
                aor: "2002".into(),
                contact: expected.into()
            }
        );
    }
    // The short binding expires by itself.
    let e = tokio::time::timeout(LIMIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        e,
        RegistrationEvent::Unregistered {
            aor: "2002".into(),
            contact: "sip:2002@10.1.1.2".into(),
            reason: UnregisterReason::Expired
        }
    );
    assert_eq!(registrar.lookup("2002").len(), 1);

    // A replayed (older) REGISTER for the same Call-ID fails and changes nothing.
    // (The binding for 10.1.1.1 was made by CSeq 2; this replay ends at CSeq 2.)
    let saved = phone.cseq;
    phone.cseq = 0;
    let replay = phone.register("<sip:2002@10.1.1.1>", Some(0)).await;
    assert!(replay.starts_with("SIP/2.0 500"), "{replay}");
    assert_eq!(registrar.lookup("2002").len(), 1);
    phone.cseq = saved;

    // Expires: 0 on one contact removes just that one.
    let ok = phone.register("<sip:2002@10.1.1.1>", Some(0)).await;
    assert!(ok.starts_with("SIP/2.0 200"), "{ok}");
    let e = tokio::time::timeout(LIMIT, events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        e,
        RegistrationEvent::Unregistered {
            reason: UnregisterReason::Removed,
            ..
        }
    ));
    assert!(registrar.lookup("2002").is_empty());

    // `*` needs Expires: 0.
    let bad = phone.register("*", Some(30)).await;
    assert!(bad.starts_with("SIP/2.0 400"), "{bad}");
    shutdown.cancel();
}

#[tokio::test]
async fn too_brief_registrations_get_423_with_min_expires() {
    let shutdown = CancellationToken::new();
    let config = EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    let (ep, mut incoming) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    let registrar = Registrar::new(
        RegistrarConfig::default(),
        Arc::new(|u: &str| (u == "2002").then(|| Ha1::from_password("2002", "dialect", "pw"))),
        shutdown.clone(),
    );
    let reg = registrar.clone();
    tokio::spawn(async move {
        while let Some(req) = incoming.recv().await {
            reg.handle(&req);
        }
    });
    let mut phone = Phone {
        sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        to: ep.udp_addr().unwrap(),
        cseq: 0,
        digest: DigestClient::new(Credentials {
            username: "2002".into(),
            password: "pw".into(),
        }),
    };
    let r = phone.register("<sip:2002@10.1.1.1>", Some(10)).await;
    assert!(r.starts_with("SIP/2.0 423"), "{r}");
    assert!(r.contains("Min-Expires: 60"), "{r}");
    assert!(registrar.lookup("2002").is_empty());
    shutdown.cancel();
}
