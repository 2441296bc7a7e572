//! Transports: UDP and TCP listeners, TCP framing and connection reuse.
//!
//! [`TransportLayer::bind`] opens the configured listeners and starts one writer
//! task that drains the [`Outgoing`] channel every transaction sends into. What
//! arrives is parsed at the edge ([`crate::message::parse`]) and handed on as
//! [`Received`]; malformed requests are answered with 400 right here. TCP
//! connections are kept in a table keyed by the peer address, so a response goes
//! back over the connection its request came on and a request to a peer we already
//! talk to reuses the connection; otherwise a new outgoing connection is opened.

pub mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::message::{self, Counters, Inbound, SipError};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP: unreliable, transactions retransmit.
    Udp,
    /// TCP: reliable, framed by Content-Length.
    Tcp,
}

impl TransportKind {
    /// Whether the transport is reliable (no retransmissions, zero-length timers).
    pub fn is_reliable(self) -> bool {
        matches!(self, Self::Tcp)
    }

    /// The name used in Via headers.
    pub fn via_name(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }

    /// Reads a Via transport name or `transport=` URI parameter.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("udp") {
            Some(Self::Udp)
        } else if name.eq_ignore_ascii_case("tcp") {
            Some(Self::Tcp)
        } else {
            None
        }
    }
}

/// Where a message goes: a transport and a peer address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport to use.
    pub transport: TransportKind,
    /// The peer address.
    pub addr: SocketAddr,
}

/// One message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Destination.
    pub target: Target,
    /// The encoded message.
    pub data: Bytes,
}

/// One parsed message and where it came from.
#[derive(Debug)]
pub struct Received {
    /// The message.
    pub message: Inbound,
    /// The transport and peer address (for TCP, the connection's peer).
    pub source: Target,
}

/// Listener addresses and limits.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP listen address, if UDP is wanted.
    pub udp: Option<SocketAddr>,
    /// TCP listen address, if TCP is wanted.
    pub tcp: Option<SocketAddr>,
    /// Largest TCP message (headers and body) accepted before the connection is closed.
    pub max_message_size: usize,
}

/// The open listeners and the connection table.
#[derive(Debug)]
pub struct TransportLayer {
    udp: Option<Arc<tokio::net::UdpSocket>>,
    udp_addr: Option<SocketAddr>,
    tcp_addr: Option<SocketAddr>,
    pub(crate) connections: tcp::Connections,
    sink: mpsc::UnboundedSender<Outgoing>,
}

pub(crate) struct Shared {
    pub(crate) counters: Arc<Counters>,
    pub(crate) received: mpsc::UnboundedSender<Received>,
    pub(crate) sink: mpsc::UnboundedSender<Outgoing>,
    pub(crate) max_message_size: usize,
    pub(crate) shutdown: CancellationToken,
}

impl TransportLayer {
    /// Binds the configured listeners and starts their tasks. Parsed messages
    /// arrive on `received`; send by pushing into [`TransportLayer::sink`].
    pub async fn bind(
        config: &TransportConfig,
        counters: Arc<Counters>,
        received: mpsc::UnboundedSender<Received>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, SipError> {
        let (sink, outgoing) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            counters,
            received,
            sink: sink.clone(),
            max_message_size: config.max_message_size,
            shutdown: shutdown.clone(),
        });
        let connections: tcp::Connections = Arc::new(Mutex::new(HashMap::new()));
        let (udp, udp_addr) = match config.udp {
            Some(addr) => {
                let socket = Arc::new(tokio::net::UdpSocket::bind(addr).await?);
                let local = socket.local_addr()?;
                tokio::spawn(udp::receive_loop(socket.clone(), shared.clone()));
                (Some(socket), Some(local))
            }
            None => (None, None),
        };
        let tcp_addr = match config.tcp {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr).await?;
                let local = listener.local_addr()?;
                tokio::spawn(tcp::accept_loop(
                    listener,
                    connections.clone(),
                    shared.clone(),
                ));
                Some(local)
            }
            None => None,
        };
        tokio::spawn(write_loop(
            outgoing,
            udp.clone(),
            connections.clone(),
            shared.clone(),
        ));
        Ok(Arc::new(Self {
            udp,
            udp_addr,
            tcp_addr,
            connections,
            sink,
        }))
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The local address for a transport, to put in Via and Contact.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        match kind {
            TransportKind::Udp => self.udp_addr,
            TransportKind::Tcp => self.tcp_addr,
        }
    }

    /// The channel that messages to send go into.
    pub fn sink(&self) -> mpsc::UnboundedSender<Outgoing> {
        self.sink.clone()
    }

    /// Number of open TCP connections (incoming and outgoing).
    pub fn tcp_connection_count(&self) -> usize {
        self.connections.lock().map_or(0, |m| m.len())
    }

    /// Whether a TCP connection to `peer` is open.
    pub fn has_tcp_connection(&self, peer: SocketAddr) -> bool {
        self.connections.lock().is_ok_and(|m| m.contains_key(&peer))
    }

    /// Whether a UDP socket is open.
    pub fn has_udp(&self) -> bool {
        self.udp.is_some()
    }
}

/// Drains the outgoing channel. UDP sends are immediate; TCP messages go to the
/// connection's writer, and a missing connection is opened in its own task so that
/// a slow connect never holds up other messages.
async fn write_loop(
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    udp: Option<Arc<tokio::net::UdpSocket>>,
    connections: tcp::Connections,
    shared: Arc<Shared>,
) {
    loop {
        let out = tokio::select! {
            out = outgoing.recv() => out,
            _ = shared.shutdown.cancelled() => None,
        };
        let Some(out) = out else { break };
        Counters::bump(&shared.counters.sent);
        match out.target.transport {
            TransportKind::Udp => {
                if let Some(socket) = &udp
                    && let Err(e) = socket.send_to(&out.data, out.target.addr).await
                {
                    tracing::debug!(peer = %out.target.addr, error = %e, "UDP send failed");
                }
            }
            TransportKind::Tcp => tcp::send(&connections, &shared, out),
        }
    }
}

/// Hands a received buffer to the parser and routes the result.
pub(crate) fn deliver(shared: &Shared, data: &[u8], source: Target, datagram: bool) {
    if data
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
    {
        // Keep-alives (RFC 5626 CRLF ping) and stray padding.
        return;
    }
    match message::parse(data, datagram) {
        Ok(message) => {
            Counters::bump(&shared.counters.received);
            let _ = shared.received.send(Received { message, source });
        }
        Err(bad) => match bad.reply {
            Some(reply) => {
                tracing::debug!(peer = %source.addr, reason = %bad.reason, "answering malformed request with 400");
                Counters::bump(&shared.counters.bad_request_sent);
                let _ = shared.sink.send(Outgoing {
                    target: source,
                    data: reply,
                });
            }
            None => {
                tracing::debug!(peer = %source.addr, reason = %bad.reason, "dropping malformed message");
                Counters::bump(&shared.counters.malformed_dropped);
            }
        },
    }
}
