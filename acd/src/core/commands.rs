//! The CTI entry: [`AcdCore::command`] carries out what an agent desktop or a
//! supervisor asks ([`AgentCommand`]) and answers with a [`CtiReply`] or a
//! [`CtiError`]. Each command is one function; `command_inner` only dispatches.

use dialect_compiler::value::Value;
use serde::{Deserialize, Serialize};

use super::{AcdCore, Kind, OUTBOUND_QUEUE, Phase, Timer};
use crate::agent::Pending;
use crate::arena::{AgentIx, CallSlot};
use crate::types::*;

/// Call data as JSON clients write it, an object of fields, or as pairs.
fn data_fields<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, Value)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Fields {
        Object(std::collections::BTreeMap<String, Value>),
        Pairs(Vec<(String, Value)>),
    }
    Ok(match Fields::deserialize(d)? {
        Fields::Object(m) => m.into_iter().collect(),
        Fields::Pairs(p) => p,
    })
}

/// What an agent desktop or a supervisor asks. A `reason` is the not-ready
/// reason code shown and stored with the state ("" for none); a `phone` is the
/// supervisor's phone (a SIP user name the registrar knows), which the call task
/// rings to join the agent's call.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(
    missing_docs,
    reason = "`reason` and `phone` are described on the type"
)]
pub enum AgentCommand {
    /// Start working (not ready until `ready`).
    SignIn,
    /// Stop working (after the current call).
    SignOut,
    /// Take calls (ends wrap-up early).
    Ready,
    /// Stop taking calls, with a reason code (after the current call).
    NotReady {
        #[serde(default)]
        reason: String,
    },
    /// Answer the offered call from the desktop.
    Answer,
    /// Decline the offered call.
    Reject,
    /// Hang up (leave a conference; end a consultation; end the call).
    HangUp,
    /// Put the caller on hold.
    Hold,
    /// Take the caller off hold.
    Resume,
    /// Hold the caller and call another agent, or a free agent of a queue.
    Consult {
        /// An agent, or a queue whose longest-idle free agent is rung; not a number.
        target: TransferTarget,
    },
    /// End the consultation and return to the caller.
    ConsultCancel,
    /// Transfer: blind to `target`, or (without a target) complete the consultation.
    Transfer {
        /// Where; `None` completes a consultative transfer.
        #[serde(default)]
        target: Option<TransferTarget>,
    },
    /// Join the consulted agent to the call.
    Conference,
    /// Call a number through a trunk.
    Dial {
        number: String,
        /// The trunk group ("" = any).
        #[serde(default)]
        trunk: String,
    },
    /// Set call data fields of the agent's call (they travel with the call).
    SetData {
        /// Field name to value: `{"field": value}`, as `PUT
        /// /api/v1/calls/{call}/data` takes it, or pairs `[["field", value]]`.
        #[serde(deserialize_with = "data_fields")]
        data: Vec<(String, Value)>,
    },
    /// Clear the call data of the agent's call.
    ClearData,
    /// Read the call data of the agent's call.
    GetData,
    /// Send keys to the caller as RFC 4733 events (an IVR or a bank's line the
    /// agent dialled asks for an extension or a code): `digits` of
    /// `0-9 * # A-D`, at most [`MAX_DTMF_DIGITS`].
    SendDtmf { digits: String },
    /// Supervisor: make the agent ready.
    ForceReady,
    /// Supervisor: make the agent not ready.
    ForceNotReady {
        #[serde(default)]
        reason: String,
    },
    /// Supervisor: sign the agent out.
    ForceSignOut,
    /// Supervisor: listen to the agent's call from `phone`.
    Listen { phone: String },
    /// Supervisor: talk to the agent only.
    Whisper { phone: String },
    /// Supervisor: join the call three-way.
    Barge { phone: String },
    /// Supervisor: take the call over from the agent.
    TakeOver { phone: String },
    /// Supervisor: stop listening/whispering/barging.
    StopMonitor { phone: String },
}

impl AgentCommand {
    /// Supervisor operations (force, monitor, take over).
    pub fn is_supervisor(&self) -> bool {
        matches!(
            self,
            AgentCommand::ForceReady
                | AgentCommand::ForceNotReady { .. }
                | AgentCommand::ForceSignOut
                | AgentCommand::Listen { .. }
                | AgentCommand::Whisper { .. }
                | AgentCommand::Barge { .. }
                | AgentCommand::TakeOver { .. }
                | AgentCommand::StopMonitor { .. }
        )
    }

    /// The name used in routes and the audit log.
    pub fn name(&self) -> &'static str {
        match self {
            AgentCommand::SignIn => "sign_in",
            AgentCommand::SignOut => "sign_out",
            AgentCommand::Ready => "ready",
            AgentCommand::NotReady { .. } => "not_ready",
            AgentCommand::Answer => "answer",
            AgentCommand::Reject => "reject",
            AgentCommand::HangUp => "hang_up",
            AgentCommand::Hold => "hold",
            AgentCommand::Resume => "resume",
            AgentCommand::Consult { .. } => "consult",
            AgentCommand::ConsultCancel => "consult_cancel",
            AgentCommand::Transfer { .. } => "transfer",
            AgentCommand::Conference => "conference",
            AgentCommand::Dial { .. } => "dial",
            AgentCommand::SetData { .. } => "set_data",
            AgentCommand::ClearData => "clear_data",
            AgentCommand::GetData => "get_data",
            AgentCommand::SendDtmf { .. } => "send_dtmf",
            AgentCommand::ForceReady => "force_ready",
            AgentCommand::ForceNotReady { .. } => "force_not_ready",
            AgentCommand::ForceSignOut => "force_sign_out",
            AgentCommand::Listen { .. } => "listen",
            AgentCommand::Whisper { .. } => "whisper",
            AgentCommand::Barge { .. } => "barge",
            AgentCommand::TakeOver { .. } => "take_over",
            AgentCommand::StopMonitor { .. } => "stop_monitor",
        }
    }
}

/// The most keys one `send_dtmf` sends: enough for an extension, a PIN or
/// an account number, and a bound on how long the caller's leg is busy with
/// events (32 keys take about 5 s).
pub const MAX_DTMF_DIGITS: usize = 32;

/// Checks the keys of a `send_dtmf`: one to [`MAX_DTMF_DIGITS`] of
/// `0-9 * # A-D` (upper or lower case), the sixteen keys RFC 4733 names.
pub fn check_dtmf_digits(digits: &str) -> Result<(), CtiError> {
    if digits.is_empty() {
        return Err(CtiError::Invalid(
            "`digits` is empty: give the keys to send, such as 12#".into(),
        ));
    }
    if let Some(bad) = digits
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d')))
    {
        return Err(CtiError::Invalid(format!(
            "`{bad}` is not a key: keys are 0-9, *, # and A-D"
        )));
    }
    let n = digits.chars().count();
    if n > MAX_DTMF_DIGITS {
        return Err(CtiError::Invalid(format!(
            "{n} keys: at most {MAX_DTMF_DIGITS} may be sent at once"
        )));
    }
    Ok(())
}

/// Why an agent command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CtiError {
    /// No such agent.
    #[error("there is no agent {0}")]
    UnknownAgent(String),
    /// The agent must sign in first.
    #[error("agent {0} is signed out")]
    SignedOut(String),
    /// The operation needs a call the agent does not have.
    #[error("agent {0} has no call to do that with")]
    NoCall(String),
    /// The operation needs an offered (ringing) call.
    #[error("agent {0} has no offered call")]
    NotOffered(String),
    /// The agent asked for is not free.
    #[error("agent {0} is not available")]
    Unavailable(String),
    /// No such queue.
    #[error("there is no queue {0}")]
    UnknownQueue(String),
    /// The queue has nobody free.
    #[error("nobody in queue {0} is free")]
    NoAgentFree(String),
    /// The operation does not fit the call's state.
    #[error("{0}")]
    Invalid(String),
}

/// A successful command's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtiReply {
    /// The agent's state after it.
    pub state: AgentStatus,
    /// The call involved (a new outbound call's id).
    pub call: Option<CallId>,
    /// Call data (for `get_data`, `set_data`, `clear_data`).
    pub data: Option<Vec<(String, Value)>>,
}

/// What a command gives back besides the agent's new state: the call it
/// concerned (a new outbound call's id) and, for the call-data commands, the
/// data. [`AcdCore::command`] makes the [`CtiReply`] of it.
type Done = Result<(Option<CallId>, Option<Vec<(String, Value)>>), CtiError>;

impl AcdCore {
    /// Carries out an agent's (or a supervisor's, `by`) command.
    pub fn command(
        &mut self,
        now: i64,
        agent: &str,
        cmd: AgentCommand,
        by: &str,
        out: &mut Vec<Effect>,
    ) -> Result<CtiReply, CtiError> {
        self.eval.set_now(now);
        let a = self
            .agent_ix
            .get(agent)
            .copied()
            .ok_or_else(|| CtiError::UnknownAgent(agent.to_string()))?;
        let r = self.command_inner(now, a, cmd, by, out);
        self.tell_wake(now, out);
        let ag = &self.agents[a];
        r.map(|(call, data)| CtiReply {
            state: ag.status,
            call: call.or(ag.call.and_then(|s| self.calls[s].as_ref().map(|c| c.id))),
            data,
        })
    }

    fn agent_call(&self, a: AgentIx) -> Result<CallSlot, CtiError> {
        self.agents[a]
            .call
            .filter(|s| self.calls[*s].is_some())
            .ok_or_else(|| CtiError::NoCall(self.agents[a].id.to_string()))
    }

    fn connected_primary(&self, a: AgentIx) -> Result<CallSlot, CtiError> {
        let s = self.agent_call(a)?;
        let c = self.c(s);
        if c.phase == Phase::Connected && c.agent == Some(a) {
            Ok(s)
        } else {
            Err(CtiError::NoCall(self.agents[a].id.to_string()))
        }
    }

    /// Hands one command to the function that carries it out.
    fn command_inner(
        &mut self,
        now: i64,
        a: AgentIx,
        cmd: AgentCommand,
        by: &str,
        out: &mut Vec<Effect>,
    ) -> Done {
        match cmd {
            AgentCommand::SignIn => self.sign_in(a, now, out),
            AgentCommand::SignOut => self.sign_out(a, None, now, out),
            AgentCommand::ForceSignOut => self.sign_out(a, Some(by), now, out),
            AgentCommand::Ready => self.ready(a, None, now, out),
            AgentCommand::ForceReady => self.ready(a, Some(by), now, out),
            AgentCommand::NotReady { reason } | AgentCommand::ForceNotReady { reason } => {
                self.not_ready(a, reason, by, now, out)
            }
            AgentCommand::Answer => self.answer_offer(a, out),
            AgentCommand::Reject => self.reject(a, now, out),
            AgentCommand::HangUp => self.hang_up(a, now, out),
            AgentCommand::Hold => self.hold(a, true, now, out),
            AgentCommand::Resume => self.hold(a, false, now, out),
            AgentCommand::Consult { target } => self.consult(a, &target, now, out),
            AgentCommand::ConsultCancel => self.consult_cancel(a, now, out),
            AgentCommand::Transfer { target: None } => self.complete_transfer(a, now, out),
            AgentCommand::Transfer {
                target: Some(target),
            } => self.transfer(a, target, now, out),
            AgentCommand::Conference => self.conference(a, now, out),
            AgentCommand::Dial { number, trunk } => self.dial(a, number, trunk, now, out),
            AgentCommand::SetData { data } => self.set_data(a, data, now, out),
            AgentCommand::ClearData => self.clear_data(a, now, out),
            AgentCommand::GetData => self.get_data(a),
            AgentCommand::SendDtmf { digits } => self.send_dtmf(a, digits, out),
            AgentCommand::Listen { phone } => self.monitor(a, phone, MonitorMode::Listen, out),
            AgentCommand::Whisper { phone } => self.monitor(a, phone, MonitorMode::Whisper, out),
            AgentCommand::Barge { phone } => self.monitor(a, phone, MonitorMode::Barge, out),
            AgentCommand::StopMonitor { phone } => self.stop_monitor(a, phone, out),
            AgentCommand::TakeOver { phone } => self.take_over(a, phone, now, out),
        }
    }

    /// Signs a signed-out agent in, not ready, with the figures of the session
    /// (answered, talk time, missed offers) started afresh.
    fn sign_in(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        if self.agents[a].status == AgentStatus::SignedOut {
            let ag = &mut self.agents[a];
            ag.answered = 0;
            ag.talk_ms = 0;
            ag.missed = 0;
            ag.pending = None;
            ag.idle_since = now;
            self.set_status(a, AgentStatus::NotReady, "signed in", None, now, out);
        }
        Ok((None, None))
    }

    /// Signs the agent out now when free, at the end of wrap-up, or after the
    /// current call; `forced_by` names the supervisor who forces it.
    fn sign_out(
        &mut self,
        a: AgentIx,
        forced_by: Option<&str>,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let reason = forced_by.map(|by| forced(by, "")).unwrap_or_default();
        match self.agents[a].status {
            AgentStatus::SignedOut => {}
            AgentStatus::Ready | AgentStatus::NotReady => {
                self.agents[a].pending = None;
                self.set_status(a, AgentStatus::SignedOut, &reason, None, now, out);
            }
            AgentStatus::WrapUp => {
                self.agents[a].pending = Some(Pending::SignOut);
                self.end_wrap(a, now, out);
            }
            _ => self.agents[a].pending = Some(Pending::SignOut),
        }
        Ok((None, None))
    }

    /// Makes the agent ready (ending wrap-up early) and offers them a waiting
    /// call; during a call it only cancels a pending state. Only a supervisor
    /// (`forced_by`) can make a signed-out agent ready.
    fn ready(
        &mut self,
        a: AgentIx,
        forced_by: Option<&str>,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let reason = forced_by.map(|by| forced(by, "")).unwrap_or_default();
        match self.agents[a].status {
            AgentStatus::SignedOut if forced_by.is_none() => {
                return Err(CtiError::SignedOut(self.agents[a].id.to_string()));
            }
            AgentStatus::SignedOut | AgentStatus::NotReady => {
                let ag = &mut self.agents[a];
                ag.pending = None;
                ag.missed = 0;
                ag.idle_since = now;
                self.set_status(a, AgentStatus::Ready, &reason, None, now, out);
                self.dispatch_agent(a, now, out);
            }
            AgentStatus::WrapUp => {
                self.agents[a].pending = None;
                self.end_wrap(a, now, out);
            }
            _ => self.agents[a].pending = None,
        }
        Ok((None, None))
    }

    /// Makes the agent not ready now when free, at the end of wrap-up, or after
    /// the current call. Asked by someone else (`by`), the reason says so.
    fn not_ready(
        &mut self,
        a: AgentIx,
        reason: String,
        by: &str,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let id = self.agents[a].id.to_string();
        let reason = if by != id && !by.is_empty() {
            forced(by, &reason)
        } else {
            reason
        };
        match self.agents[a].status {
            AgentStatus::SignedOut => return Err(CtiError::SignedOut(id)),
            AgentStatus::Ready | AgentStatus::NotReady => {
                self.set_status(a, AgentStatus::NotReady, &reason, None, now, out)
            }
            AgentStatus::WrapUp => {
                self.agents[a].pending = Some(Pending::NotReady(reason));
                self.end_wrap(a, now, out);
            }
            _ => self.agents[a].pending = Some(Pending::NotReady(reason)),
        }
        Ok((None, None))
    }

    /// Asks the call task to answer the agent's ringing leg (an offer or a
    /// consultation); the answer itself arrives as an offer result.
    fn answer_offer(&mut self, a: AgentIx, out: &mut Vec<Effect>) -> Done {
        let s = self.agent_call(a)?;
        let c = self.c(s);
        let offered = matches!(&c.phase, Phase::Offering(l) if l.contains(&a))
            || c.consult == Some((a, false));
        if !offered {
            return Err(CtiError::NotOffered(self.agents[a].id.to_string()));
        }
        out.push(Effect::ToCall(
            c.id,
            AcdToCall::Answer {
                agent: self.agents[a].id.clone(),
            },
        ));
        Ok((None, None))
    }

    /// Declines an offer (it counts as a rejection, with the queue's reject
    /// delay) or a consultation.
    fn reject(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.agent_call(a)?;
        let call = self.c(s).id;
        if self.c(s).consult == Some((a, false)) {
            self.consult_failed(s, a, "rejected", now, out);
            return Ok((None, None));
        }
        if !matches!(&self.c(s).phase, Phase::Offering(l) if l.contains(&a)) {
            return Err(CtiError::NotOffered(self.agents[a].id.to_string()));
        }
        out.push(Effect::ToCall(
            call,
            AcdToCall::CancelOffer {
                agent: self.agents[a].id.clone(),
            },
        ));
        self.offer_failed(s, a, OfferResult::Rejected, now, out);
        Ok((Some(call), None))
    }

    /// Hangs up the agent's part: ends a consultation, leaves a conference (the
    /// call goes on with the others), or ends the call.
    fn hang_up(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let id = self.agents[a].id.to_string();
        let s = self.agent_call(a)?;
        let call = self.c(s).id;
        let agent_id = self.agents[a].id.clone();
        if self.c(s).consult.is_some_and(|(b, _)| b == a) {
            out.push(Effect::ToCall(
                call,
                AcdToCall::ConsultEnd { agent: agent_id },
            ));
            self.agent_left(call, &id, now, out);
        } else if self.c(s).conference.contains(&a)
            || (self.c(s).agent == Some(a) && !self.c(s).conference.is_empty())
        {
            out.push(Effect::ToCall(
                call,
                AcdToCall::ReleaseAgent { agent: agent_id },
            ));
            self.agent_left(call, &id, now, out);
        } else if self.c(s).agent == Some(a) && self.c(s).phase == Phase::Connected {
            out.push(Effect::ToCall(call, AcdToCall::HangUp));
        } else {
            return Err(CtiError::NoCall(id));
        }
        Ok((Some(call), None))
    }

    /// Puts the caller on hold (`on`) or takes them off it.
    fn hold(&mut self, a: AgentIx, on: bool, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.connected_primary(a)?;
        let call = self.c(s).id;
        out.push(Effect::ToCall(
            call,
            if on {
                AcdToCall::Hold
            } else {
                AcdToCall::Resume
            },
        ));
        self.set_hold(s, on, now, out);
        Ok((Some(call), None))
    }

    /// Asks the call task to send keys to the caller: only on a call the agent
    /// is talking on (not one still ringing, not a consultation's other agent).
    fn send_dtmf(&mut self, a: AgentIx, digits: String, out: &mut Vec<Effect>) -> Done {
        check_dtmf_digits(&digits)?;
        let s = self.connected_primary(a)?;
        let call = self.c(s).id;
        out.push(Effect::ToCall(
            call,
            AcdToCall::SendDigits {
                digits: digits.to_ascii_uppercase(),
                agent: self.agents[a].id.clone(),
            },
        ));
        Ok((Some(call), None))
    }

    /// Holds the caller and rings a free agent (named, or the longest idle of a
    /// queue) for a consultation.
    fn consult(
        &mut self,
        a: AgentIx,
        target: &TransferTarget,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let id = self.agents[a].id.to_string();
        let s = self.connected_primary(a)?;
        if self.c(s).consult.is_some() {
            return Err(CtiError::Invalid(
                "a consultation is already going on".into(),
            ));
        }
        let b = self.target_agent(target, a, now)?;
        let call = self.c(s).id;
        let stamp = {
            let c = self.cm(s);
            c.consult = Some((b, false));
            c.offer_stamp += 1;
            c.offer_stamp
        };
        self.agents[b].call = Some(s);
        self.set_status(b, AgentStatus::Ringing, "consult", Some(call), now, out);
        self.set_hold(s, true, now, out);
        // The consulting agent stays "talking" (with the consulted agent).
        self.set_status(a, AgentStatus::Talking, "consulting", Some(call), now, out);
        let ring_ms = self.queues[self.c(s).queue].rules.ring_ms;
        self.at(
            now + ring_ms,
            Timer::Ring {
                call,
                agent: b,
                stamp,
            },
        );
        let mut pop = self.screen_pop(s, now);
        pop.via = format!("consult from {id}");
        out.push(Effect::ToCall(
            call,
            AcdToCall::Consult {
                agent: self.agents[b].id.clone(),
                contact: None,
                auto_answer: self.agents[b].def.auto_answer,
            },
        ));
        out.push(Effect::Event(AcdEvent::CallOffered {
            agent: self.agents[b].id.to_string(),
            pop: Box::new(pop),
            at_ms: now,
        }));
        Ok((Some(call), None))
    }

    /// Ends the consultation and takes the caller off hold; the consulted agent
    /// is free again.
    fn consult_cancel(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.connected_primary(a)?;
        let Some((b, _)) = self.c(s).consult else {
            return Err(CtiError::Invalid("there is no consultation".into()));
        };
        let call = self.c(s).id;
        out.push(Effect::ToCall(
            call,
            AcdToCall::ConsultEnd {
                agent: self.agents[b].id.clone(),
            },
        ));
        self.cm(s).consult = None;
        self.agents[b].call = None;
        self.set_hold(s, false, now, out);
        self.after_call(b, now, out);
        Ok((Some(call), None))
    }

    /// Completes a consultative transfer: the consulted agent, who answered,
    /// takes the caller and the transferring agent goes to wrap-up.
    fn complete_transfer(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.connected_primary(a)?;
        let Some((b, true)) = self.c(s).consult else {
            return Err(CtiError::Invalid(
                "complete a transfer after the consulted agent answered".into(),
            ));
        };
        let call = self.c(s).id;
        out.push(Effect::ToCall(
            call,
            AcdToCall::CompleteTransfer {
                from: self.agents[a].id.clone(),
                to: self.agents[b].id.clone(),
            },
        ));
        self.set_hold(s, false, now, out);
        self.finish_agent(s, a, None, now, out);
        {
            let c = self.cm(s);
            c.consult = None;
            c.agent = Some(b);
            c.transferred = true;
            c.answered_ms = now;
        }
        self.agents[b].answered += 1;
        self.set_status(b, AgentStatus::Talking, "", Some(call), now, out);
        Ok((Some(call), None))
    }

    /// A blind transfer: to an outside number (the call leaves the ACD), to a
    /// queue (the call waits there afresh), or to a free agent (offered to them,
    /// back to its queue if they do not take it).
    fn transfer(
        &mut self,
        a: AgentIx,
        target: TransferTarget,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let id = self.agents[a].id.to_string();
        let s = self.connected_primary(a)?;
        if self.c(s).consult.is_some() {
            return Err(CtiError::Invalid(
                "end the consultation before a blind transfer".into(),
            ));
        }
        let call = self.c(s).id;
        match target {
            TransferTarget::Number(number) => {
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::TransferNumber {
                        number,
                        agent: id.clone(),
                    },
                ));
                self.finish_agent(s, a, None, now, out);
                self.release(s);
            }
            TransferTarget::Queue(name) => {
                let t = self
                    .queue_ix
                    .get(name.as_str())
                    .copied()
                    .filter(|t| self.queues[*t].active && !self.queues[*t].rules.builtin)
                    .ok_or(CtiError::UnknownQueue(name))?;
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::ReleaseAgent {
                        agent: self.agents[a].id.clone(),
                    },
                ));
                self.set_hold(s, false, now, out);
                self.finish_agent(s, a, None, now, out);
                {
                    let c = self.cm(s);
                    c.transferred = false;
                    c.via = format!("transfer from {id}");
                }
                self.enter_queue(s, t, 0, None, now, out);
            }
            TransferTarget::Agent(_) => {
                let b = self.target_agent(&target, a, now)?;
                out.push(Effect::ToCall(
                    call,
                    AcdToCall::ReleaseAgent {
                        agent: self.agents[a].id.clone(),
                    },
                ));
                self.set_hold(s, false, now, out);
                self.finish_agent(s, a, None, now, out);
                let back = self.c(s).queue;
                {
                    let c = self.cm(s);
                    c.kind = Kind::Direct;
                    c.transferred = true;
                    c.direct_return = Some(back);
                    c.via = format!("transfer from {id}");
                    c.entered_ms = now;
                }
                self.offer(s, vec![b], now, out);
            }
        }
        Ok((Some(call), None))
    }

    /// Joins the consulted agent, who answered, to the call: everyone hears
    /// everyone.
    fn conference(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.connected_primary(a)?;
        let Some((b, true)) = self.c(s).consult else {
            return Err(CtiError::Invalid(
                "a conference needs a consulted agent who answered".into(),
            ));
        };
        let call = self.c(s).id;
        {
            let c = self.cm(s);
            c.consult = None;
            c.conference.push(b);
        }
        self.set_hold(s, false, now, out);
        let mut agents = vec![self.agents[a].id.clone()];
        agents.extend(
            self.c(s)
                .conference
                .iter()
                .map(|x| self.agents[*x].id.clone()),
        );
        out.push(Effect::ToCall(call, AcdToCall::Conference { agents }));
        self.set_status(b, AgentStatus::Talking, "conference", Some(call), now, out);
        Ok((Some(call), None))
    }

    /// Places an outbound call for an agent who is not on a call; they are
    /// reserved while it rings and go back to their state if it fails. The new
    /// call's id has the top bit set so that it cannot meet an inbound call's.
    fn dial(
        &mut self,
        a: AgentIx,
        number: String,
        trunk: String,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let id = self.agents[a].id.to_string();
        let status = self.agents[a].status;
        if !matches!(status, AgentStatus::Ready | AgentStatus::NotReady) {
            return Err(CtiError::Invalid(format!(
                "agent {id} is {} and cannot dial",
                status.name()
            )));
        }
        if number.trim().is_empty() {
            return Err(CtiError::Invalid("no number to dial".into()));
        }
        let call = (1u64 << 63) | self.next_outbound;
        self.next_outbound += 1;
        let mut qc = QueuedCall::new(call, OUTBOUND_QUEUE, &id, now);
        qc.called = number.clone();
        qc.trunk = trunk.clone();
        let mut c = self.new_call(qc, self.outbound_q, Kind::Outbound, now);
        c.phase = Phase::Dialing(a);
        c.offer_stamp = 1;
        c.via = "outbound".into();
        let s = self.alloc(c);
        let reason = self.agents[a].reason.clone();
        self.agents[a].before_dial = Some((status, reason));
        self.agents[a].call = Some(s);
        self.set_status(a, AgentStatus::Ringing, "outbound", Some(call), now, out);
        out.push(Effect::Dial(DialOrder {
            call,
            kind: DialKind::Outbound,
            number,
            trunk,
            agent: self.agents[a].id.clone(),
            caller_id: String::new(),
            ring_ms: self.config.callback_ring_ms,
            data: Vec::new(),
        }));
        self.at(
            now + self.config.dial_timeout_ms,
            Timer::DialTimeout { call, stamp: 1 },
        );
        Ok((Some(call), None))
    }

    /// Sets fields of the call data of the agent's call. The raw values the
    /// queue predicates read are recomputed on their next use.
    fn set_data(
        &mut self,
        a: AgentIx,
        data: Vec<(String, Value)>,
        now: i64,
        out: &mut Vec<Effect>,
    ) -> Done {
        let s = self.agent_call(a)?;
        let call = self.c(s).id;
        {
            let c = self.cm(s);
            for (k, v) in data {
                match c.info.data.iter_mut().find(|(n, _)| *n == k) {
                    Some(e) => e.1 = v,
                    None => c.info.data.push((k, v)),
                }
            }
            c.raw_gen = 0;
        }
        let data = self.c(s).info.data.clone();
        self.data_changed(s, a, now, out);
        Ok((Some(call), Some(data)))
    }

    /// Clears the call data of the agent's call.
    fn clear_data(&mut self, a: AgentIx, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.agent_call(a)?;
        let call = self.c(s).id;
        {
            let c = self.cm(s);
            c.info.data.clear();
            c.raw_gen = 0;
        }
        self.data_changed(s, a, now, out);
        Ok((Some(call), Some(Vec::new())))
    }

    /// The call data of the agent's call.
    fn get_data(&self, a: AgentIx) -> Done {
        let s = self.agent_call(a)?;
        Ok((Some(self.c(s).id), Some(self.c(s).info.data.clone())))
    }

    /// A supervisor listens to, whispers to or barges into the agent's call
    /// from `phone`; asking again with another mode changes the mode.
    fn monitor(
        &mut self,
        a: AgentIx,
        phone: String,
        mode: MonitorMode,
        out: &mut Vec<Effect>,
    ) -> Done {
        let s = self.connected_primary(a)?;
        let call = self.c(s).id;
        {
            let c = self.cm(s);
            c.monitors.retain(|(p, _)| *p != phone);
            c.monitors.push((phone.clone(), mode));
        }
        out.push(Effect::ToCall(call, AcdToCall::Monitor { phone, mode }));
        Ok((Some(call), None))
    }

    /// The supervisor's `phone` stops monitoring the agent's call.
    fn stop_monitor(&mut self, a: AgentIx, phone: String, out: &mut Vec<Effect>) -> Done {
        let s = self.agent_call(a)?;
        let call = self.c(s).id;
        self.cm(s).monitors.retain(|(p, _)| *p != phone);
        out.push(Effect::ToCall(call, AcdToCall::MonitorEnd { phone }));
        Ok((Some(call), None))
    }

    /// The supervisor's `phone` takes the call over; the agent goes to wrap-up.
    /// When the phone is also an agent's, that agent is now on the call.
    fn take_over(&mut self, a: AgentIx, phone: String, now: i64, out: &mut Vec<Effect>) -> Done {
        let s = self.connected_primary(a)?;
        let call = self.c(s).id;
        out.push(Effect::ToCall(
            call,
            AcdToCall::TakeOver {
                phone: phone.clone(),
                agent: self.agents[a].id.clone(),
            },
        ));
        self.set_hold(s, false, now, out);
        self.finish_agent(s, a, None, now, out);
        self.cm(s).monitors.retain(|(p, _)| *p != phone);
        let sup = self.agent_ix.get(phone.as_str()).copied();
        {
            let c = self.cm(s);
            c.transferred = true;
            c.answered_ms = now;
            c.agent = sup;
        }
        if let Some(b) = sup {
            self.agents[b].call = Some(s);
            self.set_status(b, AgentStatus::Talking, "take over", Some(call), now, out);
        }
        Ok((Some(call), None))
    }

    fn data_changed(&mut self, s: CallSlot, a: AgentIx, _now: i64, out: &mut Vec<Effect>) {
        let c = self.c(s);
        out.push(Effect::ToCall(
            c.id,
            AcdToCall::Data {
                data: c.info.data.clone(),
            },
        ));
        out.push(Effect::Event(AcdEvent::CallData {
            call: c.id,
            agent: self.agents[a].id.to_string(),
            data: c.info.data.clone(),
        }));
    }

    /// The free agent a consultation or transfer goes to.
    fn target_agent(
        &self,
        target: &TransferTarget,
        from: AgentIx,
        now: i64,
    ) -> Result<AgentIx, CtiError> {
        match target {
            TransferTarget::Agent(b) => {
                let b = self
                    .agent_ix
                    .get(b.as_str())
                    .copied()
                    .ok_or_else(|| CtiError::UnknownAgent(b.clone()))?;
                if b == from || !self.agents[b].available(now) {
                    return Err(CtiError::Unavailable(self.agents[b].id.to_string()));
                }
                Ok(b)
            }
            TransferTarget::Queue(name) => {
                let q = self
                    .queue_ix
                    .get(name.as_str())
                    .copied()
                    .filter(|q| !self.queues[*q].rules.builtin)
                    .ok_or_else(|| CtiError::UnknownQueue(name.clone()))?;
                let queue = &self.queues[q];
                queue
                    .eligible
                    .iter()
                    .copied()
                    .filter(|b| *b != from && self.agents[*b].available(now))
                    .min_by_key(|b| (self.agents[*b].idle_since, *b))
                    .ok_or_else(|| CtiError::NoAgentFree(name.clone()))
            }
            TransferTarget::Number(_) => Err(CtiError::Invalid(
                "consult an agent or a queue; transfer to numbers directly".into(),
            )),
        }
    }

    /// Sets data on a call directly (supervisors; the call task).
    pub fn set_call_data(
        &mut self,
        call: CallId,
        data: Vec<(String, Value)>,
        replace: bool,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(s) = self.call_ix.get(&call).copied() else {
            return false;
        };
        let c = self.cm(s);
        if replace {
            c.info.data.clear();
        }
        for (k, v) in data {
            match c.info.data.iter_mut().find(|(n, _)| *n == k) {
                Some(e) => e.1 = v,
                None => c.info.data.push((k, v)),
            }
        }
        c.raw_gen = 0;
        let data = c.info.data.clone();
        out.push(Effect::ToCall(call, AcdToCall::Data { data: data.clone() }));
        // The desktops of the agents on the call show the change, whoever made
        // it (a supervisor, a program over the API).
        for agent in self.call_agents(call) {
            out.push(Effect::Event(AcdEvent::CallData {
                call,
                agent,
                data: data.clone(),
            }));
        }
        true
    }
}

/// The reason recorded when a supervisor (`by`) forces a state on an agent.
fn forced(by: &str, reason: &str) -> String {
    if reason.is_empty() {
        format!("forced by {by}")
    } else {
        format!("{reason} (forced by {by})")
    }
}
