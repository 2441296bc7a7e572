//! Calls through the real runtime with SIPp (REQUIREMENTS F1–F3, S4; issue: the
//! telephony runtime): a key pressed three ways lands in the right branch, CANCEL
//! before answer, BYE from either side, re-INVITE, no common codec, malformed
//! requests, overload, and a deploy in the middle of 50 calls without losing one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use dialect_e2e::{TestServer, dtmf_ulaw_file, sipp_async, trail};

fn chose_chinese(contact: &serde_json::Value) -> bool {
    trail(contact)
        .iter()
        .any(|(node, detail)| node == "language_choice" && detail.starts_with("choice 1"))
}

fn reached_main_menu(contact: &serde_json::Value) -> bool {
    trail(contact).iter().any(|(node, _)| node == "main")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_pressed_by_rfc_2833_lands_in_the_right_branch() {
    let s = TestServer::start(|_| {}).await;
    let c = s
        .one_call(
            "uac_keys_2833.xml",
            vec![("pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap".into())],
            30,
        )
        .await;
    assert!(
        chose_chinese(&c[0]) && reached_main_menu(&c[0]),
        "{:#}",
        c[0]
    );
    assert_eq!(c[0]["end"], "hangup by caller");
    assert_eq!(
        c[0]["customer_id"], "C-13912345678",
        "the CRM lookup identified the caller"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_sent_by_sip_info_lands_in_the_right_branch() {
    let s = TestServer::start(|_| {}).await;
    let c = s
        .one_call("uac_keys_info.xml", vec![("key", "1".into())], 30)
        .await;
    assert!(
        chose_chinese(&c[0]) && reached_main_menu(&c[0]),
        "{:#}",
        c[0]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_key_sent_as_in_band_tones_lands_in_the_right_branch() {
    let s = TestServer::start(|_| {}).await;
    let tones = dtmf_ulaw_file("2");
    let c = s
        .one_call(
            "uac_keys_inband.xml",
            vec![("tones", tones.display().to_string())],
            30,
        )
        .await;
    let t = trail(&c[0]);
    assert!(
        t.iter()
            .any(|(n, d)| n == "language_choice" && d.starts_with("choice 2")),
        "the in-band 2 chose English: {:#}",
        c[0]
    );
    assert_eq!(c[0]["language"], "en");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_before_answer_gets_487_and_a_contact_record() {
    let s = TestServer::start(|c| {
        c.sip.ring_time = dialect_runtime::config::Duration(Duration::from_secs(3))
    })
    .await;
    let c = s.one_call("uac_give_up.xml", vec![], 20).await;
    assert_eq!(c[0]["end"], "cancelled by caller");
    assert!(c[0]["answered_ms"].is_null());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_flow_hangs_up_with_bye() {
    let s = TestServer::start(|_| {}).await;
    // A caller on the harassment blacklist hears the block message and is hung up.
    let c = s
        .one_call(
            "uac_server_bye.xml",
            vec![("caller", "13800000001".into())],
            30,
        )
        .await;
    assert_eq!(c[0]["end"], "hangup by flow");
    assert!(
        trail(&c[0]).iter().any(|(n, _)| n.contains("blocked.wav")),
        "{:#}",
        c[0]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn re_invite_holds_and_resumes() {
    let s = TestServer::start(|_| {}).await;
    let c = s
        .one_call("uac_reinvite.xml", vec![("hold", "1000".into())], 30)
        .await;
    let t = trail(&c[0]);
    assert!(
        t.iter().any(|(n, d)| n == "re-INVITE" && d == "hold"),
        "{t:?}"
    );
    assert!(
        t.iter()
            .any(|(n, d)| n == "re-INVITE" && d == "media updated"),
        "{t:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_common_codec_gets_488() {
    let s = TestServer::start(|_| {}).await;
    let run = sipp_async("uac_no_codec.xml", s.sip, 1, 1, vec![], 20).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(s.metric("dialect_calls_no_codec_total").await, 1.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_requests_get_400_and_the_server_goes_on() {
    let s = TestServer::start(|_| {}).await;
    let run = sipp_async("uac_malformed.xml", s.sip, 3, 1, vec![], 20).await;
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(s.metric("dialect_sip_bad_request_total").await, 3.0);
    // Still answering calls.
    let run = sipp_async(
        "uac_long.xml",
        s.sip,
        1,
        1,
        vec![("hold", "500".into())],
        20,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.output);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_over_the_limit_get_503_and_calls_in_progress_go_on() {
    let s = TestServer::start(|c| c.limits.max_calls = 2).await;
    let sip = s.sip;
    let long = tokio::spawn(sipp_async(
        "uac_long.xml",
        sip,
        2,
        2,
        vec![("hold", "8000".into())],
        40,
    ));
    // Both calls in progress before the next ones come.
    for _ in 0..100 {
        if s.metric("dialect_calls_active").await == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = sipp_async("uac_overload.xml", s.sip, 3, 1, vec![], 20).await;
    assert_eq!(refused.code, 0, "{}", refused.output);
    let long = long.await.unwrap();
    assert_eq!(
        long.code, 0,
        "the two calls in progress were not affected: {}",
        long.output
    );
    assert_eq!(s.metric("dialect_calls_refused_total").await, 3.0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deploy_in_the_middle_of_50_calls_loses_none() {
    let s = TestServer::start(|_| {}).await;
    let bundle =
        dialect_runtime::deploy::compile_project(&dialect_e2e::repo().join("flows/hotline"))
            .unwrap();
    let sip = s.sip;
    let calls = tokio::spawn(sipp_async(
        "uac_long.xml",
        sip,
        50,
        50,
        vec![("hold", "6000".into())],
        60,
    ));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let resp = reqwest::Client::new()
        .post(format!("http://{}/api/v1/deploy", s.http))
        .bearer_auth(&s.token)
        .body(bundle)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    // A broken bundle is refused and the running version stays.
    let bad = reqwest::Client::new()
        .post(format!("http://{}/api/v1/deploy", s.http))
        .bearer_auth(&s.token)
        .body(b"DLBUNDLE garbage".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    let run = calls.await.unwrap();
    assert_eq!(
        run.code, 0,
        "every call of the 50 completed: {}",
        run.output
    );
    let after = sipp_async(
        "uac_long.xml",
        s.sip,
        1,
        1,
        vec![("hold", "300".into())],
        20,
    )
    .await;
    assert_eq!(after.code, 0, "{}", after.output);
    let c = s.wait_contacts(51).await;
    assert_eq!(c.len(), 51);
    let old = c.iter().filter(|c| c["program_version"] == 1).count();
    let new = c.iter().filter(|c| c["program_version"] == 2).count();
    assert_eq!(
        (old, new),
        (50, 1),
        "calls in progress finished on version 1, the new call took version 2"
    );
    assert!(
        c.iter().all(|c| c["end"] == "hangup by caller"),
        "no call was dropped"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_call_recording_is_a_wav_linked_to_the_contact() {
    let s = TestServer::start(|c| c.recording.whole_call = true).await;
    let c = s
        .one_call("uac_long.xml", vec![("hold", "2000".into())], 20)
        .await;
    let path = c[0]["recordings"][0]
        .as_str()
        .unwrap_or_else(|| panic!("a recording in {:#}", c[0]))
        .to_string();
    let mut seconds = 0.0;
    for _ in 0..50 {
        if let Ok(r) = hound::WavReader::open(&path) {
            seconds = r.duration() as f64 / r.spec().sample_rate as f64;
            if seconds > 0.0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        (1.5..4.0).contains(&seconds),
        "the recording covers the 2 s call: {seconds} s"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trunk_did_picks_the_flow_and_unknown_numbers_get_404() {
    let s = TestServer::start(|c| {
        c.default_number = None;
        c.trunks.push(
            serde_yaml::from_str(
                "name: telecom\nhost: 127.0.0.1:9\ngroup: long_distance\ndids: {\"0898123456\": \"10001\"}\n",
            )
            .unwrap(),
        );
    })
    .await;
    let c = s
        .one_call(
            "uac_long.xml",
            vec![("service", "0898123456".into()), ("hold", "500".into())],
            20,
        )
        .await;
    assert_eq!(c[0]["trunk"], "telecom");
    assert_eq!(
        c[0]["called"], "10001",
        "the DID maps to the hotline's 10001"
    );
    assert_eq!(c[0]["flow"], "hotline");
    let refused = sipp_async(
        "uac_unknown_number.xml",
        s.sip,
        1,
        1,
        vec![("service", "55555".into())],
        20,
    )
    .await;
    assert_eq!(refused.code, 0, "{}", refused.output);
    s.stop().await;
}

/// An INVITE with a PCMU offer, from `from` (a socket's address).
fn invite(call_id: &str, from: std::net::SocketAddr, to: std::net::SocketAddr) -> String {
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 10000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        ip = from.ip()
    );
    format!(
        "INVITE sip:10000@{to} SIP/2.0\r\n\
Via: SIP/2.0/UDP {from};branch=z9hG4bK{call_id};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:13900000000@{from}>;tag=t{call_id}\r\n\
To: <sip:10000@{to}>\r\n\
Call-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:13900000000@{from}>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Final responses to INVITEs arriving on `sock` within `wait`: Call-ID -> the
/// status line and whether it carried Retry-After.
async fn finals(
    sock: &tokio::net::UdpSocket,
    want: usize,
    wait: Duration,
) -> std::collections::HashMap<String, (u16, bool)> {
    let mut out = std::collections::HashMap::new();
    let mut buf = vec![0u8; 65535];
    let deadline = tokio::time::Instant::now() + wait;
    while out.len() < want {
        let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
        else {
            break;
        };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        let code: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if !text.starts_with("SIP/2.0") || code < 200 {
            continue;
        }
        let call_id = text
            .lines()
            .find_map(|l| l.strip_prefix("Call-ID: "))
            .unwrap_or("")
            .to_string();
        let retry = text.lines().any(|l| l.starts_with("Retry-After:"));
        out.entry(call_id).or_insert((code, retry));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_source_cannot_hold_every_call_slot() {
    // The defaults: 20 calls at once and 5 new ones a second per untrusted source.
    let s = TestServer::start(|_| {}).await;
    let attacker = tokio::net::UdpSocket::bind(("127.0.0.2", dialect_e2e::test_sip_port()))
        .await
        .unwrap();
    let from = attacker.local_addr().unwrap();
    // 300 INVITEs from one port, as fast as they go.
    let sent = 300;
    for i in 0..sent {
        let msg = invite(&format!("flood{i}"), from, s.sip);
        attacker.send_to(msg.as_bytes(), s.sip).await.unwrap();
        if i % 25 == 24 {
            // Small pauses keep the socket buffers from dropping datagrams.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let got = finals(&attacker, sent, Duration::from_secs(15)).await;
    let answered = got.values().filter(|(c, _)| *c == 200).count();
    let refused = got.values().filter(|(c, r)| *c == 503 && *r).count();
    assert!(answered <= 20, "one source holds {answered} calls");
    assert_eq!(
        answered + refused,
        sent,
        "every INVITE got 200 or a clean 503 with Retry-After: {got:?}"
    );
    assert!(s.metric("dialect_calls_active").await <= 20.0);
    assert!(s.metric("dialect_calls_refused_per_source_total").await >= 280.0);
    // Everyone else still gets through.
    let caller = tokio::net::UdpSocket::bind(("127.0.0.3", dialect_e2e::test_sip_port()))
        .await
        .unwrap();
    let from = caller.local_addr().unwrap();
    caller
        .send_to(invite("someone-else", from, s.sip).as_bytes(), s.sip)
        .await
        .unwrap();
    let got = finals(&caller, 1, Duration::from_secs(10)).await;
    assert_eq!(got.get("someone-else").map(|f| f.0), Some(200), "{got:?}");
    s.stop().await;
}
