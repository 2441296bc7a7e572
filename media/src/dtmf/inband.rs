//! The in-band DTMF detector: Goertzel filters at the eight DTMF frequencies,
//! with the guards of `shared/DTMF.md` (frequency tolerance, twist, timing,
//! level, noise and talk-off).
//!
//! # How it decides
//! Audio at 8 kHz is cut into half-blocks of 51 samples. For each half-block
//! the eight Goertzel filters give a complex DFT value, and two adjacent halves
//! combine into a 102-sample window (12.75 ms), one every 51 samples. A window
//! *qualifies* for a key when, for the strongest row tone and the strongest
//! column tone,
//! - each is above the minimum level (−33 dBm0 measured),
//! - each is at least 8 dB above every other tone of its group,
//! - the pair carries at least 75 % of the window's energy.
//!
//! A *hit* at a half-block needs the last three windows (four halves, 25.5 ms)
//! to qualify for the same key, the four halves to carry similar energy (the
//! tone covers all of them), and both tones' frequencies to lie within ±2.5 %
//! of nominal. The frequency is measured, not guessed from bin energy: the
//! phase advance of a tone's DFT value between windows 51 and 102 samples
//! apart gives its offset from nominal to a fraction of a hertz, which is what
//! separates 1.5 % (accept) from 3.5 % (reject) even at 697 Hz. The twist is
//! then checked on the three windows' average power, corrected for the
//! window's loss at the measured offset: up to 9.5 dB with the low tone
//! louder (normal), up to 5.5 dB with the high tone louder (reverse).
//! Last, two pure tones at the measured frequencies are fitted to the two
//! peak bins and their leakage into the six other bins is subtracted: what
//! remains must be 15 dB below the tone of its group in every window. DTMF
//! leaves only noise there; voiced speech whose 4th and 5th harmonics happen
//! to sit on 941 and 1209 Hz (espeak's female voice does this) leaves its
//! 3rd and 6th harmonics, and is rejected.
//!
//! A digit starts after two consecutive hits of the same key (a tone of
//! 40 ms always gives them, one under 20 ms never can) and ends after six
//! half-blocks without a hit (a 40 ms pause always gives them, so the same key
//! twice is two digits). It is reported at its end with its start and length.
//!
//! Nothing allocates after construction; a 20 ms frame costs eight Goertzel
//! recurrences per sample plus a few dozen operations per half-block.

use std::path::Path;

use super::{COL_FREQS, DtmfKey, ROW_FREQS};

const SAMPLE_RATE: f32 = 8000.0;
/// Samples per half-block.
const HALF: usize = 51;
/// Samples per analysis window (two half-blocks).
const WINDOW: usize = 2 * HALF;
/// Largest accepted deviation of a tone from its nominal frequency.
const FREQ_TOLERANCE: f32 = 0.025;
/// Minimum measured level of each tone, in dBm0.
const MIN_TONE_DBM0: f32 = -33.0;
/// How far every other tone of a group must be below the group's peak.
const RELATIVE_PEAK_DB: f32 = 8.0;
/// Share of the window's energy the two tones must carry.
const PAIR_FRACTION: f32 = 0.75;
/// Lowest ratio between the weakest and strongest half-block energy of a hit.
const HALF_BALANCE: f32 = 0.6;
/// How far every other bin must be below its group's tone once the two
/// fitted tones' leakage is removed.
const RESIDUAL_DB: f32 = 15.0;
/// Largest accepted excess of the low tone over the high tone.
const NORMAL_TWIST_DB: f32 = 9.5;
/// Largest accepted excess of the high tone over the low tone.
const REVERSE_TWIST_DB: f32 = 5.5;
/// Consecutive hits that start a digit.
const HITS_TO_START: u8 = 2;
/// Consecutive half-blocks without a hit that end a digit.
const MISSES_TO_END: u8 = 6;

/// A digit found in audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectedDigit {
    /// The key whose row and column tones sounded together.
    pub key: DtmfKey,
    /// Start of the tone, in milliseconds from the start of the audio.
    pub start_ms: u64,
    /// Length of the tone in milliseconds.
    pub duration_ms: u32,
}

impl std::fmt::Display for DetectedDigit {
    /// `5 at 1.230 s, 80 ms`: one line of `dialect dtmf detect`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}.{:03} s, {} ms",
            self.key,
            self.start_ms / 1000,
            self.start_ms % 1000,
            self.duration_ms
        )
    }
}

/// Per-frequency constants.
#[derive(Debug, Clone, Copy)]
struct Bin {
    /// Angular frequency in radians per sample.
    omega: f32,
    /// Goertzel coefficient 2·cos ω.
    coeff: f32,
    /// e^{−jω}: the Goertzel output is s1 − e^{−jω}·s2.
    e1: (f32, f32),
    /// e^{−jω·50}: turns the Goertzel output of a half into its DFT value.
    e50: (f32, f32),
    /// e^{−jω·51}: shifts a half's DFT value by one half-block.
    e51: (f32, f32),
    /// ω·51 and ω·102 wrapped to (−π, π]: the nominal phase advances.
    advance51: f32,
    advance102: f32,
}

fn wrap(x: f64) -> f64 {
    x - std::f64::consts::TAU * (x / std::f64::consts::TAU).round()
}

fn wrapf(x: f32) -> f32 {
    x - std::f32::consts::TAU * (x / std::f32::consts::TAU).round()
}

fn expj(phase: f64) -> (f32, f32) {
    (phase.cos() as f32, phase.sin() as f32)
}

impl Bin {
    fn new(freq: f32) -> Self {
        let w = std::f64::consts::TAU * freq as f64 / SAMPLE_RATE as f64;
        Bin {
            omega: w as f32,
            coeff: (2.0 * w.cos()) as f32,
            e1: expj(-w),
            e50: expj(-w * 50.0),
            e51: expj(-w * 51.0),
            advance51: wrap(w * 51.0) as f32,
            advance102: wrap(w * 102.0) as f32,
        }
    }
}

type Complex = (f32, f32);

#[inline]
fn cmul(a: Complex, b: Complex) -> Complex {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

#[inline]
fn cmul_conj(a: Complex, b: Complex) -> Complex {
    // a · conj(b)
    (a.0 * b.0 + a.1 * b.1, a.1 * b.0 - a.0 * b.1)
}

#[inline]
fn cadd(a: Complex, b: Complex) -> Complex {
    (a.0 + b.0, a.1 + b.1)
}

#[inline]
fn csub(a: Complex, b: Complex) -> Complex {
    (a.0 - b.0, a.1 - b.1)
}

/// The DFT (over `n` samples, index 0..n) at a bin of a unit complex
/// exponential `delta` rad/sample above the bin: Σ e^{jδk}.
fn kernel(delta: f32, n: usize) -> Complex {
    let half = delta / 2.0;
    let magnitude = if half.abs() < 1e-6 {
        n as f32
    } else {
        (n as f32 * half).sin() / half.sin()
    };
    let phase = half * (n as f32 - 1.0);
    (magnitude * phase.cos(), magnitude * phase.sin())
}

#[inline]
fn arg(a: Complex) -> f32 {
    a.1.atan2(a.0)
}

/// One 102-sample window: DFT values, tone powers and what it qualifies for.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    dft: [Complex; 8],
    power: [f32; 8],
    /// (row, column) when the window qualifies.
    pair: Option<(u8, u8)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Consecutive hits of `key` seen so far, the first starting at `start`.
    Rising {
        key: DtmfKey,
        hits: u8,
        start: u64,
    },
    /// A digit is on; `end` is the end of its last hit.
    Active {
        key: DtmfKey,
        start: u64,
        end: u64,
        misses: u8,
    },
}

/// Streaming in-band DTMF detector for 8 kHz audio.
///
/// Feed it frames of any length (20 ms in a call) with
/// [`InbandDetector::push_frame`] or [`InbandDetector::process`]; digits come
/// out when they end. [`InbandDetector::pressed`] tells whether a key is being
/// held now (for barge-in before the key is released).
#[derive(Debug, Clone)]
pub struct InbandDetector {
    bins: [Bin; 8],
    min_power: f32,
    rel_peak: f32,
    residual: f32,
    normal_twist: f32,
    reverse_twist: f32,
    /// Samples of the half-block being filled.
    buf: [f32; HALF],
    fill: usize,
    /// DFT values of the previous half-block.
    prev_half: [Complex; 8],
    /// Energies of the last four half-blocks (oldest first).
    half_energy: [f32; 4],
    /// The last three windows (oldest first).
    windows: [Window; 3],
    /// Half-blocks processed so far.
    halves: u64,
    state: State,
}

impl Default for InbandDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl InbandDetector {
    /// A detector with the thresholds described in the module documentation.
    pub fn new() -> Self {
        let mut bins = [Bin::new(0.0); 8];
        for (b, f) in bins
            .iter_mut()
            .zip(ROW_FREQS.iter().chain(COL_FREQS.iter()))
        {
            *b = Bin::new(*f);
        }
        let amp = super::dbm0_to_amplitude(MIN_TONE_DBM0);
        InbandDetector {
            bins,
            min_power: amp * amp * WINDOW as f32 / 2.0,
            rel_peak: 10f32.powf(RELATIVE_PEAK_DB / 10.0),
            residual: 10f32.powf(RESIDUAL_DB / 10.0),
            normal_twist: 10f32.powf(NORMAL_TWIST_DB / 10.0),
            reverse_twist: 10f32.powf(REVERSE_TWIST_DB / 10.0),
            buf: [0.0; HALF],
            fill: 0,
            prev_half: [(0.0, 0.0); 8],
            half_energy: [0.0; 4],
            windows: [Window::default(); 3],
            halves: 0,
            state: State::Idle,
        }
    }

    /// Forgets all state, as for a new stream.
    pub fn reset(&mut self) {
        *self = Self {
            bins: self.bins,
            ..Self::new()
        };
    }

    /// The key being held right now, if a digit has started and not ended.
    pub fn pressed(&self) -> Option<DtmfKey> {
        match self.state {
            State::Active { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Samples consumed so far.
    pub fn position(&self) -> u64 {
        self.halves * HALF as u64 + self.fill as u64
    }

    /// Feeds one frame (20 ms or shorter) and returns the digit that ended in
    /// it, if any (at most one digit can end within 40 ms).
    pub fn push_frame(&mut self, frame: &[i16]) -> Option<DetectedDigit> {
        let mut out = None;
        self.process(frame, |d| out = Some(d));
        out
    }

    /// Feeds samples of any length, calling `on_digit` for each digit that ends.
    pub fn process(&mut self, samples: &[i16], mut on_digit: impl FnMut(DetectedDigit)) {
        for &s in samples {
            self.buf[self.fill] = s as f32;
            self.fill += 1;
            if self.fill == HALF {
                self.fill = 0;
                if let Some(d) = self.half_block() {
                    on_digit(d);
                }
            }
        }
    }

    /// Ends the stream: a digit still on is reported as ending now.
    pub fn finish(&mut self) -> Option<DetectedDigit> {
        let state = std::mem::replace(&mut self.state, State::Idle);
        match state {
            State::Active {
                key, start, end, ..
            } => Some(digit(key, start, end)),
            _ => None,
        }
    }

    /// Processes a complete half-block in `buf`.
    fn half_block(&mut self) -> Option<DetectedDigit> {
        let mut s1 = [0f32; 8];
        let mut s2 = [0f32; 8];
        let mut coeff = [0f32; 8];
        for (c, b) in coeff.iter_mut().zip(&self.bins) {
            *c = b.coeff;
        }
        let mut energy = 0f32;
        for &x in &self.buf {
            energy += x * x;
            for i in 0..8 {
                let s0 = x + coeff[i] * s1[i] - s2[i];
                s2[i] = s1[i];
                s1[i] = s0;
            }
        }
        let mut half = [(0f32, 0f32); 8];
        let mut window = Window::default();
        for i in 0..8 {
            let b = &self.bins[i];
            // y = s1 − e^{−jω}·s2; DFT = e^{−jω·50}·y.
            let y = (s1[i] - b.e1.0 * s2[i], -b.e1.1 * s2[i]);
            half[i] = cmul(b.e50, y);
            let shifted = cmul(b.e51, half[i]);
            let w = (
                self.prev_half[i].0 + shifted.0,
                self.prev_half[i].1 + shifted.1,
            );
            window.dft[i] = w;
            window.power[i] = (w.0 * w.0 + w.1 * w.1) * 2.0 / WINDOW as f32;
        }
        self.prev_half = half;
        self.half_energy.rotate_left(1);
        self.half_energy[3] = energy;
        let window_energy = self.half_energy[2] + self.half_energy[3];
        window.pair = self.qualify(&window.power, window_energy);
        self.windows.rotate_left(1);
        self.windows[2] = window;
        let index = self.halves;
        self.halves += 1;
        let hit = if index >= 3 { self.hit() } else { None };
        // The hit spans half-blocks index-3..=index.
        let span_end = (index + 1) * HALF as u64;
        let span_start = span_end.saturating_sub(4 * HALF as u64);
        self.step(hit, span_start, span_end)
    }

    /// Whether one window's powers point at a key.
    fn qualify(&self, power: &[f32; 8], energy: f32) -> Option<(u8, u8)> {
        let r = argmax(&power[..4]);
        let c = argmax(&power[4..]);
        let pr = power[r];
        let pc = power[4 + c];
        if pr < self.min_power || pc < self.min_power {
            return None;
        }
        if pr + pc < PAIR_FRACTION * energy {
            return None;
        }
        for i in 0..4 {
            if i != r && power[i] * self.rel_peak > pr {
                return None;
            }
            if i != c && power[4 + i] * self.rel_peak > pc {
                return None;
            }
        }
        Some((r as u8, c as u8))
    }

    /// Whether the last four half-blocks hold one key's tones.
    fn hit(&self) -> Option<DtmfKey> {
        let [w0, w1, w2] = &self.windows;
        let pair = w2.pair?;
        if w0.pair != Some(pair) || w1.pair != Some(pair) {
            return None;
        }
        let min = self
            .half_energy
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        let max = self.half_energy.iter().copied().fold(0.0, f32::max);
        if min < HALF_BALANCE * max {
            return None;
        }
        let mut corrected = [0f32; 2];
        let mut omega = [0f32; 2];
        let tones = [pair.0 as usize, 4 + pair.1 as usize];
        for (slot, i) in tones.into_iter().enumerate() {
            let b = &self.bins[i];
            // Coarse offset from the 51-sample phase advances (range ±78 Hz).
            let a = cmul_conj(w2.dft[i], w1.dft[i]);
            let c = cmul_conj(w1.dft[i], w0.dft[i]);
            let coarse = wrapf(arg((a.0 + c.0, a.1 + c.1)) - b.advance51) / HALF as f32;
            // Fine offset from the 102-sample advance (range ±39 Hz), unwrapped
            // with the coarse one.
            let fine = wrapf(arg(cmul_conj(w2.dft[i], w0.dft[i])) - b.advance102) / WINDOW as f32;
            let step = std::f32::consts::TAU / WINDOW as f32;
            let offset = fine + ((coarse - fine) / step).round() * step;
            if offset.abs() > FREQ_TOLERANCE * b.omega {
                return None;
            }
            omega[slot] = b.omega + offset;
            let mean = (w0.power[i] + w1.power[i] + w2.power[i]) / 3.0;
            let gain = dirichlet(offset, WINDOW);
            corrected[slot] = mean / (gain * gain).max(0.05);
        }
        let [low, high] = corrected;
        if low > high * self.normal_twist || high > low * self.reverse_twist {
            return None;
        }
        for w in [w0, w1, w2] {
            if !self.only_two_tones(w, tones, omega) {
                return None;
            }
        }
        DtmfKey::from_row_col(pair.0 as usize, pair.1 as usize)
    }

    /// Fits two pure tones at the measured frequencies to the window's DFT
    /// values at the two peak bins, predicts what they put into the other
    /// six bins (window leakage, including each tone into the other group),
    /// and checks that nothing else is there: every other bin's residual
    /// must be `RESIDUAL_DB` below the tone of its group. DTMF leaves only
    /// noise; voiced speech whose two harmonics mimic a pair leaves its other
    /// harmonics.
    fn only_two_tones(&self, w: &Window, tones: [usize; 2], omega: [f32; 2]) -> bool {
        let [r, c] = tones;
        // X_r = a·K(ω_a − ω_r) + b·K(ω_b − ω_r), X_c likewise: solve for a, b.
        let k = |tone: usize, bin: usize| kernel(omega[tone] - self.bins[bin].omega, WINDOW);
        let (m00, m01, m10, m11) = (k(0, r), k(1, r), k(0, c), k(1, c));
        let det = csub(cmul(m00, m11), cmul(m01, m10));
        let det_norm = det.0 * det.0 + det.1 * det.1;
        if det_norm < 1e-6 {
            return false;
        }
        let inv = (det.0 / det_norm, -det.1 / det_norm);
        let a = cmul(csub(cmul(w.dft[r], m11), cmul(w.dft[c], m01)), inv);
        let b = cmul(csub(cmul(w.dft[c], m00), cmul(w.dft[r], m10)), inv);
        let scale = 2.0 / WINDOW as f32;
        let tone_power = [
            (a.0 * a.0 + a.1 * a.1) * WINDOW as f32 * WINDOW as f32 * scale,
            (b.0 * b.0 + b.1 * b.1) * WINDOW as f32 * WINDOW as f32 * scale,
        ];
        for i in 0..8 {
            if i == r || i == c {
                continue;
            }
            let predicted = cadd(cmul(a, k(0, i)), cmul(b, k(1, i)));
            let d = csub(w.dft[i], predicted);
            let residual = (d.0 * d.0 + d.1 * d.1) * scale;
            let group_tone = if i < 4 { tone_power[0] } else { tone_power[1] };
            if residual * self.residual > group_tone {
                return false;
            }
        }
        true
    }

    /// Advances the digit state machine by one half-block.
    fn step(
        &mut self,
        hit: Option<DtmfKey>,
        span_start: u64,
        span_end: u64,
    ) -> Option<DetectedDigit> {
        let rising = |key| {
            if HITS_TO_START <= 1 {
                State::Active {
                    key,
                    start: span_start,
                    end: span_end,
                    misses: 0,
                }
            } else {
                State::Rising {
                    key,
                    hits: 1,
                    start: span_start,
                }
            }
        };
        let (next, out) = match (self.state, hit) {
            (State::Idle, None) => (State::Idle, None),
            (State::Idle, Some(k)) => (rising(k), None),
            (State::Rising { key, hits, start }, Some(k)) if k == key => {
                if hits + 1 >= HITS_TO_START {
                    (
                        State::Active {
                            key,
                            start,
                            end: span_end,
                            misses: 0,
                        },
                        None,
                    )
                } else {
                    (
                        State::Rising {
                            key,
                            hits: hits + 1,
                            start,
                        },
                        None,
                    )
                }
            }
            (State::Rising { .. }, Some(k)) => (rising(k), None),
            (State::Rising { .. }, None) => (State::Idle, None),
            (State::Active { key, start, .. }, Some(k)) if k == key => (
                State::Active {
                    key,
                    start,
                    end: span_end,
                    misses: 0,
                },
                None,
            ),
            (
                State::Active {
                    key,
                    start,
                    end,
                    misses,
                },
                other,
            ) => {
                if misses + 1 >= MISSES_TO_END {
                    let next = match other {
                        Some(k) => rising(k),
                        None => State::Idle,
                    };
                    (next, Some(digit(key, start, end)))
                } else {
                    (
                        State::Active {
                            key,
                            start,
                            end,
                            misses: misses + 1,
                        },
                        None,
                    )
                }
            }
        };
        self.state = next;
        out
    }
}

fn digit(key: DtmfKey, start: u64, end: u64) -> DetectedDigit {
    DetectedDigit {
        key,
        start_ms: start / 8,
        duration_ms: (end.saturating_sub(start) / 8) as u32,
    }
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for i in 1..v.len() {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

/// Amplitude response of an `n`-sample rectangular DFT at `delta` rad/sample
/// from the bin (1 at the bin).
fn dirichlet(delta: f32, n: usize) -> f32 {
    let half = delta / 2.0;
    if half.abs() < 1e-6 {
        return 1.0;
    }
    ((n as f32 * half).sin() / (n as f32 * half.sin())).abs()
}

/// Finds the DTMF digits in mono audio at any sample rate (resampled to
/// 8 kHz first).
pub fn detect(samples: &[i16], sample_rate: u32) -> Vec<DetectedDigit> {
    let resampled;
    let pcm = if sample_rate == 8000 {
        samples
    } else {
        resampled = crate::resample::resample(samples, sample_rate, 8000);
        &resampled[..]
    };
    let mut det = InbandDetector::new();
    let mut out = Vec::new();
    det.process(pcm, |d| out.push(d));
    out.extend(det.finish());
    out
}

/// Reads a WAV file (any rate, depth and channel count the prompt loader
/// accepts) and finds its DTMF digits; the entry point of
/// `dialect dtmf detect FILE.wav`.
pub fn detect_wav(path: &Path) -> Result<Vec<DetectedDigit>, crate::prompt::PromptError> {
    let (pcm, rate) = crate::prompt::read_wav_mono(path)?;
    Ok(detect(&pcm, rate))
}
