//! The real-time views of the ACD ([`QueueView`], [`AgentView`], [`WaitingView`],
//! [`Estimate`]) and the functions that build them, with the small read
//! accessors the runtime and the simulator use (call data, agent definitions,
//! counts). Nothing here changes the core.

use serde::{Deserialize, Serialize};

use dialect_compiler::Program;
use dialect_compiler::value::Value;

use super::{AcdCore, Phase};
use crate::agent::{AgentDef, Pending};
use crate::arena::{AgentIx, QueueIx};
use crate::estimator::{Predictions, WaitState, age_queue_estimate};
use crate::types::*;

/// A waiting call as the real-time view shows it: calls come in queue order,
/// `position` 1 is next, and `waited_ms` counts from when it entered this queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "the fields are described on the type")]
pub struct WaitingView {
    pub call: CallId,
    pub caller: String,
    pub position: u32,
    pub waited_ms: i64,
    /// From the queue's `priority` rule: higher is served first.
    pub priority: f64,
    /// Waiting for a callback (not on the line).
    pub callback: bool,
}

/// A queue in the real-time view, named and with its strategy as written in
/// flows. Agents count when they have the queue's skills.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(
    missing_docs,
    reason = "`name` and `strategy` are described on the type"
)]
pub struct QueueView {
    pub name: String,
    pub strategy: String,
    /// Calls waiting (callbacks included).
    pub waiting: usize,
    /// Of which callbacks (callers waiting to be called back, not on the line).
    pub callbacks: usize,
    /// Calls ringing an agent, or being placed for a reserved agent.
    pub offering: usize,
    /// Calls talking to an agent.
    pub talking: usize,
    /// The longest wait of a call waiting now, ms (0 when none waits).
    pub longest_wait_ms: i64,
    /// Qualified agents signed in.
    pub signed_in: usize,
    /// Qualified agents free now.
    pub idle_agents: usize,
    /// Share of recent calls answered in the service-level time.
    pub service_level: f64,
    /// The share the queue's `service level` rule aims for.
    pub service_level_target: f64,
    /// Answered within this many ms counts as within the service level.
    pub service_level_ms: i64,
    /// What a call arriving now would be told, ms (`None` while nobody staffs
    /// the queue).
    pub estimated_wait_ms: Option<i64>,
    /// Mean handle time the estimate uses, ms.
    pub handle_ms: i64,
    /// Still in the deployed program.
    pub active: bool,
    /// The waiting calls, in order (only when asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<WaitingView>,
}

/// An agent in the real-time view: the definition (`id`, `name`, `skills`,
/// `auto_answer`, as in [`AgentDef`]) and the state, held since `since_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "the fields are described on the type")]
pub struct AgentView {
    pub id: String,
    pub name: String,
    pub state: AgentStatus,
    /// Not-ready reason, or why the ACD changed the state.
    pub reason: String,
    pub since_ms: i64,
    pub skills: Vec<(String, u32)>,
    /// Queues the agent can take calls from.
    pub queues: Vec<String>,
    /// The call the agent is ringing for, reserved for, or on (not in wrap-up).
    pub call: Option<CallId>,
    /// Calls answered since signing in.
    pub answered: u64,
    /// Talk time since signing in, ms.
    pub talk_ms: i64,
    /// Offers missed in a row; at the queue's limit the agent is made not ready.
    pub missed: u32,
    /// Skipped for offers until then (reject/busy/unregistered delay), ms.
    pub delayed_until_ms: Option<i64>,
    /// What happens after the current call: `not_ready REASON` or `sign_out`.
    pub pending: Option<String>,
    /// Phone registration as the registrar reported it (`None` until it does).
    pub registered: Option<bool>,
    pub auto_answer: bool,
}

/// The two estimates for one waiting call (the simulator compares them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The ACD's estimate, the one it announces: the learned blend of delay
    /// predictors, ms (`None`: nobody staffs the queue and no wait was seen).
    pub acd_ms: Option<f64>,
    /// The earlier queue-length estimate with abandonment, ms, for comparison.
    pub queue_length_ms: Option<f64>,
    /// Asterisk's `holdtime + 30 s - waited`, ms.
    pub asterisk_ms: f64,
    /// The call's place in its queue (1 is next).
    pub position: u32,
}

impl AcdCore {
    /// The program the queue rules come from.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Every queue of the program (not the built-in direct and outbound queues),
    /// for the real-time view; `with_calls` lists each queue's waiting calls.
    pub fn queue_views(&self, now: i64, with_calls: bool) -> Vec<QueueView> {
        self.queues
            .keys()
            .filter(|q| !self.queues[*q].rules.builtin)
            .map(|q| self.queue_view(q, now, with_calls))
            .collect()
    }

    /// One queue by name, with its waiting calls.
    pub fn queue_view_named(&self, name: &str, now: i64) -> Option<QueueView> {
        self.queue_ix
            .get(name)
            .map(|q| self.queue_view(*q, now, true))
    }

    fn queue_view(&self, q: QueueIx, now: i64, with_calls: bool) -> QueueView {
        let queue = &self.queues[q];
        let mut offering = 0;
        let mut talking = 0;
        for c in self.calls.iter().flatten() {
            if c.queue != q {
                continue;
            }
            match c.phase {
                Phase::Offering(_) | Phase::Dialing(_) => offering += 1,
                Phase::Connected => talking += 1,
                Phase::Waiting => {}
            }
        }
        let signed_in = queue
            .eligible
            .iter()
            .filter(|a| self.agents[**a].status != AgentStatus::SignedOut)
            .count();
        let idle = self.idle_agents(q, now);
        let next = queue.waiting.len() as u32 + 1;
        let estimated_wait_ms = if idle > 0 {
            Some(0)
        } else {
            // What a caller arriving now would be told.
            let (service_rate, _) = self.rates(q);
            let ahead = queue
                .waiting
                .iter()
                .map(|k| (now - self.c(k.slot).entered_ms).max(0) as f64);
            let state = WaitState {
                by_age_ms: age_queue_estimate(ahead, service_rate, &queue.est.hazard),
                position: next,
                waited_ms: 0.0,
                head_waited_ms: queue
                    .waiting
                    .first()
                    .map(|k| (now - self.c(k.slot).entered_ms).max(0) as f64),
                last_entered_ms: queue.est.last_entered_ms(),
                service_rate,
                departure_rate: queue.est.departure_rate(),
            };
            queue
                .est
                .blend
                .estimate(next, &Predictions::of(&state))
                .map(|m| m.round() as i64)
        };
        let calls = if with_calls {
            queue
                .waiting
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let c = self.c(k.slot);
                    WaitingView {
                        call: c.id,
                        caller: c.info.caller.clone(),
                        position: i as u32 + 1,
                        waited_ms: now - c.entered_ms,
                        priority: c.prio,
                        callback: c.callback,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        QueueView {
            name: queue.rules.name.to_string(),
            strategy: queue.rules.strategy.name().to_string(),
            waiting: queue.waiting.len(),
            callbacks: queue
                .waiting
                .iter()
                .filter(|k| self.c(k.slot).callback)
                .count(),
            offering,
            talking,
            longest_wait_ms: self.longest_wait(q, now),
            signed_in,
            idle_agents: idle,
            service_level: queue.service_level(),
            service_level_target: queue.rules.sl_target,
            service_level_ms: queue.rules.sl_ms,
            estimated_wait_ms,
            handle_ms: queue.est.handle_ms().round() as i64,
            active: queue.active,
            calls,
        }
    }

    /// Every agent, for the real-time view.
    pub fn agent_views(&self, now: i64) -> Vec<AgentView> {
        self.agents
            .keys()
            .filter(|a| !self.agents[*a].removed)
            .map(|a| self.agent_view(a, now))
            .collect()
    }

    /// One agent by id.
    pub fn agent_view_named(&self, id: &str, now: i64) -> Option<AgentView> {
        self.agent_ix.get(id).map(|a| self.agent_view(*a, now))
    }

    fn agent_view(&self, a: AgentIx, now: i64) -> AgentView {
        let ag = &self.agents[a];
        AgentView {
            id: ag.id.to_string(),
            name: ag.def.name.clone(),
            state: ag.status,
            reason: ag.reason.clone(),
            since_ms: ag.since_ms,
            skills: ag.def.skills.clone(),
            queues: ag
                .queues
                .iter()
                .map(|q| self.queues[*q].rules.name.to_string())
                .collect(),
            call: ag.call.and_then(|s| self.calls[s].as_ref().map(|c| c.id)),
            answered: ag.answered,
            talk_ms: ag.talk_ms,
            missed: ag.missed,
            delayed_until_ms: (ag.delay_until > now).then_some(ag.delay_until),
            pending: ag.pending.as_ref().map(|p| match p {
                Pending::NotReady(r) => format!("not_ready {r}").trim().to_string(),
                Pending::SignOut => "sign_out".to_string(),
            }),
            registered: ag.registered,
            auto_answer: ag.def.auto_answer,
        }
    }

    /// The agent definitions (for storage of API changes).
    pub fn agent_defs(&self) -> Vec<AgentDef> {
        self.agents
            .iter()
            .filter(|a| !a.removed)
            .map(|a| a.def.clone())
            .collect()
    }

    /// The data of a call the ACD holds.
    pub fn call_data(&self, call: CallId) -> Option<Vec<(String, Value)>> {
        let s = self.call_ix.get(&call)?;
        Some(self.c(*s).info.data.clone())
    }

    /// The agents on a call (primary first), for permission checks.
    pub fn call_agents(&self, call: CallId) -> Vec<String> {
        let Some(s) = self.call_ix.get(&call) else {
            return Vec::new();
        };
        let c = self.c(*s);
        let mut v: Vec<AgentIx> = c.agent.into_iter().collect();
        v.extend(c.conference.iter().copied());
        if let Phase::Offering(l) = &c.phase {
            v.extend(l.iter().copied());
        }
        v.iter().map(|a| self.agents[*a].id.to_string()).collect()
    }

    /// Number of calls the ACD holds (waiting, ringing, talking, called back).
    pub fn calls_in_progress(&self) -> usize {
        self.call_ix.len()
    }

    /// Number of waiting calls over all queues.
    pub fn waiting_calls(&self) -> usize {
        self.queues.iter().map(|q| q.waiting.len()).sum()
    }

    /// An agent's current state.
    pub fn agent_status(&self, id: &str) -> Option<AgentStatus> {
        self.agent_ix.get(id).map(|a| self.agents[*a].status)
    }

    /// Queue names of the program, in order.
    pub fn queue_names(&self) -> Vec<String> {
        self.queues
            .iter()
            .filter(|q| !q.rules.builtin)
            .map(|q| q.rules.name.to_string())
            .collect()
    }

    /// The skills each queue requires (for statistics by skill).
    pub fn queue_skills(&self, name: &str) -> Vec<String> {
        self.queue_ix
            .get(name)
            .map(|q| self.queues[*q].rules.skill_names.clone())
            .unwrap_or_default()
    }
}
