//! Workorders raised by real calls (REQUIREMENTS W1, F7; spec 000 §4.2.4): a caller
//! rings the hotline with SIPp, reports a fault with keys sent by SIP INFO, and the
//! flow's `create workorder fault_repair` leaves an order that the workorder API
//! finds, with the keys' choices and the caller in its fields, linked both ways
//! with the call's contact record.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_e2e::{TestServer, trail};

/// The caller SIPp presents (the harness default); the mock CRM knows it as
/// `C-13912345678`.
const CALLER: &str = "13912345678";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fault_reported_by_phone_becomes_a_workorder_linked_to_the_call() {
    let s = TestServer::start(|_| {}).await;
    // 1: Chinese; 3: fault report; 2: slow internet; #: ends the address recording.
    let keys = [("k1", "1"), ("k2", "3"), ("k3", "2"), ("k4", "#")];
    let mut args: Vec<(&'static str, String)> =
        keys.iter().map(|(k, v)| (*k, (*v).to_string())).collect();
    // Time after the last key for the order to be created and its number read out.
    args.push(("hold", "4000".into()));
    let contacts = s.one_call("uac_keys_info4.xml", args, 40).await;
    let contact = &contacts[0];
    assert_eq!(contact["end"], "hangup by caller", "{contact:#}");
    assert!(
        contact["digits"]
            .as_str()
            .is_some_and(|d| d.starts_with("132")),
        "the keys reached the menus: {contact:#}"
    );
    let t = trail(contact);
    assert!(
        t.iter()
            .any(|(n, d)| n == "fault_type" && d.ends_with("(2)")),
        "the fault menu took key 2: {t:?}"
    );

    // The contact record names the order the flow created.
    let numbers: Vec<String> = contact["workorders"]
        .as_array()
        .unwrap_or_else(|| panic!("workorders in {contact:#}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers.len(), 1, "one order from the call: {contact:#}");
    let number = &numbers[0];
    assert!(
        t.iter().any(|(_, d)| *d == format!("created {number}")),
        "the trail records the creation: {t:?}"
    );

    // The workorder API finds it among the fault repairs, by the caller's customer.
    let page = s
        .get(&format!(
            "/api/v1/workorders?kind=fault_repair&customer=C-{CALLER}"
        ))
        .await;
    let items = page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page:#}"));
    assert_eq!(items.len(), 1, "{page:#}");
    let o = &items[0];
    assert_eq!(&o["number"], number.as_str());
    assert_eq!(o["kind"], "fault_repair");
    assert_eq!(o["state"], "new", "a new order waits for dispatch");
    assert_eq!(o["created_by"], "ivr");
    assert_eq!(o["customer_id"], format!("C-{CALLER}"));
    let f = &o["fields"];
    assert_eq!(f["phone"], CALLER, "the caller's number: {o:#}");
    assert_eq!(f["customer"], format!("C-{CALLER}"), "{o:#}");
    assert_eq!(
        f["fault_type"], "slow_internet",
        "key 2 of the fault menu: {o:#}"
    );
    assert_eq!(f["description"], "IVR 故障申告");
    assert!(
        f["address_message"].as_str().is_some_and(|p| !p.is_empty()),
        "the recorded address is attached: {o:#}"
    );
    // Linked back to the call.
    assert_eq!(o["contact_id"], contact["id"], "{o:#}");

    // The same order by number, with its creation in the history.
    let one = s.get(&format!("/api/v1/workorders/{number}")).await;
    assert_eq!(one["contact_id"], contact["id"]);
    let history = s.get(&format!("/api/v1/workorders/{number}/history")).await;
    let first = &history.as_array().unwrap_or_else(|| panic!("{history:#}"))[0];
    assert_eq!(first["action"], "create");
    assert_eq!(first["user"], "ivr");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_api_users_a_token_is_generated_and_the_old_default_opens_nothing() {
    let s = TestServer::start(|c| c.api_users.clear()).await;
    let program = format!("http://{}/api/v1/program", s.http);
    let status = |token: String| {
        let program = program.clone();
        async move {
            reqwest::Client::new()
                .get(&program)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The token every earlier version took without configuration opens nothing.
    assert_eq!(status("dialect-admin".into()).await, 401);
    // The generated one, kept in the data folder, is the admin's.
    let kept = std::fs::read_to_string(s.data.join("admin-token")).unwrap();
    let token = kept.trim().to_string();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(status(token).await, 200);
    s.stop().await;
}
