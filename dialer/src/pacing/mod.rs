//! How many lines to dial now. The runtime calls [`Pacer::lines_to_dial`] on
//! every tick (every 250 ms to 1 s) with a [`PaceSnapshot`] it fills from the
//! ACD and its calls in progress, and reports what happens to each line with
//! [`Pacer::observe`]. The pacer keeps the campaign's [`AbandonLedger`].
//!
//! Modes:
//! - progressive: one line per ready agent, minus lines already ringing and
//!   people already waiting for an agent;
//! - predictive ([`predictive`]): a model of when agents free up and when
//!   dialled lines bring people, dialling as many lines as keeps the expected
//!   abandonment under the cap with a margin set by the budget left in the
//!   short and the rolling windows;
//! - adapt ([`adapt`]): VICIdial's AST_VDadapt feedback loop, kept as the
//!   baseline the simulator compares with;
//! - ivr: no agents; as many lines as the channels allow.
//!
//! Every mode is bounded by the free channels, and the agent modes by `max
//! ratio`: calls in progress (ringing, waiting or talking) per logged-in agent,
//! VICIdial's dial level.
//!
//! # Layout
//! - [`model`]: the online traffic model (live-answer rate, answer delays, talk
//!   and wrap-up times).
//! - [`predictive`]: the predictive decision.
//! - [`adapt`]: the ADAPT baseline.

pub mod adapt;
pub mod model;
pub mod predictive;

use dialect_compiler::ir::CampaignIr;

use crate::abandon::{AbandonConfig, AbandonLedger, Answer};
pub use model::Priors;

/// The pacing method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PacingMode {
    /// One line per ready agent.
    Progressive,
    /// Model-based, under the abandon cap.
    Predictive,
    /// VICIdial-ADAPT-style feedback on the dial level.
    Adapt,
    /// Answered calls run a flow: bounded by channels only.
    Ivr,
}

impl PacingMode {
    /// The mode a campaign's `mode` names; `None` for the modes where an agent
    /// starts each call (manual, preview), which the runtime drives itself.
    pub fn of_campaign(mode: &str) -> Option<PacingMode> {
        match mode {
            "progressive" => Some(PacingMode::Progressive),
            "predictive" => Some(PacingMode::Predictive),
            "adapt" => Some(PacingMode::Adapt),
            "ivr" => Some(PacingMode::Ivr),
            _ => None,
        }
    }

    /// The mode as reports name it.
    pub fn name(self) -> &'static str {
        match self {
            PacingMode::Progressive => "progressive",
            PacingMode::Predictive => "predictive",
            PacingMode::Adapt => "adapt",
            PacingMode::Ivr => "ivr",
        }
    }
}

/// How a campaign is paced.
#[derive(Debug, Clone, PartialEq)]
pub struct PacingConfig {
    /// The method.
    pub mode: PacingMode,
    /// `min ratio`: at least this many lines in progress per ready agent.
    pub min_ratio: f64,
    /// `max ratio`: at most this many calls in progress per logged-in agent.
    pub max_ratio: f64,
    /// The abandon cap and its windows.
    pub abandon: AbandonConfig,
    /// How long an answered person may wait for an agent before the dropped
    /// message plays (2 s).
    pub dropped_deadline_ms: i64,
    /// The share of the cap the predictive pacer aims at when the windows are
    /// on budget; the rest is the safety margin.
    pub aim: f64,
    /// Starting beliefs of the traffic model.
    pub priors: Priors,
    /// The ADAPT baseline's settings.
    pub adapt: adapt::AdaptConfig,
}

impl PacingConfig {
    /// The pacing of a compiled campaign in `mode`.
    pub fn for_campaign(ir: &CampaignIr, mode: PacingMode) -> PacingConfig {
        let ring = ir.ring_ms.max(15_000) as f64;
        PacingConfig {
            mode,
            min_ratio: ir.ratio.0,
            max_ratio: ir.ratio.1.max(ir.ratio.0),
            abandon: AbandonConfig {
                cap: ir.abandon_max.min(0.03),
                ..AbandonConfig::default()
            },
            dropped_deadline_ms: ir.dropped.as_ref().map(|d| d.1).unwrap_or(2_000),
            aim: 0.4,
            priors: Priors {
                other_end_ms: ring / 2.0,
                ..Priors::default()
            },
            adapt: adapt::AdaptConfig::default(),
        }
    }
}

/// What the runtime sees at a tick. The vectors are reused between ticks:
/// [`PaceSnapshot::clear`] empties them without freeing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaceSnapshot {
    /// The tick's time (Unix ms, or virtual ms in the simulator).
    pub now_ms: i64,
    /// Agents logged in to the campaign, idle and ready for a call.
    pub ready_agents: u32,
    /// Agents in wrap-up: time left of each one's wrap-up, ms (from the ACD's
    /// wrap-up timer).
    pub wrapping_up: Vec<i64>,
    /// Agents talking on a campaign call: how long each has talked, ms.
    pub talking: Vec<i64>,
    /// Lines dialled and not yet answered or ended: how long each has been
    /// in progress since the INVITE, ms.
    pub ringing: Vec<i64>,
    /// People who answered and wait for an agent (within the dropped deadline).
    pub waiting_answered: u32,
    /// Lines answered whose machine detection has not decided yet: each is a
    /// person with the learned share of answers that are people.
    pub detecting: u32,
    /// Lines the campaign may still open: its `max channels` and the trunk's
    /// limit (shared with inbound) minus what is in use.
    pub channels_free: u32,
}

impl PaceSnapshot {
    /// Empties the snapshot, keeping its buffers.
    pub fn clear(&mut self) {
        self.ready_agents = 0;
        self.wrapping_up.clear();
        self.talking.clear();
        self.ringing.clear();
        self.waiting_answered = 0;
        self.detecting = 0;
        self.channels_free = 0;
    }

    /// Agents logged in to the campaign and not paused.
    pub fn agents(&self) -> u32 {
        self.ready_agents + self.wrapping_up.len() as u32 + self.talking.len() as u32
    }

    /// Calls in progress as VICIdial counts them: ringing, waiting and talking
    /// (and those being answered, under machine detection).
    pub fn calls_in_progress(&self) -> u32 {
        self.ringing.len() as u32
            + self.detecting
            + self.waiting_answered
            + self.talking.len() as u32
    }
}

/// What happened to a line or an agent, for the model and the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaceEvent {
    /// A line was dialled.
    Dialled,
    /// A line was answered `delay_ms` after the dial: by a person (`live`) or by
    /// a machine or fax (then the line ends).
    Answered {
        /// A person (as answering-machine detection decided).
        live: bool,
        /// Dial to answer, ms.
        delay_ms: i64,
    },
    /// A line ended without an answer (busy, no answer, invalid, failure).
    Unanswered {
        /// Dial to end, ms.
        after_ms: i64,
    },
    /// A waiting person reached an agent.
    Connected,
    /// A waiting person had no agent within the deadline.
    Abandoned,
    /// An agent's campaign call ended after this much talk.
    TalkEnded {
        /// Talk time, ms.
        talk_ms: i64,
    },
    /// An agent finished wrap-up.
    WrapUpEnded {
        /// Wrap-up time, ms.
        wrap_ms: i64,
    },
}

/// The traffic model's current figures.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Learned {
    /// Share of dialled lines answered by a person.
    pub live_rate: f64,
    /// Median dial-to-answer time of people, ms.
    pub answer_delay_median_ms: i64,
    /// Mean talk time, ms.
    pub talk_mean_ms: f64,
    /// Mean wrap-up time, ms.
    pub wrap_mean_ms: f64,
}

/// A campaign's pacer: the model, the ledger and the mode's own state.
#[derive(Debug, Clone)]
pub struct Pacer {
    config: PacingConfig,
    model: model::Model,
    ledger: AbandonLedger,
    adapt: adapt::AdaptState,
    level: f64,
}

impl Pacer {
    /// A pacer with an empty ledger.
    pub fn new(config: PacingConfig) -> Pacer {
        let ledger = AbandonLedger::new(config.abandon.clone());
        Pacer::with_ledger(config, ledger)
    }

    /// A pacer continuing a campaign's ledger (after a restart).
    pub fn with_ledger(config: PacingConfig, ledger: AbandonLedger) -> Pacer {
        Pacer {
            model: model::Model::new(&config.priors),
            adapt: adapt::AdaptState::new(&config),
            level: 0.0,
            ledger,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PacingConfig {
        &self.config
    }

    /// The abandon ledger, for reports and the API.
    pub fn ledger(&self) -> &AbandonLedger {
        &self.ledger
    }

    /// The dial level at the last tick: calls in progress (with the lines just
    /// asked for) per logged-in agent, comparable with VICIdial's.
    pub fn dial_level(&self) -> f64 {
        self.level
    }

    /// The learned share of lines answered by a person.
    pub fn live_rate(&self) -> f64 {
        self.model.live_rate()
    }

    /// What the pacer has learned about the campaign's traffic, for reports.
    pub fn learned(&self) -> Learned {
        Learned {
            live_rate: self.model.live_rate(),
            answer_delay_median_ms: self.model.live_delay.quantile(0.5),
            talk_mean_ms: self.model.talk.mean(),
            wrap_mean_ms: self.model.wrap_mean_ms(),
        }
    }

    /// Learns from an event at `at_ms`.
    pub fn observe(&mut self, at_ms: i64, event: PaceEvent) {
        match event {
            PaceEvent::Dialled => {}
            PaceEvent::Answered {
                live: true,
                delay_ms,
            } => self.model.answered_live(delay_ms),
            PaceEvent::Answered {
                live: false,
                delay_ms,
            } => {
                self.model.answered_by_machine(delay_ms);
                self.ledger.record(at_ms, Answer::Machine);
            }
            PaceEvent::Unanswered { after_ms } => self.model.ended_without_person(after_ms),
            PaceEvent::Connected => self.ledger.record(at_ms, Answer::Connected),
            PaceEvent::Abandoned => {
                self.ledger.record(at_ms, Answer::Abandoned);
                self.adapt.dropped(at_ms);
            }
            PaceEvent::TalkEnded { talk_ms } => self.model.talk_ended(talk_ms),
            PaceEvent::WrapUpEnded { wrap_ms } => self.model.wrap_ended(wrap_ms),
        }
        if matches!(event, PaceEvent::Connected) {
            self.adapt.answered(at_ms);
        }
    }

    /// How many new lines to dial now.
    pub fn lines_to_dial(&mut self, s: &PaceSnapshot) -> u32 {
        self.ledger.advance(s.now_ms);
        let agents = s.agents();
        let busy_lines = s.ringing.len() as u32 + s.detecting + s.waiting_answered;
        let wanted = match self.config.mode {
            PacingMode::Ivr => s.channels_free,
            _ if agents == 0 => 0,
            PacingMode::Progressive => s.ready_agents.saturating_sub(busy_lines),
            PacingMode::Adapt => self.adapt.lines(&self.config, &self.ledger, s),
            PacingMode::Predictive => {
                self.model.refresh();
                let cap = self.max_new_lines(s);
                let n = predictive::lines(&self.config, &self.model, &self.ledger, s, cap);
                let floor = (self.config.min_ratio * f64::from(s.ready_agents)).floor() as u32;
                n.max(floor.saturating_sub(busy_lines))
            }
        };
        let n = wanted.min(s.channels_free).min(self.max_new_lines(s));
        self.level = if agents > 0 {
            f64::from(s.calls_in_progress() + n) / f64::from(agents)
        } else {
            0.0
        };
        n
    }

    /// New lines allowed by `max ratio` (no limit in IVR mode).
    fn max_new_lines(&self, s: &PaceSnapshot) -> u32 {
        if self.config.mode == PacingMode::Ivr {
            return u32::MAX;
        }
        let allowed = (self.config.max_ratio * f64::from(s.agents())).floor() as u32;
        allowed.saturating_sub(s.calls_in_progress())
    }
}

#[cfg(test)]
mod tests;
