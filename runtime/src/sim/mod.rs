//! The contact-center simulator behind `dialect simulate`: the real [`AcdCore`]
//! driven by a discrete-event loop on virtual time (no sleeping, no threads).
//!
//! A traffic file (YAML, [`Traffic`]) gives arrivals per queue per half hour (or
//! a constant hourly rate), handle-time and patience distributions, optional call
//! data and key presses, and agents with skills and shifts. Callers arrive as a
//! Poisson process with the half-hour rate, wait in the project's queues under
//! their compiled rules, give up when their patience runs out, and are answered by
//! simulated agents after an answer delay (or not, with a no-answer probability);
//! callbacks are answered with a given probability. The output ([`SimReport`])
//! has, per queue and agent, service level, ASA, abandon rate and occupancy, the
//! probability of waiting, and the error of the ACD's wait estimate next to
//! Asterisk's.
//!
//! # Layout
//! - this file: the traffic file, the event loop, the report and its table.
//! - [`dist`]: duration distributions.
//! - [`erlang`]: Erlang C and Erlang A, which the tests compare the simulator with.

pub mod dist;
pub mod erlang;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;

use dialect_compiler::Program;
use dialect_compiler::value::Value;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::acd::stats::Aggregator;
use crate::acd::{
    AcdConfig, AcdCore, AcdEvent, AcdToCall, AgentCommand, AgentDef, AgentId, CallId, DialKind,
    Effect, Input, OfferResult, QueuedCall,
};
pub use dist::{Dist, Ms};

const HALF_HOUR: i64 = 1_800_000;
const DAY: i64 = 86_400_000;

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
    /// Call data fields.
    #[serde(default)]
    pub data: BTreeMap<String, serde_yaml::Value>,
    /// Trunk group.
    #[serde(default)]
    pub trunk: Option<String>,
}

/// Callers pressing a key while they wait.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Press {
    /// The key.
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
    /// How many.
    #[serde(default = "one")]
    pub count: u32,
    /// Skills and levels.
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

/// A traffic file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// When the simulation starts (RFC 3339, or a date for its midnight in UTC+8).
    #[serde(default = "default_start")]
    pub start: String,
    /// Days simulated.
    #[serde(default = "one")]
    pub days: u32,
    /// Random seed.
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
    /// Traffic by queue.
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

/// Error of a wait estimator over answered calls that had to wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ErrorSummary {
    /// Calls scored.
    pub samples: u64,
    /// Mean of estimate − actual wait, ms (bias).
    pub mean_error_ms: f64,
    /// Mean absolute error, ms.
    pub mae_ms: f64,
    /// Root mean square error, ms.
    pub rmse_ms: f64,
    /// Mean absolute error ÷ mean actual wait.
    pub relative_mae: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct ErrAcc {
    n: u64,
    sum: f64,
    abs: f64,
    sq: f64,
    actual: f64,
}

impl ErrAcc {
    fn add(&mut self, est: f64, actual: f64) {
        let e = est - actual;
        self.n += 1;
        self.sum += e;
        self.abs += e.abs();
        self.sq += e * e;
        self.actual += actual;
    }

    fn summary(&self) -> ErrorSummary {
        if self.n == 0 {
            return ErrorSummary::default();
        }
        let n = self.n as f64;
        ErrorSummary {
            samples: self.n,
            mean_error_ms: self.sum / n,
            mae_ms: self.abs / n,
            rmse_ms: (self.sq / n).sqrt(),
            relative_mae: if self.actual > 0.0 {
                self.abs / self.actual
            } else {
                0.0
            },
        }
    }
}

/// One queue's results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueResult {
    /// Queue.
    pub name: String,
    /// Calls that arrived here first.
    pub arrivals: u64,
    /// Stays offered (overflow arrivals included).
    pub offered: u64,
    /// Answered.
    pub answered: u64,
    /// Abandoned.
    pub abandoned: u64,
    /// Moved elsewhere (max wait, overflow, cancel key, closed).
    pub moved: u64,
    /// Share of arrivals that had to wait.
    pub p_wait: f64,
    /// Service level.
    pub service_level: f64,
    /// Threshold used, ms.
    pub threshold_ms: i64,
    /// Average speed of answer, ms.
    pub asa_ms: f64,
    /// Abandoned ÷ offered.
    pub abandon_rate: f64,
    /// Average handle time, ms.
    pub aht_ms: f64,
    /// Occupancy of the queue's agents.
    pub occupancy: Option<f64>,
    /// The ACD's wait estimate.
    pub ewt_acd: ErrorSummary,
    /// Asterisk's wait estimate.
    pub ewt_asterisk: ErrorSummary,
}

/// One agent's results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentResult {
    /// Agent.
    pub id: String,
    /// Calls handled.
    pub handled: u64,
    /// Average handle time, ms.
    pub aht_ms: f64,
    /// Occupancy.
    pub occupancy: Option<f64>,
    /// Time handling calls, ms.
    pub busy_ms: i64,
    /// Time ready and idle, ms.
    pub idle_ms: i64,
}

/// What a simulation found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SimReport {
    /// Start of the simulated period (RFC 3339).
    pub start: String,
    /// Days.
    pub days: u32,
    /// Calls generated.
    pub calls: u64,
    /// Events processed.
    pub events: u64,
    /// Agents.
    pub agents_count: usize,
    /// Announcements played.
    pub announcements: u64,
    /// Callbacks placed.
    pub callbacks: u64,
    /// Wall time, ms.
    pub wall_ms: f64,
    /// Simulated calls per second of wall time.
    pub calls_per_second: f64,
    /// All queues together.
    pub total: QueueResult,
    /// By queue.
    pub queues: Vec<QueueResult>,
    /// By agent.
    pub agents: Vec<AgentResult>,
}

/// Progress of a run, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Simulated time done, ms.
    pub done_ms: i64,
    /// Simulated time in all, ms.
    pub total_ms: i64,
    /// Calls so far.
    pub calls: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Arrival(u32),
    Tick,
    Answer {
        call: CallId,
        agent: u32,
        token: u64,
    },
    End(CallId),
    Abandon(CallId),
    Press(CallId),
    Dialled {
        call: CallId,
        answered: bool,
    },
    ShiftStart(u32),
    ShiftEnd(u32),
}

struct SimCall {
    queue: u32,
    arrived: i64,
    counted: bool,
    estimate: Option<(Option<f64>, f64)>,
    on_line: bool,
    connected: bool,
    done: bool,
    /// Left its first queue (overflow, transfer) or chose a callback: its wait is
    /// not what the first estimate was about.
    diverted: bool,
}

struct SimAgent {
    id: AgentId,
    answer_delay: Option<Dist>,
    no_answer: f64,
}

/// A share of callers: fraction, call data, trunk.
type MixShare = (f64, Vec<(String, Value)>, Option<String>);

struct QueueSpec {
    name: String,
    rates: [f64; 48],
    t: QueueTraffic,
    data: Vec<(String, Value)>,
    mix: Vec<MixShare>,
}

fn yaml_value(v: &serde_yaml::Value) -> Option<Value> {
    match v {
        serde_yaml::Value::Bool(b) => Some(Value::Bool(*b)),
        serde_yaml::Value::Number(n) => n.as_f64().map(Value::Number),
        serde_yaml::Value::String(s) => Some(Value::Text(s.clone())),
        _ => None,
    }
}

fn data_of(m: &BTreeMap<String, serde_yaml::Value>) -> Result<Vec<(String, Value)>, SimError> {
    m.iter()
        .map(|(k, v)| {
            yaml_value(v).map(|v| (k.clone(), v)).ok_or_else(|| {
                SimError::Traffic(format!("data `{k}`: use a number, text or true/false"))
            })
        })
        .collect()
}

fn parse_clock(s: &str) -> Result<i64, SimError> {
    dialect_lang::literal::parse_clock(s.trim())
        .map(|secs| i64::from(secs) * 1000)
        .ok_or_else(|| SimError::Traffic(format!("`{s}` is not a time such as 08:30")))
}

fn parse_start(s: &str) -> Result<(i64, i64), SimError> {
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

fn rates_of(name: &str, t: &QueueTraffic) -> Result<[f64; 48], SimError> {
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

/// Runs a simulation of `traffic` on the project's queues.
pub fn run(
    program: &Program,
    traffic: &Traffic,
    config: AcdConfig,
    progress: Option<&mut dyn FnMut(Progress)>,
) -> Result<SimReport, SimError> {
    let wall = std::time::Instant::now();
    let (start, origin) = parse_start(&traffic.start)?;
    let ir = program.ir();
    let mut specs = Vec::new();
    for (name, t) in &traffic.queues {
        if !ir.queues.iter().any(|q| q.name == *name) {
            let known: Vec<&str> = ir.queues.iter().map(|q| q.name.as_str()).collect();
            return Err(SimError::Traffic(format!(
                "there is no queue {name} in the project (it has {})",
                known.join(", ")
            )));
        }
        let mut mix = Vec::new();
        for s in &t.mix {
            mix.push((s.share, data_of(&s.data)?, s.trunk.clone()));
        }
        specs.push(QueueSpec {
            name: name.clone(),
            rates: rates_of(name, t)?,
            t: t.clone(),
            data: data_of(&t.data)?,
            mix,
        });
    }
    // Agents and their shifts.
    let mut defs = Vec::new();
    let mut agents = Vec::new();
    let mut shifts: Vec<Vec<(i64, i64)>> = Vec::new();
    let groups: Vec<AgentGroup> = if traffic.agents.is_empty() {
        ir.agents
            .iter()
            .map(|a| AgentGroup {
                id: Some(a.id.clone()),
                name: None,
                count: 1,
                skills: a.skills.iter().cloned().collect(),
                shifts: Vec::new(),
                answer_delay: None,
                no_answer: 0.0,
            })
            .collect()
    } else {
        traffic.agents.clone()
    };
    for (gi, g) in groups.iter().enumerate() {
        let mut sh = Vec::new();
        for s in &g.shifts {
            let (a, b) = s.split_once('-').ok_or_else(|| {
                SimError::Traffic(format!("shift `{s}`: write it as 08:00-17:00"))
            })?;
            let (a, b) = (parse_clock(a)?, parse_clock(b)?);
            sh.push((a, if b <= a { b + DAY } else { b }));
        }
        if sh.is_empty() {
            sh.push((0, DAY));
        }
        for i in 0..g.count {
            let id = match (&g.id, &g.name) {
                (Some(id), _) if g.count == 1 => id.clone(),
                (Some(id), _) => format!("{id}-{:03}", i + 1),
                (None, Some(n)) => format!("{n}-{:03}", i + 1),
                (None, None) => format!("agent{gi}-{:03}", i + 1),
            };
            defs.push(AgentDef {
                id: id.clone(),
                name: String::new(),
                skills: g.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                auto_answer: false,
            });
            agents.push(SimAgent {
                id: AgentId::from(id.as_str()),
                answer_delay: g.answer_delay,
                no_answer: g.no_answer.clamp(0.0, 1.0),
            });
            shifts.push(sh.clone());
        }
    }
    let agent_ix: HashMap<AgentId, u32> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.clone(), i as u32))
        .collect();
    let days = traffic.days.max(1);
    let end = start + i64::from(days) * DAY;
    let from = start + traffic.warmup.map(|m| m.0).unwrap_or(0);
    let hard_end = end + traffic.drain.map(|m| m.0).unwrap_or(4 * 3_600_000);
    let mut sim = Sim {
        core: AcdCore::new(config, program.clone(), defs.clone(), start),
        rng: StdRng::seed_from_u64(traffic.seed),
        heap: BinaryHeap::new(),
        seq: 0,
        calls: HashMap::new(),
        offers: HashMap::new(),
        token: 0,
        agents,
        agent_ix,
        specs,
        queue_ix: HashMap::new(),
        agg: Aggregator::new(from, end, traffic.threshold.map(|m| m.0)),
        out: Vec::new(),
        ticks: std::collections::HashSet::new(),
        from,
        end,
        origin,
        next_call: 1,
        callback_answer: traffic.callback_answer.clamp(0.0, 1.0),
        arrivals: Vec::new(),
        waited: Vec::new(),
        ewt_acd: Vec::new(),
        ewt_ast: Vec::new(),
        announcements: 0,
        callbacks: 0,
        events: 0,
    };
    let nq = sim.specs.len();
    sim.arrivals = vec![0; nq];
    sim.waited = vec![0; nq];
    sim.ewt_acd = vec![ErrAcc::default(); nq];
    sim.ewt_ast = vec![ErrAcc::default(); nq];
    for (i, s) in sim.specs.iter().enumerate() {
        sim.queue_ix.insert(s.name.clone(), i as u32);
    }
    for q in 0..nq as u32 {
        if let Some(t) = sim.next_arrival(q, start) {
            sim.push(t, Ev::Arrival(q));
        }
    }
    for (a, sh) in shifts.iter().enumerate() {
        for d in 0..i64::from(days) {
            for (s, e) in sh {
                let day0 = origin + d * DAY;
                let (s, e) = (day0 + s, day0 + e);
                if e <= start || s >= end {
                    continue;
                }
                sim.push(s.max(start), Ev::ShiftStart(a as u32));
                sim.push(e.min(end), Ev::ShiftEnd(a as u32));
            }
        }
    }
    let mut progress = progress;
    while let Some(Reverse((t, _, ev))) = sim.heap.pop() {
        if t > hard_end {
            break;
        }
        sim.events += 1;
        sim.step(t, ev);
        if sim.events.is_multiple_of(65_536)
            && let Some(p) = progress.as_deref_mut()
        {
            p(Progress {
                done_ms: (t - start).min(end - start),
                total_ms: end - start,
                calls: sim.next_call - 1,
            });
        }
    }
    if let Some(p) = progress {
        p(Progress {
            done_ms: end - start,
            total_ms: end - start,
            calls: sim.next_call - 1,
        });
    }
    Ok(sim.report(traffic, &groups, &defs, start, wall))
}

struct Sim {
    core: AcdCore,
    rng: StdRng,
    heap: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    seq: u64,
    calls: HashMap<CallId, SimCall>,
    offers: HashMap<(CallId, u32), u64>,
    token: u64,
    agents: Vec<SimAgent>,
    agent_ix: HashMap<AgentId, u32>,
    specs: Vec<QueueSpec>,
    queue_ix: HashMap<String, u32>,
    agg: Aggregator,
    out: Vec<Effect>,
    ticks: std::collections::HashSet<i64>,
    from: i64,
    end: i64,
    origin: i64,
    next_call: u64,
    callback_answer: f64,
    arrivals: Vec<u64>,
    waited: Vec<u64>,
    ewt_acd: Vec<ErrAcc>,
    ewt_ast: Vec<ErrAcc>,
    announcements: u64,
    callbacks: u64,
    events: u64,
}

impl Sim {
    fn push(&mut self, t: i64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((t, self.seq, ev)));
    }

    /// The next arrival of queue `q` after `t` (Poisson with the half-hour rate).
    fn next_arrival(&mut self, q: u32, mut t: i64) -> Option<i64> {
        for _ in 0..(48 * 400) {
            if t >= self.end {
                return None;
            }
            let rel = (t - self.origin).rem_euclid(DAY);
            let slot = (rel / HALF_HOUR) as usize;
            let boundary = t - rel % HALF_HOUR + HALF_HOUR;
            let per_ms = self.specs[q as usize].rates[slot] / HALF_HOUR as f64;
            if per_ms <= 0.0 {
                t = boundary;
                continue;
            }
            let dt = dist::exp(&mut self.rng, 1.0 / per_ms);
            let next = t as f64 + dt;
            if next < boundary as f64 {
                return Some((next.ceil() as i64).max(t));
            }
            t = boundary;
        }
        None
    }

    fn step(&mut self, now: i64, ev: Ev) {
        match ev {
            Ev::Arrival(q) => {
                if let Some(t) = self.next_arrival(q, now + 1) {
                    self.push(t, Ev::Arrival(q));
                }
                self.arrive(q, now);
            }
            Ev::Tick => {
                self.ticks.remove(&now);
                self.core.handle(now, Input::Tick, &mut self.out);
            }
            Ev::Answer { call, agent, token } => {
                if self.offers.get(&(call, agent)) == Some(&token) {
                    self.offers.remove(&(call, agent));
                    let id = self.agents[agent as usize].id.to_string();
                    self.core.handle(
                        now,
                        Input::OfferResult {
                            call,
                            agent: id,
                            result: OfferResult::Answered,
                        },
                        &mut self.out,
                    );
                }
            }
            Ev::End(call) => {
                self.core.handle(
                    now,
                    Input::CallEnded {
                        call,
                        talk_ms: None,
                    },
                    &mut self.out,
                );
                self.calls.remove(&call);
            }
            Ev::Abandon(call) => {
                let live = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.on_line && !c.connected && !c.done);
                if live {
                    self.core
                        .handle(now, Input::CallerGone { call }, &mut self.out);
                    self.calls.remove(&call);
                    self.offers.retain(|(c, _), _| *c != call);
                }
            }
            Ev::Press(call) => {
                let live = self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.on_line && !c.connected && !c.done);
                if live && let Some(p) = self.press_key(call) {
                    self.core
                        .handle(now, Input::CallerKey { call, key: p }, &mut self.out);
                }
            }
            Ev::Dialled { call, answered } => {
                let input = if answered {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.on_line = true;
                    }
                    Input::DialAnswered { call }
                } else {
                    Input::DialFailed {
                        call,
                        reason: "no answer".into(),
                    }
                };
                self.core.handle(now, input, &mut self.out);
            }
            Ev::ShiftStart(a) => {
                let id = self.agents[a as usize].id.to_string();
                let _ = self
                    .core
                    .command(now, &id, AgentCommand::SignIn, "sim", &mut self.out);
                let _ = self
                    .core
                    .command(now, &id, AgentCommand::Ready, "sim", &mut self.out);
            }
            Ev::ShiftEnd(a) => {
                let id = self.agents[a as usize].id.to_string();
                let _ = self
                    .core
                    .command(now, &id, AgentCommand::SignOut, "sim", &mut self.out);
            }
        }
        self.apply(now);
    }

    fn press_key(&self, call: CallId) -> Option<char> {
        let q = self.calls.get(&call)?.queue;
        self.specs[q as usize].t.press.as_ref().map(|p| p.key)
    }

    fn arrive(&mut self, q: u32, now: i64) {
        let id = self.next_call;
        self.next_call += 1;
        let spec = &self.specs[q as usize];
        let mut qc = QueuedCall::new(id, &spec.name, "", now);
        qc.caller = format!("1390000{id:06}");
        qc.trunk = spec.t.trunk.clone();
        qc.data = spec.data.clone();
        let u: f64 = self.rng.random();
        let mut acc = 0.0;
        for (share, data, trunk) in &spec.mix {
            acc += share;
            if u < acc {
                for (k, v) in data {
                    match qc.data.iter_mut().find(|(n, _)| n == k) {
                        Some(e) => e.1 = v.clone(),
                        None => qc.data.push((k.clone(), v.clone())),
                    }
                }
                if let Some(t) = trunk {
                    qc.trunk = t.clone();
                }
                break;
            }
        }
        let patience = spec.t.patience;
        let press = spec.t.press.clone();
        let counted = now >= self.from;
        self.calls.insert(
            id,
            SimCall {
                queue: q,
                arrived: now,
                counted,
                estimate: None,
                on_line: true,
                connected: false,
                done: false,
                diverted: false,
            },
        );
        self.core.handle(now, Input::Enqueue(qc), &mut self.out);
        let est = self.core.estimate(id, now).filter(|e| e.position > 0);
        if counted {
            self.arrivals[q as usize] += 1;
            if est.is_some() {
                self.waited[q as usize] += 1;
            }
        }
        if let (Some(e), Some(c)) = (est, self.calls.get_mut(&id)) {
            c.estimate = Some((e.acd_ms, e.asterisk_ms));
        }
        if let Some(p) = patience {
            let t = now + p.sample(&mut self.rng);
            self.push(t, Ev::Abandon(id));
        }
        if let Some(p) = press
            && self.rng.random::<f64>() < p.share
        {
            let t = now + p.after.sample(&mut self.rng);
            self.push(t, Ev::Press(id));
        }
    }

    fn apply(&mut self, now: i64) {
        let effects = std::mem::take(&mut self.out);
        for e in effects {
            match e {
                Effect::ToCall(call, msg) => self.send_to_call(call, msg, now),
                Effect::Dial(order) => {
                    if order.kind == DialKind::Callback {
                        self.callbacks += 1;
                        let answered = self.rng.random::<f64>() < self.callback_answer;
                        let delay = if answered {
                            5_000 + (self.rng.random::<f64>() * 15_000.0) as i64
                        } else {
                            order.ring_ms
                        };
                        self.push(
                            now + delay,
                            Ev::Dialled {
                                call: order.call,
                                answered,
                            },
                        );
                    }
                }
                Effect::Event(ev) => self.event(ev),
                // The simulated dial reports by itself (`Ev::Dialled`); a late one
                // finds the call no longer dialling and is ignored.
                Effect::DialGivenUp(_) => {}
                Effect::WakeAt(t) => {
                    if self.ticks.insert(t) {
                        self.push(t, Ev::Tick);
                    }
                }
            }
        }
        self.out = Vec::new();
    }

    fn send_to_call(&mut self, call: CallId, msg: AcdToCall, now: i64) {
        match msg {
            AcdToCall::Offer { agent, .. } => {
                let Some(&a) = self.agent_ix.get(&agent) else {
                    return;
                };
                let sa = &self.agents[a as usize];
                if sa.no_answer > 0.0 && self.rng.random::<f64>() < sa.no_answer {
                    return;
                }
                let delay = sa
                    .answer_delay
                    .map(|d| d.sample(&mut self.rng))
                    .unwrap_or(0);
                self.token += 1;
                self.offers.insert((call, a), self.token);
                self.push(
                    now + delay,
                    Ev::Answer {
                        call,
                        agent: a,
                        token: self.token,
                    },
                );
            }
            AcdToCall::CancelOffer { agent } => {
                if let Some(&a) = self.agent_ix.get(&agent) {
                    self.offers.remove(&(call, a));
                }
            }
            AcdToCall::Bridge { .. } => {
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.connected = true;
                if c.counted
                    && !c.diverted
                    && let Some((acd, ast)) = c.estimate
                {
                    let actual = (now - c.arrived) as f64;
                    let q = c.queue as usize;
                    if let Some(acd) = acd {
                        self.ewt_acd[q].add(acd, actual);
                    }
                    self.ewt_ast[q].add(ast, actual);
                }
                let d = self.specs[c.queue as usize].t.handle_time;
                let t = now + d.sample(&mut self.rng);
                self.push(t, Ev::End(call));
            }
            AcdToCall::Move { .. }
            | AcdToCall::Unavailable { .. }
            | AcdToCall::TransferNumber { .. } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.done = true;
                }
                self.calls.remove(&call);
            }
            AcdToCall::CallbackAccepted { .. } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.on_line = false;
                    c.diverted = true;
                }
            }
            AcdToCall::Queued { queue, .. } => {
                if let Some(c) = self.calls.get_mut(&call)
                    && self.specs[c.queue as usize].name != queue
                {
                    c.diverted = true;
                }
            }
            AcdToCall::Announce(_) => self.announcements += 1,
            _ => {}
        }
    }

    fn event(&mut self, ev: AcdEvent) {
        match ev {
            AcdEvent::Record(r) => {
                let sl = self
                    .core
                    .queue_view_named(&r.queue, r.left_ms)
                    .map(|q| q.service_level_ms)
                    .unwrap_or(20_000);
                self.agg.add_record(&r, sl);
            }
            AcdEvent::AgentState(c) => self.agg.add_state(&c),
            _ => {}
        }
    }

    fn report(
        self,
        traffic: &Traffic,
        groups: &[AgentGroup],
        defs: &[AgentDef],
        start: i64,
        wall: std::time::Instant,
    ) -> SimReport {
        let _ = groups;
        let mut agent_skills = HashMap::new();
        let mut queue_agents: HashMap<String, Vec<String>> = HashMap::new();
        for v in self.core.agent_views(self.end) {
            agent_skills.insert(
                v.id.clone(),
                v.skills.iter().map(|(s, _)| s.clone()).collect(),
            );
            for q in &v.queues {
                queue_agents
                    .entry(q.clone())
                    .or_default()
                    .push(v.id.clone());
            }
        }
        let thresholds: HashMap<String, i64> = self
            .core
            .queue_views(self.end, false)
            .into_iter()
            .map(|q| (q.name, q.service_level_ms))
            .collect();
        let rep = self.agg.finish(self.end, &agent_skills, &queue_agents);
        let mut total_acd = ErrAcc::default();
        let mut total_ast = ErrAcc::default();
        let mut queues = Vec::new();
        let (mut arr, mut wt) = (0u64, 0u64);
        for g in &rep.queues {
            let qi = self.queue_ix.get(&g.name).copied();
            let (arrivals, waited, acd, ast) = match qi {
                Some(q) => (
                    self.arrivals[q as usize],
                    self.waited[q as usize],
                    self.ewt_acd[q as usize],
                    self.ewt_ast[q as usize],
                ),
                None => (0, 0, ErrAcc::default(), ErrAcc::default()),
            };
            arr += arrivals;
            wt += waited;
            merge(&mut total_acd, &acd);
            merge(&mut total_ast, &ast);
            queues.push(QueueResult {
                name: g.name.clone(),
                arrivals,
                offered: g.offered,
                answered: g.answered,
                abandoned: g.abandoned,
                moved: g.moved,
                p_wait: if arrivals > 0 {
                    waited as f64 / arrivals as f64
                } else {
                    0.0
                },
                service_level: g.service_level,
                threshold_ms: traffic
                    .threshold
                    .map(|m| m.0)
                    .unwrap_or_else(|| thresholds.get(&g.name).copied().unwrap_or(20_000)),
                asa_ms: g.asa_ms,
                abandon_rate: g.abandon_rate,
                aht_ms: g.aht_ms,
                occupancy: g.occupancy,
                ewt_acd: acd.summary(),
                ewt_asterisk: ast.summary(),
            });
        }
        let t = &rep.total;
        let total = QueueResult {
            name: "total".into(),
            arrivals: arr,
            offered: t.offered,
            answered: t.answered,
            abandoned: t.abandoned,
            moved: t.moved,
            p_wait: if arr > 0 { wt as f64 / arr as f64 } else { 0.0 },
            service_level: t.service_level,
            threshold_ms: traffic.threshold.map(|m| m.0).unwrap_or(0),
            asa_ms: t.asa_ms,
            abandon_rate: t.abandon_rate,
            aht_ms: t.aht_ms,
            occupancy: t.occupancy,
            ewt_acd: total_acd.summary(),
            ewt_asterisk: total_ast.summary(),
        };
        let agents = rep
            .agents
            .iter()
            .map(|g| AgentResult {
                id: g.name.clone(),
                handled: g.handled,
                aht_ms: g.aht_ms,
                occupancy: g.occupancy,
                busy_ms: g.busy_ms,
                idle_ms: g.idle_ms,
            })
            .collect();
        let wall_ms = wall.elapsed().as_secs_f64() * 1000.0;
        let calls = self.next_call - 1;
        SimReport {
            start: chrono::DateTime::from_timestamp_millis(start)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            days: traffic.days.max(1),
            calls,
            events: self.events,
            agents_count: defs.len(),
            announcements: self.announcements,
            callbacks: self.callbacks,
            wall_ms,
            calls_per_second: if wall_ms > 0.0 {
                calls as f64 / (wall_ms / 1000.0)
            } else {
                0.0
            },
            total,
            queues,
            agents,
        }
    }
}

fn merge(a: &mut ErrAcc, b: &ErrAcc) {
    a.n += b.n;
    a.sum += b.sum;
    a.abs += b.abs;
    a.sq += b.sq;
    a.actual += b.actual;
}

fn secs(ms: f64) -> String {
    format!("{:.1}s", ms / 1000.0)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The report as text tables.
pub fn table(r: &SimReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} day(s) from {}: {} calls, {} agents, {} events in {:.2} s ({:.0} calls/s)",
        r.days,
        r.start,
        r.calls,
        r.agents_count,
        r.events,
        r.wall_ms / 1000.0,
        r.calls_per_second
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<14} {:>8} {:>8} {:>8} {:>6} {:>7} {:>8} {:>7} {:>8} {:>8} {:>6}",
        "queue",
        "offered",
        "answered",
        "abandon",
        "moved",
        "P(wait)",
        "SL",
        "ASA",
        "AHT",
        "aband%",
        "occ"
    );
    for q in r.queues.iter().chain(std::iter::once(&r.total)) {
        let _ = writeln!(
            s,
            "{:<14} {:>8} {:>8} {:>8} {:>6} {:>7} {:>8} {:>7} {:>8} {:>8} {:>6}",
            q.name,
            q.offered,
            q.answered,
            q.abandoned,
            q.moved,
            pct(q.p_wait),
            format!("{}@{}", pct(q.service_level), secs(q.threshold_ms as f64)),
            secs(q.asa_ms),
            secs(q.aht_ms),
            pct(q.abandon_rate),
            q.occupancy.map(pct).unwrap_or_else(|| "-".into())
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "estimated wait error (answered calls that waited; estimate at arrival - actual):"
    );
    let _ = writeln!(
        s,
        "{:<14} {:<9} {:>8} {:>10} {:>9} {:>9} {:>8}",
        "queue", "estimator", "samples", "bias", "MAE", "RMSE", "rel.MAE"
    );
    for q in r.queues.iter().chain(std::iter::once(&r.total)) {
        for (name, e) in [("acd", &q.ewt_acd), ("asterisk", &q.ewt_asterisk)] {
            let _ = writeln!(
                s,
                "{:<14} {:<9} {:>8} {:>10} {:>9} {:>9} {:>8}",
                q.name,
                name,
                e.samples,
                secs(e.mean_error_ms),
                secs(e.mae_ms),
                secs(e.rmse_ms),
                pct(e.relative_mae)
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<16} {:>8} {:>8} {:>6}",
        "agent", "handled", "AHT", "occ"
    );
    for a in &r.agents {
        let _ = writeln!(
            s,
            "{:<16} {:>8} {:>8} {:>6}",
            a.id,
            a.handled,
            secs(a.aht_ms),
            a.occupancy.map(pct).unwrap_or_else(|| "-".into())
        );
    }
    s
}

#[cfg(test)]
#[path = "sim_tests.rs"]
mod tests;
