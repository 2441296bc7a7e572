//! The ACD core: a deterministic state machine over explicit time.
//!
//! [`AcdCore::handle`] takes the time and an [`Input`] and appends [`Effect`]s;
//! [`AcdCore::command`] does the same for agent and supervisor operations and
//! answers whether they were accepted. Nothing here reads a clock, sleeps or does
//! IO: the runtime's `acd` actor and the simulator (`crate::sim`) drive the same
//! code, one on real time and one on virtual time. Timers are kept inside and
//! surfaced as [`Effect::WakeAt`]; the driver calls `handle(t, Input::Tick)` then.
//!
//! Decisions happen when a call arrives, an agent becomes free, or a timer fires.
//! Waiting calls are kept per queue in a `BTreeSet` ordered by (class, priority,
//! arrival), so finding the next call costs a few comparisons however long the
//! queues are; agents are found through each queue's list of qualified agents.
//!
//! This file holds [`AcdCore`] itself, the private call record and timers, the
//! program loading, [`AcdCore::handle`] and the timers firing. The rest of the
//! `impl AcdCore` is split by role:
//!
//! - `routing`: a call in a queue: arrival, priorities, estimates, choosing
//!   agents, dispatch, overflow, leaving, callbacks, caller keys.
//! - `offers`: offering a call to agents and what came of the offers.
//! - `calls`: calls past their offer: hold, legs leaving, the end of a call,
//!   placed calls (callbacks, outbound) answered or failed.
//! - `agents`: agent state changes, wrap-up, and who may take which queue.
//! - `commands`: the CTI entry, [`AcdCore::command`], one function per command.
//! - `views`: the real-time views and read accessors.
//! - `config`: [`AcdConfig`].

mod agents;
mod calls;
mod commands;
mod config;
mod handover;
mod offers;
mod routing;
mod views;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use dialect_compiler::Program;
use dialect_compiler::exec::Evaluator;
use dialect_compiler::ir::AnnounceIr;

pub use commands::{AgentCommand, CtiError, CtiReply, MAX_DTMF_DIGITS, check_dtmf_digits};
pub use config::AcdConfig;
pub use views::{AgentView, Estimate, QueueView, WaitingView};

use super::agent::{Agent, AgentDef};
use super::arena::{AgentIx, Arena, CallSlot, Ix, QueueIx};
use super::estimator::Predictions;
use super::queue::{Queue, QueueRules, RuleDefaults, WaitKey};
use super::types::*;

/// The name of the built-in queue of direct offers (`transfer agent`).
pub const DIRECT_QUEUE: &str = "(direct)";
/// The name of the built-in queue of agents' outbound calls.
pub const OUTBOUND_QUEUE: &str = "(outbound)";

/// Something that happens to the ACD. Calls are named by their [`CallId`] and
/// agents by id (the phone's SIP user name).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
#[allow(
    missing_docs,
    reason = "the call and agent fields are described on the type"
)]
pub enum Input {
    /// A call asks for a queue.
    Enqueue(QueuedCall),
    /// A call asks for one agent (`transfer agent`): offered if the agent is free,
    /// else `Unavailable`.
    Direct { call: QueuedCall, agent: String },
    /// How an offer (or a consultation) to an agent ended.
    OfferResult {
        call: CallId,
        agent: String,
        result: OfferResult,
    },
    /// The caller pressed a key while waiting (the queue's `key` rules).
    CallerKey { call: CallId, key: char },
    /// The caller hung up (or the call task ended for another reason).
    CallerGone { call: CallId },
    /// The call with its agent is over.
    CallEnded {
        call: CallId,
        /// Talk time as the call task measured it (else from the answer time).
        talk_ms: Option<i64>,
    },
    /// An agent's leg hung up while the call goes on (conference, consultation).
    AgentLeft { call: CallId, agent: String },
    /// The caller was put on or taken off hold (from the phone).
    Held { call: CallId, on: bool },
    /// A placed call (callback, outbound) was answered.
    DialAnswered { call: CallId },
    /// A placed call failed (no answer, busy, invalid).
    DialFailed {
        call: CallId,
        /// For the agent's notice of a failed outbound call.
        reason: String,
    },
    /// An agent's phone registered or went away.
    Registration {
        agent: String,
        /// Has a registered contact now.
        registered: bool,
    },
    /// A wake-up asked for by [`Effect::WakeAt`].
    Tick,
    /// A call that was waiting under another instance of the ACD (one that
    /// died, or lost its lease), handed over by the runtime holding the call:
    /// it enters `call.queue` keeping its place by `call.entered_ms` (the
    /// maximum wait counts from then too), ahead of every call that entered
    /// later.
    Resume(QueuedCall),
    /// A call already connected to `agent` under another instance of the
    /// ACD: the agent is on it, and its end is reported as for any call.
    Adopt {
        /// The call, as the runtime holding it describes it.
        call: QueuedCall,
        /// The agent talking on it.
        agent: String,
    },
    /// The runtime holding this call is out of reach: a waiting or offered
    /// call leaves the queues without a record (agents offered it are free
    /// again); it comes back with [`Input::Resume`] if that runtime returns.
    /// A connected call is kept: its agent is still talking on it.
    Forget {
        /// The call.
        call: CallId,
    },
}

/// Where a call is in its stay.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// In its queue's waiting set (a callback waits there too, off the line).
    Waiting,
    /// Ringing these agents (several under ring-all).
    Offering(Vec<AgentIx>),
    /// With its agent (and any consulted or conferenced agents).
    Connected,
    /// A callback or outbound call is being placed; the agent is reserved.
    Dialing(AgentIx),
}

/// How a call came to the ACD, which decides what a failed offer does and which
/// outcome its record gets: a queue call goes back to its queue, a direct offer
/// (`transfer agent`, a blind transfer to an agent) reports `Unavailable` or
/// returns to the queue it came from, an agent's outbound call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Queue,
    Direct,
    Outbound,
}

/// A call the ACD holds, from its arrival until it leaves the ACD, in a
/// [`CallSlot`] of `AcdCore::calls`.
#[derive(Debug)]
struct Call {
    id: CallId,
    info: QueuedCall,
    queue: QueueIx,
    /// When it entered its current queue.
    entered_ms: i64,
    /// Arrival order, the last key of the wait order; kept when the call is put
    /// back after a failed offer or becomes a callback.
    seq: u64,
    /// Head-of-queue class (`CLASS_REOFFER`, `CLASS_OVERFLOW_DOWN` or 0).
    class: u8,
    prio: f64,
    /// Its place in the queue's waiting set, while it is there.
    key: Option<WaitKey>,
    phase: Phase,
    /// Counts the queues the call entered: a timer set for an earlier stay
    /// carries an older visit and does nothing.
    visit: u32,
    /// Counts offers, consultations and placed calls: a ring or dial timer set
    /// for an earlier one carries an older stamp and does nothing.
    offer_stamp: u32,
    /// Agents who just failed the call, and until when it skips them.
    avoid: Vec<(AgentIx, i64)>,
    /// The caller chose a callback and is not on the line.
    callback: bool,
    callback_attempts: u32,
    /// Came back through a callback (for the record).
    called_back: bool,
    /// A callback that did not reach the customer waits until then to try again.
    not_before: i64,
    kind: Kind,
    /// Second agent after a transfer or take-over.
    transferred: bool,
    /// How it reached the agent, for the screen pop (`queue`, `callback`,
    /// `transfer from 1001`...).
    via: String,
    /// Queue to go back to when a blind transfer to an agent fails.
    direct_return: Option<QueueIx>,
    /// The primary agent while connected.
    agent: Option<AgentIx>,
    answered_ms: i64,
    hold_since: Option<i64>,
    hold_ms: i64,
    /// The agent consulted, and whether they answered.
    consult: Option<(AgentIx, bool)>,
    /// Agents joined by a conference, besides `agent`.
    conference: Vec<AgentIx>,
    /// Supervisors' phones on the call, and how.
    monitors: Vec<(String, MonitorMode)>,
    /// The program generation the `raw_` values were made for (0 after the call
    /// data changed): caller, called, trunk and call data as the compiled
    /// predicates read them.
    raw_gen: u32,
    raw_caller: u64,
    raw_called: u64,
    raw_trunk: u64,
    raw_data: Vec<u64>,
    /// Its position and the wait predictions when it entered its current queue
    /// and had to wait: the queue's estimator learns from them once an agent
    /// answers it.
    entry_predictions: Option<(u32, Predictions)>,
}

/// A wake-up the core set itself. Timers name calls by id, not slot, and carry
/// the stay (`visit`), offer (`stamp`) or agent state (`stamp`) they were set
/// for, so one that outlived it does nothing when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    MaxWait {
        call: CallId,
        visit: u32,
    },
    Announce {
        call: CallId,
        visit: u32,
        idx: u32,
    },
    Ring {
        call: CallId,
        agent: AgentIx,
        stamp: u32,
    },
    WrapEnd {
        agent: AgentIx,
        stamp: u32,
    },
    DelayEnd {
        agent: AgentIx,
    },
    Retry {
        call: CallId,
    },
    DialTimeout {
        call: CallId,
        stamp: u32,
    },
    Reevaluate,
}

/// The ACD: every queue, agent and waiting call. See the module documentation.
pub struct AcdCore {
    config: AcdConfig,
    program: Program,
    eval: Evaluator,
    /// Counts deployed programs (see `Call::raw_gen`).
    program_gen: u32,
    /// Skill indexes, as in the agents' `levels` and the queues' rules.
    skill_ix: HashMap<Arc<str>, u32>,
    skills: Vec<Arc<str>>,
    queues: Arena<QueueIx, Queue>,
    queue_ix: HashMap<Arc<str>, QueueIx>,
    agents: Arena<AgentIx, Agent>,
    agent_ix: HashMap<Arc<str>, AgentIx>,
    calls: Arena<CallSlot, Option<Call>>,
    /// Empty slots of `calls`, reused before the arena grows.
    free: Vec<CallSlot>,
    call_ix: HashMap<CallId, CallSlot>,
    /// Earliest first; `timer_seq` keeps timers of the same time in the order
    /// they were set.
    timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    timer_seq: u64,
    /// When the periodic re-evaluation of dynamic rules is due, if set.
    reeval_at: Option<i64>,
    /// The last `WakeAt` told to the driver: told again only when an earlier
    /// wake is needed or that one has passed.
    wake_told: Option<i64>,
    /// The last arrival number given (`Call::seq`).
    seq: u64,
    /// The next outbound call's number (its id has the top bit set).
    next_outbound: u64,
    /// Predicate inputs, a buffer reused by every evaluation.
    env: Vec<u64>,
    direct_q: QueueIx,
    outbound_q: QueueIx,
}

impl std::fmt::Debug for AcdCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcdCore")
            .field("queues", &self.queues.len())
            .field("agents", &self.agents.len())
            .field("calls", &self.call_ix.len())
            .finish()
    }
}

impl AcdCore {
    /// An ACD for a program's queues and these agents (all signed out).
    pub fn new(config: AcdConfig, program: Program, agents: Vec<AgentDef>, now: i64) -> AcdCore {
        let eval = program.evaluator();
        let mut core = AcdCore {
            config,
            eval,
            program: program.clone(),
            program_gen: 1,
            skill_ix: HashMap::new(),
            skills: Vec::new(),
            queues: Arena::default(),
            queue_ix: HashMap::new(),
            agents: Arena::default(),
            agent_ix: HashMap::new(),
            calls: Arena::default(),
            free: Vec::new(),
            call_ix: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            reeval_at: None,
            wake_told: None,
            seq: 0,
            next_outbound: 1,
            env: Vec::new(),
            // Set just below, once the built-in queues exist.
            direct_q: QueueIx::from_usize(0),
            outbound_q: QueueIx::from_usize(0),
        };
        let d = core.defaults();
        core.direct_q = core.add_queue(QueueRules::builtin(DIRECT_QUEUE, d));
        core.outbound_q = core.add_queue(QueueRules::builtin(OUTBOUND_QUEUE, d));
        core.load_program(&program);
        for a in agents {
            core.put_agent(a, now);
        }
        core.rebuild_eligibility();
        core
    }

    fn defaults(&self) -> RuleDefaults {
        RuleDefaults {
            ring_ms: self.config.default_ring_ms,
            max_missed: self.config.default_max_missed.max(1),
        }
    }

    fn skill(&mut self, name: &str) -> u32 {
        if let Some(i) = self.skill_ix.get(name) {
            return *i;
        }
        let i = self.skills.len() as u32;
        let a: Arc<str> = Arc::from(name);
        self.skills.push(a.clone());
        self.skill_ix.insert(a, i);
        for ag in &mut self.agents {
            ag.levels.push(0);
        }
        i
    }

    fn add_queue(&mut self, rules: QueueRules) -> QueueIx {
        let name = rules.name.clone();
        let i = self
            .queues
            .push(Queue::new(rules, self.config.default_handle_ms as f64));
        self.queue_ix.insert(name, i);
        i
    }

    fn load_program(&mut self, program: &Program) {
        let ir = program.ir();
        for (s, _, _) in &ir.skills {
            self.skill(s);
        }
        let d = self.defaults();
        let mut seen = Vec::new();
        for q in &ir.queues {
            let mut skills = Vec::new();
            for (s, _) in &q.skills {
                skills.push(self.skill(s));
            }
            let mut it = skills.into_iter();
            let rules = QueueRules::from_ir(ir, q, &mut |_| it.next().unwrap_or(0), d);
            match self.queue_ix.get(q.name.as_str()).copied() {
                Some(i) => {
                    self.queues[i].rules = rules;
                    self.queues[i].active = true;
                    seen.push(i);
                }
                None => seen.push(self.add_queue(rules)),
            }
        }
        for (i, q) in self.queues.iter_mut_indexed() {
            if !q.rules.builtin && !seen.contains(&i) {
                q.active = false;
            }
        }
    }

    /// Takes a newly deployed program: queues are updated by name, new queues
    /// appear, queues no longer declared stop taking calls and drain.
    pub fn set_program(&mut self, program: Program, now: i64, out: &mut Vec<Effect>) {
        self.eval = program.evaluator();
        self.program = program.clone();
        self.program_gen += 1;
        self.load_program(&program);
        self.rebuild_eligibility();
        // Priorities may have changed: re-sort every queue.
        for q in self.queues.keys() {
            let slots: Vec<CallSlot> = self.queues[q].waiting.iter().map(|k| k.slot).collect();
            for s in slots {
                self.reprioritize(s, now);
            }
        }
        self.dispatch_all(now, out);
        self.ensure_reevaluate(now);
        self.tell_wake(now, out);
    }

    fn at(&mut self, when: i64, t: Timer) {
        self.timer_seq += 1;
        self.timers.push(Reverse((when, self.timer_seq, t)));
    }

    /// The earliest pending timer.
    pub fn next_wake(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    fn tell_wake(&mut self, now: i64, out: &mut Vec<Effect>) {
        if let Some(t) = self.next_wake() {
            let stale = self.wake_told.is_none_or(|w| w <= now || t < w);
            if stale {
                self.wake_told = Some(t);
                out.push(Effect::WakeAt(t));
            }
        }
    }

    /// Handles one input at time `now`, appending what must happen to `out`.
    pub fn handle(&mut self, now: i64, input: Input, out: &mut Vec<Effect>) {
        self.eval.set_now(now);
        match input {
            Input::Enqueue(c) => self.enqueue(c, now, out, 0),
            Input::Direct { call, agent } => self.direct(call, &agent, now, out),
            Input::OfferResult {
                call,
                agent,
                result,
            } => self.offer_result(call, &agent, result, now, out),
            Input::CallerKey { call, key } => self.caller_key(call, key, now, out),
            Input::CallerGone { call } => self.caller_gone(call, now, out),
            Input::CallEnded { call, talk_ms } => self.call_ended(call, talk_ms, now, out),
            Input::AgentLeft { call, agent } => self.agent_left(call, &agent, now, out),
            Input::Held { call, on } => {
                if let Some(s) = self.call_ix.get(&call).copied() {
                    self.set_hold(s, on, now, out);
                }
            }
            Input::DialAnswered { call } => self.dial_answered(call, now, out),
            Input::DialFailed { call, reason } => self.dial_failed(call, &reason, now, out),
            Input::Registration { agent, registered } => {
                if let Some(a) = self.agent_ix.get(agent.as_str()).copied() {
                    self.agents[a].registered = Some(registered);
                    if registered {
                        self.dispatch_agent(a, now, out);
                    }
                }
            }
            Input::Tick => self.tick(now, out),
            Input::Resume(c) => self.resume(c, now, out),
            Input::Adopt { call, agent } => self.adopt(call, &agent, now, out),
            Input::Forget { call } => self.forget(call, now, out),
        }
        self.tell_wake(now, out);
    }

    fn tick(&mut self, now: i64, out: &mut Vec<Effect>) {
        while let Some(Reverse((t, _, timer))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            self.fire(timer, now, out);
        }
    }

    fn fire(&mut self, timer: Timer, now: i64, out: &mut Vec<Effect>) {
        match timer {
            Timer::MaxWait { call, visit } => {
                let Some(s) = self.live(call, visit) else {
                    return;
                };
                let c = self.c(s);
                if c.callback {
                    return;
                }
                if c.phase != Phase::Waiting {
                    // Ringing an agent: look again shortly.
                    self.at(now + 1_000, timer);
                    return;
                }
                let q = c.queue;
                if let Some((_, dest)) = self.queues[q].rules.max_wait.clone() {
                    self.leave_for(s, dest, MoveReason::MaxWait, Outcome::MaxWait, now, out);
                }
            }
            Timer::Announce { call, visit, idx } => {
                let Some(s) = self.live(call, visit) else {
                    return;
                };
                let q = self.c(s).queue;
                let Some((what, every, when)) = self.queues[q]
                    .rules
                    .announcements
                    .get(idx as usize)
                    .cloned()
                else {
                    return;
                };
                if self.c(s).callback {
                    return;
                }
                self.at(now + every.max(1_000), timer);
                if self.c(s).phase != Phase::Waiting {
                    return;
                }
                let ok = match &when {
                    Some(p) => self.eval_bool(p, s, now),
                    None => true,
                };
                if !ok {
                    return;
                }
                let a = match what {
                    AnnounceIr::Position => Announcement::Position {
                        position: self.position(s),
                    },
                    AnnounceIr::Wait => match self.estimate_slot(s, now).acd_ms {
                        Some(ms) => Announcement::Wait {
                            estimated_ms: ms.round() as i64,
                        },
                        None => return,
                    },
                    AnnounceIr::Prompt(file) => Announcement::Prompt { file },
                };
                out.push(Effect::ToCall(call, AcdToCall::Announce(a)));
            }
            Timer::Ring { call, agent, stamp } => {
                let Some(s) = self.call_ix.get(&call).copied() else {
                    return;
                };
                let c = self.c(s);
                if c.offer_stamp != stamp {
                    return;
                }
                if c.consult == Some((agent, false)) {
                    self.consult_failed(s, agent, "no answer", now, out);
                    return;
                }
                if matches!(&c.phase, Phase::Offering(list) if list.contains(&agent)) {
                    let id = self.agents[agent].id.clone();
                    out.push(Effect::ToCall(call, AcdToCall::CancelOffer { agent: id }));
                    self.offer_failed(s, agent, OfferResult::NoAnswer, now, out);
                }
            }
            Timer::WrapEnd { agent, stamp } => {
                let a = &self.agents[agent];
                if a.stamp == stamp && a.status == AgentStatus::WrapUp {
                    self.end_wrap(agent, now, out);
                }
            }
            Timer::DelayEnd { agent } => self.dispatch_agent(agent, now, out),
            Timer::Retry { call } => {
                if let Some(s) = self.call_ix.get(&call).copied() {
                    let q = self.c(s).queue;
                    self.dispatch_queue(q, now, out);
                }
            }
            Timer::DialTimeout { call, stamp } => {
                if let Some(s) = self.call_ix.get(&call).copied()
                    && self.c(s).offer_stamp == stamp
                    && matches!(self.c(s).phase, Phase::Dialing(_))
                {
                    self.dial_failed(call, "no answer in time", now, out);
                }
            }
            Timer::Reevaluate => {
                if self.reeval_at.is_some_and(|t| t <= now) {
                    self.reeval_at = None;
                    self.reevaluate(now, out);
                    self.ensure_reevaluate(now);
                }
            }
        }
    }

    fn live(&self, call: CallId, visit: u32) -> Option<CallSlot> {
        let s = self.call_ix.get(&call).copied()?;
        (self.c(s).visit == visit).then_some(s)
    }

    #[allow(clippy::expect_used)]
    fn c(&self, slot: CallSlot) -> &Call {
        // Slots come from `call_ix` or wait keys, both kept in step with `calls`.
        self.calls[slot].as_ref().expect("a live call slot")
    }

    #[allow(clippy::expect_used)]
    fn cm(&mut self, slot: CallSlot) -> &mut Call {
        self.calls[slot].as_mut().expect("a live call slot")
    }

    fn alloc(&mut self, call: Call) -> CallSlot {
        let id = call.id;
        let slot = match self.free.pop() {
            Some(s) => {
                self.calls[s] = Some(call);
                s
            }
            None => self.calls.push(Some(call)),
        };
        self.call_ix.insert(id, slot);
        slot
    }

    fn release(&mut self, slot: CallSlot) {
        if let Some(c) = self.calls[slot].take() {
            if let Some(k) = c.key {
                self.queues[c.queue].waiting.remove(&k);
            }
            self.call_ix.remove(&c.id);
            self.free.push(slot);
        }
    }

    fn new_call(&self, info: QueuedCall, queue: QueueIx, kind: Kind, now: i64) -> Call {
        Call {
            id: info.call_id,
            info,
            queue,
            entered_ms: now,
            seq: 0,
            class: 0,
            prio: 0.0,
            key: None,
            phase: Phase::Waiting,
            visit: 0,
            offer_stamp: 0,
            avoid: Vec::new(),
            callback: false,
            callback_attempts: 0,
            called_back: false,
            not_before: i64::MIN,
            kind,
            transferred: false,
            via: "queue".into(),
            direct_return: None,
            agent: None,
            answered_ms: 0,
            hold_since: None,
            hold_ms: 0,
            consult: None,
            conference: Vec::new(),
            monitors: Vec::new(),
            raw_gen: 0,
            raw_caller: 0,
            raw_called: 0,
            raw_trunk: 0,
            raw_data: Vec::new(),
            entry_predictions: None,
        }
    }
}

#[cfg(test)]
mod tests;
