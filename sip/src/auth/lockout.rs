//! Counting authentication failures and locking out who keeps failing: what
//! turns online password guessing from thousands of tries a second into a few
//! an hour.
//!
//! Two ledgers, each a map of [`Strikes`]:
//!
//! - **per source address** (IP, all ports together): every failure counts
//!   (wrong password, unknown user, replayed or misplaced nonce, a header that
//!   cannot be read). `source_failures` of them within `window` lock the address
//!   out for `source_lockout`, doubling with each further lock-out up to
//!   `source_lockout_max`. This is the first line: a guesser is stopped at its
//!   own address without touching anybody else.
//! - **per user**: only wrong passwords for a user who exists count.
//!   `user_failures` of them, from anywhere, within `window` lock the user for
//!   `user_lockout` (doubling up to `user_lockout_max`): this is what slows a
//!   guesser spread over many addresses. So that it cannot be used to keep a
//!   real agent from working, the user lock-out does not apply to an address
//!   that proved it knows the password within `trusted_for` (the agent's
//!   phone), and it is short.
//!
//! A ledger forgets an entry that has been quiet (no failure, no lock-out) for
//! a whole `window`; the doubling starts again from the base after that. The
//! source ledger holds at most `max_sources` entries: when it is full it drops
//! quiet entries, and if none is quiet a new address is not tracked (its
//! failures still count against the user). Trusted addresses are kept per user,
//! at most [`MAX_TRUSTED_PER_USER`] each.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

/// How many recently successful addresses are remembered per user.
pub const MAX_TRUSTED_PER_USER: usize = 8;

/// Lock-out settings; the module documentation says how the two ledgers use
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failures are counted over this long; an entry quiet this long is forgotten.
    pub window: Duration,
    /// Failures from one address before it is locked out.
    pub source_failures: u32,
    /// The first lock-out of an address.
    pub source_lockout: Duration,
    /// The longest lock-out of an address (the doubling stops there).
    pub source_lockout_max: Duration,
    /// Wrong passwords for one user, from anywhere, before the user is locked.
    pub user_failures: u32,
    /// The first lock-out of a user.
    pub user_lockout: Duration,
    /// The longest lock-out of a user.
    pub user_lockout_max: Duration,
    /// How long an address that authenticated as a user stays exempt from
    /// that user's lock-out.
    pub trusted_for: Duration,
    /// Most addresses tracked at once.
    pub max_sources: usize,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            window: Duration::from_secs(600),
            source_failures: 5,
            source_lockout: Duration::from_secs(60),
            source_lockout_max: Duration::from_secs(3600),
            user_failures: 10,
            user_lockout: Duration::from_secs(30),
            user_lockout_max: Duration::from_secs(300),
            trusted_for: Duration::from_secs(24 * 3600),
            max_sources: 100_000,
        }
    }
}

/// One address's or user's recent failures.
#[derive(Debug, Clone)]
struct Strikes {
    /// Failures since `since` (reset by a lock-out).
    failures: u32,
    since: Instant,
    /// End of the current lock-out (`None`, or past: not locked).
    locked_until: Option<Instant>,
    /// Lock-outs in a row (the next one lasts base × 2^lockouts).
    lockouts: u32,
    /// The last failure or lock-out.
    last: Instant,
}

impl Strikes {
    fn new(now: Instant) -> Strikes {
        Strikes {
            failures: 0,
            since: now,
            locked_until: None,
            lockouts: 0,
            last: now,
        }
    }

    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|t| *t > now)
            .map(|t| t.saturating_duration_since(now))
    }

    /// Quiet: not locked and no failure for a whole window.
    fn quiet(&self, now: Instant, window: Duration) -> bool {
        self.locked(now).is_none() && now.saturating_duration_since(self.last) >= window
    }

    /// Counts one failure; the lock-out it starts, if any.
    fn fail(
        &mut self,
        now: Instant,
        window: Duration,
        limit: u32,
        base: Duration,
        max: Duration,
    ) -> Option<Duration> {
        if self.quiet(now, window) {
            self.lockouts = 0;
        }
        if now.saturating_duration_since(self.since) >= window {
            self.failures = 0;
            self.since = now;
        }
        self.last = now;
        self.failures += 1;
        if self.failures < limit.max(1) {
            return None;
        }
        let factor = 1u32.checked_shl(self.lockouts.min(20)).unwrap_or(u32::MAX);
        let length = base.saturating_mul(factor).min(max.max(base));
        self.lockouts = self.lockouts.saturating_add(1);
        self.failures = 0;
        self.since = now;
        self.locked_until = Some(now + length);
        Some(length)
    }
}

/// A ledger of strikes by key, bounded.
#[derive(Debug)]
struct Ledger<K> {
    entries: HashMap<K, Strikes>,
    max: usize,
    /// When quiet entries were last swept out (at most once a second).
    swept: Option<Instant>,
}

impl<K: Hash + Eq + Clone> Ledger<K> {
    fn new(max: usize) -> Ledger<K> {
        Ledger {
            entries: HashMap::new(),
            max: max.max(1),
            swept: None,
        }
    }

    fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        self.entries.get(key).and_then(|s| s.locked(now))
    }

    /// The entry for `key`, made room for; `None` when the ledger is full of
    /// entries that are not quiet.
    fn entry(&mut self, key: &K, now: Instant, window: Duration) -> Option<&mut Strikes> {
        if !self.entries.contains_key(key) && self.entries.len() >= self.max {
            let due = self
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(1));
            if due {
                self.swept = Some(now);
                self.entries.retain(|_, s| !s.quiet(now, window));
            }
            if self.entries.len() >= self.max {
                return None;
            }
        }
        Some(
            self.entries
                .entry(key.clone())
                .or_insert_with(|| Strikes::new(now)),
        )
    }
}

/// Why a request is refused before its credentials are even looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    /// The source address is locked out for this long.
    Source(Duration),
    /// The user is locked out (for this address) for this long.
    User(Duration),
}

impl Locked {
    /// How long until it may try again.
    pub fn retry_after(&self) -> Duration {
        match self {
            Locked::Source(d) | Locked::User(d) => *d,
        }
    }
}

/// A lock-out that a failure just started, to be logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockoutStarted {
    /// An address, for this long.
    Source(IpAddr, Duration),
    /// A user, for this long (addresses that recently proved the user's password
    /// are spared).
    User(String, Duration),
}

/// Both ledgers and the trusted addresses.
#[derive(Debug)]
pub struct Lockout {
    config: LockoutConfig,
    sources: Ledger<IpAddr>,
    users: Ledger<String>,
    /// Per user, the addresses that authenticated as them and when.
    trusted: HashMap<String, Vec<(IpAddr, Instant)>>,
}

impl Lockout {
    /// Empty ledgers with these settings.
    pub fn new(config: LockoutConfig) -> Lockout {
        Lockout {
            sources: Ledger::new(config.max_sources),
            // Only users who exist get an entry, so this bound is never the
            // binding one; it only keeps a bug from growing it.
            users: Ledger::new(config.max_sources),
            trusted: HashMap::new(),
            config,
        }
    }

    /// Whether a request from `source` for `user` must be refused now.
    pub fn check(&self, source: IpAddr, user: &str, now: Instant) -> Result<(), Locked> {
        if let Some(d) = self.sources.locked(&source, now) {
            return Err(Locked::Source(d));
        }
        if let Some(d) = self.users.locked(&user.to_string(), now)
            && !self.is_trusted(user, source, now)
        {
            return Err(Locked::User(d));
        }
        Ok(())
    }

    /// Counts a failure from `source`; `wrong_password_for` names the user
    /// when it was a wrong password for a user who exists. Returns the
    /// lock-outs it started.
    pub fn fail(
        &mut self,
        source: IpAddr,
        wrong_password_for: Option<&str>,
        now: Instant,
    ) -> Vec<LockoutStarted> {
        let c = &self.config;
        let mut started = Vec::new();
        if let Some(s) = self.sources.entry(&source, now, c.window)
            && let Some(d) = s.fail(
                now,
                c.window,
                c.source_failures,
                c.source_lockout,
                c.source_lockout_max,
            )
        {
            started.push(LockoutStarted::Source(source, d));
        }
        if let Some(user) = wrong_password_for
            && let Some(s) = self.users.entry(&user.to_string(), now, c.window)
            && let Some(d) = s.fail(
                now,
                c.window,
                c.user_failures,
                c.user_lockout,
                c.user_lockout_max,
            )
        {
            started.push(LockoutStarted::User(user.to_string(), d));
        }
        started
    }

    /// Records that `source` authenticated as `user`: it is exempt from the
    /// user's lock-out for `trusted_for`.
    pub fn succeed(&mut self, source: IpAddr, user: &str, now: Instant) {
        let trusted_for = self.config.trusted_for;
        let list = self.trusted.entry(user.to_string()).or_default();
        list.retain(|(ip, at)| *ip != source && now.saturating_duration_since(*at) < trusted_for);
        if list.len() >= MAX_TRUSTED_PER_USER {
            list.remove(0);
        }
        list.push((source, now));
    }

    fn is_trusted(&self, user: &str, source: IpAddr, now: Instant) -> bool {
        self.trusted.get(user).is_some_and(|l| {
            l.iter().any(|(ip, at)| {
                *ip == source && now.saturating_duration_since(*at) < self.config.trusted_for
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([198, 51, 100, last])
    }

    fn config() -> LockoutConfig {
        LockoutConfig {
            window: Duration::from_secs(600),
            source_failures: 5,
            source_lockout: Duration::from_secs(60),
            source_lockout_max: Duration::from_secs(240),
            user_failures: 10,
            user_lockout: Duration::from_secs(30),
            user_lockout_max: Duration::from_secs(300),
            trusted_for: Duration::from_secs(3600),
            max_sources: 1_000,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_source_is_locked_out_after_its_failures_and_the_lock_doubles() {
        let mut l = Lockout::new(config());
        let now = Instant::now();
        for _ in 0..4 {
            assert!(l.fail(ip(1), None, now).is_empty());
            assert_eq!(l.check(ip(1), "1001", now), Ok(()));
        }
        assert_eq!(
            l.fail(ip(1), None, now),
            vec![LockoutStarted::Source(ip(1), Duration::from_secs(60))]
        );
        assert_eq!(
            l.check(ip(1), "1001", now),
            Err(Locked::Source(Duration::from_secs(60)))
        );
        // Another address is not affected.
        assert_eq!(l.check(ip(2), "1001", now), Ok(()));
        // After the lock, five more failures lock it for twice as long, and so
        // on up to the maximum.
        for want in [120, 240, 240] {
            tokio::time::advance(Duration::from_secs(241)).await;
            let now = Instant::now();
            assert_eq!(l.check(ip(1), "1001", now), Ok(()));
            let mut started = Vec::new();
            for _ in 0..5 {
                started.extend(l.fail(ip(1), None, now));
            }
            assert_eq!(
                started,
                vec![LockoutStarted::Source(ip(1), Duration::from_secs(want))]
            );
        }
        // A quiet window later the doubling starts again.
        tokio::time::advance(Duration::from_secs(240 + 600)).await;
        let now = Instant::now();
        let mut started = Vec::new();
        for _ in 0..5 {
            started.extend(l.fail(ip(1), None, now));
        }
        assert_eq!(
            started,
            vec![LockoutStarted::Source(ip(1), Duration::from_secs(60))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failures_older_than_the_window_do_not_count() {
        let mut l = Lockout::new(config());
        for _ in 0..4 {
            l.fail(ip(1), None, Instant::now());
        }
        tokio::time::advance(Duration::from_secs(601)).await;
        for _ in 0..4 {
            assert!(l.fail(ip(1), None, Instant::now()).is_empty());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_guessed_from_many_addresses_is_locked_briefly_except_for_its_phone() {
        let mut l = Lockout::new(config());
        let now = Instant::now();
        l.succeed(ip(200), "1001", now);
        // Ten addresses, one wrong password each: no address is locked, the user is.
        let mut started = Vec::new();
        for i in 0..10 {
            started.extend(l.fail(ip(i), Some("1001"), now));
        }
        assert_eq!(
            started,
            vec![LockoutStarted::User("1001".into(), Duration::from_secs(30))]
        );
        assert_eq!(
            l.check(ip(50), "1001", now),
            Err(Locked::User(Duration::from_secs(30)))
        );
        // The agent's own phone still gets in; other users are not affected.
        assert_eq!(l.check(ip(200), "1001", now), Ok(()));
        assert_eq!(l.check(ip(50), "1002", now), Ok(()));
        // The lock is short.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(l.check(ip(50), "1001", Instant::now()), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn trust_ends() {
        let mut l = Lockout::new(config());
        l.succeed(ip(200), "1001", Instant::now());
        tokio::time::advance(Duration::from_secs(3600)).await;
        let now = Instant::now();
        for i in 0..10 {
            l.fail(ip(i), Some("1001"), now);
        }
        assert!(l.check(ip(200), "1001", now).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_source_ledger_is_bounded() {
        let mut c = config();
        c.max_sources = 50;
        let mut l = Lockout::new(c);
        for i in 0..1_000u32 {
            let a = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            l.fail(a, None, Instant::now());
            assert!(l.sources.entries.len() <= 50);
        }
        // A window later the quiet entries make room again.
        tokio::time::advance(Duration::from_secs(601)).await;
        l.fail(ip(9), None, Instant::now());
        assert!(l.sources.entries.contains_key(&ip(9)));
        for _ in 0..MAX_TRUSTED_PER_USER * 3 {
            l.succeed(ip(1), "1001", Instant::now());
        }
        assert_eq!(l.trusted.get("1001").map(Vec::len), Some(1));
    }
}
