//! A campaign target: one number to call, its typed list fields, and what the
//! dialer has done with it so far. The runtime stores it as JSON between
//! attempts; [`crate::rules::Rules`] reads and updates it.

use std::collections::BTreeMap;

use dialect_compiler::value::Value;
use serde::{Deserialize, Serialize};

use crate::outcome::CallOutcome;

/// Where a target stands. The final states are never dialled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetState {
    /// Waiting for its next attempt (or its first).
    Pending,
    /// Claimed by a dialer, a call in progress; the claim keeps two media
    /// servers from placing the same attempt.
    Dialling,
    /// A person was reached: the campaign's work for this number is done.
    Completed,
    /// No more attempts: `max attempts`, or an outcome's `retry ... max N` spent,
    /// or an outcome whose rule says `never`.
    Exhausted,
    /// Found on a do-not-call list (by the runtime, before a dial).
    DoNotCall,
    /// The number does not exist.
    Invalid,
    /// Removed by one of the campaign's filters.
    Filtered,
    /// Taken out of the campaign by an operator.
    Removed,
}

impl TargetState {
    /// Whether the target will never be dialled again.
    pub fn is_final(self) -> bool {
        !matches!(self, TargetState::Pending | TargetState::Dialling)
    }

    /// The state as reports and explanations write it.
    pub fn name(self) -> &'static str {
        match self {
            TargetState::Pending => "pending",
            TargetState::Dialling => "dialling",
            TargetState::Completed => "completed",
            TargetState::Exhausted => "attempts exhausted",
            TargetState::DoNotCall => "do not call",
            TargetState::Invalid => "invalid number",
            TargetState::Filtered => "filtered out",
            TargetState::Removed => "removed",
        }
    }
}

/// The attempt counters behind `attempts`, `attempts_today` and the limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// Attempts that count (all but network failures).
    pub total: u32,
    /// Counted attempts on the callee's local day `today_day`.
    pub today: u32,
    /// The callee's local date `today` counts for (days since 1970-01-01): a
    /// new local day starts the count again, whatever the server's clock says.
    pub today_day: Option<i64>,
    /// Attempts per outcome, for `retry ... max N`.
    pub per_outcome: BTreeMap<CallOutcome, u32>,
    /// Network failures in a row, to back off a failing route; not counted
    /// against the number.
    pub network_failures_in_row: u32,
}

impl Attempts {
    /// Attempts that ended with this outcome.
    pub fn of(&self, outcome: CallOutcome) -> u32 {
        self.per_outcome.get(&outcome).copied().unwrap_or(0)
    }

    /// Counted attempts on a local day.
    pub fn on_day(&self, day: i64) -> u32 {
        if self.today_day == Some(day) {
            self.today
        } else {
            0
        }
    }
}

/// One number of a campaign and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// The runtime's key for the target (its row in the store).
    pub id: u64,
    /// The number in canonical form (`dialect_numbers::canonical`), so
    /// do-not-call entries and the zone table match it whatever the list wrote.
    pub phone: String,
    /// The list fields, typed by the campaign's declarations, in declaration order.
    pub fields: Vec<Value>,
    /// The callee's IANA zone if the list gave one.
    pub timezone: Option<String>,
    /// Where the target stands.
    pub state: TargetState,
    /// The attempt counters.
    pub attempts: Attempts,
    /// When the last attempt ended (Unix ms).
    pub last_attempt_ms: Option<i64>,
    /// How the last attempt ended.
    pub last_outcome: Option<CallOutcome>,
    /// The earliest instant the next attempt may start (Unix ms); `None`: at once.
    pub next_attempt_ms: Option<i64>,
    /// When a call to this number was last abandoned, for the 72-hour rule.
    pub last_abandoned_ms: Option<i64>,
    /// When a list first brought the target (Unix ms): the task's creation.
    #[serde(default)]
    pub imported_ms: Option<i64>,
    /// In a cluster, the runtime that claimed the target for the call in
    /// progress: a runtime taking the dialer over leaves the claims of a
    /// runtime that is still alive (its calls go on and it stores their
    /// results) and releases those of a dead one.
    #[serde(default)]
    pub claimed_by: Option<String>,
}

impl Target {
    /// A fresh target, pending, never dialled.
    pub fn new(id: u64, phone: impl Into<String>, fields: Vec<Value>) -> Target {
        Target {
            id,
            phone: phone.into(),
            fields,
            timezone: None,
            state: TargetState::Pending,
            attempts: Attempts::default(),
            last_attempt_ms: None,
            last_outcome: None,
            next_attempt_ms: None,
            last_abandoned_ms: None,
            imported_ms: None,
            claimed_by: None,
        }
    }

    /// The same target with the callee's time zone set.
    pub fn with_timezone(mut self, zone: impl Into<String>) -> Target {
        self.timezone = Some(zone.into());
        self
    }
}
