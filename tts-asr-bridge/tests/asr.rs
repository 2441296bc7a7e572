//! Recognition of real synthesized speech: espeak-ng speaks, the audio goes
//! to 8 kHz like a phone call, a `Session` end-points it frame by frame and
//! pocketsphinx recognizes it.

// Helpers of a test file may panic: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use dialect_speech::asr::{
    Asr, EndpointConfig, Grammar, Progress, Recognition, Session, SphinxAsr, SphinxConfig,
};
use dialect_speech::tts::{EspeakConfig, EspeakTts, Tts};
use dialect_speech::{Error, Voice, audio};

/// `text` spoken by `voice` at 8 kHz, with quiet before and after and the
/// faint hiss of a phone line (about -65 dBFS) throughout.
async fn phone_audio(text: &str, voice: &Voice) -> Vec<i16> {
    let tts = EspeakTts::new(EspeakConfig::default());
    let spoken = tts.synthesize(text, voice).await.unwrap();
    let mut out = vec![0i16; 8000 * 4 / 10];
    out.extend(audio::resample(&spoken.samples, spoken.sample_rate, 8000));
    out.extend(vec![0i16; 8000 * 12 / 10]);
    let mut x = 0x9e37_79b9u32;
    for s in &mut out {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *s = s.saturating_add((x % 41) as i16 - 20);
    }
    out
}

/// Feeds 20 ms frames until the end-pointer is done, then recognizes.
async fn listen(asr: &Arc<dyn Asr>, grammar: &Arc<Grammar>, samples: &[i16]) -> Recognition {
    let mut session = Session::new(asr.clone(), grammar.clone(), EndpointConfig::default());
    for frame in samples.chunks(160) {
        if session.push(frame) == Progress::Done {
            break;
        }
    }
    tokio::time::timeout(Duration::from_secs(30), session.finish())
        .await
        .expect("recognition took over 30 s")
        .unwrap()
}

async fn engine() -> Arc<dyn Asr> {
    Arc::new(SphinxAsr::new(SphinxConfig::default()).await.unwrap())
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
async fn menu_phrases_are_recognized_in_several_voices() {
    let asr = engine().await;
    let grammar = menu();
    let voices = [
        Voice::en(),
        Voice::en().with_name("f2"),
        Voice::en().with_rate(140),
    ];
    for voice in &voices {
        for (said, want) in [
            ("billing", "1"),
            ("fault report", "3"),
            ("complaint", "4"),
            ("agent", "0"),
        ] {
            let audio = phone_audio(said, voice).await;
            match listen(&asr, &grammar, &audio).await {
                Recognition::Recognized {
                    choice,
                    text,
                    confidence,
                } => {
                    assert_eq!(choice, want, "{said:?} by {voice:?} heard as {text:?}");
                    assert_eq!(text, said);
                    assert!((0.5..=1.0).contains(&confidence), "{said}: {confidence}");
                }
                other => panic!("{said:?} by {voice:?}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn silence_is_no_input() {
    let asr = engine().await;
    let silence = vec![0i16; 8000 * 6];
    assert_eq!(listen(&asr, &menu(), &silence).await, Recognition::NoInput);
    // Straight to the engine, past the end-pointer: still no input.
    let direct = asr.recognize(menu(), vec![0; 8000 * 2]).await.unwrap();
    assert_eq!(direct, Recognition::NoInput);
}

#[tokio::test]
async fn out_of_grammar_speech_is_not_accepted() {
    let asr = engine().await;
    let grammar = menu();
    for voice in [Voice::en(), Voice::en().with_name("f2")] {
        for said in ["weather forecast", "cancel my order"] {
            let audio = phone_audio(said, &voice).await;
            match listen(&asr, &grammar, &audio).await {
                Recognition::NoMatch { confidence, .. } => assert!(confidence < 0.5),
                Recognition::Recognized { confidence, .. } => {
                    panic!("{said:?} accepted with confidence {confidence}")
                }
                Recognition::NoInput => panic!("{said:?} was not heard at all"),
            }
        }
    }
}

#[tokio::test]
async fn digits_are_recognized_as_a_number() {
    let asr = engine().await;
    let four = Arc::new(Grammar::digits(4, 4));
    for voice in [Voice::en(), Voice::en().with_name("f2")] {
        let audio = phone_audio("one two three four", &voice).await;
        match listen(&asr, &four, &audio).await {
            Recognition::Recognized { choice, .. } => assert_eq!(choice, "1234", "{voice:?}"),
            other => panic!("{voice:?}: {other:?}"),
        }
    }
    // Length not known in advance: the f2 voice is read right.
    let any = Arc::new(Grammar::digits(1, 8));
    let audio = phone_audio("one two three four", &Voice::en().with_name("f2")).await;
    match listen(&asr, &any, &audio).await {
        Recognition::Recognized { choice, .. } => assert_eq!(choice, "1234"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn words_missing_from_the_dictionary_are_named() {
    let asr = engine().await;
    let grammar = Grammar::phrases([("billing", "1"), ("zorblatt quux", "2")]);
    match asr.check(&grammar).await {
        Err(Error::UnknownWord { word, phrase }) => {
            assert_eq!(word, "zorblatt");
            assert_eq!(phrase, "zorblatt quux");
        }
        other => panic!("{other:?}"),
    }
    asr.check(&menu()).await.unwrap();
    // Recognizing with it fails the same way.
    let err = asr
        .recognize(
            Arc::new(grammar),
            phone_audio("billing", &Voice::en()).await,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`zorblatt`"), "{err}");
}

#[tokio::test]
async fn pooled_decoders_serve_concurrent_calls() {
    let asr: Arc<dyn Asr> = Arc::new(
        SphinxAsr::new(SphinxConfig {
            decoders: 2,
            warm: 0,
            ..SphinxConfig::default()
        })
        .await
        .unwrap(),
    );
    let grammar = menu();
    let billing = phone_audio("billing", &Voice::en()).await;
    let agent = phone_audio("agent", &Voice::en()).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (asr, grammar) = (asr.clone(), grammar.clone());
        let (audio, want) = if i % 2 == 0 {
            (billing.clone(), "1")
        } else {
            (agent.clone(), "0")
        };
        tasks.push(tokio::spawn(async move {
            (listen(&asr, &grammar, &audio).await, want)
        }));
    }
    for task in tasks {
        let (result, want) = task.await.unwrap();
        match result {
            Recognition::Recognized { choice, .. } => assert_eq!(choice, want),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn missing_model_is_an_error_not_an_exit() {
    let err = SphinxAsr::new(SphinxConfig {
        model_dir: "/nonexistent/model".into(),
        ..SphinxConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/model"), "{err}");
}

#[tokio::test]
async fn the_8khz_front_end_also_runs() {
    // Measured to be far less accurate (see the crate docs); this only
    // checks that the decoder starts with the narrow-band feature file and
    // decodes.
    let asr = SphinxAsr::new(SphinxConfig {
        input: dialect_speech::asr::InputMode::Native8k,
        ..SphinxConfig::default()
    })
    .await
    .unwrap();
    let audio = phone_audio("billing", &Voice::en()).await;
    let analysis = asr.analyse(&menu(), audio).await.unwrap();
    assert_ne!(
        analysis.recognition,
        Recognition::NoInput,
        "speech was heard"
    );
    assert_eq!(
        asr.recognize(menu(), vec![0; 8000]).await.unwrap(),
        Recognition::NoInput
    );
}
