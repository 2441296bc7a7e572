//! Carrier trunks: outbound registration and placing calls through a trunk.
//!
//! [`start_registration`] keeps a trunk registered: REGISTER with the trunk's
//! credentials (answering 401/407), refresh before the granted expiry, retry with
//! exponential back-off on failure, and an unregister on shutdown. Its state is
//! observable through a `watch` channel of [`TrunkStatus`].
//! [`dial`] places an outgoing INVITE through the trunk and returns the
//! [`OutgoingCall`] that the B2BUA transfer and the dialer drive.

use std::time::Duration;

use rsip::headers::UntypedHeader;
use rsip::{Header, Method};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::auth::{Challenge, Credentials, DigestClient};
use super::endpoint::{OutgoingCall, OutgoingInvite, SipEndpoint};
use super::message::{self, SipError};
use super::transport::{Target, TransportKind};

/// One carrier trunk.
#[derive(Debug, Clone)]
pub struct TrunkConfig {
    /// Name for logs and metrics.
    pub name: String,
    /// The carrier's proxy/registrar URI (`sip:198.51.100.7:5060`).
    pub proxy: String,
    /// The domain of our account at the carrier (host part of From/To).
    pub domain: String,
    /// Our account (user part of the AOR).
    pub username: String,
    /// Digest credentials, if the carrier challenges.
    pub credentials: Option<Credentials>,
    /// Transport of registrations and calls to the carrier (UDP unless set).
    pub transport: TransportKind,
    /// Requested registration lifetime (seconds).
    pub expires: u32,
    /// First retry delay after a failure.
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

impl TrunkConfig {
    /// A trunk with the usual timings (3600 s registrations, retries 2 s .. 5 min).
    pub fn new(name: &str, proxy: &str, domain: &str, username: &str) -> Self {
        Self {
            name: name.into(),
            proxy: proxy.into(),
            domain: domain.into(),
            username: username.into(),
            credentials: None,
            transport: TransportKind::Udp,
            expires: 3600,
            retry_min: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
        }
    }

    fn aor(&self) -> String {
        format!("sip:{}@{}", self.username, self.domain)
    }
}

/// Registration state of a trunk, as [`start_registration`] reports it on
/// its watch channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrunkStatus {
    /// Not registered (before the first attempt, or after shutdown).
    Unregistered,
    /// A REGISTER is in flight.
    Registering,
    /// Registered for this many seconds from the last success.
    Registered {
        /// Lifetime the carrier granted.
        expires: u32,
    },
    /// The last attempt failed; the next is scheduled.
    Failed {
        /// The carrier's status code, or `None` for a timeout or local error.
        code: Option<u16>,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
}

/// Delay before refreshing a registration granted for `granted` seconds.
pub fn refresh_delay(granted: u32) -> Duration {
    let secs = if granted > 120 {
        granted - 60
    } else {
        granted / 2
    };
    Duration::from_secs(u64::from(secs.max(1)))
}

struct RegisterClient {
    endpoint: SipEndpoint,
    config: TrunkConfig,
    target: Option<Target>,
    call_id: String,
    from_tag: String,
    cseq: u32,
    digest: Option<DigestClient>,
}

impl RegisterClient {
    fn request(
        &mut self,
        expires: u32,
        auth: Option<(bool, String)>,
    ) -> Result<rsip::Request, SipError> {
        self.cseq += 1;
        let contact = self
            .endpoint
            .contact_uri(self.config.transport, Some(&self.config.username))?;
        let mut headers = rsip::Headers::default();
        let aor = self.config.aor();
        headers.push(Header::From(rsip::headers::From::new(format!(
            "<{aor}>;tag={}",
            self.from_tag
        ))));
        headers.push(Header::To(rsip::headers::To::new(format!("<{aor}>"))));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{} REGISTER",
            self.cseq
        ))));
        headers.push(Header::Contact(rsip::headers::Contact::new(format!(
            "<{contact}>"
        ))));
        headers.push(Header::Expires(rsip::headers::Expires::new(
            expires.to_string(),
        )));
        match auth {
            Some((true, v)) => headers.push(Header::ProxyAuthorization(
                rsip::headers::ProxyAuthorization::new(v),
            )),
            Some((false, v)) => {
                headers.push(Header::Authorization(rsip::headers::Authorization::new(v)))
            }
            None => {}
        }
        Ok(rsip::Request {
            method: Method::Register,
            uri: message::parse_uri(&format!("sip:{}", self.config.domain))
                .or_else(|_| message::parse_uri(&self.config.proxy))?,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        })
    }

    /// One registration round: REGISTER, answer at most two challenges. Returns
    /// the granted lifetime, or the failing status code.
    async fn register(&mut self, expires: u32) -> Result<u32, Option<u16>> {
        let target = match &self.target {
            Some(t) => t.clone(),
            None => {
                let t = self
                    .endpoint
                    .resolve(&self.config.proxy, self.config.transport)
                    .await
                    .map_err(|_| None)?;
                self.target = Some(t.clone());
                t
            }
        };
        let mut auth = None;
        for _ in 0..3 {
            let req = self.request(expires, auth.take()).map_err(|_| None)?;
            let uri = req.uri.to_string();
            let resp = self
                .endpoint
                .request(req, target.clone())
                .await
                .map_err(|_| None)?;
            let code = resp.status_code.code();
            match code {
                200..=299 => return Ok(granted(&resp, expires)),
                401 | 407 => {
                    let proxy = code == 407;
                    let name = if proxy {
                        "Proxy-Authenticate"
                    } else {
                        "WWW-Authenticate"
                    };
                    let challenge = message::header_value(&resp.headers, name)
                        .and_then(|v| Challenge::parse(&v))
                        .ok_or(Some(code))?;
                    let digest = self.digest.as_mut().ok_or(Some(code))?;
                    auth = Some((proxy, digest.authorize(&challenge, "REGISTER", &uri)));
                }
                423 => {
                    // Interval too brief: nothing to do but report it.
                    return Err(Some(code));
                }
                _ => return Err(Some(code)),
            }
        }
        Err(Some(401))
    }
}

/// The lifetime a 200 to REGISTER granted: our Contact's `expires`, else the
/// Expires header, else what we asked for.
fn granted(resp: &rsip::Response, asked: u32) -> u32 {
    message::header_values(&resp.headers, "Contact")
        .iter()
        .find_map(|c| message::param(c, "expires").flatten())
        .and_then(|e| e.parse().ok())
        .or_else(|| {
            message::header_value(&resp.headers, "Expires").and_then(|e| e.trim().parse().ok())
        })
        .unwrap_or(asked)
}

/// Starts keeping a trunk registered until `shutdown`, then unregisters.
pub fn start_registration(
    endpoint: &SipEndpoint,
    config: TrunkConfig,
    shutdown: CancellationToken,
) -> watch::Receiver<TrunkStatus> {
    let (status_tx, status_rx) = watch::channel(TrunkStatus::Unregistered);
    let mut client = RegisterClient {
        endpoint: endpoint.clone(),
        digest: config.credentials.clone().map(DigestClient::new),
        config,
        target: None,
        call_id: message::new_call_id(),
        from_tag: message::new_tag(),
        cseq: 0,
    };
    tokio::spawn(async move {
        let mut backoff = client.config.retry_min;
        let mut registered = false;
        loop {
            let _ = status_tx.send(TrunkStatus::Registering);
            let expires = client.config.expires;
            let attempt = tokio::select! {
                r = client.register(expires) => r,
                _ = shutdown.cancelled() => break,
            };
            let wait = match attempt {
                Ok(granted) => {
                    registered = true;
                    backoff = client.config.retry_min;
                    let _ = status_tx.send(TrunkStatus::Registered { expires: granted });
                    refresh_delay(granted)
                }
                Err(code) => {
                    tracing::warn!(trunk = %client.config.name, ?code, "trunk registration failed");
                    let wait = backoff;
                    let _ = status_tx.send(TrunkStatus::Failed {
                        code,
                        retry_in: wait,
                    });
                    backoff = (backoff * 2).min(client.config.retry_max);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.cancelled() => break,
            }
        }
        if registered {
            // Best effort, bounded: the endpoint may be shutting down too.
            let _ = tokio::time::timeout(Duration::from_secs(2), client.register(0)).await;
        }
        let _ = status_tx.send(TrunkStatus::Unregistered);
    });
    status_rx
}

/// Places a call to `number` through the trunk with an SDP offer. `caller_id` is
/// the user part of From (the trunk account if `None`). Drive the returned call
/// with [`OutgoingCall::next`]; call [`OutgoingCall::cancel`] to give up.
pub async fn dial(
    endpoint: &SipEndpoint,
    trunk: &TrunkConfig,
    number: &str,
    caller_id: Option<&str>,
    sdp: Vec<u8>,
) -> Result<OutgoingCall, SipError> {
    let target = endpoint.resolve(&trunk.proxy, trunk.transport).await?;
    let from_user = caller_id.unwrap_or(&trunk.username);
    endpoint.invite(OutgoingInvite {
        request_uri: format!("sip:{number}@{}", trunk.domain),
        from: format!("<sip:{from_user}@{}>", trunk.domain),
        to: format!("<sip:{number}@{}>", trunk.domain),
        target,
        sdp: Some(sdp),
        credentials: trunk.credentials.clone(),
        headers: Vec::new(),
        call_id: None,
        contact_user: Some(trunk.username.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_happens_before_expiry() {
        assert_eq!(refresh_delay(3600), Duration::from_secs(3540));
        assert_eq!(refresh_delay(60), Duration::from_secs(30));
        assert_eq!(refresh_delay(0), Duration::from_secs(1));
    }
}
