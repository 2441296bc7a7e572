//! The TCP transport: listener, Content-Length framing with a size cap, the
//! connection table shared by incoming and outgoing connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Outgoing, Shared, Target, TransportKind, deliver};
use crate::message::{Counters, canonical_name};

/// Open connections by peer address: the sending half of each connection's writer.
pub(crate) type Connections = Arc<Mutex<HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until shutdown.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    connections: Connections,
    shared: Arc<Shared>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shared.shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (tx, rx) = mpsc::unbounded_channel();
                lock(&connections).insert(peer, tx.clone());
                tokio::spawn(run_connection(
                    stream,
                    peer,
                    rx,
                    tx,
                    connections.clone(),
                    shared.clone(),
                ));
            }
            Err(e) => {
                tracing::debug!(error = %e, "TCP accept failed");
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
                run_connection(stream, peer, rx, tx, connections, shared).await;
            }
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TCP connect failed");
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

async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    tx: mpsc::UnboundedSender<Bytes>,
    connections: Connections,
    shared: Arc<Shared>,
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
        let mut buf = BytesMut::with_capacity(8192);
        loop {
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            loop {
                match next_frame(&mut buf, shared.max_message_size) {
                    Frame::Message(msg) => {
                        let source = Target {
                            transport: TransportKind::Tcp,
                            addr: peer,
                        };
                        deliver(&shared, &msg, source, false);
                    }
                    Frame::Incomplete => break,
                    Frame::TooLarge => {
                        tracing::debug!(%peer, "TCP message over the size limit; closing");
                        Counters::bump(&shared.counters.malformed_dropped);
                        return;
                    }
                }
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
