//! Fuzzes the limits checked on raw SIP bytes before parsing: header counting
//! (lists, quotes, folding) and the 513/400/drop verdicts with the answers built
//! for them. Never panics; an answer, when there is one, is small and parses.
#![no_main]

use dialect_sip::message::{self, MessageLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = message::count_head(data);
    let tight = MessageLimits {
        max_datagram: 1024,
        max_stream: 2048,
        max_headers: 8,
        max_vias: 3,
        max_routes: 2,
    };
    for limits in [MessageLimits::default(), tight] {
        for datagram in [true, false] {
            if let Some(verdict) = limits.check(data, datagram) {
                let bad = message::reject_over_limit(data, &verdict);
                if let Some(reply) = bad.reply {
                    assert!(reply.len() <= 70 * 1100 + 4096, "{}", reply.len());
                    let _ = message::parse(&reply, true);
                }
            }
        }
    }
});
