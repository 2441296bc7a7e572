//! DTMF carried in SIP INFO request bodies: `application/dtmf-relay`
//! (`Signal=5\r\nDuration=160`, the Cisco format most carriers use) and
//! `application/dtmf` (the bare key, RFC-less but common).
//!
//! The SIP layer hands the Content-Type and the body to [`parse_sip_info`] and
//! turns the result into a [`KeyEvent`] with [`SipInfoDigit::into_event`].

use std::time::Duration;

use super::{DtmfKey, KeyEvent, KeySource};

/// Why an INFO body is not a DTMF key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SipInfoError {
    /// The content type is neither `application/dtmf-relay` nor `application/dtmf`.
    #[error("content type {0:?} does not carry DTMF")]
    UnsupportedContentType(String),
    /// The body names no signal.
    #[error("the DTMF body has no Signal line")]
    MissingSignal,
    /// The signal is not one of 0-9, *, #, A-D (or event codes 0-15).
    #[error("{0:?} is not a DTMF key")]
    BadSignal(String),
    /// The duration is not a number of milliseconds.
    #[error("{0:?} is not a duration in milliseconds")]
    BadDuration(String),
}

/// A key parsed from an INFO body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipInfoDigit {
    /// The key the body's signal names (a character or an event code 0-15).
    pub key: DtmfKey,
    /// The duration the body announces, if any.
    pub duration: Option<Duration>,
}

impl SipInfoDigit {
    /// The common key event for this digit, recognized at `at`.
    pub fn into_event(self, at: tokio::time::Instant) -> KeyEvent {
        KeyEvent {
            key: self.key,
            source: KeySource::SipInfo,
            at,
            duration: self.duration.unwrap_or_default(),
        }
    }
}

/// Parses a signal value: a key character or an RFC 4733 event code.
fn parse_signal(value: &str) -> Result<DtmfKey, SipInfoError> {
    let v = value.trim();
    let mut chars = v.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some(k) = DtmfKey::from_char(c)
    {
        return Ok(k);
    }
    v.parse::<u8>()
        .ok()
        .and_then(DtmfKey::from_event_code)
        .ok_or_else(|| SipInfoError::BadSignal(v.to_string()))
}

/// Parses an INFO body given its Content-Type header value (parameters such
/// as `; charset=utf-8` are ignored, case does not matter).
pub fn parse_sip_info(content_type: &str, body: &[u8]) -> Result<SipInfoDigit, SipInfoError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let text = String::from_utf8_lossy(body);
    if media_type.eq_ignore_ascii_case("application/dtmf-relay") {
        let mut key = None;
        let mut duration = None;
        for line in text.lines() {
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.eq_ignore_ascii_case("signal") {
                key = Some(parse_signal(value)?);
            } else if name.eq_ignore_ascii_case("duration") {
                let v = value.trim();
                let ms = v
                    .parse::<u64>()
                    .map_err(|_| SipInfoError::BadDuration(v.to_string()))?;
                duration = Some(Duration::from_millis(ms));
            }
        }
        let key = key.ok_or(SipInfoError::MissingSignal)?;
        Ok(SipInfoDigit { key, duration })
    } else if media_type.eq_ignore_ascii_case("application/dtmf") {
        let v = text.trim();
        if v.is_empty() {
            return Err(SipInfoError::MissingSignal);
        }
        Ok(SipInfoDigit {
            key: parse_signal(v)?,
            duration: None,
        })
    } else {
        Err(SipInfoError::UnsupportedContentType(media_type.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay() {
        let d = parse_sip_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!(d.key, DtmfKey::Key5);
        assert_eq!(d.duration, Some(Duration::from_millis(160)));
        let d = parse_sip_info(
            "Application/DTMF-Relay; charset=x",
            b"signal = *\nduration= 250",
        )
        .unwrap();
        assert_eq!(d.key, DtmfKey::Star);
        assert_eq!(d.duration, Some(Duration::from_millis(250)));
        let d = parse_sip_info("application/dtmf-relay", b"Signal=11").unwrap();
        assert_eq!((d.key, d.duration), (DtmfKey::Pound, None));
        let d = parse_sip_info("application/dtmf-relay", b"Signal=#\r\nDuration=100").unwrap();
        assert_eq!(d.key, DtmfKey::Pound);
        let d = parse_sip_info("application/dtmf-relay", b"Signal=d\r\n").unwrap();
        assert_eq!(d.key, DtmfKey::D);
    }

    #[test]
    fn plain_dtmf() {
        let d = parse_sip_info("application/dtmf", b"7\r\n").unwrap();
        assert_eq!((d.key, d.duration), (DtmfKey::Key7, None));
        let d = parse_sip_info("application/dtmf", b"10").unwrap();
        assert_eq!(d.key, DtmfKey::Star);
        let e = d.into_event(tokio::time::Instant::now());
        assert_eq!(
            (e.key, e.source, e.duration),
            (DtmfKey::Star, KeySource::SipInfo, Duration::ZERO)
        );
    }

    #[test]
    fn bad_bodies() {
        assert_eq!(
            parse_sip_info("text/plain", b"5"),
            Err(SipInfoError::UnsupportedContentType("text/plain".into()))
        );
        assert_eq!(
            parse_sip_info("application/dtmf-relay", b"Duration=160"),
            Err(SipInfoError::MissingSignal)
        );
        assert_eq!(
            parse_sip_info("application/dtmf-relay", b"Signal=E"),
            Err(SipInfoError::BadSignal("E".into()))
        );
        assert_eq!(
            parse_sip_info("application/dtmf-relay", b"Signal=16"),
            Err(SipInfoError::BadSignal("16".into()))
        );
        assert_eq!(
            parse_sip_info("application/dtmf-relay", b"Signal=1\nDuration=abc"),
            Err(SipInfoError::BadDuration("abc".into()))
        );
        assert_eq!(
            parse_sip_info("application/dtmf", b"  "),
            Err(SipInfoError::MissingSignal)
        );
        assert_eq!(
            parse_sip_info("application/dtmf", b"12 3"),
            Err(SipInfoError::BadSignal("12 3".into()))
        );
    }

    #[test]
    fn keys_roundtrip() {
        for k in DtmfKey::ALL {
            assert_eq!(DtmfKey::from_char(k.as_char()), Some(k));
            assert_eq!(DtmfKey::from_event_code(k.event_code()), Some(k));
            let (r, c) = k.row_col();
            assert_eq!(DtmfKey::from_row_col(r, c), Some(k));
        }
        assert_eq!(DtmfKey::from_event_code(16), None);
        assert_eq!(DtmfKey::from_char('e'), None);
        assert_eq!(DtmfKey::Key1.frequencies(), (697.0, 1209.0));
        assert_eq!(DtmfKey::Pound.frequencies(), (941.0, 1477.0));
        assert_eq!(DtmfKey::D.frequencies(), (941.0, 1633.0));
    }
}
