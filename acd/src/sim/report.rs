//! What a simulation found ([`SimReport`]): the figures per queue and agent, the
//! error of the wait estimators (the ACD's, its earlier queue-length one and
//! Asterisk's), and the report as text tables ([`table`]).

use std::fmt::Write as _;

use serde::Serialize;

/// Error of a wait estimator over answered calls that had to wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ErrorSummary {
    /// Calls scored.
    pub samples: u64,
    /// Mean of estimate − actual wait, ms (bias).
    pub mean_error_ms: f64,
    /// Median absolute error, ms: what a typical caller hears wrong.
    pub median_abs_ms: f64,
    /// Mean absolute error, ms.
    pub mae_ms: f64,
    /// Root mean square error, ms.
    pub rmse_ms: f64,
    /// Mean absolute error ÷ mean actual wait.
    pub relative_mae: f64,
}

#[derive(Debug, Clone, Default)]
pub(super) struct ErrAcc {
    n: u64,
    sum: f64,
    abs: f64,
    sq: f64,
    actual: f64,
    /// Every absolute error, for the median.
    abs_errors: Vec<f64>,
}

impl ErrAcc {
    pub(super) fn add(&mut self, est: f64, actual: f64) {
        let e = est - actual;
        self.n += 1;
        self.sum += e;
        self.abs += e.abs();
        self.sq += e * e;
        self.actual += actual;
        self.abs_errors.push(e.abs());
    }

    pub(super) fn summary(&self) -> ErrorSummary {
        if self.n == 0 {
            return ErrorSummary::default();
        }
        let n = self.n as f64;
        let mut sorted = self.abs_errors.clone();
        sorted.sort_by(f64::total_cmp);
        ErrorSummary {
            samples: self.n,
            mean_error_ms: self.sum / n,
            median_abs_ms: median_of_sorted(&sorted),
            mae_ms: self.abs / n,
            rmse_ms: (self.sq / n).sqrt(),
            relative_mae: if self.actual > 0.0 {
                self.abs / self.actual
            } else {
                0.0
            },
        }
    }
}

/// One queue's results over the report period (the report's `total` is every
/// queue together, named `total`). The counts and rates are those of
/// [`GroupStats`](crate::stats::GroupStats); durations are ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct QueueResult {
    pub name: String,
    /// Calls that arrived here first.
    pub arrivals: u64,
    /// Stays offered (overflow arrivals included).
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Moved elsewhere (max wait, overflow, cancel key, closed).
    pub moved: u64,
    /// Share of arrivals that had to wait.
    pub p_wait: f64,
    pub service_level: f64,
    /// The service-level time used: the traffic file's `threshold`, else the
    /// queue's own.
    pub threshold_ms: i64,
    /// Average speed of answer, ms.
    pub asa_ms: f64,
    /// Abandoned ÷ offered.
    pub abandon_rate: f64,
    /// Average handle time, ms.
    pub aht_ms: f64,
    /// Occupancy of the queue's agents.
    pub occupancy: Option<f64>,
    /// Error of the ACD's wait estimate (the learned blend), as told on arrival.
    pub ewt_acd: ErrorSummary,
    /// Error of the earlier queue-length estimate with abandonment, at the same
    /// moment.
    pub ewt_queue_length: ErrorSummary,
    /// Error of Asterisk's wait estimate at the same moment, for comparison.
    pub ewt_asterisk: ErrorSummary,
}

/// One agent's results over the report period, by the agent's id; durations
/// are ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct AgentResult {
    pub id: String,
    /// Calls handled (answered, transferred in, direct, outbound).
    pub handled: u64,
    /// Average handle time, ms.
    pub aht_ms: f64,
    /// Time handling calls ÷ (handling + ready and idle); `None` when the
    /// agent did not work in the period.
    pub occupancy: Option<f64>,
    /// Time handling calls, ms.
    pub busy_ms: i64,
    /// Time ready and idle, ms.
    pub idle_ms: i64,
}

/// What a simulation found: what ran (`days` days from `start`, with
/// `agents_count` agents), then the figures of every queue together (`total`),
/// by queue and by agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct SimReport {
    /// Start of the simulated period (RFC 3339).
    pub start: String,
    pub days: u32,
    /// Calls the traffic's arrivals generated.
    pub calls: u64,
    /// Events the simulator processed: a measure of the run's work.
    pub events: u64,
    pub agents_count: usize,
    /// Queue announcements sent to waiting calls.
    pub announcements: u64,
    /// Callbacks the ACD placed.
    pub callbacks: u64,
    /// Real time the run took (not simulated time), ms.
    pub wall_ms: f64,
    /// Simulated calls per second of wall time.
    pub calls_per_second: f64,
    pub total: QueueResult,
    pub queues: Vec<QueueResult>,
    pub agents: Vec<AgentResult>,
}

pub(super) fn merge(a: &mut ErrAcc, b: &ErrAcc) {
    a.n += b.n;
    a.sum += b.sum;
    a.abs += b.abs;
    a.sq += b.sq;
    a.actual += b.actual;
    a.abs_errors.extend_from_slice(&b.abs_errors);
}

/// The median of sorted numbers (0 for none).
fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn secs(ms: f64) -> String {
    format!("{:.1}s", ms / 1000.0)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The report as text tables.
pub fn table(r: &SimReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} day(s) from {}: {} calls, {} agents, {} events in {:.2} s ({:.0} calls/s)",
        r.days,
        r.start,
        r.calls,
        r.agents_count,
        r.events,
        r.wall_ms / 1000.0,
        r.calls_per_second
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<14} {:>8} {:>8} {:>8} {:>6} {:>7} {:>8} {:>7} {:>8} {:>8} {:>6}",
        "queue",
        "offered",
        "answered",
        "abandon",
        "moved",
        "P(wait)",
        "SL",
        "ASA",
        "AHT",
        "aband%",
        "occ"
    );
    for q in r.queues.iter().chain(std::iter::once(&r.total)) {
        let _ = writeln!(
            s,
            "{:<14} {:>8} {:>8} {:>8} {:>6} {:>7} {:>8} {:>7} {:>8} {:>8} {:>6}",
            q.name,
            q.offered,
            q.answered,
            q.abandoned,
            q.moved,
            pct(q.p_wait),
            format!("{}@{}", pct(q.service_level), secs(q.threshold_ms as f64)),
            secs(q.asa_ms),
            secs(q.aht_ms),
            pct(q.abandon_rate),
            q.occupancy.map(pct).unwrap_or_else(|| "-".into())
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "estimated wait error (answered calls that waited; estimate at arrival - actual):"
    );
    let _ = writeln!(
        s,
        "{:<14} {:<12} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "queue", "estimator", "samples", "bias", "MedAE", "MAE", "RMSE", "rel.MAE", "MedAE/ast"
    );
    for q in r.queues.iter().chain(std::iter::once(&r.total)) {
        for (name, e) in [
            ("acd", &q.ewt_acd),
            ("queue-length", &q.ewt_queue_length),
            ("asterisk", &q.ewt_asterisk),
        ] {
            let ratio = if q.ewt_asterisk.median_abs_ms > 0.0 {
                format!("{:.2}", e.median_abs_ms / q.ewt_asterisk.median_abs_ms)
            } else {
                "-".into()
            };
            let _ = writeln!(
                s,
                "{:<14} {:<12} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8} {:>10}",
                q.name,
                name,
                e.samples,
                secs(e.mean_error_ms),
                secs(e.median_abs_ms),
                secs(e.mae_ms),
                secs(e.rmse_ms),
                pct(e.relative_mae),
                ratio
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<16} {:>8} {:>8} {:>6}",
        "agent", "handled", "AHT", "occ"
    );
    for a in &r.agents {
        let _ = writeln!(
            s,
            "{:<16} {:>8} {:>8} {:>6}",
            a.id,
            a.handled,
            secs(a.aht_ms),
            a.occupancy.map(pct).unwrap_or_else(|| "-".into())
        );
    }
    s
}
