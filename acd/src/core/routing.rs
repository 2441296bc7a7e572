//! A call in a queue: arrival (`enqueue`, `enter_queue`), its place among the
//! waiting calls, priorities and the environment the queue's predicates read,
//! the wait estimates, choosing agents by the queue's strategy, dispatch when a
//! call arrives or an agent becomes free, overflow and the periodic
//! re-evaluation, leaving a queue without an agent, callbacks and caller keys.

use std::cmp::Reverse;

use dialect_compiler::ir::{Builtin, ConstValue, DestIr, EnvVar, OverflowDirection, Type};

use super::handover::time_seq;
use super::{AcdCore, Estimate, Kind, Phase, Timer};
use crate::arena::{AgentIx, CallSlot, QueueIx};
use crate::estimator::{Predictions, WaitState, age_queue_estimate, queue_length_estimate};
use crate::queue::{CLASS_OVERFLOW_DOWN, Pred, Strategy, WaitKey, ord_f64};
use crate::types::*;

/// How many waiting calls from the head are looked at for one that can go to an
/// agent (calls may avoid agents who just failed them).
const SCAN: usize = 32;

/// The figures a predicate may read that cost something to work out (position,
/// wait estimate, idle agents): worked out only when the predicate reads them.
/// `position_hint` stands in for the position of a call not yet in its queue.
struct EnvCtx {
    position: Option<u32>,
    estimate: Option<i64>,
    idle: Option<usize>,
    position_hint: Option<u32>,
}

impl AcdCore {
    pub(super) fn enqueue(&mut self, qc: QueuedCall, now: i64, out: &mut Vec<Effect>, depth: u32) {
        let id = qc.call_id;
        if let Some(old) = self.call_ix.get(&id).copied() {
            // The same call back in a queue (a flow sent it on): forget the old stay.
            self.release(old);
        }
        let q = match self.queue_ix.get(qc.queue.as_str()).copied() {
            Some(q) if self.queues[q].active && !self.queues[q].rules.builtin => q,
            _ => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Move {
                        dest: DestIr::Hangup,
                        reason: MoveReason::UnknownQueue,
                    },
                ));
                return;
            }
        };
        if let Some((cal, dest)) = &self.queues[q].rules.hours
            && !cal.is_open(now)
        {
            let dest = dest.clone();
            let rec = CallRecord {
                call: id,
                queue: qc.queue.clone(),
                skills: self.queues[q].rules.skill_names.clone(),
                trunk: qc.trunk.clone(),
                caller: qc.caller.clone(),
                entered_ms: now,
                left_ms: now,
                outcome: Outcome::Closed,
                agent: None,
                wait_ms: 0,
                talk_ms: 0,
                hold_ms: 0,
                wrap_ms: 0,
            };
            out.push(Effect::Event(AcdEvent::Record(rec)));
            out.push(Effect::Event(AcdEvent::CallLeft {
                call: id,
                queue: qc.queue.clone(),
                outcome: Outcome::Closed,
                at_ms: now,
            }));
            match dest {
                DestIr::Queue(next) if depth < 8 => {
                    let mut qc = qc;
                    qc.queue = next;
                    self.enqueue(qc, now, out, depth + 1);
                }
                dest => out.push(Effect::ToCall(
                    id,
                    AcdToCall::Move {
                        dest,
                        reason: MoveReason::Closed,
                    },
                )),
            }
            return;
        }
        let call = self.new_call(qc, q, Kind::Queue, now);
        let s = self.alloc(call);
        self.enter_queue(s, q, 0, None, now, out);
    }

    pub(super) fn enter_queue(
        &mut self,
        s: CallSlot,
        q: QueueIx,
        class: u8,
        keep_seq: Option<u64>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        self.enter_queue_at(s, q, class, keep_seq, now, now, out);
    }

    /// The next arrival order for a call entering a queue now. Orders follow
    /// the entry time first (milliseconds in the high bits), so that a call
    /// resumed after a take-over with its original entry time
    /// (see `handover`) sorts before every call that arrived after it.
    fn next_seq(&mut self, now: i64) -> u64 {
        self.seq = (self.seq + 1).max(time_seq(now));
        self.seq
    }

    /// Enters queue `q` as at `entered` (`now` for a new stay; earlier for a
    /// call resumed after a take-over, whose maximum wait counts from then).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn enter_queue_at(
        &mut self,
        s: CallSlot,
        q: QueueIx,
        class: u8,
        keep_seq: Option<u64>,
        entered: i64,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let seq = keep_seq.unwrap_or_else(|| self.next_seq(now));
        {
            let c = self.cm(s);
            c.queue = q;
            c.entered_ms = entered;
            c.visit += 1;
            c.class = class;
            c.seq = seq;
            c.phase = Phase::Waiting;
            c.avoid.clear();
            c.agent = None;
            c.kind = Kind::Queue;
        }
        let waiting = self.queues[q].waiting.len() as u32;
        let prio = self.priority(s, now, Some(waiting + 1));
        self.insert_waiting(s, prio);
        let (visit, id) = (self.c(s).visit, self.c(s).id);
        let rules = &self.queues[q].rules;
        let max_wait = rules.max_wait.as_ref().map(|(ms, _)| *ms);
        let music = rules.music.clone();
        let name = rules.name.to_string();
        let announce: Vec<(u32, i64)> = rules
            .announcements
            .iter()
            .enumerate()
            .map(|(i, (_, every, _))| (i as u32, *every))
            .collect();
        if let Some(ms) = max_wait {
            self.at((entered + ms).max(now), Timer::MaxWait { call: id, visit });
        }
        for (idx, every) in announce {
            self.at(
                now + every.max(1_000),
                Timer::Announce {
                    call: id,
                    visit,
                    idx,
                },
            );
        }
        let position = self.position(s);
        let est = self.estimate_slot(s, now).acd_ms.map(|m| m.round() as i64);
        out.push(Effect::ToCall(
            id,
            AcdToCall::Queued {
                queue: name.clone(),
                position,
                estimated_wait_ms: est,
            },
        ));
        out.push(Effect::ToCall(
            id,
            AcdToCall::Music {
                on: true,
                prompt: music,
            },
        ));
        out.push(Effect::Event(AcdEvent::CallQueued {
            call: id,
            queue: name,
            position,
            priority: prio,
            at_ms: now,
        }));
        self.dispatch_queue(q, now, out);
        if self.calls[s].as_ref().is_some_and(|c| {
            c.id == id && c.phase == Phase::Waiting && c.queue == q && c.visit == visit
        }) {
            let entry = self.predictions_slot(s, now);
            self.cm(s).entry_predictions = entry;
            self.check_overflow(s, now, out);
        } else if let Some(c) = self.calls[s].as_mut() {
            c.entry_predictions = None;
        }
        self.ensure_reevaluate(now);
    }

    pub(super) fn insert_waiting(&mut self, s: CallSlot, prio: f64) {
        let c = self.cm(s);
        c.prio = prio;
        let key = WaitKey {
            class: Reverse(c.class),
            prio: Reverse(ord_f64(prio)),
            seq: c.seq,
            slot: s,
        };
        c.key = Some(key);
        let q = c.queue;
        self.queues[q].waiting.insert(key);
    }

    pub(super) fn take_waiting(&mut self, s: CallSlot) {
        let c = self.cm(s);
        if let Some(k) = c.key.take() {
            let q = c.queue;
            self.queues[q].waiting.remove(&k);
        }
    }

    pub(super) fn reprioritize(&mut self, s: CallSlot, now: i64) {
        let Some(k) = self.c(s).key else {
            return;
        };
        let prio = self.priority(s, now, None);
        if ord_f64(prio) != k.prio.0 {
            self.take_waiting(s);
            self.insert_waiting(s, prio);
        }
    }

    fn ensure_raw(&mut self, s: CallSlot) {
        if self.c(s).raw_gen == self.program_gen {
            return;
        }
        let ir = self.program.ir();
        let fields: Vec<(String, Type, ConstValue)> = ir
            .calldata
            .iter()
            .map(|f| (f.name.clone(), f.ty, f.default.clone()))
            .collect();
        let (caller, called, trunk, data) = {
            let c = self.c(s);
            (
                c.info.caller.clone(),
                c.info.called.clone(),
                c.info.trunk.clone(),
                c.info.data.clone(),
            )
        };
        let rc = self.eval.intern(&caller);
        let rd = self.eval.intern(&called);
        let rt = self.eval.intern(&trunk);
        let mut raw = Vec::with_capacity(fields.len());
        for (name, ty, default) in fields {
            let v = data
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, v)| self.eval.raw(v, ty));
            let v = v.unwrap_or_else(|| match default {
                ConstValue::Num(n) => n.to_bits(),
                ConstValue::Int(i) => i as u64,
                ConstValue::Text(t) => self.eval.intern(&t),
            });
            raw.push(v);
        }
        let generation = self.program_gen;
        let c = self.cm(s);
        c.raw_caller = rc;
        c.raw_called = rd;
        c.raw_trunk = rt;
        c.raw_data = raw;
        c.raw_gen = generation;
    }

    fn env_for(&mut self, p: &Pred, s: CallSlot, now: i64, ctx: &mut EnvCtx) {
        self.ensure_raw(s);
        let mut env = std::mem::take(&mut self.env);
        env.clear();
        for (var, _ty) in &p.vars {
            let v = match var {
                EnvVar::Builtin(b) => match b {
                    Builtin::Caller => self.c(s).raw_caller,
                    Builtin::Called => self.c(s).raw_called,
                    Builtin::Trunk => self.c(s).raw_trunk,
                    Builtin::Waited => (now - self.c(s).entered_ms).max(0) as u64,
                    Builtin::Position => {
                        let p = match ctx.position {
                            Some(p) => p,
                            None => {
                                let p = match (self.c(s).key, ctx.position_hint) {
                                    (None, Some(h)) => h,
                                    _ => self.position(s),
                                };
                                ctx.position = Some(p);
                                p
                            }
                        };
                        f64::from(p).to_bits()
                    }
                    Builtin::EstimatedWait => {
                        let e = match ctx.estimate {
                            Some(e) => e,
                            None => {
                                let e = if self.c(s).key.is_some() {
                                    self.estimate_slot(s, now)
                                        .acd_ms
                                        .map(|m| m.round() as i64)
                                        .unwrap_or(self.config.unknown_wait_ms)
                                } else {
                                    0
                                };
                                ctx.estimate = Some(e);
                                e
                            }
                        };
                        e as u64
                    }
                    Builtin::Waiting => {
                        (self.queues[self.c(s).queue].waiting.len() as f64).to_bits()
                    }
                    Builtin::IdleAgents => {
                        let n = match ctx.idle {
                            Some(n) => n,
                            None => {
                                let n = self.idle_agents(self.c(s).queue, now);
                                ctx.idle = Some(n);
                                n
                            }
                        };
                        (n as f64).to_bits()
                    }
                    Builtin::ServiceLevel => self.queues[self.c(s).queue].service_level().to_bits(),
                    Builtin::LongestWait => self.longest_wait(self.c(s).queue, now) as u64,
                    Builtin::Attempts
                    | Builtin::AttemptsToday
                    | Builtin::SinceLastAttempt
                    | Builtin::Age => 0,
                    Builtin::LastOutcome => self.eval.intern(""),
                },
                EnvVar::Data(i) => self.c(s).raw_data.get(*i as usize).copied().unwrap_or(0),
                EnvVar::Field(_) => 0,
            };
            env.push(v);
        }
        self.env = env;
    }

    pub(super) fn priority(&mut self, s: CallSlot, now: i64, position_hint: Option<u32>) -> f64 {
        let q = self.c(s).queue;
        // What the transfer gave the call, plus what the queue's rule says.
        let given = self.c(s).info.priority;
        let given = if given.is_finite() { given } else { 0.0 };
        let Some(p) = self.queues[q].rules.priority.clone() else {
            return given;
        };
        let mut ctx = EnvCtx {
            position: None,
            estimate: None,
            idle: None,
            position_hint,
        };
        self.env_for(&p, s, now, &mut ctx);
        given
            + match self.eval.eval_number(p.id, &self.env) {
                Ok(v) if v.is_finite() => v,
                Ok(_) => 0.0,
                Err((msg, at)) => {
                    tracing::debug!(queue = %self.queues[q].rules.name, "priority failed at {at}: {msg}");
                    0.0
                }
            }
    }

    pub(super) fn eval_bool(&mut self, p: &Pred, s: CallSlot, now: i64) -> bool {
        let mut ctx = EnvCtx {
            position: None,
            estimate: None,
            idle: None,
            position_hint: None,
        };
        self.env_for(p, s, now, &mut ctx);
        match self.eval.eval_bool(p.id, &self.env) {
            Ok(b) => b,
            Err((msg, at)) => {
                tracing::debug!("queue condition failed at {at}: {msg}");
                false
            }
        }
    }

    pub(super) fn position(&self, s: CallSlot) -> u32 {
        let c = self.c(s);
        match c.key {
            Some(k) => self.queues[c.queue].waiting.range(..k).count() as u32 + 1,
            None => 0,
        }
    }

    pub(super) fn idle_agents(&self, q: QueueIx, now: i64) -> usize {
        self.queues[q]
            .eligible
            .iter()
            .filter(|a| self.agents[**a].available(now))
            .count()
    }

    pub(super) fn longest_wait(&self, q: QueueIx, now: i64) -> i64 {
        self.queues[q]
            .waiting
            .iter()
            .map(|k| now - self.c(k.slot).entered_ms)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// The queue's service rate (calls per ms) and abandonment rate for the estimator.
    pub(super) fn rates(&self, q: QueueIx) -> (f64, f64) {
        let queue = &self.queues[q];
        let servers: f64 = queue
            .eligible
            .iter()
            .map(|a| &self.agents[*a])
            .filter(|a| a.status.staffed())
            .map(|a| a.share_of(q))
            .sum();
        (servers / queue.est.handle_ms(), queue.est.theta())
    }

    /// What the wait predictors read of waiting call `s` (`None` when it is not
    /// waiting, or an agent is free for it).
    pub(super) fn wait_state(&self, s: CallSlot, now: i64) -> Option<WaitState> {
        let c = self.c(s);
        let q = c.queue;
        let position = self.position(s);
        if position == 0 || self.idle_agents(q, now) > 0 {
            return None;
        }
        let queue = &self.queues[q];
        let head_waited_ms = queue
            .waiting
            .first()
            .filter(|k| k.slot != s)
            .map(|k| (now - self.c(k.slot).entered_ms).max(0) as f64);
        let (service_rate, _) = self.rates(q);
        let waited_ms = (now - c.entered_ms).max(0) as f64;
        let ahead = c.key.map(|key| {
            queue
                .waiting
                .range(..key)
                .map(move |k| (now - self.c(k.slot).entered_ms).max(0) as f64)
        });
        let by_age_ms =
            ahead.and_then(|ahead| age_queue_estimate(ahead, service_rate, &queue.est.hazard));
        Some(WaitState {
            position,
            waited_ms,
            head_waited_ms,
            last_entered_ms: queue.est.last_entered_ms(),
            service_rate,
            departure_rate: queue.est.departure_rate(),
            by_age_ms,
        })
    }

    /// The position and predictions of waiting call `s`, for the estimator to
    /// learn from when it is answered.
    pub(super) fn predictions_slot(&self, s: CallSlot, now: i64) -> Option<(u32, Predictions)> {
        let state = self.wait_state(s, now)?;
        Some((state.position, Predictions::of(&state)))
    }

    pub(super) fn estimate_slot(&self, s: CallSlot, now: i64) -> Estimate {
        let c = self.c(s);
        let q = c.queue;
        let position = self.position(s);
        let waited = now - c.entered_ms;
        let asterisk_ms = self.queues[q].est.asterisk(waited) as f64;
        let (acd_ms, queue_length_ms) = match self.wait_state(s, now) {
            None => (Some(0.0), Some(0.0)),
            Some(state) => {
                let (rate, theta) = self.rates(q);
                let predictions = Predictions::of(&state);
                (
                    self.queues[q].est.blend.estimate(position, &predictions),
                    queue_length_estimate(position, rate, theta),
                )
            }
        };
        Estimate {
            acd_ms,
            queue_length_ms,
            asterisk_ms,
            position,
        }
    }

    /// Both wait estimates for a waiting call now.
    pub fn estimate(&self, call: CallId, now: i64) -> Option<Estimate> {
        let s = self.call_ix.get(&call).copied()?;
        self.c(s).key?;
        Some(self.estimate_slot(s, now))
    }

    fn avoids(&self, s: CallSlot, a: AgentIx, now: i64) -> bool {
        self.c(s)
            .avoid
            .iter()
            .any(|(x, until)| *x == a && *until > now)
    }

    /// The agents to offer waiting call `s` of queue `q` to, by the queue's strategy.
    pub(super) fn select(&self, q: QueueIx, s: CallSlot, now: i64) -> Vec<AgentIx> {
        let queue = &self.queues[q];
        let cands = queue
            .eligible
            .iter()
            .copied()
            .filter(|a| self.agents[*a].available(now) && !self.avoids(s, *a, now));
        let skills = &queue.rules.skills;
        let ag = |a: AgentIx| &self.agents[a];
        let pick = match queue.rules.strategy {
            Strategy::RingAll => return cands.collect(),
            Strategy::FirstIdle => cands.min(),
            Strategy::LongestIdle => cands.min_by_key(|a| (ag(*a).idle_since, *a)),
            Strategy::FewestCalls => cands.min_by_key(|a| (ag(*a).answered, ag(*a).idle_since, *a)),
            Strategy::LeastTalkTime => {
                cands.min_by_key(|a| (ag(*a).talk_ms, ag(*a).idle_since, *a))
            }
            Strategy::HighestSkill => {
                cands.min_by_key(|a| (Reverse(ag(*a).level_in(skills)), ag(*a).idle_since, *a))
            }
            Strategy::LowestSkill => {
                cands.min_by_key(|a| (ag(*a).level_in(skills), ag(*a).idle_since, *a))
            }
            Strategy::RoundRobin => {
                let last = queue
                    .rr_last
                    .and_then(|l| queue.eligible.iter().position(|a| *a == l));
                let n = queue.eligible.len();
                // The first candidate after the last agent, in declaration order.
                let start = last.map(|l| l + 1).unwrap_or(0);
                (0..n)
                    .map(|i| queue.eligible[(start + i) % n])
                    .find(|a| self.agents[*a].available(now) && !self.avoids(s, *a, now))
            }
        };
        pick.into_iter().collect()
    }

    fn any_available(&self, q: QueueIx, now: i64) -> bool {
        self.queues[q]
            .eligible
            .iter()
            .any(|a| self.agents[*a].available(now))
    }

    pub(super) fn dispatch_queue(&mut self, q: QueueIx, now: i64, out: &mut Vec<Effect>) {
        loop {
            if self.queues[q].waiting.is_empty() || !self.any_available(q, now) {
                return;
            }
            let mut chosen = None;
            for k in self.queues[q].waiting.iter().take(SCAN) {
                if self.c(k.slot).not_before > now {
                    continue;
                }
                let agents = self.select(q, k.slot, now);
                if !agents.is_empty() {
                    chosen = Some((k.slot, agents));
                    break;
                }
            }
            match chosen {
                Some((s, agents)) => self.offer(s, agents, now, out),
                None => return,
            }
        }
    }

    pub(super) fn dispatch_agent(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        if !self.agents[a].available(now) {
            let until = self.agents[a].delay_until;
            if self.agents[a].status == AgentStatus::Ready && until > now {
                self.at(until, Timer::DelayEnd { agent: a });
            }
            return;
        }
        let mut best: Option<WaitKey> = None;
        for qi in 0..self.agents[a].queues.len() {
            let q = self.agents[a].queues[qi];
            for k in self.queues[q].waiting.iter().take(SCAN) {
                if best.is_some_and(|b| b < *k) {
                    break;
                }
                if self.c(k.slot).not_before > now || self.avoids(k.slot, a, now) {
                    continue;
                }
                best = Some(*k);
                break;
            }
        }
        if let Some(k) = best {
            self.offer(k.slot, vec![a], now, out);
        }
    }

    pub(super) fn dispatch_all(&mut self, now: i64, out: &mut Vec<Effect>) {
        for q in self.queues.keys() {
            self.dispatch_queue(q, now, out);
        }
    }

    pub(super) fn record(
        &self,
        s: CallSlot,
        outcome: Outcome,
        agent: Option<AgentIx>,
        now: i64,
    ) -> CallRecord {
        let c = self.c(s);
        let q = &self.queues[c.queue].rules;
        let answered = matches!(
            outcome,
            Outcome::Answered
                | Outcome::CallbackAnswered
                | Outcome::Transferred
                | Outcome::Outbound
                | Outcome::Direct
        );
        let (wait, left, talk) = if answered {
            let talk = (now - c.answered_ms).max(0);
            (c.answered_ms - c.entered_ms, c.answered_ms, talk)
        } else {
            (now - c.entered_ms, now, 0)
        };
        CallRecord {
            call: c.id,
            queue: q.name.to_string(),
            skills: q.skill_names.clone(),
            trunk: c.info.trunk.clone(),
            caller: c.info.caller.clone(),
            entered_ms: c.entered_ms,
            left_ms: left,
            outcome,
            agent: agent.map(|a| self.agents[a].id.to_string()),
            wait_ms: wait.max(0),
            talk_ms: talk,
            hold_ms: c.hold_ms,
            wrap_ms: 0,
        }
    }

    /// The call leaves its queue without an agent: record it and tell the call task.
    pub(super) fn leave_for(
        &mut self,
        s: CallSlot,
        dest: DestIr,
        reason: MoveReason,
        outcome: Outcome,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let q = self.c(s).queue;
        self.finish_waiting(s, outcome, now, out);
        match dest {
            DestIr::Queue(name) => match self.queue_ix.get(name.as_str()).copied() {
                Some(t) if self.queues[t].active => {
                    let class = if outcome == Outcome::Overflow && self.is_down_overflow(q, t) {
                        CLASS_OVERFLOW_DOWN
                    } else {
                        0
                    };
                    self.enter_queue(s, t, class, None, now, out);
                }
                _ => {
                    let id = self.c(s).id;
                    out.push(Effect::ToCall(
                        id,
                        AcdToCall::Move {
                            dest: DestIr::Hangup,
                            reason: MoveReason::UnknownQueue,
                        },
                    ));
                    self.release(s);
                }
            },
            DestIr::Callback => self.start_callback(s, now, out),
            dest => {
                let id = self.c(s).id;
                out.push(Effect::ToCall(id, AcdToCall::Move { dest, reason }));
                self.release(s);
            }
        }
    }

    fn is_down_overflow(&self, from: QueueIx, to: QueueIx) -> bool {
        let target = &self.queues[to].rules.name;
        self.queues[from]
            .rules
            .overflows
            .iter()
            .any(|o| o.direction == OverflowDirection::Down && o.target == *target)
    }

    /// Ends the call's stay in its queue (not answered): statistics and events.
    pub(super) fn finish_waiting(
        &mut self,
        s: CallSlot,
        outcome: Outcome,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        self.take_waiting(s);
        let q = self.c(s).queue;
        let rec = self.record(s, outcome, None, now);
        if !self.queues[q].rules.builtin {
            let window = self.config.service_level_window;
            let queue = &mut self.queues[q];
            queue
                .est
                .note_wait_end(rec.wait_ms, true, outcome == Outcome::Abandoned);
            if outcome == Outcome::Abandoned && rec.wait_ms > queue.rules.sl_ms {
                queue.note_outcome(false, window);
            }
        }
        out.push(Effect::Event(AcdEvent::CallLeft {
            call: rec.call,
            queue: rec.queue.clone(),
            outcome,
            at_ms: now,
        }));
        out.push(Effect::Event(AcdEvent::Record(rec)));
    }

    fn start_callback(&mut self, s: CallSlot, now: i64, out: &mut Vec<Effect>) {
        let id = self.c(s).id;
        if self.c(s).key.is_none() {
            // Came from elsewhere (max wait -> callback): keep its arrival order.
            let seq = self.c(s).seq;
            let q = self.c(s).queue;
            self.enter_queue_quiet(s, q, seq, now);
        }
        if self.c(s).info.callback_number.is_empty() {
            // No number the platform can trust (a call from anywhere, with only
            // its From header): the caller keeps their place and is told.
            self.cm(s).phase = Phase::Waiting;
            out.push(Effect::ToCall(id, AcdToCall::CallbackRefused));
            return;
        }
        {
            let c = self.cm(s);
            c.callback = true;
            c.callback_attempts = 0;
            c.phase = Phase::Waiting;
        }
        let position = self.position(s);
        out.push(Effect::ToCall(id, AcdToCall::CallbackAccepted { position }));
        let q = self.c(s).queue;
        self.dispatch_queue(q, now, out);
    }

    fn enter_queue_quiet(&mut self, s: CallSlot, q: QueueIx, seq: u64, now: i64) {
        {
            let c = self.cm(s);
            c.queue = q;
            c.phase = Phase::Waiting;
            c.seq = seq;
        }
        let prio = self.priority(s, now, None);
        self.insert_waiting(s, prio);
    }

    pub(super) fn caller_key(&mut self, call: CallId, key: char, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).callback || self.c(s).kind != Kind::Queue {
            return;
        }
        let q = self.c(s).queue;
        let Some((dest, when)) = self.queues[q]
            .rules
            .keys
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, d, w)| (d.clone(), w.clone()))
        else {
            return;
        };
        // A key with a condition works only while it holds (a callback offered
        // after two minutes of waiting); before that, pressing it does nothing.
        if let Some(p) = when
            && !self.eval_bool(&p, s, now)
        {
            return;
        }
        match self.c(s).phase.clone() {
            Phase::Waiting => {}
            Phase::Offering(list) => {
                // Ringing an agent: withdraw the offer first.
                for a in list {
                    out.push(Effect::ToCall(
                        call,
                        AcdToCall::CancelOffer {
                            agent: self.agents[a].id.clone(),
                        },
                    ));
                    self.agents[a].call = None;
                    self.set_status(a, AgentStatus::Ready, "", None, now, out);
                }
                let prio = self.c(s).prio;
                self.cm(s).phase = Phase::Waiting;
                self.insert_waiting(s, prio);
            }
            _ => return,
        }
        match dest {
            DestIr::Callback => self.start_callback(s, now, out),
            dest => self.leave_for(s, dest, MoveReason::CancelKey, Outcome::Cancelled, now, out),
        }
        self.dispatch_all_free(now, out);
    }

    fn dispatch_all_free(&mut self, now: i64, out: &mut Vec<Effect>) {
        // After agents were released out of band (cancelled offers).
        for a in self.agents.keys() {
            if self.agents[a].available(now) && !self.agents[a].queues.is_empty() {
                self.dispatch_agent(a, now, out);
            }
        }
    }

    pub(super) fn ensure_reevaluate(&mut self, now: i64) {
        if self.reeval_at.is_some() {
            return;
        }
        let needed = self
            .queues
            .iter()
            .any(|q| q.rules.dynamic && !q.waiting.is_empty());
        if needed {
            let t = now + self.config.reevaluate_ms.max(1);
            self.reeval_at = Some(t);
            self.at(t, Timer::Reevaluate);
        }
    }

    pub(super) fn reevaluate(&mut self, now: i64, out: &mut Vec<Effect>) {
        for q in self.queues.keys() {
            if !self.queues[q].rules.dynamic || self.queues[q].waiting.is_empty() {
                continue;
            }
            if self.queues[q]
                .rules
                .priority
                .as_ref()
                .is_some_and(|p| p.dynamic)
            {
                let slots: Vec<CallSlot> = self.queues[q].waiting.iter().map(|k| k.slot).collect();
                for s in slots {
                    self.reprioritize(s, now);
                }
            }
            if !self.queues[q].rules.overflows.is_empty() {
                // From the back: the last callers overflow first.
                let slots: Vec<(CallSlot, CallId)> = self.queues[q]
                    .waiting
                    .iter()
                    .rev()
                    .map(|k| (k.slot, self.c(k.slot).id))
                    .collect();
                for (s, id) in slots {
                    if self.calls[s]
                        .as_ref()
                        .is_some_and(|c| c.id == id && c.queue == q && c.key.is_some())
                    {
                        self.check_overflow(s, now, out);
                    }
                }
            }
            self.dispatch_queue(q, now, out);
        }
    }

    /// Moves a waiting call by the first overflow rule that holds; true if moved.
    fn check_overflow(&mut self, s: CallSlot, now: i64, out: &mut Vec<Effect>) -> bool {
        if self.c(s).callback || self.c(s).phase != Phase::Waiting {
            return false;
        }
        let q = self.c(s).queue;
        let rules = self.queues[q].rules.overflows.clone();
        for rule in rules.iter() {
            let Some(t) = self.queue_ix.get(&rule.target).copied() else {
                continue;
            };
            if !self.queues[t].active || t == q {
                continue;
            }
            if rule.direction == OverflowDirection::Up && !self.any_available(t, now) {
                // A senior queue takes calls only while it has a free agent.
                continue;
            }
            if self.eval_bool(&rule.when, s, now) {
                self.leave_for(
                    s,
                    DestIr::Queue(rule.target.to_string()),
                    MoveReason::Overflow,
                    Outcome::Overflow,
                    now,
                    out,
                );
                return true;
            }
        }
        false
    }
}
