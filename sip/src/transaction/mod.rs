//! The transaction layer (RFC 3261 section 17, with the RFC 6026 Accepted states).
//!
//! Each transaction runs as its own small tokio task that owns its state and its
//! timers: [`server_invite`], [`server`] (non-INVITE), [`client_invite`] and
//! [`client`] (non-INVITE), one state machine a file. The endpoint routes received
//! messages to a transaction by [`TxKey`] (the branch of the top Via, RFC 3261
//! 17.1.3 and 17.2.3) and hands the transaction's results to the application.
//! Transactions never touch sockets: they push [`Outgoing`] datagrams into a
//! channel that the transport layer drains, which keeps them testable with paused
//! time and no network.

pub mod client;
pub mod client_invite;
pub mod server;
pub mod server_invite;
pub mod timers;

use std::sync::Arc;

use bytes::Bytes;
use rsip::Method;
use tokio::sync::mpsc;

pub use timers::Timers;

use super::message::{self, Counters};
use super::transport::{Outgoing, Target};

/// Where transactions put what they send: drained by the transport layer.
pub type Sink = mpsc::UnboundedSender<Outgoing>;

/// Identifies a transaction: the branch of the top Via, the sent-by for server
/// transactions, and the method (ACK counts as INVITE, CANCEL is its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxKey {
    /// The branch parameter (with its `z9hG4bK` cookie).
    pub branch: String,
    /// Sent-by of the top Via; `None` for client transactions, whose branch we chose.
    pub sent_by: Option<String>,
    /// The method name, with ACK mapped to INVITE.
    pub method: String,
}

impl TxKey {
    /// The server transaction key of a received request (17.2.3).
    pub fn server(req: &rsip::Request) -> Option<Self> {
        let via = message::parse_via(&message::top_via(&req.headers)?)?;
        let method = if req.method == Method::Ack {
            Method::Invite
        } else {
            req.method
        };
        Some(Self {
            branch: via.branch.clone()?,
            sent_by: Some(via.sent_by().to_ascii_lowercase()),
            method: method.to_string(),
        })
    }

    /// The key of the INVITE server transaction that a received CANCEL refers to.
    pub fn server_invite_for_cancel(cancel: &rsip::Request) -> Option<Self> {
        let mut key = Self::server(cancel)?;
        key.method = Method::Invite.to_string();
        Some(key)
    }

    /// The client transaction key of a received response (17.1.3).
    pub fn client_for_response(resp: &rsip::Response) -> Option<Self> {
        let via = message::parse_via(&message::top_via(&resp.headers)?)?;
        let (_, method) = message::cseq(&resp.headers)?;
        let method = if method == Method::Ack {
            Method::Invite
        } else {
            method
        };
        Some(Self {
            branch: via.branch?,
            sent_by: None,
            method: method.to_string(),
        })
    }

    /// The key of a request we send.
    pub fn client(branch: &str, method: Method) -> Self {
        Self {
            branch: branch.to_string(),
            sent_by: None,
            method: method.to_string(),
        }
    }
}

/// Input to a server transaction from the network side.
#[derive(Debug)]
pub enum ServerInput {
    /// A retransmission of the request, or the ACK for a non-2xx final response.
    Request(Box<rsip::Request>),
    /// A CANCEL matched this INVITE transaction (already answered with 200).
    Cancel,
}

/// What a client transaction is fed from outside: the responses matched to
/// it, and the application's ACK for a 2xx.
#[derive(Debug)]
pub enum ClientInput {
    /// A response matched this transaction.
    Response(rsip::Response),
    /// The ACK the application sent for a 2xx, re-sent if the 2xx is retransmitted.
    AckFor2xx(Outgoing),
}

/// What a client transaction reports to whoever sent the request.
#[derive(Debug, Clone)]
pub enum ClientEvent {
    /// A response (provisional or final; for INVITE, also retransmitted 2xx).
    Response(rsip::Response),
    /// Timer B or F fired without a final response.
    Timeout,
}

/// How a server transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerOutcome {
    /// A final response was sent and its time in the Completed state ran out.
    Completed,
    /// INVITE: a 2xx was sent; the ACK is the UA core's business.
    Accepted,
    /// INVITE: a final non-2xx response was never acknowledged (timer H).
    NoAck,
    /// The endpoint went away.
    Closed,
}

/// What every transaction needs to send.
#[derive(Debug, Clone)]
pub struct TxContext {
    /// Where the messages go.
    pub sink: Sink,
    /// The peer: where requests go for a client transaction, where responses go
    /// for a server transaction.
    pub target: Target,
    /// The base timers T1, T2 and T4 every retransmission and time-out derives
    /// from.
    pub timers: Timers,
    /// Counters to bump for retransmissions.
    pub counters: Arc<Counters>,
}

impl TxContext {
    fn reliable(&self) -> bool {
        self.target.transport.is_reliable()
    }

    fn send(&self, data: Bytes, retransmission: bool) {
        if retransmission {
            Counters::bump(&self.counters.retransmissions);
        }
        let _ = self.sink.send(Outgoing {
            target: self.target.clone(),
            data,
        });
    }
}

/// Sleeps until `deadline`, or forever when there is none (for `select!` arms).
async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Shared fixtures for the state machine tests: a captured sink and requests.
    use super::*;
    use crate::message::Inbound;
    use crate::transport::TransportKind;
    use tokio::time::Instant;

    pub(crate) fn ctx(transport: TransportKind) -> (TxContext, mpsc::UnboundedReceiver<Outgoing>) {
        let (sink, rx) = mpsc::unbounded_channel();
        (
            TxContext {
                sink,
                target: Target {
                    transport,
                    addr: "127.0.0.1:5099".parse().unwrap(),
                },
                timers: Timers::default(),
                counters: Arc::new(Counters::default()),
            },
            rx,
        )
    }

    pub(crate) fn request(method: &str) -> rsip::Request {
        let text = format!(
            "{method} sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKtest1\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@127.0.0.1>\r\n\
From: <sip:alice@127.0.0.1>;tag=abc\r\n\
Call-ID: call-1\r\n\
CSeq: 1 {method}\r\n\
Content-Length: 0\r\n\r\n"
        );
        match message::parse(text.as_bytes(), true).unwrap() {
            Inbound::Request(r) => r,
            Inbound::Response(_) => unreachable!(),
        }
    }

    pub(crate) fn response(req: &rsip::Request, code: u16) -> rsip::Response {
        message::response_for(req, code, Some("totag"))
    }

    /// Receives the next sent message with the virtual time it was sent at.
    pub(crate) async fn next(
        rx: &mut mpsc::UnboundedReceiver<Outgoing>,
        start: Instant,
    ) -> Option<(u128, String)> {
        let o = rx.recv().await?;
        Some((
            start.elapsed().as_millis(),
            String::from_utf8_lossy(&o.data)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        ))
    }
}
