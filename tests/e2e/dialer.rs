//! The outbound dialer end to end: a campaign's list imported through the API,
//! its targets dialled through a trunk to real SIP peers, retried by the
//! campaign's rules, held by a do-not-call entry added while it runs, and
//! explained one by one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use dialect_e2e::{CarrierAnswer, FakeCarrier, TestServer, customer_as, customer_trunk, trail};

mod staff;
#[allow(dead_code)]
mod voices;
use staff::*;

/// Imports `list` (CSV) into `campaign` and starts it.
async fn import_and_start(s: &TestServer, campaign: &str, list: Vec<u8>) {
    post(
        s,
        &format!("/api/v1/campaigns/{campaign}/lists"),
        "text/csv",
        list,
    )
    .await;
    post(
        s,
        &format!("/api/v1/campaigns/{campaign}/start"),
        "application/json",
        Vec::new(),
    )
    .await;
}

/// Follows the ACD's event stream (as a wallboard does) and keeps every
/// campaign event, until the returned task is aborted.
async fn campaign_events(
    s: &TestServer,
) -> (
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    tokio::task::JoinHandle<()>,
) {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/api/v1/acd/events", s.http)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.token).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Ok(text) = m.to_text()
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
                && v["event"] == "campaign"
            {
                keep.lock().unwrap().push(v);
            }
        }
    });
    (seen, task)
}

async fn post(s: &TestServer, path: &str, content_type: &str, body: Vec<u8>) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", s.http))
        .bearer_auth(&s.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_numbers_are_retried_by_the_rules_and_a_do_not_call_entry_added_by_api_is_never_dialled()
 {
    let carrier = FakeCarrier::start("127.0.0.3", CarrierAnswer::Busy);
    let trunk = carrier.trunk("carrier", "");
    let dir = dialect_e2e::campaign_project("retry busy every 2s max 2");
    let project_dir = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.trunks.push(trunk);
        c.dialer.tick = dialect_runtime::config::Duration(Duration::from_millis(100));
    })
    .await;

    // A list in a spreadsheet's forms: +86 and dashes; one amount below the
    // filter; one number twice (the last row wins); one row without a phone.
    let csv = "手机号码,客户姓名,欠费金额\n\
               +86 138-0000-0001,张三,50\n\
               13800000002,李四,5\n\
               0086 13800000003,王五,80\n\
               ,赵六,30\n\
               13800000003,王五,90\n";
    let report = post(
        &s,
        "/api/v1/campaigns/reminder/lists",
        "text/csv",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(report["rows"], 5, "{report}");
    assert_eq!(report["duplicates"], 1, "{report}");
    assert_eq!(
        report["rejected"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(report["rejected"][0]["row"], 5, "{report}");
    assert_eq!(report["filtered"]["amount >= 10"], 1, "{report}");

    let (events, follower) = campaign_events(&s).await;
    // 13800000003 asks not to be called before the campaign starts, in
    // another written form.
    let added = post(
        &s,
        "/api/v1/lists/do_not_call/entries",
        "application/json",
        serde_json::to_vec(&serde_json::json!({
            "number": "+86 138 0000 0003", "reason": "asked on the phone"
        }))
        .unwrap(),
    )
    .await;
    assert_eq!(added["added"], 1, "{added}");

    post(
        &s,
        "/api/v1/campaigns/reminder/start",
        "application/json",
        Vec::new(),
    )
    .await;
    // The busy number: the first call and two retries 2 s apart, then no more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while carrier.dialled().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        carrier.dialled(),
        vec!["13800000001"; 3],
        "busy: first call and two retries; do-not-call never dialled"
    );

    let campaign = s.get("/api/v1/campaigns/reminder").await;
    assert_eq!(campaign["state"], "running", "{campaign}");
    assert_eq!(campaign["targets"]["attempts exhausted"], 1, "{campaign}");

    // Each target explains itself.
    let ids: Vec<u64> = (1..=4).collect();
    let mut seen_dnc = false;
    let mut seen_exhausted = false;
    for id in ids {
        let t = s
            .get(&format!("/api/v1/campaigns/reminder/targets/{id}"))
            .await;
        if t["phone"] == "13800000003" {
            assert_eq!(t["dialable_now"], false, "{t}");
            let why = t["why_not"].to_string();
            assert!(why.contains("do_not_call"), "{t}");
            seen_dnc = true;
        }
        if t["phone"] == "13800000001" {
            assert_eq!(t["state"], "attempts exhausted", "{t}");
            assert_eq!(t["history"].as_array().map(Vec::len), Some(3), "{t}");
            assert_eq!(t["history"][0]["outcome"], "busy", "{t}");
            assert_eq!(t["history"][0]["sip_code"], 486, "{t}");
            seen_exhausted = true;
        }
    }
    assert!(seen_dnc && seen_exhausted);
    // A wallboard following the event stream saw the campaign start and each
    // call end with its outcome.
    follower.abort();
    let events = events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e["what"] == "state" && e["state"] == "running"),
        "{events:?}"
    );
    let ended: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["what"] == "call_ended")
        .collect();
    assert_eq!(ended.len(), 3, "{events:?}");
    assert!(
        ended
            .iter()
            .all(|e| e["outcome"] == "busy" && e["phone"] == "13800000001"),
        "{events:?}"
    );
    assert_eq!(ended[2]["state"], "attempts exhausted", "{events:?}");
    // Found by its number in any written form, and by state.
    let by_phone = s
        .get("/api/v1/campaigns/reminder/targets?phone=138-0000-0003")
        .await;
    assert_eq!(by_phone[0]["phone"], "13800000003", "{by_phone}");
    let pending = s
        .get("/api/v1/campaigns/reminder/targets?state=pending")
        .await;
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{pending}");
    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/campaigns/reminder/results.csv",
            s.http
        ))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 4, "header and three attempts: {csv}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the campaign's server with `dir` and the trunk to a SIPp callee.
async fn campaign_server(dir: &std::path::Path) -> (TestServer, u16) {
    let (trunk, port) = customer_trunk();
    let project_dir = dir.to_path_buf();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.trunks.push(trunk);
        c.dialer.tick = dialect_runtime::config::Duration(Duration::from_millis(100));
    })
    .await;
    (s, port)
}

/// The campaign's contact records, once `n` have been saved.
async fn campaign_contacts(s: &TestServer, n: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let all: Vec<serde_json::Value> = s
            .contacts()
            .await
            .into_iter()
            .filter(|c| c["kind"] == "campaign" && c["ended_ms"].is_number())
            .collect();
        if all.len() >= n || tokio::time::Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answered_ivr_call_runs_the_campaign_flow_with_the_targets_fields_and_takes_the_key() {
    let dir = dialect_e2e::campaign_project("machine detection off");
    let (s, port) = campaign_server(&dir).await;
    let callee = customer_as("uas_campaign_key.xml", port, 0);
    // The list file in the project: one target, 张三, who owes 50, sent as
    // the body; then a workbook from a browser's form (multipart) that
    // renames the same number's holder: the last import wins.
    let list = std::fs::read(dir.join("lists/reminder.csv")).unwrap();
    post(&s, "/api/v1/campaigns/reminder/lists", "text/csv", list).await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, text) in ["手机号码", "客户姓名", "欠费金额"].iter().enumerate() {
        sheet.write_string(0, col as u16, *text).unwrap();
    }
    sheet.write_string(1, 0, "+86 138 0000 0001").unwrap();
    sheet.write_string(1, 1, "李四").unwrap();
    sheet.write_number(1, 2, 75.0).unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    let boundary = "----dialect-form-7MA4YWxk";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nDecember list\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"欠费.xlsx\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&xlsx);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let report = post(
        &s,
        "/api/v1/campaigns/reminder/lists",
        &format!("multipart/form-data; boundary={boundary}"),
        form,
    )
    .await;
    assert_eq!(report["format"], "xlsx", "{report}");
    assert_eq!(report["imported"], 1, "{report}");
    post(
        &s,
        "/api/v1/campaigns/reminder/start",
        "application/json",
        Vec::new(),
    )
    .await;
    let out = tokio::task::spawn_blocking(move || callee.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "the callee's scenario: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let contacts = campaign_contacts(&s, 1).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let c = &contacts[0];
    assert_eq!(c["direction"], "outbound", "{c}");
    assert_eq!(c["called"], "13800000001", "{c}");
    assert_eq!(c["flow"], "reminder_call", "{c}");
    let steps = trail(c);
    assert!(
        steps.iter().any(|(_, d)| d.contains("李四")),
        "the flow said the target's name from the workbook: {steps:?}"
    );
    assert!(
        steps
            .iter()
            .any(|(n, d)| n.contains("confirm") && d.contains('1')),
        "the callee's 1 chose the menu's branch: {steps:?}"
    );
    let t = s.get("/api/v1/campaigns/reminder/targets/1").await;
    assert_eq!(t["state"], "completed", "{t}");
    assert_eq!(t["history"][0]["outcome"], "person", "{t}");
    // The target is the campaign's outbound task, done.
    let tasks = s.get("/api/v1/tasks?campaign=reminder").await;
    assert_eq!(tasks[0]["customer_id"], "13800000001", "{tasks}");
    assert_eq!(tasks[0]["status"], "done", "{tasks}");
    assert_eq!(tasks[0]["result"], "person", "{tasks}");
    assert_eq!(tasks[0]["dispatcher"], "dialer", "{tasks}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_answer_is_taken_for_a_machine_and_retried_by_the_machine_rule() {
    // Machine detection on (the default): the callee answers and says nothing,
    // which after the initial silence (2.5 s) is a machine.
    answered_by_recording(&[0; 8000 * 6], "machine", "machine (INITIALSILENCE)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_dropped_into_the_import_folder_are_imported_and_moved_with_their_report() {
    let dir = dialect_e2e::campaign_project("retry busy every 15m max 2");
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(inbox.join("reminder")).unwrap();
    std::fs::write(
        inbox.join("reminder/night.csv"),
        "手机号码,客户姓名,欠费金额\n13800000007,孙七,60\n13800000008,周八,70\n",
    )
    .unwrap();
    std::fs::write(
        inbox.join("reminder/wrong.csv"),
        "phone,name\n13800000009,吴九\n",
    )
    .unwrap();
    let project_dir = dir.clone();
    let watched = inbox.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.dialer.import_dir = Some(watched);
        c.dialer.import_every = dialect_runtime::config::Duration(Duration::from_millis(200));
    })
    .await;
    let report = inbox.join("reminder/done/night.csv.report.json");
    let refused = inbox.join("reminder/failed/wrong.csv.error.txt");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !(report.exists() && refused.exists()) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["targets"], 2, "{r}");
    assert!(inbox.join("reminder/done/night.csv").exists());
    assert!(
        !inbox.join("reminder/night.csv").exists(),
        "moved, not imported twice"
    );
    let why = std::fs::read_to_string(&refused).unwrap();
    assert!(why.contains("手机号码"), "{why}");
    let campaign = s.get("/api/v1/campaigns/reminder").await;
    assert_eq!(campaign["targets"]["pending"], 2, "{campaign}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts the ACD test project's server with agent 7001 and the trunk to a
/// SIPp callee, imports one target into the predictive campaign `retain`.
async fn predictive(agent_scenario: &str, callee_talk_ms: u32) -> Predictive {
    staffed("retain", agent_scenario, callee_talk_ms).await
}

/// The same for `campaign` of the ACD test project.
async fn staffed(campaign: &str, agent_scenario: &str, callee_talk_ms: u32) -> Predictive {
    let (trunk, port) = customer_trunk();
    let (s, dir) = with_agents(&["7001"], move |c| {
        c.trunks.push(trunk);
        c.dialer.tick = dialect_runtime::config::Duration(Duration::from_millis(100));
    })
    .await;
    let agent = agent_phone(&s, "7001", agent_scenario, &[]).await;
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    let callee = customer_as("uas_customer.xml", port, callee_talk_ms);
    import_and_start(&s, campaign, b"phone,name\n13800000021,Ann\n".to_vec()).await;
    Predictive {
        s,
        dir,
        agent,
        callee,
    }
}

struct Predictive {
    s: TestServer,
    dir: PathBuf,
    agent: std::process::Child,
    callee: std::process::Child,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_predictive_call_answered_by_a_person_is_bridged_to_the_ready_agent() {
    let p = predictive("uas_agent.xml", 3_000).await;
    let contacts = campaign_contacts(&p.s, 1).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let c = &contacts[0];
    assert_eq!(c["agent"], "7001", "{c}");
    assert_eq!(c["queue"], "support", "{c}");
    let _ = tokio::task::spawn_blocking(move || {
        (p.agent.wait_with_output(), p.callee.wait_with_output())
    })
    .await;
    let t = p.s.get("/api/v1/campaigns/retain/targets/1").await;
    assert_eq!(t["history"][0]["outcome"], "person", "{t}");
    assert_eq!(t["history"][0]["agent"], "7001", "{t}");
    assert_eq!(t["state"], "completed", "{t}");
    // The agent talked for about 3 s of the time they were logged in.
    let campaign = p.s.get("/api/v1/campaigns/retain").await;
    let productivity = campaign["talk_minutes_per_agent_hour"].as_f64().unwrap();
    assert!(productivity > 0.0 && productivity <= 60.0, "{campaign}");
    assert!(campaign["ready_agents"].is_number(), "{campaign}");
    p.s.stop().await;
    let _ = std::fs::remove_dir_all(&p.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_no_agent_takes_within_2s_hears_the_dropped_message_and_is_not_called_for_72h() {
    // The agent's phone rings and never answers: the answered person waits
    // 2 s, hears the campaign's message and the call counts as abandoned.
    let p = predictive("uas_agent_ring.xml", 20_000).await;
    let contacts = campaign_contacts(&p.s, 1).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let c = &contacts[0];
    let steps = trail(c);
    let answered = c["answered_ms"].as_i64().unwrap();
    let dropped = steps
        .iter()
        .position(|(_, d)| d.contains("no agent connected in time"))
        .unwrap_or_else(|| panic!("{steps:?}"));
    let at = c["trail"][dropped]["at_ms"].as_i64().unwrap();
    assert!(
        (1_900..=2_600).contains(&(at - answered)),
        "the message starts 2 s after the answer: {} ms; {steps:?}",
        at - answered
    );
    assert!(
        steps.iter().any(|(_, d)| d.contains("hold.wav")),
        "the dropped-call message played: {steps:?}"
    );
    let t = p.s.get("/api/v1/campaigns/retain/targets/1").await;
    assert_eq!(t["history"][0]["outcome"], "abandoned", "{t}");
    assert_eq!(t["dialable_now"], false, "{t}");
    assert!(
        t["why_not"].to_string().contains("abandoned_recently"),
        "the 72-hour rule holds the number: {t}"
    );
    let campaign = p.s.get("/api/v1/campaigns/retain").await;
    assert_eq!(campaign["abandon_rate_rolling"], 1.0, "{campaign}");
    let _ = tokio::task::spawn_blocking(move || {
        let _ = p.agent.wait_with_output();
        let _ = p.callee.wait_with_output();
    })
    .await;
    p.s.stop().await;
    let _ = std::fs::remove_dir_all(&p.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_trunk_is_backed_off_and_its_failures_are_not_counted_against_the_numbers() {
    let carrier = FakeCarrier::start("127.0.0.6", CarrierAnswer::Unavailable);
    let trunk = carrier.trunk("carrier", "");
    let dir = dialect_e2e::campaign_project("retry busy every 15m max 2");
    let project_dir = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.trunks.push(trunk);
        c.dialer.max_channels = 1;
        c.dialer.tick = dialect_runtime::config::Duration(Duration::from_millis(100));
    })
    .await;
    let list = (1..=6)
        .map(|n| format!("1380000010{n},客户{n},50\n"))
        .collect::<String>();
    let csv = format!("手机号码,客户姓名,欠费金额\n{list}");
    import_and_start(&s, "reminder", csv.into_bytes()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while carrier.dialled().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Three 503s in a row: the campaign pauses (5 s) instead of trying the
    // next numbers on a carrier that is down.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(carrier.dialled().len(), 3, "{:?}", carrier.dialled());
    let campaign = s.get("/api/v1/campaigns/reminder").await;
    assert!(campaign["backing_off_until_ms"].is_number(), "{campaign}");
    assert_eq!(campaign["network_failures_in_row"], 3, "{campaign}");
    let failed = s
        .get("/api/v1/campaigns/reminder/targets?phone=13800000101")
        .await;
    assert_eq!(
        failed[0]["attempts"], 0,
        "a network failure is not the number's: {failed}"
    );
    assert_eq!(failed[0]["last_outcome"], "network failure", "{failed}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_previewed_target_is_shown_to_the_ready_agent_and_dialled_when_the_agent_accepts() {
    let p = staffed("offer", "uas_agent.xml", 3_000).await;
    // The target is shown to 7001 (claimed, not dialled) with the script.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let t =
            p.s.get("/api/v1/campaigns/offer/targets?state=dialling")
                .await;
        if t.as_array().is_some_and(|a| !a.is_empty()) || tokio::time::Instant::now() > deadline {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown[0]["phone"], "13800000021", "{shown}");
    let id = shown[0]["id"].as_u64().unwrap();
    let campaign = p.s.get("/api/v1/campaigns/offer").await;
    assert!(
        campaign["script"]
            .as_str()
            .unwrap()
            .contains("support team"),
        "{campaign}"
    );
    assert_eq!(
        campaign["calls_in_progress"], 0,
        "shown, not dialled: {campaign}"
    );
    // While the card is shown the agent is held back from the queue's calls:
    // the wallboard shows them ringing for the preview, not ready.
    let agent = p.s.get("/api/v1/agents/7001").await;
    assert_eq!(agent["state"], "ringing", "{agent}");
    assert_eq!(agent["reason"], "preview offer", "{agent}");
    let http = reqwest::Client::new();
    let r = http
        .post(format!(
            "http://{}/api/v1/campaigns/offer/targets/{id}/accept",
            p.s.http
        ))
        .bearer_auth("t-7001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    let contacts = campaign_contacts(&p.s, 1).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0]["agent"], "7001", "{}", contacts[0]);
    let _ = tokio::task::spawn_blocking(move || {
        let _ = p.agent.wait_with_output();
        let _ = p.callee.wait_with_output();
    })
    .await;
    let t =
        p.s.get(&format!("/api/v1/campaigns/offer/targets/{id}"))
            .await;
    assert_eq!(t["history"][0]["outcome"], "person", "{t}");
    assert_eq!(t["state"], "completed", "{t}");
    p.s.stop().await;
    let _ = std::fs::remove_dir_all(&p.dir);
}

/// A fax's calling tone: 1100 Hz for 0.5 s, then 3 s of silence, twice.
fn fax_calling_tone() -> Vec<i16> {
    let mut pcm = Vec::new();
    for _ in 0..2 {
        pcm.extend((0..4_000).map(|i| {
            let t = f64::from(i) / 8000.0;
            ((2.0 * std::f64::consts::PI * 1100.0 * t).sin() * 8_000.0) as i16
        }));
        pcm.extend(std::iter::repeat_n(0i16, 24_000));
    }
    pcm
}

/// An answering machine's greeting: after 0.4 s, eight "words" of 0.6 s (a
/// voice-like sound: a 140 Hz buzz with its harmonics, its loudness rising
/// and falling like syllables) with 0.15 s between them — a greeting far
/// longer than anyone's "喂？".
fn machine_greeting() -> Vec<i16> {
    let mut pcm = vec![0i16; 3_200];
    for _ in 0..8 {
        pcm.extend((0..4_800).map(|i| {
            let t = f64::from(i) / 8000.0;
            let syllables = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 5.0 * t).sin();
            let buzz: f64 = (1..=6)
                .map(|h| {
                    (2.0 * std::f64::consts::PI * 140.0 * f64::from(h) * t).sin() / f64::from(h)
                })
                .sum();
            (buzz * syllables * 5_000.0) as i16
        }));
        pcm.extend(std::iter::repeat_n(0i16, 1_200));
    }
    pcm
}

/// Dials one target whose line answers with `pcm`: the detector's verdict
/// (`verdict (CAUSE)` in the trail) ends the attempt with `outcome`, and
/// `retry … never` makes it final.
async fn answered_by_recording(pcm: &[i16], outcome: &str, verdict: &str) {
    let dir = dialect_e2e::campaign_project("retry machine never\n  retry fax never");
    let pcap = dir.join("answer.pcap");
    dialect_e2e::write_rtp_pcap(&pcap, pcm);
    let (s, port) = campaign_server(&dir).await;
    let callee = dialect_e2e::customer_playing(port, &pcap);
    let list = std::fs::read(dir.join("lists/reminder.csv")).unwrap();
    import_and_start(&s, "reminder", list).await;
    let contacts = campaign_contacts(&s, 1).await;
    let _ = tokio::task::spawn_blocking(move || callee.wait_with_output()).await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let steps = trail(&contacts[0]);
    assert!(
        steps
            .iter()
            .any(|(n, d)| n == "machine detection" && d.starts_with(verdict)),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|(n, _)| n.contains("confirm")),
        "the flow did not run for a {verdict}: {steps:?}"
    );
    let t = s.get("/api/v1/campaigns/reminder/targets/1").await;
    assert_eq!(t["history"][0]["outcome"], outcome, "{t}");
    assert_eq!(t["state"], "attempts exhausted", "{t}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fax_answering_with_its_calling_tone_is_a_fax() {
    answered_by_recording(&fax_calling_tone(), "fax", "fax (CNG)").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_answering_machine_with_a_long_greeting_is_a_machine() {
    answered_by_recording(&machine_greeting(), "machine", "machine (LONGGREETING)").await;
}
