//! The crate's error type.
//!
//! One enum for TTS, ASR and the bridge: the runtime mostly logs these and
//! falls back (to a recorded prompt, to DTMF), so each message says which
//! engine failed and why in words an operator can act on. Expected outcomes
//! of recognition (no input, no match) are *not* errors: they are
//! [`Recognition`](crate::asr::Recognition) values.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong in the speech layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine's program could not be started (usually: not installed).
    #[error("cannot start {engine} ({path}): {source}; is it installed?")]
    EngineMissing {
        /// Engine name, such as `espeak-ng`.
        engine: &'static str,
        /// The program the crate tried to run.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The engine ran but reported a failure.
    #[error("{engine} failed: {detail}")]
    EngineFailed {
        /// Engine name, such as `espeak-ng` or `pocketsphinx`.
        engine: &'static str,
        /// Exit status and the engine's own message.
        detail: String,
    },
    /// The engine did not finish in time and was stopped.
    #[error("{engine} did not finish within {after:?} and was stopped")]
    Timeout {
        /// Engine name as messages show it (`espeak-ng`).
        engine: &'static str,
        /// The time limit that was exceeded.
        after: Duration,
    },
    /// A voice or language name holds characters no engine voice has.
    #[error(
        "invalid voice `{0}`: use letters, digits, `-` and `_` only (such as `en-us` or `cmn`)"
    )]
    InvalidVoice(String),
    /// Text to synthesize was empty or too long.
    #[error("cannot synthesize this text: {0}")]
    InvalidText(String),
    /// Audio bytes were not a WAV file the crate can read.
    #[error("unreadable audio: {0}")]
    Audio(String),
    /// A grammar phrase uses a word the recognizer cannot pronounce.
    #[error("the word `{word}` (in the phrase `{phrase}`) is not in the recognizer's dictionary")]
    UnknownWord {
        /// The missing word, normalized as the recognizer sees it.
        word: String,
        /// The phrase it came from, as written.
        phrase: String,
    },
    /// A grammar is empty or contradictory.
    #[error("invalid grammar: {0}")]
    Grammar(String),
    /// A cache directory could not be used.
    #[error("TTS cache at {path}: {source}")]
    Cache {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The speech bridge could not be reached or answered with an error.
    #[error("speech bridge {url}: {detail}")]
    Remote {
        /// The URL asked (the bridge's base URL and the endpoint's path), or the
        /// base URL alone when no client could be built for it.
        url: String,
        /// The transport error or the bridge's error message.
        detail: String,
    },
    /// An internal task was cancelled or panicked (the runtime is shutting down).
    #[error("speech worker stopped: {0}")]
    Worker(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
