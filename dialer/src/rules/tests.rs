use super::*;
use crate::test_support::{at, campaign, cn_calendar, retention_windows};
use dialect_lang::ast::{DayType, Outcome};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn rules(max_attempts: Option<u32>, max_per_day: Option<u32>) -> Rules {
    let c = campaign(
        retention_windows(),
        vec![
            (Outcome::Busy, Some((30 * MIN, 2))),
            (Outcome::NoAnswer, Some((3 * HOUR, 2))),
            (Outcome::Fax, None),
            (Outcome::Invalid, None),
        ],
    );
    Rules::new(
        &c,
        Some(cn_calendar()),
        max_attempts,
        max_per_day,
        ZoneTable::default(),
    )
}

fn target() -> Target {
    Target::new(7, "13800138000", Vec::new())
}

/// Thursday 8 October 2026, 10:05 in Shanghai: inside the morning window.
fn morning() -> i64 {
    at("Asia/Shanghai", 2026, 10, 8, 10, 5)
}

#[test]
fn each_outcome_retries_at_its_own_interval_until_its_maximum() {
    let r = rules(None, None);
    let mut t = target();
    let t0 = morning();
    r.record(&mut t, CallOutcome::Busy, t0);
    assert_eq!(t.state, TargetState::Pending);
    assert_eq!(t.next_attempt_ms, Some(t0 + 30 * MIN));
    assert_eq!(
        r.check(&t, t0 + 10 * MIN, false),
        Err(Blocked::RetryAt {
            at_ms: t0 + 30 * MIN,
            after: Some(CallOutcome::Busy)
        })
    );
    assert_eq!(r.check(&t, t0 + 30 * MIN, false), Ok(()));
    r.record(&mut t, CallOutcome::NoAnswer, t0 + 30 * MIN);
    assert_eq!(t.next_attempt_ms, Some(t0 + 30 * MIN + 3 * HOUR));
    r.record(&mut t, CallOutcome::Busy, t0 + 4 * HOUR);
    assert_eq!(t.next_attempt_ms, Some(t0 + 4 * HOUR + 30 * MIN));
    // `max 2` allows two retries after busy: the third busy ends the target.
    r.record(&mut t, CallOutcome::Busy, t0 + 5 * HOUR);
    assert_eq!(t.state, TargetState::Exhausted);
    assert_eq!(t.next_attempt_ms, None);
    assert_eq!(t.attempts.total, 4);
    assert_eq!(t.attempts.of(CallOutcome::Busy), 3);
    assert_eq!(
        r.check(&t, t0 + 6 * HOUR, false),
        Err(Blocked::Final {
            state: TargetState::Exhausted
        })
    );
}

#[test]
fn never_rules_defaults_and_final_outcomes() {
    let r = rules(None, None);
    let t0 = morning();
    let mut fax = target();
    r.record(&mut fax, CallOutcome::Fax, t0);
    assert_eq!(fax.state, TargetState::Exhausted);
    let mut invalid = target();
    r.record(&mut invalid, CallOutcome::Invalid, t0);
    assert_eq!(invalid.state, TargetState::Invalid);
    let mut person = target();
    r.record(&mut person, CallOutcome::Person, t0);
    assert_eq!(person.state, TargetState::Completed);
    // No rule for machine in this campaign: the default, every 4 h once.
    let mut machine = target();
    r.record(&mut machine, CallOutcome::Machine, t0);
    assert_eq!(machine.next_attempt_ms, Some(t0 + 4 * HOUR));
    r.record(&mut machine, CallOutcome::Machine, t0 + 4 * HOUR);
    assert_eq!(machine.state, TargetState::Exhausted);
    // Rejected without a rule is not called again.
    let mut rejected = target();
    r.record(&mut rejected, CallOutcome::Rejected, t0);
    assert_eq!(rejected.state, TargetState::Exhausted);
    // A target put on do-not-call during its call stays there.
    let mut dnc = target();
    dnc.state = TargetState::DoNotCall;
    r.record(&mut dnc, CallOutcome::Busy, t0);
    assert_eq!(dnc.state, TargetState::DoNotCall);
    assert_eq!(dnc.next_attempt_ms, None);
}

#[test]
fn network_failures_back_off_and_do_not_count() {
    let r = rules(Some(1), None);
    let mut t = target();
    let t0 = morning();
    r.record(&mut t, CallOutcome::NetworkFailure, t0);
    assert_eq!(t.next_attempt_ms, Some(t0 + MIN));
    r.record(&mut t, CallOutcome::NetworkFailure, t0 + MIN);
    assert_eq!(t.next_attempt_ms, Some(t0 + 3 * MIN));
    r.record(&mut t, CallOutcome::NetworkFailure, t0 + 3 * MIN);
    assert_eq!(t.next_attempt_ms, Some(t0 + 7 * MIN));
    assert_eq!(t.attempts.total, 0);
    assert_eq!(t.state, TargetState::Pending);
    assert_eq!(r.check(&t, t0 + 7 * MIN, false), Ok(()));
    for i in 0..10 {
        r.record(&mut t, CallOutcome::NetworkFailure, t0 + i * HOUR);
    }
    assert_eq!(
        t.next_attempt_ms,
        Some(t0 + 9 * HOUR + NETWORK_RETRY_MAX_MS)
    );
    // The first counted attempt uses up `max attempts 1`.
    r.record(&mut t, CallOutcome::Busy, t0 + 10 * HOUR);
    assert_eq!(t.state, TargetState::Exhausted);
    assert_eq!(t.attempts.network_failures_in_row, 0);
}

#[test]
fn max_attempts_ends_the_target() {
    let r = rules(Some(2), None);
    let mut t = target();
    let t0 = morning();
    r.record(&mut t, CallOutcome::NoAnswer, t0);
    assert_eq!(t.state, TargetState::Pending);
    r.record(&mut t, CallOutcome::Busy, t0 + 3 * HOUR);
    assert_eq!(t.state, TargetState::Exhausted);
    // An operator reopening the target still meets the limit.
    t.state = TargetState::Pending;
    assert_eq!(
        r.check(&t, t0 + 5 * HOUR, false),
        Err(Blocked::AttemptsUsedUp { used: 2, max: 2 })
    );
    assert_eq!(r.next_open_ms(&t, t0 + 5 * HOUR), None);
}

#[test]
fn the_day_limit_counts_the_callee_s_local_day_across_midnight() {
    // A callee in New York, the campaign (and the server) in Shanghai terms.
    let c = campaign(
        vec![(DayType::Workday, vec![(8 * 3600, 21 * 3600)])],
        vec![(Outcome::NoAnswer, Some((10 * MIN, 9)))],
    );
    let r = Rules::new(&c, None, None, Some(2), ZoneTable::default());
    let mut t = target().with_timezone("America/New_York");
    let first = at("America/New_York", 2026, 12, 7, 20, 0);
    r.record(&mut t, CallOutcome::NoAnswer, first);
    assert_eq!(t.next_attempt_ms, Some(first + 10 * MIN));
    // 20:30 in New York is already 8 December in UTC and in Shanghai; it is
    // still 7 December for the callee, so this is the second attempt today.
    let second = at("America/New_York", 2026, 12, 7, 20, 30);
    r.record(&mut t, CallOutcome::NoAnswer, second);
    assert_eq!(t.attempts.today, 2);
    let tomorrow = at("America/New_York", 2026, 12, 8, 8, 0);
    assert_eq!(t.next_attempt_ms, Some(tomorrow));
    let late = at("America/New_York", 2026, 12, 7, 20, 50);
    assert_eq!(
        r.check(&t, late, false),
        Err(Blocked::DayLimit {
            used: 2,
            max: 2,
            until_ms: Some(tomorrow)
        })
    );
    assert_eq!(r.next_open_ms(&t, late), Some(tomorrow));
    assert_eq!(r.check(&t, tomorrow, false), Ok(()));
    r.record(&mut t, CallOutcome::NoAnswer, tomorrow);
    assert_eq!(t.attempts.today, 1);
    assert_eq!(t.attempts.total, 3);
}

#[test]
fn no_call_for_72_hours_after_an_abandoned_call_unless_an_agent_is_guaranteed() {
    let r = rules(None, None);
    let mut t = target();
    let t0 = morning();
    r.record(&mut t, CallOutcome::Abandoned, t0);
    assert_eq!(t.last_abandoned_ms, Some(t0));
    let later = t0 + 5 * HOUR;
    assert_eq!(
        r.check(&t, later, false),
        Err(Blocked::AbandonedRecently {
            at_ms: t0,
            until_ms: t0 + 72 * HOUR
        })
    );
    assert_eq!(r.check(&t, later, true), Ok(()));
    // 72 h after 10:05 on Thursday is 10:05 on Sunday, inside the weekend window.
    assert_eq!(r.next_open_ms(&t, later), Some(t0 + 72 * HOUR));
    assert_eq!(r.check(&t, t0 + 72 * HOUR, false), Ok(()));
}

#[test]
fn outside_the_window_the_target_waits_for_the_next_opening() {
    let r = rules(None, None);
    let t = target();
    let noon = at("Asia/Shanghai", 2026, 10, 8, 12, 30);
    assert_eq!(
        r.check(&t, noon, false),
        Err(Blocked::OutsideWindow {
            until_ms: Some(at("Asia/Shanghai", 2026, 10, 8, 15, 0)),
            zone: "Asia/Shanghai".into()
        })
    );
    let holiday = at("Asia/Shanghai", 2026, 10, 2, 11, 0);
    assert_eq!(
        r.next_open_ms(&t, holiday),
        Some(at("Asia/Shanghai", 2026, 10, 8, 10, 0))
    );
    let mut dialling = target();
    dialling.state = TargetState::Dialling;
    assert_eq!(
        r.check(&dialling, morning(), false),
        Err(Blocked::InProgress)
    );
    // `blocks` lists every reason, the most fundamental first.
    let mut busy = target();
    r.record(
        &mut busy,
        CallOutcome::Busy,
        at("Asia/Shanghai", 2026, 10, 8, 12, 10),
    );
    let all = r.blocks(&busy, noon, false);
    assert!(
        matches!(
            all.as_slice(),
            [Blocked::RetryAt { .. }, Blocked::OutsideWindow { .. }]
        ),
        "{all:?}"
    );
}

#[test]
fn every_blocked_reason_explains_itself() {
    let t = at("UTC", 2026, 12, 7, 9, 0);
    let cases = [
        (
            Blocked::Final {
                state: TargetState::Completed,
            },
            "the target is final: completed",
            "final",
        ),
        (
            Blocked::InProgress,
            "a call to this target is in progress",
            "in_progress",
        ),
        (
            Blocked::RetryAt {
                at_ms: t,
                after: Some(CallOutcome::NoAnswer),
            },
            "retry after no answer due at 2026-12-07 09:00 UTC",
            "retry_at",
        ),
        (
            Blocked::OutsideWindow {
                until_ms: Some(t),
                zone: "Asia/Shanghai".into(),
            },
            "outside the call window in the callee's time (Asia/Shanghai) until 2026-12-07 17:00 Asia/Shanghai",
            "outside_window",
        ),
        (
            Blocked::OutsideWindow {
                until_ms: None,
                zone: "UTC".into(),
            },
            "outside the call window in the callee's time (UTC); no window opens in the coming year",
            "outside_window",
        ),
        (
            Blocked::AttemptsUsedUp { used: 3, max: 3 },
            "attempts used up: 3 of 3",
            "attempts_used_up",
        ),
        (
            Blocked::DayLimit {
                used: 2,
                max: 2,
                until_ms: Some(t),
            },
            "today's attempts used up: 2 of 2; next at 2026-12-07 09:00 UTC",
            "day_limit",
        ),
        (
            Blocked::AbandonedRecently {
                at_ms: t,
                until_ms: t + 72 * HOUR,
            },
            "a call was abandoned at 2026-12-07 09:00 UTC, less than 72 hours ago; no call until 2026-12-10 09:00 UTC unless an agent is guaranteed",
            "abandoned_recently",
        ),
        (
            Blocked::Filter {
                filter: "value >= 50".into(),
            },
            "excluded by the filter `value >= 50`",
            "filter",
        ),
        (
            Blocked::DoNotCall {
                list: "do_not_call".into(),
                since_ms: Some(t),
            },
            "on the do-not-call list do_not_call since 2026-12-07 09:00 UTC",
            "do_not_call",
        ),
        (
            Blocked::CampaignNotRunning {
                state: "paused".into(),
            },
            "the campaign is not running (paused)",
            "campaign_not_running",
        ),
    ];
    for (blocked, sentence, reason) in cases {
        assert_eq!(blocked.to_string(), sentence);
        let json = serde_json::to_value(&blocked).unwrap();
        assert_eq!(json["reason"], reason, "{json}");
    }
}

#[test]
fn targets_round_trip_through_json() {
    let r = rules(Some(5), Some(2));
    let mut t = Target::new(
        1,
        "13800138000",
        vec![dialect_compiler::value::Value::Text("张三".into())],
    )
    .with_timezone("Asia/Shanghai");
    r.record(&mut t, CallOutcome::Busy, morning());
    let json = serde_json::to_string(&t).unwrap();
    let back: Target = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
}
