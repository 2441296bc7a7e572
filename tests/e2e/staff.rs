//! What the ACD's end-to-end tests and the outbound-call policy's tests share:
//! the test project (queues, flows, prompts as tones), servers staffed with
//! agents whose phones register with digest authentication (SIPp or a socket of
//! our own), CTI operations, and a customer behind a trunk.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::time::Duration;

use dialect_e2e::{TestServer, scenario, sipp_media_port};
pub(crate) use dialect_e2e::{register, register_port};
use dialect_runtime::config::{AgentConfig, ApiUser};

use super::voices;

/// Every test agent's phone password (the configuration refuses weak ones).
pub(crate) const PHONE_PASSWORD: &str = "Phone-pass-42";

pub(crate) const PROJECT: &str = r#"
skill general levels 1..5

queue support "Support" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 15s -> requeue first
}

flow entry "Entry" on "5000" {
  transfer queue support
}

queue short "Short" {
  skills general >= 1
  strategy longest_idle
  priority 0
  max wait 2s -> flow after_wait
}

flow waiting "Waiting" on "5001" {
  transfer queue short
}

flow after_wait "After the wait" {
  hangup
}

queue keyed "Keyed" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 1 -> flow pressed
}

flow keys "Keys" on "5002" {
  transfer queue keyed
}

flow pressed "Pressed" {
  pause 10s
  hangup
}

flow referred "Referred" on "5003" {
  pause 10s
  hangup
}

queue cb "Callback" {
  skills general >= 1
  strategy longest_idle
  priority 0
  key 9 -> callback
}

flow callme "Call me back" on "5004" {
  transfer queue cb
}

queue everyone "Everyone" {
  skills general >= 1
  strategy ring_all
  priority 0
}

flow ringall "Ring all" on "5005" {
  transfer queue everyone
}

queue retry "Retry" {
  skills general >= 1
  strategy longest_idle
  priority 0
  no answer 3s -> requeue first
}

flow retried "Retried" on "5006" {
  transfer queue retry
}

queue experts "Experts" {
  skills general >= 5
  strategy longest_idle
  priority 0
  overflow up to anyone when waited > 2s
}

queue anyone "Anyone" {
  skills general >= 1
  strategy longest_idle
  priority 0
}

flow expert "Expert" on "5007" {
  transfer queue experts
}

queue wrapped "Wrapped" {
  skills general >= 1
  strategy longest_idle
  priority 0
  wrap up 3s
}

flow wrapping "Wrapping" on "5008" {
  transfer queue wrapped
}

flow outward "Outward" on "5010" {
  transfer number "13800138000"
}

queue held "Held" {
  skills general >= 1
  strategy longest_idle
  priority 0
  music "hold.wav"
  announce position every 2s
}

flow music_on_hold "Music on hold" on "5009" {
  transfer queue held
}

# As the hotline's queues rank callers: a call on a long-distance trunk first.
queue ranked "Ranked" {
  skills general >= 1
  strategy longest_idle
  priority (trunk == "long_distance" ? 5 : 0)
}

flow ranked_entry "Ranked entry" on "5011" {
  transfer queue ranked
}

# Listed callers reach agents a limited number of times a day.
list blacklist "Blacklist" {
  category abuse "Abuse" (max transfers 1) {
    "13900000099"
  }
  category harassment "Harassment" (max transfers 0) {
    "13900000098"
  }
}

flow guarded "Guarded" on "5012" {
  transfer queue support else {
    hangup
  }
}
"#;

/// The test project's campaign (`ZONE` becomes a zone where it is afternoon).
pub(crate) const CAMPAIGN: &str = r#"
calendar campaign_days {
  timezone "ZONE"
  hours mon-sun 08:00-21:00
}

campaign retain "Retain" {
  list people from "lists/people.csv" {
    phone: text <- "phone"
    name: text <- "name"
  }
  mode predictive (min ratio 1, max ratio 2, abandon max 3%) -> queue support
  dropped -> play "hold.wav" within 2s
  calendar campaign_days
  window workday 08:00-21:00
  window weekend 08:00-21:00
  window holiday 08:00-21:00
  retry no answer every 1h max 1
  machine detection off
  trunk "carrier"
  caller id "10000"
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
}
"#;

pub(crate) fn project() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dialect-e2e-acd-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("acd.flow"), PROJECT).unwrap();
    // A predictive campaign to the queue `support`, in a zone where it is
    // now afternoon (the calling hours are open whenever the tests run).
    std::fs::create_dir_all(dir.join("lists")).unwrap();
    std::fs::write(dir.join("lists/people.csv"), "phone,name\n").unwrap();
    std::fs::write(
        dir.join("campaign.flow"),
        CAMPAIGN.replace("ZONE", &dialect_e2e::afternoon_zone()),
    )
    .unwrap();
    // Queue `held`'s sounds, each a tone of its own (see `voices`).
    let prompts = dir.join("prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    voices::write_tone_wav(&prompts.join("hold.wav"), voices::MUSIC_HZ, 3000);
    // Every position prompt the checker asks for; the tests hear the first.
    let positions = (1..=20)
        .map(|n| format!("queue_position_{n}.wav"))
        .chain(["queue_position_more.wav".to_string()]);
    for name in positions {
        voices::write_tone_wav(&prompts.join(name), voices::ANNOUNCE_HZ, 600);
    }
    dir
}

/// A server on the test project with agent 7001: its phone registered with digest
/// authentication and answering as SIPp `phone` (with `keys`), the agent signed in
/// over the CTI API and ready. Returns the server, the phone and the project folder.
pub(crate) async fn staffed(
    phone: &str,
    keys: &[(&str, &str)],
) -> (TestServer, std::process::Child, std::path::PathBuf) {
    let (s, dir) = with_agents(&["7001"], |_| {}).await;
    let agent_phone = agent_phone(&s, "7001", phone, keys).await;
    agent_ops(&s, "7001", &["sign_in", "ready"]).await;
    (s, agent_phone, dir)
}

/// Agent `id` as the tests configure them: password [`PHONE_PASSWORD`], skill
/// general 3, no auto-answer.
pub(crate) fn test_agent(id: &str) -> AgentConfig {
    AgentConfig {
        id: id.into(),
        name: format!("Agent {id}"),
        password: PHONE_PASSWORD.into(),
        skills: [("general".to_string(), 3)].into_iter().collect(),
        auto_answer: false,
        dial_plan: None,
    }
}

/// A server on the test project with `agents` (password [`PHONE_PASSWORD`], API token
/// `t-<id>`, skill general 3), changed by `adjust`. Returns it and the project folder.
pub(crate) async fn with_agents(
    agents: &[&str],
    adjust: impl FnOnce(&mut dialect_runtime::config::Config) + Send + 'static,
) -> (TestServer, std::path::PathBuf) {
    let dir = project();
    let project = dir.clone();
    let agents: Vec<String> = agents.iter().map(|a| a.to_string()).collect();
    let s = TestServer::start(move |c| {
        c.project = Some(project);
        for id in &agents {
            c.agents.push(test_agent(id));
            c.api_users.push(ApiUser {
                name: id.clone(),
                token: format!("t-{id}"),
                password: None,
                role: dialect_runtime::config::Role::Agent,
                department: None,
                email: None,
                phone: None,
            });
        }
        adjust(c);
    })
    .await;
    (s, dir)
}

/// Registers agent `id`'s phone with digest authentication, then runs SIPp
/// `scenario` (with `keys`) on the registered port for one call. SIPp answers
/// challenges (a REFER's) as the agent, with the key `password` if given, else
/// [`PHONE_PASSWORD`].
pub(crate) async fn agent_phone(
    s: &TestServer,
    id: &str,
    scenario_file: &str,
    keys: &[(&str, &str)],
) -> std::process::Child {
    let sip = s.sip;
    let user = id.to_string();
    let port = tokio::task::spawn_blocking(move || register_port(sip, &user, PHONE_PASSWORD))
        .await
        .unwrap();
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(scenario(scenario_file))
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &port.to_string()])
        .args(["-mp", &sipp_media_port().to_string()])
        // How many calls the phone takes before it ends (the `calls` key; 1).
        .args([
            "-m",
            keys.iter()
                .find(|(k, _)| *k == "calls")
                .map_or("1", |(_, v)| *v),
        ])
        .args(["-timeout", "40s", "-timeout_error", "-nostdin"])
        // The server's address: SIPp's digest `uri` is sip:[remote_ip]:[remote_port],
        // which the REFER scenarios then use as the Request-URI, as the server checks.
        .arg(sip.to_string());
    let password = keys
        .iter()
        .find(|(k, _)| *k == "password")
        .map_or(PHONE_PASSWORD, |(_, v)| *v);
    cmd.args(["-au", id, "-ap", password]);
    for (k, v) in keys
        .iter()
        .filter(|(k, _)| !["password", "calls"].contains(k))
    {
        cmd.args(["-key", k, v]);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Posts CTI operations for agent `id` as that agent; each must succeed.
pub(crate) async fn agent_ops(s: &TestServer, id: &str, ops: &[&str]) {
    let http = reqwest::Client::new();
    for op in ops {
        let r = http
            .post(format!("http://{}/api/v1/agents/{id}/{op}", s.http))
            .bearer_auth(format!("t-{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{op}: {:?}", r.text().await);
    }
}

// The far end of a trunk lives in the shared harness; the ACD tests name it here.
#[allow(
    unused_imports,
    reason = "each test crate that includes this module uses a different part"
)]
pub(crate) use dialect_e2e::{customer, customer_as, customer_at, customer_trunk};

/// The agent's state as the CTI API shows it.
pub(crate) async fn agent_state(s: &TestServer, id: &str) -> String {
    let v: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{}/api/v1/agents/{id}", s.http))
        .bearer_auth(format!("t-{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["state"].as_str().unwrap_or("").to_string()
}

/// Waits (at most 20 s) until a contact record of `kind` is saved, and returns it.
pub(crate) async fn contact_of_kind(s: &TestServer, kind: &str) -> serde_json::Value {
    for _ in 0..200 {
        if let Some(c) = s.contacts().await.into_iter().find(|c| c["kind"] == kind) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {kind} contact record: {:?}", s.contacts().await);
}

/// What a phone or caller thread ended with, waited for off the runtime's
/// worker threads.
pub(crate) async fn finished<T: Send + 'static>(thread: std::thread::JoinHandle<T>) -> T {
    tokio::task::spawn_blocking(move || thread.join().unwrap())
        .await
        .unwrap()
}

/// Waits for the agent phone's SIPp to end and checks it went through its scenario.
pub(crate) async fn phone_done(agent_phone: std::process::Child) {
    let phone = tokio::task::spawn_blocking(move || agent_phone.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        phone.status.success(),
        "agent phone: {}{}",
        String::from_utf8_lossy(&phone.stdout),
        String::from_utf8_lossy(&phone.stderr)
    );
}

// ----- desktop actions during a bridged call ----------------------------------

/// A caller dials `service` (SIPp `uac_queue.xml`: queued, connected, hangs up
/// after 6 s); waits for it and then for each agent phone in `phones`, in order,
/// to go through its scenario, and returns the call's contact record.
pub(crate) async fn queued_call(
    s: &TestServer,
    service: &str,
    phones: impl IntoIterator<Item = std::process::Child>,
) -> serde_json::Value {
    let caller = dialect_e2e::sipp_async(
        "uac_queue.xml",
        s.sip,
        1,
        1,
        vec![("service", service.into())],
        40,
    )
    .await;
    assert_eq!(caller.code, 0, "caller: {}", caller.output);
    for phone in phones {
        phone_done(phone).await;
    }
    s.wait_contacts(1).await.swap_remove(0)
}
