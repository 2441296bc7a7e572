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

/// A token bucket: at most `per_second` events a second, with bursts of up to
/// one second's worth. Shared by threads (a short lock, never across an await).
#[derive(Debug)]
pub struct RateBucket {
    per_second: f64,
    state: std::sync::Mutex<(Instant, f64)>,
}

impl RateBucket {
    /// A full bucket for `per_second` events a second (at least one).
    pub fn new(per_second: u32) -> RateBucket {
        let per_second = f64::from(per_second.max(1));
        RateBucket {
            per_second,
            state: std::sync::Mutex::new((Instant::now(), per_second)),
        }
    }

    /// Takes one event's token; `false` when the rate is used up.
    pub fn take(&self) -> bool {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(b.0).as_secs_f64() * self.per_second;
        b.1 = (b.1 + refill).min(self.per_second);
        b.0 = now;
        if b.1 < 1.0 {
            return false;
        }
        b.1 -= 1.0;
        true
    }
}
