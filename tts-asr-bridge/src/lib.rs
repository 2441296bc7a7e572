//! Dialect speech: text to speech and speech recognition for the IVR runtime.
//!
//! Call tasks speak prompts and results ([`tts::Tts`], [`say`]) and listen
//! for spoken menu choices and numbers ([`asr::Session`], [`asr::Asr`]).
//! Both engines sit behind traits with a local built-in implementation
//! (espeak-ng, pocketsphinx) and a remote one that asks a shared speech
//! farm over HTTP ([`bridge`]); the runtime holds an `Arc<dyn Tts>` and an
//! `Arc<dyn Asr>` chosen by configuration ([`SpeechConfig::build`]) and
//! never knows which it has.
//!
//! # Speaking
//!
//! ```no_run
//! # async fn demo() -> dialect_speech::Result<()> {
//! use std::sync::Arc;
//! use dialect_speech::say::{self, Currency};
//! use dialect_speech::tts::{CacheConfig, CachedTts, EspeakConfig, EspeakTts, Tts};
//! use dialect_speech::{Lang, Voice};
//!
//! let tts: Arc<dyn Tts> = Arc::new(CachedTts::new(
//!     EspeakTts::new(EspeakConfig::default()),
//!     CacheConfig { dir: Some("/var/cache/dialect/tts".into()), ..CacheConfig::default() },
//! ));
//! let text = format!("您的余额是{}", say::money(Lang::Zh, Currency::Yuan, 12345));
//! let audio = tts.synthesize(&text, &Voice::zh()).await?; // 22 050 Hz mono
//! # Ok(()) }
//! ```
//!
//! The audio comes at the engine's rate: the runtime converts it to 8 kHz
//! and G.711 itself. Each (text, voice) is synthesized once, then served
//! from memory (LRU, bounded in bytes) or the cache directory.
//!
//! # Listening
//!
//! A [`asr::Session`] takes the call's 20 ms frames (8 kHz, `&[i16]`),
//! end-points them by energy, and [`asr::Session::finish`] returns
//! [`asr::Recognition::Recognized`] `{ choice, text, confidence }`,
//! `NoMatch` or `NoInput`; see [`asr`] for the loop. Grammars are menu
//! phrases mapped to choice keys, or digit strings
//! ([`asr::Grammar::phrases`], [`asr::Grammar::digits`]). Check them at
//! deploy time with [`asr::Asr::check`]: a word missing from the
//! recognizer's dictionary is an error that names it.
//!
//! # Measured (espeak-ng speech, telephone band)
//!
//! `cargo run --release -p dialect-speech --example asr_accuracy`: 8 voices
//! and rates of espeak-ng, resampled to 8 kHz, G.711 mu-law and line hiss;
//! menu of four phrases (billing, fault report, complaint, agent), digit
//! strings of 3 to 6 digits, six out-of-grammar phrases.
//!
//! | | 8 kHz front end | upsampled to 16 kHz (chosen) |
//! |---|---|---|
//! | menu phrases, right | 12/32 | 32/32 (31 above the confidence threshold) |
//! | digit strings, 1-8 digits | 0/48 | 5/48 |
//! | digit strings, length known | 0/48 | 10/48 |
//! | out-of-grammar rejected | 42/48 (it rejects nearly everything) | 42/48 |
//! | decode time, median per utterance | 64 ms | 57 ms (0.03 s per s of audio) |
//!
//! The en-us model is trained on 16 kHz speech; an 8 kHz front end puts
//! its filters where the model never saw them and fails, while upsampling
//! only leaves the band above 4 kHz empty. Menus work well; digits do not:
//! without that band espeak-ng's "five"/"nine", "six"/"eight" and "seven"/
//! "one" are confused and short "eight"/"oh" get inserted. A known length
//! helps (the test reads "one two three four" as 1234 in two voices). A
//! flow should prefer DTMF for numbers and ASR for menus. Creating a
//! decoder takes about 0.4 s (hence the pool); a recognition adds the
//! decode time to the end-pointer's 0.8 s of trailing silence.
//!
//! TTS through the bridge (debug build, loopback): a sentence not yet
//! cached takes 25-30 ms (espeak-ng), a cached one 1 ms.
//!
//! # Layout
//!
//! - [`audio`]: [`Audio`] (mono PCM), WAV reading/writing, resampling.
//! - [`voice`]: [`Voice`] and [`Lang`], and their espeak-ng names.
//! - [`tts`]: the [`tts::Tts`] trait; `espeak` (the built-in engine) and
//!   `cache` ([`tts::CachedTts`]: memory LRU and disk cache).
//! - [`say`]: numbers, money, dates, times and digit strings as speakable
//!   text; `zh` and `en` hold each language's rules.
//! - [`asr`]: the [`asr::Asr`] trait, [`asr::Session`] and
//!   [`asr::Recognition`]; `endpoint` (energy end-pointer), `grammar`
//!   (grammars and their JSGF), `sphinx` (the pooled pocketsphinx engine),
//!   `ffi` (the pocketsphinx C API, the crate's only `unsafe`).
//! - [`bridge`]: the HTTP service (`server`), its clients
//!   [`bridge::RemoteTts`] and [`bridge::RemoteAsr`] (`client`), and the
//!   wire types (`wire`). The binary is `src/bin/dialect-speech-bridge.rs`.
//! - [`config`]: [`SpeechConfig`], the runtime's choice of local or bridge
//!   engines, and the code that builds them.
//! - [`error`]: the crate's [`Error`].

pub mod asr;
pub mod audio;
pub mod bridge;
pub mod config;
pub mod error;
pub mod say;
pub mod tts;
pub mod voice;

pub use audio::Audio;
pub use config::SpeechConfig;
pub use error::{Error, Result};
pub use voice::{Lang, Voice};

/// A boxed, sendable future: what the engine traits return, so that they can
/// be used as `Arc<dyn Tts>` / `Arc<dyn Asr>`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
