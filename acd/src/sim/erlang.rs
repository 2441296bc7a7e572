//! Queueing theory the simulator is checked against: Erlang C (M/M/s) and
//! Erlang A (M/M/s+M, exponential patience).
//!
//! Rates are per the same time unit (for example per second). Erlang C comes from
//! the Erlang B recursion, which stays accurate for hundreds of agents. Erlang A
//! is computed from the stationary distribution of its birth-death chain
//! (births `λ`, deaths `min(n, s) μ + max(n - s, 0) θ`), truncated where the
//! probabilities vanish; the wait of an arriving caller at queue place `k` is a
//! sum of exponential stages (an agent frees up at rate `s μ`, a caller ahead
//! gives up at rate `θ` each), raced against their own patience.

/// Erlang B: the probability that all `s` servers are busy with offered load `a`
/// (in Erlangs) and no waiting room.
pub fn erlang_b(s: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=s {
        b = a * b / (f64::from(k) + a * b);
    }
    b
}

/// Erlang C: the probability that an arriving call waits, with `s` agents and
/// load `a = λ / μ` (< s).
pub fn erlang_c(s: u32, a: f64) -> f64 {
    if a >= f64::from(s) {
        return 1.0;
    }
    let b = erlang_b(s, a);
    let s = f64::from(s);
    s * b / (s - a * (1.0 - b))
}

/// M/M/s figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    /// Probability that a call waits; 1 when the offered load (in Erlangs)
    /// reaches the number of agents.
    pub p_wait: f64,
    /// Mean wait over all calls (= ASA: every call is answered).
    pub asa: f64,
    /// Share answered within `t`.
    pub service_level: f64,
}

/// Erlang C for `s` agents, arrival rate `lambda`, service rate `mu` per agent,
/// and a service-level threshold `t` (all in one time unit).
pub fn erlang_c_figures(s: u32, lambda: f64, mu: f64, t: f64) -> ErlangC {
    let a = lambda / mu;
    let c = erlang_c(s, a);
    let gap = f64::from(s) * mu - lambda;
    ErlangC {
        p_wait: c,
        asa: if gap > 0.0 { c / gap } else { f64::INFINITY },
        service_level: 1.0 - c * (-gap * t).exp(),
    }
}

/// M/M/s+M figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangA {
    /// Probability that an arriving call waits.
    pub p_wait: f64,
    /// Probability that it abandons.
    pub p_abandon: f64,
    /// Mean wait of answered calls (ASA).
    pub asa_served: f64,
    /// Mean wait over all calls (answered or abandoned).
    pub mean_wait: f64,
}

/// Erlang A for `s` agents, arrival rate `lambda`, service rate `mu`, abandonment
/// rate `theta` (1 / mean patience).
pub fn erlang_a(s: u32, lambda: f64, mu: f64, theta: f64) -> ErlangA {
    let sf = f64::from(s);
    // Unnormalised stationary probabilities, rescaled as they grow.
    let mut p = vec![1.0f64];
    let mut n: usize = 0;
    loop {
        n += 1;
        let nf = n as f64;
        let death = nf.min(sf) * mu + (nf - sf).max(0.0) * theta;
        let next = p[n - 1] * lambda / death;
        p.push(next);
        if next > 1e250 {
            for v in &mut p {
                *v *= 1e-250;
            }
        }
        let max = p.iter().cloned().fold(0.0, f64::max);
        if n > s as usize && next < max * 1e-18 {
            break;
        }
        if n > s as usize + 2_000_000 {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    for v in &mut p {
        *v /= total;
    }
    let mut p_wait = 0.0;
    let mut p_abandon = 0.0;
    let mut w_served = 0.0;
    let mut queue_len = 0.0;
    // Running products over the stages of place k = n - s + 1.
    let mut served = 1.0;
    let mut time = 0.0;
    for (n, pn) in p.iter().enumerate() {
        if n < s as usize {
            continue;
        }
        let k = n - s as usize + 1;
        let r = sf * mu + (k as f64 - 1.0) * theta;
        served *= r / (r + theta);
        time += 1.0 / (r + theta);
        p_wait += pn;
        p_abandon += pn * (1.0 - served);
        w_served += pn * served * time;
        queue_len += pn * (n as f64 - sf);
    }
    ErlangA {
        p_wait,
        p_abandon,
        asa_served: if p_abandon < 1.0 {
            w_served / (1.0 - p_abandon)
        } else {
            f64::INFINITY
        },
        mean_wait: queue_len / lambda,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_published_tables() {
        // 10 agents, 8 Erlangs: P(wait) = 0.4092 (standard tables).
        let c = erlang_c(10, 8.0);
        assert!((c - 0.4092).abs() < 5e-4, "{c}");
        // Two servers, a = 1: C = 1/3.
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // One server: C = rho.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    }

    #[test]
    fn erlang_c_figures_are_consistent() {
        // s = 2, lambda = 1, mu = 1: Wq = C / (2 - 1) = 1/3.
        let f = erlang_c_figures(2, 1.0, 1.0, 0.0);
        assert!((f.asa - 1.0 / 3.0).abs() < 1e-12);
        assert!((f.service_level - (1.0 - 1.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn erlang_a_tends_to_erlang_c_without_abandonment() {
        let a = erlang_a(10, 8.0, 1.0, 1e-9);
        let c = erlang_c_figures(10, 8.0, 1.0, 0.0);
        assert!((a.p_wait - c.p_wait).abs() < 1e-5, "{a:?} {c:?}");
        assert!((a.asa_served - c.asa).abs() / c.asa < 1e-4, "{a:?} {c:?}");
        assert!(a.p_abandon < 1e-6);
    }

    #[test]
    fn erlang_a_satisfies_littles_law_for_abandonment() {
        // P(abandon) = theta E[Q] / lambda.
        let (s, l, m, t) = (5, 6.0, 1.0, 0.5);
        let a = erlang_a(s, l, m, t);
        assert!((a.p_abandon - t * a.mean_wait).abs() < 1e-9, "{a:?}");
        // Overloaded and still stable: abandonment takes the excess.
        assert!(a.p_abandon > 1.0 - 5.0 / 6.0 - 0.05, "{a:?}");
        assert!(a.p_wait > 0.5 && a.p_wait < 1.0);
        // M/M/1+M with theta = mu is M/M/inf-like: pi_n Poisson(a), P(wait) = 1 - e^-a.
        let b = erlang_a(1, 2.0, 1.0, 1.0);
        assert!((b.p_wait - (1.0 - (-2.0f64).exp())).abs() < 1e-9, "{b:?}");
    }
}
