//! The ADAPT baseline, after VICIdial's `AST_VDadapt.pl`: a feedback loop on a
//! dial level, not a model. Every 15 s:
//! `mul = (avg ready agents − avg waiting calls + diff_target) / avg agents`,
//! `level = level × (1 + mul × intensity)`, clamped to `[1, max ratio]`. More
//! than 20 answered calls in the last minute with over half dropped halves the
//! level; so does a rolling abandon rate over the cap (ADAPT_AVERAGE). The
//! dialer then keeps `ceil(level × agents)` calls in progress (ringing,
//! waiting and talking), as VICIdial's auto-dialer does.

use std::collections::VecDeque;

use crate::abandon::AbandonLedger;
use crate::pacing::{PaceSnapshot, PacingConfig};

/// The baseline's knobs, with VICIdial's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptConfig {
    /// How often the level is recomputed, ms (15 s).
    pub interval_ms: i64,
    /// Scales the level's steps (VICIdial's adaptive intensity; 1 = as computed).
    pub intensity: f64,
    /// Ready agents VICIdial aims to keep waiting (`adaptive_dl_diff_target`).
    pub diff_target: f64,
}

impl Default for AdaptConfig {
    fn default() -> AdaptConfig {
        AdaptConfig {
            interval_ms: 15_000,
            intensity: 1.0,
            diff_target: 0.0,
        }
    }
}

/// The loop's state between ticks.
#[derive(Debug, Clone)]
pub struct AdaptState {
    level: f64,
    next_update_ms: Option<i64>,
    samples: u32,
    sum_ready: f64,
    sum_waiting: f64,
    sum_agents: f64,
    /// Answered calls of the last minute: (time, dropped).
    recent: VecDeque<(i64, bool)>,
}

impl AdaptState {
    /// The loop at level 1 (or `min ratio` if higher).
    pub fn new(config: &PacingConfig) -> AdaptState {
        AdaptState {
            level: config.min_ratio.max(1.0),
            next_update_ms: None,
            samples: 0,
            sum_ready: 0.0,
            sum_waiting: 0.0,
            sum_agents: 0.0,
            recent: VecDeque::new(),
        }
    }

    /// The current dial level.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// A call reached an agent.
    pub fn answered(&mut self, at_ms: i64) {
        self.recent.push_back((at_ms, false));
    }

    /// A call was dropped.
    pub fn dropped(&mut self, at_ms: i64) {
        self.recent.push_back((at_ms, true));
    }

    /// Samples the tick, recomputes the level when due, and returns the lines
    /// that bring the calls in progress up to `ceil(level × agents)`.
    pub fn lines(
        &mut self,
        config: &PacingConfig,
        ledger: &AbandonLedger,
        s: &PaceSnapshot,
    ) -> u32 {
        let now = s.now_ms;
        let next = *self
            .next_update_ms
            .get_or_insert(now + config.adapt.interval_ms);
        self.samples += 1;
        self.sum_ready += f64::from(s.ready_agents);
        self.sum_waiting += f64::from(s.waiting_answered);
        self.sum_agents += f64::from(s.agents());
        if now >= next {
            self.update(config, ledger, now);
            self.next_update_ms = Some(now + config.adapt.interval_ms);
        }
        let goal = (self.level * f64::from(s.agents())).ceil() as u32;
        goal.saturating_sub(s.calls_in_progress())
    }

    fn update(&mut self, config: &PacingConfig, ledger: &AbandonLedger, now: i64) {
        let n = f64::from(self.samples.max(1));
        let (ready, waiting, agents) = (
            self.sum_ready / n,
            self.sum_waiting / n,
            self.sum_agents / n,
        );
        self.samples = 0;
        self.sum_ready = 0.0;
        self.sum_waiting = 0.0;
        self.sum_agents = 0.0;
        let max = config.max_ratio.max(1.0);
        if agents > 0.0 {
            let mul = (ready - waiting + config.adapt.diff_target) / agents;
            self.level = (self.level * (1.0 + mul * config.adapt.intensity)).clamp(1.0, max);
        }
        while self.recent.front().is_some_and(|&(t, _)| t < now - 60_000) {
            self.recent.pop_front();
        }
        let answered = self.recent.len();
        let dropped = self.recent.iter().filter(|r| r.1).count();
        if answered > 20 && dropped * 2 > answered {
            self.level = (self.level / 2.0).max(1.0);
        }
        if ledger.rolling().rate > config.abandon.cap {
            self.level = (self.level / 2.0).max(1.0);
        }
    }
}
