//! The agent desk and the supervisor wallboard in a real browser: headless
//! Chromium driven over WebDriver (chromedriver, through fantoccini) against
//! the runtime on loopback, with SIPp as the caller and as the agent's phone.
//!
//! Two stories, as a working day runs them.
//!
//! Inbound: a wrong password is refused on the page and audited; the agent
//! signs in at the desk (in English, and in Chinese at the switch), signs in
//! with the phone and goes not ready; a caller is identified by the IVR and
//! waits in the queue, which the supervisor's wallboard shows within a second,
//! amber at the supervisor's own threshold; large-screen mode hides the
//! controls; the agent goes ready from the keyboard, the offer pops with the
//! IVR trail and the call data, the agent answers from the page and the phone
//! picks up; the supervisor barges in from the wallboard; the agent adds to the
//! call data; after the call the agent raises a workorder prefilled from the
//! call and records what it was about, with notes, on the customer's record;
//! the supervisor makes the agent not ready from the wallboard (audited); an
//! agent who opens the wallboard gets no actions and the API refuses them
//! anyway. Screenshots of the desk and the wallboard go to `docs/images/`.
//!
//! Outbound: a preview campaign shows its target and script; the agent skips
//! one with a reason (audited), takes the next from the keyboard, transfers
//! the customer to a queue, and gives the campaign's disposition.
//!
//! chromedriver and Chromium are required (Debian `chromium` and
//! `chromium-driver`, installed by `scripts/install-deps.sh`): without them the
//! test fails and says so; it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use dialect_e2e::browser::{
    alt, browser, chromedriver, click, fill, screenshot, sign_in_page, wait_text,
};
use dialect_e2e::{TestServer, sipp_async};
use dialect_runtime::config::{ApiUser, Role};
use fantoccini::Locator;
use fantoccini::key::Key;

mod staff;
#[allow(dead_code)]
mod voices;

// The phones of `voices` register through it.
use staff::register;

/// The agent's desk password, and the supervisor's.
const AGENT_PASSWORD: &str = "Desk-pass-7001!";
const BOSS_PASSWORD: &str = "Board-pass-boss!";
/// The caller: the mock CRM knows every number (customer `C-<number>`).
const CALLER: &str = "13912345678";

/// A small contact center: the IVR looks the caller up in the CRM, puts what
/// it learned in the call data and queues the call; a preview campaign on the
/// same queue gives the wallboard campaign figures.
const PROJECT: &str = r#"
calldata {
  customer_id: text = ""
  customer_name: text = ""
  level: number = 0
  intent: text = ""
}

skill general levels 1..5

service crm "CRM" {
  url "http://127.0.0.1:9/crm"
  timeout 2s
  get customer "/customers/by-phone/{phone}" (phone: text) -> {
    id: text, name: text, level: number, status: text, vip: bool
  }
}

workorder complaint "Complaint" {
  field phone: phone required
  field customer: customer
  field category: enum(billing, network, service) required
  field description: text required
  state new "New" initial
  state closed "Closed" final
  transition close: new -> closed by agent, supervisor close
}

queue support "Support" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 20s -> requeue first
  max wait 5m -> flow goodbye
  service level 80% within 20s
}

queue billing "Billing" {
  skills general >= 1
  strategy longest_idle
  priority 0
  max wait 5m -> flow goodbye
}

queue experts "Experts" {
  skills general >= 5
  strategy longest_idle
  priority 0
  max wait 5m -> flow goodbye
}

flow goodbye "Goodbye" {
  hangup
}

flow entry "Entry" on "5000" {
  customer = lookup crm.customer(caller) (timeout 2s) else {
    data.level = 0
  }
  if known(customer) {
    data.customer_id = customer.id
    data.customer_name = customer.name
    data.level = customer.level
  }
  data.intent = "support"
  transfer queue support
}
"#;

/// A preview campaign on the support queue, with a script and disposition
/// codes (`ZONE` becomes a zone where it is afternoon, so that its calling
/// hours are open whenever the tests run).
const CAMPAIGN: &str = r#"
calendar campaign_days {
  timezone "ZONE"
  hours mon-sun 08:00-21:00
}

campaign offer "Offer" {
  list leads from "lists/people.csv" {
    phone: text <- "phone"
    name: text <- "name"
  }
  mode preview (preview time 20s) -> queue support
  calendar campaign_days
  window workday 08:00-21:00
  window weekend 08:00-21:00
  window holiday 08:00-21:00
  trunk "carrier"
  caller id "10000"
  script "Hello, this is the support team calling about your service."
  disposition sale "Sale"
  disposition call_back "Call back" -> retry in 1d
}
"#;

/// A fresh project folder with [`PROJECT`] and [`CAMPAIGN`].
fn project() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-e2e-desk-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("desk.flow"), PROJECT).unwrap();
    std::fs::write(dir.join("lists/people.csv"), "phone,name\n").unwrap();
    std::fs::write(
        dir.join("campaign.flow"),
        CAMPAIGN.replace("ZONE", &dialect_e2e::afternoon_zone()),
    )
    .unwrap();
    dir
}

/// The audit log as the admin reads it.
async fn audit(s: &TestServer) -> Vec<serde_json::Value> {
    s.get("/api/v1/audit?limit=1000")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn person(name: &str, password: &str, role: Role) -> ApiUser {
    ApiUser {
        name: name.into(),
        token: String::new(),
        password: Some(dialect_runtime::login::hash_password(password).unwrap()),
        role,
        department: None,
        email: None,
        phone: None,
    }
}

/// The server on [`PROJECT`] with agent 7001 and supervisor `boss` (who sign
/// in with passwords), the supervisor's phone 7009, changed by `adjust`.
/// Returns it and its project folder.
async fn server(
    adjust: impl FnOnce(&mut dialect_runtime::config::Config),
) -> (TestServer, std::path::PathBuf) {
    let dir = project();
    let folder = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(dir);
        c.agents.push(staff::test_agent("7001"));
        // The supervisor's phone, which monitoring rings (it never signs in).
        c.agents.push(staff::test_agent("7009"));
        c.api_users
            .push(person("7001", AGENT_PASSWORD, Role::Agent));
        c.api_users
            .push(person("boss", BOSS_PASSWORD, Role::Supervisor));
        adjust(c);
    })
    .await;
    (s, folder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_takes_a_call_at_the_desk_while_the_supervisor_watches_the_wallboard() {
    let driver = chromedriver().await;
    let (s, dir) = server(|_| {}).await;
    let base = format!("http://{}", s.http);

    // ----- the desk: a wrong password, then the right one ---------------------
    let desk = browser(&driver).await;
    desk.goto(&format!("{base}/")).await.unwrap();
    sign_in_page(&desk, "7001", "not-the-password").await;
    wait_text(&desk, "#signin .error", "wrong user name or password", 10).await;
    let refused = audit(&s).await;
    assert!(
        refused
            .iter()
            .any(|e| e["action"] == "login failed" && e["user"] == "7001"),
        "the refused sign-in is audited: {refused:?}"
    );
    sign_in_page(&desk, "7001", AGENT_PASSWORD).await;
    wait_text(&desk, "#who", "7001", 10).await;
    wait_text(&desk, "#link", "Live", 10).await;

    // The page speaks the browser's language, and Chinese at a switch.
    let lang = desk.find(Locator::Css("#lang")).await.unwrap();
    lang.select_by_value("zh").await.unwrap();
    wait_text(&desk, "#state-h", "我的状态", 5).await;
    wait_text(&desk, "#keys", "接听来电", 5).await;
    wait_text(&desk, "#who", "坐席", 5).await;
    lang.select_by_value("en").await.unwrap();
    wait_text(&desk, "#state-h", "My state", 5).await;

    // The phone registers; the agent signs in with it and goes not ready.
    let phone = staff::agent_phone(&s, "7001", "uas_agent_desk.xml", &[("calls", "2")]).await;
    click(&desk, "[data-action=sign_in]").await;
    wait_text(&desk, "#status", "Done", 10).await;
    desk.find(Locator::Css("#reason"))
        .await
        .unwrap()
        .select_by_value("lunch")
        .await
        .unwrap();
    click(&desk, "[data-action=not_ready]").await;
    wait_text(&desk, "#state", "Not ready", 10).await;
    wait_text(&desk, "#state-reason", "lunch", 10).await;

    // ----- the wallboard, as the supervisor -------------------------------------
    let board = browser(&driver).await;
    board.goto(&format!("{base}/wallboard")).await.unwrap();
    sign_in_page(&board, "boss", BOSS_PASSWORD).await;
    wait_text(&board, "#link", "Live", 10).await;
    wait_text(&board, "#agents tr[data-agent='7001']", "Not ready", 10).await;
    wait_text(&board, "#campaigns tr[data-campaign='offer']", "Offer", 10).await;

    // A caller goes through the IVR into the queue; nobody is ready.
    // It hangs up 20 s after the IVR answered it.
    let caller = tokio::spawn(sipp_async(
        "uac_long.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5000".into()),
            ("caller", CALLER.into()),
            ("hold", "20000".into()),
        ],
        60,
    ));
    let http = reqwest::Client::new();
    let queued = Instant::now() + Duration::from_secs(15);
    loop {
        let q: serde_json::Value = http
            .get(format!("{base}/api/v1/queues/support"))
            .bearer_auth(&s.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if q["waiting"] == 1 {
            break;
        }
        if Instant::now() > queued {
            panic!(
                "the call never queued: {q}; calls: {:?}",
                s.contacts().await
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The wallboard shows it within a second of the API.
    let seen = Instant::now();
    wait_text(&board, "#calls tbody", CALLER, 5).await;
    wait_text(&board, "#queues tr[data-queue='support'] td", "1", 5).await;
    assert!(
        seen.elapsed() < Duration::from_secs(1),
        "the wallboard took {:?} to show the waiting call",
        seen.elapsed()
    );
    // One waiting call is already amber for this supervisor's queue.
    click(&board, ".settings summary").await;
    board
        .find(Locator::Css("#th-queue"))
        .await
        .unwrap()
        .select_by_value("support")
        .await
        .unwrap();
    // Typed, and saved with Enter.
    fill(
        &board,
        "#thresholds input[name='waiting.amber']",
        &format!("1{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&board, "#status", "Thresholds saved", 5).await;
    let waiting_cell = board
        .find(Locator::Css("#queues tr[data-queue='support'] td"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while waiting_cell.attr("class").await.unwrap().as_deref() != Some("amber") {
        assert!(Instant::now() < deadline, "the waiting count is not amber");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let billing = board
        .find(Locator::Css("#queues tr[data-queue='billing'] td"))
        .await
        .unwrap();
    assert_eq!(
        billing.attr("class").await.unwrap(),
        None,
        "only for support"
    );
    click(&board, ".settings summary").await;
    screenshot(&board, "wallboard.png").await;

    // Large-screen mode hides the controls; Alt+B brings them back.
    click(&board, "#big").await;
    let big = board
        .execute("return document.body.classList.contains('big')", vec![])
        .await
        .unwrap();
    assert_eq!(big, true);
    let action = board
        .find(Locator::Css(
            "#agents tr[data-agent='7001'] [data-op=barge]",
        ))
        .await
        .unwrap();
    assert!(
        !action.is_displayed().await.unwrap(),
        "no actions on the wall"
    );
    alt(&board, 'b').await;
    assert!(action.is_displayed().await.unwrap());

    // ----- the agent goes ready from the keyboard; the offer pops -------------
    alt(&desk, 'r').await;
    wait_text(&desk, "#offer", CALLER, 10).await;
    wait_text(&desk, "#offer-facts", "C-13912345678", 5).await;
    wait_text(&desk, "#offer-trail tbody", "crm.customer", 5).await;
    // Each step with its time, what it was and what happened.
    let step = desk
        .find(Locator::Css("#offer-trail tbody tr"))
        .await
        .unwrap();
    let cells = step.find_all(Locator::Css("td")).await.unwrap();
    assert_eq!(cells.len(), 3);
    let at = cells[0].text().await.unwrap();
    assert!(
        at.len() == 8 && at.chars().filter(|c| *c == ':').count() == 2,
        "a time of day: {at}"
    );
    assert_eq!(cells[1].text().await.unwrap(), "lookup crm.customer");
    assert!(cells[2].text().await.unwrap().contains("answered"));
    wait_text(&desk, "#offer-data", "customer_name", 5).await;
    wait_text(&desk, "#offer-data", "张三", 5).await;
    screenshot(&desk, "desk.png").await;

    // Answered from the page: the phone, which never picks up by itself, is
    // rung again and asked to answer, and does.
    click(&desk, "#offer [data-action=answer]").await;
    wait_text(&desk, "#status", "Done: Answer", 5).await;
    wait_text(&desk, "#state", "Talking", 15).await;
    wait_text(&desk, "#call-facts", CALLER, 5).await;
    wait_text(&desk, "#history", "Interactions", 5).await;
    wait_text(&board, "#agents tr[data-agent='7001']", "Talking", 5).await;

    // The supervisor barges in from the wallboard: the server rings their phone.
    let sup_phone = staff::agent_phone(&s, "7009", "uas_agent.xml", &[]).await;
    fill(&board, "#monitor-phone", "7009").await;
    click(&board, "#agents tr[data-agent='7001'] [data-op=barge]").await;
    wait_text(&board, "#status", "Barge in: 7001 — done", 10).await;

    // The agent adds to the call data, which the server answers with whole.
    click(&desk, "#data-add").await;
    let key = desk
        .find(Locator::Css("#call-data tbody tr:last-child .data-key"))
        .await
        .unwrap();
    key.send_keys("promise").await.unwrap();
    let value = desk
        .find(Locator::Css("#call-data tbody tr:last-child .data-value"))
        .await
        .unwrap();
    value.send_keys("refund by Friday").await.unwrap();
    alt(&desk, 'l').await;
    wait_text(&desk, "#status", "Call data saved", 5).await;
    let data = desk
        .execute(
            "return [...document.querySelectorAll('#call-data tbody tr')].map((r) => \
             [r.querySelector('.data-key').value, r.querySelector('.data-value').value])",
            vec![],
        )
        .await
        .unwrap();
    let rows = data.as_array().unwrap();
    assert!(
        rows.contains(&serde_json::json!(["promise", "refund by Friday"]))
            && rows.contains(&serde_json::json!(["customer_id", "C-13912345678"])),
        "{data}"
    );
    let calls = board
        .find(Locator::Css("#calls tbody"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!calls.contains(CALLER), "no longer waiting: {calls}");

    // ----- after the call: what it was about, with notes ---------------------------
    wait_text(&desk, "#wrap", "After the call", 30).await;
    // Not a campaign call: no campaign disposition, the site's event types.
    assert!(
        !desk
            .find(Locator::Css("#campaign-disposition"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    let types = wait_text(&desk, "#event-type", "咨询查询", 5).await;
    assert!(types.contains("投诉"), "{types}");
    desk.find(Locator::Css("#event-type"))
        .await
        .unwrap()
        .select_by_value("complaint")
        .await
        .unwrap();
    fill(&desk, "#notes", "Charged twice for the last bill").await;
    // A workorder from the call, prefilled with the caller and the customer.
    alt(&desk, 'w').await;
    wait_text(&desk, "#workorder", "Complaint", 5).await;
    let prefilled = desk
        .execute(
            "return ['phone', 'customer'].map((f) => document.getElementById('wo-f-' + f).value)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(prefilled, serde_json::json!([CALLER, "C-13912345678"]));
    desk.find(Locator::Css("#wo-f-category"))
        .await
        .unwrap()
        .select_by_value("billing")
        .await
        .unwrap();
    fill(
        &desk,
        "#wo-f-description",
        &format!("Charged twice{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&desk, "#status", "created", 10).await;
    let orders = s.get("/api/v1/workorders?customer=C-13912345678").await;
    let order = &orders["items"][0];
    assert_eq!(order["kind"], "complaint", "{orders}");
    assert_eq!(order["fields"]["category"], "billing", "{orders}");
    assert_eq!(order["created_by"], "7001", "{orders}");
    alt(&desk, 'g').await;
    wait_text(&desk, "#status", "Disposition and notes saved", 10).await;
    let events: serde_json::Value = s.get("/api/v1/interactions?customer=C-13912345678").await;
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "complaint"
                && e["description"] == "Charged twice for the last bill"
                && e["employee"] == "7001"),
        "the disposition is on the customer's record: {events}"
    );

    // ----- the supervisor acts from the wallboard ------------------------------------
    board
        .find(Locator::Css("#force-reason"))
        .await
        .unwrap()
        .select_by_value("meeting")
        .await
        .unwrap();
    click(
        &board,
        "#agents tr[data-agent='7001'] [data-op=force_not_ready]",
    )
    .await;
    wait_text(&board, "#status", "done", 10).await;
    wait_text(&desk, "#state", "Not ready", 10).await;
    wait_text(&board, "#agents tr[data-agent='7001']", "Not ready", 5).await;
    let log = audit(&s).await;
    assert!(
        log.iter().any(|e| e["action"] == "agent.force_not_ready"
            && e["user"] == "boss"
            && e["target"] == "7001"),
        "the supervisor's action is audited: {log:?}"
    );

    // ----- an agent cannot reach the supervisor's actions ----------------------------
    desk.goto(&format!("{base}/wallboard")).await.unwrap();
    wait_text(&desk, "#refused", "for supervisors", 10).await;
    let buttons = desk.find_all(Locator::Css("[data-op]")).await.unwrap();
    assert!(
        buttons.is_empty(),
        "no supervisor action on an agent's page"
    );
    let status = desk
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch("/api/v1/me").then((r) => r.json()).then((me) =>
                 fetch("/api/v1/agents/7001/force_ready", {
                   method: "POST",
                   headers: { "X-CSRF-Token": me.csrf, "Content-Type": "application/json" },
                   body: "{}",
                 })).then((r) => done(r.status), (e) => done(String(e)));"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        status, 403,
        "the API refuses an agent the supervisor's action"
    );

    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    staff::phone_done(phone).await;
    staff::phone_done(sup_phone).await;
    let contact = s.wait_contacts(1).await.swap_remove(0);
    let trail = dialect_e2e::trail(&contact);
    assert!(
        trail.iter().any(|(_, d)| d == "supervisor 7009: Barge"),
        "the barge is in the call's trail: {trail:?}"
    );
    assert!(
        log.iter().any(|e| e["action"] == "agent.barge"
            && e["user"] == "boss"
            && e["detail"]["accepted"] == true),
        "the barge is audited: {log:?}"
    );
    desk.close().await.unwrap();
    board.close().await.unwrap();
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Posts to the API as the admin; the answer must be a success.
async fn admin_post(s: &TestServer, path: &str, kind: &str, body: Vec<u8>) {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", s.http))
        .bearer_auth(&s.token)
        .header("content-type", kind)
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {:?}", r.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_preview_campaign_call_is_read_skipped_taken_transferred_and_dispositioned_at_the_desk() {
    let driver = chromedriver().await;
    let (trunk, port) = dialect_e2e::customer_trunk();
    let (s, dir) = server(move |c| {
        c.trunks.push(trunk);
        c.dialer.tick = dialect_runtime::config::Duration(Duration::from_millis(100));
    })
    .await;
    let base = format!("http://{}", s.http);
    let desk = browser(&driver).await;
    desk.goto(&format!("{base}/")).await.unwrap();
    sign_in_page(&desk, "7001", AGENT_PASSWORD).await;
    wait_text(&desk, "#link", "Live", 10).await;
    let phone = staff::agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    alt(&desk, 'i').await;
    wait_text(&desk, "#status", "Done: Sign in with my phone", 10).await;
    alt(&desk, 'r').await;
    wait_text(&desk, "#state", "Ready", 10).await;

    // Two people to call; the customer's side answers one call and talks 4 s.
    let customer = dialect_e2e::customer(port, 4_000);
    admin_post(
        &s,
        "/api/v1/campaigns/offer/lists",
        "text/csv",
        b"phone,name\n13800000021,Ann\n13800000022,Bob\n".to_vec(),
    )
    .await;
    admin_post(
        &s,
        "/api/v1/campaigns/offer/start",
        "application/json",
        Vec::new(),
    )
    .await;

    // The first is shown with its fields and the campaign's script.
    let card = wait_text(&desk, "#preview", "support team calling", 15).await;
    assert!(card.contains("Offer"), "{card}");
    let first = if card.contains("13800000021") {
        "Ann"
    } else {
        "Bob"
    };
    assert!(card.contains(first), "{card}");
    // Skipping needs a reason.
    alt(&desk, 'j').await;
    wait_text(&desk, "#status", "Say why you skip this target", 5).await;
    fill(&desk, "#skip-reason", "Asked not to be called today").await;
    alt(&desk, 'j').await;
    wait_text(&desk, "#status", "The target was handed back", 5).await;
    let log = audit(&s).await;
    assert!(
        log.iter().any(|e| e["action"] == "campaign skip"
            && e["detail"]["reason"] == "Asked not to be called today"),
        "the skip is audited with its reason: {log:?}"
    );

    // The other is shown next; the agent takes it from the keyboard.
    let (second, number) = if first == "Ann" {
        ("Bob", "13800000022")
    } else {
        ("Ann", "13800000021")
    };
    let card = wait_text(&desk, "#preview", second, 15).await;
    assert!(card.contains(number), "{card}");
    alt(&desk, 'a').await;
    wait_text(&desk, "#status", "The call is being placed", 5).await;
    wait_text(&desk, "#state", "Talking", 20).await;
    wait_text(&desk, "#call-facts", number, 5).await;

    // A blind transfer to a queue the agent does not serve (a queue is the
    // target kind unless another is chosen): the agent's part of the call ends.
    fill(&desk, "#target-to", "experts").await;
    alt(&desk, 'y').await;
    wait_text(&desk, "#status", "Done: Blind transfer", 5).await;

    // After the call: the campaign's own codes.
    wait_text(&desk, "#wrap", "After the call", 10).await;
    let codes = wait_text(&desk, "#campaign-disposition", "Call back", 5).await;
    assert!(codes.contains("Sale"), "{codes}");
    let targets = s
        .get(&format!("/api/v1/campaigns/offer/targets?phone={number}"))
        .await;
    let id = targets[0]["id"].as_u64().unwrap();
    // The attempt is stored when the call ends; the disposition goes on it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while s
        .get(&format!("/api/v1/campaigns/offer/targets/{id}"))
        .await["history"]
        .as_array()
        .is_none_or(|h| h.is_empty())
    {
        assert!(Instant::now() < deadline, "the attempt was not stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    desk.find(Locator::Css("#disposition"))
        .await
        .unwrap()
        .select_by_value("sale")
        .await
        .unwrap();
    alt(&desk, 'g').await;
    wait_text(&desk, "#status", "Disposition and notes saved", 10).await;
    let t = s
        .get(&format!("/api/v1/campaigns/offer/targets/{id}"))
        .await;
    assert_eq!(t["history"][0]["disposition"], "sale", "{t}");
    assert_eq!(t["history"][0]["agent"], "7001", "{t}");

    staff::phone_done(phone).await;
    let customer = tokio::task::spawn_blocking(move || customer.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(customer.status.success(), "customer: {customer:?}");
    let contact = s.wait_contacts(1).await.swap_remove(0);
    let trail = dialect_e2e::trail(&contact);
    assert!(
        trail
            .iter()
            .any(|(n, d)| n.starts_with("queue") && d.starts_with("experts: position 1")),
        "the customer went on to the queue: {trail:?}"
    );
    desk.close().await.unwrap();
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
