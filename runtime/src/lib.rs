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
//! - [`config`]: the YAML configuration and its defaults.
//! - [`store`]: the storage trait and the embedded sled store (group commit).
//! - [`contacts`]: contact records with their IVR trail.
//! - [`interactions`]: event types and customer interaction events (spec 4.2.1, 4.2.3).
//! - [`workorder`]: the workorder engine (lifecycles, timers, history), outbound
//!   tasks, and their API routes.
//! - [`deploy`]: the deployed program and its atomic replacement.
//! - [`api`]: the HTTP API (axum); [`auth`]: users, roles, audit log.
//! - [`acd`]: skill queues, agents and supervisors: the ACD core (a state machine
//!   over explicit time), its actor, and the CTI API.
//! - [`sim`]: the discrete-event contact-center simulator (`dialect simulate`)
//!   running the ACD core on virtual time, and Erlang C / Erlang A.
//! - [`stats`]: counters for `/metrics`.
//! - [`call`]: the call task: a flow run against SIP, RTP, speech and HTTP;
//!   `call::dialled` places the calls the ACD orders (callbacks, outbound).
//! - [`server`]: `dialect run`: everything started, and the graceful shutdown.

pub mod acd;
pub mod api;
pub mod auth;
pub mod call;
pub mod config;
pub mod contacts;
pub mod deploy;
pub mod interactions;
pub mod media;
pub mod server;
pub mod sim;
pub mod sip;
pub mod stats;
pub mod store;
pub mod workorder;

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
