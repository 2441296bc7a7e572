//! Digest `Authorization` / `WWW-Authenticate` values: parsing never panics,
//! returns at most 32 lower-case parameter names, refuses values longer than
//! the limit, and a challenge it accepts has a realm and a nonce.
#![no_main]

use dialect_sip::auth::{Challenge, MAX_HEADER_LEN, parse_digest_params};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(params) = parse_digest_params(text) {
        assert!(text.len() <= MAX_HEADER_LEN);
        assert!(params.len() <= 32);
        for (name, _) in &params {
            assert!(!name.is_empty());
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    if let Some(c) = Challenge::parse(text) {
        assert!(text.len() <= MAX_HEADER_LEN);
        let _ = (c.realm, c.nonce);
    }
});
