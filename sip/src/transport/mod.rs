//! Transports: UDP and TCP listeners, TCP framing and connection reuse.
//!
//! [`TransportLayer::bind`] opens the configured listeners and starts one writer
//! task that drains the [`Outgoing`] channel every transaction sends into. What
//! arrives is parsed at the edge ([`crate::message::parse`]) and handed on as
//! [`Received`]; malformed requests are answered with 400 right here. TCP
//! connections are kept in a table keyed by the peer address, so a response goes
//! back over the connection its request came on and a request to a peer we already
//! talk to reuses the connection; otherwise a new outgoing connection is opened.
//!
//! What the network can make us hold is bounded here: every message passes
//! [`MessageLimits`] before it is parsed (over a limit: 513, 400 or nothing), and
//! TCP connections others open are capped in number, globally and per source
//! address, and closed when a message takes too long to arrive or the connection
//! stays idle ([`TcpLimits`]).

pub mod tcp;
pub mod udp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::message::{self, Counters, Inbound, MessageLimits, SipError};

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
    /// The transport: for a received message, the one it came in on.
    pub transport: TransportKind,
    /// The peer's address: for a received message, where the packet or
    /// connection came from, whatever its headers say.
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
    /// The message, already past the checks every SIP message must pass.
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
    /// Size and header-count limits of every received message; a TCP message
    /// over `max_stream` closes its connection (the stream cannot be resynchronised).
    pub limits: MessageLimits,
    /// Caps and time-outs of TCP connections others open.
    pub tcp_limits: TcpLimits,
}

/// Caps and time-outs of TCP connections opened to us. Each connection holds a
/// file descriptor and a buffer; without these, idle or trickling connections
/// (slow-loris) pile up until the process has no descriptor left for RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Most incoming connections at once; beyond it new ones are closed at once.
    pub max_connections: usize,
    /// Most incoming connections from one IP address.
    pub max_per_source: usize,
    /// A message must arrive whole within this from its first byte (and the first
    /// message within this from the connection's start).
    pub message_timeout: Duration,
    /// A connection with nothing arriving (not even CRLF keep-alives) for this
    /// long is closed.
    pub idle_timeout: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_per_source: 32,
            message_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// The open listeners and the connection table.
pub struct TransportLayer {
    udp: Option<Arc<tokio::net::UdpSocket>>,
    udp_addr: Option<SocketAddr>,
    tcp_addr: Option<SocketAddr>,
    pub(crate) connections: tcp::Connections,
    sink: mpsc::UnboundedSender<Outgoing>,
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) counters: Arc<Counters>,
    pub(crate) received: mpsc::UnboundedSender<Received>,
    pub(crate) sink: mpsc::UnboundedSender<Outgoing>,
    pub(crate) limits: MessageLimits,
    pub(crate) tcp_limits: TcpLimits,
    /// Incoming TCP connections by source IP, for the caps.
    pub(crate) incoming: Mutex<tcp::SourceCounts>,
    pub(crate) shutdown: CancellationToken,
}

impl std::fmt::Debug for TransportLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportLayer")
            .field("udp", &self.udp_addr)
            .field("tcp", &self.tcp_addr)
            .finish()
    }
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
            limits: config.limits,
            tcp_limits: config.tcp_limits,
            incoming: Mutex::new(tcp::SourceCounts::default()),
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
            shared,
        }))
    }

    /// The bound UDP address (the port the system chose when 0 was asked for);
    /// `None` when UDP is off.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }

    /// The bound TCP address (the port the system chose when 0 was asked for);
    /// `None` when TCP is off.
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

    /// Number of TCP connections others opened to us that are still open.
    pub fn incoming_tcp_count(&self) -> usize {
        self.shared
            .incoming
            .lock()
            .map_or(0, |counts| counts.total())
    }

    /// Whether a UDP socket is open.
    pub fn has_udp(&self) -> bool {
        self.udp.is_some()
    }
}

/// True when an IO error means the process has no file descriptor left
/// (`EMFILE`, or `ENFILE` for the whole system): the caller should say so, not
/// report a failed connection or a port in use.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    // EMFILE and ENFILE have these values on Linux and the BSDs alike.
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE))
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
    if let Some(verdict) = shared.limits.check(data, datagram) {
        Counters::bump(&shared.counters.over_limits);
        let bad = message::reject_over_limit(data, &verdict);
        match bad.reply {
            Some(reply) => {
                tracing::debug!(peer = %source.addr, reason = %bad.reason, "answering a message over a limit");
                let _ = shared.sink.send(Outgoing {
                    target: source,
                    data: reply,
                });
            }
            None => {
                tracing::debug!(peer = %source.addr, reason = %bad.reason, "dropping a message over a limit");
            }
        }
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
