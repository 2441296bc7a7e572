//! The predictive decision. At each tick it looks at the coming seconds at a
//! series of checkpoints `t` (every second up to the time by which 95 % of live
//! answers have come). At each checkpoint:
//!
//! - supply `S(t)`: agents free by `t` plus the dropped-call deadline — ready
//!   agents, agents whose wrap-up ends by then (known exactly from the ACD's
//!   timer), and agents talking, each with the probability, from the learned
//!   talk-time distribution given how long they have talked, that the call and
//!   the learned mean wrap-up are over by then;
//! - demand `D(t)`: people already waiting, and every ringing line with the
//!   probability that it brings a person by `t` given how long it has rung
//!   (the learned live-answer rate and answer-delay distribution, conditioned
//!   on the line still ringing);
//! - a new line brings a person by `t` with probability `p·F(t)`.
//!
//! Supply and demand are sums of independent yes/no events, so with their
//! means and variances the normal approximation gives, for the `n`-th new line,
//! the chance that its person — answering at some checkpoint, with everyone
//! answered earlier ahead of them — finds no agent: its marginal risk. The
//! pacer dials every line whose marginal risk is at most twice the allowed
//! share `ρ` (the lines before it carry less, so the average stays near `ρ`).
//!
//! `ρ` is the cap times the aim (40 %), scaled by the budget left in each
//! window (15 min, 1 h, and the rolling window): a window on its aim keeps `ρ`,
//! one with budget to spare raises it up to 4×, one whose budget is spent
//! lowers it to a fifth. Each window's counts start from 30 pseudo-answers at
//! the aimed rate, so that a quiet window is neither spent by one drop nor
//! read as empty.

use crate::abandon::AbandonLedger;
use crate::pacing::model::Model;
use crate::pacing::{PaceSnapshot, PacingConfig};

/// Checkpoint spacing, ms.
const STEP_MS: i64 = 1_000;
/// Pseudo-count of live answers at the aimed rate added to a window's counts, so
/// that a window with few calls is neither spent by one drop nor read as empty.
const PRIOR_LIVE: f64 = 30.0;
/// How far a window with budget to spare may raise the allowed share.
const MAX_FACTOR: f64 = 4.0;
/// How far a window whose budget is spent lowers it: not to zero, so the pacer
/// keeps dialling its safest lines rather than idling every agent.
const MIN_FACTOR: f64 = 0.2;
/// The marginal line may carry more risk than the average the cap limits: the
/// lines dialled before it in the same state carry less.
const MARGINAL_OVER_AVERAGE: f64 = 2.0;
/// Variance floor of a checkpoint (people²), so a fully known state still has
/// a smooth risk.
const MIN_VAR: f64 = 0.1;

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
            ((1.0 - used) / (1.0 - aim)).clamp(MIN_FACTOR, MAX_FACTOR)
        })
        .fold(MAX_FACTOR, f64::min);
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
pub(crate) fn lines(
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
    let mut last_round = false;
    while !last_round {
        if t >= horizon {
            t = horizon;
            last_round = true;
        }
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
    let horizon_share = checkpoints.last().map(|c| c.per_line).unwrap_or(0.0);
    let threshold = rho * MARGINAL_OVER_AVERAGE;
    // The n-th new line: the chance that its person finds no agent, averaged over
    // when that person answers; `n − 1` new lines and everything in flight
    // answer ahead of it.
    let fits = |n: u32| {
        let ahead = f64::from(n.saturating_sub(1));
        let mut previous = 0.0;
        let mut risk = 0.0;
        for c in &checkpoints {
            let weight = (c.per_line - previous) / horizon_share.max(1e-9);
            previous = c.per_line;
            if weight <= 0.0 {
                continue;
            }
            let demand = c.demand_mean + ahead * c.per_line;
            let var = c.demand_var + ahead * c.per_line * (1.0 - c.per_line) + c.supply_var;
            // Continuity correction: the person finds no agent when the
            // integer supply does not exceed the integer demand ahead.
            risk += weight * normal_cdf((demand - c.supply_mean + 0.5) / (var + MIN_VAR).sqrt());
        }
        risk <= threshold
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
    }
}
