use super::*;
use crate::abandon::FIFTEEN_MINUTES_MS;
use crate::test_support::{campaign, retention_windows};
use proptest::prelude::*;

fn config(mode: PacingMode) -> PacingConfig {
    PacingConfig::for_campaign(&campaign(retention_windows(), Vec::new()), mode)
}

/// A pacer that has seen a campaign like the simulator's: 30 % live, answers
/// after about 9 s, 3-minute talk, 30 s wrap-up.
fn trained(mode: PacingMode) -> Pacer {
    let mut p = Pacer::new(config(mode));
    for i in 0..600 {
        let t = i * 1000;
        p.observe(t, PaceEvent::Dialled);
        match i % 10 {
            0..=2 => p.observe(
                t,
                PaceEvent::Answered {
                    live: true,
                    delay_ms: 6_000 + (i % 7) * 1_000,
                },
            ),
            3 | 4 => p.observe(
                t,
                PaceEvent::Answered {
                    live: false,
                    delay_ms: 13_000,
                },
            ),
            5 => p.observe(t, PaceEvent::Unanswered { after_ms: 2_500 }),
            _ => p.observe(t, PaceEvent::Unanswered { after_ms: 30_000 }),
        }
        if i % 10 == 0 {
            p.observe(
                t,
                PaceEvent::TalkEnded {
                    talk_ms: 60_000 + (i % 50) * 5_000,
                },
            );
            p.observe(t, PaceEvent::WrapUpEnded { wrap_ms: 30_000 });
        }
    }
    p
}

fn snapshot(
    now_ms: i64,
    ready: u32,
    wrapping: Vec<i64>,
    talking: Vec<i64>,
    ringing: Vec<i64>,
) -> PaceSnapshot {
    PaceSnapshot {
        now_ms,
        ready_agents: ready,
        wrapping_up: wrapping,
        talking,
        ringing,
        waiting_answered: 0,
        detecting: 0,
        channels_free: 1_000,
    }
}

#[test]
fn progressive_dials_one_line_per_ready_agent_minus_lines_in_progress() {
    let mut p = Pacer::new(config(PacingMode::Progressive));
    let s = snapshot(0, 5, vec![1_000], vec![10_000; 4], vec![2_000, 3_000]);
    assert_eq!(p.lines_to_dial(&s), 3);
    let s = snapshot(0, 1, vec![], vec![10_000; 4], vec![2_000, 3_000]);
    assert_eq!(p.lines_to_dial(&s), 0);
}

#[test]
fn predictive_dials_ahead_of_agents_finishing_wrap_up() {
    let mut p = trained(PacingMode::Predictive);
    // Nobody ready, nothing ringing: agents finishing wrap-up in 3 s get lines,
    // agents with 25 s of wrap-up left do not yet.
    let soon = snapshot(
        700_000,
        0,
        vec![3_000, 3_000, 3_000],
        vec![60_000; 17],
        vec![],
    );
    let later = snapshot(
        700_000,
        0,
        vec![25_000, 25_000, 25_000],
        vec![60_000; 17],
        vec![],
    );
    let n_soon = p.lines_to_dial(&soon);
    let n_later = p.lines_to_dial(&later);
    assert!(n_soon >= 3, "{n_soon}");
    assert_eq!(n_later, 0);
    // Fresh lines already ringing for them lower the count.
    let covered = snapshot(
        700_000,
        0,
        vec![3_000, 3_000, 3_000],
        vec![60_000; 17],
        vec![500; 12],
    );
    assert!(p.lines_to_dial(&covered) < n_soon);
    assert!(p.dial_level() > 0.0);
}

#[test]
fn lines_under_machine_detection_count_as_people_about_to_wait() {
    // Trained: 3 people for every 2 machines among answers. Two ready agents
    // and four answered lines still under detection: about 2.4 people are
    // coming, so no new line is needed, where without them lines are dialled.
    let mut p = trained(PacingMode::Predictive);
    let open = snapshot(700_000, 2, vec![], vec![60_000; 18], vec![]);
    let answered = PaceSnapshot {
        detecting: 4,
        ..open.clone()
    };
    assert!(p.lines_to_dial(&open) >= 2);
    assert_eq!(p.lines_to_dial(&answered), 0);
    let mut progressive = Pacer::new(config(PacingMode::Progressive));
    assert_eq!(progressive.lines_to_dial(&open), 2);
    assert_eq!(progressive.lines_to_dial(&answered), 0);
}

#[test]
fn predictive_backs_off_when_the_short_window_budget_is_spent() {
    let s = snapshot(2_000_000, 3, vec![4_000, 8_000], vec![60_000; 15], vec![]);
    let mut calm = trained(PacingMode::Predictive);
    let mut burnt = trained(PacingMode::Predictive);
    for i in 0..40 {
        let t = 2_000_000 - FIFTEEN_MINUTES_MS / 2 + i * 1_000;
        calm.observe(t, PaceEvent::Connected);
        burnt.observe(
            t,
            if i % 8 == 0 {
                PaceEvent::Abandoned
            } else {
                PaceEvent::Connected
            },
        );
    }
    let short = burnt
        .ledger()
        .window(FIFTEEN_MINUTES_MS)
        .map(|w| w.rate)
        .unwrap_or(0.0);
    assert!(short > 0.1, "{short}");
    let calm_lines = calm.lines_to_dial(&s);
    let burnt_lines = burnt.lines_to_dial(&s);
    assert!(burnt_lines < calm_lines, "{burnt_lines} vs {calm_lines}");
    // Still at least one line per ready agent (min ratio 1).
    assert!(burnt_lines >= 3);
    assert!(
        predictive::allowed_share(burnt.config(), burnt.ledger())
            < predictive::allowed_share(calm.config(), calm.ledger())
    );
}

#[test]
fn adapt_raises_its_level_while_agents_wait_and_halves_it_on_drops() {
    let mut p = Pacer::new(config(PacingMode::Adapt));
    let idle = snapshot(0, 10, vec![], vec![60_000; 10], vec![]);
    let mut level = 1.0;
    for i in 0..8 {
        let mut s = idle.clone();
        s.now_ms = i * 15_000;
        p.lines_to_dial(&s);
        level = p.adapt.level();
    }
    assert!(level > 2.0, "{level}");
    for i in 0..30 {
        let t = 120_000 + i * 1_000;
        p.observe(
            t,
            if i % 3 == 0 {
                PaceEvent::Connected
            } else {
                PaceEvent::Abandoned
            },
        );
    }
    let mut s = idle.clone();
    s.now_ms = 136_000;
    p.lines_to_dial(&s);
    assert!(
        p.adapt.level() < level / 1.9,
        "{} vs {level}",
        p.adapt.level()
    );
}

#[test]
fn ivr_uses_the_channels_without_agents() {
    let mut p = Pacer::new(config(PacingMode::Ivr));
    let mut s = snapshot(0, 0, vec![], vec![], vec![1_000; 4]);
    s.channels_free = 26;
    assert_eq!(p.lines_to_dial(&s), 26);
    assert_eq!(PacingMode::of_campaign("preview"), None);
    assert_eq!(PacingMode::of_campaign("ivr"), Some(PacingMode::Ivr));
}

fn any_snapshot() -> impl Strategy<Value = PaceSnapshot> {
    (
        0u32..30,
        prop::collection::vec(0i64..40_000, 0..20),
        prop::collection::vec(0i64..900_000, 0..30),
        prop::collection::vec(0i64..40_000, 0..60),
        0u32..5,
        0u32..40,
    )
        .prop_map(
            |(ready, wrapping_up, talking, ringing, waiting, channels)| PaceSnapshot {
                now_ms: 1_000_000,
                ready_agents: ready,
                wrapping_up,
                talking,
                ringing,
                waiting_answered: waiting,
                detecting: 0,
                channels_free: channels,
            },
        )
}

proptest! {
    #[test]
    fn no_mode_exceeds_the_channels_or_the_max_ratio(s in any_snapshot()) {
        for mode in [PacingMode::Progressive, PacingMode::Predictive, PacingMode::Adapt] {
            let mut p = trained(mode);
            let n = p.lines_to_dial(&s);
            prop_assert!(n <= s.channels_free, "{mode:?}: {n} > {}", s.channels_free);
            let allowed = (2.5 * f64::from(s.agents())).floor() as u32;
            prop_assert!(n == 0 || s.calls_in_progress() + n <= allowed, "{mode:?}: {n}");
        }
        let mut ivr = Pacer::new(config(PacingMode::Ivr));
        prop_assert!(ivr.lines_to_dial(&s) <= s.channels_free);
    }

    #[test]
    fn progressive_never_exceeds_the_ready_agents(s in any_snapshot()) {
        let mut p = Pacer::new(config(PacingMode::Progressive));
        prop_assert!(p.lines_to_dial(&s) <= s.ready_agents);
    }
}
