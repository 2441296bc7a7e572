//! The ACD: skill queues, agents and supervisors, driven by the compiled `queue`
//! rules (REQUIREMENTS Q1–Q14; spec 000 §5.2.1.1.2 排队管理, 003 "ACD功能").
//!
//! The decisions live in [`AcdCore`], a deterministic state machine over explicit
//! time: it takes [`Input`]s (a call arrives, an offer was answered, a key was
//! pressed, a timer fired...) and [`AgentCommand`]s, and produces [`Effect`]s
//! (messages to call tasks, calls to place, events, "wake me at t"). It never
//! reads a clock or does IO, so the unit tests run it on made-up times and the
//! simulator (`crate::sim`) runs a day of traffic on virtual time. [`AcdHandle`]
//! runs the core in one tokio task (the actor) on real time and turns effects into
//! channel messages; [`api::routes`] is the HTTP/WebSocket CTI API.
//!
//! # How a call task uses the ACD
//!
//! ```text
//! let (tx, mut rx) = tokio::sync::mpsc::channel(64);
//! acd.enqueue(QueuedCall { call_id, queue, caller, called, trunk, customer_id,
//!                          data, trail, entered_ms: now_ms() }, tx).await?;
//! loop {
//!   select! {
//!     Some(msg) = rx.recv() => match msg {
//!       AcdToCall::Queued { .. }        => note position / estimate in the trail
//!       AcdToCall::Music { on, prompt } => start_moh(prompt) / stop_moh()
//!       AcdToCall::Announce(a)          => play position / wait / prompt over the music
//!       AcdToCall::Offer { agent, contact, auto_answer, ring_ms } =>
//!           INVITE the agent's registered contact (registrar.lookup(agent) when
//!           `contact` is None); when it ends: acd.offer_result(call_id, &agent, r)
//!           with r = Answered (200), Rejected (603/decline), Busy (486),
//!           NoAnswer (408/480), Unregistered (no binding), Failed (other)
//!       AcdToCall::Answer { agent }     => the desktop answered: make the phone answer
//!       AcdToCall::CancelOffer { agent }=> CANCEL that INVITE (or BYE a late answer)
//!       AcdToCall::Bridge { agent }     => stop music, media::bridge(caller, agent)
//!       AcdToCall::Move { dest, .. }    => leave the queue: run the flow, dial the
//!                                          number, `transfer agent` (acd.direct), hang up
//!       AcdToCall::CallbackAccepted{..} => play a confirmation, hang up (no caller_gone needed)
//!       AcdToCall::Unavailable { .. }   => a direct offer failed: resume the flow with Failed
//!       AcdToCall::Hold / Resume        => caller on/off hold (MOH), agent leg muted
//!       AcdToCall::ReleaseAgent{agent}  => BYE that agent's leg, keep the caller
//!       AcdToCall::HangUp               => end the call (BYE both), then call_ended
//!       AcdToCall::Consult{agent,..}    => hold caller, ring agent, bridge agent<->agent;
//!                                          acd.offer_result(call, agent, ..)
//!       AcdToCall::ConsultEnd{agent}    => BYE the consulted agent, resume caller
//!       AcdToCall::CompleteTransfer{from,to} => bridge caller<->to, BYE from
//!       AcdToCall::Conference{agents}   => mix caller and all agents
//!       AcdToCall::TransferNumber{number} => blind transfer out (the ACD forgets the call)
//!       AcdToCall::Monitor{phone, mode} => ring the supervisor's phone; listen /
//!                                          whisper / barge with media::listen / whisper
//!       AcdToCall::TakeOver{phone, agent} => supervisor's leg replaces the agent's
//!       AcdToCall::MonitorEnd{phone}    => BYE the supervisor's leg
//!       AcdToCall::Data{data}           => keep for the contact record
//!     },
//!     key = dtmf()       => acd.caller_key(call_id, key).await,
//!     _ = caller_bye()   => acd.caller_gone(call_id).await,     // while waiting or ringing
//!   }
//! }
//! // after the bridged call ends (either side): acd.call_ended(call_id, Some(talk_ms)).await
//! // an agent leg of a conference/consultation hung up: acd.agent_left(call_id, agent).await
//! // hold from the phone itself: acd.held(call_id, on).await
//! ```
//!
//! The runtime's call task carries out this whole loop: `call::queue` the waiting
//! part (music, announcements, offers rung on the registered contact, cancel,
//! bridge, moves, callback acceptance, call data) and `call::bridged` the messages
//! for a bridged call (hold, consultation, transfers, conference, monitoring).
//!
//! A flow's `transfer agent "1001"` uses [`AcdHandle::direct`]: the agent is rung if
//! free, else the call task gets `Unavailable`.
//!
//! Calls the ACD places itself (a callback whose turn came, an agent's outbound
//! call) arrive as [`DialOrder`]s on the receiver returned by [`AcdHandle::spawn`].
//! The runtime dials the number through the trunk; when it is answered the new call
//! task calls [`AcdHandle::dial_answered`] with its own event channel and from
//! then on behaves like any call task above (it gets `Offer`/`Bridge`); if the
//! number does not answer it calls [`AcdHandle::dial_failed`]. The server hands
//! each order to `call::dialled::place`, which does exactly that (for an outbound
//! call it rings the agent's phone before dialling the number). While it dials,
//! the call task watches [`AcdHandle::dial_given_up`]: the ACD cancels that token
//! when it stops waiting ([`Effect::DialGivenUp`]: `acd.dial_timeout_ms` passed,
//! or the reserved agent was released), and the task then cancels the ringing
//! number (CANCEL) and reports with `dial_failed`. A `dial_answered` that comes
//! after the ACD gave up gets `Unavailable`, and the task hangs up.
//!
//! # Layout
//!
//! - [`types`]: the messages and events ([`QueuedCall`], [`AcdToCall`], [`Effect`]...).
//! - [`core`]: [`AcdCore`], the state machine; [`AcdConfig`].
//! - `queue`: queue rules from the IR, strategies, the order of waiting calls.
//! - `agent`: agent state and policy; [`AgentDef`].
//! - [`estimator`]: the wait estimators (queue-length with abandonment; Asterisk's).
//! - [`stats`]: statistics by queue, agent, skill and trunk over a period.
//! - [`actor`]: [`AcdHandle`], the tokio actor; storage of records and state history.
//! - [`api`]: the CTI and real-time HTTP/WebSocket routes.

pub mod actor;
mod agent;
pub mod api;
pub mod core;
pub mod estimator;
mod queue;
pub mod stats;
pub mod types;

pub use actor::{AcdError, AcdHandle};
pub use agent::AgentDef;
pub use core::{
    AcdConfig, AcdCore, AgentCommand, AgentView, CtiError, CtiReply, DIRECT_QUEUE, Estimate, Input,
    OUTBOUND_QUEUE, QueueView, WaitingView,
};
pub use queue::Strategy;
pub use types::*;
