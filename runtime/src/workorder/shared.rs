//! The workorder engine in a cluster: it runs in the one runtime holding the
//! lease `workorders` (see [`crate::cluster`]), writing through a store fenced
//! by that lease; every other runtime's [`WorkorderHandle`] sends it the
//! changes and the in-memory queries over HTTP (`POST /internal/v1/workorders`,
//! authenticated by the cluster's secret), and reads orders, history, tasks
//! and notifications from the shared store itself.
//!
//! When the engine's runtime dies, another takes the lease over once it
//! lapses, loads the open orders from the store and arms their timers; timers
//! that fell due meanwhile fire at once, and exactly once, because firing marks
//! them fired in the same fenced batch. Until then a change gets
//! [`WoError::Elsewhere`] (503): nothing is queued to be replayed later, so
//! nothing can be applied twice. A request whose answer was lost (the runtime
//! died while working on it) is not repeated either; the error says it may or
//! may not have been done.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::engine::{Msg, Query, load_mem, spawn};
use super::handle::Route;
use super::people::Directory;
use super::requests::{CreateRequest, ImportOrder, TaskRequest, TaskUpdate, TransitionRequest};
use super::{WoError, WorkorderHandle};
use crate::api::AppState;
use crate::auth::User;
use crate::cluster::Cluster;
use crate::deploy::ProgramSlot;
use crate::store::{SharedStore, StoreError};
use crate::time::PausableClock;

/// The lease (and service) name.
pub const SERVICE: &str = "workorders";

/// Where other runtimes send their requests.
pub const PATH: &str = "/internal/v1/workorders";

/// The status a runtime answers when the engine is not (or no longer) there:
/// nothing was done, so the sender may ask the new holder.
const NOT_HERE: StatusCode = StatusCode::MISDIRECTED_REQUEST;

/// A change or query sent to the runtime that runs the engine: the same
/// requests the handle's methods take, with the user already authenticated.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[allow(missing_docs, reason = "each is the handle method of the same name")]
pub enum Forwarded {
    Create {
        req: CreateRequest,
        user: User,
    },
    Transition {
        number: String,
        req: TransitionRequest,
        user: User,
    },
    Comment {
        number: String,
        text: String,
        user: User,
    },
    Link {
        number: String,
        kind: String,
        to: String,
        user: User,
    },
    Import {
        orders: Vec<ImportOrder>,
        user: User,
    },
    CreateTask {
        req: TaskRequest,
        user: User,
    },
    UpdateTask {
        id: u64,
        update: TaskUpdate,
        user: User,
    },
    Query {
        query: Query,
    },
    Counts,
}

/// The engine as the runtimes of a cluster share it.
pub struct SharedEngine {
    cluster: Arc<Cluster>,
    /// The engine's mailbox while it runs in this runtime.
    local: RwLock<Option<mpsc::Sender<Msg>>>,
    /// Users' project roles, given to each engine this runtime starts.
    members: Mutex<BTreeMap<String, Vec<String>>>,
    /// The people reminders and escalations reach, likewise.
    people: Mutex<Directory>,
}

impl SharedEngine {
    /// The engine's mailbox, if it runs here now.
    pub(super) fn local(&self) -> Option<mpsc::Sender<Msg>> {
        self.local.read().ok().and_then(|l| l.clone())
    }

    pub(super) async fn set_people(&self, people: Directory) {
        *self.people.lock().await = people.clone();
        if let Some(tx) = self.local() {
            let _ = tx.send(Msg::People(Box::new(people))).await;
        }
    }

    pub(super) async fn set_members(&self, members: BTreeMap<String, Vec<String>>) {
        *self.members.lock().await = members.clone();
        if let Some(tx) = self.local() {
            let _ = tx.send(Msg::Members(members)).await;
        }
    }

    /// Sends `request` to the runtime running the engine. Asked again once if
    /// that runtime answers that the engine has just left it.
    pub(super) async fn forward<T: DeserializeOwned>(
        &self,
        request: &Forwarded,
    ) -> Result<T, WoError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let (status, body) = self
                .cluster
                .forward(SERVICE, PATH, request)
                .await
                .map_err(|e| WoError::Elsewhere(e.to_string()))?;
            if status == NOT_HERE.as_u16() && tries < 3 {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
            if status == NOT_HERE.as_u16() {
                return Err(WoError::Elsewhere(
                    "the workorder engine is moving between runtimes; try again in a few seconds"
                        .into(),
                ));
            }
            return crate::cluster::decode::<Result<T, WoError>>(&body)
                .map_err(WoError::Elsewhere)?;
        }
    }
}

impl WorkorderHandle {
    /// The handle of a cluster's runtime: the engine runs here while this
    /// runtime holds its lease, and requests go to whichever runtime does.
    pub fn start_shared(
        store: SharedStore,
        program: Arc<ProgramSlot>,
        clock: PausableClock,
        cluster: Arc<Cluster>,
        shutdown: CancellationToken,
        people: Directory,
    ) -> WorkorderHandle {
        let shared = Arc::new(SharedEngine {
            cluster: cluster.clone(),
            local: RwLock::new(None),
            members: Mutex::new(BTreeMap::new()),
            people: Mutex::new(people),
        });
        let engine = shared.clone();
        let slot = program.clone();
        cluster.run_while_leading(SERVICE, shutdown, move |fenced, lost| {
            tokio::spawn(run_engine(
                engine.clone(),
                fenced,
                slot.clone(),
                clock,
                lost,
            ));
        });
        WorkorderHandle {
            route: Route::Shared(shared),
            store,
            program,
            clock,
        }
    }

    /// Runs a request another runtime sent, if the engine is here.
    async fn run_forwarded(&self, request: Forwarded) -> Response {
        if !self.runs_here() {
            return NOT_HERE.into_response();
        }
        fn answer<T: Serialize>(r: Result<T, WoError>) -> Response {
            Json(r).into_response()
        }
        match request {
            Forwarded::Create { req, user } => answer(self.create(req, &user).await),
            Forwarded::Transition { number, req, user } => {
                answer(self.transition(&number, req, &user).await)
            }
            Forwarded::Comment { number, text, user } => {
                answer(self.comment(&number, &text, &user).await)
            }
            Forwarded::Link {
                number,
                kind,
                to,
                user,
            } => answer(self.link(&number, &kind, &to, &user).await),
            Forwarded::Import { orders, user } => answer(self.import(orders, &user).await),
            Forwarded::CreateTask { req, user } => answer(self.create_task(req, &user).await),
            Forwarded::UpdateTask { id, update, user } => {
                answer(self.update_task(id, update, &user).await)
            }
            Forwarded::Query { query } => answer(self.query(query).await),
            Forwarded::Counts => answer(self.counts().await),
        }
    }
}

/// Loads the open orders and runs the engine until the lease is lost.
async fn run_engine(
    shared: Arc<SharedEngine>,
    fenced: SharedStore,
    program: Arc<ProgramSlot>,
    clock: PausableClock,
    lost: CancellationToken,
) {
    let started = std::time::Instant::now();
    let mem = loop {
        let s = fenced.clone();
        let loaded = tokio::task::spawn_blocking(move || load_mem(&*s))
            .await
            .map_err(StoreError::from)
            .and_then(|r| r);
        match loaded {
            Ok(mem) => break mem,
            Err(e) => {
                tracing::error!("cannot load the open workorders, trying again: {e}");
                tokio::select! {
                    _ = lost.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    };
    tracing::info!(
        open = mem.open.len(),
        timers = mem.timers.len(),
        "the workorder engine runs in this runtime (loaded in {} ms)",
        started.elapsed().as_millis()
    );
    let people = shared.people.lock().await.clone();
    let tx = spawn(fenced, program, clock, mem, people);
    let members = shared.members.lock().await.clone();
    let _ = tx.send(Msg::Members(members)).await;
    if let Ok(mut l) = shared.local.write() {
        *l = Some(tx);
    }
    lost.cancelled().await;
    // The engine ends once the requests in flight have their answers (its
    // writes from now on are refused by the fence anyway).
    if let Ok(mut l) = shared.local.write() {
        *l = None;
    }
    tracing::warn!("the workorder engine left this runtime");
}

/// `POST /internal/v1/workorders`: a request from another runtime of the
/// cluster (only with the cluster's secret; 404 on a runtime alone).
pub(crate) async fn internal(
    State(s): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<Forwarded>,
) -> Response {
    match &s.cluster {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(c) if !c.authorized(&headers) => StatusCode::UNAUTHORIZED.into_response(),
        Some(_) => s.workorders.run_forwarded(request).await,
    }
}
