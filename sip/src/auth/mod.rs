//! HTTP digest authentication for SIP (RFC 2617 / RFC 7616 with MD5 and
//! qop=auth), both sides.
//!
//! Client side (trunks towards carriers): [`Challenge::parse`] reads a
//! `WWW-Authenticate` or `Proxy-Authenticate` value and [`DigestClient::authorize`]
//! builds the matching `Authorization` / `Proxy-Authorization` value (nonce count,
//! cnonce).
//!
//! Server side (agent phones): [`Authenticator`] challenges and verifies requests
//! against [`Ha1`] hashes, never passwords. It is built so that a captured header
//! is worth nothing to whoever captured it and a password cannot be guessed
//! online:
//!
//! - [`nonce`]: every nonce is issued for one source address, one user and one
//!   method, lives a short time, and is accepted only with a nonce count higher
//!   than the last one accepted (qop=auth is required), so a replayed header
//!   fails; the table of outstanding nonces is bounded, in all and per source.
//! - [`lockout`]: failures are counted per source address and per user; too
//!   many lock the source out (doubling each time), and the user out for a short
//!   while for every source that has not recently proved it knows the password.
//! - [`strength`]: the rule phone passwords must meet before they are accepted.
//!
//! # Layout
//!
//! - `mod.rs`: digest arithmetic, the header parser, the client, [`Ha1`].
//! - [`server`]: [`Authenticator`], its settings and its counters.
//! - [`nonce`], [`lockout`], [`strength`]: as above.

use std::fmt::Write as _;

use md5::{Digest, Md5};

use super::message::random_token;

pub mod lockout;
pub mod nonce;
pub mod server;
pub mod strength;

pub use server::{
    AuthConfig, AuthCounters, AuthFailure, Authenticator, Authorized, ChallengeKind,
    CredentialLookup,
};
pub use strength::{WeakPassword, check_password};

/// The longest `Authorization` value read; longer ones are malformed. Real
/// ones are a few hundred bytes.
pub const MAX_HEADER_LEN: usize = 4096;

/// Most parameters read from one header; the rest are ignored.
const MAX_PARAMS: usize = 32;

/// A username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username (often the account or extension number).
    pub username: String,
    /// The password in clear: a client needs it to answer challenges (the
    /// server side keeps only HA1).
    pub password: String,
}

/// Lower-case hex MD5 of the parts joined by `:`.
pub fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in digest.iter() {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Parses `Digest a=b, c="d, e"` into its (name, value) pairs, names in lower
/// case. Returns `None` for a scheme other than Digest or a value longer than
/// [`MAX_HEADER_LEN`]; reads at most 32 parameters. Never panics.
pub fn parse_digest_params(value: &str) -> Option<Vec<(String, String)>> {
    if value.len() > MAX_HEADER_LEN {
        return None;
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                val.push(n);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim().to_string();
            }
        }
        out.push((name, val));
        if out.len() >= MAX_PARAMS {
            break;
        }
    }
    Some(out)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A digest challenge from a 401 or 407.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The realm the answer's HA1 is computed for.
    pub realm: String,
    /// The server's nonce, hashed into the answer.
    pub nonce: String,
    /// Opaque data to echo.
    pub opaque: Option<String>,
    /// Whether qop=auth was offered (we never use auth-int).
    pub qop_auth: bool,
    /// True when the server says only the nonce was stale.
    pub stale: bool,
    /// The algorithm token as written (MD5 if absent).
    pub algorithm: Option<String>,
}

impl Challenge {
    /// Reads a `WWW-Authenticate` / `Proxy-Authenticate` value; `None` if it is not
    /// a Digest challenge we can answer (MD5 only).
    pub fn parse(value: &str) -> Option<Self> {
        let params = parse_digest_params(value)?;
        let algorithm = get(&params, "algorithm").map(str::to_string);
        if algorithm
            .as_deref()
            .is_some_and(|a| !a.eq_ignore_ascii_case("md5"))
        {
            return None;
        }
        let qop = get(&params, "qop");
        let qop_auth =
            qop.is_some_and(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
        if qop.is_some() && !qop_auth {
            return None;
        }
        Some(Self {
            realm: get(&params, "realm")?.to_string(),
            nonce: get(&params, "nonce")?.to_string(),
            opaque: get(&params, "opaque").map(str::to_string),
            qop_auth,
            stale: get(&params, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            algorithm,
        })
    }
}

/// The computed digest `response` value.
#[allow(clippy::too_many_arguments)]
pub fn digest_response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = Ha1::from_password(username, realm, password);
    response_from_ha1(&ha1, method, uri, nonce, qop)
}

/// The digest `response` from the user's [`Ha1`]: what a server that keeps no
/// passwords computes.
pub fn response_from_ha1(
    ha1: &Ha1,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha2 = md5_hex(&[method, uri]);
    match qop {
        Some((nc, cnonce)) => md5_hex(&[ha1.as_str(), nonce, nc, cnonce, "auth", &ha2]),
        None => md5_hex(&[ha1.as_str(), nonce, &ha2]),
    }
}

/// `MD5(username:realm:password)` in lower-case hex: all a digest server needs
/// to check a phone, and all the runtime stores. It cannot be turned back into
/// the password, but it does let whoever holds it answer challenges for this
/// realm, so it is kept as private as a password (files 0600) and never
/// printed (`Debug` shows only that it is there).
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1(String);

impl Ha1 {
    /// The HA1 of a password.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Ha1 {
        Ha1(md5_hex(&[username, realm, password]))
    }

    /// An HA1 read back from storage: 32 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Ha1> {
        (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Ha1(hex.to_ascii_lowercase()))
    }

    /// The 32 lower-case hex digits, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ha1(..)")
    }
}

/// Client-side digest state for one peer: remembers the nonce count per nonce.
#[derive(Debug, Clone)]
pub struct DigestClient {
    credentials: Credentials,
    nonce: String,
    nc: u32,
}

impl DigestClient {
    /// A client that answers challenges with these credentials.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            nonce: String::new(),
            nc: 0,
        }
    }

    /// The header value answering `challenge` for a request `method uri`.
    pub fn authorize(&mut self, challenge: &Challenge, method: &str, uri: &str) -> String {
        if challenge.nonce != self.nonce {
            self.nonce = challenge.nonce.clone();
            self.nc = 0;
        }
        self.nc += 1;
        let user = &self.credentials.username;
        let mut out = format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\"",
            challenge.realm, challenge.nonce
        );
        if challenge.qop_auth {
            let nc = format!("{:08x}", self.nc);
            let cnonce = random_token(16);
            let response = digest_response(
                user,
                &challenge.realm,
                &self.credentials.password,
                method,
                uri,
                &challenge.nonce,
                Some((&nc, &cnonce)),
            );
            let _ = write!(
                out,
                ", response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
            );
        } else {
            let response = digest_response(
                user,
                &challenge.realm,
                &self.credentials.password,
                method,
                uri,
                &challenge.nonce,
                None,
            );
            let _ = write!(out, ", response=\"{response}\"");
        }
        out.push_str(", algorithm=MD5");
        if let Some(opaque) = &challenge.opaque {
            let _ = write!(out, ", opaque=\"{opaque}\"");
        }
        out
    }
}

#[cfg(test)]
mod tests;
