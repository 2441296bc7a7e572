//! A campaign's call to one target: dialled through the outbound-call policy
//! on the campaign's trunk with its caller id, classified when it does not
//! connect (busy, no answer, invalid, rejected, network failure — by SIP
//! status, or the campaign's ring time), and once answered either run through
//! the campaign's flow with the target's fields as arguments (`mode ivr`) or
//! put to the campaign's queue, where an agent must be connected within the
//! `dropped` deadline or the person hears the dropped-call message and the
//! call counts as abandoned (`mode progressive` and `predictive`).
//!
//! Before either, the answering-machine detector listens to the callee (when
//! the campaign has it on): a machine or a fax ends the attempt with that
//! outcome; a person, or an answer still undecided when the analysis ends,
//! goes on. The detector's verdict and the time it took are in the trail.
//!
//! Every call leaves a contact record (direction outbound, kind `campaign`, the
//! campaign and target in its data) and ends with one [`CampaignResult`] sent
//! to the dialer, whatever happened — including a server shutting down. On the
//! way it tells the dialer each [`Stage`] as it is reached (answered, a person
//! or not, connected to an agent), so that the pacer stops counting a line as
//! ringing once it is answered and counts a connected person when the agent
//! takes the call, not minutes later when the talk ends.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dialect_compiler::CallInfo;
use dialect_compiler::exec::{Input, Prompt as FlowPrompt};
use dialect_compiler::value::Value;
use dialect_dialer::outcome::CallOutcome;
use dialect_media::PlayOptions;
use dialect_media::amd::{AmdConfig, AmdDecision, AmdDetector, AmdVerdict};
use dialect_media::g711::Law;
use dialect_sip::endpoint::CallProgress;
use dialect_sip::sdp;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::leg::AgentLegs;
use super::queue::NOT_CONNECTED_IN_TIME;
use super::{Call, CallEnv, End, Step};
use crate::contacts::{self, ContactRecord, TrailEntry};
use crate::outbound::Origin;

/// What an answered call does.
#[derive(Debug, Clone)]
pub enum Answered {
    /// Runs a flow with these arguments (`mode ivr`).
    Flow {
        /// The flow's name.
        flow: String,
        /// The target's fields, by the list's field names.
        args: Vec<(String, Value)>,
    },
    /// Goes to the agent who accepted the previewed target (`mode preview`):
    /// reserved for it, so no deadline applies.
    Agent {
        /// The agent's id.
        agent: String,
    },
    /// Goes to an agent of a queue (`mode progressive`, `predictive`).
    Queue {
        /// The queue's name.
        queue: String,
        /// An agent must be connected within this long after the answer.
        connect_within_ms: i64,
        /// What a person hears when none is (a prompt file).
        dropped_prompt: Option<String>,
    },
}

/// One call the dialer asks for.
#[derive(Debug, Clone)]
pub struct CampaignCall {
    /// The campaign's name.
    pub campaign: String,
    /// The target's id.
    pub target: u64,
    /// The attempt's number (1 for the first call to the target).
    pub attempt: u32,
    /// The number, canonical.
    pub number: String,
    /// The campaign's trunk or trunk group.
    pub trunk: Option<String>,
    /// The campaign's caller id (else the trunk's).
    pub caller_id: Option<String>,
    /// How long it may ring before it is no answer.
    pub ring_ms: i64,
    /// What an answered call does.
    pub answered: Answered,
    /// Call data the agent sees (the target's fields).
    pub data: Vec<(String, Value)>,
    /// Answering-machine detection, when the campaign has it on.
    pub amd: Option<dialect_media::amd::AmdConfig>,
}

/// How far a call in progress has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The callee answered (the 200 OK): the line no longer rings.
    Answered,
    /// Machine detection decided, or was off: a person (`live`), or a machine
    /// or fax.
    Decided {
        /// A person (or an answer still undecided when the analysis ended).
        live: bool,
    },
    /// The person reached an agent.
    Connected,
}

/// What a campaign call tells the dialer.
#[derive(Debug, Clone)]
pub enum CampaignReport {
    /// A call in progress reached a stage.
    Progress {
        /// The campaign's name.
        campaign: String,
        /// The target's id.
        target: u64,
        /// The stage.
        stage: Stage,
        /// When (Unix ms).
        at_ms: i64,
    },
    /// The call ended.
    Ended(CampaignResult),
}

/// Tells the dialer the stages of one call. A stage that finds the dialer's
/// channel full is not waited for: the call's result, which is always
/// delivered, carries the same facts.
#[derive(Debug, Clone)]
struct Reporter {
    tx: mpsc::Sender<CampaignReport>,
    campaign: String,
    target: u64,
}

impl Reporter {
    fn tell(&self, stage: Stage) {
        let _ = self.tx.try_send(CampaignReport::Progress {
            campaign: self.campaign.clone(),
            target: self.target,
            stage,
            at_ms: crate::time::now_ms(),
        });
    }
}

/// How one call ended, for the dialer.
#[derive(Debug, Clone)]
pub struct CampaignResult {
    /// The campaign's name.
    pub campaign: String,
    /// The target's id.
    pub target: u64,
    /// The attempt's number.
    pub attempt: u32,
    /// How it ended.
    pub outcome: CallOutcome,
    /// The final SIP status of a call that was not answered.
    pub sip_code: Option<u16>,
    /// When the call was placed (Unix ms).
    pub started_ms: i64,
    /// When the callee answered.
    pub answered_ms: Option<i64>,
    /// When it ended.
    pub ended_ms: i64,
    /// The agent who took it.
    pub agent: Option<String>,
    /// The contact record's id.
    pub contact: u64,
    /// What happened, in words.
    pub detail: String,
}

/// Starts the call task for `call` on `tracker`; its result goes to `done`.
pub fn place(
    env: &Arc<CallEnv>,
    call: CampaignCall,
    done: mpsc::Sender<CampaignReport>,
    tracker: &tokio_util::task::TaskTracker,
) {
    let env = env.clone();
    tracker.spawn(async move {
        let reporter = Reporter {
            tx: done.clone(),
            campaign: call.campaign.clone(),
            target: call.target,
        };
        let result = run(&env, call, reporter).await;
        let _ = done.send(CampaignReport::Ended(result)).await;
    });
}

/// Why a call did not connect, with the outcome it counts as.
struct NotConnected {
    outcome: CallOutcome,
    sip_code: Option<u16>,
    why: String,
}

async fn run(env: &Arc<CallEnv>, order: CampaignCall, reporter: Reporter) -> CampaignResult {
    let deployed = env.program.current();
    let started_ms = crate::time::now_ms();
    let mut contact = ContactRecord {
        id: contacts::new_id(&*env.store).unwrap_or(0),
        channel: "voice".into(),
        direction: "outbound".into(),
        kind: "campaign".into(),
        called: order.number.clone(),
        program_version: deployed.info.version,
        started_ms,
        data: order
            .data
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .chain([
                ("campaign".to_string(), order.campaign.clone().into()),
                ("target".to_string(), order.target.into()),
                ("attempt".to_string(), order.attempt.into()),
            ])
            .collect(),
        ..ContactRecord::default()
    };
    let mut result = CampaignResult {
        campaign: order.campaign.clone(),
        target: order.target,
        attempt: order.attempt,
        outcome: CallOutcome::NetworkFailure,
        sip_code: None,
        started_ms,
        answered_ms: None,
        ended_ms: started_ms,
        agent: None,
        contact: contact.id,
        detail: String::new(),
    };
    let permit = if env.shutdown.is_cancelled() {
        None
    } else {
        env.limiter.admit()
    };
    let Some(permit) = permit else {
        let why = if env.shutdown.is_cancelled() {
            "shutting down"
        } else {
            "too many calls"
        };
        return not_connected(env, contact, result, NotConnected::network(why)).await;
    };
    env.stats.calls_total.fetch_add(1, Ordering::Relaxed);
    env.stats.calls_active.fetch_add(1, Ordering::Relaxed);
    let connected = connect(env, &order, &mut contact).await;
    let result = match connected {
        Err(nc) => not_connected(env, contact, result, nc).await,
        Ok(c) => {
            result.answered_ms = contact.answered_ms;
            reporter.tell(Stage::Answered);
            let (mut call, language, grant) = c.into_call(env, deployed.clone(), contact);
            let (outcome, end) = answered(&mut call, &order, &language, &reporter).await;
            result.outcome = outcome;
            result.detail = end.text();
            result.agent = call.contact.agent.clone();
            call.finish(end).await;
            drop(grant);
            result.ended_ms = crate::time::now_ms();
            result
        }
    };
    env.stats.calls_active.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    result
}

impl NotConnected {
    fn network(why: &str) -> NotConnected {
        NotConnected {
            outcome: CallOutcome::NetworkFailure,
            sip_code: None,
            why: why.into(),
        }
    }
}

/// Saves the contact record of a call that never connected.
async fn not_connected(
    env: &CallEnv,
    mut contact: ContactRecord,
    mut result: CampaignResult,
    nc: NotConnected,
) -> CampaignResult {
    tracing::info!(campaign = %result.campaign, target = result.target, "campaign call not connected: {}", nc.why);
    let now = crate::time::now_ms();
    contact.ended_ms = Some(now);
    contact.end = format!("not connected: {}", nc.why);
    if let Err(e) = contacts::save(&env.store, &contact).await {
        tracing::error!(contact = contact.id, "cannot save the contact record: {e}");
    }
    result.outcome = nc.outcome;
    result.sip_code = nc.sip_code;
    result.detail = nc.why;
    result.ended_ms = now;
    result
}

/// Dials the number and waits for the answer or the end of the ring time.
async fn connect(
    env: &Arc<CallEnv>,
    order: &CampaignCall,
    contact: &mut ContactRecord,
) -> Result<super::dialled::Connected, NotConnected> {
    let grant = env
        .outbound
        .authorize(crate::outbound::Request {
            origin: Origin::Campaign {
                name: order.campaign.clone(),
            },
            number: &order.number,
            trunk: order.trunk.as_deref().filter(|t| !t.is_empty()),
        })
        .map_err(|refusal| NotConnected::network(&format!("refused: {}", refusal.reason)))?;
    let caller_id = order
        .caller_id
        .clone()
        .filter(|c| !c.is_empty())
        .or(grant.trunk().caller_id.clone())
        .unwrap_or_else(|| {
            grant
                .trunk()
                .username
                .clone()
                .unwrap_or_else(|| "dialect".into())
        });
    contact.caller = caller_id.clone();
    contact.trunk = grant.trunk().name.clone();
    let (session, local) = super::media::called_leg(
        env,
        super::media::LegKind::Trunk(&grant.line().config),
        Law::Ulaw,
        super::media::trunk_ip(&grant.line().sip),
    )
    .map_err(|e| NotConnected::network(&e.to_string()))?;
    contact.trail.push(TrailEntry {
        at_ms: crate::time::now_ms(),
        node: "campaign".into(),
        detail: format!(
            "{}: dialling {} through trunk {}",
            order.campaign,
            grant.number(),
            grant.trunk().name
        ),
    });
    let mut outgoing = grant
        .dial(
            &env.endpoint,
            Some(caller_id.as_str()),
            sdp::offer(&local).to_bytes(),
        )
        .await
        .map_err(|e| NotConnected::network(&e.to_string()))?;
    contact.call_id = outgoing.call_id();
    let ring_until =
        Instant::now() + Duration::from_millis(order.ring_ms.clamp(1_000, 600_000) as u64);
    let mut cancelled = false;
    let answered = loop {
        // All branches are cancel-safe: channel receives and sleeps.
        tokio::select! {
            p = outgoing.next() => match p {
                CallProgress::Provisional(_) => {}
                CallProgress::Answered(a) => break a,
                CallProgress::Rejected(r) => {
                    let code = r.status_code.code();
                    return Err(NotConnected {
                        outcome: CallOutcome::from_sip(code).unwrap_or(CallOutcome::NetworkFailure),
                        sip_code: Some(code),
                        why: format!("rejected {}", r.status_code),
                    });
                }
                CallProgress::Cancelled | CallProgress::Timeout if cancelled => {
                    return Err(NotConnected {
                        outcome: CallOutcome::NoAnswer,
                        sip_code: None,
                        why: format!("no answer within {} s", order.ring_ms / 1000),
                    });
                }
                CallProgress::Cancelled | CallProgress::Timeout => {
                    return Err(NotConnected::network("no response from the trunk"));
                }
            },
            _ = tokio::time::sleep_until(ring_until), if !cancelled => {
                outgoing.cancel();
                cancelled = true;
            }
            _ = env.hangup_all.cancelled(), if !cancelled => {
                outgoing.cancel();
                return Err(NotConnected::network("shutting down"));
            }
        }
    };
    Ok(super::dialled::connected(
        *answered, session, local, grant, contact,
    ))
}

/// Follows an answered call to its end: the flow, or the queue with its
/// deadline; the outcome is a person unless no agent came in time.
async fn answered(
    call: &mut Call,
    order: &CampaignCall,
    language: &str,
    reporter: &Reporter,
) -> (CallOutcome, End) {
    call.trail("campaign", format!("{} answered", order.number));
    let connected = reporter.clone();
    call.on_agent = Some(Box::new(move |_agent: &str| {
        connected.tell(Stage::Connected)
    }));
    if let Some(cfg) = &order.amd {
        match call.detect_machine(cfg.clone()).await {
            Err(end) => return (CallOutcome::Person, end),
            Ok(d) => {
                call.trail(
                    "machine detection",
                    format!(
                        "{} ({}) after {} ms",
                        d.verdict.as_str(),
                        d.cause.as_str(),
                        d.at_ms
                    ),
                );
                reporter.tell(Stage::Decided {
                    live: matches!(d.verdict, AmdVerdict::Person | AmdVerdict::Unsure),
                });
                match d.verdict {
                    AmdVerdict::Machine => {
                        return (CallOutcome::Machine, End::Flow("answering machine".into()));
                    }
                    AmdVerdict::Fax => return (CallOutcome::Fax, End::Flow("fax".into())),
                    AmdVerdict::Person | AmdVerdict::Unsure => {}
                }
            }
        }
    } else {
        reporter.tell(Stage::Decided { live: true });
    }
    match &order.answered {
        Answered::Flow { flow, args } => {
            call.contact.flow = flow.clone();
            let info = CallInfo {
                caller: order.number.clone(),
                called: call.contact.caller.clone(),
                trunk: call.trunk_group.clone(),
                args: args.clone(),
            };
            (CallOutcome::Person, call.run_flow(flow, info).await)
        }
        Answered::Agent { agent } => {
            let Some(acd) = call.env.acd.clone() else {
                return (CallOutcome::Abandoned, End::Flow("no ACD".into()));
            };
            let id = call.contact.id;
            let mut qc = dialect_acd::QueuedCall::new(id, "", &order.number, crate::time::now_ms());
            qc.called = call.contact.caller.clone();
            qc.trunk = call.trunk_group.clone();
            qc.trunk_name = call.contact.trunk.clone();
            qc.data = order.data.clone();
            qc.trail = call.contact.trail.clone();
            let (tx, rx) = mpsc::channel(64);
            if acd.direct(qc, agent, tx).await.is_err() {
                return (
                    CallOutcome::Abandoned,
                    End::Flow("the ACD has stopped".into()),
                );
            }
            let step = call
                .follow_acd(
                    &acd,
                    id,
                    rx,
                    AgentLegs::new(),
                    format!("agent {agent}"),
                    Instant::now(),
                    language,
                    None,
                )
                .await;
            let outcome = if call.contact.agent.is_some() {
                CallOutcome::Person
            } else {
                CallOutcome::Abandoned
            };
            let end = match step {
                Ok(Step::End(e)) | Err(e) => e,
                Ok(Step::Continue(Input::Failed(why))) => End::Flow(why),
                Ok(_) => End::Flow(format!("agent {agent}: the call ended")),
            };
            (outcome, end)
        }
        Answered::Queue {
            queue,
            connect_within_ms,
            dropped_prompt,
        } => {
            let Some(acd) = call.env.acd.clone() else {
                return (CallOutcome::Abandoned, End::Flow("no ACD".into()));
            };
            let id = call.contact.id;
            let now = crate::time::now_ms();
            let mut qc = dialect_acd::QueuedCall::new(id, queue, &order.number, now);
            qc.called = call.contact.caller.clone();
            qc.trunk = call.trunk_group.clone();
            qc.trunk_name = call.contact.trunk.clone();
            qc.data = order.data.clone();
            qc.trail = call.contact.trail.clone();
            let (tx, rx) = mpsc::channel(64);
            if acd.enqueue(qc, tx).await.is_err() {
                return (
                    CallOutcome::Abandoned,
                    End::Flow("the ACD has stopped".into()),
                );
            }
            call.contact.queue = Some(queue.clone());
            let entered = Instant::now();
            let deadline = entered + Duration::from_millis((*connect_within_ms).max(0) as u64);
            let step = call
                .follow_acd(
                    &acd,
                    id,
                    rx,
                    AgentLegs::new(),
                    queue.clone(),
                    entered,
                    language,
                    Some(deadline),
                )
                .await;
            match step {
                Ok(Step::Continue(Input::Failed(why))) if why == NOT_CONNECTED_IN_TIME => {
                    // The regulator's message: who called, played to the end.
                    if let Some(p) = dropped_prompt {
                        call.trail("campaign", format!("dropped-call message {p}"));
                        let prompts = call
                            .render(&FlowPrompt::Files(vec![p.clone()]), language)
                            .await;
                        call.play_to_end(prompts).await;
                    }
                    (
                        CallOutcome::Abandoned,
                        End::Flow(format!("dropped: {NOT_CONNECTED_IN_TIME}")),
                    )
                }
                Ok(Step::End(e)) | Err(e) => {
                    let outcome = if call.contact.agent.is_some() {
                        CallOutcome::Person
                    } else {
                        CallOutcome::Abandoned
                    };
                    (outcome, e)
                }
                Ok(_) => {
                    let outcome = if call.contact.agent.is_some() {
                        CallOutcome::Person
                    } else {
                        CallOutcome::Abandoned
                    };
                    (outcome, End::Flow(format!("queue {queue} ended")))
                }
            }
        }
    }
}

impl Call {
    /// Feeds the callee's audio to the answering-machine detector, 20 ms at a
    /// time, until it decides (at most its total analysis time, then it
    /// decides on what it heard); keys pressed meanwhile are kept for the flow.
    /// `Err` when the callee hangs up first.
    async fn detect_machine(&mut self, cfg: AmdConfig) -> Result<AmdDecision, End> {
        let tap = dialect_media::tap(&self.media);
        let limit = cfg.total_analysis_ms;
        let mut detector = AmdDetector::new(cfg);
        let mut frame = [0i16; 160];
        let started = Instant::now();
        let mut next = started + Duration::from_millis(20);
        // Bounded: one pass per 20 ms until the detector's total time (plus
        // a second for audio still buffered).
        loop {
            match self.next_event(Some(next)).await {
                Some(super::Event::Gone(end)) => return Err(end),
                Some(super::Event::Key(k)) => self.keys.push_back(k),
                Some(_) => {}
                None => {
                    next += Duration::from_millis(20);
                    let n = tap.read(&mut frame);
                    let heard = if n == 0 { &[0i16; 160][..] } else { &frame[..] };
                    if let Some(d) = detector.push(heard) {
                        return Ok(d);
                    }
                    if started.elapsed() > Duration::from_millis(u64::from(limit) + 1_000) {
                        return Ok(detector.finish());
                    }
                }
            }
        }
    }

    /// Plays `prompts` and waits until they end or the callee hangs up.
    async fn play_to_end(&mut self, prompts: Vec<Arc<dialect_media::Prompt>>) {
        let Some(last) = prompts
            .into_iter()
            .map(|p| self.media.play(p, PlayOptions { barge_in: false }))
            .last()
        else {
            return;
        };
        // Bounded: a prompt ends, or the callee goes; at most a minute either way.
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            tokio::select! {
                ev = self.next_event(None) => match ev {
                    Some(super::Event::Played(id, _)) if id == last => return,
                    Some(super::Event::Gone(_)) | None => return,
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(until) => return,
            }
        }
    }
}
