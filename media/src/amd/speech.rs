//! The greeting analysis: each 20 ms frame is speech or silence by its mean
//! absolute value, and a state machine counts words and times the greeting
//! and the silences, as Asterisk's `app_amd` does.
//!
//! # The state machine (as `app_amd`)
//! - Silence: after `between_words_ms` of it the current word is over.
//!   Before the first word, `initial_silence_ms` of it decides a machine;
//!   after the greeting has begun, `after_greeting_silence_ms` of it decides
//!   a person.
//! - Speech: `min_word_ms` of it after silence is a new word; the first word
//!   starts the greeting. Reaching `max_words` words, one word longer than
//!   `max_word_ms`, or more than `greeting_ms` of speech in all decides a
//!   machine.
//!
//! Differences from `app_amd`:
//! - it starts "in a word", so a greeting that begins in the very first
//!   frame is not counted as a word; here the line starts silent and every
//!   word counts;
//! - with `adaptive_threshold`, the threshold follows the noise floor
//!   ([`NoiseFloor`]), and a lone frame above it after silence (a click, a
//!   noise peak) counts as silence: it would otherwise restart the silence
//!   that decides a person;
//! - a short greeting may need less silence (`short_greeting_ms`).
//!
//! The settings are described in [`super::AmdConfig`].

use super::config::AmdConfig;
use super::tone::FRAME_MS;
use super::{AmdCause, AmdVerdict};

/// How fast the noise floor may rise, in dB per second: slow enough that a
/// machine's 5 s of speech cannot lift it to the speech level (a floor that
/// rose with the speech would hear the message as silence), fast enough to
/// follow a line that gets noisier.
const FLOOR_RISE_DB_PER_S: f32 = 2.0;

/// The line's noise floor: the quietest recent frame. It falls at once to a
/// quieter frame and rises slowly, so speech, which always has quieter
/// frames between its syllables, does not lift it.
#[derive(Debug, Clone)]
pub(super) struct NoiseFloor {
    /// Mean absolute value of the floor; `None` before the first frame.
    level: Option<f32>,
    /// Factor applied per frame while no quieter frame comes.
    rise: f32,
}

impl NoiseFloor {
    fn new() -> Self {
        NoiseFloor {
            level: None,
            rise: 10f32.powf(FLOOR_RISE_DB_PER_S * FRAME_MS as f32 / 1000.0 / 20.0),
        }
    }

    /// The floor before this frame, then takes the frame into account.
    fn update(&mut self, mean_abs: f32) -> Option<f32> {
        let before = self.level;
        self.level = Some(match before {
            None => mean_abs,
            Some(level) => (level * self.rise).min(mean_abs),
        });
        before
    }
}

/// Whether the analysis is in a word or between words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    InWord,
    InSilence,
}

/// The greeting analysis of one call.
#[derive(Debug, Clone)]
pub(super) struct Greeting {
    initial_silence_ms: u32,
    greeting_ms: u32,
    after_greeting_silence_ms: u32,
    min_word_ms: u32,
    between_words_ms: u32,
    max_word_ms: u32,
    max_words: u32,
    short_greeting_ms: u32,
    short_greeting_silence_ms: u32,
    /// Fixed threshold, or `None` to follow the noise floor.
    fixed_threshold: Option<f32>,
    margin: f32,
    min_threshold: f32,
    floor: NoiseFloor,
    in_greeting: bool,
    phase: Phase,
    /// Speech heard so far, in all.
    voice_ms: u32,
    /// Speech since the last silence of `between_words_ms`.
    word_ms: u32,
    /// Consecutive silence.
    silence_ms: u32,
    words: u32,
    /// With the adaptive threshold, a frame above it after silence waits
    /// here for the next frame: a lone loud frame is a click or a noise
    /// peak, and counts as silence.
    pending_speech: bool,
}

impl Greeting {
    pub(super) fn new(config: &AmdConfig) -> Self {
        Greeting {
            initial_silence_ms: config.initial_silence_ms,
            greeting_ms: config.greeting_ms,
            after_greeting_silence_ms: config.after_greeting_silence_ms,
            min_word_ms: config.min_word_ms,
            between_words_ms: config.between_words_ms,
            max_word_ms: config.max_word_ms,
            max_words: config.max_words,
            short_greeting_ms: config.short_greeting_ms,
            short_greeting_silence_ms: config.short_greeting_silence_ms,
            fixed_threshold: (!config.adaptive_threshold)
                .then_some(config.silence_threshold as f32),
            margin: 10f32.powf(config.noise_margin_db / 20.0),
            min_threshold: config.min_threshold as f32,
            floor: NoiseFloor::new(),
            in_greeting: false,
            phase: Phase::InSilence,
            voice_ms: 0,
            word_ms: 0,
            silence_ms: 0,
            words: 0,
            pending_speech: false,
        }
    }

    /// Words counted so far.
    pub(super) fn words(&self) -> u32 {
        self.words
    }

    /// Whether a frame of this mean absolute value is speech.
    fn is_speech(&mut self, mean_abs: f32) -> bool {
        match self.fixed_threshold {
            Some(threshold) => mean_abs >= threshold,
            None => {
                let floor = self.floor.update(mean_abs).unwrap_or(mean_abs);
                mean_abs >= (floor * self.margin).max(self.min_threshold)
            }
        }
    }

    /// Takes one 20 ms frame; a decision when one is reached.
    pub(super) fn step(&mut self, mean_abs: f32) -> Option<(AmdVerdict, AmdCause)> {
        let speech = self.is_speech(mean_abs);
        if self.fixed_threshold.is_some() {
            return if speech {
                self.speech()
            } else {
                self.silence()
            };
        }
        match (self.pending_speech, speech) {
            (false, false) => self.silence(),
            (false, true) if self.silence_ms == 0 && self.voice_ms > 0 => self.speech(),
            (false, true) => {
                self.pending_speech = true;
                None
            }
            (true, true) => {
                self.pending_speech = false;
                self.speech().or_else(|| self.speech())
            }
            (true, false) => {
                self.pending_speech = false;
                self.silence().or_else(|| self.silence())
            }
        }
    }

    fn silence(&mut self) -> Option<(AmdVerdict, AmdCause)> {
        self.silence_ms += FRAME_MS;
        if self.silence_ms >= self.between_words_ms {
            self.phase = Phase::InSilence;
            self.word_ms = 0;
        }
        if !self.in_greeting {
            if self.silence_ms >= self.initial_silence_ms {
                return Some((AmdVerdict::Machine, AmdCause::InitialSilence));
            }
            return None;
        }
        if self.silence_ms >= self.after_greeting_silence_ms
            || (self.voice_ms <= self.short_greeting_ms
                && self.silence_ms >= self.short_greeting_silence_ms)
        {
            return Some((AmdVerdict::Person, AmdCause::GreetingThenSilence));
        }
        None
    }

    fn speech(&mut self) -> Option<(AmdVerdict, AmdCause)> {
        self.silence_ms = 0;
        self.word_ms += FRAME_MS;
        self.voice_ms += FRAME_MS;
        if self.word_ms >= self.min_word_ms && self.phase == Phase::InSilence {
            self.words += 1;
            self.phase = Phase::InWord;
        }
        if self.word_ms >= self.max_word_ms {
            return Some((AmdVerdict::Machine, AmdCause::MaxWordLength));
        }
        if self.words >= self.max_words {
            return Some((AmdVerdict::Machine, AmdCause::MaxWords));
        }
        if self.in_greeting && self.voice_ms >= self.greeting_ms {
            return Some((AmdVerdict::Machine, AmdCause::LongGreeting));
        }
        if self.word_ms >= self.min_word_ms {
            self.in_greeting = true;
        }
        None
    }
}
