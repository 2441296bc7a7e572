//! [`WorkorderHandle`]: how call tasks, the API and tests talk to the workorder
//! engine (the requests they send it are in [`super::requests`]).

use std::sync::Arc;

use dialect_compiler::value::Value;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::WoError;
use super::lifecycle::{self};
use super::mem::Mem;
use super::model::*;
use super::people::Directory;
use crate::auth::User;
use crate::config::Role;
use crate::deploy::ProgramSlot;
use crate::store::{SharedStore, StoreError, get_json};
use crate::time::PausableClock;
use crate::workorder::engine::{
    Counts, Msg, Page, Query, Reply, TaskQuery, blocking, load_mem, load_order, query_store,
    query_tasks, read_history, read_notifications, spawn,
};
use crate::workorder::requests::{
    CreateRequest, ImportOrder, TaskRequest, TaskUpdate, TransitionRequest,
};
use crate::workorder::shared::Forwarded;

/// What the engine found at start: how many open orders it loaded and timers
/// it armed, and what that cost.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct StartReport {
    pub open_orders: usize,
    pub timers: usize,
    /// Timers already due (they fire at once).
    pub due_now: usize,
    /// Time to load, ms.
    pub load_ms: u64,
    /// Approximate memory of the in-memory indexes, bytes.
    pub index_bytes: usize,
}

/// How call tasks, the API and tests talk to the engine. Cheap to clone.
#[derive(Clone)]
pub struct WorkorderHandle {
    pub(super) route: Route,
    pub(super) store: SharedStore,
    pub(super) program: Arc<ProgramSlot>,
    pub(super) clock: PausableClock,
}

/// Where the engine runs.
#[derive(Clone)]
pub(super) enum Route {
    /// In this runtime, always (one runtime, or tests).
    Own(mpsc::Sender<Msg>),
    /// In whichever runtime of the cluster holds the engine's lease
    /// (see [`super::shared`]).
    Shared(Arc<super::shared::SharedEngine>),
}

/// Where one request goes.
enum Target {
    Here(mpsc::Sender<Msg>),
    There(Arc<super::shared::SharedEngine>),
}

/// Sends one message to an engine in this runtime and waits for its answer.
pub(super) async fn ask<T>(
    tx: &mpsc::Sender<Msg>,
    make: impl FnOnce(Reply<T>) -> Msg,
) -> Result<T, WoError> {
    let (reply, rx) = oneshot::channel();
    tx.send(make(reply))
        .await
        .map_err(|_| WoError::Unavailable)?;
    rx.await.map_err(|_| WoError::Unavailable)?
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
        role: Role::System,
        department: None,
    }
}

impl WorkorderHandle {
    /// Loads the open orders, arms every timer and starts the engine. Timers that
    /// fell due while the runtime was down fire at once.
    pub async fn start(
        store: SharedStore,
        program: Arc<ProgramSlot>,
        clock: PausableClock,
    ) -> Result<(WorkorderHandle, StartReport), WoError> {
        Self::start_with_people(store, program, clock, Directory::default()).await
    }

    /// [`WorkorderHandle::start`] with the people that reminders and
    /// escalations reach known from the first moment, so that the timers that
    /// fell due while the runtime was down, which fire at once, reach them too.
    pub async fn start_with_people(
        store: SharedStore,
        program: Arc<ProgramSlot>,
        clock: PausableClock,
        people: Directory,
    ) -> Result<(WorkorderHandle, StartReport), WoError> {
        let started = std::time::Instant::now();
        let s = store.clone();
        let mem = tokio::task::spawn_blocking(move || -> Result<Mem, StoreError> {
            crate::interactions::seed_event_types(&*s)?;
            load_mem(&*s)
        })
        .await
        .map_err(StoreError::from)??;
        let now = clock.now_ms();
        let report = StartReport {
            open_orders: mem.open.len(),
            timers: mem.timers.len(),
            due_now: mem.timers.range(..(now + 1, 0)).count(),
            load_ms: started.elapsed().as_millis() as u64,
            index_bytes: mem.approx_bytes(),
        };
        let tx = spawn(store.clone(), program.clone(), clock, mem, people);
        Ok((
            WorkorderHandle {
                route: Route::Own(tx),
                store,
                program,
                clock,
            },
            report,
        ))
    }

    /// The engine's clock.
    pub fn clock(&self) -> PausableClock {
        self.clock
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    fn target(&self) -> Target {
        match &self.route {
            Route::Own(tx) => Target::Here(tx.clone()),
            Route::Shared(shared) => match shared.local() {
                Some(tx) => Target::Here(tx),
                None => Target::There(shared.clone()),
            },
        }
    }

    /// Whether the engine runs in this runtime now.
    pub fn runs_here(&self) -> bool {
        matches!(self.target(), Target::Here(_))
    }

    /// Creates an order; answers once it is durable.
    pub async fn create(&self, req: CreateRequest, user: &User) -> Result<Workorder, WoError> {
        let user = user.clone();
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::Create(req, user, r)).await,
            Target::There(s) => s.forward(&Forwarded::Create { req, user }).await,
        }
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
        let (number, user) = (number.to_string(), user.clone());
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::Transition(number, req, user, r)).await,
            Target::There(s) => {
                s.forward(&Forwarded::Transition { number, req, user })
                    .await
            }
        }
    }

    /// Adds a comment to an order's history.
    pub async fn comment(
        &self,
        number: &str,
        text: &str,
        user: &User,
    ) -> Result<Workorder, WoError> {
        let (number, text, user) = (number.to_string(), text.to_string(), user.clone());
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::Comment(number, text, user, r)).await,
            Target::There(s) => s.forward(&Forwarded::Comment { number, text, user }).await,
        }
    }

    /// Links two orders (W4); both get the link and a history entry.
    pub async fn link(
        &self,
        number: &str,
        kind: &str,
        to: &str,
        user: &User,
    ) -> Result<(Workorder, Workorder), WoError> {
        let (number, kind, to, user) = (
            number.to_string(),
            kind.to_string(),
            to.to_string(),
            user.clone(),
        );
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::Link(number, kind, to, user, r)).await,
            Target::There(s) => {
                s.forward(&Forwarded::Link {
                    number,
                    kind,
                    to,
                    user,
                })
                .await
            }
        }
    }

    /// Imports orders (each validated; all or none are stored).
    pub async fn import(
        &self,
        orders: Vec<ImportOrder>,
        user: &User,
    ) -> Result<Vec<String>, WoError> {
        let user = user.clone();
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::Import(orders, user, r)).await,
            Target::There(s) => s.forward(&Forwarded::Import { orders, user }).await,
        }
    }

    /// One order by number, read from the store (`NotFound` when there is none).
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
            return match self.target() {
                Target::Here(tx) => ask(&tx, |r| Msg::Query(q, r)).await,
                Target::There(s) => s.forward(&Forwarded::Query { query: q }).await,
            };
        }
        let store = self.store.clone();
        let now = self.clock.now_ms();
        blocking(move || query_store(&*store, &q, now)).await
    }

    /// Open and overdue orders by state and department (W5).
    pub async fn counts(&self) -> Result<Counts, WoError> {
        match self.target() {
            Target::Here(tx) => ask(&tx, Msg::Counts).await,
            Target::There(s) => s.forward(&Forwarded::Counts).await,
        }
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

    /// Creates an outbound task, `dispatched` when the request names a handler and
    /// `pending` otherwise.
    pub async fn create_task(&self, req: TaskRequest, user: &User) -> Result<Task, WoError> {
        let user = user.clone();
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::CreateTask(req, user, r)).await,
            Target::There(s) => s.forward(&Forwarded::CreateTask { req, user }).await,
        }
    }

    /// Changes a task (status, handler, result, memo).
    pub async fn update_task(&self, id: u64, up: TaskUpdate, user: &User) -> Result<Task, WoError> {
        let user = user.clone();
        match self.target() {
            Target::Here(tx) => ask(&tx, |r| Msg::UpdateTask(id, up, user, r)).await,
            Target::There(s) => {
                s.forward(&Forwarded::UpdateTask {
                    id,
                    update: up,
                    user,
                })
                .await
            }
        }
    }

    /// One task by id (`NotFound` when there is none).
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

    /// Gives API users the project roles (`role NAME` declarations) the
    /// configuration maps them to (`roles:` section: role → user names), for
    /// the `by` lists of transitions.
    pub async fn set_role_members(&self, roles: &std::collections::BTreeMap<String, Vec<String>>) {
        let mut members: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        for (role, users) in roles {
            for u in users {
                members.entry(u.clone()).or_default().push(role.clone());
            }
        }
        match &self.route {
            Route::Own(tx) => {
                let _ = tx.send(Msg::Members(members)).await;
            }
            Route::Shared(shared) => shared.set_members(members).await,
        }
    }

    /// Tells the engine who the API users are, their roles, departments and
    /// contact addresses, and the project roles the configuration gives them:
    /// the people that reminders and escalations are e-mailed and texted to.
    pub async fn set_people(
        &self,
        users: &[crate::config::ApiUser],
        roles: &std::collections::BTreeMap<String, Vec<String>>,
    ) {
        let directory = Directory::new(users, roles);
        match &self.route {
            Route::Own(tx) => {
                let _ = tx.send(Msg::People(Box::new(directory))).await;
            }
            Route::Shared(shared) => shared.set_people(directory).await,
        }
    }

    /// A flow's `lookup workorder KIND(number)`: the order's number, state,
    /// department, handler and fields, or why there is none.
    pub async fn lookup_from_flow(
        &self,
        kind: &str,
        number: &str,
    ) -> Result<Vec<(String, Value)>, String> {
        let o = self.get(number).await.map_err(|e| e.to_string())?;
        if o.kind != kind {
            return Err(super::no_such_order(number));
        }
        let deployed = self.program.current();
        let ir = lifecycle::lifecycle(&deployed.program, kind).map_err(|e| e.to_string())?;
        Ok(crate::workorder::engine::triggers::order_record(ir, &o))
    }

    /// A flow's `transition workorder N to STATE`: takes the transition from
    /// the order's current state to `to` whose `by` list names `ivr`, with the
    /// comment (the reason a `(reason required)` step needs).
    pub async fn transition_from_flow(
        &self,
        number: &str,
        to: &str,
        comment: Option<String>,
    ) -> Result<Workorder, WoError> {
        let o = self.get(number).await?;
        let name = {
            let deployed = self.program.current();
            let ir = lifecycle::lifecycle(&deployed.program, &o.kind)?;
            lifecycle::transition_to(ir, &o.state, to, dialect_lang::check::IVR_ROLE).map_err(
                |m| WoError::Conflict {
                    state: o.state.clone(),
                    message: format!("workorder {number}: {m}"),
                },
            )?
        };
        let req = TransitionRequest {
            transition: name,
            from: Some(o.state.clone()),
            comment,
            ..TransitionRequest::default()
        };
        self.transition(number, req, &ivr_user()).await
    }

    /// Stops the engine after every change so far is durable.
    pub async fn stop(&self) {
        let Target::Here(engine) = self.target() else {
            return;
        };
        let (tx, rx) = oneshot::channel();
        if engine.send(Msg::Stop(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Call tasks create orders for `create workorder` through this.
impl crate::workorder::WorkorderSink for WorkorderHandle {
    fn create<'a>(
        &'a self,
        kind: &'a str,
        fields: &'a [(String, Value)],
        contact: u64,
    ) -> futures::future::BoxFuture<'a, Result<String, String>> {
        Box::pin(self.create_from_flow(kind, fields.to_vec(), Some(contact)))
    }

    fn lookup<'a>(
        &'a self,
        kind: &'a str,
        number: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<(String, Value)>, String>> {
        Box::pin(self.lookup_from_flow(kind, number))
    }

    fn transition_to<'a>(
        &'a self,
        number: &'a str,
        to: &'a str,
        comment: Option<String>,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.transition_from_flow(number, to, comment)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
