//! Estimated waiting time (Q6): the estimate the ACD announces and its rules read
//! (`estimated_wait`), the ACD's earlier queue-length estimator, and Asterisk's as
//! a baseline for the simulator.
//!
//! The announced estimate is [`LearnedBlend`] (module `blend`): four delay
//! predictors after Ibrahim & Whitt (queue length with departures, the same with
//! departures by age of wait ([`DepartureHazard`], module `hazard`), head of
//! line, last to enter service) corrected and chosen by position from the waits
//! of the calls the queue answered. Its module doc says why a blend: callers who leave
//! ahead of a caller (overflow, abandonment, maximum wait, keys) make the
//! queue move faster than its agents alone would, in ways that depend on the
//! queue's own rules, and no single predictor follows all of them.
//!
//! The earlier estimator, still computed for comparison (the simulator reports
//! it as `queue length`), is the queue-length estimator with abandonment of Whitt
//! ("Predicting queueing delays", Management Science 1999) and Ibrahim & Whitt
//! ("Real-time delay estimation in overloaded multiserver queues with
//! abandonments", Management Science 2009). A caller at position `k` (1 = next)
//! moves up one place each time an agent frees up (rate `r`, the queue's service
//! rate: staffed agents weighted by the share of their work that goes to this
//! queue, over the mean handle time including wrap-up) or a caller ahead of them
//! gives up (rate `θ` for each of the `j - 1` callers ahead at place `j`). Each
//! step is exponential, so the expected wait is
//!
//! ```text
//! E[W | k] = sum over j = 1..k of 1 / (r + (j - 1) θ)
//! ```
//!
//! which is exact for M/M/s+M (Erlang A) and reduces to `k / (s μ)` without
//! abandonment (Erlang C). `θ` is estimated as abandonments divided by total
//! waiting time (the maximum-likelihood estimate for exponential patience), over a
//! decaying window. The blend's own queue-length predictor uses the same sum with
//! every unanswered exit counted in `θ`, not abandonments alone.

mod blend;
mod hazard;

pub use blend::{LearnedBlend, PREDICTORS, Predictions, WaitState};
pub use hazard::{DepartureHazard, age_queue_estimate};

/// How fast the abandonment and handle-time estimates forget (per call).
const WINDOW_CALLS: f64 = 500.0;

/// Per-queue inputs of the estimators.
#[derive(Debug, Clone)]
pub(crate) struct QueueEstimator {
    /// Mean handle time (talk + hold + wrap-up), ms.
    handle_ms: f64,
    handles: u64,
    /// Decayed count of abandonments.
    abandons: f64,
    /// Decayed count of every unanswered exit (abandonment, overflow, maximum
    /// wait, keys, closing).
    departures: f64,
    /// Decayed total waiting time, ms.
    waited_ms: f64,
    /// Asterisk's `holdtime`: (3 old + new) / 4 over answered calls' waits, ms.
    asterisk_hold_ms: f64,
    /// The wait of the last call answered, ms (the LES predictor).
    last_entered_ms: Option<f64>,
    /// The announced estimate's learning.
    pub(crate) blend: LearnedBlend,
    /// Departures by age of wait.
    pub(crate) hazard: DepartureHazard,
}

impl QueueEstimator {
    pub(crate) fn new(default_handle_ms: f64) -> QueueEstimator {
        QueueEstimator {
            handle_ms: default_handle_ms.max(1.0),
            handles: 0,
            abandons: 0.0,
            departures: 0.0,
            waited_ms: 0.0,
            asterisk_hold_ms: 0.0,
            last_entered_ms: None,
            blend: LearnedBlend::new(),
            hazard: DepartureHazard::new(),
        }
    }

    /// A call of this queue was handled (talk, hold and wrap-up over).
    pub(crate) fn note_handled(&mut self, handle_ms: i64) {
        self.handles += 1;
        let alpha = (1.0 / self.handles as f64).max(1.0 / WINDOW_CALLS);
        self.handle_ms += alpha * (handle_ms.max(0) as f64 - self.handle_ms);
    }

    /// A call stopped waiting: answered, or it left unanswered (`departed`),
    /// perhaps by hanging up (`abandoned`).
    pub(crate) fn note_wait_end(&mut self, wait_ms: i64, departed: bool, abandoned: bool) {
        let keep = 1.0 - 1.0 / WINDOW_CALLS;
        self.abandons = self.abandons * keep + if abandoned { 1.0 } else { 0.0 };
        self.departures = self.departures * keep + if departed { 1.0 } else { 0.0 };
        self.hazard.note(wait_ms as f64, departed);
        self.waited_ms = self.waited_ms * keep + wait_ms.max(0) as f64;
    }

    /// An agent answered a call that waited `wait_ms` (Asterisk's `recalc_holdtime`).
    pub(crate) fn note_answered(&mut self, wait_ms: i64) {
        self.asterisk_hold_ms = (3.0 * self.asterisk_hold_ms + wait_ms.max(0) as f64) / 4.0;
        self.last_entered_ms = Some(wait_ms.max(0) as f64);
    }

    /// The wait of the last call answered, ms.
    pub(crate) fn last_entered_ms(&self) -> Option<f64> {
        self.last_entered_ms
    }

    /// Unanswered exits per waiting caller, per ms.
    pub(crate) fn departure_rate(&self) -> f64 {
        if self.waited_ms <= 0.0 {
            0.0
        } else {
            self.departures / self.waited_ms
        }
    }

    /// Mean handle time, ms.
    pub(crate) fn handle_ms(&self) -> f64 {
        self.handle_ms
    }

    /// Abandonment rate per waiting caller, per ms.
    pub(crate) fn theta(&self) -> f64 {
        if self.waited_ms <= 0.0 {
            0.0
        } else {
            self.abandons / self.waited_ms
        }
    }

    /// Asterisk's announced estimate: `|holdtime + 30 s - waited|` (app_queue.c,
    /// `say_position`).
    pub(crate) fn asterisk(&self, waited_ms: i64) -> i64 {
        ((self.asterisk_hold_ms + 30_000.0) - waited_ms as f64).abs() as i64
    }
}

/// The queue-length estimate for position `k` with service rate `rate` (calls per
/// ms) and abandonment rate `theta` (per waiting caller per ms); `None` when nobody
/// serves the queue.
pub fn queue_length_estimate(k: u32, rate: f64, theta: f64) -> Option<f64> {
    if k == 0 {
        return Some(0.0);
    }
    if rate <= 0.0 || !rate.is_finite() {
        return None;
    }
    let theta = if theta.is_finite() {
        theta.max(0.0)
    } else {
        0.0
    };
    if theta == 0.0 {
        return Some(f64::from(k) / rate);
    }
    // Exact sum for the first places; the tail by its integral (the terms vary
    // slowly there), so a very long queue costs no more than a short one.
    const EXACT: u32 = 256;
    let mut sum = 0.0;
    for j in 1..=k.min(EXACT) {
        sum += 1.0 / (rate + f64::from(j - 1) * theta);
    }
    if k > EXACT {
        let a = rate + f64::from(EXACT) * theta;
        let b = rate + f64::from(k) * theta;
        sum += (b / a).ln() / theta;
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_abandonment_it_is_position_over_rate() {
        // 10 agents, 3 min handle time: a rate of 10/180000 per ms.
        let r = 10.0 / 180_000.0;
        let w = queue_length_estimate(5, r, 0.0).unwrap();
        assert!((w - 90_000.0).abs() < 1e-6, "{w}");
        assert_eq!(queue_length_estimate(0, r, 0.0), Some(0.0));
        assert_eq!(queue_length_estimate(3, 0.0, 0.0), None);
    }

    #[test]
    fn abandonment_ahead_shortens_the_wait() {
        let r = 10.0 / 180_000.0;
        let theta = 1.0 / 60_000.0;
        let with = queue_length_estimate(20, r, theta).unwrap();
        let without = queue_length_estimate(20, r, 0.0).unwrap();
        assert!(with < without);
        // The first place is not affected (nobody ahead).
        let one = queue_length_estimate(1, r, theta).unwrap();
        assert!((one - 1.0 / r).abs() < 1e-6);
        // The integral tail agrees with the exact sum.
        let long = queue_length_estimate(2000, r, theta).unwrap();
        let exact: f64 = (1..=2000).map(|j| 1.0 / (r + (j - 1) as f64 * theta)).sum();
        assert!((long - exact).abs() / exact < 1e-3, "{long} vs {exact}");
    }

    #[test]
    fn asterisk_baseline_follows_app_queue() {
        let mut e = QueueEstimator::new(180_000.0);
        assert_eq!(e.asterisk(0), 30_000);
        e.note_answered(40_000);
        assert_eq!(e.asterisk(0), 40_000); // (0*3 + 40000)/4 + 30000
        assert_eq!(e.asterisk(50_000), 10_000); // |40000 - 50000|
    }

    #[test]
    fn theta_is_abandons_over_waiting_time() {
        let mut e = QueueEstimator::new(1.0);
        for _ in 0..10 {
            e.note_wait_end(30_000, false, false);
        }
        e.note_wait_end(60_000, true, true);
        e.note_wait_end(60_000, true, false);
        let t = e.theta();
        assert!((t - 1.0 / 420_000.0).abs() / t < 0.05, "{t}");
        // Every unanswered exit counts as a departure, hang-ups or not.
        let d = e.departure_rate();
        assert!((d - 2.0 / 420_000.0).abs() / d < 0.05, "{d}");
    }
}
