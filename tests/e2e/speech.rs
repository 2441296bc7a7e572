//! Speech in a real call: the recognizer runs (pocketsphinx, as in
//! production) and SIPp callers send speech synthesized by espeak-ng as RTP.
//! A caller who says "billing" while the menu's prompt plays stops the prompt
//! and lands in the billing branch; a caller whose words the menu does not
//! know hears the menu again and is then taken by the key pressed; a collect
//! with `speech` takes spoken digits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use dialect_e2e::{TestServer, sipp_async, write_rtp_pcap, write_tone_wav};
use dialect_speech::tts::{EspeakConfig, EspeakTts, Tts};
use dialect_speech::{Voice, audio};

/// Prompt tones: the menu's, the answers' (any level well above the line's).
const MENU_HZ: f64 = 500.0;
const ANSWER_HZ: f64 = 900.0;
const LEVEL: f64 = 6000.0;

const PROJECT: &str = r#"
flow entry "Speech menu" on "6000" {
  menu main (retries 2, timeout 5s, speech, confidence 0.5) {
    play "menu.wav"
    1 | "billing" -> {
      play "billing.wav"
      hangup
    }
    3 | "fault report" -> {
      play "fault.wav"
      hangup
    }
    no input -> play "again.wav"
    no match -> play "again.wav"
    no input final -> hangup
    no match final -> hangup
  }
}

flow account "Spoken account" on "6001" {
  account = collect (min 4, max 4, timeout 5s, speech, confidence 0.5) {
    play "menu.wav"
    no input -> play "again.wav"
    no match -> play "again.wav"
    no input final -> hangup
    no match final -> hangup
  }
  play "billing.wav"
  hangup
}
"#;

/// The project in a folder of its own, with a 6 s menu prompt (so that the
/// caller speaks while it plays) and short answers.
fn project() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dialect-e2e-speech-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("prompts")).unwrap();
    std::fs::write(dir.join("speech.flow"), PROJECT).unwrap();
    write_tone_wav(&dir.join("prompts/menu.wav"), MENU_HZ, LEVEL, 6000);
    for name in ["billing.wav", "fault.wav", "again.wav"] {
        write_tone_wav(&dir.join("prompts").join(name), ANSWER_HZ, LEVEL, 600);
    }
    dir
}

/// `text` as espeak-ng says it, at 8 kHz, after 0.8 s of quiet and with 1.5 s
/// after it (the end-pointer's trailing silence).
async fn spoken(text: &str) -> Vec<i16> {
    let tts = EspeakTts::new(EspeakConfig::default());
    let speech = tts.synthesize(text, &Voice::en()).await.unwrap();
    let mut pcm = vec![0i16; 6400];
    pcm.extend(audio::resample(&speech.samples, speech.sample_rate, 8000));
    pcm.extend(vec![0i16; 12_000]);
    pcm
}

/// One call to `service` that sends `speech`, then after `wait_ms` (from the
/// start) the keys of `then` (a SIPp pcap) if any, and is hung up on by the
/// flow.
async fn call(s: &TestServer, service: &str, speech: &[i16], then: Option<(&str, u64)>) {
    let pcap = std::env::temp_dir().join(format!(
        "dialect-speech-{}-{service}-{}.pcap",
        std::process::id(),
        speech.len()
    ));
    write_rtp_pcap(&pcap, speech);
    let mut keys = vec![
        ("service", service.to_string()),
        ("pcap", pcap.display().to_string()),
    ];
    let scenario = match then {
        Some((pcap2, wait_ms)) => {
            keys.push(("pcap2", pcap2.to_string()));
            keys.push(("hold", wait_ms.to_string()));
            "uac_speak_then_key.xml"
        }
        None => "uac_speak.xml",
    };
    let run = sipp_async(scenario, s.sip, 1, 1, keys, 60).await;
    let _ = std::fs::remove_file(&pcap);
    assert_eq!(run.code, 0, "{}", run.output);
}

async fn speech_server() -> (TestServer, std::path::PathBuf) {
    let dir = project();
    let project = dir.clone();
    let s = TestServer::start(move |c| {
        c.project = Some(project);
        c.speech.asr = "pocketsphinx".into();
    })
    .await;
    (s, dir)
}

fn trail_of(contact: &serde_json::Value) -> String {
    contact["trail"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_caller_says_billing_during_the_prompt_and_lands_in_billing() {
    let (s, dir) = speech_server().await;
    let speech = spoken("billing").await;
    call(&s, "6000", &speech, None).await;
    let contacts = s.wait_contacts(1).await;
    let trail = trail_of(&contacts[0]);
    assert!(trail.contains("recognized choice 1"), "{}", contacts[0]);
    assert!(
        trail.contains("billing.wav"),
        "the billing branch ran: {}",
        contacts[0]
    );
    // Spoken while the 6 s prompt played, the answer came long before the
    // prompt would have ended: speaking barged in.
    let c = &contacts[0];
    let talk = c["ended_ms"].as_i64().unwrap() - c["answered_ms"].as_i64().unwrap();
    assert!(
        talk < 6_000,
        "the prompt was cut short by speech: {talk} ms: {c}"
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn words_the_menu_does_not_know_are_asked_again_then_a_key_decides() {
    let (s, dir) = speech_server().await;
    let speech = spoken("weather forecast").await;
    // The key 1 comes once the menu plays again after `again.wav`.
    let wait = speech.len() as u64 / 8 + 2_000;
    call(
        &s,
        "6000",
        &speech,
        Some(("/usr/share/sip-tester/dtmf_2833_1.pcap", wait)),
    )
    .await;
    let contacts = s.wait_contacts(1).await;
    let trail = trail_of(&contacts[0]);
    assert!(trail.contains("again.wav"), "asked again: {}", contacts[0]);
    assert!(!trail.contains("recognized choice"), "{}", contacts[0]);
    assert!(
        trail.contains("billing.wav"),
        "the key chose billing: {}",
        contacts[0]
    );
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_collect_with_speech_takes_spoken_digits() {
    let (s, dir) = speech_server().await;
    let speech = spoken("one two three four").await;
    call(&s, "6001", &speech, None).await;
    let contacts = s.wait_contacts(1).await;
    assert!(
        trail_of(&contacts[0]).contains("recognized digits 1234"),
        "{}",
        contacts[0]
    );
    assert!(contacts[0].to_string().contains("1234"), "{}", contacts[0]);
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
