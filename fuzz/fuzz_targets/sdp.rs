//! Fuzzes the SDP parser and offer/answer negotiation.
#![no_main]

use dialect_sip::sdp::{self, LocalMedia, SessionDescription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(offer) = SessionDescription::parse(data) else {
        return;
    };
    let local = LocalMedia::g711("127.0.0.1".parse().expect("literal"), 40_000);
    if let Ok((answer, _)) = sdp::answer(&offer, &local) {
        // Our answer must always be readable by our own parser and by the offerer's side.
        let back = SessionDescription::parse(&answer.to_bytes()).expect("own answer parses");
        let _ = sdp::read_answer(&back, &local);
    }
    let _ = sdp::read_answer(&offer, &local);
});
