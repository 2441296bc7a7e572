//! Which address a session takes RTP from and sends RTP to.
//!
//! The media port of a call is on the network for anyone to send to, and its
//! number can be guessed. So a session accepts RTP only from the far end that
//! signalling named, and sends only to an address that has shown it wants the
//! call's media, else one forged INVITE would make the server stream audio at
//! a third party.
//!
//! - **Accepting** ([`Latch`]): in `Strict` mode only packets from the exact
//!   address of the far end's SDP (`c=` and `m=` port) are taken. In `Nat` mode
//!   (a far end behind NAT announces a private address but sends from a public
//!   one) packets from the SDP's IP or from the far end's signalling IP are
//!   taken, from any port; the first such packet *latches* the session to its
//!   source address and other sources are dropped from then on.
//! - **Sending** (`Peer::target`): nothing is sent until the address has
//!   proved itself: a valid packet came from it (then replies go exactly where
//!   it sent from), or the signalling that confirmed the call (the ACK of our
//!   2xx, or the 2xx to our INVITE) came from the SDP's IP.
//!
//! A new SDP address (re-INVITE, an answer after early media) is latched and
//! proved again, unless it is the address already in use; a confirmation by
//! signalling stays, since it proves only addresses on its own IP.

use std::net::{IpAddr, SocketAddr};

/// How a session chooses the source of the RTP it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latch {
    /// Only the exact address (IP and port) of the far end's SDP.
    #[default]
    Strict,
    /// The SDP's IP or the signalling IP, any port; the first valid packet
    /// fixes the source (symmetric RTP behind NAT).
    Nat,
}

/// What a session knows of its far end's address.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    mode: Latch,
    /// The far end's RTP address from its SDP (`None`: not known yet, or on hold
    /// with `c=0.0.0.0`).
    sdp: Option<SocketAddr>,
    /// The far end's IP in signalling (where its INVITE came from, or where ours
    /// went): where `Nat` mode takes RTP from besides the SDP's IP.
    signalled: Option<IpAddr>,
    /// The IP whose signalling confirmed the call (ACK of our 2xx, or its 2xx).
    confirmed: Option<IpAddr>,
    /// The source address packets were accepted from, once one was.
    latched: Option<SocketAddr>,
}

/// Whether a packet from some source may be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// It comes from the address in use.
    Yes,
    /// It may come from the far end: take it (and latch) once it is valid.
    Candidate,
    /// Not the far end: drop it.
    No,
}

impl Peer {
    pub(crate) fn new(
        mode: Latch,
        sdp: Option<SocketAddr>,
        signalled: Option<IpAddr>,
        confirmed: Option<IpAddr>,
    ) -> Peer {
        Peer {
            mode,
            sdp,
            signalled,
            confirmed,
            latched: None,
        }
    }

    /// Whether a packet from `src` may be taken (before it is checked).
    #[inline]
    pub(crate) fn admit(&self, src: SocketAddr) -> Admit {
        match self.latched {
            Some(l) if l == src => Admit::Yes,
            Some(_) => Admit::No,
            None => {
                let named = match self.mode {
                    Latch::Strict => self.sdp == Some(src),
                    Latch::Nat => {
                        self.sdp.is_some_and(|a| a.ip() == src.ip())
                            || self.signalled == Some(src.ip())
                    }
                };
                if named { Admit::Candidate } else { Admit::No }
            }
        }
    }

    /// A valid packet came from `src` (admitted as a candidate): the session
    /// takes RTP from there and sends there.
    pub(crate) fn latch(&mut self, src: SocketAddr) {
        self.latched = Some(src);
    }

    /// Signalling from `ip` confirmed the call.
    pub(crate) fn confirm(&mut self, ip: IpAddr) {
        self.confirmed = Some(ip);
    }

    /// A new SDP address; starts over unless it is the one in use.
    pub(crate) fn update(&mut self, sdp: Option<SocketAddr>) {
        if sdp == self.sdp {
            return;
        }
        self.sdp = sdp;
        self.latched = None;
        // `confirmed` stays: it is about the far end's host, and it proves a new
        // address only if that address is on the same host.
    }

    /// Where to send, if anywhere: the latched source, else the SDP address once
    /// the signalling from its IP confirmed the call.
    #[inline]
    pub(crate) fn target(&self) -> Option<SocketAddr> {
        self.latched.or_else(|| {
            self.sdp
                .filter(|a| self.confirmed == Some(a.ip()) && !a.ip().is_unspecified())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn strict_takes_only_the_sdp_address_and_sends_only_once_proven() {
        let mut p = Peer::new(
            Latch::Strict,
            Some(a("192.0.2.1:4000")),
            Some(a("192.0.2.1:0").ip()),
            None,
        );
        assert_eq!(p.target(), None, "nothing is sent before proof");
        assert_eq!(p.admit(a("192.0.2.1:4002")), Admit::No, "another port");
        assert_eq!(p.admit(a("198.51.100.9:4000")), Admit::No, "another host");
        assert_eq!(p.admit(a("192.0.2.1:4000")), Admit::Candidate);
        p.latch(a("192.0.2.1:4000"));
        assert_eq!(p.target(), Some(a("192.0.2.1:4000")));
        assert_eq!(p.admit(a("192.0.2.1:4000")), Admit::Yes);
    }

    #[test]
    fn the_ack_from_the_sdp_ip_proves_the_address_and_from_another_ip_does_not() {
        let mut p = Peer::new(Latch::Strict, Some(a("192.0.2.1:4000")), None, None);
        p.confirm(a("198.51.100.9:0").ip());
        assert_eq!(p.target(), None, "the ACK came from another host");
        p.confirm(a("192.0.2.1:0").ip());
        assert_eq!(p.target(), Some(a("192.0.2.1:4000")));
        // A re-INVITE moving the media to another port of that host keeps the
        // proof; one moving it to another host needs a new one.
        p.update(Some(a("192.0.2.1:4010")));
        assert_eq!(p.target(), Some(a("192.0.2.1:4010")));
        p.update(Some(a("203.0.113.5:5000")));
        assert_eq!(p.target(), None);
        // The same address again keeps what was proved.
        p.update(Some(a("203.0.113.5:5000")));
        p.latch(a("203.0.113.5:5000"));
        p.update(Some(a("203.0.113.5:5000")));
        assert_eq!(p.target(), Some(a("203.0.113.5:5000")));
    }

    #[test]
    fn nat_mode_latches_the_first_packet_from_a_signalled_ip_on_any_port() {
        let mut p = Peer::new(
            Latch::Nat,
            Some(a("10.0.0.5:4000")),
            Some(a("203.0.113.7:0").ip()),
            None,
        );
        assert_eq!(p.admit(a("198.51.100.9:4000")), Admit::No);
        assert_eq!(p.admit(a("203.0.113.7:61000")), Admit::Candidate);
        assert_eq!(p.admit(a("10.0.0.5:4100")), Admit::Candidate);
        p.latch(a("203.0.113.7:61000"));
        assert_eq!(p.target(), Some(a("203.0.113.7:61000")));
        assert_eq!(p.admit(a("203.0.113.7:61002")), Admit::No, "latched");
    }

    #[test]
    fn on_hold_with_no_address_nothing_is_sent() {
        let mut p = Peer::new(Latch::Strict, None, None, Some(a("192.0.2.1:0").ip()));
        assert_eq!(p.target(), None);
        p.update(Some(a("0.0.0.0:4000")));
        assert_eq!(p.target(), None);
    }
}
