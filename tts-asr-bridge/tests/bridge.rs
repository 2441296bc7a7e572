//! The bridge on a real socket: the remote clients against the built-in
//! engines, and the raw HTTP routes.

// Helpers of a test file may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use dialect_speech::asr::{
    Asr, EndpointConfig, Grammar, Progress, Recognition, Session, SphinxAsr, SphinxConfig,
};
use dialect_speech::bridge::{BridgeState, GRAMMAR_HEADER, RemoteAsr, RemoteTts, serve};
use dialect_speech::tts::{CacheConfig, CachedTts, EspeakConfig, EspeakTts, Tts};
use dialect_speech::{Audio, Error, Voice, audio};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Bridge {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Bridge {
    async fn start() -> Bridge {
        let asr = SphinxAsr::new(SphinxConfig {
            decoders: 2,
            ..SphinxConfig::default()
        })
        .await
        .unwrap();
        let state = BridgeState {
            tts: Arc::new(CachedTts::new(
                EspeakTts::new(EspeakConfig::default()),
                CacheConfig::default(),
            )),
            asr: Arc::new(asr),
            endpoint: EndpointConfig::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Bridge {
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("bridge did not stop")
            .unwrap()
            .unwrap();
    }
}

const LIMIT: Duration = Duration::from_secs(30);

/// `text` by `voice` at 8 kHz with quiet around it and faint line hiss.
async fn phone_audio(text: &str, voice: &Voice) -> Vec<i16> {
    let spoken = EspeakTts::new(EspeakConfig::default())
        .synthesize(text, voice)
        .await
        .unwrap();
    let mut out = vec![0i16; 3200];
    out.extend(audio::resample(&spoken.samples, spoken.sample_rate, 8000));
    out.extend(vec![0i16; 9600]);
    let mut x = 0x9e37_79b9u32;
    for s in &mut out {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *s = s.saturating_add((x % 41) as i16 - 20);
    }
    out
}

fn menu() -> Arc<Grammar> {
    Arc::new(Grammar::phrases([
        ("billing", "1"),
        ("fault report", "3"),
        ("complaint", "4"),
        ("agent", "0"),
    ]))
}

#[tokio::test]
async fn tts_round_trip_matches_local_synthesis() {
    let bridge = Bridge::start().await;
    let remote: Arc<dyn Tts> = Arc::new(RemoteTts::new(&bridge.url, LIMIT).unwrap());
    let local = EspeakTts::new(EspeakConfig::default());
    for (text, voice) in [
        ("your balance is twelve dollars", Voice::en()),
        ("您的话费余额为一百二十三元四角五分", Voice::zh()),
    ] {
        let over_http: Audio = remote.synthesize(text, &voice).await.unwrap();
        let here = local.synthesize(text, &voice).await.unwrap();
        assert_eq!(over_http, here, "{text}");
        assert_eq!(over_http.sample_rate, 22050);
    }
    // Errors come back as the same error values.
    let err = remote
        .synthesize("hello", &Voice::new("-rf"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidVoice(_)), "{err}");
    let err = remote.synthesize("  ", &Voice::en()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidText(_)), "{err}");
    bridge.stop().await;
}

#[tokio::test]
async fn asr_round_trip_through_a_session() {
    let bridge = Bridge::start().await;
    let remote: Arc<dyn Asr> = Arc::new(RemoteAsr::new(&bridge.url, LIMIT).unwrap());
    remote.check(&menu()).await.unwrap();
    for (said, want) in [("fault report", "3"), ("agent", "0")] {
        let audio = phone_audio(said, &Voice::en().with_name("f2")).await;
        let mut session = Session::new(remote.clone(), menu(), EndpointConfig::default());
        for frame in audio.chunks(160) {
            if session.push(frame) == Progress::Done {
                break;
            }
        }
        match session.finish().await.unwrap() {
            Recognition::Recognized { choice, text, .. } => {
                assert_eq!((choice.as_str(), text.as_str()), (want, said));
            }
            other => panic!("{said}: {other:?}"),
        }
    }
    // Unknown words are named, across the wire.
    let zh = Grammar::phrases([("账单", "1")]);
    match remote.check(&zh).await {
        Err(Error::UnknownWord { word, .. }) => assert_eq!(word, "账单"),
        other => panic!("{other:?}"),
    }
    bridge.stop().await;
}

#[tokio::test]
async fn raw_http_routes() {
    let bridge = Bridge::start().await;
    let http = reqwest::Client::new();

    let health = http
        .get(format!("{}/health", bridge.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    // A whole recording at 16 kHz, with leading and trailing quiet: the
    // bridge converts and end-points it.
    let audio = phone_audio("billing", &Voice::en()).await;
    let wide = audio::resample(&audio, 8000, 16000);
    let answer = http
        .post(format!("{}/v1/asr", bridge.url))
        .header(GRAMMAR_HEADER, serde_json::to_string(&*menu()).unwrap())
        .body(audio::encode_wav(16000, &wide))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let result: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(result["result"], "recognized", "{result}");
    assert_eq!(result["choice"], "1", "{result}");

    // Silence is no input.
    let answer = http
        .post(format!("{}/v1/asr", bridge.url))
        .header(GRAMMAR_HEADER, serde_json::to_string(&*menu()).unwrap())
        .body(audio::encode_wav(8000, &[0; 16000]))
        .send()
        .await
        .unwrap();
    let result: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(result["result"], "no_input");

    // Bad requests are 400 with a kind.
    for (grammar, body, kind) in [
        (None, audio::encode_wav(8000, &[0; 800]), "grammar"),
        (
            Some("{not json"),
            audio::encode_wav(8000, &[0; 800]),
            "grammar",
        ),
        (
            Some(r#"{"kind":"digits","min":1,"max":4}"#),
            b"not a wav".to_vec(),
            "audio",
        ),
    ] {
        let mut request = http.post(format!("{}/v1/asr", bridge.url)).body(body);
        if let Some(g) = grammar {
            request = request.header(GRAMMAR_HEADER, g);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 400);
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error["kind"], kind, "{error}");
    }

    // TTS over plain HTTP gives a WAV file.
    let answer = http
        .post(format!("{}/v1/tts", bridge.url))
        .json(&serde_json::json!({"text": "agent", "voice": {"language": "en"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "audio/wav");
    let wav = answer.bytes().await.unwrap();
    assert!(Audio::from_wav(&wav).unwrap().duration() > Duration::from_millis(200));
    bridge.stop().await;
}

#[tokio::test]
async fn unreachable_bridge_is_a_remote_error() {
    // Bind and drop a listener: the port is then (very likely) closed.
    let port = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let tts = RemoteTts::new(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).unwrap();
    let err = tts.synthesize("hello", &Voice::en()).await.unwrap_err();
    assert!(matches!(err, Error::Remote { .. }), "{err}");
}
