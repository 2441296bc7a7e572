//! Each decision of the detector on synthesised audio: silence, voiced
//! "words" (a glottal pulse train shaped by three formants, with a syllable
//! envelope), noise and fax tones. No recording or speech synthesiser is
//! needed.

use super::*;
use rand::{Rng, SeedableRng};

const RATE: f64 = 8000.0;

fn samples(ms: f64) -> usize {
    (ms * RATE / 1000.0).round() as usize
}

/// A signal under construction, in floating point on the 16-bit scale.
#[derive(Clone)]
struct Signal {
    x: Vec<f64>,
    rng: rand::rngs::StdRng,
}

impl Signal {
    fn new(seed: u64) -> Self {
        Signal {
            x: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        }
    }

    fn silence(&mut self, ms: f64) -> &mut Self {
        self.x.extend(std::iter::repeat_n(0.0, samples(ms)));
        self
    }

    /// A voiced word of `ms` with its peak near `peak` (16-bit scale): a
    /// pulse train at a gliding pitch through three formant resonators,
    /// under a rise-hold-fall envelope with a syllable ripple.
    fn word(&mut self, ms: f64, peak: f64) -> &mut Self {
        let n = samples(ms);
        let f0_start: f64 = self.rng.random_range(110.0..230.0);
        let f0_end = f0_start * self.rng.random_range(0.8..1.25);
        let formants: [(f64, f64); 3] = [
            (self.rng.random_range(500.0..800.0), 80.0),
            (self.rng.random_range(1000.0..1600.0), 100.0),
            (self.rng.random_range(2300.0..2800.0), 150.0),
        ];
        // Two-pole resonators, each normalised to a gain of about 1 at its peak.
        let mut filters: Vec<(f64, f64, f64, f64, f64)> = formants
            .iter()
            .map(|&(f, bw)| {
                let r = (-std::f64::consts::PI * bw / RATE).exp();
                let a1 = 2.0 * r * (std::f64::consts::TAU * f / RATE).cos();
                let a2 = -r * r;
                (a1, a2, 1.0 - r, 0.0, 0.0)
            })
            .collect();
        let mut phase = 0.0;
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let t = i as f64 / n as f64;
            let f0 = f0_start + (f0_end - f0_start) * t;
            phase += f0 / RATE;
            let pulse = if phase >= 1.0 {
                phase -= 1.0;
                1.0
            } else {
                0.0
            };
            let mut y = 0.0;
            for (a1, a2, g, y1, y2) in filters.iter_mut() {
                let v = *g * pulse + *a1 * *y1 + *a2 * *y2;
                *y2 = *y1;
                *y1 = v;
                y += v;
            }
            let rise = (t * n as f64 / samples(30.0) as f64).min(1.0);
            let fall = ((1.0 - t) * n as f64 / samples(40.0) as f64).min(1.0);
            let ripple = 0.75 + 0.25 * (std::f64::consts::TAU * 4.0 * t * ms / 1000.0).cos();
            out.push(y * rise * fall * ripple);
        }
        let max = out.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-9);
        self.x.extend(out.iter().map(|v| v / max * peak));
        self
    }

    /// A sine burst at `dbm0`, with its phase reversed every
    /// `reversal_ms` (0: never) and amplitude-modulated at 15 Hz by `am`
    /// (ANSam uses 0.2).
    fn tone(&mut self, hz: f64, dbm0: f64, ms: f64, reversal_ms: f64, am: f64) -> &mut Self {
        let amp = crate::dtmf::DBM0_PEAK as f64 * 10f64.powf(dbm0 / 20.0);
        let reversal = if reversal_ms > 0.0 {
            samples(reversal_ms)
        } else {
            usize::MAX
        };
        for i in 0..samples(ms) {
            let t = i as f64 / RATE;
            let sign = if (i / reversal) % 2 == 0 { 1.0 } else { -1.0 };
            let envelope = 1.0 + am * (std::f64::consts::TAU * 15.0 * t).sin();
            self.x
                .push(sign * amp * envelope * (std::f64::consts::TAU * hz * t).sin() / (1.0 + am));
        }
        self
    }

    /// Adds Gaussian white noise with this RMS to everything so far.
    fn noise(&mut self, rms: f64) -> &mut Self {
        for v in self.x.iter_mut() {
            let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = self.rng.random();
            *v += rms * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        }
        self
    }

    /// Scales everything by `db`.
    fn gain(&mut self, db: f64) -> &mut Self {
        let g = 10f64.powf(db / 20.0);
        self.x.iter_mut().for_each(|v| *v *= g);
        self
    }

    fn pcm(&self) -> Vec<i16> {
        self.x
            .iter()
            .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    fn decide(&self, config: AmdConfig) -> AmdDecision {
        detect(&self.pcm(), 8000, config)
    }
}

/// Peak of a comfortable talker: −10 dBFS.
const TALK: f64 = 10362.0;

fn improved() -> AmdConfig {
    AmdConfig::default()
}

fn asterisk() -> AmdConfig {
    AmdConfig::asterisk()
}

fn assert_decision(d: AmdDecision, verdict: AmdVerdict, cause: AmdCause, ms: std::ops::Range<u32>) {
    assert_eq!((d.verdict, d.cause), (verdict, cause), "{d:?}");
    assert!(
        ms.contains(&d.at_ms),
        "{d:?} should be decided in {ms:?} ms"
    );
}

#[test]
fn a_short_hello_then_silence_is_a_person() {
    let mut s = Signal::new(1);
    s.silence(600.0).word(400.0, TALK).silence(3000.0);
    // The improved detector needs 500 ms of silence after a short greeting...
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Person,
        AmdCause::GreetingThenSilence,
        1440..1560,
    );
    // ...`app_amd` 800 ms.
    assert_decision(
        s.decide(asterisk()),
        AmdVerdict::Person,
        AmdCause::GreetingThenSilence,
        1740..1860,
    );
}

#[test]
fn a_two_word_greeting_longer_than_short_waits_the_full_silence() {
    let mut s = Signal::new(2);
    s.silence(500.0)
        .word(500.0, TALK)
        .silence(200.0)
        .word(550.0, TALK)
        .silence(3000.0);
    // About 1 s of speech: more than the short greeting, less than the long one.
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Person,
        AmdCause::GreetingThenSilence,
        2500..2600,
    );
}

#[test]
fn silence_from_the_answer_is_a_machine_after_the_initial_silence() {
    let mut s = Signal::new(3);
    s.silence(4000.0);
    for config in [improved(), asterisk()] {
        assert_decision(
            s.decide(config),
            AmdVerdict::Machine,
            AmdCause::InitialSilence,
            2500..2501,
        );
    }
}

#[test]
fn a_long_greeting_is_a_machine() {
    let mut s = Signal::new(4);
    // Two long runs of speech, 30 ms apart (too short a gap to end a word).
    s.silence(300.0)
        .word(1000.0, TALK)
        .silence(30.0)
        .word(1000.0, TALK)
        .silence(2000.0);
    for config in [improved(), asterisk()] {
        assert_decision(
            s.decide(config),
            AmdVerdict::Machine,
            AmdCause::LongGreeting,
            1780..1900,
        );
    }
}

#[test]
fn the_third_word_is_a_machine() {
    let mut s = Signal::new(5);
    s.silence(400.0);
    for _ in 0..4 {
        s.word(250.0, TALK).silence(150.0);
    }
    // The third word starts at 400 + 2 × 400 = 1200 ms and counts after 100 ms.
    let three_words = AmdConfig {
        max_words: 3,
        ..improved()
    };
    for config in [three_words, asterisk()] {
        assert_decision(
            s.decide(config),
            AmdVerdict::Machine,
            AmdCause::MaxWords,
            1280..1360,
        );
    }
}

#[test]
fn one_word_longer_than_the_maximum_is_a_machine() {
    let mut s = Signal::new(6);
    s.silence(300.0).word(1500.0, TALK).silence(2000.0);
    let config = AmdConfig {
        max_word_ms: 1000,
        greeting_ms: 3000,
        ..improved()
    };
    assert_decision(
        s.decide(config),
        AmdVerdict::Machine,
        AmdCause::MaxWordLength,
        1280..1380,
    );
}

#[test]
fn clicks_that_are_never_words_run_out_the_analysis_time() {
    let mut s = Signal::new(7);
    // A 60 ms burst every 900 ms: each ends the initial silence's count, none
    // is long enough to be a word.
    for _ in 0..7 {
        s.silence(840.0).word(60.0, TALK);
    }
    for config in [improved(), asterisk()] {
        assert_decision(
            s.decide(config),
            AmdVerdict::Unsure,
            AmdCause::TooLong,
            5000..5001,
        );
    }
}

#[test]
fn a_cng_burst_is_a_fax_when_it_ends() {
    for dbm0 in [-40.0, -20.0, -3.0] {
        let mut s = Signal::new(8);
        s.silence(300.0)
            .tone(1100.0, dbm0, 500.0, 0.0, 0.0)
            .silence(3000.0)
            .tone(1100.0, dbm0, 500.0, 0.0, 0.0);
        // The burst ends at 800 ms; its end is seen three frames later.
        assert_decision(
            s.decide(improved()),
            AmdVerdict::Fax,
            AmdCause::Cng,
            800..900,
        );
    }
}

#[test]
fn cng_off_frequency_by_the_tolerance_and_in_noise_is_still_a_fax() {
    for hz in [1062.0, 1138.0] {
        let mut s = Signal::new(9);
        s.silence(300.0)
            .tone(hz, -25.0, 500.0, 0.0, 0.0)
            .silence(3000.0);
        // White noise 10 dB below the tone.
        let tone_rms = crate::dtmf::DBM0_PEAK as f64 * 10f64.powf(-25.0 / 20.0) / 2f64.sqrt();
        s.noise(tone_rms / 10f64.powf(10.0 / 20.0));
        assert_decision(
            s.decide(improved()),
            AmdVerdict::Fax,
            AmdCause::Cng,
            800..900,
        );
    }
}

#[test]
fn a_ced_tone_is_a_fax_after_two_and_a_half_seconds() {
    let mut s = Signal::new(10);
    s.silence(200.0)
        .tone(2100.0, -15.0, 3300.0, 0.0, 0.0)
        .silence(1000.0);
    for config in [improved(), asterisk()] {
        assert_decision(s.decide(config), AmdVerdict::Fax, AmdCause::Ced, 2700..2740);
    }
}

#[test]
fn ansam_with_phase_reversals_and_modulation_is_a_fax() {
    let mut s = Signal::new(11);
    s.silence(200.0)
        .tone(2100.0, -30.0, 4000.0, 450.0, 0.2)
        .silence(1000.0);
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Fax,
        AmdCause::Ced,
        2700..2780,
    );
}

#[test]
fn a_fax_tone_starting_late_still_decides_a_fax() {
    // The tone holds the analysis: neither the initial silence (2.5 s) nor
    // the total time (5 s) cuts a CED that starts at 2.4 s.
    let mut s = Signal::new(12);
    s.silence(2400.0)
        .tone(2100.0, -20.0, 3000.0, 0.0, 0.0)
        .silence(500.0);
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Fax,
        AmdCause::Ced,
        4900..4940,
    );
}

#[test]
fn a_beep_and_speech_are_not_fax_tones() {
    // A machine's 1000 Hz beep of 500 ms after its message, and a 1400 Hz one.
    for hz in [1000.0, 1400.0] {
        let mut s = Signal::new(13);
        s.silence(300.0)
            .tone(hz, -10.0, 500.0, 0.0, 0.0)
            .silence(4000.0);
        let d = s.decide(improved());
        assert_ne!(d.verdict, AmdVerdict::Fax, "{hz} Hz: {d:?}");
    }
    // Long speech in many pitches never holds a fax bin.
    for seed in 0..20 {
        let mut s = Signal::new(100 + seed);
        s.silence(200.0);
        for _ in 0..6 {
            s.word(700.0, TALK).silence(40.0);
        }
        let d = s.decide(AmdConfig {
            greeting_ms: 10_000,
            max_words: 100,
            ..improved()
        });
        assert_ne!(d.verdict, AmdVerdict::Fax, "seed {seed}: {d:?}");
    }
}

#[test]
fn noise_alone_is_not_speech() {
    // Steady line noise with a mean absolute value of about 640, far above
    // `app_amd`'s fixed threshold of 256.
    let mut s = Signal::new(14);
    s.silence(5000.0).noise(800.0);
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Machine,
        AmdCause::InitialSilence,
        2500..2501,
    );
    // `app_amd` hears one long greeting.
    assert_eq!(s.decide(asterisk()).cause, AmdCause::LongGreeting);
}

#[test]
fn a_hello_in_noise_is_still_a_person() {
    let mut s = Signal::new(15);
    s.silence(700.0).word(450.0, TALK).silence(3000.0);
    // Speech peak 10362; noise RMS 300 (mean abs 240): about 20 dB below
    // the word's RMS.
    s.noise(300.0);
    assert_decision(
        s.decide(improved()),
        AmdVerdict::Person,
        AmdCause::GreetingThenSilence,
        1560..1720,
    );
}

#[test]
fn the_verdict_does_not_depend_on_the_level() {
    let mut base = Signal::new(16);
    base.silence(500.0)
        .word(300.0, TALK)
        .silence(120.0)
        .word(250.0, TALK)
        .silence(3000.0);
    let reference = base.decide(improved());
    assert_eq!(reference.verdict, AmdVerdict::Person, "{reference:?}");
    for db in [-20.0, -10.0, 0.0, 10.0] {
        let mut s = base.clone();
        s.gain(db);
        let d = s.decide(improved());
        assert_eq!(
            (d.verdict, d.cause),
            (reference.verdict, reference.cause),
            "{db} dB: {d:?}"
        );
        assert!(
            d.at_ms.abs_diff(reference.at_ms) <= 60,
            "{db} dB: {d:?} against {reference:?}"
        );
    }
    // With a fixed threshold the quiet version is silence: a machine.
    let mut quiet = base.clone();
    quiet.gain(-20.0);
    assert_eq!(quiet.decide(asterisk()).verdict, AmdVerdict::Machine);
}

#[test]
fn a_short_greeting_is_decided_within_its_length_plus_half_a_second() {
    for (seed, lead, word) in [(17, 300.0, 250.0), (18, 900.0, 350.0), (19, 1500.0, 500.0)] {
        let mut s = Signal::new(seed);
        s.silence(lead).word(word, TALK).silence(3000.0);
        let d = s.decide(improved());
        assert_eq!(d.verdict, AmdVerdict::Person, "{d:?}");
        let end_of_speech = (lead + word) as u32;
        assert!(
            d.at_ms <= end_of_speech + 500 + 20,
            "{d:?}: speech ended at {end_of_speech} ms"
        );
    }
}

#[test]
fn a_machine_pausing_after_its_first_word_is_not_taken_for_a_person() {
    // "Hi, ... you've reached ...": a short first word, a 300 ms pause (a
    // comma), then a long message.
    let mut s = Signal::new(20);
    s.silence(400.0)
        .word(300.0, TALK)
        .silence(300.0)
        .word(1600.0, TALK)
        .silence(2000.0);
    assert_eq!(s.decide(improved()).verdict, AmdVerdict::Machine);
}

#[test]
fn chunks_of_any_size_give_the_same_decision() {
    let mut s = Signal::new(21);
    s.silence(450.0).word(380.0, TALK).silence(3000.0);
    let pcm = s.pcm();
    let whole = detect(&pcm, 8000, improved());
    for chunk in [1, 7, 160, 333] {
        let mut det = AmdDetector::new(improved());
        let mut found = None;
        for part in pcm.chunks(chunk) {
            if let Some(d) = det.push(part) {
                assert!(found.is_none(), "decided twice");
                found = Some(d);
            }
        }
        assert_eq!(found, Some(whole), "chunks of {chunk}");
        assert_eq!(det.decision(), Some(whole));
        assert_eq!(det.push(&pcm[..160]), None, "no second decision");
    }
}

#[test]
fn other_rates_are_resampled() {
    let mut s = Signal::new(22);
    s.silence(600.0).word(400.0, TALK).silence(3000.0);
    let at_8k = s.decide(improved());
    let at_16k = crate::resample::resample(&s.pcm(), 8000, 16000);
    let d = detect(&at_16k, 16000, improved());
    assert_eq!((d.verdict, d.cause), (at_8k.verdict, at_8k.cause));
    assert!(d.at_ms.abs_diff(at_8k.at_ms) <= 40, "{d:?} {at_8k:?}");
}

#[test]
fn decisions_print_as_the_cli_line() {
    let d = AmdDecision {
        verdict: AmdVerdict::Person,
        cause: AmdCause::GreetingThenSilence,
        at_ms: 1420,
    };
    assert_eq!(d.to_string(), "person 1.42");
    let d = AmdDecision {
        verdict: AmdVerdict::Fax,
        cause: AmdCause::Ced,
        at_ms: 2705,
    };
    assert_eq!(d.to_string(), "fax 2.70");
}

#[test]
fn settings_parse_from_yaml_with_defaults_for_the_rest() {
    let config: AmdConfig =
        serde_yaml::from_str("greeting_ms: 2000\nmax_words: 4\nadaptive_threshold: false\n")
            .unwrap();
    assert_eq!(config.greeting_ms, 2000);
    assert_eq!(config.max_words, 4);
    assert!(!config.adaptive_threshold);
    assert_eq!(config.initial_silence_ms, 2500);
    assert_eq!(config.after_greeting_silence_ms, 800);
    assert_eq!(
        config.short_greeting_ms,
        AmdConfig::default().short_greeting_ms
    );
    assert!(config.validate().is_ok());

    // `app_amd`'s defaults; ours differ only in `max_words` and the refinements.
    let defaults = AmdConfig::asterisk();
    assert_eq!(
        AmdConfig {
            max_words: 3,
            adaptive_threshold: false,
            short_greeting_ms: 0,
            ..AmdConfig::default()
        },
        defaults
    );
    for (field, value) in [
        (defaults.initial_silence_ms, 2500),
        (defaults.greeting_ms, 1500),
        (defaults.after_greeting_silence_ms, 800),
        (defaults.total_analysis_ms, 5000),
        (defaults.min_word_ms, 100),
        (defaults.between_words_ms, 50),
        (defaults.max_word_ms, 5000),
        (defaults.max_words, 3),
        (defaults.silence_threshold as u32, 256),
    ] {
        assert_eq!(field, value);
    }

    let unknown = serde_yaml::from_str::<AmdConfig>("greting_ms: 2000\n").unwrap_err();
    assert!(unknown.to_string().contains("greting_ms"), "{unknown}");
    let zero: AmdConfig = serde_yaml::from_str("max_words: 0\n").unwrap();
    assert_eq!(
        zero.validate(),
        Err(AmdConfigError::Invalid(
            "max_words must be more than 0".into()
        ))
    );
}

#[test]
fn three_syllables_are_a_person_by_default_and_a_machine_for_app_amd() {
    // "喂，你好": three syllables, 200-300 ms each, with short dips between.
    let mut s = Signal::new(23);
    s.silence(700.0)
        .word(280.0, TALK)
        .silence(140.0)
        .word(200.0, TALK)
        .silence(70.0)
        .word(260.0, TALK)
        .silence(3000.0);
    let d = s.decide(improved());
    assert_eq!(
        (d.verdict, d.cause),
        (AmdVerdict::Person, AmdCause::GreetingThenSilence),
        "{d:?}"
    );
    let d = s.decide(asterisk());
    assert_eq!(
        (d.verdict, d.cause),
        (AmdVerdict::Machine, AmdCause::MaxWords)
    );
}

#[test]
fn a_lone_click_does_not_restart_the_silence_after_a_greeting() {
    let mut with_click = Signal::new(24);
    with_click.silence(600.0).word(400.0, TALK).silence(200.0);
    // One loud 20 ms frame, frame-aligned, 200 ms into the silence.
    with_click
        .x
        .extend((0..160).map(|i| if i % 2 == 0 { 3000.0 } else { -3000.0 }));
    with_click.silence(3000.0);
    let mut without = Signal::new(24);
    without.silence(600.0).word(400.0, TALK).silence(3200.0);
    let (a, b) = (with_click.decide(improved()), without.decide(improved()));
    assert_eq!((a.verdict, a.cause), (b.verdict, b.cause), "{a:?} {b:?}");
    assert_eq!(a.at_ms, b.at_ms, "the click counts as silence");
}
