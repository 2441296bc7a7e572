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
