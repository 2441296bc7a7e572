//! The outbound-call policy against toll fraud, from the outside: each test is
//! an attack a review of the running server reproduced, with a fake carrier
//! behind a trunk (`FakeCarrier`) counting the INVITEs the runtime sends it.
//!
//! - a callback to the caller's unverified From number (premium, abroad);
//! - an agent phone's REFER, and the desktop's dial and transfer, to a number
//!   abroad;
//! - more simultaneous calls on a trunk than its channels;
//! - a DID matched from an address that is not the trunk's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dialect_e2e::{CarrierAnswer, FakeCarrier, TestServer, sipp_async};

mod staff;
#[allow(dead_code)]
mod voices;

use staff::*;

/// A number abroad that a fraudster would have the platform call (a premium
/// international network).
const ABROAD: &str = "00882169999999";

/// Waits `secs` seconds (the runtime's placed calls and retries happen meanwhile).
async fn settle(secs: u64) {
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_never_dials_a_number_only_the_caller_claims() {
    // The carrier is on 127.0.0.2: callers from 127.0.0.1 are not its traffic,
    // so what their From and P-Asserted-Identity say is not believed.
    let carrier = FakeCarrier::start("127.0.0.2", CarrierAnswer::Busy);
    let trunk = carrier.trunk("carrier", "");
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    agent_ops(&s, "7001", &["sign_in"]).await;

    // The caller queues in 5004, presses the callback key, listens and hangs up.
    let caller = sipp_async(
        "uac_keys_2833.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5004".into()),
            ("caller", ABROAD.into()),
            ("asserted", ABROAD.into()),
            ("pcap", "/usr/share/sip-tester/dtmf_2833_9.pcap".into()),
        ],
        30,
    )
    .await;
    assert_eq!(
        caller.code, 0,
        "the caller stays in the queue and hangs up itself: {}",
        caller.output
    );
    // An agent becomes free: a callback, had it been accepted, would go out now.
    agent_ops(&s, "7001", &["ready"]).await;
    settle(4).await;
    assert_eq!(carrier.dialled(), Vec::<String>::new(), "no call went out");
    let c = &s.wait_contacts(1).await[0];
    let trail = dialect_e2e::trail(c);
    assert!(
        trail.iter().any(|(_, d)| d.contains("callback refused")),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_phone_cannot_refer_the_caller_abroad() {
    let carrier = FakeCarrier::start("127.0.0.2", CarrierAnswer::Busy);
    let trunk = carrier.trunk("carrier", "");
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let phone = agent_phone(
        &s,
        "7001",
        "uas_agent_refer_refused.xml",
        &[("refer_to", ABROAD)],
    )
    .await;
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    // The caller reaches the agent, whose REFER is refused (403): the two talk
    // on until the caller hangs up.
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
    phone_done(phone).await;
    assert_eq!(carrier.dialled(), Vec::<String>::new(), "no call went out");
    let c = &s.wait_contacts(1).await[0];
    let trail = dialect_e2e::trail(c);
    assert!(
        trail.iter().any(|(_, d)| d.contains("REFER refused")),
        "{trail:?}"
    );
    assert_eq!(c["end"], "hangup by caller", "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_desktop_cannot_dial_or_transfer_abroad() {
    let carrier = FakeCarrier::start("127.0.0.2", CarrierAnswer::Busy);
    let trunk = carrier.trunk("carrier", "");
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    agent_ops(&s, "7001", &["sign_in"]).await;
    let http = reqwest::Client::new();
    for (op, body) in [
        ("dial", serde_json::json!({ "number": ABROAD })),
        ("dial", serde_json::json!({ "number": "+882 16 9999999" })),
        (
            "transfer",
            serde_json::json!({ "target": { "kind": "number", "to": ABROAD } }),
        ),
    ] {
        let r = http
            .post(format!("http://{}/api/v1/agents/7001/{op}", s.http))
            .bearer_auth("t-7001")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(status, 403, "{op} {body}: {v}");
        assert_eq!(v["error"], "outbound_refused", "{v}");
    }
    settle(2).await;
    assert_eq!(carrier.dialled(), Vec::<String>::new(), "no call went out");
    // Each refusal is in the audit log, with the number and the reason.
    let audit = http
        .get(format!("http://{}/api/v1/audit", s.http))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let refused: Vec<&serde_json::Value> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .expect("audit entries")
        .iter()
        .filter(|e| e["action"] == "outbound.refused")
        .collect();
    assert_eq!(refused.len(), 3, "{audit}");
    assert!(
        refused
            .iter()
            .all(|e| e["user"] == "7001"
                && e["detail"]["reason"].as_str().unwrap().contains("denies")),
        "{refused:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trunk_never_carries_more_calls_than_its_channels() {
    // The carrier lets every call ring: each holds a channel until the caller
    // gives up.
    let carrier = FakeCarrier::start("127.0.0.2", CarrierAnswer::Ring);
    let trunk = carrier.trunk("carrier", "channels: 2\n");
    let (s, dir) = with_agents(&[], move |c| c.trunks.push(trunk)).await;
    // Three callers at once dial 5010, whose flow transfers them to a number.
    // Two ring at the carrier until they hang up; the third transfer is refused,
    // and the flow, with nothing after it, hangs up on that caller (so SIPp
    // reports one call that did not go as its scenario says).
    let callers = sipp_async(
        "uac_queue.xml",
        s.sip,
        3,
        3,
        vec![("service", "5010".into())],
        40,
    )
    .await;
    assert!(
        callers.output.contains("unexpected BYE"),
        "the refused caller is hung up: {}",
        callers.output
    );
    assert_eq!(
        carrier.dialled(),
        vec!["13800138000".to_string(), "13800138000".to_string()],
        "two channels, two calls"
    );
    let contacts = s.wait_contacts(3).await;
    let refused = contacts
        .iter()
        .filter(|c| {
            dialect_e2e::trail(c)
                .iter()
                .any(|(_, d)| d.contains("all its 2 channels in use"))
        })
        .count();
    assert_eq!(refused, 1, "{contacts:?}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_did_belongs_to_a_trunk_only_from_the_trunks_address() {
    // The trunk's carrier is 127.0.0.2; its DID 0898123456 leads to the flow of
    // 5003. A call from 127.0.0.1 dialling that DID is not the trunk's: it gets
    // no flow (404), no trunk group and no trunk for a callback.
    let s = TestServer::start(|c| {
        c.default_number = None;
        c.trunks.push(
            serde_yaml::from_str(
                "name: telecom\nhost: 127.0.0.2:9\ngroup: long_distance\ndids: {\"0898123456\": \"10001\"}\n",
            )
            .unwrap(),
        );
    })
    .await;
    let r = sipp_async(
        "uac_unknown_number.xml",
        s.sip,
        1,
        1,
        vec![("service", "0898123456".into())],
        20,
    )
    .await;
    assert_eq!(r.code, 0, "404 for a DID from elsewhere: {}", r.output);
    s.stop().await;
}
