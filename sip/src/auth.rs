//! HTTP digest authentication for SIP (RFC 2617 / RFC 7616 with MD5; qop=auth or
//! no qop).
//!
//! Client side: [`Challenge::parse`] reads a `WWW-Authenticate` or
//! `Proxy-Authenticate` value and [`DigestClient::authorize`] builds the matching
//! `Authorization` / `Proxy-Authorization` value (nonce count, cnonce).
//! Server side: [`DigestServer`] issues nonces that it can verify without state
//! (an HMAC-like MD5 over a timestamp and a secret, with expiry) and checks
//! responses against a password lookup.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

use super::message::random_token;

/// A username and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username (often the account or extension number).
    pub username: String,
    /// The password.
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

/// Parses `Digest a=b, c="d, e"` into its scheme and (name, value) pairs. Returns
/// `None` for a scheme other than Digest.
pub fn parse_digest_params(value: &str) -> Option<Vec<(String, String)>> {
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
        if out.len() > 32 {
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
    /// The realm.
    pub realm: String,
    /// The server nonce.
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
    let ha1 = md5_hex(&[username, realm, password]);
    let ha2 = md5_hex(&[method, uri]);
    match qop {
        Some((nc, cnonce)) => md5_hex(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => md5_hex(&[&ha1, nonce, &ha2]),
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

/// Why a request's credentials were not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No Authorization header for our realm: challenge.
    Missing,
    /// The header could not be read.
    Malformed,
    /// The nonce was ours but has expired: challenge again with `stale=true`.
    Stale,
    /// The nonce was not issued by us.
    BadNonce,
    /// No such user.
    UnknownUser,
    /// The response did not match the password.
    WrongPassword,
}

/// A verified request's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorized {
    /// The authenticated username.
    pub username: String,
}

/// Server-side digest: stateless nonces with expiry.
#[derive(Debug, Clone)]
pub struct DigestServer {
    realm: String,
    secret: String,
    nonce_ttl: Duration,
}

impl DigestServer {
    /// A server for `realm` with a random secret; nonces live for `nonce_ttl`.
    pub fn new(realm: impl Into<String>, nonce_ttl: Duration) -> Self {
        Self {
            realm: realm.into(),
            secret: random_token(32),
            nonce_ttl,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// A nonce: issue time in hex and a keyed hash of it.
    pub fn nonce(&self) -> String {
        self.nonce_at(Self::now_secs())
    }

    fn nonce_at(&self, secs: u64) -> String {
        let ts = format!("{secs:x}");
        let mac = md5_hex(&[&ts, &self.secret, &self.realm]);
        format!("{ts}.{mac}")
    }

    fn check_nonce(&self, nonce: &str) -> Result<(), AuthFailure> {
        let (ts, _) = nonce.split_once('.').ok_or(AuthFailure::BadNonce)?;
        let secs = u64::from_str_radix(ts, 16).map_err(|_| AuthFailure::BadNonce)?;
        if self.nonce_at(secs) != nonce {
            return Err(AuthFailure::BadNonce);
        }
        let now = Self::now_secs();
        if now.saturating_sub(secs) > self.nonce_ttl.as_secs() || secs > now + 60 {
            return Err(AuthFailure::Stale);
        }
        Ok(())
    }

    /// The `WWW-Authenticate` / `Proxy-Authenticate` value to send with a 401/407.
    pub fn challenge(&self, stale: bool) -> String {
        let mut out = format!(
            "Digest realm=\"{}\", nonce=\"{}\", qop=\"auth\", algorithm=MD5",
            self.realm,
            self.nonce()
        );
        if stale {
            out.push_str(", stale=TRUE");
        }
        out
    }

    /// Verifies an `Authorization` value for a request with `method`, using
    /// `password_of` to find the user's password.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        method: &str,
        password_of: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Authorized, AuthFailure> {
        let value = authorization.ok_or(AuthFailure::Missing)?;
        let params = parse_digest_params(value).ok_or(AuthFailure::Malformed)?;
        let realm = get(&params, "realm").ok_or(AuthFailure::Malformed)?;
        if realm != self.realm {
            return Err(AuthFailure::Missing);
        }
        let username = get(&params, "username").ok_or(AuthFailure::Malformed)?;
        let nonce = get(&params, "nonce").ok_or(AuthFailure::Malformed)?;
        let uri = get(&params, "uri").ok_or(AuthFailure::Malformed)?;
        let response = get(&params, "response").ok_or(AuthFailure::Malformed)?;
        if get(&params, "algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("md5")) {
            return Err(AuthFailure::Malformed);
        }
        self.check_nonce(nonce)?;
        let password = password_of(username).ok_or(AuthFailure::UnknownUser)?;
        let qop = match get(&params, "qop") {
            Some(q) if q.eq_ignore_ascii_case("auth") => Some((
                get(&params, "nc").ok_or(AuthFailure::Malformed)?,
                get(&params, "cnonce").ok_or(AuthFailure::Malformed)?,
            )),
            Some(_) => return Err(AuthFailure::Malformed),
            None => None,
        };
        let expected = digest_response(username, realm, &password, method, uri, nonce, qop);
        if expected.eq_ignore_ascii_case(response) {
            Ok(Authorized {
                username: username.to_string(),
            })
        } else {
            Err(AuthFailure::WrongPassword)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_section_3_5_example() {
        let r = digest_response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc2069_style_without_qop() {
        // HA1 and HA2 from the RFC 2617 example, combined without qop.
        let ha1 = md5_hex(&["Mufasa", "testrealm@host.com", "Circle Of Life"]);
        assert_eq!(ha1, "939e7578ed9e3c518a452acee763bce9");
        let r = digest_response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            None,
        );
        let ha2 = md5_hex(&["GET", "/dir/index.html"]);
        assert_eq!(
            r,
            md5_hex(&[&ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", &ha2])
        );
    }

    #[test]
    fn parses_the_rfc_challenge() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert_eq!(c.realm, "testrealm@host.com");
        assert!(c.qop_auth);
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert!(Challenge::parse("Basic realm=\"x\"").is_none());
        assert!(Challenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-256").is_none());
    }

    #[test]
    fn client_and_server_round_trip() {
        let server = DigestServer::new("dialect", Duration::from_secs(300));
        let challenge = Challenge::parse(&server.challenge(false)).unwrap();
        let mut client = DigestClient::new(Credentials {
            username: "1001".into(),
            password: "secret".into(),
        });
        let auth = client.authorize(&challenge, "REGISTER", "sip:127.0.0.1");
        assert!(auth.contains("nc=00000001"));
        let pw = |u: &str| (u == "1001").then(|| "secret".to_string());
        assert_eq!(
            server.verify(Some(&auth), "REGISTER", pw),
            Ok(Authorized {
                username: "1001".into()
            })
        );
        let second = client.authorize(&challenge, "REGISTER", "sip:127.0.0.1");
        assert!(second.contains("nc=00000002"));
        assert_eq!(
            server.verify(Some(&auth), "INVITE", pw),
            Err(AuthFailure::WrongPassword)
        );
        let mut wrong = DigestClient::new(Credentials {
            username: "1001".into(),
            password: "nope".into(),
        });
        let bad = wrong.authorize(&challenge, "REGISTER", "sip:127.0.0.1");
        assert_eq!(
            server.verify(Some(&bad), "REGISTER", pw),
            Err(AuthFailure::WrongPassword)
        );
        let forged = auth.replace(
            &challenge.nonce,
            "5f000000.0123456789abcdef0123456789abcdef",
        );
        assert_eq!(
            server.verify(Some(&forged), "REGISTER", pw),
            Err(AuthFailure::BadNonce)
        );
        assert_eq!(
            server.verify(None, "REGISTER", pw),
            Err(AuthFailure::Missing)
        );
    }

    #[test]
    fn expired_nonce_is_stale() {
        let server = DigestServer::new("dialect", Duration::from_secs(30));
        let old = server.nonce_at(DigestServer::now_secs() - 31);
        assert_eq!(server.check_nonce(&old), Err(AuthFailure::Stale));
        let fresh = server.nonce();
        assert_eq!(server.check_nonce(&fresh), Ok(()));
    }
}
