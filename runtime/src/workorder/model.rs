//! What the workorder engine stores (spec 000 §4.2.4 工单, §4.2.5 任务) and how it
//! lays it out in the store: the trees, the keys of the secondary indexes, and the
//! compact record of each open order that a restart reads to re-arm every timer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Current state of every order, by number (JSON [`Workorder`]).
pub const ORDERS: &str = "wo_orders";
/// Append-only history: number, 0, version (4 bytes) → JSON [`HistoryEntry`].
pub const HISTORY: &str = "wo_history";
/// Open orders only: number → postcard [`OpenRecord`] (what a restart reads).
pub const OPEN: &str = "wo_open";
/// Index: created (8) + number.
pub const IDX_CREATED: &str = "wo_idx_created";
/// Index: updated (8) + number.
pub const IDX_UPDATED: &str = "wo_idx_updated";
/// Index: customer, 0, created (8), number.
pub const IDX_CUSTOMER: &str = "wo_idx_customer";
/// Index: department, 0, created (8), number.
pub const IDX_DEPARTMENT: &str = "wo_idx_department";
/// Index: handler, 0, created (8), number.
pub const IDX_HANDLER: &str = "wo_idx_handler";
/// Index: type, 0, state, 0, created (8), number.
pub const IDX_STATE: &str = "wo_idx_state";
/// Index: interaction event id (8) + number: the orders an event raised (W4).
pub const IDX_EVENT: &str = "interaction_workorders";
/// Per-day order sequence: `day:YYYYMMDD` → u64.
pub const META: &str = "wo_meta";
/// Notifications (reminders, escalations) by id.
pub const NOTIFICATIONS: &str = "wo_notifications";
/// Index: recipient, 0, at (8), id (8).
pub const NOTIFY_TO: &str = "wo_notify_to";
/// Outbound tasks by id (W6).
pub const TASKS: &str = "tasks";
/// Index: campaign, 0, id (8).
pub const TASKS_BY_CAMPAIGN: &str = "tasks_by_campaign";
/// Index: customer, 0, id (8).
pub const TASKS_BY_CUSTOMER: &str = "tasks_by_customer";

/// A workorder (工单): the current state of one order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Workorder {
    /// The number read to callers: date and sequence (`2026112200017`).
    pub number: String,
    /// The lifecycle (workorder type) name.
    pub kind: String,
    /// The current state's name.
    pub state: String,
    /// Field values (validated against the lifecycle; JSON strings, numbers, booleans;
    /// dates as `YYYY-MM-DD`).
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The customer (the value of the lifecycle's `customer` field, if any).
    #[serde(default)]
    pub customer_id: String,
    /// The interaction event that raised the order.
    #[serde(default)]
    pub event_id: Option<u64>,
    /// The contact (call) it was created in.
    #[serde(default)]
    pub contact_id: Option<u64>,
    /// The department the order is with.
    #[serde(default)]
    pub department: Option<String>,
    /// The person handling it (a handler who accepted it).
    #[serde(default)]
    pub handler: Option<String>,
    /// Who dispatched it last (派单员工).
    #[serde(default)]
    pub dispatcher: Option<String>,
    /// Who created it (a user, or `ivr` for flows).
    pub created_by: String,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// When it entered the current state.
    pub state_entered_ms: i64,
    /// Last dispatch to a department.
    #[serde(default)]
    pub dispatched_ms: Option<i64>,
    /// When it was closed (entered a final state).
    #[serde(default)]
    pub closed_ms: Option<i64>,
    /// The current state's time limit, if it has one.
    #[serde(default)]
    pub deadline_ms: Option<i64>,
    /// Reminders and escalations of the current state, with whether each has fired.
    #[serde(default)]
    pub timers: Vec<Timer>,
    /// The reply recorded for the customer (closed loop, W2).
    #[serde(default)]
    pub feedback: Option<String>,
    /// Links to other orders (W4).
    #[serde(default)]
    pub links: Vec<Link>,
    /// Department and handler the order had when it last entered each state (so a
    /// return restores them).
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// When the order last entered each state it has been in: limits that
    /// span several states (`repaired within 24h from dispatched`) count from it.
    #[serde(default)]
    pub entered_ms: BTreeMap<String, i64>,
    /// Number of changes; equals the number of history entries.
    pub version: u32,
}

/// A reminder (催办) or escalation (督办) of the current state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timer {
    /// When it falls due, Unix ms.
    pub due_ms: i64,
    /// `remind` or `escalate`.
    pub action: String,
    /// Roles or departments named in the lifecycle.
    pub to: Vec<String>,
    /// Fired (recorded durably, so it fires once).
    pub fired: bool,
    /// The limit it belongs to, for the message it sends (absent in orders
    /// stored before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<TimerLimit>,
}

/// The time limit a reminder or escalation watches: the state's own
/// (`state dispatched limit 4h`) or one spanning several states (`repaired
/// within 24h from dispatched`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimerLimit {
    /// The state the order must reach (the state itself for a state's limit).
    pub target: String,
    /// The state the limit counts from when it spans several states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// How much time the limit grants, ms.
    pub limit_ms: i64,
    /// Whether that time is counted in the calendar's business hours.
    #[serde(default)]
    pub business: bool,
    /// When the limit runs out, Unix ms.
    pub deadline_ms: i64,
}

/// A link to another order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Link {
    /// The link kind declared in the lifecycle (`duplicate`, `related`...).
    pub kind: String,
    /// Number of the other order.
    pub number: String,
    /// `to` on the order the link was made from, `from` on the other one.
    pub direction: String,
}

/// Where an order was when it entered a state: the state, and the department
/// and handler it had then.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct Assignment {
    pub state: String,
    pub department: Option<String>,
    pub handler: Option<String>,
}

/// One change of an order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HistoryEntry {
    /// The order's version after the change (1 for the creation).
    pub version: u32,
    /// When, Unix ms.
    pub at_ms: i64,
    /// Who (`system` for timers).
    pub user: String,
    /// With which role.
    pub role: String,
    /// `create`, `transition`, `comment`, `link`, `remind`, `escalate`.
    pub action: String,
    /// Name of the lifecycle transition taken (`transition` entries only).
    #[serde(default)]
    pub transition: Option<String>,
    /// State before.
    #[serde(default)]
    pub from: Option<String>,
    /// State after.
    #[serde(default)]
    pub to: Option<String>,
    /// Department after the change.
    #[serde(default)]
    pub department: Option<String>,
    /// Handler after the change.
    #[serde(default)]
    pub handler: Option<String>,
    /// Fields set by the change.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// Comment, reply text, link or reminder details.
    #[serde(default)]
    pub comment: Option<String>,
}

/// The compact record of an open order: all a restart needs to rebuild the
/// in-memory indexes and re-arm the timers without reading full orders. Its
/// fields are the order's fields of the same name (`kind`: the lifecycle).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct OpenRecord {
    pub kind: String,
    pub state: String,
    pub department: Option<String>,
    pub handler: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Time limit of the state.
    pub deadline_ms: Option<i64>,
    /// Due time of the next timer not yet fired.
    pub next_timer_ms: Option<i64>,
}

impl OpenRecord {
    /// The record of an order.
    pub fn of(o: &Workorder) -> OpenRecord {
        OpenRecord {
            kind: o.kind.clone(),
            state: o.state.clone(),
            department: o.department.clone(),
            handler: o.handler.clone(),
            created_ms: o.created_ms,
            updated_ms: o.updated_ms,
            deadline_ms: o.deadline_ms,
            next_timer_ms: next_timer(o),
        }
    }
}

/// The due time of the first timer of an order that has not fired.
pub fn next_timer(o: &Workorder) -> Option<i64> {
    o.timers.iter().filter(|t| !t.fired).map(|t| t.due_ms).min()
}

/// A reminder or escalation delivered to a role, department or user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// From the store's durable `notification` counter: unique and increasing.
    pub id: u64,
    /// When it was raised, Unix ms.
    pub at_ms: i64,
    /// The role, department or user it is for.
    pub to: String,
    /// `remind` (催办) or `escalate` (督办).
    pub action: String,
    /// Number of the order.
    pub number: String,
    /// Its lifecycle.
    pub kind: String,
    /// Its state when raised.
    pub state: String,
    /// The order's department when the notification was raised.
    pub department: Option<String>,
    /// The order's handler when the notification was raised.
    pub handler: Option<String>,
    /// When the timer fell due (earlier than `at_ms` when it fell due while the
    /// runtime was down).
    pub due_ms: i64,
    /// The state's time limit.
    pub deadline_ms: Option<i64>,
    /// A sentence for people.
    pub message: String,
    /// The SMS and e-mails queued for the people behind `to`, and the people
    /// who could not be reached (no address): nobody is skipped silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
}

/// One person a reminder or escalation was sent to, or could not be.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    /// The API user; when nobody was found, the name from the lifecycle's
    /// list that stands for nobody.
    pub user: String,
    /// `email` or `sms`; absent when nothing could be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The outbox entry (`GET /api/v1/outbox`, and the order's view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<u64>,
    /// Why nothing was sent to this person by this channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// An outbound task (任务, W6): one customer of a campaign to be contacted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    /// From the store's durable `task` counter: unique and increasing.
    pub id: u64,
    /// The campaign (营销方案) it belongs to.
    pub campaign: String,
    /// Task type (`care`, `retention`, `payment_reminder`...).
    pub task_type: String,
    /// The customer's id (never blank).
    pub customer_id: String,
    /// Number to call.
    #[serde(default)]
    pub phone: String,
    /// Free text; may be empty.
    #[serde(default)]
    pub description: String,
    /// Time limit, Unix ms.
    #[serde(default)]
    pub deadline_ms: Option<i64>,
    /// `pending`, `dispatched`, `in_progress`, `done`, `failed`, `cancelled`.
    pub status: String,
    /// Who dispatched it.
    #[serde(default)]
    pub dispatcher: Option<String>,
    /// Who handles it.
    #[serde(default)]
    pub handler: Option<String>,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// Last dispatch to a handler, Unix ms.
    #[serde(default)]
    pub dispatched_ms: Option<i64>,
    /// When the status first became `in_progress`, Unix ms.
    #[serde(default)]
    pub started_ms: Option<i64>,
    /// When the status last became `done`, `failed` or `cancelled`, Unix ms.
    #[serde(default)]
    pub ended_ms: Option<i64>,
    /// The outcome of the last attempt (`answered`, `no_answer`, `busy`...).
    #[serde(default)]
    pub result: Option<String>,
    /// Free notes of whoever works the task; an update replaces them.
    #[serde(default)]
    pub memo: String,
}

/// Every status a task may have; an update naming another is refused.
pub const TASK_STATUSES: &[&str] = &[
    "pending",
    "dispatched",
    "in_progress",
    "done",
    "failed",
    "cancelled",
];

/// Statuses a task does not leave.
pub const TASK_FINAL: &[&str] = &["done", "cancelled"];

/// The key of an order's history entry.
pub fn history_key(number: &str, version: u32) -> Vec<u8> {
    let mut k = number.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// The key prefix of an order's history.
pub fn history_prefix(number: &str) -> Vec<u8> {
    let mut k = number.as_bytes().to_vec();
    k.push(0);
    k
}

/// Time as an index key part (order-preserving for the times we store).
pub fn time_key(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// Key `prefix 0 time number` (or `time number` when `prefix` is `None`).
pub fn index_key(prefix: Option<&[&str]>, ms: i64, number: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(48);
    if let Some(parts) = prefix {
        for p in parts {
            k.extend_from_slice(p.as_bytes());
            k.push(0);
        }
    }
    k.extend_from_slice(&time_key(ms));
    k.extend_from_slice(number.as_bytes());
    k
}

/// Every index entry of an order in its current form: (tree, key).
pub fn index_entries(o: &Workorder) -> Vec<(&'static str, Vec<u8>)> {
    let mut v = vec![
        (IDX_CREATED, index_key(None, o.created_ms, &o.number)),
        (IDX_UPDATED, index_key(None, o.updated_ms, &o.number)),
        (
            IDX_STATE,
            index_key(Some(&[&o.kind, &o.state]), o.created_ms, &o.number),
        ),
    ];
    if !o.customer_id.is_empty() {
        v.push((
            IDX_CUSTOMER,
            index_key(Some(&[&o.customer_id]), o.created_ms, &o.number),
        ));
    }
    if let Some(d) = &o.department {
        v.push((
            IDX_DEPARTMENT,
            index_key(Some(&[d]), o.created_ms, &o.number),
        ));
    }
    if let Some(h) = &o.handler {
        v.push((IDX_HANDLER, index_key(Some(&[h]), o.created_ms, &o.number)));
    }
    if let Some(e) = o.event_id {
        let mut k = e.to_be_bytes().to_vec();
        k.extend_from_slice(o.number.as_bytes());
        v.push((IDX_EVENT, k));
    }
    v
}

/// The id key of notifications and tasks.
pub fn id_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}
