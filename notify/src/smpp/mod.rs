//! SMPP 3.4, the protocol carriers' SMS centres (SMSCs) speak.
//!
//! - [`pdu`]: the PDUs, encoded and decoded without IO.
//! - [`text`]: text to GSM 03.38 or UCS-2 short messages, split with
//!   concatenation headers, and back.
//! - [`wire`]: one PDU read or written on a stream, bounded in size and time.
//! - [`client`]: the ESME client: bind, submit with a window, receipts,
//!   enquire_link, reconnect.
//! - `peer` (feature `peer`): a small SMSC on loopback for tests.

pub mod client;
pub mod pdu;
#[cfg(feature = "peer")]
pub mod peer;
pub mod text;
pub mod wire;
