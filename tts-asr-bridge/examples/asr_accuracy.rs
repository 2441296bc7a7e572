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
        // The same with the length known, as for account numbers.
        let len = want.len() as u8;
        cases.push(Case {
            grammar: Grammar::digits(len, len),
            said: said.into(),
            want: Some(want.into()),
        });
    }

    let mut utterances = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for (j, voice) in voices().iter().enumerate() {
            let audio = tts.synthesize(&case.said, voice).await?;
            let eight = audio::resample(&audio.samples, audio.sample_rate, 8000);
            // ASR_CHANNEL=clean skips the mu-law and the line noise.
            let samples = if std::env::var("ASR_CHANNEL").as_deref() == Ok("clean") {
                eight
            } else {
                line(&eight, (i * 31 + j) as u32 + 1)
            };
            utterances.push((i, j, samples));
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
        let defaults = SphinxConfig::default();
        let asr = SphinxAsr::new(SphinxConfig {
            input,
            decoders: 1,
            min_confidence: 0.0,
            extra_args,
            noise_floor: std::env::var("ASR_NOISE")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(defaults.noise_floor),
            ..SphinxConfig::default()
        })
        .await?;
        // Per category: [utterances, best guess right, accepted at the default
        // threshold and right, rejected at the default threshold].
        let mut menu = [0; 4];
        let mut digit = [0; 4];
        let mut fixed = [0; 4];
        let mut oog = [0; 4];
        let mut in_scores = Vec::new();
        let mut oog_scores = Vec::new();
        let mut times = Vec::new();
        let mut audio_secs = 0.0;
        for (i, j, samples) in &utterances {
            let case = &cases[*i];
            audio_secs += samples.len() as f64 / 8000.0;
            let a = asr.analyse(&case.grammar, samples.clone()).await?;
            times.push(a.decode_time);
            let (got, confidence) = match &a.recognition {
                Recognition::Recognized {
                    choice, confidence, ..
                } => (Some(choice.clone()), *confidence),
                Recognition::NoMatch { confidence, .. } => (None, *confidence),
                Recognition::NoInput => (None, 0.0),
            };
            let accepted = got.is_some() && confidence >= defaults.min_confidence;
            let tally = match &case.grammar {
                _ if case.want.is_none() => &mut oog,
                Grammar::Digits { min, max } if min == max => &mut fixed,
                Grammar::Digits { .. } => &mut digit,
                Grammar::Phrases { .. } => &mut menu,
            };
            tally[0] += 1;
            if !accepted {
                tally[3] += 1;
            }
            match &case.want {
                Some(want) if got.as_deref() == Some(want) => {
                    tally[1] += 1;
                    if accepted {
                        tally[2] += 1;
                    }
                    in_scores.push(a.frame_score.unwrap_or(f32::NAN));
                }
                Some(_) => println!(
                    "  {input:?} miss: '{}' ({:?}) voice {j} -> {:?} frame score {:?}",
                    case.said, case.grammar, a.hypothesis, a.frame_score
                ),
                None => {
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
        println!("{input:?}:");
        println!(
            "  menu:   {}/{} best guess right, {} accepted and right, {} rejected",
            menu[1], menu[0], menu[2], menu[3]
        );
        println!(
            "  digits: {}/{} best guess right, {} accepted and right, {} rejected",
            digit[1], digit[0], digit[2], digit[3]
        );
        println!(
            "  digits, length known: {}/{} best guess right, {} accepted and right, {} rejected",
            fixed[1], fixed[0], fixed[2], fixed[3]
        );
        println!(
            "  out of grammar: {}/{} rejected (no hypothesis or confidence < {})",
            oog[3], oog[0], defaults.min_confidence
        );
        println!("  frame score of right answers: {in_scores:.1?}");
        println!("  frame score of out-of-grammar: {oog_scores:.1?}");
        println!(
            "  decode time: median {:?}, max {:?}, {:.3} s per s of audio",
            times[times.len() / 2],
            times[times.len() - 1],
            total_time.as_secs_f64() / audio_secs
        );
    }
    Ok(())
}
