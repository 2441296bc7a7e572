//! The outbound dialer's logic, without network or disk IO of its own: what a
//! campaign target is and when it may be dialled (retries per outcome, attempt
//! limits, call windows in the callee's local time, the 72-hour rule after an
//! abandoned call), how many lines to dial (progressive, predictive under the
//! abandon cap, and a VICIdial-ADAPT-style baseline to compare with), how a
//! list file becomes typed targets with a report of every row, and a simulator
//! that runs the same code on virtual time. The runtime places the calls,
//! stores the targets and serves the API around it.

pub mod abandon;
pub mod blocked;
pub mod import;
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
