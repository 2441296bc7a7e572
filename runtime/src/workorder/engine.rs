//! The workorder engine: one tokio task owning the open orders, fed by messages
//! through a [`WorkorderHandle`].
//!
//! Each change (create, transition, comment, link, a timer firing, a task update)
//! is one [`Batch`]: the order, its history entry, its indexes, its open record
//! and the audit entry. The task handles every message that is waiting (a group,
//! up to `GROUP_MAX` messages), applying each change to its memory at once so
//! that the next message sees it, and appends the change's batch to the group's
//! batch. At the end of the group the whole group is written to the store as ONE
//! atomic write ([`Store::apply`]: one sled transaction), then the group's replies
//! go to a committer task that makes the store durable ([`Store::sync`], one
//! flush, shared by every group that is waiting for it) and only then answers. So
//! a caller is answered only after its change is on disk, every change is
//! all-or-nothing after a crash (it lies whole inside one atomic group write),
//! changes of one order are serialized, and the task goes on with the next group
//! while the flush runs.
//!
//! While a group is open its changes are in memory only: the orders it changed
//! stay in the engine's cache (which the engine reads before the store), and any
//! other read of the store by the engine first writes the group so far
//! (`Engine::write_pending`). If writing a group fails, every change of the
//! group is answered with the error and the engine reloads its memory from the
//! store.
//!
//! The per-change work is kept small because this task bounds the throughput: the
//! orders changed lately stay in memory (the engine is their only writer, so the
//! copy is never stale and a step does not read and decode the order again), only
//! the index keys that changed are written, and audit ids are reserved in blocks.
//!
//! Timers: the next unfired reminder/escalation of each open order sits in a
//! queue ([`super::mem::Mem`]); the task sleeps until the first is due, then
//! fires it by writing the notifications and marking it fired in the same batch,
//! so it fires once. At start the queue is rebuilt from the open records, and
//! timers that fell due while the runtime was down fire at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use dialect_compiler::ir::TransitionKind;
use dialect_compiler::value::Value;
use dialect_compiler::{Evaluator, Program};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::WoError;
use super::lifecycle::{self, TransitionCheck};
use super::mem::{Mem, number_key};
use super::model::*;
use crate::auth::{AuditEntry, User, audit_into};
use crate::deploy::ProgramSlot;
use crate::store::{Batch, SharedStore, Store, StoreError, get_json};

/// Time as the engine sees it: wall-clock milliseconds that advance with tokio's
/// clock, so that tests with paused time move the engine's "now" too.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base_ms: i64,
    start: tokio::time::Instant,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::starting_at(crate::now_ms())
    }

    /// A clock that reads `ms` now and advances with tokio's time.
    pub fn starting_at(ms: i64) -> Clock {
        Clock {
            base_ms: ms,
            start: tokio::time::Instant::now(),
        }
    }

    /// Now, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.base_ms + self.start.elapsed().as_millis() as i64
    }

    /// The tokio instant of a Unix-ms time (past times give the clock's start).
    pub fn instant_at(&self, ms: i64) -> tokio::time::Instant {
        self.start + std::time::Duration::from_millis((ms - self.base_ms).max(0) as u64)
    }
}

/// A new order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The lifecycle (`complaint`).
    pub kind: String,
    /// Field values.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Department to dispatch to at once.
    #[serde(default)]
    pub department: Option<String>,
    /// The interaction event raising it.
    #[serde(default)]
    pub event_id: Option<u64>,
    /// The contact it was taken in.
    #[serde(default)]
    pub contact_id: Option<u64>,
    /// A first comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A transition request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The transition's name (`accept`).
    pub transition: String,
    /// The state the caller believes the order is in; 409 when it moved on.
    #[serde(default)]
    pub from: Option<String>,
    /// Department to send the order to (required by `forward`).
    #[serde(default)]
    pub department: Option<String>,
    /// Handler to assign.
    #[serde(default)]
    pub handler: Option<String>,
    /// Fields to set with the step (`resolution` for a reply).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Comment (the reply text for `reply` steps).
    #[serde(default)]
    pub comment: Option<String>,
}

/// An order brought in from elsewhere (a legacy system), in any state.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrder {
    /// Lifecycle.
    pub kind: String,
    /// State (the initial state when absent).
    #[serde(default)]
    pub state: Option<String>,
    /// Fields.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Handler.
    #[serde(default)]
    pub handler: Option<String>,
    /// When it was created (and entered its state), Unix ms; now when absent.
    #[serde(default)]
    pub created_ms: Option<i64>,
}

/// A query over orders. Empty filters match everything.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Lifecycle.
    pub kind: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// Customer.
    pub customer: Option<String>,
    /// Only open orders (not in a final state).
    pub open: bool,
    /// Only orders past their state's time limit.
    pub overdue: bool,
    /// Created at or after (Unix ms).
    pub created_from: Option<i64>,
    /// Created before.
    pub created_to: Option<i64>,
    /// Updated at or after.
    pub updated_from: Option<i64>,
    /// Updated before.
    pub updated_to: Option<i64>,
    /// Skip this many matches.
    pub offset: usize,
    /// At most this many (default 50, at most 1000).
    pub limit: usize,
}

/// One page of a query.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The orders (overdue queries: most overdue first; others: newest first).
    pub items: Vec<Workorder>,
    /// The offset of the next page, when there is one.
    pub next_offset: Option<usize>,
    /// All matches (when known without a full scan: open-order queries).
    pub total: Option<usize>,
}

/// Open orders counted by lifecycle, state and department (W5).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CountRow {
    /// Lifecycle.
    pub kind: String,
    /// State.
    pub state: String,
    /// Department (empty when not dispatched).
    pub department: String,
    /// Open orders.
    pub count: u64,
}

/// Overdue orders by department.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OverdueRow {
    /// Department (empty when not dispatched).
    pub department: String,
    /// Orders past their limit.
    pub count: u64,
}

/// W5 monitoring figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Open orders by lifecycle, state and department.
    pub open: Vec<CountRow>,
    /// Overdue orders by department.
    pub overdue: Vec<OverdueRow>,
    /// All open orders.
    pub total_open: u64,
    /// All overdue orders.
    pub total_overdue: u64,
}

/// A new outbound task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// Campaign.
    pub campaign: String,
    /// Type.
    pub task_type: String,
    /// Customer.
    pub customer_id: String,
    /// Number to call.
    #[serde(default)]
    pub phone: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Time limit (Unix ms).
    #[serde(default)]
    pub deadline_ms: Option<i64>,
    /// Handler to dispatch to at once.
    #[serde(default)]
    pub handler: Option<String>,
    /// Notes.
    #[serde(default)]
    pub memo: String,
}

/// A change to a task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// New status.
    #[serde(default)]
    pub status: Option<String>,
    /// New handler (dispatches the task).
    #[serde(default)]
    pub handler: Option<String>,
    /// Outcome of an attempt.
    #[serde(default)]
    pub result: Option<String>,
    /// Notes (replace).
    #[serde(default)]
    pub memo: Option<String>,
}

/// What the engine found at start.
#[derive(Debug, Clone, Serialize)]
pub struct StartReport {
    /// Open orders loaded.
    pub open_orders: usize,
    /// Timers armed.
    pub timers: usize,
    /// Timers already due (they fire at once).
    pub due_now: usize,
    /// Time to load, ms.
    pub load_ms: u64,
    /// Approximate memory of the in-memory indexes, bytes.
    pub index_bytes: usize,
}

type Reply<T> = oneshot::Sender<Result<T, WoError>>;

enum Msg {
    Create(CreateRequest, User, Reply<Workorder>),
    Transition(String, TransitionRequest, User, Reply<Workorder>),
    Comment(String, String, User, Reply<Workorder>),
    Link(String, String, String, User, Reply<(Workorder, Workorder)>),
    Query(Query, Reply<Page>),
    Counts(Reply<Counts>),
    Import(Vec<ImportOrder>, User, Reply<Vec<String>>),
    CreateTask(TaskRequest, User, Reply<Task>),
    UpdateTask(u64, TaskUpdate, User, Reply<Task>),
    Stop(oneshot::Sender<()>),
}

/// A reply that waits for the group's flush.
type Deferred = Box<dyn FnOnce(Option<&str>) + Send>;

fn defer<T: Send + 'static>(tx: Reply<T>, r: Result<T, WoError>) -> Deferred {
    Box::new(move |err| {
        let r = match (err, r) {
            (Some(e), Ok(_)) => Err(WoError::Store(format!("the change was not saved: {e}"))),
            (_, r) => r,
        };
        let _ = tx.send(r);
    })
}

#[derive(Default)]
struct Group {
    dirty: bool,
    /// Why the group's changes were not written (then no reply may say they were).
    error: Option<String>,
    replies: Vec<Deferred>,
}

/// Messages handled in one group at most (its changes share one store write and
/// one flush).
const GROUP_MAX: usize = 512;

/// How call tasks, the API and tests talk to the engine. Cheap to clone.
#[derive(Clone)]
pub struct WorkorderHandle {
    tx: mpsc::Sender<Msg>,
    store: SharedStore,
    program: Arc<ProgramSlot>,
    clock: Clock,
}

impl std::fmt::Debug for WorkorderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkorderHandle").finish()
    }
}

/// The user flows create orders as.
pub fn ivr_user() -> User {
    User {
        name: "ivr".into(),
        role: "system".into(),
        department: None,
    }
}

fn system_user() -> User {
    User {
        name: "system".into(),
        role: "system".into(),
        department: None,
    }
}

impl WorkorderHandle {
    /// Loads the open orders, arms every timer and starts the engine. Timers that
    /// fell due while the runtime was down fire at once.
    pub async fn start(
        store: SharedStore,
        program: Arc<ProgramSlot>,
        clock: Clock,
    ) -> Result<(WorkorderHandle, StartReport), WoError> {
        let started = std::time::Instant::now();
        let s = store.clone();
        let mem = tokio::task::spawn_blocking(move || -> Result<Mem, StoreError> {
            crate::interactions::seed_event_types(&*s)?;
            load_mem(&*s)
        })
        .await
        .map_err(|e| WoError::Store(e.to_string()))??;
        let now = clock.now_ms();
        let report = StartReport {
            open_orders: mem.open.len(),
            timers: mem.timers.len(),
            due_now: mem.timers.range(..(now + 1, 0)).count(),
            load_ms: started.elapsed().as_millis() as u64,
            index_bytes: mem.approx_bytes(),
        };
        let (tx, rx) = mpsc::channel(4096);
        let (ctx, crx) = mpsc::channel(4);
        tokio::spawn(committer(store.clone(), crx));
        let engine = Engine {
            store: store.clone(),
            program: program.clone(),
            clock,
            mem,
            evaluator: None,
            seqs: BTreeMap::new(),
            audit_ids: (0, 0),
            cache: HashMap::new(),
            pending: Batch::new(),
            pending_final: Vec::new(),
            failed: None,
        };
        tokio::spawn(engine.run(rx, ctx));
        Ok((
            WorkorderHandle {
                tx,
                store,
                program,
                clock,
            },
            report,
        ))
    }

    /// The engine's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Msg) -> Result<T, WoError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| WoError::Unavailable)?;
        rx.await.map_err(|_| WoError::Unavailable)?
    }

    /// Creates an order; answers once it is durable.
    pub async fn create(&self, req: CreateRequest, user: &User) -> Result<Workorder, WoError> {
        let user = user.clone();
        self.ask(|tx| Msg::Create(req, user, tx)).await
    }

    /// Creates an order for a flow's `create workorder KIND { ... }` and returns its
    /// number (for the flow to read out), or a message saying why it failed.
    pub async fn create_from_flow(
        &self,
        kind: &str,
        fields: Vec<(String, Value)>,
        contact_id: Option<u64>,
    ) -> Result<String, String> {
        let req = CreateRequest {
            kind: kind.to_string(),
            fields: self.flow_fields(kind, fields),
            contact_id,
            ..CreateRequest::default()
        };
        self.create(req, &ivr_user())
            .await
            .map(|o| o.number)
            .map_err(|e| e.to_string())
    }

    fn flow_fields(
        &self,
        kind: &str,
        fields: Vec<(String, Value)>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let deployed = self.program.current();
        match lifecycle::lifecycle(&deployed.program, kind) {
            Ok(ir) => lifecycle::fields_from_flow(ir, fields),
            Err(_) => serde_json::Map::new(),
        }
    }

    /// Takes a transition; answers once it is durable.
    pub async fn transition(
        &self,
        number: &str,
        req: TransitionRequest,
        user: &User,
    ) -> Result<Workorder, WoError> {
        let (n, u) = (number.to_string(), user.clone());
        self.ask(|tx| Msg::Transition(n, req, u, tx)).await
    }

    /// Adds a comment to an order's history.
    pub async fn comment(
        &self,
        number: &str,
        text: &str,
        user: &User,
    ) -> Result<Workorder, WoError> {
        let (n, t, u) = (number.to_string(), text.to_string(), user.clone());
        self.ask(|tx| Msg::Comment(n, t, u, tx)).await
    }

    /// Links two orders (W4); both get the link and a history entry.
    pub async fn link(
        &self,
        number: &str,
        kind: &str,
        to: &str,
        user: &User,
    ) -> Result<(Workorder, Workorder), WoError> {
        let (n, k, t, u) = (
            number.to_string(),
            kind.to_string(),
            to.to_string(),
            user.clone(),
        );
        self.ask(|tx| Msg::Link(n, k, t, u, tx)).await
    }

    /// Imports orders (each validated; all or none are stored).
    pub async fn import(
        &self,
        orders: Vec<ImportOrder>,
        user: &User,
    ) -> Result<Vec<String>, WoError> {
        let u = user.clone();
        self.ask(|tx| Msg::Import(orders, u, tx)).await
    }

    /// One order.
    pub async fn get(&self, number: &str) -> Result<Workorder, WoError> {
        let store = self.store.clone();
        let n = number.to_string();
        blocking(move || load_order(&*store, &n)).await
    }

    /// An order's history, oldest first.
    pub async fn history(&self, number: &str) -> Result<Vec<HistoryEntry>, WoError> {
        let store = self.store.clone();
        let n = number.to_string();
        blocking(move || {
            load_order(&*store, &n)?;
            read_history(&*store, &n)
        })
        .await
    }

    /// Orders matching a query. Open-order queries (open, overdue, a state that is
    /// not final) are answered from memory; others from the store's indexes.
    pub async fn query(&self, mut q: Query) -> Result<Page, WoError> {
        q.limit = if q.limit == 0 { 50 } else { q.limit.min(1000) };
        if q.customer.is_none() && (q.open || q.overdue) {
            return self.ask(|tx| Msg::Query(q, tx)).await;
        }
        let store = self.store.clone();
        let now = self.clock.now_ms();
        blocking(move || query_store(&*store, &q, now)).await
    }

    /// Open and overdue orders by state and department (W5).
    pub async fn counts(&self) -> Result<Counts, WoError> {
        self.ask(Msg::Counts).await
    }

    /// Notifications for any of `to` (roles, departments, user names) raised at or
    /// after `since`, newest first.
    pub async fn notifications(
        &self,
        to: Vec<String>,
        since: i64,
        limit: usize,
    ) -> Result<Vec<Notification>, WoError> {
        let store = self.store.clone();
        blocking(move || read_notifications(&*store, &to, since, limit)).await
    }

    /// Creates an outbound task.
    pub async fn create_task(&self, req: TaskRequest, user: &User) -> Result<Task, WoError> {
        let u = user.clone();
        self.ask(|tx| Msg::CreateTask(req, u, tx)).await
    }

    /// Changes a task (status, handler, result, memo).
    pub async fn update_task(&self, id: u64, up: TaskUpdate, user: &User) -> Result<Task, WoError> {
        let u = user.clone();
        self.ask(|tx| Msg::UpdateTask(id, up, u, tx)).await
    }

    /// One task.
    pub async fn get_task(&self, id: u64) -> Result<Task, WoError> {
        let store = self.store.clone();
        blocking(move || {
            get_json::<Task>(&*store, TASKS, &id_key(id))?
                .ok_or_else(|| WoError::NotFound(format!("there is no task {id}")))
        })
        .await
    }

    /// Tasks of a campaign or a customer (newest first), filtered by status and handler.
    pub async fn query_tasks(&self, q: TaskQuery) -> Result<Vec<Task>, WoError> {
        let store = self.store.clone();
        blocking(move || query_tasks(&*store, &q)).await
    }

    /// Stops the engine after every change so far is durable.
    pub async fn stop(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Call tasks create orders for `create workorder` through this.
impl crate::call::WorkorderSink for WorkorderHandle {
    fn create<'a>(
        &'a self,
        kind: &'a str,
        fields: &'a [(String, Value)],
        contact: u64,
    ) -> futures::future::BoxFuture<'a, Result<String, String>> {
        Box::pin(self.create_from_flow(kind, fields.to_vec(), Some(contact)))
    }
}

/// A task query.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    /// Campaign.
    pub campaign: Option<String>,
    /// Customer.
    pub customer: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Handler.
    pub handler: Option<String>,
    /// At most (default 100).
    pub limit: usize,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WoError> + Send + 'static,
) -> Result<T, WoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| WoError::Store(e.to_string()))?
}

/// Makes the groups durable, then answers their callers. Groups that queued up
/// while a flush ran share the next flush.
async fn committer(store: SharedStore, mut rx: mpsc::Receiver<Group>) {
    let mut groups: Vec<Group> = Vec::new();
    while let Some(g) = rx.recv().await {
        groups.push(g);
        while let Ok(g) = rx.try_recv() {
            groups.push(g);
        }
        let err = if groups.iter().any(|g| g.dirty && g.error.is_none()) {
            let s = store.clone();
            match tokio::task::spawn_blocking(move || s.sync()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            }
        } else {
            None
        };
        if let Some(e) = &err {
            tracing::error!("workorder changes could not be made durable: {e}");
        }
        for g in groups.drain(..) {
            let e = g.error.as_deref().or(err.as_deref());
            for r in g.replies {
                r(e);
            }
        }
    }
}

/// Reads the open records into memory.
pub(crate) fn load_mem(store: &dyn Store) -> Result<Mem, StoreError> {
    let mut mem = Mem::default();
    let mut from: Vec<u8> = Vec::new();
    loop {
        let chunk = store.range(OPEN, &from, &[0xff], 50_000, false)?;
        let Some((last, _)) = chunk.last() else {
            break;
        };
        let mut next = last.clone();
        next.push(0);
        for (k, v) in &chunk {
            let number = String::from_utf8_lossy(k);
            let Some(num) = number_key(&number) else {
                continue;
            };
            match postcard::from_bytes::<OpenRecord>(v) {
                Ok(r) => mem.set(num, &r),
                Err(e) => tracing::error!("open record of {number} is unreadable: {e}"),
            }
        }
        if chunk.len() < 50_000 {
            break;
        }
        from = next;
    }
    Ok(mem)
}

/// Reads an order.
pub(crate) fn load_order(store: &dyn Store, number: &str) -> Result<Workorder, WoError> {
    get_json::<Workorder>(store, ORDERS, number.as_bytes())?
        .ok_or_else(|| WoError::NotFound(format!("there is no workorder {number}")))
}

/// Reads an order's history.
pub(crate) fn read_history(store: &dyn Store, number: &str) -> Result<Vec<HistoryEntry>, WoError> {
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix(HISTORY, &history_prefix(number))? {
        out.push(
            serde_json::from_slice(&v)
                .map_err(|e| WoError::Store(format!("history of {number}: {e}")))?,
        );
    }
    Ok(out)
}

fn read_notifications(
    store: &dyn Store,
    to: &[String],
    since: i64,
    limit: usize,
) -> Result<Vec<Notification>, WoError> {
    let limit = limit.clamp(1, 1000);
    let mut out: Vec<Notification> = Vec::new();
    for t in to {
        let mut lo = t.as_bytes().to_vec();
        lo.push(0);
        let mut hi = lo.clone();
        lo.extend_from_slice(&time_key(since));
        hi.push(0xff);
        for (k, _) in store.range(NOTIFY_TO, &lo, &hi, limit, true)? {
            let id = &k[k.len().saturating_sub(8)..];
            if let Some(n) = get_json::<Notification>(store, NOTIFICATIONS, id)? {
                out.push(n);
            }
        }
    }
    out.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(b.id.cmp(&a.id)));
    out.dedup_by_key(|n| n.id);
    out.truncate(limit);
    Ok(out)
}

fn matches(o: &Workorder, q: &Query, now: i64, final_state: bool) -> bool {
    let eq = |want: &Option<String>, have: Option<&str>| match want {
        Some(w) => have == Some(w.as_str()),
        None => true,
    };
    let within = |from: Option<i64>, to: Option<i64>, t: i64| {
        from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e)
    };
    eq(&q.kind, Some(&o.kind))
        && eq(&q.state, Some(&o.state))
        && eq(&q.department, o.department.as_deref())
        && eq(&q.handler, o.handler.as_deref())
        && eq(&q.customer, Some(&o.customer_id))
        && (!q.open || !final_state)
        && (!q.overdue || (!final_state && o.deadline_ms.is_some_and(|d| d < now)))
        && within(q.created_from, q.created_to, o.created_ms)
        && within(q.updated_from, q.updated_to, o.updated_ms)
}

/// Answers a query from the store's indexes: picks the narrowest index, walks it
/// newest first and filters.
fn query_store(store: &dyn Store, q: &Query, now: i64) -> Result<Page, WoError> {
    let (tree, prefix, lo_t, hi_t): (&str, Vec<u8>, i64, i64) = {
        let part = |parts: &[&str]| {
            let mut p = Vec::new();
            for s in parts {
                p.extend_from_slice(s.as_bytes());
                p.push(0);
            }
            p
        };
        let created = (
            q.created_from.unwrap_or(i64::MIN / 2),
            q.created_to.unwrap_or(i64::MAX / 2),
        );
        if let Some(c) = &q.customer {
            (IDX_CUSTOMER, part(&[c]), created.0, created.1)
        } else if let Some(h) = &q.handler {
            (IDX_HANDLER, part(&[h]), created.0, created.1)
        } else if let (Some(k), Some(s)) = (&q.kind, &q.state) {
            (IDX_STATE, part(&[k, s]), created.0, created.1)
        } else if let Some(d) = &q.department {
            (IDX_DEPARTMENT, part(&[d]), created.0, created.1)
        } else if q.created_from.is_none()
            && q.created_to.is_none()
            && (q.updated_from.is_some() || q.updated_to.is_some())
        {
            (
                IDX_UPDATED,
                Vec::new(),
                q.updated_from.unwrap_or(i64::MIN / 2),
                q.updated_to.unwrap_or(i64::MAX / 2),
            )
        } else {
            (IDX_CREATED, Vec::new(), created.0, created.1)
        }
    };
    let mut lo = prefix.clone();
    lo.extend_from_slice(&time_key(lo_t));
    let mut hi = prefix.clone();
    hi.extend_from_slice(&time_key(hi_t));
    let skip = prefix.len() + 8;
    let mut items = Vec::new();
    let mut matched = 0usize;
    const CHUNK: usize = 2000;
    const MAX_SCAN: usize = 500_000;
    let mut scanned = 0usize;
    let mut upper = hi;
    'scan: loop {
        let chunk = store.range(tree, &lo, &upper, CHUNK, true)?;
        let n = chunk.len();
        for (k, _) in &chunk {
            scanned += 1;
            let number = String::from_utf8_lossy(k.get(skip..).unwrap_or_default()).to_string();
            let Some(o) = get_json::<Workorder>(store, ORDERS, number.as_bytes())? else {
                continue;
            };
            if !matches(&o, q, now, o.closed_ms.is_some()) {
                continue;
            }
            matched += 1;
            if matched <= q.offset {
                continue;
            }
            if items.len() == q.limit {
                return Ok(Page {
                    items,
                    next_offset: Some(q.offset + q.limit),
                    total: None,
                });
            }
            items.push(o);
        }
        if n < CHUNK || scanned >= MAX_SCAN {
            break 'scan;
        }
        if let Some((k, _)) = chunk.last() {
            upper = k.clone();
        }
    }
    Ok(Page {
        items,
        next_offset: None,
        total: Some(matched),
    })
}

fn query_tasks(store: &dyn Store, q: &TaskQuery) -> Result<Vec<Task>, WoError> {
    let limit = if q.limit == 0 { 100 } else { q.limit.min(1000) };
    let ids: Vec<Vec<u8>> = if let Some(c) = &q.campaign {
        let mut p = c.as_bytes().to_vec();
        p.push(0);
        store
            .scan_prefix(TASKS_BY_CAMPAIGN, &p)?
            .into_iter()
            .rev()
            .map(|(k, _)| k[k.len() - 8..].to_vec())
            .collect()
    } else if let Some(c) = &q.customer {
        let mut p = c.as_bytes().to_vec();
        p.push(0);
        store
            .scan_prefix(TASKS_BY_CUSTOMER, &p)?
            .into_iter()
            .rev()
            .map(|(k, _)| k[k.len() - 8..].to_vec())
            .collect()
    } else {
        store
            .range(TASKS, &[], &[0xff; 9], 100_000, true)?
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    let mut out = Vec::new();
    for id in ids {
        let Some(t) = get_json::<Task>(store, TASKS, &id)? else {
            continue;
        };
        if q.status.as_ref().is_some_and(|s| *s != t.status)
            || q.handler
                .as_ref()
                .is_some_and(|h| t.handler.as_ref() != Some(h))
            || q.customer.as_ref().is_some_and(|c| *c != t.customer_id)
        {
            continue;
        }
        out.push(t);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// The actor.
struct Engine {
    store: SharedStore,
    program: Arc<ProgramSlot>,
    clock: Clock,
    mem: Mem,
    evaluator: Option<(u64, Evaluator)>,
    /// Last sequence number used per local date.
    seqs: BTreeMap<NaiveDate, u64>,
    /// Audit ids reserved in blocks of [`AUDIT_BLOCK`] (next, end): one counter
    /// write per block instead of one per change.
    audit_ids: (u64, u64),
    /// The latest form of the orders changed lately. The engine is the only writer
    /// of orders, so an entry is never stale; it saves a store read and a JSON
    /// decode for each step of an order in progress.
    cache: HashMap<String, Workorder>,
    /// The open group's changes, not yet written to the store.
    pending: Batch,
    /// Orders of `pending` that became final: they leave the cache (which holds
    /// open orders) once `pending` is written; until then the cache is where the
    /// engine reads them.
    pending_final: Vec<String>,
    /// Why writing a pending batch of the open group failed.
    failed: Option<String>,
}

/// Audit ids reserved at once (ids of a block not used before a restart are skipped).
const AUDIT_BLOCK: u64 = 256;

/// Orders kept in [`Engine::cache`] at most (it is emptied when full, between
/// groups).
const CACHE_MAX: usize = 20_000;

/// A staged change: the order's new form and what memory must learn of it once
/// the batch is applied (its open record, `None` once it is final).
type MemUpdate = (Workorder, Option<OpenRecord>);

impl Engine {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>, commit: mpsc::Sender<Group>) {
        loop {
            let wake = self
                .mem
                .timers
                .first()
                .map(|&(due, _)| self.clock.instant_at(due));
            let mut group = Group::default();
            let mut stop = None;
            tokio::select! {
                m = rx.recv() => match m {
                    None => break,
                    Some(m) => {
                        let mut next = Some(m);
                        while let Some(m) = next.take() {
                            if let Msg::Stop(tx) = m {
                                stop = Some(tx);
                                break;
                            }
                            self.handle(m, &mut group);
                            if group.replies.len() < GROUP_MAX {
                                next = rx.try_recv().ok();
                            }
                        }
                    }
                },
                _ = async {
                    match wake {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            if stop.is_none() {
                self.fire_due(&mut group, 256);
            }
            self.finish_group(&mut group).await;
            if let Some(tx) = stop {
                group.replies.push(Box::new(move |_| {
                    let _ = tx.send(());
                }));
                let _ = commit.send(group).await;
                break;
            }
            if (group.dirty || !group.replies.is_empty()) && commit.send(group).await.is_err() {
                break;
            }
        }
    }

    fn handle(&mut self, m: Msg, g: &mut Group) {
        match m {
            Msg::Create(req, user, tx) => {
                let r = self.create(req, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::Transition(n, req, user, tx) => {
                let r = self.transition(&n, req, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::Comment(n, text, user, tx) => {
                let r = self.comment(&n, &text, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::Link(n, kind, to, user, tx) => {
                let r = self.link(&n, &kind, &to, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::Import(orders, user, tx) => {
                let r = self.import(orders, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::CreateTask(req, user, tx) => {
                let r = self.create_task(req, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::UpdateTask(id, up, user, tx) => {
                let r = self.update_task(id, up, &user);
                g.dirty |= r.is_ok();
                g.replies.push(defer(tx, r));
            }
            Msg::Query(q, tx) => {
                let r = self.query_mem(&q);
                g.replies.push(defer(tx, r));
            }
            Msg::Counts(tx) => {
                let r = Ok(self.counts());
                g.replies.push(defer(tx, r));
            }
            Msg::Stop(_) => {}
        }
    }

    /// Adds a change's batch to the open group and updates memory.
    fn apply(&mut self, batch: Batch, updates: Vec<MemUpdate>) -> Result<(), WoError> {
        self.pending.append(batch);
        for (o, rec) in updates {
            if let Some(num) = number_key(&o.number) {
                match &rec {
                    Some(r) => self.mem.set(num, r),
                    None => self.mem.remove(num),
                }
            }
            if rec.is_none() {
                self.pending_final.push(o.number.clone());
            }
            self.cache.insert(o.number.clone(), o);
        }
        Ok(())
    }

    /// Writes the open group's changes to the store (one atomic write), so that
    /// a read of the store sees them. Blocking; [`Engine::finish_group`] is the
    /// async form for the end of a group.
    fn write_pending(&mut self) -> Result<(), WoError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let r = self.store.apply(batch);
        self.written(r)
    }

    /// Writes the group's changes without holding up the executor (sled makes a
    /// write wait for a flush that is running) and records a failure in `g`.
    async fn finish_group(&mut self, g: &mut Group) {
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            let store = self.store.clone();
            let r = tokio::task::spawn_blocking(move || store.apply(batch))
                .await
                .unwrap_or_else(|e| Err(StoreError::Db(format!("store write failed: {e}"))));
            let _ = self.written(r);
        }
        g.error = self.failed.take();
    }

    /// Bookkeeping after the group's batch was written (or was not).
    fn written(&mut self, r: Result<(), StoreError>) -> Result<(), WoError> {
        match r {
            Ok(()) => {
                for n in self.pending_final.drain(..) {
                    self.cache.remove(&n);
                }
                if self.cache.len() > CACHE_MAX {
                    self.cache.clear();
                }
                while self.seqs.len() > 64 {
                    self.seqs.pop_first();
                }
                Ok(())
            }
            Err(e) => {
                let msg = format!("the change was not saved: {e}");
                tracing::error!("workorder changes could not be written: {e}; reloading");
                self.failed.get_or_insert_with(|| e.to_string());
                // Memory holds changes the store does not: start again from the store.
                self.pending_final.clear();
                self.cache.clear();
                self.seqs.clear();
                match load_mem(&*self.store) {
                    Ok(m) => self.mem = m,
                    Err(e) => tracing::error!("workorders could not be reloaded: {e}"),
                }
                Err(WoError::Store(msg))
            }
        }
    }

    /// A new audit id, from the reserved block.
    fn audit_id(&mut self) -> Result<u64, WoError> {
        if self.audit_ids.0 >= self.audit_ids.1 {
            let first = self.store.next_ids("audit", AUDIT_BLOCK)?;
            self.audit_ids = (first, first + AUDIT_BLOCK);
        }
        let id = self.audit_ids.0;
        self.audit_ids.0 += 1;
        Ok(id)
    }

    /// Adds an order's new form, history entries, indexes, open record and audit
    /// entry to a batch.
    #[allow(clippy::too_many_arguments)]
    fn stage(
        &mut self,
        batch: &mut Batch,
        updates: &mut Vec<MemUpdate>,
        old: Option<&Workorder>,
        new: &Workorder,
        entries: &[HistoryEntry],
        is_final: bool,
        user: &User,
        action: &str,
    ) -> Result<(), WoError> {
        batch.put_json(ORDERS, new.number.as_bytes().to_vec(), new);
        for e in entries {
            batch.put_json(HISTORY, history_key(&new.number, e.version), e);
        }
        // Index keys hold no value: only the keys that changed are written.
        let fresh = index_entries(new);
        let before = old.map(index_entries).unwrap_or_default();
        for (t, k) in &before {
            if !fresh.iter().any(|(t2, k2)| t2 == t && k2 == k) {
                batch.delete(t, k.clone());
            }
        }
        for (t, k) in fresh {
            if !before.iter().any(|(t2, k2)| *t2 == t && *k2 == k) {
                batch.put(t, k, Vec::new());
            }
        }
        if is_final {
            batch.delete(OPEN, new.number.as_bytes().to_vec());
            updates.push((new.clone(), None));
        } else {
            let rec = OpenRecord::of(new);
            let bytes = postcard::to_allocvec(&rec)
                .map_err(|e| WoError::Store(format!("cannot encode {}: {e}", new.number)))?;
            batch.put(OPEN, new.number.as_bytes().to_vec(), bytes);
            updates.push((new.clone(), Some(rec)));
        }
        let last = entries.last();
        let id = self.audit_id()?;
        audit_into(
            batch,
            id,
            &AuditEntry {
                at_ms: new.updated_ms,
                user: user.name.clone(),
                role: user.role.clone(),
                action: action.to_string(),
                target: new.number.clone(),
                detail: serde_json::json!({
                    "version": new.version,
                    "transition": last.and_then(|e| e.transition.clone()),
                    "from": last.and_then(|e| e.from.clone()),
                    "to": last.and_then(|e| e.to.clone()),
                    "department": new.department,
                    "fields": last.map(|e| e.fields.keys().cloned().collect::<Vec<_>>()),
                }),
            },
        );
        Ok(())
    }

    fn evaluator(&mut self, version: u64, program: &Program) -> &mut Evaluator {
        if self.evaluator.as_ref().is_none_or(|(v, _)| *v != version) {
            self.evaluator = Some((version, program.evaluator()));
        }
        let (_, e) = self
            .evaluator
            .get_or_insert_with(|| (version, program.evaluator()));
        e
    }

    /// The next order number for `now` (a local date of the project's time zone).
    fn next_number(
        &mut self,
        program: &Program,
        at_ms: i64,
        batch: &mut Batch,
    ) -> Result<String, WoError> {
        let tz = program.shared().tz;
        let date = chrono::DateTime::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive();
        let key = format!("day:{}", date.format("%Y%m%d"));
        let seq = match self.seqs.get(&date) {
            Some(s) => *s,
            None => self
                .store
                .get(META, key.as_bytes())?
                .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0),
        } + 1;
        // Trimmed between groups only: while a group is open, its day counters
        // are known here and not yet in the store.
        self.seqs.insert(date, seq);
        batch.put(META, key.into_bytes(), seq.to_be_bytes().to_vec());
        Ok(lifecycle::order_number(date, seq))
    }

    fn check_department(program: &Program, d: &str) -> Result<(), WoError> {
        if program.ir().departments.iter().any(|(n, _)| n == d) {
            Ok(())
        } else {
            let known: Vec<&str> = program
                .ir()
                .departments
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            Err(WoError::invalid(
                "department",
                format!(
                    "there is no department `{d}`; the departments are: {}",
                    known.join(", ")
                ),
            ))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn build_new(
        &mut self,
        program: &Program,
        kind: &str,
        state: Option<&str>,
        fields: &serde_json::Map<String, serde_json::Value>,
        department: Option<String>,
        handler: Option<String>,
        at_ms: i64,
        user: &User,
        batch: &mut Batch,
    ) -> Result<(Workorder, HistoryEntry, bool), WoError> {
        let ir = lifecycle::lifecycle(program, kind)?;
        let fields = lifecycle::validate_new(ir, fields)?;
        if let Some(d) = &department {
            Self::check_department(program, d)?;
        }
        let st = match state {
            Some(s) => lifecycle::state(ir, s).ok_or_else(|| {
                WoError::invalid("state", format!("a `{kind}` workorder has no state `{s}`"))
            })?,
            None => ir.states.iter().find(|s| s.initial).ok_or_else(|| {
                WoError::invalid("kind", format!("`{kind}` has no initial state"))
            })?,
        };
        let number = self.next_number(program, at_ms, batch)?;
        let customer_id = ir
            .fields
            .iter()
            .find(|f| f.kind == "customer")
            .and_then(|f| fields.get(&f.name))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let cal = ir
            .calendar
            .and_then(|c| program.shared().calendars.get(c as usize));
        let (deadline_ms, timers) = lifecycle::state_timers(st, at_ms, cal);
        let o = Workorder {
            number,
            kind: kind.to_string(),
            state: st.name.clone(),
            fields: fields.clone(),
            customer_id,
            event_id: None,
            contact_id: None,
            department: department.clone(),
            handler: handler.clone(),
            dispatcher: department.as_ref().map(|_| user.name.clone()),
            created_by: user.name.clone(),
            created_ms: at_ms,
            updated_ms: at_ms,
            state_entered_ms: at_ms,
            dispatched_ms: department.as_ref().map(|_| at_ms),
            closed_ms: st.is_final.then_some(at_ms),
            deadline_ms,
            timers,
            feedback: None,
            links: Vec::new(),
            assignments: vec![Assignment {
                state: st.name.clone(),
                department,
                handler,
            }],
            version: 1,
        };
        let entry = HistoryEntry {
            version: 1,
            at_ms,
            user: user.name.clone(),
            role: user.role.clone(),
            action: "create".into(),
            transition: None,
            from: None,
            to: Some(o.state.clone()),
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields,
            comment: None,
        };
        Ok((o, entry, st.is_final))
    }

    fn create(&mut self, req: CreateRequest, user: &User) -> Result<Workorder, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let now = self.clock.now_ms();
        let mut event = None;
        if let Some(id) = req.event_id {
            self.write_pending()?;
            event = Some(
                crate::interactions::get_event(&*self.store, id)?.ok_or_else(|| {
                    WoError::invalid("event_id", format!("there is no interaction event {id}"))
                })?,
            );
        }
        let mut batch = Batch::new();
        let (mut o, mut entry, fin) = self.build_new(
            program,
            &req.kind,
            None,
            &req.fields,
            req.department,
            None,
            now,
            user,
            &mut batch,
        )?;
        o.event_id = req.event_id;
        o.contact_id = req.contact_id;
        if o.customer_id.is_empty()
            && let Some(e) = &event
        {
            o.customer_id = e.customer_id.clone();
        }
        entry.comment = req.comment;
        let mut updates = Vec::new();
        self.stage(
            &mut batch,
            &mut updates,
            None,
            &o,
            &[entry],
            fin,
            user,
            "workorder.create",
        )?;
        self.apply(batch, updates)?;
        Ok(o)
    }

    fn import(&mut self, orders: Vec<ImportOrder>, user: &User) -> Result<Vec<String>, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let now = self.clock.now_ms();
        let mut batch = Batch::new();
        let mut updates = Vec::new();
        let mut numbers = Vec::with_capacity(orders.len());
        let saved = self.seqs.clone();
        for (i, io) in orders.into_iter().enumerate() {
            let at = io.created_ms.unwrap_or(now);
            let r = self.build_new(
                program,
                &io.kind,
                io.state.as_deref(),
                &io.fields,
                io.department,
                io.handler,
                at,
                user,
                &mut batch,
            );
            let (o, entry, fin) = match r {
                Ok(x) => x,
                Err(e) => {
                    self.seqs = saved;
                    return Err(e.within(&format!("orders[{i}]")));
                }
            };
            self.stage(
                &mut batch,
                &mut updates,
                None,
                &o,
                &[entry],
                fin,
                user,
                "workorder.import",
            )?;
            numbers.push(o.number);
        }
        if let Err(e) = self.apply(batch, updates) {
            self.seqs = saved;
            return Err(e);
        }
        Ok(numbers)
    }

    fn load(&self, number: &str) -> Result<Workorder, WoError> {
        match self.cache.get(number) {
            Some(o) => Ok(o.clone()),
            None => load_order(&*self.store, number),
        }
    }

    fn transition(
        &mut self,
        number: &str,
        req: TransitionRequest,
        user: &User,
    ) -> Result<Workorder, WoError> {
        let deployed = self.program.current();
        let program = &deployed.program;
        let old = self.load(number)?;
        let ir = lifecycle::lifecycle(program, &old.kind)?;
        if let Some(from) = &req.from
            && *from != old.state
        {
            return Err(WoError::Conflict {
                state: old.state.clone(),
                message: format!("workorder {number} is in `{}` now, not `{from}`", old.state),
            });
        }
        let t = match lifecycle::find_transition(ir, &req.transition, &old.state) {
            TransitionCheck::Ok(t) => t,
            TransitionCheck::Unknown => {
                let names: Vec<&str> = ir.transitions.iter().map(|t| t.name.as_str()).collect();
                return Err(WoError::invalid(
                    "transition",
                    format!(
                        "a `{}` workorder has no transition `{}`; its transitions are: {}",
                        ir.name,
                        req.transition,
                        names.join(", ")
                    ),
                ));
            }
            TransitionCheck::NotFromHere => {
                return Err(WoError::Conflict {
                    state: old.state.clone(),
                    message: format!(
                        "`{}` cannot be taken from `{}`, the state workorder {number} is in; from here: {}",
                        req.transition,
                        old.state,
                        lifecycle::transitions_from(ir, &old.state).join(", ")
                    ),
                });
            }
        };
        if !(user.role == "admin" || t.roles.contains(&user.role)) {
            return Err(WoError::Forbidden(format!(
                "the role `{}` may not take `{}`; it is for: {}",
                user.role,
                t.name,
                t.roles.join(", ")
            )));
        }
        if user.role == "handler" && (old.department.is_none() || old.department != user.department)
        {
            return Err(WoError::Forbidden(format!(
                "workorder {number} is not with your department"
            )));
        }
        let updates = lifecycle::validate_update(ir, &req.fields)?;
        let now = self.clock.now_ms();
        let mut o = old.clone();
        for (k, v) in &updates {
            if v.is_null() {
                o.fields.remove(k);
            } else {
                o.fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(g) = t.guard {
            let version = deployed.info.version;
            let age = now - o.created_ms;
            let fields = o.fields.clone();
            let ev = self.evaluator(version, program);
            let ok = lifecycle::guard_holds(program, ev, ir, g, &fields, age, now)
                .map_err(|e| WoError::Rule(format!("the condition of `{}` failed: {e}", t.name)))?;
            if !ok {
                return Err(WoError::Rule(format!(
                    "the condition of `{}` does not hold for workorder {number}; set the fields it needs",
                    t.name
                )));
            }
        }
        let to = ir
            .states
            .get(t.to as usize)
            .ok_or_else(|| WoError::Rule(format!("`{}` leads to an unknown state", t.name)))?;
        if let Some(d) = &req.department {
            Self::check_department(program, d)?;
        }
        match t.kind {
            Some(TransitionKind::Forward) => {
                let d = req.department.clone().ok_or_else(|| {
                    WoError::invalid(
                        "department",
                        format!(
                            "`{}` forwards the order: give the `department` to send it to",
                            t.name
                        ),
                    )
                })?;
                if o.department.as_deref() == Some(d.as_str()) {
                    return Err(WoError::invalid(
                        "department",
                        format!("workorder {number} is already with `{d}`"),
                    ));
                }
                o.department = Some(d);
                o.handler = req.handler.clone();
                o.dispatcher = Some(user.name.clone());
                o.dispatched_ms = Some(now);
            }
            Some(TransitionKind::Return) => {
                let back = o.assignments.iter().find(|a| a.state == to.name).cloned();
                match back {
                    Some(a) => {
                        o.department = a.department;
                        o.handler = a.handler;
                    }
                    None => o.handler = None,
                }
            }
            _ => {
                if let Some(d) = &req.department
                    && o.department.as_ref() != Some(d)
                {
                    o.department = Some(d.clone());
                    o.dispatcher = Some(user.name.clone());
                    o.dispatched_ms = Some(now);
                    o.handler = None;
                }
                if let Some(h) = &req.handler {
                    o.handler = Some(h.clone());
                } else if user.role == "handler" {
                    o.handler = Some(user.name.clone());
                }
            }
        }
        let to_index = t.to;
        let handlers_act_next = ir
            .transitions
            .iter()
            .any(|x| x.from == to_index && x.roles.iter().any(|r| r == "handler"));
        if handlers_act_next && o.department.is_none() && !to.is_final {
            return Err(WoError::invalid(
                "department",
                format!(
                    "in `{}` the order is with a department's handlers: give the `department`",
                    to.name
                ),
            ));
        }
        if t.kind == Some(TransitionKind::Reply)
            && let Some(c) = &req.comment
        {
            o.feedback = Some(c.clone());
        }
        o.closed_ms = if to.is_final { Some(now) } else { None };
        o.state = to.name.clone();
        o.state_entered_ms = now;
        let cal = ir
            .calendar
            .and_then(|c| program.shared().calendars.get(c as usize));
        let (deadline, timers) = lifecycle::state_timers(to, now, cal);
        o.deadline_ms = deadline;
        o.timers = timers;
        o.assignments.retain(|a| a.state != to.name);
        o.assignments.push(Assignment {
            state: to.name.clone(),
            department: o.department.clone(),
            handler: o.handler.clone(),
        });
        o.updated_ms = now;
        o.version += 1;
        let entry = HistoryEntry {
            version: o.version,
            at_ms: now,
            user: user.name.clone(),
            role: user.role.clone(),
            action: "transition".into(),
            transition: Some(t.name.clone()),
            from: Some(old.state.clone()),
            to: Some(o.state.clone()),
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields: updates,
            comment: req.comment,
        };
        let mut batch = Batch::new();
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &[entry],
            to.is_final,
            user,
            "workorder.transition",
        )?;
        self.apply(batch, ups)?;
        Ok(o)
    }

    fn may_touch(user: &User, o: &Workorder) -> Result<(), WoError> {
        if user.role == "handler" && (o.department.is_none() || o.department != user.department) {
            return Err(WoError::Forbidden(format!(
                "workorder {} is not with your department",
                o.number
            )));
        }
        Ok(())
    }

    fn is_final_now(&self, o: &Workorder) -> bool {
        let deployed = self.program.current();
        match lifecycle::lifecycle(&deployed.program, &o.kind) {
            Ok(ir) => lifecycle::is_final(ir, &o.state),
            Err(_) => o.closed_ms.is_some(),
        }
    }

    fn comment(&mut self, number: &str, text: &str, user: &User) -> Result<Workorder, WoError> {
        if text.trim().is_empty() {
            return Err(WoError::invalid("text", "the comment is empty"));
        }
        let old = self.load(number)?;
        Self::may_touch(user, &old)?;
        let now = self.clock.now_ms();
        let mut o = old.clone();
        o.version += 1;
        o.updated_ms = now;
        let entry = self.plain_entry(&o, user, "comment", Some(text.to_string()));
        let fin = self.is_final_now(&o);
        let mut batch = Batch::new();
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &[entry],
            fin,
            user,
            "workorder.comment",
        )?;
        self.apply(batch, ups)?;
        Ok(o)
    }

    fn plain_entry(
        &self,
        o: &Workorder,
        user: &User,
        action: &str,
        comment: Option<String>,
    ) -> HistoryEntry {
        HistoryEntry {
            version: o.version,
            at_ms: o.updated_ms,
            user: user.name.clone(),
            role: user.role.clone(),
            action: action.into(),
            transition: None,
            from: None,
            to: None,
            department: o.department.clone(),
            handler: o.handler.clone(),
            fields: BTreeMap::new(),
            comment,
        }
    }

    fn link(
        &mut self,
        number: &str,
        kind: &str,
        to: &str,
        user: &User,
    ) -> Result<(Workorder, Workorder), WoError> {
        if number == to {
            return Err(WoError::invalid(
                "to",
                "an order cannot be linked to itself",
            ));
        }
        let a_old = self.load(number)?;
        Self::may_touch(user, &a_old)?;
        let b_old = match self.load(to) {
            Ok(b) => b,
            Err(WoError::NotFound(m)) => return Err(WoError::invalid("to", m)),
            Err(e) => return Err(e),
        };
        let deployed = self.program.current();
        let ir = lifecycle::lifecycle(&deployed.program, &a_old.kind)?;
        if !ir.links.iter().any(|l| l == kind) {
            return Err(WoError::invalid(
                "kind",
                format!(
                    "a `{}` workorder has no link kind `{kind}`; its kinds are: {}",
                    ir.name,
                    ir.links.join(", ")
                ),
            ));
        }
        if a_old.links.iter().any(|l| l.kind == kind && l.number == to) {
            return Err(WoError::Conflict {
                state: a_old.state.clone(),
                message: format!("{number} is already linked to {to} as `{kind}`"),
            });
        }
        let now = self.clock.now_ms();
        let mut a = a_old.clone();
        let mut b = b_old.clone();
        a.links.push(Link {
            kind: kind.into(),
            number: to.into(),
            direction: "to".into(),
        });
        b.links.push(Link {
            kind: kind.into(),
            number: number.into(),
            direction: "from".into(),
        });
        for o in [&mut a, &mut b] {
            o.version += 1;
            o.updated_ms = now;
        }
        let ea = self.plain_entry(&a, user, "link", Some(format!("{kind} -> {to}")));
        let eb = self.plain_entry(&b, user, "link", Some(format!("{kind} <- {number}")));
        let (fa, fb) = (self.is_final_now(&a), self.is_final_now(&b));
        let mut batch = Batch::new();
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&a_old),
            &a,
            &[ea],
            fa,
            user,
            "workorder.link",
        )?;
        self.stage(
            &mut batch,
            &mut ups,
            Some(&b_old),
            &b,
            &[eb],
            fb,
            user,
            "workorder.link",
        )?;
        self.apply(batch, ups)?;
        Ok((a, b))
    }

    /// Fires the timers that are due (at most `max` orders per round).
    fn fire_due(&mut self, g: &mut Group, max: usize) {
        let now = self.clock.now_ms();
        for _ in 0..max {
            let Some(&(due, num)) = self.mem.timers.first() else {
                break;
            };
            if due > now {
                break;
            }
            match self.fire(num, now) {
                Ok(()) => g.dirty = true,
                Err(e) => {
                    tracing::error!("timer of workorder {num} could not fire: {e}");
                    self.mem.postpone(num, now + 60_000);
                }
            }
        }
    }

    fn fire(&mut self, num: u64, now: i64) -> Result<(), WoError> {
        let number = num.to_string();
        let old = match self.load(&number) {
            Ok(o) => o,
            Err(WoError::NotFound(_)) => {
                self.mem.remove(num);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut o = old.clone();
        let user = system_user();
        let mut batch = Batch::new();
        let mut entries = Vec::new();
        let deployed = self.program.current();
        let label = lifecycle::lifecycle(&deployed.program, &o.kind)
            .ok()
            .and_then(|ir| lifecycle::state(ir, &o.state))
            .map(|s| s.label.clone())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| o.state.clone());
        for i in 0..o.timers.len() {
            if o.timers[i].fired || o.timers[i].due_ms > now {
                continue;
            }
            o.timers[i].fired = true;
            let t = o.timers[i].clone();
            let mut recipients = Vec::new();
            for r in &t.to {
                if r == "handler" {
                    recipients.push(o.department.clone().unwrap_or_else(|| "handler".into()));
                    if let Some(h) = &o.handler {
                        recipients.push(h.clone());
                    }
                } else {
                    recipients.push(r.clone());
                }
            }
            recipients.dedup();
            let what = if t.action == "remind" {
                "催办 reminder"
            } else {
                "督办 escalation"
            };
            let message = format!(
                "{what}: workorder {} ({}) is in {label} since {}; limit {}",
                o.number,
                o.kind,
                fmt_time(o.state_entered_ms),
                o.deadline_ms.map(fmt_time).unwrap_or_else(|| "-".into()),
            );
            for to in &recipients {
                let id = self.store.next_id("notification")?;
                let n = Notification {
                    id,
                    at_ms: now,
                    to: to.clone(),
                    action: t.action.clone(),
                    number: o.number.clone(),
                    kind: o.kind.clone(),
                    state: o.state.clone(),
                    department: o.department.clone(),
                    handler: o.handler.clone(),
                    due_ms: t.due_ms,
                    deadline_ms: o.deadline_ms,
                    message: message.clone(),
                };
                batch.put_json(NOTIFICATIONS, id_key(id).to_vec(), &n);
                let mut k = to.as_bytes().to_vec();
                k.push(0);
                k.extend_from_slice(&time_key(now));
                k.extend_from_slice(&id_key(id));
                batch.put(NOTIFY_TO, k, Vec::new());
            }
            o.version += 1;
            o.updated_ms = now;
            entries.push(self.plain_entry(
                &o,
                &user,
                &t.action,
                Some(format!("{} -> {}", t.action, recipients.join(", "))),
            ));
        }
        if entries.is_empty() {
            // Memory was ahead of the order (already fired): re-arm from the order.
            self.mem.set(num, &OpenRecord::of(&o));
            return Ok(());
        }
        let action = if entries.iter().any(|e| e.action == "escalate") {
            "workorder.escalate"
        } else {
            "workorder.remind"
        };
        let mut ups = Vec::new();
        self.stage(
            &mut batch,
            &mut ups,
            Some(&old),
            &o,
            &entries,
            false,
            &user,
            action,
        )?;
        self.apply(batch, ups)
    }

    fn query_mem(&self, q: &Query) -> Result<Page, WoError> {
        let now = self.clock.now_ms();
        let m = &self.mem;
        let id = |s: &Option<String>| -> Result<Option<u32>, ()> {
            match s {
                None => Ok(None),
                Some(s) => m.names.get(s).map(Some).ok_or(()),
            }
        };
        let empty = Page {
            items: Vec::new(),
            next_offset: None,
            total: Some(0),
        };
        let (Ok(kind), Ok(state), Ok(dept), Ok(handler)) =
            (id(&q.kind), id(&q.state), id(&q.department), id(&q.handler))
        else {
            return Ok(empty);
        };
        let ok = |o: &super::mem::Open| {
            kind.is_none_or(|k| o.kind == k)
                && state.is_none_or(|s| o.state == s)
                && dept.is_none_or(|d| o.department == d)
                && handler.is_none_or(|h| o.handler == h)
                && (!q.overdue || o.deadline < now)
                && q.created_from.is_none_or(|f| o.created >= f)
                && q.created_to.is_none_or(|t| o.created < t)
                && q.updated_from.is_none_or(|f| o.updated >= f)
                && q.updated_to.is_none_or(|t| o.updated < t)
        };
        let mut hits: Vec<(i64, u64)> = Vec::new();
        if q.overdue {
            let mut take = |d: u32| {
                for &(_, deadline, num) in m.by_deadline.range((d, i64::MIN, 0)..(d, now, 0)) {
                    if let Some(o) = m.open.get(&num)
                        && ok(o)
                    {
                        hits.push((deadline, num));
                    }
                }
            };
            match dept {
                Some(d) => take(d),
                None => {
                    let depts: std::collections::BTreeSet<u32> =
                        m.by_deadline.iter().map(|k| k.0).collect();
                    for d in depts {
                        take(d);
                    }
                    hits.sort_unstable();
                }
            }
        } else {
            for (&num, o) in &m.open {
                if ok(o) {
                    hits.push((o.created, num));
                }
            }
            hits.sort_unstable_by(|a, b| b.cmp(a));
        }
        let total = hits.len();
        let mut items = Vec::new();
        for &(_, num) in hits.iter().skip(q.offset).take(q.limit) {
            if let Ok(o) = self.load(&num.to_string()) {
                items.push(o);
            }
        }
        let next = q.offset + q.limit;
        Ok(Page {
            items,
            next_offset: (next < total).then_some(next),
            total: Some(total),
        })
    }

    fn counts(&self) -> Counts {
        let now = self.clock.now_ms();
        let m = &self.mem;
        let mut open: Vec<CountRow> = m
            .counts
            .iter()
            .map(|(&(k, s, d), &c)| CountRow {
                kind: m.names.name(k).to_string(),
                state: m.names.name(s).to_string(),
                department: m.names.name(d).to_string(),
                count: c,
            })
            .collect();
        open.sort_by(|a, b| {
            (&a.kind, &a.state, &a.department).cmp(&(&b.kind, &b.state, &b.department))
        });
        let mut overdue: BTreeMap<u32, u64> = BTreeMap::new();
        let mut cursor: Option<u32> = None;
        loop {
            let start = match cursor {
                None => (0u32, i64::MIN, 0u64),
                Some(d) => match d.checked_add(1) {
                    Some(n) => (n, i64::MIN, 0),
                    None => break,
                },
            };
            let Some(&(d, _, _)) = m.by_deadline.range(start..).next() else {
                break;
            };
            let c = m.by_deadline.range((d, i64::MIN, 0)..(d, now, 0)).count() as u64;
            if c > 0 {
                overdue.insert(d, c);
            }
            cursor = Some(d);
        }
        let total_overdue = overdue.values().sum();
        Counts {
            open,
            overdue: overdue
                .into_iter()
                .map(|(d, count)| OverdueRow {
                    department: m.names.name(d).to_string(),
                    count,
                })
                .collect(),
            total_open: m.open.len() as u64,
            total_overdue,
        }
    }

    fn create_task(&mut self, req: TaskRequest, user: &User) -> Result<Task, WoError> {
        for (name, v) in [
            ("campaign", &req.campaign),
            ("task_type", &req.task_type),
            ("customer_id", &req.customer_id),
        ] {
            if v.trim().is_empty() {
                return Err(WoError::invalid(name, format!("a task needs `{name}`")));
            }
        }
        if !req.phone.is_empty() && !lifecycle::is_phone(&req.phone) {
            return Err(WoError::invalid(
                "phone",
                format!("`{}` is not a telephone number", req.phone),
            ));
        }
        let now = self.clock.now_ms();
        let id = self.store.next_id("task")?;
        let dispatched = req.handler.is_some();
        let t = Task {
            id,
            campaign: req.campaign,
            task_type: req.task_type,
            customer_id: req.customer_id,
            phone: req.phone,
            description: req.description,
            deadline_ms: req.deadline_ms,
            status: if dispatched { "dispatched" } else { "pending" }.into(),
            dispatcher: dispatched.then(|| user.name.clone()),
            handler: req.handler,
            created_ms: now,
            updated_ms: now,
            dispatched_ms: dispatched.then_some(now),
            started_ms: None,
            ended_ms: None,
            result: None,
            memo: req.memo,
        };
        let mut batch = Batch::new();
        batch.put_json(TASKS, id_key(id).to_vec(), &t);
        let mut k = t.campaign.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&id_key(id));
        batch.put(TASKS_BY_CAMPAIGN, k, Vec::new());
        let mut k = t.customer_id.as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(&id_key(id));
        batch.put(TASKS_BY_CUSTOMER, k, Vec::new());
        self.audit_task(&mut batch, user, "task.create", &t)?;
        self.pending.append(batch);
        Ok(t)
    }

    fn audit_task(
        &self,
        batch: &mut Batch,
        user: &User,
        action: &str,
        t: &Task,
    ) -> Result<(), WoError> {
        let aid = self.store.next_id("audit")?;
        audit_into(
            batch,
            aid,
            &AuditEntry {
                at_ms: t.updated_ms,
                user: user.name.clone(),
                role: user.role.clone(),
                action: action.into(),
                target: format!("task:{}", t.id),
                detail: serde_json::json!({ "status": t.status, "handler": t.handler }),
            },
        );
        Ok(())
    }

    fn update_task(&mut self, id: u64, up: TaskUpdate, user: &User) -> Result<Task, WoError> {
        self.write_pending()?;
        let mut t: Task = get_json(&*self.store, TASKS, &id_key(id))?
            .ok_or_else(|| WoError::NotFound(format!("there is no task {id}")))?;
        if TASK_FINAL.contains(&t.status.as_str()) {
            return Err(WoError::Conflict {
                state: t.status.clone(),
                message: format!("task {id} is {} and cannot change", t.status),
            });
        }
        if user.role == "agent" {
            let theirs = |h: &String| *h == user.name;
            if !t.handler.as_ref().is_none_or(theirs) || !up.handler.as_ref().is_none_or(theirs) {
                return Err(WoError::Forbidden(format!(
                    "task {id} is not yours; agents work on the tasks dispatched to them"
                )));
            }
        }
        let now = self.clock.now_ms();
        if let Some(h) = up.handler
            && t.handler.as_ref() != Some(&h)
        {
            t.handler = Some(h);
            t.dispatcher = Some(user.name.clone());
            t.dispatched_ms = Some(now);
            if t.status == "pending" {
                t.status = "dispatched".into();
            }
        }
        if let Some(s) = up.status {
            if !TASK_STATUSES.contains(&s.as_str()) {
                return Err(WoError::invalid(
                    "status",
                    format!(
                        "`{s}` is not a task status; use one of: {}",
                        TASK_STATUSES.join(", ")
                    ),
                ));
            }
            if s == "in_progress" && t.started_ms.is_none() {
                t.started_ms = Some(now);
            }
            if matches!(s.as_str(), "done" | "failed" | "cancelled") {
                t.ended_ms = Some(now);
            }
            t.status = s;
        }
        if let Some(r) = up.result {
            t.result = Some(r);
        }
        if let Some(m) = up.memo {
            t.memo = m;
        }
        t.updated_ms = now;
        let mut batch = Batch::new();
        batch.put_json(TASKS, id_key(id).to_vec(), &t);
        self.audit_task(&mut batch, user, "task.update", &t)?;
        self.pending.append(batch);
        Ok(t)
    }
}

fn fmt_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
