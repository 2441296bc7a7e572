//! Agent state changes: the one place a state is set and announced
//! (`set_status`), wrap-up after a call, what an agent does when a call is over
//! (pending not-ready or sign-out), adding, changing and removing agents, and
//! which agents may take which queue (eligibility by skills).

use super::{AcdCore, AgentCommand, Kind, Timer};
use crate::agent::{Agent, AgentDef, Pending};
use crate::arena::{AgentIx, CallSlot};
use crate::types::*;

impl AcdCore {
    pub(super) fn put_agent(&mut self, def: AgentDef, now: i64) -> AgentIx {
        let mut levels = vec![0; self.skills.len()];
        for (s, l) in &def.skills {
            let i = self.skill(s) as usize;
            if levels.len() <= i {
                levels.resize(i + 1, 0);
            }
            levels[i] = *l;
        }
        levels.resize(self.skills.len(), 0);
        match self.agent_ix.get(def.id.as_str()).copied() {
            Some(i) => {
                let a = &mut self.agents[i];
                a.levels = levels;
                a.def = def;
                a.removed = false;
                i
            }
            None => {
                let a = Agent::new(def, levels, now);
                let id = a.id.clone();
                let i = self.agents.push(a);
                self.agent_ix.insert(id, i);
                i
            }
        }
    }

    pub(super) fn rebuild_eligibility(&mut self) {
        let nskills = self.skills.len();
        for a in &mut self.agents {
            a.levels.resize(nskills, 0);
            a.queues.clear();
        }
        for (qi, q) in self.queues.iter_mut_indexed() {
            q.eligible.clear();
            if q.rules.builtin {
                continue;
            }
            for (ai, a) in self.agents.iter_mut_indexed() {
                if !a.removed && a.qualifies(&q.rules.skills) {
                    q.eligible.push(ai);
                    a.queues.push(qi);
                }
            }
        }
        for a in &mut self.agents {
            let n = a.queues.len();
            if a.share.len() != n {
                a.share = vec![if n == 0 { 0.0 } else { 1.0 / n as f64 }; n];
            }
        }
    }

    /// Adds or changes an agent (skills, name, auto-answer); their state stays.
    pub fn upsert_agent(&mut self, def: AgentDef, now: i64, out: &mut Vec<Effect>) {
        let a = self.put_agent(def, now);
        self.rebuild_eligibility();
        self.dispatch_agent(a, now, out);
        self.tell_wake(now, out);
    }

    /// Removes an agent: signed out now, or after the current call.
    pub fn remove_agent(&mut self, id: &str, now: i64, out: &mut Vec<Effect>) -> bool {
        let Some(a) = self.agent_ix.get(id).copied() else {
            return false;
        };
        self.agents[a].removed = true;
        let _ = self.command(now, id, AgentCommand::SignOut, "api", out);
        self.rebuild_eligibility();
        true
    }

    /// The primary agent's part of the call is over: record it and start wrap-up.
    pub(super) fn finish_agent(
        &mut self,
        s: CallSlot,
        a: AgentIx,
        talk_ms: Option<i64>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let outcome = {
            let c = self.c(s);
            match c.kind {
                Kind::Outbound => Outcome::Outbound,
                Kind::Direct if !c.transferred => Outcome::Direct,
                _ if c.transferred => Outcome::Transferred,
                _ if c.called_back => Outcome::CallbackAnswered,
                _ => Outcome::Answered,
            }
        };
        let mut rec = self.record(s, outcome, Some(a), now);
        if let Some(t) = talk_ms {
            rec.talk_ms = t.max(0);
        }
        let q = self.c(s).queue;
        let wrap = if self.c(s).kind == Kind::Outbound {
            self.config.outbound_wrap_ms
        } else {
            self.queues[q].rules.wrap_up_ms
        };
        {
            let ag = &mut self.agents[a];
            ag.talk_ms += rec.talk_ms;
            ag.call = None;
            ag.wrap_record = Some(rec);
            ag.wrap_queue = Some(q);
        }
        self.cm(s).agent = None;
        let id = self.c(s).id;
        if wrap > 0 {
            self.set_status(a, AgentStatus::WrapUp, "", Some(id), now, out);
            let stamp = self.agents[a].stamp;
            self.at(now + wrap, Timer::WrapEnd { agent: a, stamp });
        } else {
            self.end_wrap(a, now, out);
        }
    }

    pub(super) fn end_wrap(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        let wrap_ms = if self.agents[a].status == AgentStatus::WrapUp {
            now - self.agents[a].since_ms
        } else {
            0
        };
        let q = self.agents[a].wrap_queue.take();
        if let Some(mut rec) = self.agents[a].wrap_record.take() {
            rec.wrap_ms = wrap_ms.max(0);
            if let Some(q) = q
                && !self.queues[q].rules.builtin
                && matches!(
                    rec.outcome,
                    Outcome::Answered | Outcome::CallbackAnswered | Outcome::Transferred
                )
            {
                self.queues[q].est.note_handled(rec.talk_ms + rec.wrap_ms);
            }
            out.push(Effect::Event(AcdEvent::Record(rec)));
        }
        self.after_call(a, now, out);
    }

    /// What an agent does when a call (and its wrap-up) is over.
    pub(super) fn after_call(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) {
        if !self.apply_pending(a, now, out) {
            self.agents[a].idle_since = now;
            self.set_status(a, AgentStatus::Ready, "", None, now, out);
            self.dispatch_agent(a, now, out);
        }
    }

    pub(super) fn apply_pending(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> bool {
        let removed = self.agents[a].removed;
        match self.agents[a].pending.take() {
            Some(Pending::NotReady(r)) if !removed => {
                self.set_status(a, AgentStatus::NotReady, &r, None, now, out);
                true
            }
            Some(Pending::SignOut) | Some(Pending::NotReady(_)) => {
                self.set_status(a, AgentStatus::SignedOut, "", None, now, out);
                true
            }
            None if removed => {
                self.set_status(a, AgentStatus::SignedOut, "removed", None, now, out);
                true
            }
            None => false,
        }
    }

    pub(super) fn set_status(
        &mut self,
        a: AgentIx,
        status: AgentStatus,
        reason: &str,
        call: Option<CallId>,
        now: i64,
        out: &mut Vec<Effect>,
    ) {
        let ag = &mut self.agents[a];
        if ag.status == status && ag.reason == reason {
            return;
        }
        ag.status = status;
        ag.since_ms = now;
        ag.reason = reason.to_string();
        ag.stamp = ag.stamp.wrapping_add(1);
        out.push(Effect::Event(AcdEvent::AgentState(AgentStateChange {
            agent: ag.id.to_string(),
            at_ms: now,
            state: status,
            reason: reason.to_string(),
            call,
        })));
    }
}

impl AcdCore {
    /// Holds a ready agent back from every offer while the dialer shows them
    /// a previewed campaign target: the agent rings, with `reason` (as the
    /// wallboard shows it), for no call. A direct call for the agent (the
    /// accepted target answering) ends the reservation by ringing them for
    /// it; [`AcdCore::release_reservation`] ends it otherwise. Reserving an
    /// agent already reserved only changes the reason.
    pub fn reserve(
        &mut self,
        agent: &str,
        reason: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Result<(), String> {
        let Some(a) = self.agent_ix.get(agent).copied() else {
            return Err(format!("there is no agent {agent}"));
        };
        let ag = &self.agents[a];
        if ag.reservation.is_some() && ag.call.is_none() {
            self.set_status(a, AgentStatus::Ringing, reason, None, now, out);
            return Ok(());
        }
        if !ag.available(now) || ag.call.is_some() || ag.pending.is_some() {
            return Err(format!(
                "agent {agent} is {} and cannot be held for a preview",
                ag.status.name()
            ));
        }
        let before = (ag.status, ag.reason.clone());
        self.agents[a].reservation = Some(before);
        self.set_status(a, AgentStatus::Ringing, reason, None, now, out);
        Ok(())
    }

    /// Ends an agent's reservation: they go back to the state they had (or to
    /// the not-ready or signed-out state they asked for meanwhile) and take a
    /// waiting call if there is one. Nothing happens to an agent who is not
    /// reserved, or whose reservation a direct call has already ended.
    pub fn release_reservation(&mut self, agent: &str, now: i64, out: &mut Vec<Effect>) {
        let Some(a) = self.agent_ix.get(agent).copied() else {
            return;
        };
        if self.agents[a].call.is_some() {
            return;
        }
        let Some((status, reason)) = self.agents[a].reservation.take() else {
            return;
        };
        if self.apply_pending(a, now, out) {
            return;
        }
        self.set_status(a, status, &reason, None, now, out);
        if status == AgentStatus::Ready {
            self.dispatch_agent(a, now, out);
        }
    }

    /// Takes the reservation of an agent for the direct call that it was
    /// held for; `true` when the agent was reserved and free.
    pub(super) fn take_reservation(&mut self, a: AgentIx) -> bool {
        let ag = &mut self.agents[a];
        if ag.call.is_some() {
            return false;
        }
        ag.reservation.take().is_some()
    }
}
