//! SIP for the Dialect runtime (guide written below).

pub mod message;
pub mod transaction;
pub mod transport;
