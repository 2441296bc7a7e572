//! Signing in by name and password, for people at a browser: passwords kept as
//! Argon2id hashes in the configuration (`dialect passwd` prints one), a
//! session per sign-in carried by an HttpOnly, SameSite=Strict cookie with a
//! separate anti-forgery token that state-changing requests must echo, sessions
//! that end after a time without use, and a guard that locks out a name or an
//! address guessing passwords (each failure is audited by the caller).
//!
//! Programs keep using bearer tokens; a session is just another credential the
//! same role checks apply to.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::auth::{User, random_secret};

/// The cookie that carries a session.
pub const SESSION_COOKIE: &str = "dialect_session";

/// The header in which a page sends its session's anti-forgery token with
/// every request that changes something.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Failed sign-ins of one name or one address before it is locked out.
pub const MAX_FAILURES: u32 = 5;

/// How long failures are remembered, and how long a lock-out lasts.
pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// Most sessions held at once; beyond it the least recently used ends.
const MAX_SESSIONS: usize = 20_000;

/// Most names and addresses whose failures are remembered at once.
const MAX_WATCHED: usize = 100_000;

/// An Argon2id hash of `password` in the PHC string form the configuration
/// takes (`$argon2id$v=19$m=19456,t=2,p=1$…`), with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Why a configured password hash cannot be used; `None` when it can.
pub fn bad_password_hash(phc: &str) -> Option<String> {
    match PasswordHash::new(phc) {
        Ok(h) if h.algorithm.as_str() == "argon2id" => None,
        Ok(h) => Some(format!(
            "is an {} hash; give an Argon2id hash (`dialect passwd` prints one)",
            h.algorithm
        )),
        Err(e) => Some(format!(
            "is not a password hash ({e}); give the line `dialect passwd` prints"
        )),
    }
}

/// Whether `password` matches the hash `phc`. Slow on purpose (Argon2id):
/// call it off the async threads.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against for a name that has no password, so that an
/// unknown name takes as long to refuse as a wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_secret(16)).unwrap_or_default())
}

/// Equal in time whatever the contents (only the lengths show).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[derive(Debug, Clone)]
struct Session {
    user: User,
    csrf: String,
    last_seen: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// The open sessions and the sign-in guard.
#[derive(Debug)]
pub struct Sessions {
    open: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    idle: Duration,
}

/// A new session: its id (the cookie's value) and its anti-forgery token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The session's id, sent back in the cookie.
    pub id: String,
    /// The token the page sends in [`CSRF_HEADER`].
    pub csrf: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sessions {
    /// Sessions that end after `idle` without a request.
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            open: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            idle,
        }
    }

    /// Opens a session for `user`.
    pub fn open(&self, user: User) -> Opened {
        let opened = Opened {
            id: random_secret(32),
            csrf: random_secret(24),
        };
        let mut open = lock(&self.open);
        let now = Instant::now();
        open.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            open.remove(&oldest);
        }
        open.insert(
            opened.id.clone(),
            Session {
                user,
                csrf: opened.csrf.clone(),
                last_seen: now,
            },
        );
        opened
    }

    /// The user of a session still open; using it keeps it open.
    pub fn user(&self, id: &str) -> Option<User> {
        let mut open = lock(&self.open);
        let now = Instant::now();
        let session = open.get_mut(id)?;
        if now.duration_since(session.last_seen) >= self.idle {
            open.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.user.clone())
    }

    /// Whether `id` names an open session (without using it).
    pub fn knows(&self, id: &str) -> bool {
        lock(&self.open)
            .get(id)
            .is_some_and(|s| s.last_seen.elapsed() < self.idle)
    }

    /// Whether `csrf` is the session's anti-forgery token.
    pub fn csrf_matches(&self, id: &str, csrf: &str) -> bool {
        lock(&self.open)
            .get(id)
            .is_some_and(|s| same_secret(&s.csrf, csrf))
    }

    /// The anti-forgery token of an open session.
    pub fn csrf_of(&self, id: &str) -> Option<String> {
        lock(&self.open).get(id).map(|s| s.csrf.clone())
    }

    /// Ends a session (signing out).
    pub fn close(&self, id: &str) -> Option<User> {
        lock(&self.open).remove(id).map(|s| s.user)
    }

    /// `Err(wait)` while `name` or `addr` is locked out for guessing.
    pub fn may_try(&self, name: &str, addr: Option<IpAddr>) -> Result<(), Duration> {
        let failures = lock(&self.failures);
        let now = Instant::now();
        let mut wait = Duration::ZERO;
        for key in guard_keys(name, addr) {
            if let Some(f) = failures.get(&key) {
                let since = now.duration_since(f.last);
                if f.count >= MAX_FAILURES && since < LOCKOUT {
                    wait = wait.max(LOCKOUT - since);
                }
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    /// Counts a failed sign-in against `name` and `addr`.
    pub fn failed(&self, name: &str, addr: Option<IpAddr>) {
        let mut failures = lock(&self.failures);
        let now = Instant::now();
        if failures.len() >= MAX_WATCHED {
            failures.retain(|_, f| now.duration_since(f.last) < LOCKOUT);
        }
        for key in guard_keys(name, addr) {
            let f = failures.entry(key).or_insert(Failures {
                count: 0,
                last: now,
            });
            if now.duration_since(f.last) >= LOCKOUT {
                f.count = 0;
            }
            f.count += 1;
            f.last = now;
        }
    }

    /// A right password clears the name's count (not the address's: one
    /// right password among many guesses from one place does not excuse them).
    pub fn succeeded(&self, name: &str) {
        lock(&self.failures).remove(&format!("name:{name}"));
    }
}

fn guard_keys(name: &str, addr: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("name:{name}")];
    if let Some(a) = addr {
        keys.push(format!("addr:{a}"));
    }
    keys
}

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The `Set-Cookie` value that gives the browser a session (`Secure` when the
/// page came over TLS).
pub fn session_cookie(id: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn cleared_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;

    fn agent() -> User {
        User {
            name: "7001".into(),
            role: Role::Agent,
            department: None,
        }
    }

    #[test]
    fn a_password_hash_verifies_its_password_only() {
        let phc = hash_password("长城-Great-Wall-2026").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert_eq!(bad_password_hash(&phc), None);
        assert!(verify_password(&phc, "长城-Great-Wall-2026"));
        assert!(!verify_password(&phc, "长城-Great-Wall-2027"));
        assert!(bad_password_hash("secret").is_some());
        assert!(
            !verify_password("secret", "secret"),
            "a plain text is not a hash"
        );
        assert_ne!(
            phc,
            hash_password("长城-Great-Wall-2026").unwrap(),
            "salted"
        );
    }

    #[test]
    fn a_session_ends_when_closed_or_left_unused() {
        let s = Sessions::new(Duration::from_millis(300));
        let a = s.open(agent());
        assert_eq!(s.user(&a.id).map(|u| u.name), Some("7001".into()));
        assert!(s.csrf_matches(&a.id, &a.csrf));
        assert!(!s.csrf_matches(&a.id, "forged"));
        assert!(s.user("guessed").is_none());
        std::thread::sleep(Duration::from_millis(400));
        assert!(s.user(&a.id).is_none(), "idle too long");
        let b = s.open(agent());
        assert!(s.close(&b.id).is_some());
        assert!(s.user(&b.id).is_none());
    }

    #[test]
    fn guessing_locks_out_the_name_and_the_address() {
        let s = Sessions::new(Duration::from_secs(60));
        let here: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(s.may_try("7001", Some(here)).is_ok());
            s.failed("7001", Some(here));
        }
        assert!(s.may_try("7001", None).is_err(), "the name");
        assert!(s.may_try("7002", Some(here)).is_err(), "the address");
        assert!(
            s.may_try("7002", Some("127.0.0.8".parse().unwrap()))
                .is_ok()
        );
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "lang=zh; dialect_session=abc123 ; other=1".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie(&h, "missing"), None);
        assert!(session_cookie("x", true).ends_with("; Secure"));
        assert!(session_cookie("x", false).contains("HttpOnly; SameSite=Strict"));
    }
}
