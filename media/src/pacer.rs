//! The 20 ms send clock of a call.
//!
//! Deadline *n* is `start + n × period`, computed from the tick count, so
//! nothing accumulates: a late wake-up does not move later deadlines, and
//! tick 30,000 is due exactly ten minutes after tick 0.
//!
//! # Late wake-ups
//! When the task wakes more than one period late (a busy core, a long
//! poll elsewhere), the pacer returns the overdue ticks at once, back to
//! back, but never more than [`MAX_CATCH_UP`] overdue ticks: a small burst
//! the far end's jitter buffer absorbs. Ticks further behind are skipped and
//! reported in [`Tick::skipped`]; the sender advances its RTP timestamp by
//! `skipped × 160` without sending, so timestamps stay on the clock grid
//! (the receiver sees a short loss, not a time shift) and the burst never
//! grows with the length of the stall.

use std::time::Duration;

use tokio::time::Instant;

/// The packet interval of every call (20 ms = 160 samples at 8 kHz).
pub const PTIME: Duration = Duration::from_millis(20);

/// Samples per packet at 8 kHz.
pub const SAMPLES_PER_TICK: usize = 160;

/// How far from its deadline, either way, a packet may be sent and still count
/// as on time.
pub const ON_TIME: Duration = Duration::from_millis(2);

/// Most overdue ticks sent back to back after a late wake-up.
pub const MAX_CATCH_UP: u64 = 3;

/// One tick of the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// Tick number since the start (0, 1, 2, ...); skipped numbers are not returned.
    pub index: u64,
    /// Ticks skipped just before this one because the task was too late.
    pub skipped: u64,
    /// How late this tick is against its deadline.
    pub late: Duration,
    /// How early this tick is against its deadline (see
    /// [`Pacer::take_due_ahead`]).
    pub early: Duration,
}

impl Tick {
    /// How far from its deadline the tick is, late or early.
    pub fn off_by(&self) -> Duration {
        self.late.max(self.early)
    }
}

/// A drift-free periodic clock on tokio's (pausable) time.
#[derive(Debug, Clone)]
pub struct Pacer {
    start: Instant,
    period_nanos: u64,
    next: u64,
}

impl Pacer {
    /// A pacer whose tick 0 is due at `start`.
    pub fn new(start: Instant, period: Duration) -> Self {
        Pacer {
            start,
            period_nanos: period.as_nanos().max(1) as u64,
            next: 0,
        }
    }

    /// A 20 ms pacer starting now.
    pub fn ptime() -> Self {
        Self::new(Instant::now(), PTIME)
    }

    /// When tick `n` is due.
    pub fn deadline(&self, n: u64) -> Instant {
        self.start + Duration::from_nanos(n.saturating_mul(self.period_nanos))
    }

    /// The number of the next tick to be returned.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Waits for the next tick.
    ///
    /// Cancel-safe: nothing changes until the wait has completed, so using it
    /// in `select!` loses no tick.
    pub async fn tick(&mut self) -> Tick {
        loop {
            if let Some(t) = self.take_due(Instant::now()) {
                return t;
            }
            tokio::time::sleep_until(self.deadline(self.next)).await;
        }
    }

    /// The next tick if it is due at `now`, with the late-wake-up policy
    /// applied; `None` while it is not due yet.
    pub fn take_due(&mut self, now: Instant) -> Option<Tick> {
        self.take_due_ahead(now, Duration::ZERO)
    }

    /// The next tick if it is due by `now + lead` (so up to `lead` early),
    /// with the late-wake-up policy applied; `None` while it is not due yet.
    /// The media clock calls this until it returns `None`.
    pub fn take_due_ahead(&mut self, now: Instant, lead: Duration) -> Option<Tick> {
        let due = self.deadline(self.next);
        if now + lead < due {
            return None;
        }
        let behind =
            (now.saturating_duration_since(due).as_nanos() / self.period_nanos as u128) as u64;
        let skipped = behind.saturating_sub(MAX_CATCH_UP);
        self.next += skipped;
        let index = self.next;
        self.next += 1;
        let deadline = self.deadline(index);
        Some(Tick {
            index,
            skipped,
            late: now.saturating_duration_since(deadline),
            early: deadline.saturating_duration_since(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ten_minutes_without_drift() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, PTIME);
        for n in 0..30_000u64 {
            let t = pacer.tick().await;
            assert_eq!(t.index, n);
            assert_eq!(t.skipped, 0);
            assert_eq!(Instant::now(), start + PTIME * n as u32, "tick {n}");
            // Some work inside the tick must not shift later deadlines.
            if n % 7 == 0 {
                tokio::time::advance(Duration::from_millis(3)).await;
            }
        }
        let last = pacer.tick().await;
        assert_eq!(last.index, 30_000);
        assert_eq!(Instant::now() - start, Duration::from_secs(600));
    }

    #[tokio::test(start_paused = true)]
    async fn late_wakeup_catches_up_with_a_bounded_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, PTIME);
        for _ in 0..10 {
            pacer.tick().await;
        }
        // Tick 9 came at 180 ms; the task stalls until 385 ms: ticks 10..=19
        // (due 200..=380 ms) are overdue.
        tokio::time::advance(Duration::from_millis(205)).await;
        let stalled_at = Instant::now();
        let mut burst = Vec::new();
        loop {
            let t = pacer.tick().await;
            if Instant::now() != stalled_at {
                // The first tick that had to wait: back on the grid.
                assert_eq!(Instant::now(), start + PTIME * t.index as u32);
                assert_eq!(t.late, Duration::ZERO);
                break;
            }
            burst.push(t);
        }
        // Sent at once: the latest due tick plus at most MAX_CATCH_UP
        // overdue ones; the rest were skipped.
        assert_eq!(burst.len() as u64, MAX_CATCH_UP + 1);
        assert_eq!(burst[0].skipped, 10 - 1 - MAX_CATCH_UP);
        assert!(burst[1..].iter().all(|t| t.skipped == 0));
        let indices: Vec<u64> = burst.iter().map(|t| t.index).collect();
        assert_eq!(indices, [16, 17, 18, 19]);
        assert_eq!(burst[3].late, Duration::from_millis(5));
        // Timestamps stay continuous: every tick is either sent or skipped.
        let sent_plus_skipped: u64 = burst.iter().map(|t| 1 + t.skipped).sum();
        assert_eq!(10 + sent_plus_skipped, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn slightly_late_ticks_are_all_sent() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, PTIME);
        pacer.tick().await;
        tokio::time::advance(Duration::from_millis(45)).await;
        let a = pacer.tick().await;
        let b = pacer.tick().await;
        assert_eq!((a.index, a.skipped, b.index, b.skipped), (1, 0, 2, 0));
        assert_eq!(a.late, Duration::from_millis(25));
        let c = pacer.tick().await;
        assert_eq!(c.index, 3);
        assert_eq!(Instant::now(), start + PTIME * 3);
    }

    #[test]
    fn ticks_are_taken_up_to_the_lead_early() {
        let start = Instant::now();
        let lead = Duration::from_millis(1);
        let mut pacer = Pacer::new(start, PTIME);
        let t0 = pacer.take_due_ahead(start, lead).expect("tick 0 is due");
        assert_eq!(
            (t0.index, t0.late, t0.early),
            (0, Duration::ZERO, Duration::ZERO)
        );
        // Tick 1 is due at 20 ms: not at 18.9 ms, but at 19 ms, 1 ms early.
        let at = |us: u64| start + Duration::from_micros(us);
        assert_eq!(pacer.take_due_ahead(at(18_900), lead), None);
        let t1 = pacer
            .take_due_ahead(at(19_000), lead)
            .expect("tick 1 within the lead");
        assert_eq!((t1.index, t1.early), (1, lead));
        assert_eq!(t1.off_by(), lead);
        assert_eq!(
            pacer.take_due_ahead(at(19_000), lead),
            None,
            "tick 2 is not near"
        );
        // A late one is late by the real time, not by the lead.
        let t2 = pacer
            .take_due_ahead(at(43_000), lead)
            .expect("tick 2 is late");
        assert_eq!(
            (t2.index, t2.late, t2.early),
            (2, Duration::from_millis(3), Duration::ZERO)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tick_is_cancel_safe() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, PTIME);
        pacer.tick().await;
        // Cancel a pending wait half-way.
        let _ = tokio::time::timeout(Duration::from_millis(10), pacer.tick()).await;
        let t = pacer.tick().await;
        assert_eq!(t.index, 1);
        assert_eq!(Instant::now(), start + PTIME);
    }
}
