//! The predictive decision. At each tick it looks at the coming seconds at a
//! series of checkpoints `t` (every second up to the time by which 95 % of live
//! answers have come). At each checkpoint:
//!
//! - supply `S(t)`: agents free by `t` plus the dropped-call deadline — ready
//!   agents, agents whose wrap-up ends by then (known exactly from the ACD's
//!   timer), and agents talking, each with the probability, from the learned
//!   talk-time distribution given how long they have talked, that the call and
//!   the learned mean wrap-up are over by then;
//! - demand `D(t)`: people already waiting, lines answered and under machine
//!   detection (each a person with the learned share of answers that are
//!   people), and every ringing line with the
//!   probability that it brings a person by `t` given how long it has rung
//!   (the learned live-answer rate and answer-delay distribution, conditioned
//!   on the line still ringing);
//! - a new line brings a person by `t` with probability `p·F(t)`.
//!
//! Supply and demand are sums of independent yes/no events, which gives, for
//! the `n`-th new line, the chance that its person — answering at some checkpoint, with everyone
//! answered earlier ahead of them — finds no agent: its marginal risk. With
//! up to 96 uncertain lines and agents that chance is computed exactly (the
//! distribution of a sum of yes/no events, one event at a time); beyond, the
//! sums are near normal and the normal approximation serves. The pacer dials
//! every line whose marginal risk is at most the allowed share `ρ`; the lines
//! before it carry less, so the realised rate stays below `ρ`.
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
#[derive(Debug, Clone)]
struct Checkpoint {
    supply_mean: f64,
    supply_var: f64,
    demand_mean: f64,
    demand_var: f64,
    /// P(one new line brings a person by the checkpoint).
    per_line: f64,
    /// The exact distribution of demand ahead minus supply, when few enough
    /// lines and agents are uncertain (else the normal approximation serves).
    exact: Option<Excess>,
}

/// The distribution of `Z = people ahead − agents free` at a checkpoint, as
/// the tail `P(Z ≥ lowest + i)`, from the yes/no events one by one.
#[derive(Debug, Clone)]
struct Excess {
    lowest: i64,
    tail: Vec<f64>,
}

/// Above this many uncertain lines and agents the sums are near normal and
/// the exact distribution would cost more than it tells.
const EXACT_UP_TO: usize = 96;

impl Excess {
    fn new(start: i64, demand: &[f64], supply: &[f64]) -> Excess {
        let lowest = start - supply.len() as i64;
        let mut pmf = vec![0.0; demand.len() + supply.len() + 1];
        // Index i holds P(Z = lowest + i); start with certainty at `start`.
        pmf[supply.len()] = 1.0;
        for &q in demand {
            for i in (0..pmf.len()).rev() {
                let stay = pmf[i] * (1.0 - q);
                let from_below = if i > 0 { pmf[i - 1] * q } else { 0.0 };
                pmf[i] = stay + from_below;
            }
        }
        for &q in supply {
            for i in 0..pmf.len() {
                let stay = pmf[i] * (1.0 - q);
                let from_above = pmf.get(i + 1).map_or(0.0, |p| p * q);
                pmf[i] = stay + from_above;
            }
        }
        let mut tail = pmf;
        for i in (0..tail.len().saturating_sub(1)).rev() {
            tail[i] += tail[i + 1];
        }
        Excess { lowest, tail }
    }

    /// P(Z ≥ x).
    fn at_least(&self, x: i64) -> f64 {
        if x <= self.lowest {
            return 1.0;
        }
        usize::try_from(x - self.lowest)
            .ok()
            .and_then(|i| self.tail.get(i))
            .copied()
            .unwrap_or(0.0)
    }

    /// P(Z + B ≥ 0) for B binomial(`n`, `m`): the people of `n` new lines join
    /// those ahead.
    fn with_new_lines(&self, n: u32, m: f64) -> f64 {
        if n == 0 || m <= 0.0 {
            return self.at_least(0);
        }
        let m = m.min(1.0 - 1e-12);
        let ratio = m / (1.0 - m);
        let mut pmf = (1.0 - m).powi(n as i32);
        let mut total = 0.0;
        let mean = f64::from(n) * m;
        for b in 0..=n {
            total += pmf * self.at_least(-i64::from(b));
            if f64::from(b) > mean && pmf < 1e-12 {
                break;
            }
            pmf *= f64::from(n - b) / f64::from(b + 1) * ratio;
        }
        total.min(1.0)
    }
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
    let mut supply_odds = Vec::with_capacity(s.talking.len());
    let mut demand_odds = Vec::with_capacity(s.ringing.len());
    let mut t = STEP_MS;
    let mut last_round = false;
    while !last_round {
        if t >= horizon {
            t = horizon;
            last_round = true;
        }
        let mut certain_supply = i64::from(s.ready_agents);
        for &left in &s.wrapping_up {
            if left <= t + grace {
                certain_supply += 1;
            }
        }
        supply_odds.clear();
        for &talked in &s.talking {
            let q = model.free_within(talked, t + grace);
            if q > 1e-9 {
                supply_odds.push(q);
            }
        }
        demand_odds.clear();
        for &rung in &s.ringing {
            let q = model.live_within(rung, t);
            if q > 1e-9 {
                demand_odds.push(q);
            }
        }
        // Detection decides within seconds: such a line is a person by the
        // first checkpoint with the share of answers that are people.
        let detected = model.person_share_of_answers();
        if detected > 1e-9 {
            demand_odds.extend((0..s.detecting).map(|_| detected));
        }
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let var = |v: &[f64]| v.iter().map(|q| q * (1.0 - q)).sum::<f64>();
        let start = i64::from(s.waiting_answered) - certain_supply;
        checkpoints.push(Checkpoint {
            supply_mean: certain_supply as f64 + sum(&supply_odds),
            supply_var: var(&supply_odds),
            demand_mean: f64::from(s.waiting_answered) + sum(&demand_odds),
            demand_var: var(&demand_odds),
            per_line: p * model.live_delay.cdf(t),
            exact: (demand_odds.len() + supply_odds.len() <= EXACT_UP_TO)
                .then(|| Excess::new(start, &demand_odds, &supply_odds)),
        });
        t += STEP_MS;
    }
    let horizon_share = checkpoints.last().map(|c| c.per_line).unwrap_or(0.0);
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
            risk += weight
                * match &c.exact {
                    Some(e) => e.with_new_lines(n.saturating_sub(1), c.per_line),
                    None => {
                        let demand = c.demand_mean + ahead * c.per_line;
                        let var =
                            c.demand_var + ahead * c.per_line * (1.0 - c.per_line) + c.supply_var;
                        // Continuity correction: the person finds no agent when
                        // the integer supply does not exceed the demand ahead.
                        normal_cdf((demand - c.supply_mean + 0.5) / (var + MIN_VAR).sqrt())
                    }
                };
        }
        risk <= rho
    };
    if !fits(1) {
        return 0;
    }
    // `fits` is monotone in n: more lines, more excess, at a share that grows.
    // No more lines than would bring, on average, two people more than every
    // agent free by the horizon: the search stays short for large campaigns.
    let useful = checkpoints
        .last()
        .map(|c| ((c.supply_mean + 2.0) / c.per_line.max(1e-3)).ceil() as u32 + 1)
        .unwrap_or(1);
    let (mut lo, mut hi) = (1u32, limit.min(useful).max(1));
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
    fn exact_excess_matches_hand_computed_cases() {
        // Two lines at 0.5 each, one agent certain: P(people ≥ 1 agent) = 0.75.
        let e = Excess::new(-1, &[0.5, 0.5], &[]);
        assert!((e.at_least(0) - 0.75).abs() < 1e-12);
        assert!((e.at_least(1) - 0.25).abs() < 1e-12);
        // An agent who may free (0.5) besides: P(Z ≥ 0) = 0.75·0.5 + 0.25·0.5... exactly:
        // Z = D − 1 − A; P(D − A ≥ 1) = P(D=1)P(A=0) + P(D=2) = 0.5·0.5 + 0.25 = 0.5.
        let e = Excess::new(-1, &[0.5, 0.5], &[0.5]);
        assert!((e.at_least(0) - 0.5).abs() < 1e-12);
        // New lines: one line at 0.3 with nobody ahead and no agent: 0.3.
        let e = Excess::new(0, &[], &[]);
        assert!((e.with_new_lines(0, 0.3) - 1.0).abs() < 1e-12);
        let e = Excess::new(-1, &[], &[]);
        assert!((e.with_new_lines(1, 0.3) - 0.3).abs() < 1e-12);
        assert!((e.with_new_lines(2, 0.3) - 0.51).abs() < 1e-12);
    }

    #[test]
    fn normal_helpers_are_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975_002_1).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }
}
