//! SRTP (RFC 3711) for the one suite Dialect offers and accepts,
//! `AES_CM_128_HMAC_SHA1_80`: AES-128 in counter mode for the payload and an
//! 80-bit HMAC-SHA1 tag over the whole packet, keyed by SDES (RFC 4568
//! `a=crypto`, parsed in `dialect-sip`).
//!
//! Why it exists: with plain RTP anyone who can send to a call's port can try
//! to inject audio or key presses, and anyone on the path hears the call. With
//! SRTP a packet that does not carry a valid tag under the call's keys is
//! dropped before it is parsed, and the audio is encrypted.
//!
//! A [`SrtpContext`] protects or unprotects packets of one direction in place,
//! in the caller's buffer: [`SrtpContext::protect`] encrypts the payload and
//! appends the tag, [`SrtpContext::unprotect`] checks the replay window and the
//! tag, then decrypts. The session keys are derived once (RFC 3711 §4.3, key
//! derivation rate 0); per packet the work is a few AES blocks and one HMAC on
//! stack buffers, with no allocation. RTCP is not sent or read by Dialect, so
//! SRTCP is not implemented; neither are MKIs, key lifetimes shorter than a
//! call, or other suites (the SDP layer refuses them).

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Length of the master key of `AES_CM_128_HMAC_SHA1_80`.
pub const MASTER_KEY_LEN: usize = 16;
/// Length of its master salt (112 bits, RFC 3711).
pub const MASTER_SALT_LEN: usize = 14;
/// Length of the key and salt together, as SDES carries them (`inline:`).
pub const KEY_AND_SALT_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
/// Length of the authentication tag appended to each packet (80 bits).
pub const TAG_LEN: usize = 10;
/// How far back (in packets) a late packet is still accepted once.
const REPLAY_WINDOW: u64 = 64;

/// A master key and salt: what one side announces in its `a=crypto` line and
/// uses for everything it sends.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey {
    /// The 128-bit master key.
    pub key: [u8; MASTER_KEY_LEN],
    /// The 112-bit master salt.
    pub salt: [u8; MASTER_SALT_LEN],
}

impl std::fmt::Debug for MasterKey {
    /// Never prints the key material (it would end up in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Key then salt, as in SDES's `inline:` parameter.
    pub fn from_bytes(bytes: &[u8; KEY_AND_SALT_LEN]) -> MasterKey {
        let mut key = [0; MASTER_KEY_LEN];
        let mut salt = [0; MASTER_SALT_LEN];
        key.copy_from_slice(&bytes[..MASTER_KEY_LEN]);
        salt.copy_from_slice(&bytes[MASTER_KEY_LEN..]);
        MasterKey { key, salt }
    }

    /// Key then salt.
    pub fn to_bytes(&self) -> [u8; KEY_AND_SALT_LEN] {
        let mut out = [0; KEY_AND_SALT_LEN];
        out[..MASTER_KEY_LEN].copy_from_slice(&self.key);
        out[MASTER_KEY_LEN..].copy_from_slice(&self.salt);
        out
    }

    /// A fresh key from the operating system's seeded generator (one per call
    /// leg and direction; never reused across calls).
    pub fn random() -> MasterKey {
        MasterKey::from_bytes(&rand::random())
    }
}

/// The keys of one direction of a call: what we encrypt with (our `a=crypto`)
/// and what the far end encrypts with (its `a=crypto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    /// Ours: protects what we send.
    pub send: MasterKey,
    /// The far end's: unprotects what we receive.
    pub receive: MasterKey,
}

/// Why a packet could not be protected or was refused. Cheap to return and to
/// count: a refused packet is an expected event under attack, not a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SrtpError {
    /// Shorter than an RTP header and a tag, or its header runs past its end.
    #[error("packet too short for SRTP")]
    TooShort,
    /// The tag does not match: not sent with the far end's key, or altered.
    #[error("SRTP authentication failed")]
    AuthFailed,
    /// Already received, or older than the replay window.
    #[error("SRTP packet replayed")]
    Replayed,
    /// The output buffer cannot hold the packet and its tag.
    #[error("buffer too small for the SRTP packet")]
    BufferTooSmall,
}

/// The session keys of one direction (RFC 3711 §4.3).
#[derive(Clone)]
struct SessionKeys {
    cipher: Aes128,
    salt: [u8; MASTER_SALT_LEN],
    auth: Hmac<Sha1>,
}

impl SessionKeys {
    fn derive(master: &MasterKey) -> SessionKeys {
        let prf = Aes128::new(&Array::from(master.key));
        let mut cipher_key = [0u8; 16];
        derive_key(&prf, &master.salt, 0x00, &mut cipher_key);
        let mut auth_key = [0u8; 20];
        derive_key(&prf, &master.salt, 0x01, &mut auth_key);
        let mut salt = [0u8; MASTER_SALT_LEN];
        derive_key(&prf, &master.salt, 0x02, &mut salt);
        // A 20-byte key is valid for HMAC (any length is).
        let auth = match <Hmac<Sha1> as hmac::KeyInit>::new_from_slice(&auth_key) {
            Ok(mac) => mac,
            Err(_) => unreachable_hmac(),
        };
        SessionKeys {
            cipher: Aes128::new(&Array::from(cipher_key)),
            salt,
            auth,
        }
    }

    /// XORs the AES-CM keystream for `ssrc` and packet `index` into `data`.
    fn apply_keystream(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        // IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16).
        let mut iv = [0u8; 16];
        iv[..MASTER_SALT_LEN].copy_from_slice(&self.salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        keystream_xor(&self.cipher, iv, data);
    }

    /// The 80-bit tag of `packet` with the rollover counter `roc`.
    fn tag(&self, packet: &[u8], roc: u32) -> [u8; TAG_LEN] {
        let mut mac = self.auth.clone();
        mac.update(packet);
        mac.update(&roc.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Whether `tag` is the tag of `packet` (constant time).
    fn verify(&self, packet: &[u8], roc: u32, tag: &[u8]) -> bool {
        let mut mac = self.auth.clone();
        mac.update(packet);
        mac.update(&roc.to_be_bytes());
        mac.verify_truncated_left(tag).is_ok()
    }
}

#[cold]
fn unreachable_hmac() -> ! {
    // HMAC accepts keys of every length; this cannot happen.
    panic!("HMAC refused a 20-byte key")
}

/// The PRF of RFC 3711 §4.3.3: AES-CM under the master key from the IV made of
/// the master salt with `label` at byte 7 (key derivation rate 0).
fn derive_key(prf: &Aes128, master_salt: &[u8; MASTER_SALT_LEN], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..MASTER_SALT_LEN].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    keystream_xor(prf, iv, out);
}

/// XORs AES-CM keystream blocks `E(iv)`, `E(iv + 1)`, ... into `data`. The IV's
/// low 16 bits are zero and a packet is far shorter than 2^16 blocks, so the
/// counter lives in the last two bytes and never carries further.
fn keystream_xor(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    const BATCH: usize = 8;
    let mut counter: u16 = 0;
    for chunk in data.chunks_mut(16 * BATCH) {
        let mut blocks = [Array::from([0u8; 16]); BATCH];
        let n = chunk.len().div_ceil(16);
        for block in blocks.iter_mut().take(n) {
            let mut b = iv;
            b[14..].copy_from_slice(&counter.to_be_bytes());
            *block = Array::from(b);
            counter = counter.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (i, byte) in chunk.iter_mut().enumerate() {
            *byte ^= blocks[i / 16][i % 16];
        }
    }
}

/// Length of the RTP header (fixed part, CSRCs, extension) at the start of
/// `packet`, or `None` if it does not fit.
fn rtp_header_len(packet: &[u8]) -> Option<usize> {
    if packet.len() < crate::rtp::HEADER_LEN || packet[0] >> 6 != 2 {
        return None;
    }
    let mut len = crate::rtp::HEADER_LEN + 4 * usize::from(packet[0] & 0x0F);
    if packet[0] & 0x10 != 0 {
        let ext = packet.get(len..len + 4)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    (len <= packet.len()).then_some(len)
}

/// One direction of an SRTP stream: a sender's rollover counter, or a
/// receiver's highest index and replay window.
#[derive(Clone)]
pub struct SrtpContext {
    keys: SessionKeys,
    /// Sender: the rollover counter and the last sequence number sent.
    /// Receiver: the highest packet index authenticated so far.
    highest: Option<u64>,
    /// Receiver: which of the [`REPLAY_WINDOW`] indexes below `highest` were seen
    /// (bit 0 is `highest` itself).
    window: u64,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpContext")
            .field("highest", &self.highest)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context for packets protected with `master` (ours to send, or the far
    /// end's to receive).
    pub fn new(master: &MasterKey) -> SrtpContext {
        SrtpContext {
            keys: SessionKeys::derive(master),
            highest: None,
            window: 0,
        }
    }

    /// Encrypts the RTP packet in `buf[..len]` in place and appends its tag;
    /// returns the SRTP packet's length. Packets must be protected in the order
    /// they are sent (the rollover counter follows the sequence numbers).
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::TooShort)?;
        let header = rtp_header_len(packet).ok_or(SrtpError::TooShort)?;
        if buf.len() < len + TAG_LEN {
            return Err(SrtpError::BufferTooSmall);
        }
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let mut roc = self.highest.map_or(0, |h| (h >> 16) as u32);
        if let Some(h) = self.highest {
            let last = h as u16;
            // The sequence number wrapped since the last packet sent.
            if seq < last && last - seq > 0x8000 {
                roc = roc.wrapping_add(1);
            }
        }
        let index = (u64::from(roc) << 16) | u64::from(seq);
        self.highest = Some(index);
        self.keys
            .apply_keystream(ssrc, index, &mut buf[header..len]);
        let tag = self.keys.tag(&buf[..len], roc);
        buf[len..len + TAG_LEN].copy_from_slice(&tag);
        Ok(len + TAG_LEN)
    }

    /// Checks and decrypts the SRTP packet in `buf[..len]` in place; returns
    /// the length of the plain RTP packet now at the start of `buf`. A packet
    /// that fails is left as it was and changes nothing in the context.
    pub fn unprotect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        let packet = buf.get(..len).ok_or(SrtpError::TooShort)?;
        let Some(body) = len.checked_sub(TAG_LEN) else {
            return Err(SrtpError::TooShort);
        };
        let header = rtp_header_len(&packet[..body]).ok_or(SrtpError::TooShort)?;
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let index = self.estimate_index(seq).ok_or(SrtpError::Replayed)?;
        if let Some(h) = self.highest
            && index <= h
        {
            let behind = h - index;
            if behind >= REPLAY_WINDOW || self.window & (1 << behind) != 0 {
                return Err(SrtpError::Replayed);
            }
        }
        let roc = (index >> 16) as u32;
        if !self.keys.verify(&buf[..body], roc, &buf[body..len]) {
            return Err(SrtpError::AuthFailed);
        }
        self.keys
            .apply_keystream(ssrc, index, &mut buf[header..body]);
        match self.highest {
            Some(h) if index <= h => self.window |= 1 << (h - index),
            Some(h) => {
                let ahead = index - h;
                self.window = if ahead >= REPLAY_WINDOW {
                    0
                } else {
                    self.window << ahead
                } | 1;
                self.highest = Some(index);
            }
            None => {
                self.window = 1;
                self.highest = Some(index);
            }
        }
        Ok(body)
    }

    /// The packet index a received sequence number most likely stands for
    /// (RFC 3711 §3.3.1); `None` for one from before the first rollover.
    fn estimate_index(&self, seq: u16) -> Option<u64> {
        let Some(h) = self.highest else {
            return Some(u64::from(seq));
        };
        let roc = h >> 16;
        let s_l = h as u16;
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        Some((v << 16) | u64::from(seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3711 Appendix B.3: the master key and salt of the key derivation
    /// test vectors (also libsrtp's packet test vector below).
    fn b3_master() -> MasterKey {
        let mut bytes = [0u8; KEY_AND_SALT_LEN];
        bytes.copy_from_slice(&hex(
            "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6",
        ));
        MasterKey::from_bytes(&bytes)
    }

    #[test]
    fn aes_cm_keystream_matches_rfc_3711_b2() {
        let key: [u8; 16] = hex("2B7E151628AED2A6ABF7158809CF4F3C").try_into().unwrap();
        let iv: [u8; 16] = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000").try_into().unwrap();
        let mut stream = [0u8; 48];
        keystream_xor(&Aes128::new(&Array::from(key)), iv, &mut stream);
        assert_eq!(
            stream.to_vec(),
            hex("E03EAD0935C95E80E166B16DD92B4EB4
                 D23513162B02D0F72A43A2FE4A5F97AB
                 41E95B3BB0A2E8DD477901E4FCA894C0")
        );
    }

    #[test]
    fn key_derivation_matches_rfc_3711_b3() {
        let master = b3_master();
        let prf = Aes128::new(&Array::from(master.key));
        let mut cipher_key = [0u8; 16];
        derive_key(&prf, &master.salt, 0, &mut cipher_key);
        assert_eq!(cipher_key.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut salt = [0u8; 14];
        derive_key(&prf, &master.salt, 2, &mut salt);
        assert_eq!(salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
        let mut auth = [0u8; 94];
        derive_key(&prf, &master.salt, 1, &mut auth);
        assert_eq!(
            auth.to_vec(),
            hex(
                "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
                 E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
                 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2"
            )
        );
    }

    /// The packet test vector of libsrtp (`srtp_validate`), made with the B.3
    /// master key: SSRC 0xcafebabe, sequence 0x1234, ROC 0.
    const PLAIN: &str = "800f1234decafbadcafebabe abababababababababababababababab";
    const PROTECTED: &str =
        "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb";

    #[test]
    fn a_packet_is_protected_and_unprotected_as_the_reference_implementation_does() {
        let plain = hex(PLAIN);
        let mut buf = [0u8; 64];
        buf[..plain.len()].copy_from_slice(&plain);
        let mut tx = SrtpContext::new(&b3_master());
        let len = tx.protect(&mut buf, plain.len()).unwrap();
        assert_eq!(buf[..len].to_vec(), hex(PROTECTED));
        let mut rx = SrtpContext::new(&b3_master());
        let len = rx.unprotect(&mut buf, len).unwrap();
        assert_eq!(buf[..len].to_vec(), plain);
    }

    #[test]
    fn altered_replayed_and_foreign_packets_are_refused() {
        let protected = hex(PROTECTED);
        let mut rx = SrtpContext::new(&b3_master());
        // One bit changed anywhere: refused, and the context is unchanged.
        for i in [1, 5, 13, 30, protected.len() - 1] {
            let mut buf = protected.clone();
            buf[i] ^= 0x01;
            assert_eq!(
                rx.unprotect(&mut buf, protected.len()),
                Err(SrtpError::AuthFailed)
            );
        }
        // Plain RTP (what an attacker without the key sends).
        let mut plain = hex(PLAIN);
        plain.extend_from_slice(&[0; TAG_LEN]);
        let n = plain.len();
        assert_eq!(rx.unprotect(&mut plain, n), Err(SrtpError::AuthFailed));
        // Another key.
        let mut other = SrtpContext::new(&MasterKey::random());
        let mut buf = protected.clone();
        assert_eq!(
            other.unprotect(&mut buf, protected.len()),
            Err(SrtpError::AuthFailed)
        );
        // The right packet once, then never again.
        let mut buf = protected.clone();
        assert!(rx.unprotect(&mut buf, protected.len()).is_ok());
        let mut buf = protected.clone();
        assert_eq!(
            rx.unprotect(&mut buf, protected.len()),
            Err(SrtpError::Replayed)
        );
        // Too short for a header and a tag.
        let mut short = [0x80u8; 15];
        assert_eq!(rx.unprotect(&mut short, 15), Err(SrtpError::TooShort));
    }

    /// A stream of `n` packets from sequence number `first`, protected in order.
    fn stream(tx: &mut SrtpContext, first: u16, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let seq = first.wrapping_add(i as u16);
                let mut buf = [0u8; 64];
                buf[0] = 0x80;
                buf[2..4].copy_from_slice(&seq.to_be_bytes());
                buf[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
                buf[12..20].copy_from_slice(&(i as u64).to_be_bytes());
                let len = tx.protect(&mut buf, 20).unwrap();
                buf[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn the_rollover_counter_follows_the_sequence_number_through_its_wrap() {
        let key = MasterKey::random();
        let mut tx = SrtpContext::new(&key);
        let mut rx = SrtpContext::new(&key);
        let packets = stream(&mut tx, 65_530, 20);
        // Some arrive out of order around the wrap, all within the window.
        let mut order: Vec<usize> = (0..20).collect();
        order.swap(4, 7);
        order.swap(10, 11);
        for i in order {
            let mut buf = packets[i].clone();
            let n = buf.len();
            let len = rx
                .unprotect(&mut buf, n)
                .unwrap_or_else(|e| panic!("packet {i}: {e}"));
            assert_eq!(buf[12..len].to_vec(), (i as u64).to_be_bytes().to_vec());
        }
        assert_eq!(rx.highest, Some((1 << 16) | 13));
    }

    #[test]
    fn packets_older_than_the_window_are_refused() {
        let key = MasterKey::random();
        let mut tx = SrtpContext::new(&key);
        let mut rx = SrtpContext::new(&key);
        let packets = stream(&mut tx, 100, 100);
        let mut last = packets[99].clone();
        let n = last.len();
        rx.unprotect(&mut last, n).unwrap();
        let mut old = packets[10].clone();
        assert_eq!(rx.unprotect(&mut old, n), Err(SrtpError::Replayed));
        let mut recent = packets[60].clone();
        assert!(rx.unprotect(&mut recent, n).is_ok());
    }

    #[test]
    fn the_key_is_not_printed() {
        assert_eq!(format!("{:?}", b3_master()), "MasterKey(..)");
    }
}
