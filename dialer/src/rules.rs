//! The campaign's rules applied to one target: what an attempt's outcome does to
//! it ([`Rules::record`]), whether it may be dialled now and if not why
//! ([`Rules::check`]), and when it next may be ([`Rules::next_open_ms`]).
//!
//! Counting, as the language guide (Campaigns, retry) tells analysts:
//! - every attempt counts, except a network failure (503, time-outs at the
//!   trunk), which is retried after 1 minute, doubling up to 30 minutes, and
//!   never uses up the number's attempts;
//! - an outcome's `retry OUTCOME every D max N` allows N retries after that
//!   outcome, D apart; the (N+1)th such outcome ends the target (`Exhausted`);
//!   `never` ends it at the first; outcomes without a rule use
//!   [`default_retry`];
//! - `max attempts N` ends the target after N counted attempts; `max attempts
//!   per day N` holds it until the callee's next local day's window;
//! - a person reached completes the target, an invalid number ends it as invalid;
//! - after an abandoned call, the number is not called for 72 hours unless the
//!   call goes to an agent who is guaranteed to be free.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use dialect_compiler::calendar::{Calendar, local_in};
use dialect_compiler::ir::CampaignIr;

use crate::blocked::Blocked;
use crate::outcome::CallOutcome;
use crate::target::{Target, TargetState};
use crate::window::{CallWindows, ZoneTable};

/// How long no call may follow an abandoned one (Ofcom): 72 hours.
pub const ABANDON_QUIET_MS: i64 = 72 * 3_600_000;
/// The first delay after a network failure.
pub const NETWORK_RETRY_MS: i64 = 60_000;
/// The longest delay after network failures in a row.
pub const NETWORK_RETRY_MAX_MS: i64 = 30 * 60_000;

/// What an outcome's retry rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryRule {
    /// Try again `interval_ms` later, at most `max` times after this outcome.
    Every {
        /// The delay before the retry.
        interval_ms: i64,
        /// Retries allowed after this outcome.
        max: u32,
    },
    /// The outcome ends the target.
    Never,
}

/// The rule for an outcome the campaign wrote no `retry` line for: busy numbers
/// are tried again soon (the person is there), unanswered ones later in the
/// day, a machine once more some hours later, an abandoned person after an
/// hour (and only once the 72-hour rule allows); a fax, a rejection or an
/// invalid number is not called again.
pub fn default_retry(outcome: CallOutcome) -> RetryRule {
    match outcome {
        CallOutcome::Busy => RetryRule::Every {
            interval_ms: 10 * 60_000,
            max: 3,
        },
        CallOutcome::NoAnswer => RetryRule::Every {
            interval_ms: 60 * 60_000,
            max: 3,
        },
        CallOutcome::Machine => RetryRule::Every {
            interval_ms: 4 * 60 * 60_000,
            max: 1,
        },
        CallOutcome::Abandoned => RetryRule::Every {
            interval_ms: 60 * 60_000,
            max: 2,
        },
        CallOutcome::NetworkFailure => RetryRule::Every {
            interval_ms: NETWORK_RETRY_MS,
            max: u32::MAX,
        },
        CallOutcome::Person | CallOutcome::Fax | CallOutcome::Invalid | CallOutcome::Rejected => {
            RetryRule::Never
        }
    }
}

/// A campaign's retry rules, limits and windows, compiled once per campaign.
#[derive(Debug, Clone)]
pub struct Rules {
    retries: BTreeMap<CallOutcome, RetryRule>,
    max_attempts: Option<u32>,
    max_per_day: Option<u32>,
    windows: CallWindows,
    zones: ZoneTable,
}

impl Rules {
    /// The rules of a compiled campaign. `max_attempts` and `max_per_day` are the
    /// campaign's `max attempts N` and `max attempts per day N`; `zones` the
    /// configured number-prefix zones.
    pub fn new(
        ir: &CampaignIr,
        calendar: Option<Calendar>,
        max_attempts: Option<u32>,
        max_per_day: Option<u32>,
        zones: ZoneTable,
    ) -> Rules {
        let retries = ir
            .retries
            .iter()
            .map(|(outcome, rule)| {
                let rule = match rule {
                    Some((interval_ms, max)) => RetryRule::Every {
                        interval_ms: *interval_ms,
                        max: *max,
                    },
                    None => RetryRule::Never,
                };
                (CallOutcome::from(*outcome), rule)
            })
            .collect();
        Rules {
            retries,
            max_attempts,
            max_per_day,
            windows: CallWindows::new(ir, calendar),
            zones,
        }
    }

    /// The campaign's windows.
    pub fn windows(&self) -> &CallWindows {
        &self.windows
    }

    /// The rule that applies after an outcome: the campaign's, else the default.
    pub fn retry_rule(&self, outcome: CallOutcome) -> RetryRule {
        self.retries
            .get(&outcome)
            .copied()
            .unwrap_or_else(|| default_retry(outcome))
    }

    /// The callee's zone.
    pub fn zone_of(&self, t: &Target) -> Tz {
        self.windows
            .zone_for(t.timezone.as_deref(), &t.phone, &self.zones)
    }

    /// Applies an attempt's outcome, ended at `at_ms`: counters, the retry rule,
    /// the limits, and the target's next state and next-attempt time.
    pub fn record(&self, t: &mut Target, outcome: CallOutcome, at_ms: i64) {
        t.last_attempt_ms = Some(at_ms);
        t.last_outcome = Some(outcome);
        *t.attempts.per_outcome.entry(outcome).or_insert(0) += 1;
        let zone = self.zone_of(t);
        let keep_final = t.state.is_final();
        let set = |t: &mut Target, state: TargetState, next: Option<i64>| {
            if !keep_final {
                t.state = state;
            }
            t.next_attempt_ms = if t.state.is_final() { None } else { next };
        };
        if outcome == CallOutcome::NetworkFailure {
            let n = t.attempts.network_failures_in_row.min(16);
            t.attempts.network_failures_in_row += 1;
            let delay = (NETWORK_RETRY_MS << n).min(NETWORK_RETRY_MAX_MS);
            set(t, TargetState::Pending, Some(at_ms + delay));
            return;
        }
        t.attempts.network_failures_in_row = 0;
        t.attempts.total += 1;
        let (day, _) = local_in(zone, at_ms);
        if t.attempts.today_day == Some(day) {
            t.attempts.today += 1;
        } else {
            t.attempts.today_day = Some(day);
            t.attempts.today = 1;
        }
        match outcome {
            CallOutcome::Person => return set(t, TargetState::Completed, None),
            CallOutcome::Invalid => return set(t, TargetState::Invalid, None),
            CallOutcome::Abandoned => t.last_abandoned_ms = Some(at_ms),
            _ => {}
        }
        let mut next = match self.retry_rule(outcome) {
            RetryRule::Never => return set(t, TargetState::Exhausted, None),
            RetryRule::Every { interval_ms, max } => {
                if t.attempts.of(outcome) > max {
                    return set(t, TargetState::Exhausted, None);
                }
                at_ms + interval_ms
            }
        };
        if self.max_attempts.is_some_and(|m| t.attempts.total >= m) {
            return set(t, TargetState::Exhausted, None);
        }
        if self.max_per_day.is_some_and(|m| t.attempts.today >= m) {
            let midnight = CallWindows::next_local_midnight(zone, at_ms);
            let tomorrow = self.windows.next_open(zone, midnight).unwrap_or(midnight);
            next = next.max(tomorrow);
        }
        set(t, TargetState::Pending, Some(next));
    }

    /// Whether the target may be dialled at `now_ms`, and if not the first reason
    /// (in the order: final, in progress, attempts, 72-hour rule, day limit, retry
    /// time, window). `agent_guaranteed`: the call goes to an agent reserved for
    /// it, which lifts the 72-hour rule. Filters and lists are the runtime's.
    pub fn check(&self, t: &Target, now_ms: i64, agent_guaranteed: bool) -> Result<(), Blocked> {
        match self.blocks(t, now_ms, agent_guaranteed).into_iter().next() {
            Some(b) => Err(b),
            None => Ok(()),
        }
    }

    /// Every reason that holds the target at `now_ms`, most fundamental first:
    /// the full answer to "why isn't this lead dialling".
    pub fn blocks(&self, t: &Target, now_ms: i64, agent_guaranteed: bool) -> Vec<Blocked> {
        let mut out = Vec::new();
        if t.state.is_final() {
            out.push(Blocked::Final { state: t.state });
        }
        if t.state == TargetState::Dialling {
            out.push(Blocked::InProgress);
        }
        if let Some(max) = self.max_attempts
            && t.attempts.total >= max
        {
            out.push(Blocked::AttemptsUsedUp {
                used: t.attempts.total,
                max,
            });
        }
        if !agent_guaranteed
            && let Some(at) = t.last_abandoned_ms
            && now_ms < at + ABANDON_QUIET_MS
        {
            out.push(Blocked::AbandonedRecently {
                at_ms: at,
                until_ms: at + ABANDON_QUIET_MS,
            });
        }
        let zone = self.zone_of(t);
        if let Some(max) = self.max_per_day {
            let (day, _) = local_in(zone, now_ms);
            let used = t.attempts.on_day(day);
            if used >= max {
                let midnight = CallWindows::next_local_midnight(zone, now_ms);
                out.push(Blocked::DayLimit {
                    used,
                    max,
                    until_ms: self.windows.next_open(zone, midnight),
                });
            }
        }
        if let Some(at) = t.next_attempt_ms
            && now_ms < at
        {
            out.push(Blocked::RetryAt {
                at_ms: at,
                after: t.last_outcome,
            });
        }
        if !self.windows.is_open(zone, now_ms) {
            out.push(Blocked::OutsideWindow {
                until_ms: self.windows.next_open(zone, now_ms),
                zone: zone.name().to_string(),
            });
        }
        out
    }

    /// The first instant at or after `now_ms` when [`Rules::check`] (without a
    /// guaranteed agent) would let the target be dialled; `None` when it never will.
    pub fn next_open_ms(&self, t: &Target, now_ms: i64) -> Option<i64> {
        if t.state.is_final() || t.state == TargetState::Dialling {
            return None;
        }
        if self.max_attempts.is_some_and(|m| t.attempts.total >= m) {
            return None;
        }
        let zone = self.zone_of(t);
        let mut at = now_ms;
        if let Some(next) = t.next_attempt_ms {
            at = at.max(next);
        }
        if let Some(abandoned) = t.last_abandoned_ms {
            at = at.max(abandoned + ABANDON_QUIET_MS);
        }
        // At most two rounds: a day limit moves to the next local day, whose
        // count starts at zero.
        for _ in 0..3 {
            at = self.windows.next_open(zone, at)?;
            match self.max_per_day {
                Some(max) if t.attempts.on_day(local_in(zone, at).0) >= max => {
                    at = CallWindows::next_local_midnight(zone, at);
                }
                _ => return Some(at),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
