//! The vocabulary of the ACD: what a call task sends in, what the ACD asks of call
//! tasks, the events it publishes, and the effects its core produces.

use std::sync::Arc;

use dialect_compiler::ir::DestIr;
use dialect_compiler::value::Value;
use serde::{Deserialize, Serialize};

/// A call as the ACD knows it: the contact id the call task gave it (unique in the
/// runtime). Calls the ACD places itself (callbacks, agent outbound calls) reuse
/// the waiting call's id or get ids with the top bit set.
pub type CallId = u64;

/// An agent id (the phone's SIP user name), cheap to clone into effects.
pub type AgentId = Arc<str>;

/// A call arriving in a queue, with everything the queue rules can read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedCall {
    /// The call's id (its contact id).
    pub call_id: CallId,
    /// The queue it asks for.
    pub queue: String,
    /// The calling number (what `caller` reads in queue rules).
    pub caller: String,
    /// The dialled number (`called` in queue rules).
    pub called: String,
    /// Trunk group it came in on (`long_distance` ...), for priorities and statistics.
    pub trunk: String,
    /// The trunk it came in on, by name ("" for calls from anywhere): a
    /// callback leaves through it unless `acd.callback_trunk` names another.
    #[serde(default)]
    pub trunk_name: String,
    /// The customer the IVR identified ("" when none), for the screen pop.
    #[serde(default)]
    pub customer_id: String,
    /// Call data by field name: the flow's lookups; travels with the call.
    #[serde(default)]
    pub data: Vec<(String, Value)>,
    /// The IVR trail, for the screen pop.
    #[serde(default)]
    pub trail: Vec<TrailEntry>,
    /// When the call entered the queue (Unix ms, or virtual ms in the simulator).
    pub entered_ms: i64,
    /// Added to the queue's priority for this call: the flow's
    /// `transfer queue vip (priority 10)`.
    #[serde(default)]
    pub priority: f64,
    /// The number a callback may go to: one the network asserted or the caller
    /// entered, never the unverified From of a call ("" when there is none: the
    /// caller is told a callback cannot be offered).
    #[serde(default)]
    pub callback_number: String,
}

impl QueuedCall {
    /// A call with no data, trail or customer.
    pub fn new(call_id: CallId, queue: &str, caller: &str, entered_ms: i64) -> QueuedCall {
        QueuedCall {
            call_id,
            queue: queue.to_string(),
            caller: caller.to_string(),
            called: String::new(),
            trunk: String::new(),
            trunk_name: String::new(),
            customer_id: String::new(),
            data: Vec::new(),
            trail: Vec::new(),
            entered_ms,
            priority: 0.0,
            callback_number: String::new(),
        }
    }
}

/// What a waiting caller is told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Announcement {
    /// "You are number N in the queue."
    Position {
        /// 1 is next.
        position: u32,
    },
    /// "Your estimated wait is ..."
    Wait {
        /// The estimated wait from the queue's estimator, ms; without an estimate
        /// nothing is announced.
        estimated_ms: i64,
    },
    /// A prompt file from the queue's `announce "file.wav"`.
    Prompt {
        /// The file under `prompts/`.
        file: String,
    },
}

/// How an offer to an agent ended, as the call task saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferResult {
    /// The agent's phone answered (200 OK).
    Answered,
    /// The agent declined (603, 486 after ringing with a CTI reject...).
    Rejected,
    /// It rang without answer (the phone's own timeout: 408/480).
    NoAnswer,
    /// The phone was busy (486 before ringing).
    Busy,
    /// The agent has no registered phone.
    Unregistered,
    /// Anything else (network error, 5xx).
    Failed,
}

/// Why a call leaves the queue for a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveReason {
    /// The queue's `max wait`.
    MaxWait,
    /// One of the queue's `overflow` rules matched.
    Overflow,
    /// The caller pressed a cancel key.
    CancelKey,
    /// The queue is closed (`hours`).
    Closed,
    /// No queue of that name in the deployed program.
    UnknownQueue,
    /// An agent or supervisor transferred it.
    Transfer,
}

/// Where an agent transfers or consults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "to", rename_all = "snake_case")]
pub enum TransferTarget {
    /// A queue (its waiting line, or for a consultation one of its free agents).
    Queue(String),
    /// An agent, by id.
    Agent(String),
    /// An outside number (blind transfers only).
    Number(String),
}

/// How a supervisor joins an agent's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorMode {
    /// Hears both sides; nobody hears the supervisor.
    Listen,
    /// Hears both sides; only the agent hears the supervisor (coaching).
    Whisper,
    /// Three-way: everyone hears everyone.
    Barge,
}

/// What the ACD asks a call task to do. The call task owns SIP and media; the
/// ACD owns the decisions. An `agent` is the agent's id, which is also their
/// phone's SIP user name; fields without a comment hold what their name and
/// type say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs, reason = "fields are described on the type")]
pub enum AcdToCall {
    /// The call waits in `queue` (sent on entry, after an overflow or transfer into
    /// another queue, and when it is put back after an offer failed).
    Queued {
        queue: String,
        /// 1 is next.
        position: u32,
        /// The estimate, when the queue has staffed agents.
        estimated_wait_ms: Option<i64>,
    },
    /// Start (with the queue's prompt, or ringback tone when `None`) or stop music on hold.
    Music {
        on: bool,
        /// The queue's `music` file.
        prompt: Option<String>,
    },
    /// Play an announcement over the music.
    Announce(Announcement),
    /// Ring an agent's phone (ring all sends several). Report the outcome with
    /// `offer_result`; do not bridge before `Bridge`.
    Offer {
        agent: AgentId,
        /// The registered contact, when the ACD knows it.
        contact: Option<String>,
        /// Ask the phone to answer by itself.
        auto_answer: bool,
        /// The ACD withdraws the offer after this long.
        ring_ms: i64,
    },
    /// The agent answered from the desktop: make their ringing phone answer (for
    /// example by offering again with auto-answer). Report `Answered` as usual.
    Answer { agent: AgentId },
    /// Stop ringing this agent (no answer, another agent took a ring-all call, the
    /// caller left); hang up the agent leg if it answered late.
    CancelOffer { agent: AgentId },
    /// The answered agent takes the call: stop the music and bridge caller and agent.
    Bridge { agent: AgentId },
    /// Leave the ACD for a destination (flow, number, agent, hangup). Queue
    /// destinations are handled inside the ACD and never sent.
    Move { dest: DestIr, reason: MoveReason },
    /// The caller chose a callback (or a rule sent them to one), but there is no
    /// number to call back that the platform can trust: tell them; they keep
    /// their place in the queue.
    CallbackRefused,
    /// The caller chose a callback: tell them, then hang up. The ACD keeps their
    /// place and places the call back itself (a `DialOrder`).
    CallbackAccepted {
        /// Their place in the queue.
        position: u32,
    },
    /// A direct offer (`transfer agent`) failed: the agent is not available or did
    /// not answer. The flow's `else` runs.
    Unavailable {
        /// Why, for the trail.
        reason: String,
    },
    /// Put the caller on hold (music) and mute the agent leg.
    Hold,
    /// Take the caller off hold.
    Resume,
    /// An agent leaves the call (transfer done, conference left, taken over):
    /// hang up that agent's leg, keep the caller.
    ReleaseAgent { agent: AgentId },
    /// End the whole call (the agent hung up from the desktop).
    HangUp,
    /// Hold the caller and ring another agent for a consultation; report with
    /// `offer_result(call, that agent, ...)`.
    Consult {
        /// The agent to ring for the consultation.
        agent: AgentId,
        /// Registered contact, when known.
        contact: Option<String>,
        /// Ask the phone to answer by itself.
        auto_answer: bool,
    },
    /// End a consultation: hang up the consulted agent, resume caller and agent.
    ConsultEnd {
        /// The consulted agent, whose leg is hung up.
        agent: AgentId,
    },
    /// Complete a consultative transfer: bridge the caller to `to`, release `from`.
    CompleteTransfer {
        /// The transferring agent.
        from: AgentId,
        /// The consulted agent who takes the call.
        to: AgentId,
    },
    /// Join caller, agent and consulted agent in a three-party conference.
    Conference {
        /// Everyone on the call's agent side.
        agents: Vec<AgentId>,
    },
    /// Transfer the caller to an outside number (blind); the call leaves the ACD.
    TransferNumber {
        number: String,
        /// The agent who transferred the call (whose dial plan and guard apply).
        agent: String,
    },
    /// Ring a supervisor's phone and join the call in `mode`.
    Monitor {
        /// The supervisor's phone (a SIP user name the registrar knows).
        phone: String,
        mode: MonitorMode,
    },
    /// The supervisor's phone replaces the agent's leg (take over / intercept).
    TakeOver {
        /// The supervisor's phone.
        phone: String,
        /// The agent whose leg is released.
        agent: AgentId,
    },
    /// Stop monitoring (hang up the supervisor's leg).
    MonitorEnd {
        /// The supervisor's phone.
        phone: String,
    },
    /// The agent asked to send keys to the caller (`send_dtmf`): send them on
    /// the caller's leg as RFC 4733 events, one after the other.
    SendDigits {
        /// Checked keys (`0-9 * # A-D`, at most `MAX_DTMF_DIGITS`).
        digits: String,
        /// The agent who sent them, for the trail.
        agent: AgentId,
    },
    /// The call data changed (agent set or cleared it); keep it for the contact record.
    Data {
        /// The whole call data now.
        data: Vec<(String, Value)>,
    },
}

/// Why the ACD places a call itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialKind {
    /// A customer who chose a callback reached the front; `agent` is reserved.
    Callback,
    /// An agent's outbound call: ring the agent, then the number.
    Outbound,
}

/// A call the runtime must place for the ACD (through a trunk). When the far end
/// answers, the new call task calls `AcdHandle::dial_answered(call, events)` and then
/// behaves like any call task (offer, bridge, call_ended); on failure it calls
/// `dial_failed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DialOrder {
    /// The id the new call reports with.
    pub call: CallId,
    /// What the answered call does first: offer the reserved agent (callback)
    /// or bridge to them (outbound).
    pub kind: DialKind,
    /// The number to call: the callback number for a callback, the number the
    /// agent asked for otherwise.
    pub number: String,
    /// The trunk group to call through ("" = any).
    pub trunk: String,
    /// The agent reserved for it.
    pub agent: AgentId,
    /// Caller id to present ("" = the trunk's).
    pub caller_id: String,
    /// How long to let the number ring.
    pub ring_ms: i64,
    /// The call data (for the new contact record).
    pub data: Vec<(String, Value)>,
}

/// An agent's state, as shown and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Not working.
    SignedOut,
    /// Waiting for a call.
    Ready,
    /// Signed in but not taking calls (with a reason code).
    NotReady,
    /// A call is being offered (or the agent is reserved for a callback/outbound call).
    Ringing,
    /// On a call.
    Talking,
    /// On a call with the caller on hold.
    Held,
    /// After a call, finishing notes.
    WrapUp,
}

impl AgentStatus {
    /// The name used in the API.
    pub fn name(self) -> &'static str {
        match self {
            AgentStatus::SignedOut => "signed_out",
            AgentStatus::Ready => "ready",
            AgentStatus::NotReady => "not_ready",
            AgentStatus::Ringing => "ringing",
            AgentStatus::Talking => "talking",
            AgentStatus::Held => "held",
            AgentStatus::WrapUp => "wrap_up",
        }
    }

    /// Counts as working time (not signed out, not "not ready").
    pub fn staffed(self) -> bool {
        !matches!(self, AgentStatus::SignedOut | AgentStatus::NotReady)
    }

    /// Busy with a call (ringing, talking, held, wrap-up).
    pub fn handling(self) -> bool {
        matches!(
            self,
            AgentStatus::Ringing | AgentStatus::Talking | AgentStatus::Held | AgentStatus::WrapUp
        )
    }
}

/// One change of an agent's state (stored for statistics): agent `agent` (by
/// id) entered `state` at `at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct AgentStateChange {
    pub agent: String,
    pub at_ms: i64,
    pub state: AgentStatus,
    /// The not-ready reason code, or why the ACD changed it (`no answer`, `forced by NAME`).
    #[serde(default)]
    pub reason: String,
    /// The call the change is about (offered, answered, missed, wrapped up).
    #[serde(default)]
    pub call: Option<CallId>,
}

/// How a call's stay in one queue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An agent answered (the record is written after the wrap-up).
    Answered,
    /// The caller hung up while waiting or ringing.
    Abandoned,
    /// Moved by `max wait`.
    MaxWait,
    /// Moved by an overflow rule.
    Overflow,
    /// The caller pressed a cancel key (other than callback).
    Cancelled,
    /// The queue was closed.
    Closed,
    /// Called back and answered by an agent.
    CallbackAnswered,
    /// The callback never reached the customer.
    CallbackFailed,
    /// Handled by a second agent after a transfer (not offered again).
    Transferred,
    /// An agent's outbound call.
    Outbound,
    /// A direct offer to one agent.
    Direct,
}

/// One call's stay in one queue: the unit of queue statistics. Written when it is
/// over (for answered calls, after the agent's wrap-up). The call's own fields
/// are as in [`QueuedCall`]; times are Unix ms (virtual ms in the simulator) and
/// durations ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct CallRecord {
    pub call: CallId,
    /// The queue (`(direct)`, `(outbound)` for calls outside queues).
    pub queue: String,
    /// The queue's skills (for statistics by skill).
    pub skills: Vec<String>,
    pub trunk: String,
    pub caller: String,
    /// Entered the queue, ms.
    pub entered_ms: i64,
    /// Answered or left, ms.
    pub left_ms: i64,
    pub outcome: Outcome,
    /// The agent who took the call; each agent's part of a transferred call
    /// has a record of its own.
    pub agent: Option<String>,
    pub wait_ms: i64,
    /// Talk time (including hold), ms.
    pub talk_ms: i64,
    pub hold_ms: i64,
    pub wrap_ms: i64,
}

/// What the agent's desktop shows when a call is offered (spec 000 §5.2.1.1.2: the
/// customer id and IVR trail go with the call). The call's own fields are as in
/// [`QueuedCall`]; `waited_ms` is the wait in this queue so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct ScreenPop {
    pub call: CallId,
    pub queue: String,
    pub caller: String,
    pub called: String,
    pub trunk: String,
    pub customer_id: String,
    pub data: Vec<(String, Value)>,
    pub trail: Vec<TrailEntry>,
    pub waited_ms: i64,
    /// Why it is offered (`queue`, `transfer from 1001`, `consult from 1001`, `callback`, `outbound`).
    pub via: String,
}

/// Events published for desktops, wallboards and statistics. A `call` is the
/// call's id, a `queue` and an `agent` are names, `at_ms` is when it happened
/// (Unix ms, virtual ms in the simulator) and durations are ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[allow(missing_docs, reason = "fields are described on the type")]
pub enum AcdEvent {
    /// A call entered a queue.
    CallQueued {
        call: CallId,
        queue: String,
        /// 1 is next.
        position: u32,
        /// From the queue's `priority` rule: higher is served first.
        priority: f64,
        at_ms: i64,
    },
    /// A call was offered to an agent (the agent's screen pop).
    CallOffered {
        agent: String,
        /// What the desktop shows.
        pop: Box<ScreenPop>,
        at_ms: i64,
    },
    /// An agent took a call.
    CallAnswered {
        call: CallId,
        queue: String,
        agent: String,
        wait_ms: i64,
        at_ms: i64,
    },
    /// A call left a queue without an agent.
    CallLeft {
        call: CallId,
        queue: String,
        outcome: Outcome,
        at_ms: i64,
    },
    /// An agent's state changed.
    AgentState(AgentStateChange),
    /// A finished queue stay (statistics).
    Record(CallRecord),
    /// The call data of an agent's call changed.
    CallData {
        call: CallId,
        /// The agent on it.
        agent: String,
        /// The whole call data now.
        data: Vec<(String, Value)>,
    },
    /// A consultation or an outbound call from the desktop failed.
    Notice {
        /// The agent whose desktop shows the notice.
        agent: String,
        /// A sentence for the agent's desktop.
        message: String,
    },
    /// The dialer placed or ended a campaign call, or a campaign's state
    /// changed (`what`: `call_placed`, `call_ended`, `state`). Published by
    /// the runtime's dialer on the same stream as the ACD's events.
    Campaign {
        campaign: String,
        what: String,
        /// The target, for calls.
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<u64>,
        /// The number dialled, canonical.
        #[serde(skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        /// How the call ended (`person`, `busy`, `abandoned`…).
        #[serde(skip_serializing_if = "Option::is_none")]
        outcome: Option<String>,
        /// The target's state after the call, or the campaign's new state.
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        /// The agent who took the call.
        #[serde(skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        at_ms: i64,
    },
}

impl AcdEvent {
    /// The agent this event is for, if it concerns one agent (for desktop streams).
    pub fn agent(&self) -> Option<&str> {
        match self {
            AcdEvent::CallOffered { agent, .. }
            | AcdEvent::CallAnswered { agent, .. }
            | AcdEvent::CallData { agent, .. }
            | AcdEvent::Notice { agent, .. } => Some(agent),
            AcdEvent::Campaign { agent, .. } => agent.as_deref(),
            AcdEvent::AgentState(c) => Some(&c.agent),
            _ => None,
        }
    }
}

/// What the ACD core produces when it handles an input.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A message to the call task of `call`.
    ToCall(CallId, AcdToCall),
    /// Place a call (callback, agent outbound).
    Dial(DialOrder),
    /// The ACD no longer waits for this placed call (its dial timeout fired, or
    /// the call was dropped while dialling): the call task must stop ringing
    /// (CANCEL) and report with `dial_failed`.
    DialGivenUp(CallId),
    /// Publish an event (desktops, wallboards, statistics, storage).
    Event(AcdEvent),
    /// Wake the core (`Input::Tick`) at this time.
    WakeAt(i64),
}

/// An agent and the phone that logs in as them.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Id (the phone's SIP user name).
    pub id: String,
    /// The name people see beside the id (optional).
    #[serde(default)]
    pub name: String,
    /// SIP digest password of the phone.
    pub password: String,
    /// The agent's level (1 and up) in each of their skills; a queue takes
    /// agents at or above the level its `skills` rule asks.
    #[serde(default)]
    pub skills: std::collections::BTreeMap<String, u32>,
    /// Answer offered calls without ringing the phone.
    #[serde(default)]
    pub auto_answer: bool,
    /// The dial plan of the calls this agent places (default: the plan of all
    /// agents); read by the runtime's outbound-call policy.
    #[serde(default)]
    pub dial_plan: Option<String>,
}

/// One step of a call's IVR trail.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrailEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// The step: menu name, `play ...`, `lookup crm.customer`...
    pub node: String,
    /// What happened: the command and the caller's answer.
    pub detail: String,
}
