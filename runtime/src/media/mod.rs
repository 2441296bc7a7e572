//! The media plane (guide written at the end).

pub mod dtmf;
pub mod g711;
pub mod prompt;
pub mod resample;
pub mod rtp;
