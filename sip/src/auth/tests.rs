//! Tests of the digest arithmetic, the client, and the [`Authenticator`]'s
//! decisions on requests built in memory (paused time).

use std::sync::Arc;
use std::time::Duration;

use super::server::Decision;
use super::*;
use crate::message::{self, Inbound};
use crate::transport::{Target, TransportKind};

#[test]
fn rfc2617_section_3_5_example() {
    let r = digest_response(
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        Some(("00000001", "0a4f113b")),
    );
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc2069_style_without_qop() {
    // HA1 and HA2 from the RFC 2617 example, combined without qop.
    let ha1 = md5_hex(&["Mufasa", "testrealm@host.com", "Circle Of Life"]);
    assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
    let r = digest_response(
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        None,
    );
    let ha2 = md5_hex(&["GET", "/dir/index.html"]);
    assert_eq!(
        r,
        md5_hex(&[&ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", &ha2])
    );
}

#[test]
fn parses_the_rfc_challenge() {
    let c = Challenge::parse(
        "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    assert_eq!(c.realm, "testrealm@host.com");
    assert!(c.qop_auth);
    assert_eq!(
        c.opaque.as_deref(),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    assert!(Challenge::parse("Basic realm=\"x\"").is_none());
    assert!(Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256").is_none());
}

#[test]
fn ha1_is_the_first_half_of_the_rfc_example_and_never_printed() {
    let ha1 = Ha1::from_password("Mufasa", "testrealm@host.com", "Circle Of Life");
    assert_eq!(ha1.as_str(), "939e7578ed9e3c518a452acee763bce9");
    assert_eq!(
        Ha1::from_hex("939E7578ED9E3C518A452ACEE763BCE9"),
        Some(ha1.clone())
    );
    assert_eq!(Ha1::from_hex("939e7578"), None);
    assert_eq!(Ha1::from_hex("zz9e7578ed9e3c518a452acee763bce9"), None);
    assert_eq!(format!("{ha1:?}"), "Ha1(..)");
}

#[test]
fn the_parser_bounds_its_input() {
    assert!(parse_digest_params(&format!("Digest a=\"{}\"", "x".repeat(MAX_HEADER_LEN))).is_none());
    let many: String = (0..100).map(|i| format!("p{i}=v, ")).collect();
    let params = parse_digest_params(&format!("Digest {many}")).unwrap();
    assert_eq!(params.len(), 32);
    assert_eq!(
        parse_digest_params("Digest username=\"a\\\"b\", x"),
        Some(vec![
            ("username".into(), "a\"b".into()),
            ("x".into(), String::new())
        ])
    );
}

const PASSWORD: &str = "blue-pigeon-42";

fn phone_at(port: u16) -> Target {
    Target {
        transport: TransportKind::Udp,
        addr: std::net::SocketAddr::from(([192, 0, 2, 10], port)),
    }
}

fn authenticator() -> Authenticator {
    let lockout = lockout::LockoutConfig {
        source_failures: 5,
        user_failures: 10,
        ..lockout::LockoutConfig::default()
    };
    Authenticator::new(
        AuthConfig {
            lockout,
            ..AuthConfig::default()
        },
        Arc::new(|u: &str| (u == "1001").then(|| Ha1::from_password("1001", "dialect", PASSWORD))),
    )
}

/// A REGISTER for AOR 1001 (or `method` to `uri`) with optional credentials.
fn request(method: &str, uri: &str, auth: Option<&str>) -> rsip::Request {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n\
From: <sip:1001@192.0.2.1>;tag=a\r\nTo: <sip:1001@192.0.2.1>\r\nCall-ID: c1\r\n\
CSeq: 1 {method}\r\nContact: <sip:1001@192.0.2.10:5060>\r\n{auth}Content-Length: 0\r\n\r\n"
    );
    match message::parse(text.as_bytes(), true) {
        Ok(Inbound::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// Challenges a request from `source` for `user` and parses the challenge.
fn challenge(a: &Authenticator, method: &str, source: &Target, user: &str) -> Challenge {
    let req = request(method, "sip:192.0.2.1", None);
    assert_eq!(
        a.decide(&req, source, user, ChallengeKind::Www),
        Decision::Challenge { stale: false }
    );
    let header = a.challenge_header(&req, source, user, ChallengeKind::Www, false);
    Challenge::parse(&message::raw_value(&header)).unwrap()
}

fn client(password: &str) -> DigestClient {
    DigestClient::new(Credentials {
        username: "1001".into(),
        password: password.into(),
    })
}

fn ok() -> Decision {
    Decision::Accept(Authorized {
        username: "1001".into(),
    })
}

#[tokio::test(start_paused = true)]
async fn a_phone_registers_and_unregisters_on_one_nonce() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    assert!(c.qop_auth);
    let mut digest = client(PASSWORD);
    for _ in 0..3 {
        let auth = digest.authorize(&c, "REGISTER", "sip:192.0.2.1");
        let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
        assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Www), ok());
    }
    assert_eq!(a.counters().successes(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_captured_header_replayed_is_refused_from_anywhere() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Www), ok());
    // The same header again, from the same address or another port: a new
    // challenge, never an acceptance.
    for from in [phone.clone(), phone_at(6000)] {
        assert_eq!(
            a.decide(&req, &from, "1001", ChallengeKind::Www),
            Decision::Challenge { stale: false }
        );
    }
    assert_eq!(a.counters().failures(AuthFailure::Replayed), 1);
    assert_eq!(a.counters().failures(AuthFailure::NonceOutOfScope), 1);
}

#[tokio::test(start_paused = true)]
async fn a_nonce_serves_only_the_source_user_and_method_it_was_issued_for() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    // The right password, but sent from elsewhere, or for another method.
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone_at(5070), "1001", ChallengeKind::Www),
        Decision::Challenge { stale: false }
    );
    let auth = client(PASSWORD).authorize(&c, "REFER", "sip:192.0.2.1");
    let refer = request("REFER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&refer, &phone, "1001", ChallengeKind::Www),
        Decision::Challenge { stale: false }
    );
    assert_eq!(a.counters().failures(AuthFailure::NonceOutOfScope), 2);
    // A nonce issued for another user's challenge does not serve 1001 either.
    let other = challenge(&a, "REGISTER", &phone, "1002");
    let auth = client(PASSWORD).authorize(&other, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Www),
        Decision::Challenge { stale: false }
    );
}

#[tokio::test(start_paused = true)]
async fn the_digest_uri_must_be_the_request_uri() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:elsewhere.example");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Www),
        Decision::Refuse(400)
    );
    assert_eq!(a.counters().failures(AuthFailure::UriMismatch), 1);
}

#[tokio::test(start_paused = true)]
async fn qop_auth_is_required() {
    let a = authenticator();
    let phone = phone_at(5060);
    let mut c = challenge(&a, "REGISTER", &phone, "1001");
    c.qop_auth = false;
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Www),
        Decision::Refuse(400)
    );
    assert_eq!(a.counters().failures(AuthFailure::Malformed), 1);
}

#[tokio::test(start_paused = true)]
async fn another_users_credentials_do_not_serve_this_user() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1002");
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1002", ChallengeKind::Www),
        Decision::Refuse(403)
    );
    assert_eq!(a.counters().failures(AuthFailure::WrongUser), 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_nonce_with_the_right_password_is_stale() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    tokio::time::advance(AuthConfig::default().nonce_lifetime).await;
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Www),
        Decision::Challenge { stale: true }
    );
    // With a wrong password it is a wrong password, whatever the nonce.
    let auth = client("not-the-password-1").authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Www),
        Decision::Refuse(403)
    );
    assert_eq!(a.counters().failures(AuthFailure::WrongPassword), 1);
}

#[tokio::test(start_paused = true)]
async fn guessing_from_one_address_locks_it_out_and_the_right_password_waits_too() {
    let a = authenticator();
    let guesser = phone_at(7000);
    let mut refused = 0;
    let mut locked = None;
    for i in 0..2_000 {
        let req = request("REGISTER", "sip:192.0.2.1", None);
        match a.decide(&req, &guesser, "1001", ChallengeKind::Www) {
            Decision::Challenge { .. } => {}
            Decision::Locked(d) => {
                locked = Some((i, d));
                break;
            }
            other => panic!("{other:?}"),
        }
        let c = challenge(&a, "REGISTER", &guesser, "1001");
        let auth = client(&format!("{i:04}")).authorize(&c, "REGISTER", "sip:192.0.2.1");
        let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
        match a.decide(&req, &guesser, "1001", ChallengeKind::Www) {
            Decision::Refuse(403) => refused += 1,
            Decision::Locked(d) => {
                locked = Some((i, d));
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 5, "five guesses, then the address is locked out");
    assert_eq!(locked.map(|(_, d)| d), Some(Duration::from_secs(60)));
    // The right password from the locked address is refused without a look.
    let req = request("REGISTER", "sip:192.0.2.1", None);
    assert!(matches!(
        a.decide(&req, &guesser, "1001", ChallengeKind::Www),
        Decision::Locked(_)
    ));
    // The agent's phone elsewhere is not affected.
    let phone = Target {
        transport: TransportKind::Udp,
        addr: std::net::SocketAddr::from(([192, 0, 2, 99], 5060)),
    };
    let c = challenge(&a, "REGISTER", &phone, "1001");
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Www), ok());
    assert_eq!(a.counters().source_lockouts(), 1);
    assert_eq!(a.counters().failures(AuthFailure::WrongPassword), 5);
    assert!(a.counters().failures(AuthFailure::Locked) >= 2);
    // A minute later it may try again.
    tokio::time::advance(Duration::from_secs(60)).await;
    let c = challenge(&a, "REGISTER", &guesser, "1001");
    let auth = client(PASSWORD).authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(a.decide(&req, &guesser, "1001", ChallengeKind::Www), ok());
}

#[tokio::test(start_paused = true)]
async fn guessing_from_many_addresses_locks_the_user_but_not_its_phone() {
    let a = authenticator();
    let phone = phone_at(5060);
    let c = challenge(&a, "REGISTER", &phone, "1001");
    let mut digest = client(PASSWORD);
    let auth = digest.authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Www), ok());
    // Ten addresses, one wrong guess each.
    for i in 0..10u8 {
        let source = Target {
            transport: TransportKind::Udp,
            addr: std::net::SocketAddr::from(([203, 0, 113, i], 5060)),
        };
        let c = challenge(&a, "REGISTER", &source, "1001");
        let auth = client("wrong-guess-99").authorize(&c, "REGISTER", "sip:192.0.2.1");
        let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
        assert_eq!(
            a.decide(&req, &source, "1001", ChallengeKind::Www),
            Decision::Refuse(403)
        );
    }
    assert_eq!(a.counters().user_lockouts(), 1);
    let eleventh = Target {
        transport: TransportKind::Udp,
        addr: std::net::SocketAddr::from(([203, 0, 113, 77], 5060)),
    };
    let req = request("REGISTER", "sip:192.0.2.1", None);
    assert_eq!(
        a.decide(&req, &eleventh, "1001", ChallengeKind::Www),
        Decision::Locked(Duration::from_secs(30))
    );
    // The phone that registered before goes on registering.
    let auth = digest.authorize(&c, "REGISTER", "sip:192.0.2.1");
    let req = request("REGISTER", "sip:192.0.2.1", Some(&auth));
    assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Www), ok());
}

#[tokio::test(start_paused = true)]
async fn proxy_challenges_read_proxy_authorization() {
    let a = authenticator();
    let phone = phone_at(5060);
    let req = request("INVITE", "sip:5000@192.0.2.1", None);
    let header = a.challenge_header(&req, &phone, "1001", ChallengeKind::Proxy, false);
    assert!(matches!(header, rsip::Header::ProxyAuthenticate(_)));
    let c = Challenge::parse(&message::raw_value(&header)).unwrap();
    let auth = client(PASSWORD).authorize(&c, "INVITE", "sip:5000@192.0.2.1");
    let mut req = request("INVITE", "sip:5000@192.0.2.1", None);
    req.headers
        .push(message::other("Proxy-Authorization", auth.clone()));
    assert_eq!(a.decide(&req, &phone, "1001", ChallengeKind::Proxy), ok());
    // In the other header it is not read.
    let req = request("INVITE", "sip:5000@192.0.2.1", Some(&auth));
    assert_eq!(
        a.decide(&req, &phone, "1001", ChallengeKind::Proxy),
        Decision::Challenge { stale: false }
    );
}
