//! RFC 3261 timer values (section 17 and table 4), and RFC 6026's L and M.
//!
//! Every transaction reads its durations from one [`Timers`] value so that tests
//! and unusual networks can scale T1/T2/T4 in one place.

use std::time::Duration;

/// The base timer values; every other timer derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip time estimate (500 ms).
    pub t1: Duration,
    /// Cap on the retransmit interval of non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (5 s).
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

fn unless(reliable: bool, d: Duration) -> Duration {
    if reliable { Duration::ZERO } else { d }
}

impl Timers {
    /// Timer A: first INVITE retransmit interval (unreliable transports only).
    pub fn a(&self) -> Duration {
        self.t1
    }
    /// Timer B: INVITE client transaction timeout.
    pub fn b(&self) -> Duration {
        self.t1 * 64
    }
    /// Timer D: how long an INVITE client transaction absorbs final responses.
    pub fn d(&self, reliable: bool) -> Duration {
        unless(reliable, Duration::from_secs(32).max(self.t1 * 64))
    }
    /// Timer E: first non-INVITE retransmit interval.
    pub fn e(&self) -> Duration {
        self.t1
    }
    /// Timer F: non-INVITE client transaction timeout.
    pub fn f(&self) -> Duration {
        self.t1 * 64
    }
    /// Timer G: first retransmit interval of a final INVITE response.
    pub fn g(&self) -> Duration {
        self.t1
    }
    /// Timer H: how long to wait for the ACK of a final non-2xx INVITE response.
    pub fn h(&self) -> Duration {
        self.t1 * 64
    }
    /// Timer I: how long to absorb ACK retransmissions.
    pub fn i(&self, reliable: bool) -> Duration {
        unless(reliable, self.t4)
    }
    /// Timer J: how long a non-INVITE server transaction answers retransmissions.
    pub fn j(&self, reliable: bool) -> Duration {
        unless(reliable, self.t1 * 64)
    }
    /// Timer K: how long a non-INVITE client transaction absorbs response retransmissions.
    pub fn k(&self, reliable: bool) -> Duration {
        unless(reliable, self.t4)
    }
    /// Timer L (RFC 6026): the INVITE server transaction's Accepted state.
    pub fn l(&self) -> Duration {
        self.t1 * 64
    }
    /// Timer M (RFC 6026): the INVITE client transaction's Accepted state.
    pub fn m(&self) -> Duration {
        self.t1 * 64
    }
    /// Next retransmit interval for timers E and G: doubled, capped at T2.
    pub fn backoff_capped(&self, current: Duration) -> Duration {
        (current * 2).min(self.t2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_rfc3261_table_4() {
        let t = Timers::default();
        assert_eq!(t.b(), Duration::from_secs(32));
        assert_eq!(t.f(), Duration::from_secs(32));
        assert_eq!(t.h(), Duration::from_secs(32));
        assert_eq!(t.d(false), Duration::from_secs(32));
        assert_eq!(t.d(true), Duration::ZERO);
        assert_eq!(t.i(false), Duration::from_secs(5));
        assert_eq!(t.j(false), Duration::from_secs(32));
        assert_eq!(t.k(true), Duration::ZERO);
        let mut e = t.e();
        let mut seen = vec![];
        for _ in 0..5 {
            seen.push(e.as_millis());
            e = t.backoff_capped(e);
        }
        assert_eq!(seen, vec![500, 1000, 2000, 4000, 4000]);
    }
}
