//! The Dialect telephony runtime: the server that answers calls and runs compiled flows.
//!
//! It owns every piece of IO in Dialect: SIP signalling towards phones and carrier
//! trunks, RTP media, the flow executor, the ACD, the workorder engine, storage
//! and the HTTP API. One tokio task runs per call; shared
//! contact-center state lives in actors fed by messages.
//!
//! # Layout
//!
//! The protocol layers and the pure cores are crates of their own: `dialect-sip`
//! (SIP), `dialect-media` (RTP, DTMF, prompts, recording), `dialect-acd` (the ACD
//! core and the simulator). This crate joins them to the compiled program, the
//! store and the network.
//!
//! - [`server`]: `dialect run`: everything started, and the graceful shutdown.
//! - [`admission`]: per-source limits on new calls (untrusted sources).
//! - [`limits`]: the open-files limit, raised at start and reported.
//! - [`overload`]: admission by measured load (scheduler delay, media clock,
//!   CPU idle): 503 past capacity, and OPTIONS answered 503 for the SIP front.
//! - [`config`]: the YAML configuration, its defaults and its checks across sections.
//! - [`call`]: the call task: a flow run against SIP, RTP, speech and HTTP;
//!   `call::dialled` places the calls the ACD orders (callbacks, outbound).
//! - [`acd`]: the ACD actor: one task owns the ACD core and feeds it messages
//!   from call tasks, the CTI API and the registrar.
//! - [`cluster`]: services run by one runtime of a cluster at a time (the
//!   ACD, the workorder engine, the outbox, the dialer): leases, fenced
//!   writes, forwarding; `cluster::acd` links every runtime's calls and
//!   phones to the runtime running the ACD and hands them over when it moves.
//! - [`workorder`]: the workorder engine (lifecycles, timers, history) and
//!   outbound tasks.
//! - [`api`]: the HTTP API (axum), one file per area: every route is there; its
//!   listener with connection caps and time-outs, and the token checks; and the
//!   agent desk and wallboard pages, whose files are in `runtime/web/`.
//! - [`auth`]: users, roles, the audit log.
//! - [`store`]: the storage trait, the embedded sled store (group commit) and
//!   the PostgreSQL store that several runtimes share.
//! - [`notify`]: the outbox worker: SMS and e-mail notifications sent
//!   durably through the configured gateways, with retries and receipts.
//! - [`outbound`]: the outbound-call policy every placed call goes through.
//! - [`contacts`]: contact records with their IVR trail.
//! - [`flowstats`]: statistics per flow and per step (F13), counted by the
//!   call tasks and kept by hour.
//! - [`lists`]: number-list entries added while running, laid over the program.
//! - [`interactions`]: event types and customer interaction events (spec 4.2.1, 4.2.3).
//! - [`deploy`]: the deployed program and its atomic replacement.
//! - [`dialer`]: the outbound dialer: running campaigns, their targets in the
//!   store, pacing and results (the logic is the `dialect-dialer` crate's).
//! - [`login`]: signing in at a browser: password hashes, sessions, the
//!   anti-forgery token and the lock-out of guessers (API tokens are in
//!   [`auth`]).
//! - [`private`]: the data folder kept private (umask 077, modes 0700/0600).
//! - [`stats`]: counters for `/metrics`.
//! - [`time`]: Unix time for actors, following tokio's pausable clock.

pub mod acd;
pub mod admission;
pub mod api;
pub mod auth;
pub mod call;
pub mod cluster;
pub mod config;
pub mod contacts;
pub mod deploy;
pub mod dialer;
pub mod flowstats;
pub mod interactions;
pub mod limits;
pub mod lists;
pub mod login;
pub mod notify;
pub mod outbound;
pub mod overload;
pub mod private;
pub mod server;
pub mod stats;
pub mod store;
pub mod time;
pub mod workorder;
