//! Statistics by queue, agent, skill group and trunk over a period (Q13): offered,
//! answered, abandoned, service level, ASA, AHT, occupancy.
//!
//! The inputs are the ACD's [`CallRecord`]s (one per stay in a queue) and agents'
//! [`AgentStateChange`]s; the API reads them back from storage for the period
//! asked, the simulator feeds them as they happen. Definitions:
//!
//! - **offered**: stays in the queue that began in the period (overflow and
//!   transfer arrivals included; second agents after a transfer, direct offers
//!   and outbound calls are not offered to a queue);
//! - **service level**: answered within the threshold ÷ (offered − abandoned
//!   within the threshold): callers who hang up very early do not count against it;
//! - **ASA**: mean wait of answered calls; **AHT**: mean talk + hold + wrap-up of
//!   handled calls;
//! - **occupancy**: time handling calls (ringing, talking, held, wrap-up) ÷ that
//!   time plus time ready and idle; for a queue or skill group, over its agents.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::types::{AgentStateChange, AgentStatus, CallRecord, Outcome};

/// Figures of one group (a queue, an agent, a skill, a trunk).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupStats {
    /// Queue name, agent id, skill or trunk group.
    pub name: String,
    /// Calls offered to the queue(s).
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// The caller hung up first.
    pub abandoned: u64,
    /// Of which within the threshold.
    pub abandoned_within: u64,
    /// Moved elsewhere (max wait, overflow, cancel key, closed, failed callback).
    pub moved: u64,
    /// Answered after waiting no longer than the service-level threshold.
    pub answered_within: u64,
    /// Service level (see the module documentation); 1 when nothing was offered.
    pub service_level: f64,
    /// Abandoned ÷ offered.
    pub abandon_rate: f64,
    /// Average speed of answer, ms.
    pub asa_ms: f64,
    /// Calls an agent handled (answered, transferred in, direct, outbound).
    pub handled: u64,
    /// Average handle time (talk + hold + wrap-up), ms.
    pub aht_ms: f64,
    /// Total talk time (hold included), ms.
    pub talk_ms: i64,
    /// Total hold time, ms.
    pub hold_ms: i64,
    /// Total wrap-up time, ms.
    pub wrap_ms: i64,
    /// Total waiting time of answered calls, ms.
    pub wait_answered_ms: i64,
    /// Occupancy of the group's agents, when they worked in the period.
    pub occupancy: Option<f64>,
    /// Time ready and idle, ms (agents).
    pub idle_ms: i64,
    /// Time handling calls, ms (agents).
    pub busy_ms: i64,
    /// Time not ready, ms (agents).
    pub not_ready_ms: i64,
}

impl GroupStats {
    fn named(name: &str) -> GroupStats {
        GroupStats {
            name: name.to_string(),
            ..GroupStats::default()
        }
    }

    fn add(&mut self, r: &CallRecord, threshold_ms: i64) {
        let queue_stay = !matches!(
            r.outcome,
            Outcome::Transferred | Outcome::Outbound | Outcome::Direct
        );
        if queue_stay {
            self.offered += 1;
        }
        match r.outcome {
            Outcome::Answered | Outcome::CallbackAnswered => {
                self.answered += 1;
                self.wait_answered_ms += r.wait_ms;
                if r.wait_ms <= threshold_ms {
                    self.answered_within += 1;
                }
            }
            Outcome::Abandoned => {
                self.abandoned += 1;
                if r.wait_ms <= threshold_ms {
                    self.abandoned_within += 1;
                }
            }
            Outcome::MaxWait
            | Outcome::Overflow
            | Outcome::Cancelled
            | Outcome::Closed
            | Outcome::CallbackFailed => self.moved += 1,
            Outcome::Transferred | Outcome::Outbound | Outcome::Direct => {}
        }
        if r.agent.is_some() {
            self.handled += 1;
            self.talk_ms += r.talk_ms;
            self.hold_ms += r.hold_ms;
            self.wrap_ms += r.wrap_ms;
        }
    }

    fn add_times(&mut self, t: &AgentTimes) {
        self.idle_ms += t.idle_ms;
        self.busy_ms += t.busy_ms;
        self.not_ready_ms += t.not_ready_ms;
    }

    fn finish(&mut self) {
        let denom = self.offered.saturating_sub(self.abandoned_within);
        self.service_level = if denom == 0 {
            1.0
        } else {
            self.answered_within as f64 / denom as f64
        };
        self.abandon_rate = if self.offered == 0 {
            0.0
        } else {
            self.abandoned as f64 / self.offered as f64
        };
        self.asa_ms = if self.answered == 0 {
            0.0
        } else {
            self.wait_answered_ms as f64 / self.answered as f64
        };
        self.aht_ms = if self.handled == 0 {
            0.0
        } else {
            (self.talk_ms + self.wrap_ms) as f64 / self.handled as f64
        };
        let worked = self.busy_ms + self.idle_ms;
        self.occupancy = (worked > 0).then(|| self.busy_ms as f64 / worked as f64);
    }
}

/// The statistics of the period `[from_ms, to_ms)`: every queue together, then
/// the same figures by queue, agent, skill and trunk group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct Report {
    pub from_ms: i64,
    pub to_ms: i64,
    /// The service-level threshold, when one was given for all queues (else each
    /// queue's own `service level ... within`).
    pub threshold_ms: Option<i64>,
    pub total: GroupStats,
    pub queues: Vec<GroupStats>,
    pub agents: Vec<GroupStats>,
    /// By skill group (calls of queues needing the skill; agents having it).
    pub skills: Vec<GroupStats>,
    pub trunks: Vec<GroupStats>,
}

#[derive(Debug, Clone, Default)]
struct AgentTimes {
    idle_ms: i64,
    busy_ms: i64,
    not_ready_ms: i64,
    last: Option<(AgentStatus, i64)>,
}

/// Builds a [`Report`] from records and state changes.
#[derive(Debug)]
pub struct Aggregator {
    from_ms: i64,
    to_ms: i64,
    threshold_ms: Option<i64>,
    total: GroupStats,
    queues: BTreeMap<String, GroupStats>,
    agents: BTreeMap<String, GroupStats>,
    skills: BTreeMap<String, GroupStats>,
    trunks: BTreeMap<String, GroupStats>,
    times: HashMap<String, AgentTimes>,
}

impl Aggregator {
    /// For the period `[from_ms, to_ms)`; `threshold_ms` overrides every queue's
    /// service-level time.
    pub fn new(from_ms: i64, to_ms: i64, threshold_ms: Option<i64>) -> Aggregator {
        Aggregator {
            from_ms,
            to_ms,
            threshold_ms,
            total: GroupStats::named("total"),
            queues: BTreeMap::new(),
            agents: BTreeMap::new(),
            skills: BTreeMap::new(),
            trunks: BTreeMap::new(),
            times: HashMap::new(),
        }
    }

    /// Counts a record whose stay began in the period; `queue_sl_ms` is its
    /// queue's service-level time.
    pub fn add_record(&mut self, r: &CallRecord, queue_sl_ms: i64) {
        if r.entered_ms < self.from_ms || r.entered_ms >= self.to_ms {
            return;
        }
        let t = self.threshold_ms.unwrap_or(queue_sl_ms);
        let builtin = r.queue.starts_with('(');
        if !builtin {
            self.total.add(r, t);
            self.queues
                .entry(r.queue.clone())
                .or_insert_with(|| GroupStats::named(&r.queue))
                .add(r, t);
            for s in &r.skills {
                self.skills
                    .entry(s.clone())
                    .or_insert_with(|| GroupStats::named(s))
                    .add(r, t);
            }
            let trunk = if r.trunk.is_empty() {
                "(none)"
            } else {
                &r.trunk
            };
            self.trunks
                .entry(trunk.to_string())
                .or_insert_with(|| GroupStats::named(trunk))
                .add(r, t);
        }
        if let Some(a) = &r.agent {
            let g = self
                .agents
                .entry(a.clone())
                .or_insert_with(|| GroupStats::named(a));
            // An agent's "offered" counts what reached them, not queue stays.
            let before = g.offered;
            g.add(r, t);
            g.offered = before + 1;
        }
    }

    /// Adds an agent's state change (in time order for each agent; the last change
    /// before the period may be given to set the starting state).
    pub fn add_state(&mut self, c: &AgentStateChange) {
        let (from, to) = (self.from_ms, self.to_ms);
        let t = self.times.entry(c.agent.clone()).or_default();
        if let Some((st, at)) = t.last {
            add_interval(t, st, at.max(from), c.at_ms.min(to));
        }
        t.last = Some((c.state, c.at_ms));
    }

    /// The report; agent time runs to `until_ms` (the end of the period, or now
    /// when earlier). `agent_skills` gives each agent's skills and `queue_agents`
    /// each queue's qualified agents (for group occupancy).
    pub fn finish(
        mut self,
        until_ms: i64,
        agent_skills: &HashMap<String, Vec<String>>,
        queue_agents: &HashMap<String, Vec<String>>,
    ) -> Report {
        let (from, to) = (self.from_ms, self.to_ms.min(until_ms));
        for t in self.times.values_mut() {
            if let Some((st, at)) = t.last {
                add_interval(t, st, at.max(from), to);
            }
        }
        for (agent, t) in &self.times {
            if t.busy_ms + t.idle_ms + t.not_ready_ms == 0 {
                continue;
            }
            self.agents
                .entry(agent.clone())
                .or_insert_with(|| GroupStats::named(agent))
                .add_times(t);
            self.total.add_times(t);
            if let Some(skills) = agent_skills.get(agent) {
                for s in skills {
                    self.skills
                        .entry(s.clone())
                        .or_insert_with(|| GroupStats::named(s))
                        .add_times(t);
                }
            }
        }
        for (q, agents) in queue_agents {
            for a in agents {
                if let Some(t) = self.times.get(a) {
                    self.queues
                        .entry(q.clone())
                        .or_insert_with(|| GroupStats::named(q))
                        .add_times(t);
                }
            }
        }
        let done = |m: BTreeMap<String, GroupStats>| -> Vec<GroupStats> {
            m.into_values()
                .map(|mut g| {
                    g.finish();
                    g
                })
                .collect()
        };
        self.total.finish();
        Report {
            from_ms: self.from_ms,
            to_ms: self.to_ms,
            threshold_ms: self.threshold_ms,
            total: self.total,
            queues: done(self.queues),
            agents: done(self.agents),
            skills: done(self.skills),
            trunks: done(self.trunks),
        }
    }
}

fn add_interval(t: &mut AgentTimes, st: AgentStatus, a: i64, b: i64) {
    if b <= a {
        return;
    }
    let d = b - a;
    match st {
        AgentStatus::Ready => t.idle_ms += d,
        AgentStatus::NotReady => t.not_ready_ms += d,
        s if s.handling() => t.busy_ms += d,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(queue: &str, outcome: Outcome, wait: i64, talk: i64, agent: Option<&str>) -> CallRecord {
        CallRecord {
            call: 1,
            queue: queue.into(),
            skills: vec!["billing".into()],
            trunk: "local".into(),
            caller: "139".into(),
            entered_ms: 1_000,
            left_ms: 1_000 + wait,
            outcome,
            agent: agent.map(String::from),
            wait_ms: wait,
            talk_ms: talk,
            hold_ms: 0,
            wrap_ms: 10_000,
        }
    }

    fn change(agent: &str, at: i64, state: AgentStatus) -> AgentStateChange {
        AgentStateChange {
            agent: agent.into(),
            at_ms: at,
            state,
            reason: String::new(),
            call: None,
        }
    }

    #[test]
    fn queue_figures_follow_the_definitions() {
        let mut g = Aggregator::new(0, 100_000, Some(20_000));
        g.add_record(
            &rec("billing", Outcome::Answered, 5_000, 60_000, Some("1001")),
            20_000,
        );
        g.add_record(
            &rec("billing", Outcome::Answered, 30_000, 120_000, Some("1001")),
            20_000,
        );
        g.add_record(&rec("billing", Outcome::Abandoned, 3_000, 0, None), 20_000);
        g.add_record(&rec("billing", Outcome::Abandoned, 40_000, 0, None), 20_000);
        g.add_record(&rec("billing", Outcome::Overflow, 50_000, 0, None), 20_000);
        let r = g.finish(100_000, &HashMap::new(), &HashMap::new());
        let q = &r.queues[0];
        assert_eq!((q.offered, q.answered, q.abandoned, q.moved), (5, 2, 2, 1));
        // 1 answered within 20 s of (5 offered - 1 abandoned within 20 s).
        assert!((q.service_level - 0.25).abs() < 1e-9);
        assert!((q.abandon_rate - 0.4).abs() < 1e-9);
        assert!((q.asa_ms - 17_500.0).abs() < 1e-9);
        // (60 + 120 s talk + 2 x 10 s wrap) / 2.
        assert!((q.aht_ms - 100_000.0).abs() < 1e-9);
        assert_eq!(r.agents[0].name, "1001");
        assert_eq!(r.agents[0].handled, 2);
        assert_eq!(r.trunks[0].offered, 5);
        assert_eq!(r.skills[0].offered, 5);
    }

    #[test]
    fn occupancy_comes_from_state_history() {
        let mut g = Aggregator::new(1_000, 11_000, None);
        // Ready before the period starts; 4 s talking, 1 s wrap-up, 2 s not ready.
        g.add_state(&change("1001", 0, AgentStatus::Ready));
        g.add_state(&change("1001", 4_000, AgentStatus::Talking));
        g.add_state(&change("1001", 8_000, AgentStatus::WrapUp));
        g.add_state(&change("1001", 9_000, AgentStatus::NotReady));
        let mut qa = HashMap::new();
        qa.insert("billing".to_string(), vec!["1001".to_string()]);
        let r = g.finish(20_000, &HashMap::new(), &qa);
        let a = &r.agents[0];
        assert_eq!(
            (a.idle_ms, a.busy_ms, a.not_ready_ms),
            (3_000, 5_000, 2_000)
        );
        assert!((a.occupancy.unwrap() - 5.0 / 8.0).abs() < 1e-9);
        assert_eq!(r.queues[0].occupancy, a.occupancy);
    }
}
