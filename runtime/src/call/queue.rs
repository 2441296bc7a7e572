//! `transfer queue X` in a call task: the call waits in the ACD, hears the
//! queue's music and announcements, and is connected to the agent the ACD picks.
//!
//! The call task enqueues itself with [`crate::acd::AcdHandle::enqueue`] and then
//! follows the ACD's [`AcdToCall`] messages: music on/off, announcements, offers to
//! agents (each rung on its registered contact by a small task that reports back),
//! cancelled offers, the bridge to the answering agent, and moves to another
//! destination (maximum wait, cancel key, closed hours). Keys the caller presses go
//! to the ACD (cancel keys); a caller hanging up is reported so the place is freed.

use std::collections::HashMap;
use std::sync::Arc;

use dialect_compiler::FlowInstance;
use dialect_compiler::exec::{Input, Prompt as FlowPrompt};
use dialect_compiler::ir::DestIr;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bridged::{AcdLink, RoomExit};
use super::{Call, End, Event, Step};
use crate::acd::{AcdToCall, Announcement, OfferResult, QueuedCall};
use crate::media::{PlayOptions, PlaybackId, RemoteMedia, RtpSession, SessionConfig};
use crate::sip::endpoint::{Answered, CallProgress};
use crate::sip::sdp::{self, LocalMedia};

/// How a ringing agent leg ended, from its ringing task.
pub(super) enum LegOutcome {
    Answered(Box<Answered>),
    Failed(OfferResult),
}

/// An agent leg being rung or answered and waiting for the bridge.
pub(super) struct Leg {
    pub(super) rtp: RtpSession,
    pub(super) local: LocalMedia,
    pub(super) cancel: CancellationToken,
    answered: Option<Box<Answered>>,
}

impl Call {
    /// Waits in `queue` until an agent takes the call or the ACD moves it on.
    pub(super) async fn queue_call(
        &mut self,
        queue: &str,
        inst: &FlowInstance,
        language: &str,
    ) -> Result<Step, End> {
        let Some(acd) = self.env.acd.clone() else {
            self.trail("transfer queue", format!("{queue}: no ACD"));
            return Ok(Step::Continue(Input::Failed(format!(
                "the queue {queue} is not available"
            ))));
        };
        self.contact.queue = Some(queue.to_string());
        let id = self.contact.id;
        let mut qc = QueuedCall::new(id, queue, &self.contact.caller, crate::now_ms());
        qc.called = self.contact.called.clone();
        qc.trunk = self.contact.trunk.clone();
        qc.data = inst.data();
        qc.customer_id = qc
            .data
            .iter()
            .find_map(|(k, v)| match v {
                dialect_compiler::value::Value::Text(t) if k == "customer_id" => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_default();
        qc.trail = self.contact.trail.clone();
        let (tx, mut rx) = mpsc::channel(64);
        if acd.enqueue(qc, tx).await.is_err() {
            return Ok(Step::Continue(Input::Failed("the ACD has stopped".into())));
        }
        let entered = tokio::time::Instant::now();
        self.trail("transfer queue", format!("{queue}: waiting"));
        let (leg_tx, mut leg_rx) = mpsc::channel::<(Arc<str>, LegOutcome)>(16);
        let mut legs: HashMap<Arc<str>, Leg> = HashMap::new();
        let mut music: Option<(Vec<Arc<crate::media::Prompt>>, PlaybackId)> = None;
        // The queue's music, for the caller on hold once bridged.
        let mut hold_music: Option<Arc<crate::media::Prompt>> = None;
        let result = loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else {
                        break Ok(Step::Continue(Input::Failed("the ACD has stopped".into())));
                    };
                    match msg {
                        AcdToCall::Queued { queue, position, .. } => {
                            self.contact.queue = Some(queue.clone());
                            self.trail("queue", format!("{queue}: position {position}"));
                        }
                        AcdToCall::Music { on: true, prompt } => {
                            let prompts = match prompt {
                                Some(f) => self.render(&FlowPrompt::Files(vec![f]), language).await,
                                None => Vec::new(),
                            };
                            self.media.stop_playback();
                            hold_music = prompts.first().cloned();
                            music = start_music(&self.media, prompts);
                        }
                        AcdToCall::Music { on: false, .. } => {
                            music = None;
                            self.media.stop_playback();
                        }
                        AcdToCall::Announce(a) => {
                            let p = match &a {
                                Announcement::Prompt { file } => FlowPrompt::Files(vec![file.clone()]),
                                Announcement::Position { position } => FlowPrompt::Files(vec![format!("queue_position_{position}.wav")]),
                                Announcement::Wait { estimated_ms } => FlowPrompt::Files(vec![format!("queue_wait_{}m.wav", (estimated_ms + 59_999) / 60_000)]),
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
                        AcdToCall::Offer { agent, ring_ms, .. } => {
                            match self.ring_agent(&agent, ring_ms, &leg_tx) {
                                Some(leg) => {
                                    legs.insert(agent, leg);
                                }
                                None => {
                                    let _ = acd.offer_result(id, &agent, OfferResult::Unregistered).await;
                                }
                            }
                        }
                        AcdToCall::Answer { .. } => {}
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
                            self.media.stop_playback();
                            self.contact.agent = Some(agent.to_string());
                            if self.contact.waited_ms.is_none() {
                                self.contact.waited_ms = Some(entered.elapsed().as_millis() as i64);
                            }
                            let link = AcdLink { handle: &acd, call: id, rx: &mut rx, music: hold_music.clone() };
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
                                RoomExit::TransferNumber(n) => {
                                    break self.transfer_number(&n, None, None, None).await;
                                }
                            }
                        }
                        AcdToCall::Move { dest, reason } => {
                            self.trail("queue", format!("{reason:?} -> {dest:?}"));
                            break match dest {
                                DestIr::Flow(f) => Ok(Step::NewFlow(f)),
                                DestIr::Number(n) => self.transfer_number(&n, None, None, None).await,
                                DestIr::Agent(a) => self.transfer_agent(&a, None).await,
                                DestIr::Hangup => Ok(Step::End(End::Flow(format!("queue {queue}: {reason:?}")))),
                                DestIr::Queue(_) | DestIr::Callback => Ok(Step::Continue(Input::Failed(format!("queue {queue}: {reason:?}")))),
                            };
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
        report: &mpsc::Sender<(Arc<str>, LegOutcome)>,
    ) -> Option<Leg> {
        let binding = self
            .env
            .registrar
            .as_ref()
            .and_then(|r| r.lookup(agent).into_iter().next())?;
        let rtp = RtpSession::start(
            &self.env.ports,
            SessionConfig::new(RemoteMedia {
                addr: None,
                codec: self.law,
                event_pt: Some(101),
            }),
        )
        .ok()?;
        let local = LocalMedia::g711(self.env.media_ip, rtp.local_addr().port());
        let host = self
            .env
            .config
            .sip
            .public_host
            .clone()
            .unwrap_or_else(|| self.env.config.sip.listen.ip().to_string());
        let mut outgoing = self
            .env
            .endpoint
            .invite(crate::sip::endpoint::OutgoingInvite {
                request_uri: binding.contact.clone(),
                from: format!("<sip:{}@{host}>", self.contact.caller),
                to: format!("<sip:{agent}@{host}>"),
                target: binding.source.clone(),
                sdp: Some(sdp::offer(&local).to_bytes()),
                credentials: None,
                headers: Vec::new(),
                call_id: None,
                contact_user: Some("dialect".into()),
            })
            .ok()?;
        self.trail("queue", format!("ringing agent {agent}"));
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let report = report.clone();
        let agent = agent.clone();
        let ring = std::time::Duration::from_millis(ring_ms.clamp(1_000, 600_000) as u64 + 2_000);
        tokio::spawn(async move {
            let deadline = tokio::time::sleep(ring);
            tokio::pin!(deadline);
            let mut cancelled = false;
            let outcome = loop {
                tokio::select! {
                    p = outgoing.next() => match p {
                        CallProgress::Provisional(_) => {}
                        CallProgress::Answered(a) => break LegOutcome::Answered(a),
                        CallProgress::Rejected(r) => {
                            let code = u16::from(r.status_code);
                            break LegOutcome::Failed(match code {
                                486 | 600 => OfferResult::Busy,
                                603 => OfferResult::Rejected,
                                408 | 480 | 487 => OfferResult::NoAnswer,
                                404 => OfferResult::Unregistered,
                                _ => OfferResult::Failed,
                            });
                        }
                        CallProgress::Cancelled | CallProgress::Timeout => {
                            break LegOutcome::Failed(OfferResult::NoAnswer)
                        }
                    },
                    _ = c.cancelled(), if !cancelled => {
                        outgoing.cancel();
                        cancelled = true;
                    }
                    _ = &mut deadline, if !cancelled => {
                        outgoing.cancel();
                        cancelled = true;
                    }
                }
            };
            let _ = report.send((agent, outcome)).await;
        });
        Some(Leg {
            rtp,
            local,
            cancel,
            answered: None,
        })
    }
}

/// Plays the music once (the call task starts it again when it ends).
fn start_music(
    media: &crate::media::SessionHandle,
    prompts: Vec<Arc<crate::media::Prompt>>,
) -> Option<(Vec<Arc<crate::media::Prompt>>, PlaybackId)> {
    let mut last = None;
    for p in &prompts {
        last = Some(media.play(p.clone(), PlayOptions { barge_in: false }));
    }
    last.map(|id| (prompts, id))
}
