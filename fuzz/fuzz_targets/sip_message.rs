//! Fuzzes SIP parsing at the edge: both transport modes, the lenient 400 path,
//! re-encoding, and the stream framer.
#![no_main]

use dialect_sip::message::{self, Inbound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for datagram in [true, false] {
        match message::parse(data, datagram) {
            Ok(msg) => {
                let bytes = message::encode(&msg);
                let _ = message::parse(&bytes, false);
                if let Inbound::Request(req) = &msg {
                    let resp = message::response_for(req, 200, Some("fuzz"));
                    let _ = message::parse(&message::encode_response(&resp), false);
                }
            }
            Err(bad) => {
                if let Some(reply) = bad.reply {
                    let _ = message::parse(&reply, true);
                }
            }
        }
    }
    let _ = message::lenient_reject(data, "fuzz");
});
