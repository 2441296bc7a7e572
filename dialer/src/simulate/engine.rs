//! One simulated run of one pacing mode: discrete events on virtual time. The
//! campaign's real [`Rules`] choose and update targets, the real [`Pacer`]
//! decides the lines at every tick, and a measuring [`AbandonLedger`] counts
//! the truth (including people the detector hung up on) over the windows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::abandon::{AbandonConfig, AbandonLedger, Answer};
use crate::outcome::CallOutcome;
use crate::pacing::{PaceEvent, PaceSnapshot, Pacer, PacingConfig};
use crate::rules::Rules;
use crate::simulate::report::ModeResult;
use crate::simulate::traffic::Traffic;
use crate::target::{Target, TargetState};

/// What a dialled line will turn out to be, drawn when it is dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Person,
    /// A person the detector takes for a machine.
    MisclassifiedPerson,
    Machine,
    Fax,
    Busy,
    Invalid,
    NetworkFailure,
    NoAnswer,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    target: usize,
    dialled_ms: i64,
    fate: Fate,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AgentState {
    Off,
    Ready { since: i64 },
    Talking { since: i64, target: usize },
    WrapUp { since: i64, until: i64 },
}

#[derive(Debug, Clone, Copy)]
struct Agent {
    state: AgentState,
    /// The shift ended: log out after the call in hand.
    leaving: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Tick,
    ShiftStart(usize),
    ShiftEnd(usize),
    /// A line reaches its fate (answer or end).
    LineDone(usize),
    /// A person answered: the moment their wait for an agent ends.
    Deadline(u64),
    TalkEnd(usize),
    WrapEnd(usize),
}

/// A person answered and waiting for an agent.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    id: u64,
    target: usize,
}

struct Sim<'a> {
    traffic: &'a Traffic,
    rules: &'a Rules,
    ring_ms: i64,
    deadline_ms: i64,
    channels: u32,
    rng: StdRng,
    now: i64,
    seq: u64,
    events: BinaryHeap<Reverse<(i64, u64, Ev)>>,
    pacer: Pacer,
    truth: AbandonLedger,
    window_ms: i64,
    max_window_rate: f64,
    targets: Vec<Target>,
    next_fresh: usize,
    retries: BinaryHeap<Reverse<(i64, usize)>>,
    lines: Vec<Option<Line>>,
    free_lines: Vec<usize>,
    ringing: u32,
    waiting: VecDeque<Waiting>,
    next_waiting_id: u64,
    agents: Vec<Agent>,
    shift_agents: Vec<(usize, usize)>,
    ready: VecDeque<usize>,
    snapshot: PaceSnapshot,
    // Counters.
    dials: u64,
    connected: u64,
    talk_ms: i64,
    ready_ms: i64,
    level_sum: f64,
    ticks: u64,
}

impl Sim<'_> {
    fn at(&mut self, t: i64, ev: Ev) {
        self.seq += 1;
        self.events.push(Reverse((t, self.seq, ev)));
    }

    fn sample(&mut self, d: dialect_acd::sim::Dist) -> i64 {
        d.sample(&mut self.rng)
    }

    fn draw_fate(&mut self) -> Fate {
        let a = &self.traffic.answer;
        let mut u: f64 = self.rng.random();
        for (share, fate) in [
            (a.live, Fate::Person),
            (a.machine, Fate::Machine),
            (a.fax, Fate::Fax),
            (a.busy, Fate::Busy),
            (a.invalid, Fate::Invalid),
            (a.network_failure, Fate::NetworkFailure),
        ] {
            if u < share {
                if fate == Fate::Person
                    && self.rng.random::<f64>() < self.traffic.amd_false_positive
                {
                    return Fate::MisclassifiedPerson;
                }
                return fate;
            }
            u -= share;
        }
        Fate::NoAnswer
    }

    /// The next target the rules allow now, claimed; `None` when none is dialable.
    fn claim_target(&mut self) -> Option<usize> {
        while let Some(&Reverse((due, i))) = self.retries.peek() {
            if due > self.now {
                break;
            }
            self.retries.pop();
            match self.rules.check(&self.targets[i], self.now, false) {
                Ok(()) => {
                    self.targets[i].state = TargetState::Dialling;
                    return Some(i);
                }
                Err(_) => {
                    if let Some(next) = self.rules.next_open_ms(&self.targets[i], self.now) {
                        self.retries.push(Reverse((next.max(self.now + 1), i)));
                    }
                }
            }
        }
        let i = self.next_fresh;
        let t = self.targets.get(i)?;
        if self.rules.check(t, self.now, false).is_err() {
            return None;
        }
        self.next_fresh += 1;
        self.targets[i].state = TargetState::Dialling;
        Some(i)
    }

    fn record(&mut self, target: usize, outcome: CallOutcome) {
        let now = self.now;
        self.rules.record(&mut self.targets[target], outcome, now);
        if let Some(next) = self.rules.next_open_ms(&self.targets[target], now) {
            self.retries.push(Reverse((next, target)));
        }
    }

    fn dial(&mut self) -> bool {
        let Some(target) = self.claim_target() else {
            return false;
        };
        let fate = self.draw_fate();
        let ring = self.ring_ms;
        let after = match fate {
            Fate::Person | Fate::MisclassifiedPerson => {
                let d = self.sample(self.traffic.live_delay);
                if d > ring { ring } else { d }
            }
            Fate::Machine | Fate::Fax => {
                let dist = self
                    .traffic
                    .machine_delay
                    .unwrap_or(self.traffic.live_delay);
                let d = self.sample(dist).min(ring);
                d + self.sample(self.traffic.machine_detect)
            }
            Fate::Busy | Fate::Invalid | Fate::NetworkFailure => {
                self.sample(self.traffic.busy_delay)
            }
            Fate::NoAnswer => ring,
        };
        // A person who would answer after the ring time is a no answer.
        let fate = match fate {
            Fate::Person | Fate::MisclassifiedPerson if after >= ring => Fate::NoAnswer,
            f => f,
        };
        let line = Line {
            target,
            dialled_ms: self.now,
            fate,
        };
        let id = match self.free_lines.pop() {
            Some(id) => {
                self.lines[id] = Some(line);
                id
            }
            None => {
                self.lines.push(Some(line));
                self.lines.len() - 1
            }
        };
        self.ringing += 1;
        self.dials += 1;
        self.pacer.observe(self.now, PaceEvent::Dialled);
        self.at(self.now + after.max(1), Ev::LineDone(id));
        true
    }

    fn line_done(&mut self, id: usize) {
        let Some(line) = self.lines.get_mut(id).and_then(Option::take) else {
            return;
        };
        self.free_lines.push(id);
        self.ringing -= 1;
        let elapsed = self.now - line.dialled_ms;
        let now = self.now;
        match line.fate {
            Fate::Person => {
                self.pacer.observe(
                    now,
                    PaceEvent::Answered {
                        live: true,
                        delay_ms: elapsed,
                    },
                );
                self.waiting.push_back(Waiting {
                    id: self.next_waiting_id,
                    target: line.target,
                });
                self.at(now + self.deadline_ms, Ev::Deadline(self.next_waiting_id));
                self.next_waiting_id += 1;
                self.serve_waiting();
            }
            Fate::MisclassifiedPerson => {
                // The detector hangs up on a person: an abandoned live call in
                // truth; the dialer sees a machine.
                self.pacer.observe(
                    now,
                    PaceEvent::Answered {
                        live: false,
                        delay_ms: elapsed,
                    },
                );
                self.truth.record(now, Answer::Abandoned);
                self.record(line.target, CallOutcome::Machine);
            }
            Fate::Machine | Fate::Fax => {
                self.pacer.observe(
                    now,
                    PaceEvent::Answered {
                        live: false,
                        delay_ms: elapsed,
                    },
                );
                self.truth.record(now, Answer::Machine);
                let o = if line.fate == Fate::Fax {
                    CallOutcome::Fax
                } else {
                    CallOutcome::Machine
                };
                self.record(line.target, o);
            }
            Fate::Busy | Fate::Invalid | Fate::NetworkFailure | Fate::NoAnswer => {
                self.pacer
                    .observe(now, PaceEvent::Unanswered { after_ms: elapsed });
                let o = match line.fate {
                    Fate::Busy => CallOutcome::Busy,
                    Fate::Invalid => CallOutcome::Invalid,
                    Fate::NetworkFailure => CallOutcome::NetworkFailure,
                    _ => CallOutcome::NoAnswer,
                };
                self.record(line.target, o);
            }
        }
    }

    fn leave_ready(&mut self, agent: usize) {
        if let AgentState::Ready { since } = self.agents[agent].state {
            self.ready_ms += self.now - since;
        }
        self.ready.retain(|&a| a != agent);
    }

    fn become_ready(&mut self, agent: usize) {
        if self.agents[agent].leaving {
            self.agents[agent].state = AgentState::Off;
            return;
        }
        self.agents[agent].state = AgentState::Ready { since: self.now };
        self.ready.push_back(agent);
        self.serve_waiting();
    }

    /// Connects waiting people to ready agents, longest waiting and longest idle first.
    fn serve_waiting(&mut self) {
        while !self.waiting.is_empty() && !self.ready.is_empty() {
            let (Some(w), Some(agent)) = (self.waiting.pop_front(), self.ready.front().copied())
            else {
                break;
            };
            self.leave_ready(agent);
            let talk = self.sample(self.traffic.talk).max(1_000);
            self.agents[agent].state = AgentState::Talking {
                since: self.now,
                target: w.target,
            };
            self.at(self.now + talk, Ev::TalkEnd(agent));
            self.connected += 1;
            let now = self.now;
            self.pacer.observe(now, PaceEvent::Connected);
            self.truth.record(now, Answer::Connected);
            self.record(w.target, CallOutcome::Person);
        }
    }

    fn deadline(&mut self, id: u64) {
        let Some(pos) = self.waiting.iter().position(|w| w.id == id) else {
            return;
        };
        let Some(w) = self.waiting.remove(pos) else {
            return;
        };
        let now = self.now;
        self.pacer.observe(now, PaceEvent::Abandoned);
        self.truth.record(now, Answer::Abandoned);
        self.record(w.target, CallOutcome::Abandoned);
    }

    fn tick(&mut self) {
        let now = self.now;
        self.truth.advance(now);
        let mut s = std::mem::take(&mut self.snapshot);
        s.clear();
        s.now_ms = now;
        let mut in_use = self.ringing + self.waiting.len() as u32;
        for a in &self.agents {
            match a.state {
                AgentState::Ready { .. } => s.ready_agents += 1,
                AgentState::Talking { since, .. } => {
                    s.talking.push(now - since);
                    in_use += 1;
                }
                AgentState::WrapUp { until, .. } => s.wrapping_up.push((until - now).max(0)),
                AgentState::Off => {}
            }
        }
        for l in self.lines.iter().flatten() {
            s.ringing.push(now - l.dialled_ms);
        }
        s.waiting_answered = self.waiting.len() as u32;
        s.channels_free = self.channels.saturating_sub(in_use);
        let n = self.pacer.lines_to_dial(&s);
        self.snapshot = s;
        if self.snapshot.agents() > 0 {
            self.level_sum += self.pacer.dial_level();
            self.ticks += 1;
        }
        for _ in 0..n {
            if !self.dial() {
                break;
            }
        }
    }

    fn sample_window(&mut self, start: i64) {
        if self.now - start >= self.window_ms
            && let Some(w) = self.truth.window(self.window_ms)
        {
            self.max_window_rate = self.max_window_rate.max(w.rate);
        }
    }
}

/// Runs one mode and measures it.
pub(crate) fn run_mode(
    rules: &Rules,
    pacing: PacingConfig,
    traffic: &Traffic,
    ring_ms: i64,
    channels: u32,
    start_ms: i64,
) -> ModeResult {
    let mode = pacing.mode;
    let deadline_ms = pacing.dropped_deadline_ms;
    let window_ms = traffic.window.0.max(60_000);
    let seed = traffic.seed ^ (mode as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut shift_agents = Vec::new();
    let mut agents = Vec::new();
    for s in &traffic.shifts {
        let first = agents.len();
        for _ in 0..s.agents {
            agents.push(Agent {
                state: AgentState::Off,
                leaving: false,
            });
        }
        shift_agents.push((first, agents.len()));
    }
    let targets = (0..traffic.targets)
        .map(|i| Target::new(u64::from(i), format!("139{i:08}"), Vec::new()))
        .collect();
    let mut sim = Sim {
        traffic,
        rules,
        ring_ms,
        deadline_ms,
        channels,
        rng: StdRng::seed_from_u64(seed),
        now: start_ms,
        seq: 0,
        events: BinaryHeap::new(),
        pacer: Pacer::new(pacing),
        truth: AbandonLedger::new(AbandonConfig {
            short_ms: vec![window_ms],
            ..AbandonConfig::default()
        }),
        window_ms,
        max_window_rate: 0.0,
        targets,
        next_fresh: 0,
        retries: BinaryHeap::new(),
        lines: Vec::new(),
        free_lines: Vec::new(),
        ringing: 0,
        waiting: VecDeque::new(),
        next_waiting_id: 0,
        agents,
        shift_agents,
        ready: VecDeque::new(),
        snapshot: PaceSnapshot::default(),
        dials: 0,
        connected: 0,
        talk_ms: 0,
        ready_ms: 0,
        level_sum: 0.0,
        ticks: 0,
    };
    let end = start_ms + traffic.length_ms();
    for (i, s) in traffic.shifts.iter().enumerate() {
        sim.at(start_ms + s.start.0, Ev::ShiftStart(i));
        sim.at(start_ms + s.end.0, Ev::ShiftEnd(i));
    }
    sim.at(start_ms, Ev::Tick);
    let mut next_sample = start_ms + 60_000;
    while let Some(Reverse((t, _, ev))) = sim.events.pop() {
        if t > end && matches!(ev, Ev::Tick) {
            break;
        }
        sim.now = t;
        while next_sample <= t {
            sim.truth.advance(next_sample);
            let saved = sim.now;
            sim.now = next_sample;
            sim.sample_window(start_ms);
            sim.now = saved;
            next_sample += 60_000;
        }
        match ev {
            Ev::Tick => {
                sim.tick();
                sim.at(t + traffic.tick.0, Ev::Tick);
            }
            Ev::ShiftStart(i) => {
                let (a, b) = sim.shift_agents[i];
                for agent in a..b {
                    sim.agents[agent].leaving = false;
                    if sim.agents[agent].state == AgentState::Off {
                        sim.become_ready(agent);
                    }
                }
            }
            Ev::ShiftEnd(i) => {
                let (a, b) = sim.shift_agents[i];
                for agent in a..b {
                    if matches!(sim.agents[agent].state, AgentState::Ready { .. }) {
                        sim.leave_ready(agent);
                        sim.agents[agent].state = AgentState::Off;
                    } else {
                        sim.agents[agent].leaving = true;
                    }
                }
            }
            Ev::LineDone(id) => sim.line_done(id),
            Ev::Deadline(id) => sim.deadline(id),
            Ev::TalkEnd(agent) => {
                if let AgentState::Talking { since, .. } = sim.agents[agent].state {
                    let talk = t - since;
                    sim.talk_ms += talk;
                    sim.pacer.observe(t, PaceEvent::TalkEnded { talk_ms: talk });
                    let wrap = sim.sample(traffic.wrap_up);
                    sim.agents[agent].state = AgentState::WrapUp {
                        since: t,
                        until: t + wrap,
                    };
                    sim.at(t + wrap, Ev::WrapEnd(agent));
                }
            }
            Ev::WrapEnd(agent) => {
                if let AgentState::WrapUp { since, .. } = sim.agents[agent].state {
                    sim.pacer
                        .observe(t, PaceEvent::WrapUpEnded { wrap_ms: t - since });
                    sim.become_ready(agent);
                }
            }
        }
    }
    // Agents still ready at the end stop being idle there; calls still in
    // progress count their talk so far.
    sim.now = end;
    for agent in 0..sim.agents.len() {
        match sim.agents[agent].state {
            AgentState::Talking { since, .. } if since < end => sim.talk_ms += end - since,
            _ => sim.leave_ready(agent),
        }
    }
    sim.truth.advance(end);
    sim.now = end;
    sim.sample_window(start_ms);
    let staffed_ms: i64 = traffic
        .shifts
        .iter()
        .map(|s| i64::from(s.agents) * (s.end.0 - s.start.0))
        .sum();
    let overall = sim.truth.overall();
    let hours = traffic.length_ms() as f64 / 3_600_000.0;
    let agent_hours = staffed_ms as f64 / 3_600_000.0;
    ModeResult {
        talk_minutes_per_agent_hour: if agent_hours > 0.0 {
            sim.talk_ms as f64 / 60_000.0 / agent_hours
        } else {
            0.0
        },
        contacts_per_hour: if hours > 0.0 {
            sim.connected as f64 / hours
        } else {
            0.0
        },
        abandon_rate: overall.rate,
        max_window_abandon_rate: sim.max_window_rate.max(if traffic.length_ms() < window_ms {
            overall.rate
        } else {
            0.0
        }),
        agent_idle_share: if staffed_ms > 0 {
            sim.ready_ms as f64 / staffed_ms as f64
        } else {
            0.0
        },
        mean_dial_level: if sim.ticks > 0 {
            sim.level_sum / sim.ticks as f64
        } else {
            0.0
        },
        dials: sim.dials,
        live_answers: overall.live,
        connected: sim.connected,
        abandoned: overall.abandoned,
        targets_used: sim.next_fresh as u64,
    }
}
