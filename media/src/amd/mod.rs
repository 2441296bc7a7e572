//! Answering-machine and fax detection for the first seconds of an answered
//! outbound call: a person, a machine, a fax, or unsure.
//!
//! The runtime feeds [`AmdDetector::push`] the answered call's decoded audio
//! (8 kHz, 16-bit, any frame length; 20 ms in a call) and acts on the first
//! [`AmdDecision`] it returns. Everything here is a pure function of the
//! samples, so the detector is measured on files exactly as it runs in a
//! call: [`detect`], [`detect_wav`] and `dialect amd detect FILE.wav`.
//!
//! # How it decides
//! Each 20 ms frame goes through two analyses:
//! - the fax tones (`tone.rs`): a CNG burst of 0.5 s or 2.5 s of
//!   CED/ANSam decides a fax; while a tone burst lasts, the greeting
//!   analysis waits, so a tone is neither a long word nor silence;
//! - the greeting (`speech.rs`): Asterisk's `app_amd` word and
//!   silence state machine, with a silence threshold that can follow the
//!   noise floor and an earlier person after a short greeting.
//!
//! After `total_analysis_ms` without a decision the answer is unsure. The
//! settings are in [`AmdConfig`]; the operations guide (The dialer) explains them and
//! the measured error rates.
//!
//! # Layout
//! - `config.rs`: [`AmdConfig`], its defaults and checks.
//! - `speech.rs`: the noise floor and the word/silence state machine.
//! - `tone.rs`: the Goertzel CNG and CED detector.
//! - `tests.rs`: each decision on synthesised audio.

mod config;
mod speech;
mod tone;

use std::path::Path;

pub use config::{AmdConfig, AmdConfigError};

use speech::Greeting;
use tone::{FRAME, FRAME_MS, FaxTone, ToneDetector};

/// What answered the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmdVerdict {
    /// A person: connect an agent (or start the flow) now.
    Person,
    /// An answering machine or a network announcement.
    Machine,
    /// A fax machine or a modem.
    Fax,
    /// The analysis time ran out; the campaign chooses (usually a person,
    /// since hanging up on a person is an abandoned call).
    Unsure,
}

impl AmdVerdict {
    /// The word `dialect amd detect` prints and campaign results store.
    pub fn as_str(self) -> &'static str {
        match self {
            AmdVerdict::Person => "person",
            AmdVerdict::Machine => "machine",
            AmdVerdict::Fax => "fax",
            AmdVerdict::Unsure => "unsure",
        }
    }
}

impl std::fmt::Display for AmdVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule decided, for the attempt's record and for tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AmdCause {
    /// No word within `initial_silence_ms` (machine).
    InitialSilence,
    /// More than `greeting_ms` of speech (machine).
    LongGreeting,
    /// `max_words` words (machine).
    MaxWords,
    /// One word longer than `max_word_ms` (machine).
    MaxWordLength,
    /// No decision within `total_analysis_ms` (unsure).
    TooLong,
    /// A greeting followed by silence (person).
    GreetingThenSilence,
    /// A calling fax's 1100 Hz burst.
    Cng,
    /// An answering fax's or modem's 2100 Hz tone.
    Ced,
}

impl AmdCause {
    /// A short name for logs and results (`app_amd`'s cause names where it
    /// has one).
    pub fn as_str(self) -> &'static str {
        match self {
            AmdCause::InitialSilence => "INITIALSILENCE",
            AmdCause::LongGreeting => "LONGGREETING",
            AmdCause::MaxWords => "MAXWORDS",
            AmdCause::MaxWordLength => "MAXWORDLENGTH",
            AmdCause::TooLong => "TOOLONG",
            AmdCause::GreetingThenSilence => "HUMAN",
            AmdCause::Cng => "CNG",
            AmdCause::Ced => "CED",
        }
    }
}

impl std::fmt::Display for AmdCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detector's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmdDecision {
    /// What answered.
    pub verdict: AmdVerdict,
    /// The rule that decided.
    pub cause: AmdCause,
    /// Audio analysed when it decided, in milliseconds from the first sample
    /// pushed (the answer): the delay the called party lived through.
    pub at_ms: u32,
}

impl std::fmt::Display for AmdDecision {
    /// `person 1.42`: the line `dialect amd detect` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}.{:02}",
            self.verdict,
            self.at_ms / 1000,
            self.at_ms % 1000 / 10
        )
    }
}

/// Streaming answering-machine and fax detector for one answered call.
///
/// Allocation-free after construction; a 20 ms frame costs six Goertzel
/// recurrences and a sum per sample.
#[derive(Debug, Clone)]
pub struct AmdDetector {
    total_analysis_ms: u32,
    detect_fax: bool,
    greeting: Greeting,
    tones: ToneDetector,
    /// Samples of the frame being filled.
    frame: [f32; FRAME],
    fill: usize,
    /// Audio analysed, in whole frames.
    elapsed_ms: u32,
    decision: Option<AmdDecision>,
}

impl AmdDetector {
    /// A detector for one call; check `config` with
    /// [`AmdConfig::validate`] when it comes from outside.
    pub fn new(config: AmdConfig) -> Self {
        AmdDetector {
            total_analysis_ms: config.total_analysis_ms,
            detect_fax: config.detect_fax,
            greeting: Greeting::new(&config),
            tones: ToneDetector::new(),
            frame: [0.0; FRAME],
            fill: 0,
            elapsed_ms: 0,
            decision: None,
        }
    }

    /// Takes the next samples (8 kHz, 16-bit linear); returns the decision
    /// when these samples bring it, and `None` before and after (see
    /// [`AmdDetector::decision`]).
    pub fn push(&mut self, samples: &[i16]) -> Option<AmdDecision> {
        if self.decision.is_some() {
            return None;
        }
        for &s in samples {
            self.frame[self.fill] = s as f32;
            self.fill += 1;
            if self.fill == FRAME {
                self.fill = 0;
                if let Some(decision) = self.frame_done() {
                    self.decision = Some(decision);
                    return Some(decision);
                }
            }
        }
        None
    }

    /// The decision once made.
    pub fn decision(&self) -> Option<AmdDecision> {
        self.decision
    }

    /// Words heard so far (for logs: why a greeting was a machine).
    pub fn words(&self) -> u32 {
        self.greeting.words()
    }

    /// The decision for audio that has ended: the line is taken to be
    /// silent from here on (what the far end does when it stops talking),
    /// which always decides within `total_analysis_ms`.
    pub fn finish(&mut self) -> AmdDecision {
        let silence = [0i16; FRAME];
        loop {
            if let Some(decision) = self.decision {
                return decision;
            }
            self.push(&silence);
        }
    }

    /// Analyses the frame just filled.
    fn frame_done(&mut self) -> Option<AmdDecision> {
        let frame = &self.frame;
        let (mut energy, mut abs_sum) = (0f32, 0f32);
        for &x in frame {
            energy += x * x;
            abs_sum += x.abs();
        }
        let mean_abs = abs_sum / FRAME as f32;
        self.elapsed_ms += FRAME_MS;
        let decide = |verdict, cause, at_ms| {
            Some(AmdDecision {
                verdict,
                cause,
                at_ms,
            })
        };
        let mut in_burst = false;
        if self.detect_fax {
            let step = self.tones.step(frame, energy, mean_abs);
            match step.decided {
                Some(FaxTone::Cng) => {
                    return decide(AmdVerdict::Fax, AmdCause::Cng, self.elapsed_ms);
                }
                Some(FaxTone::Ced) => {
                    return decide(AmdVerdict::Fax, AmdCause::Ced, self.elapsed_ms);
                }
                None => {}
            }
            in_burst = step.in_burst;
        }
        if in_burst {
            // A tone burst is judged by its length; the greeting analysis
            // resumes after it. The analysis time waits for it too: a
            // burst is bounded (2.5 s decides a CED).
            return None;
        }
        if let Some((verdict, cause)) = self.greeting.step(mean_abs) {
            return decide(verdict, cause, self.elapsed_ms);
        }
        if self.elapsed_ms >= self.total_analysis_ms {
            return decide(AmdVerdict::Unsure, AmdCause::TooLong, self.elapsed_ms);
        }
        None
    }
}

/// Decides on a whole recording at 8 kHz (or any other rate, resampled
/// first); audio shorter than the decision is followed by silence.
pub fn detect(samples: &[i16], sample_rate: u32, config: AmdConfig) -> AmdDecision {
    let resampled;
    let pcm = if sample_rate == 8000 {
        samples
    } else {
        resampled = crate::resample::resample(samples, sample_rate, 8000);
        &resampled[..]
    };
    let mut detector = AmdDetector::new(config);
    match detector.push(pcm) {
        Some(decision) => decision,
        None => detector.finish(),
    }
}

/// Reads a WAV file (any rate, depth and channel count the prompt loader
/// accepts; channels are mixed) and decides; the entry point of
/// `dialect amd detect FILE.wav`.
pub fn detect_wav(
    path: &Path,
    config: AmdConfig,
) -> Result<AmdDecision, crate::prompt::PromptError> {
    let (pcm, rate) = crate::prompt::read_wav_mono(path)?;
    Ok(detect(&pcm, rate, config))
}

#[cfg(test)]
mod tests;
