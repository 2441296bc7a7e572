//! The ACD core: a deterministic state machine over explicit time.
//!
//! [`AcdCore::handle`] takes the time and an [`Input`] and appends [`Effect`]s;
//! [`AcdCore::command`] does the same for agent and supervisor operations and
//! answers whether they were accepted. Nothing here reads a clock, sleeps or does
//! IO: the tokio actor (`actor.rs`) and the simulator (`crate::sim`) drive the same
//! code, one on real time and one on virtual time. Timers are kept inside and
//! surfaced as [`Effect::WakeAt`]; the driver calls `handle(t, Input::Tick)` then.
//!
//! Decisions happen when a call arrives, an agent becomes free, or a timer fires.
//! Waiting calls are kept per queue in a `BTreeSet` ordered by (class, priority,
//! arrival), so finding the next call costs a few comparisons however long the
//! queues are; agents are found through each queue's list of qualified agents.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use dialect_compiler::Program;
use dialect_compiler::exec::Evaluator;
use dialect_compiler::ir::{
    AnnounceIr, Builtin, ConstValue, DestIr, EnvVar, NoAnswerAction, OverflowDirection, Type,
};
use dialect_compiler::value::Value;
use serde::{Deserialize, Serialize};

use super::agent::{Agent, AgentDef, Pending};
use super::arena::{AgentIx, Arena, CallSlot, Ix, QueueIx};
use super::estimator::queue_length_estimate;
use super::queue::{
    CLASS_OVERFLOW_DOWN, CLASS_REOFFER, Pred, Queue, QueueRules, RuleDefaults, Strategy, WaitKey,
    ord_f64,
};
use super::types::*;

/// The name of the built-in queue of direct offers (`transfer agent`).
pub const DIRECT_QUEUE: &str = "(direct)";
/// The name of the built-in queue of agents' outbound calls.
pub const OUTBOUND_QUEUE: &str = "(outbound)";

/// How many waiting calls from the head are looked at for one that can go to an
/// agent (calls may avoid agents who just failed them).
const SCAN: usize = 32;

fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Ms {
        Num(i64),
        Text(String),
    }
    match Ms::deserialize(d)? {
        Ms::Num(n) => Ok(n),
        Ms::Text(s) => dialect_lang::syntax::parse_duration(s.trim())
            .filter(|ms| *ms >= 0)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("`{s}` is not a duration such as 30s"))
            }),
    }
}

/// Settings of the ACD that queues do not state (the `acd:` section of the
/// configuration). Durations are written as in flows (`20s`) or as milliseconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcdConfig {
    /// How long an offer rings when the queue has no `no answer` rule.
    #[serde(deserialize_with = "de_ms")]
    pub default_ring_ms: i64,
    /// Missed offers before an agent is made not ready, when the queue's agent policy does not say.
    pub default_max_missed: u32,
    /// How often time-dependent priorities and overflow rules are looked at.
    #[serde(deserialize_with = "de_ms")]
    pub reevaluate_ms: i64,
    /// Attempts to reach a customer who chose a callback.
    pub callback_attempts: u32,
    /// Wait between callback attempts.
    #[serde(deserialize_with = "de_ms")]
    pub callback_retry_ms: i64,
    /// How long a callback rings the customer.
    #[serde(deserialize_with = "de_ms")]
    pub callback_ring_ms: i64,
    /// Trunk group for callbacks ("" = the one the call came in on).
    pub callback_trunk: String,
    /// Caller id presented on callbacks ("" = the trunk's).
    pub callback_caller_id: String,
    /// Handle time assumed before a queue has answered calls.
    #[serde(deserialize_with = "de_ms")]
    pub default_handle_ms: i64,
    /// Recent calls that make up a queue's `service_level`.
    pub service_level_window: usize,
    /// `estimated_wait` in rules when nobody staffs the queue.
    #[serde(deserialize_with = "de_ms")]
    pub unknown_wait_ms: i64,
    /// Wrap-up after an agent's outbound call.
    #[serde(deserialize_with = "de_ms")]
    pub outbound_wrap_ms: i64,
    /// How long a placed call (callback, outbound) may take to answer or fail
    /// before the reserved agent is released.
    #[serde(deserialize_with = "de_ms")]
    pub dial_timeout_ms: i64,
}

impl Default for AcdConfig {
    fn default() -> AcdConfig {
        AcdConfig {
            default_ring_ms: 20_000,
            default_max_missed: 1,
            reevaluate_ms: 1_000,
            callback_attempts: 3,
            callback_retry_ms: 300_000,
            callback_ring_ms: 30_000,
            callback_trunk: String::new(),
            callback_caller_id: String::new(),
            default_handle_ms: 180_000,
            service_level_window: 100,
            unknown_wait_ms: 3_600_000,
            outbound_wrap_ms: 0,
            dial_timeout_ms: 90_000,
        }
    }
}

/// Something that happens to the ACD.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A call asks for a queue.
    Enqueue(QueuedCall),
    /// A call asks for one agent (`transfer agent`): offered if the agent is free,
    /// else `Unavailable`.
    Direct {
        /// The call.
        call: QueuedCall,
        /// The agent.
        agent: String,
    },
    /// How an offer (or a consultation) to an agent ended.
    OfferResult {
        /// The call.
        call: CallId,
        /// The agent.
        agent: String,
        /// What happened.
        result: OfferResult,
    },
    /// The caller pressed a key while waiting.
    CallerKey {
        /// The call.
        call: CallId,
        /// The key.
        key: char,
    },
    /// The caller hung up (or the call task ended for another reason).
    CallerGone {
        /// The call.
        call: CallId,
    },
    /// The call with its agent is over.
    CallEnded {
        /// The call.
        call: CallId,
        /// Talk time as the call task measured it (else from the answer time).
        talk_ms: Option<i64>,
    },
    /// An agent's leg hung up while the call goes on (conference, consultation).
    AgentLeft {
        /// The call.
        call: CallId,
        /// The agent.
        agent: String,
    },
    /// The caller was put on or taken off hold (from the phone).
    Held {
        /// The call.
        call: CallId,
        /// On hold.
        on: bool,
    },
    /// A placed call (callback, outbound) was answered.
    DialAnswered {
        /// The call.
        call: CallId,
    },
    /// A placed call failed (no answer, busy, invalid).
    DialFailed {
        /// The call.
        call: CallId,
        /// Why.
        reason: String,
    },
    /// An agent's phone registered or went away.
    Registration {
        /// The agent.
        agent: String,
        /// Has a registered contact now.
        registered: bool,
    },
    /// A wake-up asked for by [`Effect::WakeAt`].
    Tick,
}

/// What an agent desktop or a supervisor asks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AgentCommand {
    /// Start working (not ready until `ready`).
    SignIn,
    /// Stop working (after the current call).
    SignOut,
    /// Take calls (ends wrap-up early).
    Ready,
    /// Stop taking calls, with a reason code (after the current call).
    NotReady {
        /// The reason code.
        #[serde(default)]
        reason: String,
    },
    /// Answer the offered call from the desktop.
    Answer,
    /// Decline the offered call.
    Reject,
    /// Hang up (leave a conference; end a consultation; end the call).
    HangUp,
    /// Put the caller on hold.
    Hold,
    /// Take the caller off hold.
    Resume,
    /// Hold the caller and call another agent, or a free agent of a queue.
    Consult {
        /// Whom.
        target: TransferTarget,
    },
    /// End the consultation and return to the caller.
    ConsultCancel,
    /// Transfer: blind to `target`, or (without a target) complete the consultation.
    Transfer {
        /// Where; `None` completes a consultative transfer.
        #[serde(default)]
        target: Option<TransferTarget>,
    },
    /// Join the consulted agent to the call.
    Conference,
    /// Call a number through a trunk.
    Dial {
        /// The number.
        number: String,
        /// The trunk group ("" = any).
        #[serde(default)]
        trunk: String,
    },
    /// Set call data fields of the agent's call (they travel with the call).
    SetData {
        /// Field name to value.
        data: Vec<(String, Value)>,
    },
    /// Clear the call data of the agent's call.
    ClearData,
    /// Read the call data of the agent's call.
    GetData,
    /// Supervisor: make the agent ready.
    ForceReady,
    /// Supervisor: make the agent not ready.
    ForceNotReady {
        /// Reason code.
        #[serde(default)]
        reason: String,
    },
    /// Supervisor: sign the agent out.
    ForceSignOut,
    /// Supervisor: listen to the agent's call from `phone`.
    Listen {
        /// The supervisor's phone.
        phone: String,
    },
    /// Supervisor: talk to the agent only.
    Whisper {
        /// The supervisor's phone.
        phone: String,
    },
    /// Supervisor: join the call three-way.
    Barge {
        /// The supervisor's phone.
        phone: String,
    },
    /// Supervisor: take the call over from the agent.
    TakeOver {
        /// The supervisor's phone.
        phone: String,
    },
    /// Supervisor: stop listening/whispering/barging.
    StopMonitor {
        /// The supervisor's phone.
        phone: String,
    },
}

impl AgentCommand {
    /// Supervisor operations (force, monitor, take over).
    pub fn is_supervisor(&self) -> bool {
        matches!(
            self,
            AgentCommand::ForceReady
                | AgentCommand::ForceNotReady { .. }
                | AgentCommand::ForceSignOut
                | AgentCommand::Listen { .. }
                | AgentCommand::Whisper { .. }
                | AgentCommand::Barge { .. }
                | AgentCommand::TakeOver { .. }
                | AgentCommand::StopMonitor { .. }
        )
    }

    /// The name used in routes and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            AgentCommand::SignIn => "sign_in",
            AgentCommand::SignOut => "sign_out",
            AgentCommand::Ready => "ready",
            AgentCommand::NotReady { .. } => "not_ready",
            AgentCommand::Answer => "answer",
            AgentCommand::Reject => "reject",
            AgentCommand::HangUp => "hang_up",
            AgentCommand::Hold => "hold",
            AgentCommand::Resume => "resume",
            AgentCommand::Consult { .. } => "consult",
            AgentCommand::ConsultCancel => "consult_cancel",
            AgentCommand::Transfer { .. } => "transfer",
            AgentCommand::Conference => "conference",
            AgentCommand::Dial { .. } => "dial",
            AgentCommand::SetData { .. } => "set_data",
            AgentCommand::ClearData => "clear_data",
            AgentCommand::GetData => "get_data",
            AgentCommand::ForceReady => "force_ready",
            AgentCommand::ForceNotReady { .. } => "force_not_ready",
            AgentCommand::ForceSignOut => "force_sign_out",
            AgentCommand::Listen { .. } => "listen",
            AgentCommand::Whisper { .. } => "whisper",
            AgentCommand::Barge { .. } => "barge",
            AgentCommand::TakeOver { .. } => "take_over",
            AgentCommand::StopMonitor { .. } => "stop_monitor",
        }
    }
}

/// Why an agent command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CtiError {
    /// No such agent.
    #[error("there is no agent {0}")]
    UnknownAgent(String),
    /// The agent must sign in first.
    #[error("agent {0} is signed out")]
    SignedOut(String),
    /// The operation needs a call the agent does not have.
    #[error("agent {0} has no call to do that with")]
    NoCall(String),
    /// The operation needs an offered (ringing) call.
    #[error("agent {0} has no offered call")]
    NotOffered(String),
    /// The agent asked for is not free.
    #[error("agent {0} is not available")]
    Unavailable(String),
    /// No such queue.
    #[error("there is no queue {0}")]
    UnknownQueue(String),
    /// The queue has nobody free.
    #[error("nobody in queue {0} is free")]
    NoAgentFree(String),
    /// The operation does not fit the call's state.
    #[error("{0}")]
    Invalid(String),
}

/// A successful command's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CtiReply {
    /// The agent's state after it.
    pub state: AgentStatus,
    /// The call involved (a new outbound call's id).
    pub call: Option<CallId>,
    /// Call data (for `get_data`, `set_data`, `clear_data`).
    pub data: Option<Vec<(String, Value)>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Waiting,
    Offering(Vec<AgentIx>),
    Connected,
    /// A callback or outbound call is being placed; the agent is reserved.
    Dialing(AgentIx),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Queue,
    Direct,
    Outbound,
}

#[derive(Debug)]
struct Call {
    id: CallId,
    info: QueuedCall,
    queue: QueueIx,
    entered_ms: i64,
    seq: u64,
    class: u8,
    prio: f64,
    key: Option<WaitKey>,
    phase: Phase,
    visit: u32,
    offer_stamp: u32,
    avoid: Vec<(AgentIx, i64)>,
    /// The caller chose a callback and is not on the line.
    callback: bool,
    callback_attempts: u32,
    /// Came back through a callback (for the record).
    called_back: bool,
    not_before: i64,
    kind: Kind,
    /// Second agent after a transfer or take-over.
    transferred: bool,
    via: String,
    /// Queue to go back to when a blind transfer to an agent fails.
    direct_return: Option<QueueIx>,
    agent: Option<AgentIx>,
    answered_ms: i64,
    hold_since: Option<i64>,
    hold_ms: i64,
    consult: Option<(AgentIx, bool)>,
    conference: Vec<AgentIx>,
    monitors: Vec<(String, MonitorMode)>,
    raw_gen: u32,
    raw_caller: u64,
    raw_called: u64,
    raw_trunk: u64,
    raw_data: Vec<u64>,
}

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

/// A waiting call as the real-time view shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingView {
    /// The call.
    pub call: CallId,
    /// Calling number.
    pub caller: String,
    /// 1 = next.
    pub position: u32,
    /// Waited so far, ms.
    pub waited_ms: i64,
    /// Its priority.
    pub priority: f64,
    /// Waiting for a callback (not on the line).
    pub callback: bool,
}

/// A queue in the real-time view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    /// Name.
    pub name: String,
    /// Strategy.
    pub strategy: String,
    /// Calls waiting (callbacks included).
    pub waiting: usize,
    /// Of which callbacks.
    pub callbacks: usize,
    /// Calls ringing an agent.
    pub offering: usize,
    /// Calls talking to an agent.
    pub talking: usize,
    /// The longest wait now, ms.
    pub longest_wait_ms: i64,
    /// Qualified agents signed in.
    pub signed_in: usize,
    /// Qualified agents free now.
    pub idle_agents: usize,
    /// Share of recent calls answered in the service-level time.
    pub service_level: f64,
    /// The target.
    pub service_level_target: f64,
    /// The service-level time, ms.
    pub service_level_ms: i64,
    /// What a call arriving now would be told, ms.
    pub estimated_wait_ms: Option<i64>,
    /// Mean handle time the estimate uses, ms.
    pub handle_ms: i64,
    /// Still in the deployed program.
    pub active: bool,
    /// The waiting calls, in order (only when asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<WaitingView>,
}

/// An agent in the real-time view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// State.
    pub state: AgentStatus,
    /// Not-ready reason, or why the ACD changed the state.
    pub reason: String,
    /// In this state since, ms.
    pub since_ms: i64,
    /// Skills and levels.
    pub skills: Vec<(String, u32)>,
    /// Queues the agent can take calls from.
    pub queues: Vec<String>,
    /// Current call.
    pub call: Option<CallId>,
    /// Calls answered since signing in.
    pub answered: u64,
    /// Talk time since signing in, ms.
    pub talk_ms: i64,
    /// Offers missed in a row.
    pub missed: u32,
    /// Skipped for offers until then (reject/busy/unregistered delay), ms.
    pub delayed_until_ms: Option<i64>,
    /// What happens after the current call.
    pub pending: Option<String>,
    /// Phone registration as the registrar reported it.
    pub registered: Option<bool>,
    /// Answers without ringing.
    pub auto_answer: bool,
}

/// The two estimates for one waiting call (the simulator compares them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The ACD's queue-length estimate, ms (`None`: nobody staffs the queue).
    pub acd_ms: Option<f64>,
    /// Asterisk's `holdtime + 30 s - waited`, ms.
    pub asterisk_ms: f64,
    /// The call's position.
    pub position: u32,
}

/// The ACD: every queue, agent and waiting call. See the module documentation.
pub struct AcdCore {
    config: AcdConfig,
    program: Program,
    eval: Evaluator,
    program_gen: u32,
    skill_ix: HashMap<Arc<str>, u32>,
    skills: Vec<Arc<str>>,
    queues: Arena<QueueIx, Queue>,
    queue_ix: HashMap<Arc<str>, QueueIx>,
    agents: Arena<AgentIx, Agent>,
    agent_ix: HashMap<Arc<str>, AgentIx>,
    calls: Arena<CallSlot, Option<Call>>,
    free: Vec<CallSlot>,
    call_ix: HashMap<CallId, CallSlot>,
    timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    timer_seq: u64,
    reeval_at: Option<i64>,
    wake_told: Option<i64>,
    seq: u64,
    next_outbound: u64,
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

struct EnvCtx {
    position: Option<u32>,
    estimate: Option<i64>,
    idle: Option<usize>,
    position_hint: Option<u32>,
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

    /// The program the queue rules come from.
    pub fn program(&self) -> &Program {
        &self.program
    }

    fn put_agent(&mut self, def: AgentDef, now: i64) -> AgentIx {
        let mut levels = vec![0; self.skills.len()];
        for (s, l) in &def.skills {
            let i = self.skill(s) as usize;
            if levels.len() <= i {
                levels.resize(i + 1, 0);
            }
            levels[i] = *l;
        }
        levels.resize(self.skills.len(), 0);
        match self.agent_ix.get(def.id.as_str()).copied() {
            Some(i) => {
                let a = &mut self.agents[i];
                a.levels = levels;
                a.def = def;
                a.removed = false;
                i
            }
            None => {
                let a = Agent::new(def, levels, now);
                let id = a.id.clone();
                let i = self.agents.push(a);
                self.agent_ix.insert(id, i);
                i
            }
        }
    }

    fn rebuild_eligibility(&mut self) {
        let nskills = self.skills.len();
        for a in &mut self.agents {
            a.levels.resize(nskills, 0);
            a.queues.clear();
        }
        for (qi, q) in self.queues.iter_mut_indexed() {
            q.eligible.clear();
            if q.rules.builtin {
                continue;
            }
            for (ai, a) in self.agents.iter_mut_indexed() {
                if !a.removed && a.qualifies(&q.rules.skills) {
                    q.eligible.push(ai);
                    a.queues.push(qi);
                }
            }
        }
        for a in &mut self.agents {
            let n = a.queues.len();
            if a.share.len() != n {
                a.share = vec![if n == 0 { 0.0 } else { 1.0 / n as f64 }; n];
            }
        }
    }

    /// Adds or changes an agent (skills, name, auto-answer); their state stays.
    pub fn upsert_agent(&mut self, def: AgentDef, now: i64, out: &mut Vec<Effect>) {
        let a = self.put_agent(def, now);
        self.rebuild_eligibility();
        self.dispatch_agent(a, now, out);
        self.tell_wake(now, out);
    }

    /// Removes an agent: signed out now, or after the current call.
    pub fn remove_agent(&mut self, id: &str, now: i64, out: &mut Vec<Effect>) -> bool {
        let Some(a) = self.agent_ix.get(id).copied() else {
            return false;
        };
        self.agents[a].removed = true;
        let _ = self.command(now, id, AgentCommand::SignOut, "api", out);
        self.rebuild_eligibility();
        true
    }

    // ----- time ---------------------------------------------------------------

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

    // ----- inputs -------------------------------------------------------------

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
        }
    }

    fn enqueue(&mut self, qc: QueuedCall, now: i64, out: &mut Vec<Effect>, depth: u32) {
        let id = qc.call_id;
        if let Some(old) = self.call_ix.get(&id).copied() {
            // The same call back in a queue (a flow sent it on): forget the old stay.
            self.release(old);
        }
        let q = match self.queue_ix.get(qc.queue.as_str()).copied() {
            Some(q) if self.queues[q].active && !self.queues[q].rules.builtin => q,
            _ => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Move {
                        dest: DestIr::Hangup,
                        reason: MoveReason::UnknownQueue,
                    },
                ));
                return;
            }
        };
        if let Some((cal, dest)) = &self.queues[q].rules.hours
            && !cal.is_open(now)
        {
            let dest = dest.clone();
            let rec = CallRecord {
                call: id,
                queue: qc.queue.clone(),
                skills: self.queues[q].rules.skill_names.clone(),
                trunk: qc.trunk.clone(),
                caller: qc.caller.clone(),
                entered_ms: now,
                left_ms: now,
                outcome: Outcome::Closed,
                agent: None,
                wait_ms: 0,
                talk_ms: 0,
                hold_ms: 0,
                wrap_ms: 0,
            };
            out.push(Effect::Event(AcdEvent::Record(rec)));
            out.push(Effect::Event(AcdEvent::CallLeft {
                call: id,
                queue: qc.queue.clone(),
                outcome: Outcome::Closed,
                at_ms: now,
            }));
            match dest {
                DestIr::Queue(next) if depth < 8 => {
                    let mut qc = qc;
                    qc.queue = next;
                    self.enqueue(qc, now, out, depth + 1);
                }
                dest => out.push(Effect::ToCall(
                    id,
                    AcdToCall::Move {
                        dest,
                        reason: MoveReason::Closed,
                    },
                )),
            }
            return;
        }
        let call = self.new_call(qc, q, Kind::Queue, now);
        let s = self.alloc(call);
        self.enter_queue(s, q, 0, None, now, out);
    }

    fn enter_queue(
        &mut self,
        s: CallSlot,
        q: QueueIx,
        class: u8,
        keep_seq: Option<u64>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let seq = keep_seq.unwrap_or_else(|| {
            self.seq += 1;
            self.seq
        });
        {
            let c = self.cm(s);
            c.queue = q;
            c.entered_ms = now;
            c.visit += 1;
            c.class = class;
            c.seq = seq;
            c.phase = Phase::Waiting;
            c.avoid.clear();
            c.agent = None;
            c.kind = Kind::Queue;
        }
        let waiting = self.queues[q].waiting.len() as u32;
        let prio = self.priority(s, now, Some(waiting + 1));
        self.insert_waiting(s, prio);
        let (visit, id) = (self.c(s).visit, self.c(s).id);
        let rules = &self.queues[q].rules;
        let max_wait = rules.max_wait.as_ref().map(|(ms, _)| *ms);
        let music = rules.music.clone();
        let name = rules.name.to_string();
        let announce: Vec<(u32, i64)> = rules
            .announcements
            .iter()
            .enumerate()
            .map(|(i, (_, every, _))| (i as u32, *every))
            .collect();
        if let Some(ms) = max_wait {
            self.at(now + ms, Timer::MaxWait { call: id, visit });
        }
        for (idx, every) in announce {
            self.at(
                now + every.max(1_000),
                Timer::Announce {
                    call: id,
                    visit,
                    idx,
                },
            );
        }
        let position = self.position(s);
        let est = self.estimate_slot(s, now).acd_ms.map(|m| m.round() as i64);
        out.push(Effect::ToCall(
            id,
            AcdToCall::Queued {
                queue: name.clone(),
                position,
                estimated_wait_ms: est,
            },
        ));
        out.push(Effect::ToCall(
            id,
            AcdToCall::Music {
                on: true,
                prompt: music,
            },
        ));
        out.push(Effect::Event(AcdEvent::CallQueued {
            call: id,
            queue: name,
            position,
            priority: prio,
            at_ms: now,
        }));
        self.dispatch_queue(q, now, out);
        if self.calls[s].as_ref().is_some_and(|c| {
            c.id == id && c.phase == Phase::Waiting && c.queue == q && c.visit == visit
        }) {
            self.check_overflow(s, now, out);
        }
        self.ensure_reevaluate(now);
    }

    fn insert_waiting(&mut self, s: CallSlot, prio: f64) {
        let c = self.cm(s);
        c.prio = prio;
        let key = WaitKey {
            class: Reverse(c.class),
            prio: Reverse(ord_f64(prio)),
            seq: c.seq,
            slot: s,
        };
        c.key = Some(key);
        let q = c.queue;
        self.queues[q].waiting.insert(key);
    }

    fn take_waiting(&mut self, s: CallSlot) {
        let c = self.cm(s);
        if let Some(k) = c.key.take() {
            let q = c.queue;
            self.queues[q].waiting.remove(&k);
        }
    }

    fn reprioritize(&mut self, s: CallSlot, now: i64) {
        let Some(k) = self.c(s).key else {
            return;
        };
        let prio = self.priority(s, now, None);
        if ord_f64(prio) != k.prio.0 {
            self.take_waiting(s);
            self.insert_waiting(s, prio);
        }
    }

    // ----- predicates ----------------------------------------------------------

    fn ensure_raw(&mut self, s: CallSlot) {
        if self.c(s).raw_gen == self.program_gen {
            return;
        }
        let ir = self.program.ir();
        let fields: Vec<(String, Type, ConstValue)> = ir
            .calldata
            .iter()
            .map(|f| (f.name.clone(), f.ty, f.default.clone()))
            .collect();
        let (caller, called, trunk, data) = {
            let c = self.c(s);
            (
                c.info.caller.clone(),
                c.info.called.clone(),
                c.info.trunk.clone(),
                c.info.data.clone(),
            )
        };
        let rc = self.eval.intern(&caller);
        let rd = self.eval.intern(&called);
        let rt = self.eval.intern(&trunk);
        let mut raw = Vec::with_capacity(fields.len());
        for (name, ty, default) in fields {
            let v = data
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| self.eval.raw(v, ty));
            let v = v.unwrap_or_else(|| match default {
                ConstValue::Num(n) => n.to_bits(),
                ConstValue::Int(i) => i as u64,
                ConstValue::Text(t) => self.eval.intern(&t),
            });
            raw.push(v);
        }
        let generation = self.program_gen;
        let c = self.cm(s);
        c.raw_caller = rc;
        c.raw_called = rd;
        c.raw_trunk = rt;
        c.raw_data = raw;
        c.raw_gen = generation;
    }

    fn env_for(&mut self, p: &Pred, s: CallSlot, now: i64, ctx: &mut EnvCtx) {
        self.ensure_raw(s);
        let mut env = std::mem::take(&mut self.env);
        env.clear();
        for (var, _ty) in &p.vars {
            let v = match var {
                EnvVar::Builtin(b) => match b {
                    Builtin::Caller => self.c(s).raw_caller,
                    Builtin::Called => self.c(s).raw_called,
                    Builtin::Trunk => self.c(s).raw_trunk,
                    Builtin::Waited => (now - self.c(s).entered_ms).max(0) as u64,
                    Builtin::Position => {
                        let p = match ctx.position {
                            Some(p) => p,
                            None => {
                                let p = match (self.c(s).key, ctx.position_hint) {
                                    (None, Some(h)) => h,
                                    _ => self.position(s),
                                };
                                ctx.position = Some(p);
                                p
                            }
                        };
                        f64::from(p).to_bits()
                    }
                    Builtin::EstimatedWait => {
                        let e = match ctx.estimate {
                            Some(e) => e,
                            None => {
                                let e = if self.c(s).key.is_some() {
                                    self.estimate_slot(s, now)
                                        .acd_ms
                                        .map(|m| m.round() as i64)
                                        .unwrap_or(self.config.unknown_wait_ms)
                                } else {
                                    0
                                };
                                ctx.estimate = Some(e);
                                e
                            }
                        };
                        e as u64
                    }
                    Builtin::Waiting => {
                        (self.queues[self.c(s).queue].waiting.len() as f64).to_bits()
                    }
                    Builtin::IdleAgents => {
                        let n = match ctx.idle {
                            Some(n) => n,
                            None => {
                                let n = self.idle_agents(self.c(s).queue, now);
                                ctx.idle = Some(n);
                                n
                            }
                        };
                        (n as f64).to_bits()
                    }
                    Builtin::ServiceLevel => self.queues[self.c(s).queue].service_level().to_bits(),
                    Builtin::LongestWait => self.longest_wait(self.c(s).queue, now) as u64,
                    Builtin::Attempts | Builtin::Age => 0,
                    Builtin::LastOutcome => self.eval.intern(""),
                },
                EnvVar::Data(i) => self.c(s).raw_data.get(*i as usize).copied().unwrap_or(0),
                EnvVar::Field(_) => 0,
            };
            env.push(v);
        }
        self.env = env;
    }

    fn priority(&mut self, s: CallSlot, now: i64, position_hint: Option<u32>) -> f64 {
        let q = self.c(s).queue;
        let Some(p) = self.queues[q].rules.priority.clone() else {
            return 0.0;
        };
        let mut ctx = EnvCtx {
            position: None,
            estimate: None,
            idle: None,
            position_hint,
        };
        self.env_for(&p, s, now, &mut ctx);
        match self.eval.eval_number(p.id, &self.env) {
            Ok(v) if v.is_finite() => v,
            Ok(_) => 0.0,
            Err((msg, at)) => {
                tracing::debug!(queue = %self.queues[q].rules.name, "priority failed at {at}: {msg}");
                0.0
            }
        }
    }

    fn eval_bool(&mut self, p: &Pred, s: CallSlot, now: i64) -> bool {
        let mut ctx = EnvCtx {
            position: None,
            estimate: None,
            idle: None,
            position_hint: None,
        };
        self.env_for(p, s, now, &mut ctx);
        match self.eval.eval_bool(p.id, &self.env) {
            Ok(b) => b,
            Err((msg, at)) => {
                tracing::debug!("queue condition failed at {at}: {msg}");
                false
            }
        }
    }

    // ----- figures ---------------------------------------------------------------

    fn position(&self, s: CallSlot) -> u32 {
        let c = self.c(s);
        match c.key {
            Some(k) => self.queues[c.queue].waiting.range(..k).count() as u32 + 1,
            None => 0,
        }
    }

    fn idle_agents(&self, q: QueueIx, now: i64) -> usize {
        self.queues[q]
            .eligible
            .iter()
            .filter(|a| self.agents[**a].available(now))
            .count()
    }

    fn longest_wait(&self, q: QueueIx, now: i64) -> i64 {
        self.queues[q]
            .waiting
            .iter()
            .map(|k| now - self.c(k.slot).entered_ms)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// The queue's service rate (calls per ms) and abandonment rate for the estimator.
    fn rates(&self, q: QueueIx) -> (f64, f64) {
        let queue = &self.queues[q];
        let servers: f64 = queue
            .eligible
            .iter()
            .map(|a| &self.agents[*a])
            .filter(|a| a.status.staffed())
            .map(|a| a.share_of(q))
            .sum();
        (servers / queue.est.handle_ms(), queue.est.theta())
    }

    fn estimate_slot(&self, s: CallSlot, now: i64) -> Estimate {
        let c = self.c(s);
        let q = c.queue;
        let position = self.position(s);
        let waited = now - c.entered_ms;
        let asterisk_ms = self.queues[q].est.asterisk(waited) as f64;
        let acd_ms = if position == 0 || self.idle_agents(q, now) > 0 {
            Some(0.0)
        } else {
            let (rate, theta) = self.rates(q);
            queue_length_estimate(position, rate, theta)
        };
        Estimate {
            acd_ms,
            asterisk_ms,
            position,
        }
    }

    /// Both wait estimates for a waiting call now.
    pub fn estimate(&self, call: CallId, now: i64) -> Option<Estimate> {
        let s = self.call_ix.get(&call).copied()?;
        self.c(s).key?;
        Some(self.estimate_slot(s, now))
    }

    // ----- choosing ------------------------------------------------------------

    fn avoids(&self, s: CallSlot, a: AgentIx, now: i64) -> bool {
        self.c(s)
            .avoid
            .iter()
            .any(|(x, until)| *x == a && *until > now)
    }

    /// The agents to offer waiting call `s` of queue `q` to, by the queue's strategy.
    fn select(&self, q: QueueIx, s: CallSlot, now: i64) -> Vec<AgentIx> {
        let queue = &self.queues[q];
        let cands = queue
            .eligible
            .iter()
            .copied()
            .filter(|a| self.agents[*a].available(now) && !self.avoids(s, *a, now));
        let skills = &queue.rules.skills;
        let ag = |a: AgentIx| &self.agents[a];
        let pick = match queue.rules.strategy {
            Strategy::RingAll => return cands.collect(),
            Strategy::FirstIdle => cands.min(),
            Strategy::LongestIdle => cands.min_by_key(|a| (ag(*a).idle_since, *a)),
            Strategy::FewestCalls => cands.min_by_key(|a| (ag(*a).answered, ag(*a).idle_since, *a)),
            Strategy::LeastTalkTime => {
                cands.min_by_key(|a| (ag(*a).talk_ms, ag(*a).idle_since, *a))
            }
            Strategy::HighestSkill => {
                cands.min_by_key(|a| (Reverse(ag(*a).level_in(skills)), ag(*a).idle_since, *a))
            }
            Strategy::LowestSkill => {
                cands.min_by_key(|a| (ag(*a).level_in(skills), ag(*a).idle_since, *a))
            }
            Strategy::RoundRobin => {
                let last = queue
                    .rr_last
                    .and_then(|l| queue.eligible.iter().position(|a| *a == l));
                let n = queue.eligible.len();
                // The first candidate after the last agent, in declaration order.
                let start = last.map(|l| l + 1).unwrap_or(0);
                (0..n)
                    .map(|i| queue.eligible[(start + i) % n])
                    .find(|a| self.agents[*a].available(now) && !self.avoids(s, *a, now))
            }
        };
        pick.into_iter().collect()
    }

    fn any_available(&self, q: QueueIx, now: i64) -> bool {
        self.queues[q]
            .eligible
            .iter()
            .any(|a| self.agents[*a].available(now))
    }

    fn dispatch_queue(&mut self, q: QueueIx, now: i64, out: &mut Vec<Effect>) {
        loop {
            if self.queues[q].waiting.is_empty() || !self.any_available(q, now) {
                return;
            }
            let mut chosen = None;
            for k in self.queues[q].waiting.iter().take(SCAN) {
                if self.c(k.slot).not_before > now {
                    continue;
                }
                let agents = self.select(q, k.slot, now);
                if !agents.is_empty() {
                    chosen = Some((k.slot, agents));
                    break;
                }
            }
            match chosen {
                Some((s, agents)) => self.offer(s, agents, now, out),
                None => return,
            }
        }
    }

    fn dispatch_agent(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        if !self.agents[a].available(now) {
            let until = self.agents[a].delay_until;
            if self.agents[a].status == AgentStatus::Ready && until > now {
                self.at(until, Timer::DelayEnd { agent: a });
            }
            return;
        }
        let mut best: Option<WaitKey> = None;
        for qi in 0..self.agents[a].queues.len() {
            let q = self.agents[a].queues[qi];
            for k in self.queues[q].waiting.iter().take(SCAN) {
                if best.is_some_and(|b| b < *k) {
                    break;
                }
                if self.c(k.slot).not_before > now || self.avoids(k.slot, a, now) {
                    continue;
                }
                best = Some(*k);
                break;
            }
        }
        if let Some(k) = best {
            self.offer(k.slot, vec![a], now, out);
        }
    }

    fn dispatch_all(&mut self, now: i64, out: &mut Vec<Effect>) {
        for q in self.queues.keys() {
            self.dispatch_queue(q, now, out);
        }
    }

    // ----- offering --------------------------------------------------------------

    fn screen_pop(&self, s: CallSlot, now: i64) -> ScreenPop {
        let c = self.c(s);
        ScreenPop {
            call: c.id,
            queue: self.queues[c.queue].rules.name.to_string(),
            caller: c.info.caller.clone(),
            called: c.info.called.clone(),
            trunk: c.info.trunk.clone(),
            customer_id: c.info.customer_id.clone(),
            data: c.info.data.clone(),
            trail: c.info.trail.clone(),
            waited_ms: (now - c.entered_ms).max(0),
            via: c.via.clone(),
        }
    }

    fn offer(&mut self, s: CallSlot, agents: Vec<AgentIx>, now: i64, out: &mut Vec<Effect>) {
        self.take_waiting(s);
        let q = self.c(s).queue;
        if let Some(first) = agents.first() {
            self.queues[q].rr_last = Some(*first);
        }
        if self.c(s).callback {
            // The customer is not on the line: reserve the agent and call back.
            let Some(&a) = agents.first() else {
                return;
            };
            let trunk = if self.config.callback_trunk.is_empty() {
                self.c(s).info.trunk.clone()
            } else {
                self.config.callback_trunk.clone()
            };
            let stamp = {
                let c = self.cm(s);
                c.offer_stamp += 1;
                c.phase = Phase::Dialing(a);
                c.offer_stamp
            };
            let id = self.c(s).id;
            self.agents[a].call = Some(s);
            self.set_status(a, AgentStatus::Ringing, "callback", Some(id), now, out);
            let order = DialOrder {
                call: id,
                kind: DialKind::Callback,
                number: self.c(s).info.caller.clone(),
                trunk,
                agent: self.agents[a].id.clone(),
                caller_id: self.config.callback_caller_id.clone(),
                ring_ms: self.config.callback_ring_ms,
                data: self.c(s).info.data.clone(),
            };
            out.push(Effect::Dial(order));
            self.at(
                now + self.config.dial_timeout_ms,
                Timer::DialTimeout { call: id, stamp },
            );
            return;
        }
        let ring_ms = self.queues[q].rules.ring_ms;
        let (id, stamp) = {
            let c = self.cm(s);
            c.offer_stamp += 1;
            c.phase = Phase::Offering(agents.clone());
            (c.id, c.offer_stamp)
        };
        let pop = self.screen_pop(s, now);
        for a in agents {
            self.agents[a].call = Some(s);
            self.set_status(a, AgentStatus::Ringing, "", Some(id), now, out);
            self.at(
                now + ring_ms,
                Timer::Ring {
                    call: id,
                    agent: a,
                    stamp,
                },
            );
            let ag = &self.agents[a];
            out.push(Effect::ToCall(
                id,
                AcdToCall::Offer {
                    agent: ag.id.clone(),
                    contact: None,
                    auto_answer: ag.def.auto_answer,
                    ring_ms,
                },
            ));
            out.push(Effect::Event(AcdEvent::CallOffered {
                agent: ag.id.to_string(),
                pop: Box::new(pop.clone()),
                at_ms: now,
            }));
        }
    }

    fn offer_result(
        &mut self,
        call: CallId,
        agent: &str,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let (Some(s), Some(a)) = (
            self.call_ix.get(&call).copied(),
            self.agent_ix.get(agent).copied(),
        ) else {
            return;
        };
        if self.c(s).consult == Some((a, false)) {
            if result == OfferResult::Answered {
                self.cm(s).consult = Some((a, true));
                self.set_status(a, AgentStatus::Talking, "consult", Some(call), now, out);
            } else {
                self.consult_failed(s, a, result_name(result), now, out);
            }
            return;
        }
        let offered = matches!(&self.c(s).phase, Phase::Offering(list) if list.contains(&a));
        if !offered {
            if result == OfferResult::Answered {
                // Answered after the offer was withdrawn: hang that leg up.
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::CancelOffer {
                        agent: self.agents[a].id.clone(),
                    },
                ));
            }
            return;
        }
        if result == OfferResult::Answered {
            self.answer(s, a, now, out);
        } else {
            self.offer_failed(s, a, result, now, out);
        }
    }

    fn answer(&mut self, s: CallSlot, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        let others: Vec<AgentIx> = match &self.c(s).phase {
            Phase::Offering(list) => list.iter().copied().filter(|x| *x != a).collect(),
            _ => Vec::new(),
        };
        let id = self.c(s).id;
        for b in &others {
            out.push(Effect::ToCall(
                id,
                AcdToCall::CancelOffer {
                    agent: self.agents[*b].id.clone(),
                },
            ));
            self.agents[*b].call = None;
            self.set_status(*b, AgentStatus::Ready, "", None, now, out);
        }
        let q = self.c(s).queue;
        let (wait, first_answer) = {
            let c = self.cm(s);
            c.phase = Phase::Connected;
            c.agent = Some(a);
            c.answered_ms = now;
            (now - c.entered_ms, !c.transferred)
        };
        {
            let ag = &mut self.agents[a];
            ag.missed = 0;
            ag.answered += 1;
            ag.call = Some(s);
            ag.note_share(q);
        }
        self.set_status(a, AgentStatus::Talking, "", Some(id), now, out);
        if first_answer && !self.queues[q].rules.builtin {
            let window = self.config.service_level_window;
            let queue = &mut self.queues[q];
            queue.est.note_wait_end(wait, false);
            queue.est.note_answered(wait);
            let within = wait <= queue.rules.sl_ms;
            queue.note_outcome(within, window);
        }
        out.push(Effect::ToCall(
            id,
            AcdToCall::Bridge {
                agent: self.agents[a].id.clone(),
            },
        ));
        out.push(Effect::Event(AcdEvent::CallAnswered {
            call: id,
            queue: self.queues[q].rules.name.to_string(),
            agent: self.agents[a].id.to_string(),
            wait_ms: wait,
            at_ms: now,
        }));
        for b in others {
            self.dispatch_agent(b, now, out);
        }
    }

    fn offer_failed(
        &mut self,
        s: CallSlot,
        a: AgentIx,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let q = self.c(s).queue;
        let rules = &self.queues[q].rules;
        let (delay, counts) = match result {
            OfferResult::NoAnswer => (0, true),
            OfferResult::Rejected => (rules.reject_delay_ms, false),
            OfferResult::Busy | OfferResult::Failed => (rules.busy_delay_ms, false),
            OfferResult::Unregistered => (rules.unregistered_delay_ms, false),
            OfferResult::Answered => (0, false),
        };
        let max_missed = rules.max_missed;
        let ring_ms = rules.ring_ms;
        let action = rules.no_answer;
        let builtin = rules.builtin;
        let remaining = {
            let c = self.cm(s);
            if let Phase::Offering(list) = &mut c.phase {
                list.retain(|x| *x != a);
            }
            c.avoid.retain(|(_, until)| *until > now);
            c.avoid.push((a, now + delay.max(ring_ms)));
            matches!(&c.phase, Phase::Offering(list) if !list.is_empty())
        };
        let id = self.c(s).id;
        // The agent.
        {
            let ag = &mut self.agents[a];
            ag.call = None;
            if delay > 0 {
                ag.delay_until = now + delay;
            }
            if counts && !builtin {
                ag.missed += 1;
            }
        }
        let made_busy = counts && !builtin && self.agents[a].missed >= max_missed;
        if made_busy {
            self.agents[a].missed = 0;
            self.agents[a].pending = None;
            self.set_status(a, AgentStatus::NotReady, "no answer", Some(id), now, out);
        } else if !self.apply_pending(a, now, out) {
            self.set_status(a, AgentStatus::Ready, result_name(result), None, now, out);
        }
        if !remaining {
            self.requeue_after_failure(s, action, result, now, out);
        }
        self.dispatch_agent(a, now, out);
    }

    fn requeue_after_failure(
        &mut self,
        s: CallSlot,
        action: NoAnswerAction,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let id = self.c(s).id;
        if self.c(s).kind == Kind::Direct {
            match self.c(s).direct_return {
                Some(q) => {
                    // A blind transfer to an agent failed: back to the queue, first.
                    let seq = self.c(s).seq;
                    self.cm(s).kind = Kind::Queue;
                    self.enter_queue(s, q, CLASS_REOFFER, Some(seq), now, out);
                }
                None => {
                    out.push(Effect::ToCall(
                        id,
                        AcdToCall::Unavailable {
                            reason: result_name(result).to_string(),
                        },
                    ));
                    self.release(s);
                }
            }
            return;
        }
        let q = self.c(s).queue;
        {
            let c = self.cm(s);
            c.phase = Phase::Waiting;
            if action != NoAnswerAction::Requeue {
                c.class = c.class.max(CLASS_REOFFER);
            }
        }
        let prio = self.priority(s, now, None);
        self.insert_waiting(s, prio);
        if action == NoAnswerAction::NextAgent {
            let agents = self.select(q, s, now);
            if let Some(&b) = agents.first() {
                self.offer(s, vec![b], now, out);
                return;
            }
        }
        let position = self.position(s);
        let est = self.estimate_slot(s, now).acd_ms.map(|m| m.round() as i64);
        out.push(Effect::ToCall(
            id,
            AcdToCall::Queued {
                queue: self.queues[q].rules.name.to_string(),
                position,
                estimated_wait_ms: est,
            },
        ));
        self.dispatch_queue(q, now, out);
    }

    // ----- leaving ---------------------------------------------------------------

    fn record(
        &self,
        s: CallSlot,
        outcome: Outcome,
        agent: Option<AgentIx>,
        now: i64,
    ) -> CallRecord {
        let c = self.c(s);
        let q = &self.queues[c.queue].rules;
        let answered = matches!(
            outcome,
            Outcome::Answered
                | Outcome::CallbackAnswered
                | Outcome::Transferred
                | Outcome::Outbound
                | Outcome::Direct
        );
        let (wait, left, talk) = if answered {
            let talk = (now - c.answered_ms).max(0);
            (c.answered_ms - c.entered_ms, c.answered_ms, talk)
        } else {
            (now - c.entered_ms, now, 0)
        };
        CallRecord {
            call: c.id,
            queue: q.name.to_string(),
            skills: q.skill_names.clone(),
            trunk: c.info.trunk.clone(),
            caller: c.info.caller.clone(),
            entered_ms: c.entered_ms,
            left_ms: left,
            outcome,
            agent: agent.map(|a| self.agents[a].id.to_string()),
            wait_ms: wait.max(0),
            talk_ms: talk,
            hold_ms: c.hold_ms,
            wrap_ms: 0,
        }
    }

    /// The call leaves its queue without an agent: record it and tell the call task.
    fn leave_for(
        &mut self,
        s: CallSlot,
        dest: DestIr,
        reason: MoveReason,
        outcome: Outcome,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let q = self.c(s).queue;
        self.finish_waiting(s, outcome, now, out);
        match dest {
            DestIr::Queue(name) => match self.queue_ix.get(name.as_str()).copied() {
                Some(t) if self.queues[t].active => {
                    let class = if outcome == Outcome::Overflow && self.is_down_overflow(q, t) {
                        CLASS_OVERFLOW_DOWN
                    } else {
                        0
                    };
                    self.enter_queue(s, t, class, None, now, out);
                }
                _ => {
                    let id = self.c(s).id;
                    out.push(Effect::ToCall(
                        id,
                        AcdToCall::Move {
                            dest: DestIr::Hangup,
                            reason: MoveReason::UnknownQueue,
                        },
                    ));
                    self.release(s);
                }
            },
            DestIr::Callback => self.start_callback(s, now, out),
            dest => {
                let id = self.c(s).id;
                out.push(Effect::ToCall(id, AcdToCall::Move { dest, reason }));
                self.release(s);
            }
        }
    }

    fn is_down_overflow(&self, from: QueueIx, to: QueueIx) -> bool {
        let target = &self.queues[to].rules.name;
        self.queues[from]
            .rules
            .overflows
            .iter()
            .any(|o| o.direction == OverflowDirection::Down && o.target == *target)
    }

    /// Ends the call's stay in its queue (not answered): statistics and events.
    fn finish_waiting(&mut self, s: CallSlot, outcome: Outcome, now: i64, out: &mut Vec<Effect>) {
        self.take_waiting(s);
        let q = self.c(s).queue;
        let rec = self.record(s, outcome, None, now);
        if !self.queues[q].rules.builtin {
            let window = self.config.service_level_window;
            let queue = &mut self.queues[q];
            queue
                .est
                .note_wait_end(rec.wait_ms, outcome == Outcome::Abandoned);
            if outcome == Outcome::Abandoned && rec.wait_ms > queue.rules.sl_ms {
                queue.note_outcome(false, window);
            }
        }
        out.push(Effect::Event(AcdEvent::CallLeft {
            call: rec.call,
            queue: rec.queue.clone(),
            outcome,
            at_ms: now,
        }));
        out.push(Effect::Event(AcdEvent::Record(rec)));
    }

    fn start_callback(&mut self, s: CallSlot, now: i64, out: &mut Vec<Effect>) {
        let id = self.c(s).id;
        if self.c(s).key.is_none() {
            // Came from elsewhere (max wait -> callback): keep its arrival order.
            let seq = self.c(s).seq;
            let q = self.c(s).queue;
            self.enter_queue_quiet(s, q, seq, now);
        }
        {
            let c = self.cm(s);
            c.callback = true;
            c.callback_attempts = 0;
            c.phase = Phase::Waiting;
        }
        let position = self.position(s);
        out.push(Effect::ToCall(id, AcdToCall::CallbackAccepted { position }));
        let q = self.c(s).queue;
        self.dispatch_queue(q, now, out);
    }

    fn enter_queue_quiet(&mut self, s: CallSlot, q: QueueIx, seq: u64, now: i64) {
        {
            let c = self.cm(s);
            c.queue = q;
            c.phase = Phase::Waiting;
            c.seq = seq;
        }
        let prio = self.priority(s, now, None);
        self.insert_waiting(s, prio);
    }

    fn caller_key(&mut self, call: CallId, key: char, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).callback || self.c(s).kind != Kind::Queue {
            return;
        }
        let q = self.c(s).queue;
        let Some(dest) = self.queues[q]
            .rules
            .keys
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, d)| d.clone())
        else {
            return;
        };
        match self.c(s).phase.clone() {
            Phase::Waiting => {}
            Phase::Offering(list) => {
                // Ringing an agent: withdraw the offer first.
                for a in list {
                    out.push(Effect::ToCall(
                        call,
                        AcdToCall::CancelOffer {
                            agent: self.agents[a].id.clone(),
                        },
                    ));
                    self.agents[a].call = None;
                    self.set_status(a, AgentStatus::Ready, "", None, now, out);
                }
                let prio = self.c(s).prio;
                self.cm(s).phase = Phase::Waiting;
                self.insert_waiting(s, prio);
            }
            _ => return,
        }
        match dest {
            DestIr::Callback => self.start_callback(s, now, out),
            dest => self.leave_for(s, dest, MoveReason::CancelKey, Outcome::Cancelled, now, out),
        }
        self.dispatch_all_free(now, out);
    }

    fn dispatch_all_free(&mut self, now: i64, out: &mut Vec<Effect>) {
        // After agents were released out of band (cancelled offers).
        for a in self.agents.keys() {
            if self.agents[a].available(now) && !self.agents[a].queues.is_empty() {
                self.dispatch_agent(a, now, out);
            }
        }
    }

    fn caller_gone(&mut self, call: CallId, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).callback {
            // Expected: the caller hangs up after choosing a callback.
            return;
        }
        match self.c(s).phase.clone() {
            Phase::Waiting => {
                self.finish_waiting(s, Outcome::Abandoned, now, out);
                self.release(s);
            }
            Phase::Offering(list) => {
                for a in &list {
                    self.agents[*a].call = None;
                    if !self.apply_pending(*a, now, out) {
                        self.set_status(*a, AgentStatus::Ready, "caller left", None, now, out);
                    }
                }
                if self.c(s).kind == Kind::Queue {
                    self.finish_waiting(s, Outcome::Abandoned, now, out);
                }
                self.release(s);
                for a in list {
                    self.dispatch_agent(a, now, out);
                }
            }
            Phase::Connected => self.call_ended(call, None, now, out),
            Phase::Dialing(_) => self.dial_failed(call, "gone", now, out),
        }
    }

    fn call_ended(&mut self, call: CallId, talk_ms: Option<i64>, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).phase != Phase::Connected {
            self.caller_gone(call, now, out);
            return;
        }
        if self.c(s).hold_since.is_some() {
            self.set_hold(s, false, now, out);
        }
        let extra: Vec<AgentIx> = {
            let c = self.c(s);
            let mut v = c.conference.clone();
            if let Some((b, _)) = c.consult {
                v.push(b);
            }
            v
        };
        for b in extra {
            self.agents[b].call = None;
            self.after_call(b, now, out);
        }
        if let Some(a) = self.c(s).agent {
            self.finish_agent(s, a, talk_ms, now, out);
        }
        self.release(s);
    }

    /// The primary agent's part of the call is over: record it and start wrap-up.
    fn finish_agent(
        &mut self,
        s: CallSlot,
        a: AgentIx,
        talk_ms: Option<i64>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let outcome = {
            let c = self.c(s);
            match c.kind {
                Kind::Outbound => Outcome::Outbound,
                Kind::Direct if !c.transferred => Outcome::Direct,
                _ if c.transferred => Outcome::Transferred,
                _ if c.called_back => Outcome::CallbackAnswered,
                _ => Outcome::Answered,
            }
        };
        let mut rec = self.record(s, outcome, Some(a), now);
        if let Some(t) = talk_ms {
            rec.talk_ms = t.max(0);
        }
        let q = self.c(s).queue;
        let wrap = if self.c(s).kind == Kind::Outbound {
            self.config.outbound_wrap_ms
        } else {
            self.queues[q].rules.wrap_up_ms
        };
        {
            let ag = &mut self.agents[a];
            ag.talk_ms += rec.talk_ms;
            ag.call = None;
            ag.wrap_record = Some(rec);
            ag.wrap_queue = Some(q);
        }
        self.cm(s).agent = None;
        let id = self.c(s).id;
        if wrap > 0 {
            self.set_status(a, AgentStatus::WrapUp, "", Some(id), now, out);
            let stamp = self.agents[a].stamp;
            self.at(now + wrap, Timer::WrapEnd { agent: a, stamp });
        } else {
            self.end_wrap(a, now, out);
        }
    }

    fn end_wrap(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        let wrap_ms = if self.agents[a].status == AgentStatus::WrapUp {
            now - self.agents[a].since_ms
        } else {
            0
        };
        let q = self.agents[a].wrap_queue.take();
        if let Some(mut rec) = self.agents[a].wrap_record.take() {
            rec.wrap_ms = wrap_ms.max(0);
            if let Some(q) = q
                && !self.queues[q].rules.builtin
                && matches!(
                    rec.outcome,
                    Outcome::Answered | Outcome::CallbackAnswered | Outcome::Transferred
                )
            {
                self.queues[q].est.note_handled(rec.talk_ms + rec.wrap_ms);
            }
            out.push(Effect::Event(AcdEvent::Record(rec)));
        }
        self.after_call(a, now, out);
    }

    /// What an agent does when a call (and its wrap-up) is over.
    fn after_call(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        if !self.apply_pending(a, now, out) {
            self.agents[a].idle_since = now;
            self.set_status(a, AgentStatus::Ready, "", None, now, out);
            self.dispatch_agent(a, now, out);
        }
    }

    fn apply_pending(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> bool {
        let removed = self.agents[a].removed;
        match self.agents[a].pending.take() {
            Some(Pending::NotReady(r)) if !removed => {
                self.set_status(a, AgentStatus::NotReady, &r, None, now, out);
                true
            }
            Some(Pending::SignOut) | Some(Pending::NotReady(_)) => {
                self.set_status(a, AgentStatus::SignedOut, "", None, now, out);
                true
            }
            None if removed => {
                self.set_status(a, AgentStatus::SignedOut, "removed", None, now, out);
                true
            }
            None => false,
        }
    }

    fn set_status(
        &mut self,
        a: AgentIx,
        status: AgentStatus,
        reason: &str,
        call: Option<CallId>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let ag = &mut self.agents[a];
        if ag.status == status && ag.reason == reason {
            return;
        }
        ag.status = status;
        ag.since_ms = now;
        ag.reason = reason.to_string();
        ag.stamp = ag.stamp.wrapping_add(1);
        out.push(Effect::Event(AcdEvent::AgentState(AgentStateChange {
            agent: ag.id.to_string(),
            at_ms: now,
            state: status,
            reason: reason.to_string(),
            call,
        })));
    }

    fn set_hold(&mut self, s: CallSlot, on: bool, now: i64, out: &mut Vec<Effect>) {
        let id = self.c(s).id;
        {
            let c = self.cm(s);
            match (on, c.hold_since) {
                (true, None) => c.hold_since = Some(now),
                (false, Some(t)) => {
                    c.hold_ms += now - t;
                    c.hold_since = None;
                }
                _ => {}
            }
        }
        if let Some(a) = self.c(s).agent
            && self.c(s).consult.is_none()
        {
            let st = if on {
                AgentStatus::Held
            } else {
                AgentStatus::Talking
            };
            self.set_status(a, st, "", Some(id), now, out);
        }
    }

    fn agent_left(&mut self, call: CallId, agent: &str, now: i64, out: &mut Vec<Effect>) {
        let (Some(s), Some(a)) = (
            self.call_ix.get(&call).copied(),
            self.agent_ix.get(agent).copied(),
        ) else {
            return;
        };
        if let Some((b, _)) = self.c(s).consult
            && b == a
        {
            self.cm(s).consult = None;
            self.agents[a].call = None;
            self.set_hold(s, false, now, out);
            self.after_call(a, now, out);
            return;
        }
        if self.c(s).conference.contains(&a) {
            self.cm(s).conference.retain(|x| *x != a);
            self.agents[a].call = None;
            self.after_call(a, now, out);
            return;
        }
        if self.c(s).agent == Some(a) {
            let next = self.c(s).conference.first().copied();
            match next {
                Some(b) => {
                    self.finish_agent(s, a, None, now, out);
                    let c = self.cm(s);
                    c.conference.retain(|x| *x != b);
                    c.agent = Some(b);
                    c.transferred = true;
                    c.answered_ms = now;
                }
                None => self.call_ended(call, None, now, out),
            }
        }
    }

    fn consult_failed(
        &mut self,
        s: CallSlot,
        b: AgentIx,
        why: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let id = self.c(s).id;
        self.cm(s).consult = None;
        self.agents[b].call = None;
        out.push(Effect::ToCall(
            id,
            AcdToCall::ConsultEnd {
                agent: self.agents[b].id.clone(),
            },
        ));
        self.set_hold(s, false, now, out);
        if !self.apply_pending(b, now, out) {
            self.set_status(b, AgentStatus::Ready, why, None, now, out);
            self.dispatch_agent(b, now, out);
        }
        if let Some(a) = self.c(s).agent {
            out.push(Effect::Event(AcdEvent::Notice {
                agent: self.agents[a].id.to_string(),
                message: format!("consultation with {} failed: {why}", self.agents[b].id),
            }));
        }
    }

    // ----- direct offers and placed calls ----------------------------------------

    fn direct(&mut self, qc: QueuedCall, agent: &str, now: i64, out: &mut Vec<Effect>) {
        let id = qc.call_id;
        if let Some(old) = self.call_ix.get(&id).copied() {
            self.release(old);
        }
        let a = match self.agent_ix.get(agent).copied() {
            Some(a) if self.agents[a].available(now) => a,
            Some(_) => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Unavailable {
                        reason: "not available".into(),
                    },
                ));
                return;
            }
            None => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Unavailable {
                        reason: "unknown agent".into(),
                    },
                ));
                return;
            }
        };
        let mut call = self.new_call(qc, self.direct_q, Kind::Direct, now);
        call.via = "direct".into();
        let s = self.alloc(call);
        self.offer(s, vec![a], now, out);
    }

    fn dial_answered(&mut self, call: CallId, now: i64, out: &mut Vec<Effect>) {
        // An answer the ACD no longer waits for (it gave up a moment before): the
        // call task must hang up rather than wait for a bridge that never comes.
        let gave_up = AcdToCall::Unavailable {
            reason: "the ACD gave up on this placed call".into(),
        };
        let Some(s) = self.call_ix.get(&call).copied() else {
            out.push(Effect::ToCall(call, gave_up));
            return;
        };
        let Phase::Dialing(a) = self.c(s).phase else {
            out.push(Effect::ToCall(call, gave_up));
            return;
        };
        if self.c(s).kind == Kind::Outbound {
            {
                let c = self.cm(s);
                c.phase = Phase::Connected;
                c.agent = Some(a);
                c.answered_ms = now;
            }
            self.agents[a].before_dial = None;
            self.set_status(a, AgentStatus::Talking, "outbound", Some(call), now, out);
            out.push(Effect::ToCall(
                call,
                AcdToCall::Bridge {
                    agent: self.agents[a].id.clone(),
                },
            ));
            return;
        }
        // A callback reached the customer: now offer it to the reserved agent.
        {
            let c = self.cm(s);
            c.callback = false;
            c.called_back = true;
            c.via = "callback".into();
        }
        self.offer(s, vec![a], now, out);
    }

    fn dial_failed(&mut self, call: CallId, reason: &str, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        let Phase::Dialing(a) = self.c(s).phase else {
            return;
        };
        // Whoever decided it (the call task, the dial timeout, the call being
        // dropped), the placed call's task stops dialling.
        out.push(Effect::DialGivenUp(call));
        self.agents[a].call = None;
        if self.c(s).kind == Kind::Outbound {
            let back = self.agents[a].before_dial.take();
            match back {
                Some((AgentStatus::Ready, _)) | None => {
                    if !self.apply_pending(a, now, out) {
                        self.set_status(a, AgentStatus::Ready, "", None, now, out);
                        self.dispatch_agent(a, now, out);
                    }
                }
                Some((st, r)) => self.set_status(a, st, &r, None, now, out),
            }
            out.push(Effect::Event(AcdEvent::Notice {
                agent: self.agents[a].id.to_string(),
                message: format!("outbound call failed: {reason}"),
            }));
            self.release(s);
            return;
        }
        // A callback that did not reach the customer.
        if !self.apply_pending(a, now, out) {
            self.set_status(a, AgentStatus::Ready, "", None, now, out);
        }
        let attempts = {
            let c = self.cm(s);
            c.callback_attempts += 1;
            c.callback_attempts
        };
        if attempts < self.config.callback_attempts.max(1) {
            let prio = self.c(s).prio;
            let retry = now + self.config.callback_retry_ms;
            {
                let c = self.cm(s);
                c.phase = Phase::Waiting;
                c.not_before = retry;
            }
            self.insert_waiting(s, prio);
            self.at(retry, Timer::Retry { call });
        } else {
            self.finish_waiting(s, Outcome::CallbackFailed, now, out);
            self.release(s);
        }
        self.dispatch_agent(a, now, out);
    }

    // ----- periodic rules ------------------------------------------------------------

    fn ensure_reevaluate(&mut self, now: i64) {
        if self.reeval_at.is_some() {
            return;
        }
        let needed = self
            .queues
            .iter()
            .any(|q| q.rules.dynamic && !q.waiting.is_empty());
        if needed {
            let t = now + self.config.reevaluate_ms.max(1);
            self.reeval_at = Some(t);
            self.at(t, Timer::Reevaluate);
        }
    }

    fn reevaluate(&mut self, now: i64, out: &mut Vec<Effect>) {
        for q in self.queues.keys() {
            if !self.queues[q].rules.dynamic || self.queues[q].waiting.is_empty() {
                continue;
            }
            if self.queues[q]
                .rules
                .priority
                .as_ref()
                .is_some_and(|p| p.dynamic)
            {
                let slots: Vec<CallSlot> = self.queues[q].waiting.iter().map(|k| k.slot).collect();
                for s in slots {
                    self.reprioritize(s, now);
                }
            }
            if !self.queues[q].rules.overflows.is_empty() {
                // From the back: the last callers overflow first.
                let slots: Vec<(CallSlot, CallId)> = self.queues[q]
                    .waiting
                    .iter()
                    .rev()
                    .map(|k| (k.slot, self.c(k.slot).id))
                    .collect();
                for (s, id) in slots {
                    if self.calls[s]
                        .as_ref()
                        .is_some_and(|c| c.id == id && c.queue == q && c.key.is_some())
                    {
                        self.check_overflow(s, now, out);
                    }
                }
            }
            self.dispatch_queue(q, now, out);
        }
    }

    /// Moves a waiting call by the first overflow rule that holds; true if moved.
    fn check_overflow(&mut self, s: CallSlot, now: i64, out: &mut Vec<Effect>) -> bool {
        if self.c(s).callback || self.c(s).phase != Phase::Waiting {
            return false;
        }
        let q = self.c(s).queue;
        let rules = self.queues[q].rules.overflows.clone();
        for rule in rules.iter() {
            let Some(t) = self.queue_ix.get(&rule.target).copied() else {
                continue;
            };
            if !self.queues[t].active || t == q {
                continue;
            }
            if rule.direction == OverflowDirection::Up && !self.any_available(t, now) {
                // A senior queue takes calls only while it has a free agent.
                continue;
            }
            if self.eval_bool(&rule.when, s, now) {
                self.leave_for(
                    s,
                    DestIr::Queue(rule.target.to_string()),
                    MoveReason::Overflow,
                    Outcome::Overflow,
                    now,
                    out,
                );
                return true;
            }
        }
        false
    }

    // ----- agent commands --------------------------------------------------------------

    /// Carries out an agent's (or a supervisor's, `by`) command.
    pub fn command(
        &mut self,
        now: i64,
        agent: &str,
        cmd: AgentCommand,
        by: &str,
        out: &mut Vec<Effect>,
    ) -> Result<CtiReply, CtiError> {
        self.eval.set_now(now);
        let a = self
            .agent_ix
            .get(agent)
            .copied()
            .ok_or_else(|| CtiError::UnknownAgent(agent.to_string()))?;
        let r = self.command_inner(now, a, cmd, by, out);
        self.tell_wake(now, out);
        let ag = &self.agents[a];
        r.map(|(call, data)| CtiReply {
            state: ag.status,
            call: call.or(ag.call.and_then(|s| self.calls[s].as_ref().map(|c| c.id))),
            data,
        })
    }

    fn agent_call(&self, a: AgentIx) -> Result<CallSlot, CtiError> {
        self.agents[a]
            .call
            .filter(|s| self.calls[*s].is_some())
            .ok_or_else(|| CtiError::NoCall(self.agents[a].id.to_string()))
    }

    fn connected_primary(&self, a: AgentIx) -> Result<CallSlot, CtiError> {
        let s = self.agent_call(a)?;
        let c = self.c(s);
        if c.phase == Phase::Connected && c.agent == Some(a) {
            Ok(s)
        } else {
            Err(CtiError::NoCall(self.agents[a].id.to_string()))
        }
    }

    #[allow(clippy::type_complexity)]
    fn command_inner(
        &mut self,
        now: i64,
        a: AgentIx,
        cmd: AgentCommand,
        by: &str,
        out: &mut Vec<Effect>,
    ) -> Result<(Option<CallId>, Option<Vec<(String, Value)>>), CtiError> {
        let id = self.agents[a].id.to_string();
        let status = self.agents[a].status;
        let forced = |r: &str| {
            if r.is_empty() {
                format!("forced by {by}")
            } else {
                format!("{r} (forced by {by})")
            }
        };
        let none = Ok((None, None));
        match cmd {
            AgentCommand::SignIn => {
                if status == AgentStatus::SignedOut {
                    let ag = &mut self.agents[a];
                    ag.answered = 0;
                    ag.talk_ms = 0;
                    ag.missed = 0;
                    ag.pending = None;
                    ag.idle_since = now;
                    self.set_status(a, AgentStatus::NotReady, "signed in", None, now, out);
                }
                none
            }
            AgentCommand::SignOut | AgentCommand::ForceSignOut => {
                let reason = if matches!(cmd, AgentCommand::ForceSignOut) {
                    forced("")
                } else {
                    String::new()
                };
                match status {
                    AgentStatus::SignedOut => {}
                    AgentStatus::Ready | AgentStatus::NotReady => {
                        self.agents[a].pending = None;
                        self.set_status(a, AgentStatus::SignedOut, &reason, None, now, out);
                    }
                    AgentStatus::WrapUp => {
                        self.agents[a].pending = Some(Pending::SignOut);
                        self.end_wrap(a, now, out);
                    }
                    _ => self.agents[a].pending = Some(Pending::SignOut),
                }
                none
            }
            AgentCommand::Ready | AgentCommand::ForceReady => {
                let reason = if matches!(cmd, AgentCommand::ForceReady) {
                    forced("")
                } else {
                    String::new()
                };
                match status {
                    AgentStatus::SignedOut if !matches!(cmd, AgentCommand::ForceReady) => {
                        return Err(CtiError::SignedOut(id));
                    }
                    AgentStatus::SignedOut | AgentStatus::NotReady => {
                        let ag = &mut self.agents[a];
                        ag.pending = None;
                        ag.missed = 0;
                        ag.idle_since = now;
                        self.set_status(a, AgentStatus::Ready, &reason, None, now, out);
                        self.dispatch_agent(a, now, out);
                    }
                    AgentStatus::WrapUp => {
                        self.agents[a].pending = None;
                        self.end_wrap(a, now, out);
                    }
                    _ => self.agents[a].pending = None,
                }
                none
            }
            AgentCommand::NotReady { reason } | AgentCommand::ForceNotReady { reason } => {
                let reason = if by != id && !by.is_empty() {
                    forced(&reason)
                } else {
                    reason
                };
                match status {
                    AgentStatus::SignedOut => return Err(CtiError::SignedOut(id)),
                    AgentStatus::Ready | AgentStatus::NotReady => {
                        self.set_status(a, AgentStatus::NotReady, &reason, None, now, out)
                    }
                    AgentStatus::WrapUp => {
                        self.agents[a].pending = Some(Pending::NotReady(reason));
                        self.end_wrap(a, now, out);
                    }
                    _ => self.agents[a].pending = Some(Pending::NotReady(reason)),
                }
                none
            }
            AgentCommand::Answer => {
                let s = self.agent_call(a)?;
                let c = self.c(s);
                let offered = matches!(&c.phase, Phase::Offering(l) if l.contains(&a))
                    || c.consult == Some((a, false));
                if !offered {
                    return Err(CtiError::NotOffered(id));
                }
                out.push(Effect::ToCall(
                    c.id,
                    AcdToCall::Answer {
                        agent: self.agents[a].id.clone(),
                    },
                ));
                none
            }
            AgentCommand::Reject => {
                let s = self.agent_call(a)?;
                let call = self.c(s).id;
                if self.c(s).consult == Some((a, false)) {
                    self.consult_failed(s, a, "rejected", now, out);
                    return none;
                }
                if !matches!(&self.c(s).phase, Phase::Offering(l) if l.contains(&a)) {
                    return Err(CtiError::NotOffered(id));
                }
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::CancelOffer {
                        agent: self.agents[a].id.clone(),
                    },
                ));
                self.offer_failed(s, a, OfferResult::Rejected, now, out);
                Ok((Some(call), None))
            }
            AgentCommand::HangUp => {
                let s = self.agent_call(a)?;
                let call = self.c(s).id;
                let agent_id = self.agents[a].id.clone();
                if self.c(s).consult.is_some_and(|(b, _)| b == a) {
                    out.push(Effect::ToCall(
                        call,
                        AcdToCall::ConsultEnd { agent: agent_id },
                    ));
                    self.agent_left(call, &id, now, out);
                } else if self.c(s).conference.contains(&a)
                    || (self.c(s).agent == Some(a) && !self.c(s).conference.is_empty())
                {
                    out.push(Effect::ToCall(
                        call,
                        AcdToCall::ReleaseAgent { agent: agent_id },
                    ));
                    self.agent_left(call, &id, now, out);
                } else if self.c(s).agent == Some(a) && self.c(s).phase == Phase::Connected {
                    out.push(Effect::ToCall(call, AcdToCall::HangUp));
                } else {
                    return Err(CtiError::NoCall(id));
                }
                Ok((Some(call), None))
            }
            AgentCommand::Hold | AgentCommand::Resume => {
                let s = self.connected_primary(a)?;
                let on = matches!(cmd, AgentCommand::Hold);
                let call = self.c(s).id;
                out.push(Effect::ToCall(
                    call,
                    if on {
                        AcdToCall::Hold
                    } else {
                        AcdToCall::Resume
                    },
                ));
                self.set_hold(s, on, now, out);
                Ok((Some(call), None))
            }
            AgentCommand::Consult { target } => {
                let s = self.connected_primary(a)?;
                if self.c(s).consult.is_some() {
                    return Err(CtiError::Invalid(
                        "a consultation is already going on".into(),
                    ));
                }
                let b = self.target_agent(&target, a, now)?;
                let call = self.c(s).id;
                let stamp = {
                    let c = self.cm(s);
                    c.consult = Some((b, false));
                    c.offer_stamp += 1;
                    c.offer_stamp
                };
                self.agents[b].call = Some(s);
                self.set_status(b, AgentStatus::Ringing, "consult", Some(call), now, out);
                self.set_hold(s, true, now, out);
                // The consulting agent stays "talking" (with the consulted agent).
                self.set_status(a, AgentStatus::Talking, "consulting", Some(call), now, out);
                let ring_ms = self.queues[self.c(s).queue].rules.ring_ms;
                self.at(
                    now + ring_ms,
                    Timer::Ring {
                        call,
                        agent: b,
                        stamp,
                    },
                );
                let mut pop = self.screen_pop(s, now);
                pop.via = format!("consult from {id}");
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::Consult {
                        agent: self.agents[b].id.clone(),
                        contact: None,
                        auto_answer: self.agents[b].def.auto_answer,
                    },
                ));
                out.push(Effect::Event(AcdEvent::CallOffered {
                    agent: self.agents[b].id.to_string(),
                    pop: Box::new(pop),
                    at_ms: now,
                }));
                Ok((Some(call), None))
            }
            AgentCommand::ConsultCancel => {
                let s = self.connected_primary(a)?;
                let Some((b, _)) = self.c(s).consult else {
                    return Err(CtiError::Invalid("there is no consultation".into()));
                };
                let call = self.c(s).id;
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::ConsultEnd {
                        agent: self.agents[b].id.clone(),
                    },
                ));
                self.cm(s).consult = None;
                self.agents[b].call = None;
                self.set_hold(s, false, now, out);
                self.after_call(b, now, out);
                Ok((Some(call), None))
            }
            AgentCommand::Transfer { target: None } => {
                let s = self.connected_primary(a)?;
                let Some((b, true)) = self.c(s).consult else {
                    return Err(CtiError::Invalid(
                        "complete a transfer after the consulted agent answered".into(),
                    ));
                };
                let call = self.c(s).id;
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::CompleteTransfer {
                        from: self.agents[a].id.clone(),
                        to: self.agents[b].id.clone(),
                    },
                ));
                self.set_hold(s, false, now, out);
                self.finish_agent(s, a, None, now, out);
                {
                    let c = self.cm(s);
                    c.consult = None;
                    c.agent = Some(b);
                    c.transferred = true;
                    c.answered_ms = now;
                }
                self.agents[b].answered += 1;
                self.set_status(b, AgentStatus::Talking, "", Some(call), now, out);
                Ok((Some(call), None))
            }
            AgentCommand::Transfer {
                target: Some(target),
            } => {
                let s = self.connected_primary(a)?;
                if self.c(s).consult.is_some() {
                    return Err(CtiError::Invalid(
                        "end the consultation before a blind transfer".into(),
                    ));
                }
                let call = self.c(s).id;
                match target {
                    TransferTarget::Number(number) => {
                        out.push(Effect::ToCall(call, AcdToCall::TransferNumber { number }));
                        self.finish_agent(s, a, None, now, out);
                        self.release(s);
                    }
                    TransferTarget::Queue(name) => {
                        let t = self
                            .queue_ix
                            .get(name.as_str())
                            .copied()
                            .filter(|t| self.queues[*t].active && !self.queues[*t].rules.builtin)
                            .ok_or(CtiError::UnknownQueue(name))?;
                        out.push(Effect::ToCall(
                            call,
                            AcdToCall::ReleaseAgent {
                                agent: self.agents[a].id.clone(),
                            },
                        ));
                        self.set_hold(s, false, now, out);
                        self.finish_agent(s, a, None, now, out);
                        {
                            let c = self.cm(s);
                            c.transferred = false;
                            c.via = format!("transfer from {id}");
                        }
                        self.enter_queue(s, t, 0, None, now, out);
                    }
                    TransferTarget::Agent(_) => {
                        let b = self.target_agent(&target, a, now)?;
                        out.push(Effect::ToCall(
                            call,
                            AcdToCall::ReleaseAgent {
                                agent: self.agents[a].id.clone(),
                            },
                        ));
                        self.set_hold(s, false, now, out);
                        self.finish_agent(s, a, None, now, out);
                        let back = self.c(s).queue;
                        {
                            let c = self.cm(s);
                            c.kind = Kind::Direct;
                            c.transferred = true;
                            c.direct_return = Some(back);
                            c.via = format!("transfer from {id}");
                            c.entered_ms = now;
                        }
                        self.offer(s, vec![b], now, out);
                    }
                }
                Ok((Some(call), None))
            }
            AgentCommand::Conference => {
                let s = self.connected_primary(a)?;
                let Some((b, true)) = self.c(s).consult else {
                    return Err(CtiError::Invalid(
                        "a conference needs a consulted agent who answered".into(),
                    ));
                };
                let call = self.c(s).id;
                {
                    let c = self.cm(s);
                    c.consult = None;
                    c.conference.push(b);
                }
                self.set_hold(s, false, now, out);
                let mut agents = vec![self.agents[a].id.clone()];
                agents.extend(
                    self.c(s)
                        .conference
                        .iter()
                        .map(|x| self.agents[*x].id.clone()),
                );
                out.push(Effect::ToCall(call, AcdToCall::Conference { agents }));
                self.set_status(b, AgentStatus::Talking, "conference", Some(call), now, out);
                Ok((Some(call), None))
            }
            AgentCommand::Dial { number, trunk } => {
                if !matches!(status, AgentStatus::Ready | AgentStatus::NotReady) {
                    return Err(CtiError::Invalid(format!(
                        "agent {id} is {} and cannot dial",
                        status.name()
                    )));
                }
                if number.trim().is_empty() {
                    return Err(CtiError::Invalid("no number to dial".into()));
                }
                let call = (1u64 << 63) | self.next_outbound;
                self.next_outbound += 1;
                let mut qc = QueuedCall::new(call, OUTBOUND_QUEUE, &id, now);
                qc.called = number.clone();
                qc.trunk = trunk.clone();
                let mut c = self.new_call(qc, self.outbound_q, Kind::Outbound, now);
                c.phase = Phase::Dialing(a);
                c.offer_stamp = 1;
                c.via = "outbound".into();
                let s = self.alloc(c);
                let reason = self.agents[a].reason.clone();
                self.agents[a].before_dial = Some((status, reason));
                self.agents[a].call = Some(s);
                self.set_status(a, AgentStatus::Ringing, "outbound", Some(call), now, out);
                out.push(Effect::Dial(DialOrder {
                    call,
                    kind: DialKind::Outbound,
                    number,
                    trunk,
                    agent: self.agents[a].id.clone(),
                    caller_id: String::new(),
                    ring_ms: self.config.callback_ring_ms,
                    data: Vec::new(),
                }));
                self.at(
                    now + self.config.dial_timeout_ms,
                    Timer::DialTimeout { call, stamp: 1 },
                );
                Ok((Some(call), None))
            }
            AgentCommand::SetData { data } => {
                let s = self.agent_call(a)?;
                let call = self.c(s).id;
                {
                    let c = self.cm(s);
                    for (k, v) in data {
                        match c.info.data.iter_mut().find(|(n, _)| *n == k) {
                            Some(e) => e.1 = v,
                            None => c.info.data.push((k, v)),
                        }
                    }
                    c.raw_gen = 0;
                }
                let data = self.c(s).info.data.clone();
                self.data_changed(s, a, now, out);
                Ok((Some(call), Some(data)))
            }
            AgentCommand::ClearData => {
                let s = self.agent_call(a)?;
                let call = self.c(s).id;
                {
                    let c = self.cm(s);
                    c.info.data.clear();
                    c.raw_gen = 0;
                }
                self.data_changed(s, a, now, out);
                Ok((Some(call), Some(Vec::new())))
            }
            AgentCommand::GetData => {
                let s = self.agent_call(a)?;
                Ok((Some(self.c(s).id), Some(self.c(s).info.data.clone())))
            }
            AgentCommand::Listen { ref phone }
            | AgentCommand::Whisper { ref phone }
            | AgentCommand::Barge { ref phone } => {
                let phone = phone.clone();
                let mode = match cmd {
                    AgentCommand::Listen { .. } => MonitorMode::Listen,
                    AgentCommand::Whisper { .. } => MonitorMode::Whisper,
                    _ => MonitorMode::Barge,
                };
                let s = self.connected_primary(a)?;
                let call = self.c(s).id;
                {
                    let c = self.cm(s);
                    c.monitors.retain(|(p, _)| *p != phone);
                    c.monitors.push((phone.clone(), mode));
                }
                out.push(Effect::ToCall(call, AcdToCall::Monitor { phone, mode }));
                Ok((Some(call), None))
            }
            AgentCommand::StopMonitor { phone } => {
                let s = self.agent_call(a)?;
                let call = self.c(s).id;
                self.cm(s).monitors.retain(|(p, _)| *p != phone);
                out.push(Effect::ToCall(call, AcdToCall::MonitorEnd { phone }));
                Ok((Some(call), None))
            }
            AgentCommand::TakeOver { phone } => {
                let s = self.connected_primary(a)?;
                let call = self.c(s).id;
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::TakeOver {
                        phone: phone.clone(),
                        agent: self.agents[a].id.clone(),
                    },
                ));
                self.set_hold(s, false, now, out);
                self.finish_agent(s, a, None, now, out);
                self.cm(s).monitors.retain(|(p, _)| *p != phone);
                let sup = self.agent_ix.get(phone.as_str()).copied();
                {
                    let c = self.cm(s);
                    c.transferred = true;
                    c.answered_ms = now;
                    c.agent = sup;
                }
                if let Some(b) = sup {
                    self.agents[b].call = Some(s);
                    self.set_status(b, AgentStatus::Talking, "take over", Some(call), now, out);
                }
                Ok((Some(call), None))
            }
        }
    }

    fn data_changed(&mut self, s: CallSlot, a: AgentIx, _now: i64, out: &mut Vec<Effect>) {
        let c = self.c(s);
        out.push(Effect::ToCall(
            c.id,
            AcdToCall::Data {
                data: c.info.data.clone(),
            },
        ));
        out.push(Effect::Event(AcdEvent::CallData {
            call: c.id,
            agent: self.agents[a].id.to_string(),
            data: c.info.data.clone(),
        }));
    }

    /// The free agent a consultation or transfer goes to.
    fn target_agent(
        &self,
        target: &TransferTarget,
        from: AgentIx,
        now: i64,
    ) -> Result<AgentIx, CtiError> {
        match target {
            TransferTarget::Agent(b) => {
                let b = self
                    .agent_ix
                    .get(b.as_str())
                    .copied()
                    .ok_or_else(|| CtiError::UnknownAgent(b.clone()))?;
                if b == from || !self.agents[b].available(now) {
                    return Err(CtiError::Unavailable(self.agents[b].id.to_string()));
                }
                Ok(b)
            }
            TransferTarget::Queue(name) => {
                let q = self
                    .queue_ix
                    .get(name.as_str())
                    .copied()
                    .filter(|q| !self.queues[*q].rules.builtin)
                    .ok_or_else(|| CtiError::UnknownQueue(name.clone()))?;
                let queue = &self.queues[q];
                queue
                    .eligible
                    .iter()
                    .copied()
                    .filter(|b| *b != from && self.agents[*b].available(now))
                    .min_by_key(|b| (self.agents[*b].idle_since, *b))
                    .ok_or_else(|| CtiError::NoAgentFree(name.clone()))
            }
            TransferTarget::Number(_) => Err(CtiError::Invalid(
                "consult an agent or a queue; transfer to numbers directly".into(),
            )),
        }
    }

    // ----- views ----------------------------------------------------------------------

    /// Every queue of the program (and the built-in ones), for the real-time view.
    pub fn queue_views(&self, now: i64, with_calls: bool) -> Vec<QueueView> {
        self.queues
            .keys()
            .filter(|q| !self.queues[*q].rules.builtin)
            .map(|q| self.queue_view(q, now, with_calls))
            .collect()
    }

    /// One queue by name.
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
            let (r, th) = self.rates(q);
            queue_length_estimate(next, r, th).map(|m| m.round() as i64)
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

    /// One agent.
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

    /// Sets data on a call directly (supervisors; the call task).
    pub fn set_call_data(
        &mut self,
        call: CallId,
        data: Vec<(String, Value)>,
        replace: bool,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return false;
        };
        let c = self.cm(s);
        if replace {
            c.info.data.clear();
        }
        for (k, v) in data {
            match c.info.data.iter_mut().find(|(n, _)| *n == k) {
                Some(e) => e.1 = v,
                None => c.info.data.push((k, v)),
            }
        }
        c.raw_gen = 0;
        out.push(Effect::ToCall(
            call,
            AcdToCall::Data {
                data: c.info.data.clone(),
            },
        ));
        true
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

fn result_name(r: OfferResult) -> &'static str {
    match r {
        OfferResult::Answered => "answered",
        OfferResult::Rejected => "rejected",
        OfferResult::NoAnswer => "no answer",
        OfferResult::Busy => "busy",
        OfferResult::Unregistered => "unregistered",
        OfferResult::Failed => "failed",
    }
}

#[cfg(test)]
mod tests;
