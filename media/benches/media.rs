//! Per-packet cost of the media hot path: one 20 ms packet (160 samples)
//! through G.711, the in-band detector, RTP write/parse, SRTP protect and
//! unprotect, and the RFC 4733 receiver. Run with
//! `cargo bench -p dialect-media --bench media`.

#![allow(clippy::unwrap_used)] // a benchmark of fixed inputs

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_media::dtmf::{DtmfKey, InbandDetector, ToneGenerator};
use dialect_media::g711::Law;
use dialect_media::rfc4733::{EventPayload, EventReceiver};
use dialect_media::rtp::{RtpHeader, RtpPacket};
use dialect_media::srtp::{MasterKey, SrtpContext};

fn speechlike(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            (6000.0 * (std::f64::consts::TAU * 180.0 * t).sin()
                + 3000.0 * (std::f64::consts::TAU * 730.0 * t).sin()) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm = speechlike(160);
    let mut codes = [0u8; 160];
    let mut back = [0i16; 160];
    for law in [Law::Ulaw, Law::Alaw] {
        c.bench_function(&format!("g711 {law:?} encode 160"), |b| {
            b.iter(|| law.encode(black_box(&pcm), &mut codes))
        });
        law.encode(&pcm, &mut codes);
        c.bench_function(&format!("g711 {law:?} decode 160"), |b| {
            b.iter(|| law.decode(black_box(&codes), &mut back))
        });
    }

    // The detector on speech-like audio (no digit) and on a digit.
    let audio = speechlike(160 * 500);
    let mut det = InbandDetector::new();
    let mut i = 0;
    c.bench_function("inband detector 20 ms frame (speech)", |b| {
        b.iter(|| {
            let frame = &audio[i * 160..(i + 1) * 160];
            i = (i + 1) % 500;
            black_box(det.push_frame(black_box(frame)))
        })
    });
    let mut tones = Vec::new();
    for _ in 0..100 {
        tones.extend(ToneGenerator::new(DtmfKey::Key5, -10.0, 800).to_vec());
        tones.extend(std::iter::repeat_n(0i16, 800));
    }
    let frames = tones.len() / 160;
    let mut det = InbandDetector::new();
    let mut j = 0;
    c.bench_function("inband detector 20 ms frame (digits)", |b| {
        b.iter(|| {
            let frame = &tones[j * 160..(j + 1) * 160];
            j = (j + 1) % frames;
            black_box(det.push_frame(black_box(frame)))
        })
    });

    let header = RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: 1234,
        timestamp: 5678,
        ssrc: 0xDEAD_BEEF,
    };
    let mut buf = [0u8; 512];
    c.bench_function("rtp write 172-byte packet", |b| {
        b.iter(|| black_box(header).write_packet(black_box(&codes), &mut buf))
    });
    let n = header.write_packet(&codes, &mut buf).unwrap();
    c.bench_function("rtp parse 172-byte packet", |b| {
        b.iter(|| RtpPacket::parse(black_box(&buf[..n])).map(|p| p.payload.len()))
    });

    // SRTP: a sender protecting its stream, a receiver unprotecting it.
    let key = MasterKey::from_bytes(&[0x42; 30]);
    let mut tx = SrtpContext::new(&key);
    let mut seq = 0u16;
    let mut out = [0u8; 512];
    c.bench_function("srtp protect 172-byte packet", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            out[..n].copy_from_slice(&buf[..n]);
            black_box(tx.protect(&mut out, n))
        })
    });
    let mut tx = SrtpContext::new(&key);
    let protected: Vec<Vec<u8>> = (0..1000u16)
        .map(|i| {
            let mut p = [0u8; 512];
            p[..n].copy_from_slice(&buf[..n]);
            p[2..4].copy_from_slice(&i.to_be_bytes());
            let len = tx.protect(&mut p, n).unwrap();
            p[..len].to_vec()
        })
        .collect();
    let mut k = 0;
    let mut rx = SrtpContext::new(&key);
    c.bench_function("srtp unprotect 182-byte packet", |b| {
        b.iter(|| {
            let p = &protected[k % protected.len()];
            k += 1;
            if k % protected.len() == 0 {
                // A new receiver per round, so packets are not replays.
                rx = SrtpContext::new(&key);
            }
            out[..p.len()].copy_from_slice(p);
            black_box(rx.unprotect(&mut out, p.len()))
        })
    });

    let mut rx = EventReceiver::default();
    let mut now = 0u64;
    c.bench_function("rfc4733 receiver packet", |b| {
        b.iter(|| {
            now += 20;
            let p = EventPayload {
                event: 5,
                end: now.is_multiple_of(2000),
                volume: 10,
                duration: (now % 2000) as u16 * 8,
            };
            black_box(rx.on_packet((now / 2000) as u32 * 16000, &p, now))
        })
    });

    c.bench_function("full receive path: parse + decode + detect", |b| {
        let mut det = InbandDetector::new();
        let mut k = 0;
        let mut packets = Vec::new();
        for f in 0..500 {
            let mut cs = [0u8; 160];
            Law::Ulaw.encode(&audio[f * 160..(f + 1) * 160], &mut cs);
            let mut pb = [0u8; 172];
            header.write_packet(&cs, &mut pb).unwrap();
            packets.push(pb);
        }
        b.iter(|| {
            let p = RtpPacket::parse(&packets[k]).unwrap();
            k = (k + 1) % 500;
            let m = Law::Ulaw.decode(p.payload, &mut back);
            black_box(det.push_frame(&back[..m]))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
