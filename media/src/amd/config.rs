//! The detector's settings: the timers of Asterisk's `app_amd` with its
//! defaults, plus the settings of the two refinements this detector adds
//! (a silence threshold that follows the line's noise floor, and an earlier
//! "person" for a short greeting followed by silence).
//!
//! Campaigns set them in YAML, so every field has a default and a missing
//! field means "the default", never zero.

use serde::{Deserialize, Serialize};

/// Settings of one [`super::AmdDetector`]; times are in milliseconds of audio.
///
/// [`AmdConfig::default`] is the detector this crate recommends: `app_amd`'s
/// timers, the adaptive threshold, the short-greeting rule and `max_words`
/// 6 instead of 3. [`AmdConfig::asterisk`] reproduces `app_amd` with its
/// stock defaults, for comparison and for operators who want its exact
/// behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmdConfig {
    /// Silence before any word longer than this: a machine (many wait before
    /// speaking; a person who answers says something).
    pub initial_silence_ms: u32,
    /// Speech in the greeting longer than this, before the after-greeting
    /// silence: a machine (people say one or two short words and wait).
    pub greeting_ms: u32,
    /// Silence this long after the greeting: a person, who said their
    /// "hello" and now waits for an answer.
    pub after_greeting_silence_ms: u32,
    /// No decision after this much audio: unsure (the campaign decides what
    /// to do with it, usually treat it as a person).
    pub total_analysis_ms: u32,
    /// Speech shorter than this is a click or a breath, not a word.
    pub min_word_ms: u32,
    /// Silence at least this long separates two words.
    pub between_words_ms: u32,
    /// One word longer than this: a machine (a tone or a recording that
    /// never pauses).
    pub max_word_ms: u32,
    /// Reaching this many words: a machine. A dip of `between_words_ms`
    /// ends a word, so this counts syllables more than words ("喂，你好" is
    /// three): `app_amd`'s 3 turned 47 % of the corpus's people into
    /// machines, 6 only 0.7 % (as many as no count at all), and 6 still
    /// decides machines about 0.25 s sooner than the long-greeting rule
    /// alone (docs/benchmarks.md, The dialer).
    pub max_words: u32,
    /// A 20 ms frame whose mean absolute sample value (16-bit scale) is
    /// below this is silence. Used as is when `adaptive_threshold` is off
    /// (256 is `app_amd`'s default, about −35 dBm0 for a sine).
    pub silence_threshold: u16,
    /// Follow the line's noise floor instead of using the fixed
    /// `silence_threshold`: a frame is speech when it stands
    /// `noise_margin_db` above the quietest recent frames and above
    /// `min_threshold`. On a noisy line a fixed threshold takes the noise
    /// for one endless word (a person becomes a machine); on a quiet line it
    /// misses soft speech.
    pub adaptive_threshold: bool,
    /// How far above the noise floor a frame must be to be speech.
    pub noise_margin_db: f32,
    /// The adaptive threshold never goes below this mean absolute value
    /// (a digitally silent line has no noise floor to follow).
    pub min_threshold: u16,
    /// A greeting with no more speech than this (0 turns the rule off) is
    /// short, and `short_greeting_silence_ms` of silence after it is enough
    /// to decide a person: the person is connected sooner, and a machine's
    /// message has no such long pause that early.
    pub short_greeting_ms: u32,
    /// The silence that decides a person after a short greeting.
    pub short_greeting_silence_ms: u32,
    /// Listen for fax and modem tones (CNG, CED/ANSam).
    pub detect_fax: bool,
}

impl Default for AmdConfig {
    fn default() -> Self {
        AmdConfig {
            adaptive_threshold: true,
            max_words: 6,
            min_threshold: 48,
            short_greeting_ms: 900,
            short_greeting_silence_ms: 500,
            ..Self::asterisk()
        }
    }
}

impl AmdConfig {
    /// `app_amd`'s stock defaults, with neither refinement: a fixed silence
    /// threshold of 256 and a person only after 800 ms of silence.
    pub fn asterisk() -> Self {
        AmdConfig {
            initial_silence_ms: 2500,
            greeting_ms: 1500,
            after_greeting_silence_ms: 800,
            total_analysis_ms: 5000,
            min_word_ms: 100,
            between_words_ms: 50,
            max_word_ms: 5000,
            max_words: 3,
            silence_threshold: 256,
            adaptive_threshold: false,
            noise_margin_db: 3.0,
            min_threshold: 48,
            short_greeting_ms: 0,
            short_greeting_silence_ms: 500,
            detect_fax: true,
        }
    }

    /// Rejects settings under which the detector could not decide sensibly.
    pub fn validate(&self) -> Result<(), AmdConfigError> {
        let positive = [
            ("initial_silence_ms", self.initial_silence_ms),
            ("greeting_ms", self.greeting_ms),
            ("after_greeting_silence_ms", self.after_greeting_silence_ms),
            ("total_analysis_ms", self.total_analysis_ms),
            ("min_word_ms", self.min_word_ms),
            ("between_words_ms", self.between_words_ms),
            ("max_word_ms", self.max_word_ms),
            ("max_words", self.max_words),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(AmdConfigError::Invalid(format!(
                    "{name} must be more than 0"
                )));
            }
        }
        if !(0.0..=40.0).contains(&self.noise_margin_db) {
            return Err(AmdConfigError::Invalid(format!(
                "noise_margin_db must be between 0 and 40 dB, not {}",
                self.noise_margin_db
            )));
        }
        if self.short_greeting_ms > 0 && self.short_greeting_silence_ms == 0 {
            return Err(AmdConfigError::Invalid(
                "short_greeting_silence_ms must be more than 0 when short_greeting_ms is set"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Why a set of detector settings was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AmdConfigError {
    /// A value is out of range.
    #[error("detector settings: {0}")]
    Invalid(String),
}
