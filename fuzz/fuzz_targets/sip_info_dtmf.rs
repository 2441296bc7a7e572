//! SIP INFO DTMF bodies: the first byte picks the content type, the rest is
//! the body; parsing never panics and a parsed key is one of the sixteen.
#![no_main]

use dialect_media::dtmf::parse_sip_info;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = match selector % 3 {
        0 => "application/dtmf-relay",
        1 => "application/dtmf",
        _ => "Application/DTMF-Relay; charset=utf-8",
    };
    if let Ok(d) = parse_sip_info(content_type, body) {
        assert!(d.key.event_code() < 16);
    }
});
