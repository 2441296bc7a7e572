//! The UDP listener: one socket, one receive loop, datagram-per-message parsing.

use std::sync::Arc;

use tokio::net::UdpSocket;

use super::{Shared, Target, TransportKind, deliver};

/// Receives datagrams until shutdown and hands each to the parser.
pub(crate) async fn receive_loop(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buf) => r,
            _ = shared.shutdown.cancelled() => break,
        };
        match received {
            Ok((len, peer)) => {
                let source = Target {
                    transport: TransportKind::Udp,
                    addr: peer,
                };
                deliver(&shared, &buf[..len], source, true);
            }
            Err(e) => {
                // ICMP port-unreachable shows up here on some systems; keep going.
                tracing::debug!(error = %e, "UDP receive error");
            }
        }
    }
}
