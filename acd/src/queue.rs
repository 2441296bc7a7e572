//! A queue's rules as the core uses them (built from the compiled `QueueIr`), the
//! agent-selection strategies, and the order of waiting calls.

use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use dialect_compiler::calendar::Calendar;
use dialect_compiler::ir::{
    AnnounceIr, Builtin, DestIr, EnvVar, NoAnswerAction, OverflowDirection, PredId, ProgramIr,
    QueueIr, Type,
};

use super::arena::{AgentIx, CallSlot};
use super::estimator::QueueEstimator;

/// Which ready agent gets a call (Q3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The first ready agent in declaration order.
    FirstIdle,
    /// The agent free longest since their last call.
    LongestIdle,
    /// The agent with the fewest answered calls since signing in.
    FewestCalls,
    /// The agent with the least talk time since signing in.
    LeastTalkTime,
    /// The agent with the highest level in the queue's skills.
    HighestSkill,
    /// The agent with the lowest level in the queue's skills.
    LowestSkill,
    /// In turn, starting after the agent who took the previous call.
    RoundRobin,
    /// Every ready agent at once; the first to answer takes it.
    RingAll,
}

impl Strategy {
    /// The strategy named in a queue (unknown names fall back to longest idle,
    /// which the checker prevents anyway).
    pub fn parse(name: &str) -> Strategy {
        match name {
            "first_idle" => Strategy::FirstIdle,
            "fewest_calls" => Strategy::FewestCalls,
            "least_talk_time" => Strategy::LeastTalkTime,
            "highest_skill" => Strategy::HighestSkill,
            "lowest_skill" => Strategy::LowestSkill,
            "round_robin" => Strategy::RoundRobin,
            "ring_all" => Strategy::RingAll,
            _ => Strategy::LongestIdle,
        }
    }

    /// The name as written in flows.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::FirstIdle => "first_idle",
            Strategy::LongestIdle => "longest_idle",
            Strategy::FewestCalls => "fewest_calls",
            Strategy::LeastTalkTime => "least_talk_time",
            Strategy::HighestSkill => "highest_skill",
            Strategy::LowestSkill => "lowest_skill",
            Strategy::RoundRobin => "round_robin",
            Strategy::RingAll => "ring_all",
        }
    }
}

/// A compiled predicate and the inputs it reads.
#[derive(Debug, Clone)]
pub(crate) struct Pred {
    pub(crate) id: PredId,
    pub(crate) vars: Vec<(EnvVar, Type)>,
    /// Reads something that changes while the call waits (waited, position...).
    pub(crate) dynamic: bool,
}

impl Pred {
    pub(crate) fn new(ir: &ProgramIr, id: PredId) -> Pred {
        let vars = ir
            .predicates
            .get(id as usize)
            .map(|p| p.vars.clone())
            .unwrap_or_default();
        let has = |b: Builtin| vars.iter().any(|(v, _)| *v == EnvVar::Builtin(b));
        let dynamic = [
            Builtin::Waited,
            Builtin::Position,
            Builtin::EstimatedWait,
            Builtin::Waiting,
            Builtin::IdleAgents,
            Builtin::ServiceLevel,
            Builtin::LongestWait,
        ]
        .into_iter()
        .any(has);
        Pred { id, dynamic, vars }
    }
}

/// One `overflow` rule of a queue: the senior (up) or junior (down) queue
/// `target`, and the condition `when` under which a waiting call moves there.
#[derive(Debug, Clone)]
pub(crate) struct OverflowRule {
    pub(crate) direction: OverflowDirection,
    pub(crate) target: Arc<str>,
    pub(crate) when: Arc<Pred>,
}

/// A queue's rules, from the program (or defaults for the built-in direct and
/// outbound queues).
#[derive(Debug, Clone)]
pub(crate) struct QueueRules {
    pub(crate) name: Arc<str>,
    /// (skill index, lowest level).
    pub(crate) skills: Vec<(u32, u32)>,
    pub(crate) skill_names: Vec<String>,
    pub(crate) strategy: Strategy,
    pub(crate) priority: Option<Arc<Pred>>,
    pub(crate) music: Option<String>,
    pub(crate) announcements: Vec<(AnnounceIr, i64, Option<Arc<Pred>>)>,
    pub(crate) max_wait: Option<(i64, DestIr)>,
    pub(crate) overflows: Arc<Vec<OverflowRule>>,
    /// Keys the caller may press, each working only while its condition holds.
    pub(crate) keys: Vec<(char, DestIr, Option<Arc<Pred>>)>,
    pub(crate) ring_ms: i64,
    pub(crate) no_answer: NoAnswerAction,
    pub(crate) max_missed: u32,
    pub(crate) reject_delay_ms: i64,
    pub(crate) busy_delay_ms: i64,
    pub(crate) unregistered_delay_ms: i64,
    pub(crate) wrap_up_ms: i64,
    pub(crate) hours: Option<(Calendar, DestIr)>,
    pub(crate) sl_target: f64,
    pub(crate) sl_ms: i64,
    /// Rules that change while calls wait: re-evaluate periodically.
    pub(crate) dynamic: bool,
    /// Not a queue of the program (direct offers, outbound calls).
    pub(crate) builtin: bool,
}

/// Defaults the queue does not state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleDefaults {
    pub(crate) ring_ms: i64,
    pub(crate) max_missed: u32,
}

impl QueueRules {
    pub(crate) fn from_ir(
        ir: &ProgramIr,
        q: &QueueIr,
        skill_of: &mut impl FnMut(&str) -> u32,
        d: RuleDefaults,
    ) -> QueueRules {
        let priority = q.priority.map(|p| Arc::new(Pred::new(ir, p)));
        // A key's offer is an announcement under the key's own condition, so a
        // caller is told about a key only while pressing it works.
        let announcements: Vec<_> = q
            .announcements
            .iter()
            .map(|(a, every, when)| (a.clone(), *every, *when))
            .chain(
                q.key_offers
                    .iter()
                    .map(|o| (AnnounceIr::Prompt(o.prompt.clone()), o.every_ms, o.when)),
            )
            .map(|(a, every, when)| (a, every, when.map(|p| Arc::new(Pred::new(ir, p)))))
            .collect();
        let overflows: Vec<_> = q
            .overflows
            .iter()
            .map(|(d, t, p)| OverflowRule {
                direction: *d,
                target: Arc::from(t.as_str()),
                when: Arc::new(Pred::new(ir, *p)),
            })
            .collect();
        let dynamic = priority.as_ref().is_some_and(|p| p.dynamic) || !overflows.is_empty();
        let (ring_ms, no_answer) = q
            .no_answer
            .unwrap_or((d.ring_ms, NoAnswerAction::RequeueFirst));
        QueueRules {
            name: Arc::from(q.name.as_str()),
            skills: q.skills.iter().map(|(s, l)| (skill_of(s), *l)).collect(),
            skill_names: q.skills.iter().map(|(s, _)| s.clone()).collect(),
            strategy: Strategy::parse(&q.strategy),
            priority,
            music: q.music.clone(),
            announcements,
            max_wait: q.max_wait.clone(),
            overflows: Arc::new(overflows),
            keys: q
                .keys
                .iter()
                .map(|(k, d, when)| (*k, d.clone(), when.map(|p| Arc::new(Pred::new(ir, p)))))
                .collect(),
            ring_ms: ring_ms.max(1),
            no_answer,
            max_missed: q.max_missed.unwrap_or(d.max_missed).max(1),
            reject_delay_ms: q.reject_delay_ms.unwrap_or(0),
            busy_delay_ms: q.busy_delay_ms.unwrap_or(0),
            unregistered_delay_ms: q.unregistered_delay_ms.unwrap_or(0),
            wrap_up_ms: q.wrap_up_ms.max(0),
            hours: q.hours.as_ref().and_then(|(cal, dest)| {
                ir.calendars
                    .get(*cal as usize)
                    .map(|c| (Calendar::new(c), dest.clone()))
            }),
            sl_target: q.service_level.0,
            sl_ms: q.service_level.1,
            dynamic,
            builtin: false,
        }
    }

    /// A queue outside the program: direct offers and agents' outbound calls.
    pub(crate) fn builtin(name: &str, d: RuleDefaults) -> QueueRules {
        QueueRules {
            name: Arc::from(name),
            skills: Vec::new(),
            skill_names: Vec::new(),
            strategy: Strategy::FirstIdle,
            priority: None,
            music: None,
            announcements: Vec::new(),
            max_wait: None,
            overflows: Arc::new(Vec::new()),
            keys: Vec::new(),
            ring_ms: d.ring_ms,
            no_answer: NoAnswerAction::RequeueFirst,
            max_missed: u32::MAX,
            reject_delay_ms: 0,
            busy_delay_ms: 0,
            unregistered_delay_ms: 0,
            wrap_up_ms: 0,
            hours: None,
            sl_target: 0.8,
            sl_ms: 20_000,
            dynamic: false,
            builtin: true,
        }
    }
}

/// A priority as a totally ordered integer (higher number = higher priority).
pub(crate) fn ord_f64(f: f64) -> i64 {
    let f = if f.is_nan() { 0.0 } else { f };
    let b = f.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

/// The place of a waiting call: smaller is served first. Re-offered calls (class
/// 2) go before overflowed-down calls (class 1), which go before the rest; then
/// higher priority; then earlier arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WaitKey {
    pub(crate) class: Reverse<u8>,
    pub(crate) prio: Reverse<i64>,
    pub(crate) seq: u64,
    pub(crate) slot: CallSlot,
}

/// Head-of-queue class for calls put back after an agent failed them.
pub(crate) const CLASS_REOFFER: u8 = 2;
/// Class for calls arriving by a downward overflow.
pub(crate) const CLASS_OVERFLOW_DOWN: u8 = 1;

/// A queue: its rules, waiting calls and the agents who can take them.
#[derive(Debug)]
pub(crate) struct Queue {
    pub(crate) rules: QueueRules,
    pub(crate) waiting: BTreeSet<WaitKey>,
    /// Agents with the skills, in declaration order.
    pub(crate) eligible: Vec<AgentIx>,
    /// The agent who took the last round-robin call.
    pub(crate) rr_last: Option<AgentIx>,
    pub(crate) est: QueueEstimator,
    /// Recent outcomes: answered within the service-level time or not.
    pub(crate) recent: VecDeque<bool>,
    /// Still in the deployed program (retired queues only drain).
    pub(crate) active: bool,
}

impl Queue {
    pub(crate) fn new(rules: QueueRules, default_handle_ms: f64) -> Queue {
        Queue {
            rules,
            waiting: BTreeSet::new(),
            eligible: Vec::new(),
            rr_last: None,
            est: QueueEstimator::new(default_handle_ms),
            recent: VecDeque::new(),
            active: true,
        }
    }

    /// The share of recent calls answered within the service-level time (1 when none).
    pub(crate) fn service_level(&self) -> f64 {
        if self.recent.is_empty() {
            return 1.0;
        }
        self.recent.iter().filter(|b| **b).count() as f64 / self.recent.len() as f64
    }

    pub(crate) fn note_outcome(&mut self, within: bool, window: usize) {
        self.recent.push_back(within);
        while self.recent.len() > window.max(1) {
            self.recent.pop_front();
        }
    }
}
