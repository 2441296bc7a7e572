//! Speech recognition for spoken menu choices and numbers (REQUIREMENTS F4).
//!
//! A listening turn has two halves. The call task feeds the caller's 8 kHz
//! frames to a [`Session`], which end-points them ([`endpoint`]) without
//! blocking or allocating; when the session reports [`Progress::Done`] (or the
//! task stops listening, e.g. on a DTMF key), [`Session::finish`] hands the
//! utterance to an [`Asr`] engine and returns a [`Recognition`]:
//!
//! ```no_run
//! # async fn demo(frames: Vec<[i16; 160]>) -> dialect_speech::Result<()> {
//! use std::sync::Arc;
//! use dialect_speech::asr::{Asr, EndpointConfig, Grammar, Progress, Recognition, Session};
//! use dialect_speech::asr::{SphinxAsr, SphinxConfig};
//!
//! let asr: Arc<dyn Asr> = Arc::new(SphinxAsr::new(SphinxConfig::default()).await?);
//! let grammar = Arc::new(Grammar::phrases([("billing", "1"), ("fault report", "3")]));
//! asr.check(&grammar).await?; // at deploy time: unknown words are errors
//!
//! let mut session = Session::new(asr.clone(), grammar, EndpointConfig::default());
//! for frame in &frames {
//!     match session.push(frame) {
//!         Progress::SpeechStarted => { /* barge-in: stop the prompt */ }
//!         Progress::Done => break,
//!         Progress::Listening | Progress::Speaking => {}
//!     }
//! }
//! match session.finish().await? {
//!     Recognition::Recognized { choice, confidence, .. } if confidence >= 0.5 => { /* branch */ }
//!     Recognition::Recognized { .. } | Recognition::NoMatch { .. } => { /* retry or DTMF */ }
//!     Recognition::NoInput => { /* no input handler */ }
//! }
//! # Ok(()) }
//! ```
//!
//! The engine is the local [`SphinxAsr`] (pocketsphinx, decoders pooled on
//! blocking threads) or a [`RemoteAsr`](crate::bridge::RemoteAsr) that sends
//! the utterance to the speech bridge; both implement [`Asr`].

pub mod endpoint;
mod ffi;
pub mod grammar;
mod sphinx;

pub use endpoint::{Endpoint, EndpointConfig, Endpointer, Progress, SAMPLE_RATE};
pub use grammar::{Grammar, Phrase};
pub use sphinx::{Analysis, InputMode, SphinxAsr, SphinxConfig};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::error::Result;

/// The outcome of a listening turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Recognition {
    /// The caller said a sentence of the grammar.
    Recognized {
        /// The choice key of the phrase, or the digit string.
        choice: String,
        /// The words recognized.
        text: String,
        /// 0.0..=1.0; the flow may ask for more before it trusts the choice.
        confidence: f32,
    },
    /// The caller spoke, but not (confidently) anything the grammar allows.
    NoMatch {
        /// The engine's best guess, for logs and tuning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// The guess's confidence.
        confidence: f32,
    },
    /// The caller did not speak.
    NoInput,
}

/// A recognizer of end-pointed utterances.
///
/// Shared by all call tasks as `Arc<dyn Asr>`; the futures must not block
/// the executor.
pub trait Asr: Send + Sync {
    /// Checks that the engine can recognize the grammar (every word is in its
    /// dictionary), so a flow can be refused at deploy time.
    fn check<'a>(&'a self, grammar: &'a Grammar) -> BoxFuture<'a, Result<()>>;

    /// Recognizes one utterance of 8 kHz mono samples against a grammar.
    ///
    /// Samples without speech in them give [`Recognition::NoInput`] or
    /// [`Recognition::NoMatch`]; errors are for engine failures and bad
    /// grammars.
    fn recognize(
        &self,
        grammar: Arc<Grammar>,
        samples: Vec<i16>,
    ) -> BoxFuture<'_, Result<Recognition>>;
}

impl<T: Asr + ?Sized> Asr for Arc<T> {
    fn check<'a>(&'a self, grammar: &'a Grammar) -> BoxFuture<'a, Result<()>> {
        (**self).check(grammar)
    }

    fn recognize(
        &self,
        grammar: Arc<Grammar>,
        samples: Vec<i16>,
    ) -> BoxFuture<'_, Result<Recognition>> {
        (**self).recognize(grammar, samples)
    }
}

/// One listening turn of a call: end-pointing, then recognition.
pub struct Session {
    asr: Arc<dyn Asr>,
    grammar: Arc<Grammar>,
    endpointer: Endpointer,
}

impl Session {
    /// Starts listening (the utterance buffer is reserved here).
    pub fn new(asr: Arc<dyn Asr>, grammar: Arc<Grammar>, config: EndpointConfig) -> Self {
        Session {
            asr,
            grammar,
            endpointer: Endpointer::new(config),
        }
    }

    /// Feeds one 20 ms frame (160 samples at 8 kHz). Cheap; never allocates.
    pub fn push(&mut self, frame: &[i16]) -> Progress {
        self.endpointer.push(frame)
    }

    /// Whether the end-pointer has finished listening.
    pub fn is_done(&self) -> bool {
        self.endpointer.is_done()
    }

    /// Whether the caller has started speaking.
    pub fn heard_speech(&self) -> bool {
        self.endpointer.heard_speech()
    }

    /// Recognizes what was heard. May be called before [`Progress::Done`]
    /// (the turn ends now). Cancel-safe: dropping the future abandons the
    /// recognition.
    pub async fn finish(self) -> Result<Recognition> {
        match self.endpointer.finish() {
            Endpoint::NoInput => Ok(Recognition::NoInput),
            Endpoint::Speech { samples, .. } => self.asr.recognize(self.grammar, samples).await,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("grammar", &self.grammar)
            .field("endpointer", &self.endpointer)
            .finish_non_exhaustive()
    }
}
