//! Workorders raised by real calls (REQUIREMENTS W1, F7; spec 000 §4.2.4): a caller
//! rings the hotline with SIPp, reports a fault with keys sent by SIP INFO, and the
//! flow's `create workorder fault_repair` leaves an order that the workorder API
//! finds, with the keys' choices and the caller in its fields, linked both ways
//! with the call's contact record. Orders past their limits remind and
//! escalate by e-mail, received by a real SMTP server on loopback, and by
//! SMS through an SMSC on loopback; an assignment tells the dispatcher; a
//! recorded message leaves as an e-mail's WAV attachment.

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

/// POSTs JSON as the server's admin and returns the answer.
async fn post_json(s: &TestServer, path: &str, body: serde_json::Value) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", s.http))
        .bearer_auth(&s.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// A project whose repair orders are confirmed by calling the customer: the
/// order entering `repaired` becomes a target of an IVR campaign whose flow
/// moves it on by the key pressed.
fn confirmation_project() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dialect-wo-loop-{}-{}",
        std::process::id(),
        dialect_runtime::auth::random_secret(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let zone = dialect_e2e::afternoon_zone();
    let text = format!(
        r#"
calendar everyday {{
  timezone "{zone}"
  hours mon-sun 08:00-21:00
}}

workorder repair "维修单" {{
  field phone: phone required
  field cause: text
  state new initial
  state repaired
  state closed final
  transition fixed: new -> repaired by agent reply
  transition confirm: repaired -> closed by agent, ivr close
  transition not_fixed: repaired -> new by agent, ivr return (reason required)
  on enter repaired -> notify sms to phone "工单{{order}}已修复"
  on enter repaired -> call confirm_repair(order, phone) via campaign confirmation
}}

campaign confirmation "修复回访" {{
  list from workorders repair
  mode ivr -> flow confirm_repair
  calendar everyday
  window workday 08:00-21:00
  window weekend 08:00-21:00
  window holiday 08:00-21:00
  retry no answer every 1m max 1
  machine detection off
  trunk "carrier"
  caller id "10000"
}}

flow confirm_repair(order: text, phone: phone) "修复确认" {{
  o = lookup workorder repair(order) else {{
    hangup
  }}
  if o.state != "repaired" {{
    hangup
  }}
  menu confirm (retries 1, timeout 8s) {{
    say {{ zh "您的工单已修复，恢复正常请按1，仍有问题请按2。" }}
    1 -> {{
      transition workorder order to closed comment "客户确认已修复" else {{
        hangup
      }}
      say {{ zh "谢谢，再见。" }}
      hangup
    }}
    2 -> {{
      transition workorder order to new comment "客户反馈未修复" else {{
        hangup
      }}
      hangup
    }}
    no input final -> hangup
  }}
  hangup
}}

flow main "入口" on "10000" {{
  hangup
}}
"#
    );
    std::fs::write(dir.join("main.flow"), text).unwrap();
    dir
}

/// An order of the confirmation project reaches `repaired` over the API; the
/// campaign calls the customer, a SIPp callee who presses `key`; the order
/// ends up in `want`. Returns the last step of its history.
async fn confirmation_call(key: char, want: &str) -> serde_json::Value {
    let dir = confirmation_project();
    let (trunk, port) = dialect_e2e::customer_trunk();
    let project_dir = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.trunks.push(trunk);
        c.dialer.tick = dialect_runtime::config::Duration(std::time::Duration::from_millis(100));
    })
    .await;
    post_json(
        &s,
        "/api/v1/campaigns/confirmation/start",
        serde_json::json!({}),
    )
    .await;
    // The callee's scenario with the key to press.
    let scenario = dir.join("callee.xml");
    let text = std::fs::read_to_string(dialect_e2e::scenario("uas_campaign_key.xml"))
        .unwrap()
        .replace("dtmf_2833_1.pcap", &format!("dtmf_2833_{key}.pcap"));
    std::fs::write(&scenario, text).unwrap();
    let callee = dialect_e2e::customer_at(&scenario, port, 0);
    let o = post_json(
        &s,
        "/api/v1/workorders",
        serde_json::json!({"kind": "repair", "fields": {"phone": "13800000001"}}),
    )
    .await;
    let n = o["number"].as_str().unwrap().to_string();
    // The order reaches `repaired` over the API: the same step queues the SMS
    // and makes the order a target of the campaign, which calls at once.
    let o = post_json(
        &s,
        &format!("/api/v1/workorders/{n}/transitions"),
        serde_json::json!({"transition": "fixed", "fields": {"cause": "cable"}}),
    )
    .await;
    assert_eq!(o["state"], "repaired", "{o}");
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
    // The flow moved the order as the IVR, by the key.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let order = loop {
        let o = s.get(&format!("/api/v1/workorders/{n}")).await;
        if o["state"] == want || tokio::time::Instant::now() > deadline {
            break o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let calls: Vec<serde_json::Value> = s
        .contacts()
        .await
        .into_iter()
        .filter(|c| c["kind"] == "campaign")
        .collect();
    assert_eq!(order["state"], want, "{order:#}\n{calls:#?}");
    let history = s.get(&format!("/api/v1/workorders/{n}/history")).await;
    let last = history
        .as_array()
        .or_else(|| history["items"].as_array())
        .and_then(|h| h.last().cloned())
        .unwrap_or_default();
    assert_eq!(last["user"], "ivr", "{history:#}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repaired_order_is_confirmed_by_a_call_to_the_customer_who_presses_1() {
    let last = confirmation_call('1', "closed").await;
    assert_eq!(last["transition"], "confirm", "{last:#}");
    assert_eq!(last["comment"], "客户确认已修复", "{last:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_who_presses_2_sends_the_order_back_with_a_reason() {
    let last = confirmation_call('2', "new").await;
    assert_eq!(last["transition"], "not_fixed", "{last:#}");
    assert_eq!(last["comment"], "客户反馈未修复", "{last:#}");
}

/// A project whose urgent orders have a limit of seconds: reminded 3 s
/// before it, escalated when it passes, both to the dispatchers.
fn urgent_project() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dialect-wo-alert-{}-{}",
        std::process::id(),
        dialect_runtime::auth::random_secret(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"
role dispatcher "派单员"

workorder urgent "紧急工单" {
  field phone: phone required
  state new "待派单" initial limit 5s wall {
    remind 3s before -> dispatcher
    escalate -> dispatcher
  }
  state closed "已关闭" final
  transition close: new -> closed by agent, dispatcher close
  on enter new -> assign dispatcher
}

flow main "入口" on "10000" {
  hangup
}
"#;
    std::fs::write(dir.join("main.flow"), text).unwrap();
    dir
}

/// E-mail through the test SMTP server on `port` (plain, no login) from
/// `from`, the outbox looked at every 100 ms.
fn mail_through(c: &mut dialect_runtime::config::Config, port: u16, from: &str) {
    use dialect_runtime::config::{Duration as ConfigDuration, EmailConfig, EmailTls};
    c.notify.email = Some(EmailConfig {
        host: "127.0.0.1".into(),
        port,
        tls: EmailTls::None,
        user: None,
        password: None,
        from: from.into(),
        timeout: ConfigDuration(std::time::Duration::from_secs(10)),
    });
    c.notify.poll = ConfigDuration(std::time::Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breached_limit_mails_the_escalation_to_the_dispatcher_after_a_reminder() {
    use dialect_runtime::config::{ApiUser, Role};
    let sink = dialect_notify::smtp_sink::MailSink::start(2900..=2999).expect("aiosmtpd");
    let dir = urgent_project();
    let project_dir = dir.clone();
    let port = sink.port();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        mail_through(c, port, "工单系统 <workorders@example.com>");
        c.api_users.push(ApiUser {
            name: "wang".into(),
            token: format!("e2e-wang-{}", dialect_runtime::auth::random_secret(12)),
            password: None,
            role: Role::Agent,
            department: None,
            email: Some("wang@example.com".into()),
            phone: None,
        });
        c.roles.insert("dispatcher".into(), vec!["wang".into()]);
    })
    .await;
    let o = post_json(
        &s,
        "/api/v1/workorders",
        serde_json::json!({"kind": "urgent", "fields": {"phone": "13800000001"}}),
    )
    .await;
    let n = o["number"].as_str().unwrap().to_string();
    let created = std::time::Instant::now();

    // `on enter new -> assign dispatcher`: wang hears of the order at once.
    let mails = sink.wait_mails(1, std::time::Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let assigned = &mails[0];
    assert_eq!(assigned.rcpt_tos, ["wang@example.com"]);
    assert_eq!(
        assigned.subject,
        format!("派单 assignment: workorder {n} (urgent) in 待派单 (new)")
    );
    let body = assigned.body.clone().unwrap_or_default();
    assert!(body.contains("assigned to: dispatcher"), "{body}");

    // The reminder, 2 s after the creation, before the limit.
    let mails = sink.wait_mails(2, std::time::Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let reminded = created.elapsed();
    let reminder = &mails[1];
    assert_eq!(reminder.rcpt_tos, ["wang@example.com"]);
    assert_eq!(
        reminder.subject,
        format!("催办 reminder: workorder {n} (urgent) in 待派单 (new)")
    );
    assert!(
        reminded < std::time::Duration::from_millis(4_900),
        "the reminder came {reminded:?} after the creation, not before the 5 s limit"
    );

    // The escalation once the limit has passed.
    let mails = sink.wait_mails(3, std::time::Duration::from_secs(15)).await;
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert!(created.elapsed() >= std::time::Duration::from_secs(5));
    let escalation = &mails[2];
    assert_eq!(escalation.rcpt_tos, ["wang@example.com"]);
    assert!(
        escalation.to.contains("wang@example.com"),
        "{}",
        escalation.to
    );
    assert!(
        escalation.from.contains("workorders@example.com"),
        "{}",
        escalation.from
    );
    assert_eq!(
        escalation.subject,
        format!("督办 escalation: workorder {n} (urgent) in 待派单 (new)")
    );
    let body = escalation.body.clone().unwrap_or_default();
    assert!(body.contains(&format!("workorder: {n}")), "{body}");
    assert!(body.contains("limit: 5s in new, due "), "{body}");

    // The order's view shows the three deliveries as sent.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let order = loop {
        let o = s.get(&format!("/api/v1/workorders/{n}")).await;
        let sent = o["deliveries"]
            .as_array()
            .is_some_and(|d| d.len() == 3 && d.iter().all(|x| x["status"] == "sent"));
        if sent || tokio::time::Instant::now() > deadline {
            break o;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let deliveries = order["deliveries"].as_array().cloned().unwrap_or_default();
    assert_eq!(deliveries.len(), 3, "{order:#}");
    for d in &deliveries {
        assert_eq!(d["status"], "sent", "{order:#}");
        assert_eq!(d["channel"], "email");
        assert_eq!(d["to"], "wang@example.com");
    }
    let notices = s.get("/api/v1/notifications?to=dispatcher").await;
    assert!(notices.to_string().contains(&n), "{notices:#}");
    assert!(
        notices.to_string().contains("\"assign\""),
        "the assignment is on the feed: {notices:#}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_breached_limit_texts_the_escalation_to_the_dispatcher_through_the_smsc() {
    use dialect_notify::smpp::peer::{PeerConfig, SmscPeer};
    use dialect_runtime::config::{
        ApiUser, Duration as ConfigDuration, Role, SmppSection, SmsConfig,
    };
    let peer = SmscPeer::start(PeerConfig::new("dialect", "secret"), 2900..=2999)
        .await
        .expect("an SMSC on loopback");
    let smsc = peer.addr();
    let dir = urgent_project();
    let project_dir = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        c.notify.sms = Some(SmsConfig {
            smpp: Some(SmppSection {
                host: smsc.ip().to_string(),
                port: smsc.port(),
                system_id: "dialect".into(),
                password: "secret".into(),
                system_type: String::new(),
                source_addr: "10086".into(),
                source_ton: None,
                source_npi: None,
                enquire_link: ConfigDuration(std::time::Duration::from_secs(30)),
                response_timeout: ConfigDuration(std::time::Duration::from_secs(5)),
                window: 10,
            }),
            http: None,
        });
        c.notify.poll = ConfigDuration(std::time::Duration::from_millis(100));
        c.api_users.push(ApiUser {
            name: "wang".into(),
            token: format!("e2e-wang-{}", dialect_runtime::auth::random_secret(12)),
            password: None,
            role: Role::Agent,
            department: None,
            email: None,
            phone: Some("13900000001".into()),
        });
        c.roles.insert("dispatcher".into(), vec!["wang".into()]);
    })
    .await;
    let o = post_json(
        &s,
        "/api/v1/workorders",
        serde_json::json!({"kind": "urgent", "fields": {"phone": "13800000001"}}),
    )
    .await;
    let n = o["number"].as_str().unwrap().to_string();

    // The assignment, the reminder and the escalation leave as SMS; the
    // escalation's Chinese text goes as UCS-2 with the order's number.
    let escalated = |m: &dialect_notify::smpp::peer::ReceivedMessage| {
        m.text.starts_with("督办") && m.text.contains(&n)
    };
    let arrived = peer
        .wait_for(std::time::Duration::from_secs(20), |log| {
            log.messages.iter().any(&escalated)
        })
        .await;
    let log = peer.log();
    assert!(arrived, "no escalation reached the SMSC: {log:#?}");
    assert!(
        log.binds
            .iter()
            .any(|b| b.accepted && b.system_id == "dialect"),
        "{log:#?}"
    );
    let sms = log.messages.iter().find(|m| escalated(m)).cloned().unwrap();
    assert_eq!(sms.to, "13900000001", "{sms:#?}");
    assert_eq!(sms.from, "10086", "{sms:#?}");
    assert_eq!(sms.data_coding, 8, "Chinese goes as UCS-2: {sms:#?}");
    assert!(
        sms.text.contains(&format!("工单{n}（urgent）")),
        "{}",
        sms.text
    );
    assert!(sms.text.contains("limit: 5s in new"), "{}", sms.text);
    assert!(
        log.messages
            .iter()
            .any(|m| m.text.starts_with("催办") && m.text.contains(&n)),
        "the reminder came first: {log:#?}"
    );
    assert!(
        log.messages
            .iter()
            .any(|m| m.text.starts_with("派单") && m.text.contains(&n)),
        "the assignment too: {log:#?}"
    );

    // The order's view shows the escalation's SMS sent, then delivered by
    // the SMSC's receipt.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (order, delivery) = loop {
        let o = s.get(&format!("/api/v1/workorders/{n}")).await;
        let d = o["deliveries"].as_array().and_then(|d| {
            d.iter()
                .find(|x| {
                    x["channel"] == "sms" && x["status"] == "delivered" && x["to"] == "13900000001"
                })
                .cloned()
        });
        let all = o["deliveries"].as_array().map_or(0, Vec::len);
        if (d.is_some() && all == 3) || tokio::time::Instant::now() > deadline {
            break (o, d);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let delivery = delivery.unwrap_or_else(|| panic!("no delivered SMS: {order:#}"));
    assert!(delivery["sent_ms"].as_i64().is_some(), "{delivery:#}");
    let deliveries = order["deliveries"].as_array().cloned().unwrap_or_default();
    assert_eq!(deliveries.len(), 3, "{order:#}");
    for d in &deliveries {
        assert_eq!(d["channel"], "sms", "{order:#}");
        assert!(
            d["status"] == "sent" || d["status"] == "delivered",
            "{order:#}"
        );
    }
    let outbox = s.get("/api/v1/outbox?status=failed").await;
    assert_eq!(outbox.as_array().map_or(0, Vec::len), 0, "{outbox:#}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A project whose flow takes a voice message and mails it at once.
fn voicemail_project() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "dialect-wo-attach-{}-{}",
        std::process::id(),
        dialect_runtime::auth::random_secret(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let text = r#"
flow main "语音留言" on "10000" {
  message = record (max 3s, silence 10s)
  notify email to "complaints@example.com" subject "语音留言 {caller}" "来电号码 {caller} 的留言见附件。" attach message
  hangup
}
"#;
    std::fs::write(dir.join("main.flow"), text).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recorded_message_is_mailed_as_a_wav_attachment() {
    let sink = dialect_notify::smtp_sink::MailSink::start(2900..=2999).expect("aiosmtpd");
    let dir = voicemail_project();
    let project_dir = dir.clone();
    let port = sink.port();
    let s = TestServer::start(move |c| {
        c.project = Some(project_dir);
        mail_through(c, port, "热线 <hotline@example.com>");
    })
    .await;
    // The caller speaks (a 440 Hz tone) for 5 s; the recording stops at 3 s.
    let voice: Vec<i16> = (0..40_000)
        .map(|i| ((i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 8000.0).sin() * 8000.0) as i16)
        .collect();
    let pcap = dir.join("voice.pcap");
    dialect_e2e::write_rtp_pcap(&pcap, &voice);
    let contacts = s
        .one_call(
            "uac_speak.xml",
            vec![
                ("service", "10000".into()),
                ("pcap", pcap.display().to_string()),
            ],
            40,
        )
        .await;
    let contact = &contacts[0];
    let recordings: Vec<String> = contact["recordings"]
        .as_array()
        .unwrap_or_else(|| panic!("recordings in {contact:#}"))
        .iter()
        .filter_map(|r| r.as_str().map(String::from))
        .collect();
    assert_eq!(recordings.len(), 1, "{contact:#}");
    let recorded = std::path::Path::new(&recordings[0])
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        trail(contact)
            .iter()
            .any(|(n, d)| n.contains("notify") && d.contains(&format!("{recorded} attached"))),
        "{contact:#}"
    );

    let mails = sink.wait_mails(1, std::time::Duration::from_secs(20)).await;
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, ["complaints@example.com"]);
    assert_eq!(mail.subject, format!("语音留言 {CALLER}"));
    assert!(
        mail.body
            .as_deref()
            .is_some_and(|b| b.contains(&format!("来电号码 {CALLER} 的留言见附件。"))),
        "{mail:#?}"
    );
    assert_eq!(mail.attachments.len(), 1, "{mail:#?}");
    let wav = &mail.attachments[0];
    assert_eq!(
        wav.filename.as_deref(),
        Some(recorded.as_str()),
        "{mail:#?}"
    );
    assert_eq!(wav.content_type, "audio/wav");
    // The finished file, byte for byte: a valid WAV with about 3 s of sound.
    let bytes = wav.bytes();
    assert_eq!(bytes, std::fs::read(&recordings[0]).unwrap());
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("a WAV");
    let spec = reader.spec();
    let seconds = f64::from(reader.duration()) / f64::from(spec.sample_rate);
    assert!((2.0..=3.5).contains(&seconds), "{seconds} s in {spec:?}");
    let loud = reader
        .into_samples::<i16>()
        .filter_map(Result::ok)
        .filter(|x| x.unsigned_abs() > 2000)
        .count();
    assert!(
        loud > 8000,
        "the caller's voice is in it: {loud} loud samples"
    );

    // The outbox entry names the file and was sent.
    let outbox = s
        .get(&format!("/api/v1/outbox?contact={}", contact["id"]))
        .await;
    let entry = &outbox.as_array().unwrap_or_else(|| panic!("{outbox:#}"))[0];
    assert_eq!(entry["attachments"][0], recordings[0].as_str(), "{entry:#}");
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
