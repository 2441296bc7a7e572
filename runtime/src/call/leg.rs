//! An agent leg: the INVITE that rings an agent's registered phone, the task
//! that waits for its outcome, and the set of legs a call rings or holds while it
//! follows the ACD. The queue (`queue.rs`) rings legs and the bridged call
//! (`bridged.rs`) rings consulted and conferenced agents with the same pieces.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::CallEnv;
use dialect_acd::OfferResult;
use dialect_media::RtpSession;
use dialect_media::g711::Law;
use dialect_sip::endpoint::{Answered, CallProgress};
use dialect_sip::sdp::{self, LocalMedia};

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
    pub(super) answered: Option<Box<Answered>>,
    /// Set when another ring of the same phone replaces this one (the agent
    /// answered on the desk, so the phone is rung again to answer by itself):
    /// its ringing task then reports nothing, and hangs up should the phone
    /// have answered this ring after all.
    pub(super) superseded: Arc<std::sync::atomic::AtomicBool>,
}

/// Headers that ask a ringing phone to answer by itself: `Call-Info` with
/// `answer-after=0` (Yealink, Polycom, Snom, Grandstream and most others) and
/// the `Alert-Info` URN of RFC 7462 for the rest. A phone configured to refuse
/// auto-answer simply rings.
pub(super) fn auto_answer_headers(host: &str) -> Vec<rsip::Header> {
    vec![
        dialect_sip::message::other("Call-Info", format!("<sip:{host}>;answer-after=0")),
        dialect_sip::message::other("Alert-Info", "<urn:alert:service:auto-answer>"),
    ]
}

/// The agent legs of a call following the ACD: those being rung or answered, and
/// the channel their ringing tasks report on.
pub(super) struct AgentLegs {
    pub(super) legs: HashMap<Arc<str>, Leg>,
    pub(super) tx: mpsc::Sender<(Arc<str>, LegOutcome)>,
    pub(super) rx: mpsc::Receiver<(Arc<str>, LegOutcome)>,
}

impl AgentLegs {
    /// No legs yet.
    pub(super) fn new() -> AgentLegs {
        let (tx, rx) = mpsc::channel(16);
        AgentLegs {
            legs: HashMap::new(),
            tx,
            rx,
        }
    }

    /// Rings `agent`'s registered phone showing `from_user` as the caller, and
    /// waits until it answers, fails, or `gone` resolves (then the ring is
    /// cancelled). `Ok` keeps the answered leg for a later `Bridge`.
    pub(super) async fn ring_and_wait(
        &mut self,
        env: &CallEnv,
        agent: &Arc<str>,
        law: Law,
        from_user: &str,
        ring_ms: i64,
    ) -> Result<(), OfferResult> {
        let Some(leg) = ring_phone(env, agent, law, from_user, ring_ms, false, &self.tx) else {
            return Err(OfferResult::Unregistered);
        };
        let cancel = leg.cancel.clone();
        self.legs.insert(agent.clone(), leg);
        // Bounded: the ringing task gives up after `ring_ms` (+2 s) and reports.
        while let Some((a, outcome)) = self.rx.recv().await {
            if a != *agent {
                continue;
            }
            return match outcome {
                LegOutcome::Answered(ans) => {
                    if let Some(leg) = self.legs.get_mut(agent) {
                        leg.answered = Some(ans);
                    }
                    Ok(())
                }
                LegOutcome::Failed(r) => {
                    self.legs.remove(agent);
                    Err(r)
                }
            };
        }
        cancel.cancel();
        Err(OfferResult::Failed)
    }

    /// The dialog events of an answered agent leg (to notice its BYE).
    pub(super) fn answered_events(
        &mut self,
        agent: &str,
    ) -> Option<&mut dialect_sip::endpoint::DialogEvents> {
        self.legs
            .get_mut(agent)
            .and_then(|l| l.answered.as_mut())
            .map(|a| &mut a.events)
    }

    /// The media session of `agent`'s answered leg, sending to the phone's SDP
    /// answer (to play it ringback while the number it dialled rings).
    pub(super) fn answered_session(&self, agent: &str) -> Option<dialect_media::SessionHandle> {
        let leg = self.legs.get(agent)?;
        let answered = leg.answered.as_ref()?;
        if let Ok(a) = sdp::SessionDescription::parse(&answered.response.body)
            && let Ok(n) = sdp::read_answer(&a, &leg.local)
        {
            leg.rtp.handle().update_remote(super::remote_of(&n));
        }
        Some(leg.rtp.handle().clone())
    }

    /// Drops `agent`'s leg without signalling (it hung up by itself).
    pub(super) fn forget(&mut self, agent: &str) {
        if let Some(l) = self.legs.remove(agent) {
            l.cancel.cancel();
        }
    }

    /// Hangs up every leg (BYE when answered, CANCEL while ringing).
    pub(super) async fn hang_up_all(&mut self, env: &CallEnv) {
        for (_, mut l) in self.legs.drain() {
            l.cancel.cancel();
            if let Some(a) = l.answered.as_mut() {
                let _ = env.endpoint.bye(&mut a.dialog).await;
            }
        }
    }
}

/// Sends an INVITE to `agent`'s registered phone and spawns the task that waits
/// for its outcome (ringing at most `ring_ms` + 2 s) and reports it on `report`.
/// `None` when the agent has no registration or no RTP port is free.
/// In a cluster, the phone of an agent registered with another runtime:
/// where the ACD's offer said it is (its contact, at the address it
/// registered from).
fn phone_elsewhere(env: &CallEnv, agent: &str) -> Option<(String, dialect_sip::transport::Target)> {
    let contact = env
        .acd
        .as_ref()?
        .contacts_elsewhere()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(agent)
        .cloned()?;
    let target = dialect_sip::endpoint::resolve_literal(
        &contact,
        dialect_sip::transport::TransportKind::Udp,
    )?;
    Some((contact, target))
}

pub(super) fn ring_phone(
    env: &CallEnv,
    agent: &Arc<str>,
    law: Law,
    from_user: &str,
    ring_ms: i64,
    auto_answer: bool,
    report: &mpsc::Sender<(Arc<str>, LegOutcome)>,
) -> Option<Leg> {
    let (contact, target) = match env
        .registrar
        .as_ref()
        .and_then(|r| r.lookup(agent).into_iter().next())
    {
        Some(binding) => (binding.contact, binding.source),
        None => phone_elsewhere(env, agent)?,
    };
    let phone_ip = Some(target.addr.ip());
    let (rtp, local) =
        super::media::called_leg(env, super::media::LegKind::Phone, law, phone_ip).ok()?;
    let host = env
        .config
        .sip
        .public_host
        .clone()
        .unwrap_or_else(|| env.config.sip.listen.ip().to_string());
    let mut outgoing = env
        .endpoint
        .invite(dialect_sip::endpoint::OutgoingInvite {
            request_uri: contact,
            from: format!("<sip:{from_user}@{host}>"),
            to: format!("<sip:{agent}@{host}>"),
            target,
            sdp: Some(sdp::offer(&local).to_bytes()),
            credentials: None,
            headers: if auto_answer {
                auto_answer_headers(&host)
            } else {
                Vec::new()
            },
            call_id: None,
            contact_user: Some("dialect".into()),
        })
        .ok()?;
    let superseded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let quiet = superseded.clone();
    let endpoint = env.endpoint.clone();
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
        if quiet.load(std::sync::atomic::Ordering::Acquire) {
            if let LegOutcome::Answered(mut a) = outcome {
                let _ = endpoint.bye(&mut a.dialog).await;
            }
            return;
        }
        let _ = report.send((agent, outcome)).await;
    });
    Some(Leg {
        rtp,
        local,
        cancel,
        answered: None,
        superseded,
    })
}
