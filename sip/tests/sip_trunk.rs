//! A carrier simulated with a second endpoint on 127.0.0.1: trunk registration
//! with digest, calls placed through the trunk (407 challenge, ringing, answer,
//! BYE from the carrier) and cancelled while ringing.

// Helpers outside #[test] functions unwrap too: this is a test harness.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use dialect_sip::auth::{AuthConfig, Authenticator, ChallengeKind, Credentials, Ha1};
use dialect_sip::endpoint::{CallProgress, DialogEvent, IncomingRequest};
use dialect_sip::registrar::{Registrar, RegistrarConfig};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};
use dialect_sip::trunk::{self, TrunkConfig, TrunkStatus};
use dialect_sip::{EndpointConfig, SipEndpoint, message};
use rsip::Method;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

async fn endpoint(
    shutdown: &CancellationToken,
) -> (SipEndpoint, tokio::sync::mpsc::Receiver<IncomingRequest>) {
    let config = EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    SipEndpoint::bind(config, shutdown.clone()).await.unwrap()
}

fn carrier_auth() -> AuthConfig {
    AuthConfig {
        realm: "carrier".into(),
        ..AuthConfig::default()
    }
}

/// The carrier's one account.
fn trunk1(user: &str) -> Option<Ha1> {
    (user == "trunk1").then(|| Ha1::from_password("trunk1", "carrier", "pw1"))
}

/// The carrier: a registrar for account "trunk1" and a UAS that demands proxy
/// authentication, rings, then answers (number 100) or rings until cancelled (200).
fn carrier(
    endpoint: SipEndpoint,
    mut incoming: tokio::sync::mpsc::Receiver<IncomingRequest>,
    shutdown: &CancellationToken,
) {
    let registrar = Registrar::new(
        RegistrarConfig {
            auth: carrier_auth(),
            ..RegistrarConfig::default()
        },
        Arc::new(trunk1),
        shutdown.clone(),
    );
    let proxy_auth = Authenticator::new(carrier_auth(), Arc::new(trunk1));
    tokio::spawn(async move {
        while let Some(req) = incoming.recv().await {
            match req.method() {
                Method::Register => registrar.handle(&req),
                Method::Invite => {
                    if proxy_auth
                        .authenticate(&req, "trunk1", ChallengeKind::Proxy)
                        .is_none()
                    {
                        continue;
                    }
                    let endpoint = endpoint.clone();
                    tokio::spawn(async move {
                        let number = req.request.uri.user().unwrap_or("").to_string();
                        let uas = endpoint.accept_invite(req).unwrap();
                        uas.progress(180, None);
                        if number == "200" {
                            uas.cancelled().await;
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let offer = SessionDescription::parse(&uas.request().body).unwrap();
                        let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 50_000);
                        let (answer, _) = sdp::answer(&offer, &local).unwrap();
                        let (mut dialog, mut events) = uas.answer(answer.to_bytes()).unwrap();
                        match tokio::time::timeout(LIMIT, events.recv()).await {
                            Ok(Some(DialogEvent::Ack(_))) => {}
                            other => panic!("expected ACK, got {other:?}"),
                        }
                        let resp = endpoint.bye(&mut dialog).await.unwrap();
                        assert_eq!(resp.status_code.code(), 200);
                    });
                }
                _ => req.reply(405),
            }
        }
    });
}

fn trunk_config(carrier: &SipEndpoint, password: &str) -> TrunkConfig {
    let addr = carrier.udp_addr().unwrap();
    let mut t = TrunkConfig::new("carrier", &format!("sip:{addr}"), "127.0.0.1", "trunk1");
    t.credentials = Some(Credentials {
        username: "trunk1".into(),
        password: password.into(),
    });
    t.expires = 120;
    t.retry_min = Duration::from_millis(200);
    t.retry_max = Duration::from_secs(1);
    t
}

#[tokio::test]
async fn trunk_registers_with_digest_and_reports_failures() {
    let shutdown = CancellationToken::new();
    let (carrier_ep, carrier_in) = endpoint(&shutdown).await;
    carrier(carrier_ep.clone(), carrier_in, &shutdown);
    let (ours, _incoming) = endpoint(&shutdown).await;

    let mut status =
        trunk::start_registration(&ours, trunk_config(&carrier_ep, "pw1"), shutdown.clone());
    let registered = tokio::time::timeout(
        LIMIT,
        status.wait_for(|s| matches!(s, TrunkStatus::Registered { .. })),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert_eq!(registered, TrunkStatus::Registered { expires: 120 });

    let bad_stop = CancellationToken::new();
    let mut bad =
        trunk::start_registration(&ours, trunk_config(&carrier_ep, "wrong"), bad_stop.clone());
    let failed = tokio::time::timeout(
        LIMIT,
        bad.wait_for(|s| matches!(s, TrunkStatus::Failed { .. })),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert_eq!(
        failed,
        TrunkStatus::Failed {
            code: Some(403),
            retry_in: Duration::from_millis(200)
        }
    );
    // Back-off doubles on the next failure.
    let again = tokio::time::timeout(
        LIMIT,
        bad.wait_for(|s| matches!(s, TrunkStatus::Failed { retry_in, .. } if *retry_in == Duration::from_millis(400))),
    )
    .await;
    assert!(again.is_ok());
    bad_stop.cancel();
    shutdown.cancel();
}

#[tokio::test]
async fn call_through_trunk_answers_after_proxy_auth_and_ends_with_carrier_bye() {
    let shutdown = CancellationToken::new();
    let (carrier_ep, carrier_in) = endpoint(&shutdown).await;
    carrier(carrier_ep.clone(), carrier_in, &shutdown);
    let (ours, _incoming) = endpoint(&shutdown).await;
    let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 42_000);
    let offer = sdp::offer(&local).to_bytes();
    let mut call = trunk::dial(
        &ours,
        &trunk_config(&carrier_ep, "pw1"),
        "100",
        Some("10000"),
        offer,
    )
    .await
    .unwrap();
    let mut saw_ringing = false;
    let answered = loop {
        match tokio::time::timeout(LIMIT, call.next()).await.unwrap() {
            CallProgress::Provisional(r) => saw_ringing |= r.status_code.code() == 180,
            CallProgress::Answered(a) => break a,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(saw_ringing);
    // The INVITE that succeeded carried credentials and CSeq 2.
    assert_eq!(
        message::cseq(&call.request().headers),
        Some((2, Method::Invite))
    );
    assert!(message::header_value(&call.request().headers, "Proxy-Authorization").is_some());
    let answer = SessionDescription::parse(&answered.response.body).unwrap();
    let negotiated = sdp::read_answer(&answer, &local).unwrap();
    assert_eq!(negotiated.remote, Some("127.0.0.1:50000".parse().unwrap()));
    assert_eq!(negotiated.telephone_event, Some(101));
    let mut answered = *answered;
    match tokio::time::timeout(LIMIT, answered.events.recv())
        .await
        .unwrap()
    {
        Some(DialogEvent::Request(bye)) => {
            assert_eq!(bye.method(), Method::Bye);
            bye.reply(200);
        }
        other => panic!("expected BYE, got {other:?}"),
    }
    shutdown.cancel();
}

#[tokio::test]
async fn giving_up_on_a_ringing_call_sends_cancel() {
    let shutdown = CancellationToken::new();
    let (carrier_ep, carrier_in) = endpoint(&shutdown).await;
    carrier(carrier_ep.clone(), carrier_in, &shutdown);
    let (ours, _incoming) = endpoint(&shutdown).await;
    let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 42_002);
    let mut call = trunk::dial(
        &ours,
        &trunk_config(&carrier_ep, "pw1"),
        "200",
        None,
        sdp::offer(&local).to_bytes(),
    )
    .await
    .unwrap();
    loop {
        match tokio::time::timeout(LIMIT, call.next()).await.unwrap() {
            CallProgress::Provisional(r) if r.status_code.code() == 180 => break,
            CallProgress::Provisional(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    call.cancel();
    let end = tokio::time::timeout(LIMIT, call.next()).await.unwrap();
    assert!(matches!(end, CallProgress::Cancelled), "{end:?}");
    shutdown.cancel();
}
