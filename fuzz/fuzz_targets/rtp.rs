//! RTP header parsing: never panics, the payload lies inside the datagram,
//! and writing the parsed fields back gives a packet that parses the same.
#![no_main]

use dialect_media::rtp::{HEADER_LEN, RtpHeader, RtpPacket};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = RtpPacket::parse(data) else {
        return;
    };
    assert!(HEADER_LEN + p.csrcs.len() + p.payload.len() + p.padding as usize <= data.len());
    assert_eq!(p.csrc_count() * 4, p.csrcs.len());
    let h = RtpHeader {
        marker: p.marker,
        payload_type: p.payload_type,
        sequence: p.sequence,
        timestamp: p.timestamp,
        ssrc: p.ssrc,
    };
    let mut buf = vec![0u8; HEADER_LEN + p.payload.len()];
    let n = h
        .write_packet(p.payload, &mut buf)
        .expect("buffer is large enough");
    let q = RtpPacket::parse(&buf[..n]).expect("a written packet parses");
    assert_eq!(
        (
            q.marker,
            q.payload_type,
            q.sequence,
            q.timestamp,
            q.ssrc,
            q.payload
        ),
        (
            p.marker,
            p.payload_type,
            p.sequence,
            p.timestamp,
            p.ssrc,
            p.payload
        )
    );
});
