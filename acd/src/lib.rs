//! The ACD core (crate `dialect-acd`): skill queues, agents and supervisors, driven by the compiled `queue`
//! rules (REQUIREMENTS Q1–Q14; spec 000 §5.2.1.1.2 排队管理, 003 "ACD功能").
//!
//! The decisions live in [`AcdCore`], a deterministic state machine over explicit
//! time: it takes [`Input`]s (a call arrives, an offer was answered, a key was
//! pressed, a timer fired...) and [`AgentCommand`]s, and produces [`Effect`]s
//! (messages to call tasks, calls to place, events, "wake me at t"). It never
//! reads a clock or does IO, so the unit tests run it on made-up times and the
//! simulator ([`sim`]) runs a day of traffic on virtual time. This crate does no
//! IO and has no async runtime: the telephony runtime runs the core in one tokio
//! task (its `acd` actor, `AcdHandle`) on real time, turns effects into channel
//! messages and storage writes, and serves the CTI API over HTTP; its module docs
//! describe how a call task talks to the ACD.
//!
//! # Layout
//!
//! - [`types`]: the messages and events ([`QueuedCall`], [`AcdToCall`], [`Effect`]...).
//! - [`core`]: [`AcdCore`], the state machine, one role a file:
//!   - `core/mod.rs`: the struct, its call record and timers, [`AcdCore::handle`],
//!     timers firing, program loading;
//!   - `core/routing.rs`: a call in a queue: arrival, priorities and the predicate
//!     environment, estimates, agent selection, dispatch, overflow, leaving,
//!     callbacks, caller keys;
//!   - `core/offers.rs`: offering a call to agents and the offer results;
//!   - `core/calls.rs`: calls after their offer: hold, legs leaving, the end of a
//!     call, placed calls answered or failed;
//!   - `core/agents.rs`: agent state changes, wrap-up, pending states, eligibility;
//!   - `core/commands.rs`: the CTI entry ([`AcdCore::command`]), one function per
//!     [`AgentCommand`];
//!   - `core/views.rs`: [`QueueView`], [`AgentView`] and the read accessors;
//!   - `core/config.rs`: [`AcdConfig`];
//!   - `core/tests.rs`: the core's unit tests on explicit time.
//! - `arena`: the typed indexes into the core's arenas (`AgentIx`, `QueueIx`,
//!   `CallSlot`).
//! - `queue`: queue rules from the IR, strategies, the order of waiting calls.
//! - `agent`: agent state and policy; [`AgentDef`].
//! - [`estimator`]: the wait estimate the ACD announces (a learned blend of delay
//!   predictors, `estimator/blend.rs`; departures by age of wait,
//!   `estimator/hazard.rs`), the earlier queue-length estimator and Asterisk's.
//! - [`stats`]: statistics by queue, agent, skill and trunk over a period.
//! - [`sim`]: the discrete-event contact-center simulator (`dialect simulate`)
//!   running the core on virtual time, with Erlang C / Erlang A baselines; its
//!   traffic file (`sim/traffic.rs`) and report (`sim/report.rs`).

mod agent;
mod arena;
pub mod core;
pub mod estimator;
mod queue;
pub mod sim;
pub mod stats;
pub mod types;

pub use agent::AgentDef;
pub use core::{
    AcdConfig, AcdCore, AgentCommand, AgentView, CtiError, CtiReply, DIRECT_QUEUE, Estimate, Input,
    OUTBOUND_QUEUE, QueueView, WaitingView,
};
pub use queue::Strategy;
pub use types::*;
