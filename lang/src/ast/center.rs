//! The contact-center declarations: queues (skills, strategy, priority,
//! announcements, overflow), campaigns (list, mode, windows, retries) and
//! workorders (fields, states, limits, reminders, transitions).

use serde::{Deserialize, Serialize};

use super::decls::*;
use super::expr::*;
use super::flow::*;
use super::span::*;

/// `queue name "label" { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct QueueDecl {
    /// Queue name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Required skills with minimum levels.
    pub skills: Vec<QueueSkill>,
    /// Agent-selection strategy.
    pub strategy: Option<Ident>,
    /// Caller priority (higher is served first).
    pub priority: Option<Expr>,
    /// Music on hold prompt.
    pub music: Option<Expr>,
    /// Announcements while waiting.
    pub announcements: Vec<Announcement>,
    /// Maximum wait and where the call goes then.
    pub max_wait: Option<(DurationLit, Destination, Span)>,
    /// Overflow rules.
    pub overflows: Vec<Overflow>,
    /// Cancel-by-key rules.
    pub keys: Vec<QueueKey>,
    /// Agent no-answer time-out and what to do.
    pub no_answer: Option<NoAnswer>,
    /// Agent availability policy (options).
    pub agent_policy: Vec<Opt>,
    /// Wrap-up time after each call.
    pub wrap_up: Option<DurationLit>,
    /// Opening hours and the closed destination.
    pub hours: Option<(Ident, Destination, Span)>,
    /// Service-level target: fraction answered within a time.
    pub service_level: Option<(f64, DurationLit, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// `key 9 -> callback when waited > 2m`: a key the waiting caller may press.
#[derive(Debug, Clone, Serialize)]
pub struct QueueKey {
    /// The key as written (checked to be one DTMF key).
    pub key: String,
    /// Where the key is written.
    pub key_span: Span,
    /// Where the call goes.
    pub dest: Destination,
    /// The prompt that offers the key to waiting callers, and how often.
    pub offer: Option<KeyOffer>,
    /// Only while this holds (a callback offered after two minutes): at other
    /// times the key does nothing and its offer is not played.
    pub when: Option<Expr>,
    /// The whole rule.
    pub span: Span,
}

/// `offer "press1_callback.wav" every 1m`: an announcement that tells the caller
/// about a queue key, under the key's own condition, so that a caller is never
/// told to press a key that does nothing yet.
#[derive(Debug, Clone, Serialize)]
pub struct KeyOffer {
    /// The prompt file.
    pub prompt: Expr,
    /// How often it is played.
    pub every: DurationLit,
    /// From `offer` to the end of the time.
    pub span: Span,
}

/// `billing >= 2`
#[derive(Debug, Clone, Serialize)]
pub struct QueueSkill {
    /// Skill name.
    pub skill: Ident,
    /// Minimum level.
    pub min_level: Option<(f64, Span)>,
}

/// `announce position every 30s when position > 1`
#[derive(Debug, Clone, Serialize)]
pub struct Announcement {
    /// What is announced.
    pub what: AnnounceWhat,
    /// How often.
    pub every: DurationLit,
    /// Only when this holds.
    pub when: Option<Expr>,
    /// The whole rule.
    pub span: Span,
}

/// What an announcement says.
#[derive(Debug, Clone, Serialize)]
pub enum AnnounceWhat {
    /// The caller's position in the queue.
    Position,
    /// The estimated wait.
    Wait,
    /// A prompt file.
    Prompt(Expr),
}

/// `overflow up to senior when waiting > 20`
#[derive(Debug, Clone, Serialize)]
pub struct Overflow {
    /// Up (to a senior queue, only while it has an idle agent) or down (arrives with high priority).
    pub direction: OverflowDirection,
    /// Target queue.
    pub target: Ident,
    /// Condition.
    pub when: Expr,
    /// The whole rule.
    pub span: Span,
}

/// Overflow direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowDirection {
    /// To a senior queue.
    Up,
    /// To a junior queue.
    Down,
}

/// `no answer 15s -> requeue first`
#[derive(Debug, Clone, Serialize)]
pub struct NoAnswer {
    /// Ring time before the offer is withdrawn.
    pub timeout: DurationLit,
    /// What happens to the call.
    pub action: NoAnswerAction,
    /// The whole rule.
    pub span: Span,
}

/// What happens to a call whose agent did not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoAnswerAction {
    /// Back to the queue at the head (high priority).
    RequeueFirst,
    /// Back to the queue at its normal priority.
    Requeue,
    /// Straight to the next available agent.
    NextAgent,
}

/// `campaign name { ... }`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignDecl {
    /// Campaign name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// The target list and its field mapping.
    pub list: Option<CampaignList>,
    /// `list from workorders KIND in state S`: targets drawn from orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders: Option<OrderSource>,
    /// Filters (all must hold).
    pub filters: Vec<Expr>,
    /// Dialing mode.
    pub mode: Option<CampaignMode>,
    /// Calendar for day types.
    pub calendar: Option<Ident>,
    /// Call windows per day type.
    pub windows: Vec<CallWindow>,
    /// Retry rules per outcome.
    pub retries: Vec<RetryRule>,
    /// Trunk group for outgoing calls.
    pub trunk: Option<Text>,
    /// Caller id presented.
    pub caller_id: Option<Text>,
    /// Media type (voice, sms...).
    pub media: Option<Ident>,
    /// Message played to a dropped (abandoned) answered call.
    pub dropped: Option<(Expr, Option<DurationLit>, Span)>,
    /// Rules waived, with the reason.
    pub allows: Vec<(Ident, Text, Span)>,
    /// The callee's time zone, when it differs from the calendar's.
    pub timezone: Option<Text>,
    /// `max attempts N`: dial attempts per target over the whole campaign.
    pub max_attempts: Option<(u32, Span)>,
    /// `max attempts per day N`: dial attempts per target per local day.
    pub max_attempts_per_day: Option<(u32, Span)>,
    /// The codes an agent chooses from after a campaign call.
    pub dispositions: Vec<Disposition>,
    /// What the agent reads from: shown with a preview and with each call.
    pub script: Option<Text>,
    /// `machine detection (greeting 1500ms, …)` or `machine detection off`: the
    /// settings written (`None` = off); absent, the defaults apply.
    pub machine_detection: Option<(Option<Vec<Opt>>, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// `disposition callback "约定回访" -> retry in 1d`: a code an agent gives a
/// campaign call; without `retry in` it ends the target as completed.
#[derive(Debug, Clone, Serialize)]
pub struct Disposition {
    /// The code, as the API and reports name it.
    pub name: Ident,
    /// What the agent reads on the button.
    pub label: Text,
    /// Dial the target again after this long instead of ending it.
    pub retry_in: Option<DurationLit>,
    /// The whole clause.
    pub span: Span,
}

/// `list name from "file.csv" { field: type <- "column" }`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignList {
    /// The list's name (for import and reports).
    pub name: Ident,
    /// Source file.
    pub source: Text,
    /// Fields with their types and source columns.
    pub fields: Vec<(TypedField, Text)>,
    /// The whole list clause.
    pub span: Span,
}

/// `list from workorders fault_repair in state repaired`: a campaign's targets
/// are orders of a type (those entering the state, when one is named); the
/// fields are the order's number and fields.
#[derive(Debug, Clone, Serialize)]
pub struct OrderSource {
    /// The workorder type.
    pub kind: Ident,
    /// The state orders enter to become targets.
    pub state: Option<Ident>,
    /// The whole clause.
    pub span: Span,
}

/// `mode predictive (options) -> destination`
#[derive(Debug, Clone, Serialize)]
pub struct CampaignMode {
    /// Mode name: manual, preview, progressive, predictive, ivr.
    pub mode: Ident,
    /// Options such as ratio bounds and the abandon cap.
    pub options: Vec<Opt>,
    /// What an answered call does.
    pub dest: Option<Destination>,
    /// The whole clause.
    pub span: Span,
}

/// `window workday 09:00-12:00, 14:00-20:30`
#[derive(Debug, Clone, Serialize)]
pub struct CallWindow {
    /// Day type: workday, weekend, holiday.
    pub day_type: DayType,
    /// Periods; empty means no calls.
    pub periods: Vec<TimeRange>,
    /// The whole clause.
    pub span: Span,
}

/// Calendar day types for campaign windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DayType {
    /// A working day (including make-up working days).
    Workday,
    /// Saturday or Sunday that is not a make-up working day.
    Weekend,
    /// A public holiday.
    Holiday,
}

/// `retry busy every 10m max 3` / `retry fax never`
#[derive(Debug, Clone, Serialize)]
pub struct RetryRule {
    /// The outcome this rule is for.
    pub outcome: Outcome,
    /// Interval and maximum attempts; `None` = never retry.
    pub every: Option<(DurationLit, u32)>,
    /// The whole rule.
    pub span: Span,
}

/// Outcomes of an outbound attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Line busy.
    Busy,
    /// Rang without answer.
    NoAnswer,
    /// A fax machine answered.
    Fax,
    /// The number does not exist.
    Invalid,
    /// An answering machine answered.
    Machine,
    /// The callee rejected the call.
    Rejected,
}

/// `workorder name { ... }`
///
/// `fields`, `states` and `transitions` are its `field`, `state` and `transition`
/// clauses in source order.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct WorkorderDecl {
    /// Workorder type name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Calendar for business-hour limits.
    pub calendar: Option<Ident>,
    pub fields: Vec<WorkorderField>,
    pub states: Vec<WorkorderState>,
    pub transitions: Vec<Transition>,
    /// Link kinds to other orders.
    pub links: Vec<Ident>,
    /// `on enter STATE -> ...` clauses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// `repaired within 24h from dispatched { ... }` clauses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_limits: Vec<SpanLimit>,
    /// The whole declaration.
    pub span: Span,
}

/// `on enter repaired -> notify sms to phone "..."`: work done once each time
/// an order enters the state, written with the transition itself.
#[derive(Debug, Clone, Serialize)]
pub struct Trigger {
    /// The state entered.
    pub state: Ident,
    /// What happens.
    pub action: TriggerAction,
    /// The whole clause.
    pub span: Span,
}

/// What a trigger does.
#[derive(Debug, Clone, Serialize)]
pub enum TriggerAction {
    /// `notify sms|email to FIELD (subject "...")? "text {field}"`: through the outbox.
    Notify {
        /// SMS or e-mail.
        channel: super::NotifyChannel,
        /// The field holding the number or address.
        to: Ident,
        /// E-mail subject.
        subject: Option<Text>,
        /// The message; `{field}` and `{number}` are filled from the order.
        body: Text,
    },
    /// `assign ROLE`: the order waits for someone of that role, who is told.
    Assign(Ident),
    /// `call FLOW(field, ...) via campaign NAME`: an outbound IVR attempt with
    /// the campaign's trunk, windows and retry rules; the order becomes one of
    /// the campaign's targets.
    Call {
        /// The flow the answered call runs.
        flow: Ident,
        /// Order fields passed as the flow's parameters of the same names.
        args: Vec<Ident>,
        /// The campaign that dials.
        campaign: Ident,
    },
}

/// `repaired within 24h from dispatched business { escalate -> supervisor }`:
/// an order must reach `target` within the limit counted from its (latest)
/// entry into `from`, whatever states it passes in between.
#[derive(Debug, Clone, Serialize)]
pub struct SpanLimit {
    /// The state to reach.
    pub target: Ident,
    /// How long.
    pub duration: DurationLit,
    /// The state the time counts from.
    pub from: Ident,
    /// Counted in business hours.
    pub business: bool,
    /// Escalations when the limit passes.
    pub escalations: Vec<Escalation>,
    /// Reminders before the limit.
    pub reminders: Vec<Reminder>,
    /// The whole clause.
    pub span: Span,
}

/// `field phone: phone required sensitive`
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderField {
    /// Field name.
    pub name: Ident,
    /// Type: text, number, date, phone, customer, recording, or an enum.
    pub ty: TypeExpr,
    /// Must be given at creation.
    pub required: bool,
    /// Masked for roles that may not see it.
    pub sensitive: bool,
    /// The whole field.
    pub span: Span,
}

/// `state name "label" initial limit 4h business { remind ...; escalate ... }`
#[derive(Debug, Clone, Serialize)]
pub struct WorkorderState {
    /// State name.
    pub name: Ident,
    /// Human-readable label.
    pub label: Option<Text>,
    /// Orders start here.
    pub initial: bool,
    /// Orders end here.
    pub is_final: bool,
    /// Time limit in this state.
    pub limit: Option<StateLimit>,
    /// Reminders (催办).
    pub reminders: Vec<Reminder>,
    /// Escalations (督办).
    pub escalations: Vec<Escalation>,
    /// The whole state.
    pub span: Span,
}

/// A state's time limit.
#[derive(Debug, Clone, Serialize)]
pub struct StateLimit {
    /// How long.
    pub duration: DurationLit,
    /// Counted in the calendar's business hours (true) or wall time.
    pub business: bool,
}

/// `remind 1h before -> handler`
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    /// When, relative to the limit.
    pub when: RemindWhen,
    /// Roles or departments told.
    pub to: Vec<Ident>,
    /// The whole rule.
    pub span: Span,
}

/// When a reminder fires.
#[derive(Debug, Clone, Serialize)]
pub enum RemindWhen {
    /// This long before the limit.
    Before(DurationLit),
    /// At the limit.
    AtLimit,
    /// At this fraction of the limit.
    Fraction(f64, Span),
}

/// `escalate 2h after -> supervisor`
#[derive(Debug, Clone, Serialize)]
pub struct Escalation {
    /// How long after the limit (0 = at the limit).
    pub after: Option<DurationLit>,
    /// Roles or departments escalated to.
    pub to: Vec<Ident>,
    /// The whole rule.
    pub span: Span,
}

/// `transition name: from -> to by roles [kind] [when guard]`
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// Transition name (what the API calls).
    pub name: Ident,
    /// Source state.
    pub from: Ident,
    /// Target state.
    pub to: Ident,
    /// Roles allowed to take it.
    pub roles: Vec<Ident>,
    /// Forward, return, reply, close or reopen.
    pub kind: Option<TransitionKind>,
    /// Guard over the order's fields.
    pub guard: Option<Expr>,
    /// `(reason required)`: the step needs a comment.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reason_required: bool,
    /// The whole transition.
    pub span: Span,
}

/// Special meanings of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransitionKind {
    /// Moves the order to another department.
    Forward,
    /// Sends the order back (退单).
    Return,
    /// Records the reply to the customer.
    Reply,
    /// Closes the order.
    Close,
    /// Reopens a closed order.
    Reopen,
}
