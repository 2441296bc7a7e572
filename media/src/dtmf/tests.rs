//! Tests of the in-band detector against each criterion of `shared/DTMF.md`.
//! Signals are synthesized here in floating point and quantized to 16 bits.

use super::*;
use rand::{Rng, SeedableRng};

const RATE: f64 = 8000.0;

fn samples(ms: f64) -> usize {
    (ms * RATE / 1000.0).round() as usize
}

/// A signal under construction, in floating point on the 16-bit scale.
#[derive(Clone, Default)]
struct Signal(Vec<f64>);

impl Signal {
    fn silence(&mut self, ms: f64) -> &mut Self {
        self.0.extend(std::iter::repeat_n(0.0, samples(ms)));
        self
    }

    fn silence_samples(&mut self, n: usize) -> &mut Self {
        self.0.extend(std::iter::repeat_n(0.0, n));
        self
    }

    /// Two tones with independent levels (dBm0 each).
    fn tones(&mut self, f1: f64, l1: f64, f2: f64, l2: f64, ms: f64) -> &mut Self {
        let (a1, a2) = (amp(l1), amp(l2));
        let n = samples(ms);
        // Arbitrary but fixed starting phases, different per call.
        let p1 = self.0.len() as f64 * 0.37;
        let p2 = self.0.len() as f64 * 0.91;
        for i in 0..n {
            let t = i as f64 / RATE;
            self.0.push(
                a1 * (std::f64::consts::TAU * f1 * t + p1).sin()
                    + a2 * (std::f64::consts::TAU * f2 * t + p2).sin(),
            );
        }
        self
    }

    fn key(&mut self, key: DtmfKey, level: f64, ms: f64) -> &mut Self {
        let (lo, hi) = key.frequencies();
        self.tones(lo as f64, level, hi as f64, level, ms)
    }

    /// Adds `other` sample by sample from the start.
    fn add(&mut self, other: &[f64]) -> &mut Self {
        if other.len() > self.0.len() {
            self.0.resize(other.len(), 0.0);
        }
        for (a, b) in self.0.iter_mut().zip(other) {
            *a += b;
        }
        self
    }

    fn pcm(&self) -> Vec<i16> {
        self.0
            .iter()
            .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
            .collect()
    }

    fn detect(&self) -> Vec<DetectedDigit> {
        detect(&self.pcm(), 8000)
    }
}

fn amp(dbm0: f64) -> f64 {
    DBM0_PEAK as f64 * 10f64.powf(dbm0 / 20.0)
}

/// Gaussian white noise with the power of a sine at `dbm0`.
fn noise(dbm0: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sigma = amp(dbm0) / 2f64.sqrt();
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random();
            sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

fn keys(found: &[DetectedDigit]) -> String {
    found.iter().map(|d| d.key.as_char()).collect()
}

/// One key of `ms` at `level`, after `lead` samples of silence, then 100 ms of silence.
fn single(key_fn: impl FnOnce(&mut Signal), lead: usize) -> Vec<DetectedDigit> {
    let mut s = Signal::default();
    s.silence_samples(lead);
    key_fn(&mut s);
    s.silence(100.0);
    s.detect()
}

#[test]
fn every_key_at_nominal_frequencies_with_start_and_length() {
    let mut s = Signal::default();
    s.silence(30.0);
    for k in DtmfKey::ALL {
        s.key(k, -10.0, 60.0).silence(60.0);
    }
    let found = s.detect();
    assert_eq!(keys(&found), "0123456789*#ABCD");
    for (i, d) in found.iter().enumerate() {
        let start = 30 + 120 * i as i64;
        assert!(
            (d.start_ms as i64 - start).abs() <= 8,
            "{d:?} should start at {start}"
        );
        assert!(
            (d.duration_ms as i64 - 60).abs() <= 10,
            "{d:?} should last 60 ms"
        );
    }
}

/// (row deviation, column deviation) pairs: each tone alone and both together.
fn deviations(d: f64) -> [(f64, f64); 8] {
    [
        (d, 0.0),
        (-d, 0.0),
        (0.0, d),
        (0.0, -d),
        (d, d),
        (-d, -d),
        (d, -d),
        (-d, d),
    ]
}

#[test]
fn frequency_within_1_5_percent_is_accepted() {
    let mut failures = Vec::new();
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        let (lo, hi) = k.frequencies();
        for (j, (dl, dh)) in deviations(0.015).into_iter().enumerate() {
            let found = single(
                |s| {
                    s.tones(
                        lo as f64 * (1.0 + dl),
                        -10.0,
                        hi as f64 * (1.0 + dh),
                        -10.0,
                        50.0,
                    );
                },
                (i * 8 + j) * 7 % 51,
            );
            if found.len() != 1 || found[0].key != k {
                failures.push(format!("{k} {dl:+} {dh:+}: {}", keys(&found)));
            }
        }
    }
    assert!(failures.is_empty(), "not detected: {failures:#?}");
}

#[test]
fn frequency_off_by_3_5_percent_is_rejected() {
    let mut failures = Vec::new();
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        let (lo, hi) = k.frequencies();
        for (j, (dl, dh)) in deviations(0.035).into_iter().enumerate() {
            let found = single(
                |s| {
                    s.tones(
                        lo as f64 * (1.0 + dl),
                        -10.0,
                        hi as f64 * (1.0 + dh),
                        -10.0,
                        200.0,
                    );
                },
                (i * 8 + j) * 7 % 51,
            );
            if !found.is_empty() {
                failures.push(format!("{k} {dl:+} {dh:+}: {}", keys(&found)));
            }
        }
    }
    assert!(failures.is_empty(), "wrongly detected: {failures:#?}");
}

/// Below 697 Hz there is no row tone to out-shine a low stray tone; scan the
/// whole band below it and above 1633 Hz (and between the groups).
#[test]
fn edges_of_the_bands_are_rejected() {
    let mut failures = Vec::new();
    for col in COL_FREQS {
        for dev in [-0.035, -0.04, -0.05, -0.07, -0.1, -0.15, -0.2] {
            let f = 697.0 * (1.0 + dev);
            if !single(
                |s| {
                    s.tones(f, -8.0, col as f64, -8.0, 200.0);
                },
                11,
            )
            .is_empty()
            {
                failures.push(format!("{f:.1} + {col}"));
            }
        }
    }
    for row in ROW_FREQS {
        for dev in [0.035, 0.04, 0.05, 0.07, 0.1, 0.15, 0.2] {
            let f = 1633.0 * (1.0 + dev);
            if !single(
                |s| {
                    s.tones(row as f64, -8.0, f, -8.0, 200.0);
                },
                11,
            )
            .is_empty()
            {
                failures.push(format!("{row} + {f:.1}"));
            }
        }
        // Just above 941 and just below 1209.
        for (f, high) in [
            (941.0 * 1.035, true),
            (941.0 * 1.06, true),
            (1209.0 * 0.965, false),
            (1209.0 * 0.94, false),
        ] {
            let found = if high {
                single(
                    |s| {
                        s.tones(f, -8.0, 1336.0, -8.0, 200.0);
                    },
                    5,
                )
            } else {
                single(
                    |s| {
                        s.tones(row as f64, -8.0, f, -8.0, 200.0);
                    },
                    5,
                )
            };
            if !found.is_empty() {
                failures.push(format!("{f:.1} high={high} row {row}"));
            }
        }
    }
    assert!(failures.is_empty(), "wrongly detected: {failures:#?}");
}

#[test]
fn twist_limits() {
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        let (lo, hi) = k.frequencies();
        let (lo, hi) = (lo as f64, hi as f64);
        let lead = i * 13 % 51;
        // Normal twist: the low tone louder by 8 dB is accepted.
        let f = single(
            |s| {
                s.tones(lo, -6.0, hi, -14.0, 60.0);
            },
            lead,
        );
        assert_eq!(keys(&f), k.to_string(), "{k}: normal twist 8 dB");
        // Reverse twist: the high tone louder by 4 dB is accepted.
        let f = single(
            |s| {
                s.tones(lo, -10.0, hi, -6.0, 60.0);
            },
            lead,
        );
        assert_eq!(keys(&f), k.to_string(), "{k}: reverse twist 4 dB");
        // Well beyond the limits both ways is rejected.
        let f = single(
            |s| {
                s.tones(lo, -4.0, hi, -16.0, 200.0);
            },
            lead,
        );
        assert!(f.is_empty(), "{k}: normal twist 12 dB detected");
        let f = single(
            |s| {
                s.tones(lo, -14.0, hi, -6.0, 200.0);
            },
            lead,
        );
        assert!(f.is_empty(), "{k}: reverse twist 8 dB detected");
    }
}

#[test]
fn forty_ms_is_a_digit_and_under_twenty_is_not() {
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        // Every alignment of the tone against the 51-sample blocks.
        for lead in (0..51).step_by(5) {
            let found = single(
                |s| {
                    s.key(k, -10.0, 40.0);
                },
                lead + i,
            );
            assert_eq!(keys(&found), k.to_string(), "{k} 40 ms lead {lead}");
            let d = found[0];
            assert!((d.duration_ms as i64 - 40).abs() <= 12, "{d:?}");
            for ms in [19.9, 15.0, 10.0] {
                let found = single(
                    |s| {
                        s.key(k, -10.0, ms);
                    },
                    lead + i,
                );
                assert!(found.is_empty(), "{k} {ms} ms lead {lead}: {found:?}");
            }
        }
    }
}

#[test]
fn forty_ms_pause_separates_the_same_key_twice() {
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        for lead in (0..51).step_by(10) {
            let mut s = Signal::default();
            s.silence_samples(lead + i);
            s.key(k, -10.0, 40.0)
                .silence(40.0)
                .key(k, -10.0, 40.0)
                .silence(40.0);
            let other = DtmfKey::ALL[(i + 5) % 16];
            s.key(other, -10.0, 40.0).silence(100.0);
            let expected: String = [k, k, other].iter().map(|k| k.as_char()).collect();
            assert_eq!(keys(&s.detect()), expected, "lead {lead}");
        }
    }
}

#[test]
fn level_range() {
    for (i, k) in DtmfKey::ALL.into_iter().enumerate() {
        for level in [-4.0, -10.0, -20.0, -26.0] {
            let found = single(
                |s| {
                    s.key(k, level, 50.0);
                },
                i * 3,
            );
            assert_eq!(keys(&found), k.to_string(), "{k} at {level} dBm0");
        }
        let found = single(
            |s| {
                s.key(k, -45.0, 200.0);
            },
            i * 3,
        );
        assert!(found.is_empty(), "{k} at -45 dBm0 detected");
    }
}

/// Through G.711 both ways, as on a real call.
#[test]
fn levels_survive_g711() {
    for law in [crate::g711::Law::Ulaw, crate::g711::Law::Alaw] {
        for level in [-4.0, -26.0] {
            let mut s = Signal::default();
            for k in DtmfKey::ALL {
                s.key(k, level, 50.0).silence(50.0);
            }
            let pcm = s.pcm();
            let mut codes = vec![0u8; pcm.len()];
            law.encode(&pcm, &mut codes);
            let mut back = vec![0i16; pcm.len()];
            law.decode(&codes, &mut back);
            assert_eq!(
                keys(&detect(&back, 8000)),
                "0123456789*#ABCD",
                "{law:?} {level}"
            );
        }
    }
}

#[test]
fn detected_in_white_noise_at_15_db_snr() {
    for seed in 0..3u64 {
        let mut s = Signal::default();
        s.silence(50.0);
        for k in DtmfKey::ALL {
            s.key(k, -13.0, 50.0).silence(60.0);
        }
        // Two tones at -13 dBm0 each: the DTMF power is that of -10 dBm0;
        // noise 15 dB below it.
        let n = s.0.len();
        s.add(&noise(-25.0, n, seed));
        assert_eq!(keys(&s.detect()), "0123456789*#ABCD", "seed {seed}");
    }
}

#[test]
fn detected_ten_db_above_dial_tone() {
    let mut s = Signal::default();
    s.silence(50.0);
    for k in DtmfKey::ALL {
        s.key(k, -10.0, 50.0).silence(60.0);
    }
    let mut dial = Signal::default();
    dial.tones(350.0, -20.0, 440.0, -20.0, s.0.len() as f64 / 8.0);
    s.add(&dial.0);
    assert_eq!(keys(&s.detect()), "0123456789*#ABCD");
}

#[test]
fn dial_tone_single_tones_and_noise_alone_are_never_digits() {
    for level in [-3.0, -10.0, -20.0, -30.0] {
        let mut dial = Signal::default();
        dial.tones(350.0, level, 440.0, level, 5000.0);
        assert!(dial.detect().is_empty(), "dial tone at {level}");
        // Other call-progress tones: busy/ringback (480+620, 440+480) and 450 Hz (China).
        let mut cp = Signal::default();
        cp.tones(480.0, level, 620.0, level, 1000.0)
            .tones(440.0, level, 480.0, level, 1000.0);
        cp.tones(450.0, level, 450.0, -90.0, 1000.0);
        assert!(cp.detect().is_empty(), "call progress tones at {level}");
    }
    for f in ROW_FREQS.iter().chain(COL_FREQS.iter()) {
        for dev in [0.0, 0.015, -0.015] {
            for level in [-3.0, -10.0, -26.0] {
                let mut s = Signal::default();
                s.tones(*f as f64 * (1.0 + dev), level, 100.0, -200.0, 500.0);
                assert!(s.detect().is_empty(), "single tone {f} {dev} {level}");
            }
        }
        // A single tone in noise.
        let mut s = Signal::default();
        s.tones(*f as f64, -10.0, 100.0, -200.0, 500.0);
        let n = s.0.len();
        s.add(&noise(-25.0, n, 7));
        assert!(s.detect().is_empty(), "single tone {f} in noise");
    }
    for (seed, level) in [(1, -3.0), (2, -10.0), (3, -20.0), (4, -35.0)] {
        let mut s = Signal::default();
        s.add(&noise(level, 8000 * 10, seed));
        assert!(s.detect().is_empty(), "noise at {level}");
    }
}

#[test]
fn streaming_matches_batch_and_reports_pressed() {
    let mut s = Signal::default();
    s.silence(25.0);
    for k in [DtmfKey::Key1, DtmfKey::Pound, DtmfKey::Key1, DtmfKey::D] {
        s.key(k, -12.0, 70.0).silence(55.0);
    }
    let pcm = s.pcm();
    let batch = detect(&pcm, 8000);
    let mut det = InbandDetector::new();
    let mut streamed = Vec::new();
    let mut pressed_seen = Vec::new();
    for frame in pcm.chunks(160) {
        if let Some(d) = det.push_frame(frame) {
            streamed.push(d);
        }
        if let Some(k) = det.pressed()
            && pressed_seen.last() != Some(&k)
        {
            pressed_seen.push(k);
        }
    }
    streamed.extend(det.finish());
    assert_eq!(batch, streamed);
    assert_eq!(keys(&batch), "1#1D");
    assert_eq!(pressed_seen.len(), 4);
    assert_eq!(det.position(), pcm.len() as u64);
    // A digit still held at the end is reported by finish().
    let mut det = InbandDetector::new();
    let mut s = Signal::default();
    s.key(DtmfKey::Key9, -10.0, 100.0);
    assert_eq!(det.push_frame(&s.pcm()[..160]), None);
    for f in s.pcm()[160..].chunks(160) {
        assert_eq!(det.push_frame(f), None);
    }
    assert_eq!(det.pressed(), Some(DtmfKey::Key9));
    assert_eq!(det.finish().map(|d| d.key), Some(DtmfKey::Key9));
    assert_eq!(det.pressed(), None);
    // Other sample rates are resampled first.
    let pcm16 = crate::resample::resample(&pcm, 8000, 16000);
    assert_eq!(keys(&detect(&pcm16, 16000)), "1#1D");
}

/// Equal-tempered note frequency (A4 = 440 Hz).
fn note(semitones_from_a4: i32) -> f64 {
    440.0 * 2f64.powf(semitones_from_a4 as f64 / 12.0)
}

/// A note with harmonics (a crude instrument) added at `start` into `out`.
fn instrument(out: &mut [f64], start: usize, len: usize, f: f64, level: f64) {
    let harmonics = [1.0, 0.5, 0.33, 0.25, 0.2];
    for i in 0..len.min(out.len().saturating_sub(start)) {
        let t = i as f64 / RATE;
        let env = (1.0 - i as f64 / len as f64).max(0.0).sqrt();
        let mut v = 0.0;
        for (h, a) in harmonics.iter().enumerate() {
            let fh = f * (h + 1) as f64;
            if fh < 3900.0 {
                v += a * (std::f64::consts::TAU * fh * t).sin();
            }
        }
        out[start + i] += amp(level) * env * v;
    }
}

#[test]
fn music_like_signals_are_never_digits() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    // Chords: major and minor triads and sevenths on every semitone over
    // three octaves, played as instruments with harmonics.
    let mut chords = vec![0.0; 8000 * 40];
    let mut pos = 0;
    for root in -24..12 {
        for shape in [[0, 4, 7, 12], [0, 3, 7, 10], [0, 4, 7, 11], [0, 5, 7, 12]] {
            let len = 2000;
            for s in shape {
                instrument(&mut chords, pos, len, note(root + s), -18.0);
            }
            pos += len;
            if pos + len > chords.len() {
                break;
            }
        }
    }
    assert!(Signal(chords).detect().is_empty(), "chords");
    // Random melodies of two voices with harmonics.
    let mut melody = vec![0.0; 8000 * 30];
    let mut pos = 0;
    while pos + 1600 < melody.len() {
        let len = rng.random_range(400..1600);
        instrument(
            &mut melody,
            pos,
            len,
            note(rng.random_range(-12..15)),
            -15.0,
        );
        instrument(&mut melody, pos, len, note(rng.random_range(0..27)), -17.0);
        pos += len;
    }
    assert!(Signal(melody).detect().is_empty(), "melody");
    // Sweeps. One tone at any speed. Two tones moving together: every
    // frequency ratio between 1.22 and 2.46 passes within ±3.5 % of some
    // DTMF pair (pair ratios are 1.29, 1.42, 1.57, 1.73, 1.92, 2.12, 2.34),
    // so a slow two-tone sweep at such a ratio *is* a valid digit for a
    // moment; those are only checked at musical glissando speeds, and slow
    // ones use ratios outside that range (a major second, an octave and a
    // fifth).
    let sweeps: &[(f64, f64, &[f64])] = &[
        (100.0, 20.0, &[1.125, 3.0]),
        (400.0, 6.0, &[1.125, 3.0]),
        (3000.0, 1.2, &[1.125, 1.5, 2.0, 3.0]),
        (6000.0, 0.6, &[1.25, 1.5, 1.75, 2.0]),
    ];
    for &(rate_hz_per_s, secs, ratios) in sweeps {
        let n = (secs * RATE) as usize;
        let mut one = Vec::with_capacity(n);
        let mut p1 = 0.0f64;
        for i in 0..n {
            let f = 300.0 + rate_hz_per_s * i as f64 / RATE;
            p1 += std::f64::consts::TAU * f / RATE;
            one.push(amp(-10.0) * p1.sin());
        }
        assert!(Signal(one).detect().is_empty(), "sweep {rate_hz_per_s}");
        for &ratio in ratios {
            let mut two = Vec::with_capacity(n);
            let (mut p1, mut p2) = (0.0f64, 0.0f64);
            for i in 0..n {
                let f = 200.0 + rate_hz_per_s * i as f64 / RATE;
                p1 += std::f64::consts::TAU * f / RATE;
                p2 += std::f64::consts::TAU * f * ratio / RATE;
                two.push(amp(-13.0) * (p1.sin() + p2.sin()));
            }
            assert!(
                Signal(two).detect().is_empty(),
                "two-tone sweep {rate_hz_per_s} Hz/s ratio {ratio}"
            );
        }
    }
}

/// Synthesizes speech with espeak-ng, English and Mandarin, several voices,
/// speeds and pitches, and checks that none of it is taken for a digit.
#[test]
fn talk_off_speech_gives_no_digits() {
    let espeak = std::path::Path::new("/usr/bin/espeak-ng");
    if !espeak.exists() {
        eprintln!("espeak-ng is not installed; talk-off test skipped");
        return;
    }
    let english = "Thank you for calling the customer service hotline. For billing questions, press one. \
        To report a fault on your line, press three. For broadband and television, press four. \
        To speak to an agent, press zero, or stay on the line. Please enter your account number \
        followed by the pound key. Your estimated waiting time is four minutes. We are sorry, all our \
        agents are busy at the moment. Your call is important to us, please hold. Seven, eight, nine, \
        six, five, four, three, two, one. Zero. Star. Hash. Goodbye, and have a nice day.";
    let mandarin = "您好，欢迎致电中国电信客户服务热线。查询话费请按一，故障申告请按三，宽带业务请按四，\
        人工服务请按零。请输入您的账号，以井号键结束。现在坐席全忙，请您耐心等待，您的电话对我们很重要。\
        一二三四五六七八九零。谢谢您的来电，再见。";
    let runs: &[(&str, &str, &str, &str)] = &[
        ("en-us", "175", "50", english),
        ("en-us", "120", "70", english),
        ("en-us", "260", "35", english),
        ("en+f3", "160", "60", english),
        ("en+m7", "190", "40", english),
        ("en-gb+f4", "140", "80", english),
        ("cmn", "150", "50", mandarin),
        ("cmn", "110", "70", mandarin),
        ("cmn+f2", "200", "50", mandarin),
        ("cmn+m3", "170", "30", mandarin),
        ("cmn+f4", "130", "90", mandarin),
    ];
    let mut total = 0usize;
    let mut failures = Vec::new();
    for (voice, speed, pitch, text) in runs {
        let out = std::process::Command::new(espeak)
            .args(["--stdout", "-v", voice, "-s", speed, "-p", pitch, text])
            .output()
            .expect("espeak-ng runs");
        assert!(out.status.success(), "espeak-ng failed for {voice}");
        let dir = crate::prompt::tests_support::tempdir();
        let path = dir.join("speech.wav");
        std::fs::write(&path, &out.stdout).unwrap();
        let (pcm, rate) = crate::prompt::read_wav_mono(&path).unwrap();
        assert_eq!(rate, 8000);
        total += pcm.len();
        // At the level espeak produces and 10 dB louder (clipping is fine).
        for gain in [1.0f64, 3.16] {
            let scaled: Vec<i16> = pcm
                .iter()
                .map(|&s| (s as f64 * gain).clamp(-32768.0, 32767.0) as i16)
                .collect();
            let found = detect(&scaled, 8000);
            if !found.is_empty() {
                failures.push(format!("{voice} -s {speed} -p {pitch} x{gain}: {found:?}"));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let minutes = total as f64 / 8000.0 / 60.0;
    eprintln!("talk-off: {minutes:.1} minutes of speech");
    assert!(
        minutes > 2.0,
        "only {minutes:.1} minutes of speech synthesized"
    );
    assert!(failures.is_empty(), "talk-off: {failures:#?}");
}

/// Files written by another tool (sox): 44.1 kHz stereo with one tone per
/// channel (mixing to mono puts them together), read by `detect_wav`.
#[test]
fn detect_wav_reads_files_made_by_sox() {
    let sox = std::path::Path::new("/usr/bin/sox");
    if !sox.exists() {
        eprintln!("sox is not installed; skipped");
        return;
    }
    let dir = crate::prompt::tests_support::tempdir();
    let mut parts = Vec::new();
    for (i, k) in [DtmfKey::Key0, DtmfKey::Pound, DtmfKey::Key7, DtmfKey::Key7]
        .into_iter()
        .enumerate()
    {
        let (lo, hi) = k.frequencies();
        let tone = dir.join(format!("t{i}.wav"));
        let silence = dir.join(format!("s{i}.wav"));
        let ok = std::process::Command::new(sox)
            .args(["-n", "-r", "44100", "-b", "16", "-c", "2"])
            .arg(&tone)
            .args([
                "synth",
                "0.07",
                "sine",
                &lo.to_string(),
                "sine",
                &hi.to_string(),
                "gain",
                "-8",
            ])
            .status()
            .unwrap();
        assert!(ok.success());
        let ok = std::process::Command::new(sox)
            .args(["-n", "-r", "44100", "-b", "16", "-c", "2"])
            .arg(&silence)
            .args(["trim", "0", "0.06"])
            .status()
            .unwrap();
        assert!(ok.success());
        parts.push(tone);
        parts.push(silence);
    }
    let out = dir.join("digits.wav");
    let ok = std::process::Command::new(sox)
        .args(&parts)
        .arg(&out)
        .status()
        .unwrap();
    assert!(ok.success());
    let found = detect_wav(&out).unwrap();
    assert_eq!(keys(&found), "0#77");
    assert_eq!(
        DetectedDigit {
            key: DtmfKey::Pound,
            start_ms: 1230,
            duration_ms: 80
        }
        .to_string(),
        "# at 1.230 s, 80 ms"
    );
    assert!((found[1].start_ms as i64 - 130).abs() <= 10, "{found:?}");
    let missing = detect_wav(&dir.join("missing.wav")).unwrap_err();
    assert!(missing.to_string().contains("missing.wav"));
    let _ = std::fs::remove_dir_all(&dir);
}
