//! The table of outstanding digest nonces: what makes a captured `Authorization`
//! header useless to whoever captured it.
//!
//! A nonce is issued for one request's source (transport and address), the user
//! it challenged and the method, and is accepted only from there, for that user
//! and method, until its lifetime ends. The nonce count (`nc`) of every accepted
//! use must be higher than the last one accepted, so a header replayed as it was
//! sent is refused even from the right address (RFC 7616 section 3.3, qop=auth
//! is therefore required). Nonces are 160-bit random tokens, not derived from
//! anything, so they reveal nothing and cannot be forged.
//!
//! Memory is bounded: at most `max_total` nonces in all and `max_per_source`
//! per source IP address (all its ports together); issuing beyond either limit
//! forgets the oldest nonce of that source, or of all. A phone whose nonce was
//! forgotten is simply challenged again (`stale=true`). Time is
//! `tokio::time::Instant`, so tests run on paused time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::message::random_token;
use crate::transport::Target;

/// Characters in a nonce (36 symbols each: about 160 bits).
const NONCE_LEN: usize = 31;

/// What a nonce was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceScope {
    /// Where the challenged request came from.
    pub source: Target,
    /// The user the request had to come from (the address of record of a
    /// REGISTER, the agent of a REFER).
    pub user: String,
    /// The challenged method (`REGISTER`, `REFER`).
    pub method: String,
}

#[derive(Debug)]
struct Entry {
    scope: NonceScope,
    issued: Instant,
    /// Highest nonce count accepted so far (0: none yet).
    last_nc: u32,
}

/// Why a nonce was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceError {
    /// Not in the table: never issued, forgotten, or past its lifetime.
    Unknown,
    /// Issued for another source, user or method.
    OutOfScope,
    /// The nonce count is not higher than one already accepted: a replay.
    Replayed,
}

/// The outstanding nonces. Not synchronised: the [`Authenticator`] holds it in
/// a mutex, never across an `.await`.
///
/// [`Authenticator`]: super::Authenticator
#[derive(Debug)]
pub struct NonceTable {
    lifetime: Duration,
    max_total: usize,
    max_per_source: usize,
    entries: HashMap<String, Entry>,
    /// Nonces in the order issued (possibly some already removed: checked
    /// against `entries` when popped, compacted when it grows).
    order: VecDeque<(Instant, String)>,
    /// Each source's nonces, oldest first.
    by_source: HashMap<IpAddr, VecDeque<String>>,
}

impl NonceTable {
    /// A table whose nonces live `lifetime`, at most `max_total` in all and
    /// `max_per_source` per source address (each at least 1).
    pub fn new(lifetime: Duration, max_total: usize, max_per_source: usize) -> NonceTable {
        NonceTable {
            lifetime,
            max_total: max_total.max(1),
            max_per_source: max_per_source.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
            by_source: HashMap::new(),
        }
    }

    /// How many nonces are outstanding.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is outstanding.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A new nonce for `scope`.
    pub fn issue(&mut self, scope: NonceScope, now: Instant) -> String {
        self.expire(now);
        let ip = scope.source.addr.ip();
        let mine = self.by_source.get(&ip).map_or(0, VecDeque::len);
        if mine >= self.max_per_source {
            self.forget_oldest_of(ip);
        }
        while self.entries.len() >= self.max_total {
            if !self.forget_oldest() {
                break;
            }
        }
        let nonce = random_token(NONCE_LEN);
        self.entries.insert(
            nonce.clone(),
            Entry {
                scope,
                issued: now,
                last_nc: 0,
            },
        );
        self.order.push_back((now, nonce.clone()));
        self.by_source
            .entry(ip)
            .or_default()
            .push_back(nonce.clone());
        if self.order.len() > 2 * self.max_total {
            let entries = &self.entries;
            self.order.retain(|(_, n)| entries.contains_key(n));
        }
        nonce
    }

    /// Accepts one use of `nonce` with count `nc` for `scope`, recording the
    /// count. Call only once the response has been verified: an unverified
    /// request must not move the count (a forger could otherwise burn a phone's
    /// nonce).
    pub fn accept(
        &mut self,
        nonce: &str,
        scope: &NonceScope,
        nc: u32,
        now: Instant,
    ) -> Result<(), NonceError> {
        self.check(nonce, scope, nc, now)?;
        if let Some(e) = self.entries.get_mut(nonce) {
            e.last_nc = nc;
        }
        Ok(())
    }

    /// Whether one use of `nonce` with count `nc` for `scope` would be
    /// accepted, without recording it.
    pub fn check(
        &self,
        nonce: &str,
        scope: &NonceScope,
        nc: u32,
        now: Instant,
    ) -> Result<(), NonceError> {
        let e = self.entries.get(nonce).ok_or(NonceError::Unknown)?;
        if now.saturating_duration_since(e.issued) >= self.lifetime {
            return Err(NonceError::Unknown);
        }
        if e.scope != *scope {
            return Err(NonceError::OutOfScope);
        }
        if nc <= e.last_nc {
            return Err(NonceError::Replayed);
        }
        Ok(())
    }

    /// Removes nonces past their lifetime.
    fn expire(&mut self, now: Instant) {
        while let Some((issued, _)) = self.order.front() {
            if now.saturating_duration_since(*issued) < self.lifetime {
                break;
            }
            if let Some((_, nonce)) = self.order.pop_front() {
                self.remove(&nonce);
            }
        }
    }

    /// Forgets the oldest nonce still outstanding; false when there is none.
    fn forget_oldest(&mut self) -> bool {
        while let Some((_, nonce)) = self.order.pop_front() {
            if self.remove(&nonce) {
                return true;
            }
        }
        false
    }

    fn forget_oldest_of(&mut self, ip: IpAddr) {
        let oldest = self.by_source.get_mut(&ip).and_then(VecDeque::pop_front);
        if let Some(nonce) = oldest {
            self.remove(&nonce);
        }
    }

    /// Removes one nonce from the map and its source's list (the issue order
    /// is cleaned lazily). True when it was there.
    fn remove(&mut self, nonce: &str) -> bool {
        let Some(e) = self.entries.remove(nonce) else {
            return false;
        };
        let ip = e.scope.source.addr.ip();
        if let Some(list) = self.by_source.get_mut(&ip) {
            list.retain(|n| n != nonce);
            if list.is_empty() {
                self.by_source.remove(&ip);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportKind;

    fn scope(port: u16, user: &str, method: &str) -> NonceScope {
        NonceScope {
            source: Target {
                transport: TransportKind::Udp,
                addr: std::net::SocketAddr::from(([192, 0, 2, 7], port)),
            },
            user: user.into(),
            method: method.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_nonce_is_accepted_once_per_count_and_only_where_it_was_issued() {
        let mut t = NonceTable::new(Duration::from_secs(60), 100, 10);
        let s = scope(5060, "1001", "REGISTER");
        let n = t.issue(s.clone(), Instant::now());
        assert_eq!(n.len(), NONCE_LEN);
        let now = Instant::now();
        assert_eq!(t.accept(&n, &s, 1, now), Ok(()));
        // The same count again is a replay; a higher one is the phone's next use.
        assert_eq!(t.accept(&n, &s, 1, now), Err(NonceError::Replayed));
        assert_eq!(t.accept(&n, &s, 2, now), Ok(()));
        // Another port, user or method: out of scope.
        for other in [
            scope(5062, "1001", "REGISTER"),
            scope(5060, "1002", "REGISTER"),
            scope(5060, "1001", "REFER"),
        ] {
            assert_eq!(t.accept(&n, &other, 3, now), Err(NonceError::OutOfScope));
        }
        assert_eq!(t.accept("made-up", &s, 1, now), Err(NonceError::Unknown));
    }

    #[tokio::test(start_paused = true)]
    async fn checking_does_not_move_the_count() {
        let mut t = NonceTable::new(Duration::from_secs(60), 100, 10);
        let s = scope(5060, "1001", "REGISTER");
        let n = t.issue(s.clone(), Instant::now());
        assert_eq!(t.check(&n, &s, 5, Instant::now()), Ok(()));
        assert_eq!(t.accept(&n, &s, 1, Instant::now()), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn nonces_end_with_their_lifetime() {
        let mut t = NonceTable::new(Duration::from_secs(60), 100, 10);
        let s = scope(5060, "1001", "REGISTER");
        let n = t.issue(s.clone(), Instant::now());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(t.check(&n, &s, 1, Instant::now()), Ok(()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(t.check(&n, &s, 1, Instant::now()), Err(NonceError::Unknown));
        // The next issue sweeps it out.
        let _ = t.issue(s, Instant::now());
        assert_eq!(t.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn one_source_cannot_hold_more_than_its_share() {
        let mut t = NonceTable::new(Duration::from_secs(60), 1_000, 4);
        let phone = scope(5060, "1001", "REGISTER");
        let mine = t.issue(phone.clone(), Instant::now());
        let flood: Vec<String> = (0..10_000)
            .map(|i| {
                t.issue(
                    scope(6000 + (i % 50) as u16, "x", "REGISTER"),
                    Instant::now(),
                )
            })
            .collect();
        // The flood came from the phone's own address: it keeps only the last 4.
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.check(&mine, &phone, 1, Instant::now()),
            Err(NonceError::Unknown)
        );
        assert!(t.order.len() <= 2 * 1_000 + 1);
        let last = flood.last().map(String::as_str).unwrap_or("");
        assert!(t.entries.contains_key(last));
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_never_grows_past_its_total() {
        let mut t = NonceTable::new(Duration::from_secs(60), 100, 4);
        for i in 0..5_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let s = NonceScope {
                source: Target {
                    transport: TransportKind::Udp,
                    addr: std::net::SocketAddr::from((ip, 5060)),
                },
                user: "1001".into(),
                method: "REGISTER".into(),
            };
            let _ = t.issue(s, Instant::now());
            assert!(t.len() <= 100);
            assert!(t.by_source.len() <= 100);
            assert!(t.order.len() <= 201);
        }
    }
}
