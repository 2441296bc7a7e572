//! RFC 4733: payload parsing round-trips, and the receiver state machine
//! survives any packet sequence (9-byte records: timestamp, payload, time
//! step), reporting each event timestamp at most once while timestamps only
//! move forward (by less than 2^31 in all).
#![no_main]

use std::collections::HashSet;

use dialect_media::rfc4733::{EventPayload, EventReceiver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = EventPayload::parse(data) {
        let bytes = p.to_bytes();
        assert_eq!(EventPayload::parse(&bytes), Ok(p));
        assert_eq!(bytes[0], data[0]);
        assert_eq!(&bytes[2..4], &data[2..4]);
    }
    let mut rx = EventReceiver::new(300);
    let mut now = 0u64;
    let mut last_ts: Option<u32> = None;
    let mut monotonic = true;
    // Serial-number arithmetic wraps: after 2^31 of advance a timestamp
    // value can legitimately come back as a new event.
    let mut advance = 0u64;
    let mut reported = HashSet::new();
    for rec in data.chunks_exact(9) {
        let ts = u32::from_be_bytes([rec[0], rec[1], rec[2], rec[3]]);
        if let Some(prev) = last_ts {
            let step = ts.wrapping_sub(prev) as i32;
            if step < 0 {
                monotonic = false;
            }
            advance += step.max(0) as u64;
            if advance >= 1 << 31 {
                monotonic = false;
            }
        }
        last_ts = Some(ts);
        let Ok(p) = EventPayload::parse(&rec[4..8]) else {
            continue;
        };
        now += rec[8] as u64 * 4;
        let n = rx.on_packet(ts, &p, now);
        for e in n.ended.into_iter().chain(rx.poll(now)) {
            assert!(e.key.event_code() < 16);
            if monotonic {
                assert!(
                    reported.insert(e.timestamp),
                    "event {} reported twice",
                    e.timestamp
                );
            }
        }
    }
});
