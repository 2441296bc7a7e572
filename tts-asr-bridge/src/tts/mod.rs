//! Text to speech: the [`Tts`] trait, the espeak-ng engine and the cache.
//!
//! The runtime holds one `Arc<dyn Tts>` chosen by configuration: a
//! [`CachedTts`] around either the local [`EspeakTts`] or a
//! [`RemoteTts`](crate::bridge::RemoteTts) that asks the speech bridge.
//! Synthesis is async and never blocks the executor: espeak-ng runs as a
//! child process driven by `tokio::process`.
//!
//! ```no_run
//! # async fn demo() -> dialect_speech::Result<()> {
//! use dialect_speech::tts::{CacheConfig, CachedTts, EspeakConfig, EspeakTts, Tts};
//! use dialect_speech::Voice;
//!
//! let tts = CachedTts::new(EspeakTts::new(EspeakConfig::default()), CacheConfig::default());
//! let audio = tts.synthesize("您好，欢迎致电", &Voice::zh()).await?;
//! assert_eq!(audio.sample_rate, 22_050); // the runtime converts to 8 kHz
//! # Ok(()) }
//! ```

mod cache;
mod espeak;

pub use cache::{CacheConfig, CacheStats, CachedTts};
pub use espeak::{EspeakConfig, EspeakTts};

use std::sync::Arc;

use crate::BoxFuture;
use crate::audio::Audio;
use crate::error::Result;
use crate::voice::Voice;

/// A speech synthesizer.
///
/// Implementations are shared between call tasks (`Send + Sync`) and used
/// through `Arc<dyn Tts>`; the returned future must not block the executor.
pub trait Tts: Send + Sync {
    /// Speaks `text` with `voice`, as mono PCM at the engine's own rate.
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>>;

    /// A short name of the engine and its settings; the on-disk cache keeps
    /// audio of different engines apart by it.
    fn engine_id(&self) -> String;
}

impl<T: Tts + ?Sized> Tts for Arc<T> {
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>> {
        (**self).synthesize(text, voice)
    }

    fn engine_id(&self) -> String {
        (**self).engine_id()
    }
}

impl<T: Tts + ?Sized> Tts for Box<T> {
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>> {
        (**self).synthesize(text, voice)
    }

    fn engine_id(&self) -> String {
        (**self).engine_id()
    }
}
