//! The requests callers send the workorder engine (create, transition, import,
//! tasks), as the API's JSON bodies and the flows' calls spell them. Their own
//! module, so that both the handle that sends them and the engine that carries
//! them out depend on it, and not on each other.

use serde::{Deserialize, Serialize};

/// A new order.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The lifecycle (`complaint`).
    pub kind: String,
    /// Values of the lifecycle's fields, by field name.
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
    /// A comment, kept in the creation's history entry.
    #[serde(default)]
    pub comment: Option<String>,
}

/// A step of an order along one of its lifecycle's transitions, as the API
/// takes it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
    /// Handler to assign; a return ignores it and restores the handler the order
    /// had in that state. When absent, a forward leaves the order unassigned and a
    /// handler taking any other step becomes its handler.
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
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOrder {
    /// The lifecycle (`complaint`).
    pub kind: String,
    /// State (the initial state when absent).
    #[serde(default)]
    pub state: Option<String>,
    /// Values of the lifecycle's fields, by field name.
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The department the order is with.
    #[serde(default)]
    pub department: Option<String>,
    /// The person handling it.
    #[serde(default)]
    pub handler: Option<String>,
    /// When it was created (and entered its state), Unix ms; now when absent.
    #[serde(default)]
    pub created_ms: Option<i64>,
}

/// A new outbound task.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// The campaign it belongs to; must not be blank.
    pub campaign: String,
    /// Task type (`care`, `retention`...); must not be blank.
    pub task_type: String,
    /// The customer's id; must not be blank.
    pub customer_id: String,
    /// Number to call; checked as a telephone number when given.
    #[serde(default)]
    pub phone: String,
    /// Free text; empty when absent.
    #[serde(default)]
    pub description: String,
    /// Time limit (Unix ms).
    #[serde(default)]
    pub deadline_ms: Option<i64>,
    /// Handler to dispatch to at once.
    #[serde(default)]
    pub handler: Option<String>,
    /// Free notes of whoever works the task.
    #[serde(default)]
    pub memo: String,
}

/// A change to a task.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// New status, one of [`TASK_STATUSES`](crate::workorder::model::TASK_STATUSES):
    /// the first `in_progress` stamps the start; `done`, `failed` and `cancelled`
    /// stamp the end.
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
