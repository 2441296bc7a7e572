//! The predictive decision. At each tick it looks at the coming seconds at a
//! series of checkpoints `t` (every second up to the time by which nearly all
//! live answers of a line dialled now have come). At each checkpoint:
//!
//! - supply `S(t)`: agents free by `t` plus the dropped-call deadline — ready
//!   agents, agents whose wrap-up ends by then (known exactly from the ACD's
//!   timer), and agents talking, each with the probability, from the learned
//!   talk-time distribution given how long they have talked, that the call and
//!   its wrap-up are over by then;
//! - demand `D(t)`: people already waiting, every ringing line with the
//!   probability that it brings a person by `t` given how long it has rung
//!   (the learned live-answer rate and answer-delay distribution, conditioned
//!   on the line still ringing), and `n` new lines each with `p·F(t)`.
//!
//! Supply and demand are sums of independent yes/no events; with their means
//! and variances the expected excess `E[(D−S)⁺]` — people answered with no
//! agent — follows from the normal approximation. The pacer dials the largest
//! `n` for which, at every checkpoint, that excess stays within the allowed
//! share `ρ` of the people expected by then. `ρ` is the cap times the aim
//! (70 %), scaled by the budget left in each window: a window on budget keeps
//! `ρ`, one with budget to spare raises it up to 1.5×, one whose budget is
//! spent brings it to zero (then only `min ratio` lines per ready agent go out).

use crate::abandon::AbandonLedger;
use crate::pacing::model::Model;
use crate::pacing::{PaceSnapshot, PacingConfig};

/// Checkpoint spacing, ms.
const STEP_MS: i64 = 1_000;
/// Pseudo-count of live answers at the aimed rate added to a window's counts, so
/// that a window with few calls is neither spent by one drop nor read as empty.
const PRIOR_LIVE: f64 = 30.0;

/// The effective allowed share of abandoned people for this tick.
pub fn allowed_share(config: &PacingConfig, ledger: &AbandonLedger) -> f64 {
    let cap = config.abandon.cap;
    if cap <= 0.0 {
        return 0.0;
    }
    let aim = config.aim.clamp(0.05, 0.95);
    let factor = ledger
        .windows()
        .map(|w| {
            let live = w.live as f64 + w.estimated_misclassified + PRIOR_LIVE;
            let abandoned = w.abandoned as f64 + w.estimated_misclassified + PRIOR_LIVE * cap * aim;
            let used = abandoned / live / cap;
            ((1.0 - used) / (1.0 - aim)).clamp(0.0, 1.5)
        })
        .fold(1.5_f64, f64::min);
    cap * aim * factor
}

/// Per-checkpoint sums that do not depend on `n`.
#[derive(Debug, Clone, Copy)]
struct Checkpoint {
    supply_mean: f64,
    supply_var: f64,
    demand_mean: f64,
    demand_var: f64,
    /// P(one new line brings a person by the checkpoint).
    per_line: f64,
}

/// The largest number of new lines (at most `limit`) that keeps the expected
/// abandonment within the allowed share at every checkpoint.
pub fn lines(
    config: &PacingConfig,
    model: &Model,
    ledger: &AbandonLedger,
    s: &PaceSnapshot,
    limit: u32,
) -> u32 {
    let rho = allowed_share(config, ledger);
    let p = model.live_rate();
    if p <= 0.0 || limit == 0 {
        return 0;
    }
    let grace = config.dropped_deadline_ms.max(0);
    let horizon = model.live_delay.quantile(0.95).clamp(2 * STEP_MS, 120_000);
    let mut checkpoints = Vec::with_capacity((horizon / STEP_MS) as usize + 1);
    let mut t = STEP_MS;
    while t <= horizon {
        let mut supply_mean = f64::from(s.ready_agents);
        let mut supply_var = 0.0;
        for &left in &s.wrapping_up {
            if left <= t + grace {
                supply_mean += 1.0;
            }
        }
        for &talked in &s.talking {
            let q = model.free_within(talked, t + grace);
            supply_mean += q;
            supply_var += q * (1.0 - q);
        }
        let mut demand_mean = f64::from(s.waiting_answered);
        let mut demand_var = 0.0;
        for &rung in &s.ringing {
            let q = model.live_within(rung, t);
            demand_mean += q;
            demand_var += q * (1.0 - q);
        }
        checkpoints.push(Checkpoint {
            supply_mean,
            supply_var,
            demand_mean,
            demand_var,
            per_line: p * model.live_delay.cdf(t),
        });
        t += STEP_MS;
    }
    let fits = |n: u32| {
        let n = f64::from(n);
        checkpoints.iter().all(|c| {
            let demand = c.demand_mean + n * c.per_line;
            let var = c.demand_var + n * c.per_line * (1.0 - c.per_line) + c.supply_var;
            expected_excess(demand - c.supply_mean, var) <= rho * demand
        })
    };
    if !fits(1) {
        return 0;
    }
    // `fits` is monotone in n: more lines, more excess, at a share that grows.
    let (mut lo, mut hi) = (1u32, limit.min(1_000));
    if fits(hi) {
        return hi;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// E[max(X, 0)] for X normal with this mean and variance.
pub fn expected_excess(mean: f64, var: f64) -> f64 {
    let sd = var.max(1e-6).sqrt();
    let z = mean / sd;
    mean * normal_cdf(z) + sd * normal_pdf(z)
}

fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Φ(z) from erfc (W. J. Cody's rational approximation is overkill here;
/// Numerical Recipes' erfc has a relative error below 1.2e-7).
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_helpers_are_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
        // E[X+] of a standard normal is φ(0) = 0.3989.
        assert!((expected_excess(0.0, 1.0) - 0.398_942_3).abs() < 1e-6);
        assert!(expected_excess(-10.0, 1.0) < 1e-12);
        assert!((expected_excess(10.0, 1.0) - 10.0).abs() < 1e-9);
    }
}
