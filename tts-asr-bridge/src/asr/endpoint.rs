//! End-pointing: finding where the caller's speech starts and ends.
//!
//! An [`Endpointer`] takes the call's 8 kHz frames as they arrive and decides
//! from their energy: speech has started (the runtime may stop the prompt:
//! barge-in), speech has ended (after [`EndpointConfig::end_silence`] of
//! quiet), nobody spoke within [`EndpointConfig::no_input_timeout`], or the
//! speech ran past [`EndpointConfig::max_speech`]. It keeps the speech plus
//! a little audio before the detected start (onsets are quiet) in a buffer
//! reserved up front: pushing a frame never allocates.
//!
//! Time here is audio time (samples pushed), not the wall clock: the runtime
//! feeds a frame every 20 ms, including comfort silence for lost packets, so
//! the two agree, and tests need no timers.
//!
//! The speech threshold adapts: a frame is speech when it is louder than
//! both [`EndpointConfig::min_level_db`] and the tracked noise floor plus
//! [`EndpointConfig::margin_db`].

use std::collections::VecDeque;
use std::time::Duration;

use crate::audio::level_dbfs;

/// Sample rate of the audio the end-pointer and the recognizers take.
pub const SAMPLE_RATE: u32 = 8000;

/// Analysis window: 10 ms.
const WINDOW: usize = (SAMPLE_RATE / 100) as usize;

/// Timing and level settings of an [`Endpointer`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct EndpointConfig {
    /// Give up with no input when speech has not started by then.
    #[serde(with = "millis")]
    pub no_input_timeout: Duration,
    /// Stop listening when speech lasts this long.
    #[serde(with = "millis")]
    pub max_speech: Duration,
    /// Quiet after speech that ends the utterance.
    #[serde(with = "millis")]
    pub end_silence: Duration,
    /// Loud audio shorter than this (a click, a cough) does not start speech.
    #[serde(with = "millis")]
    pub min_speech: Duration,
    /// Audio kept from before the detected start.
    #[serde(with = "millis")]
    pub preroll: Duration,
    /// Level below which nothing is speech, in dBFS.
    pub min_level_db: f32,
    /// How far above the noise floor speech must be, in dB.
    pub margin_db: f32,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            no_input_timeout: Duration::from_secs(5),
            max_speech: Duration::from_secs(10),
            end_silence: Duration::from_millis(800),
            min_speech: Duration::from_millis(100),
            preroll: Duration::from_millis(300),
            min_level_db: -45.0,
            margin_db: 12.0,
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

fn windows(d: Duration) -> usize {
    (d.as_millis() / 10) as usize
}

/// What the end-pointer decided after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// No speech yet.
    Listening,
    /// Speech started with this frame: stop the prompt if barge-in is on.
    SpeechStarted,
    /// Speech continues.
    Speaking,
    /// Listening is over; call [`Endpointer::finish`].
    Done,
}

/// How listening ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Nobody spoke.
    NoInput,
    /// The utterance, with its pre-roll and trailing quiet.
    Speech {
        /// 8 kHz mono samples.
        samples: Vec<i16>,
        /// The speech was cut at [`EndpointConfig::max_speech`].
        truncated: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Speaking,
    Done { truncated: bool },
}

/// Energy-based speech detector for one listening turn.
#[derive(Debug)]
pub struct Endpointer {
    config: EndpointConfig,
    state: State,
    /// Incomplete analysis window carried between frames.
    partial: [i16; WINDOW],
    partial_len: usize,
    /// Recent windows while waiting (the pre-roll), oldest first.
    preroll: VecDeque<[i16; WINDOW]>,
    preroll_windows: usize,
    /// The utterance once speech has started.
    speech: Vec<i16>,
    /// Windows analysed so far.
    elapsed: usize,
    /// Consecutive loud windows while waiting.
    loud_run: usize,
    /// Consecutive quiet windows while speaking.
    quiet_run: usize,
    /// Windows since speech started.
    speech_windows: usize,
    /// Estimated line noise. Starts at the first window's level, capped at
    /// -50 dBFS: a quiet line is learnt at once, and a caller already
    /// talking when listening starts is not taken for noise.
    noise_floor_db: Option<f32>,
}

impl Endpointer {
    /// A detector; reserves the buffer for the longest utterance now.
    pub fn new(config: EndpointConfig) -> Self {
        let preroll_windows = windows(config.preroll).max(windows(config.min_speech));
        let max_windows =
            preroll_windows + windows(config.max_speech) + windows(config.end_silence) + 1;
        Endpointer {
            config,
            state: State::Waiting,
            partial: [0; WINDOW],
            partial_len: 0,
            preroll: VecDeque::with_capacity(preroll_windows + 1),
            preroll_windows,
            speech: Vec::with_capacity(max_windows * WINDOW),
            elapsed: 0,
            loud_run: 0,
            quiet_run: 0,
            speech_windows: 0,
            noise_floor_db: None,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    /// Feeds one frame of 8 kHz samples (any length; 20 ms is 160 samples).
    pub fn push(&mut self, frame: &[i16]) -> Progress {
        let mut started = false;
        let mut rest = frame;
        while !rest.is_empty() && !matches!(self.state, State::Done { .. }) {
            let take = (WINDOW - self.partial_len).min(rest.len());
            self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&rest[..take]);
            self.partial_len += take;
            rest = &rest[take..];
            if self.partial_len == WINDOW {
                self.partial_len = 0;
                let window = self.partial;
                started |= self.analyse(&window);
            }
        }
        match self.state {
            State::Done { .. } => Progress::Done,
            State::Speaking if started => Progress::SpeechStarted,
            State::Speaking => Progress::Speaking,
            State::Waiting => Progress::Listening,
        }
    }

    /// Whether listening is over.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done { .. })
    }

    /// Whether speech has started.
    pub fn heard_speech(&self) -> bool {
        !matches!(self.state, State::Waiting)
    }

    /// Audio time pushed so far.
    pub fn elapsed(&self) -> Duration {
        Duration::from_millis(self.elapsed as u64 * 10)
    }

    /// Ends the turn: the utterance if speech started (even if it had not
    /// ended yet, as when the caller presses a key), otherwise no input.
    pub fn finish(self) -> Endpoint {
        match self.state {
            State::Waiting => Endpoint::NoInput,
            State::Speaking => Endpoint::Speech {
                samples: self.speech,
                truncated: false,
            },
            State::Done { truncated } if self.speech_windows > 0 => Endpoint::Speech {
                samples: self.speech,
                truncated,
            },
            State::Done { .. } => Endpoint::NoInput,
        }
    }

    /// Runs one 10 ms window; returns whether speech started with it.
    fn analyse(&mut self, window: &[i16; WINDOW]) -> bool {
        self.elapsed += 1;
        let level = level_dbfs(window);
        let floor = *self.noise_floor_db.get_or_insert(level.clamp(-90.0, -50.0));
        let threshold = self.config.min_level_db.max(floor + self.config.margin_db);
        let loud = level > threshold;
        match self.state {
            State::Waiting => {
                if loud {
                    self.loud_run += 1;
                } else {
                    self.loud_run = 0;
                    // Follow the floor down at once, up slowly.
                    self.noise_floor_db = Some(if level < floor {
                        level.max(-90.0)
                    } else {
                        floor + 0.05 * (level - floor)
                    });
                }
                if self.preroll.len() == self.preroll_windows {
                    self.preroll.pop_front();
                }
                self.preroll.push_back(*window);
                if self.loud_run >= windows(self.config.min_speech).max(1) {
                    self.state = State::Speaking;
                    for w in self.preroll.drain(..) {
                        self.speech.extend_from_slice(&w);
                    }
                    self.speech_windows = self.loud_run;
                    return true;
                }
                if self.elapsed >= windows(self.config.no_input_timeout) {
                    self.state = State::Done { truncated: false };
                }
                false
            }
            State::Speaking => {
                self.speech.extend_from_slice(window);
                self.speech_windows += 1;
                self.quiet_run = if loud { 0 } else { self.quiet_run + 1 };
                if self.quiet_run >= windows(self.config.end_silence).max(1) {
                    self.state = State::Done { truncated: false };
                } else if self.speech_windows >= windows(self.config.max_speech) {
                    self.state = State::Done { truncated: true };
                }
                false
            }
            State::Done { .. } => false,
        }
    }
}

/// Finds the utterance in a whole recording (as the bridge receives it):
/// the recording is pushed through an [`Endpointer`] whose no-input time-out
/// is the recording's length, and the turn is finished at its end.
pub fn endpoint_recording(samples: &[i16], config: EndpointConfig) -> Endpoint {
    let length = Duration::from_millis(samples.len() as u64 * 1000 / u64::from(SAMPLE_RATE));
    let mut ep = Endpointer::new(EndpointConfig {
        no_input_timeout: config
            .no_input_timeout
            .max(length + Duration::from_millis(10)),
        ..config
    });
    for frame in samples.chunks(160) {
        if ep.push(frame) == Progress::Done {
            break;
        }
    }
    ep.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = 160;

    /// A 300 Hz tone at `amp`, `ms` long.
    fn tone(ms: usize, amp: f64) -> Vec<i16> {
        (0..ms * 8)
            .map(|i| (amp * (2.0 * std::f64::consts::PI * 300.0 * i as f64 / 8000.0).sin()) as i16)
            .collect()
    }

    /// Low noise from a fixed generator (about -60 dBFS).
    fn hiss(ms: usize, seed: u32) -> Vec<i16> {
        let mut x = seed | 1;
        (0..ms * 8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ((x % 64) as i16) - 32
            })
            .collect()
    }

    fn run(ep: &mut Endpointer, audio: &[i16]) -> Vec<Progress> {
        audio.chunks(FRAME).map(|f| ep.push(f)).collect()
    }

    #[test]
    fn silence_is_no_input_at_the_timeout() {
        let mut ep = Endpointer::new(EndpointConfig {
            no_input_timeout: Duration::from_millis(2000),
            ..EndpointConfig::default()
        });
        let events = run(&mut ep, &hiss(3000, 7));
        let done_at = events.iter().position(|p| *p == Progress::Done).unwrap();
        assert_eq!(done_at, 99, "2 s is frame 100");
        assert!(events[..done_at].iter().all(|p| *p == Progress::Listening));
        assert_eq!(ep.finish(), Endpoint::NoInput);
    }

    #[test]
    fn speech_is_found_with_preroll_and_ends_after_silence() {
        let config = EndpointConfig::default();
        let mut ep = Endpointer::new(config);
        let mut audio = hiss(1000, 3);
        audio.extend(tone(600, 8000.0));
        audio.extend(hiss(2000, 5));
        let events = run(&mut ep, &audio);
        let start = events
            .iter()
            .position(|p| *p == Progress::SpeechStarted)
            .unwrap();
        // Tone begins at frame 50; 100 ms of it are needed to start.
        assert_eq!(start, 54);
        let done = events.iter().position(|p| *p == Progress::Done).unwrap();
        // Tone ends at frame 80; then 800 ms (40 frames) of quiet.
        assert_eq!(done, 119);
        match ep.finish() {
            Endpoint::Speech { samples, truncated } => {
                assert!(!truncated);
                // 300 ms pre-roll (200 ms quiet, then the first 100 ms of
                // the tone), the rest of the tone, 800 ms quiet.
                assert_eq!(samples.len(), (200 + 600 + 800) * 8);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_click_does_not_start_speech() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        let mut audio = hiss(500, 9);
        audio.extend(tone(40, 20000.0));
        audio.extend(hiss(500, 11));
        let events = run(&mut ep, &audio);
        assert!(events.iter().all(|p| *p == Progress::Listening));
    }

    #[test]
    fn long_speech_is_cut_at_max_speech() {
        let mut ep = Endpointer::new(EndpointConfig {
            max_speech: Duration::from_millis(1000),
            ..EndpointConfig::default()
        });
        let events = run(&mut ep, &tone(3000, 8000.0));
        let done = events.iter().position(|p| *p == Progress::Done).unwrap();
        assert_eq!(done, 49);
        let cap = ep.speech.capacity();
        match ep.finish() {
            Endpoint::Speech { samples, truncated } => {
                assert!(truncated);
                assert_eq!(samples.len(), 1000 * 8);
                assert!(samples.len() <= cap);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn noise_floor_adapts_to_a_noisy_line() {
        // Steady noise at about -38 dBFS, above the absolute minimum: after
        // the floor settles it is not speech; a tone 20 dB above it is.
        let noisy: Vec<i16> = hiss(4000, 13).iter().map(|s| s * 12).collect();
        let mut ep = Endpointer::new(EndpointConfig {
            no_input_timeout: Duration::from_secs(20),
            ..EndpointConfig::default()
        });
        let events = run(&mut ep, &noisy[..8000 * 2]);
        assert!(
            !ep.heard_speech(),
            "{:?}",
            events.iter().filter(|p| **p != Progress::Listening).count()
        );
        let speech: Vec<i16> = tone(500, 9000.0)
            .iter()
            .zip(noisy.iter())
            .map(|(a, b)| a.saturating_add(*b))
            .collect();
        let events = run(&mut ep, &speech);
        assert!(events.contains(&Progress::SpeechStarted));
    }

    #[test]
    fn frames_of_any_size_give_the_same_result() {
        let mut audio = hiss(700, 1);
        audio.extend(tone(500, 8000.0));
        audio.extend(hiss(1500, 2));
        let mut a = Endpointer::new(EndpointConfig::default());
        for f in audio.chunks(160) {
            a.push(f);
        }
        let mut b = Endpointer::new(EndpointConfig::default());
        for f in audio.chunks(37) {
            b.push(f);
        }
        assert_eq!(a.finish(), b.finish());
    }

    #[test]
    fn finishing_early_returns_what_was_heard() {
        let mut ep = Endpointer::new(EndpointConfig::default());
        run(&mut ep, &tone(400, 8000.0));
        assert!(ep.heard_speech() && !ep.is_done());
        assert!(matches!(
            ep.finish(),
            Endpoint::Speech {
                truncated: false,
                ..
            }
        ));
    }

    #[test]
    fn whole_recordings() {
        let mut audio = hiss(500, 4);
        audio.extend(tone(500, 8000.0));
        audio.extend(hiss(300, 6));
        // Speech runs to the end: the recording's end ends it.
        assert!(matches!(
            endpoint_recording(&audio, EndpointConfig::default()),
            Endpoint::Speech { .. }
        ));
        // A long silent recording is no input, whatever the time-out.
        assert_eq!(
            endpoint_recording(&hiss(9000, 8), EndpointConfig::default()),
            Endpoint::NoInput
        );
    }
}
