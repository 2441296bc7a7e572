//! SMPP PDU decoding: never panics; a decoded PDU that encodes again decodes
//! to the same PDU; receipts and short-message text decode without panics.
#![no_main]

use dialect_notify::smpp::pdu::{self, Body};
use dialect_notify::smpp::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let _ = pdu::frame_length([data[0], data[1], data[2], data[3]]);
    }
    let Ok(p) = pdu::decode(data) else {
        return;
    };
    if let Body::SubmitSm(sm) | Body::DeliverSm(sm) = &p.body {
        let _ = sm.receipt();
        let (_, rest) = text::split_udh(sm.esm_class, &sm.short_message);
        let _ = text::decode(sm.data_coding, rest);
    }
    // Strings are read lossily, so an encode may refuse what grew; what
    // encodes must come back the same.
    if let Ok(bytes) = p.encode() {
        let q = pdu::decode(&bytes).expect("an encoded PDU decodes");
        assert_eq!(p, q);
    }
});
