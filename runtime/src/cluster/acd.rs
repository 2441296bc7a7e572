//! The ACD across the runtimes of a cluster: one runtime runs it, every
//! runtime keeps its own calls.
//!
//! The runtime holding the `acd` lease runs the ACD: its actor decides for
//! every call of the cluster. Every other runtime keeps the calls that
//! arrived on it (their media, their flows) and links to the ACD over one
//! WebSocket (`/internal/v1/acd/link`, with the cluster's secret): up go its
//! calls entering queues, what its call tasks report (offers answered or not,
//! keys, hang-ups) and its agents' phone registrations; down come the ACD's
//! orders for its calls (music, announcements, offers with the agent phone's
//! contact, bridge, moves) and the ACD's events for its desktops and
//! wallboards. An agent's phone registered with any runtime is rung by the
//! runtime holding the call. The API's ACD questions and commands
//! (`/api/v1/agents/…`, queues, call data) go to the ACD's runtime over
//! `/internal/v1/acd/ask`.
//!
//! Each runtime remembers where its calls are ([`SharedAcd`]'s sessions:
//! waiting, offered to which agents, connected to which agent). When the ACD
//! moves — its runtime died, or lost its lease — the new one starts from no
//! calls and every agent signed out, and each runtime hands its calls over
//! again: a waiting call resumes at its place (by the time it entered its
//! queue), an offered one has the ringing phone cancelled and resumes, a
//! connected one is adopted with its agent busy. After [`SETTLE`], agents
//! are signed back in to the state they last had (ready, or not ready with
//! its reason), unless a call handed over has them busy already. A runtime
//! whose link drops has its waiting calls forgotten at once (no agent is
//! offered a call nobody can bridge) and, if it does not come back within
//! [`GRACE`], its connected calls are ended so that their agents are free.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use dialect_acd::core::{AgentCommand, Input};
use dialect_acd::types::{
    AcdEvent, AcdToCall, AgentStateChange, AgentStatus, CallId, OfferResult, QueuedCall,
};
use dialect_compiler::value::Value;
use dialect_sip::registrar::{Registrar, RegistrationEvent};
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::Cluster;
use crate::acd::{AcdError, AcdHandle, LATEST_STATES_TREE};
use crate::api::AppState;

/// The lease (and service) name of the ACD.
pub const SERVICE: &str = "acd";

/// The link between a runtime and the ACD's runtime.
pub const LINK_PATH: &str = "/internal/v1/acd/link";

/// Questions and commands for the ACD from another runtime's API.
pub const ASK_PATH: &str = "/internal/v1/acd/ask";

/// How long a runtime that has just taken the ACD over waits for the others
/// to hand their calls over before signing agents back in (an agent busy on a
/// handed-over call is not signed in as ready meanwhile).
pub const SETTLE: Duration = Duration::from_secs(2);

/// How long the ACD keeps the connected calls of a runtime whose link
/// dropped (their agents busy) before it ends them.
pub const GRACE: Duration = Duration::from_secs(30);

/// The largest message on a link (a call with its data and trail).
const MAX_LINK_MESSAGE: usize = 1024 * 1024;

/// Messages queued for one link before it is closed as too slow.
const LINK_QUEUE: usize = 8_192;

/// How often a runtime checks that the runtime it links to still holds the
/// ACD's lease, and retries a link that failed.
const RECHECK: Duration = Duration::from_millis(500);

/// The ACD's runtime pings every link this often...
const LINK_PING: Duration = Duration::from_secs(2);

/// ...and either end takes a link silent this long for dropped: a cut
/// network or a stalled runtime closes no connection, and TCP alone would
/// notice only after minutes.
const LINK_SILENCE: Duration = Duration::from_secs(6);

/// A runtime's message to the ACD's runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "up", rename_all = "snake_case")]
pub enum Up {
    /// Every agent phone registered with the runtime now (first on a link).
    Phones {
        /// Agent id and contact URI.
        phones: Vec<(String, String)>,
    },
    /// An agent's phone registered (with its contact) or went away.
    Phone {
        /// The agent.
        agent: String,
        /// Where to ring it, or `None`: no longer registered here.
        contact: Option<String>,
    },
    /// A call enters, resumes or is adopted (`Enqueue`, `Direct`, `Resume`,
    /// `Adopt`), or a call task's report (`OfferResult`, `CallerKey`,
    /// `CallerGone`, `CallEnded`, `AgentLeft`, `Held`).
    Call {
        /// What happens.
        input: Box<Input>,
    },
}

/// The ACD's message to a runtime.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "down", rename_all = "snake_case")]
pub enum Down {
    /// For one of the runtime's calls.
    ToCall {
        /// The call.
        call: CallId,
        /// What to do.
        msg: AcdToCall,
    },
    /// For the runtime's desktops and wallboards.
    Event {
        /// What happened.
        event: AcdEvent,
    },
}

/// A question or command for the ACD from another runtime's API (each as
/// the [`AcdHandle`] method of the same name).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "snake_case")]
#[allow(missing_docs, reason = "as the AcdHandle methods of the same names")]
pub enum Ask {
    Command {
        agent: String,
        cmd: AgentCommand,
        by: String,
    },
    Reserve {
        agent: String,
        reason: String,
    },
    ReleaseReservation {
        agent: String,
    },
    Queues {
        with_calls: bool,
    },
    Queue {
        name: String,
    },
    Agents,
    Agent {
        id: String,
    },
    CallData {
        call: CallId,
    },
    SetCallData {
        call: CallId,
        data: Vec<(String, Value)>,
        replace: bool,
    },
}

/// Where this runtime's calls go now.
#[derive(Clone)]
enum Route {
    /// Nowhere: no runtime runs the ACD (a take-over), or the link to it is
    /// being made. Calls wait, and are handed over once there is one.
    Nowhere,
    /// This runtime runs the ACD.
    Here,
    /// Over the link to the runtime that does.
    Link(mpsc::Sender<Up>),
}

/// Where one of this runtime's calls is, as the ACD's messages said.
struct Session {
    call: QueuedCall,
    /// Came by `transfer agent` to this agent.
    direct: Option<String>,
    to_call: mpsc::Sender<AcdToCall>,
    /// Agents whose phones ring for it.
    offered: Vec<String>,
    /// The agent it is connected to.
    connected: Option<String>,
    /// Offers cancelled at a hand-over: their results are not reported.
    cancelled: Vec<String>,
}

struct Sessions {
    /// Counts the routes: messages for an older route are not delivered.
    epoch: u64,
    route: Route,
    calls: HashMap<CallId, Session>,
}

/// The calls a link brought, and the phones registered through it, on the
/// ACD's runtime.
#[derive(Default)]
struct Links {
    next: u64,
    /// Which link holds each call.
    owner: HashMap<CallId, u64>,
    /// Which link registered each agent's phone.
    phones: HashMap<String, u64>,
}

/// This runtime's part of the cluster's ACD.
pub struct SharedAcd {
    cluster: Arc<Cluster>,
    /// This runtime's own actor.
    local: AcdHandle,
    registrar: Option<Registrar>,
    sessions: std::sync::Mutex<Sessions>,
    links: std::sync::Mutex<Links>,
    here: AtomicBool,
    /// Cancelled when this runtime stops running the ACD: its links close.
    term: std::sync::Mutex<CancellationToken>,
}

impl std::fmt::Debug for SharedAcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedAcd")
            .field("here", &self.runs_here())
            .finish()
    }
}

impl SharedAcd {
    /// Makes `acd` this runtime's part of the cluster's ACD, and starts
    /// following who runs it until `shutdown`.
    pub fn start(
        cluster: Arc<Cluster>,
        acd: &AcdHandle,
        registrar: Option<Registrar>,
        shutdown: CancellationToken,
    ) -> Arc<SharedAcd> {
        let shared = Arc::new(SharedAcd {
            cluster,
            local: acd.local(),
            registrar,
            sessions: std::sync::Mutex::new(Sessions {
                epoch: 0,
                route: Route::Nowhere,
                calls: HashMap::new(),
            }),
            links: Default::default(),
            here: AtomicBool::new(false),
            term: std::sync::Mutex::new(CancellationToken::new()),
        });
        acd.join(shared.clone());
        tokio::spawn(shared.clone().follow(shutdown));
        shared
    }

    /// Whether this runtime runs the cluster's ACD now.
    pub fn runs_here(&self) -> bool {
        self.here.load(Ordering::SeqCst)
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn links(&self) -> std::sync::MutexGuard<'_, Links> {
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows the agents other runtimes change over the API, so that every
    /// registrar knows their phones' passwords and every ACD (the running
    /// one above all) their skills.
    async fn follow_agents(self: Arc<Self>, shutdown: CancellationToken) {
        let mut changes = match self.cluster.store.watch(crate::acd::AGENTS_TREE) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot follow the cluster's agent changes: {e}");
                return;
            }
        };
        loop {
            let keys: Vec<Vec<u8>> = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = changes.recv() => match c {
                    Ok(crate::store::TreeChange::Key(k)) => vec![k],
                    Ok(crate::store::TreeChange::Reread) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        crate::acd::stored_agents(&self.cluster.store)
                            .into_iter()
                            .map(|a| a.def.id.into_bytes())
                            .collect()
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            for key in keys {
                let store = self.cluster.store.clone();
                let stored =
                    tokio::task::spawn_blocking(move || store.get(crate::acd::AGENTS_TREE, &key))
                        .await;
                let Ok(Ok(Some(v))) = stored else { continue };
                let Ok(agent) = serde_json::from_slice::<crate::acd::StoredAgent>(&v) else {
                    continue;
                };
                let _ = self.local.follow_stored_agent(agent).await;
            }
        }
    }

    /// Runs the ACD while this runtime holds its lease, and links to the
    /// runtime that does otherwise.
    async fn follow(self: Arc<Self>, shutdown: CancellationToken) {
        // A standby until this runtime takes the lease: its actor publishes,
        // stores and dials nothing.
        if self.local.reset(false).await.is_err() {
            return;
        }
        tokio::spawn(self.clone().follow_agents(shutdown.clone()));
        let mut leading = self.cluster.lead(SERVICE, shutdown.clone());
        let mut phones = self.registrar.as_ref().map(|r| r.subscribe());
        while !shutdown.is_cancelled() {
            if *leading.borrow_and_update() {
                self.lead(&mut leading, &shutdown).await;
                continue;
            }
            let leader = self.cluster.leader(SERVICE).await.ok().flatten();
            match leader {
                Some(url) if url != self.cluster.me() => {
                    self.link_to(&url, &mut leading, &mut phones, &shutdown)
                        .await;
                }
                _ => {}
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = leading.changed() => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Runs the ACD until the lease is lost.
    async fn lead(
        self: &Arc<Self>,
        leading: &mut tokio::sync::watch::Receiver<bool>,
        shutdown: &CancellationToken,
    ) {
        if self.local.reset(true).await.is_err() {
            return;
        }
        let term = shutdown.child_token();
        *self.term.lock().unwrap_or_else(|e| e.into_inner()) = term.clone();
        self.local
            .contacts_elsewhere()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.links() = Links::default();
        self.here.store(true, Ordering::SeqCst);
        tracing::info!(node = %self.cluster.me(), "this runtime now runs the cluster's ACD");
        self.set_route(Route::Here).await;
        let me = self.clone();
        let restore = term.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = restore.cancelled() => {}
                _ = tokio::time::sleep(SETTLE) => me.sign_agents_back_in().await,
            }
        });
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = leading.changed() => if r.is_err() || !*leading.borrow_and_update() { break },
            }
        }
        term.cancel();
        self.here.store(false, Ordering::SeqCst);
        tracing::warn!(node = %self.cluster.me(), "the cluster's ACD left this runtime");
        let _ = self.local.reset(false).await;
        self.set_route(Route::Nowhere).await;
    }

    /// Signs each agent who is signed out now back in to the state they last
    /// had under the ACD before (in the store's latest states).
    async fn sign_agents_back_in(&self) {
        let store = self.cluster.store.clone();
        let latest = tokio::task::spawn_blocking(move || {
            store
                .scan_prefix(LATEST_STATES_TREE, b"")
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let mut signed_in = 0;
        for (_, v) in latest {
            let Ok(change) = serde_json::from_slice::<AgentStateChange>(&v) else {
                continue;
            };
            let then = match change.state {
                AgentStatus::SignedOut => continue,
                // Signed in and not made ready yet.
                AgentStatus::NotReady if change.reason == "signed in" => None,
                AgentStatus::NotReady => Some(AgentCommand::NotReady {
                    reason: change.reason.clone(),
                }),
                _ => Some(AgentCommand::Ready),
            };
            let now = self.local.agent(&change.agent).await;
            if !matches!(now, Ok(Some(v)) if v.state == AgentStatus::SignedOut) {
                continue;
            }
            // As the agent themself: the reason stays as it was.
            let by = change.agent.as_str();
            let _ = self
                .local
                .command(&change.agent, AgentCommand::SignIn, by)
                .await;
            if let Some(then) = then {
                let _ = self.local.command(&change.agent, then, by).await;
            }
            signed_in += 1;
        }
        if signed_in > 0 {
            tracing::info!(
                "{signed_in} agents signed back in to their states after the ACD moved here"
            );
        }
    }

    /// Links to the ACD's runtime at `url` and carries messages both ways
    /// until the link drops, this runtime takes the lease, or `url` no longer
    /// holds it.
    async fn link_to(
        self: &Arc<Self>,
        url: &str,
        leading: &mut tokio::sync::watch::Receiver<bool>,
        phones: &mut Option<broadcast::Receiver<RegistrationEvent>>,
        shutdown: &CancellationToken,
    ) {
        let ws_url = format!(
            "{}{LINK_PATH}",
            url.replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let Ok(mut request) =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                ws_url.as_str(),
            )
        else {
            tracing::error!(url, "the ACD's runtime has an unusable URL");
            return;
        };
        let Ok(secret) = self.cluster.secret.parse() else {
            return;
        };
        request.headers_mut().insert(super::SECRET_HEADER, secret);
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_LINK_MESSAGE))
            .max_frame_size(Some(MAX_LINK_MESSAGE));
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let socket = match tokio::time::timeout(Duration::from_secs(3), connect).await {
            Ok(Ok((socket, _))) => socket,
            Ok(Err(e)) => {
                tracing::warn!(url, "cannot link to the ACD's runtime: {e}");
                return;
            }
            Err(_) => {
                tracing::warn!(url, "linking to the ACD's runtime timed out");
                return;
            }
        };
        let (mut sink, mut stream) = socket.split();
        let (up_tx, mut up_rx) = mpsc::channel::<Up>(LINK_QUEUE);
        // The phones registered here, first.
        let registered: Vec<(String, String)> = self
            .registrar
            .as_ref()
            .map(|r| {
                r.registered_users()
                    .into_iter()
                    .filter_map(|u| {
                        let contact = reachable(&u, r.lookup(&u).first()?);
                        Some((u, contact))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let _ = up_tx.try_send(Up::Phones { phones: registered });
        let epoch = self.set_route(Route::Link(up_tx.clone())).await;
        tracing::info!(url, "linked to the runtime running the cluster's ACD");
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = tokio::time::Instant::now();
        let mut said = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = leading.changed() => if r.is_err() || *leading.borrow() { break },
                up = up_rx.recv() => {
                    let Some(up) = up else { break };
                    let Ok(text) = serde_json::to_string(&up) else { continue };
                    if sink.send(tokio_tungstenite::tungstenite::Message::text(text)).await.is_err() {
                        break;
                    }
                }
                msg = stream.next() => {
                    use tokio_tungstenite::tungstenite::Message as M;
                    heard = tokio::time::Instant::now();
                    match msg {
                        Some(Ok(M::Text(t))) => match serde_json::from_str::<Down>(&t) {
                            Ok(Down::ToCall { call, msg }) => self.deliver(epoch, call, msg),
                            Ok(Down::Event { event }) => self.local.publish(event),
                            Err(e) => tracing::warn!("an unreadable message from the ACD: {e}"),
                        },
                        Some(Ok(M::Ping(_) | M::Pong(_) | M::Binary(_) | M::Frame(_))) => {}
                        Some(Ok(M::Close(_))) | Some(Err(_)) | None => break,
                    }
                }
                ev = crate::acd::recv_registration(phones), if phones.is_some() => {
                    if ev.is_none() {
                        *phones = None;
                    }
                    if let Some(ev) = ev {
                        let agent = match ev {
                            RegistrationEvent::Registered { aor, .. }
                            | RegistrationEvent::Unregistered { aor, .. } => aor,
                        };
                        let contact = self
                            .registrar
                            .as_ref()
                            .and_then(|r| r.lookup(&agent).first().map(|b| reachable(&agent, b)));
                        let _ = up_tx.try_send(Up::Phone { agent, contact });
                    }
                }
                _ = recheck.tick() => {
                    if heard.elapsed() > LINK_SILENCE {
                        tracing::warn!(url, "the ACD's runtime went silent");
                        break;
                    }
                    // Heard from at least every LINK_PING, whatever the
                    // socket does with the answers to the ACD's pings.
                    if said.elapsed() >= LINK_PING {
                        said = tokio::time::Instant::now();
                        let ping = tokio_tungstenite::tungstenite::Message::Ping(Default::default());
                        if sink.send(ping).await.is_err() {
                            break;
                        }
                    }
                    let holder = self.cluster.leader(SERVICE).await;
                    if matches!(holder, Ok(h) if h.as_deref() != Some(url)) {
                        break;
                    }
                }
            }
        }
        tracing::warn!(url, "the link to the cluster's ACD dropped");
        self.set_route(Route::Nowhere).await;
    }

    /// Changes where calls go and hands every call over to the new route;
    /// returns the route's epoch.
    async fn set_route(self: &Arc<Self>, route: Route) -> u64 {
        let mut handover: Vec<Input> = Vec::new();
        let mut told: Vec<(mpsc::Sender<AcdToCall>, AcdToCall)> = Vec::new();
        let epoch = {
            let mut st = self.sessions();
            st.epoch += 1;
            st.route = route;
            let moving = !matches!(st.route, Route::Nowhere);
            let mut gone = Vec::new();
            for (id, s) in st.calls.iter_mut() {
                if !moving {
                    continue;
                }
                if let Some(agent) = &s.connected {
                    handover.push(Input::Adopt {
                        call: s.call.clone(),
                        agent: agent.clone(),
                    });
                    continue;
                }
                if s.direct.is_some() {
                    // Asked for one agent under the ACD before: the flow goes
                    // on as if that agent were unavailable.
                    for agent in s.offered.drain(..) {
                        told.push((
                            s.to_call.clone(),
                            AcdToCall::CancelOffer {
                                agent: agent.into(),
                            },
                        ));
                    }
                    told.push((
                        s.to_call.clone(),
                        AcdToCall::Unavailable {
                            reason: "the ACD moved to another runtime".into(),
                        },
                    ));
                    gone.push(*id);
                    continue;
                }
                for agent in s.offered.drain(..) {
                    told.push((
                        s.to_call.clone(),
                        AcdToCall::CancelOffer {
                            agent: agent.clone().into(),
                        },
                    ));
                    s.cancelled.push(agent);
                }
                handover.push(Input::Resume(s.call.clone()));
            }
            for id in gone {
                st.calls.remove(&id);
            }
            st.epoch
        };
        for (tx, msg) in told {
            let _ = tx.try_send(msg);
        }
        for input in handover {
            self.send(epoch, input).await;
        }
        epoch
    }

    /// Sends an input the way the route of `epoch` goes (nothing if the
    /// route has changed since: the new route handed the call over).
    async fn send(self: &Arc<Self>, epoch: u64, input: Input) {
        let route = {
            let st = self.sessions();
            if st.epoch != epoch {
                return;
            }
            st.route.clone()
        };
        match route {
            Route::Nowhere => {}
            Route::Link(tx) => {
                let _ = tx
                    .send(Up::Call {
                        input: Box::new(input),
                    })
                    .await;
            }
            Route::Here => {
                let r = match entering(&input) {
                    Some(id) => {
                        let (tx, mut rx) = mpsc::channel(64);
                        let me = self.clone();
                        tokio::spawn(async move {
                            while let Some(msg) = rx.recv().await {
                                me.deliver(epoch, id, msg);
                            }
                        });
                        self.local.input_with_sender(id, tx, input).await
                    }
                    None => self.local.input(input).await,
                };
                if r.is_err() {
                    tracing::error!("the ACD has stopped");
                }
            }
        }
    }

    /// A call enters a queue (as [`AcdHandle::enqueue`]).
    pub async fn enqueue(
        self: &Arc<Self>,
        call: QueuedCall,
        to_call: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        self.start_session(call, None, to_call).await
    }

    /// A call asks for one agent (as [`AcdHandle::direct`]).
    pub async fn direct(
        self: &Arc<Self>,
        call: QueuedCall,
        agent: &str,
        to_call: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        self.start_session(call, Some(agent.to_string()), to_call)
            .await
    }

    async fn start_session(
        self: &Arc<Self>,
        call: QueuedCall,
        direct: Option<String>,
        to_call: mpsc::Sender<AcdToCall>,
    ) -> Result<(), AcdError> {
        let id = call.call_id;
        let input = match &direct {
            Some(agent) => Input::Direct {
                call: call.clone(),
                agent: agent.clone(),
            },
            None => Input::Enqueue(call.clone()),
        };
        let (epoch, waiting_for_acd) = {
            let mut st = self.sessions();
            st.calls.insert(
                id,
                Session {
                    call,
                    direct,
                    to_call: to_call.clone(),
                    offered: Vec::new(),
                    connected: None,
                    cancelled: Vec::new(),
                },
            );
            (st.epoch, matches!(st.route, Route::Nowhere))
        };
        if waiting_for_acd {
            // The caller hears ringing until a runtime runs the ACD again
            // and the call is handed to it.
            let _ = to_call.try_send(AcdToCall::Music {
                on: true,
                prompt: None,
            });
        }
        self.send(epoch, input).await;
        Ok(())
    }

    /// How an offer ended (as [`AcdHandle::offer_result`]).
    pub async fn offer_result(
        self: &Arc<Self>,
        call: CallId,
        agent: &str,
        result: OfferResult,
    ) -> Result<(), AcdError> {
        {
            let mut st = self.sessions();
            if let Some(s) = st.calls.get_mut(&call) {
                if let Some(i) = s.cancelled.iter().position(|a| a == agent) {
                    // Cancelled at a hand-over: the new ACD never offered it.
                    s.cancelled.remove(i);
                    return Ok(());
                }
                if result != OfferResult::Answered {
                    s.offered.retain(|a| a != agent);
                }
            }
        }
        self.input(Input::OfferResult {
            call,
            agent: agent.to_string(),
            result,
        })
        .await
    }

    /// A call task's report (as the [`AcdHandle`] methods of the same names).
    pub async fn input(self: &Arc<Self>, input: Input) -> Result<(), AcdError> {
        let epoch = {
            let mut st = self.sessions();
            if let Input::CallerGone { call } | Input::CallEnded { call, .. } = &input {
                st.calls.remove(call);
            }
            st.epoch
        };
        self.send(epoch, input).await;
        Ok(())
    }

    /// The ACD's message for call `call`, on the route of `epoch`: noted
    /// (where the call is) and handed to the call task.
    fn deliver(self: &Arc<Self>, epoch: u64, call: CallId, msg: AcdToCall) {
        let mut st = self.sessions();
        if st.epoch != epoch {
            return;
        }
        let Some(s) = st.calls.get_mut(&call) else {
            return;
        };
        match &msg {
            AcdToCall::Queued { queue, .. } => {
                if *queue != s.call.queue {
                    s.call.queue = queue.clone();
                    s.call.entered_ms = crate::time::now_ms();
                }
                s.offered.clear();
                s.connected = None;
            }
            AcdToCall::Offer { agent, contact, .. } => {
                s.offered.push(agent.to_string());
                self.note_phone(agent, contact.as_deref());
            }
            AcdToCall::Consult { agent, contact, .. } => self.note_phone(agent, contact.as_deref()),
            AcdToCall::CancelOffer { agent } => s.offered.retain(|a| **a != **agent),
            AcdToCall::Bridge { agent } => {
                s.offered.clear();
                s.connected = Some(agent.to_string());
            }
            AcdToCall::CompleteTransfer { to, .. } => s.connected = Some(to.to_string()),
            _ => {}
        }
        let leaves = matches!(
            msg,
            AcdToCall::Move { .. }
                | AcdToCall::TransferNumber { .. }
                | AcdToCall::Unavailable { .. }
                | AcdToCall::CallbackAccepted { .. }
        );
        let closed = matches!(
            s.to_call.try_send(msg),
            Err(mpsc::error::TrySendError::Closed(_))
        );
        if leaves || closed {
            st.calls.remove(&call);
        }
        if closed {
            drop(st);
            let me = self.clone();
            tokio::spawn(async move {
                let _ = me.input(Input::CallerGone { call }).await;
            });
        }
    }

    /// Keeps where the ACD said `agent`'s phone is, for the call task that
    /// rings it (`call::leg`).
    fn note_phone(&self, agent: &str, contact: Option<&str>) {
        if let Some(c) = contact {
            self.local
                .contacts_elsewhere()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(agent.to_string(), c.to_string());
        }
    }

    /// Asks the ACD's runtime (as the [`AcdHandle`] method of the same name).
    pub async fn ask<T: DeserializeOwned>(&self, ask: Ask) -> Result<T, AcdError> {
        let (status, body) = self
            .cluster
            .forward(SERVICE, ASK_PATH, &ask)
            .await
            .map_err(|e| AcdError::Elsewhere(e.to_string()))?;
        match status {
            200 => super::decode(&body).map_err(AcdError::Elsewhere),
            421 => Err(AcdError::Elsewhere(
                "the ACD is moving to another runtime; try again in a few seconds".into(),
            )),
            s => Err(AcdError::Elsewhere(format!(
                "the runtime running the ACD answered {s}"
            ))),
        }
    }

    /// Carries out another runtime's question on this runtime's ACD.
    async fn answer(&self, ask: Ask) -> Result<serde_json::Value, AcdError> {
        let acd = &self.local;
        Ok(match ask {
            Ask::Command { agent, cmd, by } => json(&acd.command(&agent, cmd, &by).await?),
            Ask::Reserve { agent, reason } => json(&acd.reserve(&agent, &reason).await?),
            Ask::ReleaseReservation { agent } => json(&acd.release_reservation(&agent).await?),
            Ask::Queues { with_calls } => json(&acd.queues(with_calls).await?),
            Ask::Queue { name } => json(&acd.queue(&name).await?),
            Ask::Agents => json(&acd.agents().await?),
            Ask::Agent { id } => json(&acd.agent(&id).await?),
            Ask::CallData { call } => json(&acd.call_data(call).await?),
            Ask::SetCallData {
                call,
                data,
                replace,
            } => json(&acd.set_call_data(call, data, replace).await?),
        })
    }

    /// Serves one runtime's link on the ACD's runtime, until it drops or
    /// this runtime stops running the ACD.
    async fn serve_link(self: Arc<Self>, socket: WebSocket) {
        let term = self.term.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let link = {
            let mut l = self.links();
            l.next += 1;
            l.next
        };
        let (mut sink, mut stream) = socket.split();
        let (down_tx, mut down_rx) = mpsc::channel::<Down>(LINK_QUEUE);
        let mut events = self.local.subscribe();
        let mut ping = tokio::time::interval(LINK_PING);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut heard = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = term.cancelled() => break,
                _ = ping.tick() => {
                    if heard.elapsed() > LINK_SILENCE {
                        tracing::warn!("a runtime linked to the ACD went silent");
                        break;
                    }
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Up>(&t) {
                        Ok(up) => {
                            heard = tokio::time::Instant::now();
                            self.take_up(link, up, &down_tx).await
                        }
                        Err(e) => {
                            tracing::warn!("an unreadable message on an ACD link: {e}");
                            break;
                        }
                    },
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => heard = tokio::time::Instant::now(),
                    _ => break,
                },
                down = down_rx.recv() => {
                    let Some(down) = down else { break };
                    let Ok(text) = serde_json::to_string(&down) else { continue };
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                ev = events.recv() => match ev {
                    Ok(event) => {
                        let Ok(text) = serde_json::to_string(&Down::Event { event }) else { continue };
                        if sink.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("an ACD link fell {n} events behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            }
        }
        let _ = sink.close().await;
        self.link_gone(link).await;
    }

    /// One message from a linked runtime.
    async fn take_up(self: &Arc<Self>, link: u64, up: Up, down: &mpsc::Sender<Down>) {
        match up {
            Up::Phones { phones } => {
                for (agent, contact) in phones {
                    self.phone(link, agent, Some(contact)).await;
                }
            }
            Up::Phone { agent, contact } => self.phone(link, agent, contact).await,
            Up::Call { input } => {
                let input = *input;
                match &input {
                    Input::CallerGone { call } | Input::CallEnded { call, .. } => {
                        self.links().owner.remove(call);
                    }
                    Input::Enqueue(_)
                    | Input::Resume(_)
                    | Input::Adopt { .. }
                    | Input::Direct { .. }
                    | Input::OfferResult { .. }
                    | Input::CallerKey { .. }
                    | Input::AgentLeft { .. }
                    | Input::Held { .. } => {}
                    // Not a call task's to send.
                    _ => return,
                }
                let r = match entering(&input) {
                    Some(id) => {
                        self.links().owner.insert(id, link);
                        let (tx, mut rx) = mpsc::channel(64);
                        let down = down.clone();
                        tokio::spawn(async move {
                            while let Some(msg) = rx.recv().await {
                                if down.try_send(Down::ToCall { call: id, msg }).is_err() {
                                    tracing::warn!(
                                        call = id,
                                        "an ACD link is not keeping up; a message was dropped"
                                    );
                                }
                            }
                        });
                        self.local.input_with_sender(id, tx, input).await
                    }
                    None => self.local.input(input).await,
                };
                if r.is_err() {
                    tracing::error!("the ACD has stopped");
                }
            }
        }
    }

    /// An agent's phone registered with a linked runtime, or went away.
    async fn phone(&self, link: u64, agent: String, contact: Option<String>) {
        let registered = {
            let mut elsewhere = self
                .local
                .contacts_elsewhere()
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match contact {
                Some(c) => {
                    elsewhere.insert(agent.clone(), c);
                    self.links().phones.insert(agent.clone(), link);
                    true
                }
                None => {
                    elsewhere.remove(&agent);
                    self.links().phones.remove(&agent);
                    self.registered_here(&agent)
                }
            }
        };
        let _ = self
            .local
            .input(Input::Registration { agent, registered })
            .await;
    }

    fn registered_here(&self, agent: &str) -> bool {
        self.registrar
            .as_ref()
            .is_some_and(|r| !r.lookup(agent).is_empty())
    }

    /// A linked runtime is out of reach: its waiting calls leave the queues
    /// now, its phones are no longer registered, and its connected calls end
    /// after [`GRACE`] unless it hands them over again.
    async fn link_gone(self: &Arc<Self>, link: u64) {
        let (calls, phones): (Vec<CallId>, Vec<String>) = {
            let mut l = self.links();
            let calls = l
                .owner
                .iter()
                .filter(|(_, o)| **o == link)
                .map(|(c, _)| *c)
                .collect();
            let phones: Vec<String> = l
                .phones
                .iter()
                .filter(|(_, o)| **o == link)
                .map(|(a, _)| a.clone())
                .collect();
            l.phones.retain(|_, o| *o != link);
            (calls, phones)
        };
        if !self.runs_here() {
            return;
        }
        for agent in phones {
            self.local
                .contacts_elsewhere()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&agent);
            let registered = self.registered_here(&agent);
            let _ = self
                .local
                .input(Input::Registration { agent, registered })
                .await;
        }
        for call in &calls {
            let _ = self.local.input(Input::Forget { call: *call }).await;
        }
        if calls.is_empty() {
            return;
        }
        let me = self.clone();
        let term = self.term.lock().unwrap_or_else(|e| e.into_inner()).clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = term.cancelled() => return,
                _ = tokio::time::sleep(GRACE) => {}
            }
            for call in calls {
                let still = {
                    let mut l = me.links();
                    let still = l.owner.get(&call) == Some(&link);
                    if still {
                        l.owner.remove(&call);
                    }
                    still
                };
                if still {
                    let _ = me
                        .local
                        .input(Input::CallEnded {
                            call,
                            talk_ms: None,
                        })
                        .await;
                }
            }
        });
    }
}

/// One answer of [`Ask`] as JSON.
fn json<T: Serialize>(answer: &T) -> serde_json::Value {
    serde_json::to_value(answer).unwrap_or(serde_json::Value::Null)
}

/// The call an input brings into the ACD (which then needs the channel its
/// messages go to), if it brings one.
fn entering(input: &Input) -> Option<CallId> {
    match input {
        Input::Enqueue(c) | Input::Resume(c) | Input::Adopt { call: c, .. } => Some(c.call_id),
        Input::Direct { call, .. } => Some(call.call_id),
        _ => None,
    }
}

/// Where another runtime reaches `agent`'s phone: at the address its
/// REGISTER came from (which a phone behind NAT does not know to put in its
/// contact), over the same transport.
fn reachable(agent: &str, binding: &dialect_sip::registrar::Binding) -> String {
    let transport = match binding.source.transport {
        dialect_sip::transport::TransportKind::Udp => "",
        dialect_sip::transport::TransportKind::Tcp => ";transport=tcp",
    };
    format!("sip:{agent}@{}{transport}", binding.source.addr)
}

/// `GET /internal/v1/acd/link`: another runtime's link to this runtime's
/// ACD (only with the cluster's secret; 421 when this runtime does not run
/// the ACD now, 404 on a runtime alone).
pub(crate) async fn link(
    State(s): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    match serving(&s, &headers) {
        Ok(shared) => crate::api::bounded_websocket(ws, MAX_LINK_MESSAGE)
            .on_upgrade(move |socket| shared.serve_link(socket)),
        Err(status) => status.into_response(),
    }
}

/// This runtime's part of the ACD, when a request from another runtime may
/// reach it: 404 on a runtime alone, 401 without the cluster's secret, 421
/// when this runtime does not run the ACD now (the asker looks again).
fn serving(s: &AppState, headers: &HeaderMap) -> Result<Arc<SharedAcd>, StatusCode> {
    let shared = s.acd.shared_acd().ok_or(StatusCode::NOT_FOUND)?;
    if !shared.cluster.authorized(headers) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    if !shared.runs_here() {
        return Err(StatusCode::MISDIRECTED_REQUEST);
    }
    Ok(shared)
}

/// `POST /internal/v1/acd/ask`: another runtime's API asks this runtime's
/// ACD (as [`link`] for the secret and the answers when it does not run it).
pub(crate) async fn ask(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::Json(ask): axum::Json<Ask>,
) -> Response {
    let shared = match serving(&s, &headers) {
        Ok(shared) => shared,
        Err(status) => return status.into_response(),
    };
    match shared.answer(ask).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use dialect_acd::types::{AgentStateChange, Announcement, ScreenPop, TrailEntry};

    fn round_trip_up(up: &Up) -> Up {
        serde_json::from_str(&serde_json::to_string(up).unwrap()).unwrap()
    }

    fn round_trip_down(down: &Down) -> Down {
        serde_json::from_str(&serde_json::to_string(down).unwrap()).unwrap()
    }

    #[test]
    fn every_message_of_a_call_crosses_the_link_unchanged() {
        let mut call = QueuedCall::new(42, "support", "13800000000", 1_700_000_000_000);
        call.data = vec![
            ("level".into(), Value::Number(3.0)),
            ("name".into(), Value::Text("王芳".into())),
        ];
        call.trail = vec![TrailEntry {
            at_ms: 1,
            node: "menu".into(),
            detail: "1".into(),
        }];
        let inputs = [
            Input::Enqueue(call.clone()),
            Input::Resume(call.clone()),
            Input::Adopt {
                call: call.clone(),
                agent: "7001".into(),
            },
            Input::Direct {
                call: call.clone(),
                agent: "7001".into(),
            },
            Input::OfferResult {
                call: 42,
                agent: "7001".into(),
                result: OfferResult::NoAnswer,
            },
            Input::CallerKey { call: 42, key: '#' },
            Input::CallEnded {
                call: 42,
                talk_ms: Some(61_000),
            },
        ];
        for input in inputs {
            let up = Up::Call {
                input: Box::new(input.clone()),
            };
            match round_trip_up(&up) {
                Up::Call { input: back } => assert_eq!(*back, input),
                other => panic!("{other:?}"),
            }
        }
        let msgs = [
            AcdToCall::Offer {
                agent: "7001".into(),
                contact: Some("sip:7001@127.0.0.1:5071".into()),
                auto_answer: false,
                ring_ms: 15_000,
            },
            AcdToCall::Announce(Announcement::Wait {
                estimated_ms: 90_000,
            }),
            AcdToCall::Bridge {
                agent: "7001".into(),
            },
            AcdToCall::Data {
                data: call.data.clone(),
            },
        ];
        for msg in msgs {
            let down = Down::ToCall {
                call: 42,
                msg: msg.clone(),
            };
            match round_trip_down(&down) {
                Down::ToCall { call, msg: back } => {
                    assert_eq!(call, 42);
                    assert_eq!(back, msg);
                }
                other => panic!("{other:?}"),
            }
        }
        let events = [
            AcdEvent::CallOffered {
                agent: "7001".into(),
                pop: Box::new(ScreenPop {
                    call: 42,
                    queue: "support".into(),
                    caller: "13800000000".into(),
                    called: "10000".into(),
                    trunk: String::new(),
                    customer_id: String::new(),
                    data: call.data.clone(),
                    trail: call.trail.clone(),
                    waited_ms: 12_000,
                    via: "queue".into(),
                }),
                at_ms: 5,
            },
            AcdEvent::AgentState(AgentStateChange {
                agent: "7001".into(),
                at_ms: 6,
                state: AgentStatus::NotReady,
                reason: "meeting".into(),
                call: None,
            }),
        ];
        for event in events {
            match round_trip_down(&Down::Event {
                event: event.clone(),
            }) {
                Down::Event { event: back } => assert_eq!(back, event),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_phone_is_reached_where_it_registered_from() {
        let binding = dialect_sip::registrar::Binding {
            // What a phone behind NAT puts in its contact.
            contact: "sip:7001@192.168.1.20:5060".into(),
            expires_at: tokio::time::Instant::now(),
            source: dialect_sip::transport::Target {
                transport: dialect_sip::transport::TransportKind::Udp,
                addr: "127.0.0.1:5071".parse().unwrap(),
            },
            call_id: "c".into(),
            cseq: 1,
        };
        assert_eq!(reachable("7001", &binding), "sip:7001@127.0.0.1:5071");
        let tcp = dialect_sip::registrar::Binding {
            source: dialect_sip::transport::Target {
                transport: dialect_sip::transport::TransportKind::Tcp,
                addr: "127.0.0.1:5072".parse().unwrap(),
            },
            ..binding
        };
        let uri = reachable("7001", &tcp);
        assert_eq!(uri, "sip:7001@127.0.0.1:5072;transport=tcp");
        let target = dialect_sip::endpoint::resolve_literal(
            &uri,
            dialect_sip::transport::TransportKind::Udp,
        )
        .unwrap();
        assert_eq!(target, tcp.source);
    }
}
