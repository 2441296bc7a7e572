//! RTP port allocation: even UDP ports from a configured range, picked at
//! random among the free ones and released when the lease drops.
//!
//! Random, because ports handed out in sequence tell an attacker which port
//! the next call will get (one call of its own shows the current one), so it
//! can be first to send there. A port just released cools down behind the
//! others before it is handed out again, so late packets of an old call do
//! not reach a new one.

use std::collections::VecDeque;
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
        /// The address the socket was to bind.
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
    /// Ports that may be handed out; one is picked at random.
    free: Vec<u16>,
    /// Ports released lately (or taken by another process when tried),
    /// oldest first: they go back to `free` once more than `cool` wait.
    cooling: VecDeque<u16>,
    /// How many released ports wait before going back (an eighth of the
    /// range, at most 1,024).
    cool: usize,
    /// Ports leased now.
    in_use: usize,
}

impl State {
    /// Puts `port` at the back of the cooling queue, moving the oldest ones
    /// back to the free list.
    fn release(&mut self, port: u16) {
        self.cooling.push_back(port);
        while self.cooling.len() > self.cool {
            match self.cooling.pop_front() {
                Some(p) => self.free.push(p),
                None => break,
            }
        }
    }

    /// A port to try: a random free one, else the one cooling longest.
    fn pick(&mut self) -> Option<u16> {
        if self.free.is_empty() {
            return self.cooling.pop_front();
        }
        let i = rand::random_range(0..self.free.len());
        Some(self.free.swap_remove(i))
    }
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
    /// The leased port: even, and inside the allocator's range.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut state = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        state.in_use = state.in_use.saturating_sub(1);
        state.release(self.port);
    }
}

impl PortAllocator {
    /// An allocator for even ports in `range` on `ip` (odd bounds are moved inward).
    pub fn new(ip: IpAddr, range: RangeInclusive<u16>) -> Self {
        let first = range.start().saturating_add(range.start() & 1);
        let last = range.end() - (range.end() & 1);
        let free: Vec<u16> = if first <= last {
            (first..=last).step_by(2).collect()
        } else {
            Vec::new()
        };
        let cool = (free.len() / 8).min(1024);
        PortAllocator {
            inner: Arc::new(Inner {
                ip,
                first,
                last,
                state: Mutex::new(State {
                    free,
                    cooling: VecDeque::new(),
                    cool,
                    in_use: 0,
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
    }

    /// Binds a non-blocking UDP socket on a free even port picked at random.
    pub fn bind(&self) -> Result<(UdpSocket, PortLease), PortError> {
        let inner = &self.inner;
        let exhausted = || PortError::Exhausted {
            ip: inner.ip,
            first: inner.first,
            last: inner.last,
        };
        let mut state = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        // Each port not leased is tried at most once.
        let tries = state.free.len() + state.cooling.len();
        for _ in 0..tries {
            let Some(port) = state.pick() else {
                break;
            };
            let addr = SocketAddr::new(inner.ip, port);
            let socket = match UdpSocket::bind(addr) {
                Ok(s) => s,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    state.release(port);
                    inner.no_descriptors.fetch_add(1, Ordering::Relaxed);
                    return Err(PortError::NoDescriptors { source: e });
                }
                Err(_) => {
                    // Taken by another process: try it again later.
                    state.cooling.push_back(port);
                    continue;
                }
            };
            if let Err(source) = socket.set_nonblocking(true) {
                state.release(port);
                return Err(PortError::Socket { addr, source });
            }
            state.in_use += 1;
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
    fn even_ports_are_leased_and_released() {
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

    #[test]
    fn the_next_port_cannot_be_told_from_the_last_one() {
        // An attacker who sees the port of one call (a call of its own) must not
        // be able to tell the next call's port: with ports in sequence it is
        // the one after.
        let alloc = PortAllocator::new("127.0.0.1".parse().unwrap(), 46000..=46998);
        let mut leases = Vec::new();
        let mut next_to_last = 0;
        let mut last = None;
        for _ in 0..40 {
            let Ok((sock, lease)) = alloc.bind() else {
                continue;
            };
            if let Some(prev) = last
                && lease.port() == prev + 2
            {
                next_to_last += 1;
            }
            last = Some(lease.port());
            leases.push((sock, lease));
        }
        assert!(leases.len() >= 30, "ports were free");
        // By chance one or two may follow each other (1 in 250 each).
        assert!(
            next_to_last <= 3,
            "{next_to_last} of 40 ports followed the one before"
        );
        let mut ports: Vec<u16> = leases.iter().map(|l| l.1.port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), leases.len(), "no port leased twice");
    }

    #[test]
    fn a_released_port_is_not_handed_out_again_at_once() {
        let alloc = PortAllocator::new("127.0.0.1".parse().unwrap(), 45000..=45158);
        let (_, first) = alloc.bind().unwrap();
        let port = first.port();
        drop(first);
        // Ten ports (an eighth of the range) cool down before reuse.
        for _ in 0..9 {
            let (sock, lease) = alloc.bind().unwrap();
            assert_ne!(lease.port(), port);
            drop((sock, lease));
        }
    }
}
