//! The server side of digest authentication: [`Authenticator`] challenges a
//! request that must come from a given user, and accepts it only when its
//! credentials are right, fresh and meant for exactly this request.
//!
//! A request is accepted when all of these hold, checked in this order:
//!
//! 1. neither its source address nor (for an address the user has not used
//!    successfully) the user is locked out ([`super::lockout`]);
//! 2. it carries credentials for our realm, with `qop=auth`, a nonce count, a
//!    cnonce and algorithm MD5, each parameter once;
//! 3. the digest `uri` is the Request-URI (RFC 7616 section 3.4: otherwise the
//!    response could have been computed for another request);
//! 4. the digest user name is the user the request must come from (the
//!    address of record of a REGISTER, the agent of a REFER);
//! 5. the nonce is one we issued for this source, user and method, still alive,
//!    and its count is higher than any accepted before ([`super::nonce`]);
//! 6. the user exists and the response matches their [`Ha1`].
//!
//! Answers: no credentials, an unknown or expired nonce with the right password
//! (`stale=true`), a replayed or misplaced nonce: a new challenge (401 or 407);
//! a header that cannot be read or a wrong `uri`: 400; a wrong user name,
//! unknown user or wrong password: 403; a locked-out source or user: 403 with
//! `Retry-After`. Every failure but a missing header or a stale nonce is logged
//! (user, source, reason), counted in [`AuthCounters`] and counted against the
//! source (and, for a wrong password, the user).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rsip::Header;
use rsip::headers::UntypedHeader;
use tokio::time::Instant;

use super::lockout::{Locked, Lockout, LockoutConfig, LockoutStarted};
use super::nonce::{NonceError, NonceScope, NonceTable};
use super::{Ha1, parse_digest_params, response_from_ha1};
use crate::endpoint::IncomingRequest;
use crate::message;
use crate::transport::Target;

/// Where an [`Authenticator`] finds users: the HA1 of each user's password for
/// the authenticator's realm. Passwords themselves are never needed.
pub trait CredentialLookup: Send + Sync {
    /// The HA1 of `user`, if the user exists.
    fn ha1(&self, user: &str) -> Option<Ha1>;
}

impl<F> CredentialLookup for F
where
    F: Fn(&str) -> Option<Ha1> + Send + Sync,
{
    fn ha1(&self, user: &str) -> Option<Ha1> {
        self(user)
    }
}

/// Settings of an [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The digest realm (part of every stored HA1: changing it invalidates them).
    pub realm: String,
    /// How long a nonce may be used. Phones answer a challenge at once and
    /// reuse a nonce only for a few quick requests; after that they get a
    /// `stale=true` challenge and answer it without asking anybody.
    pub nonce_lifetime: Duration,
    /// Most nonces outstanding at once.
    pub max_nonces: usize,
    /// Most nonces outstanding for one source IP address (phones behind one
    /// NAT share it).
    pub max_nonces_per_source: usize,
    /// Failure counting and lock-outs.
    pub lockout: LockoutConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            realm: "dialect".into(),
            nonce_lifetime: Duration::from_secs(60),
            max_nonces: 65_536,
            max_nonces_per_source: 256,
            lockout: LockoutConfig::default(),
        }
    }
}

/// Which pair of headers a challenge uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// 401 with `WWW-Authenticate`, answered in `Authorization`: a registrar or
    /// a user agent server (REGISTER, in-dialog requests).
    Www,
    /// 407 with `Proxy-Authenticate`, answered in `Proxy-Authorization`.
    Proxy,
}

impl ChallengeKind {
    fn code(self) -> u16 {
        match self {
            ChallengeKind::Www => 401,
            ChallengeKind::Proxy => 407,
        }
    }

    fn credentials_header(self) -> &'static str {
        match self {
            ChallengeKind::Www => "Authorization",
            ChallengeKind::Proxy => "Proxy-Authorization",
        }
    }
}

/// Why credentials were refused (a missing header and a stale nonce are not
/// failures: they are answered with a challenge and not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The header names our realm but cannot be used: a parameter missing or
    /// repeated, no `qop=auth`, an algorithm other than MD5.
    Malformed,
    /// The digest `uri` is not the Request-URI.
    UriMismatch,
    /// The digest user name is not the user the request must come from.
    WrongUser,
    /// The nonce was issued for another source, user or method.
    NonceOutOfScope,
    /// The nonce count was not higher than one already accepted: a replay.
    Replayed,
    /// No such user.
    UnknownUser,
    /// The response does not match the user's password.
    WrongPassword,
    /// The source or the user is locked out; nothing was checked.
    Locked,
}

impl AuthFailure {
    /// The label used in logs and in `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed",
            AuthFailure::UriMismatch => "uri_mismatch",
            AuthFailure::WrongUser => "wrong_user",
            AuthFailure::NonceOutOfScope => "nonce_out_of_scope",
            AuthFailure::Replayed => "replayed",
            AuthFailure::UnknownUser => "unknown_user",
            AuthFailure::WrongPassword => "wrong_password",
            AuthFailure::Locked => "locked_out",
        }
    }

    /// Every failure, in the order `/metrics` lists them.
    pub const ALL: [AuthFailure; 8] = [
        AuthFailure::Malformed,
        AuthFailure::UriMismatch,
        AuthFailure::WrongUser,
        AuthFailure::NonceOutOfScope,
        AuthFailure::Replayed,
        AuthFailure::UnknownUser,
        AuthFailure::WrongPassword,
        AuthFailure::Locked,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A verified request's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The authenticated user name.
    pub username: String,
}

/// What [`Authenticator::decide`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The credentials are good.
    Accept(Authorized),
    /// Ask (again) for credentials; `stale` when only the nonce was old.
    Challenge {
        /// The password was right but the nonce unknown or expired.
        stale: bool,
    },
    /// Refuse with this status code (400 or 403).
    Refuse(u16),
    /// Refuse with 403 and `Retry-After` of this long.
    Locked(Duration),
}

/// Counters for `/metrics`. Cheap to read at any time.
#[derive(Debug, Default)]
pub struct AuthCounters {
    failures: [AtomicU64; 8],
    successes: AtomicU64,
    source_lockouts: AtomicU64,
    user_lockouts: AtomicU64,
}

impl AuthCounters {
    /// Failures so far of one kind.
    pub fn failures(&self, kind: AuthFailure) -> u64 {
        self.failures[kind.index()].load(Ordering::Relaxed)
    }

    /// Requests authenticated so far.
    pub fn successes(&self) -> u64 {
        self.successes.load(Ordering::Relaxed)
    }

    /// Lock-outs of a source address started so far.
    pub fn source_lockouts(&self) -> u64 {
        self.source_lockouts.load(Ordering::Relaxed)
    }

    /// Lock-outs of a user started so far.
    pub fn user_lockouts(&self) -> u64 {
        self.user_lockouts.load(Ordering::Relaxed)
    }
}

struct State {
    nonces: NonceTable,
    lockout: Lockout,
}

struct Inner {
    config: AuthConfig,
    credentials: Arc<dyn CredentialLookup>,
    state: Mutex<State>,
    counters: Arc<AuthCounters>,
}

/// Digest authentication of requests from known users (agent phones), with
/// one-time nonce counts, scoped nonces and lock-outs. Cheap to clone; clones
/// share nonces, ledgers and counters.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("realm", &self.inner.config.realm)
            .finish()
    }
}

/// The parameters of one digest answer.
struct Answer<'a> {
    username: &'a str,
    nonce: &'a str,
    uri: &'a str,
    response: &'a str,
    nc_text: &'a str,
    nc: u32,
    cnonce: &'a str,
}

impl<'a> Answer<'a> {
    /// Reads the parameters, each at most once; `Err` when unusable.
    fn read(params: &'a [(String, String)]) -> Result<Answer<'a>, ()> {
        let one = |name: &str| -> Result<Option<&'a str>, ()> {
            let mut found = params.iter().filter(|(n, _)| n == name);
            let first = found.next().map(|(_, v)| v.as_str());
            if found.next().is_some() {
                return Err(());
            }
            Ok(first)
        };
        let need = |name: &str| one(name)?.filter(|v| !v.is_empty()).ok_or(());
        if one("algorithm")?.is_some_and(|a| !a.eq_ignore_ascii_case("md5")) {
            return Err(());
        }
        if !need("qop")?.eq_ignore_ascii_case("auth") {
            return Err(());
        }
        let nc_text = need("nc")?;
        if nc_text.len() > 8 || !nc_text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(());
        }
        let nc = u32::from_str_radix(nc_text, 16).map_err(|_| ())?;
        let response = need("response")?;
        let cnonce = need("cnonce")?;
        if nc == 0
            || response.len() != 32
            || !response.bytes().all(|b| b.is_ascii_hexdigit())
            || cnonce.len() > 256
        {
            return Err(());
        }
        Ok(Answer {
            username: need("username")?,
            nonce: need("nonce")?,
            uri: need("uri")?,
            response,
            nc_text,
            nc,
            cnonce,
        })
    }
}

/// Equal without an early exit (the time taken says nothing about where two
/// responses differ).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the digest `uri` names the Request-URI: the same text, or the same
/// URI once parsed.
fn uri_matches(digest_uri: &str, request_uri: &rsip::Uri) -> bool {
    if digest_uri == request_uri.to_string() {
        return true;
    }
    message::parse_uri(digest_uri).is_ok_and(|u| u == *request_uri)
}

/// A user name as it may go into a log line: at most 64 characters, control
/// characters escaped.
fn printable(user: &str) -> String {
    user.chars().take(64).flat_map(char::escape_debug).collect()
}

impl Authenticator {
    /// An authenticator with these settings, finding users in `credentials`.
    pub fn new(config: AuthConfig, credentials: Arc<dyn CredentialLookup>) -> Self {
        let state = State {
            nonces: NonceTable::new(
                config.nonce_lifetime,
                config.max_nonces,
                config.max_nonces_per_source,
            ),
            lockout: Lockout::new(config.lockout.clone()),
        };
        Authenticator {
            inner: Arc::new(Inner {
                config,
                credentials,
                state: Mutex::new(state),
                counters: Arc::new(AuthCounters::default()),
            }),
        }
    }

    /// The realm every challenge names; stored HA1s must be computed for it.
    pub fn realm(&self) -> &str {
        &self.inner.config.realm
    }

    /// The counters, for `/metrics`.
    pub fn counters(&self) -> Arc<AuthCounters> {
        self.inner.counters.clone()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks that `req` comes from `user`. On success returns who it is; on
    /// anything else it has already answered the request (a challenge, 400 or
    /// 403) and returns `None`.
    pub fn authenticate(
        &self,
        req: &IncomingRequest,
        user: &str,
        kind: ChallengeKind,
    ) -> Option<Authorized> {
        match self.decide(&req.request, &req.source, user, kind) {
            Decision::Accept(a) => Some(a),
            Decision::Challenge { stale } => {
                let mut resp = req.response(kind.code());
                resp.headers.push(self.challenge_header(
                    &req.request,
                    &req.source,
                    user,
                    kind,
                    stale,
                ));
                req.respond(resp);
                None
            }
            Decision::Refuse(code) => {
                req.reply(code);
                None
            }
            Decision::Locked(retry_after) => {
                let mut resp = req.response(403);
                let secs = retry_after.as_millis().div_ceil(1000).max(1);
                resp.headers
                    .push(message::other("Retry-After", secs.to_string()));
                req.respond(resp);
                None
            }
        }
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` header with a new nonce for
    /// `request` from `source`, which must come from `user`.
    pub fn challenge_header(
        &self,
        request: &rsip::Request,
        source: &Target,
        user: &str,
        kind: ChallengeKind,
        stale: bool,
    ) -> Header {
        let scope = NonceScope {
            source: source.clone(),
            user: user.to_string(),
            method: request.method.to_string(),
        };
        let nonce = self.state().nonces.issue(scope, Instant::now());
        let mut value = format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5",
            self.inner.config.realm
        );
        if stale {
            value.push_str(", stale=TRUE");
        }
        match kind {
            ChallengeKind::Www => {
                Header::WwwAuthenticate(rsip::headers::WwwAuthenticate::new(value))
            }
            ChallengeKind::Proxy => {
                Header::ProxyAuthenticate(rsip::headers::ProxyAuthenticate::new(value))
            }
        }
    }

    /// Decides about `request` from `source`, which must come from `user`,
    /// without answering it (see the module documentation for the rules).
    pub fn decide(
        &self,
        request: &rsip::Request,
        source: &Target,
        user: &str,
        kind: ChallengeKind,
    ) -> Decision {
        let ip = source.addr.ip();
        let locked = self.state().lockout.check(ip, user, Instant::now());
        if let Err(locked) = locked {
            self.count(AuthFailure::Locked);
            let (what, d) = match locked {
                Locked::Source(d) => ("source", d),
                Locked::User(d) => ("user", d),
            };
            tracing::debug!(
                user = %printable(user),
                source = %source.addr,
                locked = what,
                retry_after_s = d.as_secs(),
                "SIP authentication refused: locked out"
            );
            return Decision::Locked(d);
        }
        // Our realm's credentials, from at most a few headers of the kind.
        let params = request
            .headers
            .iter()
            .filter(|h| message::header_name(h).eq_ignore_ascii_case(kind.credentials_header()))
            .take(4)
            .filter_map(|h| parse_digest_params(&message::raw_value(h)))
            .find(|p| {
                p.iter()
                    .any(|(n, v)| n == "realm" && *v == self.inner.config.realm)
            });
        let Some(params) = params else {
            return Decision::Challenge { stale: false };
        };
        let given_user = params
            .iter()
            .find(|(n, _)| n == "username")
            .map_or("", |(_, v)| v.as_str());
        let Ok(answer) = Answer::read(&params) else {
            return self.fail(ip, source, given_user, AuthFailure::Malformed);
        };
        if !uri_matches(answer.uri, &request.uri) {
            return self.fail(ip, source, answer.username, AuthFailure::UriMismatch);
        }
        if answer.username != user {
            return self.fail(ip, source, answer.username, AuthFailure::WrongUser);
        }
        let method = request.method.to_string();
        let scope = NonceScope {
            source: source.clone(),
            user: user.to_string(),
            method: method.clone(),
        };
        let nonce = self
            .state()
            .nonces
            .check(answer.nonce, &scope, answer.nc, Instant::now());
        match nonce {
            Err(NonceError::OutOfScope) => {
                return self.fail(ip, source, user, AuthFailure::NonceOutOfScope);
            }
            Err(NonceError::Replayed) => {
                return self.fail(ip, source, user, AuthFailure::Replayed);
            }
            Ok(()) | Err(NonceError::Unknown) => {}
        }
        let Some(ha1) = self.inner.credentials.ha1(user) else {
            return self.fail(ip, source, user, AuthFailure::UnknownUser);
        };
        let expected = response_from_ha1(
            &ha1,
            &method,
            answer.uri,
            answer.nonce,
            Some((answer.nc_text, answer.cnonce)),
        );
        let given = answer.response.to_ascii_lowercase();
        if !same_bytes(expected.as_bytes(), given.as_bytes()) {
            return self.fail(ip, source, user, AuthFailure::WrongPassword);
        }
        let now = Instant::now();
        let mut state = self.state();
        // Checked again under the same lock as the update, so that two copies
        // of one header cannot both pass.
        match state.nonces.accept(answer.nonce, &scope, answer.nc, now) {
            Ok(()) => {
                state.lockout.succeed(ip, user, now);
                drop(state);
                self.inner
                    .counters
                    .successes
                    .fetch_add(1, Ordering::Relaxed);
                Decision::Accept(Authorized {
                    username: user.to_string(),
                })
            }
            Err(NonceError::Unknown) => Decision::Challenge { stale: true },
            Err(NonceError::Replayed) => {
                drop(state);
                self.fail(ip, source, user, AuthFailure::Replayed)
            }
            Err(NonceError::OutOfScope) => {
                drop(state);
                self.fail(ip, source, user, AuthFailure::NonceOutOfScope)
            }
        }
    }

    fn count(&self, failure: AuthFailure) {
        self.inner.counters.failures[failure.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Logs, counts and records a failure; the answer it gets.
    fn fail(&self, ip: IpAddr, source: &Target, user: &str, failure: AuthFailure) -> Decision {
        self.count(failure);
        tracing::warn!(
            user = %printable(user),
            source = %source.addr,
            reason = failure.label(),
            "SIP authentication failed"
        );
        let wrong_password_for = (failure == AuthFailure::WrongPassword).then_some(user);
        let started = self
            .state()
            .lockout
            .fail(ip, wrong_password_for, Instant::now());
        for s in started {
            match s {
                LockoutStarted::Source(ip, d) => {
                    self.inner
                        .counters
                        .source_lockouts
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        source = %ip,
                        seconds = d.as_secs(),
                        "SIP authentication: too many failures from this address, locked out"
                    );
                }
                LockoutStarted::User(u, d) => {
                    self.inner
                        .counters
                        .user_lockouts
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        user = %printable(&u),
                        seconds = d.as_secs(),
                        "SIP authentication: too many wrong passwords for this user, locked out \
                         except for addresses it recently used"
                    );
                }
            }
        }
        match failure {
            AuthFailure::Malformed | AuthFailure::UriMismatch => Decision::Refuse(400),
            AuthFailure::NonceOutOfScope | AuthFailure::Replayed => {
                Decision::Challenge { stale: false }
            }
            AuthFailure::WrongUser
            | AuthFailure::UnknownUser
            | AuthFailure::WrongPassword
            | AuthFailure::Locked => Decision::Refuse(403),
        }
    }
}
