//! Agents as the core keeps them: skills, state with its history, the per-agent
//! figures strategies compare, and the availability policy (delays, missed offers,
//! registration).

use serde::{Deserialize, Serialize};

use super::arena::{CallSlot, QueueIx};
use super::types::{AgentId, AgentStatus, CallRecord};

/// An agent's definition: from the configuration, the project, or the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDef {
    /// Id (the phone's SIP user name).
    pub id: String,
    /// The name people see beside the id (optional).
    #[serde(default)]
    pub name: String,
    /// The agent's level (1 and up) in each of their skills; a queue takes
    /// agents at or above the level its `skills` rule asks.
    #[serde(default)]
    pub skills: Vec<(String, u32)>,
    /// Answer offered calls without ringing.
    #[serde(default)]
    pub auto_answer: bool,
}

impl AgentDef {
    /// An agent with skills.
    pub fn new(id: &str, skills: &[(&str, u32)]) -> AgentDef {
        AgentDef {
            id: id.to_string(),
            name: String::new(),
            skills: skills.iter().map(|(s, l)| (s.to_string(), *l)).collect(),
            auto_answer: false,
        }
    }
}

/// What happens when the current call (and its wrap-up) is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pending {
    NotReady(String),
    SignOut,
}

#[derive(Debug)]
pub(crate) struct Agent {
    pub(crate) def: AgentDef,
    pub(crate) id: AgentId,
    /// Level per skill index (0 = does not have it).
    pub(crate) levels: Vec<u32>,
    pub(crate) status: AgentStatus,
    pub(crate) since_ms: i64,
    pub(crate) reason: String,
    /// Changes whenever the state changes (timers carry it to detect staleness).
    pub(crate) stamp: u32,
    pub(crate) pending: Option<Pending>,
    /// Skipped for new offers until then (reject / busy / unregistered delay).
    pub(crate) delay_until: i64,
    /// Offers missed in a row.
    pub(crate) missed: u32,
    /// From the registrar; `None` until it says anything.
    pub(crate) registered: Option<bool>,
    /// When the agent last became free after a call (or signed in / got ready).
    pub(crate) idle_since: i64,
    /// Since signing in.
    pub(crate) answered: u64,
    /// Since signing in, ms.
    pub(crate) talk_ms: i64,
    /// The call the agent is ringing for, reserved for (a placed call) or on;
    /// `None` again in wrap-up.
    pub(crate) call: Option<CallSlot>,
    /// Queues whose skills the agent has.
    pub(crate) queues: Vec<QueueIx>,
    /// Share of the agent's work going to each of `queues` (for the estimator).
    pub(crate) share: Vec<f64>,
    /// The record of the last call, completed when wrap-up ends.
    pub(crate) wrap_record: Option<CallRecord>,
    /// The queue whose wrap-up runs (for the handle-time estimate).
    pub(crate) wrap_queue: Option<QueueIx>,
    /// State to go back to after an outbound call that failed.
    pub(crate) before_dial: Option<(AgentStatus, String)>,
    /// Removed over the API (kept until their call ends).
    pub(crate) removed: bool,
    /// Held back from offers for a preview: the state to go back to.
    pub(crate) reservation: Option<(AgentStatus, String)>,
}

impl Agent {
    pub(crate) fn new(def: AgentDef, levels: Vec<u32>, now: i64) -> Agent {
        Agent {
            id: AgentId::from(def.id.as_str()),
            def,
            levels,
            status: AgentStatus::SignedOut,
            since_ms: now,
            reason: String::new(),
            stamp: 0,
            pending: None,
            delay_until: i64::MIN,
            missed: 0,
            registered: None,
            idle_since: now,
            answered: 0,
            talk_ms: 0,
            call: None,
            queues: Vec::new(),
            share: Vec::new(),
            wrap_record: None,
            wrap_queue: None,
            before_dial: None,
            removed: false,
            reservation: None,
        }
    }

    /// Ready, not delayed, phone not known to be unregistered.
    pub(crate) fn available(&self, now: i64) -> bool {
        self.status == AgentStatus::Ready
            && self.delay_until <= now
            && self.registered != Some(false)
            && !self.removed
    }

    /// The sum of the agent's levels in `skills` (for highest/lowest skill).
    pub(crate) fn level_in(&self, skills: &[(u32, u32)]) -> u32 {
        skills
            .iter()
            .map(|(s, _)| self.levels.get(*s as usize).copied().unwrap_or(0))
            .sum()
    }

    /// Has every skill at its lowest level.
    pub(crate) fn qualifies(&self, skills: &[(u32, u32)]) -> bool {
        !skills.is_empty()
            && skills
                .iter()
                .all(|(s, min)| self.levels.get(*s as usize).copied().unwrap_or(0) >= (*min).max(1))
    }

    pub(crate) fn share_of(&self, queue: QueueIx) -> f64 {
        self.queues
            .iter()
            .position(|q| *q == queue)
            .and_then(|i| self.share.get(i).copied())
            .unwrap_or(0.0)
    }

    /// The agent took a call from `queue`: move its work share towards it.
    pub(crate) fn note_share(&mut self, queue: QueueIx) {
        const ALPHA: f64 = 0.02;
        for (i, q) in self.queues.iter().enumerate() {
            if let Some(s) = self.share.get_mut(i) {
                *s += ALPHA * (if *q == queue { 1.0 } else { 0.0 } - *s);
            }
        }
    }
}
