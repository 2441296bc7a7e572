//! The traffic file of `dialect simulate` ([`Traffic`]): arrivals per queue
//! per half hour, handle times and patience, call data and key presses, and the
//! agents with their skills and shifts; and the readers that turn its text
//! (call data, clock times, the start, the arrival rates) into what the event
//! loop uses.

use std::collections::BTreeMap;

use dialect_compiler::value::Value;
use serde::Deserialize;

use super::{DAY, Dist, HALF_HOUR, Ms};

/// A problem with the traffic file or the project.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The traffic file is not valid.
    #[error("{0}")]
    Traffic(String),
}

/// Arrivals of a queue: 48 numbers (calls per half hour from 00:00) or a map from
/// the half hour's start (`"08:00"`) to calls in it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Arrivals {
    /// Calls per half hour, from 00:00.
    List(Vec<f64>),
    /// Half-hour start to calls.
    Map(BTreeMap<String, f64>),
}

/// A share of callers with their own call data or trunk.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Fraction of the queue's callers (the rest get the queue's defaults).
    pub share: f64,
    /// Call data of these callers, over the queue's (numbers, text or true/false).
    #[serde(default)]
    pub data: BTreeMap<String, serde_yaml::Value>,
    /// The trunk group they come in on, instead of the queue's.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// Callers pressing a key while they wait.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Press {
    /// The key pressed (the queue's `key` rules say what it does).
    pub key: char,
    /// When, after arriving.
    pub after: Dist,
    /// Fraction of callers who do (if still waiting then).
    pub share: f64,
}

/// Traffic into one queue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueTraffic {
    /// Calls per half hour.
    #[serde(default)]
    pub arrivals: Option<Arrivals>,
    /// Or a constant rate all day.
    #[serde(default)]
    pub calls_per_hour: Option<f64>,
    /// Talk time (wrap-up comes from the queue's `wrap up`).
    pub handle_time: Dist,
    /// How long callers wait before hanging up (none: they never do).
    #[serde(default)]
    pub patience: Option<Dist>,
    /// Trunk group of the calls.
    #[serde(default)]
    pub trunk: String,
    /// Call data of the calls (`level: 3`).
    #[serde(default)]
    pub data: BTreeMap<String, serde_yaml::Value>,
    /// Shares of callers with other data or trunk.
    #[serde(default)]
    pub mix: Vec<Segment>,
    /// Key presses while waiting.
    #[serde(default)]
    pub press: Option<Press>,
}

/// A group of identical agents (or one agent, with `id`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentGroup {
    /// One agent's id.
    #[serde(default)]
    pub id: Option<String>,
    /// Prefix of the group's ids (`billing` gives billing-001...).
    #[serde(default)]
    pub name: Option<String>,
    /// How many agents the group has.
    #[serde(default = "one")]
    pub count: u32,
    /// The level (1 and up) of every agent of the group in each skill.
    #[serde(default)]
    pub skills: BTreeMap<String, u32>,
    /// Working hours every day (`08:00-12:00`); none: all day.
    #[serde(default)]
    pub shifts: Vec<String>,
    /// Time to answer an offered call.
    #[serde(default)]
    pub answer_delay: Option<Dist>,
    /// Probability of not answering an offer.
    #[serde(default)]
    pub no_answer: f64,
}

fn one() -> u32 {
    1
}

fn default_start() -> String {
    "2026-03-02T00:00:00+08:00".into()
}

fn default_callback_answer() -> f64 {
    0.8
}

/// A traffic file (YAML): the day or days of traffic `dialect simulate` runs on the
/// project's queues.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// When the simulation starts (RFC 3339, or a date for its midnight in UTC+8).
    #[serde(default = "default_start")]
    pub start: String,
    /// Days simulated from `start` (at least one).
    #[serde(default = "one")]
    pub days: u32,
    /// Seed of the random numbers: the same file and seed give the same run.
    #[serde(default)]
    pub seed: u64,
    /// Service-level threshold of the report (default: each queue's own).
    #[serde(default)]
    pub threshold: Option<Ms>,
    /// Time at the start not counted in the report (let the queues fill).
    #[serde(default)]
    pub warmup: Option<Ms>,
    /// Time after the end for calls in progress to finish.
    #[serde(default)]
    pub drain: Option<Ms>,
    /// Probability that a customer answers a callback.
    #[serde(default = "default_callback_answer")]
    pub callback_answer: f64,
    /// Each queue's traffic, by the queue's name in the project.
    pub queues: BTreeMap<String, QueueTraffic>,
    /// Agents (none: the project's agents, all day).
    #[serde(default)]
    pub agents: Vec<AgentGroup>,
}

impl Traffic {
    /// Reads a traffic file's text.
    pub fn parse(text: &str) -> Result<Traffic, SimError> {
        serde_yaml::from_str(text).map_err(|e| SimError::Traffic(e.to_string()))
    }
}

pub(super) fn yaml_value(v: &serde_yaml::Value) -> Option<Value> {
    match v {
        serde_yaml::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_yaml::Value::Number(n) => n.as_f64().map(Value::Number),
        serde_yaml::Value::String(s) => Some(Value::Text(s.clone())),
        _ => None,
    }
}

pub(super) fn data_of(
    m: &BTreeMap<String, serde_yaml::Value>,
) -> Result<Vec<(String, Value)>, SimError> {
    m.iter()
        .map(|(k, v)| {
            yaml_value(v).map(|v| (k.clone(), v)).ok_or_else(|| {
                SimError::Traffic(format!("data `{k}`: use a number, text or true/false"))
            })
        })
        .collect()
}

pub(super) fn parse_clock(s: &str) -> Result<i64, SimError> {
    dialect_lang::literal::parse_clock(s.trim())
        .map(|secs| i64::from(secs) * 1000)
        .ok_or_else(|| SimError::Traffic(format!("`{s}` is not a time such as 08:30")))
}

pub(super) fn parse_start(s: &str) -> Result<(i64, i64), SimError> {
    // Returns (start ms, local midnight of the start day, ms).
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        let off = i64::from(t.offset().local_minus_utc()) * 1000;
        let ms = t.timestamp_millis();
        let local = ms + off;
        let midnight = local - local.rem_euclid(DAY) - off;
        return Ok((ms, midnight));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let off = 8 * 3_600_000;
        let ms = d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis() - off)
            .unwrap_or(0);
        return Ok((ms, ms));
    }
    Err(SimError::Traffic(format!(
        "start: `{s}` is not a date (2026-03-02) or an RFC 3339 time"
    )))
}

pub(super) fn rates_of(name: &str, t: &QueueTraffic) -> Result<[f64; 48], SimError> {
    let mut r = [0.0; 48];
    match (&t.arrivals, t.calls_per_hour) {
        (Some(Arrivals::List(v)), None) => {
            if v.len() != 48 {
                return Err(SimError::Traffic(format!(
                    "queue {name}: arrivals has {} numbers; give 48 (one per half hour) or a map",
                    v.len()
                )));
            }
            r.copy_from_slice(v);
        }
        (Some(Arrivals::Map(m)), None) => {
            for (k, v) in m {
                let slot = parse_clock(k)? / HALF_HOUR;
                if slot >= 48 || parse_clock(k)? % HALF_HOUR != 0 {
                    return Err(SimError::Traffic(format!(
                        "queue {name}: `{k}` does not start a half hour"
                    )));
                }
                r[slot as usize] = *v;
            }
        }
        (None, Some(per_hour)) => r = [per_hour / 2.0; 48],
        (None, None) => {
            return Err(SimError::Traffic(format!(
                "queue {name}: give arrivals (per half hour) or calls_per_hour"
            )));
        }
        (Some(_), Some(_)) => {
            return Err(SimError::Traffic(format!(
                "queue {name}: give arrivals or calls_per_hour, not both"
            )));
        }
    }
    if r.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(SimError::Traffic(format!(
            "queue {name}: arrivals must be >= 0"
        )));
    }
    Ok(r)
}
