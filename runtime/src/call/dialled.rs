//! Calls the ACD places itself: a callback whose turn came, and an agent's
//! outbound call from the CTI API. Each [`DialOrder`] becomes one call task.
//!
//! # Use
//!
//! The server reads the receiver returned by `AcdHandle::spawn` and hands each
//! order to [`place`], which spawns the call task on the server's tracker:
//!
//! ```text
//! order = acd_dials.recv() => crate::call::dialled::place(&env, order, &tracker),
//! ```
//!
//! # What the call task does
//!
//! - **Callback** ([`DialKind::Callback`]): dial the customer's number through the
//!   trunk (the order's group or name, `""` = the first trunk) with the order's
//!   caller id (else the trunk's), ringing at most `ring_ms`. When it answers,
//!   `AcdHandle::dial_answered` and then follow the ACD like a queued call: the ACD
//!   offers the call to the reserved agent (`Offer`, ringing their registered
//!   phone), then `Bridge`.
//! - **Outbound** ([`DialKind::Outbound`]): ring the agent's registered phone first
//!   (the queue default ring time, `acd.default_ring_ms`); when the agent answers,
//!   dial the number (hanging up if the agent does). When the number answers,
//!   `dial_answered`; the ACD answers with `Bridge` and the two legs are bridged.
//! - Anything that keeps the call from connecting (no trunk, no answer, busy, the
//!   agent's phone not registered or not answering, limits, shutdown) is reported
//!   with `AcdHandle::dial_failed`, which releases the reserved agent (and, for a
//!   callback, schedules the next attempt).
//!
//! Every order leaves a contact record: direction `outbound`, kind `callback` or
//! `outbound`, the number as `called`, the presented caller id as `caller`, the
//! agent, and talk time once bridged; orders that never connected end with
//! `not connected: <why>`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dialect_compiler::CallInfo;
use dialect_compiler::exec::Input;
use rsip::Method;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::leg::AgentLegs;
use super::{Call, CallEnv, End, Step, law_of, remote_of};
use crate::acd::AcdHandle;
use crate::contacts::{self, ContactRecord};
use crate::outbound::{AgentRequest, Grant, Origin};
use dialect_acd::{DialKind, DialOrder};
use dialect_media::RtpSession;
use dialect_media::g711::Law;
use dialect_sip::endpoint::{CallProgress, DialogEvent};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};

/// Starts the call task that carries out `order` (on `tracker`, so that shutdown
/// waits for it).
pub fn place(env: &Arc<CallEnv>, order: DialOrder, tracker: &tokio_util::task::TaskTracker) {
    let env = env.clone();
    tracker.spawn(async move { run(env, order).await });
}

/// Tells the ACD an order could not be carried out (the server is shutting down
/// or has no call task for it).
pub async fn refuse(env: &CallEnv, order: &DialOrder, why: &str) {
    if let Some(acd) = &env.acd {
        let _ = acd.dial_failed(order.call, why).await;
    }
}

/// The kind as written in contact records.
fn kind_name(kind: &DialKind) -> &'static str {
    match kind {
        DialKind::Callback => "callback",
        DialKind::Outbound => "outbound",
    }
}

/// The call task of one order.
async fn run(env: Arc<CallEnv>, order: DialOrder) {
    let Some(acd) = env.acd.clone() else {
        return;
    };
    let deployed = env.program.current();
    let mut contact = ContactRecord {
        id: contacts::new_id(&*env.store).unwrap_or(0),
        channel: "voice".into(),
        direction: "outbound".into(),
        kind: kind_name(&order.kind).into(),
        called: order.number.clone(),
        program_version: deployed.info.version,
        started_ms: crate::time::now_ms(),
        agent: Some(order.agent.to_string()),
        data: order
            .data
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
            .collect(),
        ..ContactRecord::default()
    };
    if let DialKind::Callback = order.kind {
        contact.trail.push(crate::contacts::TrailEntry {
            at_ms: contact.started_ms,
            node: "callback".into(),
            detail: format!("calling back for call {}", order.call),
        });
    }
    if env.shutdown.is_cancelled() {
        not_connected(&env, &acd, &order, contact, "shutting down").await;
        return;
    }
    let Some(permit) = env.limiter.admit() else {
        not_connected(&env, &acd, &order, contact, "too many calls").await;
        return;
    };
    env.stats.calls_total.fetch_add(1, Ordering::Relaxed);
    env.stats.calls_active.fetch_add(1, Ordering::Relaxed);
    let mut legs = AgentLegs::new();
    let given_up = acd.dial_given_up(order.call);
    match connect(&env, &order, &mut contact, &mut legs, &given_up).await {
        Ok(connected) => {
            let (mut call, language, grant) = connected.into_call(&env, deployed.clone(), contact);
            let end = follow(&mut call, &acd, &order, legs, &language).await;
            call.finish(end).await;
            drop(grant);
        }
        Err(why) => {
            legs.hang_up_all(&env).await;
            not_connected(&env, &acd, &order, contact, &why).await;
        }
    }
    env.stats.calls_active.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

/// Reports the failure to the ACD and saves the contact record.
async fn not_connected(
    env: &CallEnv,
    acd: &AcdHandle,
    order: &DialOrder,
    mut contact: ContactRecord,
    why: &str,
) {
    tracing::info!(call = order.call, number = %order.number, "placed call not connected: {why}");
    let _ = acd.dial_failed(order.call, why).await;
    contact.ended_ms = Some(crate::time::now_ms());
    contact.end = format!("not connected: {why}");
    if let Err(e) = contacts::save(&env.store, &contact).await {
        tracing::error!(contact = contact.id, "cannot save the contact record: {e}");
    }
}

/// The customer's leg once it answered.
pub(super) struct Connected {
    pub(super) dialog: dialect_sip::dialog::Dialog,
    pub(super) events: dialect_sip::endpoint::DialogEvents,
    pub(super) session: RtpSession,
    pub(super) local: LocalMedia,
    pub(super) law: Law,
    /// The trunk's group, as flows see it in `trunk`.
    pub(super) trunk_group: String,
    /// The outbound-call policy's permission: holds the trunk channel for the
    /// whole call and counts its talk time.
    pub(super) grant: Grant,
}

/// What the contact record says when the ACD gave up on the call first.
const GIVEN_UP: &str = "the ACD gave up waiting";

/// Rings the agent first for outbound calls, then dials the number through a
/// trunk and waits for its answer; stops (CANCEL) when `given_up` is cancelled.
/// `Err` says why the call did not connect.
async fn connect(
    env: &Arc<CallEnv>,
    order: &DialOrder,
    contact: &mut ContactRecord,
    legs: &mut AgentLegs,
    given_up: &tokio_util::sync::CancellationToken,
) -> Result<Connected, String> {
    let origin = match order.kind {
        DialKind::Callback => Origin::Callback,
        DialKind::Outbound => Origin::Agent {
            id: order.agent.to_string(),
            how: AgentRequest::Dial,
        },
    };
    let grant = env
        .outbound
        .authorize(crate::outbound::Request {
            origin,
            number: &order.number,
            trunk: Some(order.trunk.as_str()).filter(|t| !t.is_empty()),
        })
        .map_err(|refusal| format!("refused: {}", refusal.reason))?;
    let caller_id = Some(order.caller_id.clone())
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

    if order.kind == DialKind::Outbound {
        let ring_ms = env.config.acd.default_ring_ms;
        contact.trail.push(crate::contacts::TrailEntry {
            at_ms: crate::time::now_ms(),
            node: "outbound".into(),
            detail: format!("ringing agent {}", order.agent),
        });
        tokio::select! {
            // Cancel-safe: a token; and a ring left unfinished stays in `legs`,
            // whose ringing the caller of `connect` cancels.
            _ = given_up.cancelled() => return Err(GIVEN_UP.into()),
            r = legs.ring_and_wait(env, &order.agent, Law::Ulaw, &order.number, ring_ms) => {
                r.map_err(|r| format!("agent {} did not answer: {r:?}", order.agent))?;
            }
        }
    }

    let (session, local) = super::media::called_leg(
        env,
        super::media::LegKind::Trunk(&grant.line().config),
        Law::Ulaw,
        super::media::trunk_ip(&grant.line().sip),
    )
    .map_err(|e| e.to_string())?;
    contact.trail.push(crate::contacts::TrailEntry {
        at_ms: crate::time::now_ms(),
        node: kind_name(&order.kind).into(),
        detail: format!(
            "dialling {} through trunk {}",
            grant.number(),
            grant.trunk().name
        ),
    });
    // The agent (already on the line for an outbound call) hears ringback, or the
    // far end's early media, until the number answers.
    let mut ringing = legs
        .answered_session(&order.agent)
        .map(super::ringing::Ringing::start);
    let mut outgoing = grant
        .dial(
            &env.endpoint,
            Some(caller_id.as_str()),
            sdp::offer(&local).to_bytes(),
        )
        .await
        .map_err(|e| e.to_string())?;
    contact.call_id = outgoing.call_id();

    let ring_until =
        Instant::now() + Duration::from_millis(order.ring_ms.clamp(1_000, 600_000) as u64);
    let mut cancelled = false;
    let mut gave_up = false;
    let agent = order.agent.clone();
    let answered = loop {
        // All branches are cancel-safe: channel receives and sleeps.
        tokio::select! {
            p = outgoing.next() => match p {
                CallProgress::Provisional(r) => {
                    if let Some(ringing) = ringing.as_mut()
                        && ringing.progress(&r, session.handle(), &local)
                    {
                        contact.trail.push(crate::contacts::TrailEntry {
                            at_ms: crate::time::now_ms(),
                            node: kind_name(&order.kind).into(),
                            detail: "early media".into(),
                        });
                    }
                }
                CallProgress::Answered(a) => break a,
                CallProgress::Rejected(r) => return Err(format!("rejected {}", r.status_code)),
                CallProgress::Cancelled | CallProgress::Timeout if gave_up => {
                    return Err(GIVEN_UP.into());
                }
                CallProgress::Cancelled | CallProgress::Timeout => return Err("no answer".into()),
            },
            _ = given_up.cancelled(), if !cancelled => {
                outgoing.cancel();
                cancelled = true;
                gave_up = true;
            }
            _ = tokio::time::sleep_until(ring_until), if !cancelled => {
                outgoing.cancel();
                cancelled = true;
            }
            ev = async {
                match legs.answered_events(&agent) {
                    Some(events) => events.recv().await,
                    None => std::future::pending().await,
                }
            } => match ev {
                Some(DialogEvent::Request(r)) if r.method() == Method::Bye => {
                    r.reply(200);
                    legs.forget(&agent);
                    outgoing.cancel();
                    return Err(format!("agent {agent} hung up"));
                }
                Some(DialogEvent::Request(r)) => r.reply(200),
                Some(_) => {}
                None => {
                    legs.forget(&agent);
                    outgoing.cancel();
                    return Err(format!("agent {agent} is gone"));
                }
            },
            _ = env.hangup_all.cancelled(), if !cancelled => {
                outgoing.cancel();
                cancelled = true;
            }
        }
    };
    if let Some(r) = ringing {
        r.stop();
    }
    Ok(connected(*answered, session, local, grant, contact))
}

impl Connected {
    /// The call task of an answered placed call, recording as configured, in
    /// the program's first language; with that language and the grant, which
    /// the caller holds until the call ends.
    pub(super) fn into_call(
        self,
        env: &Arc<CallEnv>,
        deployed: Arc<crate::deploy::Deployed>,
        mut contact: ContactRecord,
    ) -> (Call, String, Grant) {
        let language = deployed
            .program
            .ir()
            .languages
            .first()
            .cloned()
            .unwrap_or_else(|| "zh".into());
        contact.language = language.clone();
        let mut call = Call {
            env: env.clone(),
            deployed,
            dialog: self.dialog,
            events: self.events,
            media: self.session.handle().clone(),
            session: self.session,
            local: self.local,
            law: self.law,
            contact,
            asserted: None,
            trunk_group: self.trunk_group.clone(),
            keys: VecDeque::new(),
            late_terminator: None,
            recording_seq: 0,
            gone: None,
            // We placed this call: our own ACK confirmed it.
            awaiting_ack: false,
            silent_before_ack: false,
            on_agent: None,
            flow_tally: Default::default(),
        };
        call.record_whole_call();
        (call, language, self.grant)
    }
}

/// A trunk leg that answered: its media pointed at the far end's answer, the
/// answer time in the contact record, the grant told (talk time counts).
/// Shared by the calls the ACD places and the dialer's.
pub(super) fn connected(
    answered: dialect_sip::endpoint::Answered,
    session: RtpSession,
    local: LocalMedia,
    grant: Grant,
    contact: &mut ContactRecord,
) -> Connected {
    let dialect_sip::endpoint::Answered {
        dialog,
        events,
        response,
    } = answered;
    let mut law = Law::Ulaw;
    if let Ok(a) = SessionDescription::parse(&response.body)
        && let Ok(n) = sdp::read_answer(&a, &local)
    {
        session.handle().update_remote(remote_of(&n));
        law = law_of(n.codec);
    }
    contact.answered_ms = Some(crate::time::now_ms());
    grant.answered();
    Connected {
        dialog,
        events,
        session,
        local,
        law,
        trunk_group: grant
            .trunk()
            .group
            .clone()
            .unwrap_or_else(|| "local".into()),
        grant,
    }
}

/// Hands the answered call to the ACD and follows it to the end.
async fn follow(
    call: &mut Call,
    acd: &AcdHandle,
    order: &DialOrder,
    legs: AgentLegs,
    language: &str,
) -> End {
    let (tx, rx) = mpsc::channel(64);
    if acd.dial_answered(order.call, tx).await.is_err() {
        return End::Flow("the ACD has stopped".into());
    }
    call.trail(kind_name(&order.kind), format!("{} answered", order.number));
    let mut step = call
        .follow_acd(
            acd,
            order.call,
            rx,
            legs,
            kind_name(&order.kind).to_string(),
            Instant::now(),
            language,
            None,
        )
        .await;
    // Bounded: each REFER needs another message from the far end.
    for _ in 0..16 {
        match step {
            Ok(Step::Refer { target, by, how }) => {
                call.trail("transfer", format!("blind transfer to {target}"));
                step = call.blind_transfer(&target, &by, how).await;
            }
            Ok(Step::NewFlow(flow)) => {
                // The ACD moved the call to a flow (a queue's destination).
                call.contact.flow = flow.clone();
                let info = CallInfo {
                    caller: order.number.clone(),
                    called: call.contact.caller.clone(),
                    trunk: call.trunk_group.clone(),
                    args: Vec::new(),
                };
                return call.run_flow(&flow, info).await;
            }
            Ok(Step::Continue(Input::Failed(why))) => return End::Flow(why),
            Ok(Step::Continue(_)) => return End::Flow(format!("{} ended", kind_name(&order.kind))),
            Ok(Step::End(e)) | Err(e) => return e,
        }
    }
    End::Flow("too many transfers".into())
}
