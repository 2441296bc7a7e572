//! The abandon ledger: live answers and abandoned calls over the regulators'
//! windows, in the regulators' arithmetic — abandoned calls divided by
//! live-answered calls (persons connected plus persons abandoned).
//!
//! Counted as abandoned: a person who answered and had no agent within the
//! dropped-call deadline (2 s); and, as Ofcom asks, people whom answering-machine
//! detection took for machines and hung up on. Those cannot be seen call by call,
//! so the ledger adds a reasoned estimate from the detector's measured
//! person→machine rate `f`: for every `L` people the detector recognised there
//! were about `L·f/(1−f)` it did not, each a live call abandoned.
//!
//! Windows: the rolling compliance window (24 h by default as Ofcom counts; 30
//! days for the FTC) and short windows (15 min and 1 h by default) that keep an
//! early burst from spending the day's budget. Counts are kept in one-second
//! buckets with a running sum per window, so a rate is read in constant time on
//! every pacing tick.

use std::collections::VecDeque;

use serde::Serialize;

/// Fifteen minutes, the shortest default window.
pub const FIFTEEN_MINUTES_MS: i64 = 15 * 60_000;
/// One hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Twenty-four hours, Ofcom's window and the default rolling window.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// What the ledger is told about an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A person answered and reached an agent (or the IVR flow).
    Connected,
    /// A person answered and no agent came within the deadline.
    Abandoned,
    /// Answering-machine detection said machine and the call was ended.
    Machine,
}

/// How the ledger counts.
#[derive(Debug, Clone, PartialEq)]
pub struct AbandonConfig {
    /// The campaign's `abandon max` (a fraction, 0.03 at most).
    pub cap: f64,
    /// The compliance window.
    pub rolling_ms: i64,
    /// Shorter windows watched besides it.
    pub short_ms: Vec<i64>,
    /// The answering-machine detector's measured person→machine rate.
    pub amd_false_positive_rate: f64,
}

impl Default for AbandonConfig {
    fn default() -> AbandonConfig {
        AbandonConfig {
            cap: 0.03,
            rolling_ms: DAY_MS,
            short_ms: vec![FIFTEEN_MINUTES_MS, HOUR_MS],
            amd_false_positive_rate: 0.0,
        }
    }
}

/// Counts over one window, with the estimate and the rate derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowStats {
    /// The window's length (ms); the whole run for [`AbandonLedger::overall`].
    pub span_ms: i64,
    /// Persons recognised (connected plus abandoned).
    pub live: u64,
    /// Persons abandoned after the deadline.
    pub abandoned: u64,
    /// Calls the detector took for machines.
    pub machines: u64,
    /// Estimated people among those machines (each an abandoned live call).
    pub estimated_misclassified: f64,
    /// Abandoned (with the estimate) over live answered (with the estimate).
    pub rate: f64,
    /// Abandons still allowed under the cap at the current live count;
    /// negative when the window is over the cap.
    pub budget: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    second: i64,
    live: u64,
    abandoned: u64,
    machines: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    live: u64,
    abandoned: u64,
    machines: u64,
}

impl Sums {
    fn add(&mut self, b: &Bucket) {
        self.live += b.live;
        self.abandoned += b.abandoned;
        self.machines += b.machines;
    }
    fn sub(&mut self, b: &Bucket) {
        self.live -= b.live;
        self.abandoned -= b.abandoned;
        self.machines -= b.machines;
    }
}

#[derive(Debug, Clone)]
struct Window {
    span_ms: i64,
    /// Absolute index of the first bucket inside the window.
    start: u64,
    sums: Sums,
}

/// Live answers and abandons of one campaign over its windows.
#[derive(Debug, Clone)]
pub struct AbandonLedger {
    config: AbandonConfig,
    buckets: VecDeque<Bucket>,
    /// Absolute index of `buckets[0]`.
    base: u64,
    windows: Vec<Window>,
    total: Sums,
    now_ms: i64,
}

impl AbandonLedger {
    /// An empty ledger.
    pub fn new(config: AbandonConfig) -> AbandonLedger {
        let mut spans = vec![config.rolling_ms];
        spans.extend(config.short_ms.iter().copied());
        spans.sort_unstable();
        spans.dedup();
        AbandonLedger {
            windows: spans
                .into_iter()
                .map(|span_ms| Window {
                    span_ms,
                    start: 0,
                    sums: Sums::default(),
                })
                .collect(),
            config,
            buckets: VecDeque::new(),
            base: 0,
            total: Sums::default(),
            now_ms: i64::MIN,
        }
    }

    /// How the ledger counts.
    pub fn config(&self) -> &AbandonConfig {
        &self.config
    }

    /// Counts an answered call at `at_ms`. Calls are expected in time order; one
    /// older than the last counted is counted in the last second.
    pub fn record(&mut self, at_ms: i64, answer: Answer) {
        let second = at_ms.div_euclid(1000);
        let push = match self.buckets.back() {
            Some(b) => second > b.second,
            None => true,
        };
        if push {
            self.buckets.push_back(Bucket {
                second,
                ..Bucket::default()
            });
        }
        let mut delta = Bucket::default();
        match answer {
            Answer::Connected => delta.live = 1,
            Answer::Abandoned => {
                delta.live = 1;
                delta.abandoned = 1;
            }
            Answer::Machine => delta.machines = 1,
        }
        if let Some(b) = self.buckets.back_mut() {
            b.live += delta.live;
            b.abandoned += delta.abandoned;
            b.machines += delta.machines;
        }
        self.total.add(&delta);
        for w in &mut self.windows {
            w.sums.add(&delta);
        }
        self.advance(at_ms.max(self.now_ms));
    }

    /// Moves the windows' ends to `now_ms`, dropping what fell out of them.
    pub fn advance(&mut self, now_ms: i64) {
        if now_ms < self.now_ms {
            return;
        }
        self.now_ms = now_ms;
        let end = self.base + self.buckets.len() as u64;
        for w in &mut self.windows {
            // A bucket of second s holds events in [s, s+1) s; it leaves the
            // window once all of it is older than the window's start.
            let oldest_second = (now_ms - w.span_ms).div_euclid(1000);
            while w.start < end {
                let Some(b) = self.buckets.get((w.start - self.base) as usize) else {
                    break;
                };
                if b.second >= oldest_second {
                    break;
                }
                w.sums.sub(b);
                w.start += 1;
            }
        }
        let keep_from = self.windows.iter().map(|w| w.start).min().unwrap_or(end);
        while self.base < keep_from {
            self.buckets.pop_front();
            self.base += 1;
        }
    }

    fn stats_of(&self, span_ms: i64, s: &Sums) -> WindowStats {
        let f = self.config.amd_false_positive_rate.clamp(0.0, 0.99);
        let misclassified = s.live as f64 * f / (1.0 - f);
        let live = s.live as f64 + misclassified;
        let abandoned = s.abandoned as f64 + misclassified;
        WindowStats {
            span_ms,
            live: s.live,
            abandoned: s.abandoned,
            machines: s.machines,
            estimated_misclassified: misclassified,
            rate: if live > 0.0 { abandoned / live } else { 0.0 },
            budget: self.config.cap * live - abandoned,
        }
    }

    /// The counts over a configured window (`None` for a length not configured).
    pub fn window(&self, span_ms: i64) -> Option<WindowStats> {
        self.windows
            .iter()
            .find(|w| w.span_ms == span_ms)
            .map(|w| self.stats_of(span_ms, &w.sums))
    }

    /// The abandon rate over a configured window.
    pub fn rate(&self, span_ms: i64) -> Option<f64> {
        self.window(span_ms).map(|w| w.rate)
    }

    /// The abandons still allowed under the cap over a configured window.
    pub fn budget(&self, span_ms: i64) -> Option<f64> {
        self.window(span_ms).map(|w| w.budget)
    }

    /// The compliance window's counts.
    pub fn rolling(&self) -> WindowStats {
        self.window(self.config.rolling_ms)
            .unwrap_or_else(|| self.stats_of(self.config.rolling_ms, &Sums::default()))
    }

    /// Every configured window, shortest first.
    pub fn windows(&self) -> impl Iterator<Item = WindowStats> + '_ {
        self.windows
            .iter()
            .map(|w| self.stats_of(w.span_ms, &w.sums))
    }

    /// Everything since the ledger began.
    pub fn overall(&self) -> WindowStats {
        self.stats_of(0, &self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(fp: f64) -> AbandonLedger {
        AbandonLedger::new(AbandonConfig {
            amd_false_positive_rate: fp,
            ..AbandonConfig::default()
        })
    }

    #[test]
    fn rate_is_abandoned_over_live_answered() {
        let mut l = ledger(0.0);
        for i in 0..97 {
            l.record(i * 1000, Answer::Connected);
        }
        for i in 0..3 {
            l.record(100_000 + i * 1000, Answer::Abandoned);
        }
        l.record(110_000, Answer::Machine);
        let w = l.rolling();
        assert_eq!((w.live, w.abandoned, w.machines), (100, 3, 1));
        assert!((w.rate - 0.03).abs() < 1e-12);
        assert!(w.budget.abs() < 1e-9, "{w:?}");
        assert_eq!(l.overall().live, 100);
    }

    #[test]
    fn short_windows_forget_and_the_rolling_window_remembers() {
        let mut l = ledger(0.0);
        l.record(0, Answer::Abandoned);
        l.record(500, Answer::Connected);
        for i in 1..=10 {
            l.record(FIFTEEN_MINUTES_MS + i * 1000, Answer::Connected);
        }
        let short = l
            .window(FIFTEEN_MINUTES_MS)
            .unwrap_or_else(|| panic!("15 min window"));
        assert_eq!((short.live, short.abandoned), (10, 0));
        assert_eq!(short.rate, 0.0);
        let hour = l.window(HOUR_MS).unwrap_or_else(|| panic!("hour window"));
        assert_eq!((hour.live, hour.abandoned), (12, 1));
        l.advance(DAY_MS + 1000);
        assert_eq!(l.rolling().live, 10, "the first second left the day");
        l.advance(DAY_MS + FIFTEEN_MINUTES_MS + 20_000);
        assert_eq!(l.rolling().live, 0);
        assert_eq!(l.overall().live, 12);
        assert!(l.rate(12_345).is_none());
    }

    #[test]
    fn amd_false_positives_count_as_abandoned_live_calls() {
        let mut l = ledger(0.02);
        for i in 0..98 {
            l.record(i, Answer::Connected);
        }
        let w = l.rolling();
        // 98 recognised people at 2 % misclassified: about 2 more were hung up on.
        assert!((w.estimated_misclassified - 2.0).abs() < 1e-9);
        assert!((w.rate - 0.02).abs() < 1e-9, "{}", w.rate);
        assert!((w.budget - (0.03 * 100.0 - 2.0)).abs() < 1e-9);
    }

    #[test]
    fn thirty_day_window_is_configurable() {
        let mut l = AbandonLedger::new(AbandonConfig {
            rolling_ms: 30 * DAY_MS,
            short_ms: vec![HOUR_MS],
            ..AbandonConfig::default()
        });
        l.record(0, Answer::Abandoned);
        l.record(10 * DAY_MS, Answer::Connected);
        assert_eq!(l.rolling().abandoned, 1);
        assert_eq!(l.rolling().span_ms, 30 * DAY_MS);
        assert_eq!(l.window(HOUR_MS).map(|w| w.live), Some(1));
        l.advance(31 * DAY_MS);
        assert_eq!(l.rolling().abandoned, 0);
    }
}
