//! Tests on captured traffic: SIPp ships RFC 2833/4733 captures of real
//! phones' key presses and a G.711 A-law call (`/usr/share/sip-tester/`).
//! Skipped when SIPp's data is not installed.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use dialect_media::dtmf::{DtmfKey, InbandDetector};
use dialect_media::g711::Law;
use dialect_media::rfc4733::{EventPayload, EventReceiver};
use dialect_media::rtp::RtpPacket;

const DIR: &str = "/usr/share/sip-tester";

/// UDP payloads of an Ethernet/IPv4 pcap, with capture times in ms.
fn udp_payloads(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    assert_eq!(&data[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= data.len() {
        let word = |i: usize| u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
        let (sec, usec, len) = (
            word(pos) as u64,
            word(pos + 4) as u64,
            word(pos + 8) as usize,
        );
        let frame = &data[pos + 16..pos + 16 + len];
        pos += 16 + len;
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] || frame[14 + 9] != 17 {
            continue; // not IPv4/UDP
        }
        let ihl = (frame[14] & 0x0F) as usize * 4;
        let udp = &frame[14 + ihl..];
        let udp_len = u16::from_be_bytes([udp[4], udp[5]]) as usize;
        out.push((
            sec * 1000 + usec / 1000,
            udp[8..udp_len.min(udp.len())].to_vec(),
        ));
    }
    out
}

#[test]
fn captured_rfc2833_key_presses() {
    if !Path::new(DIR).exists() {
        eprintln!("{DIR} not installed; skipped");
        return;
    }
    let files: Vec<(String, DtmfKey)> = (0..10)
        .map(|d| {
            (
                format!("dtmf_2833_{d}.pcap"),
                DtmfKey::from_event_code(d).unwrap(),
            )
        })
        .chain([
            ("dtmf_2833_star.pcap".to_string(), DtmfKey::Star),
            ("dtmf_2833_pound.pcap".to_string(), DtmfKey::Pound),
        ])
        .collect();
    for (file, key) in files {
        let mut rx = EventReceiver::default();
        let mut reported = Vec::new();
        for (ms, udp) in udp_payloads(&Path::new(DIR).join(&file)) {
            let p = RtpPacket::parse(&udp).unwrap();
            assert_eq!(p.payload_type, 101, "{file}");
            let ev = EventPayload::parse(p.payload).unwrap();
            let n = rx.on_packet(p.timestamp, &ev, ms);
            reported.extend(n.ended);
        }
        assert_eq!(reported.len(), 1, "{file}: {reported:?}");
        assert_eq!(reported[0].key, key, "{file}");
        assert!(!reported[0].end_lost);
        assert!(reported[0].duration > 0);
    }
}

#[test]
fn captured_g711a_call_parses_and_has_no_digits() {
    let path = Path::new(DIR).join("g711a.pcap");
    if !path.exists() {
        eprintln!("{path:?} not installed; skipped");
        return;
    }
    let mut det = InbandDetector::new();
    let mut pcm = [0i16; 1024];
    let mut packets = 0;
    let mut digits = Vec::new();
    let mut energy = 0f64;
    for (_, udp) in udp_payloads(&path) {
        let Ok(p) = RtpPacket::parse(&udp) else {
            continue;
        };
        if p.payload_type != 8 {
            continue;
        }
        packets += 1;
        let n = Law::Alaw.decode(p.payload, &mut pcm);
        energy += pcm[..n].iter().map(|&s| (s as f64).powi(2)).sum::<f64>();
        for frame in pcm[..n].chunks(160) {
            digits.extend(det.push_frame(frame));
        }
    }
    digits.extend(det.finish());
    assert!(packets > 100, "{packets} A-law packets");
    assert!(energy > 0.0);
    assert!(digits.is_empty(), "{digits:?}");
}
