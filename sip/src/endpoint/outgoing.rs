//! Placing a call: the INVITE we send, its progress (provisional, answered,
//! rejected, cancelled, timed out), digest challenges answered with the
//! trunk's credentials, and CANCEL.

use rsip::headers::UntypedHeader;
use rsip::{Header, Method};
use tokio::time::Instant;

use crate::auth::{Challenge, Credentials, DigestClient};
use crate::dialog::Dialog;
use crate::message::{self};
use crate::transaction::{ClientEvent, ClientInput};
use crate::transport::Target;

use super::*;

/// What to put in an outgoing INVITE.
#[derive(Debug, Clone)]
pub struct OutgoingInvite {
    /// Request-URI (`sip:+8610000@carrier.example`).
    pub request_uri: String,
    /// From name-addr without tag (`"10000" <sip:10000@our.example>`).
    pub from: String,
    /// To name-addr.
    pub to: String,
    /// Next hop (the trunk's proxy, or the callee).
    pub target: Target,
    /// SDP offer, if any.
    pub sdp: Option<Vec<u8>>,
    /// Credentials for 401/407 challenges.
    pub credentials: Option<Credentials>,
    /// Extra headers (P-Asserted-Identity, Route...).
    pub headers: Vec<Header>,
    /// A Call-ID to use instead of a fresh one.
    pub call_id: Option<String>,
    /// User part for our Contact.
    pub contact_user: Option<String>,
}

/// How an outgoing call is going.
#[derive(Debug)]
pub enum CallProgress {
    /// 1xx (180 Ringing, 183 with early media SDP...).
    Provisional(rsip::Response),
    /// 2xx: the call is up and already acknowledged.
    Answered(Box<Answered>),
    /// A final failure response (busy, not found...).
    Rejected(rsip::Response),
    /// Our CANCEL took effect (or the call was torn down after a racing 2xx).
    Cancelled,
    /// No response at all (timer B) or the transport failed.
    Timeout,
}

/// An answered outgoing call.
#[derive(Debug)]
pub struct Answered {
    /// The confirmed dialog, owned by the call task from now on.
    pub dialog: Dialog,
    /// Its in-dialog requests (BYE, re-INVITE, INFO...).
    pub events: DialogEvents,
    /// The 2xx (its body is the SDP answer).
    pub response: rsip::Response,
}

/// An outgoing INVITE as UAC: handles digest challenges, CANCEL and the ACK.
#[derive(Debug)]
pub struct OutgoingCall {
    pub(super) endpoint: SipEndpoint,
    pub(super) tx: ClientTransaction,
    pub(super) invite: rsip::Request,
    pub(super) contact: String,
    pub(super) digest: Option<DigestClient>,
    pub(super) auth_tries: u8,
    pub(super) cancel_requested: bool,
    pub(super) cancel_sent: bool,
    pub(super) got_provisional: bool,
    pub(super) cancel_deadline: Option<Instant>,
    pub(super) finished: bool,
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl OutgoingCall {
    /// The INVITE as last sent.
    pub fn request(&self) -> &rsip::Request {
        &self.invite
    }

    /// The INVITE's Call-ID, which the dialog it creates keeps.
    pub fn call_id(&self) -> String {
        message::call_id(&self.invite.headers).unwrap_or_default()
    }

    /// Gives up on the call: sends CANCEL now, or as soon as a provisional
    /// response arrives (RFC 3261 9.1). Keep calling [`OutgoingCall::next`] until it
    /// returns a final result.
    pub fn cancel(&mut self) {
        self.cancel_requested = true;
        if self.got_provisional {
            self.send_cancel();
        }
        if self.cancel_deadline.is_none() {
            self.cancel_deadline = Some(Instant::now() + self.endpoint.inner.config.timers.t1 * 64);
        }
    }

    fn send_cancel(&mut self) {
        if self.cancel_sent {
            return;
        }
        self.cancel_sent = true;
        let mut headers = rsip::Headers::default();
        for h in self.invite.headers.iter() {
            match h {
                Header::From(_) | Header::To(_) | Header::CallId(_) | Header::Route(_) => {
                    headers.push(h.clone())
                }
                _ => {}
            }
        }
        let seq = message::cseq(&self.invite.headers).map_or(1, |(n, _)| n);
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{seq} CANCEL"
        ))));
        let cancel = rsip::Request {
            method: Method::Cancel,
            uri: self.invite.uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        let branch = message::top_via(&self.invite.headers)
            .and_then(|v| message::parse_via(&v))
            .and_then(|v| v.branch);
        // The CANCEL's own response is of no interest; its transaction runs on its own.
        let _ = self
            .endpoint
            .start_client(cancel, self.tx.target.clone(), branch);
    }

    /// The next step of the call; after a final result it returns [`CallProgress::Timeout`]
    /// forever. Cancel-safe: it only awaits the transaction's channel and a timer.
    pub async fn next(&mut self) -> CallProgress {
        if self.finished {
            return CallProgress::Timeout;
        }
        loop {
            let event = tokio::select! {
                e = self.tx.next_event() => e,
                _ = sleep_opt(self.cancel_deadline) => {
                    self.finished = true;
                    return CallProgress::Cancelled;
                }
            };
            let resp = match event {
                Some(ClientEvent::Response(r)) => r,
                Some(ClientEvent::Timeout) | None => {
                    self.finished = true;
                    return if self.cancel_requested {
                        CallProgress::Cancelled
                    } else {
                        CallProgress::Timeout
                    };
                }
            };
            let code = resp.status_code.code();
            if code < 200 {
                self.got_provisional = true;
                if self.cancel_requested {
                    self.send_cancel();
                }
                return CallProgress::Provisional(resp);
            }
            if code < 300 {
                self.finished = true;
                return self.on_2xx(resp);
            }
            if (code == 401 || code == 407) && !self.cancel_requested && self.retry_with_auth(&resp)
            {
                continue;
            }
            self.finished = true;
            return if code == 487 && self.cancel_requested {
                CallProgress::Cancelled
            } else {
                CallProgress::Rejected(resp)
            };
        }
    }

    fn on_2xx(&mut self, resp: rsip::Response) -> CallProgress {
        let flow = self.tx.target.clone();
        let dialog = match Dialog::uac(&self.invite, &resp, &self.contact, flow.clone()) {
            Ok(d) => d,
            Err(_) => return CallProgress::Rejected(resp),
        };
        let seq = message::cseq(&self.invite.headers).map_or(1, |(n, _)| n);
        let target = resolve_literal(&dialog.next_hop(), dialog.transport).unwrap_or(flow);
        if let Ok(ack) = dialog.ack(seq)
            && let Ok(out) = self.endpoint.send_stateless(ack, target)
        {
            let _ = self.tx.net.send(ClientInput::AckFor2xx(out));
        }
        let events = self.endpoint.register_dialog(dialog.id.clone());
        if self.cancel_requested {
            // The 2xx crossed our CANCEL: end the call we did not want.
            let endpoint = self.endpoint.clone();
            let mut dialog = dialog;
            tokio::spawn(async move {
                let _ = endpoint.bye(&mut dialog).await;
                drop(events);
            });
            return CallProgress::Cancelled;
        }
        CallProgress::Answered(Box::new(Answered {
            dialog,
            events,
            response: resp,
        }))
    }

    fn retry_with_auth(&mut self, resp: &rsip::Response) -> bool {
        let Some(digest) = self.digest.as_mut() else {
            return false;
        };
        if self.auth_tries >= 2 {
            return false;
        }
        self.auth_tries += 1;
        let proxy = resp.status_code.code() == 407;
        let (challenge_name, auth_name) = if proxy {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(challenge) =
            message::header_value(&resp.headers, challenge_name).and_then(|v| Challenge::parse(&v))
        else {
            return false;
        };
        let mut req = self.invite.clone();
        let uri = req.uri.to_string();
        let value = digest.authorize(&challenge, "INVITE", &uri);
        let seq = message::cseq(&req.headers).map_or(1, |(n, _)| n) + 1;
        message::set_header(
            &mut req.headers,
            Header::CSeq(rsip::headers::CSeq::new(format!("{seq} INVITE"))),
        );
        req.headers
            .retain(|h| !message::header_name(h).eq_ignore_ascii_case(auth_name));
        req.headers.push(if proxy {
            Header::ProxyAuthorization(rsip::headers::ProxyAuthorization::new(value))
        } else {
            Header::Authorization(rsip::headers::Authorization::new(value))
        });
        match self.endpoint.send_request(req, self.tx.target.clone()) {
            Ok(tx) => {
                self.invite = tx.request.clone();
                self.tx = tx;
                self.got_provisional = false;
                true
            }
            Err(_) => false,
        }
    }
}
