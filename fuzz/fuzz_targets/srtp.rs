//! SRTP unprotect of arbitrary datagrams: never panics, never accepts a packet
//! that was not protected with the key (an 80-bit tag cannot be guessed), and a
//! packet protected with the key comes back as it was.
#![no_main]

use dialect_media::srtp::{MasterKey, SrtpContext, TAG_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_bytes(&[0x5a; 30]);
    let mut buf = [0u8; 2048];
    let len = data.len().min(buf.len() - TAG_LEN);
    buf[..len].copy_from_slice(&data[..len]);
    let mut rx = SrtpContext::new(&key);
    assert!(rx.unprotect(&mut buf, len).is_err(), "a forged packet was accepted");
    // The same bytes as a plain RTP packet: protect, then unprotect.
    let mut tx = SrtpContext::new(&key);
    buf[..len].copy_from_slice(&data[..len]);
    if let Ok(n) = tx.protect(&mut buf, len) {
        let mut rx = SrtpContext::new(&key);
        let back = rx.unprotect(&mut buf, n).expect("our own packet unprotects");
        assert_eq!(&buf[..back], &data[..len]);
    }
});
