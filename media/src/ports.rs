//! RTP port allocation: even UDP ports from a configured range, handed out
//! round-robin (a port just released is not reused at once, so late packets
//! of an old call do not reach a new one) and released when the lease drops.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Why no RTP socket could be opened.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every even port of the range is in use (by us or another process).
    #[error("no free RTP port in {first}-{last} on {ip}")]
    Exhausted {
        /// The address bound.
        ip: IpAddr,
        /// Range start.
        first: u16,
        /// Range end.
        last: u16,
    },
    /// The process has no file descriptor left: not a port problem, and the
    /// operator must hear it as what it is.
    #[error(
        "no file descriptor left for an RTP socket ({source}): the process is at its open-files limit"
    )]
    NoDescriptors {
        /// What the operating system said (EMFILE or ENFILE).
        source: std::io::Error,
    },
    /// The socket could not be set up.
    #[error("cannot set up the RTP socket on {addr}: {source}")]
    Socket {
        /// The address.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
}

#[derive(Debug)]
struct Inner {
    ip: IpAddr,
    first: u16,
    last: u16,
    state: Mutex<State>,
    /// Binds refused for want of a file descriptor.
    no_descriptors: AtomicU64,
}

#[derive(Debug)]
struct State {
    next: u16,
    in_use: HashSet<u16>,
}

/// Hands out RTP ports; cheap to clone and share between calls.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    inner: Arc<Inner>,
}

/// A port taken from the allocator; returned to it on drop.
#[derive(Debug)]
pub struct PortLease {
    inner: Arc<Inner>,
    port: u16,
}

impl PortLease {
    /// The port number.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.in_use.remove(&self.port);
    }
}

impl PortAllocator {
    /// An allocator for even ports in `range` on `ip` (odd bounds are moved inward).
    pub fn new(ip: IpAddr, range: RangeInclusive<u16>) -> Self {
        let first = range.start().saturating_add(range.start() & 1);
        let last = range.end() - (range.end() & 1);
        PortAllocator {
            inner: Arc::new(Inner {
                ip,
                first,
                last,
                state: Mutex::new(State {
                    next: first,
                    in_use: HashSet::new(),
                }),
                no_descriptors: AtomicU64::new(0),
            }),
        }
    }

    /// The address sockets are bound to.
    pub fn ip(&self) -> IpAddr {
        self.inner.ip
    }

    /// RTP sockets refused so far because the process had no file descriptor left.
    pub fn descriptors_exhausted(&self) -> u64 {
        self.inner.no_descriptors.load(Ordering::Relaxed)
    }

    /// Ports currently leased.
    pub fn in_use(&self) -> usize {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .in_use
            .len()
    }

    /// Binds a non-blocking UDP socket on the next free even port.
    pub fn bind(&self) -> Result<(UdpSocket, PortLease), PortError> {
        let inner = &self.inner;
        let exhausted = || PortError::Exhausted {
            ip: inner.ip,
            first: inner.first,
            last: inner.last,
        };
        if inner.first > inner.last {
            return Err(exhausted());
        }
        let count = (inner.last - inner.first) / 2 + 1;
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..count {
            let port = state.next;
            state.next = if port >= inner.last {
                inner.first
            } else {
                port + 2
            };
            if state.in_use.contains(&port) {
                continue;
            }
            let addr = SocketAddr::new(inner.ip, port);
            let socket = match UdpSocket::bind(addr) {
                Ok(s) => s,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    inner.no_descriptors.fetch_add(1, Ordering::Relaxed);
                    return Err(PortError::NoDescriptors { source: e });
                }
                Err(_) => continue, // taken by another process
            };
            socket
                .set_nonblocking(true)
                .map_err(|source| PortError::Socket { addr, source })?;
            state.in_use.insert(port);
            return Ok((
                socket,
                PortLease {
                    inner: inner.clone(),
                    port,
                },
            ));
        }
        Err(exhausted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_round_robin_and_release() {
        // A range high enough to be rarely used; ports taken by others are skipped.
        let alloc = PortAllocator::new("127.0.0.1".parse().unwrap(), 47001..=47011);
        let mut leases = Vec::new();
        while let Ok((sock, lease)) = alloc.bind() {
            assert_eq!(lease.port() % 2, 0);
            assert!((47002..=47010).contains(&lease.port()));
            assert_eq!(sock.local_addr().unwrap().port(), lease.port());
            leases.push((sock, lease));
        }
        assert!(!leases.is_empty());
        assert_eq!(alloc.in_use(), leases.len());
        let e = alloc.bind().unwrap_err();
        assert!(e.to_string().contains("47002-47010"), "{e}");
        let (_, freed) = leases.remove(0);
        let port = freed.port();
        drop(freed);
        assert_eq!(alloc.in_use(), leases.len());
        // The socket of the freed lease was dropped with it above only if we
        // drop it too; the allocator hands the port out again.
        let (_s, again) = alloc.bind().unwrap();
        assert_eq!(again.port(), port);
    }
}
