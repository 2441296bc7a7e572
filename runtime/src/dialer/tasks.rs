//! Each campaign target as an outbound task (任务, W6) of the task model that
//! `GET /api/v1/tasks?campaign=NAME` serves: the campaign, its type, the
//! customer, the time limit, the status its state comes to, who dispatched it
//! (the dialer) and who handled it (the agent of its last attempt that reached
//! one). The targets and their attempts are the record and the tasks are read
//! from them, so a list of a million rows is neither stored twice nor kept in
//! step by a second writer.

use dialect_compiler::ir::CampaignIr;
use dialect_compiler::value::Value;
use dialect_dialer::target::{Target, TargetState};

use super::store::{self, Attempt};
use crate::store::{Store, StoreError};
use crate::workorder::Task;

/// Names of a list field that holds the customer's id (else the number is the
/// customer).
const CUSTOMER_FIELDS: [&str; 4] = ["customer", "customer_id", "客户编号", "客户号"];

/// Who dispatches campaign tasks.
pub const DISPATCHER: &str = "dialer";

/// The task status a target's state comes to: never tried is `pending`, being
/// worked (dialling, or waiting for a retry) `in_progress`, reached `done`,
/// given up on (attempts used up, invalid number) `failed`, taken out of the
/// campaign (do-not-call, filtered, removed) `cancelled`.
pub fn status_of(t: &Target) -> &'static str {
    match t.state {
        TargetState::Pending if t.attempts.total == 0 => "pending",
        TargetState::Pending | TargetState::Dialling => "in_progress",
        TargetState::Completed => "done",
        TargetState::Exhausted | TargetState::Invalid => "failed",
        TargetState::DoNotCall | TargetState::Filtered | TargetState::Removed => "cancelled",
    }
}

/// The task of target `t` of campaign `c`, with its attempts (first first).
pub fn task_of(c: &CampaignIr, t: &Target, attempts: &[Attempt]) -> Task {
    let customer = c
        .fields
        .iter()
        .position(|(name, _, _)| CUSTOMER_FIELDS.iter().any(|w| name.eq_ignore_ascii_case(w)))
        .and_then(|i| t.fields.get(i))
        .and_then(|v| match v {
            Value::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| t.phone.clone());
    let first = attempts.first();
    let last = attempts.last();
    let status = status_of(t);
    let created_ms = t
        .imported_ms
        .or(first.map(|a| a.started_ms))
        .unwrap_or_default();
    Task {
        id: t.id,
        campaign: c.name.clone(),
        task_type: c.name.clone(),
        customer_id: customer,
        phone: t.phone.clone(),
        description: c.label.clone(),
        deadline_ms: None,
        status: status.to_string(),
        dispatcher: Some(DISPATCHER.to_string()),
        handler: attempts.iter().rev().find_map(|a| a.agent.clone()),
        created_ms,
        updated_ms: t.last_attempt_ms.unwrap_or(created_ms),
        dispatched_ms: first.map(|a| a.started_ms),
        started_ms: first.map(|a| a.started_ms),
        ended_ms: matches!(status, "done" | "failed" | "cancelled")
            .then(|| last.map(|a| a.ended_ms))
            .flatten(),
        result: t.last_outcome.map(|o| o.name().to_string()),
        memo: last.and_then(|a| a.disposition.clone()).unwrap_or_default(),
    }
}

/// Which campaign tasks a query asks for.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// A task status (`pending`, `in_progress`, `done`, `failed`, `cancelled`).
    pub status: Option<String>,
    /// The customer id.
    pub customer: Option<String>,
    /// The agent who handled it.
    pub handler: Option<String>,
    /// At most this many, lowest target id first.
    pub limit: usize,
}

/// The tasks of campaign `c` that `filter` asks for.
pub fn tasks(
    store: &dyn Store,
    c: &CampaignIr,
    filter: &TaskFilter,
) -> Result<Vec<Task>, StoreError> {
    let mut out = Vec::new();
    for t in store::targets(store, &c.name)? {
        if out.len() >= filter.limit {
            break;
        }
        if filter.status.as_deref().is_some_and(|s| s != status_of(&t)) {
            continue;
        }
        let attempts = store::attempts(store, &c.name, t.id)?;
        let task = task_of(c, &t, &attempts);
        if filter
            .customer
            .as_ref()
            .is_some_and(|w| *w != task.customer_id)
            || filter.handler.is_some() && filter.handler != task.handler
        {
            continue;
        }
        out.push(task);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use dialect_dialer::outcome::CallOutcome;

    use super::*;

    /// The hotline's `retention` campaign, its list given a customer column.
    fn campaign() -> CampaignIr {
        let hotline = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../flows/hotline");
        let (_, ir) = dialect_compiler::compile_paths(&[hotline]).unwrap();
        let mut c = ir
            .campaigns
            .into_iter()
            .find(|c| c.name == "retention")
            .unwrap();
        c.fields.truncate(1);
        c.fields.push((
            "customer".into(),
            dialect_lang::types::Type::Text,
            "客户编号".into(),
        ));
        c
    }

    fn attempt(n: u32, outcome: CallOutcome, agent: Option<&str>) -> Attempt {
        Attempt {
            n,
            started_ms: 1_000 * i64::from(n),
            ended_ms: 1_000 * i64::from(n) + 500,
            outcome,
            sip_code: None,
            answered_ms: None,
            agent: agent.map(str::to_string),
            disposition: agent.map(|_| "renewed".to_string()),
            contact: u64::from(n),
            detail: String::new(),
        }
    }

    #[test]
    fn a_target_reads_as_the_task_of_its_customer_with_its_handler_and_result() {
        let c = campaign();
        let mut t = Target::new(
            9,
            "13800000021",
            vec![
                Value::Text("13800000021".into()),
                Value::Text("C-77".into()),
            ],
        );
        t.imported_ms = Some(500);
        assert_eq!(task_of(&c, &t, &[]).status, "pending");
        t.attempts.total = 2;
        t.last_attempt_ms = Some(2_500);
        t.last_outcome = Some(CallOutcome::Person);
        t.state = TargetState::Completed;
        let attempts = [
            attempt(1, CallOutcome::Busy, None),
            attempt(2, CallOutcome::Person, Some("7001")),
        ];
        let task = task_of(&c, &t, &attempts);
        assert_eq!(task.customer_id, "C-77");
        assert_eq!(task.campaign, "retention");
        assert_eq!(task.description, "宽带续约挽留");
        assert_eq!(task.status, "done");
        assert_eq!(task.dispatcher.as_deref(), Some(DISPATCHER));
        assert_eq!(task.handler.as_deref(), Some("7001"));
        assert_eq!(task.result.as_deref(), Some("person"));
        assert_eq!(task.memo, "renewed");
        assert_eq!((task.created_ms, task.dispatched_ms), (500, Some(1_000)));
        assert_eq!(task.ended_ms, Some(2_500));
        t.state = TargetState::Pending;
        assert_eq!(status_of(&t), "in_progress", "a retry is due");
        t.state = TargetState::DoNotCall;
        assert_eq!(status_of(&t), "cancelled");
    }
}
