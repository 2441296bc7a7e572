//! Fax and modem tones: CNG (1100 Hz, 0.5 s on, 3 s off, sent by a calling
//! fax) and CED/ANSam (2100 Hz for 2.6–4 s, sent by an answering fax or
//! modem), found with Goertzel filters on each 20 ms frame.
//!
//! # How it decides
//! A frame *holds* a tone when the strongest of three Goertzel bins around
//! the tone's frequency (±30 Hz for CNG, whose tolerance is ±38 Hz; ±15 Hz
//! for CED) carries at least half of the frame's energy. A share, not a
//! level, is what makes it work from −45 dBm0 to full scale and with noise:
//! white noise 10 dB below the tone puts about 1 % of its power into a bin
//! 50 Hz wide. Speech spreads its energy over several harmonics that move,
//! so it does not hold one bin for 400 ms.
//!
//! Consecutive frames that hold the same tone form a burst; up to two
//! frames may drop out inside it (ANSam's phase reversals every 450 ms cancel
//! a frame's energy at the bin). A CNG burst is reported when it ends, if it
//! lasted 400–700 ms (0.5 s ± 15 % in T.30, plus a frame each side); a CED
//! burst as soon as it has lasted 2.5 s, its shortest length less a
//! frame's tolerance.

/// Samples in one frame (20 ms at 8 kHz).
pub(super) const FRAME: usize = 160;
/// Milliseconds in one frame.
pub(super) const FRAME_MS: u32 = 20;
/// Share of a frame's energy a tone's bin must hold.
const TONE_SHARE: f32 = 0.5;
/// Quietest frame (mean absolute value) that can hold a tone: about
/// −50 dBm0 for a sine; below it the share is noise's chance.
const MIN_TONE_MEAN_ABS: f32 = 45.0;
/// Frames a burst may miss without ending.
const MAX_DROPOUT_FRAMES: u32 = 2;
/// Shortest and longest CNG burst.
const CNG_MIN_MS: u32 = 400;
const CNG_MAX_MS: u32 = 700;
/// CED length that decides a fax.
const CED_DECIDE_MS: u32 = 2500;

/// Which tone a frame or a burst holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FaxTone {
    /// 1100 Hz: a calling fax.
    Cng,
    /// 2100 Hz: an answering fax or modem.
    Ced,
}

/// A Goertzel filter's coefficient for one frequency (2·cos ω).
#[derive(Debug, Clone, Copy)]
struct Bin {
    coeff: f32,
}

impl Bin {
    fn new(hz: f32) -> Self {
        let omega = std::f32::consts::TAU * hz / 8000.0;
        Bin {
            coeff: 2.0 * omega.cos(),
        }
    }

    /// |X(ω)|² over the frame.
    fn power(self, frame: &[f32]) -> f32 {
        let (mut s1, mut s2) = (0f32, 0f32);
        for &x in frame {
            let s0 = x + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - self.coeff * s1 * s2
    }
}

/// A burst in progress.
#[derive(Debug, Clone, Copy)]
struct Burst {
    tone: FaxTone,
    /// Frames from its first to its last tone frame.
    frames: u32,
    /// Frames without the tone since its last tone frame.
    missed: u32,
}

/// What a frame told the tone detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ToneStep {
    /// A fax decided at this frame.
    pub(super) decided: Option<FaxTone>,
    /// A burst no longer than its tone can be is in progress (the greeting
    /// analysis waits for it).
    pub(super) in_burst: bool,
}

/// Streaming CNG/CED detector on 20 ms frames.
#[derive(Debug, Clone)]
pub(super) struct ToneDetector {
    cng: [Bin; 3],
    ced: [Bin; 3],
    burst: Option<Burst>,
}

impl ToneDetector {
    pub(super) fn new() -> Self {
        ToneDetector {
            cng: [Bin::new(1070.0), Bin::new(1100.0), Bin::new(1130.0)],
            ced: [Bin::new(2085.0), Bin::new(2100.0), Bin::new(2115.0)],
            burst: None,
        }
    }

    /// Which tone, if any, holds this frame.
    fn classify(&self, frame: &[f32], energy: f32, mean_abs: f32) -> Option<FaxTone> {
        if mean_abs < MIN_TONE_MEAN_ABS || energy <= 0.0 {
            return None;
        }
        // A sine of amplitude A gives |X|² = (A·N/2)² and energy A²·N/2:
        // its share 2|X|²/(N·energy) is 1.
        let share = |bins: &[Bin; 3]| {
            let best = bins.iter().map(|b| b.power(frame)).fold(0f32, f32::max);
            2.0 * best / (frame.len() as f32 * energy)
        };
        if share(&self.cng) >= TONE_SHARE {
            Some(FaxTone::Cng)
        } else if share(&self.ced) >= TONE_SHARE {
            Some(FaxTone::Ced)
        } else {
            None
        }
    }

    /// Takes one frame (with its energy Σx² and mean absolute value, which
    /// the caller computes once for both analyses).
    pub(super) fn step(&mut self, frame: &[f32], energy: f32, mean_abs: f32) -> ToneStep {
        let in_frame = self.classify(frame, energy, mean_abs);
        let mut decided = None;
        self.burst = match (self.burst, in_frame) {
            (None, None) => None,
            (None, Some(tone)) => Some(Burst {
                tone,
                frames: 1,
                missed: 0,
            }),
            (Some(b), Some(tone)) if tone == b.tone => Some(Burst {
                tone,
                frames: b.frames + b.missed + 1,
                missed: 0,
            }),
            (Some(b), other) => {
                let ended = other.is_some() || b.missed + 1 > MAX_DROPOUT_FRAMES;
                if ended {
                    let ms = b.frames * FRAME_MS;
                    if b.tone == FaxTone::Cng && (CNG_MIN_MS..=CNG_MAX_MS).contains(&ms) {
                        decided = Some(FaxTone::Cng);
                    }
                    other.map(|tone| Burst {
                        tone,
                        frames: 1,
                        missed: 0,
                    })
                } else {
                    Some(Burst {
                        missed: b.missed + 1,
                        ..b
                    })
                }
            }
        };
        if let Some(b) = self.burst
            && b.tone == FaxTone::Ced
            && b.missed == 0
            && b.frames * FRAME_MS >= CED_DECIDE_MS
        {
            decided = Some(FaxTone::Ced);
        }
        // A burst longer than its tone can be is some other sound, which
        // the greeting analysis then hears (a long word, in the end).
        let in_burst = self.burst.is_some_and(|b| {
            let longest = match b.tone {
                FaxTone::Cng => CNG_MAX_MS,
                FaxTone::Ced => CED_DECIDE_MS,
            };
            b.frames * FRAME_MS <= longest
        });
        ToneStep { decided, in_burst }
    }
}
