//! The media plane (guide written at the end).

pub mod dtmf;
pub mod g711;
pub mod pacer;
pub mod pipe;
pub mod ports;
pub mod prompt;
pub mod recorder;
pub mod resample;
pub mod rfc4733;
pub mod rtp;
pub mod session;
