//! The Dialect telephony runtime: the server that answers calls and runs compiled flows.
//!
//! It owns every piece of IO in Dialect: SIP signalling towards phones and carrier
//! trunks, RTP media, the flow executor, the ACD, the outbound dialer, the workorder
//! engine, storage and the HTTP API. One tokio task runs per call; shared
//! contact-center state lives in actors fed by messages.
//!
//! # Layout
//!
//! - [`sip`]: SIP over UDP and TCP: parsing at the edge, transports, RFC 3261
//!   transactions and timers, dialogs, SDP offer/answer, digest authentication, the
//!   registrar for agent phones, carrier trunks, and [`sip::SipEndpoint`], the entry
//!   point a call task uses.
//! - [`media`]: the media plane: RTP, G.711, RFC 4733 and in-band DTMF,
//!   prompts, pacing, recording, and the per-call [`media::RtpSession`].

pub mod media;
pub mod sip;
