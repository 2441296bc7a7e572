//! Who may reach what before a handler runs, and the credentials that are not
//! bearer tokens.
//!
//! - [`require_credentials`]: a request to any route but the open ones must carry
//!   a known token before its body is read, so an anonymous client cannot make the
//!   server read (or hold) a body at all; each handler still checks the role.
//! - WebSocket tickets ([`Access::issue_ticket`]): browsers cannot set headers on
//!   a WebSocket, and a token in a URL ends up in proxy logs and browser history,
//!   so a page asks `POST /api/v1/ws-tickets` (with its token in the header) for a
//!   ticket that opens one WebSocket within 30 s and then is spent.
//! - Origins ([`Access::origin_allowed`]): a WebSocket is not bound by the
//!   same-origin policy, so the upgrade is refused when the page that asks comes
//!   from another origin than the API's own or a configured one.
//! - Signed summary links ([`Access::sign_summary`]): an order's progress
//!   summary may be read with a token, or with a link carrying an HMAC of the
//!   order number under a key kept in the data folder; order numbers are
//!   sequential, signatures are not.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::api::{ApiError, AppState, bearer, header_token};
use crate::auth::User;
use crate::config::parse_origin;

/// How long a WebSocket ticket may wait to be used.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Most tickets waiting at once; beyond it the oldest are dropped.
const MAX_TICKETS: usize = 10_000;

/// Credentials and checks other than bearer tokens (see the module docs).
pub struct Access {
    tickets: Mutex<HashMap<String, (User, Instant)>>,
    allowed_origins: Vec<String>,
    /// Keyed with the summary key; `None` only if the key were refused, which
    /// HMAC never does (it takes keys of any length).
    summary_mac: Option<Hmac<Sha256>>,
    /// Where uploaded bundles are written while they arrive.
    pub upload_dir: PathBuf,
    /// Largest bundle a deploy takes, in bytes.
    pub max_bundle_size: u64,
    /// One deploy at a time: each holds its bundle in memory while it loads.
    pub deploys: tokio::sync::Semaphore,
    /// The server speaks TLS: session cookies are marked `Secure`.
    pub tls: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("allowed_origins", &self.allowed_origins)
            .field("upload_dir", &self.upload_dir)
            .finish()
    }
}

impl Access {
    /// The same, for a server that speaks TLS (or not).
    pub fn over_tls(mut self, tls: bool) -> Access {
        self.tls = tls;
        self
    }

    /// With the configured origins, the key that signs summary links, and the
    /// folder uploads go to.
    pub fn new(
        allowed_origins: &[String],
        summary_key: Vec<u8>,
        upload_dir: PathBuf,
        max_bundle_size: u64,
    ) -> Access {
        Access {
            tickets: Mutex::new(HashMap::new()),
            allowed_origins: allowed_origins
                .iter()
                .filter_map(|o| parse_origin(o))
                .collect(),
            summary_mac: <Hmac<Sha256> as KeyInit>::new_from_slice(&summary_key).ok(),
            upload_dir,
            max_bundle_size,
            deploys: tokio::sync::Semaphore::new(1),
            tls: false,
        }
    }

    /// For tests: a random key, uploads in the system's temporary folder.
    pub fn ephemeral() -> Access {
        Access::new(
            &[],
            crate::auth::random_secret(32).into_bytes(),
            std::env::temp_dir(),
            512 * 1024 * 1024,
        )
    }

    /// A one-time ticket for `user`, valid for [`TICKET_TTL`].
    pub fn issue_ticket(&self, user: &User) -> String {
        let ticket = crate::auth::random_secret(24);
        let now = Instant::now();
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        tickets.retain(|_, (_, at)| now.duration_since(*at) < TICKET_TTL);
        if tickets.len() >= MAX_TICKETS {
            // Still full of live tickets: someone is asking in a loop; the oldest go.
            if let Some(oldest) = tickets
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
            {
                tickets.remove(&oldest);
            }
        }
        tickets.insert(ticket.clone(), (user.clone(), now));
        ticket
    }

    /// The user a ticket was issued to, once: the ticket is spent either way.
    pub fn redeem(&self, ticket: &str) -> Option<User> {
        let mut tickets = self.tickets.lock().unwrap_or_else(|p| p.into_inner());
        let (user, at) = tickets.remove(ticket)?;
        (at.elapsed() < TICKET_TTL).then_some(user)
    }

    /// Whether a WebSocket may be opened from the page that asks: no `Origin`
    /// (not a browser), the API's own origin (the `Host` it was reached by), or
    /// a configured one.
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(axum::http::header::ORIGIN) else {
            return true;
        };
        let Some(origin) = origin.to_str().ok().and_then(parse_origin) else {
            return false;
        };
        if self.allowed_origins.contains(&origin) {
            return true;
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        let authority = origin.split_once("://").map(|(_, a)| a);
        match (host, authority) {
            (Some(host), Some(authority)) => {
                // `parse_origin` writes the default port out; the Host may omit it.
                authority == host
                    || authority
                        .strip_suffix(":80")
                        .or_else(|| authority.strip_suffix(":443"))
                        .is_some_and(|a| a == host)
            }
            _ => false,
        }
    }

    /// The signature that lets a summary link be read without a token.
    pub fn sign_summary(&self, number: &str) -> String {
        let Some(mac) = self.summary_mac(number) else {
            return String::new();
        };
        let tag = mac.finalize().into_bytes();
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `sig` is the signature of `number` (compared in constant time).
    pub fn check_summary(&self, number: &str, sig: &str) -> bool {
        if sig.len() != 32 {
            return false;
        }
        let mut raw = [0u8; 16];
        for (i, byte) in raw.iter_mut().enumerate() {
            match sig
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => *byte = b,
                None => return false,
            }
        }
        self.summary_mac(number)
            .is_some_and(|mac| mac.verify_truncated_left(&raw).is_ok())
    }

    fn summary_mac(&self, number: &str) -> Option<Hmac<Sha256>> {
        let mut mac = self.summary_mac.clone()?;
        mac.update(b"dialect workorder summary\0");
        mac.update(number.as_bytes());
        Some(mac)
    }
}

/// Routes that need no bearer token at the door: health and metrics for
/// monitoring, the API description, the summary (token or signed link, checked
/// by its handler), the WebSockets (ticket or header, checked by theirs), and
/// the desk and wallboard pages with their assets (they sign in through the API).
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/health"
            | "/api/v1/login"
            | "/metrics"
            | "/api/v1/openapi.yaml"
            | "/api/v1/openapi.json"
            | "/api/v1/cti/ws"
            | "/api/v1/acd/events"
            | "/api/v1/calls/events"
    ) || (path.starts_with("/api/v1/workorders/") && path.ends_with("/summary"))
        || matches!(path, "/" | "/wallboard" | "/reports" | "/recordings")
        || path.starts_with("/assets/")
        // Requests between the runtimes of a cluster: their handlers check the
        // cluster's secret instead of a user's token.
        || path.starts_with("/internal/v1/")
}

/// Middleware: refuses (401) a request to a closed route whose token names
/// nobody, before anything reads its body.
pub async fn require_credentials(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if is_open(req.uri().path()) {
        return next.run(req).await;
    }
    match bearer(req.headers()) {
        Some(session) if header_token(req.headers()).is_none() && !req.method().is_safe() => {
            // A signed-in page: the cookie alone would let another site's page
            // act as the user, so a change must echo the session's token.
            let echoed = req
                .headers()
                .get(crate::login::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| s.users.sessions.csrf_matches(session, c));
            if !s.users.knows(session) {
                ApiError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the session has ended: sign in again",
                )
                .into_response()
            } else if echoed {
                next.run(req).await
            } else {
                ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    "a signed-in page must send its session's x-csrf-token with every change",
                )
                .into_response()
            }
        }
        Some(token) if s.users.knows(token) => next.run(req).await,
        Some(_) => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unknown token",
        )
        .into_response(),
        None => ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send a token: `Authorization: Bearer TOKEN`",
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Role;

    fn user() -> User {
        User {
            name: "1001".into(),
            role: Role::Agent,
            department: None,
        }
    }

    #[test]
    fn tickets_open_once() {
        let a = Access::ephemeral();
        let t = a.issue_ticket(&user());
        assert_eq!(t.len(), 48);
        assert_eq!(a.redeem(&t), Some(user()));
        assert_eq!(a.redeem(&t), None, "spent");
        assert_eq!(a.redeem("guess"), None);
    }

    #[test]
    fn origins_are_the_apis_own_or_configured() {
        let a = Access::new(
            &["https://desk.example.com".into()],
            b"k".to_vec(),
            std::env::temp_dir(),
            1,
        );
        let h = |origin: Option<&str>, host: &str| {
            let mut m = HeaderMap::new();
            m.insert("host", host.parse().unwrap());
            if let Some(o) = origin {
                m.insert("origin", o.parse().unwrap());
            }
            m
        };
        assert!(a.origin_allowed(&h(None, "10.0.0.5:8080")));
        assert!(a.origin_allowed(&h(Some("http://10.0.0.5:8080"), "10.0.0.5:8080")));
        assert!(a.origin_allowed(&h(Some("https://desk.example.com"), "10.0.0.5:8080")));
        assert!(a.origin_allowed(&h(Some("https://api.example.com"), "api.example.com")));
        assert!(!a.origin_allowed(&h(Some("https://evil.example"), "10.0.0.5:8080")));
        assert!(!a.origin_allowed(&h(Some("null"), "10.0.0.5:8080")));
        assert_eq!(
            parse_origin("https://a.example/"),
            Some("https://a.example:443".into())
        );
        assert_eq!(parse_origin("https://a.example/x"), None);
        assert_eq!(parse_origin("a.example"), None);
    }

    #[test]
    fn summary_signatures_are_per_order_and_per_key() {
        let a = Access::ephemeral();
        let b = Access::ephemeral();
        let sig = a.sign_summary("2026112200017");
        assert!(a.check_summary("2026112200017", &sig));
        assert!(!a.check_summary("2026112200018", &sig));
        assert!(!b.check_summary("2026112200017", &sig));
        assert!(!a.check_summary("2026112200017", "00"));
    }

    #[test]
    fn the_pages_are_open_and_the_api_is_not() {
        for open in ["/", "/wallboard", "/assets/desk.js", "/api/v1/login"] {
            assert!(is_open(open), "{open}");
        }
        for closed in ["/api/v1/agents", "/wallboard/x", "/assetsx", "/api/v1/me"] {
            assert!(!is_open(closed), "{closed}");
        }
    }
}
