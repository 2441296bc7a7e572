//! A call transferred to a queue reaches an agent's registered phone (SIPp as
//! the agent's phone, another SIPp as the caller), with digest-authenticated
//! REGISTER, the agent signed in over the CTI API, and the contact record
//! showing queue, wait, agent and talk time. Calls the ACD places itself
//! (callbacks, agents' outbound calls) go out through a trunk whose far end is a
//! SIPp on loopback; a ring-all queue rings two phones and cancels the loser;
//! an offer nobody answers goes to the next agent and the first is not ready;
//! a call waits until an agent is ready, and overflows up to a staffed queue.
//!
//! Who hears whom is checked with phones of our own (`voices`): each party
//! speaks a tone of its own frequency and each phone measures every frequency in
//! every packet it receives. So the tests check that a listening, whispering or
//! barging supervisor and a supervisor taking over hear and are heard by exactly
//! the right parties; that a waiting caller hears the queue's music and its
//! position announcements (tones of their own in the project's prompts), or the
//! ringback tone when the queue has no music; that a connected party hears the
//! 425 Hz ringback (or the far end's early media) while a number rings for it;
//! and that the ACD's dial timeout cancels a number still ringing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::Duration;

use dialect_e2e::{TestServer, scenario, sipp_async, sipp_media_port};
use dialect_runtime::config::ApiUser;

mod staff;
mod voices;

use staff::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_queued_call_is_connected_to_the_registered_agent() {
    let (s, agent_phone, dir) = staffed("uas_agent.xml", &[]).await;

    // The caller dials 5000, is queued, connected, and hangs up after 6 s.
    let c = &queued_call(&s, "5000", [agent_phone]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_who_chose_a_callback_is_called_back_and_connected() {
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let phone = agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    // Signed in but not ready: the caller waits.
    agent_ops(&s, "7001", &["sign_in"]).await;
    let far_end = customer(port, 4_000);

    // The caller dials 5004, presses 9 in the queue and is hung up on.
    let caller = sipp_async(
        "uac_callback.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5004".into()),
            ("pcap", "/usr/share/sip-tester/dtmf_2833_9.pcap".into()),
        ],
        30,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    let first = s.wait_contacts(1).await;
    assert_eq!(first[0]["end"], "callback accepted", "{}", first[0]);

    // The agent becomes ready: the runtime calls 13912345678 back through the
    // trunk, and once the customer answers, rings the agent and bridges them.
    agent_ops(&s, "7001", &["ready"]).await;
    phone_done(far_end).await;
    phone_done(phone).await;
    let c = contact_of_kind(&s, "callback").await;
    assert_eq!(c["direction"], "outbound", "{c}");
    assert_eq!(c["called"], "13912345678", "{c}");
    assert_eq!(c["caller"], "10000", "the trunk's caller id: {c}");
    assert_eq!(c["trunk"], "carrier", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 1000, "{c}");
    assert_eq!(c["end"], "hangup by caller", "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_places_an_outbound_call_from_the_desktop() {
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let phone = agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    agent_ops(&s, "7001", &["sign_in"]).await;
    let far_end = customer(port, 4_000);

    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/agents/7001/dial", s.http))
        .bearer_auth("t-7001")
        .json(&serde_json::json!({ "number": "13800138000" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    // The agent's phone rings first, then the number; they talk until the
    // customer hangs up.
    let mut talking = false;
    for _ in 0..200 {
        if agent_state(&s, "7001").await == "talking" {
            talking = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(talking, "the agent is talking to the customer");
    phone_done(far_end).await;
    phone_done(phone).await;
    let c = contact_of_kind(&s, "outbound").await;
    assert_eq!(c["direction"], "outbound", "{c}");
    assert_eq!(c["called"], "13800138000", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 1000, "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ring_all_rings_both_phones_and_cancels_the_other() {
    let (s, dir) = with_agents(&["7001", "7002"], |_| {}).await;
    // 7001 answers after 1.5 s of ringing; 7002 rings until it is cancelled.
    let answers = agent_phone(&s, "7001", "uas_agent_late.xml", &[]).await;
    let rings = agent_phone(&s, "7002", "uas_agent_ring.xml", &[]).await;
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    agent_ops(&s, "7002", &["sign_in", "ready"]).await;
    // Both phones went through their scenarios: 7002 got a CANCEL.
    let c = &queued_call(&s, "5005", [rings, answers]).await;
    assert_eq!(c["queue"], "everyone", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    let trail = dialect_e2e::trail(c);
    for agent in ["7001", "7002"] {
        assert!(
            trail
                .iter()
                .any(|(_, d)| d == &format!("ringing agent {agent}")),
            "{trail:?}"
        );
    }
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_nobody_can_take_overflows_up_to_a_queue_with_an_idle_agent() {
    // No agent has level 5 for `experts`; after 2 s the call moves up to
    // `anyone`, where 7001 (level 3) is idle.
    let (s, phone, dir) = staffed("uas_agent.xml", &[]).await;
    let c = &queued_call(&s, "5007", [phone]).await;
    assert_eq!(c["queue"], "anyone", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["waited_ms"].as_i64().unwrap() >= 2_000, "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail
            .iter()
            .any(|(_, d)| d.starts_with("experts: position")),
        "{trail:?}"
    );
    assert!(
        trail.iter().any(|(_, d)| d.starts_with("anyone: position")),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_call_goes_to_the_agent_who_becomes_ready() {
    let (s, dir) = with_agents(&["7001"], |_| {}).await;
    let phone = agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    agent_ops(&s, "7001", &["sign_in"]).await;
    // Nobody is ready: the caller waits in the queue.
    let sip = s.sip;
    let caller = tokio::spawn(async move {
        sipp_async(
            "uac_queue.xml",
            sip,
            1,
            1,
            vec![("service", "5000".into())],
            40,
        )
        .await
    });
    wait_waiting(&s, "support", 1).await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(agent_state(&s, "7001").await, "not_ready");
    agent_ops(&s, "7001", &["ready"]).await;
    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(phone).await;
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["queue"], "support", "{c}");
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["waited_ms"].as_i64().unwrap() >= 1_500, "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 0, "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits (at most 10 s) until `queue` holds `n` waiting calls.
async fn wait_waiting(s: &TestServer, queue: &str, n: u64) {
    let mut seen = serde_json::Value::Null;
    for _ in 0..100 {
        seen = reqwest::Client::new()
            .get(format!("http://{}/api/v1/queues/{queue}", s.http))
            .bearer_auth("t-7001")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if seen["waiting"] == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{queue} never held {n} calls: {seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_on_a_long_distance_trunk_overtakes_a_local_call() {
    // The queue's priority names the trunk *group*; the trunk's own name
    // differs, so only the group can rank the call first.
    let port = dialect_e2e::test_sip_port();
    let trunk: dialect_runtime::config::TrunkConfig = serde_yaml::from_str(&format!(
        "name: province_ld\nhost: 127.0.0.2:{port}\ngroup: long_distance\n"
    ))
    .unwrap();
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let phone = agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    agent_ops(&s, "7001", &["sign_in"]).await;
    let sip = s.sip;
    let call = |caller: &'static str, local: &'static str| {
        tokio::spawn(async move {
            let keys = vec![
                ("service", "5011".to_string()),
                ("caller", caller.to_string()),
                ("local", local.to_string()),
            ];
            sipp_async("uac_queue.xml", sip, 1, 1, keys, 30).await
        })
    };
    // The local caller waits first; the long-distance caller comes after.
    let local = call("13900000001", "127.0.0.1");
    wait_waiting(&s, "ranked", 1).await;
    let long_distance = call("13900000002", "127.0.0.2");
    wait_waiting(&s, "ranked", 2).await;
    agent_ops(&s, "7001", &["ready"]).await;
    let long_distance = long_distance.await.unwrap();
    assert_eq!(long_distance.code, 0, "{}", long_distance.output);
    // The local caller hangs up while still waiting (its SIPp hangs up 6 s in).
    let _ = local.await.unwrap();
    phone_done(phone).await;
    let contacts = s.wait_contacts(2).await;
    let of = |caller: &str| {
        contacts
            .iter()
            .find(|c| c["caller"] == caller)
            .unwrap_or_else(|| panic!("no contact from {caller}: {contacts:?}"))
            .clone()
    };
    let (first, second) = (of("13900000002"), of("13900000001"));
    assert_eq!(first["trunk"], "province_ld", "{first}");
    assert_eq!(first["agent"], "7001", "{first}");
    assert!(second["agent"].is_null(), "the local call waited: {second}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// One call from `caller` to the guarded queue: whether it reached the queue
/// (it waits until its SIPp hangs up) or was refused (the flow hangs up).
async fn guarded_call(
    s: &TestServer,
    caller: &'static str,
    expect_queue: bool,
) -> serde_json::Value {
    let before = s.wait_contacts(0).await.len();
    let scenario = if expect_queue {
        "uac_queue.xml"
    } else {
        "uac_server_bye.xml"
    };
    let keys = vec![
        ("service", "5012".to_string()),
        ("caller", caller.to_string()),
    ];
    let run = sipp_async(scenario, s.sip, 1, 1, keys, 30).await;
    assert_eq!(run.code, 0, "{caller}: {}", run.output);
    let contacts = s.wait_contacts(before + 1).await;
    contacts
        .iter()
        .filter(|c| c["caller"] == caller)
        .max_by_key(|c| c["id"].as_u64())
        .unwrap()
        .clone()
}

async fn as_user(
    s: &TestServer,
    token: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", s.http))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listed_caller_reaches_agents_only_as_often_as_the_category_allows() {
    let (s, dir) = with_agents(&["7001"], |c| {
        c.api_users.push(ApiUser {
            name: "boss".into(),
            token: "t-boss".into(),
            password: None,
            role: dialect_runtime::config::Role::Supervisor,
            department: None,
            email: None,
            phone: None,
        })
    })
    .await;
    // `abuse` allows one transfer a day: the first call queues, the second
    // is refused and takes the flow's `else`.
    let first = guarded_call(&s, "13900000099", true).await;
    assert_eq!(first["queue"], "support", "{first}");
    let second = guarded_call(&s, "13900000099", false).await;
    assert!(second["queue"].is_null(), "{second}");
    assert_eq!(second["end"], "hangup by flow", "{second}");
    assert!(
        second.to_string().contains("blacklist.abuse allows 1"),
        "{second}"
    );
    // `harassment` allows none.
    let none = guarded_call(&s, "13900000098", false).await;
    assert!(none["queue"].is_null(), "{none}");

    // An agent flags a caller: nothing changes until a supervisor confirms.
    let (st, flag) = as_user(
        &s,
        "t-7001",
        "/api/v1/lists/blacklist/flags",
        serde_json::json!({"number": "+86 139 0000 0077", "category": "harassment", "reason": "辱骂坐席"}),
    )
    .await;
    assert_eq!(st, 201, "{flag}");
    assert_eq!(flag["state"], "pending", "{flag}");
    let id = flag["id"].as_u64().unwrap();
    let (st, v) = as_user(
        &s,
        "t-7001",
        "/api/v1/lists/blacklist/flags",
        serde_json::json!({"number": "13900000076", "reason": " "}),
    )
    .await;
    assert_eq!(st, 400, "a reason is required: {v}");
    let (st, _) = as_user(
        &s,
        "t-7001",
        &format!("/api/v1/list-flags/{id}/confirm"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, 403, "agents do not confirm flags");
    let pending = guarded_call(&s, "13900000077", true).await;
    assert_eq!(
        pending["queue"], "support",
        "a pending flag changes nothing: {pending}"
    );

    let (st, v) = as_user(
        &s,
        "t-boss",
        &format!("/api/v1/list-flags/{id}/confirm"),
        serde_json::json!({"note": "heard the recording"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["state"], "confirmed", "{v}");
    let (st, _) = as_user(
        &s,
        "t-boss",
        &format!("/api/v1/list-flags/{id}/reject"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, 409, "a decided flag stays decided");
    // In force for the very next call, without a redeploy.
    let refused = guarded_call(&s, "13900000077", false).await;
    assert!(refused["queue"].is_null(), "{refused}");

    // A rejected flag puts nobody on the list.
    let (_, flag) = as_user(
        &s,
        "t-7001",
        "/api/v1/lists/blacklist/flags",
        serde_json::json!({"number": "13900000066", "category": "harassment", "reason": "wrong number"}),
    )
    .await;
    let id = flag["id"].as_u64().unwrap();
    let (st, v) = as_user(
        &s,
        "t-boss",
        &format!("/api/v1/list-flags/{id}/reject"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!((st, v["state"].as_str()), (200, Some("rejected")), "{v}");
    let listed = reqwest::Client::new()
        .get(format!("http://{}/api/v1/lists/blacklist/entries", s.http))
        .bearer_auth("t-boss")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("13900000077") && !listed.contains("13900000066"),
        "{listed}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unanswered_offer_goes_to_the_next_agent_and_the_first_is_not_ready() {
    let (s, dir) = with_agents(&["7001", "7002"], |_| {}).await;
    // 7001 has been idle longest, so it is offered the call first, but its
    // phone only rings; after the queue's 3 s the call goes to 7002.
    let rings = agent_phone(&s, "7001", "uas_agent_ring.xml", &[]).await;
    let answers = agent_phone(&s, "7002", "uas_agent.xml", &[]).await;
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent_ops(&s, "7002", &["sign_in", "ready"]).await;
    let c = &queued_call(&s, "5006", [rings, answers]).await;
    assert_eq!(c["queue"], "retry", "{c}");
    assert_eq!(c["agent"], "7002", "{c}");
    let trail = dialect_e2e::trail(c);
    let rung = |agent: &str| {
        trail
            .iter()
            .position(|(_, d)| d == &format!("ringing agent {agent}"))
    };
    assert!(
        matches!((rung("7001"), rung("7002")), (Some(a), Some(b)) if a < b),
        "{trail:?}"
    );
    // One missed offer makes the agent not ready (the ACD's default policy).
    assert_eq!(agent_state(&s, "7001").await, "not_ready");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_blind_transfers_the_caller_with_refer() {
    let (s, agent_phone, dir) = staffed("uas_agent_refer.xml", &[("refer_to", "5003")]).await;
    // The caller dials 5000, reaches the agent, is sent to 5003 by REFER, and
    // hangs up after 6 s in the flow answering 5003.
    let c = &queued_call(&s, "5000", [agent_phone]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refer_without_the_agents_credentials_transfers_nobody() {
    let (s, agent_phone, dir) = staffed(
        "uas_agent_refer_forged.xml",
        &[("refer_to", "5003"), ("password", "Not-the-password-1")],
    )
    .await;
    // The caller dials 5000, reaches the agent and hangs up after 6 s: the REFER
    // in between was challenged, then refused.
    let c = &queued_call(&s, "5000", [agent_phone]).await;
    assert_eq!(c["agent"], "7001", "{c}");
    assert_eq!(c["flow"], "entry", "the caller stayed with the agent: {c}");
    assert_eq!(c["end"], "hangup by caller", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        !trail.iter().any(|(_, d)| d.contains("blind transfer")),
        "{trail:?}"
    );
    assert_eq!(
        s.metric_labelled(
            "dialect_sip_auth_failures_total",
            "reason=\"wrong_password\""
        )
        .await,
        1.0
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// What a [`test_phone`] saw: when it answered, when it received audible RTP
/// (one instant per 20 ms packet louder than silence), whether it got a BYE.
#[derive(Debug, Default)]
struct PhoneLog {
    answered: Option<std::time::Instant>,
    loud: Vec<std::time::Instant>,
    bye: bool,
}

impl PhoneLog {
    /// Audible packets received at or after `t`.
    fn loud_since(&self, t: std::time::Instant) -> usize {
        self.loud.iter().filter(|x| **x >= t).count()
    }

    /// Audible packets received in `[from, to)`.
    fn loud_between(&self, from: std::time::Instant, to: std::time::Instant) -> usize {
        self.loud.iter().filter(|x| **x >= from && **x < to).count()
    }
}

/// A phone of our own for `user`: registered with digest auth, it answers one
/// INVITE (PCMU), records when audible audio arrives, and ends at the BYE (or
/// after `limit`).
fn test_phone(
    server: std::net::SocketAddr,
    user: &'static str,
    password: &'static str,
    limit: Duration,
) -> std::thread::JoinHandle<PhoneLog> {
    use dialect_media::g711::Law;
    let sip = register(server, user, password);
    let port = sip.local_addr().unwrap().port();
    sip.set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    rtp.set_nonblocking(true).unwrap();
    let rtp_port = rtp.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut log = PhoneLog::default();
        let deadline = std::time::Instant::now() + limit;
        let mut buf = [0u8; 4096];
        let mut pcm = [0i16; 512];
        while std::time::Instant::now() < deadline && !log.bye {
            while let Ok((n, _)) = rtp.recv_from(&mut buf) {
                if n > 12 && buf[1] & 0x7f == 0 {
                    let k = Law::Ulaw.decode(&buf[12..n], &mut pcm);
                    let energy: f64 = pcm[..k].iter().map(|s| f64::from(*s).powi(2)).sum();
                    if k > 0 && (energy / k as f64).sqrt() > 500.0 {
                        log.loud.push(std::time::Instant::now());
                    }
                }
            }
            let Ok((n, from)) = sip.recv_from(&mut buf) else {
                continue;
            };
            let m = voices::Message::parse(&String::from_utf8_lossy(&buf[..n]));
            if m.status().is_some() || m.method() == "ACK" {
                continue;
            }
            if m.method() == "INVITE" {
                log.answered.get_or_insert_with(std::time::Instant::now);
            }
            let reply = voices::ok_reply(&m, user, port, rtp_port);
            sip.send_to(reply.as_bytes(), from).unwrap();
            if m.method() == "BYE" {
                log.bye = true;
            }
        }
        log
    })
}

/// Ten seconds of a 440 Hz tone, headerless mu-law, for the caller's `rtp_stream`.
fn tone_file() -> std::path::PathBuf {
    use dialect_media::g711::Law;
    let pcm: Vec<i16> = (0..80_000)
        .map(|i| ((i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let mut bytes = vec![0u8; pcm.len()];
    Law::Ulaw.encode(&pcm, &mut bytes);
    let path = std::env::temp_dir().join(format!("dialect-tone-{}.ulaw", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A server with agents 7001 (phone: SIPp `phone`, signed in and ready), 7002
/// (signs in later) and 7009 (a supervisor's phone, never signed in), API users
/// for 7001, 7002 and a supervisor `sup`. Returns the server, 7001's phone and
/// the project folder.
async fn team(phone: &str) -> (TestServer, std::process::Child, std::path::PathBuf) {
    let (s, dir) = team_server().await;
    let sip = s.sip;
    let port = tokio::task::spawn_blocking(move || register_port(sip, "7001", PHONE_PASSWORD))
        .await
        .unwrap();
    let agent_phone = Command::new("sipp")
        .arg("-sf")
        .arg(scenario(phone))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &sipp_media_port().to_string()])
        .args(["-m", "1", "-timeout", "40s", "-timeout_error", "-nostdin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for op in ["sign_in", "ready"] {
        cti(&s, "7001", "t-7001", op, serde_json::json!({})).await;
    }
    (s, agent_phone, dir)
}

/// The server of [`team`], with no phone registered and nobody signed in.
async fn team_server() -> (TestServer, std::path::PathBuf) {
    with_agents(&["7001", "7002"], |c| {
        c.agents.push(test_agent("7009"));
        c.api_users.push(ApiUser {
            name: "sup".into(),
            token: "t-sup".into(),
            password: None,
            role: dialect_runtime::config::Role::Supervisor,
            department: None,
            email: None,
            phone: None,
        });
    })
    .await
}

/// Posts a CTI operation for `agent` and checks it was accepted.
async fn cti(s: &TestServer, agent: &str, token: &str, op: &str, body: serde_json::Value) {
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1/agents/{agent}/{op}", s.http))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert_eq!(status, 200, "{op}: {:?}", r.text().await);
}

/// An agent's state as the agents API shows it.
async fn state(s: &TestServer, agent: &str) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/agents/{agent}", s.http))
        .bearer_auth("t-sup")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["state"].as_str().unwrap_or("").to_string()
}

/// Waits (at most 10 s) until `agent` is in `want`.
async fn wait_state(s: &TestServer, agent: &str, want: &str) {
    let mut last = String::new();
    for _ in 0..200 {
        last = state(s, agent).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("agent {agent} is {last}, not {want}");
}

/// The caller: dials 5000, plays a tone as its voice, hangs up after `seconds`.
fn talking_caller(s: &TestServer, seconds: u64) -> tokio::task::JoinHandle<dialect_e2e::SippRun> {
    tokio::spawn(sipp_async(
        "uac_talk.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5000".into()),
            ("tones", tone_file().display().to_string()),
            ("hold", (seconds * 1000).to_string()),
        ],
        40,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_holds_and_resumes_the_caller() {
    // The agent's phone hangs up by itself 6 s after answering.
    let (s, agent_phone, dir) = team("uas_agent_hangup.xml").await;
    let caller = tokio::spawn(sipp_async(
        "uac_bye_from_server.xml",
        s.sip,
        1,
        1,
        vec![("service", "5000".into())],
        40,
    ));
    wait_state(&s, "7001", "talking").await;
    cti(&s, "7001", "t-7001", "hold", serde_json::json!({})).await;
    wait_state(&s, "7001", "held").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cti(&s, "7001", "t-7001", "resume", serde_json::json!({})).await;
    wait_state(&s, "7001", "talking").await;

    // The caller kept the call: it ends when the agent hangs up (BYE to the caller).
    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 4000, "{c}");
    assert!(
        c["end"].as_str().unwrap().contains("far end hung up"),
        "{c}"
    );
    let trail = dialect_e2e::trail(c);
    let hold = trail.iter().position(|(_, d)| d == "caller on hold");
    let resume = trail.iter().position(|(_, d)| d == "caller off hold");
    assert!(hold.is_some() && resume > hold, "{trail:?}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Agent 7002 comes on duty with a [`test_phone`], and 7001 (talking with the
/// caller) consults 7002, who answers. Returns 7002's phone.
async fn consult_7002(s: &TestServer) -> std::thread::JoinHandle<PhoneLog> {
    let sip = s.sip;
    let phone = tokio::task::spawn_blocking(move || {
        test_phone(sip, "7002", PHONE_PASSWORD, Duration::from_secs(30))
    })
    .await
    .unwrap();
    for op in ["sign_in", "ready"] {
        cti(s, "7002", "t-7002", op, serde_json::json!({})).await;
    }
    cti(
        s,
        "7001",
        "t-7001",
        "consult",
        serde_json::json!({"target": {"kind": "agent", "to": "7002"}}),
    )
    .await;
    wait_state(s, "7002", "talking").await;
    phone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consultation_ends_in_a_transfer_to_the_consulted_agent() {
    let (s, agent_phone, dir) = team("uas_agent.xml").await;
    let caller = talking_caller(&s, 10);
    wait_state(&s, "7001", "talking").await;
    // 7002 comes on duty with a phone of ours that hears the caller's tone.
    let phone = consult_7002(&s).await;
    // During the consultation the caller is on hold: 7002 does not hear them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let transferred = std::time::Instant::now();
    cti(&s, "7001", "t-7001", "transfer", serde_json::json!({})).await;
    // The first agent's phone is released with BYE; 7002 talks with the caller.
    phone_done(agent_phone).await;
    assert_eq!(state(&s, "7002").await, "talking");
    assert_ne!(state(&s, "7001").await, "talking");

    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    let log = finished(phone).await;
    assert!(log.bye, "7002's phone was hung up at the end: {log:?}");
    let answered = log.answered.expect("7002 answered");
    assert!(
        log.loud_between(answered, transferred) <= 5,
        "7002 heard the held caller: {log:?}"
    );
    assert!(
        log.loud_since(transferred) > 50,
        "7002 hears the caller after the transfer: {log:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7002", "{c}");
    assert_eq!(c["end"], "hangup by caller", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail
            .iter()
            .any(|(_, d)| d == "transferred from agent 7001 to agent 7002"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consultation_becomes_a_conference() {
    let (s, agent_phone, dir) = team("uas_agent.xml").await;
    let caller = talking_caller(&s, 9);
    wait_state(&s, "7001", "talking").await;
    let phone = consult_7002(&s).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let joined = std::time::Instant::now();
    cti(&s, "7001", "t-7001", "conference", serde_json::json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(state(&s, "7001").await, "talking");
    assert_eq!(state(&s, "7002").await, "talking");

    // The caller hangs up: both agents' phones get a BYE.
    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;
    let log = finished(phone).await;
    assert!(log.bye, "{log:?}");
    let answered = log.answered.expect("7002 answered");
    assert!(log.loud_between(answered, joined) <= 5, "{log:?}");
    assert!(
        log.loud_since(joined) > 50,
        "7002 hears the caller in the conference: {log:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail.iter().any(|(_, d)| d == "conference of 7001, 7002"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_supervisor_listens_to_a_call() {
    let (s, agent_phone, dir) = team("uas_agent.xml").await;
    let caller = talking_caller(&s, 8);
    wait_state(&s, "7001", "talking").await;
    let sip = s.sip;
    let phone = tokio::task::spawn_blocking(move || {
        test_phone(sip, "7009", PHONE_PASSWORD, Duration::from_secs(30))
    })
    .await
    .unwrap();
    let asked = std::time::Instant::now();
    cti(
        &s,
        "7001",
        "t-sup",
        "listen",
        serde_json::json!({"phone": "7009"}),
    )
    .await;

    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    phone_done(agent_phone).await;
    let log = finished(phone).await;
    assert!(log.answered.is_some_and(|t| t >= asked), "{log:?}");
    assert!(
        log.bye,
        "the supervisor's phone is hung up with the call: {log:?}"
    );
    assert!(
        log.loud_since(asked) > 50,
        "the supervisor hears the caller: {log:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail.iter().any(|(_, d)| d == "supervisor 7009: Listen"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- supervisors: who hears whom -------------------------------------------

/// The phones of a monitored call: each speaks its own tone (see `voices`).
struct Voices {
    caller: std::thread::JoinHandle<voices::Heard>,
    agent: std::thread::JoinHandle<voices::Heard>,
    supervisor: std::thread::JoinHandle<voices::Heard>,
}

impl Voices {
    /// Waits for the three phones to end: the caller hangs up after its talk
    /// time, and the agents' phones end at their BYE.
    async fn heard(self) -> [voices::Heard; 3] {
        [
            finished(self.caller).await,
            finished(self.agent).await,
            finished(self.supervisor).await,
        ]
    }
}

/// The team server with speaking phones: agent 7001 (signed in and ready) and the
/// supervisor's 7009 registered, and a caller who dials `number`, talks `talk`
/// seconds after the answer and hangs up. Returns once 7001 talks with the caller.
async fn three_voices(number: &str, talk: u64) -> (TestServer, std::path::PathBuf, Voices) {
    let (s, dir) = team_server().await;
    let sip = s.sip;
    let limit = Duration::from_secs(30);
    let (agent, supervisor) = tokio::task::spawn_blocking(move || {
        (
            voices::answering(sip, "7001", PHONE_PASSWORD, voices::AGENT_HZ, limit),
            voices::answering(sip, "7009", PHONE_PASSWORD, voices::SUPERVISOR_HZ, limit),
        )
    })
    .await
    .unwrap();
    for op in ["sign_in", "ready"] {
        cti(&s, "7001", "t-7001", op, serde_json::json!({})).await;
    }
    let caller = voices::dialling(
        sip,
        number,
        voices::CALLER_HZ,
        Duration::from_secs(talk),
        limit,
    );
    wait_state(&s, "7001", "talking").await;
    (
        s,
        dir,
        Voices {
            caller,
            agent,
            supervisor,
        },
    )
}

/// The window in which a supervisor's media path is settled: from half a second
/// after its phone answered to a quarter second before the caller hung up.
fn monitored_window(
    supervisor: &voices::Heard,
    caller: &voices::Heard,
) -> (std::time::Instant, std::time::Instant) {
    let from = supervisor
        .answered
        .expect("the supervisor's phone answered")
        + Duration::from_millis(500);
    let to = caller.hung_up.expect("the caller hung up") - Duration::from_millis(250);
    assert!(
        to > from + Duration::from_secs(3),
        "the supervisor was on the call for too short a time"
    );
    (from, to)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_whispering_supervisor_is_heard_by_the_agent_only() {
    use voices::{AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ};
    let (s, dir, phones) = three_voices("5000", 9).await;
    cti(
        &s,
        "7001",
        "t-sup",
        "whisper",
        serde_json::json!({"phone": "7009"}),
    )
    .await;
    let [caller, agent, sup] = phones.heard().await;
    assert!(
        agent.bye && sup.bye,
        "both phones are hung up with the call"
    );
    let (from, to) = monitored_window(&sup, &caller);
    // The supervisor hears both sides.
    assert!(sup.count(CALLER_HZ, from, to) > 50, "{sup:?}");
    assert!(sup.count(AGENT_HZ, from, to) > 50, "{sup:?}");
    // The agent hears the caller and the supervisor.
    assert!(agent.count(CALLER_HZ, from, to) > 50, "{agent:?}");
    assert!(agent.count(SUPERVISOR_HZ, from, to) > 50, "{agent:?}");
    // The caller hears the agent, never the supervisor.
    assert!(caller.count(AGENT_HZ, from, to) > 50, "{caller:?}");
    assert!(
        caller.count(SUPERVISOR_HZ, caller.answered.unwrap(), caller.end()) <= 2,
        "the caller heard the whispering supervisor: {caller:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let trail = dialect_e2e::trail(&contacts[0]);
    assert!(
        trail.iter().any(|(_, d)| d == "supervisor 7009: Whisper"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_barging_supervisor_talks_with_both() {
    use voices::{AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ};
    let (s, dir, phones) = three_voices("5000", 9).await;
    cti(
        &s,
        "7001",
        "t-sup",
        "barge",
        serde_json::json!({"phone": "7009"}),
    )
    .await;
    let [caller, agent, sup] = phones.heard().await;
    assert!(
        agent.bye && sup.bye,
        "both phones are hung up with the call"
    );
    let (from, to) = monitored_window(&sup, &caller);
    for (who, heard, voices) in [
        ("supervisor", &sup, [CALLER_HZ, AGENT_HZ]),
        ("agent", &agent, [CALLER_HZ, SUPERVISOR_HZ]),
        ("caller", &caller, [AGENT_HZ, SUPERVISOR_HZ]),
    ] {
        for hz in voices {
            assert!(
                heard.count(hz, from, to) > 50,
                "the {who} does not hear {hz} Hz: {heard:?}"
            );
        }
    }
    // Before the supervisor came in, the caller did not hear them.
    let answered = agent.answered.unwrap();
    assert!(caller.count(SUPERVISOR_HZ, answered, from - Duration::from_millis(600)) <= 2);
    let contacts = s.wait_contacts(1).await;
    let trail = dialect_e2e::trail(&contacts[0]);
    assert!(
        trail.iter().any(|(_, d)| d == "supervisor 7009: Barge"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_supervisor_takes_over_the_call() {
    use voices::{AGENT_HZ, CALLER_HZ, SUPERVISOR_HZ};
    // Queue `wrapped` has 3 s of wrap-up.
    let (s, dir, phones) = three_voices("5008", 9).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    cti(
        &s,
        "7001",
        "t-sup",
        "take_over",
        serde_json::json!({"phone": "7009"}),
    )
    .await;
    // The agent is released into the queue's wrap-up, then ready again.
    wait_state(&s, "7001", "wrap_up").await;
    wait_state(&s, "7001", "ready").await;
    assert_eq!(state(&s, "7009").await, "talking");
    let [caller, agent, sup] = phones.heard().await;
    assert!(agent.bye, "the agent's phone got a BYE: {agent:?}");
    assert!(
        sup.bye,
        "the supervisor's phone is hung up at the end: {sup:?}"
    );
    let (from, to) = monitored_window(&sup, &caller);
    // Before: the caller talks with the agent; after: with the supervisor only.
    let agent_answered = agent.answered.unwrap();
    assert!(
        caller.count(AGENT_HZ, agent_answered, from) > 25,
        "{caller:?}"
    );
    assert!(caller.count(SUPERVISOR_HZ, from, to) > 50, "{caller:?}");
    assert!(caller.count(AGENT_HZ, from, to) <= 2, "{caller:?}");
    assert!(sup.count(CALLER_HZ, from, to) > 50, "{sup:?}");
    assert!(sup.count(AGENT_HZ, from, to) <= 2, "{sup:?}");
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["agent"], "7009", "{c}");
    let trail = dialect_e2e::trail(c);
    assert!(
        trail
            .iter()
            .any(|(_, d)| d == "supervisor 7009 takes over from agent 7001"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- waiting in a queue ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_waiting_caller_hears_the_music_and_the_position() {
    use voices::{ANNOUNCE_HZ, MUSIC_HZ};
    // Nobody is signed in: the caller waits in queue `held` (music `hold.wav`, a
    // 500 Hz tone; its position announced every 2 s with `queue_position_1.wav`,
    // a 900 Hz tone) and hangs up after 7 s.
    let (s, dir) = team_server().await;
    let caller = voices::dialling(
        s.sip,
        "5009",
        voices::CALLER_HZ,
        Duration::from_secs(7),
        Duration::from_secs(20),
    );
    let heard = finished(caller).await;
    let from = heard.answered.expect("the call was answered");
    let to = heard.hung_up.expect("the caller hung up");
    // 7 s are 350 packets: most of them music, some (0.6 s every 2 s) the position.
    assert!(heard.count(MUSIC_HZ, from, to) > 150, "{heard:?}");
    let announced = heard.count(ANNOUNCE_HZ, from, to);
    assert!(announced > 20, "the position is announced: {heard:?}");
    // The announcement interrupts the music rather than mixing with it.
    let both = heard.count_together(MUSIC_HZ, ANNOUNCE_HZ);
    assert!(both <= 4, "music under the announcement: {heard:?}");
    // The first announcement comes after 2 s of waiting, not at once.
    assert_eq!(
        heard.count(ANNOUNCE_HZ, from, from + Duration::from_millis(1500)),
        0,
        "{heard:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let c = &contacts[0];
    assert_eq!(c["queue"], "held", "{c}");
    let trail = dialect_e2e::trail(c);
    let announcements = trail
        .iter()
        .filter(|(_, d)| d == "announce Position { position: 1 }")
        .count();
    assert!(announcements >= 2, "{trail:?}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- ringback while an outgoing leg rings ------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_transferred_to_a_number_hears_ringback_until_it_answers() {
    use voices::RINGBACK_HZ;
    // Flow `outward` transfers to 13800138000 through the trunk, whose far end
    // rings 2.5 s (180 without SDP), answers, talks 4 s and hangs up.
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&[], move |c| c.trunks.push(trunk)).await;
    let far_end = customer_as("uas_customer_late.xml", port, 4_000);
    let caller = voices::dialling(
        s.sip,
        "5010",
        voices::CALLER_HZ,
        Duration::from_secs(20),
        Duration::from_secs(20),
    );
    let heard = finished(caller).await;
    phone_done(far_end).await;
    assert!(
        heard.bye,
        "the call ends when the far end hangs up: {heard:?}"
    );
    let t0 = heard.answered.expect("answered");
    let end = heard.end();
    // Ringing: the tone's first second (50 packets at 425 Hz) within 2 s.
    let ringing = heard.count(RINGBACK_HZ, t0, t0 + Duration::from_secs(2));
    assert!(ringing > 30, "the caller hears ringback: {heard:?}");
    // After the answer (at 2.5 s) the tone stops: its next burst, due at 5 s,
    // never comes.
    assert!(end > t0 + Duration::from_secs(6), "{heard:?}");
    assert_eq!(
        heard.count(RINGBACK_HZ, t0 + Duration::from_millis(3500), end),
        0,
        "ringback after the answer: {heard:?}"
    );
    let contacts = s.wait_contacts(1).await;
    let trail = dialect_e2e::trail(&contacts[0]);
    assert!(
        trail.iter().any(|(_, d)| d == "answered, bridged"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_dialling_out_hears_ringback_until_the_number_answers() {
    use voices::RINGBACK_HZ;
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let sip = s.sip;
    let phone = tokio::task::spawn_blocking(move || {
        voices::answering(
            sip,
            "7001",
            PHONE_PASSWORD,
            voices::AGENT_HZ,
            Duration::from_secs(20),
        )
    })
    .await
    .unwrap();
    agent_ops(&s, "7001", &["sign_in"]).await;
    let far_end = customer_as("uas_customer_late.xml", port, 4_000);
    cti(
        &s,
        "7001",
        "t-7001",
        "dial",
        serde_json::json!({ "number": "13800138000" }),
    )
    .await;
    phone_done(far_end).await;
    let heard = finished(phone).await;
    assert!(
        heard.bye,
        "the agent's phone is hung up at the end: {heard:?}"
    );
    let t0 = heard.answered.expect("the agent answered");
    let end = heard.end();
    let ringing = heard.count(RINGBACK_HZ, t0, t0 + Duration::from_secs(2));
    assert!(ringing > 30, "the agent hears ringback: {heard:?}");
    assert!(end > t0 + Duration::from_secs(6), "{heard:?}");
    assert_eq!(
        heard.count(RINGBACK_HZ, t0 + Duration::from_millis(3500), end),
        0,
        "ringback after the answer: {heard:?}"
    );
    let c = contact_of_kind(&s, "outbound").await;
    assert_eq!(c["agent"], "7001", "{c}");
    assert!(c["talk_ms"].as_i64().unwrap() > 2000, "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- the ACD's dial timeout ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_acd_giving_up_on_a_placed_call_cancels_the_ringing_number() {
    // The number would ring for a minute, but the ACD waits 3 s for a placed
    // call: it gives up first, and the trunk leg is cancelled (the far end's
    // scenario only succeeds with a CANCEL), the agent's phone hung up.
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| {
        c.trunks.push(trunk);
        c.acd.dial_timeout_ms = 3_000;
        c.acd.callback_ring_ms = 60_000;
    })
    .await;
    let sip = s.sip;
    let phone = tokio::task::spawn_blocking(move || {
        voices::answering(
            sip,
            "7001",
            PHONE_PASSWORD,
            voices::AGENT_HZ,
            Duration::from_secs(20),
        )
    })
    .await
    .unwrap();
    agent_ops(&s, "7001", &["sign_in"]).await;
    let before = state(&s, "7001").await;
    let far_end = customer_as("uas_customer_no_answer.xml", port, 0);
    let asked = std::time::Instant::now();
    cti(
        &s,
        "7001",
        "t-7001",
        "dial",
        serde_json::json!({ "number": "13800138000" }),
    )
    .await;
    phone_done(far_end).await;
    let heard = finished(phone).await;
    assert!(heard.bye, "the agent's phone is hung up: {heard:?}");
    let given_up = heard.end();
    assert!(
        given_up > asked + Duration::from_millis(2500),
        "not before the ACD's limit"
    );
    assert!(
        heard.count(voices::RINGBACK_HZ, asked, given_up) > 30,
        "{heard:?}"
    );
    wait_state(&s, "7001", &before).await;
    let c = contact_of_kind(&s, "outbound").await;
    assert_eq!(c["end"], "not connected: the ACD gave up waiting", "{c}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_waiting_in_a_queue_without_music_hears_ringback() {
    // Queue `short` has no music and sends the caller away after 2 s.
    let (s, dir) = team_server().await;
    let caller = voices::dialling(
        s.sip,
        "5001",
        voices::CALLER_HZ,
        Duration::from_secs(15),
        Duration::from_secs(15),
    );
    let heard = finished(caller).await;
    assert!(heard.bye, "the queue's max wait ends the call: {heard:?}");
    let t0 = heard.answered.expect("answered");
    assert!(
        heard.count(voices::RINGBACK_HZ, t0, heard.end()) > 30,
        "{heard:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts a far end on `port` that sends early media (183 with SDP and a
/// `hz` tone), answers 2.5 s later, talks `talk_ms` and hangs up.
fn customer_with_early_media(port: u16, hz: f64, talk_ms: u32) -> std::process::Child {
    use dialect_media::g711::Law;
    let pcm: Vec<i16> = (0..80_000)
        .map(|i| {
            ((i as f64 * 2.0 * std::f64::consts::PI * hz / 8000.0).sin() * voices::LEVEL) as i16
        })
        .collect();
    let mut bytes = vec![0u8; pcm.len()];
    Law::Ulaw.encode(&pcm, &mut bytes);
    let tones =
        std::env::temp_dir().join(format!("dialect-early-{}-{port}.ulaw", std::process::id()));
    std::fs::write(&tones, bytes).unwrap();
    // SIPp substitutes keys in messages only: the file name goes into a copy.
    let text = std::fs::read_to_string(scenario("uas_customer_early.xml"))
        .unwrap()
        .replace("[tones]", &tones.display().to_string());
    let copy =
        std::env::temp_dir().join(format!("dialect-early-{}-{port}.xml", std::process::id()));
    std::fs::write(&copy, text).unwrap();
    customer_at(&copy, port, talk_ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_transferred_to_a_number_hears_its_early_media() {
    use voices::{RINGBACK_HZ, SUPERVISOR_HZ};
    // The far end answers the INVITE with 183 and SDP and plays a 1050 Hz tone
    // (measured as the "supervisor's" frequency) from then on.
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&[], move |c| c.trunks.push(trunk)).await;
    let far_end = customer_with_early_media(port, SUPERVISOR_HZ, 3_000);
    let caller = voices::dialling(
        s.sip,
        "5010",
        voices::CALLER_HZ,
        Duration::from_secs(20),
        Duration::from_secs(20),
    );
    let heard = finished(caller).await;
    phone_done(far_end).await;
    let t0 = heard.answered.expect("answered");
    let end = heard.end();
    // Before the far end answers (2.5 s) the caller hears its early media, and
    // the ringback tone only until the 183 came (never once early media plays).
    assert!(
        heard.count(SUPERVISOR_HZ, t0, t0 + Duration::from_secs(2)) > 30,
        "{heard:?}"
    );
    let early = heard.first(SUPERVISOR_HZ).unwrap();
    assert!(heard.count(RINGBACK_HZ, t0, early) < 50, "{heard:?}");
    assert_eq!(heard.count(RINGBACK_HZ, early, end), 0, "{heard:?}");
    let contacts = s.wait_contacts(1).await;
    let trail = dialect_e2e::trail(&contacts[0]);
    assert!(trail.iter().any(|(_, d)| d == "early media"), "{trail:?}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_blind_transferred_to_a_number_hears_ringback() {
    use voices::{AGENT_HZ, RINGBACK_HZ};
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| c.trunks.push(trunk)).await;
    let sip = s.sip;
    let phone = tokio::task::spawn_blocking(move || {
        voices::answering(
            sip,
            "7001",
            PHONE_PASSWORD,
            AGENT_HZ,
            Duration::from_secs(20),
        )
    })
    .await
    .unwrap();
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    let far_end = customer_as("uas_customer_late.xml", port, 3_000);
    let caller = voices::dialling(
        sip,
        "5000",
        voices::CALLER_HZ,
        Duration::from_secs(20),
        Duration::from_secs(20),
    );
    for _ in 0..200 {
        if agent_state(&s, "7001").await == "talking" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(agent_state(&s, "7001").await, "talking");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let transferred = std::time::Instant::now();
    cti(
        &s,
        "7001",
        "t-7001",
        "transfer",
        serde_json::json!({"target": {"kind": "number", "to": "13800138000"}}),
    )
    .await;
    let heard = finished(caller).await;
    phone_done(far_end).await;
    let agent = finished(phone).await;
    assert!(agent.bye, "the agent's phone is released: {agent:?}");
    // Before the transfer the caller talks with the agent and hears no ringback
    // (only while waiting in the queue, which has no music); then the number
    // rings 2.5 s and the caller hears ringback.
    let talking = agent.answered.unwrap() + Duration::from_millis(200);
    assert!(heard.count(AGENT_HZ, talking, transferred) > 25);
    assert_eq!(heard.count(RINGBACK_HZ, talking, transferred), 0);
    assert!(
        heard.count(
            RINGBACK_HZ,
            transferred,
            transferred + Duration::from_secs(2)
        ) > 30,
        "{heard:?}"
    );
    // The far end answered at 2.5 s: the tone's next burst (at 5 s) never comes.
    let after = transferred + Duration::from_millis(3500);
    assert!(heard.end() > after + Duration::from_secs(2), "{heard:?}");
    assert_eq!(heard.count(RINGBACK_HZ, after, heard.end()), 0, "{heard:?}");
    let contacts = s.wait_contacts(1).await;
    let trail = dialect_e2e::trail(&contacts[0]);
    assert!(
        trail.iter().any(|(_, d)| d == "transferred to 13800138000"),
        "{trail:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_attacker_spraying_the_rtp_ports_cannot_listen_to_a_bridged_call() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use voices::{AGENT_HZ, CALLER_HZ};
    let (s, dir) = team_server().await;
    let sip = s.sip;
    // The attacker sends RTP to every port of the range from before the call
    // until after it: the caller's leg and the agent's leg among them.
    let stop = Arc::new(AtomicBool::new(false));
    let attacker = dialect_e2e::spray_rtp(
        s.rtp_ports,
        dialect_e2e::Spray::Audio,
        stop.clone(),
        Duration::from_secs(40),
    );
    let limit = Duration::from_secs(30);
    let agent = tokio::task::spawn_blocking(move || {
        voices::answering(sip, "7001", PHONE_PASSWORD, AGENT_HZ, limit)
    })
    .await
    .unwrap();
    for op in ["sign_in", "ready"] {
        cti(&s, "7001", "t-7001", op, serde_json::json!({})).await;
    }
    let caller = voices::dialling(sip, "5000", CALLER_HZ, Duration::from_secs(5), limit);
    wait_state(&s, "7001", "talking").await;
    let caller = finished(caller).await;
    let agent = finished(agent).await;
    stop.store(true, Ordering::Relaxed);
    let report = finished(attacker).await;
    assert!(report.sent > 1000, "the attack ran: {report:?}");
    assert_eq!(
        report.received, 0,
        "the attacker received the call's audio: {report:?}"
    );
    let from = agent.answered.expect("the agent answered") + Duration::from_millis(500);
    let to = caller.end() - Duration::from_millis(250);
    assert!(
        agent.count(CALLER_HZ, from, to) > 50,
        "the agent heard the caller: {agent:?}"
    );
    assert!(
        caller.count(AGENT_HZ, from, to) > 50,
        "the caller heard the agent: {caller:?}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
