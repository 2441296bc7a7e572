//! Receiving several RTP datagrams with one system call.
//!
//! The media clock reads each session's socket once per tick. With a plain
//! `recv_from` that is two system calls for the usual single packet (the packet,
//! then the "would block" that says there is no other); `recvmmsg` returns every
//! waiting datagram, up to [`BATCH`], in one call. The buffers belong to the clock
//! thread and are lent to each session in turn, so a session keeps none of its own.
#![allow(unsafe_code)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;

/// Most datagrams read by one call.
pub(crate) const BATCH: usize = 8;
/// Largest datagram kept whole (longer ones are cut and then rejected as RTP).
const DATAGRAM: usize = 2048;

/// A clock thread's receive buffers, and what the last [`RxBatch::recv`] read.
pub(crate) struct RxBatch {
    buffers: Box<[[u8; DATAGRAM]; BATCH]>,
    addresses: [libc::sockaddr_storage; BATCH],
    lengths: [usize; BATCH],
    senders: [Option<SocketAddr>; BATCH],
    count: usize,
}

impl RxBatch {
    /// Empty buffers.
    pub(crate) fn new() -> RxBatch {
        RxBatch {
            buffers: Box::new([[0; DATAGRAM]; BATCH]),
            // SAFETY: sockaddr_storage is a plain C struct for which all-zero bytes
            // are a valid (unspecified-family) value.
            addresses: unsafe { std::mem::zeroed() },
            lengths: [0; BATCH],
            senders: [None; BATCH],
            count: 0,
        }
    }

    /// Reads the datagrams waiting on `socket` (at most [`BATCH`]) without
    /// blocking; returns how many. "Would block" when there is none.
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.count = 0;
        // SAFETY: iovec and mmsghdr are plain C structs; all-zero bytes are valid.
        let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..BATCH {
            iovecs[i].iov_base = self.buffers[i].as_mut_ptr().cast();
            iovecs[i].iov_len = DATAGRAM;
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (&raw mut self.addresses[i]).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &raw mut iovecs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: `headers` holds BATCH initialised message headers, each naming
        // one iovec over one of our DATAGRAM-byte buffers and one address slot,
        // all of which live (and are not otherwise used) until the call returns;
        // the file descriptor is the socket's own, open for the borrow.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = (n as usize).min(BATCH);
        for (i, h) in headers.iter().take(n).enumerate() {
            self.lengths[i] = (h.msg_len as usize).min(DATAGRAM);
            self.senders[i] = from_storage(&self.addresses[i], h.msg_hdr.msg_namelen);
        }
        self.count = n;
        Ok(n)
    }

    /// Datagram `i` of the last read and its sender (`None` past the end, or
    /// when the sender's address family is not IP).
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if i >= self.count {
            return None;
        }
        Some((&self.buffers[i][..self.lengths[i]], self.senders[i]?))
    }
}

/// The IP address and port in a socket address filled in by the kernel.
fn from_storage(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is
            // large enough and suitably aligned for.
            let a =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_waiting_datagram_comes_in_one_read_with_its_sender() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut batch = RxBatch::new();
        let empty = batch.recv(&rx).unwrap_err();
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);
        for i in 0..3u8 {
            tx.send_to(&[i; 5], rx.local_addr().unwrap()).unwrap();
        }
        tx.send_to(&[9; 3000], rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(batch.recv(&rx).unwrap(), 4);
        for i in 0..3u8 {
            let (data, from) = batch.get(i as usize).unwrap();
            assert_eq!(data, &[i; 5]);
            assert_eq!(from, tx.local_addr().unwrap());
        }
        // Longer than a buffer: cut to it.
        assert_eq!(batch.get(3).unwrap().0.len(), DATAGRAM);
        assert!(batch.get(4).is_none());
        assert_eq!(
            batch.recv(&rx).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(batch.get(0).is_none());
    }

    #[test]
    fn more_than_a_batch_waits_for_the_next_read() {
        let rx = UdpSocket::bind("[::1]:0");
        let Ok(rx) = rx else {
            return; // no IPv6 loopback here
        };
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        for i in 0..(BATCH as u8 + 2) {
            tx.send_to(&[i], rx.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut batch = RxBatch::new();
        assert_eq!(batch.recv(&rx).unwrap(), BATCH);
        assert_eq!(batch.get(0).unwrap().1, tx.local_addr().unwrap());
        assert_eq!(batch.recv(&rx).unwrap(), 2);
        assert_eq!(batch.get(1).unwrap().0, &[BATCH as u8 + 1]);
    }
}
