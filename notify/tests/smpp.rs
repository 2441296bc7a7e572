//! The SMPP client against the loopback SMSC (ports 2700–2799): binds, long
//! Chinese messages, receipts, enquire_link both ways, a link dropped in the
//! middle of a submit, and the unbind at close.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers stop the test at the first surprise"
)]

use std::time::Duration;

use dialect_notify::smpp::client::{LinkState, SmppClient, SmppConfig, SmppError};
use dialect_notify::smpp::pdu::{MessageState, status};
use dialect_notify::smpp::peer::{PeerConfig, SmscPeer};

const PORTS: std::ops::RangeInclusive<u16> = 2700..=2799;

async fn peer(config: PeerConfig) -> SmscPeer {
    SmscPeer::start(config, PORTS)
        .await
        .expect("a free port for the SMSC")
}

fn client_config(peer: &SmscPeer, password: &str) -> SmppConfig {
    let mut c = SmppConfig::new("127.0.0.1", peer.addr().port(), "dialect", password);
    c.source_addr = "10086".into();
    c.source_addr_ton = 0;
    c.response_timeout = Duration::from_secs(2);
    c.reconnect_min = Duration::from_millis(50);
    c.reconnect_max = Duration::from_millis(200);
    c
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let smsc = peer(PeerConfig::new("dialect", "right")).await;
    let (client, _reports) = SmppClient::start(client_config(&smsc, "wrong"));
    let e = client
        .wait_bound(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        SmppError::BindRefused {
            status: status::INVALID_PASSWORD
        }
    );
    assert!(e.to_string().contains("invalid password"), "{e}");
    let sent = client.submit("8613800138000", "hello").await.unwrap_err();
    assert!(matches!(sent, SmppError::NotBound(_)), "{sent}");
    let log = smsc.log();
    assert!(log.binds.iter().all(|b| !b.accepted));
    assert!(log.submits.is_empty());
    client.close().await;
    assert_eq!(client.link_state(), LinkState::Closed);
}

#[tokio::test]
async fn a_hundred_chinese_characters_arrive_as_two_ucs2_parts_with_receipts() {
    let smsc = peer(PeerConfig::new("dialect", "secret")).await;
    let (client, mut reports) = SmppClient::start(client_config(&smsc, "secret"));
    client.wait_bound(Duration::from_secs(2)).await.unwrap();
    let text: String = "您的报修工单已派单维修人员将在两小时内联系您"
        .chars()
        .cycle()
        .take(100)
        .collect();
    let ids = client.submit("8613800138000", &text).await.unwrap();
    assert_eq!(ids.len(), 2, "two parts, two message ids");
    assert!(
        smsc.wait_for(Duration::from_secs(2), |l| !l.messages.is_empty())
            .await
    );
    let log = smsc.log();
    assert_eq!(log.submits.len(), 2);
    assert!(
        log.submits
            .iter()
            .all(|s| s.data_coding == 8 && s.esm_class == 0x40)
    );
    let m = &log.messages[0];
    assert_eq!(m.text, text);
    assert_eq!(m.to, "8613800138000");
    assert_eq!(m.from, "10086");
    assert_eq!(m.message_ids, ids);
    let mut receipted = Vec::new();
    for _ in 0..2 {
        let r = tokio::time::timeout(Duration::from_secs(2), reports.recv())
            .await
            .expect("a receipt in time")
            .expect("the channel open");
        assert_eq!(r.state, MessageState::Delivered);
        receipted.push(r.message_id);
    }
    receipted.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(receipted, expected);
    assert!(
        smsc.wait_for(Duration::from_secs(2), |l| l.deliver_sm_resps == 2)
            .await
    );
    client.close().await;
    assert!(
        smsc.wait_for(Duration::from_secs(2), |l| l.unbinds == 1)
            .await,
        "close unbinds"
    );
}

#[tokio::test]
async fn undeliverable_receipts_are_reported() {
    let mut config = PeerConfig::new("dialect", "secret");
    config.receipt_state = MessageState::Undeliverable;
    let smsc = peer(config).await;
    let (client, mut reports) = SmppClient::start(client_config(&smsc, "secret"));
    let ids = client
        .submit("8613800138000", "Your order 42 is closed")
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(2), reports.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.message_id, r.state),
        (ids[0].clone(), MessageState::Undeliverable)
    );
    assert_eq!(r.error.as_deref(), Some("001"));
    assert_eq!(smsc.log().messages[0].data_coding, 0, "ASCII goes as GSM");
    client.close().await;
}

#[tokio::test]
async fn enquire_links_are_sent_when_quiet_and_answered() {
    let mut config = PeerConfig::new("dialect", "secret");
    config.enquire_link = Some(Duration::from_millis(100));
    let smsc = peer(config).await;
    let mut c = client_config(&smsc, "secret");
    c.enquire_link = Duration::from_millis(150);
    let (client, _reports) = SmppClient::start(c);
    client.wait_bound(Duration::from_secs(2)).await.unwrap();
    assert!(
        smsc.wait_for(Duration::from_secs(3), |l| l.enquire_link_resps >= 3)
            .await,
        "the client answers the SMSC's enquire_link: {:?}",
        smsc.log()
    );
    // The peer's own enquiries keep the link from being quiet; stop them and
    // the client's own must follow.
    smsc.reconfigure(|c| c.enquire_link = None);
    drop(client);
    let mut c = client_config(&smsc, "secret");
    c.enquire_link = Duration::from_millis(100);
    let (quiet, _reports) = SmppClient::start(c);
    quiet.wait_bound(Duration::from_secs(2)).await.unwrap();
    assert!(
        smsc.wait_for(Duration::from_secs(3), |l| l.enquire_links >= 2)
            .await,
        "the client sends enquire_link on a quiet link"
    );
    assert_eq!(quiet.link_state(), LinkState::Bound);
    quiet.close().await;
}

#[tokio::test]
async fn a_link_dropped_during_a_submit_reconnects_and_the_retry_arrives() {
    let mut config = PeerConfig::new("dialect", "secret");
    config.drop_on_submit = Some(1);
    let smsc = peer(config).await;
    let (client, _reports) = SmppClient::start(client_config(&smsc, "secret"));
    client.wait_bound(Duration::from_secs(2)).await.unwrap();
    let first = client
        .submit("8613800138000", "retry me")
        .await
        .unwrap_err();
    assert!(
        matches!(first, SmppError::LinkLost(_)),
        "the caller learns the link was lost: {first}"
    );
    assert!(!first.is_permanent());
    client.wait_bound(Duration::from_secs(3)).await.unwrap();
    let ids = client.submit("8613800138000", "retry me").await.unwrap();
    assert_eq!(ids.len(), 1);
    let log = smsc.log();
    assert_eq!(log.connections, 2, "one reconnect");
    assert_eq!(log.dropped, 1);
    assert_eq!(log.messages.len(), 1);
    assert_eq!(log.messages[0].text, "retry me");
    client.close().await;
}

#[tokio::test]
async fn the_window_bounds_submits_in_flight_and_all_complete() {
    let smsc = peer(PeerConfig::new("dialect", "secret")).await;
    let mut c = client_config(&smsc, "secret");
    c.window = 4;
    c.registered_delivery = false;
    let (client, _reports) = SmppClient::start(c);
    client.wait_bound(Duration::from_secs(2)).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .submit("8613800138000", &format!("message {i}"))
                .await
        });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(r) = tasks.join_next().await {
        ids.extend(r.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 40, "every submit got its own id");
    assert_eq!(smsc.log().messages.len(), 40);
    client.close().await;
}

#[tokio::test]
async fn an_address_too_long_is_the_callers_error() {
    let smsc = peer(PeerConfig::new("dialect", "secret")).await;
    let (client, _reports) = SmppClient::start(client_config(&smsc, "secret"));
    let e = client.submit(&"1".repeat(30), "hi").await.unwrap_err();
    assert!(e.is_permanent(), "{e}");
    assert!(e.to_string().contains("destination_addr"), "{e}");
    client.close().await;
}

#[tokio::test]
async fn an_unreachable_smsc_is_reported() {
    // A port no server listens on (from the system's own range, so no other
    // test's SMSC can be there).
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut c = SmppConfig::new("127.0.0.1", port, "dialect", "secret");
    c.reconnect_min = Duration::from_millis(50);
    let (client, _reports) = SmppClient::start(c);
    let e = client
        .wait_bound(Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(e, SmppError::Connect { .. }), "{e}");
    client.close().await;
}
