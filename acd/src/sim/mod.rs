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
//! - this file: [`run`], the event loop driving the core.
//! - `traffic`: the traffic file ([`Traffic`]) and the readers of its text.
//! - `report`: [`SimReport`] and its text tables ([`table`]).
//! - [`dist`]: duration distributions.
//! - [`erlang`]: Erlang C and Erlang A, which the tests compare the simulator with.

pub mod dist;
pub mod erlang;
mod report;
mod traffic;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use dialect_compiler::Program;
use dialect_compiler::value::Value;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::stats::Aggregator;
use crate::{
    AcdConfig, AcdCore, AcdEvent, AcdToCall, AgentCommand, AgentDef, AgentId, CallId, DialKind,
    Effect, Input, OfferResult, QueuedCall,
};
pub use dist::{Dist, Ms};
pub use report::{AgentResult, ErrorSummary, QueueResult, SimReport, table};
use report::{ErrAcc, merge};
pub use traffic::{AgentGroup, Arrivals, Press, QueueTraffic, Segment, SimError, Traffic};
use traffic::{data_of, parse_clock, parse_start, rates_of};

const HALF_HOUR: i64 = 1_800_000;
const DAY: i64 = 86_400_000;

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
    /// The estimates told on arrival: the ACD's, the queue-length one, Asterisk's.
    estimate: Option<(Option<f64>, Option<f64>, f64)>,
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
        ewt_ql: Vec::new(),
        ewt_ast: Vec::new(),
        announcements: 0,
        callbacks: 0,
        events: 0,
    };
    let nq = sim.specs.len();
    sim.arrivals = vec![0; nq];
    sim.waited = vec![0; nq];
    sim.ewt_acd = vec![ErrAcc::default(); nq];
    sim.ewt_ql = vec![ErrAcc::default(); nq];
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
    ewt_ql: Vec<ErrAcc>,
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
            c.estimate = Some((e.acd_ms, e.queue_length_ms, e.asterisk_ms));
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
                    && let Some((acd, ql, ast)) = c.estimate
                {
                    let actual = (now - c.arrived) as f64;
                    let q = c.queue as usize;
                    if let Some(acd) = acd {
                        self.ewt_acd[q].add(acd, actual);
                    }
                    if let Some(ql) = ql {
                        self.ewt_ql[q].add(ql, actual);
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
        let mut total_ql = ErrAcc::default();
        let mut total_ast = ErrAcc::default();
        let mut queues = Vec::new();
        let (mut arr, mut wt) = (0u64, 0u64);
        for g in &rep.queues {
            let qi = self.queue_ix.get(&g.name).copied();
            let empty = ErrAcc::default();
            let (arrivals, waited, acd, ql, ast) = match qi {
                Some(q) => (
                    self.arrivals[q as usize],
                    self.waited[q as usize],
                    &self.ewt_acd[q as usize],
                    &self.ewt_ql[q as usize],
                    &self.ewt_ast[q as usize],
                ),
                None => (0, 0, &empty, &empty, &empty),
            };
            arr += arrivals;
            wt += waited;
            merge(&mut total_acd, acd);
            merge(&mut total_ql, ql);
            merge(&mut total_ast, ast);
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
                ewt_queue_length: ql.summary(),
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
            ewt_queue_length: total_ql.summary(),
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

#[cfg(test)]
mod tests;
