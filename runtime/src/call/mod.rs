//! Calls: one tokio task per call runs the compiled flow against real SIP and RTP.
//!
//! [`CallEnv`] is what every call shares (the SIP endpoint, RTP ports, the deployed
//! program, speech, storage, limits). [`accept`] decides whether a new INVITE may
//! become a call (limits, shutdown: 503 with Retry-After), and [`run`] is the call
//! task: SDP offer/answer (488 when nothing matches), the RTP session, the flow
//! loop (each [`Command`] carried out against media, HTTP, the registrar and
//! trunks, each result fed back as an [`Input`]), the in-dialog requests (BYE,
//! INFO with DTMF, re-INVITE, REFER from a bridged agent), the contact record with
//! its IVR trail.
//!
//! # Layout
//! - `mod.rs`: the environment, admission, the call task and the flow loop.
//! - `input.rs`: menus and digit collection (keys, time-outs, speech).
//! - `lookup.rs`: lookups to external services over HTTP/JSON.
//! - `queue.rs`: `transfer queue`: waiting in the ACD with music and
//!   announcements, ringing the agent it picks; the same loop follows the
//!   calls the ACD places.
//! - `bridged.rs`: a bridged call (the caller with an agent, consulted agents,
//!   supervisors) and the ACD's desktop actions during it: hold, consultation,
//!   transfer, conference, monitoring.
//! - `dialled.rs`: calls the ACD places itself (callbacks, agents' outbound
//!   calls): dialled through a trunk, then handed to the ACD.
//! - `ringing.rs`: the ringback tone (or the far end's early media) a connected
//!   party hears while an outgoing leg rings for it.
//! - `speech.rs`: prompt files and text to speech.
//! - `progress.rs`: [`CallEvents`], each call's prompts, trail steps and end
//!   as they happen, for live listeners.
//! - `media.rs`: each leg's latching and SRTP settings, by kind of leg.
//!
//! Why this file stays long: it is one `impl Call`, the IVR's step loop and the
//! statements it executes (play, say, menus, collect, transfers, recordings),
//! which share the call's state and wait on the same events; every phase with
//! a life of its own (bridged, queued, dialled, input, speech, lookups) is
//! already in the files above.

mod attach;
mod bridged;
pub mod campaign;
pub mod dialled;
mod input;
mod leg;
mod lookup;
mod media;
pub mod progress;
mod queue;
pub mod ringing;
pub mod speech;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dialect_compiler::exec::{Command, Input, Prompt as FlowPrompt, Transfer};
use dialect_compiler::value::Value;
use dialect_compiler::{CallInfo, FlowInstance};
use rsip::Method;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::contacts::{self, ContactRecord, TrailEntry};
use crate::deploy::{Deployed, ProgramSlot};
use crate::flowstats::{FlowTally, Outcome, StepKind};
use crate::outbound::{AgentRequest, Origin};
use crate::stats::Stats;
use crate::store::SharedStore;
use dialect_media::dtmf::{KeySet, parse_sip_info};
use dialect_media::g711::Law;
use dialect_media::{
    MediaEvent, PlayOptions, PlaybackId, PortAllocator, RecordMode, RecordOptions, RemoteMedia,
    RtpSession, SessionHandle,
};
use dialect_sip::SipEndpoint;
use dialect_sip::dialog::Dialog;
use dialect_sip::endpoint::{CallProgress, DialogEvent, DialogEvents, IncomingRequest};
use dialect_sip::registrar::Registrar;
use dialect_sip::sdp::{self, Codec, LocalMedia, Negotiated, SessionDescription};

pub use lookup::OwnApi;
pub use progress::{CallEvent, CallEventKind, CallEvents};
pub use speech::Speaker;

/// What every call shares.
pub struct CallEnv {
    /// The SIP endpoint every call's dialogs and outgoing legs use.
    pub endpoint: SipEndpoint,
    /// RTP ports from `rtp.ports`; each media leg holds a lease.
    pub ports: PortAllocator,
    /// The program slot: a call takes the current program when it arrives and
    /// keeps it to the end, whatever is deployed meanwhile.
    pub program: Arc<ProgramSlot>,
    /// The store; each call writes its contact record there.
    pub store: SharedStore,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Where each call's statistics per flow go when it ends.
    pub flow_stats: crate::flowstats::FlowStatsSink,
    /// Text to speech.
    pub speaker: Speaker,
    /// Speech recognition, when configured.
    pub asr: Option<Arc<dyn dialect_speech::asr::Asr>>,
    /// The configuration as loaded at start.
    pub config: Arc<Config>,
    /// HTTP client for lookups.
    pub http: reqwest::Client,
    /// The registrar (agent phones), for transfers to agents.
    pub registrar: Option<Registrar>,
    /// The outbound-call policy: the carrier trunks and the only way to dial
    /// through them.
    pub outbound: Arc<crate::outbound::OutboundPolicy>,
    /// Where recordings go.
    pub recordings: PathBuf,
    /// The IP in our SDP.
    pub media_ip: IpAddr,
    /// Admission control: concurrent calls and new calls a second.
    pub limiter: Limiter,
    /// Cancelled at shutdown: new calls are refused, calls in progress get a grace period.
    pub shutdown: CancellationToken,
    /// Cancelled when the grace period is over: remaining calls are hung up.
    pub hangup_all: CancellationToken,
    /// The workorder engine, for `create workorder` in flows.
    pub workorders: Option<Arc<dyn crate::workorder::WorkorderSink>>,
    /// Which menu phrases the speech recognizer knows (checked once per phrase).
    pub asr_phrases: std::sync::Mutex<std::collections::HashMap<String, bool>>,
    /// The ACD, for `transfer queue`.
    pub acd: Option<crate::acd::AcdHandle>,
    /// Live events of every call, for `GET /api/v1/calls/events`.
    pub events: CallEvents,
    /// This server's own API, whose token lookups to it carry (the IVR's
    /// progress inquiry reads order summaries there).
    pub own_api: Option<OwnApi>,
}

/// Admission control: concurrent calls and calls per second (REQUIREMENTS S4).
pub struct Limiter {
    calls: Arc<Semaphore>,
    rate: crate::time::RateBucket,
}

impl Limiter {
    /// At most `max_calls` at once and `per_second` new ones a second.
    pub fn new(max_calls: usize, per_second: u32) -> Limiter {
        Limiter {
            calls: Arc::new(Semaphore::new(max_calls.max(1))),
            rate: crate::time::RateBucket::new(per_second),
        }
    }

    /// A permit for a new call, or `None` when a limit is reached.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if !self.rate.take() {
            return None;
        }
        self.calls.clone().try_acquire_owned().ok()
    }

    /// Calls in progress can still be admitted this many more.
    pub fn available(&self) -> usize {
        self.calls.available_permits()
    }
}

/// Admits or refuses a new INVITE; on admission the call task runs it, holding
/// `source_slot` (its place under the per-source limits) until it ends.
pub fn accept(
    env: &Arc<CallEnv>,
    req: IncomingRequest,
    tracker: &tokio_util::task::TaskTracker,
    source_slot: Option<crate::admission::SourceSlot>,
) {
    if env.shutdown.is_cancelled() {
        refuse(env, req, "shutting down");
        return;
    }
    if let Some(why) = env.stats.load.get().and_then(|l| l.refusal()) {
        env.stats
            .calls_refused_overload
            .fetch_add(1, Ordering::Relaxed);
        refuse(env, req, why);
        return;
    }
    let Some(permit) = env.limiter.admit() else {
        refuse(env, req, "too many calls");
        return;
    };
    env.stats.calls_total.fetch_add(1, Ordering::Relaxed);
    let env = env.clone();
    tracker.spawn(async move {
        env.stats.calls_active.fetch_add(1, Ordering::Relaxed);
        run(env.clone(), req).await;
        env.stats.calls_active.fetch_sub(1, Ordering::Relaxed);
        drop(permit);
        drop(source_slot);
    });
}

fn refuse(env: &CallEnv, req: IncomingRequest, why: &str) {
    env.stats.calls_refused.fetch_add(1, Ordering::Relaxed);
    let mut r = req.response(503);
    r.headers
        .push(rsip::Header::Other("Retry-After".into(), "5".into()));
    r.headers.push(rsip::Header::Other(
        "Reason".into(),
        format!("Q.850;cause=34;text=\"{why}\""),
    ));
    req.respond(r);
}

/// The user part of a SIP URI or name-addr (`"x" <sip:10000@host>` → `10000`).
pub fn user_part(s: &str) -> String {
    let s = s.split('<').nth(1).unwrap_or(s);
    let s = s
        .trim_start_matches("sip:")
        .trim_start_matches("sips:")
        .trim_start_matches("tel:");
    let user = s.split(['@', '>', ';']).next().unwrap_or("");
    user.trim().to_string()
}

/// The caller's number as trunk traffic asserts it: the user part of
/// P-Asserted-Identity (RFC 3325) or of From, as the trunk is configured.
fn asserted_number(
    request: &rsip::Request,
    mode: crate::config::AssertedIdentity,
) -> Option<String> {
    let header = match mode {
        crate::config::AssertedIdentity::Pai => "P-Asserted-Identity",
        crate::config::AssertedIdentity::From => "From",
        crate::config::AssertedIdentity::None => return None,
    };
    dialect_sip::message::header_value(&request.headers, header)
        .map(|v| user_part(&v))
        .filter(|n| !n.is_empty())
}

/// How a call ended, for the contact record.
#[derive(Debug, Clone, PartialEq)]
enum End {
    /// The caller hung up (BYE or CANCEL).
    CallerHungUp,
    /// The flow hung up or ended.
    Flow(String),
    /// The call was transferred (the string says where).
    Transferred(String),
    /// The media or signalling failed.
    Lost(String),
}

impl End {
    fn text(&self) -> String {
        match self {
            End::CallerHungUp => "hangup by caller".into(),
            End::Flow(s) => s.clone(),
            End::Transferred(s) => s.clone(),
            End::Lost(s) => format!("lost: {s}"),
        }
    }
}

/// What a call task waits for.
#[derive(Debug)]
enum Event {
    Key(char),
    Played(PlaybackId, bool),
    Recorded(PathBuf, Duration),
    Gone(End),
}

/// One answered call.
struct Call {
    env: Arc<CallEnv>,
    deployed: Arc<Deployed>,
    dialog: Dialog,
    events: DialogEvents,
    session: RtpSession,
    media: SessionHandle,
    local: LocalMedia,
    law: Law,
    contact: ContactRecord,
    /// The caller's number as a trusted trunk asserted it (P-Asserted-Identity,
    /// or From where the trunk says so); `None` for calls from anywhere else.
    /// Only this number, or one the caller entered and the flow accepted, is
    /// ever called back.
    asserted: Option<String>,
    /// The group of the trunk the call came in on or went out through
    /// (`long_distance` ...): what queue priorities and statistics by trunk
    /// read, where the contact record keeps the trunk's own name.
    trunk_group: String,
    /// Keys pressed while nothing was asking for them (type-ahead).
    keys: VecDeque<char>,
    /// A collect that ended on its `max` digits: its terminator, pressed after
    /// them until this time, ends that entry rather than starting the next one.
    late_terminator: Option<(char, tokio::time::Instant)>,
    recording_seq: u32,
    /// Pending end (set by a BYE seen while waiting for something else).
    gone: Option<End>,
    /// Our 200 OK to the caller's INVITE is not acknowledged yet. Until it is,
    /// timer H (not the media's silence) ends a call whose caller has gone
    /// quiet: a caller that never ACKs may not hold the call past it, and one
    /// whose ACK is only slow is not cut off for want of RTP it was right not
    /// to send yet.
    awaiting_ack: bool,
    /// The media reported silence while the ACK was awaited: the call ends
    /// when the ACK comes, unless RTP came meanwhile.
    silent_before_ack: bool,
    /// Told the agent's id once when the call is first bridged to an agent:
    /// the dialer counts a campaign's person as connected at that moment.
    on_agent: Option<OnAgent>,
    /// The statistics of the flow running (see [`crate::flowstats`]).
    flow_tally: crate::flowstats::FlowTally,
}

/// What a call tells, once, when it is first bridged to an agent.
type OnAgent = Box<dyn FnOnce(&str) + Send + Sync>;

fn law_of(c: Codec) -> Law {
    match c {
        Codec::Pcmu => Law::Ulaw,
        Codec::Pcma => Law::Alaw,
    }
}

/// Where and how a media session sends, from an SDP negotiation: address,
/// codec, telephone-event type and SRTP keys (also used by `dialect call`,
/// which is a caller of its own).
pub fn remote_of(n: &Negotiated) -> RemoteMedia {
    RemoteMedia {
        addr: n.remote,
        codec: law_of(n.codec),
        event_pt: n.telephone_event,
        srtp: n.srtp.map(media::srtp_keys),
    }
}

/// The call task.
pub async fn run(env: Arc<CallEnv>, req: IncomingRequest) {
    let started = crate::time::now_ms();
    let deployed = env.program.current();
    let request_uri_user = user_part(&req.request.uri.to_string());
    let caller = dialect_sip::message::header_value(&req.request.headers, "From")
        .map(|f| user_part(&f))
        .unwrap_or_default();
    let source_ip = req.source.addr.ip();
    // A call belongs to a trunk by its source address only: only then does it
    // take the trunk's DIDs, group and asserted caller number, and a channel.
    let trunk_line = env.outbound.inbound_trunk(source_ip).cloned();
    let trunk_cfg = trunk_line.as_ref().map(|t| &t.config);
    let _channel = match &trunk_line {
        Some(line) => match env.outbound.inbound_channel(line) {
            Some(c) => Some(c),
            None => {
                tracing::warn!(trunk = %line.config.name, "trunk has all its channels in use");
                req.reply(503);
                return;
            }
        },
        None => None,
    };
    let asserted = trunk_cfg.and_then(|t| asserted_number(&req.request, t.asserted_identity));
    let number = trunk_cfg
        .and_then(|t| t.dids.get(&request_uri_user).cloned())
        .unwrap_or_else(|| request_uri_user.clone());
    let trunk_group = trunk_cfg
        .and_then(|t| t.group.clone())
        .unwrap_or_else(|| "local".to_string());
    let flow = deployed
        .program
        .flow_for_number(&number)
        .map(str::to_string)
        .or_else(|| {
            env.config
                .default_number
                .as_deref()
                .and_then(|n| deployed.program.flow_for_number(n))
                .map(str::to_string)
        });
    let call_id =
        dialect_sip::message::header_value(&req.request.headers, "Call-ID").unwrap_or_default();
    let Some(flow) = flow else {
        tracing::info!(number, "no flow answers this number");
        req.reply(404);
        return;
    };
    let uas = match env.endpoint.accept_invite(req) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!("cannot accept INVITE: {e}");
            return;
        }
    };
    let ring = env.config.sip.ring_time.0;
    if !ring.is_zero() {
        uas.progress(180, None);
        tokio::select! {
            // Both cancel-safe: a sleep and the CANCEL notification.
            _ = tokio::time::sleep(ring) => {}
            _ = uas.cancelled() => {
                save_unanswered(&env, started, &caller, &number, &flow, &call_id, "cancelled by caller").await;
                return;
            }
        }
    }
    // Media: allocate RTP, negotiate. RTP is taken only from the caller's SDP
    // address (or, in NAT mode, the INVITE's source), and nothing is sent until
    // the caller proves that address (RTP from it, or the ACK from its IP).
    let kind = media::LegKind::Caller(trunk_cfg);
    let offer = SessionDescription::parse(&uas.request().body);
    let probe = media::local_media(&env, kind, 0);
    let negotiated = offer.ok().map(|o| sdp::answer(&o, &probe));
    let Some(Ok((_, negotiated))) = negotiated else {
        env.stats.calls_no_codec.fetch_add(1, Ordering::Relaxed);
        uas.reject(488);
        return;
    };
    let cfg = media::session_config(&env, kind, remote_of(&negotiated), Some(source_ip), None);
    let session = match RtpSession::start(&env.ports, cfg) {
        Ok(s) => s,
        Err(e) => {
            // The error says which: no free port, or no file descriptor left.
            tracing::error!("cannot open the call's media: {e}");
            uas.reject(503);
            return;
        }
    };
    // The same SRTP key as the session got from the probe's negotiation.
    let local = LocalMedia {
        port: session.local_addr().port(),
        ..probe
    };
    let offer = match SessionDescription::parse(&uas.request().body) {
        Ok(o) => o,
        Err(_) => {
            uas.reject(488);
            return;
        }
    };
    let Ok((answer, negotiated)) = sdp::answer(&offer, &local) else {
        uas.reject(488);
        return;
    };
    if uas.is_cancelled() {
        save_unanswered(
            &env,
            started,
            &caller,
            &number,
            &flow,
            &call_id,
            "cancelled by caller",
        )
        .await;
        return;
    }
    let (dialog, events) = match uas.answer(answer.to_bytes()) {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!("answer failed: {e}");
            return;
        }
    };
    let id = crate::contacts::new_id(&*env.store).unwrap_or(0);
    let contact = ContactRecord {
        id,
        channel: "voice".into(),
        direction: "inbound".into(),
        caller: caller.clone(),
        called: number.clone(),
        trunk: trunk_cfg.map(|t| t.name.clone()).unwrap_or_default(),
        flow: flow.clone(),
        program_version: deployed.info.version,
        call_id,
        started_ms: started,
        answered_ms: Some(crate::time::now_ms()),
        ..ContactRecord::default()
    };
    let media = session.handle().clone();
    let mut call = Call {
        env: env.clone(),
        deployed: deployed.clone(),
        dialog,
        events,
        session,
        media,
        local,
        law: law_of(negotiated.codec),
        contact,
        asserted,
        trunk_group: trunk_group.clone(),
        keys: VecDeque::new(),
        late_terminator: None,
        recording_seq: 0,
        gone: None,
        awaiting_ack: true,
        silent_before_ack: false,
        on_agent: None,
        flow_tally: Default::default(),
    };
    call.record_whole_call();
    let info = CallInfo {
        caller,
        called: number,
        trunk: trunk_group,
        args: Vec::new(),
    };
    let end = call.run_flow(&flow, info).await;
    call.finish(end).await;
}

/// A contact record for a call that never got answered.
async fn save_unanswered(
    env: &CallEnv,
    started: i64,
    caller: &str,
    number: &str,
    flow: &str,
    call_id: &str,
    end: &str,
) {
    let id = crate::contacts::new_id(&*env.store).unwrap_or(0);
    let c = ContactRecord {
        id,
        channel: "voice".into(),
        direction: "inbound".into(),
        caller: caller.into(),
        called: number.into(),
        flow: flow.into(),
        call_id: call_id.into(),
        started_ms: started,
        ended_ms: Some(crate::time::now_ms()),
        end: end.into(),
        ..ContactRecord::default()
    };
    if let Err(e) = contacts::save(&env.store, &c).await {
        tracing::error!("cannot save the contact record: {e}");
    }
}

impl Call {
    /// Starts recording the whole call when the configuration asks for it.
    fn record_whole_call(&mut self) {
        if !self.env.config.recording.whole_call {
            return;
        }
        let path = self.recording_path("call");
        let mut r = RecordOptions::new(path.clone());
        r.mode = RecordMode::Both;
        r.limits.max_duration = self.env.config.recording.max_duration.0;
        r.limits.max_bytes = self.env.config.recording.max_bytes;
        if self.media.record(r).is_ok() {
            self.contact.recordings.push(path.display().to_string());
        }
    }

    fn recording_path(&mut self, what: &str) -> PathBuf {
        self.recording_seq += 1;
        self.env.recordings.join(format!(
            "{}-{what}-{}.wav",
            self.contact.id, self.recording_seq
        ))
    }

    fn trail(&mut self, node: &str, detail: String) {
        if self.contact.trail.len() < 500 {
            let at_ms = crate::time::now_ms();
            self.event(CallEventKind::Step, node, detail.clone());
            self.contact.trail.push(TrailEntry {
                at_ms,
                node: node.to_string(),
                detail,
            });
        }
    }

    /// Tells live listeners what happens on this call.
    fn event(&self, kind: CallEventKind, node: &str, detail: String) {
        self.env.events.send(CallEvent {
            call_id: self.contact.call_id.clone(),
            contact: self.contact.id,
            at_ms: crate::time::now_ms(),
            kind,
            node: node.to_string(),
            detail,
        });
    }

    /// Tells live listeners what the caller is about to hear.
    fn announce(&self, node: &str, prompts: &[FlowPrompt], language: &str) {
        for p in prompts {
            self.event(CallEventKind::Prompt, node, describe_prompt_in(p, language));
        }
    }

    /// The next thing that happens to the call: a key, a prompt finished, a
    /// recording finished, or the call is gone. `deadline` bounds the wait.
    async fn next_event(&mut self, deadline: Option<Instant>) -> Option<Event> {
        if let Some(g) = self.gone.take() {
            return Some(Event::Gone(g));
        }
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                // All three branches are cancel-safe: channel receives and a sleep.
                ev = self.session.next_event() => match ev {
                    Some(MediaEvent::Key(k)) => return Some(Event::Key(k.key.as_char())),
                    Some(MediaEvent::PlaybackFinished { id, interrupted }) => return Some(Event::Played(id, interrupted)),
                    Some(MediaEvent::RecordingFinished { path, duration, .. }) => return Some(Event::Recorded(path, duration)),
                    Some(MediaEvent::RemoteSilent { .. }) if self.awaiting_ack => self.silent_before_ack = true,
                    Some(MediaEvent::RemoteSilent { .. }) => return Some(Event::Gone(End::Lost("no RTP from the caller".into()))),
                    None => return Some(Event::Gone(End::Lost("media ended".into()))),
                },
                ev = self.events.recv() => match ev {
                    Some(e) => {
                        if let Some(out) = self.dialog_event(e).await {
                            return Some(out);
                        }
                    }
                    None => return Some(Event::Gone(End::Lost("dialog closed".into()))),
                },
                _ = self.env.hangup_all.cancelled() => return Some(Event::Gone(End::Flow("hangup at shutdown".into()))),
                _ = sleep => return None,
            }
        }
    }

    /// Handles an in-dialog request; returns an event when it matters to the flow.
    async fn dialog_event(&mut self, e: DialogEvent) -> Option<Event> {
        match e {
            DialogEvent::Ack(ack) => {
                // The caller's signalling confirms the call from this IP: media
                // may go to its SDP address if that is on the same IP.
                if let Some(ip) = dialect_sip::endpoint::source_ip(&ack) {
                    self.media.confirm_peer(ip);
                }
                self.awaiting_ack = false;
                let silent = std::mem::take(&mut self.silent_before_ack)
                    && self.media.stats().packets_received == 0;
                silent.then(|| Event::Gone(End::Lost("no RTP from the caller".into())))
            }
            DialogEvent::AckTimeout => Some(Event::Gone(End::Lost("no ACK for our 200 OK".into()))),
            DialogEvent::Request(r) => {
                let _ = self.dialog.on_request(&r.request);
                match r.method() {
                    Method::Bye => {
                        r.reply(200);
                        Some(Event::Gone(End::CallerHungUp))
                    }
                    Method::Info => {
                        let ct =
                            dialect_sip::message::header_value(&r.request.headers, "Content-Type")
                                .unwrap_or_default();
                        match parse_sip_info(&ct, &r.request.body) {
                            Ok(d) => {
                                r.reply(200);
                                Some(Event::Key(d.key.as_char()))
                            }
                            Err(_) => {
                                r.reply(415);
                                None
                            }
                        }
                    }
                    Method::Invite => {
                        // re-INVITE: new media address, codec or hold.
                        let answer = SessionDescription::parse(&r.request.body)
                            .ok()
                            .map(|o| sdp::answer(&o, &self.local));
                        match answer {
                            Some(Ok((a, n))) => {
                                self.media.update_remote(remote_of(&n));
                                self.law = law_of(n.codec);
                                if n.hold {
                                    self.media.hold();
                                } else {
                                    self.media.resume();
                                }
                                self.trail(
                                    "re-INVITE",
                                    if n.hold {
                                        "hold".into()
                                    } else {
                                        "media updated".into()
                                    },
                                );
                                self.env
                                    .endpoint
                                    .answer_reinvite(&self.dialog, r, a.to_bytes());
                            }
                            _ if r.request.body.is_empty() => {
                                // An offerless re-INVITE: offer our current media.
                                let offer = sdp::offer(&self.local);
                                self.env.endpoint.answer_reinvite(
                                    &self.dialog,
                                    r,
                                    offer.to_bytes(),
                                );
                            }
                            _ => r.reply(488),
                        }
                        None
                    }
                    Method::Options => {
                        r.reply(200);
                        None
                    }
                    _ => {
                        r.reply(405);
                        None
                    }
                }
            }
        }
    }

    /// Plays prompts; a key stops barge-in prompts (and is kept for the next input).
    async fn play_all(
        &mut self,
        prompts: Vec<Arc<dialect_media::Prompt>>,
        barge_in: bool,
    ) -> Result<bool, End> {
        let Some(last) = prompts.len().checked_sub(1) else {
            return Ok(false);
        };
        let mut last_id = None;
        for (i, p) in prompts.into_iter().enumerate() {
            let id = self.media.play(p, PlayOptions { barge_in });
            if i == last {
                last_id = Some(id);
            }
        }
        let last_id = last_id.unwrap_or(PlaybackId(0));
        loop {
            match self
                .next_event(Some(Instant::now() + Duration::from_secs(600)))
                .await
            {
                Some(Event::Played(id, interrupted)) if id == last_id => return Ok(interrupted),
                Some(Event::Played(..)) | Some(Event::Recorded(..)) => {}
                Some(Event::Key(k)) => {
                    self.keys.push_back(k);
                    if barge_in {
                        self.media.stop_playback();
                    }
                }
                Some(Event::Gone(e)) => return Err(e),
                None => {
                    self.media.stop_playback();
                    return Ok(true);
                }
            }
        }
    }

    async fn render(
        &mut self,
        prompt: &FlowPrompt,
        language: &str,
    ) -> Vec<Arc<dialect_media::Prompt>> {
        match self
            .env
            .speaker
            .render(&self.deployed, prompt, language)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(contact = self.contact.id, "{e}");
                self.contact.errors.push(e);
                Vec::new()
            }
        }
    }

    /// Runs the flow to its end; returns how the call ended.
    async fn run_flow(&mut self, flow: &str, info: CallInfo) -> End {
        let mut inst = match self.deployed.program.start(flow, info.clone()) {
            Ok(i) => i,
            Err(e) => return End::Lost(e.to_string()),
        };
        let mut input = Input::Start;
        self.flow_tally = FlowTally::start(flow, crate::time::now_ms());
        loop {
            let cmd = inst.step(input);
            self.env.stats.flow_steps.fetch_add(1, Ordering::Relaxed);
            let node = inst.node().to_string();
            let language = inst.language().to_string();
            self.contact.language = language.clone();
            self.count_step(&cmd, &inst);
            let mut result = self.execute(&cmd, &node, &language, &mut inst).await;
            count_handed(&mut self.flow_tally, &cmd, &result);
            loop {
                match result {
                    Ok(Step::Refer { target, by, how }) => {
                        // An agent's REFER: the caller goes on to the target.
                        self.trail(&node, format!("blind transfer to {target}"));
                        result = self.blind_transfer(&target, &by, how).await;
                        continue;
                    }
                    Ok(Step::Continue(next)) => input = next,
                    Ok(Step::NewFlow(name)) => {
                        // transfer flow X: the same call goes on in another flow.
                        self.trail(&node, format!("transfer flow {name}"));
                        self.contact.data = data_map(&inst);
                        let next_tally = FlowTally::start(&name, crate::time::now_ms());
                        self.flow_ended(Outcome::ToFlow, next_tally);
                        match self.deployed.program.start(&name, info.clone()) {
                            Ok(mut next) => {
                                for (k, v) in inst.data() {
                                    next.set_data(&k, &v);
                                }
                                inst = next;
                                input = Input::Start;
                                self.contact.flow = name;
                            }
                            Err(e) => return End::Lost(e.to_string()),
                        }
                    }
                    Ok(Step::End(e)) => {
                        self.contact.data = data_map(&inst);
                        self.capture_customer(&inst);
                        let how = match cmd {
                            Command::Hangup | Command::Finished => Outcome::SelfService,
                            _ => outcome_of(&e),
                        };
                        self.flow_ended(how, FlowTally::default());
                        return e;
                    }
                    Err(e) => {
                        self.trail(&node, e.text());
                        self.contact.data = data_map(&inst);
                        self.capture_customer(&inst);
                        self.flow_ended(outcome_of(&e), FlowTally::default());
                        return e;
                    }
                }
                break;
            }
        }
    }

    /// Counts a menu's or a collect's no-input or no-match, by keys or speech:
    /// a no-match is speech when the recognizer's answer was not taken (the
    /// trail says so from `heard_from` on), a no-input when the step listened
    /// for speech too.
    fn count_input(&mut self, cmd: &Command, input: &Input, heard_from: usize) {
        let listens = matches!(
            cmd,
            Command::Menu { speech: true, .. } | Command::Collect { speech: true, .. }
        );
        match input {
            Input::NoInput => self.flow_tally.no_input(listens),
            Input::NoMatch => {
                let spoken = listens
                    && self.contact.trail[heard_from.min(self.contact.trail.len())..]
                        .iter()
                        .any(|t| t.node == "speech");
                self.flow_tally.no_match(spoken);
            }
            _ => {}
        }
    }

    /// Counts the step `cmd` starts in the flow's statistics.
    fn count_step(&mut self, cmd: &Command, inst: &FlowInstance) {
        let Some(kind) = StepKind::of(cmd) else {
            return;
        };
        let id = if kind == StepKind::End {
            crate::flowstats::END
        } else {
            inst.location()
        };
        self.flow_tally
            .enter(id, inst.node(), kind, crate::time::now_ms());
    }

    /// Hands the flow's statistics to the writer, ended as `how`, and
    /// counts on in `next` (another flow's, or none).
    fn flow_ended(&mut self, how: Outcome, next: FlowTally) {
        let done = std::mem::replace(&mut self.flow_tally, next);
        if done.is_started() {
            let started = done.started_ms();
            let stats = done.finish(how, crate::time::now_ms());
            self.env.flow_stats.record(started, stats);
        }
    }

    fn capture_customer(&mut self, inst: &FlowInstance) {
        for (k, v) in inst.data() {
            if k == "customer_id"
                && let Value::Text(t) = v
            {
                self.contact.customer_id = t;
            }
        }
    }

    async fn execute(
        &mut self,
        cmd: &Command,
        node: &str,
        language: &str,
        inst: &mut FlowInstance,
    ) -> Result<Step, End> {
        match cmd {
            Command::Play { prompt, barge_in } => {
                self.announce(node, std::slice::from_ref(prompt), language);
                let audio = self.render(prompt, language).await;
                let detail = describe_prompt(prompt);
                let interrupted = self.play_all(audio, *barge_in).await?;
                self.trail(
                    node,
                    if interrupted {
                        format!("{detail} (interrupted)")
                    } else {
                        detail
                    },
                );
                Ok(Step::Continue(Input::Done))
            }
            Command::Menu { prompts, .. } | Command::Collect { prompts, .. } => {
                // Keys typed ahead skip the prompts (see `input`).
                if self.keys.is_empty() {
                    self.announce(node, prompts, language);
                }
                let heard_from = self.contact.trail.len();
                let input = self.input(cmd, language).await?;
                self.count_input(cmd, &input, heard_from);
                let detail = match (&input, cmd) {
                    (Input::Digits(d), Command::Collect { mask: true, .. }) => {
                        self.contact.digits.push_str(&"*".repeat(d.len()));
                        "digits (masked)".to_string()
                    }
                    (Input::Digits(d), _) => {
                        self.contact.digits.push_str(d);
                        format!("digits {d}")
                    }
                    (Input::Choice(i), Command::Menu { keys, .. }) => {
                        let k = keys
                            .get(*i as usize)
                            .and_then(|k| k.first())
                            .cloned()
                            .unwrap_or_default();
                        self.contact.digits.push_str(&k);
                        format!("choice {} ({k})", i + 1)
                    }
                    (other, _) => format!("{other:?}").to_lowercase(),
                };
                self.trail(node, detail);
                Ok(Step::Continue(input))
            }
            Command::Lookup { .. } => {
                let started = Instant::now();
                let result = lookup::run(&self.env.http, self.env.own_api.as_ref(), cmd).await;
                let ms = started.elapsed().as_millis();
                let detail = match &result {
                    Input::Record(f) => format!("answered in {ms} ms ({} fields)", f.len()),
                    Input::Records(r) => format!("answered in {ms} ms ({} records)", r.len()),
                    Input::NotFound => format!("answered in {ms} ms: nothing found"),
                    Input::Failed(why) => format!("failed after {ms} ms: {why}"),
                    _ => String::new(),
                };
                self.trail(node, detail);
                // The caller may hang up while we wait: check before going on.
                if let Some(Event::Gone(e)) = self.next_event(Some(Instant::now())).await {
                    return Err(e);
                }
                Ok(Step::Continue(result))
            }
            Command::Record {
                max_ms,
                silence_ms,
                terminator,
                beep,
            } => {
                if *beep {
                    let tone = crate::call::beep();
                    self.play_all(vec![tone], false).await?;
                }
                let path = self.recording_path("msg");
                let mut r = RecordOptions::new(path.clone());
                r.limits.max_duration = Duration::from_millis((*max_ms).max(1000) as u64);
                r.silence_timeout = Some(Duration::from_millis((*silence_ms).max(500) as u64));
                if let Some(t) = terminator {
                    r.end_keys = KeySet::parse(&t.to_string());
                }
                if let Err(e) = self.media.record(r) {
                    self.trail(node, format!("failed: {e}"));
                    return Ok(Step::Continue(Input::Failed(e.to_string())));
                }
                loop {
                    match self
                        .next_event(Some(
                            Instant::now() + Duration::from_millis(*max_ms as u64 + 5000),
                        ))
                        .await
                    {
                        Some(Event::Recorded(p, d)) => {
                            let p = p.display().to_string();
                            self.contact.recordings.push(p.clone());
                            self.trail(node, format!("{} ms recorded", d.as_millis()));
                            return Ok(Step::Continue(Input::Recording(p)));
                        }
                        Some(Event::Gone(e)) => {
                            // The message is kept even when the caller hangs up mid-way.
                            self.media.stop_recording();
                            self.contact.recordings.push(path.display().to_string());
                            return Err(e);
                        }
                        Some(_) => {}
                        None => {
                            self.media.stop_recording();
                        }
                    }
                }
            }
            Command::CreateWorkorder { kind, fields } => {
                let result = self.create_workorder(kind, fields).await;
                self.trail(
                    node,
                    match &result {
                        Input::Created(n) => format!("created {n}"),
                        Input::Failed(w) => format!("failed: {w}"),
                        _ => String::new(),
                    },
                );
                if let Input::Created(n) = &result {
                    self.contact.workorders.push(n.clone());
                }
                Ok(Step::Continue(result))
            }
            Command::LookupWorkorder { kind, number } => {
                let result = match self.env.workorders.clone() {
                    None => Input::Failed("the workorder engine is not available".into()),
                    Some(sink) => match sink.lookup(kind, number).await {
                        Ok(fields) => Input::Record(fields),
                        Err(e) => Input::Failed(e),
                    },
                };
                self.trail(
                    node,
                    match &result {
                        Input::Failed(w) => format!("{number}: {w}"),
                        _ => format!("{number} found"),
                    },
                );
                Ok(Step::Continue(result))
            }
            Command::TransitionWorkorder {
                number,
                to,
                comment,
            } => {
                let result = match self.env.workorders.clone() {
                    None => Input::Failed("the workorder engine is not available".into()),
                    Some(sink) => match sink.transition_to(number, to, comment.clone()).await {
                        Ok(()) => Input::Done,
                        Err(e) => Input::Failed(e),
                    },
                };
                self.trail(
                    node,
                    match &result {
                        Input::Failed(w) => format!("{number}: {w}"),
                        _ => format!("{number} now {to}"),
                    },
                );
                Ok(Step::Continue(result))
            }
            Command::Notify {
                channel,
                to,
                subject,
                body,
                attachment,
            } => {
                let mut attachments = Vec::new();
                let mut attached = String::new();
                if let Some(recording) = attachment {
                    match attach::finished_recording(&self.env.recordings, recording).await {
                        Ok(path) => {
                            attached = format!(
                                ", {} attached",
                                path.file_name().map_or_else(
                                    || path.display().to_string(),
                                    |n| n.to_string_lossy().into_owned()
                                )
                            );
                            attachments.push(path.display().to_string());
                        }
                        Err(why) => {
                            tracing::warn!(
                                contact = self.contact.id,
                                "notify: nothing attached: {why}"
                            );
                            attached = format!(", nothing attached: {why}");
                        }
                    }
                }
                crate::call::outbox(
                    &self.env.store,
                    self.contact.id,
                    *channel,
                    to,
                    subject.as_deref(),
                    body,
                    &attachments,
                )
                .await;
                self.trail(node, format!("to {to}{attached}"));
                Ok(Step::Continue(Input::Done))
            }
            Command::Transfer {
                to,
                timeout_ms,
                via,
                caller_id,
                priority,
            } => match to {
                Transfer::Flow(f) => Ok(Step::NewFlow(f.clone())),
                Transfer::Queue(_) | Transfer::Agent(_) if self.agent_transfer_refused() => {
                    Ok(Step::Continue(Input::Failed(
                        "the caller may not reach an agent again today".into(),
                    )))
                }
                Transfer::Queue(q) => {
                    self.contact.data = data_map(inst);
                    self.queue_call(q, inst, language, priority.unwrap_or(0.0))
                        .await
                }
                Transfer::Number(n) => {
                    let origin = Origin::Flow {
                        flow: self.contact.flow.clone(),
                    };
                    let r = self
                        .transfer_number(
                            origin,
                            n,
                            *timeout_ms,
                            via.as_deref(),
                            caller_id.as_deref(),
                        )
                        .await?;
                    Ok(r)
                }
                Transfer::Agent(a) => {
                    let r = self.transfer_agent(a, *timeout_ms).await?;
                    Ok(r)
                }
            },
            Command::Pause { ms } => {
                let until = Instant::now() + Duration::from_millis((*ms).max(0) as u64);
                loop {
                    match self.next_event(Some(until)).await {
                        None => return Ok(Step::Continue(Input::Done)),
                        Some(Event::Key(k)) => self.keys.push_back(k),
                        Some(Event::Gone(e)) => return Err(e),
                        Some(_) => {}
                    }
                }
            }
            Command::Hangup => Ok(Step::End(End::Flow("hangup by flow".into()))),
            Command::Finished => Ok(Step::End(End::Flow("flow ended".into()))),
            Command::Failed { message, location } => {
                self.env.stats.flow_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    contact = self.contact.id,
                    "flow error at {location}: {message}"
                );
                self.contact.errors.push(format!("{location}: {message}"));
                let _ = inst;
                Ok(Step::End(End::Flow(format!("flow error at {location}"))))
            }
        }
    }

    async fn create_workorder(&mut self, kind: &str, fields: &[(String, Value)]) -> Input {
        let Some(sink) = self.env.workorders.clone() else {
            return Input::Failed("the workorder engine is not available".into());
        };
        match sink.create(kind, fields, self.contact.id).await {
            Ok(n) => Input::Created(n),
            Err(e) => Input::Failed(e),
        }
    }

    /// B2BUA transfer to an outside number through a trunk; the call ends when
    /// either side hangs up.
    async fn transfer_number(
        &mut self,
        origin: Origin,
        number: &str,
        timeout_ms: Option<i64>,
        via: Option<&str>,
        caller_id: Option<&str>,
    ) -> Result<Step, End> {
        let request = crate::outbound::Request {
            origin,
            number,
            trunk: via,
        };
        let grant = match self.env.outbound.authorize(request) {
            Ok(g) => g,
            Err(refusal) => {
                self.trail("transfer number", format!("refused: {refusal}"));
                return Ok(Step::Continue(Input::Failed(refusal.reason.to_string())));
            }
        };
        let line = grant.line();
        let kind = media::LegKind::Trunk(&line.config);
        let (leg, local) =
            match media::called_leg(&self.env, kind, self.law, media::trunk_ip(&line.sip)) {
                Ok(l) => l,
                Err(e) => return Ok(Step::Continue(Input::Failed(e.to_string()))),
            };
        let dial = grant
            .dial(&self.env.endpoint, caller_id, sdp::offer(&local).to_bytes())
            .await;
        let outgoing = match dial {
            Ok(c) => c,
            Err(e) => return Ok(Step::Continue(Input::Failed(e.to_string()))),
        };
        self.trail(
            "transfer number",
            format!(
                "dialling {} through trunk {}",
                grant.number(),
                grant.trunk().name
            ),
        );
        self.connect_leg(
            outgoing,
            leg,
            local,
            timeout_ms,
            format!("transfer number {number}"),
            Some(&grant),
        )
        .await
    }

    /// Whether `target` is reached without a trunk: a flow's number or a
    /// registered agent (the outbound-call policy is not asked for those).
    fn reaches_inside(&self, target: &str) -> bool {
        self.deployed.program.flow_for_number(target).is_some()
            || self
                .env
                .registrar
                .as_ref()
                .is_some_and(|r| !r.lookup(target).is_empty())
    }

    /// Where a REFER from a bridged agent (or the desktop's blind transfer) sends
    /// the caller: the flow answering `target`, else the registered agent
    /// `target`, else `target` through a trunk, as agent `by` asked.
    async fn blind_transfer(
        &mut self,
        target: &str,
        by: &str,
        how: AgentRequest,
    ) -> Result<Step, End> {
        if let Some(flow) = self.deployed.program.flow_for_number(target) {
            return Ok(Step::NewFlow(flow.to_string()));
        }
        let registered = self
            .env
            .registrar
            .as_ref()
            .is_some_and(|r| !r.lookup(target).is_empty());
        if registered {
            self.transfer_agent(target, None).await
        } else {
            let origin = Origin::Agent {
                id: by.to_string(),
                how,
            };
            self.transfer_number(origin, target, None, None, None).await
        }
    }

    /// Transfer to an agent's registered phone.
    async fn transfer_agent(&mut self, agent: &str, timeout_ms: Option<i64>) -> Result<Step, End> {
        let contact = self
            .env
            .registrar
            .as_ref()
            .and_then(|r| r.lookup(agent).into_iter().next());
        let Some(binding) = contact else {
            self.trail("transfer agent", format!("{agent}: not registered"));
            return Ok(Step::Continue(Input::Failed(format!(
                "agent {agent} is not registered"
            ))));
        };
        // Send to where the phone registered from (it may be behind NAT).
        let target = binding.source.clone();
        let phone_ip = Some(target.addr.ip());
        let (leg, local) =
            match media::called_leg(&self.env, media::LegKind::Phone, self.law, phone_ip) {
                Ok(l) => l,
                Err(e) => return Ok(Step::Continue(Input::Failed(e.to_string()))),
            };
        let host = self
            .env
            .config
            .sip
            .public_host
            .clone()
            .unwrap_or_else(|| self.env.config.sip.listen.ip().to_string());
        let call = self
            .env
            .endpoint
            .invite(dialect_sip::endpoint::OutgoingInvite {
                request_uri: binding.contact.clone(),
                from: format!("<sip:{}@{host}>", self.contact.caller),
                to: format!("<sip:{agent}@{host}>"),
                target,
                sdp: Some(sdp::offer(&local).to_bytes()),
                credentials: None,
                headers: Vec::new(),
                call_id: None,
                contact_user: Some("dialect".into()),
            });
        let outgoing = match call {
            Ok(c) => c,
            Err(e) => return Ok(Step::Continue(Input::Failed(e.to_string()))),
        };
        self.contact.agent = Some(agent.to_string());
        self.connect_leg(
            outgoing,
            leg,
            local,
            timeout_ms,
            format!("transfer agent {agent}"),
            None,
        )
        .await
    }

    /// Rings an outgoing leg; on answer bridges it with the caller until one side hangs up.
    /// `grant` is the outbound-call policy's permission for a call through a
    /// trunk: it is told when the call is answered, and its channel is held
    /// until the bridge ends.
    async fn connect_leg(
        &mut self,
        mut outgoing: dialect_sip::endpoint::OutgoingCall,
        leg: RtpSession,
        local: LocalMedia,
        timeout_ms: Option<i64>,
        what: String,
        grant: Option<&crate::outbound::Grant>,
    ) -> Result<Step, End> {
        let ring_until =
            Instant::now() + Duration::from_millis(timeout_ms.unwrap_or(30_000).max(1000) as u64);
        let mut cancelled = false;
        // The caller hears ringback (or the far end's early media) until it answers.
        let mut ringing = ringing::Ringing::start(self.media.clone());
        let answered = loop {
            let sleep = tokio::time::sleep_until(ring_until);
            tokio::select! {
                p = outgoing.next() => match p {
                    CallProgress::Provisional(r) => {
                        if ringing.progress(&r, leg.handle(), &local) {
                            self.trail(&what, "early media".into());
                        }
                    }
                    CallProgress::Answered(a) => break Some(a),
                    CallProgress::Rejected(r) => {
                        self.trail(&what, format!("rejected {}", r.status_code));
                        return Ok(Step::Continue(Input::Failed(format!("rejected {}", r.status_code))));
                    }
                    CallProgress::Cancelled | CallProgress::Timeout => break None,
                },
                _ = sleep, if !cancelled => {
                    outgoing.cancel();
                    cancelled = true;
                }
                ev = self.events.recv() => match ev {
                    Some(e) => {
                        if let Some(Event::Gone(end)) = self.dialog_event(e).await {
                            outgoing.cancel();
                            return Err(end);
                        }
                    }
                    None => return Err(End::Lost("dialog closed".into())),
                },
            }
        };
        ringing.stop();
        let Some(answered) = answered else {
            self.trail(&what, "no answer".into());
            return Ok(Step::Continue(Input::Failed("no answer".into())));
        };
        if let Some(g) = grant {
            g.answered();
        }
        match self.bridge_leg(*answered, leg, &local, what, None).await {
            bridged::RoomExit::Done(r) => r,
            // Only the ACD requeues or transfers, and there is no ACD here.
            bridged::RoomExit::Requeued => {
                Ok(Step::Continue(Input::Failed("the far end left".into())))
            }
            bridged::RoomExit::TransferNumber { number, agent } => Ok(Step::Refer {
                target: number,
                by: agent.into(),
                how: AgentRequest::Transfer,
            }),
        }
    }

    /// Ends the call: BYE if the caller is still there, media closed, contact saved.
    async fn finish(mut self, end: End) {
        if end != End::CallerHungUp {
            let r = tokio::time::timeout(
                Duration::from_secs(5),
                self.env.endpoint.bye(&mut self.dialog),
            )
            .await;
            if let Ok(Err(e)) = r {
                tracing::debug!("BYE failed: {e}");
            }
        }
        self.media.close();
        self.env.stats.add_media(&self.media.stats());
        self.contact.ended_ms = Some(crate::time::now_ms());
        self.contact.end = end.text();
        if let Err(e) = contacts::save(&self.env.store, &self.contact).await {
            tracing::error!(
                contact = self.contact.id,
                "cannot save the contact record: {e}"
            );
        }
        self.event(CallEventKind::Ended, "end", self.contact.end.clone());
    }
}

/// Counts a transfer that took the call (it did not come back to the flow).
fn count_handed(tally: &mut FlowTally, cmd: &Command, result: &Result<Step, End>) {
    if let Command::Transfer { to, .. } = cmd
        && !matches!(result, Ok(Step::Continue(_)))
    {
        match to {
            Transfer::Queue(_) | Transfer::Agent(_) => tally.handed(Outcome::ToAgents),
            Transfer::Number(_) => tally.handed(Outcome::TransferredOut),
            Transfer::Flow(_) => {}
        }
    }
}

/// How a flow's part of a call ended, by how the call ended (the flow's own
/// `hangup` and end are told apart where they happen).
fn outcome_of(end: &End) -> Outcome {
    match end {
        End::CallerHungUp => Outcome::HungUp,
        End::Transferred(_) => Outcome::TransferredOut,
        End::Flow(_) | End::Lost(_) => Outcome::Failed,
    }
}

/// What the flow loop does next.
enum Step {
    Continue(Input),
    NewFlow(String),
    End(End),
    /// The bridged far end (an agent) sent REFER, or transferred from the
    /// desktop: the caller goes on to `target`.
    Refer {
        /// A number, an agent or a flow's number.
        target: String,
        /// The agent who transferred the call (whose dial plan and guard apply).
        by: Arc<str>,
        /// Whether by REFER or from the desktop.
        how: AgentRequest,
    },
}

fn describe_prompt(p: &FlowPrompt) -> String {
    describe_prompt_in(p, "en")
}

/// A prompt as the caller hears it in `language`: the files, or the text spoken.
fn describe_prompt_in(p: &FlowPrompt, language: &str) -> String {
    match p {
        FlowPrompt::Files(f) => format!("play {}", f.join(", ")),
        FlowPrompt::Speech { items, .. } => format!("say {}", speech::speakable(items, language)),
    }
}

fn data_map(inst: &FlowInstance) -> serde_json::Map<String, serde_json::Value> {
    inst.data()
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect()
}

/// A 400 ms, 1 kHz beep before recordings.
pub fn beep() -> Arc<dialect_media::Prompt> {
    static BEEP: std::sync::OnceLock<Arc<dialect_media::Prompt>> = std::sync::OnceLock::new();
    BEEP.get_or_init(|| {
        let samples: Vec<i16> = (0..3200)
            .map(|i| {
                ((i as f64 * 2.0 * std::f64::consts::PI * 1000.0 / 8000.0).sin() * 8000.0) as i16
            })
            .collect();
        Arc::new(dialect_media::Prompt::from_pcm(&samples, 8000))
    })
    .clone()
}

/// Notifications (SMS, e-mail) go to a durable outbox that the message gateway
/// drains; the flow does not wait for delivery. `attachments` are files on
/// this server (a finished recording) sent with an e-mail.
pub async fn outbox(
    store: &SharedStore,
    contact: u64,
    channel: dialect_compiler::ir::NotifyChannel,
    to: &str,
    subject: Option<&str>,
    body: &str,
    attachments: &[String],
) {
    let mut b = crate::store::Batch::new();
    let entry = crate::notify::NewEntry {
        contact,
        channel,
        to,
        subject,
        body,
        queued_ms: crate::time::now_ms(),
        workorder: None,
        attachments,
    };
    if let Err(e) = crate::notify::stage(&**store, &mut b, &entry) {
        tracing::error!("outbox write failed: {e}");
        return;
    }
    if let Err(e) = crate::store::commit_async(store.clone(), b).await {
        tracing::error!("outbox write failed: {e}");
    }
}
