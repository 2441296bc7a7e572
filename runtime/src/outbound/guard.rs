//! The spending guard: calls placed and minutes talked by each account in the
//! last hour, against its limit, with an alarm before the limit.
//!
//! A hijacked agent phone or a flow that transfers in a loop spends the
//! operator's money one call at a time; the carrier's bill arrives a month
//! later. The guard bounds what any one account can spend in an hour and says
//! so (the alarm) well before it gets there. Time is passed in (Unix ms), so
//! the guard is tested on made-up times.

use std::collections::{HashMap, VecDeque};

use crate::config::HourlyLimit;

const HOUR_MS: i64 = 3_600_000;

/// Who pays for a call, for the guard.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    /// An agent: REFER, desktop dial, transfer, consultation.
    Agent(String),
    /// All flows' `transfer number`.
    Flows,
    /// Every callback the ACD places, together.
    Callbacks,
    /// One campaign's dialing, by the campaign's name.
    Campaign(String),
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::Agent(id) => write!(f, "agent {id}"),
            Account::Flows => f.write_str("flows"),
            Account::Callbacks => f.write_str("callbacks"),
            Account::Campaign(name) => write!(f, "campaign {name}"),
        }
    }
}

/// Which of its hourly limits an account has reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardRefusal {
    /// The account placed its hourly number of calls.
    Calls {
        /// Calls an hour, as configured in `outbound.guard`.
        limit: u32,
    },
    /// The account talked its hourly minutes.
    Minutes {
        /// Minutes an hour, as configured in `outbound.guard`.
        limit: u32,
    },
}

/// One account's last hour.
#[derive(Debug, Default)]
struct Window {
    /// When each call of the last hour was placed.
    placed: VecDeque<i64>,
    /// Ended calls of the last hour: when each ended and its talk time in ms.
    talked: VecDeque<(i64, i64)>,
    /// Answered calls in progress: call id and when each was answered.
    live: HashMap<u64, i64>,
    /// When the alarm was last raised (one an hour).
    alarmed_ms: Option<i64>,
}

impl Window {
    fn forget_before(&mut self, cutoff: i64) {
        while self.placed.front().is_some_and(|t| *t <= cutoff) {
            self.placed.pop_front();
        }
        while self.talked.front().is_some_and(|(t, _)| *t <= cutoff) {
            self.talked.pop_front();
        }
    }

    /// Talk time in the last hour, calls in progress included (their part
    /// within the hour).
    fn talk_ms(&self, now: i64) -> i64 {
        let cutoff = now - HOUR_MS;
        let ended: i64 = self.talked.iter().map(|(_, ms)| *ms).sum();
        let live: i64 = self.live.values().map(|at| now - (*at).max(cutoff)).sum();
        ended + live.max(0)
    }
}

/// What an account used, when an alarm is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Calls placed in the last hour.
    pub calls: u32,
    /// Whole minutes talked in the last hour.
    pub minutes: u32,
}

/// The guard over every account.
#[derive(Debug)]
pub struct Guard {
    windows: HashMap<Account, Window>,
    alarm_at: f64,
}

impl Guard {
    /// A guard raising its alarm at `alarm_at` (0–1) of a limit.
    pub fn new(alarm_at: f64) -> Guard {
        Guard {
            windows: HashMap::new(),
            alarm_at,
        }
    }

    /// Counts a call about to be placed by `account`, unless that would pass
    /// `limit`. `Ok(Some(usage))` asks the caller to raise the alarm.
    pub fn place(
        &mut self,
        account: &Account,
        limit: HourlyLimit,
        now: i64,
    ) -> Result<Option<Usage>, GuardRefusal> {
        let w = self.windows.entry(account.clone()).or_default();
        w.forget_before(now - HOUR_MS);
        let calls = w.placed.len() as u32;
        let talk_ms = w.talk_ms(now);
        if calls >= limit.calls {
            return Err(GuardRefusal::Calls { limit: limit.calls });
        }
        if talk_ms >= i64::from(limit.minutes) * 60_000 {
            return Err(GuardRefusal::Minutes {
                limit: limit.minutes,
            });
        }
        w.placed.push_back(now);
        let calls = calls + 1;
        let near = f64::from(calls) >= self.alarm_at * f64::from(limit.calls)
            || talk_ms as f64 >= self.alarm_at * f64::from(limit.minutes) * 60_000.0;
        let quiet = w.alarmed_ms.is_none_or(|t| now - t >= HOUR_MS);
        if near && quiet {
            w.alarmed_ms = Some(now);
            return Ok(Some(Usage {
                calls,
                minutes: (talk_ms / 60_000) as u32,
            }));
        }
        Ok(None)
    }

    /// The call `call` of `account` was answered at `now`: its talk time counts
    /// from here.
    pub fn answered(&mut self, account: &Account, call: u64, now: i64) {
        self.windows
            .entry(account.clone())
            .or_default()
            .live
            .insert(call, now);
    }

    /// The call `call` of `account` ended at `now`.
    pub fn ended(&mut self, account: &Account, call: u64, now: i64) {
        let Some(w) = self.windows.get_mut(account) else {
            return;
        };
        if let Some(at) = w.live.remove(&call) {
            w.talked.push_back((now, (now - at).max(0)));
        }
        w.forget_before(now - HOUR_MS);
        if w.placed.is_empty() && w.talked.is_empty() && w.live.is_empty() && w.alarmed_ms.is_none()
        {
            self.windows.remove(account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: HourlyLimit = HourlyLimit {
        calls: 5,
        minutes: 10,
    };

    #[test]
    fn an_account_places_its_hourly_calls_then_waits_for_the_hour_to_pass() {
        let mut g = Guard::new(0.8);
        let a = Account::Agent("7001".into());
        for i in 0..5 {
            assert!(g.place(&a, LIMIT, i * 1000).is_ok(), "call {i}");
        }
        assert_eq!(
            g.place(&a, LIMIT, 10_000),
            Err(GuardRefusal::Calls { limit: 5 })
        );
        // Other accounts are not held back.
        assert!(
            g.place(&Account::Agent("7002".into()), LIMIT, 10_000)
                .is_ok()
        );
        // An hour after the first call, one more fits.
        assert!(g.place(&a, LIMIT, HOUR_MS + 1).is_ok());
        assert!(g.place(&a, LIMIT, HOUR_MS + 2).is_err());
    }

    #[test]
    fn minutes_count_calls_in_progress() {
        let mut g = Guard::new(0.8);
        let a = Account::Flows;
        g.place(&a, LIMIT, 0).unwrap();
        g.answered(&a, 1, 0);
        // Ten minutes into a call still going on: no more calls.
        assert_eq!(
            g.place(&a, LIMIT, 10 * 60_000),
            Err(GuardRefusal::Minutes { limit: 10 })
        );
        g.ended(&a, 1, 10 * 60_000);
        assert!(
            g.place(&a, LIMIT, 10 * 60_000 + 1).is_err(),
            "ended minutes count too"
        );
        // An hour after the call ended, its minutes no longer count.
        assert!(g.place(&a, LIMIT, 70 * 60_000 + 1).is_ok());
    }

    #[test]
    fn the_alarm_is_raised_once_an_hour_at_its_share() {
        let mut g = Guard::new(0.8);
        let a = Account::Callbacks;
        let alarms: Vec<bool> = (0..5)
            .map(|i| g.place(&a, LIMIT, i).unwrap().is_some())
            .collect();
        assert_eq!(
            alarms,
            [false, false, false, true, false],
            "at 4 of 5 calls, once"
        );
    }
}
