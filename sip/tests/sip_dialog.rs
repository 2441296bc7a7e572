//! Two endpoints on 127.0.0.1 calling each other directly: the caller puts the
//! callee on hold with a re-INVITE, sends INFO, and hangs up; the callee answers
//! the re-INVITE through the UA core and sees the ACK.

// Helpers outside #[test] functions unwrap too: this is a test harness.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use dialect_sip::dialog::RequestCheck;
use dialect_sip::endpoint::{CallProgress, DialogEvent, OutgoingInvite};
use dialect_sip::sdp::{self, Direction, LocalMedia, SessionDescription};
use dialect_sip::transport::{Target, TransportKind};
use dialect_sip::{EndpointConfig, SipEndpoint};
use rsip::Method;
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(10);

async fn reinvite_info_and_bye(kind: TransportKind) {
    let shutdown = CancellationToken::new();
    let config = EndpointConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        ..EndpointConfig::default()
    };
    let (a, _a_in) = SipEndpoint::bind(config.clone(), shutdown.clone())
        .await
        .unwrap();
    let (b, mut b_in) = SipEndpoint::bind(config, shutdown.clone()).await.unwrap();
    let b_addr = match kind {
        TransportKind::Udp => b.udp_addr(),
        TransportKind::Tcp => b.tcp_addr(),
    }
    .unwrap();

    // Callee: answer, then handle re-INVITE (hold), INFO and BYE.
    let callee = {
        let b = b.clone();
        tokio::spawn(async move {
            let req = tokio::time::timeout(LIMIT, b_in.recv())
                .await
                .unwrap()
                .unwrap();
            let call = b.accept_invite(req).unwrap();
            let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 41_000);
            let offer = SessionDescription::parse(&call.request().body).unwrap();
            let (answer, _) = sdp::answer(&offer, &local).unwrap();
            let (mut dialog, mut events) = call.answer(answer.to_bytes()).unwrap();
            let mut log = Vec::new();
            while let Some(ev) = tokio::time::timeout(LIMIT, events.recv()).await.unwrap() {
                match ev {
                    DialogEvent::Ack(_) => log.push("ack".to_string()),
                    DialogEvent::AckTimeout => log.push("ack-timeout".to_string()),
                    DialogEvent::Request(r) => {
                        assert_eq!(dialog.on_request(&r.request), RequestCheck::Ok);
                        match r.method() {
                            Method::Invite => {
                                let offer = SessionDescription::parse(&r.request.body).unwrap();
                                let mut local = local.clone();
                                local.session_version += 1;
                                let (answer, n) = sdp::answer(&offer, &local).unwrap();
                                log.push(format!("reinvite hold={}", n.hold));
                                b.answer_reinvite(&dialog, r, answer.to_bytes());
                            }
                            Method::Info => {
                                log.push(String::from_utf8_lossy(&r.request.body).to_string());
                                r.reply(200);
                            }
                            Method::Bye => {
                                r.reply(200);
                                log.push("bye".into());
                                return log;
                            }
                            _ => r.reply(405),
                        }
                    }
                }
            }
            log
        })
    };

    let local = LocalMedia::g711("127.0.0.1".parse().unwrap(), 42_000);
    let mut call = a
        .invite(OutgoingInvite {
            request_uri: format!("sip:ivr@{b_addr}"),
            from: "<sip:caller@127.0.0.1>".into(),
            to: "<sip:ivr@127.0.0.1>".into(),
            target: Target {
                transport: kind,
                addr: b_addr,
            },
            sdp: Some(sdp::offer(&local).to_bytes()),
            credentials: None,
            headers: Vec::new(),
            call_id: None,
            contact_user: Some("caller".into()),
        })
        .unwrap();
    let answered = loop {
        match tokio::time::timeout(LIMIT, call.next()).await.unwrap() {
            CallProgress::Provisional(_) => {}
            CallProgress::Answered(a) => break a,
            other => panic!("{other:?}"),
        }
    };
    let mut dialog = answered.dialog;
    let mut hold = local.clone();
    hold.direction = Direction::SendOnly;
    hold.session_version += 1;
    let resp = a
        .reinvite(&mut dialog, sdp::offer(&hold).to_bytes())
        .await
        .unwrap();
    assert_eq!(resp.status_code.code(), 200);
    let answer = SessionDescription::parse(&resp.body).unwrap();
    assert_eq!(answer.media[0].direction, Some(Direction::RecvOnly));
    let resp = a
        .info(
            &mut dialog,
            "application/dtmf-relay",
            b"Signal=5\r\nDuration=160\r\n".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status_code.code(), 200);
    let resp = a.bye(&mut dialog).await.unwrap();
    assert_eq!(resp.status_code.code(), 200);
    let log = callee.await.unwrap();
    assert_eq!(
        log,
        vec![
            "ack".to_string(),
            "reinvite hold=true".to_string(),
            "ack".to_string(),
            "Signal=5\r\nDuration=160\r\n".to_string(),
            "bye".to_string()
        ]
    );
    shutdown.cancel();
}

#[tokio::test]
async fn reinvite_info_and_bye_over_udp() {
    reinvite_info_and_bye(TransportKind::Udp).await;
}

#[tokio::test]
async fn reinvite_info_and_bye_over_tcp() {
    reinvite_info_and_bye(TransportKind::Tcp).await;
}
