//! A call after its offer: what the call task reports (the caller hung up, the
//! call ended, hold from the phone, an agent's leg left a conference or a
//! consultation), a consultation that failed, and the outcome of calls the ACD
//! placed itself (callbacks and agents' outbound calls) answered or failed.

use super::{AcdCore, Kind, Phase, Timer};
use crate::arena::{AgentIx, CallSlot};
use crate::types::*;

impl AcdCore {
    pub(super) fn caller_gone(&mut self, call: CallId, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).callback {
            // Expected: the caller hangs up after choosing a callback.
            return;
        }
        match self.c(s).phase.clone() {
            Phase::Waiting => {
                self.finish_waiting(s, Outcome::Abandoned, now, out);
                self.release(s);
            }
            Phase::Offering(list) => {
                for a in &list {
                    self.agents[*a].call = None;
                    if !self.apply_pending(*a, now, out) {
                        self.set_status(*a, AgentStatus::Ready, "caller left", None, now, out);
                    }
                }
                if self.c(s).kind == Kind::Queue {
                    self.finish_waiting(s, Outcome::Abandoned, now, out);
                }
                self.release(s);
                for a in list {
                    self.dispatch_agent(a, now, out);
                }
            }
            Phase::Connected => self.call_ended(call, None, now, out),
            Phase::Dialing(_) => self.dial_failed(call, "gone", now, out),
        }
    }

    pub(super) fn call_ended(
        &mut self,
        call: CallId,
        talk_ms: Option<i64>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        if self.c(s).phase != Phase::Connected {
            self.caller_gone(call, now, out);
            return;
        }
        if self.c(s).hold_since.is_some() {
            self.set_hold(s, false, now, out);
        }
        let extra: Vec<AgentIx> = {
            let c = self.c(s);
            let mut v = c.conference.clone();
            if let Some((b, _)) = c.consult {
                v.push(b);
            }
            v
        };
        for b in extra {
            self.agents[b].call = None;
            self.after_call(b, now, out);
        }
        if let Some(a) = self.c(s).agent {
            self.finish_agent(s, a, talk_ms, now, out);
        }
        self.release(s);
    }

    pub(super) fn set_hold(&mut self, s: CallSlot, on: bool, now: i64, out: &mut Vec<Effect>) {
        let id = self.c(s).id;
        {
            let c = self.cm(s);
            match (on, c.hold_since) {
                (true, None) => c.hold_since = Some(now),
                (false, Some(t)) => {
                    c.hold_ms += now - t;
                    c.hold_since = None;
                }
                _ => {}
            }
        }
        if let Some(a) = self.c(s).agent
            && self.c(s).consult.is_none()
        {
            let st = if on {
                AgentStatus::Held
            } else {
                AgentStatus::Talking
            };
            self.set_status(a, st, "", Some(id), now, out);
        }
    }

    pub(super) fn agent_left(
        &mut self,
        call: CallId,
        agent: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let (Some(s), Some(a)) = (
            self.call_ix.get(&call).copied(),
            self.agent_ix.get(agent).copied(),
        ) else {
            return;
        };
        if let Some((b, _)) = self.c(s).consult
            && b == a
        {
            self.cm(s).consult = None;
            self.agents[a].call = None;
            self.set_hold(s, false, now, out);
            self.after_call(a, now, out);
            return;
        }
        if self.c(s).conference.contains(&a) {
            self.cm(s).conference.retain(|x| *x != a);
            self.agents[a].call = None;
            self.after_call(a, now, out);
            return;
        }
        if self.c(s).agent == Some(a) {
            let next = self.c(s).conference.first().copied();
            match next {
                Some(b) => {
                    self.finish_agent(s, a, None, now, out);
                    let c = self.cm(s);
                    c.conference.retain(|x| *x != b);
                    c.agent = Some(b);
                    c.transferred = true;
                    c.answered_ms = now;
                }
                None => self.call_ended(call, None, now, out),
            }
        }
    }

    pub(super) fn consult_failed(
        &mut self,
        s: CallSlot,
        b: AgentIx,
        why: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let id = self.c(s).id;
        self.cm(s).consult = None;
        self.agents[b].call = None;
        out.push(Effect::ToCall(
            id,
            AcdToCall::ConsultEnd {
                agent: self.agents[b].id.clone(),
            },
        ));
        self.set_hold(s, false, now, out);
        if !self.apply_pending(b, now, out) {
            self.set_status(b, AgentStatus::Ready, why, None, now, out);
            self.dispatch_agent(b, now, out);
        }
        if let Some(a) = self.c(s).agent {
            out.push(Effect::Event(AcdEvent::Notice {
                agent: self.agents[a].id.to_string(),
                message: format!("consultation with {} failed: {why}", self.agents[b].id),
            }));
        }
    }

    pub(super) fn dial_answered(&mut self, call: CallId, now: i64, out: &mut Vec<Effect>) {
        // An answer the ACD no longer waits for (it gave up a moment before): the
        // call task must hang up rather than wait for a bridge that never comes.
        let gave_up = AcdToCall::Unavailable {
            reason: "the ACD gave up on this placed call".into(),
        };
        let Some(s) = self.call_ix.get(&call).copied() else {
            out.push(Effect::ToCall(call, gave_up));
            return;
        };
        let Phase::Dialing(a) = self.c(s).phase else {
            out.push(Effect::ToCall(call, gave_up));
            return;
        };
        if self.c(s).kind == Kind::Outbound {
            {
                let c = self.cm(s);
                c.phase = Phase::Connected;
                c.agent = Some(a);
                c.answered_ms = now;
            }
            self.agents[a].before_dial = None;
            self.set_status(a, AgentStatus::Talking, "outbound", Some(call), now, out);
            out.push(Effect::ToCall(
                call,
                AcdToCall::Bridge {
                    agent: self.agents[a].id.clone(),
                },
            ));
            return;
        }
        // A callback reached the customer: now offer it to the reserved agent.
        {
            let c = self.cm(s);
            c.callback = false;
            c.called_back = true;
            c.via = "callback".into();
        }
        self.offer(s, vec![a], now, out);
    }

    pub(super) fn dial_failed(
        &mut self,
        call: CallId,
        reason: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        let Phase::Dialing(a) = self.c(s).phase else {
            return;
        };
        // Whoever decided it (the call task, the dial timeout, the call being
        // dropped), the placed call's task stops dialling.
        out.push(Effect::DialGivenUp(call));
        self.agents[a].call = None;
        if self.c(s).kind == Kind::Outbound {
            let back = self.agents[a].before_dial.take();
            match back {
                Some((AgentStatus::Ready, _)) | None => {
                    if !self.apply_pending(a, now, out) {
                        self.set_status(a, AgentStatus::Ready, "", None, now, out);
                        self.dispatch_agent(a, now, out);
                    }
                }
                Some((st, r)) => self.set_status(a, st, &r, None, now, out),
            }
            out.push(Effect::Event(AcdEvent::Notice {
                agent: self.agents[a].id.to_string(),
                message: format!("outbound call failed: {reason}"),
            }));
            self.release(s);
            return;
        }
        // A callback that did not reach the customer.
        if !self.apply_pending(a, now, out) {
            self.set_status(a, AgentStatus::Ready, "", None, now, out);
        }
        let attempts = {
            let c = self.cm(s);
            c.callback_attempts += 1;
            c.callback_attempts
        };
        if attempts < self.config.callback_attempts.max(1) {
            let prio = self.c(s).prio;
            let retry = now + self.config.callback_retry_ms;
            {
                let c = self.cm(s);
                c.phase = Phase::Waiting;
                c.not_before = retry;
            }
            self.insert_waiting(s, prio);
            self.at(retry, Timer::Retry { call });
        } else {
            self.finish_waiting(s, Outcome::CallbackFailed, now, out);
            self.release(s);
        }
        self.dispatch_agent(a, now, out);
    }
}
