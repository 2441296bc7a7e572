//! Measures pocketsphinx accuracy on espeak-ng speech at telephone quality.
//!
//! Each phrase is synthesized with several voices, resampled to 8 kHz,
//! passed through G.711 mu-law and padded with line noise, then recognized
//! in both input modes (8 kHz front end, upsampled to 16 kHz). Prints
//! accuracy, out-of-grammar rejection, confidence frame scores and latency.
//!
//! `cargo run --release -p dialect-speech --example asr_accuracy`

use std::time::Duration;

use dialect_speech::asr::{Grammar, InputMode, Recognition, SphinxAsr, SphinxConfig};
use dialect_speech::tts::{EspeakConfig, EspeakTts, Tts};
use dialect_speech::{Voice, audio};

fn voices() -> Vec<Voice> {
    vec![
        Voice::en(),
        Voice::en().with_name("f2"),
        Voice::en().with_name("m3"),
        Voice::new("en-GB").with_name("f4"),
        Voice::en().with_rate(140),
        Voice::en().with_rate(220).with_pitch(30),
        Voice::new("en-029"),
        Voice::en().with_name("klatt").with_pitch(70),
    ]
}

/// G.711 mu-law encode and decode: what a phone call does to the audio.
fn mulaw(s: i16) -> i16 {
    const BIAS: i32 = 0x84;
    let mut x = i32::from(s);
    let sign = if x < 0 { 0x80 } else { 0 };
    if x < 0 {
        x = -x;
    }
    x = x.min(32635) + BIAS;
    let mut exp = 7;
    while exp > 0 && x & (0x80 << exp) == 0 {
        exp -= 1;
    }
    let mant = (x >> (exp + 3)) & 0x0f;
    let byte = !(sign | (exp << 4) | mant) as u8;
    // decode
    let b = !byte;
    let sign = b & 0x80;
    let exp = i32::from((b >> 4) & 0x07);
    let mant = i32::from(b & 0x0f);
    let mag = (((mant << 3) + BIAS) << exp) - BIAS;
    (if sign != 0 { -mag } else { mag }) as i16
}

fn line(samples: &[i16], seed: u32) -> Vec<i16> {
    let mut x = seed | 1;
    let mut noise = |n: usize| -> Vec<i16> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ((x % 40) as i16) - 20
            })
            .collect()
    };
    let mut out = noise(2400);
    let speech = noise(samples.len());
    out.extend(samples.iter().zip(speech).map(|(a, b)| a.saturating_add(b)));
    out.extend(noise(4000));
    out.into_iter().map(mulaw).collect()
}

struct Case {
    grammar: Grammar,
    said: String,
    /// The choice a right answer has; None: out of grammar.
    want: Option<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tts = EspeakTts::new(EspeakConfig::default());
    let menu = Grammar::phrases([
        ("billing", "billing"),
        ("fault report", "fault"),
        ("complaint", "complaint"),
        ("agent", "agent"),
    ]);
    let digits = Grammar::digits(1, 8);
    let mut cases = Vec::new();
    for (said, want) in [
        ("billing", "billing"),
        ("fault report", "fault"),
        ("complaint", "complaint"),
        ("agent", "agent"),
    ] {
        cases.push(Case {
            grammar: menu.clone(),
            said: said.into(),
            want: Some(want.into()),
        });
    }
    for said in [
        "weather forecast",
        "cancel my order",
        "hello there",
        "pizza",
        "technical support",
        "yes please",
    ] {
        cases.push(Case {
            grammar: menu.clone(),
            said: said.into(),
            want: None,
        });
    }
    for (said, want) in [
        ("one two three four", "1234"),
        ("five five five zero", "5550"),
        ("nine eight seven", "987"),
        ("two zero two six", "2026"),
        ("six oh one", "601"),
        ("seven three eight one nine four", "738194"),
    ] {
        cases.push(Case {
            grammar: digits.clone(),
            said: said.into(),
            want: Some(want.into()),
        });
    }

    let mut utterances = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for (j, voice) in voices().iter().enumerate() {
            let audio = tts.synthesize(&case.said, voice).await?;
            let eight = audio::resample(&audio.samples, audio.sample_rate, 8000);
            utterances.push((i, j, line(&eight, (i * 31 + j) as u32 + 1)));
        }
    }

    for input in [InputMode::Native8k, InputMode::Upsample16k] {
        // Extra decoder arguments to try, such as ASR_EXTRA="-lw 8 -silprob 0.001".
        let extra = std::env::var("ASR_EXTRA").unwrap_or_default();
        let words: Vec<&str> = extra.split_whitespace().collect();
        let extra_args = words
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (c[0].to_owned(), c[1].to_owned()))
            .collect();
        let asr = SphinxAsr::new(SphinxConfig {
            input,
            decoders: 1,
            min_confidence: 0.0,
            extra_args,
            ..SphinxConfig::default()
        })
        .await?;
        let (mut right, mut total, mut oog_total) = (0, 0, 0);
        let mut in_scores = Vec::new();
        let mut oog_scores = Vec::new();
        let mut times = Vec::new();
        let mut audio_secs = 0.0;
        for (i, j, samples) in &utterances {
            let case = &cases[*i];
            audio_secs += samples.len() as f64 / 8000.0;
            let a = asr.analyse(&case.grammar, samples.clone()).await?;
            times.push(a.decode_time);
            let got = match &a.recognition {
                Recognition::Recognized { choice, .. } => Some(choice.clone()),
                _ => None,
            };
            match &case.want {
                Some(want) => {
                    total += 1;
                    if got.as_deref() == Some(want) {
                        right += 1;
                        in_scores.push(a.frame_score.unwrap_or(f32::NAN));
                    } else {
                        println!(
                            "  {input:?} miss: '{}' voice {j} -> {:?} frame score {:?}",
                            case.said, a.hypothesis, a.frame_score
                        );
                    }
                }
                None => {
                    oog_total += 1;
                    oog_scores.push(a.frame_score.unwrap_or(f32::NAN));
                    println!(
                        "  {input:?} oog: '{}' voice {j} -> {:?} frame score {:?}",
                        case.said, a.hypothesis, a.frame_score
                    );
                }
            }
        }
        in_scores.sort_by(f32::total_cmp);
        oog_scores.sort_by(f32::total_cmp);
        let total_time: Duration = times.iter().sum();
        times.sort();
        println!(
            "{input:?}: {right}/{total} in-grammar right ({:.1}%), {oog_total} out-of-grammar",
            100.0 * right as f64 / total as f64
        );
        println!("  frame score of right answers: {:?}", in_scores);
        println!("  frame score of out-of-grammar: {:?}", oog_scores);
        println!(
            "  decode time: median {:?}, max {:?}, {:.3} s per s of audio",
            times[times.len() / 2],
            times[times.len() - 1],
            total_time.as_secs_f64() / audio_secs
        );
    }
    Ok(())
}
