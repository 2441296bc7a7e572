//! Workorders (工单) and outbound tasks (任务): the engine that runs the lifecycles
//! written as `workorder` declarations (REQUIREMENTS W1–W6, spec 000 §4.2.4–4.2.5).
//!
//! A lifecycle is the deployed program's [`WorkorderIr`](dialect_compiler::ir::WorkorderIr):
//! typed fields, states with time limits (business hours of a calendar, or wall
//! time), reminders (催办) and escalations (督办), transitions with roles, kinds
//! (forward, return, reply, close, reopen) and guards. The engine is an actor
//! ([`engine`]): one task owns the open orders and takes messages from
//! [`WorkorderHandle`]s; every change is one atomic batch (order, history entry,
//! indexes, open record, audit entry) and the caller is answered only once it is
//! durable. Timers are re-armed from the store at start; those that fell due while
//! the runtime was down fire at once, exactly once.
//!
//! # Using it
//!
//! `server::start` does all of this; embedding code does the same:
//!
//! ```ignore
//! // At start (after the store and the program slot):
//! let (workorders, report) =
//!     WorkorderHandle::start(store.clone(), program.clone(), PausableClock::system()).await?;
//! // Call tasks: the handle is the `WorkorderSink` of `CallEnv`, so a flow's
//! // `create workorder KIND { ... }` creates a real order and gets its number.
//! let env = CallEnv { workorders: Some(Arc::new(workorders.clone())), .. };
//! // The API: merge the routes into the router (`AppState.workorders`).
//! let app = api::router(state); // every route, the workorders' among them
//! // At shutdown, after the HTTP server stopped: every change so far is durable.
//! workorders.stop().await;
//! ```
//!
//! Direct calls (`create`, `transition`, `comment`, `link`, `get`, `history`,
//! `query`, `counts`, `notifications`, tasks) take the acting [`crate::auth::User`];
//! the lifecycle's `by ROLE` lists decide which transitions a role may take (a
//! user acts with their role, the project roles the configuration's `roles:`
//! section gives them, and flows act as the role `ivr`), and
//! handlers act only on orders with their department. Errors are [`WoError`]s that
//! map to HTTP statuses (400 naming the field, 403, 404, 409 with the current
//! state, 422 for a guard that does not hold).
//!
//! # Layout
//! - [`model`]: the stored records (orders, history, notifications, tasks) and the
//!   store layout (trees, index keys).
//! - [`lifecycle`]: the rules of a lifecycle as pure functions: validation,
//!   transitions, guards, time limits and timers, order numbers, masking.
//! - [`handle`]: [`WorkorderHandle`], what call tasks and the API hold.
//! - [`requests`]: the requests they send (create, transition, import, tasks).
//! - [`engine`]: the actor and its group commit (`engine/mod.rs`), the changes
//!   (`engine/ops.rs`) and the reads (`engine/query.rs`).
//! - `mem`: the in-memory indexes of open orders and the timer queue.
//! - [`people`]: the API users behind the roles and departments that
//!   reminders and escalations name, and their addresses.
//! - [`check`]: a consistency check of the stored orders (for tests and repair).
//! - Tests: `tests` (engine, hotline lifecycles), `crate::api::workorders` (HTTP), and the
//!   crash test `cli/tests/workorder_crash.rs` (SIGKILL of `dialect run`).

#[cfg(test)]
mod alert_tests;
pub mod check;
pub mod engine;
pub mod handle;
pub mod lifecycle;
pub(crate) mod mem;
pub mod model;
pub mod people;
pub mod requests;
pub mod shared;
#[cfg(test)]
pub(crate) mod tests;

pub use engine::{Counts, Page, Query, TaskQuery};
pub use handle::{StartReport, WorkorderHandle, ivr_user};
pub use model::{HistoryEntry, Notification, Task, Workorder};
pub use requests::{CreateRequest, ImportOrder, TaskRequest, TaskUpdate, TransitionRequest};

/// Why a workorder operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum WoError {
    /// Bad input: names the field or rule (400).
    #[error("{message}")]
    Invalid {
        /// The field (or `transition`, `department`...).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No such order, task or event (404).
    #[error("{0}")]
    NotFound(String),
    /// The user's role or department may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The order is not in the state the request expects (409).
    #[error("{message}")]
    Conflict {
        /// The order's current state.
        state: String,
        /// What happened.
        message: String,
    },
    /// A rule of the lifecycle refuses the step, such as a guard (422).
    #[error("{0}")]
    Rule(String),
    /// Storage failed (500).
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The engine is not running (503).
    #[error("the workorder engine is not running")]
    Unavailable,
    /// In a cluster: the engine runs on another runtime, or none at the
    /// moment, or it could not be reached (503).
    #[error("{0}")]
    Elsewhere(String),
}

impl WoError {
    /// A 400 naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> WoError {
        WoError::Invalid {
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The same error with its field placed inside `prefix` (`orders[3].phone`).
    pub fn within(self, prefix: &str) -> WoError {
        match self {
            WoError::Invalid { field, message } => WoError::Invalid {
                field: format!("{prefix}.{field}"),
                message: format!("{prefix}: {message}"),
            },
            other => other,
        }
    }
}

/// Whether `user` may see order `o` at all: handlers see their department's
/// orders only; every other role sees every order.
pub fn visible_to(user: &crate::auth::User, o: &Workorder) -> bool {
    user.role != crate::config::Role::Handler
        || (o.department.is_some() && o.department == user.department)
}

/// The error text for an order that does not exist, and for one the user may not
/// see: the two must read the same.
pub fn no_such_order(number: &str) -> String {
    format!("there is no workorder {number}")
}

/// Creates workorders for flows (call tasks hold one in their environment; the engine's handle is the
/// one the server gives them, tests may give another).
pub trait WorkorderSink: Send + Sync {
    /// Creates an order of `kind` with `fields` for contact `contact`; returns its number.
    fn create<'a>(
        &'a self,
        kind: &'a str,
        fields: &'a [(String, dialect_compiler::value::Value)],
        contact: u64,
    ) -> futures::future::BoxFuture<'a, Result<String, String>>;

    /// Reads order `number` of type `kind` for `lookup workorder`: its number,
    /// state, department, handler and fields.
    fn lookup<'a>(
        &'a self,
        kind: &'a str,
        number: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Vec<(String, dialect_compiler::value::Value)>, String>>
    {
        let _ = (kind, number);
        Box::pin(async { Err("this runtime keeps no workorders".to_string()) })
    }

    /// Moves order `number` to state `to` for `transition workorder`.
    fn transition_to<'a>(
        &'a self,
        number: &'a str,
        to: &'a str,
        comment: Option<String>,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        let _ = (number, to, comment);
        Box::pin(async { Err("this runtime keeps no workorders".to_string()) })
    }
}
