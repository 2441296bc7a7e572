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
//! - [`core`]: [`AcdCore`], the state machine; [`AcdConfig`].
//! - `queue`: queue rules from the IR, strategies, the order of waiting calls.
//! - `agent`: agent state and policy; [`AgentDef`].
//! - [`estimator`]: the wait estimators (queue-length with abandonment; Asterisk's).
//! - [`stats`]: statistics by queue, agent, skill and trunk over a period.
//! - [`sim`]: the discrete-event contact-center simulator (`dialect simulate`)
//!   running the core on virtual time, with Erlang C / Erlang A baselines.

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
