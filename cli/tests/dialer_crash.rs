//! Crash test of the dialer: `dialect run` dialling a campaign, SIGKILL while a
//! call rings, restart on the same data. The interrupted target must not be
//! dialled again at once (its attempt is not counted and it comes due later),
//! the other target must be dialled once, and nothing stored before the kill
//! may be lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Child;
use std::time::{Duration, Instant};

use dialect_e2e::{CarrierAnswer, FakeCarrier};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(config: &std::path::Path) -> Child {
    dialect_e2e::start_dialect(env!("CARGO_BIN_EXE_dialect"), config)
}

async fn wait_dialled(carrier: &FakeCarrier, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while carrier.dialled().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_a_campaign_call_rings_never_dials_the_same_attempt_twice() {
    // Every call rings until it is cancelled: one line, held by the first target.
    let carrier = FakeCarrier::start("127.0.0.5", CarrierAnswer::Ring);
    let project = dialect_e2e::campaign_project("retry no answer every 1h max 2");
    let root = project.join("run");
    std::fs::create_dir_all(&root).unwrap();
    let http_port = free_port();
    let sip_port = free_port();
    let config = root.join("dialect.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nproject: {project}\n\
             http:\n  listen: 127.0.0.1:{http_port}\n\
             sip:\n  listen: 127.0.0.1:{sip_port}\n  tcp: false\n\
             speech:\n  tts: \"off\"\n  asr: \"off\"\n\
             logging:\n  level: warn\n\
             dialer:\n  max_channels: 1\n  tick: 100ms\n\
             trunks:\n  - {{name: carrier, host: \"{carrier}\", caller_id: \"10000\"}}\n\
             api_users:\n\
             \x20 - {{name: sup1, token: tok-sup-dialer-crash, role: supervisor}}\n",
            data = root.join("data").display(),
            project = project.display(),
            carrier = carrier.addr,
        ),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{http_port}/api/v1");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |path: String, ct: &'static str, body: Vec<u8>| {
        let http = http.clone();
        async move {
            let r = http
                .post(path)
                .bearer_auth("tok-sup-dialer-crash")
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{:?}", r.text().await);
        }
    };

    let mut child = start(&config);
    dialect_e2e::wait_ready(&http, &base, &mut child).await;
    post(
        format!("{base}/campaigns/reminder/lists"),
        "text/csv",
        "手机号码,客户姓名,欠费金额\n13800000031,甲,50\n13800000032,乙,60\n"
            .as_bytes()
            .to_vec(),
    )
    .await;
    post(
        format!("{base}/campaigns/reminder/start"),
        "application/json",
        Vec::new(),
    )
    .await;
    wait_dialled(&carrier, 1).await;
    assert_eq!(carrier.dialled(), vec!["13800000031"]);
    // SIGKILL while the first call rings.
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = start(&config);
    dialect_e2e::wait_ready(&http, &base, &mut child).await;
    wait_dialled(&carrier, 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        carrier.dialled(),
        vec!["13800000031", "13800000032"],
        "the interrupted target waits; the other one is dialled once"
    );
    let t: serde_json::Value = http
        .get(format!("{base}/campaigns/reminder/targets/1"))
        .bearer_auth("tok-sup-dialer-crash")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["state"], "pending", "{t}");
    assert_eq!(t["attempts"], 0, "the interrupted call is not counted: {t}");
    assert!(
        t["why_not"].to_string().contains("retry_at"),
        "due again later: {t}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&project);
}
