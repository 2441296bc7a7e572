//! Offering a call to agents and what came of it: the screen pop, ringing one
//! agent or several (ring-all), placing a callback for a reserved agent, the
//! answer that connects the call, and the failures (no answer, rejected, busy)
//! that count against the agent and put the call back in its queue. Direct
//! offers to one agent (`transfer agent`) start here too.

use dialect_compiler::ir::NoAnswerAction;

use super::{AcdCore, Kind, Phase, Timer};
use crate::arena::{AgentIx, CallSlot};
use crate::queue::CLASS_REOFFER;
use crate::types::*;

impl AcdCore {
    pub(super) fn screen_pop(&self, s: CallSlot, now: i64) -> ScreenPop {
        let c = self.c(s);
        ScreenPop {
            call: c.id,
            queue: self.queues[c.queue].rules.name.to_string(),
            caller: c.info.caller.clone(),
            called: c.info.called.clone(),
            trunk: c.info.trunk.clone(),
            customer_id: c.info.customer_id.clone(),
            data: c.info.data.clone(),
            trail: c.info.trail.clone(),
            waited_ms: (now - c.entered_ms).max(0),
            via: c.via.clone(),
        }
    }

    pub(super) fn offer(
        &mut self,
        s: CallSlot,
        agents: Vec<AgentIx>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        self.take_waiting(s);
        let q = self.c(s).queue;
        if let Some(first) = agents.first() {
            self.queues[q].rr_last = Some(*first);
        }
        if self.c(s).callback {
            // The customer is not on the line: reserve the agent and call back.
            let Some(&a) = agents.first() else {
                return;
            };
            let trunk = if self.config.callback_trunk.is_empty() {
                self.c(s).info.trunk_name.clone()
            } else {
                self.config.callback_trunk.clone()
            };
            let stamp = {
                let c = self.cm(s);
                c.offer_stamp += 1;
                c.phase = Phase::Dialing(a);
                c.offer_stamp
            };
            let id = self.c(s).id;
            self.agents[a].call = Some(s);
            self.set_status(a, AgentStatus::Ringing, "callback", Some(id), now, out);
            let order = DialOrder {
                call: id,
                kind: DialKind::Callback,
                number: self.c(s).info.callback_number.clone(),
                trunk,
                agent: self.agents[a].id.clone(),
                caller_id: self.config.callback_caller_id.clone(),
                ring_ms: self.config.callback_ring_ms,
                data: self.c(s).info.data.clone(),
            };
            out.push(Effect::Dial(order));
            self.at(
                now + self.config.dial_timeout_ms,
                Timer::DialTimeout { call: id, stamp },
            );
            return;
        }
        let ring_ms = self.queues[q].rules.ring_ms;
        let (id, stamp) = {
            let c = self.cm(s);
            c.offer_stamp += 1;
            c.phase = Phase::Offering(agents.clone());
            (c.id, c.offer_stamp)
        };
        let pop = self.screen_pop(s, now);
        for a in agents {
            self.agents[a].call = Some(s);
            self.set_status(a, AgentStatus::Ringing, "", Some(id), now, out);
            self.at(
                now + ring_ms,
                Timer::Ring {
                    call: id,
                    agent: a,
                    stamp,
                },
            );
            let ag = &self.agents[a];
            out.push(Effect::ToCall(
                id,
                AcdToCall::Offer {
                    agent: ag.id.clone(),
                    contact: None,
                    auto_answer: ag.def.auto_answer,
                    ring_ms,
                },
            ));
            out.push(Effect::Event(AcdEvent::CallOffered {
                agent: ag.id.to_string(),
                pop: Box::new(pop.clone()),
                at_ms: now,
            }));
        }
    }

    pub(super) fn offer_result(
        &mut self,
        call: CallId,
        agent: &str,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let (Some(s), Some(a)) = (
            self.call_ix.get(&call).copied(),
            self.agent_ix.get(agent).copied(),
        ) else {
            return;
        };
        if self.c(s).consult == Some((a, false)) {
            if result == OfferResult::Answered {
                self.cm(s).consult = Some((a, true));
                self.set_status(a, AgentStatus::Talking, "consult", Some(call), now, out);
            } else {
                self.consult_failed(s, a, result_name(result), now, out);
            }
            return;
        }
        let offered = matches!(&self.c(s).phase, Phase::Offering(list) if list.contains(&a));
        if !offered {
            if result == OfferResult::Answered {
                // Answered after the offer was withdrawn: hang that leg up.
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::CancelOffer {
                        agent: self.agents[a].id.clone(),
                    },
                ));
            }
            return;
        }
        if result == OfferResult::Answered {
            self.answer(s, a, now, out);
        } else {
            self.offer_failed(s, a, result, now, out);
        }
    }

    fn answer(&mut self, s: CallSlot, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        let others: Vec<AgentIx> = match &self.c(s).phase {
            Phase::Offering(list) => list.iter().copied().filter(|x| *x != a).collect(),
            _ => Vec::new(),
        };
        let id = self.c(s).id;
        for b in &others {
            out.push(Effect::ToCall(
                id,
                AcdToCall::CancelOffer {
                    agent: self.agents[*b].id.clone(),
                },
            ));
            self.agents[*b].call = None;
            self.set_status(*b, AgentStatus::Ready, "", None, now, out);
        }
        let q = self.c(s).queue;
        let (wait, first_answer, entry) = {
            let c = self.cm(s);
            c.phase = Phase::Connected;
            c.agent = Some(a);
            c.answered_ms = now;
            // A callback's wait is not the caller's on the line: not learnt.
            let entry = c.entry_predictions.take().filter(|_| !c.callback);
            (now - c.entered_ms, !c.transferred, entry)
        };
        {
            let ag = &mut self.agents[a];
            ag.missed = 0;
            ag.answered += 1;
            ag.call = Some(s);
            ag.note_share(q);
        }
        self.set_status(a, AgentStatus::Talking, "", Some(id), now, out);
        if first_answer && !self.queues[q].rules.builtin {
            let window = self.config.service_level_window;
            let queue = &mut self.queues[q];
            queue.est.note_wait_end(wait, false, false);
            queue.est.note_answered(wait);
            if let Some((position, predictions)) = entry {
                queue.est.blend.learn(position, &predictions, wait as f64);
            }
            let within = wait <= queue.rules.sl_ms;
            queue.note_outcome(within, window);
        }
        out.push(Effect::ToCall(
            id,
            AcdToCall::Bridge {
                agent: self.agents[a].id.clone(),
            },
        ));
        out.push(Effect::Event(AcdEvent::CallAnswered {
            call: id,
            queue: self.queues[q].rules.name.to_string(),
            agent: self.agents[a].id.to_string(),
            wait_ms: wait,
            at_ms: now,
        }));
        for b in others {
            self.dispatch_agent(b, now, out);
        }
    }

    pub(super) fn offer_failed(
        &mut self,
        s: CallSlot,
        a: AgentIx,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let q = self.c(s).queue;
        let rules = &self.queues[q].rules;
        let (delay, counts) = match result {
            OfferResult::NoAnswer => (0, true),
            OfferResult::Rejected => (rules.reject_delay_ms, false),
            OfferResult::Busy | OfferResult::Failed => (rules.busy_delay_ms, false),
            OfferResult::Unregistered => (rules.unregistered_delay_ms, false),
            OfferResult::Answered => (0, false),
        };
        let max_missed = rules.max_missed;
        let ring_ms = rules.ring_ms;
        let action = rules.no_answer;
        let builtin = rules.builtin;
        let remaining = {
            let c = self.cm(s);
            if let Phase::Offering(list) = &mut c.phase {
                list.retain(|x| *x != a);
            }
            c.avoid.retain(|(_, until)| *until > now);
            c.avoid.push((a, now + delay.max(ring_ms)));
            matches!(&c.phase, Phase::Offering(list) if !list.is_empty())
        };
        let id = self.c(s).id;
        // The agent.
        {
            let ag = &mut self.agents[a];
            ag.call = None;
            if delay > 0 {
                ag.delay_until = now + delay;
            }
            if counts && !builtin {
                ag.missed += 1;
            }
        }
        let made_busy = counts && !builtin && self.agents[a].missed >= max_missed;
        if made_busy {
            self.agents[a].missed = 0;
            self.agents[a].pending = None;
            self.set_status(a, AgentStatus::NotReady, "no answer", Some(id), now, out);
        } else if !self.apply_pending(a, now, out) {
            self.set_status(a, AgentStatus::Ready, result_name(result), None, now, out);
        }
        if !remaining {
            self.requeue_after_failure(s, action, result, now, out);
        }
        self.dispatch_agent(a, now, out);
    }

    fn requeue_after_failure(
        &mut self,
        s: CallSlot,
        action: NoAnswerAction,
        result: OfferResult,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let id = self.c(s).id;
        if self.c(s).kind == Kind::Direct {
            match self.c(s).direct_return {
                Some(q) => {
                    // A blind transfer to an agent failed: back to the queue, first.
                    let seq = self.c(s).seq;
                    self.cm(s).kind = Kind::Queue;
                    self.enter_queue(s, q, CLASS_REOFFER, Some(seq), now, out);
                }
                None => {
                    out.push(Effect::ToCall(
                        id,
                        AcdToCall::Unavailable {
                            reason: result_name(result).to_string(),
                        },
                    ));
                    self.release(s);
                }
            }
            return;
        }
        let q = self.c(s).queue;
        {
            let c = self.cm(s);
            c.phase = Phase::Waiting;
            if action != NoAnswerAction::Requeue {
                c.class = c.class.max(CLASS_REOFFER);
            }
        }
        let prio = self.priority(s, now, None);
        self.insert_waiting(s, prio);
        if action == NoAnswerAction::NextAgent {
            let agents = self.select(q, s, now);
            if let Some(&b) = agents.first() {
                self.offer(s, vec![b], now, out);
                return;
            }
        }
        let position = self.position(s);
        let est = self.estimate_slot(s, now).acd_ms.map(|m| m.round() as i64);
        out.push(Effect::ToCall(
            id,
            AcdToCall::Queued {
                queue: self.queues[q].rules.name.to_string(),
                position,
                estimated_wait_ms: est,
            },
        ));
        self.dispatch_queue(q, now, out);
    }

    pub(super) fn direct(&mut self, qc: QueuedCall, agent: &str, now: i64, out: &mut Vec<Effect>) {
        let id = qc.call_id;
        if let Some(old) = self.call_ix.get(&id).copied() {
            self.release(old);
        }
        let a = match self.agent_ix.get(agent).copied() {
            Some(a) if self.agents[a].available(now) || self.take_reservation(a) => a,
            Some(_) => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Unavailable {
                        reason: "not available".into(),
                    },
                ));
                return;
            }
            None => {
                out.push(Effect::ToCall(
                    id,
                    AcdToCall::Unavailable {
                        reason: "unknown agent".into(),
                    },
                ));
                return;
            }
        };
        let mut call = self.new_call(qc, self.direct_q, Kind::Direct, now);
        call.via = "direct".into();
        let s = self.alloc(call);
        self.offer(s, vec![a], now, out);
    }
}

fn result_name(r: OfferResult) -> &'static str {
    match r {
        OfferResult::Answered => "answered",
        OfferResult::Rejected => "rejected",
        OfferResult::NoAnswer => "no answer",
        OfferResult::Busy => "busy",
        OfferResult::Unregistered => "unregistered",
        OfferResult::Failed => "failed",
    }
}
