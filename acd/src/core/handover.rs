//! Calls handed over from another instance of the ACD. In a cluster one
//! runtime runs the ACD at a time and the others hold their calls' media;
//! when the ACD moves (its runtime died or lost its lease), each runtime
//! hands its calls to the new one: waiting calls enter their queue again at
//! their original place ([`Input::Resume`](super::Input::Resume)), connected
//! calls keep their agent busy ([`Input::Adopt`](super::Input::Adopt)). A
//! runtime out of reach has its waiting calls forgotten without a record
//! ([`Input::Forget`](super::Input::Forget)), so that no agent is offered a
//! call nobody can bridge.

use super::{AcdCore, Kind, Phase};
use crate::types::*;

/// Arrival order by entry time: milliseconds in the high bits, room for
/// 65,536 calls per millisecond below.
pub(super) fn time_seq(entered_ms: i64) -> u64 {
    (entered_ms.max(0) as u64) << 16
}

/// The arrival order of a call resumed with its original entry time: before
/// every call that entered later, after those that entered earlier; the call
/// id breaks ties between calls of the same millisecond.
fn resume_seq(entered_ms: i64, call: CallId) -> u64 {
    time_seq(entered_ms) | (call & 0xffff)
}

impl AcdCore {
    pub(super) fn resume(&mut self, qc: QueuedCall, now: i64, out: &mut Vec<Effect>) {
        let id = qc.call_id;
        if let Some(old) = self.call_ix.get(&id).copied() {
            if self.c(old).phase == Phase::Connected {
                // Connected here already: the runtime's report is late.
                return;
            }
            self.forget(id, now, out);
        }
        let Some(q) = self
            .queue_ix
            .get(qc.queue.as_str())
            .copied()
            .filter(|q| self.queues[*q].active && !self.queues[*q].rules.builtin)
        else {
            // A queue the program no longer has: as for a new call.
            self.enqueue(qc, now, out, 0);
            return;
        };
        let entered = qc.entered_ms.min(now);
        let seq = resume_seq(entered, id);
        let call = self.new_call(qc, q, Kind::Queue, now);
        let s = self.alloc(call);
        self.enter_queue_at(s, q, 0, Some(seq), entered, now, out);
        // Its wait began under the other instance: nothing to learn from it.
        if let Some(c) = self.calls[s].as_mut()
            && c.id == id
        {
            c.entry_predictions = None;
        }
    }

    pub(super) fn adopt(&mut self, qc: QueuedCall, agent: &str, now: i64, out: &mut Vec<Effect>) {
        let id = qc.call_id;
        let Some(a) = self.agent_ix.get(agent).copied() else {
            return;
        };
        if let Some(s) = self.call_ix.get(&id).copied() {
            if self.c(s).phase == Phase::Connected && self.c(s).agent == Some(a) {
                return;
            }
            self.forget(id, now, out);
        }
        if let Some(other) = self.agents[a].call {
            // Offered another call meanwhile: that offer is withdrawn, the
            // agent is on this one.
            let other_id = self.c(other).id;
            if let Phase::Offering(list) = &mut self.cm(other).phase {
                list.retain(|x| *x != a);
            }
            out.push(Effect::ToCall(
                other_id,
                AcdToCall::CancelOffer {
                    agent: self.agents[a].id.clone(),
                },
            ));
            if matches!(&self.c(other).phase, Phase::Offering(list) if list.is_empty()) {
                let q = self.c(other).queue;
                let seq = self.c(other).seq;
                self.enter_queue(other, q, 0, Some(seq), now, out);
            }
        }
        let q = self
            .queue_ix
            .get(qc.queue.as_str())
            .copied()
            .unwrap_or(self.direct_q);
        let entered = qc.entered_ms.min(now);
        let mut call = self.new_call(qc, q, Kind::Queue, now);
        call.entered_ms = entered;
        call.seq = resume_seq(entered, id);
        call.phase = Phase::Connected;
        call.agent = Some(a);
        call.answered_ms = now;
        call.via = "take-over".into();
        let s = self.alloc(call);
        self.agents[a].call = Some(s);
        self.set_status(a, AgentStatus::Talking, "", Some(id), now, out);
    }

    pub(super) fn forget(&mut self, call: CallId, now: i64, out: &mut Vec<Effect>) {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return;
        };
        match self.c(s).phase.clone() {
            Phase::Waiting => self.release(s),
            Phase::Offering(list) => {
                self.release(s);
                for a in &list {
                    self.agents[*a].call = None;
                    if !self.apply_pending(*a, now, out) {
                        self.set_status(*a, AgentStatus::Ready, "caller moved", None, now, out);
                    }
                }
                for a in list {
                    self.dispatch_agent(a, now, out);
                }
            }
            Phase::Connected | Phase::Dialing(_) => {}
        }
    }
}
