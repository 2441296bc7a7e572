//! The reports and recordings pages, and keys sent from the desk, in a real
//! browser: headless Chromium over WebDriver against the runtime on loopback,
//! SIPp as the caller and as the agent's phone.
//!
//! An agent takes a recorded call at the desk and, from the keyboard and the
//! keypad, sends keys to the caller; the test reads the caller's RTP itself
//! and decodes the RFC 4733 events to check that exactly those keys arrived.
//! After the call the supervisor opens the reports: the queue's row and its
//! SVG chart show the call, and the CSV download (fetched with the page's
//! session) has it too; then the recordings page finds the call by agent and
//! plays it in the page (audited). The agent is refused the reports, by the
//! page and by the API. Screenshots of both pages go to `docs/images/`.
//!
//! chromedriver and Chromium are required (Debian `chromium` and
//! `chromium-driver`, installed by `scripts/install-deps.sh`): without them the
//! test fails and says so; it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dialect_e2e::browser::{
    alt, browser, chromedriver, click, fill, screenshot, sign_in_page, wait_text,
};
use dialect_e2e::sipp_async;
use dialect_runtime::config::{ApiUser, Role};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

mod staff;
#[allow(dead_code)]
mod voices;

// The phones of `voices` register through it.
use staff::register;

const AGENT_PASSWORD: &str = "Desk-pass-7001!";
const BOSS_PASSWORD: &str = "Board-pass-boss!";
const CALLER: &str = "13912345678";
/// The payload type the caller's SDP gives telephone-event.
const EVENT_PT: u8 = 101;

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

/// The caller's media, read by the test: every RTP packet sent to the
/// caller's SDP port. RFC 4733 events are collected as keys, one per event
/// (an event's packets share its RTP timestamp); silence is sent back to the
/// server so that the caller's leg is never silent.
struct CallerMedia {
    port: u16,
    keys: Arc<Mutex<Vec<(u32, char)>>>,
    audio_packets: Arc<std::sync::atomic::AtomicUsize>,
}

impl CallerMedia {
    async fn start() -> CallerMedia {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let keys: Arc<Mutex<Vec<(u32, char)>>> = Arc::default();
        let audio_packets: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (k, a) = (keys.clone(), audio_packets.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            let mut server = None;
            let mut seq: u16 = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    r = socket.recv_from(&mut buf) => {
                        let Ok((n, from)) = r else { return };
                        server = Some(from);
                        let p = &buf[..n];
                        if n < 12 || p[0] >> 6 != 2 {
                            continue;
                        }
                        let pt = p[1] & 0x7f;
                        let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                        let cc = usize::from(p[0] & 0x0f);
                        let body = &p[12 + 4 * cc..];
                        if pt == EVENT_PT && body.len() >= 4 {
                            let key = match body[0] {
                                d @ 0..=9 => char::from(b'0' + d),
                                10 => '*',
                                11 => '#',
                                e @ 12..=15 => char::from(b'A' + e - 12),
                                _ => continue,
                            };
                            let mut keys = k.lock().unwrap();
                            if !keys.iter().any(|(t, _)| *t == ts) {
                                keys.push((ts, key));
                            }
                        } else {
                            a.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    _ = tick.tick() => {
                        if let Some(to) = server {
                            seq = seq.wrapping_add(1);
                            let mut packet = vec![0x80, 0];
                            packet.extend_from_slice(&seq.to_be_bytes());
                            packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
                            packet.extend_from_slice(&0x5eed_u32.to_be_bytes());
                            packet.extend_from_slice(&[0xff; 160]);
                            let _ = socket.send_to(&packet, to).await;
                        }
                    }
                }
            }
        });
        CallerMedia {
            port,
            keys,
            audio_packets,
        }
    }

    /// The keys received so far, in the order they were sent.
    fn keys(&self) -> String {
        let mut keys = self.keys.lock().unwrap().clone();
        keys.sort_by_key(|(ts, _)| *ts);
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// Waits (at most `secs`) until `want` has arrived.
    async fn wait_keys(&self, want: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.keys() != want {
            assert!(
                Instant::now() < deadline,
                "the caller received the keys `{}`, not `{want}` ({} audio packets)",
                self.keys(),
                self.audio_packets
                    .load(std::sync::atomic::Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `script` in the page as an async function body (`done` gives the result).
async fn in_page(c: &Client, script: &str) -> serde_json::Value {
    c.execute_async(
        &format!("const done = arguments[arguments.length - 1]; {script}"),
        vec![],
    )
    .await
    .unwrap()
}

/// `flow`'s statistics once `calls` calls of it are counted (the call task
/// hands them over when the call ends).
async fn wait_flow(s: &dialect_e2e::TestServer, flow: &str, calls: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v = s.get(&format!("/api/v1/flow-stats?flow={flow}")).await;
        let f = &v["flows"][0];
        if f["calls"] == calls {
            return f.clone();
        }
        assert!(
            Instant::now() < deadline,
            "flow {flow} never counted {calls} calls: {v:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ticks or unticks "every step" of the Flows section (scrolled to the
/// middle first: the status line stays over the page's bottom edge).
async fn toggle_all_steps(c: &Client) {
    c.execute(
        "const box = document.getElementById('flow-all-steps'); \
         box.scrollIntoView({ block: 'center' }); box.click();",
        vec![],
    )
    .await
    .unwrap();
}

/// The step of a flow's statistics named `name`.
fn step<'a>(flow: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    flow["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {flow:#}"))
}

/// The cells of the row of step `name` in `flow`'s table on the reports page.
async fn row_cells(c: &Client, flow: &str, name: &str) -> Vec<String> {
    let cells = c
        .execute(
            "const [flow, name] = arguments;              const row = [...document.querySelectorAll(`#flows table[data-flow='${flow}'] tbody tr`)]                .find((r) => r.cells[0].textContent.startsWith(name));              return row ? [...row.cells].map((c) => c.textContent) : [];",
            vec![flow.into(), name.into()],
        )
        .await
        .unwrap();
    serde_json::from_value(cells).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_from_the_desk_reach_the_caller_and_the_call_shows_in_reports_and_recordings() {
    let driver = chromedriver().await;
    let (s, dir) = staff::with_agents(&[], |c| {
        c.recording.whole_call = true;
        c.agents.push(staff::test_agent("7001"));
        c.api_users
            .push(person("7001", AGENT_PASSWORD, Role::Agent));
        c.api_users
            .push(person("boss", BOSS_PASSWORD, Role::Supervisor));
    })
    .await;
    let base = format!("http://{}", s.http);

    // ----- the desk: sign in, phone in, ready --------------------------------------
    let desk = browser(&driver).await;
    desk.goto(&format!("{base}/")).await.unwrap();
    sign_in_page(&desk, "7001", AGENT_PASSWORD).await;
    wait_text(&desk, "#link", "Live", 10).await;
    // An agent's header links to the recordings, not to the reports.
    let links = wait_text(&desk, "#pages", "Recordings", 5).await;
    assert!(!links.contains("Reports"), "{links}");
    let phone = staff::agent_phone(&s, "7001", "uas_agent.xml", &[]).await;
    alt(&desk, 'i').await;
    wait_text(&desk, "#status", "Done: Sign in with my phone", 10).await;
    alt(&desk, 'r').await;
    wait_text(&desk, "#state", "Ready", 10).await;

    // ----- a caller whose media the test reads is put through --------------------
    let media = CallerMedia::start().await;
    let caller = tokio::spawn(sipp_async(
        "uac_rtp_elsewhere.xml",
        s.sip,
        1,
        1,
        vec![
            ("service", "5000".into()),
            ("caller", CALLER.into()),
            ("rtp_port", media.port.to_string()),
            ("hold", "12000".into()),
        ],
        60,
    ));
    wait_text(&desk, "#state", "Talking", 15).await;
    wait_text(&desk, "#call-facts", CALLER, 5).await;

    // Keys typed in the field and sent with Enter (Alt+T goes to the field)…
    alt(&desk, 't').await;
    let focused = desk
        .execute("return document.activeElement.id", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "dtmf-digits", "Alt+T goes to the keys");
    desk.active_element()
        .await
        .unwrap()
        .send_keys(&format!("12#{}", char::from(Key::Enter)))
        .await
        .unwrap();
    wait_text(&desk, "#status", "Keys sent to the caller (3)", 5).await;
    // …then one from the keypad.
    click(&desk, "#keypad [data-key='5']").await;
    wait_text(&desk, "#status", "Keys sent to the caller (1)", 5).await;
    // What is not a key is refused before it is sent.
    fill(
        &desk,
        "#dtmf-digits",
        &format!("9x{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&desk, "#status", "Keys are 0-9", 5).await;
    media.wait_keys("12#5", 10).await;

    // ----- after the call -----------------------------------------------------------
    let caller = caller.await.unwrap();
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    staff::phone_done(phone).await;
    let contact = s.wait_contacts(1).await.swap_remove(0);
    let trail = dialect_e2e::trail(&contact);
    assert!(
        trail.iter().any(|(_, d)| d == "agent 7001 sent keys (3)"),
        "the keys are in the trail, without the keys themselves: {trail:?}"
    );
    assert!(!trail.iter().any(|(_, d)| d.contains("12#")), "{trail:?}");
    assert!(
        contact["recordings"][0].as_str().is_some(),
        "the call was recorded: {contact:#}"
    );
    media.wait_keys("12#5", 1).await;
    // Ready again ends the wrap-up, which closes the call's queue record; the
    // figures have it once the record is stored.
    alt(&desk, 'r').await;
    wait_text(&desk, "#state", "Ready", 10).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.get("/api/v1/stats").await["total"]["answered"] != 1 {
        assert!(
            Instant::now() < deadline,
            "the call never reached the statistics"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The flow `entry` handed its one call to the queue: to agents, from
    // its transfer step.
    let entry = wait_flow(&s, "entry", 1).await;
    assert_eq!(entry["to_agents"], 1, "{entry:#}");
    assert_eq!(entry["hung_up"], 0, "{entry:#}");
    let transfer = step(&entry, "transfer queue support");
    assert_eq!(transfer["to_agents"], 1, "{entry:#}");
    assert_eq!(transfer["kind"], "transfer");

    // ----- the supervisor's reports -------------------------------------------------
    let boss = browser(&driver).await;
    boss.goto(&format!("{base}/reports")).await.unwrap();
    sign_in_page(&boss, "boss", BOSS_PASSWORD).await;
    wait_text(
        &boss,
        "#table-queue tbody tr[data-group='support']",
        "support",
        10,
    )
    .await;
    let cells = boss
        .execute(
            "return [...document.querySelector(\"#table-queue tbody tr[data-group='support']\").cells]\
             .map((c) => c.textContent)",
            vec![],
        )
        .await
        .unwrap();
    // Offered 1, answered 1, abandoned 0, abandon rate 0%, service level 100%.
    assert_eq!(
        cells.as_array().unwrap()[..6],
        ["support", "1", "1", "0", "0%", "100%"],
        "{cells}"
    );
    wait_text(&boss, "#table-agent tbody tr[data-group='7001']", "7001", 5).await;
    let bars = boss
        .find_all(Locator::Css(
            "#chart-queue svg.chart g[data-label='support'] rect.bar",
        ))
        .await
        .unwrap();
    assert_eq!(bars.len(), 3, "offered, answered and abandoned bars");
    let offered_width: f64 = bars[0]
        .attr("width")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        offered_width > 100.0,
        "the one call fills the scale: {offered_width}"
    );
    // The Flows section: `entry` has no menu; every step shows its transfer.
    wait_text(
        &boss,
        "#flows table[data-flow='entry'] caption",
        "1 to agents",
        10,
    )
    .await;
    toggle_all_steps(&boss).await;
    let row = wait_text(
        &boss,
        "#flows table[data-flow='entry'] tbody",
        "transfer queue",
        5,
    )
    .await;
    assert!(row.contains("transfer queue"), "{row}");
    let cells = row_cells(&boss, "entry", "transfer queue").await;
    assert_eq!(cells[1], "1", "calls: {cells:?}");
    assert_eq!(cells[3], "1", "to agents: {cells:?}");
    toggle_all_steps(&boss).await;
    let links = wait_text(&boss, "#pages", "Recordings", 5).await;
    assert!(links.contains("Wallboard"), "{links}");
    // The page in Chinese, and back.
    let lang = boss.find(Locator::Css("#lang")).await.unwrap();
    lang.select_by_value("zh").await.unwrap();
    wait_text(&boss, "#queue-h", "按队列", 5).await;
    lang.select_by_value("en").await.unwrap();
    wait_text(&boss, "#queue-h", "By queue", 5).await;
    screenshot(&boss, "reports.png").await;

    // The CSV, as the download link fetches it with the page's session.
    let csv = in_page(
        &boss,
        r#"fetch(document.getElementById("csv-queue").href)
             .then((r) => r.arrayBuffer().then((b) => done([r.status, r.headers.get("content-type"),
                       [...new Uint8Array(b.slice(0, 3))], new TextDecoder().decode(b)])),
                   (e) => done(String(e)));"#,
    )
    .await;
    assert_eq!(csv[0], 200, "{csv}");
    assert_eq!(csv[1], "text/csv; charset=utf-8", "{csv}");
    // The file starts with the byte-order mark (which decoding then drops).
    assert_eq!(csv[2], serde_json::json!([0xef, 0xbb, 0xbf]), "{csv}");
    let text = csv[3].as_str().unwrap();
    assert!(
        text.starts_with("queue,offered,answered,abandoned,"),
        "{text}"
    );
    assert!(text.contains("\r\nsupport,1,1,0,"), "{text}");
    assert!(text.contains("\r\ntotal,1,1,0,"), "{text}");
    // Yesterday had no calls.
    boss.find(Locator::Css("#period"))
        .await
        .unwrap()
        .select_by_value("yesterday")
        .await
        .unwrap();
    click(&boss, "#period-form button[type=submit]").await;
    wait_text(&boss, "#chart-queue", "No calls in this period", 5).await;

    // ----- the recordings page: found by agent, played in the page -------------------
    click(&boss, "#pages a[href='/recordings']").await;
    wait_text(&boss, "#results-h", "Results", 10).await;
    fill(&boss, "#q-agent", "7001").await;
    fill(
        &boss,
        "#q-caller",
        &format!("{CALLER}{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&boss, "#status", "Recordings found: 1", 5).await;
    wait_text(&boss, "#results tbody", CALLER, 5).await;
    click(&boss, "#results tbody tr:first-child button.play").await;
    wait_text(&boss, "#playing", CALLER, 5).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = boss
            .execute(
                "const a = document.getElementById('player'); \
                 return [a.readyState, a.duration || 0, a.error ? a.error.code : 0];",
                vec![],
            )
            .await
            .unwrap();
        if ready[0].as_u64().unwrap() >= 1 && ready[1].as_f64().unwrap() > 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the recording did not load in the player: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(&boss, "recordings.png").await;
    let log: Vec<serde_json::Value> = s
        .get("/api/v1/audit?limit=1000")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        log.iter()
            .any(|e| e["action"] == "recording played" && e["user"] == "boss"),
        "playing is audited: {log:?}"
    );
    // Nobody found for another agent.
    fill(
        &boss,
        "#q-agent",
        &format!("7002{}", char::from(Key::Enter)),
    )
    .await;
    wait_text(&boss, "#status", "Recordings found: 0", 5).await;

    // ----- an agent is refused the reports, by the page and by the API ----------------
    desk.goto(&format!("{base}/reports")).await.unwrap();
    wait_text(&desk, "#refused", "for supervisors", 10).await;
    let tables = desk
        .find(Locator::Css("#report"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap();
    assert!(!tables, "no figures on an agent's page");
    let status = in_page(
        &desk,
        r#"Promise.all([fetch("/api/v1/stats.csv?by=agent"), fetch("/api/v1/stats")])
             .then((rs) => done(rs.map((r) => r.status)), (e) => done(String(e)));"#,
    )
    .await;
    assert_eq!(status, serde_json::json!([403, 403]));
    // The agent's own recordings page lists the agent's own call.
    desk.goto(&format!("{base}/recordings")).await.unwrap();
    wait_text(&desk, "#own-only", "your own calls", 10).await;
    wait_text(&desk, "#results tbody", CALLER, 10).await;

    desk.close().await.unwrap();
    boss.close().await.unwrap();
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two callers of the hotline: one hangs up in the language menu, one
/// presses 1 there and goes on to the main menu. The flow statistics count
/// the menu's calls, the hang-up where it happened and the way on, by the API
/// and in the Flows table of the reports page, the step that loses callers
/// first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_who_hangs_up_in_a_menu_shows_in_the_flow_statistics() {
    let driver = chromedriver().await;
    let s = dialect_e2e::TestServer::start(|c| {
        c.api_users
            .push(person("boss", BOSS_PASSWORD, Role::Supervisor));
    })
    .await;
    let gone = sipp_async(
        "uac_long.xml",
        s.sip,
        1,
        1,
        vec![("hold", "2500".into())],
        30,
    )
    .await;
    assert_eq!(gone.code, 0, "{}", gone.output);
    let on = sipp_async(
        "uac_keys_2833.xml",
        s.sip,
        1,
        1,
        vec![("pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap".into())],
        30,
    )
    .await;
    assert_eq!(on.code, 0, "{}", on.output);
    s.wait_contacts(2).await;

    let hotline = wait_flow(&s, "hotline", 2).await;
    assert_eq!(
        hotline["hung_up"], 2,
        "both callers hung up in the IVR: {hotline:#}"
    );
    assert_eq!(hotline["self_service"], 0, "{hotline:#}");
    let language = step(&hotline, "language_choice");
    assert_eq!(language["kind"], "menu");
    assert_eq!(language["calls"], 2, "{hotline:#}");
    assert_eq!(language["hangups"], 1, "{hotline:#}");
    assert_eq!(language["hangup_share"], 0.5, "{hotline:#}");
    let main = step(&hotline, "main");
    assert_eq!(main["calls"], 1, "{hotline:#}");
    let hangups: u64 = hotline["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["hangups"].as_u64().unwrap())
        .sum();
    assert_eq!(hangups, 2, "each hang-up at one step: {hotline:#}");
    let edges = hotline["edges"].as_array().unwrap();
    let from_language = |to: &serde_json::Value| {
        edges
            .iter()
            .filter(|e| e["from"] == language["id"] && e["to"] == *to)
            .map(|e| e["count"].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        from_language(&main["id"]),
        1,
        "one caller went on from the language menu to the main menu: {edges:?}"
    );
    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/flow-stats.csv?flow=hotline",
            s.http
        ))
        .bearer_auth(&s.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",language_choice,menu,2,"), "{csv}");

    // ----- the reports page ---------------------------------------------------------
    let boss = browser(&driver).await;
    boss.goto(&format!("http://{}/reports", s.http))
        .await
        .unwrap();
    sign_in_page(&boss, "boss", BOSS_PASSWORD).await;
    wait_text(
        &boss,
        "#flows table[data-flow='hotline'] caption",
        "2 hung up in the IVR",
        10,
    )
    .await;
    let cells = row_cells(&boss, "hotline", "language_choice").await;
    // Calls, self-service, to agents, hung up here, hang-up rate.
    assert_eq!(cells[1..6], ["2", "0%", "0", "1", "50%"], "{cells:?}");
    // The rows put the step that loses callers first: no row below has a
    // higher hang-up rate than one above.
    let rates = boss
        .execute(
            "return [...document.querySelectorAll(\"#flows table[data-flow='hotline'] tbody tr\")] \
               .map((r) => parseFloat(r.cells[5].textContent) || 0)",
            vec![],
        )
        .await
        .unwrap();
    let rates: Vec<f64> = serde_json::from_value(rates).unwrap();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    assert!(rates[0] >= 50.0, "{rates:?}");
    // In Chinese too.
    let lang = boss.find(Locator::Css("#lang")).await.unwrap();
    lang.select_by_value("zh").await.unwrap();
    wait_text(&boss, "#flow-h", "流程", 5).await;
    boss.close().await.unwrap();
    s.stop().await;
}
