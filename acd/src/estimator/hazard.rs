//! How likely a waiting caller is to leave unanswered at each age of their wait
//! ([`DepartureHazard`]), learned from the queue's own waits, and the
//! queue-length predictor that reads it ([`age_queue_estimate`]).
//!
//! Queue rules make departures depend on how long a caller has waited: `overflow
//! ... when waited > 3m` and `max wait 5m` remove callers at fixed ages, and
//! real patience is rarely exponential (callers who have waited a while tend to
//! stay, or give up at a round number). A single rate `θ` cannot say that the
//! caller ahead who has waited 2 min 55 s is about to go while the one who came
//! in 10 s ago is not. The hazard by age is the refinement of the queue-length
//! predictor that Ibrahim & Whitt propose for patience that is not exponential:
//! it is learned in 5-second bins as departures over waiting time spent in the
//! bin (the maximum-likelihood estimate of a piecewise-constant hazard), over a
//! decaying window of calls, so it follows whatever the rules and the callers
//! do.

/// Width of an age bin, ms.
const BIN_MS: f64 = 5_000.0;
/// Bins: 20 minutes of waiting; older ages share the last bin.
const BINS: usize = 240;
/// Waiting time each bin borrows from the queue's overall rate, ms: a bin with
/// little data leans on the overall rate.
const PRIOR_EXPOSURE_MS: f64 = 30_000.0;
/// The window the counts decay over, in calls.
const WINDOW_CALLS: f64 = 2_000.0;

/// Departures by age of wait, learned online (see the module doc).
#[derive(Debug, Clone)]
pub struct DepartureHazard {
    departures: Vec<f64>,
    exposure_ms: Vec<f64>,
    /// Cumulative hazard at the start of each bin (and one past the last).
    cumulative: Vec<f64>,
    /// Hazard per ms in each bin.
    rate: Vec<f64>,
}

impl Default for DepartureHazard {
    fn default() -> Self {
        DepartureHazard::new()
    }
}

impl DepartureHazard {
    /// A hazard that has seen nobody leave.
    pub fn new() -> DepartureHazard {
        DepartureHazard {
            departures: vec![0.0; BINS],
            exposure_ms: vec![0.0; BINS],
            cumulative: vec![0.0; BINS + 1],
            rate: vec![0.0; BINS],
        }
    }

    /// A caller stopped waiting after `wait_ms`: answered, or left unanswered
    /// (`departed`).
    pub fn note(&mut self, wait_ms: f64, departed: bool) {
        if !wait_ms.is_finite() {
            return;
        }
        let wait_ms = wait_ms.max(0.0);
        let keep = 1.0 - 1.0 / WINDOW_CALLS;
        let last = ((wait_ms / BIN_MS) as usize).min(BINS - 1);
        for b in 0..BINS {
            self.departures[b] *= keep;
            self.exposure_ms[b] *= keep;
        }
        for b in 0..=last {
            let start = b as f64 * BIN_MS;
            let spent = if b == BINS - 1 {
                wait_ms - start
            } else {
                (wait_ms - start).min(BIN_MS)
            };
            self.exposure_ms[b] += spent.max(0.0);
        }
        if departed {
            self.departures[last] += 1.0;
        }
        let total_departures: f64 = self.departures.iter().sum();
        let total_exposure: f64 = self.exposure_ms.iter().sum();
        let overall = if total_exposure > 0.0 {
            total_departures / total_exposure
        } else {
            0.0
        };
        for b in 0..BINS {
            self.rate[b] = (self.departures[b] + overall * PRIOR_EXPOSURE_MS)
                / (self.exposure_ms[b] + PRIOR_EXPOSURE_MS);
            self.cumulative[b + 1] = self.cumulative[b] + self.rate[b] * BIN_MS;
        }
    }

    /// Departures per waiting caller per ms at `age_ms` of their wait.
    pub fn rate_at(&self, age_ms: f64) -> f64 {
        self.rate[Self::bin(age_ms)]
    }

    fn bin(age_ms: f64) -> usize {
        ((age_ms.max(0.0) / BIN_MS) as usize).min(BINS - 1)
    }

    /// The cumulative hazard up to `age_ms`.
    fn cumulative_at(&self, age_ms: f64) -> f64 {
        let age_ms = age_ms.max(0.0);
        let b = Self::bin(age_ms);
        self.cumulative[b] + self.rate[b] * (age_ms - b as f64 * BIN_MS)
    }

    /// The chance that a caller who has waited `from_ms` is still waiting at
    /// `to_ms`, if nobody answers them.
    pub fn stays(&self, from_ms: f64, to_ms: f64) -> f64 {
        if to_ms <= from_ms {
            return 1.0;
        }
        (-(self.cumulative_at(to_ms) - self.cumulative_at(from_ms))).exp()
    }
}

/// The queue-length predictor with departures by age: the callers ahead, in the
/// order they will be served, given by how long each has waited (ms); agents
/// free up at `rate` calls per ms. The agents reach the caller `j` ahead after
/// `t_j`; by then that caller is still there with probability `stays(a_j, a_j +
/// t_j)`, and costs the agents `1 / rate` of work only if so. The wait is the
/// time to get through the callers ahead and then to this one. `None` when
/// nobody serves the queue.
pub fn age_queue_estimate(
    ahead_ages_ms: impl Iterator<Item = f64>,
    rate: f64,
    hazard: &DepartureHazard,
) -> Option<f64> {
    if rate <= 0.0 || !rate.is_finite() {
        return None;
    }
    let per_call = 1.0 / rate;
    let mut t = 0.0;
    for age in ahead_ages_ms {
        t += per_call * hazard.stays(age, age + t);
    }
    Some(t + per_call)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_fixed_age_of_leaving() {
        // Everyone still waiting at 3 minutes leaves then; half are answered
        // before, spread over the first 3 minutes.
        let mut h = DepartureHazard::new();
        for i in 0..2_000 {
            if i % 2 == 0 {
                h.note(f64::from(i % 180) * 1_000.0, false);
            } else {
                h.note(180_000.0, true);
            }
        }
        assert!(h.rate_at(60_000.0) < 1e-6, "{}", h.rate_at(60_000.0));
        assert!(h.rate_at(180_000.0) > 1e-4, "{}", h.rate_at(180_000.0));
        assert!(h.stays(10_000.0, 170_000.0) > 0.95);
        assert!(h.stays(170_000.0, 190_000.0) < 0.05);
    }

    #[test]
    fn callers_about_to_leave_do_not_hold_up_the_queue() {
        let mut h = DepartureHazard::new();
        for _ in 0..2_000 {
            h.note(180_000.0, true);
            h.note(30_000.0, false);
        }
        let rate = 10.0 / 180_000.0;
        // Five callers ahead who have waited 2:58: the first is taken at once,
        // the other four leave before the agents get to them; five who have just
        // come in do not leave.
        let old = age_queue_estimate([178_000.0; 5].into_iter(), rate, &h).unwrap();
        let new = age_queue_estimate([1_000.0; 5].into_iter(), rate, &h).unwrap();
        assert!(old < 2.1 / rate, "{old}");
        assert!((new - 6.0 / rate).abs() < 0.1 / rate, "{new}");
        assert_eq!(age_queue_estimate([1.0].into_iter(), 0.0, &h), None);
    }

    #[test]
    fn without_departures_it_is_position_over_rate() {
        let h = DepartureHazard::new();
        let rate = 1.0 / 10_000.0;
        let w = age_queue_estimate([5_000.0, 3_000.0].into_iter(), rate, &h).unwrap();
        assert!((w - 30_000.0).abs() < 1e-6, "{w}");
    }
}
