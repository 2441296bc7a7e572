//! Why a target is not being dialled: the one explanation type behind
//! `GET /api/v1/campaigns/{name}/targets/{id}`. [`crate::rules::Rules::check`]
//! fills the variants about history, limits and windows; the runtime fills the
//! ones about filters, lists and the campaign's own state, which it evaluates
//! with the compiled predicates and the store.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::outcome::CallOutcome;
use crate::target::TargetState;

/// The reason a target cannot be dialled now. `Display` gives the sentence an
/// operator reads; JSON gives the same facts to programs (`reason` names the variant).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Blocked {
    /// The target is in a final state and will not be dialled again.
    Final {
        /// The final state.
        state: TargetState,
    },
    /// A call to the target is in progress.
    InProgress,
    /// A retry rule holds the target until this instant.
    RetryAt {
        /// When the retry is due (Unix ms).
        at_ms: i64,
        /// The outcome whose rule set the delay.
        after: Option<CallOutcome>,
    },
    /// It is outside the campaign's call windows (or the legal hours) in the
    /// callee's local time.
    OutsideWindow {
        /// When the next window opens (Unix ms); `None` if none opens in the
        /// coming year.
        until_ms: Option<i64>,
        /// The callee's zone the windows were read in.
        zone: String,
    },
    /// `max attempts` is reached.
    AttemptsUsedUp {
        /// Counted attempts made.
        used: u32,
        /// The limit.
        max: u32,
    },
    /// `max attempts per day` is reached for the callee's local day.
    DayLimit {
        /// Counted attempts today.
        used: u32,
        /// The limit.
        max: u32,
        /// When the next local day's window opens (Unix ms), if one does.
        until_ms: Option<i64>,
    },
    /// A call to this number was abandoned less than 72 hours ago (Ofcom); only
    /// a call that goes to an agent guaranteed to be free may be placed.
    AbandonedRecently {
        /// When the abandoned call happened (Unix ms).
        at_ms: i64,
        /// When the 72 hours end (Unix ms).
        until_ms: i64,
    },
    /// One of the campaign's filters excludes the target (filled by the runtime).
    Filter {
        /// The filter as written in the campaign.
        filter: String,
    },
    /// The number is on a do-not-call list (filled by the runtime).
    DoNotCall {
        /// The list's name.
        list: String,
        /// When the entry was added (Unix ms), if known.
        since_ms: Option<i64>,
    },
    /// The campaign is not running (filled by the runtime).
    CampaignNotRunning {
        /// The campaign's state as the API names it (`paused`, `stopped`...).
        state: String,
    },
}

/// An instant as `2026-12-07 09:00 UTC`, or in a zone as `2026-12-07 09:00 Asia/Shanghai`.
fn when(ms: i64, zone: Option<&str>) -> String {
    let Some(utc) = DateTime::<Utc>::from_timestamp_millis(ms) else {
        return format!("{ms} ms");
    };
    match zone.and_then(|z| z.parse::<Tz>().ok()) {
        Some(tz) => format!("{} {tz}", utc.with_timezone(&tz).format("%Y-%m-%d %H:%M")),
        None => format!("{} UTC", utc.format("%Y-%m-%d %H:%M")),
    }
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocked::Final { state } => write!(f, "the target is final: {}", state.name()),
            Blocked::InProgress => f.write_str("a call to this target is in progress"),
            Blocked::RetryAt { at_ms, after } => match after {
                Some(o) => write!(f, "retry after {o} due at {}", when(*at_ms, None)),
                None => write!(f, "retry due at {}", when(*at_ms, None)),
            },
            Blocked::OutsideWindow { until_ms, zone } => match until_ms {
                Some(t) => write!(
                    f,
                    "outside the call window in the callee's time ({zone}) until {}",
                    when(*t, Some(zone))
                ),
                None => write!(
                    f,
                    "outside the call window in the callee's time ({zone}); no window opens in the coming year"
                ),
            },
            Blocked::AttemptsUsedUp { used, max } => {
                write!(f, "attempts used up: {used} of {max}")
            }
            Blocked::DayLimit {
                used,
                max,
                until_ms,
            } => {
                write!(f, "today's attempts used up: {used} of {max}")?;
                match until_ms {
                    Some(t) => write!(f, "; next at {}", when(*t, None)),
                    None => Ok(()),
                }
            }
            Blocked::AbandonedRecently { at_ms, until_ms } => write!(
                f,
                "a call was abandoned at {}, less than 72 hours ago; no call until {} unless an agent is guaranteed",
                when(*at_ms, None),
                when(*until_ms, None)
            ),
            Blocked::Filter { filter } => write!(f, "excluded by the filter `{filter}`"),
            Blocked::DoNotCall { list, since_ms } => match since_ms {
                Some(t) => write!(f, "on the do-not-call list {list} since {}", when(*t, None)),
                None => write!(f, "on the do-not-call list {list}"),
            },
            Blocked::CampaignNotRunning { state } => {
                write!(f, "the campaign is not running ({state})")
            }
        }
    }
}
