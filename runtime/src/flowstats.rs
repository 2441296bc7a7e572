//! Statistics per flow (F13): for each flow and each of its steps (menus above
//! all), how many calls came, how many were served by the IVR alone, went to
//! an agent or a queue (and from which menu), hung up where, how long they
//! spent at each step, how often a menu or a collect heard nothing or nothing
//! it knew (keys and speech apart), and which way calls went from step to step.
//!
//! # How calls are counted
//!
//! A call task keeps a [`FlowTally`] as its flow runs: each command the flow
//! program returns enters a step, named by the statement's place in the flow
//! text (`file:line:col`, what `dialect graph --stats` finds the diagram's
//! node by) or `end` when the flow falls off its end. When the call ends (or
//! goes on in another flow with `transfer flow`) the tally becomes one call's
//! [`FlowStats`] and is handed to the [`FlowStatsSink`]: a bounded channel to
//! one writer task, which adds it to the figures of the hour the call came in
//! and writes them with `Store::apply` (statistics may be lost in a crash, as
//! the ACD's are). A full channel drops the call's figures rather than slow
//! the call down.
//!
//! How a flow's call ends, exactly one of ([`Outcome`]):
//! - **self-service**: the flow ended the call itself (`hangup`, or the end of
//!   the flow) without having handed it to a queue, an agent or an outside
//!   number: the caller did not hang up in the middle of a step.
//! - **to agents**: a `transfer queue` or `transfer agent` took the call and it
//!   did not come back to the flow (it was queued, rang an agent, was bridged,
//!   or its caller hung up while waiting there). It counts for that transfer
//!   step and for the last menu the call went through before it.
//! - **transferred out**: a `transfer number` bridged the call to the number.
//! - **to another flow**: `transfer flow` went on in another flow, which counts
//!   the call too.
//! - **hung up**: the caller hung up in the IVR; the step it was at counts a
//!   hang-up (abandonment in the IVR).
//! - **failed**: a flow error nothing handled, lost media or signalling, a
//!   shutdown.
//!
//! # Storage
//!
//! Tree [`TREE`]; one entry per flow, hour and runtime, key `flow \0 hour
//! (Unix ms, 8 bytes big-endian) runtime`, value the JSON of [`FlowStats`].
//! Each runtime writes only its own entries (a cluster's runtimes share the
//! store) and reads its entries of the current hours back after a restart,
//! so figures add up. [`report`] sums the entries of a period.
//!
//! # Retention
//!
//! With `flow_stats.retention` set, [`spawn_sweep`] deletes the hours older
//! than it, at start and then hourly; in a cluster one runtime does it for
//! all (the one holding the lease [`SWEEP_LEASE`]). Unset, the hours are kept
//! until removed, as the ACD's call records and the recordings are.
//!
//! # Dropped figures
//!
//! Calls whose figures a full channel dropped are counted
//! ([`FlowStatsSink::dropped`]) and exported on `/metrics` as
//! `dialect_flow_stats_dropped_total`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::store::{Batch, SharedStore, Store, StoreError};

/// The store tree of flow statistics.
pub const TREE: &str = "flow_stats";

/// The bucket width: figures are kept by hour.
pub const HOUR_MS: i64 = 3_600_000;

/// The step id of a flow's end (the flow fell off its last statement).
pub const END: &str = "end";

/// The step id an edge starts from when it leads to a flow's first step.
pub const START: &str = "start";

/// Steps one call's tally keeps at most (a flow has far fewer; this bounds a
/// looping flow's memory).
const MAX_CALL_NODES: usize = 256;
/// Edges one call's tally keeps at most.
const MAX_CALL_EDGES: usize = 512;
/// Steps one flow's hour keeps at most.
const MAX_NODES: usize = 2_000;
/// Edges one flow's hour keeps at most.
const MAX_EDGES: usize = 8_000;
/// Flow-hours the writer keeps in memory; older hours are written and dropped.
const MAX_CACHED: usize = 4_096;
/// Calls waiting for the writer at most.
const CHANNEL: usize = 4_096;

/// What happened at one step of a flow: summed over calls, then over hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// The step's place in the flow text, `file:line:col` (or [`END`]): the
    /// identity `dialect graph --stats` draws by.
    pub id: String,
    /// The step's name in the IVR trail: the menu's name, `collect x`, `say`...
    pub name: String,
    /// What kind of step it is ([`StepKind::word`]).
    pub kind: String,
    /// Calls that reached it (once each, however often they came back).
    pub calls: u64,
    /// Times calls reached it (a menu asked again counts again).
    pub visits: u64,
    /// Time calls spent at the step, from reaching it to the next step (or the
    /// call's end), summed over visits.
    pub time_ms: u64,
    /// Of the calls that reached it, those the IVR served alone.
    pub self_service: u64,
    /// Calls handed to a queue or an agent from here: for a menu, calls whose
    /// last menu before the transfer was this one; for a transfer, the
    /// transfers it made.
    pub to_agents: u64,
    /// Callers who hung up at this step.
    pub hangups: u64,
    /// Menus and collects that heard no key on a step that listens for keys
    /// only.
    pub no_input_dtmf: u64,
    /// Keys that matched no choice of a menu.
    pub no_match_dtmf: u64,
    /// Menus and collects that also listen for speech and heard neither a key
    /// nor speech it could use in time.
    pub no_input_speech: u64,
    /// Speech heard but not taken (not understood, or below the confidence).
    pub no_match_speech: u64,
}

impl NodeStats {
    fn add(&mut self, o: &NodeStats) {
        if self.name.is_empty() {
            self.name.clone_from(&o.name);
            self.kind.clone_from(&o.kind);
        }
        self.calls += o.calls;
        self.visits += o.visits;
        self.time_ms += o.time_ms;
        self.self_service += o.self_service;
        self.to_agents += o.to_agents;
        self.hangups += o.hangups;
        self.no_input_dtmf += o.no_input_dtmf;
        self.no_match_dtmf += o.no_match_dtmf;
        self.no_input_speech += o.no_input_speech;
        self.no_match_speech += o.no_match_speech;
    }

    /// Of the calls that reached the step, the share the IVR served alone.
    pub fn self_service_share(&self) -> Option<f64> {
        share(self.self_service, self.calls)
    }

    /// Of the calls that reached the step, the share that hung up there.
    pub fn hangup_share(&self) -> Option<f64> {
        share(self.hangups, self.calls)
    }

    /// Of the visits, the share that heard nothing.
    pub fn no_input_share(&self) -> Option<f64> {
        share(self.no_input(), self.visits)
    }

    /// Of the visits, the share that heard an answer that did not fit.
    pub fn no_match_share(&self) -> Option<f64> {
        share(self.no_match(), self.visits)
    }

    /// The mean time of a visit.
    pub fn mean_time_ms(&self) -> Option<f64> {
        (self.visits > 0).then(|| self.time_ms as f64 / self.visits as f64)
    }

    /// Visits that asked for input (menus, collects) and heard nothing.
    pub fn no_input(&self) -> u64 {
        self.no_input_dtmf + self.no_input_speech
    }

    /// Visits that heard an answer that did not fit.
    pub fn no_match(&self) -> u64 {
        self.no_match_dtmf + self.no_match_speech
    }
}

/// `part / whole`, when there is a whole.
fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Steps ordered so that the one that loses callers comes first: by the
/// share of its calls that hung up there, then by hang-ups, then by calls.
pub fn by_losses(nodes: &[NodeStats]) -> Vec<&NodeStats> {
    let mut v: Vec<&NodeStats> = nodes.iter().collect();
    v.sort_by(|a, b| {
        let (sa, sb) = (
            a.hangup_share().unwrap_or(0.0),
            b.hangup_share().unwrap_or(0.0),
        );
        sb.total_cmp(&sa)
            .then(b.hangups.cmp(&a.hangups))
            .then(b.calls.cmp(&a.calls))
            .then(a.id.cmp(&b.id))
    });
    v
}

/// Calls that went from one step straight to another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeStats {
    /// The step left ([`START`] for the flow's start).
    pub from: String,
    /// The step reached.
    pub to: String,
    /// How many times.
    pub count: u64,
}

/// One flow's figures: of one call, of an hour, or of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowStats {
    /// The flow's name.
    pub flow: String,
    /// Calls that ran the flow.
    pub calls: u64,
    /// Calls the IVR served alone ([`Outcome::SelfService`]).
    pub self_service: u64,
    /// Calls handed to a queue or an agent.
    pub to_agents: u64,
    /// Calls bridged to an outside number.
    pub transferred_out: u64,
    /// Calls that went on in another flow.
    pub to_flow: u64,
    /// Callers who hung up in the IVR.
    pub hung_up: u64,
    /// Calls that ended in an error, lost media or a shutdown.
    pub failed: u64,
    /// Time calls spent in the flow.
    pub time_ms: u64,
    /// The steps, in id order.
    pub nodes: Vec<NodeStats>,
    /// Step to step, in (from, to) order.
    pub edges: Vec<EdgeStats>,
}

impl FlowStats {
    /// Adds `o` (the same flow's figures of another call, hour or runtime).
    /// Steps and edges past the limits are left out, which bounds memory
    /// whatever the flows do.
    pub fn add(&mut self, o: &FlowStats) {
        if self.flow.is_empty() {
            self.flow.clone_from(&o.flow);
        }
        self.calls += o.calls;
        self.self_service += o.self_service;
        self.to_agents += o.to_agents;
        self.transferred_out += o.transferred_out;
        self.to_flow += o.to_flow;
        self.hung_up += o.hung_up;
        self.failed += o.failed;
        self.time_ms += o.time_ms;
        for n in &o.nodes {
            match self.nodes.binary_search_by(|x| x.id.as_str().cmp(&n.id)) {
                Ok(i) => self.nodes[i].add(n),
                Err(i) if self.nodes.len() < MAX_NODES => self.nodes.insert(i, n.clone()),
                Err(_) => {}
            }
        }
        for e in &o.edges {
            let key = |x: &EdgeStats| (x.from.as_str(), x.to.as_str()).cmp(&(&e.from, &e.to));
            match self.edges.binary_search_by(key) {
                Ok(i) => self.edges[i].count += e.count,
                Err(i) if self.edges.len() < MAX_EDGES => self.edges.insert(i, e.clone()),
                Err(_) => {}
            }
        }
    }
}

/// What kind of step a command is, for the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `play` or `say`.
    Prompt,
    /// A menu.
    Menu,
    /// `collect`.
    Collect,
    /// `record`.
    Record,
    /// A lookup (a service or a workorder).
    Lookup,
    /// Creating or moving a workorder.
    Workorder,
    /// `notify`.
    Notify,
    /// Any `transfer`.
    Transfer,
    /// `pause`.
    Pause,
    /// `hangup`.
    Hangup,
    /// The flow's end.
    End,
}

impl StepKind {
    /// The kind as the API writes it.
    pub fn word(self) -> &'static str {
        match self {
            StepKind::Prompt => "prompt",
            StepKind::Menu => "menu",
            StepKind::Collect => "collect",
            StepKind::Record => "record",
            StepKind::Lookup => "lookup",
            StepKind::Workorder => "workorder",
            StepKind::Notify => "notify",
            StepKind::Transfer => "transfer",
            StepKind::Pause => "pause",
            StepKind::Hangup => "hangup",
            StepKind::End => "end",
        }
    }

    /// The kind of step a flow command is (a run-time error is no step: the
    /// call stays counted at the step that failed).
    pub fn of(cmd: &dialect_compiler::exec::Command) -> Option<StepKind> {
        use dialect_compiler::exec::Command as C;
        Some(match cmd {
            C::Play { .. } => StepKind::Prompt,
            C::Menu { .. } => StepKind::Menu,
            C::Collect { .. } => StepKind::Collect,
            C::Record { .. } => StepKind::Record,
            C::Lookup { .. } | C::LookupWorkorder { .. } => StepKind::Lookup,
            C::CreateWorkorder { .. } | C::TransitionWorkorder { .. } => StepKind::Workorder,
            C::Notify { .. } => StepKind::Notify,
            C::Transfer { .. } => StepKind::Transfer,
            C::Pause { .. } => StepKind::Pause,
            C::Hangup => StepKind::Hangup,
            C::Finished => StepKind::End,
            C::Failed { .. } => return None,
        })
    }
}

/// How a flow's part of a call ended (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The flow ended the call without help.
    SelfService,
    /// A queue or an agent took the call.
    ToAgents,
    /// Bridged to an outside number.
    TransferredOut,
    /// Went on in another flow.
    ToFlow,
    /// The caller hung up in the IVR.
    HungUp,
    /// An error, lost media or signalling, a shutdown.
    Failed,
}

/// One step of one call's tally.
#[derive(Debug)]
struct CallNode {
    stats: NodeStats,
}

/// One call's counts in one flow, kept by its call task as the flow runs:
/// a few small vectors, searched linearly (a flow has tens of steps).
#[derive(Debug, Default)]
pub struct FlowTally {
    flow: String,
    started_ms: i64,
    nodes: Vec<CallNode>,
    edges: Vec<(usize, usize, u64)>,
    /// The step the call is at and since when.
    current: Option<(usize, i64)>,
    /// The last menu the call went through.
    last_menu: Option<usize>,
    /// Set once a queue, an agent or a number took the call.
    handed: Option<Outcome>,
}

/// The edge index of the flow's start in a tally's edges.
const FROM_START: usize = usize::MAX;

impl FlowTally {
    /// Starts counting a call's run of `flow` at `now_ms`.
    pub fn start(flow: &str, now_ms: i64) -> FlowTally {
        FlowTally {
            flow: flow.to_string(),
            started_ms: now_ms,
            ..FlowTally::default()
        }
    }

    /// Whether the tally counts a flow (a call that never ran one has none).
    pub fn is_started(&self) -> bool {
        !self.flow.is_empty()
    }

    /// The call reached step `id` (named `name` in the trail) at `now_ms`.
    pub fn enter(&mut self, id: &str, name: &str, kind: StepKind, now_ms: i64) {
        let at = match self.nodes.iter().position(|n| n.stats.id == id) {
            Some(i) => i,
            None if self.nodes.len() < MAX_CALL_NODES => {
                self.nodes.push(CallNode {
                    stats: NodeStats {
                        id: id.to_string(),
                        name: name.to_string(),
                        kind: kind.word().to_string(),
                        calls: 1,
                        ..NodeStats::default()
                    },
                });
                self.nodes.len() - 1
            }
            None => {
                self.leave(now_ms);
                return;
            }
        };
        let from = self.leave(now_ms).unwrap_or(FROM_START);
        self.nodes[at].stats.visits += 1;
        match self.edges.iter().position(|e| e.0 == from && e.1 == at) {
            Some(e) => self.edges[e].2 += 1,
            None if self.edges.len() < MAX_CALL_EDGES => self.edges.push((from, at, 1)),
            None => {}
        }
        self.current = Some((at, now_ms));
        if kind == StepKind::Menu {
            self.last_menu = Some(at);
        }
    }

    /// Ends the visit of the current step, adding its time; returns the step.
    fn leave(&mut self, now_ms: i64) -> Option<usize> {
        let (at, since) = self.current.take()?;
        self.nodes[at].stats.time_ms += (now_ms - since).max(0) as u64;
        Some(at)
    }

    /// The menu or collect at hand heard nothing; `speech` when it also
    /// listened for speech.
    pub fn no_input(&mut self, speech: bool) {
        if let Some((at, _)) = self.current {
            let n = &mut self.nodes[at].stats;
            if speech {
                n.no_input_speech += 1;
            } else {
                n.no_input_dtmf += 1;
            }
        }
    }

    /// The menu or collect at hand heard an answer that did not fit;
    /// `spoken` when the answer was speech.
    pub fn no_match(&mut self, spoken: bool) {
        if let Some((at, _)) = self.current {
            let n = &mut self.nodes[at].stats;
            if spoken {
                n.no_match_speech += 1;
            } else {
                n.no_match_dtmf += 1;
            }
        }
    }

    /// The transfer at hand took the call: to a queue or an agent
    /// ([`Outcome::ToAgents`]) or to a number ([`Outcome::TransferredOut`]).
    pub fn handed(&mut self, to: Outcome) {
        if self.handed.is_some() {
            return;
        }
        self.handed = Some(to);
        if to == Outcome::ToAgents {
            if let Some((at, _)) = self.current {
                self.nodes[at].stats.to_agents += 1;
            }
            if let Some(m) = self.last_menu
                && Some(m) != self.current.map(|c| c.0)
            {
                self.nodes[m].stats.to_agents += 1;
            }
        }
    }

    /// The call's figures for this flow, ending as `how` at `now_ms` (a
    /// transfer that took the call decides over how the call ended after it,
    /// even when the queue sent it on to another flow).
    pub fn finish(mut self, how: Outcome, now_ms: i64) -> FlowStats {
        let outcome = self.handed.unwrap_or(how);
        if outcome == Outcome::HungUp
            && let Some((at, _)) = self.current
        {
            self.nodes[at].stats.hangups += 1;
        }
        self.leave(now_ms);
        let mut s = FlowStats {
            flow: std::mem::take(&mut self.flow),
            calls: 1,
            time_ms: (now_ms - self.started_ms).max(0) as u64,
            ..FlowStats::default()
        };
        match outcome {
            Outcome::SelfService => s.self_service = 1,
            Outcome::ToAgents => s.to_agents = 1,
            Outcome::TransferredOut => s.transferred_out = 1,
            Outcome::ToFlow => s.to_flow = 1,
            Outcome::HungUp => s.hung_up = 1,
            Outcome::Failed => s.failed = 1,
        }
        let id = |i: usize, nodes: &[CallNode]| {
            if i == FROM_START {
                START.to_string()
            } else {
                nodes[i].stats.id.clone()
            }
        };
        let mut edges: Vec<EdgeStats> = self
            .edges
            .iter()
            .map(|&(f, t, count)| EdgeStats {
                from: id(f, &self.nodes),
                to: id(t, &self.nodes),
                count,
            })
            .collect();
        edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        let mut nodes: Vec<NodeStats> = self
            .nodes
            .into_iter()
            .map(|mut n| {
                n.stats.self_service = u64::from(outcome == Outcome::SelfService);
                n.stats
            })
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        s.nodes = nodes;
        s.edges = edges;
        s
    }

    /// The hour bucket the call counts in: the hour it started the flow.
    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }
}

/// Where call tasks hand their figures: a bounded channel to the writer.
#[derive(Clone, Debug, Default)]
pub struct FlowStatsSink {
    tx: Option<mpsc::Sender<(i64, FlowStats)>>,
    dropped: Arc<AtomicU64>,
}

impl FlowStatsSink {
    /// Starts the writer on `store`; `runtime` names this runtime's entries
    /// (its cluster URL, or empty alone). Needs a tokio runtime.
    pub fn spawn(store: SharedStore, runtime: String) -> FlowStatsSink {
        let (tx, rx) = mpsc::channel(CHANNEL);
        tokio::spawn(writer(store, runtime, rx));
        FlowStatsSink {
            tx: Some(tx),
            dropped: Arc::default(),
        }
    }

    /// A sink that counts nothing (tools and tests without a store).
    pub fn disabled() -> FlowStatsSink {
        FlowStatsSink::default()
    }

    /// Hands one call's figures over, counted in the hour of `started_ms`;
    /// never waits (a full channel drops them and counts the drop).
    pub fn record(&self, started_ms: i64, call: FlowStats) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send((started_ms, call)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!("flow statistics dropped for {} calls so far", n + 1);
            }
        }
    }

    /// Calls whose figures were dropped because the writer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// A sink whose writer never reads (the receiver is handed back to hold):
    /// past `capacity` calls, everything is dropped, as behind a stalled writer.
    #[cfg(test)]
    pub(crate) fn stalled(capacity: usize) -> (FlowStatsSink, mpsc::Receiver<(i64, FlowStats)>) {
        let (tx, rx) = mpsc::channel(capacity);
        let sink = FlowStatsSink {
            tx: Some(tx),
            dropped: Arc::default(),
        };
        (sink, rx)
    }
}

/// The hour `ms` falls in.
pub fn hour_of(ms: i64) -> i64 {
    ms.max(0).div_euclid(HOUR_MS) * HOUR_MS
}

fn key(flow: &str, hour: i64, runtime: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(flow.len() + 9 + runtime.len());
    k.extend_from_slice(flow.as_bytes());
    k.push(0);
    k.extend_from_slice(&(hour.max(0) as u64).to_be_bytes());
    k.extend_from_slice(runtime.as_bytes());
    k
}

/// The flow and hour of a stored key.
fn parse_key(k: &[u8]) -> Option<(&str, i64)> {
    let zero = k.iter().position(|&b| b == 0)?;
    let flow = std::str::from_utf8(&k[..zero]).ok()?;
    let hour: [u8; 8] = k.get(zero + 1..zero + 9)?.try_into().ok()?;
    Some((flow, u64::from_be_bytes(hour) as i64))
}

/// Adds calls' figures into the hours they belong to and writes them.
async fn writer(store: SharedStore, runtime: String, mut rx: mpsc::Receiver<(i64, FlowStats)>) {
    let mut cache: HashMap<(String, i64), FlowStats> = HashMap::new();
    let mut buf = Vec::new();
    loop {
        if rx.recv_many(&mut buf, 512).await == 0 {
            return;
        }
        let calls = std::mem::take(&mut buf);
        let s = store.clone();
        let rt = runtime.clone();
        let mut c = std::mem::take(&mut cache);
        let joined = tokio::task::spawn_blocking(move || {
            let r = merge_and_write(&*s, &rt, &mut c, calls);
            (c, r)
        })
        .await;
        match joined {
            Ok((c, r)) => {
                cache = c;
                if let Err(e) = r {
                    tracing::error!("flow statistics write failed: {e}");
                }
            }
            Err(e) => tracing::error!("flow statistics write task failed: {e}"),
        }
    }
}

/// Adds `calls` into `cache` (reading an hour this runtime wrote before it
/// restarted the first time it is touched), writes the hours touched, and
/// drops the oldest hours past [`MAX_CACHED`].
fn merge_and_write(
    store: &dyn Store,
    runtime: &str,
    cache: &mut HashMap<(String, i64), FlowStats>,
    calls: Vec<(i64, FlowStats)>,
) -> Result<(), StoreError> {
    let mut touched: Vec<(String, i64)> = Vec::new();
    for (started, call) in calls {
        let slot = (call.flow.clone(), hour_of(started));
        if !cache.contains_key(&slot) {
            let before: Option<FlowStats> =
                crate::store::get_json(store, TREE, &key(&slot.0, slot.1, runtime))
                    .ok()
                    .flatten();
            cache.insert(slot.clone(), before.unwrap_or_default());
        }
        if let Some(h) = cache.get_mut(&slot) {
            h.add(&call);
        }
        if !touched.contains(&slot) {
            touched.push(slot);
        }
    }
    let mut b = Batch::new();
    for slot in &touched {
        if let Some(h) = cache.get(slot) {
            b.put_json(TREE, key(&slot.0, slot.1, runtime), h);
        }
    }
    if cache.len() > MAX_CACHED {
        let mut hours: Vec<i64> = cache.keys().map(|k| k.1).collect();
        hours.sort_unstable();
        let keep_from = hours[hours.len() - MAX_CACHED / 2];
        cache.retain(|k, _| k.1 >= keep_from);
    }
    store.apply(b)
}

/// The lease under which one runtime of a cluster deletes old hours for all.
pub const SWEEP_LEASE: &str = "flow_stats_sweep";
/// How often hours past the retention are looked for (and once at start).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);
/// Entries deleted in one batch, so that a first sweep of a long history does
/// not hold a large write.
const SWEEP_BATCH: usize = 1_000;
/// Above every stored key: keys start with a flow name, UTF-8, which never
/// holds the byte 0xff.
const ABOVE_ALL_KEYS: &[u8] = &[0xff];

/// Deletes the hours of every flow and runtime that began before the hour of
/// `before_ms`; returns how many entries went. Flow by flow, each flow's old
/// hours by a range read below its cut-off, so the hours kept are not read.
pub fn sweep(store: &dyn Store, before_ms: i64) -> Result<usize, StoreError> {
    let cutoff = hour_of(before_ms);
    let mut deleted = 0;
    let mut cursor: Vec<u8> = Vec::new();
    loop {
        let first = store.range(TREE, &cursor, ABOVE_ALL_KEYS, 1, false)?;
        let Some((k, _)) = first.into_iter().next() else {
            return Ok(deleted);
        };
        let Some(zero) = k.iter().position(|&b| b == 0) else {
            // Not a key this module wrote: step over it.
            cursor = k;
            cursor.push(0);
            continue;
        };
        let mut from = k[..=zero].to_vec();
        let mut to = from.clone();
        to.extend_from_slice(&(cutoff.max(0) as u64).to_be_bytes());
        loop {
            let old = store.range(TREE, &from, &to, SWEEP_BATCH, false)?;
            let Some((last, _)) = old.last() else { break };
            let mut b = Batch::new();
            from.clone_from(last);
            from.push(0);
            for (k, _) in &old {
                b.delete(TREE, k.clone());
            }
            store.apply(b)?;
            deleted += old.len();
            if old.len() < SWEEP_BATCH {
                break;
            }
        }
        // The next flow: past every key `flow \0 ...`.
        cursor = k[..zero].to_vec();
        cursor.push(1);
    }
}

/// Deletes hours older than `retention` now and every hour, until `stop`.
pub async fn sweep_every_hour(
    store: SharedStore,
    retention: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Both cancel-safe: a tick not taken is taken on the next poll.
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let before = crate::time::now_ms().saturating_sub(retention_ms);
        let s = store.clone();
        match tokio::task::spawn_blocking(move || sweep(&*s, before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!("flow statistics: {n} hours past the retention deleted"),
            Ok(Err(e)) => tracing::error!("flow statistics sweep failed: {e}"),
            Err(e) => tracing::error!("flow statistics sweep task failed: {e}"),
        }
    }
}

/// Starts the sweep of hours older than `retention` (none: nothing is
/// deleted): here, or in a cluster on whichever runtime holds
/// [`SWEEP_LEASE`], since the runtimes share the store.
pub fn spawn_sweep(
    store: SharedStore,
    cluster: Option<&Arc<crate::cluster::Cluster>>,
    retention: Option<std::time::Duration>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let Some(retention) = retention else { return };
    match cluster {
        None => {
            tokio::spawn(sweep_every_hour(store, retention, shutdown));
        }
        Some(cluster) => cluster.run_while_leading(SWEEP_LEASE, shutdown, move |fenced, lost| {
            tokio::spawn(sweep_every_hour(fenced, retention, lost));
        }),
    }
}

/// The figures of a period, by flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowReport {
    /// Start of the period, rounded down to its hour.
    pub from_ms: i64,
    /// End of the period (exclusive), rounded up to an hour.
    pub to_ms: i64,
    /// One entry per flow with calls in the period, by name.
    pub flows: Vec<FlowStats>,
}

/// Sums the stored hours that overlap `from_ms..to_ms`, for `flow` alone or
/// for every flow.
pub fn report(
    store: &dyn Store,
    flow: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> Result<FlowReport, StoreError> {
    let from = hour_of(from_ms);
    let to = if to_ms >= i64::MAX - HOUR_MS {
        i64::MAX
    } else {
        hour_of(to_ms.saturating_add(HOUR_MS - 1))
    };
    let entries = match flow {
        Some(f) => {
            let lo = key(f, from, "");
            let hi = key(f, to, "");
            store.range(TREE, &lo, &hi, usize::MAX, false)?
        }
        None => store.scan_prefix(TREE, b"")?,
    };
    let mut by_flow: BTreeMap<String, FlowStats> = BTreeMap::new();
    for (k, v) in entries {
        let Some((name, hour)) = parse_key(&k) else {
            continue;
        };
        if hour < from || hour >= to {
            continue;
        }
        let hour_stats: FlowStats =
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(format!("{TREE}: {e}")))?;
        by_flow
            .entry(name.to_string())
            .or_insert_with(|| FlowStats {
                flow: name.to_string(),
                ..FlowStats::default()
            })
            .add(&hour_stats);
    }
    Ok(FlowReport {
        from_ms: from,
        to_ms: to,
        flows: by_flow.into_values().collect(),
    })
}

#[cfg(test)]
mod tests;
