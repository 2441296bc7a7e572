//! DTMF keys and the three ways they reach a call: RFC 4733 telephone-events
//! (see [`crate::rfc4733`]), SIP INFO requests ([`parse_sip_info`]) and
//! in-band tones ([`InbandDetector`], [`detect`]).
//!
//! Every path delivers the same [`KeyEvent`], so a flow's digit collection does
//! not care how a key arrived; [`KeySource`] says which path it was for
//! logging and for de-duplication when a peer uses more than one.

mod generate;
mod inband;
mod sip_info;

use std::time::Duration;

pub use generate::{DBM0_PEAK, ToneGenerator, dbm0_to_amplitude};
pub use inband::{DetectedDigit, InbandDetector, detect, detect_wav};
pub use sip_info::{SipInfoDigit, SipInfoError, parse_sip_info};

/// One of the sixteen DTMF keys, named as on the keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs, reason = "the digit keys need no description")]
pub enum DtmfKey {
    Key0,
    Key1,
    Key2,
    Key3,
    Key4,
    Key5,
    Key6,
    Key7,
    Key8,
    Key9,
    /// Key `*`.
    Star,
    /// Key `#`.
    Pound,
    /// Key A (fourth column, rare on phones, used by some networks).
    A,
    /// Key B (fourth column).
    B,
    /// Key C (fourth column).
    C,
    /// Key D (fourth column).
    D,
}

/// Low-group (row) frequencies in Hz.
pub const ROW_FREQS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz.
pub const COL_FREQS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// Keys by row and column of the DTMF keypad.
const KEYPAD: [[DtmfKey; 4]; 4] = [
    [DtmfKey::Key1, DtmfKey::Key2, DtmfKey::Key3, DtmfKey::A],
    [DtmfKey::Key4, DtmfKey::Key5, DtmfKey::Key6, DtmfKey::B],
    [DtmfKey::Key7, DtmfKey::Key8, DtmfKey::Key9, DtmfKey::C],
    [DtmfKey::Star, DtmfKey::Key0, DtmfKey::Pound, DtmfKey::D],
];

impl DtmfKey {
    /// All sixteen keys, in RFC 4733 event-code order (0-9, *, #, A-D).
    pub const ALL: [DtmfKey; 16] = [
        DtmfKey::Key0,
        DtmfKey::Key1,
        DtmfKey::Key2,
        DtmfKey::Key3,
        DtmfKey::Key4,
        DtmfKey::Key5,
        DtmfKey::Key6,
        DtmfKey::Key7,
        DtmfKey::Key8,
        DtmfKey::Key9,
        DtmfKey::Star,
        DtmfKey::Pound,
        DtmfKey::A,
        DtmfKey::B,
        DtmfKey::C,
        DtmfKey::D,
    ];

    /// The key for an RFC 4733 event code (0-15); other events are not keys.
    pub fn from_event_code(code: u8) -> Option<DtmfKey> {
        Self::ALL.get(code as usize).copied()
    }

    /// The RFC 4733 event code (0-9, * = 10, # = 11, A-D = 12-15).
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The key for a character: `0`-`9`, `*`, `#`, `A`-`D` (either case).
    pub fn from_char(c: char) -> Option<DtmfKey> {
        match c {
            '0'..='9' => Self::from_event_code(c as u8 - b'0'),
            '*' => Some(DtmfKey::Star),
            '#' => Some(DtmfKey::Pound),
            'A' | 'a' => Some(DtmfKey::A),
            'B' | 'b' => Some(DtmfKey::B),
            'C' | 'c' => Some(DtmfKey::C),
            'D' | 'd' => Some(DtmfKey::D),
            _ => None,
        }
    }

    /// The character printed on the key.
    pub fn as_char(self) -> char {
        b"0123456789*#ABCD"[self as usize] as char
    }

    /// Row (0-3, low group) and column (0-3, high group) on the keypad.
    pub fn row_col(self) -> (usize, usize) {
        for (r, row) in KEYPAD.iter().enumerate() {
            for (c, k) in row.iter().enumerate() {
                if *k == self {
                    return (r, c);
                }
            }
        }
        unreachable!("every key is on the keypad")
    }

    /// The key at a keypad row and column (each 0-3).
    pub fn from_row_col(row: usize, col: usize) -> Option<DtmfKey> {
        KEYPAD.get(row)?.get(col).copied()
    }

    /// The (low, high) tone frequencies in Hz.
    pub fn frequencies(self) -> (f32, f32) {
        let (r, c) = self.row_col();
        (ROW_FREQS[r], COL_FREQS[c])
    }
}

impl std::fmt::Display for DtmfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// A set of keys (e.g. the keys that end a recording), as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeySet(u16);

impl KeySet {
    /// No key.
    pub const EMPTY: KeySet = KeySet(0);
    /// Every key.
    pub const ALL: KeySet = KeySet(0xFFFF);

    /// The set of the given keys.
    pub fn of(keys: &[DtmfKey]) -> KeySet {
        KeySet(keys.iter().fold(0, |m, k| m | (1 << k.event_code())))
    }

    /// The set of the keys written in `s` (e.g. `"#*"`); other characters are ignored.
    pub fn parse(s: &str) -> KeySet {
        KeySet(
            s.chars()
                .filter_map(DtmfKey::from_char)
                .fold(0, |m, k| m | (1 << k.event_code())),
        )
    }

    /// Whether `key` is in the set.
    pub fn contains(self, key: DtmfKey) -> bool {
        self.0 & (1 << key.event_code()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// Which DTMF path delivered a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// RTP telephone-event packets (RFC 4733).
    Rfc4733,
    /// A SIP INFO request (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// Tones in the audio, found by the Goertzel detector.
    Inband,
}

/// A key pressed by the caller, whichever way it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// The key, the same whichever path brought it.
    pub key: DtmfKey,
    /// How it arrived.
    pub source: KeySource,
    /// When it was recognized (the end of the key press for RTP paths).
    pub at: tokio::time::Instant,
    /// How long the key was held; zero when the path does not say.
    pub duration: Duration,
}

#[cfg(test)]
mod tests;
