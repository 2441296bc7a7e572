//! `transfer queue X` in a call task: the call waits in the ACD, hears the
//! queue's music and announcements, and is connected to the agent the ACD picks.
//!
//! The call task enqueues itself with [`crate::acd::AcdHandle::enqueue`] and then
//! follows the ACD's [`AcdToCall`] messages: music on/off, announcements, offers to
//! agents (each rung on its registered contact by a small task that reports back),
//! cancelled offers, the bridge to the answering agent, and moves to another
//! destination (maximum wait, cancel key, closed hours). Keys the caller presses go
//! to the ACD (cancel keys); a caller hanging up is reported so the place is freed.

use std::sync::Arc;

use dialect_compiler::FlowInstance;
use dialect_compiler::exec::{Input, Prompt as FlowPrompt};
use dialect_compiler::ir::DestIr;
use tokio::sync::mpsc;

use super::bridged::{AcdLink, RoomExit};
use super::leg::{AgentLegs, Leg, LegOutcome, ring_phone};
use super::{Call, End, Event, Step};
use crate::outbound::{AgentRequest, Origin};
use dialect_acd::{AcdToCall, Announcement, OfferResult, QueuedCall};
use dialect_media::{PlayOptions, PlaybackId};

/// What a caller hears when a callback cannot be offered to them.
const CALLBACK_REFUSED_PROMPT: &str = "callback_unavailable.wav";

/// Why [`Call::follow_acd`] let a call go when no agent was connected by its
/// deadline (a campaign's answered person: the `dropped` rule).
pub(super) const NOT_CONNECTED_IN_TIME: &str = "no agent connected in time";

/// The call-data field a flow sets to the number a callback should go to.
pub(crate) const CALLBACK_FIELD: &str = "callback_number";

impl Call {
    /// Whether a blacklist category's `max transfers` stops this caller from
    /// reaching an agent now. Every transfer of an inbound caller to a queue or
    /// an agent counts while the caller is in such a category; a store that
    /// cannot count lets the caller through (and says so in the log).
    pub(super) fn agent_transfer_refused(&mut self) -> bool {
        if self.contact.direction != "inbound" {
            return false;
        }
        let program = self.deployed.program.shared().clone();
        let now = crate::time::now_ms();
        let caller = self.contact.caller.clone();
        let Some(limit) = crate::lists::transfer_limit(&program, &caller, now) else {
            return false;
        };
        match crate::lists::count_transfer(&*self.env.store, &program, &limit, &caller, now) {
            Ok(true) => false,
            Ok(false) => {
                self.trail(
                    "transfer",
                    format!(
                        "refused: {}.{} allows {} transfer(s) to agents a day",
                        limit.list, limit.category, limit.max
                    ),
                );
                true
            }
            Err(e) => {
                tracing::error!(
                    contact = self.contact.id,
                    "cannot count agent transfers: {e}"
                );
                false
            }
        }
    }

    /// Waits in `queue` until an agent takes the call or the ACD moves it on;
    /// `priority` is added to the queue's priority for the call.
    pub(super) async fn queue_call(
        &mut self,
        queue: &str,
        inst: &FlowInstance,
        language: &str,
        priority: f64,
    ) -> Result<Step, End> {
        let Some(acd) = self.env.acd.clone() else {
            self.trail("transfer queue", format!("{queue}: no ACD"));
            return Ok(Step::Continue(Input::Failed(format!(
                "the queue {queue} is not available"
            ))));
        };
        self.contact.queue = Some(queue.to_string());
        let id = self.contact.id;
        let mut qc = QueuedCall::new(id, queue, &self.contact.caller, crate::time::now_ms());
        qc.called = self.contact.called.clone();
        qc.trunk = self.trunk_group.clone();
        qc.trunk_name = self.contact.trunk.clone();
        qc.priority = priority;
        qc.data = inst.data();
        // A callback goes to a number the flow accepted (`data.callback_number`,
        // typically entered by the caller) or that the trunk asserted; never to
        // the From header of a call from anywhere.
        qc.callback_number = qc
            .data
            .iter()
            .find_map(|(k, v)| match v {
                dialect_compiler::value::Value::Text(t) if k == CALLBACK_FIELD && !t.is_empty() => {
                    Some(t.clone())
                }
                _ => None,
            })
            .or_else(|| self.asserted.clone())
            .unwrap_or_default();
        qc.customer_id = qc
            .data
            .iter()
            .find_map(|(k, v)| match v {
                dialect_compiler::value::Value::Text(t) if k == "customer_id" => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_default();
        qc.trail = self.contact.trail.clone();
        let (tx, rx) = mpsc::channel(64);
        if acd.enqueue(qc, tx).await.is_err() {
            return Ok(Step::Continue(Input::Failed("the ACD has stopped".into())));
        }
        let entered = tokio::time::Instant::now();
        self.trail("transfer queue", format!("{queue}: waiting"));
        self.follow_acd(
            &acd,
            id,
            rx,
            AgentLegs::new(),
            queue.to_string(),
            entered,
            language,
            None,
        )
        .await
    }

    /// Follows the ACD's messages for call `id` until the call leaves the ACD: the
    /// waiting part of a queued call, and all of a call the ACD placed itself
    /// (`call::dialled`), which may come with an agent leg already answered in
    /// `legs`. `label` names the call in the trail (the queue). With
    /// `connect_by`, a call not bridged to an agent by then leaves the ACD with
    /// [`NOT_CONNECTED_IN_TIME`] (a campaign's answered person must hear an
    /// agent or the dropped-call message within 2 s).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn follow_acd(
        &mut self,
        acd: &crate::acd::AcdHandle,
        id: dialect_acd::CallId,
        mut rx: mpsc::Receiver<AcdToCall>,
        legs: AgentLegs,
        mut queue: String,
        entered: tokio::time::Instant,
        language: &str,
        connect_by: Option<tokio::time::Instant>,
    ) -> Result<Step, End> {
        let mut connect_by = connect_by;
        let AgentLegs {
            mut legs,
            tx: leg_tx,
            rx: mut leg_rx,
        } = legs;
        let mut music: Option<(Vec<Arc<dialect_media::Prompt>>, PlaybackId)> = None;
        // The queue's music, for the caller on hold once bridged.
        let mut hold_music: Option<Arc<dialect_media::Prompt>> = None;
        let result = loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else {
                        break Ok(Step::Continue(Input::Failed("the ACD has stopped".into())));
                    };
                    match msg {
                        AcdToCall::Queued { queue: q, position, .. } => {
                            self.contact.queue = Some(q.clone());
                            self.trail("queue", format!("{q}: position {position}"));
                            queue = q;
                        }
                        AcdToCall::Music { on: true, prompt } => {
                            // A queue without music rings (the ringback tone); on hold
                            // once bridged, its caller hears silence rather than ringing.
                            let prompts = match prompt {
                                Some(f) => {
                                    let p = self.render(&FlowPrompt::Files(vec![f]), language).await;
                                    hold_music = p.first().cloned();
                                    p
                                }
                                None => {
                                    hold_music = None;
                                    vec![super::ringing::ringback()]
                                }
                            };
                            self.media.stop_playback();
                            music = start_music(&self.media, prompts);
                        }
                        AcdToCall::Music { on: false, .. } => {
                            music = None;
                            self.media.stop_playback();
                        }
                        AcdToCall::Announce(a) => {
                            let p = match &a {
                                Announcement::Prompt { file } => FlowPrompt::Files(vec![file.clone()]),
                                Announcement::Position { position } => FlowPrompt::Files(vec![dialect_lang::announce::position_prompt(*position)]),
                                Announcement::Wait { estimated_ms } => FlowPrompt::Files(vec![dialect_lang::announce::wait_prompt(*estimated_ms)]),
                            };
                            self.trail("queue", format!("announce {a:?}"));
                            let prompts = self.render(&p, language).await;
                            // Over the music: the music starts again after it.
                            self.media.stop_playback();
                            for p in prompts {
                                self.media.play(p, PlayOptions { barge_in: false });
                            }
                            if let Some((m, _)) = music.take() {
                                music = start_music(&self.media, m);
                            }
                        }
                        AcdToCall::Offer { agent, ring_ms, auto_answer, .. } => {
                            match self.ring_agent(&agent, ring_ms, auto_answer, &leg_tx) {
                                Some(leg) => {
                                    legs.insert(agent, leg);
                                }
                                None => {
                                    let _ = acd.offer_result(id, &agent, OfferResult::Unregistered).await;
                                }
                            }
                        }
                        AcdToCall::Answer { agent } => {
                            // Answered on the desk while the phone rings: the phone
                            // is rung again, asked to answer by itself.
                            if legs.get(&agent).is_some_and(|l| l.answered.is_none())
                                && let Some(old) = legs.remove(&agent)
                            {
                                old.superseded.store(true, std::sync::atomic::Ordering::Release);
                                old.cancel.cancel();
                                match self.ring_agent(&agent, ANSWER_RING_MS, true, &leg_tx) {
                                    Some(leg) => {
                                        self.trail("queue", format!("agent {agent} answered on the desk: the phone answers"));
                                        legs.insert(agent, leg);
                                    }
                                    None => {
                                        let _ = acd.offer_result(id, &agent, OfferResult::Unregistered).await;
                                    }
                                }
                            }
                        }
                        AcdToCall::CancelOffer { agent } => {
                            if let Some(leg) = legs.remove(&agent) {
                                leg.cancel.cancel();
                                if let Some(mut a) = leg.answered {
                                    let _ = self.env.endpoint.bye(&mut a.dialog).await;
                                }
                            }
                        }
                        AcdToCall::Bridge { agent } => {
                            let Some(leg) = legs.remove(&agent) else {
                                let _ = acd.call_ended(id, Some(0)).await;
                                break Ok(Step::Continue(Input::Failed("the agent leg is gone".into())));
                            };
                            let Some(answered) = leg.answered else {
                                let _ = acd.call_ended(id, Some(0)).await;
                                break Ok(Step::Continue(Input::Failed("the agent has not answered".into())));
                            };
                            for (_, l) in legs.drain() {
                                l.cancel.cancel();
                            }
                            connect_by = None;
                            self.media.stop_playback();
                            self.contact.agent = Some(agent.to_string());
                            if let Some(tell) = self.on_agent.take() {
                                tell(&agent);
                            }
                            if self.contact.waited_ms.is_none() {
                                self.contact.waited_ms = Some(entered.elapsed().as_millis() as i64);
                            }
                            let link = AcdLink { handle: acd, call: id, rx: &mut rx, music: hold_music.clone() };
                            let what = format!("queue {queue}: agent {agent}");
                            match self.bridge_leg(*answered, leg.rtp, &leg.local, what, Some(link)).await {
                                RoomExit::Done(r) => {
                                    let _ = acd.call_ended(id, self.contact.talk_ms).await;
                                    break r;
                                }
                                RoomExit::Requeued => {
                                    // Transferred to a queue or an agent: the ACD goes on
                                    // with the call (music, offers, a new bridge).
                                    music = None;
                                }
                                RoomExit::TransferNumber { number, agent } => {
                                    let origin = Origin::Agent {
                                        id: agent,
                                        how: AgentRequest::Transfer,
                                    };
                                    break self.transfer_number(origin, &number, None, None, None).await;
                                }
                            }
                        }
                        AcdToCall::Move { dest, reason } => {
                            self.trail("queue", format!("{reason:?} -> {dest:?}"));
                            break match dest {
                                DestIr::Flow(f) => Ok(Step::NewFlow(f)),
                                DestIr::Number(n) => {
                                    let origin = Origin::Queue { queue: queue.to_string() };
                                    self.transfer_number(origin, &n, None, None, None).await
                                }
                                DestIr::Agent(a) => self.transfer_agent(&a, None).await,
                                DestIr::Hangup => Ok(Step::End(End::Flow(format!("queue {queue}: {reason:?}")))),
                                DestIr::Queue(_) | DestIr::Callback => Ok(Step::Continue(Input::Failed(format!("queue {queue}: {reason:?}")))),
                            };
                        }
                        AcdToCall::CallbackRefused => {
                            // No number to call back that can be trusted: the caller
                            // hears why (when the project has the prompt) and waits on.
                            self.trail("queue", "callback refused: no trusted number to call back".into());
                            let p = FlowPrompt::Files(vec![CALLBACK_REFUSED_PROMPT.into()]);
                            let prompts = self.render(&p, language).await;
                            self.media.stop_playback();
                            for p in prompts {
                                self.media.play(p, PlayOptions { barge_in: false });
                            }
                            if let Some((m, _)) = music.take() {
                                music = start_music(&self.media, m);
                            }
                        }
                        AcdToCall::CallbackAccepted { position } => {
                            self.trail("queue", format!("callback accepted at position {position}"));
                            break Ok(Step::End(End::Flow("callback accepted".into())));
                        }
                        AcdToCall::Unavailable { reason } => {
                            break Ok(Step::Continue(Input::Failed(reason)));
                        }
                        AcdToCall::HangUp => {
                            break Ok(Step::End(End::Flow("hung up by the agent desktop".into())));
                        }
                        AcdToCall::Data { data } => {
                            for (k, v) in data {
                                self.contact.data.insert(k, serde_json::to_value(v).unwrap_or_default());
                            }
                        }
                        other => {
                            self.trail("queue", format!("not carried out while waiting: {other:?}"));
                        }
                    }
                }
                _ = async {
                    match connect_by {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    self.trail("queue", format!("{queue}: {NOT_CONNECTED_IN_TIME}"));
                    let _ = acd.caller_gone(id).await;
                    break Ok(Step::Continue(Input::Failed(NOT_CONNECTED_IN_TIME.into())));
                }
                r = leg_rx.recv() => {
                    let Some((agent, outcome)) = r else { continue };
                    match outcome {
                        LegOutcome::Answered(a) => {
                            if let Some(leg) = legs.get_mut(&agent) {
                                leg.answered = Some(a);
                                let _ = acd.offer_result(id, &agent, OfferResult::Answered).await;
                            } else {
                                // Withdrawn while it answered: hang that leg up.
                                let mut a = a;
                                let _ = self.env.endpoint.bye(&mut a.dialog).await;
                            }
                        }
                        LegOutcome::Failed(result) => {
                            if legs.remove(&agent).is_some() {
                                let _ = acd.offer_result(id, &agent, result).await;
                            }
                        }
                    }
                }
                ev = self.next_event(None) => match ev {
                    Some(Event::Key(k)) => {
                        let _ = acd.caller_key(id, k).await;
                    }
                    Some(Event::Played(pid, _)) => {
                        if let Some((m, playing)) = &music
                            && *playing == pid
                        {
                            let m = m.clone();
                            music = start_music(&self.media, m);
                        }
                    }
                    Some(Event::Recorded(..)) | None => {}
                    Some(Event::Gone(end)) => {
                        let _ = acd.caller_gone(id).await;
                        break Err(end);
                    }
                }
            }
        };
        for (_, mut l) in legs.drain() {
            l.cancel.cancel();
            if let Some(a) = l.answered.as_mut() {
                let _ = self.env.endpoint.bye(&mut a.dialog).await;
            }
        }
        self.media.stop_playback();
        result
    }

    /// Rings an agent's registered phone from a task that reports how it ended.
    pub(super) fn ring_agent(
        &mut self,
        agent: &Arc<str>,
        ring_ms: i64,
        auto_answer: bool,
        report: &mpsc::Sender<(Arc<str>, LegOutcome)>,
    ) -> Option<Leg> {
        // The agent's phone shows the customer: the caller, or the number a placed call dialled.
        let customer = if self.contact.direction == "outbound" {
            &self.contact.called
        } else {
            &self.contact.caller
        };
        let leg = ring_phone(
            &self.env,
            agent,
            self.law,
            customer,
            ring_ms,
            auto_answer,
            report,
        )?;
        self.trail("queue", format!("ringing agent {agent}"));
        Some(leg)
    }
}

/// How long a phone asked to answer by itself (the agent answered on the
/// desk) may take before the offer is given up.
const ANSWER_RING_MS: i64 = 10_000;

/// Plays the music once (the call task starts it again when it ends).
fn start_music(
    media: &dialect_media::SessionHandle,
    prompts: Vec<Arc<dialect_media::Prompt>>,
) -> Option<(Vec<Arc<dialect_media::Prompt>>, PlaybackId)> {
    let mut last = None;
    for p in &prompts {
        last = Some(media.play(p.clone(), PlayOptions { barge_in: false }));
    }
    last.map(|id| (prompts, id))
}
