//! The outbound dialer's logic, without network or disk IO of its own: what a
//! campaign target is and when it may be dialled (retries per outcome, attempt
//! limits, call windows in the callee's local time, the 72-hour rule after an
//! abandoned call), how many lines to dial (progressive, predictive under the
//! abandon cap, and a VICIdial-ADAPT-style baseline to compare with), how a
//! list file becomes typed targets with a report of every row, and a simulator
//! that runs the same code on virtual time. The runtime places the calls,
//! stores the targets and serves the API around it.
//!
//! # Layout
//! - [`outcome`]: [`outcome::CallOutcome`], from SIP codes and the language's outcomes.
//! - [`target`]: [`target::Target`] and its [`target::TargetState`] and counters.
//! - [`rules`]: [`rules::Rules`]: retries, limits, the 72-hour rule; `record`,
//!   `check`, `next_open_ms`.
//! - [`blocked`]: [`blocked::Blocked`], why a target is not dialled now.
//! - [`window`]: call windows in the callee's local time and the zone table.
//! - [`abandon`]: the abandon ledger over rolling and short windows.
//! - [`pacing`]: the pacer (progressive, predictive, the ADAPT baseline, IVR).
//! - [`simulate`]: the campaign simulator on virtual time.

pub mod abandon;
pub mod blocked;
pub mod outcome;
pub mod pacing;
pub mod rules;
pub mod simulate;
pub mod target;
pub mod window;

#[cfg(test)]
mod test_support;

pub use blocked::Blocked;
pub use outcome::CallOutcome;
pub use pacing::{PaceEvent, PaceSnapshot, Pacer, PacingConfig, PacingMode};
pub use rules::Rules;
pub use target::{Target, TargetState};
