//! The agent operations a desktop uses around a call — answer, reject, call
//! data set / read / clear — and the supervisor's force not ready and force
//! sign-out, the agent's own sign-out: each through the API, each seen on the
//! agent's event stream, the supervisor's audited.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{Api, hello, ws_open};
use dialect_acd::{AcdToCall, OfferResult, QueuedCall};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event on `ws` that `wanted` accepts (other events are skipped).
async fn next_event(ws: &mut Socket, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let seen = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Text(t)) = m {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if wanted(&v) {
                    return Some(v);
                }
            }
        }
        None
    })
    .await;
    match seen {
        Ok(Some(v)) => v,
        _ => panic!("the event stream never showed {what}"),
    }
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["event"] == "agent_state" && v["agent"] == "2001" && v["state"] == state
}

/// The next message the ACD sends the call, skipping music and announcements.
async fn to_call(rx: &mut mpsc::Receiver<AcdToCall>) -> AcdToCall {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Some(
                    AcdToCall::Music { .. } | AcdToCall::Announce(_) | AcdToCall::Queued { .. },
                ) => {}
                Some(m) => return m,
                None => panic!("the ACD dropped the call"),
            }
        }
    })
    .await
    .expect("the ACD tells the call in time")
}

async fn op(api: &Api, who: &str, op: &str, body: Value) -> Value {
    let (st, v) = api
        .post(who, &format!("/api/v1/agents/2001/{op}"), body)
        .await;
    assert_eq!(st, 200, "{op} by {who}: {v}");
    v
}

/// The audit log's (user, action) on agent 2001, oldest first.
fn audited(api: &Api) -> Vec<(String, String)> {
    crate::auth::audit_entries(&*api.store, 0, i64::MAX / 2, 1_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.target == "2001")
        .map(|e| (e.user, e.action))
        .collect()
}

#[tokio::test]
async fn an_offer_is_rejected_another_answered_and_its_data_set_read_and_cleared() {
    let api = Api::start().await;
    let mut ws = ws_open(
        &api,
        "/api/v1/cti/ws?agent=2001",
        &[("authorization", "Bearer t-2001")],
    )
    .await
    .unwrap();
    assert_eq!(hello(&mut ws).await["event"], "hello");
    op(&api, "2001", "sign_in", json!({})).await;
    op(&api, "2001", "ready", json!({})).await;
    next_event(&mut ws, "the agent ready", state_is("ready")).await;

    let (tx, mut rx) = mpsc::channel(64);
    let call = QueuedCall::new(41, "vip", "13900000041", crate::time::now_ms());
    api.acd.enqueue(call, tx).await.unwrap();

    // The offer pops on the desktop; the agent rejects it: the phone stops
    // ringing, the agent is ready again and the call waits for another agent
    // (it is not offered back to the one who rejected it at once).
    let offered = |v: &Value| v["event"] == "call_offered" && v["agent"] == "2001";
    let pop = next_event(&mut ws, "the offer", offered).await;
    assert_eq!(pop["pop"]["call"], 41, "{pop}");
    assert_eq!(pop["pop"]["caller"], "13900000041", "{pop}");
    assert!(matches!(to_call(&mut rx).await, AcdToCall::Offer { .. }));
    op(&api, "2001", "reject", json!({})).await;
    match to_call(&mut rx).await {
        AcdToCall::CancelOffer { agent } => assert_eq!(agent.to_string(), "2001"),
        other => panic!("a rejected offer stops ringing, not {other:?}"),
    }
    let after = next_event(&mut ws, "the state after the reject", state_is("ready")).await;
    assert_eq!(after["reason"], "rejected", "{after}");
    let (_, queue) = api.get("2001", "/api/v1/queues/vip").await;
    assert_eq!(
        queue["waiting"], 1,
        "the rejected call waits again: {queue}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(
        !matches!(rx.try_recv(), Ok(AcdToCall::Offer { .. })),
        "offered back to the agent who rejected it"
    );

    // Another call comes: offered, answered from the desktop. The call is
    // told to make the phone answer; the phone's answer bridges it.
    let (tx, mut rx) = mpsc::channel(64);
    let mut call = QueuedCall::new(42, "vip", "13900000042", crate::time::now_ms());
    call.data = vec![("level".into(), dialect_compiler::value::Value::Number(3.0))];
    api.acd.enqueue(call, tx).await.unwrap();
    let pop = next_event(&mut ws, "the second offer", offered).await;
    assert_eq!(pop["pop"]["call"], 42, "{pop}");
    assert!(matches!(to_call(&mut rx).await, AcdToCall::Offer { .. }));
    op(&api, "2001", "answer", json!({})).await;
    match to_call(&mut rx).await {
        AcdToCall::Answer { agent } => assert_eq!(agent.to_string(), "2001"),
        other => panic!("answering on the desktop answers the phone, not {other:?}"),
    }
    api.acd
        .offer_result(42, "2001", OfferResult::Answered)
        .await
        .unwrap();
    match to_call(&mut rx).await {
        AcdToCall::Bridge { agent } => assert_eq!(agent.to_string(), "2001"),
        other => panic!("an answered offer is bridged, not {other:?}"),
    }
    next_event(&mut ws, "the agent talking", state_is("talking")).await;

    // Call data: set over REST and as an agent op, read, cleared; each change
    // reaches the desktop with the whole data.
    let (st, v) = api.get("2001", "/api/v1/calls/42/data").await;
    assert_eq!(st, 200, "{v}");
    assert!(v["data"].to_string().contains("level"), "{v}");
    let r = api
        .http
        .put(format!("{}/api/v1/calls/42/data", api.base))
        .bearer_auth("t-2001")
        .json(&json!({"data": {"note": "回访客户"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let changed = next_event(&mut ws, "the call data", |v| v["event"] == "call_data").await;
    let text = changed["data"].to_string();
    assert!(
        text.contains("回访客户") && text.contains("level"),
        "{changed}"
    );
    op(&api, "2001", "set_data", json!({"data": {"order": "W-7"}})).await;
    let changed = next_event(&mut ws, "the op's call data", |v| {
        v["event"] == "call_data" && v["data"].to_string().contains("W-7")
    })
    .await;
    assert!(
        changed["data"].to_string().contains("回访客户"),
        "merged: {changed}"
    );
    let read = op(&api, "2001", "get_data", json!({})).await;
    assert!(read.to_string().contains("W-7"), "{read}");
    // Another agent may not read the call's data.
    let (st, _) = api.get("1002", "/api/v1/calls/42/data").await;
    assert_eq!(st, 403);
    op(&api, "2001", "clear_data", json!({})).await;
    let cleared = next_event(&mut ws, "the cleared data", |v| {
        v["event"] == "call_data" && v["data"].as_array().is_some_and(|d| d.is_empty())
    })
    .await;
    assert_eq!(cleared["call"], 42);
    let (_, v) = api.get("2001", "/api/v1/calls/42/data").await;
    assert_eq!(v["data"], json!([]), "{v}");
    api.shutdown.cancel();
}

#[tokio::test]
async fn a_supervisor_forces_not_ready_and_sign_out_audited_and_an_agent_signs_out() {
    let api = Api::start().await;
    let mut ws = ws_open(
        &api,
        "/api/v1/cti/ws?agent=2001",
        &[("authorization", "Bearer t-2001")],
    )
    .await
    .unwrap();
    hello(&mut ws).await;
    op(&api, "2001", "sign_in", json!({})).await;
    op(&api, "2001", "ready", json!({})).await;
    next_event(&mut ws, "the agent ready", state_is("ready")).await;

    // An agent may not force anybody; another agent may not sign 2001 out.
    let (st, _) = api
        .post(
            "1002",
            "/api/v1/agents/2001/force_not_ready",
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(st, 403);
    let (st, _) = api
        .post("1002", "/api/v1/agents/2001/sign_out", json!({}))
        .await;
    assert_eq!(st, 403);

    op(
        &api,
        "boss",
        "force_not_ready",
        json!({"reason": "coaching"}),
    )
    .await;
    let forced = next_event(&mut ws, "the forced not ready", state_is("not_ready")).await;
    assert!(
        forced["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("coaching"),
        "{forced}"
    );
    assert_eq!(api.agent_state("2001").await, "not_ready");

    op(&api, "boss", "force_sign_out", json!({})).await;
    next_event(&mut ws, "the forced sign-out", state_is("signed_out")).await;
    assert_eq!(api.agent_state("2001").await, "signed_out");

    // The agent signs in again and out by themselves: not audited as a
    // supervisor's action.
    op(&api, "2001", "sign_in", json!({})).await;
    next_event(&mut ws, "signed in again", |v| {
        v["event"] == "agent_state" && v["agent"] == "2001" && v["state"] != "signed_out"
    })
    .await;
    op(&api, "2001", "sign_out", json!({})).await;
    next_event(&mut ws, "the sign-out", state_is("signed_out")).await;
    assert_eq!(api.agent_state("2001").await, "signed_out");

    let log = audited(&api);
    let boss: Vec<&str> = log
        .iter()
        .filter(|(u, _)| u == "boss")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(boss.contains(&"agent.force_not_ready"), "{log:?}");
    assert!(boss.contains(&"agent.force_sign_out"), "{log:?}");
    assert!(
        !log.iter().any(|(u, _)| u == "2001"),
        "an agent's own sign-out is not a supervisor action: {log:?}"
    );
    api.shutdown.cancel();
}
