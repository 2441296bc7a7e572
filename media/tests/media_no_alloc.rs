//! The media hot path allocates nothing: a counting global allocator watches
//! (1) the per-packet functions and (2) four live sessions in steady state
//! (prompts both ways, in-band detection, a bridge with transcoding and a
//! whole-call recording).
//!
//! One test in this binary, so no other test allocates concurrently.

#![allow(clippy::unwrap_used)]
// Counting allocations needs a `GlobalAlloc`, an unsafe trait; the impl only
// forwards to the system allocator. Test code, never linked into the runtime.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dialect_media::dtmf::{DtmfKey, InbandDetector, ToneGenerator};
use dialect_media::g711::Law;
use dialect_media::rfc4733::{EventReceiver, EventSender};
use dialect_media::rtp::{RtpPacket, RtpStream};
use dialect_media::srtp::{MasterKey, SrtpKeys};
use dialect_media::*;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

fn prompt(digits: &str, ms: usize) -> Arc<Prompt> {
    let mut pcm: Vec<i16> = (0..ms * 8)
        .map(|i| (3000.0 * (i as f64 * 0.071).sin() + 2000.0 * (i as f64 * 0.23).sin()) as i16)
        .collect();
    for c in digits.chars() {
        pcm.extend(ToneGenerator::new(DtmfKey::from_char(c).unwrap(), -10.0, 640).to_vec());
        pcm.extend(std::iter::repeat_n(0, 640));
    }
    Arc::new(Prompt::from_pcm(&pcm, 8000))
}

fn per_packet_functions() {
    let p = prompt("123", 200);
    let mut codes = [0u8; 160];
    let mut pcm = [0i16; 160];
    let mut det = InbandDetector::new();
    let mut stream = RtpStream::new(1, 2, 3);
    let mut buf = [0u8; 512];
    let mut rx = EventReceiver::default();
    let events: Vec<_> = EventSender::new(DtmfKey::Key4, 800, 10, 0, 160).collect();
    let before = allocations();
    let mut found = 0;
    for (i, frame) in p.pcm.chunks_exact(160).enumerate() {
        Law::Alaw.encode(frame, &mut codes);
        let h = stream.next_audio(8, 160);
        let n = h.write_packet(&codes, &mut buf).unwrap();
        let packet = RtpPacket::parse(&buf[..n]).unwrap();
        Law::Alaw.decode(packet.payload, &mut pcm);
        found += det.push_frame(&pcm).is_some() as usize;
        let e = &events[i % events.len()];
        rx.on_packet(
            e.timestamp.wrapping_add((i / events.len()) as u32 * 1000),
            &e.payload,
            i as u64 * 20,
        );
    }
    assert_eq!(allocations() - before, 0, "per-packet functions allocated");
    assert_eq!(found, 3);
}

fn remote(addr: std::net::SocketAddr, codec: Law, srtp: Option<SrtpKeys>) -> RemoteMedia {
    RemoteMedia {
        addr: Some(addr),
        codec,
        event_pt: Some(101),
        srtp,
    }
}

async fn live_sessions() {
    let ports = PortAllocator::new("127.0.0.1".parse().unwrap(), 39000..=39999);
    let unknown = RemoteMedia {
        addr: None,
        codec: Law::Ulaw,
        event_pt: Some(101),
        srtp: None,
    };
    // The legs call each other: each one's signalling is confirmed.
    let start = |r| {
        let mut config = SessionConfig::new(r);
        config.confirmed_ip = Some("127.0.0.1".parse().unwrap());
        RtpSession::start(&ports, config).unwrap()
    };
    let a = start(unknown);
    let b1 = start(unknown);
    let b2 = start(unknown);
    let c = start(unknown);
    // a and b1 talk SRTP, b2 and c plain RTP.
    let (ka, kb) = (MasterKey::random(), MasterKey::random());
    let a_keys = SrtpKeys {
        send: ka,
        receive: kb,
    };
    let b_keys = SrtpKeys {
        send: kb,
        receive: ka,
    };
    a.handle()
        .update_remote(remote(b1.local_addr(), Law::Ulaw, Some(a_keys)));
    b1.handle()
        .update_remote(remote(a.local_addr(), Law::Ulaw, Some(b_keys)));
    b2.handle()
        .update_remote(remote(c.local_addr(), Law::Alaw, None));
    c.handle()
        .update_remote(remote(b2.local_addr(), Law::Alaw, None));
    let _bridge = bridge(b1.handle(), b2.handle());
    let long = prompt("", 10_000);
    a.handle().play(long.clone(), PlayOptions::default());
    c.handle().play(long.clone(), PlayOptions::default());
    b1.handle().start_moh(long);
    let dir = std::env::temp_dir().join(format!("dialect-noalloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rec = RecordOptions::new(dir.join("call.wav"));
    rec.mode = RecordMode::Both;
    b1.handle().record(rec).unwrap();
    // Warm up: rings fill, buffers reach their size.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let sent_before = a.handle().stats().packets_sent + c.handle().stats().packets_sent;
    let before = allocations();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let allocated = allocations() - before;
    let sent = a.handle().stats().packets_sent + c.handle().stats().packets_sent - sent_before;
    let received = b1.handle().stats().packets_received;
    assert!(
        sent > 100 && received > 50,
        "traffic flowed: sent {sent}, received {received}"
    );
    assert_eq!(
        allocated, 0,
        "{allocated} allocations while {sent} packets were sent"
    );
    drop((a, b1, b2, c));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn media_hot_path_does_not_allocate() {
    per_packet_functions();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(live_sessions());
}
