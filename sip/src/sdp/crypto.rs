//! The SDES `a=crypto` attribute (RFC 4568): how each side of a call tells the
//! other the SRTP master key it will encrypt with.
//!
//! `a=crypto:<tag> <suite> inline:<base64 key||salt>[|<lifetime>][|<MKI>:<len>] [<session params>]`
//!
//! [`Crypto::parse`] reads one attribute value; it never panics and bounds
//! every field (tag of at most nine digits, suite name and key text of bounded
//! length, at most [`MAX_KEYS`] key parameters). A line Dialect cannot use is
//! still parsed, with [`Crypto::key`] `None`: another suite, several keys or an
//! MKI, session parameters that change the processing (unencrypted or
//! unauthenticated SRTP, a key derivation rate, FEC), or a key lifetime
//! shorter than a long call. Only [`SUITE`] with one inline key is usable.
//!
//! The key travels in the SDP, so it is as secret as the signalling: SRTP with
//! SDES keeps attackers who are not on the signalling path (a stranger
//! spraying RTP at the server's ports, someone on the media path only) from
//! injecting or hearing audio.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The one suite Dialect offers and accepts.
pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";
/// Length of its master key and salt together.
pub const KEY_LEN: usize = 30;
/// Most key parameters read from one attribute.
pub const MAX_KEYS: usize = 4;
/// Longest suite name or key text kept.
const MAX_FIELD: usize = 64;
/// Shortest key lifetime (in packets) accepted: 2^20 packets of 20 ms is
/// almost six hours, longer than any call (Dialect does not rekey).
const MIN_LIFETIME_LOG2: u32 = 20;

/// Base64 as RFC 4568 writes it (standard alphabet; padding tolerated).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An SRTP master key and salt as SDES carries it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SdesKey(pub [u8; KEY_LEN]);

impl fmt::Debug for SdesKey {
    /// Never prints the key (SDPs end up in logs and test output).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdesKey(..)")
    }
}

impl SdesKey {
    /// A fresh key from the thread's seeded generator (one per call leg).
    pub fn random() -> SdesKey {
        SdesKey(rand::random())
    }
}

/// One `a=crypto` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag the answer echoes to say which offered line it took.
    pub tag: u32,
    /// The crypto suite, as written.
    pub suite: String,
    /// The key, when the line is one Dialect can use (see the module docs).
    pub key: Option<SdesKey>,
}

/// Why an `a=crypto` value cannot be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a=crypto: {0}")]
pub struct CryptoError(pub &'static str);

impl Crypto {
    /// Our own attribute: `tag`, [`SUITE`], `key` inline.
    pub fn ours(tag: u32, key: SdesKey) -> Crypto {
        Crypto {
            tag,
            suite: SUITE.to_string(),
            key: Some(key),
        }
    }

    /// Whether the line is [`SUITE`] with a usable key.
    pub fn usable(&self) -> Option<SdesKey> {
        self.key.filter(|_| self.suite == SUITE)
    }

    /// Parses the value of an `a=crypto:` attribute (what follows the colon).
    pub fn parse(value: &str) -> Result<Crypto, CryptoError> {
        let mut fields = value.split_ascii_whitespace();
        let tag = fields.next().ok_or(CryptoError("no tag"))?;
        if tag.is_empty() || tag.len() > 9 || !tag.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CryptoError(
                "the tag must be a number of at most nine digits",
            ));
        }
        let tag: u32 = tag.parse().map_err(|_| CryptoError("bad tag"))?;
        let suite = fields.next().ok_or(CryptoError("no crypto suite"))?;
        if suite.len() > MAX_FIELD
            || !suite
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(CryptoError("the crypto suite is not a name"));
        }
        let key_params = fields.next().ok_or(CryptoError("no key parameters"))?;
        // Session parameters that Dialect honours without doing anything: the
        // window size hint. Any other changes what SRTP does.
        let plain_session = fields.all(|p| p.starts_with("WSH="));
        let mut keys = 0;
        let mut usable = None;
        let mut refused = !plain_session;
        for param in key_params.split(';') {
            keys += 1;
            if keys > MAX_KEYS {
                return Err(CryptoError("too many keys"));
            }
            let info = param
                .strip_prefix("inline:")
                .ok_or(CryptoError("only the inline key method is known"))?;
            let mut parts = info.split('|');
            let key_text = parts.next().unwrap_or_default();
            if key_text.is_empty() || key_text.len() > MAX_FIELD {
                return Err(CryptoError("the key is empty or too long"));
            }
            let mut buf = [0u8; MAX_FIELD];
            let n = BASE64
                .decode_slice(key_text, &mut buf)
                .map_err(|_| CryptoError("the key is not base64"))?;
            for extra in parts {
                if extra.contains(':') {
                    // An MKI: packets would carry it; Dialect sends none.
                    refused = true;
                } else if !lifetime_long_enough(extra)? {
                    refused = true;
                }
            }
            if n == KEY_LEN && usable.is_none() {
                let mut key = [0u8; KEY_LEN];
                key.copy_from_slice(&buf[..KEY_LEN]);
                usable = Some(SdesKey(key));
            } else {
                refused = true;
            }
        }
        Ok(Crypto {
            tag,
            suite: suite.to_string(),
            key: if refused || keys != 1 { None } else { usable },
        })
    }
}

/// Whether a key lifetime (`2^31` or `1048576`) covers a long call; an
/// unreadable one is an error.
fn lifetime_long_enough(text: &str) -> Result<bool, CryptoError> {
    let bad = CryptoError("the key lifetime is not a number");
    if let Some(exp) = text.strip_prefix("2^") {
        if exp.is_empty() || exp.len() > 2 {
            return Err(bad);
        }
        let exp: u32 = exp.parse().map_err(|_| bad)?;
        return Ok(exp >= MIN_LIFETIME_LOG2);
    }
    if text.is_empty() || text.len() > 20 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    let n: u64 = text.parse().map_err(|_| bad)?;
    Ok(n >= 1 << MIN_LIFETIME_LOG2)
}

impl fmt::Display for Crypto {
    /// The attribute value (after `a=crypto:`); a line without a usable key is
    /// written without one (Dialect writes only its own lines).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tag, self.suite)?;
        if let Some(SdesKey(key)) = &self.key {
            let mut text = [0u8; 40];
            let n = BASE64
                .encode_slice(key, &mut text)
                .map_err(|_| fmt::Error)?;
            let text = std::str::from_utf8(&text[..n]).map_err(|_| fmt::Error)?;
            write!(f, " inline:{text}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4568's example key (section 4).
    const EXAMPLE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";

    #[test]
    fn a_plain_inline_key_is_usable_and_round_trips() {
        let key = SdesKey([7; KEY_LEN]);
        let ours = Crypto::ours(1, key);
        let text = ours.to_string();
        assert_eq!(
            text,
            "1 AES_CM_128_HMAC_SHA1_80 inline:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH"
        );
        let back = Crypto::parse(&text).unwrap();
        assert_eq!(back, ours);
        assert_eq!(back.usable(), Some(key));
        let with_lifetime = Crypto::parse(&format!("{text}|2^31 WSH=64")).unwrap();
        assert_eq!(with_lifetime.usable(), Some(key));
    }

    #[test]
    fn lines_dialect_cannot_honour_are_read_but_not_usable() {
        // An MKI (RFC 4568's own example).
        let mki = Crypto::parse(EXAMPLE).unwrap();
        assert_eq!((mki.tag, mki.key), (1, None));
        let key = "inline:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH";
        for line in [
            format!("2 AES_CM_128_HMAC_SHA1_32 {key}"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} UNENCRYPTED_SRTP"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {key} KDR=10"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {key}|2^10"),
            format!("1 AES_CM_128_HMAC_SHA1_80 {key};{key}"),
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA".to_string(),
        ] {
            let c = Crypto::parse(&line).unwrap();
            assert_eq!(c.usable(), None, "{line}");
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        let key = "inline:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH";
        for bad in [
            String::new(),
            "1".into(),
            "1 AES_CM_128_HMAC_SHA1_80".into(),
            format!("x {SUITE} {key}"),
            format!("1234567890 {SUITE} {key}"),
            format!("1 AES-CM {key}"),
            format!("1 {SUITE} uri:sip:keys.example"),
            format!("1 {SUITE} inline:@@@@"),
            format!("1 {SUITE} {key}|2^x"),
            format!("1 {SUITE} {key}|2^999"),
            format!("1 {SUITE} inline:{}", "A".repeat(200)),
            format!("1 {SUITE} {}", [key; 6].join(";")),
        ] {
            assert!(Crypto::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_not_printed() {
        let c = Crypto::ours(1, SdesKey([1; KEY_LEN]));
        assert!(format!("{c:?}").contains("SdesKey(..)"));
    }
}
