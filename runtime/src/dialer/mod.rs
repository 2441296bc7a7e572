//! The outbound dialer at run time: each running campaign of the deployed
//! program is looked at every `dialer.tick`; the pacer says how many lines to
//! open, due targets are checked (history, limits, windows: the dialer crate's
//! [`Rules`]; filters and lists: the compiled predicates, evaluated again just
//! before each dial), claimed in the store, and dialled through
//! [`crate::call::campaign`]; each call's result comes back on a channel and is
//! stored with the target and its attempt in one batch.
//!
//! One task owns every campaign's live state (calls in progress, the pacer and
//! its abandon ledger); the API reaches it through [`DialerHandle`], which
//! reads and writes the store directly and wakes the task.
//!
//! Filtered targets are not dropped: a target a filter leaves out now is looked
//! at again an hour later (a filter may read today's date or a list that
//! changes), and `GET …/targets/{id}` says which filter holds it.

pub mod folder;
pub mod import;
pub mod store;
pub mod tasks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dialect_compiler::ir::{CampaignIr, DestIr, EnvVar};
use dialect_compiler::value::Value;
use dialect_dialer::blocked::Blocked;
use dialect_dialer::outcome::CallOutcome;
use dialect_dialer::pacing::{PaceEvent, PaceSnapshot, Pacer, PacingConfig, PacingMode};
use dialect_dialer::rules::Rules;
use dialect_dialer::target::{Target, TargetState};
use dialect_lang::types::Builtin;
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

use crate::call::CallEnv;
use crate::call::campaign::{Answered, CampaignCall, CampaignReport, CampaignResult, Stage};
use crate::deploy::Deployed;
use crate::store::{Batch, SharedStore, Store, StoreError};
use store::{Attempt, RunState};

/// How long a target a filter left out waits before it is looked at again.
pub const FILTER_RECHECK_MS: i64 = 60 * 60_000;

/// Network failures in a row (503s, time-outs, refusals) after which a
/// campaign stops dialling for a while: a failing trunk is not hammered.
pub const BACKOFF_AFTER: u32 = 3;

/// The first pause after [`BACKOFF_AFTER`] failures in a row; it doubles with
/// each further failure, up to [`BACKOFF_MAX_MS`].
pub const BACKOFF_FIRST_MS: i64 = 5_000;

/// The longest pause of a failing campaign.
pub const BACKOFF_MAX_MS: i64 = 5 * 60_000;

/// How long a target waits when no call window ever opens for it (a campaign
/// with `window … none` everywhere): looked at again then.
const NO_WINDOW_RECHECK_MS: i64 = 6 * 60 * 60_000;

/// A campaign's live figures, for the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveFigures {
    /// Calls placed and not yet ended.
    pub calls_in_progress: usize,
    /// Calls in progress per logged-in agent, as the pacer counts it.
    pub dial_level: f64,
    /// The share of dialled lines a person answers, as the pacer has learned it.
    pub live_answer_rate: f64,
    /// Abandoned / live-answered over the rolling window (24 h by default).
    pub abandon_rate_rolling: Option<f64>,
    /// Over the shortest window (15 min by default).
    pub abandon_rate_short: Option<f64>,
    /// Calls placed since the server started.
    pub placed: u64,
    /// Network failures in a row; from [`BACKOFF_AFTER`] on the campaign
    /// pauses until `backing_off_until_ms`.
    pub network_failures_in_row: u32,
    /// When dialling resumes after a run of network failures (Unix ms).
    pub backing_off_until_ms: Option<i64>,
    /// The campaign's agents ready for a call at the last tick.
    pub ready_agents: u32,
    /// Minutes agents talked on the campaign's calls per hour they were
    /// logged in to its queue, since the server started: the productivity
    /// the pacing buys (`None` before any agent time).
    pub talk_minutes_per_agent_hour: Option<f64>,
}

/// One campaign's state in the dialer task.
struct Live {
    /// Target id → its call in progress.
    in_flight: HashMap<u64, InFlight>,
    pacer: Option<Pacer>,
    placed: u64,
    failures_in_row: u32,
    backoff_until_ms: i64,
    /// Preview mode: agent → (the target shown, when its preview time ends).
    previews: HashMap<String, (u64, i64)>,
    /// Preview mode: target → the agent whose accepted call it is.
    accepted: HashMap<u64, String>,
    /// Agents ready at the last tick.
    ready_agents: u32,
    /// Agent-time logged in to the campaign's queue, summed tick by tick (ms).
    staffed_ms: i64,
    /// Talk on the campaign's connected calls (ms).
    talk_ms: i64,
    last_tick_ms: Option<i64>,
}

/// A placed call as the pacer follows it through its [`Stage`]s.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    placed_ms: i64,
    /// Until the answer the line counts as ringing.
    answered_ms: Option<i64>,
    /// The pacer was told whether a person answered.
    decided: bool,
    /// When the person reached an agent (the pacer was told).
    connected_ms: Option<i64>,
}

/// What the API asks of the dialer task.
#[derive(Debug)]
enum Command {
    /// The agent takes the previewed target: dial it.
    Accept {
        campaign: String,
        target: u64,
        agent: String,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    /// The agent passes on the previewed target, for a reason.
    Skip {
        campaign: String,
        target: u64,
        agent: String,
        reason: String,
        reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
}

/// Shared between the dialer task and the API.
struct Inner {
    store: SharedStore,
    program: Arc<crate::deploy::ProgramSlot>,
    config: Arc<crate::config::Config>,
    live: Mutex<HashMap<String, Live>>,
    wake: Notify,
    /// The dialer task's commands; `None` for a handle with no task.
    commands: Option<mpsc::Sender<Command>>,
    /// In a cluster: this runtime's place in it, and whether it holds the
    /// dialer's lease now (only the holder claims targets and places calls).
    cluster: Option<(
        Arc<crate::cluster::Cluster>,
        tokio::sync::watch::Receiver<bool>,
    )>,
    /// Where claims are written: in a cluster, fenced by the dialer's lease,
    /// so that a runtime that lost the lease cannot claim (and dial) a target.
    claims: SharedStore,
}

/// The lease (and service) name of the dialer in a cluster.
pub const LEASE: &str = "dialer";

impl Inner {
    fn leads(&self) -> bool {
        self.cluster
            .as_ref()
            .is_none_or(|(_, leading)| *leading.borrow())
    }
}

/// The API's way to the dialer.
#[derive(Clone)]
pub struct DialerHandle {
    inner: Arc<Inner>,
}

impl DialerHandle {
    /// Starts the dialer task: it places calls with `env` on `tracker` (so a
    /// graceful shutdown waits for them) until `shutdown`.
    ///
    /// In a `cluster`, every runtime runs the task, but only the one holding
    /// the lease `dialer` claims targets and places calls (a runtime that
    /// loses it stops dialling and still stores the results of the calls it
    /// placed); the others keep the API and the event stream.
    pub fn spawn(
        env: Arc<CallEnv>,
        tracker: tokio_util::task::TaskTracker,
        shutdown: tokio_util::sync::CancellationToken,
        cluster: Option<Arc<crate::cluster::Cluster>>,
    ) -> DialerHandle {
        let (tx, rx) = mpsc::channel(64);
        let claims = match &cluster {
            Some(c) => c.fenced_store(LEASE),
            None => env.store.clone(),
        };
        let cluster = cluster.map(|c| {
            let leading = c.lead(LEASE, shutdown.clone());
            (c, leading)
        });
        let handle = DialerHandle {
            inner: Arc::new(Inner {
                store: env.store.clone(),
                program: env.program.clone(),
                config: env.config.clone(),
                live: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                commands: Some(tx),
                cluster,
                claims,
            }),
        };
        if let Some(dir) = env.config.dialer.import_dir.clone() {
            tokio::spawn(folder::watch(
                handle.clone(),
                dir,
                env.config.dialer.import_every.0,
                env.outbound.number_rules(),
                shutdown.clone(),
            ));
        }
        let inner = handle.inner.clone();
        tokio::spawn(async move { run(inner, env, tracker, shutdown, rx).await });
        handle
    }

    /// A handle with no task behind it: the API answers from the store (tests
    /// of the API alone).
    pub fn idle(
        store: SharedStore,
        program: Arc<crate::deploy::ProgramSlot>,
        config: Arc<crate::config::Config>,
    ) -> DialerHandle {
        DialerHandle {
            inner: Arc::new(Inner {
                store: store.clone(),
                program,
                config,
                live: Mutex::new(HashMap::new()),
                wake: Notify::new(),
                commands: None,
                cluster: None,
                claims: store,
            }),
        }
    }

    async fn ask(
        &self,
        make: impl FnOnce(tokio::sync::oneshot::Sender<Result<(), String>>) -> Command,
    ) -> Result<(), String> {
        let Some(tx) = &self.inner.commands else {
            return Err("the dialer is not running".into());
        };
        if !self.inner.leads() {
            return Err("the dialer runs on another runtime of the cluster".into());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(make(reply))
            .await
            .map_err(|_| "the dialer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the dialer has stopped".to_string())?
    }

    /// `agent` takes the target previewed to them: the dialer places the call,
    /// which goes to that agent.
    pub async fn accept(&self, campaign: &str, target: u64, agent: &str) -> Result<(), String> {
        self.ask(|reply| Command::Accept {
            campaign: campaign.into(),
            target,
            agent: agent.into(),
            reply,
        })
        .await
    }

    /// `agent` passes on the target previewed to them: it is handed back
    /// (due again in an hour, nothing counted).
    pub async fn skip(
        &self,
        campaign: &str,
        target: u64,
        agent: &str,
        reason: &str,
    ) -> Result<(), String> {
        self.ask(|reply| Command::Skip {
            campaign: campaign.into(),
            target,
            agent: agent.into(),
            reason: reason.into(),
            reply,
        })
        .await
    }

    /// Whether this runtime dials (always, outside a cluster).
    pub fn leads(&self) -> bool {
        self.inner.leads()
    }

    /// The store campaigns live in.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// Sets a campaign's control state and wakes the dialer.
    pub fn set_run_state(&self, campaign: &str, state: RunState) -> Result<(), StoreError> {
        store::set_run_state(&*self.inner.store, campaign, state)?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Wakes the dialer (targets were imported, a list changed).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// A campaign's live figures.
    pub fn figures(&self, campaign: &str) -> LiveFigures {
        let live = lock(&self.inner.live);
        let Some(l) = live.get(campaign) else {
            return LiveFigures::default();
        };
        let mut f = LiveFigures {
            calls_in_progress: l.in_flight.len(),
            placed: l.placed,
            network_failures_in_row: l.failures_in_row,
            backing_off_until_ms: (l.backoff_until_ms > crate::time::now_ms())
                .then_some(l.backoff_until_ms),
            ready_agents: l.ready_agents,
            talk_minutes_per_agent_hour: (l.staffed_ms > 0)
                .then(|| l.talk_ms as f64 / 60_000.0 / (l.staffed_ms as f64 / 3_600_000.0)),
            ..LiveFigures::default()
        };
        if let Some(p) = &l.pacer {
            f.dial_level = p.dial_level();
            f.live_answer_rate = p.live_rate();
            let ledger = p.ledger();
            let rolling = ledger.rolling();
            f.abandon_rate_rolling = (rolling.live > 0).then_some(rolling.rate);
            f.abandon_rate_short = ledger
                .windows()
                .next()
                .filter(|w| w.live > 0)
                .map(|w| w.rate);
        }
        f
    }

    /// Why `t` is or is not dialled now: every reason that holds it.
    pub fn explain(&self, campaign: &CampaignIr, t: &Target, now_ms: i64) -> Vec<Blocked> {
        let deployed = self.inner.program.current();
        let mut out = Vec::new();
        match store::run_state(&*self.inner.store, &campaign.name) {
            Ok(RunState::Running) => {}
            Ok(s) => out.push(Blocked::CampaignNotRunning {
                state: s.name().into(),
            }),
            Err(e) => tracing::error!("cannot read a campaign's state: {e}"),
        }
        let rules = rules_of(&deployed, campaign, &self.inner.config);
        out.extend(rules.blocks(t, now_ms, false));
        if !t.state.is_final()
            && let Some(b) = filter_refusal(&deployed, campaign, t, now_ms, &*self.inner.store)
        {
            out.push(b);
        }
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The campaign's rules from its compiled form and the configuration.
pub fn rules_of(deployed: &Deployed, c: &CampaignIr, config: &crate::config::Config) -> Rules {
    let ir = deployed.program.ir();
    let calendar = c
        .calendar
        .and_then(|i| ir.calendars.get(i as usize))
        .map(dialect_compiler::calendar::Calendar::new);
    Rules::new(
        c,
        calendar,
        c.max_attempts,
        c.max_attempts_per_day,
        config.dialer.zones.clone(),
    )
}

/// The value of a campaign built-in for a target.
fn builtin(t: &Target, b: Builtin, now_ms: i64) -> Option<Value> {
    Some(match b {
        Builtin::Attempts => Value::Number(f64::from(t.attempts.total)),
        Builtin::AttemptsToday => Value::Number(f64::from(t.attempts.today)),
        Builtin::LastOutcome => Value::Text(
            t.last_outcome
                .map(|o| o.name().to_string())
                .unwrap_or_default(),
        ),
        // A very long time when there was no attempt, so `> 2h` holds.
        Builtin::SinceLastAttempt => {
            Value::Duration(t.last_attempt_ms.map_or(i64::MAX / 4, |at| now_ms - at))
        }
        _ => return None,
    })
}

/// Evaluates predicate `pred` of `campaign` on `t`; a failing evaluation
/// (a division by zero in a filter) counts as "no".
fn holds(
    eval: &mut dialect_compiler::exec::Evaluator,
    pred: dialect_compiler::ir::PredId,
    t: &Target,
    now_ms: i64,
) -> bool {
    let env = eval.env(pred, |v| match v {
        EnvVar::Field(i) => t.fields.get(*i as usize).cloned(),
        EnvVar::Builtin(b) => builtin(t, *b, now_ms),
        EnvVar::Data(_) => None,
    });
    eval.eval_bool(pred, &env).unwrap_or(false)
}

/// Which filter leaves `t` out now, if any: the first failing filter, as a
/// list entry (`phone not in do_not_call` and the number is on it) or as the
/// filter's text.
pub fn filter_refusal(
    deployed: &Deployed,
    c: &CampaignIr,
    t: &Target,
    now_ms: i64,
    store: &dyn Store,
) -> Option<Blocked> {
    let pred = c.filter?;
    let mut eval = deployed.program.evaluator();
    eval.set_now(now_ms);
    if holds(&mut eval, pred, t, now_ms) {
        return None;
    }
    let (text, _) = c
        .filter_parts
        .iter()
        .find(|(_, p)| !holds(&mut eval, *p, t, now_ms))?;
    // `phone not in do_not_call`: say the list, and since when if it was
    // added while running.
    for list in &deployed.program.ir().lists {
        if text.contains(&format!("not in {}", list.name)) {
            let found = crate::lists::find(store, &list.name, &t.phone)
                .ok()
                .flatten();
            let declared = list.entries.iter().any(|e| e == &t.phone);
            if found.is_some() || declared {
                return Some(Blocked::DoNotCall {
                    list: list.name.clone(),
                    since_ms: found.map(|e| e.added_ms),
                });
            }
        }
    }
    Some(Blocked::Filter {
        filter: text.clone(),
    })
}

async fn run(
    inner: Arc<Inner>,
    env: Arc<CallEnv>,
    tracker: tokio_util::task::TaskTracker,
    shutdown: tokio_util::sync::CancellationToken,
    mut commands: mpsc::Receiver<Command>,
) {
    let (done_tx, mut done_rx) = mpsc::channel::<CampaignReport>(1024);
    // Claims a kill left behind: released before anything is dialled (in a
    // cluster, each time this runtime takes the dialer over).
    let mut leading = inner.cluster.as_ref().map(|(_, l)| l.clone());
    if inner.leads() {
        release_interrupted(&inner).await;
    }
    let tick = inner
        .config
        .dialer
        .tick
        .0
        .max(std::time::Duration::from_millis(20));
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            r = done_rx.recv() => match r {
                None => break,
                Some(CampaignReport::Ended(r)) => finish(&inner, &env, r).await,
                Some(CampaignReport::Progress { campaign, target, stage, at_ms }) => {
                    progress(&inner, &campaign, target, stage, at_ms);
                }
            },
            Some(cmd) = commands.recv() => command(&inner, &env, &tracker, &done_tx, cmd),
            Ok(()) = async {
                match leading.as_mut() {
                    Some(l) => l.changed().await,
                    None => std::future::pending().await,
                }
            } => {
                if inner.leads() {
                    release_interrupted(&inner).await;
                    tick_all(&inner, &env, &tracker, &done_tx).await;
                }
            }
            _ = interval.tick() => tick_all(&inner, &env, &tracker, &done_tx).await,
            _ = inner.wake.notified() => tick_all(&inner, &env, &tracker, &done_tx).await,
        }
    }
    // Results of calls ended during the shutdown grace are still stored.
    while let Ok(Some(r)) =
        tokio::time::timeout(std::time::Duration::from_secs(60), done_rx.recv()).await
    {
        let CampaignReport::Ended(r) = r else {
            continue;
        };
        finish(&inner, &env, r).await;
        if lock(&inner.live).values().all(|l| l.in_flight.is_empty()) {
            break;
        }
    }
}

/// Carries out an agent's answer to a preview.
fn command(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
    cmd: Command,
) {
    let deployed = inner.program.current();
    let (campaign, target, agent) = match &cmd {
        Command::Accept {
            campaign,
            target,
            agent,
            ..
        }
        | Command::Skip {
            campaign,
            target,
            agent,
            ..
        } => (campaign.clone(), *target, agent.clone()),
    };
    let shown = lock(&inner.live)
        .get(&campaign)
        .and_then(|l| l.previews.get(&agent).map(|(t, _)| *t));
    let check = match (
        shown,
        deployed
            .program
            .ir()
            .campaigns
            .iter()
            .find(|c| c.name == campaign),
    ) {
        (_, None) => Err(format!("there is no campaign `{campaign}`")),
        (Some(t), Some(c)) if t == target => Ok(c),
        (Some(t), Some(_)) => Err(format!("agent {agent} was shown target {t}, not {target}")),
        (None, Some(_)) => Err(format!(
            "agent {agent} has no preview of `{campaign}` (it may have timed out)"
        )),
    };
    let now = crate::time::now_ms();
    match cmd {
        Command::Accept { reply, .. } => {
            let r = check.and_then(|c| {
                start_accepted(inner, env, tracker, done, &deployed, c, &agent, target, now)
                    .map_err(|e| e.to_string())
            });
            let _ = reply.send(r);
        }
        Command::Skip { reason, reply, .. } => {
            let r = check.and_then(|c| {
                hand_back(
                    inner,
                    env,
                    c,
                    &agent,
                    target,
                    now,
                    &format!("skipped: {reason}"),
                )
                .map_err(|e| e.to_string())
            });
            let _ = reply.send(r);
        }
    }
}

async fn tick_all(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
) {
    if !inner.leads() {
        return;
    }
    let deployed = inner.program.current();
    for c in &deployed.program.ir().campaigns {
        match store::run_state(&*inner.store, &c.name) {
            Ok(RunState::Running) => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::error!(campaign = %c.name, "cannot read the campaign's state: {e}");
                continue;
            }
        }
        if let Err(e) = tick(inner, env, tracker, done, &deployed, c).await {
            tracing::error!(campaign = %c.name, "the dialer cannot go on with the campaign: {e}");
        }
    }
}

/// How many lines the campaign may open now.
async fn lines_wanted(inner: &Inner, env: &CallEnv, c: &CampaignIr, now: i64) -> u32 {
    let channels = c.max_channels.unwrap_or(inner.config.dialer.max_channels);
    let (in_flight, ringing, detecting): (u32, Vec<i64>, u32) = {
        let live = lock(&inner.live);
        live.get(&c.name).map_or((0, Vec::new(), 0), |l| {
            (
                l.in_flight.len() as u32,
                l.in_flight
                    .values()
                    .filter(|f| f.answered_ms.is_none())
                    .map(|f| now - f.placed_ms)
                    .collect(),
                l.in_flight
                    .values()
                    .filter(|f| f.answered_ms.is_some() && !f.decided)
                    .count() as u32,
            )
        })
    };
    let backing_off = lock(&inner.live)
        .get(&c.name)
        .is_some_and(|l| now < l.backoff_until_ms);
    if backing_off {
        return 0;
    }
    let free = channels.saturating_sub(in_flight);
    let Some(mode) = PacingMode::of_campaign(&c.mode) else {
        return 0;
    };
    if mode == PacingMode::Ivr {
        return free;
    }
    let (Some(DestIr::Queue(queue)), Some(acd)) = (&c.dest, &env.acd) else {
        return 0;
    };
    let mut snap = PaceSnapshot {
        now_ms: now,
        channels_free: free,
        ringing,
        detecting,
        ..PaceSnapshot::default()
    };
    if let Ok(Some(q)) = acd.queue(queue).await {
        snap.waiting_answered = q.waiting as u32;
    }
    let wrap = inner
        .program
        .current()
        .program
        .ir()
        .queues
        .iter()
        .find(|q| &q.name == queue)
        .map_or(0, |q| q.wrap_up_ms.max(0));
    if let Ok(agents) = acd.agents().await {
        use dialect_acd::AgentStatus as S;
        for a in agents
            .iter()
            .filter(|a| a.queues.iter().any(|q| q == queue))
        {
            match a.state {
                S::Ready if a.call.is_none() => snap.ready_agents += 1,
                S::Talking | S::Held => snap.talking.push(now - a.since_ms),
                S::WrapUp => {
                    snap.wrapping_up.push((wrap - (now - a.since_ms)).max(0));
                }
                _ => {}
            }
        }
    }
    let mut live = lock(&inner.live);
    let l = live
        .entry(c.name.clone())
        .or_insert_with(|| new_live(inner, c, now));
    if let Some(before) = l.last_tick_ms {
        l.staffed_ms += i64::from(snap.agents()) * (now - before).clamp(0, 60_000);
    }
    l.last_tick_ms = Some(now);
    l.ready_agents = snap.ready_agents;
    match l.pacer.as_mut() {
        Some(p) => p.lines_to_dial(&snap),
        None => 0,
    }
}

/// A campaign's live state when the dialer first looks at it: the pacer's
/// abandon ledger is rebuilt from the attempts stored over its rolling window,
/// so a restart does not reset the regulator's count.
fn new_live(inner: &Inner, c: &CampaignIr, now: i64) -> Live {
    let pacer = PacingMode::of_campaign(&c.mode).map(|m| {
        let mut config = PacingConfig::for_campaign(c, m);
        config.abandon.amd_false_positive_rate = if c.machine_detection.is_some() {
            inner.config.dialer.machine_false_positive_rate
        } else {
            0.0
        };
        let mut ledger = dialect_dialer::abandon::AbandonLedger::new(config.abandon.clone());
        let since = now - config.abandon.rolling_ms;
        match store::all_attempts(&*inner.store, &c.name) {
            Ok(mut attempts) => {
                attempts.retain(|(_, a)| a.ended_ms >= since);
                attempts.sort_by_key(|(_, a)| a.ended_ms);
                for (_, a) in attempts {
                    use dialect_dialer::abandon::Answer;
                    let answer = match a.outcome {
                        CallOutcome::Person => Answer::Connected,
                        CallOutcome::Abandoned => Answer::Abandoned,
                        CallOutcome::Machine => Answer::Machine,
                        _ => continue,
                    };
                    ledger.record(a.ended_ms, answer);
                }
                ledger.advance(now);
            }
            Err(e) => tracing::error!(campaign = %c.name, "cannot read past attempts for the abandon count: {e}"),
        }
        Pacer::with_ledger(config, ledger)
    });
    Live {
        in_flight: HashMap::new(),
        pacer,
        placed: 0,
        failures_in_row: 0,
        backoff_until_ms: 0,
        previews: HashMap::new(),
        accepted: HashMap::new(),
        ready_agents: 0,
        staffed_ms: 0,
        talk_ms: 0,
        last_tick_ms: None,
    }
}

async fn tick(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
    deployed: &Arc<Deployed>,
    c: &CampaignIr,
) -> Result<(), StoreError> {
    let now = crate::time::now_ms();
    if c.mode == "preview" {
        return tick_preview(inner, env, tracker, done, deployed, c, now).await;
    }
    let wanted = lines_wanted(inner, env, c, now).await as usize;
    if wanted == 0 {
        return Ok(());
    }
    let claimed = claim(inner, deployed, c, now, wanted, false).await?;
    let calls = claimed
        .iter()
        .map(|t| call_for(c, deployed, t, attempt_of(t)))
        .collect();
    place_calls(inner, env, tracker, done, c, now, calls);
    Ok(())
}

/// Releases the claims of calls that no runtime is carrying on: each target
/// found `dialling` goes back to pending, uncounted, unless the runtime that
/// claimed it is alive (another runtime of the cluster answering its health
/// check, which stores the call's result itself) or the call is one of this
/// runtime's own calls in progress.
async fn release_interrupted(inner: &Arc<Inner>) {
    let deployed = inner.program.current();
    let now = crate::time::now_ms();
    let me = inner.cluster.as_ref().map(|(c, _)| c.me().to_string());
    for c in &deployed.program.ir().campaigns {
        let mut alive = std::collections::BTreeSet::new();
        if let Some((cluster, _)) = &inner.cluster {
            let claimers = match store::claimers(&*inner.store, &c.name) {
                Ok(cs) => cs,
                Err(e) => {
                    tracing::error!(campaign = %c.name, "cannot read the campaign's claims: {e}");
                    continue;
                }
            };
            for claimer in claimers {
                if Some(&claimer) != me.as_ref() && cluster.alive(&claimer).await {
                    alive.insert(claimer);
                }
            }
        }
        let own: std::collections::HashSet<u64> = lock(&inner.live)
            .get(&c.name)
            .map(|l| l.in_flight.keys().copied().collect())
            .unwrap_or_default();
        let keep = |t: &Target| {
            own.contains(&t.id) || t.claimed_by.as_ref().is_some_and(|n| alive.contains(n))
        };
        match store::release_interrupted(&*inner.claims, &c.name, now, keep) {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(campaign = %c.name, "{n} calls were interrupted by a stop; their targets are due again in 10 minutes, uncounted")
            }
            Err(e) => {
                tracing::error!(campaign = %c.name, "cannot release interrupted calls: {e}")
            }
        }
    }
}

/// The number the next attempt on `t` gets.
fn attempt_of(t: &Target) -> u32 {
    t.attempts.total + t.attempts.network_failures_in_row + 1
}

/// Claims up to `wanted` due targets that may be dialled now (history, limits,
/// windows, filters), durably, and returns them; the targets a rule or filter
/// holds are rescheduled to when it may let them go. `agent_guaranteed`: each
/// call goes to an agent reserved for it (a preview), which lifts the 72-hour
/// rule after an abandoned call, as Ofcom allows.
async fn claim(
    inner: &Arc<Inner>,
    deployed: &Arc<Deployed>,
    c: &CampaignIr,
    now: i64,
    mut wanted: usize,
    agent_guaranteed: bool,
) -> Result<Vec<Target>, StoreError> {
    let rules = rules_of(deployed, c, &inner.config);
    let mut eval = deployed.program.evaluator();
    eval.set_now(now);
    // Looks at a bounded number of due targets per tick, so a long run of
    // targets outside their window cannot hold the task.
    let candidates = store::due(&*inner.store, &c.name, now, (wanted * 4).max(16))?;
    let mut batch = Batch::new();
    let mut claimed = Vec::new();
    for t in candidates {
        if wanted == 0 {
            break;
        }
        let mut after = t.clone();
        match rules.check(&t, now, agent_guaranteed) {
            Ok(()) => {}
            Err(b) => {
                match b {
                    Blocked::OutsideWindow { until_ms, .. } => {
                        after.next_attempt_ms =
                            Some(until_ms.unwrap_or(now + NO_WINDOW_RECHECK_MS));
                    }
                    Blocked::DayLimit { until_ms, .. } => {
                        after.next_attempt_ms =
                            Some(until_ms.unwrap_or(now + NO_WINDOW_RECHECK_MS));
                    }
                    Blocked::AbandonedRecently { until_ms, .. } => {
                        after.next_attempt_ms = Some(until_ms);
                    }
                    Blocked::RetryAt { at_ms, .. } => after.next_attempt_ms = Some(at_ms),
                    Blocked::AttemptsUsedUp { .. } => {
                        after.state = TargetState::Exhausted;
                        after.next_attempt_ms = None;
                    }
                    _ => after.next_attempt_ms = Some(now + FILTER_RECHECK_MS),
                }
                store::put_target(&mut batch, &c.name, Some(&t), &after);
                continue;
            }
        }
        if let Some(pred) = c.filter
            && !holds(&mut eval, pred, &t, now)
        {
            after.next_attempt_ms = Some(now + FILTER_RECHECK_MS);
            store::put_target(&mut batch, &c.name, Some(&t), &after);
            continue;
        }
        after.state = TargetState::Dialling;
        after.claimed_by = inner.cluster.as_ref().map(|(c, _)| c.me().to_string());
        store::put_target(&mut batch, &c.name, Some(&t), &after);
        claimed.push(after);
        wanted -= 1;
    }
    if !batch.is_empty() {
        // The claims are durable before a single call is placed.
        crate::store::commit_async(inner.claims.clone(), batch).await?;
    }
    Ok(claimed)
}

/// Places claimed calls and tells the pacer and the event stream.
fn place_calls(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
    c: &CampaignIr,
    now: i64,
    calls: Vec<CampaignCall>,
) {
    let mut live = lock(&inner.live);
    let l = live
        .entry(c.name.clone())
        .or_insert_with(|| new_live(inner, c, now));
    for call in calls {
        l.in_flight.insert(
            call.target,
            InFlight {
                placed_ms: now,
                answered_ms: None,
                decided: false,
                connected_ms: None,
            },
        );
        l.placed += 1;
        if let Some(p) = l.pacer.as_mut() {
            p.observe(now, PaceEvent::Dialled);
        }
        publish_for(
            env,
            c,
            "call_placed",
            Some(call.target),
            Some(&call.number),
            None,
            now,
        );
        crate::call::campaign::place(env, call, done.clone(), tracker);
    }
}

/// A campaign event without an outcome (a call placed, a target previewed or
/// handed back), for one agent's desktop or, without `agent`, for all.
fn publish_for(
    env: &CallEnv,
    c: &CampaignIr,
    what: &str,
    target: Option<u64>,
    phone: Option<&str>,
    agent: Option<&str>,
    at_ms: i64,
) {
    if let Some(acd) = &env.acd {
        acd.publish(dialect_acd::AcdEvent::Campaign {
            campaign: c.name.clone(),
            what: what.into(),
            target,
            phone: phone.map(str::to_string),
            outcome: None,
            state: None,
            agent: agent.map(str::to_string),
            at_ms,
        });
    }
}

/// Preview mode: each ready agent of the campaign's queue is shown one target
/// (its fields and the script, on the agent's event stream); the agent
/// accepts (the call is placed and goes to that agent) or skips it with a
/// reason; when the preview time runs out the target is dialled (`auto dial`)
/// or handed back.
async fn tick_preview(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
    deployed: &Arc<Deployed>,
    c: &CampaignIr,
    now: i64,
) -> Result<(), StoreError> {
    let (Some(DestIr::Queue(queue)), Some(acd)) = (&c.dest, &env.acd) else {
        return Ok(());
    };
    // Previews whose time ran out.
    let expired: Vec<(String, u64)> = {
        let live = lock(&inner.live);
        live.get(&c.name).map_or_else(Vec::new, |l| {
            l.previews
                .iter()
                .filter(|(_, (_, until))| *until <= now)
                .map(|(a, (t, _))| (a.clone(), *t))
                .collect()
        })
    };
    for (agent, target) in expired {
        if c.preview_auto_dial {
            start_accepted(inner, env, tracker, done, deployed, c, &agent, target, now)?;
        } else {
            hand_back(
                inner,
                env,
                c,
                &agent,
                target,
                now,
                "the preview time ran out",
            )?;
        }
    }
    let busy: std::collections::HashSet<String> = {
        let live = lock(&inner.live);
        live.get(&c.name)
            .map(|l| {
                l.previews
                    .keys()
                    .chain(l.accepted.values())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let Ok(agents) = acd.agents().await else {
        return Ok(());
    };
    let free: Vec<String> = agents
        .iter()
        .filter(|a| {
            a.state == dialect_acd::AgentStatus::Ready
                && a.call.is_none()
                && a.queues.iter().any(|q| q == queue)
                && !busy.contains(&a.id)
        })
        .map(|a| a.id.clone())
        .collect();
    if free.is_empty() {
        return Ok(());
    }
    let claimed = claim(inner, deployed, c, now, free.len(), true).await?;
    let until = now + c.preview_ms.unwrap_or(30_000).max(1_000);
    // Each agent shown a target is held back from the queue's offers until
    // they accept, skip, or the preview time runs out; one who took a call or
    // changed state since the look gives the target back.
    let mut shown = Vec::with_capacity(claimed.len());
    for (agent, t) in free.into_iter().zip(claimed) {
        match acd.reserve(&agent, &format!("preview {}", c.name)).await {
            Ok(Ok(())) => shown.push((agent, t)),
            Ok(Err(why)) => hand_back(inner, env, c, &agent, t.id, now, &why)?,
            Err(_) => hand_back(inner, env, c, &agent, t.id, now, "the ACD has stopped")?,
        }
    }
    let mut live = lock(&inner.live);
    let l = live
        .entry(c.name.clone())
        .or_insert_with(|| new_live(inner, c, now));
    for (agent, t) in shown {
        publish_for(
            env,
            c,
            "preview",
            Some(t.id),
            Some(&t.phone),
            Some(&agent),
            now,
        );
        l.previews.insert(agent, (t.id, until));
    }
    Ok(())
}

/// Places the call of a previewed target the agent accepted (or whose
/// preview time ran out with `auto dial`): it goes to that agent.
#[allow(clippy::too_many_arguments)]
fn start_accepted(
    inner: &Arc<Inner>,
    env: &Arc<CallEnv>,
    tracker: &tokio_util::task::TaskTracker,
    done: &mpsc::Sender<CampaignReport>,
    deployed: &Arc<Deployed>,
    c: &CampaignIr,
    agent: &str,
    target: u64,
    now: i64,
) -> Result<(), StoreError> {
    let Some(t) = store::target(&*inner.store, &c.name, target)? else {
        return Ok(());
    };
    {
        let mut live = lock(&inner.live);
        if let Some(l) = live.get_mut(&c.name) {
            l.previews.remove(agent);
            l.accepted.insert(target, agent.to_string());
        }
    }
    let mut call = call_for(c, deployed, &t, attempt_of(&t));
    call.answered = Answered::Agent {
        agent: agent.to_string(),
    };
    // The agent hears who answers: no machine detection.
    call.amd = None;
    place_calls(inner, env, tracker, done, c, now, vec![call]);
    Ok(())
}

/// Ends an agent's preview reservation without waiting for the ACD: the
/// agent takes queue calls again (or goes to the state they asked for).
fn release_agent(env: &CallEnv, agent: &str) {
    if let Some(acd) = env.acd.clone() {
        let agent = agent.to_string();
        tokio::spawn(async move {
            let _ = acd.release_reservation(&agent).await;
        });
    }
}

/// Gives a previewed target back: pending again, due after
/// [`FILTER_RECHECK_MS`], nothing counted; the agent is released.
fn hand_back(
    inner: &Arc<Inner>,
    env: &CallEnv,
    c: &CampaignIr,
    agent: &str,
    target: u64,
    now: i64,
    why: &str,
) -> Result<(), StoreError> {
    {
        let mut live = lock(&inner.live);
        if let Some(l) = live.get_mut(&c.name) {
            l.previews.remove(agent);
        }
    }
    release_agent(env, agent);
    if let Some(before) = store::target(&*inner.store, &c.name, target)?
        && before.state == TargetState::Dialling
    {
        let mut after = before.clone();
        after.state = TargetState::Pending;
        after.claimed_by = None;
        after.next_attempt_ms = Some(now + FILTER_RECHECK_MS);
        let mut batch = Batch::new();
        store::put_target(&mut batch, &c.name, Some(&before), &after);
        inner.store.commit(batch)?;
    }
    tracing::info!(campaign = %c.name, target, agent, "previewed target handed back: {why}");
    publish_for(
        env,
        c,
        "preview_ended",
        Some(target),
        None,
        Some(agent),
        now,
    );
    Ok(())
}

/// The call for target `t`.
fn call_for(c: &CampaignIr, deployed: &Deployed, t: &Target, attempt: u32) -> CampaignCall {
    let data: Vec<(String, Value)> = c
        .fields
        .iter()
        .zip(&t.fields)
        .map(|((name, _, _), v)| (name.clone(), v.clone()))
        .collect();
    let answered = match &c.dest {
        Some(DestIr::Flow(flow)) => {
            // The flow takes the fields it names as parameters.
            let params: Vec<String> = deployed
                .program
                .ir()
                .flows
                .iter()
                .find(|f| &f.name == flow)
                .map(|f| f.params.iter().map(|(n, _)| n.clone()).collect())
                .unwrap_or_default();
            Answered::Flow {
                flow: flow.clone(),
                args: data
                    .iter()
                    .filter(|(n, _)| params.contains(n))
                    .cloned()
                    .collect(),
            }
        }
        Some(DestIr::Queue(q)) => Answered::Queue {
            queue: q.clone(),
            connect_within_ms: c.dropped.as_ref().map_or(2_000, |d| d.1),
            dropped_prompt: c.dropped.as_ref().map(|d| d.0.clone()),
        },
        _ => Answered::Flow {
            flow: String::new(),
            args: Vec::new(),
        },
    };
    CampaignCall {
        campaign: c.name.clone(),
        target: t.id,
        attempt,
        number: t.phone.clone(),
        trunk: c.trunk.clone(),
        caller_id: c.caller_id.clone(),
        ring_ms: c.ring_ms.max(15_000),
        answered,
        data,
        amd: c.machine_detection.as_ref().map(|s| amd_config(s)),
    }
}

/// The detector's settings from a campaign's `machine detection` clause
/// (milliseconds, and a count for `max words`); the rest keep their defaults.
pub fn amd_config(settings: &[(String, f64)]) -> dialect_media::amd::AmdConfig {
    let mut cfg = dialect_media::amd::AmdConfig::default();
    for (name, v) in settings {
        let v = v.max(0.0).min(f64::from(u32::MAX)) as u32;
        match name.as_str() {
            "initial silence" => cfg.initial_silence_ms = v,
            "greeting" => cfg.greeting_ms = v,
            "after greeting silence" => cfg.after_greeting_silence_ms = v,
            "total" => cfg.total_analysis_ms = v,
            "min word" => cfg.min_word_ms = v,
            "between words" => cfg.between_words_ms = v,
            "max word" => cfg.max_word_ms = v,
            "max words" => cfg.max_words = v,
            // The checker accepts no other name.
            other => tracing::warn!("unknown machine detection setting `{other}`"),
        }
    }
    cfg
}

/// Tells the pacer a stage of a call in progress as it happens.
fn progress(inner: &Inner, campaign: &str, target: u64, stage: Stage, at_ms: i64) {
    let mut live = lock(&inner.live);
    let Some(l) = live.get_mut(campaign) else {
        return;
    };
    let Some(f) = l.in_flight.get_mut(&target) else {
        return;
    };
    let event = match stage {
        Stage::Answered => {
            f.answered_ms = Some(at_ms);
            return;
        }
        Stage::Decided { live } => {
            f.decided = true;
            PaceEvent::Answered {
                live,
                delay_ms: f.answered_ms.unwrap_or(at_ms) - f.placed_ms,
            }
        }
        Stage::Connected => {
            f.connected_ms = Some(at_ms);
            PaceEvent::Connected
        }
    };
    if let Some(p) = l.pacer.as_mut() {
        p.observe(at_ms, event);
    }
}

/// Stores a call's result with its target, and tells the pacer what its
/// stages have not told it already.
async fn finish(inner: &Inner, env: &CallEnv, r: CampaignResult) {
    let deployed = inner.program.current();
    {
        let mut live = lock(&inner.live);
        if let Some(l) = live.get_mut(&r.campaign) {
            let seen = l.in_flight.remove(&r.target);
            let decided = seen.is_some_and(|f| f.decided);
            let connected_ms = seen.and_then(|f| f.connected_ms);
            // The agent held for an accepted target is released when its call
            // did not reach them (the direct call ended the hold otherwise).
            if let Some(agent) = l.accepted.remove(&r.target) {
                release_agent(env, &agent);
            }
            if r.outcome == CallOutcome::NetworkFailure {
                l.failures_in_row += 1;
                if l.failures_in_row >= BACKOFF_AFTER {
                    let doublings = (l.failures_in_row - BACKOFF_AFTER).min(16);
                    let pause = (BACKOFF_FIRST_MS << doublings).min(BACKOFF_MAX_MS);
                    l.backoff_until_ms = r.ended_ms + pause;
                    tracing::warn!(campaign = %r.campaign, failures = l.failures_in_row, "calls keep failing on the network side ({}): the campaign pauses for {} s", r.detail, pause / 1000);
                }
            } else {
                l.failures_in_row = 0;
            }
            if let Some(p) = l.pacer.as_mut() {
                let at = r.ended_ms;
                match (r.answered_ms, r.outcome) {
                    (Some(ans), CallOutcome::Person | CallOutcome::Abandoned) => {
                        if !decided {
                            p.observe(
                                ans,
                                PaceEvent::Answered {
                                    live: true,
                                    delay_ms: ans - r.started_ms,
                                },
                            );
                        }
                        if r.outcome == CallOutcome::Abandoned {
                            p.observe(at, PaceEvent::Abandoned);
                        } else {
                            let talk_from = connected_ms.unwrap_or(ans);
                            if r.agent.is_some() {
                                l.talk_ms += (at - talk_from).max(0);
                            }
                            if connected_ms.is_none() {
                                p.observe(ans, PaceEvent::Connected);
                            }
                            p.observe(
                                at,
                                PaceEvent::TalkEnded {
                                    talk_ms: at - talk_from,
                                },
                            );
                        }
                    }
                    (Some(_), _) if decided => {}
                    (Some(ans), _) => p.observe(
                        ans,
                        PaceEvent::Answered {
                            live: false,
                            delay_ms: ans - r.started_ms,
                        },
                    ),
                    (None, _) => p.observe(
                        at,
                        PaceEvent::Unanswered {
                            after_ms: at - r.started_ms,
                        },
                    ),
                }
            }
        }
    }
    let Some(c) = deployed
        .program
        .ir()
        .campaigns
        .iter()
        .find(|c| c.name == r.campaign)
    else {
        tracing::warn!(campaign = %r.campaign, "a call ended for a campaign no longer deployed");
        return;
    };
    let store = &*inner.store;
    let before = match store::target(store, &r.campaign, r.target) {
        Ok(Some(t)) => t,
        Ok(None) => return,
        Err(e) => {
            tracing::error!("cannot read a campaign target: {e}");
            return;
        }
    };
    let mut after = before.clone();
    if after.state == TargetState::Dialling {
        after.state = TargetState::Pending;
    }
    after.claimed_by = None;
    rules_of(&deployed, c, &inner.config).record(&mut after, r.outcome, r.ended_ms);
    let attempt = Attempt {
        n: r.attempt,
        started_ms: r.started_ms,
        ended_ms: r.ended_ms,
        outcome: r.outcome,
        sip_code: r.sip_code,
        answered_ms: r.answered_ms,
        agent: r.agent.clone(),
        disposition: None,
        contact: r.contact,
        detail: r.detail.clone(),
    };
    let mut batch = Batch::new();
    store::put_target(&mut batch, &r.campaign, Some(&before), &after);
    store::put_attempt(&mut batch, &r.campaign, r.target, &attempt);
    if let Err(e) = crate::store::commit_async(inner.store.clone(), batch).await {
        tracing::error!(campaign = %r.campaign, target = r.target, "cannot store a call's result: {e}");
    }
    if let Some(acd) = &env.acd {
        acd.publish(dialect_acd::AcdEvent::Campaign {
            campaign: r.campaign.clone(),
            what: "call_ended".into(),
            target: Some(r.target),
            phone: Some(after.phone.clone()),
            outcome: Some(r.outcome.name().into()),
            state: Some(after.state.name().into()),
            agent: r.agent.clone(),
            at_ms: r.ended_ms,
        });
    }
    tracing::info!(
        campaign = %r.campaign,
        target = r.target,
        attempt = r.attempt,
        outcome = r.outcome.name(),
        state = after.state.name(),
        "campaign call ended: {}",
        r.detail
    );
}
