//! Dialect speech (WIP guide).

pub mod asr;
pub mod audio;
pub mod bridge;
pub mod error;
pub mod say;
pub mod tts;
pub mod voice;

pub use audio::Audio;
pub use error::{Error, Result};
pub use voice::{Lang, Voice};

/// A boxed, sendable future: what the engine traits return, so that they can
/// be used as `Arc<dyn Tts>` / `Arc<dyn Asr>`.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
