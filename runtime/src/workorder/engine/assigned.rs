//! Telling people that an order is now theirs (派单): when a step gives an
//! order a new handler, or sends it to a department without naming one, or
//! a lifecycle's `on enter STATE -> assign ROLE` hands it to a role, the
//! people behind the new assignee get an e-mail and an SMS through the
//! outbox ([`crate::notify::stage`]) and a notice (`action: assign`, read
//! with `GET /api/v1/notifications`), all staged in the batch of the step
//! that assigned the order: the assignment and its messages are stored
//! together or not at all. Whoever made the assignment is not told of their
//! own act, and a person who cannot be reached is written on the notice and
//! the order's history, as for escalations.
//!
//! This is always on: an assignment is the moment a handler must learn of an
//! order, and whom it reaches is decided by the addresses the configuration
//! gives each API user (no `phone`, no SMS).

use std::collections::BTreeSet;

use super::Engine;
use super::alerts::{AlertText, delivery_lines, time_text, with_deliveries};
use crate::store::Batch;
use crate::workorder::WoError;
use crate::workorder::model::{Notification, Workorder};

/// The texts telling `to` that order `o` (its state reading `label` to
/// people) was assigned to them by `by`.
pub(crate) fn assign_text(
    o: &Workorder,
    label: &str,
    to: &str,
    by: &str,
    tz: chrono_tz::Tz,
) -> AlertText {
    let state = if label.is_empty() || label == o.state {
        o.state.clone()
    } else {
        format!("{label} ({})", o.state)
    };
    let due = o.deadline_ms.map(|d| time_text(d, tz));
    let message = format!(
        "派单 assignment: workorder {} ({}) in {state} is assigned to {to} by {by}{}",
        o.number,
        o.kind,
        due.as_ref()
            .map(|d| format!("; due {d}"))
            .unwrap_or_default()
    );
    let subject = format!(
        "派单 assignment: workorder {} ({}) in {state}",
        o.number, o.kind
    );
    let mut body = format!(
        "派单 assignment\n\nworkorder: {}\nkind: {}\nstate: {state}, since {}\nassigned to: {to}\nassigned by: {by}\n",
        o.number,
        o.kind,
        time_text(o.state_entered_ms, tz)
    );
    if let Some(d) = &o.department {
        body.push_str(&format!("department: {d}\n"));
    }
    if let Some(h) = &o.handler {
        body.push_str(&format!("handler: {h}\n"));
    }
    if let Some(d) = &due {
        body.push_str(&format!("limit: due {d}\n"));
    }
    let sms = format!(
        "派单：工单{}（{}）{state}已派给{to}，请及时处理{}",
        o.number,
        o.kind,
        due.as_ref()
            .map(|d| format!("，限{d}前完成。"))
            .unwrap_or_else(|| "。".into())
    );
    AlertText {
        message,
        subject,
        body,
        sms,
    }
}

/// Whether the step from `old` to `new`, taken by `actor`, assigned the order
/// to someone who should be told: a handler other than the actor, or a new
/// department without a handler (its handlers are told).
pub(crate) fn newly_assigned(old: Option<&Workorder>, new: &Workorder, actor: &str) -> bool {
    let old_handler = old.and_then(|o| o.handler.as_deref());
    let old_department = old.and_then(|o| o.department.as_deref());
    match new.handler.as_deref() {
        Some(h) => h != actor && Some(h) != old_handler,
        None => new.department.is_some() && new.department.as_deref() != old_department,
    }
}

impl Engine {
    /// Stages the messages and the notice telling `recipient` (`handler`: the
    /// order's handler, or its department's handlers while it has none; or
    /// a role, a department, a user) that order `o` is theirs, assigned by
    /// `by`; `actor` (an API user's name) is never told of their own act.
    /// Returns the line for the order's history.
    pub(super) fn stage_assigned(
        &mut self,
        o: &Workorder,
        recipient: &str,
        by: &str,
        actor: &str,
        now: i64,
        batch: &mut Batch,
    ) -> Result<String, WoError> {
        let deployed = self.program.current();
        let tz = deployed.program.shared().tz;
        let label = crate::workorder::lifecycle::lifecycle(&deployed.program, &o.kind)
            .ok()
            .and_then(|ir| crate::workorder::lifecycle::state(ir, &o.state))
            .map(|s| s.label.clone())
            .unwrap_or_default();
        let to = if recipient == "handler" {
            o.handler
                .clone()
                .or_else(|| o.department.clone())
                .unwrap_or_else(|| "handler".into())
        } else {
            recipient.to_string()
        };
        let text = assign_text(o, &label, &to, by, tz);
        let mut told: BTreeSet<String> = [actor.to_string()].into_iter().collect();
        let deliveries = self.stage_messages(recipient, o, &text, now, batch, &mut told)?;
        let id = self.store.next_id("notification")?;
        let said = delivery_lines(&deliveries);
        self.stage_notification(
            batch,
            &Notification {
                id,
                at_ms: now,
                to: to.clone(),
                action: "assign".into(),
                number: o.number.clone(),
                kind: o.kind.clone(),
                state: o.state.clone(),
                department: o.department.clone(),
                handler: o.handler.clone(),
                due_ms: now,
                deadline_ms: o.deadline_ms,
                message: text.message,
                deliveries,
            },
        );
        Ok(with_deliveries(format!("assigned to {to}"), &said))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(dept: Option<&str>, handler: Option<&str>) -> Workorder {
        serde_json::from_value(serde_json::json!({
            "number": "2026120700001", "kind": "fault_repair", "state": "repairing",
            "fields": {}, "department": dept, "handler": handler, "created_by": "ivr",
            "created_ms": 0, "updated_ms": 0, "state_entered_ms": 1_796_601_600_000i64,
            "deadline_ms": 1_796_616_000_000i64, "version": 1,
        }))
        .expect("an order")
    }

    #[test]
    fn a_new_handler_or_a_new_department_is_an_assignment_unless_the_actor_took_it() {
        let before = order(Some("network_ops"), None);
        // Dispatched to a named handler by the dispatcher.
        assert!(newly_assigned(
            Some(&before),
            &order(Some("network_ops"), Some("li")),
            "wang"
        ));
        // A handler taking the order themselves tells nobody.
        assert!(!newly_assigned(
            Some(&before),
            &order(Some("network_ops"), Some("li")),
            "li"
        ));
        // The same handler again: nothing new.
        let li = order(Some("network_ops"), Some("li"));
        assert!(!newly_assigned(Some(&li), &li, "wang"));
        // Sent to another department without a handler: its handlers.
        assert!(newly_assigned(
            Some(&before),
            &order(Some("billing"), None),
            "wang"
        ));
        assert!(!newly_assigned(Some(&before), &before, "wang"));
        // Created straight into a department.
        assert!(newly_assigned(None, &before, "a1"));
        assert!(!newly_assigned(None, &order(None, None), "a1"));
    }

    #[test]
    fn the_texts_say_which_order_whose_it_is_and_when_it_is_due() {
        let o = order(Some("network_ops"), Some("li"));
        let t = assign_text(&o, "维修中", "li", "wang", chrono_tz::Asia::Shanghai);
        assert_eq!(
            t.subject,
            "派单 assignment: workorder 2026120700001 (fault_repair) in 维修中 (repairing)"
        );
        assert!(
            t.body.contains("assigned to: li\nassigned by: wang\n"),
            "{}",
            t.body
        );
        assert!(t.body.contains("department: network_ops"), "{}", t.body);
        assert!(
            t.body.contains("limit: due 2026-12-07 12:00:00 CST"),
            "{}",
            t.body
        );
        assert_eq!(
            t.sms,
            "派单：工单2026120700001（fault_repair）维修中 (repairing)已派给li，请及时处理，限2026-12-07 12:00:00 CST前完成。"
        );
        assert!(
            t.message.contains("is assigned to li by wang; due "),
            "{}",
            t.message
        );
    }
}
