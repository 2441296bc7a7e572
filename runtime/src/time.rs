//! Time as the runtime's actors see it.
//!
//! The ACD and the workorder engine keep their decisions in Unix milliseconds
//! (stored records, business hours, time limits) but wait with tokio timers. A
//! [`PausableClock`] joins the two: it reads the wall clock once and then
//! advances with tokio's clock, so a test with `start_paused = true` moves the
//! actors' "now" and fires their timers on virtual time, and a timer for a Unix
//! time becomes a tokio [`Instant`] to sleep until.

use tokio::time::Instant;

/// Now, in Unix milliseconds, from the system clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds that advance with tokio's (pausable) clock.
#[derive(Debug, Clone, Copy)]
pub struct PausableClock {
    base_ms: i64,
    start: Instant,
}

impl PausableClock {
    /// Starts at the system clock's now.
    pub fn system() -> PausableClock {
        PausableClock::starting_at(now_ms())
    }

    /// Reads `ms` now and advances with tokio's time from here (tests start
    /// on a chosen day and hour).
    pub fn starting_at(ms: i64) -> PausableClock {
        PausableClock {
            base_ms: ms,
            start: Instant::now(),
        }
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.start.elapsed().as_millis() as i64
    }

    /// The tokio instant of a Unix-ms time, for a timer; past times give the
    /// clock's start, which has passed, so the timer fires at once.
    pub fn instant_at(&self, ms: i64) -> Instant {
        self.start + std::time::Duration::from_millis((ms - self.base_ms).max(0) as u64)
    }
}
