//! The ACD actor: one tokio task owns the [`AcdCore`] and feeds it messages from
//! call tasks, the CTI API, the registrar and its own timer; it turns the core's
//! effects into channel messages (to call tasks, to the dialer), broadcast events
//! (desktops, wallboards) and storage writes (records and state history, applied
//! in batches by a separate task so the actor never waits for the disk).
//!
//! Time: the actor gives the core Unix milliseconds measured as the start time
//! plus `tokio::time::Instant` elapsed, so `#[tokio::test(start_paused = true)]`
//! drives queue timers on virtual time.
//!
//! # How a call task uses the ACD
//!
//! ```text
//! let (tx, mut rx) = tokio::sync::mpsc::channel(64);
//! acd.enqueue(QueuedCall { call_id, queue, caller, called, trunk, customer_id,
//!                          data, trail, entered_ms: now_ms() }, tx).await?;
//! loop {
//!   select! {
//!     Some(msg) = rx.recv() => match msg {
//!       AcdToCall::Queued { .. }        => note position / estimate in the trail
//!       AcdToCall::Music { on, prompt } => start_moh(prompt) / stop_moh()
//!       AcdToCall::Announce(a)          => play position / wait / prompt over the music
//!       AcdToCall::Offer { agent, contact, auto_answer, ring_ms } =>
//!           INVITE the agent's registered contact (registrar.lookup(agent) when
//!           `contact` is None); when it ends: acd.offer_result(call_id, &agent, r)
//!           with r = Answered (200), Rejected (603/decline), Busy (486),
//!           NoAnswer (408/480), Unregistered (no binding), Failed (other)
//!       AcdToCall::Answer { agent }     => the desktop answered: make the phone answer
//!       AcdToCall::CancelOffer { agent }=> CANCEL that INVITE (or BYE a late answer)
//!       AcdToCall::Bridge { agent }     => stop music, media::bridge(caller, agent)
//!       AcdToCall::Move { dest, .. }    => leave the queue: run the flow, dial the
//!                                          number, `transfer agent` (acd.direct), hang up
//!       AcdToCall::CallbackAccepted{..} => play a confirmation, hang up (no caller_gone needed)
//!       AcdToCall::Unavailable { .. }   => a direct offer failed: resume the flow with Failed
//!       AcdToCall::Hold / Resume        => caller on/off hold (MOH), agent leg muted
//!       AcdToCall::ReleaseAgent{agent}  => BYE that agent's leg, keep the caller
//!       AcdToCall::HangUp               => end the call (BYE both), then call_ended
//!       AcdToCall::Consult{agent,..}    => hold caller, ring agent, bridge agent<->agent;
//!                                          acd.offer_result(call, agent, ..)
//!       AcdToCall::ConsultEnd{agent}    => BYE the consulted agent, resume caller
//!       AcdToCall::CompleteTransfer{from,to} => bridge caller<->to, BYE from
//!       AcdToCall::Conference{agents}   => mix caller and all agents
//!       AcdToCall::TransferNumber{number} => blind transfer out (the ACD forgets the call)
//!       AcdToCall::Monitor{phone, mode} => ring the supervisor's phone; listen /
//!                                          whisper / barge with media::listen / whisper
//!       AcdToCall::TakeOver{phone, agent} => supervisor's leg replaces the agent's
//!       AcdToCall::MonitorEnd{phone}    => BYE the supervisor's leg
//!       AcdToCall::Data{data}           => keep for the contact record
//!       AcdToCall::SendDigits{digits,..} => RFC 4733 events to the caller (bridged)
//!     },
//!     key = dtmf()       => acd.caller_key(call_id, key).await,
//!     _ = caller_bye()   => acd.caller_gone(call_id).await,     // while waiting or ringing
//!   }
//! }
//! // after the bridged call ends (either side): acd.call_ended(call_id, Some(talk_ms)).await
//! // an agent leg of a conference/consultation hung up: acd.agent_left(call_id, agent).await
//! // hold from the phone itself: acd.held(call_id, on).await
//! ```
//!
//! The runtime's call task carries out this whole loop: `call::queue` the waiting
//! part (music, announcements, offers rung on the registered contact, cancel,
//! bridge, moves, callback acceptance, call data) and `call::bridged` the messages
//! for a bridged call (hold, consultation, transfers, conference, monitoring).
//!
//! A flow's `transfer agent "1001"` uses [`AcdHandle::direct`]: the agent is rung if
//! free, else the call task gets `Unavailable`.
//!
//! Calls the ACD places itself (a callback whose turn came, an agent's outbound
//! call) arrive as [`DialOrder`](dialect_acd::DialOrder)s on the receiver returned by [`AcdHandle::spawn`].
//! The runtime dials the number through the trunk; when it is answered the new call
//! task calls [`AcdHandle::dial_answered`] with its own event channel and from
//! then on behaves like any call task above (it gets `Offer`/`Bridge`); if the
//! number does not answer it calls [`AcdHandle::dial_failed`]. The server hands
//! each order to `call::dialled::place`, which does exactly that (for an outbound
//! call it rings the agent's phone before dialling the number). While it dials,
//! the call task watches [`AcdHandle::dial_given_up`]: the ACD cancels that token
//! when it stops waiting ([`Effect::DialGivenUp`](dialect_acd::Effect::DialGivenUp): `acd.dial_timeout_ms` passed,
//! or the reserved agent was released), and the task then cancels the ringing
//! number (CANCEL) and reports with `dial_failed`. A `dial_answered` that comes
//! after the ACD gave up gets `Unavailable`, and the task hangs up.
//!

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use dialect_compiler::Program;
use dialect_compiler::value::Value;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cluster::acd::{Ask, SharedAcd};
use crate::config::AgentConfig;
use crate::deploy::ProgramSlot;
use crate::store::{Batch, SharedStore, StoreError};
use crate::time::PausableClock;
use dialect_acd::AgentDef;
use dialect_acd::core::{
    AcdConfig, AcdCore, AgentCommand, AgentView, CtiError, CtiReply, Input, QueueView,
};
use dialect_acd::stats::{Aggregator, Report};
use dialect_acd::types::*;
use dialect_sip::auth::{AuthConfig, Ha1};
use dialect_sip::registrar::{CredentialLookup, Registrar, RegistrationEvent};

/// Tree of finished queue stays ([`CallRecord`]), by entry time.
pub const CALLS_TREE: &str = "acd_calls";
/// Tree of agent state changes, by time.
pub const STATES_TREE: &str = "acd_agent_states";
/// Tree of agents added or changed over the API.
pub const AGENTS_TREE: &str = "acd_agents";
/// Tree of each agent's latest state, by agent id: what a runtime taking the
/// ACD over in a cluster signs agents back in to.
pub const LATEST_STATES_TREE: &str = "acd_agent_state_now";

/// The ACD is not running any more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    /// The actor has stopped (shutdown).
    #[error("the ACD has stopped")]
    Stopped,
    /// In a cluster: the runtime running the ACD could not be asked (none
    /// runs it during a take-over, or it did not answer).
    #[error("{0}")]
    Elsewhere(String),
}

/// Where the ACD gets its queue rules.
#[derive(Clone)]
pub enum ProgramSource {
    /// The deployed program (followed across deployments).
    Slot(Arc<ProgramSlot>),
    /// A fixed program (tests, tools).
    Fixed(Program),
}

impl ProgramSource {
    fn current(&self) -> (u64, Program) {
        match self {
            ProgramSource::Slot(s) => {
                let d = s.current();
                (d.info.version, d.program.clone())
            }
            ProgramSource::Fixed(p) => (1, p.clone()),
        }
    }
}

/// Agent phone credentials for the registrar: the HA1 of each phone's password
/// for the registrar's realm, never the password itself, kept current by the
/// ACD (agents can be added over the API).
#[derive(Debug)]
pub struct AgentCredentials {
    realm: String,
    ha1s: RwLock<HashMap<String, Ha1>>,
}

impl AgentCredentials {
    fn new(realm: &str) -> AgentCredentials {
        AgentCredentials {
            realm: realm.to_string(),
            ha1s: RwLock::new(HashMap::new()),
        }
    }

    /// The realm the hashes are for.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn set(&self, id: &str, ha1: Option<Ha1>) {
        let mut m = match self.ha1s.write() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        match ha1 {
            Some(h) => {
                m.insert(id.to_string(), h);
            }
            None => {
                m.remove(id);
            }
        }
    }
}

impl CredentialLookup for AgentCredentials {
    fn ha1(&self, user: &str) -> Option<Ha1> {
        let m = match self.ha1s.read() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        m.get(user).cloned()
    }
}

/// An agent as stored after an API change. The phone password is kept only as
/// its HA1 for the realm it was set in: whoever reads the store learns no
/// password (and, with the data folder private, nothing at all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAgent {
    /// The definition as the API last set it: it replaces the configured agent of
    /// the same id (or removes it, with `removed`).
    pub def: AgentDef,
    /// The plaintext password older versions stored; read so that it can be
    /// turned into `ha1` at start ([`migrate_stored_passwords`]), never written.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// HA1 of the phone password (`None`: keep the configured one), 32 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ha1: Option<String>,
    /// The realm `ha1` was computed for: it is useless in another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Removed over the API.
    #[serde(default)]
    pub removed: bool,
}

impl StoredAgent {
    /// Whether this record sets the phone password (replacing the configured one).
    fn sets_password(&self) -> bool {
        self.password.is_some() || self.ha1.is_some()
    }

    /// The phone's HA1 for `realm`, from the stored hash when it was made for
    /// that realm, or from an older version's plaintext.
    pub fn ha1_for(&self, realm: &str) -> Option<Ha1> {
        if let Some(p) = &self.password {
            return Some(Ha1::from_password(&self.def.id, realm, p));
        }
        let hex = self.ha1.as_deref()?;
        if self.realm.as_deref() != Some(realm) {
            tracing::warn!(
                agent = %self.def.id,
                "the phone password of agent {} was set for SIP realm {:?}, not {realm:?}: \
                 the phone cannot register until the password is set again",
                self.def.id,
                self.realm.as_deref().unwrap_or("")
            );
            return None;
        }
        Ha1::from_hex(hex)
    }
}

/// Rewrites agents stored with a plaintext phone password (older versions) with
/// its HA1 for `realm` instead. Returns how many were rewritten. Run at start,
/// before the agents are read.
pub fn migrate_stored_passwords(store: &SharedStore, realm: &str) -> Result<usize, StoreError> {
    let mut b = Batch::new();
    let mut n = 0;
    for (key, value) in store.scan_prefix(AGENTS_TREE, b"")? {
        let Ok(mut agent) = serde_json::from_slice::<StoredAgent>(&value) else {
            continue;
        };
        let Some(password) = agent.password.take() else {
            continue;
        };
        agent.ha1 = Some(
            Ha1::from_password(&agent.def.id, realm, &password)
                .as_str()
                .to_string(),
        );
        agent.realm = Some(realm.to_string());
        b.put_json(AGENTS_TREE, key, &agent);
        n += 1;
    }
    if n > 0 {
        store.apply(b)?;
    }
    Ok(n)
}

type Job = Box<dyn FnOnce(&mut AcdCore, i64, &mut Vec<Effect>) + Send>;

enum Msg {
    Input(Input),
    WithSender(CallId, mpsc::Sender<AcdToCall>, Input),
    Job(Job),
    /// Start again from no calls, with every agent signed out, and run
    /// (`active`) or stand by: the ACD moved to or away from this runtime.
    Reset {
        active: bool,
    },
}

/// The handle call tasks and the API use; cheap to clone.
#[derive(Clone)]
pub struct AcdHandle {
    tx: mpsc::Sender<Msg>,
    events: broadcast::Sender<AcdEvent>,
    credentials: Arc<AgentCredentials>,
    store: SharedStore,
    dials: DialTokens,
    /// In a cluster, the ACD of whichever runtime runs it, set once at start.
    shared: Arc<std::sync::OnceLock<Arc<crate::cluster::acd::SharedAcd>>>,
    /// Goes to this runtime's actor even in a cluster (the shared ACD's own
    /// handle on the actor it drives).
    local_only: bool,
    /// Agents' phones registered with other runtimes of a cluster: agent id
    /// to contact URI, for the offers this runtime's ACD makes.
    contacts_elsewhere: ContactsElsewhere,
}

/// Agent id to the contact URI its phone registered with another runtime.
pub(crate) type ContactsElsewhere = Arc<std::sync::Mutex<HashMap<String, String>>>;

/// One token per placed call the ACD waits for, cancelled when it gives up
/// ([`Effect::DialGivenUp`]); the call task watches it while it dials.
type DialTokens = Arc<std::sync::Mutex<HashMap<CallId, CancellationToken>>>;

impl std::fmt::Debug for AcdHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcdHandle").finish()
    }
}

/// The agents the ACD starts with: the configuration's, the project's that the
/// configuration does not name (without phone passwords), then API changes;
/// and the HA1 of each phone password for `realm`.
pub fn initial_agents(
    config: &[AgentConfig],
    program: &Program,
    stored: &[StoredAgent],
    realm: &str,
) -> (Vec<AgentDef>, Vec<(String, Ha1)>) {
    let mut defs: Vec<AgentDef> = Vec::new();
    let mut ha1s = Vec::new();
    for a in config {
        defs.push(AgentDef {
            id: a.id.clone(),
            name: a.name.clone(),
            skills: a.skills.iter().map(|(s, l)| (s.clone(), *l)).collect(),
            auto_answer: a.auto_answer,
        });
        ha1s.push((a.id.clone(), Ha1::from_password(&a.id, realm, &a.password)));
    }
    for a in &program.ir().agents {
        if !defs.iter().any(|d| d.id == a.id) {
            defs.push(AgentDef {
                id: a.id.clone(),
                name: a.name.clone(),
                skills: a.skills.clone(),
                auto_answer: false,
            });
        }
    }
    for s in stored {
        defs.retain(|d| d.id != s.def.id);
        ha1s.retain(|(id, _)| *id != s.def.id || !s.sets_password() && !s.removed);
        if !s.removed {
            defs.push(s.def.clone());
            if let Some(h) = s.ha1_for(realm) {
                ha1s.push((s.def.id.clone(), h));
            }
        }
    }
    (defs, ha1s)
}

/// Reads the agents changed over the API.
pub fn stored_agents(store: &SharedStore) -> Vec<StoredAgent> {
    store
        .scan_prefix(AGENTS_TREE, b"")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(_, v)| serde_json::from_slice(&v).ok())
        .collect()
}

impl AcdHandle {
    /// Starts the actor. `agents` are the configured agents (the project's and
    /// those stored after API changes are added). Returns the handle and the
    /// receiver of calls the runtime must place (callbacks, outbound calls).
    pub fn spawn(
        config: AcdConfig,
        program: ProgramSource,
        agents: &[AgentConfig],
        store: SharedStore,
        registrar: Option<Registrar>,
        shutdown: CancellationToken,
    ) -> (AcdHandle, mpsc::Receiver<DialOrder>) {
        let (tx, rx) = mpsc::channel(16_384);
        let (events, _) = broadcast::channel(4_096);
        let (dial_tx, dial_rx) = mpsc::channel(1_024);
        // Phone passwords are hashed for the registrar's realm.
        let realm = registrar
            .as_ref()
            .map_or_else(|| AuthConfig::default().realm, |r| r.realm().to_string());
        let credentials = Arc::new(AgentCredentials::new(&realm));
        let (version, prog) = program.current();
        match migrate_stored_passwords(&store, &realm) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "{n} stored agent phone passwords replaced by their HA1; \
                 change those passwords if the data folder was ever readable by others"
            ),
            Err(e) => tracing::error!("stored agent phone passwords could not be migrated: {e}"),
        }
        let stored = stored_agents(&store);
        let (defs, ha1s) = initial_agents(agents, &prog, &stored, &realm);
        for (id, h) in ha1s {
            credentials.set(&id, Some(h));
        }
        let clock = PausableClock::system();
        let core = AcdCore::new(config.clone(), prog, defs, clock.now_ms());
        let (writer_tx, writer_rx) = mpsc::channel(65_536);
        tokio::spawn(writer(store.clone(), writer_rx));
        let dials = DialTokens::default();
        let contacts_elsewhere = ContactsElsewhere::default();
        let actor = Actor {
            config,
            agent_configs: agents.to_vec(),
            store: store.clone(),
            active: true,
            contacts_elsewhere: contacts_elsewhere.clone(),
            dials: dials.clone(),
            core,
            clock,
            rx,
            senders: HashMap::new(),
            dial_tx,
            events: events.clone(),
            writer: writer_tx,
            registrar,
            program,
            version,
            wake: None,
            out: Vec::new(),
            follow: Vec::new(),
        };
        tokio::spawn(actor.run(shutdown));
        (
            AcdHandle {
                tx,
                events,
                credentials,
                store,
                dials,
                shared: Default::default(),
                local_only: false,
                contacts_elsewhere,
            },
            dial_rx,
        )
    }

    /// HA1s of agent phones, for the registrar (`Registrar::new(.., acd.credentials(), ..)`).
    pub fn credentials(&self) -> Arc<AgentCredentials> {
        self.credentials.clone()
    }

    /// Publishes an event of another part of the runtime (the dialer's) on
    /// the ACD's stream, for the desktops and wallboards that follow it.
    pub fn publish(&self, ev: AcdEvent) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.events.send(ev);
    }

    /// Events from now on (desktops, wallboards), the ACD's and those
    /// published into its stream.
    pub fn subscribe(&self) -> broadcast::Receiver<AcdEvent> {
        self.events.subscribe()
    }

    /// In a cluster, the shared ACD that call tasks' messages go through.
    fn shared(&self) -> Option<&Arc<SharedAcd>> {
        if self.local_only {
            None
        } else {
            self.shared.get()
        }
    }

    /// In a cluster where another runtime runs the ACD now: the shared ACD
    /// that asks it.
    fn elsewhere(&self) -> Option<&Arc<SharedAcd>> {
        self.shared().filter(|s| !s.runs_here())
    }

    /// Makes this runtime's ACD one of a cluster's: from now on call tasks
    /// and the API reach the ACD of whichever runtime runs it.
    pub(crate) fn join(&self, shared: Arc<SharedAcd>) {
        let _ = self.shared.set(shared);
    }

    /// In a cluster, this runtime's part of the cluster's ACD.
    pub(crate) fn shared_acd(&self) -> Option<Arc<SharedAcd>> {
        self.shared.get().cloned()
    }

    /// A handle on this runtime's own actor, whatever runs the cluster's ACD.
    pub(crate) fn local(&self) -> AcdHandle {
        AcdHandle {
            local_only: true,
            ..self.clone()
        }
    }

    /// Starts the actor again from no calls (every agent signed out), running
    /// the ACD or standing by.
    pub(crate) async fn reset(&self, active: bool) -> Result<(), AcdError> {
        self.send(Msg::Reset { active }).await
    }

    /// Phones registered with other runtimes, which this runtime's offers ring.
    pub(crate) fn contacts_elsewhere(&self) -> &ContactsElsewhere {
        &self.contacts_elsewhere
    }

    /// Hands the actor an input for call `call`, with the channel its
    /// messages go to (a call handed over from another runtime or instance).
    pub(crate) async fn input_with_sender(
        &self,
        call: CallId,
        events: mpsc::Sender<AcdToCall>,
        input: Input,
    ) -> Result<(), AcdError> {
        self.send(Msg::WithSender(call, events, input)).await
    }

    /// Hands the actor an input as it comes.
    pub(crate) async fn input(&self, input: Input) -> Result<(), AcdError> {
        self.send(Msg::Input(input)).await
    }

    async fn send(&self, m: Msg) -> Result<(), AcdError> {
        self.tx.send(m).await.map_err(|_| AcdError::Stopped)
    }

    /// A call enters a queue; the ACD talks to the call task through `events`.
    pub async fn enqueue(
        &self,
        call: QueuedCall,
        events: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.enqueue(call, events).await;
        }
        self.send(Msg::WithSender(call.call_id, events, Input::Enqueue(call)))
            .await
    }

    /// A call asks for one agent (`transfer agent`): offered if free, else `Unavailable`.
    pub async fn direct(
        &self,
        call: QueuedCall,
        agent: &str,
        events: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.direct(call, agent, events).await;
        }
        self.send(Msg::WithSender(
            call.call_id,
            events,
            Input::Direct {
                call,
                agent: agent.to_string(),
            },
        ))
        .await
    }

    /// How an offer (or consultation) to `agent` ended.
    pub async fn offer_result(
        &self,
        call: CallId,
        agent: &str,
        result: OfferResult,
    ) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.offer_result(call, agent, result).await;
        }
        self.send(Msg::Input(Input::OfferResult {
            call,
            agent: agent.to_string(),
            result,
        }))
        .await
    }

    /// The caller pressed a key while waiting.
    pub async fn caller_key(&self, call: CallId, key: char) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.input(Input::CallerKey { call, key }).await;
        }
        self.send(Msg::Input(Input::CallerKey { call, key })).await
    }

    /// The caller hung up while waiting or ringing.
    pub async fn caller_gone(&self, call: CallId) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.input(Input::CallerGone { call }).await;
        }
        self.send(Msg::Input(Input::CallerGone { call })).await
    }

    /// The call with its agent ended.
    pub async fn call_ended(&self, call: CallId, talk_ms: Option<i64>) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.input(Input::CallEnded { call, talk_ms }).await;
        }
        self.send(Msg::Input(Input::CallEnded { call, talk_ms }))
            .await
    }

    /// An agent's leg of a conference or consultation hung up.
    pub async fn agent_left(&self, call: CallId, agent: &str) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared
                .input(Input::AgentLeft {
                    call,
                    agent: agent.to_string(),
                })
                .await;
        }
        self.send(Msg::Input(Input::AgentLeft {
            call,
            agent: agent.to_string(),
        }))
        .await
    }

    /// The caller was put on or off hold from the phone.
    pub async fn held(&self, call: CallId, on: bool) -> Result<(), AcdError> {
        if let Some(shared) = self.shared() {
            return shared.input(Input::Held { call, on }).await;
        }
        self.send(Msg::Input(Input::Held { call, on })).await
    }

    /// Cancelled when the ACD gives up on placed call `call` (its dial timeout
    /// fired): the call task stops ringing the number (CANCEL) and reports with
    /// [`AcdHandle::dial_failed`]. Take it when the order arrives.
    pub fn dial_given_up(&self, call: CallId) -> CancellationToken {
        let dials = self.dials.lock().unwrap_or_else(|e| e.into_inner());
        dials.get(&call).cloned().unwrap_or_default()
    }

    /// A placed call (callback, outbound) was answered; `events` is the new call
    /// task's channel. Should the ACD have given up on it meanwhile, the channel
    /// gets `Unavailable` and the call task hangs up.
    pub async fn dial_answered(
        &self,
        call: CallId,
        events: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        self.forget_dial(call);
        self.send(Msg::WithSender(call, events, Input::DialAnswered { call }))
            .await
    }

    /// A placed call failed.
    pub async fn dial_failed(&self, call: CallId, reason: &str) -> Result<(), AcdError> {
        self.forget_dial(call);
        self.send(Msg::Input(Input::DialFailed {
            call,
            reason: reason.to_string(),
        }))
        .await
    }

    fn forget_dial(&self, call: CallId) {
        let mut dials = self.dials.lock().unwrap_or_else(|e| e.into_inner());
        dials.remove(&call);
    }

    /// An agent's phone registered or went away (the actor also follows the
    /// registrar it was given).
    pub async fn registration(&self, agent: &str, registered: bool) -> Result<(), AcdError> {
        self.send(Msg::Input(Input::Registration {
            agent: agent.to_string(),
            registered,
        }))
        .await
    }

    async fn ask<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut AcdCore, i64, &mut Vec<Effect>) -> T + Send + 'static,
    ) -> Result<T, AcdError> {
        let (tx, rx) = oneshot::channel();
        self.send(Msg::Job(Box::new(move |core, now, out| {
            let _ = tx.send(f(core, now, out));
        })))
        .await?;
        rx.await.map_err(|_| AcdError::Stopped)
    }

    /// An agent's (or, `by` someone else, a supervisor's) command.
    pub async fn command(
        &self,
        agent: &str,
        cmd: AgentCommand,
        by: &str,
    ) -> Result<Result<CtiReply, CtiError>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared
                .ask(Ask::Command {
                    agent: agent.to_string(),
                    cmd,
                    by: by.to_string(),
                })
                .await;
        }
        let agent = agent.to_string();
        let by = by.to_string();
        self.ask(move |core, now, out| core.command(now, &agent, cmd, &by, out))
            .await
    }

    /// Holds a ready agent back from offers while a previewed campaign target
    /// is shown to them (see `AcdCore::reserve`).
    pub async fn reserve(&self, agent: &str, reason: &str) -> Result<Result<(), String>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared
                .ask(Ask::Reserve {
                    agent: agent.to_string(),
                    reason: reason.to_string(),
                })
                .await;
        }
        let agent = agent.to_string();
        let reason = reason.to_string();
        self.ask(move |core, now, out| core.reserve(&agent, &reason, now, out))
            .await
    }

    /// Ends an agent's preview reservation (nothing if it has ended already).
    pub async fn release_reservation(&self, agent: &str) -> Result<(), AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared
                .ask(Ask::ReleaseReservation {
                    agent: agent.to_string(),
                })
                .await;
        }
        let agent = agent.to_string();
        self.ask(move |core, now, out| core.release_reservation(&agent, now, out))
            .await
    }

    /// The real-time view of every queue.
    pub async fn queues(&self, with_calls: bool) -> Result<Vec<QueueView>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared.ask(Ask::Queues { with_calls }).await;
        }
        self.ask(move |core, now, _| core.queue_views(now, with_calls))
            .await
    }

    /// One queue, with its waiting calls.
    pub async fn queue(&self, name: &str) -> Result<Option<QueueView>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared
                .ask(Ask::Queue {
                    name: name.to_string(),
                })
                .await;
        }
        let name = name.to_string();
        self.ask(move |core, now, _| core.queue_view_named(&name, now))
            .await
    }

    /// The real-time view of every agent.
    pub async fn agents(&self) -> Result<Vec<AgentView>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared.ask(Ask::Agents).await;
        }
        self.ask(|core, now, _| core.agent_views(now)).await
    }

    /// One agent's real-time view; `None` when no agent has that id.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentView>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared.ask(Ask::Agent { id: id.to_string() }).await;
        }
        let id = id.to_string();
        self.ask(move |core, now, _| core.agent_view_named(&id, now))
            .await
    }

    /// A call's data and the agents on it.
    #[allow(clippy::type_complexity)]
    pub async fn call_data(
        &self,
        call: CallId,
    ) -> Result<Option<(Vec<(String, Value)>, Vec<String>)>, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared.ask(Ask::CallData { call }).await;
        }
        self.ask(move |core, _, _| core.call_data(call).map(|d| (d, core.call_agents(call))))
            .await
    }

    /// Sets (or with `replace`, replaces) a call's data.
    pub async fn set_call_data(
        &self,
        call: CallId,
        data: Vec<(String, Value)>,
        replace: bool,
    ) -> Result<bool, AcdError> {
        if let Some(shared) = self.elsewhere() {
            return shared
                .ask(Ask::SetCallData {
                    call,
                    data,
                    replace,
                })
                .await;
        }
        self.ask(move |core, _, out| core.set_call_data(call, data, replace, out))
            .await
    }

    /// Adds or changes an agent (stored durably; the password, when given, is the
    /// phone's for the registrar, and only its HA1 is kept). The caller checks
    /// the password against the rule (`dialect_sip::auth::check_password`).
    pub async fn upsert_agent(
        &self,
        def: AgentDef,
        password: Option<String>,
    ) -> Result<Result<(), StoreError>, AcdError> {
        let realm = self.credentials.realm().to_string();
        let ha1 = password.map(|p| Ha1::from_password(&def.id, &realm, &p));
        let stored = StoredAgent {
            def: def.clone(),
            password: None,
            ha1: ha1.as_ref().map(|h| h.as_str().to_string()),
            realm: ha1.is_some().then_some(realm),
            removed: false,
        };
        let mut b = Batch::new();
        b.put_json(AGENTS_TREE, def.id.as_bytes().to_vec(), &stored);
        if let Err(e) = crate::store::commit_async(self.store.clone(), b).await {
            return Ok(Err(e));
        }
        if let Some(h) = ha1 {
            self.credentials.set(&def.id, Some(h));
        }
        self.ask(move |core, now, out| core.upsert_agent(def, now, out))
            .await?;
        Ok(Ok(()))
    }

    /// Follows an agent another runtime of the cluster added, changed or
    /// removed over the API (as stored): the phone's password for the
    /// registrar and the agent for this runtime's ACD.
    pub(crate) async fn follow_stored_agent(&self, stored: StoredAgent) -> Result<(), AcdError> {
        let realm = self.credentials.realm().to_string();
        if stored.removed {
            self.credentials.set(&stored.def.id, None);
            let id = stored.def.id;
            self.ask(move |core, now, out| {
                core.remove_agent(&id, now, out);
            })
            .await
        } else {
            if let Some(h) = stored.ha1_for(&realm) {
                self.credentials.set(&stored.def.id, Some(h));
            }
            let def = stored.def;
            self.ask(move |core, now, out| core.upsert_agent(def, now, out))
                .await
        }
    }

    /// Removes an agent (after their current call); false when unknown.
    pub async fn remove_agent(&self, id: &str) -> Result<Result<bool, StoreError>, AcdError> {
        let id2 = id.to_string();
        let def = self
            .ask(move |core, _, _| core.agent_defs().into_iter().find(|d| d.id == id2))
            .await?;
        let Some(def) = def else {
            return Ok(Ok(false));
        };
        let stored = StoredAgent {
            def,
            password: None,
            ha1: None,
            realm: None,
            removed: true,
        };
        let mut b = Batch::new();
        b.put_json(AGENTS_TREE, id.as_bytes().to_vec(), &stored);
        if let Err(e) = crate::store::commit_async(self.store.clone(), b).await {
            return Ok(Err(e));
        }
        self.credentials.set(id, None);
        let id = id.to_string();
        Ok(Ok(self
            .ask(move |core, now, out| core.remove_agent(&id, now, out))
            .await?))
    }

    /// Statistics over `[from_ms, to_ms)` from stored records and state history.
    pub async fn report(
        &self,
        from_ms: i64,
        to_ms: i64,
        threshold_ms: Option<i64>,
    ) -> Result<Result<Report, StoreError>, AcdError> {
        #[allow(clippy::type_complexity)]
        let (agent_skills, queue_agents, queue_sl): (
            HashMap<String, Vec<String>>,
            HashMap<String, Vec<String>>,
            HashMap<String, i64>,
        ) = self
            .ask(|core, now, _| {
                let agents = core.agent_views(now);
                let agent_skills = agents
                    .iter()
                    .map(|a| {
                        (
                            a.id.clone(),
                            a.skills.iter().map(|(s, _)| s.clone()).collect(),
                        )
                    })
                    .collect();
                let mut queue_agents: HashMap<String, Vec<String>> = HashMap::new();
                for a in &agents {
                    for q in &a.queues {
                        queue_agents
                            .entry(q.clone())
                            .or_default()
                            .push(a.id.clone());
                    }
                }
                let queue_sl = core
                    .queue_views(now, false)
                    .into_iter()
                    .map(|q| (q.name, q.service_level_ms))
                    .collect();
                (agent_skills, queue_agents, queue_sl)
            })
            .await?;
        let store = self.store.clone();
        let now = crate::time::now_ms();
        let r = tokio::task::spawn_blocking(move || {
            read_report(
                &store,
                from_ms,
                to_ms,
                threshold_ms,
                now,
                &agent_skills,
                &queue_agents,
                &queue_sl,
            )
        })
        .await
        .map_err(|_| AcdError::Stopped)?;
        Ok(r)
    }
}

fn time_key(at_ms: i64) -> [u8; 8] {
    ((at_ms as u64) ^ (1 << 63)).to_be_bytes()
}

#[allow(clippy::too_many_arguments)]
fn read_report(
    store: &SharedStore,
    from_ms: i64,
    to_ms: i64,
    threshold_ms: Option<i64>,
    now: i64,
    agent_skills: &HashMap<String, Vec<String>>,
    queue_agents: &HashMap<String, Vec<String>>,
    queue_sl: &HashMap<String, i64>,
) -> Result<Report, StoreError> {
    let mut agg = Aggregator::new(from_ms, to_ms, threshold_ms);
    for (_, v) in store.range(
        CALLS_TREE,
        &time_key(from_ms),
        &time_key(to_ms),
        usize::MAX,
        false,
    )? {
        if let Ok(r) = serde_json::from_slice::<CallRecord>(&v) {
            let sl = queue_sl.get(&r.queue).copied().unwrap_or(20_000);
            agg.add_record(&r, sl);
        }
    }
    // State changes from a day before the period, to know each agent's state at its start.
    let lookback = from_ms.saturating_sub(86_400_000);
    for (_, v) in store.range(
        STATES_TREE,
        &time_key(lookback),
        &time_key(to_ms),
        usize::MAX,
        false,
    )? {
        if let Ok(c) = serde_json::from_slice::<AgentStateChange>(&v) {
            agg.add_state(&c);
        }
    }
    Ok(agg.finish(now, agent_skills, queue_agents))
}

struct Actor {
    config: AcdConfig,
    agent_configs: Vec<AgentConfig>,
    store: SharedStore,
    /// Runs the ACD (always, on a runtime alone); a standby in a cluster
    /// publishes, stores and dials nothing.
    active: bool,
    contacts_elsewhere: ContactsElsewhere,
    core: AcdCore,
    clock: PausableClock,
    rx: mpsc::Receiver<Msg>,
    senders: HashMap<CallId, mpsc::Sender<AcdToCall>>,
    dial_tx: mpsc::Sender<DialOrder>,
    dials: DialTokens,
    events: broadcast::Sender<AcdEvent>,
    writer: mpsc::Sender<AcdEvent>,
    registrar: Option<Registrar>,
    program: ProgramSource,
    version: u64,
    wake: Option<i64>,
    out: Vec<Effect>,
    follow: Vec<Input>,
}

impl Actor {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut reg = self.registrar.as_ref().map(|r| r.subscribe());
        self.note_registered_phones();
        let mut housekeeping = tokio::time::interval(std::time::Duration::from_secs(1));
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.wake.map(|t| self.clock.instant_at(t));
            tokio::select! {
                // Cancel-safe: cancellation is a level.
                _ = shutdown.cancelled() => break,
                // Cancel-safe: mpsc::Receiver::recv.
                m = self.rx.recv() => match m {
                    Some(m) => self.message(m),
                    None => break,
                },
                // Cancel-safe: a sleep re-created each turn.
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.wake = None;
                    let now = self.clock.now_ms();
                    self.core.handle(now, Input::Tick, &mut self.out);
                    self.apply();
                }
                // Cancel-safe: broadcast::Receiver::recv.
                ev = recv_registration(&mut reg), if reg.is_some() => {
                    match ev {
                        Some(RegistrationEvent::Registered { aor, .. }) => {
                            self.follow.push(Input::Registration { agent: aor, registered: true });
                        }
                        Some(RegistrationEvent::Unregistered { aor, .. }) => {
                            let still = self.registrar.as_ref().is_some_and(|r| !r.lookup(&aor).is_empty());
                            self.follow.push(Input::Registration { agent: aor, registered: still });
                        }
                        None => reg = None,
                    }
                    self.drain_follow();
                }
                // Cancel-safe: Interval::tick.
                _ = housekeeping.tick() => self.check_program(),
            }
        }
    }

    /// Tells the core which agents' phones are registered here now.
    fn note_registered_phones(&mut self) {
        if let Some(r) = &self.registrar {
            for user in r.registered_users() {
                self.follow.push(Input::Registration {
                    agent: user,
                    registered: true,
                });
            }
            self.drain_follow();
        }
    }

    /// Starts again from no calls and every agent signed out (the agents as
    /// configured and as stored now), running or standing by.
    fn reset(&mut self, active: bool) {
        let (version, program) = self.program.current();
        self.version = version;
        let stored = stored_agents(&self.store);
        let (defs, _) = initial_agents(
            &self.agent_configs,
            &program,
            &stored,
            AuthConfig::default().realm.as_str(),
        );
        self.core = AcdCore::new(self.config.clone(), program, defs, self.clock.now_ms());
        self.senders.clear();
        self.wake = None;
        self.out.clear();
        self.follow.clear();
        self.active = active;
        self.note_registered_phones();
    }

    fn check_program(&mut self) {
        let (version, program) = self.program.current();
        if version != self.version {
            self.version = version;
            let now = self.clock.now_ms();
            self.core.set_program(program, now, &mut self.out);
            self.apply();
        }
    }

    fn message(&mut self, m: Msg) {
        let now = self.clock.now_ms();
        match m {
            Msg::Input(input) => {
                let gone = match &input {
                    Input::CallerGone { call } | Input::CallEnded { call, .. } => Some(*call),
                    _ => None,
                };
                self.core.handle(now, input, &mut self.out);
                self.apply();
                if let Some(c) = gone {
                    self.senders.remove(&c);
                }
            }
            Msg::WithSender(call, tx, input) => {
                if matches!(input, Input::Enqueue(_) | Input::Direct { .. }) {
                    self.check_program();
                }
                self.senders.insert(call, tx);
                self.core.handle(now, input, &mut self.out);
                self.apply();
            }
            Msg::Job(f) => {
                f(&mut self.core, now, &mut self.out);
                self.apply();
            }
            Msg::Reset { active } => self.reset(active),
        }
        self.drain_follow();
    }

    fn drain_follow(&mut self) {
        // Inputs that effects caused (a closed call channel, a dial that could not
        // be handed over); bounded so that a bug cannot spin.
        for _ in 0..1_000 {
            let Some(input) = self.follow.pop() else {
                return;
            };
            let now = self.clock.now_ms();
            self.core.handle(now, input, &mut self.out);
            self.apply();
        }
    }

    fn apply(&mut self) {
        let effects = std::mem::take(&mut self.out);
        for e in effects {
            match e {
                Effect::ToCall(call, msg) => self.send_to_call(call, msg),
                Effect::Dial(_) | Effect::Event(_) if !self.active => {}
                Effect::Dial(order) => {
                    let call = order.call;
                    // The token exists before the call task can ask for it.
                    self.dials
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(call, CancellationToken::new());
                    if self.dial_tx.try_send(order).is_err() {
                        self.follow.push(Input::DialFailed {
                            call,
                            reason: "no dialer".into(),
                        });
                    }
                }
                Effect::Event(ev) => {
                    if matches!(ev, AcdEvent::Record(_) | AcdEvent::AgentState(_))
                        && self.writer.try_send(ev.clone()).is_err()
                    {
                        tracing::warn!("ACD statistics writer is behind; an event was dropped");
                    }
                    let _ = self.events.send(ev);
                }
                Effect::DialGivenUp(call) => {
                    let token = self
                        .dials
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&call);
                    if let Some(t) = token {
                        t.cancel();
                    }
                }
                Effect::WakeAt(t) => {
                    self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
                }
            }
        }
    }

    fn send_to_call(&mut self, call: CallId, mut msg: AcdToCall) {
        if let (
            AcdToCall::Offer { agent, contact, .. } | AcdToCall::Consult { agent, contact, .. },
            Some(r),
        ) = (&mut msg, &self.registrar)
            && contact.is_none()
        {
            *contact = r.lookup(agent).first().map(|b| b.contact.clone());
        }
        if let AcdToCall::Offer { agent, contact, .. } | AcdToCall::Consult { agent, contact, .. } =
            &mut msg
            && contact.is_none()
        {
            // A phone registered with another runtime of the cluster.
            let elsewhere = self
                .contacts_elsewhere
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *contact = elsewhere.get(&**agent).cloned();
        }
        let leaves = matches!(
            msg,
            AcdToCall::Move { .. }
                | AcdToCall::TransferNumber { .. }
                | AcdToCall::Unavailable { .. }
                | AcdToCall::CallbackAccepted { .. }
        );
        let Some(tx) = self.senders.get(&call) else {
            return;
        };
        match tx.try_send(msg) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.senders.remove(&call);
                self.follow.push(Input::CallerGone { call });
                return;
            }
            Err(mpsc::error::TrySendError::Full(m)) => {
                tracing::warn!(call, "call task is not reading ACD messages; dropped {m:?}");
            }
        }
        if leaves {
            self.senders.remove(&call);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub(crate) async fn recv_registration(
    rx: &mut Option<broadcast::Receiver<RegistrationEvent>>,
) -> Option<RegistrationEvent> {
    let r = rx.as_mut()?;
    loop {
        match r.recv().await {
            Ok(e) => return Some(e),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// Writes records and state changes in batches, off the actor (`Store::apply`: may
/// be lost in a crash, like any statistics).
async fn writer(store: SharedStore, mut rx: mpsc::Receiver<AcdEvent>) {
    let mut seq: u64 = 0;
    let mut buf = Vec::new();
    loop {
        if rx.recv_many(&mut buf, 1_024).await == 0 {
            return;
        }
        let mut b = Batch::new();
        for ev in buf.drain(..) {
            seq += 1;
            match ev {
                AcdEvent::Record(r) => {
                    let mut k = time_key(r.entered_ms).to_vec();
                    k.extend_from_slice(&r.call.to_be_bytes());
                    k.extend_from_slice(&seq.to_be_bytes());
                    b.put_json(CALLS_TREE, k, &r);
                }
                AcdEvent::AgentState(c) => {
                    let mut k = time_key(c.at_ms).to_vec();
                    k.extend_from_slice(&seq.to_be_bytes());
                    b.put_json(STATES_TREE, k, &c);
                    b.put_json(LATEST_STATES_TREE, c.agent.as_bytes().to_vec(), &c);
                }
                _ => {}
            }
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || s.apply(b)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("ACD statistics write failed: {e}"),
            Err(e) => tracing::error!("ACD statistics write task failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    /// The actor on the hotline project with agent 2001 signed in, and the
    /// receiver of its dial orders.
    async fn acd(
        name: &str,
    ) -> (
        AcdHandle,
        mpsc::Receiver<DialOrder>,
        CancellationToken,
        std::path::PathBuf,
    ) {
        let dir =
            std::env::temp_dir().join(format!("dialect-acd-actor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: SharedStore = Arc::new(crate::store::SledStore::open(&dir.join("db")).unwrap());
        let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
        let bundle = crate::deploy::compile_project(&project).unwrap();
        let slot = Arc::new(
            ProgramSlot::new(&bundle, dialect_compiler::Engine::Native, BTreeMap::new()).unwrap(),
        );
        let agents = vec![AgentConfig {
            id: "2001".into(),
            name: "Agent".into(),
            password: "secret".into(),
            skills: [("general".to_string(), 3)].into_iter().collect(),
            auto_answer: false,
            dial_plan: None,
        }];
        let shutdown = CancellationToken::new();
        let (acd, dials) = AcdHandle::spawn(
            AcdConfig::default(),
            ProgramSource::Slot(slot),
            &agents,
            store,
            None,
            shutdown.clone(),
        );
        acd.command("2001", AgentCommand::SignIn, "2001")
            .await
            .unwrap()
            .unwrap();
        (acd, dials, shutdown, dir)
    }

    async fn dial(acd: &AcdHandle, dials: &mut mpsc::Receiver<DialOrder>) -> DialOrder {
        acd.command(
            "2001",
            AgentCommand::Dial {
                number: "13800138000".into(),
                trunk: String::new(),
            },
            "2001",
        )
        .await
        .unwrap()
        .unwrap();
        dials.recv().await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_placed_call_learns_when_the_acd_gives_up_on_it() {
        let (acd, mut dials, shutdown, dir) = acd("given-up").await;
        let order = dial(&acd, &mut dials).await;
        let given_up = acd.dial_given_up(order.call);
        let limit = AcdConfig::default().dial_timeout_ms as u64;
        tokio::time::sleep(Duration::from_millis(limit - 1_000)).await;
        assert!(!given_up.is_cancelled(), "not before the dial timeout");
        tokio::time::timeout(Duration::from_secs(2), given_up.cancelled())
            .await
            .expect("cancelled at the dial timeout");
        let agent = acd.agent("2001").await.unwrap().unwrap();
        assert_eq!(agent.state, AgentStatus::NotReady);

        // The number answers just then: the call task is told to hang up.
        let (tx, mut rx) = mpsc::channel(4);
        acd.dial_answered(order.call, tx).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(1), rx.recv())
            .await
            .unwrap();
        assert!(matches!(m, Some(AcdToCall::Unavailable { .. })), "{m:?}");
        shutdown.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(start_paused = true)]
    async fn a_placed_call_answered_in_time_is_bridged_and_not_given_up() {
        let (acd, mut dials, shutdown, dir) = acd("in-time").await;
        let order = dial(&acd, &mut dials).await;
        let given_up = acd.dial_given_up(order.call);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (tx, mut rx) = mpsc::channel(4);
        acd.dial_answered(order.call, tx).await.unwrap();
        let m = tokio::time::timeout(Duration::from_secs(1), rx.recv())
            .await
            .unwrap();
        assert!(matches!(m, Some(AcdToCall::Bridge { .. })), "{m:?}");
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(!given_up.is_cancelled());
        shutdown.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(start_paused = true)]
    async fn a_plaintext_phone_password_left_by_an_older_version_becomes_its_ha1() {
        let dir =
            std::env::temp_dir().join(format!("dialect-acd-actor-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store: SharedStore = Arc::new(crate::store::SledStore::open(&dir.join("db")).unwrap());
        // What an older version wrote for an agent added over the API.
        let old = r#"{"def":{"id":"3001","name":"Old","skills":[],"auto_answer":false},"password":"Old-password-9","removed":false}"#;
        let mut b = Batch::new();
        b.put(AGENTS_TREE, b"3001".to_vec(), old.as_bytes().to_vec());
        store.apply(b).unwrap();
        let project = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
        let bundle = crate::deploy::compile_project(&project).unwrap();
        let slot = Arc::new(
            ProgramSlot::new(&bundle, dialect_compiler::Engine::Native, BTreeMap::new()).unwrap(),
        );
        let shutdown = CancellationToken::new();
        let (acd, _dials) = AcdHandle::spawn(
            AcdConfig::default(),
            ProgramSource::Slot(slot),
            &[],
            store.clone(),
            None,
            shutdown.clone(),
        );
        // The phone still authenticates with its password...
        let ha1 = Ha1::from_password("3001", "dialect", "Old-password-9");
        assert_eq!(acd.credentials().ha1("3001"), Some(ha1.clone()));
        // ...and the store holds only the hash now.
        let stored = store.scan_prefix(AGENTS_TREE, b"3001").unwrap();
        let text = String::from_utf8_lossy(&stored[0].1).to_string();
        assert!(!text.contains("Old-password-9"), "{text}");
        assert!(text.contains(ha1.as_str()), "{text}");
        let agent: StoredAgent = serde_json::from_slice(&stored[0].1).unwrap();
        assert_eq!(agent.password, None);
        assert_eq!(agent.realm.as_deref(), Some("dialect"));
        // A second start finds nothing to migrate and the same credentials.
        assert_eq!(migrate_stored_passwords(&store, "dialect").unwrap(), 0);
        assert_eq!(stored_agents(&store)[0].ha1_for("dialect"), Some(ha1));
        // A hash made for another realm is no use in this one.
        assert_eq!(stored_agents(&store)[0].ha1_for("elsewhere"), None);
        shutdown.cancel();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
