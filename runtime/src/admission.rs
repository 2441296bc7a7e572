//! Per-source admission of new calls: how many calls one source address may
//! hold at once and start each second, so that one sender cannot take every call
//! slot (`limits.max_calls`) from everyone else.
//!
//! Carriers' trunks (`trunks[].sources`) and registered agent phones are trusted
//! by address and bound only by the global limits; every other source gets
//! `limits.calls_per_source` calls at once and `limits.calls_per_source_per_second`
//! new ones a second (a token bucket). Over either, the INVITE gets a clean `503
//! Service Unavailable` with `Retry-After`, before any call task, media port or
//! global permit is spent on it.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dialect_sip::endpoint::IncomingRequest;
use dialect_sip::registrar::Registrar;

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source holds `calls_per_source` calls already.
    Busy,
    /// The source started `calls_per_source_per_second` calls within the last second.
    Rate,
}

impl Refusal {
    /// Words for the `Reason` header and the log.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::Busy => "too many calls from this address",
            Refusal::Rate => "calls from this address come too fast",
        }
    }
}

#[derive(Debug)]
struct Source {
    active: usize,
    tokens: f64,
    refilled: Instant,
}

#[derive(Debug)]
struct Inner {
    per_source: usize,
    per_second: f64,
    sources: Mutex<HashMap<IpAddr, Source>>,
}

/// The per-source limits, shared by the dispatcher and the call tasks.
#[derive(Debug, Clone)]
pub struct SourceLimiter {
    inner: Arc<Inner>,
    trusted: Arc<HashSet<IpAddr>>,
    registrar: Option<Registrar>,
}

/// A call's place in its source's count; given back when the call task ends.
#[derive(Debug)]
pub struct SourceSlot {
    inner: Arc<Inner>,
    ip: IpAddr,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut sources = self.inner.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sources.get_mut(&self.ip) {
            s.active = s.active.saturating_sub(1);
        }
    }
}

/// Most sources remembered; past it, idle ones are forgotten first.
const MAX_SOURCES: usize = 100_000;

impl SourceLimiter {
    /// `per_source` calls at once and `per_second` new calls a second per
    /// untrusted source; `trusted` addresses (trunks) and the sources of
    /// registered phones are exempt.
    pub fn new(
        per_source: usize,
        per_second: u32,
        trusted: impl IntoIterator<Item = IpAddr>,
        registrar: Option<Registrar>,
    ) -> SourceLimiter {
        SourceLimiter {
            inner: Arc::new(Inner {
                per_source: per_source.max(1),
                per_second: f64::from(per_second.max(1)),
                sources: Mutex::new(HashMap::new()),
            }),
            trusted: Arc::new(trusted.into_iter().collect()),
            registrar,
        }
    }

    /// Admits a new call from `ip`: `Ok(None)` for a trusted source, `Ok(Some)`
    /// with the slot to hold for the call's life, or why it is refused.
    pub fn admit(&self, ip: IpAddr) -> Result<Option<SourceSlot>, Refusal> {
        if self.trusted.contains(&ip) {
            return Ok(None);
        }
        let verdict = self.take(ip);
        match verdict {
            Err(_) if self.is_registered_phone(ip) => Ok(None),
            Err(r) => Err(r),
            Ok(()) => Ok(Some(SourceSlot {
                inner: self.inner.clone(),
                ip,
            })),
        }
    }

    fn take(&self, ip: IpAddr) -> Result<(), Refusal> {
        let inner = &self.inner;
        let now = Instant::now();
        let mut sources = inner.sources.lock().unwrap_or_else(|p| p.into_inner());
        if sources.len() >= MAX_SOURCES && !sources.contains_key(&ip) {
            sources.retain(|_, s| s.active > 0);
        }
        let s = sources.entry(ip).or_insert(Source {
            active: 0,
            tokens: inner.per_second,
            refilled: now,
        });
        let refill = now.duration_since(s.refilled).as_secs_f64() * inner.per_second;
        s.tokens = (s.tokens + refill).min(inner.per_second);
        s.refilled = now;
        if s.active >= inner.per_source {
            return Err(Refusal::Busy);
        }
        if s.tokens < 1.0 {
            return Err(Refusal::Rate);
        }
        s.tokens -= 1.0;
        s.active += 1;
        Ok(())
    }

    /// Whether a registered phone's REGISTER came from `ip`; asked only for a
    /// source over its limits, so the scan over registrations stays rare.
    fn is_registered_phone(&self, ip: IpAddr) -> bool {
        let Some(registrar) = &self.registrar else {
            return false;
        };
        registrar
            .registered_users()
            .iter()
            .flat_map(|aor| registrar.lookup(aor))
            .any(|b| b.source.addr.ip() == ip)
    }

    /// Calls held now by `ip` (for tests and diagnostics).
    pub fn active(&self, ip: IpAddr) -> usize {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ip)
            .map_or(0, |s| s.active)
    }
}

/// Answers a refused INVITE: 503 with `Retry-After`, and why in `Reason`.
pub fn refuse(req: IncomingRequest, why: Refusal, stats: &crate::stats::Stats) {
    use std::sync::atomic::Ordering;
    stats.calls_refused.fetch_add(1, Ordering::Relaxed);
    stats
        .calls_refused_per_source
        .fetch_add(1, Ordering::Relaxed);
    tracing::debug!(source = %req.source.addr, "refusing a call: {}", why.text());
    let mut r = req.response(503);
    r.headers
        .push(rsip::Header::Other("Retry-After".into(), "5".into()));
    r.headers.push(rsip::Header::Other(
        "Reason".into(),
        format!("Q.850;cause=34;text=\"{}\"", why.text()),
    ));
    req.respond(r);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_has_its_own_calls_and_rate() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let trunk: IpAddr = "203.0.113.5".parse().unwrap();
        let l = SourceLimiter::new(2, 100, [trunk], None);
        let s1 = l.admit(a).ok().flatten();
        let s2 = l.admit(a).ok().flatten();
        assert!(s1.is_some() && s2.is_some());
        assert_eq!(l.admit(a).err(), Some(Refusal::Busy));
        assert!(
            l.admit(b).ok().flatten().is_some(),
            "another source is not affected"
        );
        drop(s1);
        assert!(l.admit(a).is_ok(), "an ended call frees its place");
        for _ in 0..50 {
            assert!(matches!(l.admit(trunk), Ok(None)), "trunks are trusted");
        }
        let r = SourceLimiter::new(100, 3, [], None);
        let held: Vec<_> = (0..3).map(|_| r.admit(a)).collect();
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(r.admit(a).err(), Some(Refusal::Rate));
    }
}
