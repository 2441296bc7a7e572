//! The Dialect telephony runtime: the server that answers calls, runs compiled
//! flows and owns all telephony IO.
//!
//! # Layout
//! - [`media`]: the media plane: RTP, G.711, RFC 4733 and in-band DTMF,
//!   prompts, pacing, recording, and the per-call [`media::RtpSession`].

pub mod media;
