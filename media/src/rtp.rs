//! RTP packets (RFC 3550): parsing a received packet in place and writing one
//! into a caller-provided buffer, plus the sequence-number and timestamp
//! bookkeeping of a sender.
//!
//! Nothing here allocates: [`RtpPacket::parse`] borrows the datagram and hands
//! back the payload as a slice, [`RtpHeader::write`] fills a slice the caller
//! owns. Malformed packets give an [`RtpError`], a `Copy` enum that costs
//! nothing to return and can be counted in metrics.

/// Length of the fixed RTP header without CSRCs or extension.
pub const HEADER_LEN: usize = 12;

/// Why a datagram is not a usable RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RtpError {
    /// Shorter than the fixed header, its CSRC list or its extension.
    #[error("packet too short for its RTP header")]
    TooShort,
    /// The version field is not 2.
    #[error("RTP version is not 2")]
    BadVersion,
    /// The padding count is zero or longer than the packet body.
    #[error("RTP padding length is invalid")]
    BadPadding,
    /// The output buffer cannot hold the packet.
    #[error("buffer too small for the RTP packet")]
    BufferTooSmall,
}

/// A header extension (RFC 3550 §5.3.1), borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// The 16-bit profile-defined identifier.
    pub profile: u16,
    /// The extension body (a multiple of 4 bytes).
    pub data: &'a [u8],
}

/// A parsed RTP packet borrowing the datagram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// Marker bit: for audio, the first packet of a talkspurt.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number: one more per packet sent, wrapping, so gaps show loss.
    pub sequence: u16,
    /// Media timestamp (8 kHz clock for G.711 and telephone-event).
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// The raw CSRC list (4 bytes per contributing source).
    pub csrcs: &'a [u8],
    /// The header extension, if the X bit was set.
    pub extension: Option<Extension<'a>>,
    /// Number of padding bytes removed from the end.
    pub padding: u8,
    /// The payload, without header, extension and padding.
    pub payload: &'a [u8],
}

impl<'a> RtpPacket<'a> {
    /// Parses `data` as an RTP packet.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < HEADER_LEN {
            return Err(RtpError::TooShort);
        }
        let b0 = data[0];
        if b0 >> 6 != 2 {
            return Err(RtpError::BadVersion);
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = (b0 & 0x0F) as usize;
        let b1 = data[1];
        let mut offset = HEADER_LEN + 4 * csrc_count;
        if data.len() < offset {
            return Err(RtpError::TooShort);
        }
        let csrcs = &data[HEADER_LEN..offset];
        let extension = if has_extension {
            if data.len() < offset + 4 {
                return Err(RtpError::TooShort);
            }
            let profile = u16::from_be_bytes([data[offset], data[offset + 1]]);
            let words = u16::from_be_bytes([data[offset + 2], data[offset + 3]]) as usize;
            let start = offset + 4;
            let end = start + 4 * words;
            if data.len() < end {
                return Err(RtpError::TooShort);
            }
            offset = end;
            Some(Extension {
                profile,
                data: &data[start..end],
            })
        } else {
            None
        };
        let mut end = data.len();
        let mut padding = 0u8;
        if has_padding {
            padding = data[end - 1];
            if padding == 0 || end - offset < padding as usize {
                return Err(RtpError::BadPadding);
            }
            end -= padding as usize;
        }
        Ok(RtpPacket {
            marker: b1 & 0x80 != 0,
            payload_type: b1 & 0x7F,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            csrcs,
            extension,
            padding,
            payload: &data[offset..end],
        })
    }

    /// The `i`th contributing source, if present.
    pub fn csrc(&self, i: usize) -> Option<u32> {
        let b = self.csrcs.get(4 * i..4 * i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Number of contributing sources.
    pub fn csrc_count(&self) -> usize {
        self.csrcs.len() / 4
    }
}

/// The fields of the fixed header that a sender writes (no CSRCs, no
/// extension, no padding: what a media server sends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit: the first packet of a talkspurt or of an RFC 4733 event.
    pub marker: bool,
    /// Payload type (7 bits; higher bits are masked off).
    pub payload_type: u8,
    /// Sequence number: one more per packet, wrapping.
    pub sequence: u16,
    /// Media timestamp, in samples of the payload's clock (8 kHz here).
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Writes the 12-byte header at the start of `buf`; returns its length.
    #[inline]
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, RtpError> {
        let Some(h) = buf.get_mut(..HEADER_LEN) else {
            return Err(RtpError::BufferTooSmall);
        };
        h[0] = 0x80;
        h[1] = (self.payload_type & 0x7F) | if self.marker { 0x80 } else { 0 };
        h[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        h[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        h[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        Ok(HEADER_LEN)
    }

    /// Writes header and payload into `buf`; returns the packet length.
    #[inline]
    pub fn write_packet(&self, payload: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
        let total = HEADER_LEN + payload.len();
        if buf.len() < total {
            return Err(RtpError::BufferTooSmall);
        }
        self.write(buf)?;
        buf[HEADER_LEN..total].copy_from_slice(payload);
        Ok(total)
    }
}

/// Sequence and timestamp bookkeeping for one outgoing RTP stream.
///
/// Audio packets advance the timestamp by the samples they carry; RFC 4733
/// event packets reuse the timestamp of the event's start. The sequence
/// number advances by one for every packet of either kind.
#[derive(Debug, Clone)]
pub struct RtpStream {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    marker_pending: bool,
}

impl RtpStream {
    /// A stream with a random SSRC, initial sequence number and timestamp
    /// (RFC 3550 §5.1 asks for random starting values).
    pub fn new_random() -> Self {
        Self::new(rand::random(), rand::random(), rand::random())
    }

    /// A stream with the given starting values.
    pub fn new(ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        RtpStream {
            ssrc,
            sequence,
            timestamp,
            marker_pending: true,
        }
    }

    /// The SSRC of this stream, fixed for its life.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The timestamp the next audio packet will carry.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The sequence number the next packet will carry.
    pub fn sequence(&self) -> u16 {
        self.sequence
    }

    /// Header for the next audio packet carrying `samples` samples; the
    /// timestamp then advances by `samples`. The first packet, and the first
    /// after [`RtpStream::mark_talkspurt`], has the marker bit set.
    #[inline]
    pub fn next_audio(&mut self, payload_type: u8, samples: u32) -> RtpHeader {
        let header = RtpHeader {
            marker: std::mem::take(&mut self.marker_pending),
            payload_type,
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
        };
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(samples);
        header
    }

    /// Header for a packet with an explicit timestamp (an RFC 4733 event,
    /// whose packets all carry the event's start time); only the sequence
    /// number advances.
    #[inline]
    pub fn next_at(&mut self, payload_type: u8, marker: bool, timestamp: u32) -> RtpHeader {
        let header = RtpHeader {
            marker,
            payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
        };
        self.sequence = self.sequence.wrapping_add(1);
        header
    }

    /// Advances the timestamp without sending (time that passed with no
    /// packet: hold, a skipped late tick, or an RFC 4733 event's duration).
    #[inline]
    pub fn skip(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// The next audio packet starts a new talkspurt (marker bit set).
    pub fn mark_talkspurt(&mut self) {
        self.marker_pending = true;
    }
}

/// `a - b` in RTP serial-number arithmetic for 32-bit timestamps: positive
/// when `a` is later than `b`.
#[inline]
pub fn timestamp_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_parse() {
        let header = RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 0xBEEF,
            timestamp: 0xDEAD_BEEF,
            ssrc: 0x0102_0304,
        };
        let mut buf = [0u8; 200];
        let n = header.write_packet(&[7u8; 160], &mut buf).unwrap();
        assert_eq!(n, 172);
        assert_eq!(
            &buf[..12],
            &[0x80, 0x88, 0xBE, 0xEF, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4]
        );
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert!(p.marker);
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.sequence, 0xBEEF);
        assert_eq!(p.timestamp, 0xDEAD_BEEF);
        assert_eq!(p.ssrc, 0x0102_0304);
        assert_eq!(p.payload, &[7u8; 160][..]);
        assert_eq!(p.csrc_count(), 0);
        assert_eq!(p.extension, None);
        assert_eq!(
            header.write_packet(&[0; 160], &mut buf[..100]),
            Err(RtpError::BufferTooSmall)
        );
        assert_eq!(header.write(&mut buf[..11]), Err(RtpError::BufferTooSmall));
    }

    #[test]
    fn csrc_extension_padding() {
        // V=2 P=1 X=1 CC=2, M=0 PT=101
        let mut pkt = vec![0xB2, 101, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
        pkt.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // CSRCs
        pkt.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // extension, 1 word
        pkt.extend_from_slice(&[5, 0x80, 0, 160]); // payload
        pkt.extend_from_slice(&[0, 0, 3]); // padding of 3
        let p = RtpPacket::parse(&pkt).unwrap();
        assert_eq!(p.payload_type, 101);
        assert!(!p.marker);
        assert_eq!(p.csrc_count(), 2);
        assert_eq!(p.csrc(0), Some(1));
        assert_eq!(p.csrc(1), Some(2));
        assert_eq!(p.csrc(2), None);
        let ext = p.extension.unwrap();
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data, &[0x10, 0xAA, 0, 0]);
        assert_eq!(p.padding, 3);
        assert_eq!(p.payload, &[5, 0x80, 0, 160]);
    }

    #[test]
    fn malformed_packets() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(RtpError::TooShort));
        let mut pkt = [0u8; 12];
        pkt[0] = 0x40;
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::BadVersion));
        pkt[0] = 0x81; // one CSRC missing
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::TooShort));
        pkt[0] = 0x90; // extension header missing
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::TooShort));
        let mut pkt = [0u8; 16];
        pkt[0] = 0x90;
        pkt[15] = 2; // extension claims 2 words that are not there
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::TooShort));
        let mut pkt = [0u8; 14];
        pkt[0] = 0xA0;
        pkt[13] = 0; // zero padding count
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::BadPadding));
        pkt[13] = 3; // longer than the body
        assert_eq!(RtpPacket::parse(&pkt), Err(RtpError::BadPadding));
        pkt[13] = 2; // exactly the body
        assert_eq!(RtpPacket::parse(&pkt).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn stream_bookkeeping_wraps() {
        let mut s = RtpStream::new(7, 0xFFFF, u32::MAX - 100);
        let h1 = s.next_audio(0, 160);
        assert!(h1.marker);
        assert_eq!((h1.sequence, h1.timestamp), (0xFFFF, u32::MAX - 100));
        let h2 = s.next_audio(0, 160);
        assert!(!h2.marker);
        assert_eq!((h2.sequence, h2.timestamp), (0, 59));
        assert_eq!(timestamp_diff(h2.timestamp, h1.timestamp), 160);
        let e = s.next_at(101, true, 59);
        assert_eq!((e.sequence, e.timestamp, e.marker), (1, 59, true));
        assert_eq!(s.timestamp(), 219);
        s.skip(160);
        s.mark_talkspurt();
        let h3 = s.next_audio(0, 160);
        assert!(h3.marker);
        assert_eq!((h3.sequence, h3.timestamp), (2, 379));
        assert_eq!(s.ssrc(), 7);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            if let Ok(p) = RtpPacket::parse(&data) {
                proptest::prop_assert!(p.payload.len() <= data.len());
            }
        }

        #[test]
        fn roundtrip(marker: bool, pt in 0u8..128, seq: u16, ts: u32, ssrc: u32,
                     payload in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let h = RtpHeader { marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc };
            let mut buf = [0u8; 512];
            let n = h.write_packet(&payload, &mut buf).unwrap();
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            proptest::prop_assert_eq!((p.marker, p.payload_type, p.sequence, p.timestamp, p.ssrc),
                (marker, pt, seq, ts, ssrc));
            proptest::prop_assert_eq!(p.payload, &payload[..]);
        }
    }
}
