//! The workorder engine: one tokio task owning the open orders, fed by messages
//! through a [`WorkorderHandle`](super::WorkorderHandle).
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
//!
//! # Layout
//! - this file: the actor loop, group commit and the committer task.
//! - `ops`: the changes (create, import, transition, comment, link, timers firing, tasks).
//! - `alerts`: what a fired reminder or escalation says, and its notices and
//!   e-mails and SMS to the people behind its recipients.
//! - `assigned`: telling the new handler (or role) of an order assigned to
//!   them, by e-mail, SMS and notice, in the assigning step's batch.
//! - `query`: reads (queries, counts, history, notifications, tasks), from memory or the store.
//! - `triggers`: what entering a state sets off (`on enter`, campaigns drawing orders),
//!   staged in the step's own batch.

mod alerts;
mod assigned;
mod ops;
mod query;
pub(crate) mod triggers;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use dialect_compiler::{Evaluator, Program};
use tokio::sync::{mpsc, oneshot};

use super::WoError;
use super::mem::{Mem, number_key};
use super::model::*;
use crate::auth::{AuditEntry, User, audit_into};
use crate::config::Role;
use crate::deploy::ProgramSlot;
use crate::store::{Batch, SharedStore, Store, StoreError};
use crate::time::PausableClock;
use crate::workorder::requests::{
    CreateRequest, ImportOrder, TaskRequest, TaskUpdate, TransitionRequest,
};

pub use query::{CountRow, Counts, OverdueRow, Page, Query, TaskQuery};
pub(crate) use query::{load_order, query_store, query_tasks, read_history, read_notifications};

pub(super) type Reply<T> = oneshot::Sender<Result<T, WoError>>;

pub(super) enum Msg {
    Create(CreateRequest, User, Reply<Workorder>),
    Transition(String, TransitionRequest, User, Reply<Workorder>),
    Comment(String, String, User, Reply<Workorder>),
    Link(String, String, String, User, Reply<(Workorder, Workorder)>),
    Query(Query, Reply<Page>),
    Counts(Reply<Counts>),
    Import(Vec<ImportOrder>, User, Reply<Vec<String>>),
    CreateTask(TaskRequest, User, Reply<Task>),
    UpdateTask(u64, TaskUpdate, User, Reply<Task>),
    /// API user name → the project roles (`role NAME`) the configuration gives them.
    Members(BTreeMap<String, Vec<String>>),
    /// The people reminders and escalations reach, and their addresses.
    People(Box<crate::workorder::people::Directory>),
    Stop(oneshot::Sender<()>),
}

/// Starts the committer and the engine task on the loaded memory; returns the
/// engine's mailbox.
pub(super) fn spawn(
    store: SharedStore,
    program: Arc<ProgramSlot>,
    clock: PausableClock,
    mem: Mem,
    people: crate::workorder::people::Directory,
) -> mpsc::Sender<Msg> {
    let (tx, rx) = mpsc::channel(4096);
    let (ctx, crx) = mpsc::channel(4);
    tokio::spawn(committer(store.clone(), crx));
    let engine = Engine {
        store: store.clone(),
        program,
        clock,
        mem,
        evaluator: None,
        seqs: BTreeMap::new(),
        audit_ids: (0, 0),
        cache: HashMap::new(),
        pending: Batch::new(),
        pending_final: Vec::new(),
        failed: None,
        members: BTreeMap::new(),
        people,
    };
    tokio::spawn(engine.run(rx, ctx));
    tx
}

/// A reply that waits for the group's flush.
type Deferred = Box<dyn FnOnce(Option<&StoreError>) + Send>;

fn defer<T: Send + 'static>(tx: Reply<T>, r: Result<T, WoError>) -> Deferred {
    Box::new(move |err| {
        let r = match (err, r) {
            (Some(e), Ok(_)) => Err(WoError::Store(e.clone())),
            (_, r) => r,
        };
        let _ = tx.send(r);
    })
}

#[derive(Default)]
pub(super) struct Group {
    dirty: bool,
    /// Why the group's changes were not written (then no reply may say they were).
    error: Option<StoreError>,
    replies: Vec<Deferred>,
}

/// Messages handled in one group at most (its changes share one store write and
/// one flush).
const GROUP_MAX: usize = 512;

fn system_user() -> User {
    User {
        name: "system".into(),
        role: Role::System,
        department: None,
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WoError> + Send + 'static,
) -> Result<T, WoError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(StoreError::from)?
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
                Ok(Err(e)) => Some(e),
                Err(e) => Some(StoreError::from(e)),
            }
        } else {
            None
        };
        if let Some(e) = &err {
            tracing::error!("workorder changes could not be made durable: {e}");
        }
        for g in groups.drain(..) {
            let e = g.error.as_ref().or(err.as_ref());
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

/// The actor.
struct Engine {
    store: SharedStore,
    program: Arc<ProgramSlot>,
    clock: PausableClock,
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
    failed: Option<StoreError>,
    /// API user name → the project roles the configuration gives them.
    members: BTreeMap<String, Vec<String>>,
    /// The API users behind the roles and departments reminders and
    /// escalations name, with their e-mail addresses and phones.
    people: crate::workorder::people::Directory,
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
            Msg::Members(m) => self.members = m,
            Msg::People(p) => self.people = *p,
            Msg::Stop(_) => {}
        }
    }

    /// The role names a user acts with in `by` lists: their role, `ivr` for
    /// the flows' user, and the project roles the configuration gives them.
    fn acting_roles(&self, user: &User) -> Vec<String> {
        let mut out = vec![user.role.as_str().to_string()];
        if *user == super::handle::ivr_user() {
            out.push(dialect_lang::check::IVR_ROLE.to_string());
        }
        if let Some(extra) = self.members.get(&user.name) {
            out.extend(extra.iter().cloned());
        }
        out
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
                .unwrap_or_else(|e| Err(StoreError::from(e)));
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
                tracing::error!("workorder changes could not be written: {e}; reloading");
                self.failed.get_or_insert_with(|| e.clone());
                // Memory holds changes the store does not: start again from the store.
                self.pending_final.clear();
                self.cache.clear();
                self.seqs.clear();
                match load_mem(&*self.store) {
                    Ok(m) => self.mem = m,
                    Err(e) => tracing::error!("workorders could not be reloaded: {e}"),
                }
                Err(WoError::Store(e))
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
                .map_err(|e| StoreError::Corrupt(format!("cannot encode {}: {e}", new.number)))?;
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
                role: user.role.to_string(),
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
}
