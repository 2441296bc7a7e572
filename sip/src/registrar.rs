//! The registrar for agent phones (RFC 3261 section 10.3).
//!
//! REGISTER requests are authenticated with digest by an [`Authenticator`]
//! against a [`CredentialLookup`] (user -> HA1): the credentials must be those
//! of the address of record, keyed here by the user part of the To URI
//! (`1001`), and the nonce one issued to this source for this address of record
//! (see [`crate::auth::server`] for every check, the lock-outs and the counters).
//! The same authenticator serves other requests that must come from an agent's
//! phone ([`Registrar::authenticator`]: a REFER in a call). Bindings
//! carry an expiry (the contact's `expires` parameter, else the Expires header,
//! else the default, clamped to the configured range; below the minimum is 423).
//! `Expires: 0` removes a binding, `Contact: *` with `Expires: 0` removes all of
//! them. A background task removes bindings when they expire. Every change is
//! published as a [`RegistrationEvent`] so that the ACD notices phones going away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rsip::Header;
use rsip::headers::UntypedHeader;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::auth::{AuthConfig, Authenticator, ChallengeKind};
use super::endpoint::IncomingRequest;
use super::message;
use super::transport::Target;

pub use super::auth::CredentialLookup;

/// Registrar settings: how phones authenticate and how long their
/// registrations last.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Digest authentication: realm, nonce lifetime, lock-outs.
    pub auth: AuthConfig,
    /// Shortest registration accepted (seconds); shorter gets 423.
    pub min_expires: u32,
    /// Longest registration granted (seconds).
    pub max_expires: u32,
    /// Used when the phone asks for none.
    pub default_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            auth: AuthConfig::default(),
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

/// One registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI as the phone registered it: where calls to the user go.
    pub contact: String,
    /// When it lapses.
    pub expires_at: Instant,
    /// Where the REGISTER came from (to reach phones behind NAT).
    pub source: Target,
    /// Call-ID of the registering client.
    pub call_id: String,
    /// CSeq of the last REGISTER that touched it.
    pub cseq: u32,
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnregisterReason {
    /// The phone removed it (Expires: 0 or `*`).
    Removed,
    /// It was not refreshed in time.
    Expired,
}

/// A change in registrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// A new contact for a user.
    Registered {
        /// The address of record (user part).
        aor: String,
        /// The contact URI just registered.
        contact: String,
    },
    /// A contact is gone.
    Unregistered {
        /// The address of record (user part).
        aor: String,
        /// The contact URI that went away.
        contact: String,
        /// Why.
        reason: UnregisterReason,
    },
}

struct Inner {
    config: RegistrarConfig,
    auth: Authenticator,
    bindings: Mutex<HashMap<String, Vec<Binding>>>,
    events: broadcast::Sender<RegistrationEvent>,
    wake: Arc<Notify>,
}

/// The registrar. Cheap to clone.
#[derive(Clone)]
pub struct Registrar {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("realm", &self.inner.config.auth.realm)
            .finish()
    }
}

impl Registrar {
    /// A registrar; its expiry task runs until `shutdown`. Needs a tokio runtime.
    pub fn new(
        config: RegistrarConfig,
        credentials: Arc<dyn CredentialLookup>,
        shutdown: CancellationToken,
    ) -> Self {
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            auth: Authenticator::new(config.auth.clone(), credentials),
            config,
            bindings: Mutex::new(HashMap::new()),
            events,
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(expiry_loop(
            Arc::downgrade(&inner),
            inner.wake.clone(),
            shutdown,
        ));
        Self { inner }
    }

    /// The authenticator REGISTERs go through, for other requests that must
    /// come from a registered user's phone (it shares nonces, lock-outs and
    /// counters with the registrar).
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The realm of the registrar's digest challenges; an HA1 is valid only in
    /// the realm it was computed for.
    pub fn realm(&self) -> &str {
        self.inner.auth.realm()
    }

    /// A receiver of registration changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistrationEvent> {
        self.inner.events.subscribe()
    }

    /// The current contacts of a user.
    pub fn lookup(&self, aor: &str) -> Vec<Binding> {
        let now = Instant::now();
        self.bindings()
            .get(aor)
            .map(|b| b.iter().filter(|b| b.expires_at > now).cloned().collect())
            .unwrap_or_default()
    }

    /// Users with at least one contact.
    pub fn registered_users(&self) -> Vec<String> {
        self.bindings().keys().cloned().collect()
    }

    fn bindings(&self) -> MutexGuard<'_, HashMap<String, Vec<Binding>>> {
        self.inner
            .bindings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&self, e: RegistrationEvent) {
        let _ = self.inner.events.send(e);
    }

    /// Handles one REGISTER: challenges, authenticates, updates bindings and answers.
    pub fn handle(&self, req: &IncomingRequest) {
        let r = &req.request;
        let Some(aor) = message::header_value(&r.headers, "To")
            .and_then(|t| message::uri_of(&t))
            .and_then(|u| message::uri_user(&u))
        else {
            return req.reply(400);
        };
        // Only the owner of the address of record may change its bindings.
        if self
            .inner
            .auth
            .authenticate(req, &aor, ChallengeKind::Www)
            .is_none()
        {
            return;
        }
        let call_id = message::call_id(&r.headers).unwrap_or_default();
        let cseq = message::cseq(&r.headers).map_or(0, |(n, _)| n);
        let header_expires =
            message::header_value(&r.headers, "Expires").and_then(|e| e.trim().parse::<u32>().ok());
        let contacts = message::header_values(&r.headers, "Contact");
        let cfg = &self.inner.config;
        if contacts.iter().any(|c| c.trim() == "*") {
            if contacts.len() != 1 || header_expires != Some(0) {
                return req.reply(400);
            }
            let removed = self.bindings().remove(&aor).unwrap_or_default();
            for b in removed {
                self.emit(RegistrationEvent::Unregistered {
                    aor: aor.clone(),
                    contact: b.contact,
                    reason: UnregisterReason::Removed,
                });
            }
            return self.reply_ok(req, &aor);
        }
        // Validate everything before changing anything.
        let mut wanted = Vec::new();
        for c in &contacts {
            let Some(uri) = message::uri_of(c) else {
                return req.reply(400);
            };
            let expires = message::param(c, "expires")
                .flatten()
                .and_then(|e| e.parse::<u32>().ok())
                .or(header_expires)
                .unwrap_or(cfg.default_expires);
            if expires != 0 && expires < cfg.min_expires {
                let mut resp = req.response(423);
                resp.headers
                    .push(Header::MinExpires(rsip::headers::MinExpires::new(
                        cfg.min_expires.to_string(),
                    )));
                return req.respond(resp);
            }
            wanted.push((uri, expires.min(cfg.max_expires)));
        }
        let now = Instant::now();
        let mut events = Vec::new();
        {
            let mut all = self.bindings();
            let list = all.entry(aor.clone()).or_default();
            // RFC 3261 10.3 step 7: a REGISTER older than the one that made a
            // binding (same Call-ID, CSeq not higher) fails as a whole.
            let stale = wanted.iter().any(|(uri, _)| {
                list.iter()
                    .any(|b| &b.contact == uri && b.call_id == call_id && cseq <= b.cseq)
            });
            if stale {
                if list.is_empty() {
                    all.remove(&aor);
                }
                drop(all);
                return req.reply(500);
            }
            for (uri, expires) in wanted {
                let pos = list.iter().position(|b| b.contact == uri);
                if expires == 0 {
                    if let Some(p) = pos {
                        list.remove(p);
                        events.push(RegistrationEvent::Unregistered {
                            aor: aor.clone(),
                            contact: uri,
                            reason: UnregisterReason::Removed,
                        });
                    }
                    continue;
                }
                let binding = Binding {
                    contact: uri.clone(),
                    expires_at: now + Duration::from_secs(u64::from(expires)),
                    source: req.source.clone(),
                    call_id: call_id.clone(),
                    cseq,
                };
                match pos {
                    Some(p) => list[p] = binding,
                    None => {
                        list.push(binding);
                        events.push(RegistrationEvent::Registered {
                            aor: aor.clone(),
                            contact: uri,
                        });
                    }
                }
            }
            if list.is_empty() {
                all.remove(&aor);
            }
        }
        for e in events {
            self.emit(e);
        }
        self.inner.wake.notify_one();
        self.reply_ok(req, &aor);
    }

    fn reply_ok(&self, req: &IncomingRequest, aor: &str) {
        let mut resp = req.response(200);
        let now = Instant::now();
        for b in self.lookup(aor) {
            let left = b
                .expires_at
                .saturating_duration_since(now)
                .as_millis()
                .div_ceil(1000);
            resp.headers
                .push(Header::Contact(rsip::headers::Contact::new(format!(
                    "<{}>;expires={left}",
                    b.contact
                ))));
        }
        req.respond(resp);
    }
}

async fn expiry_loop(
    inner: std::sync::Weak<Inner>,
    wake_up: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut expired = Vec::new();
        let next = {
            let mut all = strong.bindings.lock().unwrap_or_else(|p| p.into_inner());
            for (aor, list) in all.iter_mut() {
                list.retain(|b| {
                    if b.expires_at <= now {
                        expired.push(RegistrationEvent::Unregistered {
                            aor: aor.clone(),
                            contact: b.contact.clone(),
                            reason: UnregisterReason::Expired,
                        });
                        false
                    } else {
                        true
                    }
                });
            }
            all.retain(|_, l| !l.is_empty());
            all.values().flatten().map(|b| b.expires_at).min()
        };
        for e in expired {
            let _ = strong.events.send(e);
        }
        let wake = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        // Hold only a weak reference while sleeping so the registrar can be dropped.
        let notified = wake_up.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        drop(strong);
        tokio::select! {
            _ = wake => {}
            _ = notified => {}
            _ = shutdown.cancelled() => return,
        }
    }
}
