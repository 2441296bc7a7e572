//! A bridged call: the caller with one or more agent-side legs (the agent, a
//! consulted agent, a supervisor), and the desktop actions the ACD sends while
//! they talk.
//!
//! [`Room`] holds the legs and whether the caller is on hold; after every change
//! [`Room::wire`] works out who hears whom and adds or drops one-way
//! [`MediaLink`]s to match (a session mixes every link into it, so three or more
//! parties need no separate mixer). The rules:
//!
//! - the *conversation* is the caller, the agents (`Role::Party`) and barging
//!   supervisors; while the caller is on hold it is the agents, the consulted agent
//!   and barging supervisors, and the caller hears the queue's music (or silence);
//! - every member of the conversation hears every other member;
//! - a listening supervisor hears the conversation and speaks to nobody; a
//!   whispering one also speaks to the agents.
//!
//! [`Call::bridge_leg`] puts a first answered leg in a room and runs it until the
//! call ends. With an ACD channel it carries out [`AcdToCall`] messages: `Hold` and
//! `Resume`; `Consult` (rings the consulted agent with `ring_agent` and reports the
//! outcome with `offer_result`), `ConsultEnd`, `CompleteTransfer`, `Conference`;
//! `ReleaseAgent`; `TransferNumber` (the room ends, the caller goes on through a
//! trunk); `Monitor` in each mode, `TakeOver`, `MonitorEnd`; `SendDigits` (keys
//! from the desk, sent to the caller as RFC 4733 events); `HangUp` and `Data`.
//! A REFER from the agent's phone (blind transfer) must carry the agent's digest
//! credentials: it is challenged and carried out only on a verified retry.
//! Legs that hang up by themselves are reported to the ACD: a consulted agent or a
//! conference member with `agent_left` (the others go on), the last agent with the
//! end of the call (the caller is released). When the ACD releases the last agent
//! to put the caller back in a queue, the room ends with [`RoomExit::Requeued`]
//! and the queue loop goes on waiting.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rsip::Method;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::leg::LegOutcome;
use super::{Call, End, Event, Step, remote_of, user_part};
use crate::acd::AcdHandle;
use crate::outbound::{AgentRequest, Origin};
use dialect_acd::{AcdToCall, CallId, MonitorMode, OfferResult};
use dialect_media::{MediaLink, Prompt, RtpSession, SessionHandle, link};
use dialect_sip::auth::ChallengeKind;
use dialect_sip::dialog::Dialog;
use dialect_sip::endpoint::{Answered, DialogEvent, DialogEvents, IncomingRequest};
use dialect_sip::sdp::{self, LocalMedia, SessionDescription};

/// How long a consulted agent's or a supervisor's phone may ring (the ACD has its
/// own, usually shorter, limit for consultations).
const RING_MS: i64 = 60_000;

/// How long each key an agent sends from the desk lasts (RFC 4733 event
/// duration); with the gap the session leaves between keys, long enough for
/// any IVR's detector and short enough that 32 keys take about 5 s.
const SENT_KEY_DURATION: Duration = Duration::from_millis(100);

/// What a leg is in the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// An agent talking with the caller (several in a conference).
    Party,
    /// An agent consulted while the caller is on hold.
    Consulted,
    /// A supervisor monitoring the call.
    Monitor(MonitorMode),
}

/// One agent-side leg.
struct RoomLeg {
    /// The agent id or the supervisor's phone.
    name: Arc<str>,
    role: Role,
    rtp: RtpSession,
    local: LocalMedia,
    /// Cancels the ringing task, later the task forwarding the leg's dialog events.
    cancel: CancellationToken,
    /// Set once the leg answered.
    dialog: Option<Dialog>,
    /// Tells this leg's forwarded events apart from an earlier leg of the same name.
    seq: u64,
}

impl Drop for RoomLeg {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The ACD side of a bridged queue call.
pub(super) struct AcdLink<'a> {
    /// The ACD.
    pub(super) handle: &'a AcdHandle,
    /// The call's id in the ACD.
    pub(super) call: CallId,
    /// The ACD's messages for this call.
    pub(super) rx: &'a mut mpsc::Receiver<AcdToCall>,
    /// The queue's music, played to the caller on hold.
    pub(super) music: Option<Arc<Prompt>>,
}

/// How a room ended.
pub(super) enum RoomExit {
    /// The call is over or goes on in the flow.
    Done(Result<Step, End>),
    /// The ACD released every agent and keeps the call (a transfer to a queue or
    /// an agent): go back to waiting for its messages.
    Requeued,
    /// The ACD transferred the caller to an outside number (blind).
    TransferNumber {
        /// The number as the agent gave it; it is dialled as the agent's transfer,
        /// under the outbound-call policy.
        number: String,
        /// The agent who transferred the call.
        agent: String,
    },
}

/// The legs of a bridged call and the media links between them.
pub(super) struct Room {
    legs: Vec<RoomLeg>,
    /// The caller is on hold (music, agents not hearing the caller).
    held: bool,
    links: HashMap<(u16, u16), MediaLink>,
    next_seq: u64,
}

impl Room {
    fn new() -> Room {
        Room {
            legs: Vec::new(),
            held: false,
            links: HashMap::new(),
            next_seq: 1,
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.legs.iter().position(|l| &*l.name == name)
    }

    fn answered_parties(&self) -> usize {
        self.legs
            .iter()
            .filter(|l| l.role == Role::Party && l.dialog.is_some())
            .count()
    }

    /// Adds or drops media links so that everyone hears what the rules say.
    fn wire(&mut self, caller: &SessionHandle) {
        let mut handles: HashMap<u16, &SessionHandle> = HashMap::new();
        handles.insert(caller.local_addr().port(), caller);
        let mut legs = Vec::new();
        for l in self.legs.iter().filter(|l| l.dialog.is_some()) {
            let h = l.rtp.handle();
            handles.insert(h.local_addr().port(), h);
            legs.push((h.local_addr().port(), l.role));
        }
        let wanted = hearing(caller.local_addr().port(), self.held, &legs);
        self.links.retain(|k, _| wanted.contains(k));
        for (from, to) in wanted {
            if let (Some(a), Some(b)) = (handles.get(&from), handles.get(&to)) {
                self.links.entry((from, to)).or_insert_with(|| link(a, b));
            }
        }
    }
}

/// Who hears whom, as `(from, to)` pairs of RTP ports: `caller` is the caller's
/// port, `legs` the answered legs. See the module documentation for the rules.
fn hearing(caller: u16, held: bool, legs: &[(u16, Role)]) -> HashSet<(u16, u16)> {
    let mut members = Vec::new();
    if !held {
        members.push(caller);
    }
    for (port, role) in legs {
        let member = match role {
            Role::Party | Role::Monitor(MonitorMode::Barge) => true,
            Role::Consulted => held,
            Role::Monitor(_) => false,
        };
        if member {
            members.push(*port);
        }
    }
    let mut want = HashSet::new();
    for a in &members {
        for b in &members {
            if a != b {
                want.insert((*a, *b));
            }
        }
    }
    for (sup, role) in legs {
        let Role::Monitor(mode @ (MonitorMode::Listen | MonitorMode::Whisper)) = role else {
            continue;
        };
        for m in &members {
            want.insert((*m, *sup));
        }
        if *mode == MonitorMode::Whisper {
            for (p, _) in legs.iter().filter(|(_, r)| *r == Role::Party) {
                want.insert((*sup, *p));
            }
        }
    }
    want
}

/// A leg's dialog event (`None`: the dialog is gone), with the leg's name and
/// sequence number.
type LegEvent = (Arc<str>, u64, Option<DialogEvent>);

/// Where the room receives its legs' dialog events.
type LegEvents = mpsc::Receiver<LegEvent>;

/// Forwards a leg's dialog events to the room until the leg is dropped; `None`
/// says the dialog is gone.
fn forward(
    name: Arc<str>,
    seq: u64,
    mut events: DialogEvents,
    cancel: CancellationToken,
    to: mpsc::Sender<LegEvent>,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                // Both cancel-safe: a token and a channel receive.
                _ = cancel.cancelled() => return,
                ev = events.recv() => {
                    let end = ev.is_none();
                    if to.send((name.clone(), seq, ev)).await.is_err() || end {
                        return;
                    }
                }
            }
        }
    });
}

impl Call {
    /// Bridges an answered leg with the caller until the call ends, carrying out
    /// the ACD's desktop actions when `acd` is given.
    pub(super) async fn bridge_leg(
        &mut self,
        answered: Answered,
        leg: RtpSession,
        local: &LocalMedia,
        what: String,
        acd: Option<AcdLink<'_>>,
    ) -> RoomExit {
        let name: Arc<str> = self.contact.agent.as_deref().unwrap_or("far end").into();
        let mut room = Room::new();
        let (ev_tx, mut ev_rx) = mpsc::channel(32);
        let (ring_tx, mut ring_rx) = mpsc::channel::<(Arc<str>, LegOutcome)>(16);
        let first = RoomLeg {
            name,
            role: Role::Party,
            rtp: leg,
            local: local.clone(),
            cancel: CancellationToken::new(),
            dialog: None,
            seq: 0,
        };
        room.legs.push(first);
        self.leg_answered(&mut room, 0, answered, &ev_tx);
        let connected = Instant::now();
        self.trail(&what, "answered, bridged".into());
        room.wire(&self.media);
        let mut acd = acd;
        let exit = loop {
            tokio::select! {
                // All branches are cancel-safe: channel receives and a token.
                ev = self.events.recv() => match ev {
                    Some(e) => {
                        if let Some(Event::Gone(end)) = self.dialog_event(e).await {
                            break RoomExit::Done(Err(end));
                        }
                    }
                    None => break RoomExit::Done(Err(End::Lost("dialog closed".into()))),
                },
                ev = ev_rx.recv() => {
                    let Some(ev) = ev else { continue };
                    if let Some(exit) = self.leg_event(&mut room, &acd, &what, ev, &mut ev_rx).await {
                        break exit;
                    }
                }
                r = ring_rx.recv() => {
                    let Some((name, outcome)) = r else { continue };
                    self.ring_outcome(&mut room, &acd, name, outcome, &ev_tx).await;
                }
                _ = self.env.hangup_all.cancelled() => {
                    break RoomExit::Done(Err(End::Flow("hangup at shutdown".into())));
                }
                m = async {
                    match acd.as_mut() {
                        Some(a) => a.rx.recv().await,
                        None => std::future::pending().await,
                    }
                } => match m {
                    Some(m) => {
                        if let Some(exit) = self.acd_message(&mut room, &acd, &what, m, &ring_tx).await {
                            break exit;
                        }
                    }
                    None => acd = None,
                },
            }
        };
        if room.held {
            self.media.stop_moh();
        }
        room.links.clear();
        for l in room.legs.drain(..) {
            self.release_leg(l);
        }
        let talk = connected.elapsed().as_millis() as i64;
        self.contact.talk_ms = Some(self.contact.talk_ms.unwrap_or(0) + talk);
        exit
    }

    /// Takes an answered leg into the room: its SDP answer, its dialog events.
    fn leg_answered(
        &mut self,
        room: &mut Room,
        at: usize,
        answered: Answered,
        events: &mpsc::Sender<LegEvent>,
    ) {
        let Answered {
            dialog,
            events: dialog_events,
            response,
        } = answered;
        let seq = room.next_seq;
        room.next_seq += 1;
        let leg = &mut room.legs[at];
        if let Ok(a) = SessionDescription::parse(&response.body)
            && let Ok(n) = sdp::read_answer(&a, &leg.local)
        {
            leg.rtp.handle().update_remote(remote_of(&n));
        }
        leg.cancel = CancellationToken::new();
        leg.seq = seq;
        leg.dialog = Some(dialog);
        forward(
            leg.name.clone(),
            seq,
            dialog_events,
            leg.cancel.clone(),
            events.clone(),
        );
    }

    /// Hangs a leg up (BYE when it answered, else the ringing is cancelled); its
    /// media closes when it is dropped.
    fn release_leg(&mut self, mut leg: RoomLeg) {
        leg.cancel.cancel();
        if let Some(mut dialog) = leg.dialog.take() {
            let endpoint = self.env.endpoint.clone();
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(10), endpoint.bye(&mut dialog)).await;
            });
        }
    }

    /// Removes and hangs up the leg called `name`, if there is one.
    fn drop_leg(&mut self, room: &mut Room, name: &str) -> Option<Role> {
        let at = room.position(name)?;
        let leg = room.legs.remove(at);
        let role = leg.role;
        self.release_leg(leg);
        Some(role)
    }

    /// Rings `name`'s registered phone and adds it to the room in `role`.
    fn ring_into(
        &mut self,
        room: &mut Room,
        name: &Arc<str>,
        role: Role,
        report: &mpsc::Sender<(Arc<str>, LegOutcome)>,
    ) -> bool {
        if room.position(name).is_some() {
            self.drop_leg(room, name);
        }
        let Some(leg) = self.ring_agent(name, RING_MS, false, report) else {
            return false;
        };
        room.legs.push(RoomLeg {
            name: name.clone(),
            role,
            rtp: leg.rtp,
            local: leg.local,
            cancel: leg.cancel,
            dialog: None,
            seq: 0,
        });
        true
    }

    fn hold(&mut self, room: &mut Room, music: Option<&Arc<Prompt>>) {
        if !room.held {
            room.held = true;
            if let Some(m) = music {
                self.media.start_moh(m.clone());
            }
        }
    }

    fn resume(&mut self, room: &mut Room) {
        if room.held {
            room.held = false;
            self.media.stop_moh();
        }
    }

    /// Carries out one ACD message; `Some` ends the room.
    async fn acd_message(
        &mut self,
        room: &mut Room,
        acd: &Option<AcdLink<'_>>,
        what: &str,
        msg: AcdToCall,
        ring: &mpsc::Sender<(Arc<str>, LegOutcome)>,
    ) -> Option<RoomExit> {
        let music = acd.as_ref().and_then(|a| a.music.clone());
        match msg {
            AcdToCall::Hold => {
                self.trail(what, "caller on hold".into());
                self.hold(room, music.as_ref());
            }
            AcdToCall::Resume => {
                self.trail(what, "caller off hold".into());
                self.resume(room);
            }
            AcdToCall::ReleaseAgent { agent } => {
                self.trail(what, format!("agent {agent} released"));
                self.drop_leg(room, &agent);
                if !room.legs.iter().any(|l| l.role == Role::Party) {
                    return Some(RoomExit::Requeued);
                }
            }
            AcdToCall::HangUp => {
                return Some(RoomExit::Done(Err(End::Flow(
                    "hung up from the agent desktop".into(),
                ))));
            }
            AcdToCall::Consult { agent, .. } => {
                self.trail(what, format!("consulting agent {agent}"));
                self.hold(room, music.as_ref());
                if !self.ring_into(room, &agent, Role::Consulted, ring)
                    && let Some(a) = acd
                {
                    let _ = a
                        .handle
                        .offer_result(a.call, &agent, OfferResult::Unregistered)
                        .await;
                }
            }
            AcdToCall::ConsultEnd { agent } => {
                self.trail(what, format!("consultation with {agent} ended"));
                self.drop_leg(room, &agent);
                self.resume(room);
            }
            AcdToCall::CompleteTransfer { from, to } => {
                self.trail(what, format!("transferred from agent {from} to agent {to}"));
                self.drop_leg(room, &from);
                if let Some(at) = room.position(&to) {
                    room.legs[at].role = Role::Party;
                }
                self.contact.agent = Some(to.to_string());
                self.resume(room);
            }
            AcdToCall::Conference { agents } => {
                let names: Vec<&str> = agents.iter().map(|a| &**a).collect();
                self.trail(what, format!("conference of {}", names.join(", ")));
                for l in room.legs.iter_mut() {
                    if names.contains(&&*l.name) {
                        l.role = Role::Party;
                    }
                }
                self.resume(room);
            }
            AcdToCall::TransferNumber { number, agent } => {
                self.trail(what, format!("transferred to {number}"));
                return Some(RoomExit::TransferNumber { number, agent });
            }
            AcdToCall::Monitor { phone, mode } => {
                self.trail(what, format!("supervisor {phone}: {mode:?}"));
                let phone: Arc<str> = phone.into();
                match room.position(&phone) {
                    Some(at) if matches!(room.legs[at].role, Role::Monitor(_)) => {
                        room.legs[at].role = Role::Monitor(mode);
                    }
                    _ => {
                        if !self.ring_into(room, &phone, Role::Monitor(mode), ring) {
                            self.trail(what, format!("supervisor {phone} is not registered"));
                        }
                    }
                }
            }
            AcdToCall::TakeOver { phone, agent } => {
                self.trail(
                    what,
                    format!("supervisor {phone} takes over from agent {agent}"),
                );
                self.drop_leg(room, &agent);
                let phone: Arc<str> = phone.into();
                match room.position(&phone) {
                    Some(at) => room.legs[at].role = Role::Party,
                    None => {
                        if !self.ring_into(room, &phone, Role::Party, ring) {
                            self.trail(what, format!("supervisor {phone} is not registered"));
                            return Some(RoomExit::Done(Err(End::Flow(format!(
                                "take over by {phone} failed"
                            )))));
                        }
                    }
                }
                self.contact.agent = Some(phone.to_string());
                self.resume(room);
            }
            AcdToCall::MonitorEnd { phone } => {
                self.trail(what, format!("supervisor {phone} left"));
                if let Some(at) = room.position(&phone)
                    && matches!(room.legs[at].role, Role::Monitor(_))
                {
                    self.drop_leg(room, &phone);
                }
            }
            AcdToCall::Data { data } => {
                for (k, v) in data {
                    self.contact
                        .data
                        .insert(k, serde_json::to_value(v).unwrap_or_default());
                }
            }
            AcdToCall::SendDigits { digits, agent } => {
                // The keys themselves stay out of the trail: they may be a PIN
                // or an account number.
                self.trail(
                    what,
                    format!("agent {agent} sent keys ({})", digits.chars().count()),
                );
                self.media.send_digits(&digits, SENT_KEY_DURATION);
            }
            AcdToCall::Answer { .. } => {}
            other => {
                self.trail(what, format!("not carried out while bridged: {other:?}"));
            }
        }
        room.wire(&self.media);
        None
    }

    /// A ringing leg answered or failed.
    async fn ring_outcome(
        &mut self,
        room: &mut Room,
        acd: &Option<AcdLink<'_>>,
        name: Arc<str>,
        outcome: LegOutcome,
        events: &mpsc::Sender<LegEvent>,
    ) {
        let ringing = room
            .legs
            .iter()
            .position(|l| l.name == name && l.dialog.is_none());
        match (outcome, ringing) {
            (LegOutcome::Answered(a), Some(at)) => {
                let role = room.legs[at].role;
                self.leg_answered(room, at, *a, events);
                self.trail("bridge", format!("{name} answered ({role:?})"));
                if role == Role::Consulted
                    && let Some(acd) = acd
                {
                    let _ = acd
                        .handle
                        .offer_result(acd.call, &name, OfferResult::Answered)
                        .await;
                }
            }
            (LegOutcome::Answered(mut a), None) => {
                // Withdrawn while it answered: hang that leg up.
                let _ = self.env.endpoint.bye(&mut a.dialog).await;
            }
            (LegOutcome::Failed(result), Some(at)) => {
                let leg = room.legs.remove(at);
                self.trail("bridge", format!("{name}: {result:?}"));
                if leg.role == Role::Consulted
                    && let Some(acd) = acd
                {
                    let _ = acd.handle.offer_result(acd.call, &name, result).await;
                }
            }
            (LegOutcome::Failed(_), None) => {}
        }
        room.wire(&self.media);
    }

    /// Something happened in a leg's dialog; `Some` ends the room.
    async fn leg_event(
        &mut self,
        room: &mut Room,
        acd: &Option<AcdLink<'_>>,
        what: &str,
        (name, seq, ev): LegEvent,
        events: &mut LegEvents,
    ) -> Option<RoomExit> {
        let at = room
            .legs
            .iter()
            .position(|l| l.name == name && l.seq == seq)?;
        let request = match ev {
            Some(DialogEvent::Request(r)) => Some(r),
            Some(_) => return None,
            None => None,
        };
        if let Some(r) = request {
            match r.method() {
                Method::Bye => r.reply(200),
                Method::Refer if room.legs[at].role == Role::Party && room.legs.len() == 1 => {
                    let agent = room.legs[at].name.clone();
                    if !self.comes_from_agent(&agent, &r) {
                        // Challenged or refused: the call goes on as it was.
                        return None;
                    }
                    return self.refer(room, r, events, what).await;
                }
                _ => {
                    r.reply(200);
                    return None;
                }
            }
        }
        // The leg hung up.
        let mut leg = room.legs.remove(at);
        leg.dialog = None;
        let role = leg.role;
        drop(leg);
        self.trail(what, format!("{name} hung up"));
        match role {
            Role::Party if room.answered_parties() == 0 => {
                return Some(RoomExit::Done(Err(End::Transferred(format!(
                    "{what}: far end hung up"
                )))));
            }
            Role::Party | Role::Consulted => {
                if let Some(a) = acd {
                    let _ = a.handle.agent_left(a.call, &name).await;
                }
                if role == Role::Consulted {
                    self.resume(room);
                }
            }
            Role::Monitor(_) => {}
        }
        room.wire(&self.media);
        None
    }

    /// Whether in-dialog request `r` really comes from `agent`'s phone: it must
    /// carry that agent's digest credentials, challenged with 401 first (RFC 3261
    /// section 22.1 lets a UAS challenge any request but ACK and CANCEL; a phone
    /// answers by repeating the request with the next CSeq). Knowing a dialog's
    /// Call-ID and tags is not enough to act for an agent. Without a registrar
    /// nobody can prove anything, and the request is refused. Otherwise `r` has
    /// been answered (401, 400 or 403) when this returns false.
    fn comes_from_agent(&self, agent: &str, r: &IncomingRequest) -> bool {
        let Some(registrar) = &self.env.registrar else {
            r.reply(403);
            return false;
        };
        registrar
            .authenticator()
            .authenticate(r, agent, ChallengeKind::Www)
            .is_some()
    }

    /// Blind transfer by the only agent (RFC 3515): accept, release it, and send
    /// the caller on. The REFER has been authenticated ([`Call::comes_from_agent`]).
    /// A target the agent may not call (the outbound-call policy) gets 403 and
    /// the call goes on as it was (`None`).
    async fn refer(
        &mut self,
        room: &mut Room,
        r: IncomingRequest,
        events: &mut LegEvents,
        what: &str,
    ) -> Option<RoomExit> {
        let target = dialect_sip::message::header_value(&r.request.headers, "Refer-To")
            .map(|t| user_part(&t))
            .unwrap_or_default();
        if target.is_empty() {
            r.reply(400);
            return Some(RoomExit::Done(Err(End::Lost(
                "REFER without a target".into(),
            ))));
        }
        let by: Arc<str> = room
            .legs
            .first()
            .map(|l| l.name.clone())
            .unwrap_or_else(|| "".into());
        if !self.reaches_inside(&target) {
            let origin = Origin::Agent {
                id: by.to_string(),
                how: AgentRequest::Refer,
            };
            if let Err(refusal) = self.env.outbound.permits(&origin, &target) {
                // The transfer is refused; the call goes on as it was.
                self.trail(what, format!("REFER refused: {refusal}"));
                r.reply(403);
                return None;
            }
        }
        r.reply(202);
        // The transferor normally hangs up now; if it does not within 2 s, it is
        // released (BYE) with the rest of the room.
        let Some((name, seq)) = room.legs.first().map(|l| (l.name.clone(), l.seq)) else {
            return Some(RoomExit::Done(Ok(Step::Refer {
                target,
                by,
                how: AgentRequest::Refer,
            })));
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some((n, s, ev)) = events.recv().await {
                if n != name || s != seq {
                    continue;
                }
                match ev {
                    Some(DialogEvent::Request(b)) if b.method() == Method::Bye => {
                        b.reply(200);
                        break;
                    }
                    Some(DialogEvent::Request(other)) => other.reply(200),
                    Some(_) => {}
                    None => break,
                }
            }
            if let Some(l) = room.legs.first_mut() {
                l.dialog = None;
            }
        })
        .await;
        Some(RoomExit::Done(Ok(Step::Refer {
            target,
            by,
            how: AgentRequest::Refer,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: u16 = 1;
    const AGENT: u16 = 2;
    const OTHER: u16 = 3;
    const SUP: u16 = 4;

    fn pairs(held: bool, legs: &[(u16, Role)]) -> Vec<(u16, u16)> {
        let mut v: Vec<_> = hearing(CALLER, held, legs).into_iter().collect();
        v.sort();
        v
    }

    #[test]
    fn caller_and_agent_hear_each_other() {
        assert_eq!(
            pairs(false, &[(AGENT, Role::Party)]),
            [(CALLER, AGENT), (AGENT, CALLER)]
        );
    }

    #[test]
    fn on_hold_nobody_hears_the_caller() {
        assert_eq!(pairs(true, &[(AGENT, Role::Party)]), []);
    }

    #[test]
    fn a_consultation_is_between_the_agents_only() {
        assert_eq!(
            pairs(true, &[(AGENT, Role::Party), (OTHER, Role::Consulted)]),
            [(AGENT, OTHER), (OTHER, AGENT)]
        );
        // Off hold (the consultation is over), a consulted leg hears nothing.
        assert_eq!(
            pairs(false, &[(AGENT, Role::Party), (OTHER, Role::Consulted)]),
            [(CALLER, AGENT), (AGENT, CALLER)]
        );
    }

    #[test]
    fn in_a_conference_everyone_hears_the_other_two() {
        assert_eq!(
            pairs(false, &[(AGENT, Role::Party), (OTHER, Role::Party)]),
            [
                (CALLER, AGENT),
                (CALLER, OTHER),
                (AGENT, CALLER),
                (AGENT, OTHER),
                (OTHER, CALLER),
                (OTHER, AGENT)
            ]
        );
    }

    #[test]
    fn a_listening_supervisor_hears_both_and_speaks_to_nobody() {
        let legs = [
            (AGENT, Role::Party),
            (SUP, Role::Monitor(MonitorMode::Listen)),
        ];
        assert_eq!(
            pairs(false, &legs),
            [
                (CALLER, AGENT),
                (CALLER, SUP),
                (AGENT, CALLER),
                (AGENT, SUP)
            ]
        );
    }

    #[test]
    fn a_whispering_supervisor_speaks_to_the_agent_only() {
        let legs = [
            (AGENT, Role::Party),
            (SUP, Role::Monitor(MonitorMode::Whisper)),
        ];
        assert_eq!(
            pairs(false, &legs),
            [
                (CALLER, AGENT),
                (CALLER, SUP),
                (AGENT, CALLER),
                (AGENT, SUP),
                (SUP, AGENT)
            ]
        );
    }

    #[test]
    fn a_barging_supervisor_is_in_the_conversation() {
        let legs = [
            (AGENT, Role::Party),
            (SUP, Role::Monitor(MonitorMode::Barge)),
        ];
        assert_eq!(
            pairs(false, &legs),
            [
                (CALLER, AGENT),
                (CALLER, SUP),
                (AGENT, CALLER),
                (AGENT, SUP),
                (SUP, CALLER),
                (SUP, AGENT)
            ]
        );
    }
}
