//! Measures the answering-machine detector on a generated corpus: short
//! greetings of people ("喂？", "hello?"), long machine messages, fax CNG and
//! CED, spoken by espeak-ng in several voices and speeds, at several levels,
//! clean and with white or pink noise. Prints, for `app_amd`'s settings and
//! for this crate's defaults, the person→machine rate (each one an
//! abandoned call), the machine→person rate, the unsure rate and the time to
//! decide a person.
//!
//! `cargo run --release -p dialect-media --example amd-corpus [-- --errors] [--config FILE.yaml [--only]]`
//!
//! Needs `espeak-ng` on the PATH. The synthesised phrases are cached in
//! `$AMD_CORPUS_DIR` (default: the system temporary folder); everything
//! else (silences, levels, noise) comes from a seeded generator, so two runs
//! print the same numbers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a measurement tool on its own generated inputs

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use dialect_media::amd::{AmdConfig, AmdDecision, AmdVerdict, detect};
use rand::{Rng, SeedableRng, rngs::StdRng};

const RATE: usize = 8000;

/// What the clip really is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Truth {
    Person,
    Machine,
    Fax,
}

const PEOPLE: &[(&str, &str)] = &[
    ("zh", "喂？"),
    ("zh", "喂，你好"),
    ("zh", "您好"),
    ("zh", "喂，哪位？"),
    ("en", "hello?"),
    ("en", "hello, this is Tom"),
    ("en", "yes?"),
    ("en", "hi, who's calling?"),
];

const MACHINES: &[(&str, &str)] = &[
    ("zh", "您好，您拨打的用户暂时无法接通，请在提示音后留言。"),
    (
        "zh",
        "您好，我现在不方便接听电话，请在嘀声后留下您的姓名和电话，我会尽快给您回电。",
    ),
    ("zh", "对不起，您拨打的电话已关机，请稍后再拨。"),
    (
        "en",
        "Hi, you've reached Tom Smith. I can't take your call right now, please leave a message after the tone.",
    ),
    (
        "en",
        "Hello, this is Anna. Sorry I missed you, leave your name and number and I'll call you back.",
    ),
    (
        "en",
        "The person you are calling is not available. Please leave a message after the tone.",
    ),
];

const ZH_VOICES: &[&str] = &["cmn", "cmn+f2", "cmn+m3"];
const EN_VOICES: &[&str] = &["en", "en-us", "en+f2", "en-us+m3"];
const SPEEDS: &[u32] = &[130, 175, 220];
/// Peak level of the speech or tone, dBFS.
const LEVELS: &[f64] = &[-30.0, -20.0, -10.0, -3.0];

#[derive(Debug, Clone, Copy)]
enum Noise {
    Clean,
    White(f64),
    Pink(f64),
}

const NOISES: &[Noise] = &[
    Noise::Clean,
    Noise::White(20.0),
    Noise::Pink(20.0),
    Noise::White(10.0),
    Noise::Pink(10.0),
];

impl std::fmt::Display for Noise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Noise::Clean => write!(f, "clean"),
            Noise::White(snr) => write!(f, "white {snr} dB"),
            Noise::Pink(snr) => write!(f, "pink {snr} dB"),
        }
    }
}

/// One clip of the corpus.
struct Clip {
    truth: Truth,
    name: String,
    level: f64,
    noise: Noise,
    /// Where the person's greeting ends, in ms from the answer.
    speech_end_ms: u32,
    pcm: Vec<i16>,
}

fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("AMD_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("dialect-amd-corpus"));
    std::fs::create_dir_all(&dir).expect("cannot create the corpus cache folder");
    dir
}

/// The phrase spoken by espeak-ng, at 8 kHz, as floats.
fn speak(dir: &Path, voice: &str, speed: u32, text: &str) -> Vec<f64> {
    let key = format!("{voice}-{speed}-{:016x}", fnv(text));
    let path = dir.join(format!("{key}.wav"));
    if !path.exists() {
        let status = Command::new("espeak-ng")
            .args(["-v", voice, "-s", &speed.to_string(), "-w"])
            .arg(&path)
            .arg(text)
            .status()
            .expect("cannot run espeak-ng; install it (apt-get install espeak-ng)");
        assert!(status.success(), "espeak-ng failed on {voice} {text}");
    }
    let (pcm, rate) = dialect_media::prompt::read_wav_mono(&path).unwrap();
    let pcm = dialect_media::resample::resample(&pcm, rate, RATE as u32);
    // espeak-ng ends every phrase with some silence of its own; trim both ends
    // so the leading silence is the generator's choice.
    let first = pcm.iter().position(|s| s.abs() > 64).unwrap_or(0);
    let last = pcm.iter().rposition(|s| s.abs() > 64).unwrap_or(pcm.len());
    pcm[first..=last.max(first)]
        .iter()
        .map(|&s| s as f64)
        .collect()
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

fn silence(ms: f64) -> Vec<f64> {
    vec![0.0; (ms * RATE as f64 / 1000.0) as usize]
}

fn tone(hz: f64, ms: f64, reversal_ms: f64, am: f64) -> Vec<f64> {
    let n = (ms * RATE as f64 / 1000.0) as usize;
    let reversal = if reversal_ms > 0.0 {
        (reversal_ms * RATE as f64 / 1000.0) as usize
    } else {
        usize::MAX
    };
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            let sign = if (i / reversal) % 2 == 0 { 1.0 } else { -1.0 };
            sign * (1.0 + am * (std::f64::consts::TAU * 15.0 * t).sin())
                * (std::f64::consts::TAU * hz * t).sin()
        })
        .collect()
}

/// Scales the signal to `level` dBFS peak, adds noise at `snr` dB below the
/// active signal's RMS, and quantises.
fn finish(mut x: Vec<f64>, level: f64, noise: Noise, total_ms: f64, rng: &mut StdRng) -> Vec<i16> {
    x.resize((total_ms * RATE as f64 / 1000.0) as usize, 0.0);
    let peak = x.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-9);
    let gain = 32767.0 * 10f64.powf(level / 20.0) / peak;
    x.iter_mut().for_each(|v| *v *= gain);
    // Active RMS: over the 20 ms frames within 30 dB of the loudest one.
    let frames: Vec<f64> = x
        .chunks(160)
        .map(|f| f.iter().map(|v| v * v).sum::<f64>() / f.len() as f64)
        .collect();
    let loudest = frames.iter().cloned().fold(0.0, f64::max);
    let active: Vec<f64> = frames.into_iter().filter(|&e| e > loudest * 1e-3).collect();
    let active_rms = (active.iter().sum::<f64>() / active.len().max(1) as f64).sqrt();
    let (pink, snr) = match noise {
        Noise::Clean => (false, f64::INFINITY),
        Noise::White(snr) => (false, snr),
        Noise::Pink(snr) => (true, snr),
    };
    if snr.is_finite() {
        let mut n: Vec<f64> = (0..x.len())
            .map(|_| {
                let u1: f64 = rng.random_range(f64::EPSILON..1.0);
                let u2: f64 = rng.random();
                (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
            })
            .collect();
        if pink {
            // Paul Kellet's economy pink filter, then a DC blocker: room
            // noise through a telephone has no content below ~100 Hz.
            let (mut b0, mut b1, mut b2, mut prev_in, mut prev_out) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in n.iter_mut() {
                b0 = 0.99765 * b0 + *v * 0.0990460;
                b1 = 0.96300 * b1 + *v * 0.2965164;
                b2 = 0.57000 * b2 + *v * 1.0526913;
                let p = b0 + b1 + b2 + *v * 0.1848;
                let out = p - prev_in + 0.92 * prev_out;
                prev_in = p;
                prev_out = out;
                *v = out;
            }
        }
        let rms = (n.iter().map(|v| v * v).sum::<f64>() / n.len() as f64).sqrt();
        let scale = active_rms / 10f64.powf(snr / 20.0) / rms;
        for (a, b) in x.iter_mut().zip(n) {
            *a += b * scale;
        }
    }
    x.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn voices(lang: &str) -> &'static [&'static str] {
    if lang == "zh" { ZH_VOICES } else { EN_VOICES }
}

fn corpus() -> Vec<Clip> {
    let dir = cache_dir();
    let mut clips = Vec::new();
    let mut seed = 0u64;
    let mut next_rng = || {
        seed += 1;
        StdRng::seed_from_u64(seed)
    };
    for (truth, phrases) in [(Truth::Person, PEOPLE), (Truth::Machine, MACHINES)] {
        for &(lang, text) in phrases {
            for &voice in voices(lang) {
                for &speed in SPEEDS {
                    let speech = speak(&dir, voice, speed, text);
                    for &level in LEVELS {
                        for &noise in NOISES {
                            let mut rng = next_rng();
                            let mut x = match truth {
                                // A person picks up, then speaks after 0.3-1.5 s.
                                Truth::Person => silence(rng.random_range(300.0..1500.0)),
                                // A machine starts its message after 0.1-1 s.
                                _ => silence(rng.random_range(100.0..1000.0)),
                            };
                            x.extend(&speech);
                            let speech_end_ms = (x.len() * 1000 / RATE) as u32;
                            if truth == Truth::Machine && text.contains("tone") {
                                x.extend(silence(300.0));
                                // The beep, as loud as the speech peak.
                                let peak = speech.iter().fold(0f64, |m, v| m.max(v.abs()));
                                x.extend(tone(1000.0, 500.0, 0.0, 0.0).iter().map(|v| v * peak));
                            }
                            clips.push(Clip {
                                truth,
                                name: format!("{voice} s{speed} \"{text}\""),
                                level,
                                noise,
                                speech_end_ms,
                                pcm: finish(x, level, noise, 7000.0, &mut rng),
                            });
                        }
                    }
                }
            }
        }
    }
    for kind in ["CNG", "CED", "ANSam"] {
        for variant in 0..3 {
            for &level in LEVELS {
                for &noise in NOISES {
                    let mut rng = next_rng();
                    let mut x = silence(rng.random_range(100.0..1000.0));
                    match kind {
                        "CNG" => {
                            let hz = 1100.0 + [-30.0, 0.0, 30.0][variant];
                            for _ in 0..2 {
                                x.extend(tone(hz, 500.0, 0.0, 0.0));
                                x.extend(silence(3000.0));
                            }
                        }
                        "CED" => {
                            let hz = 2100.0 + [-12.0, 0.0, 12.0][variant];
                            x.extend(tone(hz, 2600.0 + 700.0 * variant as f64, 0.0, 0.0));
                        }
                        _ => x.extend(tone(2100.0, 3300.0, 450.0, 0.2)),
                    }
                    clips.push(Clip {
                        truth: Truth::Fax,
                        name: format!("{kind} variant {variant}"),
                        level,
                        noise,
                        speech_end_ms: 0,
                        pcm: finish(x, level, noise, 7000.0, &mut rng),
                    });
                }
            }
        }
    }
    clips
}

/// Counts for one detector over the corpus.
#[derive(Default)]
struct Tally {
    by_truth: BTreeMap<Truth, BTreeMap<&'static str, usize>>,
    person_ms: Vec<u32>,
    /// Person decisions, in ms after the end of the greeting.
    after_greeting_ms: Vec<u32>,
    machine_ms: Vec<u32>,
    /// 20 ms frames analysed and the time it took.
    frames: u64,
    seconds: f64,
    /// person→machine per (level, noise).
    person_errors_by_condition: BTreeMap<String, (usize, usize)>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn evaluate(clips: &[Clip], config: &AmdConfig, show_errors: bool, label: &str) -> Tally {
    let mut tally = Tally::default();
    for clip in clips {
        let started = std::time::Instant::now();
        let d: AmdDecision = detect(&clip.pcm, RATE as u32, config.clone());
        tally.seconds += started.elapsed().as_secs_f64();
        tally.frames += d.at_ms as u64 / 20;
        *tally
            .by_truth
            .entry(clip.truth)
            .or_default()
            .entry(d.verdict.as_str())
            .or_default() += 1;
        if clip.truth == Truth::Person {
            let cell = tally
                .person_errors_by_condition
                .entry(format!("{:>4} dBFS, {}", clip.level, clip.noise))
                .or_default();
            cell.1 += 1;
            if d.verdict == AmdVerdict::Machine {
                cell.0 += 1;
            }
            if d.verdict == AmdVerdict::Person {
                tally.person_ms.push(d.at_ms);
                tally
                    .after_greeting_ms
                    .push(d.at_ms.saturating_sub(clip.speech_end_ms));
            }
        }
        if clip.truth == Truth::Machine && d.verdict == AmdVerdict::Machine {
            tally.machine_ms.push(d.at_ms);
        }
        let wrong = match clip.truth {
            Truth::Person => d.verdict != AmdVerdict::Person,
            Truth::Machine => d.verdict != AmdVerdict::Machine,
            Truth::Fax => d.verdict != AmdVerdict::Fax,
        };
        if show_errors && wrong {
            println!(
                "  [{label}] {:?} {} at {} dBFS, {}: {d} ({})",
                clip.truth, clip.name, clip.level, clip.noise, d.cause
            );
        }
    }
    tally.person_ms.sort_unstable();
    tally.after_greeting_ms.sort_unstable();
    tally.machine_ms.sort_unstable();
    tally
}

fn rate(tally: &Tally, truth: Truth, verdict: &str) -> (usize, usize, f64) {
    let row = tally.by_truth.get(&truth);
    let total: usize = row.map(|r| r.values().sum()).unwrap_or(0);
    let n = row.and_then(|r| r.get(verdict)).copied().unwrap_or(0);
    (n, total, 100.0 * n as f64 / total.max(1) as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let show_errors = args.iter().any(|a| a == "--errors");
    let custom = args
        .iter()
        .position(|a| a == "--config")
        .and_then(|i| args.get(i + 1))
        .map(|path| {
            let text = std::fs::read_to_string(path).expect("cannot read the config file");
            let config: AmdConfig = serde_yaml::from_str(&text).expect("bad config");
            config.validate().expect("invalid config");
            config
        });
    if Command::new("espeak-ng").arg("--version").output().is_err() {
        eprintln!("espeak-ng is not installed; the corpus needs it (apt-get install espeak-ng)");
        std::process::exit(2);
    }
    let clips = corpus();
    let count = |t: Truth| clips.iter().filter(|c| c.truth == t).count();
    println!(
        "corpus: {} people, {} machines, {} fax ({} clips)\n",
        count(Truth::Person),
        count(Truth::Machine),
        count(Truth::Fax),
        clips.len()
    );
    let mut configs: Vec<(&str, AmdConfig)> = vec![
        ("app_amd defaults", AmdConfig::asterisk()),
        (
            "+ adaptive threshold",
            AmdConfig {
                adaptive_threshold: true,
                ..AmdConfig::asterisk()
            },
        ),
        (
            "+ max words 6",
            AmdConfig {
                adaptive_threshold: true,
                max_words: AmdConfig::default().max_words,
                ..AmdConfig::asterisk()
            },
        ),
        (
            "+ short greeting rule = dialect defaults",
            AmdConfig::default(),
        ),
    ];
    if let Some(c) = custom {
        if args.iter().any(|a| a == "--only") {
            configs.clear();
        }
        configs.push(("--config", c));
    }
    println!(
        "| detector | person→machine | person→unsure | machine→person | machine→unsure | speech→fax | fax→fax | person decided: median | p95 | max | after the greeting: median | p95 | machine decided: median |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut tallies = Vec::new();
    for (label, config) in &configs {
        let t = evaluate(&clips, config, show_errors, label);
        let pm = rate(&t, Truth::Person, "machine");
        let pu = rate(&t, Truth::Person, "unsure");
        let mp = rate(&t, Truth::Machine, "person");
        let mu = rate(&t, Truth::Machine, "unsure");
        let ff = rate(&t, Truth::Fax, "fax");
        let speech_fax = rate(&t, Truth::Person, "fax").0 + rate(&t, Truth::Machine, "fax").0;
        println!(
            "| {label} | {:.2} % ({}/{}) | {:.2} % | {:.2} % ({}/{}) | {:.2} % | {} | {:.1} % | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {:.2} s |",
            pm.2,
            pm.0,
            pm.1,
            pu.2,
            mp.2,
            mp.0,
            mp.1,
            mu.2,
            speech_fax,
            ff.2,
            percentile(&t.person_ms, 0.5),
            percentile(&t.person_ms, 0.95),
            percentile(&t.person_ms, 1.0),
            percentile(&t.after_greeting_ms, 0.5),
            percentile(&t.after_greeting_ms, 0.95),
            percentile(&t.machine_ms, 0.5),
        );
        tallies.push((label, t));
    }
    println!();
    for (label, t) in &tallies {
        println!(
            "{label}: people decided as people within 3 s of the answer: {:.1} %; {:.2} µs per 20 ms frame ({} frames analysed)",
            100.0 * t.person_ms.iter().filter(|&&ms| ms <= 3000).count() as f64
                / count(Truth::Person).max(1) as f64,
            t.seconds * 1e6 / t.frames.max(1) as f64,
            t.frames
        );
    }
    println!("\nperson→machine by level and noise:\n");
    let mut header = String::from("| condition |");
    let mut rule = String::from("|---|");
    for (label, _) in &tallies {
        header.push_str(&format!(" {label} |"));
        rule.push_str("---|");
    }
    println!("{header}\n{rule}");
    if let Some((_, first)) = tallies.first() {
        for condition in first.person_errors_by_condition.keys() {
            let mut line = format!("| {condition} |");
            for (_, t) in &tallies {
                let (e, n) = t.person_errors_by_condition[condition];
                line.push_str(&format!(" {e}/{n} |"));
            }
            println!("{line}");
        }
    }
}
