//! The SDES `a=crypto` attribute parser: never panics, and a line it reads with
//! a usable key is written back by our own writer to a line that reads the same.
#![no_main]

use dialect_sip::sdp::Crypto;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Crypto::parse(text) else {
        return;
    };
    if let Some(key) = c.usable() {
        let ours = Crypto::ours(c.tag, key);
        let back = Crypto::parse(&ours.to_string()).expect("our own line parses");
        assert_eq!(back.usable(), Some(key));
        assert_eq!(back.tag, c.tag);
    }
});
