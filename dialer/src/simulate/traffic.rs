//! The simulator's traffic file (YAML): who answers the campaign's calls and how
//! quickly, how long people talk, and which agents work when.
//!
//! ```yaml
//! seed: 1
//! start: 2026-12-07T15:00:00+08:00   # virtual time starts here (callee windows apply)
//! targets: 100000                    # synthetic numbers in the list
//! answer:                            # shares of dialled lines; the rest ring out
//!   live: 0.30
//!   machine: 0.15
//!   fax: 0.02
//!   busy: 0.10
//!   invalid: 0.03
//! live_delay: {lognormal: {mean: 8s, sd: 4s}}   # dial to a person recognised
//! machine_delay: {lognormal: {mean: 10s, sd: 4s}}
//! busy_delay: {uniform: [1s, 4s]}
//! machine_detect: 3s                 # a machine or fax: answer to hang-up
//! amd_false_positive: 0.0            # people the detector takes for machines
//! talk: {exponential: 3m}
//! wrap_up: 30s
//! window: 1h                         # window of the highest abandon rate reported
//! shifts:
//!   - {agents: 20, start: 0h, end: 5h}
//! ```
//!
//! Durations are written as in the ACD simulator's traffic files (a constant
//! `30s`, or `{exponential: 3m}`, `{lognormal: {mean: 3m, sd: 1m}}`,
//! `{uniform: [1m, 5m]}`, `{erlang: {k: 3, mean: 3m}}`).

use dialect_acd::sim::{Dist, Ms};
use serde::Deserialize;

/// A traffic file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrafficError {
    /// The YAML does not have the expected shape.
    #[error("{0}")]
    Yaml(#[from] serde_yaml::Error),
    /// The values do not make sense together.
    #[error("{0}")]
    Invalid(String),
}

/// Shares of dialled lines by what answers; what is left rings out (no answer).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerShares {
    /// A person answers.
    pub live: f64,
    /// An answering machine answers.
    #[serde(default)]
    pub machine: f64,
    /// A fax answers.
    #[serde(default)]
    pub fax: f64,
    /// The line is busy.
    #[serde(default)]
    pub busy: f64,
    /// The number does not exist.
    #[serde(default)]
    pub invalid: f64,
    /// The network fails the call (503).
    #[serde(default)]
    pub network_failure: f64,
}

/// A group of agents working the same hours.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// How many agents.
    pub agents: u32,
    /// When they log in, after the simulation's start.
    pub start: Ms,
    /// When they log out (after finishing a call in progress).
    pub end: Ms,
}

fn default_targets() -> u32 {
    100_000
}
fn default_tick() -> Ms {
    Ms(500)
}
fn default_busy_delay() -> Dist {
    Dist::Uniform(Ms(1_000), Ms(4_000))
}
fn default_machine_detect() -> Dist {
    Dist::Constant(Ms(3_000))
}
fn default_window() -> Ms {
    Ms(3_600_000)
}
fn default_start() -> String {
    "2026-12-07T15:00:00+08:00".into()
}

/// A parsed traffic file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Seed of the random numbers (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// The virtual start, RFC 3339 with an offset.
    #[serde(default = "default_start")]
    pub start: String,
    /// Synthetic numbers in the campaign's list.
    #[serde(default = "default_targets")]
    pub targets: u32,
    /// How often the pacer is asked.
    #[serde(default = "default_tick")]
    pub tick: Ms,
    /// What answers the calls.
    pub answer: AnswerShares,
    /// Dial to a person answering (and being recognised as one).
    pub live_delay: Dist,
    /// Dial to a machine or fax answering (default: as people).
    #[serde(default)]
    pub machine_delay: Option<Dist>,
    /// Dial to a busy, invalid or failed line's end.
    #[serde(default = "default_busy_delay")]
    pub busy_delay: Dist,
    /// A machine or fax: from answer to the detector's hang-up.
    #[serde(default = "default_machine_detect")]
    pub machine_detect: Dist,
    /// The detector's person→machine rate: such people are hung up on.
    #[serde(default)]
    pub amd_false_positive: f64,
    /// Talk time.
    pub talk: Dist,
    /// Wrap-up time.
    pub wrap_up: Dist,
    /// The window of the highest abandon rate reported.
    #[serde(default = "default_window")]
    pub window: Ms,
    /// Channels the campaign may use (default: the campaign's `max channels`, else unbounded).
    #[serde(default)]
    pub channels: Option<u32>,
    /// The agents and their hours.
    pub shifts: Vec<Shift>,
}

impl Traffic {
    /// Reads and checks a traffic file.
    pub fn parse(text: &str) -> Result<Traffic, TrafficError> {
        let t: Traffic = serde_yaml::from_str(text)?;
        t.validate()?;
        Ok(t)
    }

    /// The virtual start, Unix ms.
    pub fn start_ms(&self) -> Result<i64, TrafficError> {
        chrono::DateTime::parse_from_rfc3339(&self.start)
            .map(|d| d.timestamp_millis())
            .map_err(|e| {
                TrafficError::Invalid(format!(
                    "start `{}` is not a time such as 2026-12-07T15:00:00+08:00: {e}",
                    self.start
                ))
            })
    }

    /// The simulated length: until the last shift ends.
    pub fn length_ms(&self) -> i64 {
        self.shifts.iter().map(|s| s.end.0).max().unwrap_or(0)
    }

    fn validate(&self) -> Result<(), TrafficError> {
        let a = &self.answer;
        let shares = [
            a.live,
            a.machine,
            a.fax,
            a.busy,
            a.invalid,
            a.network_failure,
        ];
        if shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
            return Err(TrafficError::Invalid(
                "answer shares are fractions between 0 and 1 (0.30 for 30 %)".into(),
            ));
        }
        let sum: f64 = shares.iter().sum();
        if sum > 1.0 + 1e-9 {
            return Err(TrafficError::Invalid(format!(
                "the answer shares add up to {sum:.2}, more than 1"
            )));
        }
        if !(0.0..1.0).contains(&self.amd_false_positive) {
            return Err(TrafficError::Invalid(
                "amd_false_positive is a fraction below 1".into(),
            ));
        }
        if self.shifts.is_empty() || self.shifts.iter().all(|s| s.agents == 0) {
            return Err(TrafficError::Invalid(
                "shifts: at least one agent is needed".into(),
            ));
        }
        if let Some(s) = self.shifts.iter().find(|s| s.end <= s.start) {
            return Err(TrafficError::Invalid(format!(
                "a shift ends ({} ms) before it starts ({} ms)",
                s.end.0, s.start.0
            )));
        }
        if self.tick.0 <= 0 {
            return Err(TrafficError::Invalid("tick must be longer than 0".into()));
        }
        self.start_ms().map(|_| ())
    }
}
