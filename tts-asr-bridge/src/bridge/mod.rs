//! The speech bridge: TTS and ASR over HTTP, so media servers share a farm.
//!
//! [`router`] serves any [`Tts`](crate::tts::Tts) and [`Asr`](crate::asr::Asr)
//! (the binary `dialect-speech-bridge` serves the built-in engines);
//! [`RemoteTts`] and [`RemoteAsr`] are clients that implement the same traits,
//! so a runtime picks local or remote engines by configuration only.
//!
//! | request | body | answer |
//! |---|---|---|
//! | `POST /v1/tts` | JSON `{"text": "...", "voice": {"language": "zh", ...}}` | `audio/wav` (the engine's rate, mono 16-bit) |
//! | `POST /v1/asr[?endpoint=false]` | a WAV file; grammar as JSON in the `x-dialect-grammar` header | JSON [`Recognition`](crate::asr::Recognition) |
//! | `POST /v1/grammar/check` | JSON [`Grammar`](crate::asr::Grammar) | `204`, or an error naming the unknown word |
//! | `GET /health` | | `{"status": "ok"}` |
//!
//! The ASR body may be at any sample rate (it is converted to 8 kHz) and is
//! end-pointed first unless `endpoint=false` (the remote client sends audio
//! its own session already end-pointed). Errors come back as JSON
//! `{"error": "...", "kind": "...", ...}` with a 4xx status for bad input and
//! 5xx for engine failures; the clients turn them back into [`Error`](crate::Error)
//! values. The header must be ASCII: the client escapes other characters as
//! JSON `\uXXXX` sequences.

mod client;
mod server;
mod wire;

pub use client::{RemoteAsr, RemoteTts};
pub use server::{BridgeState, router, serve};
pub use wire::{ErrorBody, GRAMMAR_HEADER, TtsRequest};
