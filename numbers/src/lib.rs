//! Telephone numbers (crate `dialect-numbers`): how the platform reads a number
//! that a person, a file or a SIP header wrote, and how an operator says which
//! numbers may be dialled.
//!
//! Numbers reach Dialect in every form: `+86 138-0013-8000`, `0086 13800138000`,
//! `(010) 6552 9988`, `8613800138000` in a spreadsheet. Do-not-call lists, dial
//! plans and call-backs must treat all of them as the same number, so every
//! number is first brought to one [`canonical`] form: the digits a caller in the
//! home country dials (`13800138000`, `01065529988`, `110`), or the international
//! prefix followed by the country code for numbers abroad (`0044…`). A dial plan
//! then matches [`Pattern`]s against that form, so `00.` refuses international
//! calls however the number was written.
//!
//! # Layout
//! - [`canonical`]: [`NumberRules`] (country code, prefixes) and [`canonical()`].
//! - [`pattern`]: dial-plan patterns in the notation telephony operators know
//!   (`X`, `Z`, `N`, `[1-5]`, `.`, `!`).
//!
//! Pure: no IO, no async runtime; the runtime's outbound-call policy and the
//! dialer's list import build on it.

pub mod canonical;
pub mod pattern;

pub use canonical::{NumberError, NumberRules, canonical};
pub use pattern::{Pattern, PatternError};
