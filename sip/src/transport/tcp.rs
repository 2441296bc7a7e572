//! The TCP transport: listener, Content-Length framing with a size cap, the
//! connection table shared by incoming and outgoing connections, and the caps and
//! time-outs of incoming connections ([`super::TcpLimits`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Outgoing, Shared, Target, TransportKind, deliver, out_of_descriptors};
use crate::message::{Counters, canonical_name};

/// Open connections by peer address: the sending half of each connection's writer.
pub(crate) type Connections = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Incoming connections by source IP, for the global and per-source caps.
#[derive(Debug, Default)]
pub(crate) struct SourceCounts {
    by_ip: HashMap<IpAddr, usize>,
    total: usize,
}

impl SourceCounts {
    /// Incoming connections open now.
    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// An admitted incoming connection; gives its place back when dropped.
struct Admitted {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Admitted {
    /// Takes a place for a connection from `ip`, or says which cap is reached.
    fn take(shared: &Arc<Shared>, ip: IpAddr) -> Result<Admitted, &'static str> {
        let limits = shared.tcp_limits;
        let mut counts = shared.incoming.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= limits.max_connections {
            return Err("the TCP connection cap is reached");
        }
        let mine = counts.by_ip.entry(ip).or_insert(0);
        if *mine >= limits.max_per_source {
            return Err("the per-source TCP connection cap is reached");
        }
        *mine += 1;
        counts.total += 1;
        Ok(Admitted {
            shared: shared.clone(),
            ip,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self
            .shared
            .incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until shutdown, within the caps of [`super::TcpLimits`].
pub(crate) async fn accept_loop(
    listener: TcpListener,
    connections: Connections,
    shared: Arc<Shared>,
) {
    let mut last_warning: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let admitted = match Admitted::take(&shared, peer.ip()) {
                    Ok(a) => a,
                    Err(why) => {
                        // Closed at once: the peer sees a reset, and holds nothing of ours.
                        Counters::bump(&shared.counters.connections_refused);
                        tracing::debug!(%peer, "refusing a SIP TCP connection: {why}");
                        drop(stream);
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (tx, rx) = mpsc::unbounded_channel();
                lock(&connections).insert(peer, tx.clone());
                let connections = connections.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _admitted = admitted;
                    run_connection(stream, peer, rx, tx, connections, shared, true).await;
                });
            }
            Err(e) => {
                if out_of_descriptors(&e) {
                    Counters::bump(&shared.counters.descriptors_exhausted);
                    let now = tokio::time::Instant::now();
                    if last_warning.is_none_or(|t| now - t > Duration::from_secs(10)) {
                        last_warning = Some(now);
                        tracing::error!(
                            "cannot accept SIP TCP connections: the process has no file descriptor left ({e}); \
                             lower sip.limits.tcp_connections or raise the open-files limit"
                        );
                    }
                } else {
                    tracing::debug!(error = %e, "TCP accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn lock(
    c: &Connections,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>> {
    c.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends over an existing connection to the peer, or opens one.
pub(crate) fn send(connections: &Connections, shared: &Arc<Shared>, out: Outgoing) {
    let peer = out.target.addr;
    let mut map = lock(connections);
    if let Some(tx) = map.get(&peer) {
        if tx.send(out.data.clone()).is_ok() {
            return;
        }
        map.remove(&peer);
    }
    // Register the queue at once so that messages sent while connecting keep their order.
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(out.data);
    map.insert(peer, tx.clone());
    drop(map);
    let connections = connections.clone();
    let shared = shared.clone();
    tokio::spawn(async move {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                run_connection(stream, peer, rx, tx, connections, shared, false).await;
            }
            Ok(Err(e)) => {
                if out_of_descriptors(&e) {
                    Counters::bump(&shared.counters.descriptors_exhausted);
                    tracing::error!(%peer, "cannot open a SIP TCP connection: the process has no file descriptor left ({e})");
                } else {
                    tracing::debug!(%peer, error = %e, "TCP connect failed");
                }
                remove_if_same(&connections, peer, &tx);
            }
            Err(_) => {
                tracing::debug!(%peer, "TCP connect timed out");
                remove_if_same(&connections, peer, &tx);
            }
        }
    });
}

fn remove_if_same(connections: &Connections, peer: SocketAddr, tx: &mpsc::UnboundedSender<Bytes>) {
    let mut map = lock(connections);
    if map.get(&peer).is_some_and(|t| t.same_channel(tx)) {
        map.remove(&peer);
    }
}

/// Runs one connection until either side closes it. `incoming`: the peer opened
/// it, so the first message must come within the message time-out; on a
/// connection we opened the peer may stay silent until the idle time-out.
async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    tx: mpsc::UnboundedSender<Bytes>,
    connections: Connections,
    shared: Arc<Shared>,
    incoming: bool,
) {
    let (mut reader, mut writer) = stream.into_split();
    let write = async {
        while let Some(data) = rx.recv().await {
            if writer.write_all(&data).await.is_err() {
                break;
            }
        }
    };
    let read = async {
        let limits = shared.tcp_limits;
        let mut buf = BytesMut::with_capacity(8192);
        let start = tokio::time::Instant::now();
        // When the message being received started, or the connection for the first one.
        let mut partial_since = incoming.then_some(start);
        let mut idle_since = start;
        loop {
            let deadline = match partial_since {
                Some(t) => t + limits.message_timeout,
                None => idle_since + limits.idle_timeout,
            };
            match tokio::time::timeout_at(deadline, reader.read_buf(&mut buf)).await {
                Err(_) => {
                    Counters::bump(&shared.counters.connections_timed_out);
                    let why = if partial_since.is_some() {
                        "a message did not arrive whole in time"
                    } else {
                        "idle"
                    };
                    tracing::debug!(%peer, "closing a SIP TCP connection: {why}");
                    return;
                }
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
            }
            let now = tokio::time::Instant::now();
            idle_since = now;
            let mut delivered = false;
            loop {
                match next_frame(&mut buf, shared.limits.max_stream) {
                    Frame::Message(msg) => {
                        delivered = true;
                        let source = Target {
                            transport: TransportKind::Tcp,
                            addr: peer,
                        };
                        deliver(&shared, &msg, source, false);
                    }
                    Frame::Incomplete => break,
                    Frame::TooLarge => {
                        tracing::debug!(%peer, "TCP message over the size limit; closing");
                        Counters::bump(&shared.counters.over_limits);
                        return;
                    }
                }
            }
            // `next_frame` has skipped keep-alive CRLFs: what is left is the start
            // of the next message, whose clock starts with its first byte.
            if buf.is_empty() {
                partial_since = None;
            } else if delivered || partial_since.is_none() {
                partial_since = Some(now);
            }
        }
    };
    tokio::select! {
        _ = write => {}
        _ = read => {}
        _ = shared.shutdown.cancelled() => {}
    }
    remove_if_same(&connections, peer, &tx);
}

/// The result of looking for one message in a stream buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete message, removed from the buffer.
    Message(Bytes),
    /// More bytes are needed.
    Incomplete,
    /// The message is over the limit: the connection cannot be resynchronised.
    TooLarge,
}

/// Cuts one message off the front of a stream buffer, framed by Content-Length
/// (RFC 3261 18.3); leading CRLFs (keep-alives) are skipped.
pub(crate) fn next_frame(buf: &mut BytesMut, max: usize) -> Frame {
    let skip = buf
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count();
    buf.advance(skip);
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > max {
            Frame::TooLarge
        } else {
            Frame::Incomplete
        };
    };
    let head = &buf[..head_end];
    let mut body_len = 0usize;
    for line in head.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line);
        if let Some((name, value)) = line.split_once(':')
            && canonical_name(name.trim()) == "Content-Length"
        {
            match value.trim().parse::<usize>() {
                Ok(n) => body_len = n,
                // Unusable framing: hand over the head alone, the parser answers 400.
                Err(_) => body_len = 0,
            }
        }
    }
    let total = head_end + 4 + body_len;
    if total > max {
        return Frame::TooLarge;
    }
    if buf.len() < total {
        return Frame::Incomplete;
    }
    Frame::Message(buf.split_to(total).freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_by_content_length_and_skips_keepalives() {
        let mut buf = BytesMut::from(
            &b"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabcBYE sip:b SIP/2.0\r\nl: 0\r\n\r\nINV"[..],
        );
        let Frame::Message(m) = next_frame(&mut buf, 1000) else {
            panic!()
        };
        assert!(m.ends_with(b"abc"));
        let Frame::Message(m) = next_frame(&mut buf, 1000) else {
            panic!()
        };
        assert!(m.starts_with(b"BYE"));
        assert_eq!(next_frame(&mut buf, 1000), Frame::Incomplete);
        assert_eq!(&buf[..], b"INV");
    }

    #[test]
    fn oversized_messages_are_refused() {
        let mut buf = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 5000\r\n\r\n"[..]);
        assert_eq!(next_frame(&mut buf, 1000), Frame::TooLarge);
        let mut endless = BytesMut::from(&[b'a'; 2000][..]);
        assert_eq!(next_frame(&mut endless, 1000), Frame::TooLarge);
    }
}
